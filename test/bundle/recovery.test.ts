/**
 * Recovery of what an interrupted `keyhold bundle export` or `bundle resend`
 * leaves (docs/bundle-export.md, Recovery). A real CLI child is stopped at a
 * named point (the KEYHOLD_TEST_PAUSE hook, honoured only with NODE_ENV=test)
 * and killed there with SIGKILL:
 *
 * - after the commit (bundle N recorded, its file still under the temporary
 *   name): the next command publishes it to its intended name, so the next
 *   export is N+1 chained to a bundle that exists (no gap on the servers);
 *   when that name is taken meanwhile, it says the exact `bundle resend`
 *   command to use instead;
 * - before the commit (a complete, validly signed but unrecorded bundle on
 *   disk): the next command deletes it, so no server can ever be given it
 *   (it would fork the chain);
 *
 * and each says what it did on stderr and in the audit log. Also: a
 * recipient row rolled back to an older, MAC-valid copy is INTEGRITY, not a
 * raw SQLite error.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import { loadTrustRoot, verifyBundle, type TrustRoot } from 'keyhold-format';
import { BIN, cleanEnv, keyhold, ROOT, type Run } from '../cli/run.js';
import type { SoftHsm } from '../helpers/softhsm.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { closeTokenVault, openTokenVault } from '../helpers/token-vault.js';
import { addRecipient, addTokenSigner, PASSPHRASE, PIN, pinProvider, rawSql, vaultDigest } from './helpers.js';

let hsm: SoftHsm;
let tmp: TmpDir;
let vaultPath: string;
let env: Record<string, string>;
let root: TrustRoot;

beforeAll(async () => {
  let svc: KeyholdService;
  ({ hsm, tmp, svc, vaultPath } = await openTokenVault({
    tokens: [{ label: 'one' }],
    tmpPrefix: 'keyhold-bundle-recovery-',
    vaultFile: 'vault.khv',
    passphrase: PASSPHRASE,
    service: (h) => ({ tokens: { module: h.module }, askPin: pinProvider() }),
  }));
  try {
    await addRecipient(svc, 'gw', { verifies: ['payments'] });
    await addTokenSigner(svc, 'one', 'sig-one', 'ES256');
    const t = await svc.call('trust.export', { out: path.join(tmp.dir, 'root.json') });
    expect(t.version).toBe(1);
  } finally {
    await svc.shutdown();
  }
  root = await loadTrustRoot(fs.readFileSync(path.join(tmp.dir, 'root.json'), 'utf8'));
  env = hsm.cliEnv({ KEYHOLD_VAULT: vaultPath, KEYHOLD_PASSPHRASE: PASSPHRASE, KEYHOLD_PIN: PIN });
}, 120_000);

afterAll(() => closeTokenVault({ hsm, tmp }));

function run(args: string[]): Run {
  const r = keyhold(args, env);
  for (const s of [r.stdout, r.stderr]) {
    expect(s).not.toContain(PASSPHRASE);
    expect(s).not.toContain(PIN);
  }
  return r;
}

function ok(args: string[]): Run {
  const r = run(args);
  expect(r.code, `keyhold ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

/** The recipient's record, read from the file (never unlocked here: an unlock would already settle the leftovers). */
function recorded(): { sequence: number; lastHash: string | null } {
  const db = new Database(vaultPath, { readonly: true, fileMustExist: true });
  try {
    const r = db.prepare("SELECT sequence, last_hash AS lastHash FROM recipients WHERE name = 'gw'").get() as { sequence: number; lastHash: string | null };
    return r;
  } finally {
    db.close();
  }
}

function leftovers(dir: string, name: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.startsWith(`.${name}.tmp-`));
}

/** Runs keyhold with the test hook: it stops at `point`, and is killed there with SIGKILL. */
function killedAt(point: string, args: string[]): Promise<void> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: cleanEnv({ ...env, NODE_ENV: 'test', KEYHOLD_TEST_PAUSE: point }), cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  let paused = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`keyhold never reached ${point}; stderr: ${err}`));
    }, 90_000);
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString('utf8');
      if (!paused && err.includes(`keyhold-test-paused ${point}\n`)) {
        paused = true;
        child.kill('SIGKILL');
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (paused && signal === 'SIGKILL') resolve();
      else reject(new Error(`keyhold exited (${code ?? signal ?? '?'}) before ${point}; stderr: ${err}`));
    });
  });
}

async function verified(file: string): Promise<{ sequence: number; hash: string; previous: string | null }> {
  const b = await verifyBundle(fs.readFileSync(file, 'utf8'), root);
  return { sequence: b.payload.sequence, hash: b.hash, previous: b.payload.previous };
}

describe('bundle export killed after its commit', () => {
  it('the next command publishes the recorded bundle to its name and says so; the next export chains to it', async () => {
    ok(['key', 'create', '--name', 'pay1', '--service', 'payments']);
    const dir = path.join(tmp.dir, 'after');
    fs.mkdirSync(dir);
    const before = recorded();
    await killedAt('bundle.export:recorded', ['bundle', 'export', '--recipient', 'gw', '--out', path.join(dir, 'b.json')]);
    // As the defect was: recorded, but only under a hidden temporary name.
    const after = recorded();
    expect(after.sequence).toBe(before.sequence + 1);
    expect(fs.existsSync(path.join(dir, 'b.json'))).toBe(false);
    expect(leftovers(dir, 'b.json')).toHaveLength(1);

    // Any command that opens the vault settles it.
    const list = ok(['recipient', 'list']);
    expect(list.stderr).toContain(`bundle ${after.sequence} for gw was recorded by an interrupted export; its file is now at ${path.join(dir, 'b.json')}`);
    expect(leftovers(dir, 'b.json')).toEqual([]);
    expect(await verified(path.join(dir, 'b.json'))).toMatchObject({ sequence: after.sequence, hash: after.lastHash });
    // Said once: the next command has nothing to say.
    expect(ok(['recipient', 'list']).stderr).not.toContain('interrupted');

    const audit = JSON.parse(ok(['--json', 'audit', 'list', '--action', 'bundle.recover']).stdout) as { entries: { details: Record<string, unknown> }[] };
    expect(audit.entries.map((e) => e.details)).toEqual([expect.objectContaining({ action: 'published', sequence: after.sequence, hash: after.lastHash,
      path: path.join(dir, 'b.json'), interrupted: 'bundle' })]);

    // No gap: the next bundle follows the one now on disk.
    ok(['key', 'create', '--name', 'pay2', '--service', 'payments']);
    ok(['bundle', 'export', '--recipient', 'gw', '--out', path.join(dir, 'b2.json')]);
    expect(await verified(path.join(dir, 'b2.json'))).toMatchObject({ sequence: after.sequence + 1, previous: after.lastHash });
  });

  it('a re-run with the same --out publishes the interrupted bundle there and makes no new one', async () => {
    ok(['key', 'create', '--name', 'pay3', '--service', 'payments']);
    const dir = path.join(tmp.dir, 'rerun');
    fs.mkdirSync(dir);
    const out = path.join(dir, 'b.json');
    await killedAt('bundle.export:recorded', ['bundle', 'export', '--recipient', 'gw', '--out', out]);
    const after = recorded();
    const r = run(['--json', 'bundle', 'export', '--recipient', 'gw', '--out', out]);
    expect(r.code).toBe(7);
    expect(r.stderr).toContain(`its file is now at ${out}`);
    expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('FILE_EXISTS');
    expect(recorded()).toEqual(after);
    expect(await verified(out)).toMatchObject({ sequence: after.sequence, hash: after.lastHash });
    expect(leftovers(dir, 'b.json')).toEqual([]);
  });

  it('when its name was taken meanwhile: the temporary file is removed and the exact resend command is given, which writes it', async () => {
    ok(['key', 'create', '--name', 'pay4', '--service', 'payments']);
    const dir = path.join(tmp.dir, 'taken');
    fs.mkdirSync(dir);
    const out = path.join(dir, 'b.json');
    await killedAt('bundle.export:recorded', ['bundle', 'export', '--recipient', 'gw', '--out', out]);
    const after = recorded();
    fs.writeFileSync(out, 'someone else\'s file');
    const r = ok(['recipient', 'list']);
    const command = `keyhold bundle resend --recipient gw --sequence ${after.sequence} --out NEW-FILE`;
    expect(r.stderr).toContain(command);
    expect(fs.readFileSync(out, 'utf8')).toBe('someone else\'s file');
    expect(leftovers(dir, 'b.json')).toEqual([]);
    const again = path.join(dir, 'again.json');
    ok(command.replace('keyhold ', '').replace('NEW-FILE', again).split(' '));
    expect(await verified(again)).toMatchObject({ sequence: after.sequence, hash: after.lastHash });
  });
});

describe('bundle export killed before its commit', () => {
  it('the next export deletes the unrecorded, validly signed bundle and says so; the one it writes takes that sequence', async () => {
    ok(['key', 'create', '--name', 'pay5', '--service', 'payments']);
    const dir = path.join(tmp.dir, 'before');
    fs.mkdirSync(dir);
    const before = recorded();
    const digest = vaultDigest(vaultPath);
    await killedAt('bundle.export:staged', ['bundle', 'export', '--recipient', 'gw', '--out', path.join(dir, 'b.json')]);
    // As the defect was: a complete, validly signed bundle no vault record knows of.
    expect(recorded()).toEqual(before);
    const [left] = leftovers(dir, 'b.json');
    expect(left).toBeDefined();
    const orphan = await verified(path.join(dir, left as string));
    expect(orphan).toMatchObject({ sequence: before.sequence + 1, previous: before.lastHash });
    // Only the journal row of the file in flight was written (no bundle, no audit entry).
    expect(vaultDigest(vaultPath)).not.toBe(digest);

    const r = ok(['bundle', 'export', '--recipient', 'gw', '--out', path.join(dir, 'c.json')]);
    expect(r.stderr).toContain(`an interrupted export of bundle ${before.sequence + 1} for gw was never recorded in the vault: its leftover file ${path.join(dir, left as string)} was deleted`);
    expect(fs.readdirSync(dir)).toEqual(['c.json']);
    const c = await verified(path.join(dir, 'c.json'));
    expect(c).toMatchObject({ sequence: before.sequence + 1, previous: before.lastHash });
    expect(c.hash).not.toBe(orphan.hash);
    expect(recorded()).toEqual({ sequence: c.sequence, lastHash: c.hash });
    const audit = JSON.parse(ok(['--json', 'audit', 'list', '--action', 'bundle.recover']).stdout) as { entries: { details: Record<string, unknown> }[] };
    expect(audit.entries.at(-1)?.details).toMatchObject({ action: 'deleted', sequence: before.sequence + 1, hash: orphan.hash, interrupted: 'bundle' });
  });
});

describe('bundle resend killed before it finished', () => {
  it('the next command publishes the copy of the recorded bundle', async () => {
    const dir = path.join(tmp.dir, 'resend');
    fs.mkdirSync(dir);
    const out = path.join(dir, 'r.json');
    const last = recorded();
    await killedAt('bundle.resend:staged', ['bundle', 'resend', '--recipient', 'gw', '--out', out]);
    expect(leftovers(dir, 'r.json')).toHaveLength(1);
    const r = ok(['info']);
    expect(r.stderr).toContain(`its file is now at ${out}`);
    expect(await verified(out)).toMatchObject({ sequence: last.sequence, hash: last.lastHash });
    expect(leftovers(dir, 'r.json')).toEqual([]);
  });
});

describe('a recipient row rolled back to an older copy', () => {
  it('bundle export refuses it with INTEGRITY before any token work (it was a raw SQLite constraint error, exit 70)', () => {
    // An old copy of the row, MAC and all, taken before an export...
    let old: Record<string, unknown> = {};
    rawSql(vaultPath, (db) => {
      old = db.prepare("SELECT * FROM recipients WHERE name = 'gw'").get() as Record<string, unknown>;
    });
    ok(['key', 'create', '--name', 'pay6', '--service', 'payments']);
    ok(['bundle', 'export', '--recipient', 'gw', '--out', path.join(tmp.dir, 'rb1.json')]);
    ok(['key', 'create', '--name', 'pay7', '--service', 'payments']);
    // ...put back afterwards.
    rawSql(vaultPath, (db) => {
      db.prepare('UPDATE recipients SET sequence = ?, last_hash = ?, row_version = ?, mac = ? WHERE id = ?')
        .run(old.sequence, old.last_hash, old.row_version, old.mac, old.id);
    });
    const digest = vaultDigest(vaultPath);
    const r = keyhold(['--json', 'bundle', 'export', '--recipient', 'gw', '--out', path.join(tmp.dir, 'rb2.json')], { ...env, KEYHOLD_PIN: undefined });
    const e = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
    expect({ exit: r.code, code: e.code }).toEqual({ exit: 5, code: 'INTEGRITY' });
    expect(e.message).toMatch(/rolled back/);
    expect(fs.existsSync(path.join(tmp.dir, 'rb2.json'))).toBe(false);
    expect(vaultDigest(vaultPath)).toBe(digest);
  });
});

describe('migration 3 (pending_files)', () => {
  it('a version-2 vault gains the table at its first unlock, audited as vault.migrate {from: 2, to: 3}', async () => {
    const dir = makeTmpDir('keyhold-migrate-3-');
    try {
      const file = path.join(dir.dir, 'v2.khv');
      const svc = new KeyholdService();
      await svc.call('vault.create', { path: file, passphrase: PASSPHRASE, kdf: FAST_KDF });
      svc.close();
      // The file as a version-2 build left it.
      rawSql(file, (db) => {
        // Nor operators (version 4): its table, and the roster its creation wrote in settings.
        db.exec('DROP TABLE pending_files; DROP TABLE operators');
        db.prepare("DELETE FROM settings WHERE name = 'operators.roster'").run();
        db.pragma('user_version = 2');
      });
      await svc.call('vault.unlock', { path: file, passphrase: PASSPHRASE });
      const migrated = await svc.call('audit.list', { action: 'vault.migrate' });
      expect(migrated.entries.map((e) => e.details)).toEqual([{ from: 2, to: 3 }, { from: 3, to: 4 }]);
      expect((await svc.call('audit.verify', {})).ok).toBe(true);
      svc.close();
      rawSql(file, (db) => {
        expect(db.pragma('user_version', { simple: true })).toBe(4);
        expect(db.prepare('SELECT count(*) AS n FROM pending_files').get()).toEqual({ n: 0 });
      });
    } finally {
      dir.remove();
    }
  });
});
