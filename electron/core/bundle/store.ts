/**
 * The vault's bundle records: recipients, token signers, settings, exported
 * bundles and what each recipient has been sent. Every row carries a MAC (the
 * vault's row MAC key) over all its fields, checked on every read: a swapped
 * recipient key, a widened service list or an erased "sent" record made
 * outside Keyhold is refused, never used.
 */

import type { RecipientInfo, SignerInfo } from '../../../shared/contract.js';
import { KeyholdError } from '../../../shared/errors.js';
import { all, get, rawAll, run, stmt } from '../vault/db.js';
import { column, selectList, sql } from '../vault/sql.js';
import type { Vault } from '../vault/vault.js';
import type { PublicJwk, TokenAlg } from '../token/jwk.js';

export type RecipientRow = {
  id: string;
  name: string;
  public_jwk: string;
  verifies: string;
  holds: string;
  created_at: string;
  sequence: number;
  last_hash: string | null;
  row_version: number;
  mac: Buffer;
};

export type SignerRow = {
  kid: string;
  alg: TokenAlg;
  public_jwk: string;
  token_label: string;
  token_serial: string;
  key_id: string;
  key_label: string;
  created_at: string;
  mac: Buffer;
};

/** issue: the version was sent; supersede: its end of grace was sent; revoke: its revocation was sent. */
export type ItemKind = 'issue' | 'supersede' | 'revoke';

const recipientFields = (r: Omit<RecipientRow, 'mac'>): unknown[] =>
  [r.id, r.name, r.public_jwk, r.verifies, r.holds, r.created_at, r.sequence, r.last_hash, r.row_version];
const signerFields = (r: Omit<SignerRow, 'mac'>): unknown[] =>
  [r.kid, r.alg, r.public_jwk, r.token_label, r.token_serial, r.key_id, r.key_label, r.created_at];

export function recipientInfo(r: RecipientRow): RecipientInfo {
  return {
    id: r.id, name: r.name, publicJwk: JSON.parse(r.public_jwk) as Record<string, string>,
    verifies: JSON.parse(r.verifies) as string[], holds: JSON.parse(r.holds) as string[], createdAt: r.created_at,
    sequence: r.sequence, lastHash: r.last_hash,
  };
}

export function signerInfo(r: SignerRow): SignerInfo {
  return {
    kid: r.kid, alg: r.alg, publicJwk: JSON.parse(r.public_jwk) as PublicJwk, token: r.token_label, serial: r.token_serial,
    keyLabel: r.key_label, keyId: r.key_id, createdAt: r.created_at,
  };
}

// ---- recipients -------------------------------------------------------------

export function listRecipients(vault: Vault): RecipientRow[] {
  const rows = vault.read((db) => all<RecipientRow>(db, sql`SELECT * FROM recipients ORDER BY name`));
  for (const r of rows) vault.checkMac('recipients', recipientFields(r), r.mac, `recipient ${String(r.name)}`);
  return rows;
}

export function getRecipient(vault: Vault, name: string): RecipientRow {
  const r = vault.read((db) => get<RecipientRow>(db, sql`SELECT * FROM recipients WHERE name = ${name}`));
  if (!r) {
    throw new KeyholdError('RECIPIENT_NOT_FOUND', `bundle: no recipient named ${name}`, 'See `keyhold recipient list`; add one with `keyhold recipient add`.');
  }
  vault.checkMac('recipients', recipientFields(r), r.mac, `recipient ${name}`);
  return r;
}

export function insertRecipient(vault: Vault, r: Omit<RecipientRow, 'mac'>): void {
  run(vault.db, sql`INSERT INTO recipients (id, name, public_jwk, verifies, holds, created_at, sequence, last_hash, row_version, mac)
    VALUES (${r.id}, ${r.name}, ${r.public_jwk}, ${r.verifies}, ${r.holds}, ${r.created_at}, ${r.sequence}, ${r.last_hash},
    ${r.row_version}, ${vault.mac('recipients', recipientFields(r))})`);
}

/** Records a new bundle for the recipient; the row_version guard refuses a concurrent or replayed change. */
export function advanceRecipient(vault: Vault, r: RecipientRow, sequence: number, hash: string): void {
  const next = { ...r, sequence, last_hash: hash, row_version: r.row_version + 1 };
  const res = run(vault.db, sql`UPDATE recipients SET sequence = ${sequence}, last_hash = ${hash}, row_version = ${next.row_version},
    mac = ${vault.mac('recipients', recipientFields(next))} WHERE id = ${r.id} AND row_version = ${r.row_version}`);
  if (res.changes !== 1) {
    // Only another export to the same recipient at the same time gets here (the row was MAC-checked when read).
    throw new KeyholdError('VAULT_IN_USE', `bundle: recipient ${r.name} got another bundle during this export`,
      'Let the other export finish, then export again: this one was not recorded.');
  }
}

// ---- signers ----------------------------------------------------------------

export function listSigners(vault: Vault): SignerRow[] {
  const rows = vault.read((db) => all<SignerRow>(db, sql`SELECT * FROM signers ORDER BY kid`));
  for (const r of rows) vault.checkMac('signers', signerFields(r), r.mac, `signer ${String(r.kid)}`);
  return rows;
}

export function insertSigner(vault: Vault, r: Omit<SignerRow, 'mac'>): void {
  run(vault.db, sql`INSERT INTO signers (kid, alg, public_jwk, token_label, token_serial, key_id, key_label, created_at, mac)
    VALUES (${r.kid}, ${r.alg}, ${r.public_jwk}, ${r.token_label}, ${r.token_serial}, ${r.key_id}, ${r.key_label},
    ${r.created_at}, ${vault.mac('signers', signerFields(r))})`);
}

// ---- settings ---------------------------------------------------------------

export function getSetting(vault: Vault, name: string): string | null {
  const r = vault.read((db) => get<{ value: string; mac: Buffer }>(db, sql`SELECT value, mac FROM settings WHERE name = ${name}`));
  if (!r) return null;
  vault.checkMac('settings', [name, r.value], r.mac, `setting ${name}`);
  return r.value;
}

export function putSetting(vault: Vault, name: string, value: string): void {
  run(vault.db, sql`INSERT INTO settings (name, value, mac) VALUES (${name}, ${value}, ${vault.mac('settings', [name, value])})
    ON CONFLICT (name) DO UPDATE SET value = excluded.value, mac = excluded.mac`);
}

/** Removes a setting (its default applies again). */
export function deleteSetting(vault: Vault, name: string): void {
  run(vault.db, sql`DELETE FROM settings WHERE name = ${name}`);
}

/** How many distinct signers a bundle or trust root needs (default 1). */
export function threshold(vault: Vault): number {
  const v = getSetting(vault, 'signer.threshold');
  return v === null ? 1 : Number(v);
}

// ---- bundles and sent items ------------------------------------------------------

export function insertBundle(vault: Vault, recipientId: string, sequence: number, hash: string, createdAt: string, body: Buffer): void {
  run(vault.db, sql`INSERT INTO bundles (recipient_id, sequence, hash, created_at, body, mac) VALUES (${recipientId}, ${sequence},
    ${hash}, ${createdAt}, ${body}, ${vault.mac('bundles', [recipientId, sequence, hash, createdAt, body])})`);
}

type BundleRow = { recipient_id: string; sequence: number; hash: string; created_at: string; body: Buffer; mac: Buffer };
const bundleFields = (b: Omit<BundleRow, 'mac'>): unknown[] => [b.recipient_id, b.sequence, b.hash, b.created_at, b.body];

/** A recorded bundle (the last one for the recipient unless a sequence is given), MAC-checked. */
export function lastBundle(vault: Vault, recipientId: string, sequence?: number): BundleRow | null {
  const b = vault.read((db) => get<BundleRow>(db, sequence === undefined
    ? sql`SELECT * FROM bundles WHERE recipient_id = ${recipientId} ORDER BY sequence DESC LIMIT 1`
    : sql`SELECT * FROM bundles WHERE recipient_id = ${recipientId} AND sequence = ${sequence}`));
  if (!b) return null;
  vault.checkMac('bundles', bundleFields(b), b.mac, `bundle ${b.sequence}`);
  return b;
}

/** Replaces the stored text of the bundle with this payload hash (a signature added); false when none is stored. */
export function replaceBundleBody(vault: Vault, hash: string, body: Buffer): boolean {
  const b = vault.read((db) => get<BundleRow>(db, sql`SELECT * FROM bundles WHERE hash = ${hash}`));
  if (!b) return false;
  vault.checkMac('bundles', bundleFields(b), b.mac, `bundle ${b.sequence}`);
  const next = { ...b, body };
  run(vault.db, sql`UPDATE bundles SET body = ${body}, mac = ${vault.mac('bundles', bundleFields(next))}
    WHERE recipient_id = ${b.recipient_id} AND sequence = ${b.sequence}`);
  return true;
}

/** The sent-item columns a bulk read selects (raw rows, read through I). */
const ITEM_SELECT = selectList([column('key_id'), column('version'), column('kind'), column('sequence'), column('mac')]);
const I = ITEM_SELECT.at;

/** The (key id, version, kind) triples already sent to a recipient, each MAC-checked. */
export function sentItems(vault: Vault, recipientId: string): Set<string> {
  const rows = vault.read((db) => rawAll(db, sql`SELECT ${ITEM_SELECT.list} FROM bundle_items WHERE recipient_id = ${recipientId}`));
  const out = new Set<string>();
  for (const r of rows) {
    const keyId = r[I.key_id] as string;
    const version = r[I.version] as number;
    const kind = r[I.kind] as string;
    vault.checkMac('bundle_items', [recipientId, keyId, version, kind, r[I.sequence]], r[I.mac],
      `bundle record of key ${keyId}`);
    out.add(`${kind}/${keyId}/${version}`);
  }
  return out;
}

/** Like sentItems, for the given key versions only (point lookups). */
export function sentItemsFor(vault: Vault, recipientId: string, versions: readonly (readonly [string, number])[]): Set<string> {
  // One statement run per version, its `?` bound at each run.
  const q = stmt(vault.db, sql`SELECT kind, sequence, mac FROM bundle_items WHERE recipient_id = ? AND key_id = ? AND version = ?`);
  const out = new Set<string>();
  for (const [keyId, version] of versions) {
    for (const row of q.all(recipientId, keyId, version) as { kind: string; sequence: number; mac: Buffer }[]) {
      vault.checkMac('bundle_items', [recipientId, keyId, version, row.kind, row.sequence], row.mac, `bundle record of key ${keyId}`);
      out.add(`${row.kind}/${keyId}/${version}`);
    }
  }
  return out;
}

export function insertItems(vault: Vault, recipientId: string, sequence: number,
  items: readonly Readonly<{ keyId: string; version: number; kind: ItemKind }>[]): void {
  const ins = stmt(vault.db, sql`INSERT INTO bundle_items (recipient_id, key_id, version, kind, sequence, mac) VALUES (?, ?, ?, ?, ?, ?)`);
  for (const it of items) {
    ins.run(recipientId, it.keyId, it.version, it.kind, sequence,
      vault.mac('bundle_items', [recipientId, it.keyId, it.version, it.kind, sequence]));
  }
}

// ---- files being written ------------------------------------------------------------

/** bundle: a new bundle (recorded or not); resend: a recorded bundle written again. */
export type PendingKind = 'bundle' | 'resend';

export type PendingFile = {
  tmp_path: string;
  target_path: string;
  kind: PendingKind;
  recipient_id: string;
  sequence: number;
  hash: string;
  created_at: string;
};

const pendingFields = (p: PendingFile): unknown[] =>
  [p.tmp_path, p.target_path, p.kind, p.recipient_id, p.sequence, p.hash, p.created_at];

/**
 * Notes a file about to be staged, committed before the file exists. The
 * journal of files in flight is bookkeeping, not a change of custody: it is
 * written without an audit entry (the export's own entry records the bundle,
 * and what recovery does with a leftover is audited), but MACed like every row.
 */
export function insertPending(vault: Vault, p: PendingFile): void {
  vault.read((db) => run(db, sql`INSERT INTO pending_files (tmp_path, target_path, kind, recipient_id, sequence, hash, created_at, mac)
    VALUES (${p.tmp_path}, ${p.target_path}, ${p.kind}, ${p.recipient_id}, ${p.sequence}, ${p.hash}, ${p.created_at},
    ${vault.mac('pending_files', pendingFields(p))})`));
}

/** Forgets a file in flight (it has its name, or is gone). Inside or outside a vault transaction. */
export function deletePending(vault: Vault, tmpPath: string): void {
  vault.read((db) => run(db, sql`DELETE FROM pending_files WHERE tmp_path = ${tmpPath}`));
}

/** Files left by interrupted exports, each MAC-checked (a row naming a file to publish or delete must be the vault's own). */
export function listPending(vault: Vault): PendingFile[] {
  const rows = vault.read((db) => all<PendingFile & { mac: Buffer }>(db, sql`SELECT * FROM pending_files ORDER BY created_at, tmp_path`));
  for (const r of rows) vault.checkMac('pending_files', pendingFields(r), r.mac, `the pending file ${String(r.tmp_path)}`);
  return rows.map(({ mac: _mac, ...p }) => p);
}

/** Whether the vault recorded this bundle (recipient, sequence and payload hash). */
export function isRecorded(vault: Vault, recipientId: string, sequence: number, hash: string): boolean {
  const b = lastBundle(vault, recipientId, sequence);
  return b !== null && b.hash === hash;
}
