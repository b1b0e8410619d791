/**
 * The vault backup file (docs/backup.md, normative):
 *
 *   line 1   `KEYHOLD-BACKUP 1` and a newline (the magic line)
 *   line 2   the header: one line of canonical JSON, then a newline
 *   body     binding (48 bytes) || sealed image
 *
 * The header names the vault, the backup, the audit head the image holds, the
 * image's length, and carries a copy of the vault's keyslot rows, so that the
 * same unlock methods open the backup. Its `checksum` (SHA-256 of the header's
 * canonical JSON without it) tells damage from a wrong passphrase before any
 * KDF runs. The binding is the vault id (16 bytes), the backup id (16 bytes)
 * and the first 16 bytes of SHA-256 over those 32: it tells a header spliced
 * from another vault's backup (BACKUP_WRONG_VAULT) from damage. The sealed
 * image is the vault file, AES-256-GCM under the backup key (backupKey in
 * vault/vault.ts, one per backup id), in the vault's sealed-value layout
 * (0x01 || nonce || ciphertext || tag); its AAD is the magic line, the header
 * line and the binding, so none of them can be altered unnoticed.
 *
 * This file only encodes and parses; backup.ts makes and restores backups.
 */

import { z } from 'zod';
import { canonicalJson } from '../../../shared/canonical-json.js';
import { KeyholdError } from '../../../shared/errors.js';
import { sha256 } from '../crypto/primitives.js';
import type { KeyslotRow } from '../vault/keyslots.js';

export const BACKUP_MAGIC = 'KEYHOLD-BACKUP 1\n';
const MAGIC_PREFIX = 'KEYHOLD-BACKUP ';
export const BINDING_LEN = 48;
/** Sealed-value overhead: format byte, nonce, tag (crypto/primitives.ts). */
export const SEAL_OVERHEAD = 1 + 12 + 16;
/** The header is small (a few keyslots); a longer "line" is not a header. */
const MAX_HEADER = 1024 * 1024;

const hex = (n: number) => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`));
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const slotSchema = z.strictObject({
  id: z.number().int().positive(),
  type: z.string().min(1).max(32),
  label: z.string().max(256),
  createdAt: z.string().max(64),
  params: z.string().max(64 * 1024),
  wrapped: z.string().max(64 * 1024),
  checksum: hex(64),
});

const headerSchema = z.strictObject({
  format: z.literal('keyhold-backup'),
  version: z.literal(1),
  vaultId: z.string().regex(UUID_RE),
  backupId: hex(32),
  createdAt: z.string().max(64),
  schemaVersion: z.number().int().positive(),
  head: z.strictObject({ seq: z.number().int().nonnegative(), hash: hex(64) }),
  bytes: z.number().int().positive(),
  cipher: z.literal('AES-256-GCM'),
  keyslots: z.array(slotSchema).min(1).max(64),
  checksum: hex(64),
});

export type BackupHeader = z.infer<typeof headerSchema>;
export type HeaderFields = Omit<BackupHeader, 'format' | 'version' | 'cipher' | 'keyslots' | 'checksum'>;

/** The header's checksum: SHA-256 of its canonical JSON without `checksum`. */
function headerChecksum(h: Omit<BackupHeader, 'checksum'>): string {
  return sha256(Buffer.from(canonicalJson(h), 'utf8')).toString('hex');
}

/** A keyslot row as the header carries it (no MAC: it is checked in the restored vault). */
export function slotEntry(r: KeyslotRow): BackupHeader['keyslots'][number] {
  return { id: r.id, type: r.type, label: r.label, createdAt: r.created_at, params: r.params,
    wrapped: r.wrapped.toString('base64'), checksum: r.checksum.toString('hex') };
}

export function slotRow(s: BackupHeader['keyslots'][number]): KeyslotRow {
  return { id: s.id, type: s.type, label: s.label, created_at: s.createdAt, params: s.params,
    wrapped: Buffer.from(s.wrapped, 'base64'), checksum: Buffer.from(s.checksum, 'hex'), mac: Buffer.alloc(0) };
}

/** The header line (without its newline). */
export function encodeHeader(f: HeaderFields, slots: readonly KeyslotRow[]): string {
  const h: Omit<BackupHeader, 'checksum'> = { format: 'keyhold-backup', version: 1, ...f, cipher: 'AES-256-GCM', keyslots: slots.map(slotEntry) };
  return canonicalJson({ ...h, checksum: headerChecksum(h) });
}

export function binding(vaultId: string, backupId: string): Buffer {
  const ids = Buffer.concat([Buffer.from(vaultId.replace(/-/g, ''), 'hex'), Buffer.from(backupId, 'hex')]);
  return Buffer.concat([ids, sha256(ids).subarray(0, 16)]);
}

/** The AAD of the sealed image: magic line, header line and binding. */
export function imageAad(headerLine: string, bind: Buffer): string {
  return JSON.stringify(['keyhold/v1/backup', BACKUP_MAGIC, headerLine, bind.toString('hex')]);
}

export type ParsedBackup = Readonly<{ header: BackupHeader; headerLine: string; binding: Buffer; sealed: Buffer }>;

const truncated = (file: string, what: string) => new KeyholdError('BACKUP_TRUNCATED', `backup: the file ${file} is truncated (${what})`,
  'The file was cut off, in copying perhaps. Use a complete copy of the backup. Nothing was written.');
const altered = (file: string, what: string) => new KeyholdError('BACKUP_ALTERED', `backup: the file ${file} was altered or is damaged (${what})`,
  'Use an intact copy of the backup. Nothing was written.');

function vaultIdOf(raw: Buffer): string {
  const h = raw.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Parses a backup file's bytes, checking everything that needs no key:
 * BACKUP_INVALID (not a backup), BACKUP_TRUNCATED, BACKUP_ALTERED (checksums,
 * lengths, header and body of two backups), BACKUP_WRONG_VAULT (a header
 * from another vault's backup). `file` names it in messages.
 */
export function parseBackup(data: Buffer, file: string): ParsedBackup {
  const magic = Buffer.from(BACKUP_MAGIC, 'latin1');
  if (data.length < magic.length) {
    if (data.length > 0 && magic.subarray(0, data.length).equals(data)) throw truncated(file, 'it ends in its first line');
    throw new KeyholdError('BACKUP_INVALID', `backup: the file ${file} is not a Keyhold backup`,
      data.length === 0 ? 'The file is empty.' : 'Choose a backup file Keyhold wrote.');
  }
  if (!data.subarray(0, magic.length).equals(magic)) {
    const newer = data.subarray(0, MAGIC_PREFIX.length).toString('latin1') === MAGIC_PREFIX;
    throw new KeyholdError('BACKUP_INVALID', newer
      ? `backup: the file ${file} is a Keyhold backup of a format this Keyhold does not read (${JSON.stringify(data.subarray(0, 24).toString('latin1').split('\n')[0])})`
      : `backup: the file ${file} is not a Keyhold backup`, newer ? 'Restore it with a newer Keyhold.' : 'Choose a backup file Keyhold wrote.');
  }
  const end = data.indexOf(0x0a, magic.length);
  if (end < 0) {
    // A header cut off is JSON text to the end; a damaged newline runs on into the binary content.
    const rest = data.subarray(magic.length);
    if (rest.length <= MAX_HEADER && !rest.some((c) => c < 0x20)) throw truncated(file, 'it ends in its header');
    throw altered(file, 'its header does not end');
  }
  if (end - magic.length > MAX_HEADER) throw altered(file, 'its header does not end');
  const headerLine = data.subarray(magic.length, end).toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(headerLine);
  } catch {
    throw altered(file, 'its header is not JSON');
  }
  const ok = headerSchema.safeParse(raw);
  if (!ok.success) throw altered(file, 'its header is not a backup header');
  const header = ok.data;
  const { checksum, ...rest } = header;
  if (checksum !== headerChecksum(rest) || canonicalJson(header) !== headerLine) throw altered(file, 'its header fails its checksum');
  const body = data.subarray(end + 1);
  if (body.length < BINDING_LEN) throw truncated(file, 'it ends before its content');
  const bind = body.subarray(0, BINDING_LEN);
  if (!sha256(bind.subarray(0, 32)).subarray(0, 16).equals(bind.subarray(32))) throw altered(file, 'its content fails its checksum');
  const bodyVault = vaultIdOf(bind.subarray(0, 16));
  if (bodyVault !== header.vaultId) {
    throw new KeyholdError('BACKUP_WRONG_VAULT',
      `backup: the file ${file} has the header of a backup of vault ${header.vaultId} and the content of one of vault ${bodyVault}`,
      'The file was put together from two backups. Use an intact copy of the backup. Nothing was written.');
  }
  if (bind.subarray(16, 32).toString('hex') !== header.backupId) throw altered(file, 'its header and content come from two different backups');
  const want = BINDING_LEN + SEAL_OVERHEAD + header.bytes;
  if (body.length < want) throw truncated(file, `${data.length} of ${data.length - body.length + want} bytes`);
  if (body.length > want) throw altered(file, `${body.length - want} bytes more than its header says`);
  return { header, headerLine, binding: Buffer.from(bind), sealed: body.subarray(BINDING_LEN) };
}
