/**
 * The number of distinct SQL statements a vault prepares is bounded: every
 * statement text comes from a fixed set of templates, whatever the data, the
 * filters or the length of a list. Measured on a real vault by recording
 * each text better-sqlite3 is asked to prepare, across the operations that
 * build SQL from their input (key list filters, audit list filters, the
 * bundle export's reads by service and state, sent-item lookups, rotation,
 * revocation, housekeeping), run twice with different values and list
 * lengths of 1 to 1000: the second round prepares nothing new. The cache
 * itself is bounded too, and keeps working past its limit.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, onTestFinished } from 'vitest';
import { listAudit, verifyAudit } from '../../electron/core/audit/log.js';
import { sentItems, sentItemsFor } from '../../electron/core/bundle/store.js';
import { createKeys, listKeys, revealKey } from '../../electron/core/keys/keys.js';
import { dueKeys, housekeeping, revokeKey, rotateKeys } from '../../electron/core/keys/lifecycle.js';
import { versionsOfServices } from '../../electron/core/keys/rows.js';
import { cachedStatements, STATEMENT_CACHE_LIMIT, stmt } from '../../electron/core/vault/db.js';
import { ident, sql } from '../../electron/core/vault/sql.js';
import { Vault } from '../../electron/core/vault/vault.js';
import { DAY_MS, testClock } from '../helpers/clock.js';
import { FAST_KDF, tmpDir } from '../helpers/tmp.js';
import { newPassphrase } from './helpers/harness.js';

/** Records the text of every statement prepared on this connection from now on. */
function recordPrepares(db: Database.Database): Set<string> {
  const texts = new Set<string>();
  const prepare = db.prepare.bind(db);
  db.prepare = (text: string) => {
    texts.add(text);
    return prepare(text);
  };
  onTestFinished(() => {
    db.prepare = prepare;
  });
  return texts;
}

const SERVICES = Array.from({ length: 12 }, (_, i) => `svc-${i}`);

describe('statements prepared', () => {
  it('come from a fixed set: lists of 1 to 1000 values and every filter combination add no statement', async () => {
    const clock = testClock();
    const vault = await Vault.create(path.join(tmpDir(), 'v.khv'), newPassphrase(), { kdf: FAST_KDF, clock: clock.now, actor: 'test' });
    onTestFinished(() => vault.lock());
    const keys = createKeys(vault, SERVICES.flatMap((service) => ['a', 'b', 'c'].map((name) => ({
      name, service, environment: name === 'a' ? 'staging' : 'production', scopes: ['read'], owner: 'o', notes: '' }))));
    const texts = recordPrepares(vault.db);

    /** Everything that builds SQL from its input, with lists of `n` values and values picked by `round`. */
    const workload = (n: number, round: number): void => {
      const services = Array.from({ length: n }, (_, i) => SERVICES[(i + round) % SERVICES.length] ?? 'none')
        .concat(n > SERVICES.length ? Array.from({ length: n - SERVICES.length }, (_, i) => `absent-${round}-${i}`) : []);
      const pairs = keys.slice(0, Math.min(n, keys.length)).map((k) => [k.id, 1] as const);
      expect(versionsOfServices(vault, services).length).toBeGreaterThan(0);
      versionsOfServices(vault, services, ['revoked', 'destroyed', 'retiring'].slice(0, 1 + (n % 3)));
      sentItems(vault, `recipient-${round}`);
      sentItemsFor(vault, `recipient-${round}`, pairs);
      const service = SERVICES[round % SERVICES.length] as string;
      for (const filter of [{}, { service }, { environment: 'production' }, { service, environment: 'staging' },
        { query: `b${round}` }, { service, query: 'a' }]) {
        listKeys(vault, filter);
      }
      const key = keys[round % keys.length]?.id as string;
      const options = { key, action: 'key.create', actor: 'test', since: '2020-01-01T00:00:00Z', until: '2100-01-01T00:00:00Z' };
      const names = Object.keys(options) as (keyof typeof options)[];
      for (let mask = 0; mask < 2 ** names.length; mask++) {
        const q: Record<string, string> = {};
        names.forEach((name, i) => {
          if (mask & (1 << i)) q[name] = options[name];
        });
        listAudit(vault, { ...q, after: round, limit: 1 + round });
      }
      dueKeys(vault, true);
      revealKey(vault, key);
    };

    workload(1, 0);
    rotateKeys(vault, { ids: [keys[0]?.id as string] });
    revokeKey(vault, keys[1]?.id as string, 'compromised');
    clock.advance(30 * DAY_MS);
    housekeeping(vault);
    expect(verifyAudit(vault).ok).toBe(true);
    const fixed = new Set(texts);
    expect(fixed.size).toBeGreaterThan(20);

    for (const [round, n] of [2, 3, 10, 11, 12, 13, 100, 999, 1000].entries()) workload(n, round + 1);
    rotateKeys(vault, { ids: [keys[2]?.id as string, keys[3]?.id as string] });
    revokeKey(vault, keys[4]?.id as string, 'retired');
    clock.advance(30 * DAY_MS);
    housekeeping(vault);
    expect(verifyAudit(vault).ok).toBe(true);

    const added = [...texts].filter((t) => !fixed.has(t));
    expect(added.map((t) => t.replace(/\s+/g, ' ').slice(-160))).toEqual([]);
    expect(texts.size).toBeLessThan(STATEMENT_CACHE_LIMIT);
    expect(cachedStatements(vault.db).length).toBeLessThan(STATEMENT_CACHE_LIMIT);
  });

  it('are cached up to a limit, oldest dropped first, and still run after being dropped', () => {
    const db = new Database(':memory:');
    onTestFinished(() => {
      db.close();
    });
    const hot = stmt(db, sql`SELECT ? + 1 AS n`);
    expect(stmt(db, sql`SELECT ? + 1 AS n`)).toBe(hot);
    for (let i = 0; i < 3 * STATEMENT_CACHE_LIMIT; i++) {
      expect(stmt(db, sql`SELECT ${ident(`c${i}`)} FROM (SELECT 1 AS ${ident(`c${i}`)})`).get()).toBeDefined();
      expect(cachedStatements(db).length).toBeLessThanOrEqual(STATEMENT_CACHE_LIMIT);
    }
    expect(cachedStatements(db)).toHaveLength(STATEMENT_CACHE_LIMIT);
    // The first one was dropped long ago: asked again, it is prepared again and works.
    expect(cachedStatements(db)).not.toContain('SELECT ? + 1 AS n');
    expect(stmt(db, sql`SELECT ? + 1 AS n`).get(41)).toEqual({ n: 42 });
  });
});
