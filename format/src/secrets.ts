/**
 * The secrets of a bundle: ONE compact JWE per bundle (ECDH-ES+A256KW,
 * A256GCM) to the recipient's key, carried inside the signed payload, whose
 * plaintext lists every key version's full key text. Never per key: one ECDH
 * per bundle whatever the number of keys.
 */

import { createCipheriv, createHash, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes } from 'node:crypto';
import { compactDecrypt, type CryptoKey } from 'jose';
import { ImportError } from './errors.js';
import { canonicalize, parseCanonical } from './jcs.js';
import { jwkThumbprint, parseJweProtectedHeader } from './jws.js';
import { JWE_ALG, JWE_ENC, recipientPublicJwk, type RecipientPrivateKey, type RecipientPublicJwk } from './keys.js';
import { parseSecretsPlaintext, SECRETS_FORMAT, sortByKeyVersion, type SecretEntry, type SecretsPlaintext } from './schema.js';

export const SECRETS_CTY = 'keyhold-secrets+json';
const JWE_HEADER_MEMBERS = ['alg', 'enc', 'epk', 'kid', 'cty'];

/** Encrypts the secrets of one bundle to the recipient's public key (a promise, as the API has always been). */
export function encryptSecrets(recipientJwk: unknown, bundleId: string, keys: readonly SecretEntry[]): Promise<string> {
  try {
    return Promise.resolve(encryptSecretsSync(recipientJwk, bundleId, keys));
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

function encryptSecretsSync(recipientJwk: unknown, bundleId: string, keys: readonly SecretEntry[]): string {
  const pub = recipientPublicJwk(recipientJwk, false);
  const plaintext: SecretsPlaintext = { format: SECRETS_FORMAT, bundleId, keys: sortByKeyVersion(keys) };
  try {
    parseSecretsPlaintext(plaintext);
  } catch (e) {
    if (e instanceof ImportError) throw new ImportError('INVALID_INPUT', e.message);
    throw e;
  }
  return encryptCompact(pub, Buffer.from(canonicalize(plaintext), 'utf8'));
}

/**
 * ECDH-ES+A256KW with A256GCM (RFC 7518 4.6 and 5.3) on node:crypto's
 * synchronous API: jose's WebCrypto path costs ten times more on a large
 * plaintext (a bundle of 10,000 secrets is ~1 MB). Importers decrypt with
 * jose, so every bundle is also a check of one implementation against the
 * other.
 */
function encryptCompact(pub: RecipientPublicJwk, plaintext: Buffer): string {
  const recipient = createPublicKey({ key: { ...pub }, format: 'jwk' });
  const eph = pub.kty === 'EC' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('x25519');
  const epkJwk = eph.publicKey.export({ format: 'jwk' });
  const epk = pub.kty === 'EC'
    ? { kty: 'EC', crv: 'P-256', x: epkJwk.x, y: epkJwk.y }
    : { kty: 'OKP', crv: 'X25519', x: epkJwk.x };
  const header = { alg: JWE_ALG, enc: JWE_ENC, kid: jwkThumbprint(pub), cty: SECRETS_CTY, epk };
  const protectedB64 = Buffer.from(JSON.stringify(header), 'utf8').toString('base64url');
  const z = diffieHellman({ privateKey: eph.privateKey, publicKey: recipient });
  // Concat KDF (NIST SP 800-56A, RFC 7518 4.6.2): one SHA-256 round gives the 256-bit KEK;
  // AlgorithmID is the "alg" value, PartyUInfo and PartyVInfo are empty.
  const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
  const alg = Buffer.from(JWE_ALG, 'ascii');
  const kek = createHash('sha256').update(u32(1)).update(z)
    .update(Buffer.concat([u32(alg.length), alg, u32(0), u32(0), u32(256)])).digest();
  const cek = randomBytes(32);
  const wrap = createCipheriv('id-aes256-wrap', kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
  const encryptedKey = Buffer.concat([wrap.update(cek), wrap.final()]);
  const iv = randomBytes(12);
  const gcm = createCipheriv('aes-256-gcm', cek, iv);
  gcm.setAAD(Buffer.from(protectedB64, 'ascii'));
  const ciphertext = Buffer.concat([gcm.update(plaintext), gcm.final()]);
  const tag = gcm.getAuthTag();
  z.fill(0);
  kek.fill(0);
  cek.fill(0);
  plaintext.fill(0);
  return [protectedB64, encryptedKey.toString('base64url'), iv.toString('base64url'), ciphertext.toString('base64url'),
    tag.toString('base64url')].join('.');
}

/**
 * Decrypts a bundle's JWE with the recipient's private key. The header is
 * checked before any cryptography (exact members, the one algorithm pair,
 * this recipient's kid), and jose is given the same allow-lists. Any
 * failure is BUNDLE_DECRYPT; a plaintext that decrypts but does not match
 * the format is BUNDLE_SECRETS.
 */
export async function decryptSecrets(jwe: string, recipient: RecipientPrivateKey, bundleId: string): Promise<SecretsPlaintext> {
  const plaintext = await decryptCompactJwe(jwe, recipient.key, recipient.recipientId);
  let parsed: ReturnType<typeof parseCanonical>;
  try {
    parsed = parseCanonical(plaintext, 'secrets: plaintext');
  } finally {
    plaintext.fill(0);
  }
  if (!parsed) throw new ImportError('BUNDLE_SECRETS', 'secrets: the decrypted plaintext is not canonical JSON');
  const secrets = parseSecretsPlaintext(parsed.value);
  if (secrets.bundleId !== bundleId) throw new ImportError('BUNDLE_SECRETS', 'secrets: the plaintext belongs to another bundle');
  return secrets;
}

/**
 * The JWE layer of decryptSecrets: header rules and allow-lists, then jose's
 * compactDecrypt. `expectedKid` is this recipient's id (undefined only for
 * third-party test vectors, whose kids are names, not thumbprints).
 */
export async function decryptCompactJwe(jwe: string, key: CryptoKey, expectedKid: string | undefined): Promise<Uint8Array> {
  // Parsed strictly (no member name twice: DUPLICATE_MEMBER), not with jose's decoder, where the last of two values wins.
  const header = parseJweProtectedHeader(jwe);
  for (const k of Object.keys(header)) {
    if (!JWE_HEADER_MEMBERS.includes(k)) throw new ImportError('BUNDLE_DECRYPT', `secrets: JWE header member "${k.slice(0, 40)}" is not allowed`);
  }
  // cty is optional (jose and other encryptors may leave it out); when present it is exactly this format's.
  if ('cty' in header && header.cty !== SECRETS_CTY) {
    throw new ImportError('BUNDLE_DECRYPT', `secrets: the JWE cty must be "${SECRETS_CTY}" when present`);
  }
  if (header.alg !== JWE_ALG || header.enc !== JWE_ENC) {
    throw new ImportError('BUNDLE_DECRYPT', `secrets: the JWE must use ${JWE_ALG} with ${JWE_ENC}`);
  }
  if (expectedKid !== undefined && header.kid !== expectedKid) {
    throw new ImportError('BUNDLE_DECRYPT', 'secrets: the JWE is encrypted to another key than this server\'s', 'Check that --key is the private key whose public half was given to the vault for this recipient.');
  }
  let plaintext: Uint8Array;
  try {
    ({ plaintext } = await compactDecrypt(jwe, key, { keyManagementAlgorithms: [JWE_ALG], contentEncryptionAlgorithms: [JWE_ENC] }));
  } catch (e) {
    throw new ImportError('BUNDLE_DECRYPT', 'secrets: the JWE does not decrypt with this server\'s key', 'The bundle was damaged, or it was encrypted to another key.', { cause: e });
  }
  return plaintext;
}
