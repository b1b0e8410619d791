/**
 * The key lifecycle on a real vault, through the service, with a controllable
 * clock: default and layered rotation policies, due dates, rotation with a
 * grace window, housekeeping, revocation, destruction (the secret's bytes gone
 * from the file), and all-or-none batches. Nothing here prints a secret.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, onTestFinished } from 'vitest';
import { KeyholdService, type ServiceOptions } from '../../electron/core/service.js';
import { parseApiKey } from '../../shared/apikey.js';
import type { KeyDetail } from '../../shared/contract.js';
import { DAY_MS, HOUR_MS, testClock, type TestClock } from '../helpers/clock.js';
import { FAST_KDF, tmpDir } from '../helpers/tmp.js';
import { expectCode, newPassphrase } from './helpers/harness.js';

const DAY_S = 86_400;

type Opened = { svc: KeyholdService; clock: TestClock; file: string; dir: string; pass: string };

async function openVault(opts: Omit<ServiceOptions, 'clock'> = {}): Promise<Opened> {
  const dir = tmpDir('keyhold-life-');
  const file = path.join(dir, 'life.khv');
  const pass = newPassphrase();
  const clock = testClock();
  const svc = new KeyholdService({ ...opts, clock: clock.now });
  onTestFinished(() => svc.close());
  await svc.call('vault.create', { path: file, passphrase: pass, kdf: FAST_KDF });
  return { svc, clock, file, dir, pass };
}

const headSeq = (svc: KeyholdService): number => svc.vault.auditHead.seq;
const plusDays = (iso: string, days: number): string => new Date(Date.parse(iso) + days * DAY_MS).toISOString();
const show = (svc: KeyholdService, id: string): Promise<KeyDetail> => svc.call('key.show', { id });

/** Entries written after `seq`. */
async function entriesAfter(svc: KeyholdService, seq: number) {
  return (await svc.call('audit.list', { after: seq, limit: 10_000 })).entries;
}

/** The raw bytes of the vault file and its WAL (if present), concatenated with a marker between. */
function rawBytes(file: string): { main: Buffer; wal: Buffer | null } {
  return {
    main: fs.readFileSync(file),
    wal: fs.existsSync(`${file}-wal`) ? fs.readFileSync(`${file}-wal`) : null,
  };
}

describe('new keys and policies', () => {
  it('a new key has version 1 active for the default 365-day lifetime, the default policy and due status ok', async () => {
    const { svc, clock } = await openVault();
    clock.advance(3 * DAY_MS + 1234); // activation is the key's creation time, not the vault's
    const t = clock.iso();
    const k = await svc.call('key.create', { name: 'stripe-live', service: 'billing' });
    expect(k).toMatchObject({ state: 'active', currentVersion: 1, createdAt: t });
    const s = await show(svc, k.id);
    expect(s.versions).toEqual([{
      version: 1, state: 'active', createdAt: t, activatedAt: t, notAfter: plusDays(t, 365),
      graceUntil: null, revokedAt: null, revokeReason: null, destroyedAt: null,
    }]);
    expect(s.policy).toEqual({
      rotation: 90 * DAY_S, grace: 7 * DAY_S, warn: 14 * DAY_S, lifetime: 365 * DAY_S,
      sources: { rotation: 'default', grace: 'default', warn: 'default', lifetime: 'default' },
    });
    expect(s.due).toEqual({ status: 'ok', rotateAt: plusDays(t, 90), notAfter: plusDays(t, 365) });
    expect(await svc.call('policy.show', { scope: { key: k.id } })).toEqual(s.policy);
    expect(await svc.call('policy.show', { scope: { global: true } })).toEqual(s.policy);
  });

  it('policy precedence: key over service over global over default, field by field; clearing the key scope falls back', async () => {
    const { svc } = await openVault();
    const a = await svc.call('key.create', { name: 'a', service: 'billing' });
    const b = await svc.call('key.create', { name: 'b', service: 'billing' });
    const c = await svc.call('key.create', { name: 'c', service: 'search' });

    // The default warning lead (14d) would exceed a 10d rotation: the global scope sets a shorter one.
    const g = await svc.call('policy.set', { scope: { global: true }, rotation: '30d', warn: '5d' });
    expect(g).toMatchObject({ rotation: 30 * DAY_S, warn: 5 * DAY_S, sources: { rotation: 'global', warn: 'global' } });
    const sv = await svc.call('policy.set', { scope: { service: 'billing' }, rotation: '20d' });
    expect(sv).toMatchObject({ rotation: 20 * DAY_S, sources: { rotation: 'service:billing', warn: 'global' } });
    const kp = await svc.call('policy.set', { scope: { key: a.id }, rotation: '10d' });
    expect(kp).toMatchObject({ rotation: 10 * DAY_S, sources: { rotation: `key:${a.id}` } });

    const pa = (await show(svc, a.id)).policy;
    const pb = (await show(svc, b.id)).policy;
    const pc = (await show(svc, c.id)).policy;
    expect(pa).toEqual({
      rotation: 10 * DAY_S, grace: 7 * DAY_S, warn: 5 * DAY_S, lifetime: 365 * DAY_S,
      sources: { rotation: `key:${a.id}`, grace: 'default', warn: 'global', lifetime: 'default' },
    });
    expect(pb).toEqual({
      rotation: 20 * DAY_S, grace: 7 * DAY_S, warn: 5 * DAY_S, lifetime: 365 * DAY_S,
      sources: { rotation: 'service:billing', grace: 'default', warn: 'global', lifetime: 'default' },
    });
    expect(pc).toEqual({
      rotation: 30 * DAY_S, grace: 7 * DAY_S, warn: 5 * DAY_S, lifetime: 365 * DAY_S,
      sources: { rotation: 'global', grace: 'default', warn: 'global', lifetime: 'default' },
    });
    // The due date follows the effective rotation period.
    expect((await show(svc, a.id)).due.rotateAt).toBe(plusDays(a.createdAt, 10));
    expect((await show(svc, c.id)).due.rotateAt).toBe(plusDays(c.createdAt, 30));
    expect(await svc.call('policy.show', { scope: { service: 'billing' } })).toEqual(pb);
    expect(await svc.call('policy.show', { scope: { key: b.id } })).toEqual(pb);

    const cleared = await svc.call('policy.clear', { scope: { key: a.id } });
    expect(cleared).toEqual(pb);
    expect((await show(svc, a.id)).policy).toEqual(pb);
    // Clearing the service scope falls back to the global one.
    await svc.call('policy.clear', { scope: { service: 'billing' } });
    expect((await show(svc, a.id)).policy).toEqual(pc);
    expect((await show(svc, b.id)).policy).toEqual(pc);

    // A key scope must name an existing key.
    const unknown = [a.id, b.id, c.id].includes('ZZZZZZZZZZZZZZZZ') ? 'YYYYYYYYYYYYYYYY' : 'ZZZZZZZZZZZZZZZZ';
    const head = headSeq(svc);
    await expectCode(() => svc.call('policy.set', { scope: { key: unknown }, rotation: '30d' }), 'KEY_NOT_FOUND');
    await expectCode(() => svc.call('policy.show', { scope: { key: unknown } }), 'KEY_NOT_FOUND');
    expect(headSeq(svc)).toBe(head);

    const actions = (await svc.call('audit.list', { action: 'policy.set' })).entries.map((e) => e.subject);
    expect(actions).toEqual(['policy:global', 'policy:service:billing', `policy:key:${a.id}`]);
    expect((await svc.call('audit.list', { action: 'policy.clear' })).entries.map((e) => e.subject))
      .toEqual([`policy:key:${a.id}`, 'policy:service:billing']);
  });

  it('refuses invalid policies with INVALID_INPUT and leaves every policy and the audit log unchanged', async () => {
    const { svc } = await openVault();
    const k = await svc.call('key.create', { name: 'k', service: 'billing' });
    await svc.call('policy.set', { scope: { global: true }, rotation: '60d' });
    await svc.call('policy.set', { scope: { service: 'billing' }, grace: '3d' });
    const scopes = [{ global: true as const }, { service: 'billing' }, { key: k.id }];
    const state = async () => ({
      policies: await Promise.all(scopes.map((scope) => svc.call('policy.show', { scope }))),
      key: await show(svc, k.id),
      head: headSeq(svc),
    });
    const before = await state();
    expect(before.policies[2]).toMatchObject({ rotation: 60 * DAY_S, grace: 3 * DAY_S });

    const bad: [string, Record<string, unknown>, string][] = [
      ['grace above the rotation period', { scope: { global: true }, grace: '61d' }, 'grace'],
      ['grace above the rotation period (both given)', { scope: { service: 'billing' }, rotation: '10d', grace: '11d', warn: '1d' }, 'grace'],
      ['warning lead above the rotation period', { scope: { global: true }, warn: '61d' }, 'warning'],
      ['lifetime below the rotation period', { scope: { key: k.id }, lifetime: '59d' }, 'lifetime'],
      ['a rotation period under 1h', { scope: { global: true }, rotation: '59m', grace: '1m', warn: '1m' }, '1h'],
      ['a rotation period of 3599s', { scope: { global: true }, rotation: '3599s', grace: '1s', warn: '1s' }, '1h'],
      ['a rotation period of 0s', { scope: { global: true }, rotation: '0s', grace: '0s', warn: '0s' }, '1h'],
      // Validation is of the effective policy: a 10d rotation under the inherited 14d warning lead.
      ['an inherited warning lead above a new rotation period', { scope: { key: k.id }, rotation: '10d' }, 'warning'],
      ['"90 days"', { scope: { global: true }, rotation: '90 days' }, 'not a duration'],
      ['"-1d"', { scope: { global: true }, grace: '-1d' }, 'not a duration'],
      ['"abc"', { scope: { global: true }, warn: 'abc' }, 'not a duration'],
      ['"1.5d"', { scope: { global: true }, lifetime: '1.5d' }, 'not a duration'],
      ['an empty duration', { scope: { global: true }, rotation: '' }, 'not a duration'],
      ['nothing to set', { scope: { global: true } }, 'nothing to set'],
      ['nothing to set (key scope)', { scope: { key: k.id } }, 'nothing to set'],
      ['two scopes at once', { scope: { global: true, service: 'billing' }, rotation: '30d' }, ''],
      ['an unknown field', { scope: { global: true }, rotation: '30d', every: '30d' }, 'unknown field'],
    ];
    for (const [what, input, words] of bad) {
      const e = await expectCode(() => svc.call('policy.set', input), 'INVALID_INPUT');
      expect(e.message, what).toContain(words);
      expect(await state(), `${what}: something changed`).toEqual(before);
    }
    // The 1h floor itself is allowed.
    const floor = await svc.call('policy.set', { scope: { key: k.id }, rotation: '1h', grace: '30m', warn: '1h', lifetime: '1h' });
    expect(floor).toMatchObject({ rotation: 3600, grace: 1800, warn: 3600, lifetime: 3600 });
    expect(headSeq(svc)).toBe(before.head + 1);
  });
});

describe('due dates', () => {
  it('a key is ok, then due-soon inside the warning lead (90d - 14d), then overdue; key.due lists only those unless all', async () => {
    const { svc, clock } = await openVault();
    const t0 = clock.ms();
    const a = await svc.call('key.create', { name: 'a', service: 's' });
    const d = await svc.call('key.create', { name: 'd', service: 's' });
    await svc.call('key.revoke', { id: d.id, reason: 'retired' });
    clock.set(t0 + 10 * DAY_MS);
    const b = await svc.call('key.create', { name: 'b', service: 's' });
    clock.set(t0 + 20 * DAY_MS);
    const c = await svc.call('key.create', { name: 'c', service: 's' });

    const statusAt = async (day: number) => {
      clock.set(t0 + day * DAY_MS);
      return (await show(svc, a.id)).due.status;
    };
    expect(await statusAt(0)).toBe('ok');
    expect(await statusAt(50)).toBe('ok');
    expect(await statusAt(75.9)).toBe('ok');
    expect(await statusAt(76.1)).toBe('due-soon');
    expect(await statusAt(77)).toBe('due-soon');
    expect(await statusAt(89.9)).toBe('due-soon');
    expect(await statusAt(91)).toBe('overdue');
    expect(await statusAt(400)).toBe('overdue');
    expect((await show(svc, a.id)).due).toEqual({
      status: 'overdue', rotateAt: plusDays(a.createdAt, 90), notAfter: plusDays(a.createdAt, 365),
    });
    expect((await show(svc, d.id)).due.status).toBe('inactive');

    const dueAt = async (day: number, all = false) => {
      clock.set(t0 + day * DAY_MS);
      return (await svc.call('key.due', all ? { all: true } : {})).map((x) => [x.id, x.status]);
    };
    expect(await dueAt(20)).toEqual([]);
    expect(await dueAt(77)).toEqual([[a.id, 'due-soon']]);
    // b is 81 days old (due-soon), c 71 (ok), d revoked (inactive).
    expect(await dueAt(91)).toEqual([[a.id, 'overdue'], [b.id, 'due-soon']]);
    expect(await dueAt(91, true)).toEqual([[a.id, 'overdue'], [b.id, 'due-soon'], [c.id, 'ok'], [d.id, 'inactive']]);
    const full = await svc.call('key.due', { all: true });
    expect(full.find((x) => x.id === b.id)).toMatchObject({ name: 'b', rotateAt: plusDays(b.createdAt, 90) });
    // Looking at due dates writes nothing.
    const head = headSeq(svc);
    await svc.call('key.due', { all: true });
    expect(headSeq(svc)).toBe(head);
  });

  it('the lifetime in force when a version is made sets its notAfter, and notAfter caps the due date', async () => {
    const { svc, clock } = await openVault();
    const t0 = clock.ms();
    await svc.call('policy.set', { scope: { service: 'short' }, rotation: '30d', warn: '5d', lifetime: '40d' });
    const k = await svc.call('key.create', { name: 'k', service: 'short' });
    const other = await svc.call('key.create', { name: 'other', service: 'long' });
    expect((await show(svc, k.id)).versions[0]?.notAfter).toBe(plusDays(k.createdAt, 40));
    expect((await show(svc, other.id)).versions[0]?.notAfter).toBe(plusDays(other.createdAt, 365));
    // A later, longer policy does not extend a version already made: its notAfter (40d) comes before the new rotateAt (100d).
    await svc.call('policy.set', { scope: { service: 'short' }, rotation: '100d', lifetime: '200d' });
    const s = await show(svc, k.id);
    expect(s.versions[0]?.notAfter).toBe(plusDays(k.createdAt, 40));
    expect(s.due).toMatchObject({ status: 'ok', rotateAt: plusDays(k.createdAt, 100), notAfter: plusDays(k.createdAt, 40) });
    clock.set(t0 + 36 * DAY_MS);
    expect((await show(svc, k.id)).due.status).toBe('due-soon');
    clock.set(t0 + 41 * DAY_MS);
    expect((await show(svc, k.id)).due.status).toBe('overdue');
    expect((await svc.call('key.due', {})).map((x) => x.id)).toEqual([k.id]);
    // Its next version gets the lifetime in force now.
    await svc.call('key.rotate', { due: true });
    const after = await show(svc, k.id);
    expect(after.versions[1]?.notAfter).toBe(plusDays(clock.iso(), 200));
    expect(after.due).toMatchObject({ status: 'ok', rotateAt: plusDays(clock.iso(), 100) });
  });
});

describe('rotation', () => {
  it('rotating a key makes a new active version and leaves the old one retiring for the grace window', async () => {
    const { svc, clock } = await openVault();
    const k = await svc.call('key.create', { name: 'k', service: 's' });
    const v1 = (await svc.call('key.reveal', { id: k.id })).secret;
    clock.advance(30 * DAY_MS);
    const t1 = clock.iso();
    const r = await svc.call('key.rotate', { ids: [k.id] });
    expect(r.rotated).toEqual([{ id: k.id, from: 1, to: 2, graceUntil: plusDays(t1, 7) }]);
    expect(typeof r.tookMs).toBe('number');

    const s = await show(svc, k.id);
    expect(s).toMatchObject({ state: 'active', currentVersion: 2, updatedAt: t1 });
    expect(s.versions).toHaveLength(2);
    expect(s.versions[0]).toMatchObject({ version: 1, state: 'retiring', graceUntil: plusDays(t1, 7), revokedAt: null });
    expect(s.versions[1]).toEqual({
      version: 2, state: 'active', createdAt: t1, activatedAt: t1, notAfter: plusDays(t1, 365),
      graceUntil: null, revokedAt: null, revokeReason: null, destroyedAt: null,
    });
    expect(s.due).toMatchObject({ status: 'ok', rotateAt: plusDays(t1, 90) });

    const v2 = await svc.call('key.reveal', { id: k.id });
    expect(v2.version).toBe(2);
    expect(parseApiKey(v2.secret).keyId).toBe(k.id);
    expect(v2.secret === v1, 'the new version has the same secret as the old one').toBe(false);
    clock.advance(6 * DAY_MS); // still inside the grace window
    const old = await svc.call('key.reveal', { id: k.id, version: 1 });
    expect(old.version).toBe(1);
    expect(old.secret === v1, 'version 1 no longer reveals its own secret').toBe(true);
    expect((await show(svc, k.id)).versions[0]?.state).toBe('retiring');

    // A second rotation supersedes version 1 at once: two generations back are never accepted.
    const t2 = clock.iso();
    const r2 = await svc.call('key.rotate', { ids: [k.id] });
    expect(r2.rotated).toEqual([{ id: k.id, from: 2, to: 3, graceUntil: plusDays(t2, 7) }]);
    const s2 = await show(svc, k.id);
    expect(s2.currentVersion).toBe(3);
    expect(s2.versions.map((v) => v.state)).toEqual(['revoked', 'retiring', 'active']);
    expect(s2.versions[0]).toMatchObject({ revokeReason: 'superseded', revokedAt: t2 });
    expect(s2.versions[1]).toMatchObject({ graceUntil: plusDays(t2, 7) });
    const v3 = await svc.call('key.reveal', { id: k.id });
    expect(new Set([v1, v2.secret, v3.secret]).size).toBe(3);
    const rot = (await svc.call('audit.list', { key: k.id, action: 'key.rotate' })).entries;
    expect(rot.map((e) => e.details)).toEqual([
      { from: 1, to: 2, graceUntil: plusDays(t1, 7) },
      // The second rotation supersedes version 1 at once, and says so.
      { from: 2, to: 3, graceUntil: plusDays(t2, 7), superseded: [1] },
    ]);
    expect((await svc.call('audit.verify', {})).ok).toBe(true);
  });

  it('housekeeping: once the grace window has passed, the next command revokes the retiring version (superseded) and audits it', async () => {
    const { svc, clock, file, pass } = await openVault();
    const k = await svc.call('key.create', { name: 'k', service: 's' });
    const other = await svc.call('key.create', { name: 'other', service: 's' });
    await svc.call('key.rotate', { ids: [k.id, other.id] });
    const graceUntil = (await show(svc, k.id)).versions[0]?.graceUntil as string;
    expect(graceUntil).toBe(plusDays(clock.iso(), 7));

    clock.set(Date.parse(graceUntil) - 1);
    const head = headSeq(svc);
    await svc.call('key.list', {});
    expect((await show(svc, k.id)).versions[0]?.state).toBe('retiring');
    expect(headSeq(svc), 'a command inside the grace window wrote something').toBe(head);

    clock.set(Date.parse(graceUntil) + HOUR_MS);
    const list = await svc.call('key.list', {});
    expect(list.map((x) => x.state)).toEqual(['active', 'active']);
    const v1 = (await show(svc, k.id)).versions[0];
    expect(v1).toMatchObject({ version: 1, state: 'revoked', revokeReason: 'superseded', revokedAt: clock.iso(), graceUntil });
    const written = await entriesAfter(svc, head);
    expect(written.map((e) => [e.action, e.keyId, e.at])).toEqual(
      expect.arrayContaining([['key.retire', k.id, clock.iso()], ['key.retire', other.id, clock.iso()]]));
    expect(written).toHaveLength(2);
    expect(written.find((e) => e.keyId === k.id)?.details).toMatchObject({ version: 1, reason: 'superseded' });
    // Nothing more to do: the next command writes nothing.
    const after = headSeq(svc);
    await svc.call('key.list', {});
    expect(headSeq(svc)).toBe(after);

    // Housekeeping also runs on unlock.
    await svc.call('key.rotate', { ids: [k.id] });
    svc.close();
    clock.advance(8 * DAY_MS);
    await svc.call('vault.unlock', { path: file, passphrase: pass });
    expect((await show(svc, k.id)).versions.map((v) => v.state)).toEqual(['revoked', 'revoked', 'active']);
    const last = (await svc.call('audit.list', { action: 'key.retire', key: k.id })).entries.at(-1);
    expect(last).toMatchObject({ at: clock.iso(), details: { version: 2, reason: 'superseded' } });
    expect((await svc.call('audit.verify', {})).ok).toBe(true);
  });

  it('rotate {due}, {all} and {ids} pick exactly their keys; progress counts up to the total', async () => {
    const progress: [string, number, number][] = [];
    const { svc, clock } = await openVault({ onProgress: (c, done, total) => progress.push([c, done, total]) });
    const t0 = clock.ms();
    const k1 = await svc.call('key.create', { name: 'k1', service: 's' });
    const k2 = await svc.call('key.create', { name: 'k2', service: 't' });
    clock.set(t0 + 50 * DAY_MS);
    const k3 = await svc.call('key.create', { name: 'k3', service: 's' });
    const k4 = await svc.call('key.create', { name: 'k4', service: 't' });
    const k5 = await svc.call('key.create', { name: 'k5', service: 's' });
    await svc.call('key.revoke', { id: k5.id, reason: 'other' });
    clock.set(t0 + 80 * DAY_MS); // k1, k2 due soon (80 > 76); k3, k4 30 days old
    const versions = async () => Object.fromEntries(await Promise.all([k1, k2, k3, k4, k5].map(async (k) =>
      [k.name, (await show(svc, k.id)).currentVersion] as const)));

    const checkProgress = (total: number) => {
      const mine = progress.splice(0);
      expect(mine.every(([c]) => c === 'key.rotate')).toBe(true);
      const done = mine.map(([, d]) => d);
      expect(done.length).toBeGreaterThan(0);
      for (let i = 1; i < done.length; i++) expect(done[i]).toBeGreaterThan(done[i - 1] as number);
      expect(mine.at(-1)).toEqual(['key.rotate', total, total]);
      expect(mine.every(([, , t]) => t === total)).toBe(true);
    };

    const due = await svc.call('key.rotate', { due: true });
    expect(due.rotated.map((r) => r.id).sort()).toEqual([k1.id, k2.id].sort());
    checkProgress(2);
    expect(await versions()).toEqual({ k1: 2, k2: 2, k3: 1, k4: 1, k5: 1 });
    expect(await svc.call('key.due', {})).toEqual([]);
    // Nothing due: nothing rotated, nothing written.
    const head = headSeq(svc);
    expect((await svc.call('key.rotate', { due: true })).rotated).toEqual([]);
    expect(headSeq(svc)).toBe(head);

    const all = await svc.call('key.rotate', { all: true });
    expect(all.rotated.map((r) => r.id).sort()).toEqual([k1.id, k2.id, k3.id, k4.id].sort());
    checkProgress(4);
    expect(await versions()).toEqual({ k1: 3, k2: 3, k3: 2, k4: 2, k5: 1 });

    const some = await svc.call('key.rotate', { ids: [k3.id, k1.id] });
    expect(some.rotated.map((r) => [r.id, r.from, r.to])).toEqual([[k3.id, 2, 3], [k1.id, 3, 4]]);
    checkProgress(2);
    expect(await versions()).toEqual({ k1: 4, k2: 3, k3: 3, k4: 2, k5: 1 });
    // A key named twice is rotated once.
    const twice = await svc.call('key.rotate', { ids: [k4.id, k4.id] });
    expect(twice.rotated.map((r) => [r.id, r.from, r.to])).toEqual([[k4.id, 2, 3]]);
    checkProgress(1);
    expect(await versions()).toEqual({ k1: 4, k2: 3, k3: 3, k4: 3, k5: 1 });
    expect((await svc.call('audit.list', { action: 'key.rotate', limit: 1000 })).entries).toHaveLength(9);
  });

  it('a batch rotation is all or none: one revoked key in it and no key is rotated', async () => {
    const { svc } = await openVault();
    const good = await svc.call('key.create', { name: 'good', service: 's' });
    const good2 = await svc.call('key.create', { name: 'good2', service: 's' });
    const bad = await svc.call('key.create', { name: 'bad', service: 's' });
    await svc.call('key.revoke', { id: bad.id, reason: 'compromised' });
    const before = { g: await show(svc, good.id), g2: await show(svc, good2.id), b: await show(svc, bad.id),
      info: (await svc.call('vault.info', {})).counts, head: headSeq(svc) };
    const secret = (await svc.call('key.reveal', { id: good.id })).secret;
    const head = headSeq(svc);

    const e = await expectCode(() => svc.call('key.rotate', { ids: [good.id, good2.id, bad.id] }), 'ILLEGAL_TRANSITION');
    expect(e.message).toContain(bad.id);
    await expectCode(() => svc.call('key.rotate', { ids: [bad.id, good.id] }), 'ILLEGAL_TRANSITION');
    expect(await show(svc, good.id)).toEqual(before.g);
    expect(await show(svc, good2.id)).toEqual(before.g2);
    expect(await show(svc, bad.id)).toEqual(before.b);
    expect((await svc.call('vault.info', {})).counts).toEqual(before.info);
    expect(headSeq(svc)).toBe(head);
    expect(svc.vault.auditHead.seq).toBe(head);
    expect((await svc.call('key.reveal', { id: good.id })).secret === secret).toBe(true);
    // An unknown id in the batch is KEY_NOT_FOUND, also with nothing written.
    const unknown = [good.id, good2.id, bad.id].includes('ZZZZZZZZZZZZZZZZ') ? 'YYYYYYYYYYYYYYYY' : 'ZZZZZZZZZZZZZZZZ';
    const head2 = headSeq(svc);
    await expectCode(() => svc.call('key.rotate', { ids: [good.id, unknown] }), 'KEY_NOT_FOUND');
    expect(headSeq(svc)).toBe(head2);
    expect((await show(svc, good.id)).currentVersion).toBe(1);
    expect((await svc.call('audit.verify', {})).ok).toBe(true);
  });
});

describe('revocation', () => {
  it('revoking a key revokes every live version at once; twice is ILLEGAL_TRANSITION; one version; bad ids and reasons', async () => {
    const { svc, clock } = await openVault();
    const a = await svc.call('key.create', { name: 'a', service: 's' });
    const b = await svc.call('key.create', { name: 'b', service: 's' });
    await svc.call('key.rotate', { ids: [a.id, b.id] });
    clock.advance(2 * DAY_MS);
    const t = clock.iso();
    const head = headSeq(svc);

    const r = await svc.call('key.revoke', { id: a.id, reason: 'compromised' });
    expect(r).toMatchObject({ id: a.id, versions: [1, 2], reason: 'compromised', revokedAt: t });
    expect(typeof r.tookMs).toBe('number');
    expect(r.tookMs).toBeGreaterThanOrEqual(0);
    const s = await show(svc, a.id);
    expect(s.state).toBe('revoked');
    expect(s.currentVersion).toBe(2);
    for (const v of s.versions) expect(v).toMatchObject({ state: 'revoked', revokeReason: 'compromised', revokedAt: t });
    expect(s.due.status).toBe('inactive');
    const written = await entriesAfter(svc, head);
    expect(written.map((e) => [e.action, e.keyId, e.details])).toEqual([
      ['key.revoke', a.id, { versions: [1, 2], reason: 'compromised' }],
    ]);

    // Again: nothing to revoke, nothing written.
    const head2 = headSeq(svc);
    const e = await expectCode(() => svc.call('key.revoke', { id: a.id, reason: 'compromised' }), 'ILLEGAL_TRANSITION');
    expect(e.message).toContain(a.id);
    await expectCode(() => svc.call('key.revoke', { id: a.id, version: 2, reason: 'other' }), 'ILLEGAL_TRANSITION');
    expect(headSeq(svc)).toBe(head2);
    expect(await show(svc, a.id)).toEqual(s);

    // One version: the retiring one of b; the active one stays.
    const one = await svc.call('key.revoke', { id: b.id, version: 1, reason: 'retired' });
    expect(one).toMatchObject({ id: b.id, versions: [1], reason: 'retired' });
    const sb = await show(svc, b.id);
    expect(sb.versions.map((v) => [v.state, v.revokeReason])).toEqual([['revoked', 'retired'], ['active', null]]);
    expect(sb.state).toBe('active');
    await expectCode(() => svc.call('key.revoke', { id: b.id, version: 1, reason: 'retired' }), 'ILLEGAL_TRANSITION');
    await expectCode(() => svc.call('key.revoke', { id: b.id, version: 3, reason: 'retired' }), 'KEY_NOT_FOUND');

    const unknown = [a.id, b.id].includes('ZZZZZZZZZZZZZZZZ') ? 'YYYYYYYYYYYYYYYY' : 'ZZZZZZZZZZZZZZZZ';
    const head3 = headSeq(svc);
    await expectCode(() => svc.call('key.revoke', { id: unknown, reason: 'compromised' }), 'KEY_NOT_FOUND');
    const bad = await expectCode(() => svc.call('key.revoke', { id: b.id, reason: 'lost' }), 'INVALID_INPUT');
    expect(bad.message).toContain('reason');
    await expectCode(() => svc.call('key.revoke', { id: b.id }), 'INVALID_INPUT');
    await expectCode(() => svc.call('key.revoke', { id: b.id, reason: 'compromised', version: 0 }), 'INVALID_INPUT');
    expect(headSeq(svc)).toBe(head3);
    expect(await show(svc, b.id)).toEqual(sb);
  });

  it('rotating a revoked key is ILLEGAL_TRANSITION and writes nothing', async () => {
    const { svc } = await openVault();
    const k = await svc.call('key.create', { name: 'k', service: 's' });
    await svc.call('key.revoke', { id: k.id, reason: 'retired' });
    const before = await show(svc, k.id);
    const counts = (await svc.call('vault.info', {})).counts;
    const head = headSeq(svc);
    const e = await expectCode(() => svc.call('key.rotate', { ids: [k.id] }), 'ILLEGAL_TRANSITION');
    expect(e.message).toContain(k.id);
    // {all} and {due} skip it instead.
    expect((await svc.call('key.rotate', { all: true })).rotated).toEqual([]);
    expect(await show(svc, k.id)).toEqual(before);
    expect((await svc.call('vault.info', {})).counts).toEqual(counts);
    expect(headSeq(svc)).toBe(head);
  });
});

describe('destruction', () => {
  it('destroys only revoked versions, erasing the secret but keeping the history; the sealed bytes leave the file and WAL', async () => {
    const { svc, clock, file, dir, pass } = await openVault();
    const k = await svc.call('key.create', { name: 'doomed', service: 's', owner: 'ops', notes: 'to be destroyed' });
    const keep = await svc.call('key.create', { name: 'kept', service: 's' });
    const keepSecret = (await svc.call('key.reveal', { id: keep.id })).secret;
    const head0 = headSeq(svc);
    const e1 = await expectCode(() => svc.call('key.destroy', { id: k.id }), 'ILLEGAL_TRANSITION');
    expect(e1.message).toContain('active');
    await expectCode(() => svc.call('key.destroy', { id: k.id, version: 1 }), 'ILLEGAL_TRANSITION');
    await expectCode(() => svc.call('key.destroy', { id: k.id, version: 2 }), 'KEY_NOT_FOUND');
    expect(headSeq(svc)).toBe(head0);
    expect((await show(svc, k.id)).versions[0]?.state).toBe('active');

    clock.advance(DAY_MS);
    const revokedAt = clock.iso();
    await svc.call('key.revoke', { id: k.id, reason: 'retired' });

    // The sealed secret as it is stored now, read from a copy of the open vault (main file + WAL).
    const copyDir = path.join(dir, 'copy');
    fs.mkdirSync(copyDir);
    const copy = path.join(copyDir, 'copy.khv');
    fs.copyFileSync(file, copy);
    if (fs.existsSync(`${file}-wal`)) fs.copyFileSync(`${file}-wal`, `${copy}-wal`);
    const cdb = new Database(copy);
    let sealed: Buffer;
    try {
      const row = cdb.prepare('SELECT secret FROM key_versions WHERE key_id = ? AND version = 1').get(k.id) as { secret: Buffer | null };
      expect(Buffer.isBuffer(row.secret)).toBe(true);
      sealed = row.secret as Buffer;
    } finally {
      cdb.close();
    }
    expect(sealed.length).toBeGreaterThanOrEqual(43);
    const before = rawBytes(file);
    expect(before.main.includes(sealed) || (before.wal?.includes(sealed) ?? false),
      'the sealed secret is not in the vault files before destruction: the check below would prove nothing').toBe(true);

    clock.advance(DAY_MS);
    const t = clock.iso();
    const d = await svc.call('key.destroy', { id: k.id });
    expect(d).toEqual({ id: k.id, versions: [1], destroyedAt: t });
    const e2 = await expectCode(() => svc.call('key.reveal', { id: k.id }), 'KEY_NOT_FOUND');
    expect(e2.message).toContain('destroyed');
    await expectCode(() => svc.call('key.reveal', { id: k.id, version: 1 }), 'KEY_NOT_FOUND');
    const s = await show(svc, k.id);
    expect(s).toMatchObject({ id: k.id, name: 'doomed', service: 's', owner: 'ops', notes: 'to be destroyed',
      state: 'destroyed', currentVersion: 1 });
    expect(s.versions).toEqual([expect.objectContaining({
      version: 1, state: 'destroyed', destroyedAt: t, revokedAt, revokeReason: 'retired', createdAt: k.createdAt,
    })]);
    const head1 = headSeq(svc);
    await expectCode(() => svc.call('key.destroy', { id: k.id }), 'ILLEGAL_TRANSITION');
    await expectCode(() => svc.call('key.destroy', { id: k.id, version: 1 }), 'ILLEGAL_TRANSITION');
    await expectCode(() => svc.call('key.revoke', { id: k.id, reason: 'other' }), 'ILLEGAL_TRANSITION');
    await expectCode(() => svc.call('key.rotate', { ids: [k.id] }), 'ILLEGAL_TRANSITION');
    expect(headSeq(svc)).toBe(head1);
    expect((await svc.call('audit.list', { key: k.id, action: 'key.destroy' })).entries.map((x) => x.details))
      .toEqual([{ versions: [1] }]);

    // Open: the WAL was checkpointed and truncated, and secure_delete zeroed the old cell.
    const open = rawBytes(file);
    expect(open.main.includes(sealed), 'the destroyed sealed secret is still in the vault file (open)').toBe(false);
    expect(open.wal?.includes(sealed) ?? false, 'the destroyed sealed secret is still in the WAL (open)').toBe(false);
    expect(open.wal?.length ?? 0, 'the WAL was not truncated after destruction').toBe(0);

    svc.close();
    const closed = rawBytes(file);
    expect(closed.main.includes(sealed), 'the destroyed sealed secret is still in the vault file (closed)').toBe(false);
    expect(closed.wal?.includes(sealed) ?? false).toBe(false);
    const db = new Database(file, { readonly: true });
    try {
      const row = db.prepare('SELECT state, secret FROM key_versions WHERE key_id = ?').get(k.id) as { state: string; secret: unknown };
      expect(row).toEqual({ state: 'destroyed', secret: null });
      const other = db.prepare('SELECT secret FROM key_versions WHERE key_id = ?').get(keep.id) as { secret: unknown };
      expect(Buffer.isBuffer(other.secret)).toBe(true);
    } finally {
      db.close();
    }
    // The other key is untouched.
    const svc2 = new KeyholdService({ clock: clock.now });
    onTestFinished(() => svc2.close());
    await svc2.call('vault.unlock', { path: file, passphrase: pass });
    expect((await svc2.call('key.reveal', { id: keep.id })).secret === keepSecret).toBe(true);
  });
});

describe('pre-active keys', () => {
  it('a key created with activateAt is pre-active until then, cannot be rotated, and activates by housekeeping', async () => {
    const { svc, clock } = await openVault();
    const t0 = clock.iso();
    const at = plusDays(t0, 2);
    const k = await svc.call('key.create', { name: 'next-quarter', service: 'billing', activateAt: at });
    expect(k.state).toBe('pre-active');
    const s = await show(svc, k.id);
    expect(s.versions[0]).toMatchObject({ state: 'pre-active', activatedAt: at, notAfter: plusDays(at, 365) });
    expect(s.due.status).toBe('inactive');
    // Its secret can be handed out ahead of activation (audited like any reveal).
    expect(parseApiKey((await svc.call('key.reveal', { id: k.id })).secret).keyId).toBe(k.id);
    const before = headSeq(svc);
    await expectCode(() => svc.call('key.rotate', { ids: [k.id] }), 'ILLEGAL_TRANSITION');
    expect(headSeq(svc)).toBe(before);

    clock.advance(DAY_MS);
    expect((await show(svc, k.id)).state).toBe('pre-active');
    clock.advance(DAY_MS);
    const seq = headSeq(svc);
    expect((await show(svc, k.id)).state).toBe('active');
    const activated = (await entriesAfter(svc, seq)).filter((e) => e.action === 'key.activate');
    expect(activated).toEqual([expect.objectContaining({ keyId: k.id, at: clock.iso(), details: expect.objectContaining({ version: 1 }) })]);
    expect((await svc.call('key.rotate', { ids: [k.id] })).rotated).toHaveLength(1);
    expect((await svc.call('audit.verify', {})).ok).toBe(true);
  });

  it('an activateAt in the past makes an active key; a malformed one is refused and nothing is written', async () => {
    const { svc, clock } = await openVault();
    const past = await svc.call('key.create', { name: 'now', service: 'billing', activateAt: plusDays(clock.iso(), -1) });
    expect(past.state).toBe('active');
    const before = headSeq(svc);
    await expectCode(() => svc.call('key.create', { name: 'later', service: 'billing', activateAt: 'next tuesday' }), 'INVALID_INPUT');
    expect(headSeq(svc)).toBe(before);
    expect((await svc.call('key.list', {})).map((x) => x.name)).toEqual(['now']);
  });
});
