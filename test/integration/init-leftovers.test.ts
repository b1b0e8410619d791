/**
 * Leftovers of an interrupted `keyhold init`: a real `keyhold init` child is
 * SIGKILLed while its temporary `.<name>.creating-...` file exists; the next
 * `init` in that folder removes it and says so, and so does the next open of
 * the vault. A temporary file whose creating process still runs (or that
 * cannot be judged yet) is never touched.
 */
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import { BIN, cleanEnv, keyhold, ROOT } from '../cli/run.js';
import { FAST_KDF, tmpDir } from '../helpers/tmp.js';
import { creatingLeftovers, newPassphrase, sleep } from './helpers/harness.js';

const FAST = ['--kdf-memory', '19', '--kdf-passes', '2', '--kdf-parallelism', '1'];
const HOST_TAG = createHash('sha256').update(os.hostname(), 'utf8').digest('hex').slice(0, 8);

async function waitUntil(what: string, cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** The pid of a process that has run and exited. */
function deadPid(): number {
  const r = spawnSync('true');
  expect(r.status).toBe(0);
  return r.pid;
}

describe('a SIGKILLed keyhold init', () => {
  it('leaves a temporary file; the next init in the folder removes it, says so, and creates the vault', async () => {
    const dir = tmpDir('keyhold-init-kill-');
    const file = path.join(dir, 'vault.khv');
    const pass = newPassphrase();
    // No --kdf-* flags: Argon2id is calibrated while the temporary file is in place.
    const child = spawn(process.execPath, [BIN, '--vault', file, 'init'], {
      env: cleanEnv({ KEYHOLD_PASSPHRASE: pass }), cwd: ROOT, stdio: 'ignore',
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, sig) => resolve(sig)));
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    await waitUntil('the temporary file of init', () => creatingLeftovers(dir).length > 0, 30_000);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const left = creatingLeftovers(dir);
    expect(left.length).toBeGreaterThan(0);
    expect(fs.existsSync(file), 'the killed init published no vault').toBe(false);
    const main = left.filter((f) => !/-(wal|journal|shm)$/.test(f));
    expect(main).toHaveLength(1);
    expect(main[0]).toMatch(new RegExp(`^\\.vault\\.khv\\.creating-${HOST_TAG}-${child.pid}-[0-9a-f]{12}$`));

    const r = keyhold(['--vault', file, 'init', ...FAST], { KEYHOLD_PASSPHRASE: pass });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/removed a file left by an interrupted vault creation/);
    expect(r.stderr).toContain(main[0]);
    expect(creatingLeftovers(dir)).toEqual([]);
    expect(fs.readdirSync(dir).sort()).toEqual(['vault.khv']);
    expect(r.stderr.includes(pass)).toBe(false);
  });

  it('the next open of the vault removes one too (a creation killed after a vault was made there)', () => {
    const dir = tmpDir('keyhold-init-open-');
    const file = path.join(dir, 'vault.khv');
    const pass = newPassphrase();
    expect(keyhold(['--vault', file, 'init', ...FAST], { KEYHOLD_PASSPHRASE: pass }).code).toBe(0);
    const stale = `.vault.khv.creating-${HOST_TAG}-${deadPid()}-0123456789ab`;
    fs.writeFileSync(path.join(dir, stale), '');
    fs.writeFileSync(path.join(dir, `${stale}-wal`), '');
    const r = keyhold(['--vault', file, 'info'], { KEYHOLD_PASSPHRASE: pass });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(stale);
    expect(fs.readdirSync(dir).sort()).toEqual(['vault.khv']);
    // Said once: the next command finds nothing to remove.
    const again = keyhold(['--vault', file, 'info'], { KEYHOLD_PASSPHRASE: pass });
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/interrupted vault creation/);
  });

  it('never removes the file of a creation that may still be running, nor other names', async () => {
    const dir = tmpDir('keyhold-init-live-');
    const file = path.join(dir, 'vault.khv');
    const live = spawn('sleep', ['60'], { stdio: 'ignore' });
    onTestFinished(() => {
      live.kill('SIGKILL');
    });
    const keep = [
      `.vault.khv.creating-${HOST_TAG}-${live.pid}-0123456789ab`, // its process runs
      `.vault.khv.creating-${HOST_TAG}-${process.pid}-0123456789ab`, // this process's own
      '.vault.khv.creating-ffffffff-1-0123456789ab', // another machine's, recent
      '.vault.khv.creating-0123456789ab', // an older Keyhold's name, recent
      `.other.khv.creating-${HOST_TAG}-${deadPid()}-0123456789ab`, // another vault's
      `vault.khv.creating-${HOST_TAG}-${deadPid()}-0123456789ab`, // not hidden: not ours
    ];
    for (const f of keep) fs.writeFileSync(path.join(dir, f), '');
    const old = ['.vault.khv.creating-ffffffff-2-0123456789ab', '.vault.khv.creating-ba9876543210'];
    for (const f of old) {
      fs.writeFileSync(path.join(dir, f), '');
      const t = new Date(Date.now() - 2 * 24 * 3600 * 1000);
      fs.utimesSync(path.join(dir, f), t, t);
    }
    const dead = `.vault.khv.creating-${HOST_TAG}-${deadPid()}-0123456789ab`;
    fs.writeFileSync(path.join(dir, dead), 'partial');

    const notices: string[] = [];
    const svc = new KeyholdService({ onNotice: (m) => notices.push(m) });
    onTestFinished(() => svc.close());
    await svc.call('vault.create', { path: file, passphrase: newPassphrase(), kdf: FAST_KDF });
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/removed 3 files left by an interrupted vault creation/);
    for (const f of [...old, dead]) expect(notices[0]).toContain(f);
    svc.close();
    expect(fs.readdirSync(dir).sort()).toEqual([...keep, 'vault.khv'].sort());
  });
});
