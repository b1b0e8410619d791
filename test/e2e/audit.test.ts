/**
 * The Audit screen end to end: the built renderer in Chromium over the real
 * core (app.ts), on a vault whose log was written through the core by two
 * actors at two times (a test clock).
 *
 * - the chain's verification and head as the core reports them; paging of
 *   100 entries forward and back; filters by action, actor, key (by name and
 *   by id) and time range, and a reversed range caught at the form; export to
 *   a file chosen in main's save dialog, answered by the test as a user
 *   would: the file exists and holds a header and one line per entry; a
 *   cancelled dialog writes nothing. Screenshots light/dark at 1280/760 with axe.
 * - a log cut off at its end (rows deleted with raw SQL on the closed vault):
 *   the screen says so, and the recovery, with a reason and a confirmation,
 *   is recorded in the log and leaves a chain that verifies.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import { DAY_MS, testClock } from '../helpers/clock.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { App, electronMode, launchBrowser, expectAccessible } from './app.js';

const PASS = 'correct horse battery staple';
const KEYS = 150;

let browser: Browser | null = null;
let tmp: TmpDir;

beforeAll(async () => {
  tmp = makeTmpDir('keyhold-e2e-audit-');
  if (!electronMode()) browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  tmp?.remove();
});

/** A datetime-local value for a time, in this machine's zone (the browser's too). */
function localInput(ms: number): string {
  const d = new Date(ms);
  const p = (x: number): string => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/**
 * 30 days ago alice creates the vault and 150 keys; 10 days ago she reveals
 * key-7 twice and rotates it, and key-3 is revealed from another process
 * (whose `actor` option no longer names the entry: alice, the vault's one
 * operator, is signed in at unlock).
 */
async function makeVault(file: string): Promise<{ key3: string; entries: number }> {
  const now = Date.now();
  const clock = testClock(now - 30 * DAY_MS);
  const alice = new KeyholdService({ clock: clock.now, actor: 'alice' });
  let key3 = '';
  try {
    await alice.call('vault.create', { path: file, passphrase: PASS, kdf: FAST_KDF });
    for (let i = 0; i < KEYS; i++) {
      const k = await alice.call('key.create', { name: `key-${i}`, service: 'payments', environment: 'production' });
      if (i === 3) key3 = k.id;
    }
    clock.set(now - 10 * DAY_MS);
    await alice.call('key.reveal', { id: 'payments/production/key-7' });
    await alice.call('key.reveal', { id: 'payments/production/key-7' });
    await alice.call('key.rotate', { ids: ['payments/production/key-7'] });
  } finally {
    alice.close();
  }
  const bob = new KeyholdService({ clock: clock.now, actor: 'bob' });
  try {
    await bob.call('vault.unlock', { path: file, passphrase: PASS });
    await bob.call('key.reveal', { id: key3 });
    return { key3, entries: (await bob.call('audit.verify', {})).entries };
  } finally {
    bob.close();
  }
}

async function openAudit(app: App): Promise<void> {
  await app.page.getByTestId('nav-audit').click();
  await app.page.waitForSelector('main[data-screen="audit"]');
  await app.page.getByTestId('verify-status').waitFor();
}

/** Waits for a page of the list to show, and returns its rows' sequence numbers and actions. */
async function rows(app: App, page: number, count: number): Promise<Array<{ seq: number; action: string }>> {
  await app.page.locator(`[data-testid="audit-page"][data-page="${page}"][data-count="${count}"]`).waitFor();
  const list = app.page.getByTestId('audit-row');
  const seqs = await list.evaluateAll((els) => els.map((e) => ({
    seq: Number(e.getAttribute('data-seq')),
    action: e.getAttribute('data-action') ?? '',
  })));
  return seqs;
}

async function applyFilter(app: App, f: Readonly<{ key?: string; action?: string; actor?: string; since?: string; until?: string }>) {
  const page = app.page;
  await page.getByTestId('filter-key').fill(f.key ?? '');
  await page.getByTestId('filter-action').selectOption(f.action ?? '');
  await page.getByTestId('filter-actor').fill(f.actor ?? '');
  await page.getByTestId('filter-since').fill(f.since ?? '');
  await page.getByTestId('filter-until').fill(f.until ?? '');
  await page.getByTestId('apply-filters').click();
}

describe('audit screen', () => {
  it('verifies the chain, pages, filters and exports through the save dialog', async () => {
    const vaultPath = path.join(tmp.dir, 'log.db');
    const { key3, entries } = await makeVault(vaultPath);
    expect(entries).toBe(1 + KEYS + 4);
    const app = await App.launch(browser, { vaultPath });
    const page = app.page;
    try {
      await app.waitForScreen('unlock');
      await app.unlock(PASS);
      await app.waitForScreen('keys');
      await openAudit(app);

      // The chain: intact, its entry count and head as the core has them; the full hash is there to copy.
      // Unlocking in the app ends key-7's grace window (it rotated 10 days ago): one key.retire entry more.
      const truth = await app.router!.service.call('audit.verify', {});
      expect(truth.entries).toBe(entries + 1);
      const total = truth.entries;
      expect(await page.getByTestId('verify-status').getAttribute('data-ok')).toBe('true');
      expect(await page.getByTestId('verify-entries').textContent()).toBe(String(total));
      expect(await page.getByTestId('head-hash').getAttribute('data-hash')).toBe(truth.head.hash);
      expect(await page.getByTestId('head-hash').getAttribute('title')).toBe(truth.head.hash);
      expect((await page.getByTestId('head-hash').textContent())?.length).toBeLessThan(20);
      await page.getByTestId('chain').getByRole('button', { name: 'Full hash' }).click();
      expect(await page.getByTestId('head-hash').textContent()).toBe(truth.head.hash);

      // Paging: 100 a page, forward and back.
      const first = await rows(app, 1, 100);
      expect(first[0]).toEqual({ seq: 1, action: 'vault.create' });
      expect(first.at(-1)?.seq).toBe(100);
      expect(await page.getByTestId('prev-page').isDisabled()).toBe(true);
      await page.getByTestId('next-page').click();
      const second = await rows(app, 2, total - 100);
      expect(second.map((r) => r.seq)).toEqual(Array.from({ length: total - 100 }, (_, i) => 101 + i));
      expect(second.at(-1)?.action).toBe('key.retire');
      expect(await page.getByTestId('next-page').isDisabled()).toBe(true);
      await page.getByTestId('prev-page').click();
      expect((await rows(app, 1, 100))[0]?.seq).toBe(1);

      // An entry's details open in place; the subject reads as the key's name.
      await page.getByTestId('expand-entry').nth(1).click();
      await page.locator('.entry-detail').waitFor();
      expect(await page.getByTestId('audit-row').nth(1).locator('.cell-subject').textContent()).toBe('payments/production/key-0');
      expectAccessible('audit', await app.recordMatrix('audit'));

      // Filters: by action, by actor, by key (name or id), by time.
      await applyFilter(app, { action: 'key.reveal' });
      expect((await rows(app, 1, 3)).every((r) => r.action === 'key.reveal')).toBe(true);
      // bob's service unlocked alice's one-operator vault: the entry names the operator signed in, alice (issue 12).
      await applyFilter(app, { action: 'key.reveal', actor: 'alice' });
      expect((await rows(app, 1, 3)).at(-1)).toEqual({ seq: entries, action: 'key.reveal' });
      await applyFilter(app, { key: 'payments/production/key-7' });
      expect((await rows(app, 1, 5)).map((r) => r.action)).toEqual(['key.create', 'key.reveal', 'key.reveal', 'key.rotate', 'key.retire']);
      await applyFilter(app, { key: key3 });
      expect((await rows(app, 1, 2)).map((r) => r.action)).toEqual(['key.create', 'key.reveal']);
      const now = Date.now();
      await applyFilter(app, { since: localInput(now - 15 * DAY_MS) });
      expect((await rows(app, 1, 5)).map((r) => r.seq)).toEqual([entries - 3, entries - 2, entries - 1, entries, total]);
      await applyFilter(app, { until: localInput(now - 15 * DAY_MS) });
      expect((await rows(app, 1, 100))[0]?.seq).toBe(1);
      await page.getByTestId('next-page').click();
      expect((await rows(app, 2, 1 + KEYS - 100)).at(-1)?.seq).toBe(1 + KEYS);
      await applyFilter(app, { action: 'key.destroy' });
      await page.getByTestId('no-entries').waitFor();
      expect(await page.getByTestId('no-entries').textContent()).toMatch(/No entry matches/);
      // A reversed range is a mistake at the form, not an empty log.
      await applyFilter(app, { since: localInput(now - 5 * DAY_MS), until: localInput(now - 15 * DAY_MS) });
      expect(await page.getByTestId('filter-error').textContent()).toMatch(/before/);
      // A key that does not exist is said so, without a terminal hint.
      await applyFilter(app, { key: 'payments/production/nope' });
      await page.getByTestId('error').waitFor();
      expect(await page.getByTestId('error').getAttribute('data-code')).toBe('KEY_NOT_FOUND');
      expect(await page.getByTestId('error').textContent()).not.toMatch(/keyhold |--/);
      await page.getByTestId('clear-filters').click();
      expect((await rows(app, 1, 100))[0]?.seq).toBe(1);

      // Export: the user cancels the save dialog first (nothing written), then chooses a file.
      await app.answerDialog(null);
      await page.getByTestId('export-audit').click();
      await app.waitForAnnouncement(/Export cancelled/);
      expect(await page.getByTestId('export-result').count()).toBe(0);
      const out = path.join(tmp.dir, 'removable', 'keyhold-audit.jsonl');
      fs.mkdirSync(path.dirname(out), { recursive: true });
      await app.answerDialog(out);
      await page.getByTestId('export-audit').click();
      const result = page.getByTestId('export-result');
      await result.waitFor();
      expect(app.dialogs.requests.at(-1)).toMatchObject({ purpose: 'audit' });
      expect(app.dialogs.requests.at(-1)?.defaultName).toMatch(/^keyhold-audit-\d{4}-\d{2}-\d{2}\.jsonl$/);
      expect(await result.getAttribute('data-entries')).toBe(String(total));
      expect(await result.getAttribute('data-path')).toBe(out);
      expect(await result.textContent()).toContain(out);
      expect(await page.getByTestId('export-head-hash').getAttribute('data-hash')).toBe(truth.head.hash);
      const lines = fs.readFileSync(out, 'utf8').split('\n').filter((l) => l.length > 0);
      expect(lines).toHaveLength(total + 1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ entries: total, head: { seq: truth.head.seq, hash: truth.head.hash } });
      expect((JSON.parse(lines.at(-1)!) as { seq: number }).seq).toBe(total);
      expectAccessible('audit-exported', await app.record('audit-exported'));
    } finally {
      await app.close();
    }
  }, 180_000);

  it('a log cut off at its end: the screen says so and the recovery, confirmed with a reason, is recorded', async () => {
    const vaultPath = path.join(tmp.dir, 'cut.db');
    const svc = new KeyholdService({ actor: 'alice' });
    try {
      await svc.call('vault.create', { path: vaultPath, passphrase: PASS, kdf: FAST_KDF });
      for (let i = 0; i < 5; i++) await svc.call('key.create', { name: `k${i}`, service: 'billing' });
    } finally {
      svc.close();
    }
    // Entries 5 and 6 cut off the end, as a bad restore or a disk fault would.
    const db = new Database(vaultPath);
    try {
      expect(db.prepare('DELETE FROM audit_log WHERE seq > ?').run(4).changes).toBe(2);
    } finally {
      db.close();
    }

    const app = await App.launch(browser, { vaultPath });
    const page = app.page;
    try {
      await app.waitForScreen('unlock');
      await app.unlock(PASS);
      await app.waitForScreen('keys');
      await openAudit(app);
      expect(await page.getByTestId('verify-status').getAttribute('data-ok')).toBe('false');
      const broken = (await page.getByTestId('first-broken').textContent()) ?? '';
      expect(broken).toMatch(/Entries 5 to 6 are missing/);
      expect(broken).not.toMatch(/keyhold|`/);
      const panel = page.getByTestId('truncated');
      await panel.waitFor();
      expect(await panel.textContent()).toMatch(/Entries 5 to 6 are missing/);
      // The reason is required before anything is asked.
      await page.getByTestId('recover').click();
      expect(await page.getByTestId('recover-reason').getAttribute('aria-invalid')).toBe('true');
      expect(await page.getByTestId('confirm-recover-dialog').count()).toBe(0);
      await page.getByTestId('recover-reason').fill('restored from a backup missing its last two entries');
      await page.getByTestId('recover').click();
      await page.getByTestId('confirm-recover-dialog').waitFor();
      expectAccessible('audit-truncated', await app.record('audit-truncated'));
      // Cancel first: nothing happens.
      await page.getByTestId('confirm-recover-dialog').getByRole('button', { name: 'Cancel' }).click();
      expect((await app.router!.service.call('audit.verify', {})).ok).toBe(false);
      await page.getByTestId('recover').click();
      await page.getByTestId('confirm-recover').click();

      await page.locator('[data-testid="verify-status"][data-ok="true"]').waitFor();
      expect(await page.getByTestId('truncated').count()).toBe(0);
      const report = await app.router!.service.call('audit.verify', {});
      expect(report.ok).toBe(true);
      const recovered = (await app.router!.service.call('audit.list', { action: 'audit.recover' })).entries;
      expect(recovered).toHaveLength(1);
      expect(recovered[0]?.details).toMatchObject({ reason: 'restored from a backup missing its last two entries' });
      // The list shows the recovery entry, and changes work again.
      await applyFilter(app, { action: 'audit.recover' });
      expect((await rows(app, 1, 1))[0]?.action).toBe('audit.recover');
      await app.router!.service.call('key.create', { name: 'after', service: 'billing' });
    } finally {
      await app.close();
    }
  }, 120_000);
});
