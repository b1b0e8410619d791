/**
 * The app's uses of the bundle-format package (keyhold-format) in place of
 * its own copies: the same bytes as the code they replaced, and format errors
 * mapped code by code to Keyhold errors.
 *
 * - canonicalJson (audit details) against the hand-written implementation
 *   that shared/canonical-json.ts held before, over random JSON values with
 *   undefined members and lone surrogates (docs/audit-log.md 1.3);
 * - canonicalParams (keyslot parameters) and jwkThumbprint (token keys)
 *   against what they computed by hand before;
 * - strict canonicalize (the bundle format) still refuses what the audit
 *   profile writes;
 * - keyholdCodeOf: every format code has a Keyhold code, file codes keep
 *   their meaning, and only document refusals take the caller's code;
 * - one fsyncDir and one never-replacing link for the app and the importer:
 *   a folder that is not there is an error (the app's copy swallowed every
 *   error, the importer's threw every one).
 */

import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { canonicalize, fsyncDir as formatFsyncDir, IMPORT_ERROR_CODES, isImportError, linkNew as formatLinkNew } from 'keyhold-format';
import { canonicalize as pureCanonicalize } from 'keyhold-format/text';
import { describe, expect, it } from 'vitest';
import { keyholdCodeOf } from '../../electron/core/bundle/export.js';
import { fsyncDir, linkNew } from '../../electron/core/fsutil.js';
import { jwkThumbprint, type PublicJwk } from '../../electron/core/token/jwk.js';
import { canonicalParams } from '../../electron/core/vault/keyslots.js';
import { canonicalJson } from '../../shared/canonical-json.js';
import { ERROR_CODES, KeyholdError } from '../../shared/errors.js';

/** shared/canonical-json.ts as it was before it used the format package. */
function oldCanonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new Error('non-finite');
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(oldCanonicalJson).join(',')}]`;
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${oldCanonicalJson(obj[k])}`).join(',')}}`;
    }
    default:
      throw new Error(`cannot encode a ${typeof value}`);
  }
}

/** Any string, lone surrogates included. */
const anyString = fc.string({ unit: 'binary', maxLength: 12 });
const loneSurrogate = fc.constantFrom('\ud800', '\udfff', 'a\udc00b', '\ud83d', 'x\ud83d\ude00\ud800');
const text = fc.oneof(anyString, loneSurrogate, fc.constantFrom('0', '1', '10', '4294967294', '4294967295', '-1', '__proto__x'));
const leaf = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), text);
const { value: details } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(text, fc.oneof(tie('value'), fc.constant(undefined)), { maxKeys: 6 }),
}));

describe('the app uses the format package, with the same bytes as before', () => {
  it('canonicalJson (audit details) equals the former implementation, undefined members and lone surrogates included', () => {
    fc.assert(
      fc.property(fc.dictionary(text, fc.oneof(details, fc.constant(undefined)), { maxKeys: 8 }), (d) => {
        expect(canonicalJson(d)).toBe(oldCanonicalJson(d));
      }),
      { numRuns: 3000 },
    );
    expect(canonicalJson({ b: undefined, a: 'lone \ud800', c: [1, { z: 0, y: undefined }] })).toBe('{"a":"lone \\ud800","c":[1,{"z":0}]}');
  });

  it('canonicalJson refuses what cannot be encoded as INTERNAL, as before', () => {
    for (const bad of [{ n: Number.NaN }, { f: () => 1 }, { n: 2n }]) {
      let err: unknown;
      try {
        canonicalJson(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KeyholdError);
      expect((err as KeyholdError).code).toBe('INTERNAL');
      expect((err as KeyholdError).message).toMatch(/^canonical-json: /);
    }
  });

  it('the bundle format stays strict: an undefined member or a lone surrogate is refused', () => {
    for (const c of [canonicalize, pureCanonicalize]) {
      expect(() => c({ a: undefined })).toThrow(/member "a" is undefined/);
      expect(() => c({ a: '\ud800' })).toThrow(/lone surrogate/);
      expect(() => c({ '\udc00': 1 })).toThrow(/lone surrogate/);
    }
    // One implementation: the package's main entry and its pure entry are the same function.
    expect(canonicalize).toBe(pureCanonicalize);
  });

  it('canonicalParams (keyslot parameters) equals the former sorted JSON.stringify', () => {
    const old = (p: Record<string, string | number | boolean>): string => {
      const sorted: Record<string, string | number | boolean> = {};
      for (const k of Object.keys(p).sort()) sorted[k] = p[k] as string | number | boolean;
      return JSON.stringify(sorted);
    };
    // Names as keyslots use them: never an array index, nor __proto__ (which the former copy into a plain object dropped).
    const name = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !/^\d+$/.test(k) && k !== '__proto__');
    const flat = fc.dictionary(name, fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean()), { maxKeys: 8 });
    fc.assert(fc.property(flat, (p) => {
      expect(canonicalParams(p)).toBe(old(p));
    }), { numRuns: 3000 });
    expect(canonicalParams({ version: 19, kdf: 'argon2id', salt: 'c2FsdA==', memoryKiB: 19456, passes: 2, parallelism: 1 }))
      .toBe('{"kdf":"argon2id","memoryKiB":19456,"parallelism":1,"passes":2,"salt":"c2FsdA==","version":19}');
  });

  it('jwkThumbprint of a token key equals the former hand-written RFC 7638 form', () => {
    const old = (jwk: PublicJwk): string => createHash('sha256').update(jwk.kty === 'EC'
      ? `{"crv":"${jwk.crv}","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`
      : `{"crv":"${jwk.crv}","kty":"OKP","x":"${jwk.x}"}`, 'utf8').digest('base64url');
    const b64 = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString('base64url'));
    const jwk: fc.Arbitrary<PublicJwk> = fc.oneof(
      fc.record({ kty: fc.constant('EC' as const), crv: fc.constant('P-256' as const), x: b64(32), y: b64(32) }),
      fc.record({ kty: fc.constant('OKP' as const), crv: fc.constant('Ed25519' as const), x: b64(32) }),
    );
    fc.assert(fc.property(jwk, (k) => {
      expect(jwkThumbprint(k)).toBe(old(k));
    }), { numRuns: 2000 });
  });
});

describe('format errors as Keyhold errors (keyholdCodeOf)', () => {
  it('maps every format code to a Keyhold code, precisely', () => {
    const got = Object.fromEntries(IMPORT_ERROR_CODES.map((c) => [c, keyholdCodeOf(c, 'BUNDLE_INVALID')]));
    for (const code of Object.values(got)) expect(ERROR_CODES).toContain(code);
    expect(got).toMatchObject({
      NOT_A_FILE: 'NOT_A_FILE',
      FILE_TOO_LARGE: 'FILE_TOO_LARGE',
      BUNDLE_TOO_LARGE: 'FILE_TOO_LARGE',
      FILE_NOT_FOUND: 'FILE_UNREADABLE',
      FILE_UNREADABLE: 'FILE_UNREADABLE',
      FILE_EXISTS: 'FILE_EXISTS',
      PATH_NOT_WRITABLE: 'PATH_NOT_WRITABLE',
      BUNDLE_DUPLICATE_SIGNER: 'ALREADY_SIGNED',
      BUNDLE_SIGNATURE: 'INTEGRITY',
      IO: 'INTERNAL',
      INTERNAL: 'INTERNAL',
      BUNDLE_MALFORMED: 'BUNDLE_INVALID',
      BUNDLE_HEADER: 'BUNDLE_INVALID',
      DUPLICATE_MEMBER: 'BUNDLE_INVALID',
      KEY_INVALID: 'BUNDLE_INVALID',
    });
    // The caller's code is used for document refusals only, never for file or internal failures.
    expect(keyholdCodeOf('KEY_INVALID', 'INVALID_INPUT')).toBe('INVALID_INPUT');
    expect(keyholdCodeOf('NOT_A_FILE', 'INVALID_INPUT')).toBe('NOT_A_FILE');
    expect(keyholdCodeOf('INTERNAL', 'INVALID_INPUT')).toBe('INTERNAL');
  });

  it('a format error is the format package\'s one error type, whichever entry point threw it', () => {
    let err: unknown;
    try {
      pureCanonicalize({ a: Number.POSITIVE_INFINITY });
    } catch (e) {
      err = e;
    }
    expect(isImportError(err)).toBe(true);
  });
});

describe('one set of file helpers', () => {
  it('the app\'s fsyncDir and linkNew are the format\'s, and fsyncDir reports a folder that is not there', () => {
    expect(fsyncDir).toBe(formatFsyncDir);
    expect(linkNew).toBe(formatLinkNew);
    expect(() => fsyncDir(join(tmpdir(), `keyhold-no-such-folder-${process.pid}-${Date.now()}`))).toThrow(/ENOENT/);
    expect(() => fsyncDir(tmpdir())).not.toThrow();
  });
});
