/**
 * The audit log on real vault files: an entry for every change (and every
 * reveal), verification of the hash chain against its MAC'd head, detection
 * of raw-SQL tampering on a closed vault, filtered and paged listing, export
 * as JSON lines that verify on their own, and failing closed when an entry
 * cannot be written. Nothing here prints a secret or a passphrase.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { entryHash, type AuditRow } from '../../electron/core/audit/chain.js';
import { verifyAuditFile } from '../../electron/core/audit/log.js';
import { KeyholdService } from '../../electron/core/service.js';
import type { AuditEntry, AuditVerifyReport } from '../../shared/contract.js';
import { DAY_MS, HOUR_MS, testClock, type TestClock } from '../helpers/clock.js';
import { FAST_KDF, makeTmpDir, tmpDir, type TmpDir } from '../helpers/tmp.js';
import { codeOf, copyVault, describeThrown, expectCode, newPassphrase, snapshot, unchangedSince } from './helpers/harness.js';

const HEX16 = /^[0-9a-f]{16}$/;
const HEX64 = /^[0-9a-f]{64}$/;

type Opened = { svc: KeyholdService; clock: TestClock; file: string; dir: string; pass: string };

async function openVault(actor = 'alice', clock: TestClock = testClock()): Promise<Opened> {
  const dir = tmpDir('keyhold-audit-');
  const file = path.join(dir, 'audit.khv');
  const pass = newPassphrase();
  const svc = new KeyholdService({ clock: clock.now, actor });
  onTestFinished(() => svc.close());
  await svc.call('vault.create', { path: file, passphrase: pass, kdf: FAST_KDF });
  return { svc, clock, file, dir, pass };
}

async function allEntries(svc: KeyholdService): Promise<AuditEntry[]> {
  const r = await svc.call('audit.list', { limit: 10_000 });
  expect(r.next).toBeNull();
  return r.entries;
}

/** Runs fn on a raw connection to a closed vault file (foreign keys off, as an attacker would). */
function rawEdit(file: string, fn: (db: Database.Database) => void): void {
  const db = new Database(file);
  try {
    db.pragma('foreign_keys = OFF');
    fn(db);
  } finally {
    db.close();
  }
}

function rows(db: Database.Database): AuditRow[] {
  return db.prepare('SELECT * FROM audit_log ORDER BY seq').all() as AuditRow[];
}

describe('every change writes an entry', () => {
  it('records create, reveal, rotate, revoke, destroy, policy and keyslot changes in order, with who, where and when', async () => {
    const clock = testClock();
    const { svc, pass, file } = await openVault('alice', clock);
    const times: string[] = [clock.iso()];
    const step = async <T>(fn: () => Promise<T>): Promise<T> => {
      clock.advance(61_000);
      times.push(clock.iso());
      return fn();
    };
    const k = await step(() => svc.call('key.create', { name: 'stripe', service: 'billing', scopes: ['pay'], owner: 'ops' }));
    const v1 = await step(() => svc.call('key.reveal', { id: k.id }));
    await step(() => svc.call('key.rotate', { ids: [k.id] }));
    const v2 = await step(() => svc.call('key.reveal', { id: k.id }));
    await step(() => svc.call('key.revoke', { id: k.id, reason: 'compromised' }));
    await step(() => svc.call('key.destroy', { id: k.id }));
    await step(() => svc.call('policy.set', { scope: { service: 'billing' }, rotation: '30d' }));
    const p2 = newPassphrase('second');
    const slot = await step(() => svc.call('slot.addPassphrase', { passphrase: p2, label: 'backup', kdf: FAST_KDF }));
    await step(() => svc.call('slot.remove', { id: slot.id }));
    const p3 = newPassphrase('third');
    await step(() => svc.call('passphrase.change', { current: pass, next: p3, kdf: FAST_KDF }));
    // Reads write nothing.
    await svc.call('key.list', {});
    await svc.call('key.show', { id: k.id });
    await svc.call('vault.info', {});
    await svc.call('slot.list', {});
    await svc.call('policy.show', { scope: { global: true } });
    await svc.call('key.due', { all: true });
    await svc.call('audit.verify', {});

    const entries = await allEntries(svc);
    expect(entries.map((e) => e.action)).toEqual([
      'vault.create', 'key.create', 'key.reveal', 'key.rotate', 'key.reveal', 'key.revoke', 'key.destroy',
      'policy.set', 'slot.add', 'slot.remove', 'passphrase.change',
    ]);
    expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i + 1));
    expect(entries.map((e) => e.at)).toEqual(times);
    const keyActions = new Set(['key.create', 'key.reveal', 'key.rotate', 'key.revoke', 'key.destroy']);
    for (const [i, e] of entries.entries()) {
      expect(e.actor).toBe('alice');
      expect(e.host).toBe(os.hostname());
      expect(e.workstation).toMatch(HEX16);
      expect(e.workstation).toBe(entries[0]?.workstation);
      expect(e.hash).toMatch(HEX64);
      if (i > 0) expect(e.prevHash).toBe(entries[i - 1]?.hash);
      expect(e.keyId, `keyId of ${e.action}`).toBe(keyActions.has(e.action) ? k.id : null);
      if (keyActions.has(e.action)) expect(e.subject).toBe(`key:${k.id}`);
    }
    const byAction = (a: string, n = 0) => entries.filter((e) => e.action === a)[n];
    expect(byAction('vault.create')).toMatchObject({ seq: 1, subject: 'vault',
      details: { vaultId: (await svc.call('vault.info', {})).vaultId, keyslot: { id: 1, type: 'passphrase' } } });
    expect(byAction('key.create')?.details).toMatchObject({ name: 'stripe', service: 'billing', scopes: ['pay'], owner: 'ops', version: 1 });
    expect(byAction('key.reveal', 0)?.details).toMatchObject({ version: 1 });
    expect(byAction('key.reveal', 1)?.details).toMatchObject({ version: 2 });
    expect(byAction('key.rotate')?.details).toMatchObject({ from: 1, to: 2 });
    expect(byAction('key.revoke')?.details).toEqual({ versions: [1, 2], reason: 'compromised' });
    expect(byAction('key.destroy')?.details).toEqual({ versions: [1, 2] });
    expect(byAction('policy.set')).toMatchObject({ subject: 'policy:service:billing',
      details: { scope: 'service:billing', rotation: 30 * 86_400 } });
    expect(byAction('slot.add')).toMatchObject({ subject: `keyslot:${slot.id}`, details: { id: slot.id, type: 'passphrase', label: 'backup' } });
    expect(byAction('slot.remove')).toMatchObject({ subject: `keyslot:${slot.id}`, details: { id: slot.id } });
    expect(byAction('passphrase.change')).toMatchObject({ subject: 'keyslot:1', details: { id: 1 } });

    // No secret or passphrase anywhere in the log, as listed or as stored.
    const text = JSON.stringify(entries);
    const needles: [string, string][] = [
      ['the first passphrase', pass], ['the second passphrase', p2], ['the new passphrase', p3],
      ['version 1 key text', v1.secret], ['version 1 secret part', v1.secret.slice(21, 64)],
      ['version 2 key text', v2.secret], ['version 2 secret part', v2.secret.slice(21, 64)],
    ];
    for (const [what, needle] of needles) expect(text.includes(needle), `${what} appears in the audit log`).toBe(false);
    svc.close();
    const raw = new Database(file, { readonly: true });
    try {
      const stored = JSON.stringify(raw.prepare('SELECT * FROM audit_log').all());
      for (const [what, needle] of needles) expect(stored.includes(needle), `${what} stored in audit_log`).toBe(false);
    } finally {
      raw.close();
    }
    // The log still verifies under the new passphrase.
    await svc.call('vault.unlock', { path: file, passphrase: p3 });
    expect(await svc.call('audit.verify', {})).toMatchObject({ ok: true, entries: 11, firstBroken: null });
  });

  it('audit.verify is ok on an untouched vault, with entries equal to the head sequence', async () => {
    const { svc } = await openVault();
    const fresh = await svc.call('audit.verify', {});
    expect(fresh).toMatchObject({ ok: true, entries: 1, head: { seq: 1 }, firstBroken: null });
    for (let i = 0; i < 5; i++) await svc.call('key.create', { name: `k${i}`, service: 's' });
    const r = await svc.call('audit.verify', {});
    const entries = await allEntries(svc);
    expect(r.ok).toBe(true);
    expect(r.firstBroken).toBeNull();
    expect(r.entries).toBe(6);
    expect(r.head.seq).toBe(r.entries);
    expect(r.head.hash).toBe(entries.at(-1)?.hash);
    expect(r.tookMs).toBeGreaterThanOrEqual(0);
  });
});

describe('tampering on a closed vault', () => {
  let tmp: TmpDir;
  let base: string;
  let pass: string;
  let ids: string[];
  let n: number; // entries in the base vault
  const clock = testClock();

  beforeAll(async () => {
    tmp = makeTmpDir('keyhold-audit-tamper-');
    base = path.join(tmp.dir, 'base.khv');
    pass = newPassphrase();
    const svc = new KeyholdService({ clock: clock.now, actor: 'alice' });
    try {
      await svc.call('vault.create', { path: base, passphrase: pass, kdf: FAST_KDF });
      ids = [];
      for (let i = 0; i < 3; i++) {
        clock.advance(HOUR_MS);
        ids.push((await svc.call('key.create', { name: `k${i}`, service: 'billing' })).id);
      }
      clock.advance(HOUR_MS);
      await svc.call('key.reveal', { id: ids[0] as string });
      await svc.call('key.rotate', { ids: [ids[1] as string] });
      await svc.call('policy.set', { scope: { global: true }, rotation: '60d' });
      await svc.call('key.revoke', { id: ids[2] as string, reason: 'retired' });
      n = svc.vault.auditHead.seq;
      expect((await svc.call('audit.verify', {})).ok).toBe(true);
    } finally {
      svc.close();
    }
    expect(n).toBe(8);
  });

  afterAll(() => tmp?.remove());

  let counter = 0;
  /** A copy of the base vault with fn applied to it by raw SQL. */
  function tampered(fn: (db: Database.Database) => void): string {
    const file = path.join(tmp.dir, `t${counter++}.khv`);
    copyVault(base, file);
    rawEdit(file, fn);
    expect(fs.readFileSync(file).equals(fs.readFileSync(base)), 'the tampering changed nothing').toBe(false);
    return file;
  }

  async function verifyOf(file: string): Promise<AuditVerifyReport> {
    const svc = new KeyholdService({ clock: clock.now, actor: 'alice' });
    try {
      await svc.call('vault.unlock', { path: file, passphrase: pass });
      return await svc.call('audit.verify', {});
    } finally {
      svc.close();
    }
  }

  it('the untouched copy verifies', async () => {
    const file = path.join(tmp.dir, 'pristine.khv');
    copyVault(base, file);
    expect(await verifyOf(file)).toMatchObject({ ok: true, entries: n, head: { seq: n }, firstBroken: null });
  });

  it.each([
    ['an entry\'s details edited', 4, (db: Database.Database) => {
      db.prepare('UPDATE audit_log SET details = ? WHERE seq = 4').run('{"name":"k9","service":"billing"}');
    }, /altered/],
    ['an entry\'s actor edited', 5, (db: Database.Database) => {
      db.prepare("UPDATE audit_log SET actor = 'mallory' WHERE seq = 5").run();
    }, /altered/],
    ['an entry\'s time edited', 6, (db: Database.Database) => {
      db.prepare("UPDATE audit_log SET at = '2020-01-01T00:00:00.000Z' WHERE seq = 6").run();
    }, /altered/],
    ['the first entry edited', 1, (db: Database.Database) => {
      db.prepare("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1").run();
    }, /altered/],
    ['a middle entry deleted', 4, (db: Database.Database) => {
      db.prepare('DELETE FROM audit_log WHERE seq = 4').run();
    }, /missing/],
    ['the last entry deleted (the log cut short of its head)', 8, (db: Database.Database) => {
      db.prepare('DELETE FROM audit_log WHERE seq = 8').run();
    }, /missing|cut/],
    ['an entry\'s prev_hash stored as TEXT (same bytes)', 4, (db: Database.Database) => {
      db.prepare('UPDATE audit_log SET prev_hash = CAST(prev_hash AS TEXT) WHERE seq = 4').run();
    }, /does not link/],
    ['an entry\'s hash stored as TEXT (same bytes)', 5, (db: Database.Database) => {
      db.prepare('UPDATE audit_log SET hash = CAST(hash AS TEXT) WHERE seq = 5').run();
    }, /altered/],
    ['an entry\'s hash cut to 31 bytes', 6, (db: Database.Database) => {
      db.prepare('UPDATE audit_log SET hash = substr(hash, 1, 31) WHERE seq = 6').run();
    }, /altered/],
    ['an entry\'s key_id stored as a number', 2, (db: Database.Database) => {
      db.prepare('UPDATE audit_log SET key_id = 42 WHERE seq = 2').run();
    }, /altered/],
    ['an entry\'s details stored as a BLOB (same bytes)', 3, (db: Database.Database) => {
      db.prepare('UPDATE audit_log SET details = CAST(details AS BLOB) WHERE seq = 3').run();
    }, /altered/],
    ['two entries swapped (seq 3 and 6)', 3, (db: Database.Database) => {
      db.prepare('UPDATE audit_log SET seq = 1000 WHERE seq = 3').run();
      db.prepare('UPDATE audit_log SET seq = 3 WHERE seq = 6').run();
      db.prepare('UPDATE audit_log SET seq = 6 WHERE seq = 1000').run();
    }, /link|reordered|altered/],
  ] as const)('detects %s at entry %i', async (_what, seq, fn, reason) => {
    const file = tampered(fn);
    const r = await verifyOf(file);
    expect(r.ok).toBe(false);
    expect(r.firstBroken?.seq).toBe(seq);
    expect(r.firstBroken?.reason).toMatch(reason);
    expect(r.head.seq).toBe(n);
  });

  it('detects an entry appended by raw SQL with a correct hash (not covered by the MAC\'d head)', async () => {
    const file = tampered((db) => {
      const last = rows(db).at(-1) as AuditRow;
      const row: Omit<AuditRow, 'hash'> = { ...last, seq: last.seq + 1, actor: 'mallory', action: 'key.create',
        details: '{}', prev_hash: last.hash };
      db.prepare(`INSERT INTO audit_log (seq, at, actor, host, workstation, action, subject, key_id, details, prev_hash, hash)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(row.seq, row.at, row.actor, row.host, row.workstation, row.action,
        row.subject, row.key_id, row.details, row.prev_hash, entryHash(row));
    });
    const r = await verifyOf(file);
    expect(r).toMatchObject({ ok: false, entries: n + 1, head: { seq: n } });
    expect(r.firstBroken?.seq).toBe(n + 1);
  });

  it('detects a rewrite of the chain without the VMK (edited entry, every later hash recomputed) by the MAC\'d head', async () => {
    const file = tampered((db) => {
      const all = rows(db);
      const upd = db.prepare('UPDATE audit_log SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?');
      let prev = (all[3] as AuditRow).hash; // entry 4's hash: entries 1..4 stay as they are
      for (const r of all.slice(4)) {
        const row = { ...r, actor: r.seq === 5 ? 'mallory' : r.actor, prev_hash: prev };
        const h = entryHash(row);
        upd.run(row.actor, prev, h, r.seq);
        prev = h;
      }
    });
    // The chain itself is consistent again: every link and hash checks out...
    rawEdit(file, (db) => {
      const all = rows(db);
      all.forEach((r, i) => {
        if (i > 0) expect(r.prev_hash.equals((all[i - 1] as AuditRow).hash)).toBe(true);
        expect(entryHash(r).equals(r.hash)).toBe(true);
      });
    });
    // ...so only the MAC'd head can tell.
    const r = await verifyOf(file);
    expect(r.ok).toBe(false);
    expect(r.entries).toBe(n);
    expect(r.firstBroken).not.toBeNull();
    expect(r.firstBroken?.reason).toMatch(/head/);
    // The break is named at an entry that exists, from the rewritten one (5) to the last (n).
    expect(r.firstBroken?.seq, `firstBroken: ${JSON.stringify(r.firstBroken)}`).toBeGreaterThanOrEqual(5);
    expect(r.firstBroken?.seq, `firstBroken: ${JSON.stringify(r.firstBroken)}`).toBeLessThanOrEqual(n);
  });

  it('detects a changed audit_head.seq (head MAC fails); then every change is refused with INTEGRITY while reads work', async () => {
    const file = tampered((db) => {
      db.prepare('UPDATE audit_head SET seq = seq - 1 WHERE id = 1').run();
    });
    const svc = new KeyholdService({ clock: clock.now, actor: 'alice' });
    onTestFinished(() => svc.close());
    await svc.call('vault.unlock', { path: file, passphrase: pass });
    const r = await svc.call('audit.verify', {});
    expect(r.ok).toBe(false);
    expect(r.entries).toBe(n);
    expect(r.firstBroken?.reason).toMatch(/head/);

    const before = snapshot(file);
    const info = await svc.call('vault.info', {});
    const e = await expectCode(() => svc.call('key.create', { name: 'new', service: 'billing' }), 'INTEGRITY');
    expect(e.message).toMatch(/head/);
    await expectCode(() => svc.call('key.rotate', { ids: [ids[0] as string] }), 'INTEGRITY');
    await expectCode(() => svc.call('key.revoke', { id: ids[0] as string, reason: 'other' }), 'INTEGRITY');
    await expectCode(() => svc.call('policy.set', { scope: { global: true }, rotation: '30d' }), 'INTEGRITY');
    // A reveal is an audited event: with no way to record it, it does not happen.
    await expectCode(() => svc.call('key.reveal', { id: ids[0] as string }), 'INTEGRITY');
    await expectCode(() => svc.call('audit.export', { out: path.join(tmp.dir, 'head.jsonl') }), 'INTEGRITY');
    expect(fs.existsSync(path.join(tmp.dir, 'head.jsonl'))).toBe(false);

    // Reads still work.
    expect((await svc.call('key.list', {})).map((k) => k.id).sort()).toEqual([...ids].sort());
    expect((await svc.call('key.show', { id: ids[1] as string })).currentVersion).toBe(2);
    expect((await svc.call('audit.list', { limit: 1000 })).entries).toHaveLength(n);
    expect((await svc.call('vault.info', {})).counts).toEqual(info.counts);
    svc.close();
    expect(unchangedSince(file, before), 'a refused change modified the vault file').toBe(true);
  });
});

describe('audit.verify on a long chain', () => {
  it('walks a log of several read pages with non-ASCII text, and names a break past the first page', async () => {
    const { svc, file, pass, dir } = await openVault('Zoë 🔑 operator');
    const key = await svc.call('key.create', { name: 'k', service: 'billing', owner: 'Łukasz – ops 🔐' });
    const v = svc.vault;
    v.transaction(() => {
      for (let i = 0; i < 9000; i++) {
        v.audit({ action: 'test.note', subject: `key:${key.id}`, keyId: i % 3 ? key.id : null,
          details: { i, text: i % 7 ? 'plain' : 'naïve — ünïcödé \u{1F511}' } });
      }
    });
    const n = v.auditHead.seq;
    const ok = await svc.call('audit.verify', {});
    expect(ok).toMatchObject({ ok: true, entries: n, head: { seq: n }, firstBroken: null });
    // The export of the same chain verifies on its own.
    const out = path.join(dir, 'long.jsonl');
    await svc.call('audit.export', { out });
    expect(verifyAuditFile(out)).toMatchObject({ ok: true, entries: n, firstBroken: null });
    svc.close();

    for (const [seq, sql, reason] of [
      [8501, "UPDATE audit_log SET details = replace(details, 'naïve', 'naive') WHERE seq = 8501 AND details LIKE '%naïve%'", /entry 8501 was altered/],
      [6000, 'DELETE FROM audit_log WHERE seq = 6000', /entry 6000 is missing/],
      [4097, "UPDATE audit_log SET prev_hash = zeroblob(32) WHERE seq = 4097", /entry 4097 does not link/],
    ] as const) {
      const copy = path.join(dir, `long-${seq}.khv`);
      copyVault(file, copy);
      rawEdit(copy, (db) => {
        expect(db.prepare(sql).run().changes).toBe(1);
      });
      const s2 = new KeyholdService({ actor: 'alice' });
      try {
        await s2.call('vault.unlock', { path: copy, passphrase: pass });
        const r = await s2.call('audit.verify', {});
        expect(r.ok).toBe(false);
        expect(r.firstBroken?.seq).toBe(seq);
        expect(r.firstBroken?.reason).toMatch(reason);
      } finally {
        s2.close();
      }
    }
  });
});

describe('audit.list', () => {
  it('filters by key, action, actor, since and until, and pages with limit and the next cursor', async () => {
    const clock = testClock();
    const t0 = clock.ms();
    const { svc, file, pass } = await openVault('alice', clock);
    const k1 = await svc.call('key.create', { name: 'k1', service: 's1' });
    const k2 = await svc.call('key.create', { name: 'k2', service: 's2' });
    clock.advance(DAY_MS);
    await svc.call('key.reveal', { id: k1.id });
    // bob is an operator of his own (the actor is the signed-in operator, issue 12); no approvals in this test.
    await svc.call('dualControl.set', { commands: [] });
    const bobPass = newPassphrase('bob');
    await svc.call('operator.add', { name: 'bob', roles: ['security-officer', 'key-operator'], passphrase: bobPass });
    svc.close();

    clock.set(t0 + 2 * DAY_MS);
    const bob = new KeyholdService({ clock: clock.now, actor: 'bob' });
    onTestFinished(() => bob.close());
    await bob.call('vault.unlock', { path: file, passphrase: pass });
    await bob.call('operator.signIn', { name: 'bob', passphrase: bobPass });
    await bob.call('key.rotate', { ids: [k1.id] });
    const k3 = await bob.call('key.create', { name: 'k3', service: 's1' });
    await bob.call('key.revoke', { id: k2.id, reason: 'retired' });
    clock.set(t0 + 3 * DAY_MS + 5 * HOUR_MS);
    await bob.call('policy.set', { scope: { global: true }, rotation: '60d' });
    await bob.call('key.reveal', { id: k3.id });
    await bob.call('key.reveal', { id: k1.id, version: 1 });

    const full = await allEntries(bob);
    expect(full).toHaveLength(12);
    const seqs = (es: AuditEntry[]) => es.map((e) => e.seq);
    const list = async (q: Record<string, unknown>) => {
      const r = await bob.call('audit.list', { limit: 10_000, ...q });
      expect(r.next).toBeNull();
      return seqs(r.entries);
    };
    const where = (pred: (e: AuditEntry) => boolean) => seqs(full.filter(pred));

    expect(await list({ key: k1.id })).toEqual(where((e) => e.keyId === k1.id));
    expect(await list({ key: k1.id })).toHaveLength(4); // create, reveal, rotate, reveal
    expect(await list({ action: 'key.create' })).toEqual(where((e) => e.action === 'key.create'));
    expect(await list({ action: 'key.create' })).toHaveLength(3);
    // An action no entry can have is an error listing the known ones, not an empty list (issue 15).
    expect((await expectCode(() => list({ action: 'no.such.action' }), 'INVALID_INPUT')).hint).toContain('Known actions: vault.create');
    expect(await list({ actor: 'bob' })).toEqual(where((e) => e.actor === 'bob'));
    expect(await list({ actor: 'alice' })).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await list({ actor: 'bob', key: k1.id })).toEqual(where((e) => e.actor === 'bob' && e.keyId === k1.id));
    expect(await list({ actor: 'bob', action: 'key.reveal' })).toEqual(where((e) => e.actor === 'bob' && e.action === 'key.reveal'));

    const iso = (ms: number) => new Date(ms).toISOString();
    const day2 = t0 + 2 * DAY_MS;
    expect(await list({ since: iso(day2) })).toEqual(where((e) => Date.parse(e.at) >= day2));
    expect(await list({ until: iso(day2) })).toEqual(where((e) => Date.parse(e.at) < day2));
    expect(await list({ since: iso(t0 + DAY_MS), until: iso(day2 + 1) })).toEqual(
      where((e) => Date.parse(e.at) >= t0 + DAY_MS && Date.parse(e.at) < day2 + 1));
    // A date alone is midnight UTC; an offset is honoured.
    expect(await list({ since: iso(day2).slice(0, 10) })).toEqual(await list({ since: iso(day2) }));
    expect(await list({ since: `${iso(day2).slice(0, 10)}T02:00:00+02:00` })).toEqual(await list({ since: iso(day2) }));
    expect(await list({ since: iso(t0 + 10 * DAY_MS) })).toEqual([]);
    expect(await list({ since: iso(day2), actor: 'alice' })).toEqual([]);

    // Paging: every page at most `limit`, the pages together are the whole log.
    for (const limit of [1, 3, 4, 10]) {
      const got: number[] = [];
      let after: number | undefined = undefined;
      let pages = 0;
      for (;;) {
        const r: { entries: AuditEntry[]; next: number | null } =
          await bob.call('audit.list', after === undefined ? { limit } : { limit, after });
        pages++;
        expect(r.entries.length).toBeLessThanOrEqual(limit);
        got.push(...seqs(r.entries));
        if (r.next === null) break;
        expect(r.next).toBe(r.entries.at(-1)?.seq);
        after = r.next;
        expect(pages).toBeLessThan(100);
      }
      expect(got, `limit ${limit}`).toEqual(seqs(full));
      expect(pages).toBe(Math.ceil(full.length / limit));
    }
    // Paging a filtered listing.
    const bobPages: number[] = [];
    let cursor: number | null = 0;
    while (cursor !== null) {
      const r: { entries: AuditEntry[]; next: number | null } = await bob.call('audit.list', { actor: 'bob', limit: 2, after: cursor });
      bobPages.push(...seqs(r.entries));
      cursor = r.next;
    }
    expect(bobPages).toEqual(where((e) => e.actor === 'bob'));
    // The listed entries are exactly the stored ones.
    expect((await bob.call('audit.list', { after: 4, limit: 2 })).entries).toEqual(full.slice(4, 6));

    const head = bob.vault.auditHead.seq;
    for (const bad of [{ since: 'yesterday' }, { since: '2026-13-01' }, { until: 'now' }, { since: '' },
      { since: '2026-01-01T10:00:00' }, { limit: 0 }, { after: -1 }, { key: 'short' }]) {
      await expectCode(() => bob.call('audit.list', bad), 'INVALID_INPUT');
    }
    expect(bob.vault.auditHead.seq).toBe(head);
  });
});

describe('audit.export', () => {
  it('writes JSON lines atomically (0600, no temp file) that verify on their own; edits and truncation are reported', async () => {
    const { svc, dir } = await openVault();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await svc.call('key.create', { name: `k${i}`, service: 's' })).id);
    await svc.call('key.rotate', { ids: [ids[0] as string] });
    await svc.call('key.reveal', { id: ids[1] as string });
    const verify = await svc.call('audit.verify', {});
    const outDir = path.join(dir, 'out');
    fs.mkdirSync(outDir);
    const out = path.join(outDir, 'audit.jsonl');
    const r = await svc.call('audit.export', { out });
    expect(r).toEqual({ path: out, entries: 7, head: verify.head });
    expect(fs.readdirSync(outDir)).toEqual(['audit.jsonl']);
    if (process.platform !== 'win32') expect(fs.statSync(out).mode & 0o777).toBe(0o600);

    const text = fs.readFileSync(out, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(8);
    const header = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(header).toMatchObject({ format: 'keyhold-audit/v1', vaultId: (await svc.call('vault.info', {})).vaultId,
      head: verify.head, entries: 7 });
    const entries = await allEntries(svc);
    lines.slice(1).forEach((l, i) => {
      const e = JSON.parse(l) as Record<string, unknown>;
      const listed = entries[i] as AuditEntry;
      expect(e).toMatchObject({ seq: i + 1, action: listed.action, actor: listed.actor, hash: listed.hash, prevHash: listed.prevHash });
      expect(JSON.parse(e.details as string)).toEqual(listed.details);
    });
    expect(verifyAuditFile(out)).toMatchObject({ ok: true, entries: 7, head: verify.head, firstBroken: null });

    // One edited line (an actor) is named by its sequence number.
    const edited = path.join(outDir, 'edited.jsonl');
    const e4 = JSON.parse(lines[4] as string) as Record<string, unknown>;
    const editedLines = [...lines];
    editedLines[4] = JSON.stringify({ ...e4, actor: 'mallory' });
    fs.writeFileSync(edited, `${editedLines.join('\n')}\n`);
    expect(verifyAuditFile(edited)).toMatchObject({ ok: false, firstBroken: { seq: 4 } });
    // An edited detail too.
    const e6 = JSON.parse(lines[6] as string) as Record<string, unknown>;
    const detailLines = [...lines];
    detailLines[6] = JSON.stringify({ ...e6, details: '{"version":9}' });
    fs.writeFileSync(edited, `${detailLines.join('\n')}\n`);
    expect(verifyAuditFile(edited)).toMatchObject({ ok: false, firstBroken: { seq: 6 } });

    // The last line removed, or cut in half.
    const cut = path.join(outDir, 'cut.jsonl');
    fs.writeFileSync(cut, `${lines.slice(0, -1).join('\n')}\n`);
    expect(verifyAuditFile(cut)).toMatchObject({ ok: false, firstBroken: { seq: 7 } });
    fs.writeFileSync(cut, text.slice(0, text.length - 40));
    expect(verifyAuditFile(cut)).toMatchObject({ ok: false, firstBroken: { seq: 7 } });
    // A line removed from the middle.
    fs.writeFileSync(cut, `${[...lines.slice(0, 3), ...lines.slice(4)].join('\n')}\n`);
    expect(verifyAuditFile(cut)).toMatchObject({ ok: false, firstBroken: { seq: 3 } });
    // Not an export at all.
    fs.writeFileSync(cut, 'hello\n');
    await expectCode(() => verifyAuditFile(cut), 'INVALID_INPUT');
    await expectCode(() => verifyAuditFile(path.join(outDir, 'missing.jsonl')), 'FILE_UNREADABLE');

    // Exporting again never replaces the earlier file (FILE_EXISTS); a new name gets the longer log.
    await svc.call('key.create', { name: 'later', service: 's' });
    const earlier = fs.readFileSync(out);
    await expectCode(() => svc.call('audit.export', { out }), 'FILE_EXISTS');
    expect(fs.readFileSync(out).equals(earlier)).toBe(true);
    const out2 = path.join(outDir, 'audit-2.jsonl');
    const r2 = await svc.call('audit.export', { out: out2 });
    expect(r2.entries).toBe(8);
    expect(verifyAuditFile(out2)).toMatchObject({ ok: true, entries: 8 });
    expect(fs.readdirSync(outDir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('refuses to export a chain that does not verify (INTEGRITY) and writes nothing', async () => {
    const { svc, file, pass, dir, clock } = await openVault();
    for (let i = 0; i < 3; i++) await svc.call('key.create', { name: `k${i}`, service: 's' });
    svc.close();
    rawEdit(file, (db) => db.prepare("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3").run());
    const svc2 = new KeyholdService({ clock: clock.now, actor: 'alice' });
    onTestFinished(() => svc2.close());
    await svc2.call('vault.unlock', { path: file, passphrase: pass });
    const outDir = path.join(dir, 'out');
    fs.mkdirSync(outDir);
    const e = await expectCode(() => svc2.call('audit.export', { out: path.join(outDir, 'audit.jsonl') }), 'INTEGRITY');
    expect(e.message).toContain('3');
    expect(fs.readdirSync(outDir)).toEqual([]);
  });
});

describe('failing closed', () => {
  it('a vault file with a trigger added to audit_log is refused as VAULT_CORRUPT, unchanged', async () => {
    const { svc, file, pass } = await openVault();
    await svc.call('key.create', { name: 'k', service: 's' });
    svc.close();
    rawEdit(file, (db) => db.exec(
      "CREATE TRIGGER no_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit disk full'); END;"));
    const before = snapshot(file);
    const e = await expectCode(() => svc.call('vault.unlock', { path: file, passphrase: pass }), 'VAULT_CORRUPT');
    expect(e.message).toContain('schema');
    expect(unchangedSince(file, before)).toBe(true);
    expect(await svc.call('vault.status', {})).toEqual({ unlocked: false, path: null });
  });

  it('when the audit entry cannot be written (a live trigger aborts the insert), no change happens and no secret is revealed', async () => {
    const { svc } = await openVault();
    const k = await svc.call('key.create', { name: 'k', service: 's' });
    const v = svc.vault;
    const state = async () => ({
      head: v.auditHead.seq,
      rows: v.read((db) => db.prepare('SELECT count(*) AS n FROM audit_log').get()),
      counts: (await svc.call('vault.info', {})).counts,
      key: await svc.call('key.show', { id: k.id }),
      policy: await svc.call('policy.show', { scope: { global: true } }),
      slots: await svc.call('slot.list', {}),
      list: await svc.call('key.list', {}),
    });
    const before = await state();
    // A TEMP trigger lives only in this connection: the file's schema is untouched.
    v.db.exec("CREATE TEMP TRIGGER no_audit BEFORE INSERT ON main.audit_log BEGIN SELECT RAISE(ABORT, 'audit disk full'); END;");

    const attempts: [string, () => Promise<unknown>][] = [
      ['key.create', () => svc.call('key.create', { name: 'k2', service: 's' })],
      ['key.reveal', () => svc.call('key.reveal', { id: k.id })],
      ['key.rotate', () => svc.call('key.rotate', { ids: [k.id] })],
      ['key.rotate all', () => svc.call('key.rotate', { all: true })],
      ['key.revoke', () => svc.call('key.revoke', { id: k.id, reason: 'compromised' })],
      ['policy.set', () => svc.call('policy.set', { scope: { global: true }, rotation: '30d' })],
      ['slot.addPassphrase', () => svc.call('slot.addPassphrase', { passphrase: newPassphrase(), kdf: FAST_KDF })],
    ];
    for (const [what, fn] of attempts) {
      let threw = false;
      let result: unknown;
      try {
        result = await fn();
      } catch (e) {
        threw = true;
        expect(describeThrown(e), `${what}: the error text leaks a secret`).not.toMatch(/khk_/);
        expect(codeOf(e), `${what}: ${describeThrown(e)}`).toBeOneOf(['INTERNAL', 'PATH_NOT_WRITABLE', 'INTEGRITY']);
      }
      expect(threw, `${what} succeeded without its audit entry`).toBe(true);
      expect(result).toBeUndefined();
      expect(await state(), `${what} changed the vault without an audit entry`).toEqual(before);
    }

    v.db.exec('DROP TRIGGER temp.no_audit');
    await svc.call('key.create', { name: 'k2', service: 's' });
    expect(v.auditHead.seq).toBe(before.head + 1);
    expect((await svc.call('audit.verify', {})).ok).toBe(true);
  });

  it('Vault.transaction refuses a change that writes no audit entry (INTERNAL) and rolls it back; a failed change leaves no entry', async () => {
    const { svc } = await openVault();
    const k = await svc.call('key.create', { name: 'k', service: 's' });
    const v = svc.vault;
    const policies = () => v.read((db) => db.prepare('SELECT count(*) AS n FROM policies').get());
    const logRows = () => v.read((db) => db.prepare('SELECT count(*) AS n FROM audit_log').get());
    const head = v.auditHead;
    const before = { policies: policies(), log: logRows() };

    const e = await expectCode(() => v.transaction(() => {
      v.db.prepare("INSERT INTO policies (scope, rotation_s, grace_s, warn_s, lifetime_s, updated_at, mac) VALUES ('global', 3600, NULL, NULL, NULL, ?, x'00')")
        .run(v.now());
    }), 'INTERNAL');
    expect(e.message).toMatch(/audit/);
    expect(policies()).toEqual(before.policies);
    expect(await svc.call('policy.show', { scope: { global: true } })).toMatchObject({ rotation: 90 * 86_400 });

    // An audit entry written by a change that then fails is rolled back with it, and the head restored.
    expect(() => v.transaction(() => {
      v.audit({ action: 'test.change', subject: 'key:x' });
      v.db.prepare("UPDATE keys SET owner = 'mallory' WHERE id = ?").run(k.id);
      throw new Error('change failed halfway');
    })).toThrow('change failed halfway');
    expect(v.auditHead).toEqual(head);
    expect(logRows()).toEqual(before.log);
    // Had the edit stuck, the key's MAC would fail (INTEGRITY): the list reads it back intact.
    expect(await svc.call('key.list', {})).toEqual([k]);

    // Appending outside a transaction is refused.
    await expectCode(() => v.audit({ action: 'test.loose', subject: 'x' }), 'INTERNAL');
    expect(logRows()).toEqual(before.log);

    // The chain continues cleanly from the restored head.
    await svc.call('key.create', { name: 'k2', service: 's' });
    const r = await svc.call('audit.verify', {});
    expect(r).toMatchObject({ ok: true, entries: head.seq + 1, head: { seq: head.seq + 1 } });
  });
});
