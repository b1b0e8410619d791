/**
 * The bundle walk-through as a user types it: the real `keyhold` CLI and the
 * real `keyhold-import` bin in child processes, on a SoftHSM2 token. Then
 * crash safety: `keyhold bundle export` killed (SIGKILL) at several points;
 * after each, the vault opens, its audit chain verifies, and either the
 * recipient's sequence advanced and a complete bundle recorded in the vault
 * is on disk (under its final name or its temporary one), or nothing changed.
 * Few spawns on purpose: each costs seconds on a busy machine.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import { loadTrustRoot, verifyBundle } from 'keyhold-format';
import { BIN, cleanEnv, ensureImporterBuilt, keyhold, ROOT } from '../cli/run.js';
import { setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { closeTokenVault } from '../helpers/token-vault.js';
import { PASSPHRASE, PIN, readBundle } from './helpers.js';

const IMPORTER_BIN = path.join(ROOT, 'importer', 'bin', 'keyhold-import.mjs');

let hsm: SoftHsm;
let tmp: TmpDir;
let env: Record<string, string>;
let vaultPath: string;
let keyId: string;
let rootFile: string;
/** How long a whole `keyhold bundle export` took here (startup included): where the kills aim. */
let exportMs = 0;

function importer(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [IMPORTER_BIN, ...args], { env: cleanEnv(), input: input ?? '', encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs keyhold; a failure shows its stderr (which never holds the PIN or passphrase: asserted). */
function ok(args: string[]): string {
  const r = keyhold(args, env);
  for (const s of [r.stdout, r.stderr]) {
    expect(s).not.toContain(PASSPHRASE);
    expect(s).not.toContain(`${PIN}`);
  }
  expect(r.code, `keyhold ${args.slice(0, 2).join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

beforeAll(() => {
  ensureImporterBuilt();
  hsm = setupSoftHsm([{ label: 'demo' }]);
  tmp = makeTmpDir('keyhold-bundle-cli-');
  vaultPath = path.join(tmp.dir, 'vault.db');
  env = hsm.cliEnv({ KEYHOLD_VAULT: vaultPath, KEYHOLD_PASSPHRASE: PASSPHRASE, KEYHOLD_PIN: PIN });
});

afterAll(() => closeTokenVault({ hsm, tmp }));

/** The key text, read in this process (one spawn fewer). */
async function revealInProcess(id: string): Promise<{ secret: string }> {
  const svc = new KeyholdService();
  try {
    await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
    return await svc.call('key.reveal', { id });
  } finally {
    await svc.shutdown();
  }
}

describe('the walk-through, as commands', () => {
  it('keygen a server key, init, token keygen, signer add, recipient add, key create, trust export, bundle export --json, keyhold-import apply and check', async () => {
    const server = path.join(tmp.dir, 'server');
    const kg = importer(['keygen', '--out', `${server}/`]);
    expect(kg.code, kg.stderr).toBe(0);
    expect((fs.statSync(path.join(server, 'private.jwk')).mode & 0o777)).toBe(0o600);

    ok(['init', '--kdf-memory', '19', '--kdf-passes', '2', '--kdf-parallelism', '1']);
    const key = JSON.parse(ok(['token', 'keygen', '--token', 'demo', '--label', 'signer1', '--alg', 'ES256', '--json'])) as { kid: string };
    expect(ok(['signer', 'add', '--token', 'demo', '--key', 'signer1'])).toContain(key.kid);
    expect(ok(['recipient', 'add', '--name', 'gw', '--public-key', path.join(server, 'public.jwk'), '--verifies', 'payments', '--holds', 'billing']))
      .toContain('Added recipient gw');
    keyId = (JSON.parse(ok(['--json', 'key', 'create', '--name', 'pay', '--service', 'payments'])) as { id: string }).id;
    rootFile = path.join(tmp.dir, 'root.json');
    expect(ok(['trust', 'export', '--out', rootFile])).toContain('version 1');

    const bundleFile = path.join(tmp.dir, 'b1.json');
    const t0 = Date.now();
    const rep = JSON.parse(ok(['--json', 'bundle', 'export', '--recipient', 'gw', '--out', bundleFile, '--expires', '2d'])) as Record<string, unknown>;
    exportMs = Date.now() - t0;
    const pub = JSON.parse(fs.readFileSync(path.join(server, 'public.jwk'), 'utf8')) as Record<string, unknown>;
    const f = readBundle(bundleFile);
    expect(rep).toMatchObject({ path: bundleFile, recipient: 'gw', sequence: 1, issued: 1, revoked: 0, secrets: 0,
      signatures: [key.kid], threshold: 1, bytes: fs.statSync(bundleFile).size, expiresAt: f.payload.expiresAt,
      checkpoint: f.payload.checkpoint });
    expect(rep.recipientId).toBe(f.payload.recipient);
    expect(typeof pub.x).toBe('string');
    expect(Date.parse(f.payload.expiresAt) - Date.parse(f.payload.issuedAt)).toBe(2 * 86400_000);
    expect(typeof rep.hash).toBe('string');
    expect(Object.keys(rep).sort()).toEqual(['bytes', 'checkpoint', 'expiresAt', 'hash', 'issued', 'path', 'recipient', 'recipientId',
      'revoked', 'secrets', 'sequence', 'signatures', 'threshold', 'tookMs'].sort());

    const state = path.join(tmp.dir, 'state');
    const v = importer(['verify', '--trust', rootFile, '--key', path.join(server, 'private.jwk'), bundleFile]);
    expect(v.code, v.stderr).toBe(0);
    const ap = importer(['apply', '--trust', rootFile, '--key', path.join(server, 'private.jwk'), '--state', state, '--json', bundleFile]);
    expect(ap.code, ap.stderr).toBe(0);
    expect(JSON.parse(ap.stdout)).toMatchObject({ ok: true, status: 'applied', sequence: 1, payloadHash: rep.hash, issued: 1 });

    const reveal = await revealInProcess(keyId);
    const good = importer(['check', '--state', state, '-'], `${reveal.secret}\n`);
    expect(good.code).toBe(0);
    expect(good.stdout).not.toContain(reveal.secret);
    const forged = `${reveal.secret.slice(0, 30)}${reveal.secret[30] === 'A' ? 'B' : 'A'}${reveal.secret.slice(31)}`;
    expect(importer(['check', '--state', state, '-'], `${forged}\n`).code).toBe(1);
    // Applying the same bundle again: the importer's no-op, exit 0.
    expect(importer(['apply', '--key', path.join(server, 'private.jwk'), '--state', state, bundleFile]).code).toBe(0);
  });
});

describe('crash safety: bundle export killed with SIGKILL', () => {
  /** What the vault says, read in this process once the child is gone. */
  async function vaultView(): Promise<{ sequence: number; lastHash: string | null; auditOk: boolean; exports: number }> {
    const svc = new KeyholdService();
    try {
      await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
      const r = (await svc.call('recipient.list', {})).find((x) => x.name === 'gw')!;
      const audit = await svc.call('audit.verify', {});
      const exports = (await svc.call('audit.list', { action: 'bundle.export', limit: 10_000 })).entries.length;
      return { sequence: r.sequence, lastHash: r.lastHash, auditOk: audit.ok && audit.firstBroken === null, exports };
    } finally {
      await svc.shutdown();
    }
  }

  /**
   * Runs an export and kills it: `ms` after the start, or (ms = null) a few
   * milliseconds after its temporary file appears, i.e. between staging the
   * file, the vault transaction and the rename.
   */
  function exportKilled(ms: number | null, outDir: string, name: string): Promise<{ killed: boolean; code: number | null }> {
    const child = spawn(process.execPath, [BIN, '--json', 'bundle', 'export', '--recipient', 'gw', '--out', path.join(outDir, name)],
      { env: cleanEnv(env), cwd: ROOT, stdio: 'ignore' });
    const kill = (): void => void child.kill('SIGKILL');
    let timer: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    if (ms !== null) timer = setTimeout(kill, ms);
    else {
      poll = setInterval(() => {
        if (fs.readdirSync(outDir).some((x) => x.startsWith(`.${name}.tmp-`))) {
          clearInterval(poll);
          timer = setTimeout(kill, Math.floor(Math.random() * 20));
        }
      }, 1);
    }
    return new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        clearInterval(poll);
        resolve({ killed: signal === 'SIGKILL', code });
      });
    });
  }

  it('at several points of the export: the vault opens and verifies; sequence advanced with a complete recorded bundle on disk, or nothing changed', async () => {
    const root = await loadTrustRoot(fs.readFileSync(rootFile, 'utf8'));
    const outDir = path.join(tmp.dir, 'usb');
    fs.mkdirSync(outDir);
    let view = await vaultView();
    expect(view.sequence).toBe(1);
    const outcomes: string[] = [];
    // One kill timed inside the export's last stretch, two as soon as the temporary file is there.
    for (const [i, ms] of [Math.round(exportMs * 0.9), null, null].entries()) {
      const before = view;
      const name = `k${i}.json`;
      const run = await exportKilled(ms, outDir, name);
      view = await vaultView();
      expect(view.auditOk).toBe(true);
      const mine = fs.readdirSync(outDir).filter((x) => x === name || x.startsWith(`.${name}.tmp-`));
      const when = ms === null ? 'after the temporary file appeared' : `at ${ms} ms`;
      if (view.sequence === before.sequence) {
        // Nothing recorded: no file under the final name, and the vault as it was.
        expect(view).toEqual(before);
        expect(mine.filter((x) => x === name)).toEqual([]);
        outcomes.push(`${run.killed ? 'killed' : 'finished'} ${when}: nothing recorded${mine.length ? ' (an unrecorded temporary file left)' : ''}`);
      } else {
        expect(view.sequence).toBe(before.sequence + 1);
        expect(view.exports).toBe(before.exports + 1);
        // A complete bundle, the one the vault recorded, under one of the two names.
        const found = [];
        for (const x of mine) {
          const text = fs.readFileSync(path.join(outDir, x), 'utf8');
          const vb = await verifyBundle(text, root).catch(() => null);
          if (vb?.hash === view.lastHash && vb.payload.sequence === view.sequence) found.push(x);
        }
        expect(found.length, `files: ${mine.join(', ')}`).toBeGreaterThanOrEqual(1);
        outcomes.push(`${run.killed ? 'killed' : 'finished'} ${when}: recorded, file ${found[0] === name ? 'in place' : 'under its temporary name'}`);
      }
    }
    expect(outcomes).toHaveLength(3);
    console.log(`crash runs (a whole export took ${exportMs} ms): ${outcomes.join('; ')}`);
  });
});
