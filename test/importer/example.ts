/**
 * The worked example of docs/bundle-format.md section 12, made
 * deterministically (fixed Ed25519 seeds; Ed25519 signatures are
 * deterministic), so spec.test.ts can check that the document shows exactly
 * what the code makes and that it verifies.
 */

import { createPrivateKey, createPublicKey } from 'node:crypto';
import {
  buildPayload,
  buildTrustRoot,
  encodePayload,
  jwkThumbprint,
  signBundle,
  signTrustRoot,
  softwareSigner,
  verifierOf,
  type Signer,
} from '../../importer/src/index.js';

function ed25519FromSeed(seedHex: string): Signer {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seedHex, 'hex')]);
  return softwareSigner(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
}

function x25519PublicFromSeed(seedHex: string): { kty: 'OKP'; crv: 'X25519'; x: string } {
  const der = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), Buffer.from(seedHex, 'hex')]);
  const jwk = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' });
  return { kty: 'OKP', crv: 'X25519', x: jwk.x! };
}

export const EXAMPLE_KEY = 'khk_EXAMPLEkeyID0001_EXAMPLEsecretDoNotUseEXAMPLEsecretDoNotUse00a3Wta';
export const EXAMPLE_NOW = new Date('2026-11-27T12:30:00Z');

export async function makeExample(): Promise<{ trust: string; bundle: string; payload: string; payloadHash: string; recipient: string; signer: string; verifier: string }> {
  const signer = ed25519FromSeed('11'.repeat(32));
  const root = buildTrustRoot({ vaultId: '3d1219c7c4c5404aaa1f6d2a48adfda4', version: 1, threshold: 1, signers: [signer.publicJwk], issuedAt: new Date('2026-11-01T09:00:00Z'), expiresAt: new Date('2027-11-01T09:00:00Z') });
  const trust = await signTrustRoot(root, [signer]);
  const recipient = jwkThumbprint(x25519PublicFromSeed('22'.repeat(32)));
  const payload = buildPayload({
    bundleId: 'ExampleBundle0001',
    vaultId: '3d1219c7c4c5404aaa1f6d2a48adfda4',
    recipient,
    sequence: 2,
    previous: 'a'.repeat(64),
    issuedAt: new Date('2026-11-27T12:00:00Z'),
    expiresAt: new Date('2026-12-04T12:00:00Z'),
    changes: [
      { type: 'issue', keyId: 'EXAMPLEkeyID0001', version: 2, name: 'billing-api', service: 'billing', environment: 'production', scopes: ['invoices:read'], notBefore: '2026-11-27T12:00:00Z', notAfter: null, verifier: verifierOf(EXAMPLE_KEY) },
      { type: 'revoke', keyId: 'EXAMPLEkeyID0001', version: 1, reason: 'superseded', effectiveAt: '2026-12-11T12:00:00Z' },
    ],
    checkpoint: { seq: 42, hash: 'b'.repeat(64) },
  });
  const enc = encodePayload(payload);
  return { trust, bundle: await signBundle(payload, [signer]), payload: Buffer.from(enc.bytes).toString('utf8'), payloadHash: enc.hash, recipient, signer: signer.kid, verifier: verifierOf(EXAMPLE_KEY) };
}
