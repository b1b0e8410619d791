/**
 * The recipient's key pair (ECDH-ES+A256KW on P-256 or X25519): made on the
 * server, private half never leaves it, public half goes to the vault.
 * Its RFC 7638 thumbprint is the recipient id a bundle names.
 */

import { exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { ImportError } from './errors.js';
import { importAsymmetricJwk, jwkThumbprint } from './jws.js';
import { p256PointProblem } from './curves.js';
import { NotJsonError, parseJsonStrict } from './jcs.js';

export const JWE_ALG = 'ECDH-ES+A256KW';
export const JWE_ENC = 'A256GCM';
export type RecipientCurve = 'P-256' | 'X25519';

export type RecipientPublicJwk = Readonly<{ kty: 'EC'; crv: 'P-256'; x: string; y: string } | { kty: 'OKP'; crv: 'X25519'; x: string }>;

const B64_32 = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

function fail(m: string): never {
  throw new ImportError('KEY_INVALID', `key: ${m}`);
}

/** Reduces a recipient JWK (public or private) to its public members, refusing anything but P-256 / X25519 for ECDH-ES. */
export function recipientPublicJwk(input: unknown, allowPrivate = true): RecipientPublicJwk {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) fail('a JWK must be a JSON object');
  const o = input as Record<string, unknown>;
  const known = ['kty', 'crv', 'x', 'y', 'd', 'kid', 'alg', 'use', 'key_ops', 'ext'];
  for (const k of Object.keys(o)) if (!known.includes(k)) fail(`unexpected JWK member "${k.slice(0, 40)}"`);
  if (!allowPrivate && 'd' in o) fail('this is a private key; give the public key');
  if (o.use !== undefined && o.use !== 'enc') fail('the key is not marked for encryption');
  if (o.alg !== undefined && o.alg !== JWE_ALG) fail(`alg must be ${JWE_ALG}`);
  const b32 = (v: unknown, m: string): string => (typeof v === 'string' && B64_32.test(v) ? v : fail(`${m} must be 32 bytes in base64url`));
  let pub: RecipientPublicJwk;
  if (o.kty === 'EC' && o.crv === 'P-256') {
    pub = { kty: 'EC', crv: 'P-256', x: b32(o.x, 'x'), y: b32(o.y, 'y') };
    const problem = p256PointProblem(Buffer.from(pub.x, 'base64url'), Buffer.from(pub.y, 'base64url'));
    if (problem) fail(`the public key is refused: ${problem}`);
  }
  else if (o.kty === 'OKP' && o.crv === 'X25519') pub = { kty: 'OKP', crv: 'X25519', x: b32(o.x, 'x') };
  else return fail('a recipient key must be EC P-256 or OKP X25519');
  if (o.kid !== undefined && o.kid !== jwkThumbprint(pub)) fail('kid is not the RFC 7638 thumbprint of the key');
  return pub;
}

export function recipientId(jwk: unknown): string {
  return jwkThumbprint(recipientPublicJwk(jwk));
}

export type RecipientKeyPair = Readonly<{ privateJwk: Record<string, unknown>; publicJwk: Record<string, unknown>; recipientId: string }>;

export async function generateRecipientKey(crv: RecipientCurve): Promise<RecipientKeyPair> {
  const { privateKey } = await generateKeyPair(JWE_ALG, { crv, extractable: true });
  const priv = await exportJWK(privateKey);
  const pub = recipientPublicJwk(priv);
  const id = jwkThumbprint(pub);
  const meta = { kid: id, alg: JWE_ALG, use: 'enc' };
  return { privateJwk: { ...pub, d: priv.d, ...meta }, publicJwk: { ...pub, ...meta }, recipientId: id };
}

export type RecipientPrivateKey = Readonly<{ key: CryptoKey; recipientId: string; publicJwk: RecipientPublicJwk }>;

/** Imports the server's private key (a JWK object or its file text). Errors never echo key material. */
export async function loadRecipientPrivateKey(jwk: unknown): Promise<RecipientPrivateKey> {
  let o = jwk;
  if (typeof o === 'string') {
    try {
      o = parseJsonStrict(o, 'key');
    } catch (e) {
      if (e instanceof NotJsonError) fail(`the private key file is not a JSON object: ${e.reason}`);
      throw e;
    }
  }
  const pub = recipientPublicJwk(o);
  const d = (o as Record<string, unknown>).d;
  if (typeof d !== 'string' || !B64_32.test(d)) fail('the private key file holds no private key (d)');
  let key: CryptoKey;
  try {
    key = await importAsymmetricJwk({ ...pub, d }, JWE_ALG);
  } catch (e) {
    throw new ImportError('KEY_INVALID', 'key: the private key is not valid for its curve', undefined, { cause: e });
  }
  return { key, recipientId: jwkThumbprint(pub), publicJwk: pub };
}
