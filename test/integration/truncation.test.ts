/**
 * An audit log cut off at the end, on real vault files: entries deleted from
 * the tail with a raw SQLite connection on a closed vault (as an attacker, a
 * bad restore or a disk fault would). The vault fails closed: every change
 * and every reveal is refused with AUDIT_TRUNCATED while reading commands and
 * `audit verify` work, until `keyhold audit recover` (confirmed on a terminal
 * or with --yes) records the loss in an audited entry and moves the head back.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import type { AuditEntry, AuditVerifyReport } from '../../shared/contract.js';
import { keyhold, keyholdOnTty } from '../cli/run.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { copyVault, expectCode, newPassphrase, snapshot, unchangedSince } from './helpers/harness.js';

let tmp: TmpDir;
let base: string;
let pass: string;
let ids: string[];
let n: number;

beforeAll(async () => {
  tmp = makeTmpDir('keyhold-truncation-');
  base = path.join(tmp.dir, 'base.khv');
  pass = newPassphrase();
  const svc = new KeyholdService({ actor: 'alice' });
  try {
    await svc.call('vault.create', { path: base, passphrase: pass, kdf: FAST_KDF });
    ids = [];
    for (let i = 0; i < 3; i++) ids.push((await svc.call('key.create', { name: `k${i}`, service: 'billing' })).id);
    await svc.call('key.reveal', { id: ids[0] as string });
    await svc.call('key.rotate', { ids: [ids[1] as string] });
    await svc.call('policy.set', { scope: { global: true }, rotation: '60d' });
    n = svc.vault.auditHead.seq;
  } finally {
    svc.close();
  }
  expect(n).toBe(7);
});

afterAll(() => tmp?.remove());

let counter = 0;
/** A copy of the base vault whose audit entries after `keep` were deleted by raw SQL (the vault closed). */
function cutAfter(keep: number, extra?: (db: Database.Database) => void): string {
  const file = path.join(tmp.dir, `cut${counter++}.khv`);
  copyVault(base, file);
  const db = new Database(file);
  try {
    expect(db.prepare('DELETE FROM audit_log WHERE seq > ?').run(keep).changes).toBe(n - keep);
    extra?.(db);
  } finally {
    db.close();
  }
  return file;
}

async function opened(file: string): Promise<KeyholdService> {
  const svc = new KeyholdService({ actor: 'bob' });
  onTestFinished(() => svc.close());
  await svc.call('vault.unlock', { path: file, passphrase: pass });
  return svc;
}

const env = (): Record<string, string> => ({ KEYHOLD_PASSPHRASE: pass });

function json<T>(r: { code: number; stdout: string; stderr: string }): T {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

describe('a log cut off at the end', () => {
  it('refuses every change and every reveal with AUDIT_TRUNCATED; reads and audit verify work; the file is unchanged', async () => {
    const file = cutAfter(n - 2);
    const before = snapshot(file);
    const svc = await opened(file);

    const report = await svc.call('audit.verify', {});
    expect(report).toMatchObject({ ok: false, entries: n - 2, head: { seq: n } });
    expect(report.firstBroken?.seq).toBe(n - 1);
    expect(report.firstBroken?.reason).toMatch(/missing \(the log was cut short/);

    const id = ids[0] as string;
    const e = await expectCode(() => svc.call('key.create', { name: 'new', service: 'billing' }), 'AUDIT_TRUNCATED');
    expect(e.message).toContain(`entries ${n - 1} to ${n} were cut off`);
    expect(e.hint).toMatch(/audit recover/);
    await expectCode(() => svc.call('key.reveal', { id }), 'AUDIT_TRUNCATED');
    await expectCode(() => svc.call('key.rotate', { ids: [id] }), 'AUDIT_TRUNCATED');
    await expectCode(() => svc.call('key.revoke', { id, reason: 'compromised' }), 'AUDIT_TRUNCATED');
    await expectCode(() => svc.call('key.destroy', { id }), 'AUDIT_TRUNCATED');
    await expectCode(() => svc.call('policy.set', { scope: { global: true }, rotation: '30d' }), 'AUDIT_TRUNCATED');
    await expectCode(() => svc.call('policy.clear', { scope: { global: true } }), 'AUDIT_TRUNCATED');
    await expectCode(() => svc.call('slot.addPassphrase', { passphrase: newPassphrase(), kdf: FAST_KDF }), 'AUDIT_TRUNCATED');
    await expectCode(() => svc.call('slot.remove', { id: 1 }), 'AUDIT_TRUNCATED');
    // The backstop under the service: no transaction runs on such a vault.
    await expectCode(() => svc.vault.transaction(() => svc.vault.audit({ action: 'test.note', subject: 'x' })), 'AUDIT_TRUNCATED');

    expect((await svc.call('key.list', {})).map((k) => k.id).sort()).toEqual([...ids].sort());
    expect((await svc.call('key.show', { id: ids[1] as string })).currentVersion).toBe(2);
    expect((await svc.call('audit.list', { limit: 100 })).entries).toHaveLength(n - 2);
    expect((await svc.call('vault.info', {})).counts.keys).toBe(3);
    await svc.call('key.due', { all: true });
    await svc.call('policy.show', { scope: { global: true } });
    svc.close();
    expect(unchangedSince(file, before), 'a refused change modified the vault file').toBe(true);
  });

  it('through the CLI: AUDIT_TRUNCATED is exit 5; `audit verify` reports the cut; `key list` works', () => {
    const file = cutAfter(n - 1);
    const r = keyhold(['--vault', file, 'key', 'revoke', ids[2] as string, '--reason', 'compromised', '--yes'], env());
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/AUDIT_TRUNCATED|cut off/);
    expect(r.stderr).toMatch(/keyhold audit recover/);
    const v = keyhold(['--json', '--vault', file, 'audit', 'verify'], env());
    expect(v.code).toBe(5);
    expect((JSON.parse(v.stdout) as AuditVerifyReport).firstBroken?.seq).toBe(n);
    expect(json<{ keys: unknown[] }>(keyhold(['--json', '--vault', file, 'key', 'list'], env())).keys).toHaveLength(ids.length);
  });

  it('`audit recover` needs confirmation: without a terminal and --yes it changes nothing (CONFIRMATION_REQUIRED)', () => {
    const file = cutAfter(n - 2);
    const before = snapshot(file);
    const r = keyhold(['--vault', file, 'audit', 'recover', '--reason', 'disk fault'], env());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/confirmation/i);
    expect(unchangedSince(file, before)).toBe(true);
  });

  it('`audit recover --yes` records the loss (old head, new head, reason), moves the head back, and changes work again', () => {
    const file = cutAfter(n - 2);
    const headBefore = new Database(file, { readonly: true });
    const oldHash = (headBefore.prepare('SELECT hash FROM audit_head').get() as { hash: Buffer }).hash.toString('hex');
    const lastHash = (headBefore.prepare('SELECT hash FROM audit_log WHERE seq = ?').get(n - 2) as { hash: Buffer }).hash.toString('hex');
    headBefore.close();

    const r = json<{ oldHead: { seq: number; hash: string }; newHead: { seq: number; hash: string };
      missing: { from: number; to: number }; head: { seq: number; hash: string } }>(
      keyhold(['--json', '--vault', file, 'audit', 'recover', '--yes', '--reason', 'restored from a partial copy'], env()));
    expect(r.oldHead).toEqual({ seq: n, hash: oldHash });
    expect(r.newHead).toEqual({ seq: n - 2, hash: lastHash });
    expect(r.missing).toEqual({ from: n - 1, to: n });
    expect(r.head.seq).toBe(n - 1);

    const verify = keyhold(['--json', '--vault', file, 'audit', 'verify'], env());
    expect(verify.code, verify.stdout).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, entries: n - 1, head: r.head });
    const list = json<{ entries: AuditEntry[] }>(keyhold(['--json', '--vault', file, 'audit', 'list', '--action', 'audit.recover'], env()));
    expect(list.entries).toHaveLength(1);
    expect(list.entries[0]).toMatchObject({
      seq: n - 1, actor: 'alice', action: 'audit.recover', subject: 'audit', prevHash: lastHash,
      details: { reason: 'restored from a partial copy', oldHead: { seq: n, hash: oldHash }, newHead: { seq: n - 2, hash: lastHash },
        missing: { from: n - 1, to: n } },
    });
    // Changes and reveals work again, and the chain stays whole.
    expect(keyhold(['--vault', file, 'key', 'reveal', ids[0] as string], env()).code).toBe(0);
    expect(keyhold(['--vault', file, 'key', 'create', '--name', 'after', '--service', 'billing'], env()).code).toBe(0);
    expect(JSON.parse(keyhold(['--json', '--vault', file, 'audit', 'verify'], env()).stdout)).toMatchObject({ ok: true, entries: n + 1 });
    // Nothing left to recover.
    const again = keyhold(['--vault', file, 'audit', 'recover', '--yes', '--reason', 'again'], env());
    expect(again.code).toBe(7);
    expect(again.stderr).toMatch(/nothing to recover/);
  });

  it('on a terminal it asks; "no" changes nothing, "yes" recovers', async () => {
    const file = cutAfter(n - 3);
    const before = snapshot(file);
    const no = await keyholdOnTty(['--vault', file, 'audit', 'recover', '--reason', 'tape restore'],
      [{ prompt: '[y/N] ', reply: 'no' }], env());
    expect(no.code, no.stdout).toBe(2);
    expect(no.stdout).toMatch(new RegExp(`lost entries ${n - 2} to ${n}`));
    expect(unchangedSince(file, before)).toBe(true);
    const yes = await keyholdOnTty(['--vault', file, 'audit', 'recover', '--reason', 'tape restore'],
      [{ prompt: '[y/N] ', reply: 'yes' }], env());
    expect(yes.code, yes.stdout).toBe(0);
    expect(yes.stdout).toMatch(new RegExp(`entries ${n - 2} to ${n} are recorded as lost`));
    expect(JSON.parse(keyhold(['--json', '--vault', file, 'audit', 'verify'], env()).stdout)).toMatchObject({ ok: true });
  });

  it('every entry cut: the recovery entry links to the genesis value and the log verifies', async () => {
    const file = cutAfter(0);
    const svc = await opened(file);
    await expectCode(() => svc.call('key.reveal', { id: ids[0] as string }), 'AUDIT_TRUNCATED');
    const r = await svc.call('audit.recover', { reason: 'log table emptied' });
    expect(r.newHead.seq).toBe(0);
    expect(r.missing).toEqual({ from: 1, to: n });
    expect(await svc.call('audit.verify', {})).toMatchObject({ ok: true, entries: 1, head: { seq: 1 } });
  });

  it('refuses to recover damage that is more than a cut end (INTEGRITY), and a log with nothing missing (NOTHING_TO_RECOVER, it was INVALID_INPUT though no input was wrong)', async () => {
    const damaged = cutAfter(n - 2, (db) => db.prepare("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3").run());
    const before = snapshot(damaged);
    const svc = await opened(damaged);
    await expectCode(() => svc.call('key.create', { name: 'x', service: 'billing' }), 'AUDIT_TRUNCATED');
    const e = await expectCode(() => svc.call('audit.recover', { reason: 'try' }), 'INTEGRITY');
    expect(e.message).toMatch(/entry 3 was altered/);
    svc.close();
    expect(unchangedSince(damaged, before)).toBe(true);

    const intact = path.join(tmp.dir, 'intact.khv');
    copyVault(base, intact);
    const ok = await opened(intact);
    const none = await expectCode(() => ok.call('audit.recover', { reason: 'nothing' }), 'NOTHING_TO_RECOVER');
    expect(none.message).toMatch(/^audit: the log ends at its head \(entry \d+\); there is nothing to recover$/);
    ok.close();
    expect(fs.existsSync(`${intact}-wal`)).toBe(false);
  });
});
