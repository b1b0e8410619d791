/**
 * Encrypted backup and restore of the whole vault (docs/backup.md).
 *
 * backupVault: a consistent image of the vault file (Vault.backupSnapshot:
 * SQLite's serialize, in memory), sealed under a key of its own derived from
 * the VMK, with a header carrying the keyslot rows, written as a new file
 * (never over anything, never over the vault's own files) and audited
 * `vault.backup` in the vault.
 *
 * restoreBackup: opens the header's keyslots with the same openers as an
 * unlock (Vault's openKeyslots), decrypts, checks the image is that vault at
 * that head with those keyslots, writes it as a new vault file, opens it and
 * audits `vault.restore` in it. Every refusal comes before anything is written.
 */

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { errorCode, KeyholdError } from '../../../shared/errors.js';
import { equalBytes, sha256, seal, tryOpen, wipe } from '../crypto/primitives.js';
import { checkNewFile, fsyncFile, publishNewFile, readRegularFile, stageNewFile, vaultFiles } from '../fsutil.js';
import { checkNewVaultPath, fsError } from '../vault/db.js';
import type { KeyslotRow, SlotOpener } from '../vault/keyslots.js';
import { APPLICATION_ID } from '../vault/schema.js';
import { backupKey, creatingPath, openKeyslots, publish, Vault, type VaultOptions } from '../vault/vault.js';
import { BACKUP_MAGIC, binding, encodeHeader, imageAad, parseBackup, slotRow, type BackupHeader } from './format.js';

/** The largest backup read (the image is held in memory twice while it is checked). */
export const BACKUP_READ_LIMIT = 1024 * 1024 * 1024;

export type BackupReport = {
  path: string;
  bytes: number;
  sha256: string;
  vaultId: string;
  backupId: string;
  createdAt: string;
  /** The audit head the backup holds (the `vault.backup` entry that records it comes after). */
  head: { seq: number; hash: string };
};

/** Writes an encrypted backup of the unlocked vault to `out`, a new file; audits it. */
export function backupVault(vault: Vault, out: string): BackupReport {
  const refusal = vault.writeRefusal;
  if (refusal) throw refusal;
  const target = checkNewFile(out, 'backup', vaultFiles(vault.path));
  const backupId = randomBytes(16).toString('hex');
  const createdAt = vault.now();
  const snap = vault.backupSnapshot(backupId);
  let file: Buffer;
  try {
    const schemaVersion = snap.image.length >= 64 ? snap.image.readUInt32BE(60) : 0;
    const headerLine = encodeHeader({
      vaultId: vault.id, backupId, createdAt, schemaVersion,
      head: { seq: snap.head.seq, hash: snap.head.hash.toString('hex') }, bytes: snap.image.length,
    }, snap.slots);
    const bind = binding(vault.id, backupId);
    const sealed = seal(snap.key, snap.image, imageAad(headerLine, bind));
    file = Buffer.concat([Buffer.from(BACKUP_MAGIC, 'latin1'), Buffer.from(`${headerLine}\n`, 'utf8'), bind, sealed]);
  } finally {
    wipe(snap.key, snap.image);
  }
  const digest = sha256(file).toString('hex');
  const head = { seq: snap.head.seq, hash: snap.head.hash.toString('hex') };
  const tmp = stageNewFile(target, file, 'backup');
  try {
    publishNewFile(tmp, target, 'backup', 'the backup was complete', 'Choose a new file name and run the command again.');
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  try {
    vault.transaction(() => vault.audit({ action: 'vault.backup', subject: 'vault', details: {
      file: path.basename(target), bytes: file.length, sha256: digest, backupId, head,
    } }));
  } catch (e) {
    // An unrecorded backup is not left behind: the file is this call's own.
    fs.rmSync(target, { force: true });
    throw e;
  }
  return { path: target, bytes: file.length, sha256: digest, vaultId: vault.id, backupId, createdAt, head };
}

export type RestoreReport = {
  /** The backup restored from. */
  from: { file: string; sha256: string; backupId: string; createdAt: string; head: { seq: number; hash: string } };
};

/** An opener that may need a second pass (a token PIN bound once the keyslots were seen: tokenOpener.again). */
export type RestoreOpener = SlotOpener & { again?: () => boolean };

/**
 * Checks that a new vault may be written at `target`: nothing there, nor any
 * of SQLite's companion files (a stale -wal would be applied to the restored file).
 */
export function checkRestoreTarget(target: string): string {
  const abs = path.resolve(target);
  checkNewVaultPath(abs);
  for (const f of vaultFiles(abs).slice(1)) {
    if (fs.lstatSync(f, { throwIfNoEntry: false })) {
      throw new KeyholdError('VAULT_EXISTS', `vault: ${f} already exists beside ${abs}`,
        'SQLite would take it for the new vault\'s own file. Choose another path or move the file away.');
    }
  }
  return abs;
}

/**
 * Restores the backup in `file` as a new vault at `target` and returns it
 * unlocked, with a `vault.restore` entry appended to its audit log.
 */
export async function restoreBackup(file: string, target: string, opener: RestoreOpener, opts: VaultOptions = {}):
Promise<{ vault: Vault; report: RestoreReport }> {
  let vmk: Buffer | null = null;
  try {
    const dest = checkRestoreTarget(target);
    const data = readRegularFile(file, { prefix: 'backup', what: 'backup', limit: BACKUP_READ_LIMIT });
    const name = path.basename(file);
    const parsed = parseBackup(data, name);
    const { header } = parsed;
    const rows = header.keyslots.map(slotRow);
    const hint = 'The backup\'s copy of this keyslot is damaged. Use an intact copy of the backup.';
    let opened: { vmk: Buffer; slotId: number };
    try {
      opened = await openKeyslots(header.vaultId, rows, opener, hint);
    } catch (e) {
      if (!opener.again?.()) throw e;
      opened = await openKeyslots(header.vaultId, rows, opener, hint);
    }
    vmk = opened.vmk;
    const key = backupKey(vmk, header.vaultId, header.backupId);
    let image: Buffer | null;
    try {
      image = tryOpen(key, parsed.sealed, imageAad(parsed.headerLine, parsed.binding));
    } finally {
      wipe(key);
    }
    if (!image) {
      throw new KeyholdError('BACKUP_ALTERED', `backup: the file ${name} was altered or is damaged (its content does not authenticate)`,
        'Use an intact copy of the backup. Nothing was written.');
    }
    try {
      checkImage(image, header, rows, name);
      writeImage(image, dest);
    } finally {
      wipe(image);
    }
    const digest = sha256(data).toString('hex');
    let vault: Vault;
    const known = knownKeyOpener(vmk, rows.find((r) => r.id === opened.slotId) as KeyslotRow, opener);
    vmk = null; // the opener holds it now, and wipes it
    try {
      vault = await Vault.unlockWith(dest, known, opts);
    } catch (e) {
      removeFiles(dest);
      throw e;
    }
    const from = { file: name, sha256: digest, backupId: header.backupId, createdAt: header.createdAt, head: header.head };
    try {
      vault.transaction(() => vault.audit({ action: 'vault.restore', subject: 'vault', details: { from } }));
    } catch (e) {
      vault.lock();
      removeFiles(dest);
      throw e;
    }
    return { vault, report: { from } };
  } finally {
    wipe(vmk);
    opener.dispose();
  }
}

/** The image is the vault the header names, at the head it names, with the keyslots it carries. */
function checkImage(image: Buffer, header: BackupHeader, rows: readonly KeyslotRow[], name: string): void {
  const wrong = (what: string) => new KeyholdError('BACKUP_ALTERED', `backup: the file ${name} does not hold what its header says (${what})`,
    'Use an intact copy of the backup. Nothing was written.');
  if (image.length !== header.bytes) throw wrong('its length');
  const copy = Buffer.from(image);
  // WAL mode (header bytes 18, 19 = 2) cannot be read in memory; 1 reads the same pages (as db.ts openReadOnly does).
  if (copy.length >= 20 && copy[18] === 2 && copy[19] === 2) {
    copy[18] = 1;
    copy[19] = 1;
  }
  let db: Database.Database;
  try {
    db = new Database(copy, { readonly: true });
  } catch {
    throw wrong('not a database');
  }
  try {
    if (db.pragma('application_id', { simple: true }) !== APPLICATION_ID) throw wrong('not a vault');
    const meta = db.prepare('SELECT vault_id FROM vault_meta WHERE id = 1').get() as { vault_id: string } | undefined;
    if (meta?.vault_id !== header.vaultId) {
      throw new KeyholdError('BACKUP_WRONG_VAULT', `backup: the file ${name} holds vault ${String(meta?.vault_id)}, not vault ${header.vaultId} its header names`,
        'Use an intact copy of the backup. Nothing was written.');
    }
    const head = db.prepare('SELECT seq, hash FROM audit_head WHERE id = 1').get() as { seq: number; hash: Buffer } | undefined;
    if (!head || head.seq !== header.head.seq || !Buffer.isBuffer(head.hash) || head.hash.toString('hex') !== header.head.hash) {
      throw wrong('its audit head');
    }
    const inImage = db.prepare('SELECT * FROM keyslots ORDER BY id').all() as KeyslotRow[];
    const same = inImage.length === rows.length && inImage.every((r, i) => {
      const h = rows[i] as KeyslotRow;
      return r.id === h.id && r.type === h.type && r.label === h.label && r.created_at === h.created_at && r.params === h.params &&
        equalBytes(r.wrapped, h.wrapped) && equalBytes(r.checksum, h.checksum);
    });
    if (!same) throw wrong('its keyslots');
  } catch (e) {
    if (e instanceof KeyholdError) throw e;
    throw wrong('not a readable vault');
  } finally {
    db.close();
    wipe(copy);
  }
}

/** Writes the image as a new file at `dest` (built under a temporary name, linked into place: never over anything). */
function writeImage(image: Buffer, dest: string): void {
  const tmp = creatingPath(dest);
  try {
    fs.writeFileSync(tmp, image, { mode: 0o600, flag: 'wx' });
    fsyncFile(tmp);
    publish(tmp, dest);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    if (e instanceof KeyholdError) throw e;
    const code = errorCode(e);
    throw /^E[A-Z]+$/.test(code) ? fsError(e, dest, 'create', true) : e;
  }
}

function removeFiles(dest: string): void {
  for (const f of vaultFiles(dest)) fs.rmSync(f, { force: true });
}

/**
 * Opens the restored file with the VMK the backup's keyslot already gave
 * (from that same slot, now in the file): Vault.unlockWith then checks the
 * metadata, every slot's MAC and the audit head with it, as at any unlock.
 */
function knownKeyOpener(vmk: Buffer, row: KeyslotRow, original: SlotOpener): SlotOpener {
  return {
    type: original.type,
    paramsValid: () => true,
    open: (_vaultId, r) => Promise.resolve(r.id === row.id && equalBytes(r.wrapped, row.wrapped) ? Buffer.from(vmk) : null),
    refused: () => new KeyholdError('INTEGRITY', 'vault: the restored vault did not open with its backup\'s keyslot',
      'The backup was altered. Nothing was kept.'),
    noSlot: () => new KeyholdError('INTEGRITY', 'vault: the restored vault lost the keyslot that opened its backup'),
    dispose: () => wipe(vmk),
  };
}
