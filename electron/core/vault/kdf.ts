/**
 * Argon2id for passphrase keyslots: parameters, calibration, derivation.
 *
 * Defaults start at 64 MiB and 3 passes and are calibrated upwards on the
 * machine that creates the slot, so that one derivation takes about
 * `targetMs`; the parameters are stored with the slot and used as stored.
 */

import os from 'node:os';
import argon2 from 'argon2';
import type { KdfParams } from '../../../shared/contract.js';

export const DEFAULT_KDF: KdfParams = Object.freeze({ memoryKiB: 64 * 1024, passes: 3, parallelism: 2 });
export const DEFAULT_TARGET_MS = 500;
const MAX_CALIBRATED_KIB = 1024 * 1024;

export type StoredKdfParams = KdfParams & Readonly<{ kdf: 'argon2id'; version: 19; salt: string }>;

export async function deriveKek(passphrase: Buffer, params: StoredKdfParams): Promise<Buffer> {
  return argon2.hash(passphrase, {
    type: argon2.argon2id,
    version: params.version,
    memoryCost: params.memoryKiB,
    timeCost: params.passes,
    parallelism: params.parallelism,
    salt: Buffer.from(params.salt, 'base64'),
    hashLength: 32,
    raw: true,
  });
}

/**
 * Picks Argon2id parameters for this machine: the defaults, with memory
 * raised (up to 1 GiB and a quarter of RAM) until one derivation takes about
 * targetMs. Never below the defaults.
 */
export async function calibrateKdf(targetMs = DEFAULT_TARGET_MS): Promise<KdfParams> {
  const parallelism = Math.max(1, Math.min(4, os.availableParallelism()));
  const base: KdfParams = { ...DEFAULT_KDF, parallelism };
  const probe: StoredKdfParams = { ...base, kdf: 'argon2id', version: 19, salt: Buffer.alloc(16).toString('base64') };
  const t0 = performance.now();
  const out = await deriveKek(Buffer.from('calibration'), probe);
  out.fill(0);
  const ms = performance.now() - t0;
  if (ms >= targetMs) return base;
  const cap = Math.min(MAX_CALIBRATED_KIB, Math.floor(os.totalmem() / 4 / 1024));
  const scaled = Math.floor((base.memoryKiB * targetMs) / ms / 1024) * 1024;
  return { ...base, memoryKiB: Math.max(base.memoryKiB, Math.min(cap, scaled)) };
}
