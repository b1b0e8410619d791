/**
 * Keyslots, in the manner of LUKS2: the vault master key (VMK) wrapped once per
 * unlock method, each slot stored with its method's parameters.
 *
 * A slot row holds: type, label, params (canonical JSON), wrapped (the VMK
 * sealed with AES-256-GCM under the method's key-encryption key), a checksum
 * (plain SHA-256 of the row, so accidental damage is told apart from a wrong
 * passphrase before any KDF runs) and a MAC under a VMK-derived key (checked
 * after unlock, so tampering is told apart from damage).
 *
 * The AAD of `wrapped` binds the vault id, slot id, type and params: a slot
 * cannot be moved to another vault or have its parameters weakened unnoticed.
 *
 * Passphrase slots are built here; token and quorum slots plug in through the
 * same row format with their own `type` and unwrap method.
 */

import { randomBytes } from 'node:crypto';
import { canonicalize } from 'keyhold-format';
import { kdfParamsSchema, type KdfParams, type KeyslotInfo } from '../../../shared/contract.js';
import { KeyholdError } from '../../../shared/errors.js';
import { canonicalRow, seal, sha256, tryOpen, wipe } from '../crypto/primitives.js';
import { deriveKek, type StoredKdfParams } from './kdf.js';

export type KeyslotType = KeyslotInfo['type'];

export type KeyslotRow = Readonly<{
  id: number;
  type: string;
  label: string;
  created_at: string;
  params: string;
  wrapped: Buffer;
  checksum: Buffer;
  mac: Buffer;
}>;

export type NewKeyslot = Readonly<{ type: KeyslotType; label: string; params: string; wrapped: Buffer }>;

export function wrapAad(vaultId: string, slotId: number, type: string, params: string): string {
  return JSON.stringify(['keyhold/v1/keyslot', vaultId, slotId, type, params]);
}

export function slotChecksum(row: Omit<KeyslotRow, 'checksum' | 'mac'>): Buffer {
  return sha256(canonicalRow('keyslots', [row.id, row.type, row.label, row.created_at, row.params, row.wrapped]));
}

/** Fields of a slot row covered by its MAC (everything but the MAC). */
export function slotMacFields(row: Omit<KeyslotRow, 'mac'>): unknown[] {
  return [row.id, row.type, row.label, row.created_at, row.params, row.wrapped, row.checksum];
}

/** Canonical JSON (RFC 8785, the bundle format's one implementation) of flat params, so the AAD is stable. */
export function canonicalParams(p: Record<string, string | number | boolean>): string {
  return canonicalize(p);
}

export async function makePassphraseSlot(
  vaultId: string,
  slotId: number,
  vmk: Buffer,
  passphrase: Buffer,
  kdf: KdfParams,
  label: string,
): Promise<NewKeyslot> {
  const stored: StoredKdfParams = {
    kdf: 'argon2id',
    version: 19,
    memoryKiB: kdf.memoryKiB,
    passes: kdf.passes,
    parallelism: kdf.parallelism,
    salt: randomBytes(32).toString('base64'),
  };
  const params = canonicalParams(stored);
  const kek = await deriveKek(passphrase, stored);
  try {
    return { type: 'passphrase', label, params, wrapped: seal(kek, vmk, wrapAad(vaultId, slotId, 'passphrase', params)) };
  } finally {
    wipe(kek);
  }
}

/**
 * Stored Argon2id parameters, or null when they are malformed or out of the
 * range Keyhold would ever write (an edited slot must not make unlock crash,
 * or take hours).
 */
export function parseStoredKdf(params: string): StoredKdfParams | null {
  try {
    const p = JSON.parse(params) as Partial<StoredKdfParams>;
    if (p.kdf !== 'argon2id' || p.version !== 19 || typeof p.salt !== 'string') return null;
    if (Buffer.from(p.salt, 'base64').length < 16) return null;
    const ok = kdfParamsSchema.safeParse({ memoryKiB: p.memoryKiB, passes: p.passes, parallelism: p.parallelism });
    return ok.success ? (p as StoredKdfParams) : null;
  } catch {
    return null;
  }
}

/**
 * Tries a passphrase on a slot: the full KDF always runs, and the result is
 * the VMK or null. There is no cheaper check that a wrong guess could hit.
 */
export async function unwrapPassphraseSlot(vaultId: string, row: KeyslotRow, passphrase: Buffer): Promise<Buffer | null> {
  const stored = parseStoredKdf(row.params);
  if (!stored) return null;
  const kek = await deriveKek(passphrase, stored);
  try {
    return tryOpen(kek, row.wrapped, wrapAad(vaultId, row.id, row.type, row.params));
  } finally {
    wipe(kek);
  }
}

/**
 * How one unlock method opens the slots of its type. The passphrase opener is
 * below; the token (PKCS#11) and quorum openers plug in the same way, and
 * Vault.unlockWith runs any of them with the same checks and errors.
 */
export type SlotOpener = Readonly<{
  type: KeyslotType;
  /** Cheap check of a slot's stored parameters before any costly work; false marks it damaged. */
  paramsValid: (row: KeyslotRow) => boolean;
  /** The VMK, or null when the credential does not open this slot. */
  open: (vaultId: string, row: KeyslotRow) => Promise<Buffer | null>;
  /** The error when no slot of this type opened (a wrong passphrase, a wrong card). */
  refused: () => KeyholdError;
  /** The error when the vault has no slot of this type. */
  noSlot: () => KeyholdError;
  /** Wipes the credential held by the opener. */
  dispose: () => void;
}>;

export function passphraseOpener(passphrase: Buffer): SlotOpener {
  return {
    type: 'passphrase',
    paramsValid: (row) => parseStoredKdf(row.params) !== null,
    open: (vaultId, row) => unwrapPassphraseSlot(vaultId, row, passphrase),
    refused: () => new KeyholdError('WRONG_PASSPHRASE', 'vault: wrong passphrase', 'The vault was not changed.'),
    noSlot: () => new KeyholdError('KEYSLOT_NOT_FOUND', 'vault: this vault has no passphrase keyslot',
      'Unlock it with one of its other keyslots (see `keyhold slot list`).'),
    dispose: () => wipe(passphrase),
  };
}

/** What `info` and `slot list` show of a slot: type and parameters, never the salt or wrapped key. */
export function describeSlot(row: KeyslotRow): KeyslotInfo {
  const params: Record<string, string | number | boolean> = {};
  try {
    const p = JSON.parse(row.params) as Record<string, unknown>;
    for (const [k, v] of Object.entries(p)) {
      if (k === 'salt' || k === 'epk') continue; // long random values, of no use to a reader
      // A quorum slot's custodians (electron/core/vault/quorum.ts): "name:kind,..." (names are identifiers).
      if (k === 'custodians' && Array.isArray(v)) {
        params[k] = v.map((c: { name?: unknown; kind?: unknown }) => `${String(c.name)}:${String(c.kind)}`).join(',');
        continue;
      }
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') params[k] = v;
    }
  } catch {
    // A row whose params do not parse fails its checksum before it is described.
  }
  return {
    id: row.id,
    type: row.type as KeyslotType,
    label: row.label,
    createdAt: row.created_at,
    params,
  };
}
