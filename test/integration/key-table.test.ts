/**
 * key.table, the app's paged and columnar key list: its pages, in key id order,
 * hold every key exactly once with what key.list and key.due {all} say of it
 * (the due status under the key's effective policy); the first screenful comes
 * in key.list's order; and a row changed outside Keyhold fails the page
 * (INTEGRITY): no row is shown without its MAC check, also at 100,000 keys,
 * where a damaged row anywhere in the vault fails exactly the pages that
 * hold it.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { KeyCreateSpec, KeyTable } from '../../shared/contract.js';
import { createKeys } from '../../electron/core/keys/keys.js';
import { KeyholdService } from '../../electron/core/service.js';
import { DAY_MS, testClock } from '../helpers/clock.js';
import { FAST_KDF, tmpDir } from '../helpers/tmp.js';
import { expectCode } from './helpers/harness.js';

const PASS = 'correct horse battery staple';

function rows(t: KeyTable): Array<Record<string, unknown>> {
  const at = (i: number): string | null => (i < 0 ? null : (t.dict[i] as string));
  return t.id.map((id, i) => ({
    id, name: t.name[i], service: at(t.service[i]!), environment: at(t.environment[i]!), scopes: JSON.parse(at(t.scopes[i]!)!) as unknown,
    owner: at(t.owner[i]!), state: at(t.state[i]!), currentVersion: t.currentVersion[i], createdAt: at(t.createdAt[i]!),
    due: at(t.due[i]!), rotateAt: at(t.rotateAt[i]!),
  }));
}

describe('key.table', () => {
  it('pages through every key once, in id order, with key.list\'s fields and key.due\'s status', async () => {
    const clock = testClock();
    const vaultPath = path.join(tmpDir('keyhold-key-table-'), 'vault.db');
    const svc = new KeyholdService({ clock: clock.now });
    try {
      await svc.call('vault.create', { path: vaultPath, passphrase: PASS, kdf: FAST_KDF });
      const spec = (i: number) => ({ name: `k${String(i).padStart(3, '0')}`, service: ['pay', 'auth', 'mail'][i % 3]!,
        environment: i % 2 ? 'staging' : 'production', scopes: i % 5 ? ['read'] : ['admin:*', 'read'], owner: i % 4 ? '' : 'alice' });
      for (let i = 0; i < 40; i++) await svc.call('key.create', spec(i));
      clock.advance(80 * DAY_MS); // the first 40 fall due soon (90-day rotation, 14-day warning)
      for (let i = 40; i < 70; i++) await svc.call('key.create', spec(i));
      clock.advance(20 * DAY_MS); // the first 40 are overdue, the others fine
      await svc.call('policy.set', { scope: { service: 'mail' }, rotation: '10d', warn: '2d', grace: '1d' }); // mail keys of the second batch overdue too
      const first = (await svc.call('key.list', {}))[0]!;
      await svc.call('key.revoke', { id: first.id, reason: 'retired' }); // inactive

      const pages: KeyTable[] = [];
      let after: string | undefined;
      do {
        const page = await svc.call('key.table', { order: 'id', limit: 16, ...(after ? { after } : {}) });
        pages.push(page);
        after = page.next ?? undefined;
      } while (after);
      expect(pages.map((p) => p.id.length)).toEqual([16, 16, 16, 16, 6]);
      expect(pages[0]!.total).toBe(70);
      expect(pages.slice(1).every((p) => p.total === null)).toBe(true);
      const got = pages.flatMap(rows);
      const ids = got.map((r) => r.id as string);
      expect(ids).toEqual([...ids].sort());
      expect(new Set(ids).size).toBe(70);

      const due = new Map((await svc.call('key.due', { all: true })).map((d) => [d.id, d]));
      const list = await svc.call('key.list', {});
      for (const k of list) {
        const r = got.find((x) => x.id === k.id)!;
        const d = due.get(k.id)!;
        expect(r).toEqual({ ...k, due: d.status, rotateAt: d.rotateAt });
      }
      const count = (s: string): number => got.filter((r) => r.due === s).length;
      expect([count('overdue'), count('due-soon'), count('ok'), count('inactive')]).toEqual([39 + 10, 0, 20, 1]);

      // Ranges of ids read side by side (as the app does) give the same rows: [start, 'V') and ['V', end), in pages of 16.
      const ranged: string[] = [];
      for (const [from, to] of [[undefined, 'V'], ['V', undefined]] as const) {
        let next: string | undefined = from;
        do {
          const page = await svc.call('key.table', { order: 'id', limit: 16, ...(next ? { after: next } : {}), ...(to ? { before: to } : {}) });
          expect(page.total).toBeNull();
          ranged.push(...page.id);
          next = page.next ?? undefined;
        } while (next);
      }
      expect(ranged).toEqual(ids);

      // The first screenful: key.list's order (service, environment, name), and no next page.
      const screen = await svc.call('key.table', { order: 'list', limit: 10 });
      expect(screen.next).toBeNull();
      expect(screen.total).toBe(70);
      expect(screen.id).toEqual(list.slice(0, 10).map((k) => k.id));
    } finally {
      svc.close();
    }
  });

  it('fails a page with INTEGRITY when a row was changed outside Keyhold', async () => {
    const vaultPath = path.join(tmpDir('keyhold-key-table-'), 'vault.db');
    const svc = new KeyholdService();
    await svc.call('vault.create', { path: vaultPath, passphrase: PASS, kdf: FAST_KDF });
    for (let i = 0; i < 5; i++) await svc.call('key.create', { name: `k${i}`, service: 'pay' });
    const victim = (await svc.call('key.list', {}))[3]!;
    svc.close();
    const db = new Database(vaultPath);
    db.prepare("UPDATE key_versions SET state = 'active', not_after = '2999-01-01T00:00:00.000Z' WHERE key_id = ?").run(victim.id);
    db.close();
    const again = new KeyholdService();
    try {
      await again.call('vault.unlock', { path: vaultPath, passphrase: PASS });
      await expectCode(() => again.call('key.table', { order: 'id', limit: 100 }), 'INTEGRITY');
      await expectCode(() => again.call('key.table', { order: 'list', limit: 100 }), 'INTEGRITY');
    } finally {
      again.close();
    }
  });

  it('at 100,000 keys, refuses exactly the pages that hold a row changed or lost outside Keyhold', async () => {
    const N = 100_000;
    const vaultPath = path.join(tmpDir('keyhold-key-table-'), 'vault.db');
    const svc = new KeyholdService();
    await svc.call('vault.create', { path: vaultPath, passphrase: PASS, kdf: FAST_KDF });
    const specs: KeyCreateSpec[] = Array.from({ length: N }, (_, i) => ({
      name: `key-${i}`, service: ['pay', 'auth', 'mail'][i % 3]!, environment: 'production', scopes: ['read'], owner: '', notes: '',
    }));
    createKeys(svc.vault, specs);
    const before = await svc.call('key.table', { order: 'id', limit: N });
    expect(before.id).toHaveLength(N);
    const firstScreen = await svc.call('key.table', { order: 'list', limit: 100 });
    svc.close();

    // Three keys in the middle of the id order, none in the first screenful: a version's dates changed,
    // a key's owner changed, and a key's only version deleted.
    const PAGE = 10_000;
    const onScreen = new Set(firstScreen.id);
    const pick = (near: number): number => {
      let i = near;
      while (onScreen.has(before.id[i]!)) i++;
      return i;
    };
    const victims = [pick(30_500), pick(50_500), pick(70_500)];
    const db = new Database(vaultPath);
    const [a, b, c] = victims.map((i) => before.id[i]!);
    expect(db.prepare("UPDATE key_versions SET not_after = '2999-01-01T00:00:00.000Z' WHERE key_id = ?").run(a).changes).toBe(1);
    expect(db.prepare("UPDATE keys SET owner = 'mallory' WHERE id = ?").run(b).changes).toBe(1);
    expect(db.prepare('DELETE FROM key_versions WHERE key_id = ?').run(c).changes).toBe(1);
    db.close();

    const again = new KeyholdService();
    try {
      await again.call('vault.unlock', { path: vaultPath, passphrase: PASS });
      await expectCode(() => again.call('key.table', { order: 'id', limit: N }), 'INTEGRITY');
      await expectCode(() => again.call('key.table', { order: 'list', limit: N }), 'INTEGRITY');
      // The first screenful holds none of them and is still served.
      expect((await again.call('key.table', { order: 'list', limit: 100 })).id).toEqual(firstScreen.id);
      // Pages of 10,000 in id order: the three that hold a damaged row fail, every other one is whole.
      const damaged = new Set(victims.map((i) => Math.floor(i / PAGE)));
      expect(damaged.size).toBe(3);
      for (let p = 0; p < N / PAGE; p++) {
        const query = { order: 'id' as const, limit: PAGE, ...(p > 0 ? { after: before.id[p * PAGE - 1]! } : {}) };
        if (damaged.has(p)) {
          await expectCode(() => again.call('key.table', query), 'INTEGRITY');
        } else {
          const page = await again.call('key.table', query);
          expect(page.id).toEqual(before.id.slice(p * PAGE, (p + 1) * PAGE));
        }
      }
    } finally {
      again.close();
    }
  }, 120_000);
});
