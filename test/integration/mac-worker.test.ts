/**
 * The key list's row MAC checks in a worker thread (electron/core/vault/
 * mac-worker.ts, keys/rows.ts eachKeyWithCurrent): the worker's HMACs are
 * those of the main thread; key.table read with the checks on the main thread,
 * in the worker, or both ('auto': the first rows on the main thread) gives the
 * same table, and on a vault with rows changed outside Keyhold the same error,
 * the first damaged row in read order, whichever check (a MAC in the worker, a
 * lost version or an unknown state on the main thread, the reader's own)
 * finds it; and a lock while the worker is checking fails the read. And the
 * unlock, whose SQLite check of the whole file now runs while Argon2id
 * derives, still answers a damaged file first, whatever the passphrase.
 */
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyCreateSpec, KeyTable } from '../../shared/contract.js';
import { KeyholdError } from '../../shared/errors.js';
import { canonicalRow } from '../../electron/core/crypto/primitives.js';
import { createKeys, keyTable } from '../../electron/core/keys/keys.js';
import { eachKeyWithCurrent, KEY_AT, MAIN_ROWS, versionMacFields, type MacChecks, type VersionRow } from '../../electron/core/keys/rows.js';
import { MAC_LEN, MacWorker } from '../../electron/core/vault/mac-worker.js';
import { Vault } from '../../electron/core/vault/vault.js';
import { FAST_KDF, makeTmpDir, tmpDir, type TmpDir } from '../helpers/tmp.js';
import { expectCode } from './helpers/harness.js';

const PASS = 'correct horse battery staple';
const N = 6_000;
const PATHS: readonly MacChecks[] = ['main', 'worker', 'auto'];

let base: TmpDir;
let basePath: string;
/** Every key id, in id order (the order of key.table's 'id' pages). */
let ids: string[];

beforeAll(async () => {
  base = makeTmpDir('keyhold-mac-worker-');
  basePath = path.join(base.dir, 'vault.db');
  const vault = await Vault.create(basePath, PASS, { kdf: FAST_KDF, actor: 'test' });
  try {
    const specs: KeyCreateSpec[] = Array.from({ length: N }, (_, i) => ({
      name: `key-${i}`, service: ['pay', 'auth', 'mail'][i % 3]!, environment: i % 2 ? 'staging' : 'production',
      scopes: i % 7 ? ['read'] : ['admin:*'], owner: i % 5 ? '' : 'alice', notes: i % 11 ? '' : `note ${i}`,
    }));
    ids = createKeys(vault, specs).map((k) => k.id).sort();
  } finally {
    vault.lock();
  }
}, 120_000);

afterAll(() => base.remove());

/** A copy of the base vault, unlocked (each test changes its own). */
async function copyOfVault(): Promise<Vault> {
  const p = path.join(tmpDir('keyhold-mac-worker-'), 'vault.db');
  fs.copyFileSync(basePath, p);
  return Vault.unlock(p, PASS, { actor: 'test' });
}

type Outcome = { table: KeyTable } | { error: { code: string; message: string; hint: string | undefined } };

async function outcome(run: () => Promise<KeyTable>): Promise<Outcome> {
  try {
    return { table: await run() };
  } catch (e) {
    if (!(e instanceof KeyholdError)) throw e;
    return { error: { code: e.code, message: e.message, hint: e.hint } };
  }
}

/** The same query read each way: the outcomes, which the caller expects to be one and the same. */
async function eachWay(vault: Vault, q: Parameters<typeof keyTable>[1]): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (const checks of PATHS) out.push(await outcome(() => keyTable(vault, q, checks)));
  return out;
}

describe('the row MAC worker', () => {
  it('answers exactly the rows whose HMAC-SHA-256 differs, as createHmac computes it', async () => {
    const key = randomBytes(32);
    const worker = new MacWorker(key);
    try {
      // Rows of every size, one far longer than the worker's first buffer, and every third MAC wrong.
      const rows = Array.from({ length: 300 }, (_, i) => randomBytes(i === 150 ? 20_000 : (i * 37) % 700));
      const data = Buffer.concat(rows);
      const ends = new Uint32Array(rows.length);
      const macs = Buffer.alloc(rows.length * MAC_LEN);
      let end = 0;
      rows.forEach((r, i) => {
        end += r.length;
        ends[i] = end;
        const mac = createHmac('sha256', key).update(r).digest();
        if (i % 3 === 0) mac[i % MAC_LEN]! ^= 1;
        mac.copy(macs, i * MAC_LEN);
      });
      const copy = (b: Uint8Array): ArrayBuffer => new Uint8Array(b).buffer;
      const bad = await worker.check({ data: copy(data), ends: copy(new Uint8Array(ends.buffer)), macs: copy(macs), count: rows.length });
      expect(bad).toEqual(rows.map((_, i) => i).filter((i) => i % 3 === 0));
      // The batches of a read are answered each with its own rows.
      const [a, b] = await Promise.all([0, 1].map((k) => {
        const one = canonicalRow('keys', [`row ${k}`]);
        const mac = createHmac('sha256', key).update(one).digest();
        if (k === 1) mac[0]! ^= 0xff;
        return worker.check({ data: copy(one), ends: new Uint32Array([one.length]).buffer, macs: copy(mac), count: 1 });
      }));
      expect([a, b]).toEqual([[], [0]]);
    } finally {
      worker.close();
    }
    // Closed: nothing more is checked.
    await expectCode(() => worker.check({ data: new ArrayBuffer(0), ends: new ArrayBuffer(4), macs: new ArrayBuffer(32), count: 1 }),
      'VAULT_LOCKED');
  });

  it('gives key.table the same pages on the main thread, in the worker and both', async () => {
    const vault = await copyOfVault();
    try {
      const queries = [
        { order: 'id' as const, limit: N },
        { order: 'id' as const, limit: 3000, after: ids[4000]! },
        { order: 'id' as const, limit: N, after: 'G', before: 'l' },
        { order: 'list' as const, limit: N },
        { order: 'list' as const, limit: 100 },
      ];
      for (const q of queries) {
        const [main, ...others] = await eachWay(vault, q);
        expect('table' in main! && main.table.id.length).toBeGreaterThan(0);
        for (const o of others) expect(o).toEqual(main);
      }
      const whole = (await eachWay(vault, { order: 'id', limit: N }))[0] as { table: KeyTable };
      expect(whole.table.id).toEqual(ids);
    } finally {
      vault.lock();
    }
  });

  // Rows far enough in that 'auto' checks them in the worker (past MAIN_ROWS), and one it checks on the main thread.
  const LATE = [3000, 4500, 5500];
  const EARLY = 1000;

  it('fails key.table with the same INTEGRITY error each way, naming the first damaged row in read order', async () => {
    expect(EARLY).toBeLessThan(MAIN_ROWS);
    expect(LATE[0]).toBeGreaterThan(MAIN_ROWS);
    type Damage = (vault: Vault, id: string) => void;
    const owner: Damage = (v, id) => void v.db.prepare("UPDATE keys SET owner = 'mallory' WHERE id = ?").run(id);
    const notAfter: Damage = (v, id) => void v.db.prepare("UPDATE key_versions SET not_after = '2999-01-01T00:00:00.000Z' WHERE key_id = ?").run(id);
    const lost: Damage = (v, id) => void v.db.prepare('DELETE FROM key_versions WHERE key_id = ?').run(id);
    const textMac: Damage = (v, id) => void v.db.prepare("UPDATE keys SET mac = 'not a mac' WHERE id = ?").run(id);
    const shortMac: Damage = (v, id) => void v.db.prepare('UPDATE key_versions SET mac = x\'00\' WHERE key_id = ?').run(id);
    // A state Keyhold does not know, under a MAC that is right for it (as if written with the key).
    const bogusState: Damage = (v, id) => {
      const row = v.db.prepare('SELECT * FROM key_versions WHERE key_id = ?').get(id) as VersionRow;
      const mac = v.mac('key_versions', versionMacFields({ ...row, state: 'bogus' as VersionRow['state'] }));
      v.db.prepare("UPDATE key_versions SET state = 'bogus', mac = ? WHERE key_id = ?").run(mac, id);
    };
    const macError = (i: number, version?: number): string =>
      `vault: integrity check failed for key ${ids[i]}${version === undefined ? '' : ` version ${version}`}`;
    const cases: Array<{ name: string; damage: Array<[number, Damage]>; message: string }> = [
      { name: 'a key row changed', damage: [[LATE[1]!, owner]], message: macError(LATE[1]!) },
      { name: 'a version row changed', damage: [[LATE[1]!, notAfter]], message: macError(LATE[1]!, 1) },
      { name: 'a version lost', damage: [[LATE[1]!, lost]], message: `vault: integrity check failed: key ${ids[LATE[1]!]} has lost its version 1` },
      { name: 'a MAC turned to text', damage: [[LATE[1]!, textMac]], message: macError(LATE[1]!) },
      { name: 'a MAC cut short', damage: [[LATE[1]!, shortMac]], message: macError(LATE[1]!, 1) },
      { name: 'an unknown state', damage: [[LATE[1]!, bogusState]], message: `vault: key ${ids[LATE[1]!]} version 1 has an unknown state` },
      // Found on the main thread (a lost version, an unknown state) after a row the worker fails: the worker's is first.
      { name: 'a MAC before a lost version', damage: [[LATE[0]!, notAfter], [LATE[1]!, lost]], message: macError(LATE[0]!, 1) },
      { name: 'a MAC before an unknown state', damage: [[LATE[0]!, owner], [LATE[2]!, bogusState]], message: macError(LATE[0]!) },
      { name: 'a lost version before a MAC', damage: [[LATE[0]!, lost], [LATE[1]!, owner]],
        message: `vault: integrity check failed: key ${ids[LATE[0]!]} has lost its version 1` },
      // In one row: its key's MAC is checked before its version is looked for.
      { name: 'a key row changed and its version lost', damage: [[LATE[1]!, owner], [LATE[1]!, lost]], message: macError(LATE[1]!) },
      { name: 'rows damaged across batches', damage: [[LATE[2]!, owner], [LATE[0]!, notAfter], [LATE[1]!, owner]], message: macError(LATE[0]!, 1) },
      { name: 'a row the main thread checks first', damage: [[LATE[0]!, owner], [EARLY, notAfter]], message: macError(EARLY, 1) },
    ];
    for (const c of cases) {
      const vault = await copyOfVault();
      try {
        for (const [i, damage] of c.damage) damage(vault, ids[i]!);
        const outcomes = await eachWay(vault, { order: 'id', limit: N });
        for (const o of outcomes) {
          expect({ case: c.name, o }).toEqual({ case: c.name, o: { error: { code: 'INTEGRITY', message: c.message, hint: expect.any(String) as string } } });
        }
        expect(outcomes[1], c.name).toEqual(outcomes[0]);
        expect(outcomes[2], c.name).toEqual(outcomes[0]);
        // A page that ends before the first damaged row is whole, each way.
        const first = Math.min(...c.damage.map(([i]) => i));
        for (const o of await eachWay(vault, { order: 'id', limit: first })) {
          expect('table' in o && o.table.id).toEqual(ids.slice(0, first));
        }
      } finally {
        vault.lock();
      }
    }
  }, 120_000);

  it('reports what the reader throws only when no earlier row fails its MAC', async () => {
    const vault = await copyOfVault();
    try {
      vault.db.prepare("UPDATE keys SET owner = 'mallory' WHERE id = ?").run(ids[LATE[1]!]);
      const failAt = (at: number) => (r: readonly unknown[]): void => {
        if (r[KEY_AT.id] === ids[at]) throw new KeyholdError('INTERNAL', `reader stopped at ${at}`);
      };
      for (const checks of PATHS) {
        const later = await expectCode(() => eachKeyWithCurrent(vault, { order: 'id', limit: N }, failAt(LATE[2]!), checks), 'INTEGRITY');
        expect(later.message).toBe(`vault: integrity check failed for key ${ids[LATE[1]!]}`);
        const earlier = await expectCode(() => eachKeyWithCurrent(vault, { order: 'id', limit: N }, failAt(LATE[0]!), checks), 'INTERNAL');
        expect(earlier.message).toBe(`reader stopped at ${LATE[0]!}`);
      }
    } finally {
      vault.lock();
    }
  });

  it('fails a read still being checked when the vault is locked, and starts a new worker after the next unlock', async () => {
    const vault = await copyOfVault();
    const pending = keyTable(vault, { order: 'id', limit: N }, 'worker');
    vault.lock();
    await expectCode(() => pending, 'VAULT_LOCKED');
    expect(() => vault.rowMacWorker()).toThrow(KeyholdError);
    const again = await Vault.unlock(vault.path, PASS, { actor: 'test' });
    try {
      expect((await keyTable(again, { order: 'id', limit: N }, 'worker')).id).toEqual(ids);
    } finally {
      again.lock();
    }
  });
});

describe('unlock', () => {
  it('answers a damaged file before the passphrase, as when the check ran before the key derivation', async () => {
    const p = path.join(tmpDir('keyhold-mac-worker-'), 'vault.db');
    const vault = await Vault.create(p, PASS, { kdf: FAST_KDF, actor: 'test' });
    createKeys(vault, Array.from({ length: 5 }, (_, i) => ({ name: `k${i}`, service: 'pay', environment: 'production',
      scopes: ['read'], owner: '', notes: '' })));
    vault.lock();
    // A bit flipped in the last cell of the (service, environment, name) index's only page: the index no longer
    // matches its table, which only SQLite's integrity_check sees (metadata, keyslots and schema are intact).
    const db = new Database(p, { readonly: true });
    const { rootpage } = db.prepare("SELECT rootpage FROM sqlite_schema WHERE name = 'sqlite_autoindex_keys_2'").get() as { rootpage: number };
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.close();
    const bytes = fs.readFileSync(p);
    bytes[rootpage * pageSize - 1]! ^= 1;
    fs.writeFileSync(p, bytes);
    for (const pass of [PASS, 'not the passphrase at all']) {
      const e = await expectCode(() => Vault.unlock(p, pass, { actor: 'test' }), 'VAULT_CORRUPT');
      expect(e.message).toContain('is damaged (SQLite integrity_check:');
    }
  });
});
