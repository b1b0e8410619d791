/**
 * A bundle checked by a second, independent implementation: node:crypto
 * directly (no jose, no importer code) verifies every signature over the
 * RFC 7515 signing input and decrypts the JWE (RFC 7518 ECDH-ES+A256KW with
 * Concat KDF, AES key unwrap, A256GCM). jose's own thumbprint confirms the kids.
 */

import { describe, expect, it } from 'vitest';
import { createDecipheriv, createHash, createPrivateKey, createPublicKey, diffieHellman, verify, type JsonWebKey } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { fixture, issue, makeBundle, NOW } from './helpers.js';

const dec = (s: string): Buffer => Buffer.from(s, 'base64url');

function concatKdf(z: Buffer, alg: string): Buffer {
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const lenPrefixed = (b: Buffer): Buffer => Buffer.concat([u32(b.length), b]);
  const otherInfo = Buffer.concat([lenPrefixed(Buffer.from(alg, 'ascii')), lenPrefixed(Buffer.alloc(0)), lenPrefixed(Buffer.alloc(0)), u32(256)]);
  return createHash('sha256').update(u32(1)).update(z).update(otherInfo).digest();
}

describe('independent verification with node:crypto', () => {
  for (const curve of ['P-256', 'X25519'] as const) {
    it(`verifies every signature and decrypts the secrets (recipient ${curve})`, async () => {
      const f = await fixture({ curve });
      const b = await makeBundle(f, { issued: [issue(), issue()], signers: f.signers, issuedAt: new Date(NOW.getTime() - 1000) });
      const doc = JSON.parse(b.text) as { payload: string; signatures: { protected: string; signature: string }[] };
      const trust = JSON.parse(Buffer.from(JSON.parse(f.trustText).payload, 'base64url').toString('utf8')) as { signers: JsonWebKey[] };

      expect(doc.signatures).toHaveLength(3);
      for (const s of doc.signatures) {
        const h = JSON.parse(dec(s.protected).toString('utf8')) as { alg: string; kid: string; typ: string };
        expect(h.typ).toBe('keyhold-bundle+json');
        let jwk: JsonWebKey | undefined;
        for (const k of trust.signers) if ((await calculateJwkThumbprint(k)) === h.kid) jwk = k;
        expect(jwk).toBeDefined();
        const key = createPublicKey({ key: jwk!, format: 'jwk' });
        const input = Buffer.from(`${s.protected}.${doc.payload}`, 'ascii');
        const sig = dec(s.signature);
        const ok = h.alg === 'ES256' ? verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, sig) : verify(null, input, key, sig);
        expect(ok).toBe(true);
        // And a changed payload does not verify: the check is real.
        const bad = Buffer.from(`${s.protected}.${doc.payload.slice(0, -2)}AA`, 'ascii');
        expect(h.alg === 'ES256' ? verify('sha256', bad, { key, dsaEncoding: 'ieee-p1363' }, sig) : verify(null, bad, key, sig)).toBe(false);
      }

      const payloadBytes = dec(doc.payload);
      expect(createHash('sha256').update(payloadBytes).digest('hex')).toBe(b.hash);
      const payload = JSON.parse(payloadBytes.toString('utf8')) as { secrets: string; bundleId: string };
      const [ph, ek, iv, ct, tag] = payload.secrets.split('.') as [string, string, string, string, string];
      const jh = JSON.parse(dec(ph).toString('utf8')) as { alg: string; enc: string; epk: JsonWebKey; kid: string };
      expect([jh.alg, jh.enc, jh.kid]).toEqual(['ECDH-ES+A256KW', 'A256GCM', f.recipient.recipientId]);
      const priv = createPrivateKey({ key: f.recipient.privateJwk as JsonWebKey, format: 'jwk' });
      const z = diffieHellman({ privateKey: priv, publicKey: createPublicKey({ key: jh.epk, format: 'jwk' }) });
      const kek = concatKdf(z, 'ECDH-ES+A256KW');
      const unwrap = createDecipheriv('id-aes256-wrap', kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
      const cek = Buffer.concat([unwrap.update(dec(ek)), unwrap.final()]);
      const gcm = createDecipheriv('aes-256-gcm', cek, dec(iv));
      gcm.setAAD(Buffer.from(ph, 'ascii'));
      gcm.setAuthTag(dec(tag));
      const plain = JSON.parse(Buffer.concat([gcm.update(dec(ct)), gcm.final()]).toString('utf8')) as { bundleId: string; keys: { key: string }[] };
      expect(plain.bundleId).toBe(payload.bundleId);
      expect(plain.keys.map((k) => k.key).sort()).toEqual(b.issued.map((i) => i.key).sort());
    });
  }

  it('the kid is the RFC 7638 thumbprint as jose computes it', async () => {
    const f = await fixture();
    for (const s of f.signers) expect(s.kid).toBe(await calculateJwkThumbprint(s.publicJwk as never));
    expect(f.recipient.recipientId).toBe(await calculateJwkThumbprint(f.recipient.publicJwk as never));
  });
});
