/**
 * What docs/bundle-format.md left to guess and now settles (issue 15), each
 * with its code, and the signer-key point check of section 5.1:
 *
 * - a byte order mark before any JSON the importer reads is refused (never
 *   skipped): BUNDLE_MALFORMED, TRUST_ROOT_INVALID, KEY_INVALID, BUNDLE_DECRYPT;
 * - the JWE header's `cty` is optional, and exactly `keyhold-secrets+json`
 *   when present (BUNDLE_DECRYPT otherwise);
 * - a trust root's `expiresAt` must follow its `issuedAt` (TRUST_ROOT_INVALID);
 * - the rules of section 9 run rule by rule, each over every signature before
 *   the next: the first failing rule decides the code, whichever entry fails;
 * - a trust root pinning a key whose point is not on its curve (or, for
 *   Ed25519, not canonical or of small order) is refused when it is read.
 */

import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompactEncrypt, importJWK } from 'jose';
import {
  b64url,
  buildTrustRoot,
  canonicalize,
  decryptSecrets,
  encryptSecrets,
  jwkThumbprint,
  loadRecipientPrivateKey,
  loadTrustRoot,
  normalizeSignerJwk,
  parseTrustRootPayload,
  recipientPublicJwk,
  signingInput,
  verifyBundle,
  type Signer,
} from '../../importer/src/index.js';
import { main } from '../../importer/src/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { ed25519Signer, es256Signer, fixture, issue, makeBundle, NOW, VAULT_ID } from './helpers.js';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const BUNDLE_TYP = 'keyhold-bundle+json';

type Entry = { protected: string; signature: string; header?: unknown };

/** A signature entry over `payloadB64` with any header (JSON object, not necessarily canonical or valid). */
function entry(payloadB64: string, header: Record<string, unknown>, signer: Signer): Entry {
  const p = b64url(canonicalize(header));
  return { protected: p, signature: b64url(signer.sign(signingInput(p, payloadB64)) as Uint8Array) };
}

function good(payloadB64: string, s: Signer): Entry {
  return entry(payloadB64, { alg: s.alg, kid: s.kid, typ: BUNDLE_TYP }, s);
}

function corrupt(e: Entry): Entry {
  const bytes = Buffer.from(e.signature, 'base64url');
  bytes[5]! ^= 1;
  return { ...e, signature: b64url(bytes) };
}

describe('a byte order mark before the JSON is refused', () => {
  it('bundle (bytes or text), trust root, private key, JWE header: each with its code and a message that says so', async () => {
    const f = await fixture();
    const b = await makeBundle(f);
    await expect(verifyBundle(Buffer.from(b.text), f.trust, { now: NOW })).resolves.toBeTruthy();
    await expect(verifyBundle(Buffer.concat([BOM, Buffer.from(b.text)]), f.trust, { now: NOW })).rejects.toMatchObject({ code: 'BUNDLE_MALFORMED', message: expect.stringMatching(/byte order mark/) });
    await expect(verifyBundle(`\uFEFF${b.text}`, f.trust, { now: NOW })).rejects.toMatchObject({ code: 'BUNDLE_MALFORMED', message: expect.stringMatching(/byte order mark/) });
    await expect(loadTrustRoot(`\uFEFF${f.trustText}`)).rejects.toMatchObject({ code: 'TRUST_ROOT_INVALID', message: expect.stringMatching(/byte order mark/) });
    await expect(loadRecipientPrivateKey(`\uFEFF${JSON.stringify(f.recipient.privateJwk)}`)).rejects.toMatchObject({ code: 'KEY_INVALID', message: expect.stringMatching(/byte order mark/) });

    const key = await loadRecipientPrivateKey(f.recipient.privateJwk);
    const i = issue();
    const jwe = await encryptSecrets(f.recipient.publicJwk, 'b1', [{ keyId: i.change.keyId, version: 1, key: i.key }]);
    const [h, ...rest] = jwe.split('.');
    const withBom = [b64url(Buffer.concat([BOM, Buffer.from(h!, 'base64url')])), ...rest].join('.');
    await expect(decryptSecrets(withBom, key, 'b1')).rejects.toMatchObject({ code: 'BUNDLE_DECRYPT', message: expect.stringMatching(/byte order mark/) });
  });

  it('keyhold-import refuses a bundle or trust root file that starts with one', async () => {
    const f = await fixture();
    const dir = tmpDir('kh-import-');
    const now = new Date();
    const b = await makeBundle(f, { issuedAt: new Date(now.getTime() - 60_000), expiresAt: new Date(now.getTime() + 86400_000) });
    writeFileSync(join(dir, 'root.json'), f.trustText);
    writeFileSync(join(dir, 'bom-root.json'), Buffer.concat([BOM, Buffer.from(f.trustText)]));
    writeFileSync(join(dir, 'b.json'), Buffer.concat([BOM, Buffer.from(b.text)]));
    let err = '';
    const io = { out: () => undefined, err: (s: string) => (err += s) };
    expect(await main(['verify', '--trust', join(dir, 'root.json'), join(dir, 'b.json')], io)).toBe(1);
    expect(err).toMatch(/byte order mark.*\[BUNDLE_MALFORMED\]/);
    err = '';
    expect(await main(['trust', 'show', join(dir, 'bom-root.json')], io)).toBe(1);
    expect(err).toMatch(/byte order mark.*\[TRUST_ROOT_INVALID\]/);
  });
});

describe('the JWE header: cty is optional, and exactly keyhold-secrets+json when present', () => {
  it('absent or exact: decrypts; any other value: BUNDLE_DECRYPT before decryption', async () => {
    const f = await fixture();
    const key = await loadRecipientPrivateKey(f.recipient.privateJwk);
    const i = issue();
    const plaintext = new TextEncoder().encode(canonicalize({ bundleId: 'b1', format: 'keyhold-secrets/v1', keys: [{ key: i.key, keyId: i.change.keyId, version: 1 }] }));
    const pub = await importJWK(f.recipient.publicJwk as never, 'ECDH-ES+A256KW');
    const jwe = (cty?: string): Promise<string> =>
      new CompactEncrypt(plaintext).setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: key.recipientId, ...(cty === undefined ? {} : { cty }) }).encrypt(pub);
    await expect(decryptSecrets(await jwe(), key, 'b1')).resolves.toMatchObject({ bundleId: 'b1' });
    await expect(decryptSecrets(await jwe('keyhold-secrets+json'), key, 'b1')).resolves.toMatchObject({ bundleId: 'b1' });
    // What the exporter writes carries it.
    const ours = await encryptSecrets(f.recipient.publicJwk, 'b1', [{ keyId: i.change.keyId, version: 1, key: i.key }]);
    expect(JSON.parse(Buffer.from(ours.split('.')[0]!, 'base64url').toString('utf8'))).toMatchObject({ cty: 'keyhold-secrets+json' });
    for (const cty of ['text/plain', 'application/keyhold-secrets+json', 'JWT', 'KEYHOLD-SECRETS+JSON', '']) {
      await expect(decryptSecrets(await jwe(cty), key, 'b1')).rejects.toMatchObject({ code: 'BUNDLE_DECRYPT', message: expect.stringMatching(/cty/) });
    }
  });
});

describe("a trust root's expiresAt must follow its issuedAt", () => {
  it('equal or earlier: TRUST_ROOT_INVALID (and buildTrustRoot will not make one)', async () => {
    const s = es256Signer();
    const base = { format: 'keyhold-trust/v1', signers: [s.publicJwk], threshold: 1, vaultId: VAULT_ID, version: 1, issuedAt: '2026-06-01T00:00:00Z' };
    for (const expiresAt of ['2026-06-01T00:00:00Z', '2026-05-31T23:59:59Z']) {
      const p64 = b64url(canonicalize({ ...base, expiresAt }));
      const e = entry(p64, { alg: s.alg, kid: s.kid, typ: 'keyhold-trust+json' }, s);
      await expect(loadTrustRoot(JSON.stringify({ payload: p64, signatures: [e] }))).rejects.toMatchObject({ code: 'TRUST_ROOT_INVALID', message: expect.stringMatching(/expiresAt must be after issuedAt/) });
      expect(() => buildTrustRoot({ vaultId: VAULT_ID, version: 1, threshold: 1, signers: [s.publicJwk], issuedAt: new Date(base.issuedAt), expiresAt: new Date(expiresAt) })).toThrow(/expiresAt must be after issuedAt/);
    }
    expect(parseTrustRootPayload({ ...base, expiresAt: '2026-06-01T00:00:01Z' }).expiresAt).toBe('2026-06-01T00:00:01Z');
  });
});

describe('section 9 runs rule by rule over all signatures', () => {
  async function setup(): Promise<{ f: Awaited<ReturnType<typeof fixture>>; payload: string; verify: (sigs: Entry[]) => Promise<unknown> }> {
    const f = await fixture();
    const b = await makeBundle(f);
    const payload = (JSON.parse(b.text) as { payload: string }).payload;
    return { f, payload, verify: (sigs) => verifyBundle(JSON.stringify({ payload, signatures: sigs }), f.trust, { now: NOW }) };
  }

  it('rule 6 (unknown signer) over every signature before rule 7 (algorithm) and rule 8 (signature)', async () => {
    const { f, payload, verify } = await setup();
    const stranger = es256Signer();
    const [s0, s1, ed] = f.signers as [Signer, Signer, Signer];
    // A bad signature first, an unknown signer second: the unknown signer decides, before any verification.
    await expect(verify([corrupt(good(payload, s0)), good(payload, stranger)])).rejects.toMatchObject({ code: 'BUNDLE_UNKNOWN_SIGNER' });
    // ES256 under the Ed25519 signer's kid first, an unknown signer second.
    const onEd = entry(payload, { alg: 'ES256', kid: ed.kid, typ: BUNDLE_TYP }, s1);
    await expect(verify([onEd, good(payload, stranger)])).rejects.toMatchObject({ code: 'BUNDLE_UNKNOWN_SIGNER' });
    // Rule 7 before rule 8: a bad signature first, an algorithm that is not its key's second.
    await expect(verify([corrupt(good(payload, s0)), onEd])).rejects.toMatchObject({ code: 'BUNDLE_ALGORITHM' });
    // Only rule 8 fails: the bad signature is reported.
    await expect(verify([good(payload, s1), corrupt(good(payload, s0))])).rejects.toMatchObject({ code: 'BUNDLE_SIGNATURE' });
    await expect(verify([good(payload, s0), good(payload, s1)])).resolves.toBeTruthy();
  });

  it('rules 2 to 5 in order: form of the document, headers, algorithms, one signature per signer', async () => {
    const { f, payload, verify } = await setup();
    const [s0, s1] = f.signers as [Signer, Signer];
    const stranger = es256Signer();
    // Rule 2 before 3: an unprotected header first, a signature that is not canonical base64url second.
    await expect(verify([{ ...good(payload, s0), header: { kid: s0.kid } }, { ...good(payload, s1), signature: 'A' }])).rejects.toMatchObject({ code: 'BUNDLE_MALFORMED' });
    // Rule 3 before 4: alg none first, a header member that is not allowed second.
    const none = entry(payload, { alg: 'none', kid: s0.kid, typ: BUNDLE_TYP }, s0);
    const jku = entry(payload, { alg: s1.alg, jku: 'https://attacker.example/', kid: s1.kid, typ: BUNDLE_TYP }, s1);
    await expect(verify([none, jku])).rejects.toMatchObject({ code: 'BUNDLE_HEADER' });
    // Rule 4 before 5: a signer twice first, HS256 third.
    const hs = entry(payload, { alg: 'HS256', kid: s1.kid, typ: BUNDLE_TYP }, s1);
    await expect(verify([good(payload, s0), good(payload, s0), hs])).rejects.toMatchObject({ code: 'BUNDLE_ALGORITHM' });
    // Rule 5 before 6: an unknown signer first, a signer twice after.
    await expect(verify([good(payload, stranger), good(payload, s0), good(payload, s0)])).rejects.toMatchObject({ code: 'BUNDLE_DUPLICATE_SIGNER' });
    // A header without alg is rule 3 (not exactly alg, kid and typ).
    const noAlg = entry(payload, { kid: s0.kid, typ: BUNDLE_TYP }, s0);
    await expect(verify([noAlg, good(payload, s1)])).rejects.toMatchObject({ code: 'BUNDLE_HEADER' });
  });
});

describe('signer keys must be points of their curve (section 5.1)', () => {
  /** A trust root naming `extra` beside a real signer, signed by that signer alone (threshold 1). */
  function rootWith(extra: Record<string, unknown>): { text: string; s: Signer } {
    const s = es256Signer();
    const signers = [s.publicJwk as Record<string, unknown>, extra].sort((a, b) => (jwkThumbprint(a as never) < jwkThumbprint(b as never) ? -1 : 1));
    const p64 = b64url(canonicalize({ expiresAt: null, format: 'keyhold-trust/v1', issuedAt: '2026-01-01T00:00:00Z', signers, threshold: 1, vaultId: VAULT_ID, version: 1 }));
    const e = entry(p64, { alg: s.alg, kid: s.kid, typ: 'keyhold-trust+json' }, s);
    return { text: `${JSON.stringify({ payload: p64, signatures: [e] })}\n`, s };
  }
  const le = (hex: string): string => Buffer.from(hex, 'hex').toString('base64url');

  it('a pinned P-256 key off its curve is refused when the trust root is read, though it never signs', async () => {
    const real = es256Signer().publicJwk as { kty: 'EC'; crv: 'P-256'; x: string; y: string };
    const y = Buffer.from(real.y, 'base64url');
    y[31]! ^= 1; // (x, y') with y' != ±y: not on the curve
    const off = { kty: 'EC', crv: 'P-256', x: real.x, y: b64url(y) };
    await expect(loadTrustRoot(rootWith(off).text)).rejects.toMatchObject({ code: 'TRUST_ROOT_INVALID', message: expect.stringMatching(/not a point on the P-256 curve/) });
    // The real point in the same place is accepted.
    await expect(loadTrustRoot(rootWith(real).text)).resolves.toBeTruthy();
    // A coordinate at or above the field prime (a second spelling of a coordinate, so a second thumbprint).
    const p = 'ffffffff00000001000000000000000000000000ffffffffffffffffffffffff';
    await expect(loadTrustRoot(rootWith({ kty: 'EC', crv: 'P-256', x: le(p), y: real.y }).text)).rejects.toMatchObject({ code: 'TRUST_ROOT_INVALID', message: expect.stringMatching(/below the field prime/) });
    expect(() => normalizeSignerJwk(off)).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
    expect(() => buildTrustRoot({ vaultId: VAULT_ID, version: 1, threshold: 1, signers: [off] })).toThrow(/not a point on the P-256 curve/);
    // The recipient side refuses such a public key too (an ECDH with it would leak or fail).
    expect(() => recipientPublicJwk(off, false)).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
  });

  it('Ed25519: a y with no curve point, non-canonical encodings and small-order points are refused', async () => {
    const cases: [string, RegExp][] = [
      ['0200000000000000000000000000000000000000000000000000000000000000', /not a point on the Ed25519 curve/], // y = 2: no x
      ['0100000000000000000000000000000000000000000000000000000000000000', /small order/], // the neutral point
      ['ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', /small order/], // order 2
      ['0000000000000000000000000000000000000000000000000000000000000000', /small order/], // order 4
      ['26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', /small order/], // order 8
      ['c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', /small order/], // order 8
      ['eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', /not canonical/], // y = p + 1
      ['0100000000000000000000000000000000000000000000000000000000000080', /not canonical|small order/], // x = 0 with the sign bit
    ];
    for (const [hex, why] of cases) {
      await expect(loadTrustRoot(rootWith({ kty: 'OKP', crv: 'Ed25519', x: le(hex) }).text)).rejects.toMatchObject({ code: 'TRUST_ROOT_INVALID', message: expect.stringMatching(why) });
    }
    await expect(loadTrustRoot(rootWith(ed25519Signer().publicJwk).text)).resolves.toBeTruthy();
  });

  it('real keys from node:crypto always pass (200 of each curve)', () => {
    for (let i = 0; i < 200; i++) {
      for (const kp of [generateKeyPairSync('ec', { namedCurve: 'P-256' }), generateKeyPairSync('ed25519')]) {
        const jwk = kp.publicKey.export({ format: 'jwk' });
        expect(() => normalizeSignerJwk(jwk)).not.toThrow();
      }
    }
  });
});
