/**
 * The audit log's hash chain. Each entry's hash is SHA-256 over a canonical
 * encoding of its fields and the previous entry's hash; the first entry links
 * to a genesis value bound to the vault id. The chain head (last sequence and
 * hash) is kept in `audit_head` under a MAC with a VMK-derived key, so that
 * cutting entries off the end, or rewriting the chain wholesale, is caught
 * too. Normative: docs/audit-log.md.
 */

import { rowHash, rowHashHex } from '../crypto/primitives.js';

export type AuditRow = {
  seq: number;
  at: string;
  actor: string;
  host: string;
  workstation: string;
  action: string;
  subject: string;
  key_id: string | null;
  details: string;
  prev_hash: Buffer;
  hash: Buffer;
};

export type ChainHead = Readonly<{ seq: number; hash: Buffer }>;

export function genesisHash(vaultId: string): Buffer {
  return rowHash('keyhold/audit/genesis', [vaultId]);
}

export function entryHash(r: Omit<AuditRow, 'hash'>): Buffer {
  return entryHashOf(r.seq, r.at, r.actor, r.host, r.workstation, r.action, r.subject, r.key_id, r.details, r.prev_hash);
}

/** entryHash from the fields themselves (the append path: no row object per entry). */
export function entryHashOf(seq: number, at: string, actor: string, host: string, workstation: string, action: string,
  subject: string, keyId: string | null, details: string, prevHash: Uint8Array): Buffer {
  // Hex then bytes: Buffer.from takes a pooled slice, cheaper than a digest Buffer made natively.
  return Buffer.from(rowHashHex('audit', [seq, at, actor, host, workstation, action, subject, keyId, details, prevHash]), 'hex');
}

export function headMacFields(head: ChainHead): unknown[] {
  return [head.seq, head.hash];
}

export type ChainBreak = Readonly<{ seq: number; reason: string }>;

/**
 * Checks one entry against the one before it: its sequence follows, its
 * prev_hash links, and its own hash is right. Returns the first problem.
 */
export function checkLink(row: AuditRow, prev: ChainHead): ChainBreak | null {
  if (typeof row.seq !== 'number' || row.seq !== prev.seq + 1) {
    return { seq: prev.seq + 1, reason: `entry ${prev.seq + 1} is missing (next entry found: ${String(row.seq)})` };
  }
  if (!Buffer.isBuffer(row.prev_hash) || !row.prev_hash.equals(prev.hash)) {
    return { seq: row.seq, reason: `entry ${row.seq} does not link to entry ${prev.seq} (removed, reordered or rewritten)` };
  }
  const fields = [row.at, row.actor, row.host, row.workstation, row.action, row.subject, row.details];
  if (fields.some((f) => typeof f !== 'string') || (row.key_id !== null && typeof row.key_id !== 'string') ||
      !Buffer.isBuffer(row.hash) || !entryHash(row).equals(row.hash)) {
    return { seq: row.seq, reason: `entry ${row.seq} was altered (its hash does not match its content)` };
  }
  return null;
}
