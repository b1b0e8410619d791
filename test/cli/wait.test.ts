/**
 * `--wait SECONDS` (and KEYHOLD_WAIT): a command queues behind another
 * process that holds the vault instead of failing at once, so an emergency
 * revocation can be started during a long rotation. Two real processes: a
 * child that unlocks the vault and holds it (test/integration/helpers/
 * vault-child.ts), and the real `keyhold` CLI.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import { FAST_KDF, tmpDir } from '../helpers/tmp.js';
import { newPassphrase, reap, sleep, spawnVaultChild, type VaultChild } from '../integration/helpers/harness.js';
import { BIN, cleanEnv, keyhold, ROOT, type Run } from './run.js';

type Timed = Run & { ms: number; done: () => boolean };

/** Starts the CLI without blocking this process (the holder must be told to let go meanwhile). */
function start(args: string[], env: Record<string, string>): { result: Promise<Timed>; done: () => boolean } {
  const t0 = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(env), cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let finished = false;
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  onTestFinished(() => {
    if (!finished) child.kill('SIGKILL');
  });
  const done = () => finished;
  const result = new Promise<Timed>((resolve) => {
    child.on('close', (code) => {
      finished = true;
      resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - t0, done });
    });
  });
  return { result, done };
}

async function heldVault(): Promise<{ file: string; pass: string; id: string; holder: VaultChild }> {
  const dir = tmpDir('keyhold-wait-');
  const file = path.join(dir, 'vault.khv');
  const pass = newPassphrase();
  const svc = new KeyholdService();
  let id: string;
  try {
    await svc.call('vault.create', { path: file, passphrase: pass, kdf: FAST_KDF });
    id = (await svc.call('key.create', { name: 'leaked', service: 'billing' })).id;
  } finally {
    svc.close();
  }
  const holder = spawnVaultChild('hold', file, pass);
  onTestFinished(() => reap(holder));
  await holder.waitFor((m) => m.ready === true);
  return { file, pass, id, holder };
}

describe('--wait', () => {
  it('without it, a command fails at once with VAULT_IN_USE (exit 6) and the hint names --wait', async () => {
    const { file, pass, id } = await heldVault();
    const r = await start(['--vault', file, 'key', 'revoke', id, '--reason', 'compromised', '--yes'], { KEYHOLD_PASSPHRASE: pass }).result;
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/in use by another Keyhold process/);
    expect(r.stderr).toMatch(/--wait SECONDS/);
  });

  it('an emergency revoke given --wait queues behind the holder and runs as soon as it lets go', async () => {
    const { file, pass, id, holder } = await heldVault();
    const run = start(['--vault', file, '--wait', '60', 'key', 'revoke', id, '--reason', 'compromised', '--yes'], { KEYHOLD_PASSPHRASE: pass });
    // Long enough for the CLI to start, read the passphrase and find the vault held.
    await sleep(4000);
    expect(run.done(), 'the CLI gave up while the vault was held').toBe(false);
    const released = Date.now();
    holder.send('close');
    await holder.waitFor((m) => m.closed === true);
    const r = await run.result;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`Revoked ${id} version 1 \\(compromised\\)`));
    expect(Date.now() - released, 'it ran soon after the lock was free').toBeLessThan(15_000);
    expect(r.stderr.includes(pass)).toBe(false);
    const show = keyhold(['--json', '--vault', file, 'key', 'show', id], { KEYHOLD_PASSPHRASE: pass });
    expect(show.code, show.stderr).toBe(0);
    expect((JSON.parse(show.stdout) as { state: string }).state).toBe('revoked');
  });

  it('KEYHOLD_WAIT does the same; when the time is up it is VAULT_IN_USE saying how long it waited', async () => {
    const { file, pass, id } = await heldVault();
    const r = await start(['--vault', file, 'key', 'revoke', id, '--reason', 'compromised', '--yes'],
      { KEYHOLD_PASSPHRASE: pass, KEYHOLD_WAIT: '2' }).result;
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/still in use by another Keyhold process after waiting 2 s/);
    expect(r.stderr).toMatch(/--wait SECONDS/);
    // The CLI itself starts in about a second; the wait comes on top.
    expect(r.ms).toBeGreaterThanOrEqual(2000);
  });

  it('a --wait that is not a number of seconds is INVALID_INPUT (exit 2)', () => {
    for (const w of ['-1', 'soon', '1e3', '86401']) {
      const r = keyhold(['--vault', '/nonexistent/v.khv', '--wait', w, 'key', 'list'], { KEYHOLD_PASSPHRASE: 'x' });
      expect(r.code, `${w}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/--wait must be a number of seconds/);
    }
  });
});
