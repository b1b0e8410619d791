/**
 * Operators' credentials: a passphrase (Argon2id, its own salt, the output
 * sealed in the vault as a verifier) or a key on the operator's own token,
 * proved by signing a fresh random challenge that the core verifies against
 * the public key registered for the operator.
 */

import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { KeyholdError } from '../../../shared/errors.js';
import type { KdfParams } from '../../../shared/contract.js';
import { equalBytes, wipe } from '../crypto/primitives.js';
import { deriveKek, type StoredKdfParams } from '../vault/kdf.js';
import { jwkThumbprint } from '../token/jwk.js';
import type { PinPlan, TokenManager } from '../token/token.js';
import type { Vault } from '../vault/vault.js';
import { verifierAad, type OperatorRow, type PassphraseParams, type TokenParams } from './store.js';

export type NewCredential = Pick<OperatorRow, 'credential' | 'params' | 'verifier'>;

function passBytes(p: string): Buffer {
  return Buffer.from(p.normalize('NFC'), 'utf8');
}

/** The KDF cost of the vault's first passphrase keyslot (the cost the vault was made with), else the given default. */
export function vaultKdf(vault: Vault, fallback: KdfParams): KdfParams {
  const slot = vault.listKeyslots().find((s) => s.type === 'passphrase');
  const p = slot?.params;
  if (p && typeof p.memoryKiB === 'number' && typeof p.passes === 'number' && typeof p.parallelism === 'number') {
    return { memoryKiB: p.memoryKiB, passes: p.passes, parallelism: p.parallelism };
  }
  return fallback;
}

/** A passphrase's verifier before it is sealed: the Argon2id output (hex) under a fresh salt, and the parameters. */
export async function derivePassphrase(passphrase: string, kdf: KdfParams): Promise<{ params: string; verifierHex: string }> {
  const params: PassphraseParams = { ...kdf, kdf: 'argon2id', version: 19, salt: randomBytes(16).toString('base64') };
  const pass = passBytes(passphrase);
  let out: Buffer | null = null;
  try {
    out = await deriveKek(pass, params);
    return { params: JSON.stringify(params), verifierHex: out.toString('hex') };
  } finally {
    wipe(pass, out);
  }
}

export async function passphraseCredential(vault: Vault, name: string, passphrase: string, kdf: KdfParams): Promise<NewCredential> {
  const d = await derivePassphrase(passphrase, kdf);
  return { credential: 'passphrase', params: d.params, verifier: vault.sealField(verifierAad(name), d.verifierHex) };
}

/** Whether `passphrase` is the operator's: a full Argon2id derivation whatever the outcome. */
export async function passphraseMatches(vault: Vault, row: OperatorRow, passphrase: string): Promise<boolean> {
  if (row.credential !== 'passphrase' || row.verifier === null) return false;
  const params = JSON.parse(row.params) as StoredKdfParams;
  const want = Buffer.from(vault.openField(verifierAad(row.name), row.verifier, `operator ${row.name}`), 'hex');
  const pass = passBytes(passphrase);
  let got: Buffer | null = null;
  try {
    got = await deriveKek(pass, params);
    return equalBytes(got, want);
  } finally {
    wipe(pass, got, want);
  }
}

/** Registers a signing key on the operator's token: its public key comes from the token, never from the caller. */
export async function tokenCredential(tokens: TokenManager, tokenSel: string, keyLabel: string): Promise<NewCredential & { kid: string }> {
  const token = tokens.token(tokenSel);
  const key = await token.findKey({ label: keyLabel });
  if (!key.alg || !key.jwk || !key.kid) {
    throw new KeyholdError('TOKEN_UNSUPPORTED', `operator: the key '${keyLabel}' is not a P-256 or Ed25519 key with its public key on the token`);
  }
  if (key.hasPrivateKey ? !key.canSign : !key.canVerify) {
    throw new KeyholdError('TOKEN_UNSUPPORTED', `operator: the key '${keyLabel}' is not allowed to sign`,
      'Give a signing key (see `keyhold token keys`; make one with `keyhold token keygen`).');
  }
  const d = token.description;
  const params: TokenParams = { alg: key.alg, jwk: key.jwk, kid: key.kid, tokenLabel: d.label, tokenSerial: d.serial, keyId: key.id, keyLabel: key.label };
  return { credential: 'token', params: JSON.stringify(params), verifier: null, kid: key.kid };
}

/** What the token signs: a fixed context, the vault, the operator and the fresh challenge (never a bundle or a trust root). */
export function challengeMessage(vaultId: string, name: string, challenge: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`keyhold/v1 operator challenge\0${vaultId}\0${name}\0`, 'utf8'), challenge]);
}

/** Verifies a token's signature of a challenge message against the registered public key (raw r||s for ES256). */
export function challengeVerifies(p: Pick<TokenParams, 'alg' | 'jwk'>, message: Buffer, signature: Buffer): boolean {
  try {
    const key = createPublicKey({ key: { ...p.jwk }, format: 'jwk' });
    return p.alg === 'ES256'
      ? signature.length === 64 && verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature)
      : signature.length === 64 && verify(null, message, key, signature);
  } catch {
    return false;
  }
}

/**
 * The token proof: the operator's token (by serial) logs in afresh with its
 * own PIN (a login left by another command proves nothing about who is at
 * the keyboard), signs a fresh 32-byte challenge with the registered key,
 * and the signature is verified against the registered public key.
 */
export async function tokenProves(vault: Vault, tokens: TokenManager, row: OperatorRow, pins: PinPlan,
  allowFinalTry: boolean, why: string): Promise<boolean> {
  const p = JSON.parse(row.params) as TokenParams;
  const token = tokens.bySerial(p.tokenSerial);
  if (!token) {
    throw new KeyholdError('TOKEN_NOT_FOUND', `operator: the token of ${row.name} ('${p.tokenLabel}', serial ${p.tokenSerial}) is not present`,
      'Insert that token and try again.');
  }
  pins.bind([token.description], p.tokenSerial);
  if (token.loggedIn) await token.logout();
  await token.login({ askPin: pins.provider, why, allowFinalTry });
  const key = await token.findKey({ id: p.keyId });
  if (!key.jwk || jwkThumbprint(key.jwk) !== p.kid) return false;
  const challenge = randomBytes(32);
  const message = challengeMessage(vault.id, row.name, challenge);
  const signature = await token.sign({ id: p.keyId }, message);
  return challengeVerifies(p, message, signature);
}
