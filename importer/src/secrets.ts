/**
 * The secrets of a bundle: ONE compact JWE per bundle (ECDH-ES+A256KW,
 * A256GCM) to the recipient's key, carried inside the signed payload, whose
 * plaintext lists every key version's full key text. Never per key: one ECDH
 * per bundle whatever the number of keys.
 */

import { CompactEncrypt, compactDecrypt, decodeProtectedHeader, importJWK, type CryptoKey } from 'jose';
import { ImportError } from './errors.js';
import { canonicalize, parseCanonical } from './jcs.js';
import { jwkThumbprint } from './jws.js';
import { JWE_ALG, JWE_ENC, recipientPublicJwk, type RecipientPrivateKey } from './keys.js';
import { parseSecretsPlaintext, SECRETS_FORMAT, sortByKeyVersion, type SecretEntry, type SecretsPlaintext } from './schema.js';

export const SECRETS_CTY = 'keyhold-secrets+json';
const JWE_HEADER_MEMBERS = ['alg', 'enc', 'epk', 'kid', 'cty'];

/** Encrypts the secrets of one bundle to the recipient's public key. */
export async function encryptSecrets(recipientJwk: unknown, bundleId: string, keys: readonly SecretEntry[]): Promise<string> {
  const pub = recipientPublicJwk(recipientJwk, false);
  const plaintext: SecretsPlaintext = { format: SECRETS_FORMAT, bundleId, keys: sortByKeyVersion(keys) };
  try {
    parseSecretsPlaintext(plaintext);
  } catch (e) {
    if (e instanceof ImportError) throw new ImportError('INVALID_INPUT', e.message);
    throw e;
  }
  const key = await importJWK({ ...pub }, JWE_ALG);
  return new CompactEncrypt(new TextEncoder().encode(canonicalize(plaintext)))
    .setProtectedHeader({ alg: JWE_ALG, enc: JWE_ENC, kid: jwkThumbprint(pub), cty: SECRETS_CTY })
    .encrypt(key);
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
  const parsed = parseCanonical(plaintext);
  plaintext.fill(0);
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
  let header: Record<string, unknown>;
  try {
    header = { ...decodeProtectedHeader(jwe) };
  } catch (e) {
    throw new ImportError('BUNDLE_DECRYPT', 'secrets: the JWE header cannot be read', undefined, { cause: e });
  }
  for (const k of Object.keys(header)) {
    if (!JWE_HEADER_MEMBERS.includes(k)) throw new ImportError('BUNDLE_DECRYPT', `secrets: JWE header member "${k.slice(0, 40)}" is not allowed`);
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
