/**
 * key.table, the app's paged and columnar key list: its pages, in key id order,
 * hold every key exactly once with what key.list and key.due {all} say of it
 * (the due status under the key's effective policy); the first screenful comes
 * in key.list's order; and a row changed outside Keyhold fails the page
 * (INTEGRITY): no row is shown without its MAC check.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { KeyTable } from '../../shared/contract.js';
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
});
