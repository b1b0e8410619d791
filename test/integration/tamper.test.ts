/**
 * Damage and tampering on a closed vault file: truncation, single-bit flips,
 * and row edits made with raw SQL. Whatever is done to the file, Keyhold must
 * either refuse with a damage or integrity error, or answer exactly what the
 * vault held before. Never INTERNAL, never a different answer.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listKeys, revealKey, showKey } from '../../electron/core/keys/keys.js';
import { KeyholdService } from '../../electron/core/service.js';
import { slotChecksum, type KeyslotRow } from '../../electron/core/vault/keyslots.js';
import { metaChecksum, Vault } from '../../electron/core/vault/vault.js';
import type { ErrorCode } from '../../shared/errors.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { codeOf, copyVault, describeThrown, newPassphrase, readAllKeys, type VaultData } from './helpers/harness.js';

type Outcome = { ok: true; data: VaultData } | { ok: false; code: ErrorCode; detail: string };

const DAMAGE_CODES: readonly ErrorCode[] = ['VAULT_CORRUPT', 'INTEGRITY', 'NOT_A_VAULT', 'VAULT_TOO_NEW'];

let tmp: TmpDir;
let base: string; // the pristine closed vault
let orig: Buffer; // its bytes
let pass: string;
let ids: string[];
let baseData: VaultData;
// Layout of the file, found from the file itself.
let pageSize: number;
let pageNames: Map<number, string>;
let wrappedAt: [number, number]; // [start, end) of keyslot 1's wrapped VMK
let metaCell: [number, number]; // [start, end) of the vault_meta row's cell
let vaultIdAt: [number, number];

/** Unlocks `file` and reads everything back: list, show and reveal of every key. */
async function attempt(file: string): Promise<Outcome> {
  let v: Vault | undefined;
  try {
    v = await Vault.unlock(file, pass);
    return { ok: true, data: readAllKeys(v, ids) };
  } catch (e) {
    return { ok: false, code: codeOf(e), detail: describeThrown(e) };
  } finally {
    v?.lock();
  }
}

function sameAsBase(o: Outcome): boolean {
  return o.ok && isDeepStrictEqual(o.data, baseData);
}

/** Where returned data departs from the original, without showing any value. */
function whatDiffers(d: VaultData): string {
  const parts: string[] = [];
  if (!isDeepStrictEqual(d.list, baseData.list)) {
    const missing = baseData.list.filter((k) => !d.list.some((l) => isDeepStrictEqual(l, k))).length;
    parts.push(`list has ${d.list.length} keys, ${missing} of the original entries missing or changed`);
  }
  d.shows.forEach((s, i) => {
    if (!isDeepStrictEqual(s, baseData.shows[i])) parts.push(`show of key ${i} differs`);
  });
  d.reveals.forEach((r, i) => {
    if (!isDeepStrictEqual(r, baseData.reveals[i])) parts.push(`reveal of key ${i} differs`);
  });
  return parts.join('; ');
}

function describeOutcome(o: Outcome): string {
  if (o.ok) return sameAsBase(o) ? 'original data' : `DIFFERENT data (${whatDiffers(o.data)})`;
  return o.code === 'INTERNAL' ? `INTERNAL (${o.detail})` : o.code;
}

const within = (pos: number, [a, b]: [number, number]): boolean => pos >= a && pos < b;

function label(pos: number): string {
  const page = Math.floor(pos / pageSize) + 1;
  let what = pageNames.get(page) ?? '?';
  if (page === 1 && pos < 100) what = 'file header';
  if (within(pos, wrappedAt)) what += ', wrapped VMK';
  else if (within(pos, vaultIdAt)) what += ', vault id';
  else if (within(pos, metaCell)) what += ' row';
  return `byte ${pos} (page ${page}: ${what})`;
}

/** Runs fn over items with `width` attempts in flight (the KDF runs off the main thread). */
async function pool<T>(items: readonly T[], width: number, fn: (item: T, lane: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async (_, lane) => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item, lane);
    }
  }));
}

type Flip = Readonly<{ pos: number; bit: number }>;

/** Flips each bit on a fresh copy and returns each outcome. */
async function runFlips(flips: readonly Flip[]): Promise<{ flip: Flip; outcome: Outcome }[]> {
  const results: { flip: Flip; outcome: Outcome }[] = [];
  await pool(flips, 2, async (flip, lane) => {
    const file = path.join(tmp.dir, `flip-${lane}.khv`);
    for (const f of [`${file}-wal`, `${file}-shm`, `${file}-journal`]) fs.rmSync(f, { force: true });
    const bytes = Buffer.from(orig);
    bytes[flip.pos] = (bytes[flip.pos] as number) ^ (1 << flip.bit);
    fs.writeFileSync(file, bytes);
    results.push({ flip, outcome: await attempt(file) });
  });
  return results.sort((a, b) => a.flip.pos - b.flip.pos || a.flip.bit - b.flip.bit);
}

beforeAll(async () => {
  tmp = makeTmpDir('keyhold-tamper-');
  base = path.join(tmp.dir, 'base.khv');
  pass = newPassphrase();
  const svc = new KeyholdService();
  try {
    await svc.call('vault.create', { path: base, passphrase: pass, kdf: FAST_KDF });
    ids = [];
    for (let i = 0; i < 5; i++) {
      const k = await svc.call('key.create', {
        name: `key-${i}`,
        service: i < 3 ? 'billing' : 'search',
        environment: i % 2 ? 'staging' : 'production',
        scopes: ['read', `write:${i}`],
        owner: `owner-${i}`,
        notes: `notes of key ${i}`,
      });
      ids.push(k.id);
    }
  } finally {
    svc.close();
  }
  expect(fs.readdirSync(tmp.dir)).toEqual(['base.khv']);

  const db = new Database(base);
  try {
    const tables = db.prepare('SELECT name, rootpage FROM sqlite_schema').all() as { name: string; rootpage: number }[];
    pageNames = new Map([[1, 'sqlite_schema'], ...tables.map((t) => [t.rootpage, t.name] as [number, string])]);
    pageSize = db.pragma('page_size', { simple: true }) as number;
    const slot = db.prepare('SELECT wrapped FROM keyslots WHERE id = 1').get() as { wrapped: Buffer };
    const meta = db.prepare('SELECT vault_id FROM vault_meta').get() as { vault_id: string };
    orig = fs.readFileSync(base);
    // Every table and index fits in its own single page here, so a page names its table;
    // the schema text itself may overflow into further pages (named '?').
    expect(orig.length / pageSize).toBeGreaterThanOrEqual(pageNames.size);
    expect(orig.length / pageSize).toBeLessThanOrEqual(pageNames.size + 2);
    const w = orig.indexOf(slot.wrapped);
    expect(w).toBeGreaterThan(0);
    expect(orig.indexOf(slot.wrapped, w + 1)).toBe(-1);
    wrappedAt = [w, w + slot.wrapped.length];
    const idAt = orig.indexOf(Buffer.from(meta.vault_id));
    expect(idAt).toBeGreaterThan(0);
    vaultIdAt = [idAt, idAt + 36];
    const metaPage = [...pageNames].find(([, n]) => n === 'vault_meta')?.[0] as number;
    const pageStart = (metaPage - 1) * pageSize;
    metaCell = [pageStart + orig.readUInt16BE(pageStart + 5), pageStart + pageSize];
    expect(within(idAt, metaCell)).toBe(true);
  } finally {
    db.close();
  }
  expect(fs.readFileSync(base).equals(orig)).toBe(true);
  const o = await attempt(base);
  if (!o.ok) throw new Error(`the pristine vault does not open: ${o.detail}`);
  baseData = o.data;
  expect(baseData.list).toHaveLength(5);
  expect(baseData.reveals.every((r) => r.secret.startsWith('khk_'))).toBe(true);
});

afterAll(() => tmp?.remove());

describe('truncated vault', () => {
  const lengths = (): [string, number][] => [
    ['50 bytes', 50],
    ['100 bytes', 100],
    ['one page (4096 bytes)', 4096],
    ['half', Math.floor(orig.length / 2)],
    ['all but the last page', orig.length - pageSize],
    ['all but the last byte', orig.length - 1],
  ];

  it('is refused at every length with VAULT_CORRUPT, NOT_A_VAULT or INTEGRITY, never read', async () => {
    const got: Record<string, string> = {};
    for (const [what, len] of lengths()) {
      const file = path.join(tmp.dir, 'truncated.khv');
      copyVault(base, file);
      fs.truncateSync(file, len);
      got[what] = describeOutcome(await attempt(file));
    }
    const want = Object.fromEntries(lengths().map(([what]) => [what, expect.toBeOneOf(['VAULT_CORRUPT', 'NOT_A_VAULT', 'INTEGRITY'])]));
    expect(got).toEqual(want);
  });
});

describe('single-bit flips', () => {
  it('in the keyslot\'s wrapped key are reported as VAULT_CORRUPT (slot checksum), not as a wrong passphrase', async () => {
    const flips: Flip[] = [];
    for (let pos = wrappedAt[0]; pos < wrappedAt[1]; pos++) for (let bit = 0; bit < 8; bit++) flips.push({ pos, bit });
    const results = await runFlips(flips);
    const tally = new Map<string, number>();
    for (const r of results) tally.set(describeOutcome(r.outcome), (tally.get(describeOutcome(r.outcome)) ?? 0) + 1);
    expect(Object.fromEntries(tally)).toEqual({ VAULT_CORRUPT: flips.length });
  });

  it('in the vault metadata row are never reported as a wrong passphrase', async () => {
    // The passphrase is right; a damaged vault id or MAC must not make the user doubt it.
    const flips: Flip[] = [];
    for (let pos = metaCell[0]; pos < metaCell[1]; pos++) flips.push({ pos, bit: (pos * 5 + 3) % 8 });
    const results = await runFlips(flips);
    const bad = results
      .filter((r) => !sameAsBase(r.outcome) && !(!r.outcome.ok && DAMAGE_CODES.includes(r.outcome.code)))
      .map((r) => `${label(r.flip.pos)} bit ${r.flip.bit}: ${describeOutcome(r.outcome)}`);
    expect(bad).toEqual([]);
  });

  it('anywhere in the file (every 37th byte, and every byte of the last page\'s final 192 bytes) give a damage error or the original data', async () => {
    const positions = new Set<number>();
    for (let pos = 0; pos < orig.length; pos += 37) positions.add(pos);
    for (let pos = orig.length - 192; pos < orig.length; pos++) positions.add(pos);
    const flips = [...positions].map((pos) => ({ pos, bit: (pos * 5 + 3) % 8 }));
    const results = await runFlips(flips);

    const violations: string[] = [];
    const tally = new Map<string, number>();
    for (const { flip, outcome } of results) {
      const what = describeOutcome(outcome);
      tally.set(what, (tally.get(what) ?? 0) + 1);
      if (sameAsBase(outcome)) continue;
      if (!outcome.ok && DAMAGE_CODES.includes(outcome.code)) continue;
      if (!outcome.ok && outcome.code === 'WRONG_PASSPHRASE' && within(flip.pos, wrappedAt)) continue;
      violations.push(`${label(flip.pos)} bit ${flip.bit}: ${what}`);
    }
    // The sweep did reach the protected data: flips were caught both by SQLite and by the MACs.
    expect(tally.get('INTEGRITY') ?? 0).toBeGreaterThan(10);
    expect(tally.get('VAULT_CORRUPT') ?? 0).toBeGreaterThan(10);
    expect(violations, `outcomes: ${JSON.stringify(Object.fromEntries(tally))}`).toEqual([]);
  }, 240_000);
});

describe('rows edited with raw SQL', () => {
  type Op = 'unlock' | 'list' | 'show A' | 'reveal A' | 'show B' | 'reveal B';
  const OPS_AFTER_UNLOCK: Op[] = ['list', 'show A', 'reveal A', 'show B', 'reveal B'];

  /** Runs the operations on a tampered copy and names each one's outcome. */
  async function outcomes(file: string, ops: readonly Op[]): Promise<Partial<Record<Op, string>>> {
    const out: Partial<Record<Op, string>> = {};
    let v: Vault;
    try {
      v = await Vault.unlock(file, pass);
    } catch (e) {
      out.unlock = codeOf(e) === 'INTERNAL' ? `INTERNAL (${describeThrown(e)})` : codeOf(e);
      return out;
    }
    try {
      if (ops.includes('unlock')) out.unlock = 'ok';
      const [a, b] = [ids[0] as string, ids[1] as string];
      const runs: Record<Exclude<Op, 'unlock'>, () => [unknown, unknown]> = {
        list: () => [listKeys(v), baseData.list],
        'show A': () => [showKey(v, a), baseData.shows[0]],
        'reveal A': () => [revealKey(v, a), baseData.reveals[0]],
        'show B': () => [showKey(v, b), baseData.shows[1]],
        'reveal B': () => [revealKey(v, b), baseData.reveals[1]],
      };
      for (const op of ops) {
        if (op === 'unlock') continue;
        try {
          const [got, was] = runs[op]();
          out[op] = isDeepStrictEqual(got, was) ? 'original' : 'ALTERED value returned';
        } catch (e) {
          out[op] = codeOf(e) === 'INTERNAL' ? `INTERNAL (${describeThrown(e)})` : codeOf(e);
        }
      }
    } finally {
      v.lock();
    }
    return out;
  }

  /** Exchanges the given columns between the rows of keys A and B. */
  function swap(db: Database.Database, table: string, keyCol: string, cols: readonly string[], a: string, b: string): void {
    const get = db.prepare(`SELECT ${cols.join(', ')} FROM ${table} WHERE ${keyCol} = ?`);
    const rowA = get.get(a) as Record<string, unknown>;
    const rowB = get.get(b) as Record<string, unknown>;
    const set = db.prepare(`UPDATE ${table} SET ${cols.map((c) => `${c} = @${c}`).join(', ')} WHERE ${keyCol} = @id`);
    set.run({ ...rowB, id: a });
    set.run({ ...rowA, id: b });
  }

  const I = 'INTEGRITY';
  const scenarios: [string, (db: Database.Database, a: string, b: string) => void, Partial<Record<Op, unknown>>][] = [
    ['widen the scopes of key A',
      (db, a) => db.prepare(`UPDATE keys SET scopes = '["read","write:0","admin:*"]' WHERE id = ?`).run(a),
      { list: I, 'show A': I, 'reveal A': I, 'show B': 'original' }],
    ['move key A to another service',
      (db, a) => db.prepare(`UPDATE keys SET service = 'search' WHERE id = ?`).run(a),
      { list: I, 'show A': I, 'reveal A': I, 'reveal B': 'original' }],
    ['change the state of key A version 1',
      (db, a) => db.prepare(`UPDATE key_versions SET state = 'revoked' WHERE key_id = ?`).run(a),
      { list: I, 'show A': I, 'reveal A': I, 'reveal B': 'original' }],
    ['swap the sealed secrets of keys A and B',
      (db, a, b) => swap(db, 'key_versions', 'key_id', ['secret'], a, b),
      { list: I, 'reveal A': I, 'reveal B': I }],
    ['swap the sealed secrets of keys A and B together with their MACs',
      (db, a, b) => swap(db, 'key_versions', 'key_id', ['secret', 'mac'], a, b),
      { list: I, 'reveal A': I, 'reveal B': I }],
    ['swap the sealed notes of keys A and B',
      (db, a, b) => swap(db, 'keys', 'id', ['notes'], a, b),
      { list: I, 'show A': I, 'show B': I }],
    ['swap the sealed notes of keys A and B together with their MACs',
      (db, a, b) => swap(db, 'keys', 'id', ['notes', 'mac'], a, b),
      { list: I, 'show A': I, 'show B': I }],
    ['copy the MAC of key B onto key A',
      (db, a, b) => db.prepare('UPDATE keys SET mac = (SELECT mac FROM keys WHERE id = ?) WHERE id = ?').run(b, a),
      { list: I, 'show A': I, 'reveal A': I, 'reveal B': 'original' }],
    ['copy the MAC of key B version 1 onto key A version 1',
      (db, a, b) => db.prepare('UPDATE key_versions SET mac = (SELECT mac FROM key_versions WHERE key_id = ?) WHERE key_id = ?')
        .run(b, a),
      { list: I, 'show A': I, 'reveal A': I, 'reveal B': 'original' }],
    ['change the keyslot label',
      (db) => db.prepare(`UPDATE keyslots SET label = 'attacker' WHERE id = 1`).run(),
      { unlock: expect.toBeOneOf(['VAULT_CORRUPT', 'INTEGRITY']) }],
    ['change the keyslot label and recompute its (unkeyed) checksum',
      (db) => {
        db.prepare(`UPDATE keyslots SET label = 'attacker' WHERE id = 1`).run();
        const row = db.prepare('SELECT * FROM keyslots WHERE id = 1').get() as KeyslotRow;
        db.prepare('UPDATE keyslots SET checksum = ? WHERE id = 1').run(slotChecksum(row));
      },
      { unlock: I }],
    ['change the vault creation time',
      (db) => db.prepare(`UPDATE vault_meta SET created_at = '2001-01-01T00:00:00.000Z'`).run(),
      { unlock: expect.toBeOneOf(['VAULT_CORRUPT', 'INTEGRITY']) }],
    ['change the vault creation time and recompute the (unkeyed) metadata checksum',
      (db) => {
        const createdAt = '2001-01-01T00:00:00.000Z';
        const { vault_id: vaultId } = db.prepare('SELECT vault_id FROM vault_meta').get() as { vault_id: string };
        // Plain SHA-256, which anyone can recompute (docs/vault-format.md). The MAC must still catch the edit.
        const checksum = metaChecksum(vaultId, createdAt);
        db.prepare('UPDATE vault_meta SET created_at = ?, checksum = ?').run(createdAt, checksum);
      },
      { unlock: I }],
    ['delete the current version row of key A',
      (db, a) => db.prepare('DELETE FROM key_versions WHERE key_id = ?').run(a),
      { list: I, 'show A': I, 'reveal A': I, 'reveal B': 'original' }],
  ];

  it.each(scenarios)('%s: refused on the operation that reads the row', async (_what, tamper, want) => {
    const file = path.join(tmp.dir, 'tampered.khv');
    copyVault(base, file);
    const db = new Database(file);
    try {
      db.pragma('foreign_keys = OFF');
      tamper(db, ids[0] as string, ids[1] as string);
    } finally {
      db.close();
    }
    expect(fs.readFileSync(file).equals(orig), 'the tampering changed the file').toBe(false);
    const ops = Object.keys(want) as Op[];
    const got = await outcomes(file, ops.includes('unlock') ? ops : ops.filter((o) => OPS_AFTER_UNLOCK.includes(o)));
    expect(got).toEqual(want);
  });
});
