/**
 * Reading the audit log: filtered, paged listing; verification of the whole
 * chain against its MAC'd head; export as JSON lines that verify on their own.
 */

import type { AuditEntry, AuditVerifyReport } from '../../../shared/contract.js';
import { parseTime } from '../../../shared/time.js';
import { checkAuditAction } from './actions.js';
import { KeyholdError } from '../../../shared/errors.js';
import { checkNewFile, READ_LIMITS, readRegularFile, vaultFiles, writeNewFile } from '../fsutil.js';
import type { Vault } from '../vault/vault.js';
import { all, get, iterate, rawStmt, stmt } from '../vault/db.js';
import { column, computed, ident, selectList, sql, where, type Sql } from '../vault/sql.js';
import { rowHashHex } from '../crypto/primitives.js';
import { checkLink, genesisHash, type AuditRow, type ChainBreak, type ChainHead } from './chain.js';

export const EXPORT_FORMAT = 'keyhold-audit/v1';

export type AuditQuery = Readonly<{
  key?: string | undefined;
  action?: string | undefined;
  actor?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  after?: number | undefined;
  limit: number;
}>;

export function toEntry(r: AuditRow): AuditEntry {
  return {
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    host: r.host,
    workstation: r.workstation,
    action: r.action,
    subject: r.subject,
    keyId: r.key_id,
    details: JSON.parse(r.details) as Record<string, unknown>,
    prevHash: r.prev_hash.toString('hex'),
    hash: r.hash.toString('hex'),
  };
}

/** Entries matching every filter given, oldest first, `limit` at a time; `next` is the cursor for --after. */
export function listAudit(vault: Vault, q: AuditQuery): { entries: AuditEntry[]; next: number | null } {
  // Each filter is one fixed template: at most 2^5 statement texts, each cached.
  const conditions: Sql[] = [sql`seq > ${q.after ?? 0}`];
  if (q.key !== undefined) conditions.push(sql`key_id = ${q.key}`);
  if (q.action !== undefined) conditions.push(sql`action = ${checkAuditAction(q.action)}`);
  if (q.actor !== undefined) conditions.push(sql`actor = ${q.actor}`);
  if (q.since !== undefined) conditions.push(sql`at >= ${parseTime(q.since, 'audit --since')}`);
  if (q.until !== undefined) conditions.push(sql`at < ${parseTime(q.until, 'audit --until')}`);
  const rows = vault.read((db) =>
    all<AuditRow>(db, sql`SELECT * FROM audit_log ${where(conditions)} ORDER BY seq LIMIT ${q.limit + 1}`));
  const more = rows.length > q.limit;
  const page = more ? rows.slice(0, q.limit) : rows;
  // A listed entry is checked against its own hash; `audit verify` checks the links.
  for (const r of page) {
    const prev = { seq: r.seq - 1, hash: r.prev_hash };
    const broken = checkLink(r, prev);
    if (broken) {
      throw new KeyholdError('INTEGRITY', `audit: ${broken.reason}`, 'Run `keyhold audit verify` for the whole chain.');
    }
  }
  return { entries: page.map(toEntry), next: more ? (page[page.length - 1]?.seq ?? null) : null };
}

const VERIFY_BATCH = 4096;

/** The hashed fields of an entry, in the order of its canonical encoding (chain.ts entryHashOf), prev_hash last. */
const HASHED = ['seq', 'at', 'actor', 'host', 'workstation', 'action', 'subject', 'key_id', 'details'] as const;

/** A hash column as lowercase hex text when it is a BLOB, else NULL. */
const hexOrNull = <const N extends string>(name: N) => computed(name, sql`iif(typeof(${ident(name)}) = 'blob', lower(hex(${ident(name)})))`);

/** The chain walk's SELECT list (raw rows, read through W): the hashed fields, then both hashes as hex. */
const WALK = selectList([...HASHED.map((c) => column(c)), hexOrNull('prev_hash'), hexOrNull('hash')]);
const W = WALK.at;
/** Where each hashed field sits in a walk row, in encoding order. */
const HASHED_AT = HASHED.map((c) => W[c]);
/** The encoding position of key_id, the one hashed field that may be NULL (seq, first, is a number). */
const KEY_ID_FIELD = HASHED.indexOf('key_id');

/**
 * Walks the chain from the genesis value, checking each entry's sequence,
 * link and hash, then that the chain ends at the MAC'd head. Reports the first
 * broken link rather than throwing: finding it is the point.
 *
 * The walk reads the two hashes as lowercase hex text, not as BLOBs (a Buffer
 * per value costs more than the rest of the row), NULL when the column is not
 * a BLOB, and compares them with hex digests. An entry that passes this test
 * passes checkLink too: same sequence rule, the stored prev_hash is a BLOB
 * with the bytes of the previous hash, the fields have the same types, and
 * the stored hash is a BLOB with the bytes of the recomputed hash (computed
 * over the same encoding, the previous hash's bytes standing for prev_hash,
 * which are equal). Any entry that does not pass is read again as a row and
 * given to checkLink, the normative check (audit-log.md, 5.1), which names
 * the break.
 */
export function verifyAudit(vault: Vault): AuditVerifyReport {
  const t0 = performance.now();
  const head = vault.auditHead;
  const walked = vault.auditHeadError
    ? { count: countEntries(vault), last: null,
      broken: { seq: 0, reason: 'the stored chain head fails its MAC (the log was cut or rewritten)' } }
    : walkChain(vault);
  const count = walked.count;
  let broken: ChainBreak | null = walked.broken;
  const prev = walked.last;
  if (!broken && prev && (prev.seq !== head.seq || !prev.hash.equals(head.hash))) {
    if (prev.seq < head.seq) {
      broken = { seq: prev.seq + 1, reason: `entries ${prev.seq + 1} to ${head.seq} are missing (the log was cut short; ` +
        'changes are refused until it is restored from a backup or `keyhold audit recover` records the loss)' };
    } else if (prev.seq > head.seq) {
      broken = { seq: head.seq + 1, reason: `entries after ${head.seq} are not covered by the chain head` };
    } else {
      broken = { seq: head.seq, reason: `entry ${head.seq} does not match the chain head (the log was rewritten)` };
    }
  }
  return {
    ok: broken === null,
    entries: count,
    head: { seq: head.seq, hash: head.hash.toString('hex') },
    firstBroken: broken,
    tookMs: performance.now() - t0,
  };
}

function countEntries(vault: Vault): number {
  return vault.read((db) => (get<{ n: number }>(db, sql`SELECT count(*) AS n FROM audit_log`) as { n: number }).n);
}

/**
 * Walks the chain from the genesis value (see verifyAudit): the number of
 * entries, the last entry reached with every link intact, and the first
 * broken link, if any (the head is not compared here).
 */
function walkChain(vault: Vault): { count: number; last: ChainHead; broken: ChainBreak | null } {
  let prev: ChainHead = { seq: 0, hash: genesisHash(vault.id) };
  let count = 0;
  let broken: ChainBreak | null = null;
  vault.read((db) => {
    count = (get<{ n: number }>(db, sql`SELECT count(*) AS n FROM audit_log`) as { n: number }).n;
    // Run once per page, with the last sequence reached and the page size bound at each run.
    const page = rawStmt(db, sql`SELECT ${WALK.list} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`);
    const one = stmt(db, sql`SELECT * FROM audit_log WHERE seq = ?`);
    // The previous entry's hash, as hex and as bytes (one buffer, rewritten per entry).
    let prevSeq = 0;
    let prevHex = prev.hash.toString('hex');
    const prevBytes = Buffer.from(prev.hash);
    // The HASHED fields then prev_hash, in encoding order: one array, reused.
    const fields = new Array<unknown>(HASHED.length + 1);
    fields[HASHED.length] = prevBytes;
    for (;;) {
      const rows = page.all(prevSeq, VERIFY_BATCH) as unknown[][];
      if (rows.length === 0) break;
      for (const a of rows) {
        const seq = a[W.seq];
        const hashHex = a[W.hash];
        let ok = typeof seq === 'number' && seq === prevSeq + 1 && a[W.prev_hash] === prevHex && typeof hashHex === 'string';
        // Field i of the encoding: seq (checked above), then text, key_id text or NULL.
        for (let i = 0; ok && i < HASHED.length; i++) {
          const f = a[HASHED_AT[i] as number];
          fields[i] = f;
          ok = i === 0 || typeof f === 'string' || (i === KEY_ID_FIELD && f === null);
        }
        if (ok && rowHashHex('audit', fields) === hashHex) {
          prevSeq = seq as number;
          prevHex = hashHex;
          prevBytes.write(prevHex, 0, 'hex');
          continue;
        }
        // The normative check names the problem, on the row as stored.
        const r = one.get(seq) as AuditRow;
        broken = checkLink(r, { seq: prevSeq, hash: Buffer.from(prevBytes) });
        if (broken) return;
        prevSeq = r.seq;
        prevHex = r.hash.toString('hex');
        prevBytes.write(prevHex, 0, 'hex');
      }
    }
    prev = { seq: prevSeq, hash: Buffer.from(prevBytes) };
  });
  return { count, last: prev, broken };
}

type HeadHex = { seq: number; hash: string };
const hexHead = (h: ChainHead): HeadHex => ({ seq: h.seq, hash: h.hash.toString('hex') });

/**
 * `audit recover`: resolves a log whose last entries were cut off (the vault
 * refuses changes with AUDIT_TRUNCATED). Only that case: every remaining
 * entry must link intact from the genesis value, and the chain must end
 * before the MAC'd head; anything else (an entry altered, removed or
 * reordered in the middle, a head that fails its MAC) is damage that only a
 * backup repairs. The head then moves back to the last intact entry and an
 * `audit.recover` entry records the old head, the new one, the missing
 * sequence numbers and the operator's reason (Vault.recoverTruncatedLog).
 */
export function recoverAudit(vault: Vault, reason: string): { oldHead: HeadHex; newHead: HeadHex; missing: { from: number; to: number };
  head: HeadHex } {
  if (vault.readOnly) {
    const refusal = vault.writeRefusal;
    if (refusal) throw refusal;
  }
  if (vault.auditHeadError) throw vault.auditHeadError;
  const tail = vault.auditTailError;
  if (tail && tail.code !== 'AUDIT_TRUNCATED') throw tail;
  if (!tail) {
    throw new KeyholdError('NOTHING_TO_RECOVER', `audit: the log ends at its head (entry ${vault.auditHead.seq}); there is nothing to recover`,
      'Run `keyhold audit verify` to check the whole chain.');
  }
  const walked = walkChain(vault);
  if (walked.broken) {
    throw new KeyholdError('INTEGRITY',
      `audit: the log is damaged before its end (${walked.broken.reason}), not only cut off: \`audit recover\` does not apply`,
      'Restore the vault from a backup. Nothing was changed.');
  }
  const r = vault.recoverTruncatedLog(walked.last, reason);
  return { oldHead: hexHead(r.oldHead), newHead: hexHead(r.newHead), missing: { from: r.newHead.seq + 1, to: r.oldHead.seq },
    head: hexHead(r.head) };
}

/**
 * Writes the log as JSON lines: a header, then one entry a line, each with
 * its hashes, so the file verifies on its own (`keyhold audit verify --file`).
 * Refuses to export a chain that does not verify. Always a new file (never
 * one that exists, a link or the vault's own files), checked before the log is read.
 */
export function exportAudit(vault: Vault, out: string): { path: string; entries: number; head: { seq: number; hash: string } } {
  const target = checkNewFile(out, 'audit', vaultFiles(vault.path));
  const report = verifyAudit(vault);
  if (!report.ok) {
    throw new KeyholdError('INTEGRITY', `audit: the log does not verify (${report.firstBroken?.reason ?? 'unknown'})`,
      'Run `keyhold audit verify --json` for details; the vault should be restored from a backup.');
  }
  const lines: string[] = [JSON.stringify({ format: EXPORT_FORMAT, vaultId: vault.id, exportedAt: vault.now(),
    entries: report.entries, head: report.head })];
  vault.read((db) => {
    for (const r of iterate<AuditRow>(db, sql`SELECT * FROM audit_log ORDER BY seq`)) {
      lines.push(JSON.stringify({ ...toEntry(r), details: r.details }));
    }
  });
  writeNewFile(target, `${lines.join('\n')}\n`, 'audit', vaultFiles(vault.path));
  return { path: target, entries: report.entries, head: report.head };
}

/** Verifies an exported file on its own: the chain from the vault's genesis value to the header's head. */
export function verifyAuditFile(file: string): AuditVerifyReport {
  const t0 = performance.now();
  // A regular file of at most READ_LIMITS.audit bytes, stopped while reading (never /dev/zero until memory runs out).
  const bytes = readRegularFile(file, { prefix: 'audit', what: 'audit export', limit: READ_LIMITS.audit });
  // Line by line from the bytes: the whole file as one string could pass V8's string limit.
  const lines: string[] = [];
  for (let at = 0; at < bytes.length;) {
    let end = bytes.indexOf(0x0a, at);
    if (end < 0) end = bytes.length;
    if (end > at) lines.push(bytes.toString('utf8', at, end));
    at = end + 1;
  }
  let header: { format?: unknown; vaultId?: unknown; head?: { seq?: unknown; hash?: unknown } };
  try {
    header = JSON.parse(lines[0] ?? '') as typeof header;
  } catch {
    throw new KeyholdError('INVALID_INPUT', `audit: ${file} is not a Keyhold audit export`);
  }
  if (header.format !== EXPORT_FORMAT || typeof header.vaultId !== 'string' || typeof header.head?.seq !== 'number' ||
      typeof header.head.hash !== 'string') {
    throw new KeyholdError('INVALID_INPUT', `audit: ${file} is not a Keyhold audit export (${EXPORT_FORMAT})`);
  }
  let prev: ChainHead = { seq: 0, hash: genesisHash(header.vaultId) };
  let broken: ChainBreak | null = null;
  for (let i = 1; i < lines.length && !broken; i++) {
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(lines[i] as string) as Record<string, unknown>;
    } catch {
      broken = { seq: prev.seq + 1, reason: `line ${i + 1} is not JSON` };
      break;
    }
    const row = {
      seq: e.seq, at: e.at, actor: e.actor, host: e.host, workstation: e.workstation, action: e.action,
      subject: e.subject, key_id: e.keyId, details: e.details,
      prev_hash: typeof e.prevHash === 'string' ? Buffer.from(e.prevHash, 'hex') : null,
      hash: typeof e.hash === 'string' ? Buffer.from(e.hash, 'hex') : null,
    } as unknown as AuditRow;
    broken = checkLink(row, prev);
    prev = { seq: row.seq, hash: row.hash };
  }
  const head = { seq: header.head.seq, hash: header.head.hash };
  if (!broken && (prev.seq !== head.seq || prev.hash.toString('hex') !== head.hash)) {
    broken = { seq: prev.seq + 1, reason: `the file ends at entry ${prev.seq}, its header says ${head.seq}` };
  }
  return { ok: broken === null, entries: lines.length - 1, head, firstBroken: broken, tookMs: performance.now() - t0 };
}
