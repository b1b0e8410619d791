/**
 * Public keys read from a token, as JWK (RFC 7517/7518/8037) with the RFC 7638
 * thumbprint as key id. CKA_EC_POINT is a DER OCTET STRING holding the point
 * (X9.62 uncompressed for P-256, the 32 raw bytes for Ed25519); some modules
 * return the bare point, so both are accepted. Every key is checked by
 * node:crypto (a point off the curve is refused, not exported).
 */

import { createPublicKey, type KeyObject } from 'node:crypto';
import { KeyholdError } from '../../../shared/errors.js';

export type TokenAlg = 'ES256' | 'EdDSA';

export type PublicJwk =
  | Readonly<{ kty: 'EC'; crv: 'P-256'; x: string; y: string }>
  | Readonly<{ kty: 'OKP'; crv: 'Ed25519'; x: string }>;

/** The content of a DER OCTET STRING, or the input when it is not one. */
export function unwrapOctetString(der: Buffer, expectedLen: number): Buffer {
  if (der.length === expectedLen) return der;
  if (der[0] !== 0x04 || der.length < 2) return der;
  let len = der[1] as number;
  let off = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 2 || der.length < 2 + n) return der;
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | (der[2 + i] as number);
    off = 2 + n;
  }
  return off + len === der.length ? der.subarray(off) : der;
}

function badKey(why: string): KeyholdError {
  return new KeyholdError('TOKEN_UNSUPPORTED', `token: the public key ${why}`,
    'Keyhold signs with P-256 (ES256) and Ed25519 (EdDSA) keys.');
}

export function jwkFromEcPoint(alg: TokenAlg, ecPoint: Buffer): PublicJwk {
  if (alg === 'ES256') {
    const pt = unwrapOctetString(ecPoint, 65);
    if (pt.length !== 65 || pt[0] !== 0x04) throw badKey('is not an uncompressed P-256 point');
    const jwk = { kty: 'EC', crv: 'P-256', x: pt.subarray(1, 33).toString('base64url'), y: pt.subarray(33).toString('base64url') } as const;
    publicKeyObject(jwk);
    return jwk;
  }
  const pt = unwrapOctetString(ecPoint, 32);
  if (pt.length !== 32) throw badKey('is not a 32-byte Ed25519 key');
  const jwk = { kty: 'OKP', crv: 'Ed25519', x: pt.toString('base64url') } as const;
  publicKeyObject(jwk);
  return jwk;
}

/** A node:crypto key for the JWK; refuses points that are not on the curve. */
export function publicKeyObject(jwk: PublicJwk): KeyObject {
  try {
    return createPublicKey({ key: { ...jwk }, format: 'jwk' });
  } catch (e) {
    throw new KeyholdError('TOKEN_UNSUPPORTED', 'token: the public key is not a valid point on its curve', undefined, { cause: e });
  }
}

/** RFC 7638 thumbprint (SHA-256 of the canonical JSON of the required members, base64url): the bundle format's. */
export { jwkThumbprint } from 'keyhold-format';

/** The uncompressed P-256 point of a JWK (for ECDH with a token key). */
export function p256Point(jwk: PublicJwk): Buffer {
  if (jwk.kty !== 'EC') throw badKey('is not a P-256 key');
  return Buffer.concat([Buffer.of(0x04), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
}
