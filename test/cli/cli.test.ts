import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseApiKey } from '../../shared/apikey.js';
import { SCHEMA_VERSION } from '../../electron/core/vault/schema.js';
import type { KeyDetail, KeySummary, KeyslotInfo, RevealedKey, VaultInfo } from '../../shared/contract.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { cleanEnv, keyhold, keyholdJson, keyholdOnTty, ROOT } from './run.js';

const PASS = 'cli test passphrase 1';
const NEW_PASS = 'cli test passphrase 2';
const FAST = ['--kdf-memory', '19', '--kdf-passes', '2'];

let tmp: TmpDir;
let dir: string;
const outputs: string[] = [];

function run(args: string[], env: Record<string, string | undefined> = {}, input?: string) {
  const r = keyhold(args, env, input);
  outputs.push(r.stdout, r.stderr);
  return r;
}

beforeAll(() => {
  tmp = makeTmpDir('keyhold-cli-');
  dir = tmp.dir;
});

afterAll(() => tmp.remove());

describe('keyhold CLI', () => {
  it('prints help through npx after install', () => {
    const r = spawnSync('npx', ['--no-install', 'keyhold', '--help'], { cwd: ROOT, encoding: 'utf8', env: cleanEnv() });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: keyhold');
    for (const cmd of ['init', 'info', 'slot', 'passphrase', 'key']) expect(r.stdout).toContain(cmd);
  });

  it('init, info, key create, key reveal round-trip a key whose checksum validates', () => {
    const vault = path.join(dir, 'roundtrip.db');
    const env = { KEYHOLD_PASSPHRASE: PASS };
    const created = run(['--vault', vault, 'init', ...FAST], env);
    expect(created.code).toBe(0);
    expect(created.stdout).toContain('Created vault');

    const info = keyholdJson<VaultInfo>(['--vault', vault, 'info'], env);
    expect(info.vaultId).toMatch(/^[0-9a-f-]{36}$/);
    expect(info.schemaVersion).toBe(SCHEMA_VERSION);
    expect(info.keyslots).toHaveLength(1);
    expect(info.keyslots[0]?.type).toBe('passphrase');
    expect(info.keyslots[0]?.params).toMatchObject({ kdf: 'argon2id', memoryKiB: 19 * 1024, passes: 2 });
    expect(JSON.stringify(info)).not.toContain('salt');

    const key = keyholdJson<KeySummary>(['--vault', vault, 'key', 'create', '--name', 'gateway', '--service', 'payments',
      '--env', 'staging', '--scopes', 'charges:read,charges:write'], env);
    expect(key).toMatchObject({ name: 'gateway', service: 'payments', environment: 'staging', state: 'active',
      scopes: ['charges:read', 'charges:write'], currentVersion: 1 });
    expect(JSON.stringify(key)).not.toMatch(/khk_/);

    const plain = run(['--vault', vault, 'key', 'reveal', key.id], env);
    expect(plain.code).toBe(0);
    const text = plain.stdout.trim();
    expect(parseApiKey(text).keyId).toBe(key.id);

    const revealed = keyholdJson<RevealedKey>(['--vault', vault, 'key', 'reveal', key.id], env);
    expect(revealed).toEqual({ id: key.id, version: 1, secret: text, tookMs: expect.any(Number) });

    const list = keyholdJson<{ keys: KeySummary[] }>(['--vault', vault, 'key', 'list'], env).keys;
    expect(list.map((k) => k.id)).toEqual([key.id]);
    const shown = keyholdJson<KeyDetail>(['--vault', vault, 'key', 'show', key.id], env);
    expect(shown.versions).toEqual([expect.objectContaining({ version: 1, state: 'active' })]);
    expect(info.counts).toEqual({ keys: 0, keyVersions: 0 });
  });

  it('refuses a wrong passphrase with a clear message, a distinct exit code and no change', () => {
    const vault = path.join(dir, 'wrong.db');
    expect(run(['--vault', vault, 'init', ...FAST], { KEYHOLD_PASSPHRASE: PASS }).code).toBe(0);
    const before = fs.readFileSync(vault);
    const r = run(['--vault', vault, 'info'], { KEYHOLD_PASSPHRASE: 'not the passphrase' });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('keyhold: vault: wrong passphrase');
    expect(r.stdout).toBe('');
    expect(fs.readFileSync(vault).equals(before)).toBe(true);

    const j = run(['--json', '--vault', vault, 'info'], { KEYHOLD_PASSPHRASE: 'not the passphrase' });
    expect(j.code).toBe(3);
    expect(JSON.parse(j.stdout)).toEqual({ error: { code: 'WRONG_PASSPHRASE', message: 'vault: wrong passphrase', hint: expect.any(String) } });
  });

  it('reads the passphrase from --passphrase-file and refuses an empty one', () => {
    const vault = path.join(dir, 'file.db');
    const file = path.join(dir, 'pass.txt');
    fs.writeFileSync(file, `${PASS}\n`, { mode: 0o600 });
    expect(run(['--vault', vault, '--passphrase-file', file, 'init', ...FAST]).code).toBe(0);
    expect(keyholdJson<VaultInfo>(['--vault', vault, '--passphrase-file', file, 'info']).keyslots).toHaveLength(1);
    // The environment variable opens the same vault: the file's trailing newline was not part of it.
    expect(run(['--vault', vault, 'info'], { KEYHOLD_PASSPHRASE: PASS }).code).toBe(0);
    const empty = path.join(dir, 'empty.txt');
    fs.writeFileSync(empty, '', { mode: 0o600 });
    const r = run(['--vault', vault, '--passphrase-file', empty, 'info']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is empty');
  });

  it('asks for a passphrase on a terminal without echoing it', async () => {
    const vault = path.join(dir, 'tty.db');
    const r = await keyholdOnTty(['--vault', vault, 'init', ...FAST], [
      { prompt: 'New vault passphrase:', reply: PASS },
      { prompt: 'Repeat it:', reply: PASS },
    ]);
    outputs.push(r.stdout);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Created vault');
    expect(r.stdout).not.toContain(PASS);
    const k = await keyholdOnTty(['--vault', vault, 'info'], [{ prompt: 'Vault passphrase:', reply: PASS }]);
    outputs.push(k.stdout);
    expect(k.code).toBe(0);
    expect(k.stdout).toContain('passphrase');
    expect(k.stdout).not.toContain(PASS);
  });

  it('says how to give a passphrase when there is no terminal', () => {
    const vault = path.join(dir, 'notty.db');
    expect(run(['--vault', vault, 'init', ...FAST], { KEYHOLD_PASSPHRASE: PASS }).code).toBe(0);
    const r = run(['--vault', vault, 'info']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no passphrase given');
    expect(r.stderr).toContain('KEYHOLD_PASSPHRASE');
  });

  it('takes the vault from KEYHOLD_VAULT and asks for one when neither is given', () => {
    const vault = path.join(dir, 'envvault.db');
    expect(run(['init', ...FAST], { KEYHOLD_VAULT: vault, KEYHOLD_PASSPHRASE: PASS }).code).toBe(0);
    expect(fs.existsSync(vault)).toBe(true);
    const r = run(['info'], { KEYHOLD_PASSPHRASE: PASS });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--vault');
  });

  it('never overwrites an existing file with init', () => {
    const vault = path.join(dir, 'exists.db');
    fs.writeFileSync(vault, 'precious');
    const r = run(['--vault', vault, 'init', ...FAST], { KEYHOLD_PASSPHRASE: PASS });
    expect(r.code).toBe(7);
    expect(r.stderr).toContain('already exists');
    expect(fs.readFileSync(vault, 'utf8')).toBe('precious');
  });

  it('refuses a file that is not a vault and a missing vault', () => {
    const notVault = path.join(dir, 'notes.txt');
    fs.writeFileSync(notVault, 'hello');
    const r = run(['--vault', notVault, 'info'], { KEYHOLD_PASSPHRASE: PASS });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('not a Keyhold vault');
    const m = run(['--vault', path.join(dir, 'missing.db'), 'info'], { KEYHOLD_PASSPHRASE: PASS });
    expect(m.code).toBe(4);
    expect(m.stderr).toContain('no vault at');
  });

  it('changes the passphrase, adds and removes keyslots, and keeps the last one', () => {
    const vault = path.join(dir, 'slots.db');
    const env = { KEYHOLD_PASSPHRASE: PASS };
    expect(run(['--vault', vault, 'init', ...FAST], env).code).toBe(0);
    const key = keyholdJson<KeySummary>(['--vault', vault, 'key', 'create', '--name', 'k', '--service', 's'], env);
    const secret = keyholdJson<RevealedKey>(['--vault', vault, 'key', 'reveal', key.id], env).secret;

    const changed = run(['--vault', vault, 'passphrase', 'change', ...FAST], { ...env, KEYHOLD_NEW_PASSPHRASE: NEW_PASS });
    expect(changed.code).toBe(0);
    expect(run(['--vault', vault, 'info'], env).code).toBe(3);
    const env2 = { KEYHOLD_PASSPHRASE: NEW_PASS };
    expect(keyholdJson<RevealedKey>(['--vault', vault, 'key', 'reveal', key.id], env2).secret).toBe(secret);

    const added = keyholdJson<KeyslotInfo>(['--vault', vault, 'slot', 'add-passphrase', '--label', 'backup', ...FAST],
      { ...env2, KEYHOLD_NEW_PASSPHRASE: PASS });
    expect(added).toMatchObject({ id: 2, type: 'passphrase', label: 'backup' });
    const slots = keyholdJson<{ keyslots: KeyslotInfo[] }>(['--vault', vault, 'slot', 'list'], env).keyslots;
    expect(slots.map((s) => s.id)).toEqual([1, 2]);

    expect(run(['--vault', vault, 'slot', 'remove', '1', '--yes'], env).code).toBe(0);
    const last = run(['--json', '--vault', vault, 'slot', 'remove', '2', '--yes'], env);
    expect(last.code).toBe(7);
    expect(JSON.parse(last.stdout).error.code).toBe('LAST_KEYSLOT');
    expect(run(['--vault', vault, 'info'], env2).code).toBe(3);
    expect(keyholdJson<VaultInfo>(['--vault', vault, 'info'], env).keyslots.map((s) => s.id)).toEqual([2]);
  });

  it('refuses bad input with exit code 2 and names the field', () => {
    const vault = path.join(dir, 'bad.db');
    const env = { KEYHOLD_PASSPHRASE: PASS };
    expect(run(['--vault', vault, 'init', ...FAST], env).code).toBe(0);
    const badName = run(['--vault', vault, 'key', 'create', '--name', 'bad name!', '--service', 'svc'], env);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain('keyhold: key create: name must be 1-64 characters');
    const badId = run(['--vault', vault, 'key', 'show', 'nope'], env);
    expect(badId.code).toBe(2);
    expect(badId.stderr).toContain('key id');
    const missing = run(['--vault', vault, 'key', 'show', 'AAAAAAAAAAAAAAAA'], env);
    expect(missing.code).toBe(4);
    expect(run(['--vault', vault, 'frobnicate'], env).code).toBe(2);
    expect(run(['--vault', vault, 'key', 'create', '--service', 'svc'], env).code).toBe(2);
    const short = run(['--vault', path.join(dir, 'short.db'), 'init', ...FAST], { KEYHOLD_PASSPHRASE: 'short' });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('at least 12 characters');
    expect(fs.existsSync(path.join(dir, 'short.db'))).toBe(false);

    expect(run(['--vault', vault, 'key', 'create', '--name', 'dup', '--service', 'svc'], env).code).toBe(0);
    const dup = run(['--vault', vault, 'key', 'create', '--name', 'dup', '--service', 'svc'], env);
    expect(dup.code).toBe(7);
    expect(dup.stderr).toContain('already exists');
    expect(keyholdJson<{ keys: KeySummary[] }>(['--vault', vault, 'key', 'list'], env).keys).toHaveLength(1);
  });

  it('never printed a passphrase in any output above', () => {
    expect(outputs.length).toBeGreaterThan(20);
    for (const o of outputs) {
      expect(o.includes(PASS)).toBe(false);
      expect(o.includes(NEW_PASS)).toBe(false);
    }
  });
});
