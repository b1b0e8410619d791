/**
 * A write-protected vault (a backup on read-only media, a 0444 file, a
 * read-only folder) is opened read-only: reading commands work, every change
 * and every reveal is refused with VAULT_READ_ONLY, housekeeping does not
 * run, and nothing is written anywhere (no -wal or -shm beside it).
 *
 * Tests run as root, which file modes do not stop, so each protection is
 * made real by the kernel: a read-only bind mount in a private mount
 * namespace (unshare), an immutable file (chattr +i), and mode bits with the
 * CLI run as `nobody` (setpriv). A protection this machine cannot make is
 * skipped, and says so in the test's name.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import { BIN, cleanEnv, ROOT, type Run } from '../cli/run.js';
import { DAY_MS, testClock } from '../helpers/clock.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { expectCode, newPassphrase } from './helpers/harness.js';

const isRoot = process.getuid?.() === 0;

function sh(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

/** Can this machine make a folder read-only in a private mount namespace? */
function probeMount(): boolean {
  const t = makeTmpDir('keyhold-ro-probe-');
  try {
    return sh('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
      'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && ! touch "$1/probe" 2>/dev/null', 'sh', t.dir]);
  } finally {
    t.remove();
  }
}

/** Can this machine make a file immutable (chattr +i), so that even root cannot write it? */
function probeChattr(): boolean {
  const t = makeTmpDir('keyhold-ro-probe-');
  const f = path.join(t.dir, 'f');
  fs.writeFileSync(f, 'x');
  try {
    if (!sh('chattr', ['+i', f])) return false;
    try {
      fs.appendFileSync(f, 'y');
      return false;
    } catch {
      return true;
    } finally {
      sh('chattr', ['-i', f]);
    }
  } finally {
    t.remove();
  }
}

/** Can the CLI run as an unprivileged user, for whom mode bits count? */
function probeNobody(): boolean {
  if (!isRoot) return true;
  return spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e',
    'process.exit(process.getuid() === 65534 ? 0 : 1)'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

const CAN_MOUNT = probeMount();
const CAN_CHATTR = probeChattr();
const CAN_NOBODY = probeNobody();
const skipped = (ok: boolean, why: string): string => (ok ? '' : ` (SKIPPED here: ${why})`);

/** Runs the real CLI with a prefix (unshare, setpriv) and the passphrase in the environment. */
function runWith(prefix: string[], args: string[], pass: string): Run {
  const argv = [...prefix, process.execPath, BIN, ...args];
  const r = spawnSync(argv[0] as string, argv.slice(1), {
    env: cleanEnv({ KEYHOLD_PASSPHRASE: pass }), encoding: 'utf8', cwd: ROOT, timeout: 60_000, input: '',
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The CLI in a private mount namespace where `dir` is a read-only bind mount (nothing outlives the command). */
const inReadOnlyMount = (dir: string) => (args: string[], pass: string): Run =>
  runWith(['unshare', '--mount', '--propagation', 'private', 'sh', '-c',
    'd="$1"; shift; mount --bind "$d" "$d" && mount -o remount,bind,ro "$d" && exec "$@"', 'sh', dir], args, pass);
const asNobody = (args: string[], pass: string): Run =>
  runWith(isRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [], args, pass);
const plain = (args: string[], pass: string): Run => runWith([], args, pass);

type Fixture = { dir: string; file: string; pass: string; ids: string[]; retiring: string };

let tmp: TmpDir;
let n = 0;

beforeAll(() => {
  tmp = makeTmpDir('keyhold-readonly-');
  // Folders a process running as nobody can enter.
  fs.chmodSync(tmp.dir, 0o755);
});
afterAll(() => tmp?.remove());

/**
 * A closed vault in a folder of its own, made 30 days ago: two keys, one
 * rotated (its version 1 retiring, its grace over since), one recipient-free
 * policy. Housekeeping would revoke that version at the next writable open.
 */
async function fixture(): Promise<Fixture> {
  const dir = path.join(tmp.dir, `v${n++}`);
  fs.mkdirSync(dir, { mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  const file = path.join(dir, 'backup.khv');
  const pass = newPassphrase();
  const clock = testClock(Date.now() - 30 * DAY_MS);
  const svc = new KeyholdService({ clock: clock.now, actor: 'alice' });
  try {
    await svc.call('vault.create', { path: file, passphrase: pass, kdf: FAST_KDF });
    const a = await svc.call('key.create', { name: 'api', service: 'billing' });
    const b = await svc.call('key.create', { name: 'hook', service: 'billing' });
    clock.advance(DAY_MS);
    await svc.call('key.rotate', { ids: [a.id] });
    await svc.call('policy.set', { scope: { service: 'billing' }, rotation: '60d' });
    return { dir, file, pass, ids: [a.id, b.id], retiring: a.id };
  } finally {
    svc.close();
  }
}

/** Every file in the vault's folder with its bytes, to prove nothing was written. */
function folderState(dir: string): string {
  return JSON.stringify(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f)).toString('base64')]));
}

function expectReadOnlyRefusal(r: Run, what: string): void {
  expect(r.code, `${what}: ${r.stderr}`).toBe(7);
  expect(r.stderr, what).toMatch(/read-only/);
  expect(r.stderr, what).toMatch(/writable folder/);
}

/**
 * What every protection must give: reading commands work (without running
 * housekeeping), changes and reveals are refused with VAULT_READ_ONLY (exit
 * 7), and not one byte in the folder changes.
 */
function checkReadOnly(f: Fixture, run: (args: string[], pass: string) => Run, full: boolean): void {
  const before = folderState(f.dir);
  const v = (...args: string[]) => run(['--vault', f.file, ...args], f.pass);

  const info = v('info');
  expect(info.code, info.stderr).toBe(0);
  expect(info.stderr).toMatch(/opened .* read-only/);
  const list = v('key', 'list');
  expect(list.code, list.stderr).toBe(0);
  for (const id of f.ids) expect(list.stdout).toContain(id);
  const verify = v('--json', 'audit', 'verify');
  expect(verify.code, verify.stderr).toBe(0);
  expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, firstBroken: null });
  // Housekeeping did not run: the version whose grace is over is still retiring.
  const show = v('--json', 'key', 'show', f.retiring);
  expect(show.code, show.stderr).toBe(0);
  const versions = (JSON.parse(show.stdout) as { versions: { version: number; state: string }[] }).versions;
  expect(versions.find((x) => x.version === 1)?.state).toBe('retiring');

  expectReadOnlyRefusal(v('key', 'create', '--name', 'new', '--service', 'billing'), 'key create');
  expectReadOnlyRefusal(v('key', 'reveal', f.ids[1] as string), 'key reveal');
  if (full) {
    for (const args of [['slot', 'list'], ['key', 'due', '--all'], ['audit', 'list'], ['recipient', 'list'], ['signer', 'list'],
      ['policy', 'show', '--service', 'billing']]) {
      const r = v(...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    expectReadOnlyRefusal(v('key', 'rotate', f.ids[1] as string), 'key rotate');
    expectReadOnlyRefusal(v('key', 'revoke', f.ids[1] as string, '--reason', 'compromised', '--yes'), 'key revoke');
    expectReadOnlyRefusal(v('policy', 'set', '--global', '--rotation', '30d'), 'policy set');
    expectReadOnlyRefusal(v('signer', 'threshold', '1'), 'signer threshold');
    const out = path.join(tmp.dir, `export-${n++}.jsonl`);
    const exp = v('audit', 'export', '--out', out);
    expect(exp.code, exp.stderr).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toContain('"action":"key.rotate"');
  }
  expect(folderState(f.dir), 'a read-only open wrote in the vault folder').toBe(before);
}

describe('a write-protected vault', () => {
  it(`on a read-only mount: reads work, changes and reveals are refused, housekeeping does not run, nothing is written${
    skipped(CAN_MOUNT, 'no read-only bind mount in a private mount namespace')}`, async (ctx) => {
    if (!CAN_MOUNT) ctx.skip();
    const f = await fixture();
    checkReadOnly(f, inReadOnlyMount(f.dir), true);
    // The same vault writable: housekeeping runs at once (the fixture is meaningful).
    const show = plain(['--json', '--vault', f.file, 'key', 'show', f.retiring], f.pass);
    expect((JSON.parse(show.stdout) as { versions: { version: number; state: string }[] }).versions
      .find((x) => x.version === 1)?.state).toBe('revoked');
  });

  it(`an immutable file (chattr +i) in a writable folder, even for root${
    skipped(CAN_CHATTR, 'chattr +i is not supported on this file system')}`, async (ctx) => {
    if (!CAN_CHATTR) ctx.skip();
    const f = await fixture();
    expect(sh('chattr', ['+i', f.file])).toBe(true);
    onTestFinished(() => {
      sh('chattr', ['-i', f.file]);
    });
    checkReadOnly(f, plain, false);

    // In process: the vault says it is read-only, and the transaction backstop refuses too.
    const svc = new KeyholdService();
    onTestFinished(() => svc.close());
    await svc.call('vault.unlock', { path: f.file, passphrase: f.pass });
    expect(svc.vault.readOnly).toBe(true);
    expect((await svc.call('key.list', {})).length).toBe(2);
    await expectCode(() => svc.call('key.revoke', { id: f.ids[0] as string, reason: 'compromised' }), 'VAULT_READ_ONLY');
    await expectCode(() => svc.call('slot.addPassphrase', { passphrase: newPassphrase(), kdf: FAST_KDF }), 'VAULT_READ_ONLY');
    await expectCode(() => svc.vault.transaction(() => svc.vault.audit({ action: 'test.note', subject: 'x' })), 'VAULT_READ_ONLY');
    svc.close();
    expect(fs.readdirSync(f.dir)).toEqual(['backup.khv']);
  });

  it(`a file of mode 0444 in a folder anyone may write, the CLI run as nobody: no -wal or -shm is left beside it${
    skipped(CAN_NOBODY, 'cannot run a process as nobody (setpriv)')}`, async (ctx) => {
    if (!CAN_NOBODY) ctx.skip();
    const f = await fixture();
    fs.chmodSync(f.file, 0o444);
    fs.chmodSync(f.dir, 0o777);
    checkReadOnly(f, asNobody, false);
  });

  it(`a read-only folder (mode 0555) with a file nobody may write, the CLI run as nobody${
    skipped(CAN_NOBODY, 'cannot run a process as nobody (setpriv)')}`, async (ctx) => {
    if (!CAN_NOBODY) ctx.skip();
    const f = await fixture();
    fs.chmodSync(f.file, 0o666);
    fs.chmodSync(f.dir, 0o555);
    onTestFinished(() => fs.chmodSync(f.dir, 0o755));
    checkReadOnly(f, asNobody, false);
  });

  it(`with a write-ahead log holding changes not in the file (a Keyhold killed with the vault open) it refuses clearly${
    skipped(CAN_MOUNT, 'no read-only bind mount in a private mount namespace')}`, async (ctx) => {
    if (!CAN_MOUNT) ctx.skip();
    const f = await fixture();
    // A committed change still in the -wal: copy the file and its log while a connection holds them.
    const live = path.join(tmp.dir, `live-${n++}.khv`);
    fs.copyFileSync(f.file, live);
    const db = new Database(live);
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('UPDATE vault_meta SET id = id');
    fs.copyFileSync(live, f.file);
    fs.copyFileSync(`${live}-wal`, `${f.file}-wal`);
    db.close();
    expect(fs.statSync(`${f.file}-wal`).size).toBeGreaterThan(0);
    const before = folderState(f.dir);
    const r = inReadOnlyMount(f.dir)(['--vault', f.file, 'key', 'list'], f.pass);
    expect(r.code, r.stderr).toBe(7);
    expect(r.stderr).toMatch(/write-ahead log/);
    expect(r.stderr).toMatch(/copy the vault with its -wal file to a writable folder/);
    expect(folderState(f.dir)).toBe(before);
    // Writable, the same files open, and the log is applied.
    expect(plain(['--vault', f.file, 'key', 'list'], f.pass).code).toBe(0);
  });
});
