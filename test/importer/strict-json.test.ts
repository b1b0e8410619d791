/**
 * Duplicate member names (issue 15): JSON.parse keeps the last of two values
 * silently, so a bundle file holding two validly signed bundles applied the
 * second while a first-wins parser elsewhere would see the first. Every JSON
 * the importer parses from outside is parsed strictly: a name twice in one
 * object, at any level, is DUPLICATE_MEMBER. The strict parser is checked
 * against JSON.parse on valid inputs (fast-check, fixed seed) and on crafted
 * duplicates, then through each document that carries JSON: the bundle's
 * outer JSON, its protected headers and payload, the trust root, the JWE
 * protected header and plaintext, and the private key file.
 */

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CompactEncrypt, importJWK } from 'jose';
import {
  b64url,
  canonicalize,
  decryptSecrets,
  loadRecipientPrivateKey,
  loadTrustRoot,
  signingInput,
  verifyBundle,
} from '../../importer/src/index.js';
import { findDuplicateMember, NotJsonError, parseJsonStrict } from 'keyhold-format';
import { fixture, issue, makeBundle, NOW } from './helpers.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261203);

function strictOutcome(text: string): { ok: true; value: unknown } | { ok: false; code: string } {
  try {
    return { ok: true, value: parseJsonStrict(text, 'test') };
  } catch (e) {
    if (e instanceof NotJsonError) return { ok: false, code: 'NOT_JSON' };
    return { ok: false, code: (e as { code?: string }).code ?? String(e) };
  }
}

/** A reference duplicate finder written independently: a tiny recursive-descent JSON reader over valid JSON. */
function hasDuplicateReference(text: string): boolean {
  let i = 0;
  let dup = false;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const str = (): string => {
    const start = i;
    i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const names = new Set<string>();
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        const k = str();
        if (names.has(k)) dup = true;
        names.add(k);
        ws();
        i++; // :
        value();
        ws();
        if (text[i++] === '}') return;
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i++] === ']') return;
      }
    } else if (c === '"') str();
    else while (i < text.length && !',]} \t\n\r'.includes(text[i]!)) i++;
  };
  value();
  return dup;
}

/** Whitespace JSON allows, inserted between tokens of a serialization. */
const spaced = (v: unknown, indent: number): string => JSON.stringify(v, null, indent);

describe('the strict JSON parser against JSON.parse', () => {
  it('valid JSON without repeated names: the same value as JSON.parse, any spacing', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 0, max: 4 }), (v, indent) => {
        const text = spaced(v, indent);
        const r = strictOutcome(text);
        expect(r).toEqual({ ok: true, value: JSON.parse(text) });
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('names that need escapes, look alike, or are special to JavaScript are compared after decoding', () => {
    for (const text of ['{"a":1,"\\u0061":2}', '{"\\/":1,"/":2}', '{"__proto__":1,"__proto__":2}', '{"":1,"":2}', '{"a\\"b":1,"a\\u0022b":2}', '{"\\ud83d\\ude00":1,"😀":2}']) {
      expect(() => JSON.parse(text) as unknown).not.toThrow();
      expect(strictOutcome(text)).toEqual({ ok: false, code: 'DUPLICATE_MEMBER' });
    }
    for (const text of ['{"a":1,"A":2}', '{"a":{"a":{"a":1}}}', '[{"a":1},{"a":2}]', '{"a\\\\":1,"a":2}', '{"x":"\\"a\\":1,\\"a\\":2"}', '{"__proto__":{"x":1}}']) {
      expect(strictOutcome(text)).toEqual({ ok: true, value: JSON.parse(text) });
    }
    // __proto__ is an own member, as JSON.parse makes it, not the prototype.
    const v = parseJsonStrict('{"__proto__":{"polluted":true}}', 't') as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a member repeated at any depth of a random document is found, with its place', () => {
    const withDup = fc
      .tuple(fc.jsonValue({ maxDepth: 3 }), fc.array(fc.oneof(fc.string({ maxLength: 4 }), fc.nat({ max: 3 })), { maxLength: 8 }), fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }))
      .map(([base, path, name, v1, v2]) => {
        // An object holding `name` twice, nested under the path (a string: inside an object member; n: at index n of an array).
        let inner = `{${JSON.stringify(name)}:${JSON.stringify(v1)},${JSON.stringify(name)}:${JSON.stringify(v2)}}`;
        for (const step of [...path].reverse()) {
          inner = typeof step === 'string' ? `{${JSON.stringify(step)}:${inner}}` : `[${'null,'.repeat(step)}${inner}]`;
        }
        return { text: `[${JSON.stringify(base)},${inner}]`, name };
      });
    fc.assert(
      fc.property(withDup, ({ text, name }) => {
        expect(() => JSON.parse(text) as unknown).not.toThrow();
        expect(strictOutcome(text)).toEqual({ ok: false, code: 'DUPLICATE_MEMBER' });
        expect(findDuplicateMember(text)?.name).toBe(name);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('mutated JSON texts: both parsers refuse the same texts, and agree on every accepted one', () => {
    const CH = ['"', '\\', ',', ':', '{', '}', '[', ']', ' ', 'a', '1', 'e', '-', '.', 'n', 'u'];
    const mutated = fc
      .tuple(fc.jsonValue({ maxDepth: 4 }), fc.array(fc.tuple(fc.nat(), fc.constantFrom(...CH), fc.boolean()), { minLength: 1, maxLength: 3 }))
      .map(([v, edits]) => {
        let t = JSON.stringify(v);
        for (const [at, ch, insert] of edits) {
          const k = t.length === 0 ? 0 : at % t.length;
          t = insert ? t.slice(0, k) + ch + t.slice(k) : t.slice(0, k) + ch + t.slice(k + 1);
        }
        return t;
      });
    let agreedValid = 0;
    fc.assert(
      fc.property(mutated, (text) => {
        let reference: { ok: true; value: unknown } | { ok: false };
        try {
          reference = { ok: true, value: JSON.parse(text) };
        } catch {
          reference = { ok: false };
        }
        const r = strictOutcome(text);
        if (!reference.ok) expect(r).toEqual({ ok: false, code: 'NOT_JSON' });
        else if (hasDuplicateReference(text)) expect(r).toEqual({ ok: false, code: 'DUPLICATE_MEMBER' });
        else {
          agreedValid++;
          expect(r).toEqual({ ok: true, value: reference.value });
        }
      }),
      { seed: SEED, numRuns: 3000 },
    );
    expect(agreedValid).toBeGreaterThan(50);
  });

  it('a byte order mark before the JSON is refused (not skipped)', () => {
    expect(strictOutcome('\uFEFF{"a":1}')).toEqual({ ok: false, code: 'NOT_JSON' });
    expect(() => parseJsonStrict('\uFEFF{}', 't')).toThrow(/byte order mark/);
  });
});

describe('every JSON from outside refuses a repeated member (DUPLICATE_MEMBER)', () => {
  it('a bundle file holding two validly signed bundles (payload twice, signatures twice)', async () => {
    const f = await fixture();
    const a = await makeBundle(f);
    const b = await makeBundle(f);
    const da = JSON.parse(a.text) as { payload: string; signatures: unknown[] };
    const db = JSON.parse(b.text) as { payload: string; signatures: unknown[] };
    // What JSON.parse reads as the second bundle, and a first-wins parser as the first.
    const both = `{"payload":${JSON.stringify(da.payload)},"signatures":${JSON.stringify(da.signatures)},"payload":${JSON.stringify(db.payload)},"signatures":${JSON.stringify(db.signatures)}}`;
    await expect(verifyBundle(b.text, f.trust, { now: NOW })).resolves.toBeTruthy();
    await expect(verifyBundle(both, f.trust, { now: NOW })).rejects.toMatchObject({ code: 'DUPLICATE_MEMBER', message: expect.stringMatching(/bundle: the member "payload" appears twice at the top level/) });
    await expect(verifyBundle(Buffer.from(both), f.trust, { now: NOW })).rejects.toMatchObject({ code: 'DUPLICATE_MEMBER' });
    // A name twice inside a signature entry.
    const sig = db.signatures[0] as { protected: string; signature: string };
    const entryTwice = `{"payload":${JSON.stringify(db.payload)},"signatures":[{"protected":${JSON.stringify(sig.protected)},"signature":"AAAA","signature":${JSON.stringify(sig.signature)}},${JSON.stringify(db.signatures[1])}]}`;
    await expect(verifyBundle(entryTwice, f.trust, { now: NOW })).rejects.toMatchObject({ code: 'DUPLICATE_MEMBER', message: expect.stringMatching(/\$\.signatures\[0\]/) });
  });

  it('a protected header and a payload with a name twice (signed as they are)', async () => {
    const f = await fixture();
    const b = await makeBundle(f);
    const doc = JSON.parse(b.text) as { payload: string };
    const s = f.signers[0]!;
    const t = f.signers[1]!;
    const sign = (payloadB64: string, signer: typeof s, headerJson: string) => {
      const p = b64url(headerJson);
      return { protected: p, signature: b64url(signer.sign(signingInput(p, payloadB64)) as Uint8Array) };
    };
    const canonHeader = (signer: typeof s) => canonicalize({ alg: signer.alg, kid: signer.kid, typ: 'keyhold-bundle+json' });
    // {"alg":..,"kid":..,"kid":..,"typ":..}: what the signer signed holds kid twice.
    const twice = `{"alg":"${s.alg}","kid":"${t.kid}","kid":"${s.kid}","typ":"keyhold-bundle+json"}`;
    const withDupHeader = JSON.stringify({ payload: doc.payload, signatures: [sign(doc.payload, s, twice), sign(doc.payload, t, canonHeader(t))] });
    await expect(verifyBundle(withDupHeader, f.trust, { now: NOW })).rejects.toMatchObject({ code: 'DUPLICATE_MEMBER', message: expect.stringMatching(/protected header: the member "kid" appears twice/) });
    // The payload with a member twice, signed by the threshold.
    const payload = Buffer.from(doc.payload, 'base64url').toString('utf8');
    const dupPayload = b64url(payload.replace(/^\{"bundleId":("[^"]*")/, '{"bundleId":"other","bundleId":$1'));
    const withDupPayload = JSON.stringify({ payload: dupPayload, signatures: [sign(dupPayload, s, canonHeader(s)), sign(dupPayload, t, canonHeader(t))] });
    await expect(verifyBundle(withDupPayload, f.trust, { now: NOW })).rejects.toMatchObject({ code: 'DUPLICATE_MEMBER', message: expect.stringMatching(/bundle: payload: the member "bundleId" appears twice/) });
  });

  it('a trust root file with a member twice, outside and in its payload', async () => {
    const f = await fixture();
    const doc = JSON.parse(f.trustText) as { payload: string; signatures: unknown[] };
    const outer = `{"payload":${JSON.stringify(doc.payload)},"signatures":${JSON.stringify(doc.signatures)},"signatures":[]}`;
    await expect(loadTrustRoot(outer)).rejects.toMatchObject({ code: 'DUPLICATE_MEMBER', message: expect.stringMatching(/^trust root: /) });
    const payload = Buffer.from(doc.payload, 'base64url').toString('utf8').replace('"threshold":2', '"threshold":1,"threshold":2');
    const p64 = b64url(payload);
    const sigs = f.signers.map((s) => {
      const p = b64url(canonicalize({ alg: s.alg, kid: s.kid, typ: 'keyhold-trust+json' }));
      return { protected: p, signature: b64url(s.sign(signingInput(p, p64)) as Uint8Array) };
    });
    await expect(loadTrustRoot(JSON.stringify({ payload: p64, signatures: sigs }))).rejects.toMatchObject({ code: 'DUPLICATE_MEMBER', message: expect.stringMatching(/threshold/) });
  });

  it('a JWE protected header with a name twice, and a plaintext with a name twice', async () => {
    const f = await fixture();
    const key = await loadRecipientPrivateKey(f.recipient.privateJwk);
    const i = issue();
    const pub = await importJWK(f.recipient.publicJwk as never, 'ECDH-ES+A256KW');
    const plaintext = canonicalize({ bundleId: 'b1', format: 'keyhold-secrets/v1', keys: [{ key: i.key, keyId: i.change.keyId, version: 1 }] });
    const good = await new CompactEncrypt(new TextEncoder().encode(plaintext)).setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: key.recipientId }).encrypt(pub);
    await expect(decryptSecrets(good, key, 'b1')).resolves.toMatchObject({ bundleId: 'b1' });
    // The same header with enc written twice (jose's decoder keeps the last): refused before any cryptography.
    const [h, ...rest] = good.split('.');
    const headerText = Buffer.from(h!, 'base64url').toString('utf8');
    const twice = headerText.replace('"enc":"A256GCM"', '"enc":"A128GCM","enc":"A256GCM"');
    expect(twice).not.toBe(headerText);
    await expect(decryptSecrets([b64url(twice), ...rest].join('.'), key, 'b1')).rejects.toMatchObject({ code: 'DUPLICATE_MEMBER', message: expect.stringMatching(/JWE protected header: the member "enc" appears twice/) });
    // A plaintext with a member twice (encrypted properly): refused as such, not merely as non-canonical.
    const dupPlain = plaintext.replace('{"bundleId":"b1"', '{"bundleId":"b0","bundleId":"b1"');
    const jwe = await new CompactEncrypt(new TextEncoder().encode(dupPlain)).setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: key.recipientId }).encrypt(pub);
    await expect(decryptSecrets(jwe, key, 'b1')).rejects.toMatchObject({ code: 'DUPLICATE_MEMBER', message: expect.stringMatching(/bundleId/) });
  });

  it('a private key file with a member twice', async () => {
    const f = await fixture();
    const text = JSON.stringify(f.recipient.privateJwk);
    await expect(loadRecipientPrivateKey(text)).resolves.toBeTruthy();
    const other = (await import('../../importer/src/index.js')).generateRecipientKey;
    const o = await other('P-256');
    const twice = text.replace(/^\{/, `{"d":${JSON.stringify(o.privateJwk.d)},`);
    await expect(loadRecipientPrivateKey(twice)).rejects.toMatchObject({ code: 'DUPLICATE_MEMBER', message: expect.stringMatching(/^key: the member "d" appears twice/) });
  });
});
