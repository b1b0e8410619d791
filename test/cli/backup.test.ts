/**
 * Acceptance (issue 12): `keyhold backup` then `keyhold restore` gives a vault
 * whose `keyhold info --json` is the original's but for its path, and whose
 * `audit verify` passes, with the restore as one more entry (docs/backup.md,
 * "What differs"). Bad input through the real CLI: its code and exit status.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditVerifyReport, VaultInfo } from '../../shared/contract.js';
import { KeyholdService } from '../../electron/core/service.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { keyhold, keyholdJson } from './run.js';

const PASS = 'cli backup passphrase 4Wq#';
const FAST = ['--kdf-memory', '19', '--kdf-passes', '2'];

let tmp: TmpDir;
let dir: string;
let vault: string;
let env: Record<string, string>;

beforeAll(() => {
  tmp = makeTmpDir('keyhold-cli-backup-');
  dir = tmp.dir;
  vault = path.join(dir, 'v.db');
  env = { KEYHOLD_PASSPHRASE: PASS, KEYHOLD_VAULT: vault };
  expect(keyhold(['init', ...FAST], env).code).toBe(0);
});

afterAll(() => tmp.remove());

/** Every key's current secret, by id (the vault locked again after). */
async function secretsOf(p: string): Promise<Record<string, string>> {
  const svc = new KeyholdService();
  try {
    await svc.call('vault.unlock', { path: p, passphrase: PASS });
    const out: Record<string, string> = {};
    for (const k of await svc.call('key.list', {})) out[k.id] = (await svc.call('key.reveal', { id: k.id })).secret;
    return out;
  } finally {
    await svc.shutdown();
  }
}

describe('keyhold backup and restore', () => {
  it('restores a vault whose info matches the original (but its path) and whose audit log verifies', async () => {
    keyholdJson(['key', 'create', '--name', 'gw', '--service', 'payments'], env);
    keyholdJson(['key', 'create', '--name', 'db', '--service', 'billing', '--env', 'staging'], env);
    const original = keyholdJson<VaultInfo & { tookMs: number }>(['info'], env);
    const verified = keyholdJson<AuditVerifyReport>(['audit', 'verify'], env);

    const file = path.join(dir, 'v.khbackup');
    const b = keyholdJson<{ path: string; bytes: number; sha256: string; head: { seq: number; hash: string } }>(['backup', '--out', file], env);
    expect(b).toMatchObject({ path: file, bytes: fs.statSync(file).size, head: verified.head });
    const again = keyhold(['--json', 'backup', '--out', file], env);
    expect(again.code).toBe(7);
    expect(JSON.parse(again.stdout).error.code).toBe('FILE_EXISTS');

    const restoredPath = path.join(dir, 'restored.db');
    const renv = { ...env, KEYHOLD_VAULT: restoredPath };
    const human = keyhold(['restore', file], renv);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`Restored vault ${original.vaultId} at ${restoredPath}`);

    const restored = keyholdJson<VaultInfo & { tookMs: number }>(['info'], renv);
    const strip = ({ path: _p, tookMs: _t, ...rest }: VaultInfo & { tookMs: number }) => rest;
    expect(strip(restored)).toEqual(strip(original));
    expect(restored.path).toBe(restoredPath);
    const rv = keyholdJson<AuditVerifyReport>(['audit', 'verify'], renv);
    expect(rv.ok).toBe(true);
    expect(rv.entries).toBe(verified.entries + 1);
    const last = keyholdJson<{ entries: { action: string; prevHash: string; details: { from: { sha256: string } } }[] }>(
      ['audit', 'list', '--action', 'vault.restore'], renv).entries;
    expect(last).toHaveLength(1);
    expect(last[0]?.prevHash).toBe(verified.head.hash);
    expect(last[0]?.details.from.sha256).toBe(b.sha256);
    // The restored vault's secrets are the original's (read in this process: two spawns fewer each).
    expect(await secretsOf(restoredPath)).toEqual(await secretsOf(vault));
  });

  it('refuses a taken path, a wrong passphrase, a truncated or altered backup, with nothing written', () => {
    const file = path.join(dir, 'bad-src.khbackup');
    expect(keyhold(['backup', '--out', file], env).code).toBe(0);
    const target = path.join(dir, 'never.db');
    const run = (f: string, extra: Record<string, string> = {}) => {
      const r = keyhold(['--json', 'restore', f], { ...env, KEYHOLD_VAULT: target, ...extra });
      expect(fs.existsSync(target)).toBe(false);
      return { code: r.code, error: (JSON.parse(r.stdout) as { error: { code: string } }).error.code };
    };
    expect(run(file, { KEYHOLD_PASSPHRASE: 'wrong passphrase, surely' })).toEqual({ code: 3, error: 'WRONG_PASSPHRASE' });
    const data = fs.readFileSync(file);
    const cut = path.join(dir, 'cut.khbackup');
    fs.writeFileSync(cut, data.subarray(0, data.length - 100));
    expect(run(cut)).toEqual({ code: 5, error: 'BACKUP_TRUNCATED' });
    const flipped = Buffer.from(data);
    flipped[flipped.length - 200] = (flipped[flipped.length - 200] as number) ^ 0x80;
    const alt = path.join(dir, 'alt.khbackup');
    fs.writeFileSync(alt, flipped);
    expect(run(alt)).toEqual({ code: 5, error: 'BACKUP_ALTERED' });
    const taken = keyhold(['--json', 'restore', file], env);
    expect(taken.code).toBe(7);
    expect(JSON.parse(taken.stdout).error.code).toBe('VAULT_EXISTS');
  });
});
