/**
 * Wycheproof vectors, read in place from ../shared/vectors/wycheproof (or
 * WYCHEPROOF_DIR; never copied into the repository), run through the
 * importer's verify and decrypt paths and through the WebCrypto primitives
 * that jose calls underneath them. No `invalid` case may be accepted; the
 * `valid` cases the format can express must be, so the checks are real.
 *
 * Vector keys carry kids that are names ("kid-ec-sign"); the importer wants
 * a kid to be the RFC 7638 thumbprint, so kid (a label, not key material) is
 * dropped before a vector key is used. Everything else is passed as is.
 */

import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  b64url,
  decryptCompactJwe,
  generateRecipientKey,
  importSignerKey,
  isImportError,
  loadRecipientPrivateKey,
  normalizeSignerJwk,
  verifyJwsWithKey,
} from 'keyhold-format';

// Read in place, never copied: WYCHEPROOF_DIR, else ../shared beside the checkout, else the
// workstation image's /work/shared (a clean clone elsewhere, as CI makes, has no ../shared).
const CANDIDATES = [
  process.env.WYCHEPROOF_DIR,
  resolve(import.meta.dirname, '../../../shared/vectors/wycheproof'),
  '/work/shared/vectors/wycheproof',
].filter((d): d is string => d !== undefined && d !== '');
const FOUND = CANDIDATES.find((d) => existsSync(join(d, 'json_web_signature_test.json')));
if (!FOUND) {
  // The vectors are not part of the repository: a machine without them skips these files, visibly.
  console.warn(`wycheproof: no vectors in ${CANDIDATES.join(', ')}; set WYCHEPROOF_DIR to run them (skipped)`);
}
const DIR: string = FOUND ?? '';
const describeVectors = FOUND ? describe : describe.skip;

type Test = { tcId: number; comment: string; result: 'valid' | 'invalid' | 'acceptable'; flags: string[]; [k: string]: unknown };
type Group = { comment?: string; tests: Test[]; [k: string]: unknown };
function load(name: string): Group[] {
  return (JSON.parse(readFileSync(join(DIR, name), 'utf8')) as { testGroups: Group[] }).testGroups;
}
const hex = (s: unknown): Buffer => Buffer.from(s as string, 'hex');
function unlabel(jwk: unknown): Record<string, unknown> {
  const { kid: _kid, ...rest } = jwk as Record<string, unknown>;
  return rest;
}
function keysOf(g: Group): Record<string, unknown>[] {
  const k = (g.public ?? g.private) as { keys?: unknown[] } | undefined;
  if (!k) return [];
  return (k.keys ?? [k]).map(unlabel);
}

async function accepted(p: Promise<unknown>): Promise<boolean> {
  try {
    await p;
    return true;
  } catch (e) {
    // Refusals must be the importer's typed errors, never a crash from deep inside.
    expect(isImportError(e), String(e)).toBe(true);
    return false;
  }
}

describeVectors('Wycheproof JOSE vectors', () => {
  for (const file of ['json_web_signature_test.json', 'json_web_crypto_test.json', 'json_web_key_test.json']) {
    it(`${file}: no invalid JWS is accepted; valid ES256 ones are`, async () => {
      let invalid = 0;
      let validAccepted = 0;
      for (const g of load(file)) {
        for (const t of g.tests) {
          if (t.jws === undefined) continue;
          let ok = false;
          for (const key of keysOf(g)) ok ||= await accepted(verifyJwsWithKey(t.jws as string, key));
          if (t.result === 'invalid') {
            invalid++;
            expect(ok, `tcId ${t.tcId} ${g.comment} ${t.comment} was accepted`).toBe(false);
          }
          if (ok) {
            expect(t.result).toBe('valid');
            validAccepted++;
          }
        }
      }
      expect(invalid).toBeGreaterThan(10);
      if (file === 'json_web_signature_test.json') expect(validAccepted).toBeGreaterThanOrEqual(2); // es256 acceptsValid, SpecialCaseEs256 valid
    });
  }

  it('the refusals that matter are for the right reason: alg none, HMAC, embedded JWK, wrong use', async () => {
    const groups = load('json_web_signature_test.json');
    const es = groups.find((g) => g.comment === 'es256')!;
    const key = keysOf(es)[0]!;
    const byComment = (c: string): Test => es.tests.find((t) => t.comment === c)!;
    await expect(verifyJwsWithKey(byComment('rejectsAttackerProvidedEmbeddedJwk').jws as string, key)).rejects.toMatchObject({ code: 'BUNDLE_HEADER' });
    const hs = groups.find((g) => g.comment === 'hs256')!;
    await expect(verifyJwsWithKey(hs.tests[0]!.jws as string, key)).rejects.toMatchObject({ code: 'BUNDLE_ALGORITHM' });
    const none = `${b64url('{"alg":"none"}')}.${b64url('foo')}.`;
    await expect(verifyJwsWithKey(none, key)).rejects.toMatchObject({ code: 'BUNDLE_ALGORITHM' });
    const enc = groups.find((g) => g.comment === 'ec_key_for_encryption')!;
    await expect(verifyJwsWithKey(enc.tests[0]!.jws as string, keysOf(enc)[0])).rejects.toMatchObject({ code: 'KEY_INVALID' });
    // The same JWS with the signing key is accepted: the refusal above is about the key's use alone.
    await expect(verifyJwsWithKey(enc.tests[0]!.jws as string, key)).resolves.toEqual(Buffer.from('foo'));
  });

  for (const file of ['json_web_encryption_test.json', 'json_web_crypto_test.json']) {
    it(`${file}: no invalid JWE decrypts; a valid ECDH-ES+A256KW/A256GCM one does`, async () => {
      let invalid = 0;
      let validAccepted = 0;
      for (const g of load(file)) {
        for (const t of g.tests) {
          if (t.jwe === undefined || typeof t.jwe !== 'string') continue;
          const ok = await accepted(
            (async () => {
              const r = await loadRecipientPrivateKey(unlabel(g.private));
              const pt = await decryptCompactJwe(t.jwe as string, r.key, undefined);
              if (t.pt !== undefined) expect(Buffer.from(pt).toString('hex')).toBe(t.pt);
            })(),
          );
          if (t.result === 'invalid') {
            invalid++;
            expect(ok, `tcId ${t.tcId} ${t.comment} was accepted`).toBe(false);
          }
          if (ok) validAccepted++;
        }
      }
      expect(invalid).toBeGreaterThan(10);
      if (file === 'json_web_encryption_test.json') expect(validAccepted).toBeGreaterThanOrEqual(1);
    });
  }

  it('an invalid curve point or a low-order X25519 point as epk is refused by the decrypt path itself', async () => {
    const ec = load('json_web_crypto_test.json').find((g) => g.comment === 'jwe_ec')!;
    const bad = ec.tests.find((t) => t.comment === 'rejectsInvalidCurvePoint')!;
    const badHeader = JSON.parse(Buffer.from((bad.jwe as string).split('.')[0]!, 'base64url').toString('utf8')) as { epk: unknown };
    const rest = '.' + ['A'.repeat(54), 'A'.repeat(16), 'A'.repeat(22), 'A'.repeat(22)].join('.');
    const p256 = await loadRecipientPrivateKey((await generateRecipientKey('P-256')).privateJwk);
    const h1 = b64url(JSON.stringify({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', epk: badHeader.epk, kid: p256.recipientId }));
    await expect(decryptCompactJwe(h1 + rest, p256.key, p256.recipientId)).rejects.toMatchObject({ code: 'BUNDLE_DECRYPT' });
    const x = await loadRecipientPrivateKey((await generateRecipientKey('X25519')).privateJwk);
    for (const point of ['00'.repeat(32), '01' + '00'.repeat(31), 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800']) {
      const h2 = b64url(JSON.stringify({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', epk: { kty: 'OKP', crv: 'X25519', x: hex(point).toString('base64url') }, kid: x.recipientId }));
      await expect(decryptCompactJwe(h2 + rest, x.key, x.recipientId)).rejects.toMatchObject({ code: 'BUNDLE_DECRYPT' });
    }
  });
});

describeVectors('Wycheproof primitive vectors (the WebCrypto operations jose performs)', () => {
  const subtle = globalThis.crypto.subtle;

  it('ECDSA P-256 SHA-256 in P1363 form (ES256), r = s = 0 among them: no invalid signature verifies', async () => {
    let invalid = 0;
    let valid = 0;
    // Some groups carry only the point in hex: made into a JWK here (32-byte big-endian coordinates).
    const coord = (h: unknown): string => Buffer.from((h as string).padStart(64, '0').slice(-64), 'hex').toString('base64url');
    for (const g of load('ecdsa_secp256r1_sha256_p1363_test.json')) {
      const pk = g.publicKey as { wx: string; wy: string };
      const jwk = g.publicKeyJwk === undefined ? { kty: 'EC', crv: 'P-256', x: coord(pk.wx), y: coord(pk.wy) } : unlabel(g.publicKeyJwk);
      const key = await importSignerKey(normalizeSignerJwk(jwk)).catch(() => undefined);
      for (const t of g.tests) {
        let ok: boolean;
        try {
          if (!key) throw new Error('key refused');
          ok = await subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, hex(t.sig), hex(t.msg));
        } catch {
          ok = false;
        }
        if (t.result === 'invalid') {
          invalid++;
          expect(ok, `tcId ${t.tcId} ${t.comment}`).toBe(false);
        } else if (t.result === 'valid') {
          valid++;
          expect(ok, `tcId ${t.tcId} ${t.comment}`).toBe(true);
        }
      }
    }
    expect(invalid).toBeGreaterThan(50);
    expect(valid).toBeGreaterThan(50);
  });

  it('Ed25519 (EdDSA): no invalid signature verifies, every valid one does', async () => {
    let invalid = 0;
    for (const g of load('ed25519_test.json')) {
      const key = await importSignerKey(normalizeSignerJwk(unlabel(g.publicKeyJwk)));
      for (const t of g.tests) {
        let ok: boolean;
        try {
          ok = await subtle.verify({ name: 'Ed25519' }, key, hex(t.sig), hex(t.msg));
        } catch {
          ok = false;
        }
        if (t.result === 'invalid') invalid++;
        if (t.result !== 'acceptable') expect(ok, `tcId ${t.tcId} ${t.comment}`).toBe(t.result === 'valid');
      }
    }
    expect(invalid).toBeGreaterThan(30);
  });

  it('X25519 (ECDH-ES): valid cases agree; a zero shared secret is never derived', async () => {
    const pkcs8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
    let zero = 0;
    for (const g of load('x25519_test.json')) {
      for (const t of g.tests) {
        let shared: string | undefined;
        try {
          const priv = await subtle.importKey('pkcs8', Buffer.concat([pkcs8, hex(t.private)]), { name: 'X25519' }, false, ['deriveBits']);
          const pub = await subtle.importKey('raw', hex(t.public), { name: 'X25519' }, false, []);
          shared = Buffer.from(await subtle.deriveBits({ name: 'X25519', public: pub }, priv, 256)).toString('hex');
        } catch {
          shared = undefined;
        }
        if (t.result === 'valid') expect(shared, `tcId ${t.tcId}`).toBe(t.shared);
        if (t.flags.includes('ZeroSharedSecret')) {
          zero++;
          expect(shared, `tcId ${t.tcId} derived a zero secret`).toBeUndefined();
        }
        // Whatever is derived for an acceptable case is the right value, never another one.
        if (shared !== undefined) expect(shared).toBe(t.shared);
      }
    }
    expect(zero).toBeGreaterThan(10);
  });

  it('AES-256-GCM with 96-bit IVs and 128-bit tags (A256GCM): no invalid ciphertext decrypts', async () => {
    let invalid = 0;
    for (const g of load('aes_gcm_test.json').filter((x) => x.keySize === 256 && x.ivSize === 96 && x.tagSize === 128)) {
      for (const t of g.tests) {
        const key = await subtle.importKey('raw', hex(t.key), 'AES-GCM', false, ['decrypt']);
        let pt: string | undefined;
        try {
          pt = Buffer.from(await subtle.decrypt({ name: 'AES-GCM', iv: hex(t.iv), additionalData: hex(t.aad), tagLength: 128 }, key, Buffer.concat([hex(t.ct), hex(t.tag)]))).toString('hex');
        } catch {
          pt = undefined;
        }
        if (t.result === 'invalid') {
          invalid++;
          expect(pt, `tcId ${t.tcId}`).toBeUndefined();
        } else if (t.result === 'valid') expect(pt, `tcId ${t.tcId}`).toBe(t.msg);
      }
    }
    expect(invalid).toBeGreaterThan(5);
  });

  it('AES-256 key unwrap (A256KW), as jose unwraps a CEK: no invalid wrapped key unwraps', async () => {
    let invalid = 0;
    for (const g of load('aes_wrap_test.json').filter((x) => x.keySize === 256)) {
      for (const t of g.tests) {
        let out: string | undefined;
        try {
          const kek = await subtle.importKey('raw', hex(t.key), 'AES-KW', false, ['unwrapKey']);
          const k = await subtle.unwrapKey('raw', hex(t.ct), kek, 'AES-KW', { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
          out = Buffer.from(await subtle.exportKey('raw', k)).toString('hex');
        } catch {
          out = undefined;
        }
        if (t.result === 'invalid') {
          invalid++;
          expect(out, `tcId ${t.tcId} ${t.comment}`).toBeUndefined();
        } else if (t.result === 'valid' && hex(t.msg).length >= 16) expect(out, `tcId ${t.tcId}`).toBe(t.msg);
      }
    }
    expect(invalid).toBeGreaterThan(20);
  });
});
