/**
 * Issue 15, D1, end to end as a custodian and a server operator type it: the
 * real `keyhold` CLI (a real vault, a signer on a real SoftHSM2 token) and the
 * real `keyhold-import` bin, each in a child process. A server that verifies
 * and holds `billing` applies bundle 1 (v1) with --secrets-format env, then
 * bundle 2 after a rotation (v2; v1 superseded at its grace end), then a
 * revocations-only bundle after `key revoke --reason compromised` (v1 and v2,
 * now). The emergency revocation must win over v1's grace end: the server
 * keeps no secret for the key (not v1), in secrets.json and secrets.env, and
 * `apply` says so in text and in --json.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import { cleanEnv, ensureImporterBuilt, keyhold, ROOT } from '../cli/run.js';
import { setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { closeTokenVault } from '../helpers/token-vault.js';
import { PASSPHRASE, PIN } from './helpers.js';

const IMPORTER_BIN = path.join(ROOT, 'importer', 'bin', 'keyhold-import.mjs');

let hsm: SoftHsm;
let tmp: TmpDir;
let env: Record<string, string>;
let vaultPath: string;

function importer(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [IMPORTER_BIN, ...args], { env: cleanEnv(), encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs keyhold, expecting exit 0; nothing it prints holds the PIN or the passphrase. */
function ok(args: string[]): string {
  const r = keyhold(args, env);
  for (const s of [r.stdout, r.stderr]) {
    expect(s).not.toContain(PASSPHRASE);
    expect(s).not.toContain(PIN);
  }
  expect(r.code, `keyhold ${args.slice(0, 2).join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Every version's key text, read in this process (one spawn fewer per version). */
async function revealAll(id: string, versions: number[]): Promise<string[]> {
  const svc = new KeyholdService();
  try {
    await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
    const out: string[] = [];
    for (const version of versions) out.push((await svc.call('key.reveal', { id, version })).secret);
    return out;
  } finally {
    await svc.shutdown();
  }
}

beforeAll(() => {
  ensureImporterBuilt();
  hsm = setupSoftHsm([{ label: 'custody' }]);
  tmp = makeTmpDir('keyhold-holder-revocation-');
  vaultPath = path.join(tmp.dir, 'vault.db');
  env = hsm.cliEnv({ KEYHOLD_VAULT: vaultPath, KEYHOLD_PASSPHRASE: PASSPHRASE, KEYHOLD_PIN: PIN });
});

afterAll(() => closeTokenVault({ hsm, tmp }));

describe('D1: after an emergency revocation a holder keeps no secret for the key', () => {
  it('first bundle, rotation, `key revoke --reason compromised` and a revocations-only bundle: the env file ends with no line for the key, and apply says so', async () => {
    const server = path.join(tmp.dir, 'server');
    const kg = importer(['keygen', '--out', `${server}/`]);
    expect(kg.code, kg.stderr).toBe(0);
    const priv = path.join(server, 'private.jwk');

    ok(['init', '--kdf-memory', '19', '--kdf-passes', '2', '--kdf-parallelism', '1']);
    ok(['token', 'keygen', '--token', 'custody', '--label', 'signer1', '--alg', 'ES256']);
    ok(['signer', 'add', '--token', 'custody', '--key', 'signer1']);
    ok(['recipient', 'add', '--name', 'app', '--public-key', path.join(server, 'public.jwk'), '--verifies', 'billing', '--holds', 'billing']);
    const id = (JSON.parse(ok(['--json', 'key', 'create', '--name', 'billing-api', '--service', 'billing'])) as { id: string }).id;
    // Another key of the service, untouched throughout (and the revocation is not of every key of the service).
    const otherId = (JSON.parse(ok(['--json', 'key', 'create', '--name', 'billing-reports', '--service', 'billing'])) as { id: string }).id;
    const root = path.join(tmp.dir, 'root.json');
    ok(['trust', 'export', '--out', root]);
    const state = path.join(tmp.dir, 'state');
    const envFile = path.join(state, 'secrets.env');
    const heldFile = path.join(state, 'secrets.json');
    const bundle = (n: number): string => path.join(tmp.dir, `b${n}.json`);

    // 1. The first bundle: the env file holds v1.
    ok(['bundle', 'export', '--recipient', 'app', '--out', bundle(1)]);
    const a1 = importer(['apply', '--trust', root, '--key', priv, '--state', state, '--secrets-format', 'env', bundle(1)]);
    expect(a1.code, a1.stderr).toBe(0);
    expect(a1.stdout).not.toMatch(/no secret/);
    const [v1] = await revealAll(id, [1]);
    const [other] = await revealAll(otherId, [1]);
    const otherLine = `KEYHOLD_BILLING_REPORTS=${other}\n`;
    expect(fs.readFileSync(envFile, 'utf8') === `KEYHOLD_BILLING_API=${v1}\n${otherLine}`).toBe(true);

    // 2. A rotation: the env file holds v2; v1 is kept in secrets.json until its grace end.
    ok(['key', 'rotate', id]);
    ok(['bundle', 'export', '--recipient', 'app', '--out', bundle(2)]);
    const a2 = importer(['apply', '--key', priv, '--state', state, bundle(2)]);
    expect(a2.code, a2.stderr).toBe(0);
    const [, v2] = await revealAll(id, [1, 2]);
    expect(fs.readFileSync(envFile, 'utf8') === `KEYHOLD_BILLING_API=${v2}\n${otherLine}`).toBe(true);
    expect(fs.readFileSync(heldFile, 'utf8').includes(v1!)).toBe(true);

    // 3. The emergency: both versions revoked as compromised, sent in a revocations-only bundle.
    expect(ok(['key', 'revoke', id, '--reason', 'compromised', '--yes'])).toMatch(/1, 2 \(compromised\)/);
    ok(['bundle', 'export', '--recipient', 'app', '--out', bundle(3), '--revocations-only']);
    // The same bundle applied to a copy of the state, once for the text output and once for --json.
    const copy = path.join(tmp.dir, 'state-json');
    fs.cpSync(state, copy, { recursive: true, verbatimSymlinks: true });

    const a3 = importer(['apply', '--key', priv, '--state', state, bundle(3)]);
    expect(a3.code, a3.stderr).toBe(0);
    const a3j = importer(['apply', '--key', priv, '--state', copy, '--json', bundle(3)]);
    expect(a3j.code, a3j.stderr).toBe(0);

    for (const dir of [state, copy]) {
      // No secret of the key left anywhere a server reads one: not v2, and above all not v1.
      const env = fs.readFileSync(path.join(dir, 'secrets.env'), 'utf8');
      expect(env.split('\n').map((l) => l.split('=')[0])).toEqual(['KEYHOLD_BILLING_REPORTS', '']);
      expect(env === otherLine).toBe(true);
      const held = JSON.parse(fs.readFileSync(path.join(dir, 'secrets.json'), 'utf8')) as { keys: { keyId: string }[] };
      expect(held.keys.filter((k) => k.keyId === id)).toEqual([]);
      const text = fs.readFileSync(path.join(dir, 'secrets.json'), 'utf8') + env;
      expect([text.includes(v1!), text.includes(v2!)]).toEqual([false, false]);
      // The gateway side agrees: v1's revocation is the compromised one, not the grace end.
      const ks = JSON.parse(fs.readFileSync(path.join(dir, 'keystore.json'), 'utf8')) as { entries: { keyId: string; version: number; revoked: { reason: string } | null }[] };
      expect(ks.entries.filter((e) => e.keyId === id).map((e) => [e.version, e.revoked?.reason])).toEqual([[1, 'compromised'], [2, 'compromised']]);
    }

    // The output says so: text...
    expect(a3.stdout).toMatch(/applied bundle 3 .*0 issued, 2 revoked, 0 secrets; no secret left for 1 key \(every held version revoked\)/);
    expect(a3.stdout).toMatch(new RegExp(`no secret held for billing-api \\(billing/production, key ${id}\\): v1 revoked \\(compromised\\) from \\S+, v2 revoked \\(compromised\\) from \\S+`));
    // ...and --json.
    const j = JSON.parse(a3j.stdout) as { ok: boolean; withdrawn: unknown };
    expect(j).toMatchObject({ ok: true, status: 'applied', sequence: 3, revoked: 2 });
    expect(j.withdrawn).toEqual([{ keyId: id, name: 'billing-api', service: 'billing', environment: 'production',
      versions: [{ version: 1, reason: 'compromised', effectiveAt: expect.any(String) as string }, { version: 2, reason: 'compromised', effectiveAt: expect.any(String) as string }] }]);
    for (const r of [a1, a2, a3, a3j]) expect([r.stdout.includes(v1!), r.stdout.includes(v2!), (r.stdout + r.stderr).includes('khk_')]).toEqual([false, false, false]);
    expect(a3.stdout).not.toContain('billing-reports');
  }, 300_000);
});
