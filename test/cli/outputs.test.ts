/**
 * Every `--out` of the keyhold CLI (audit export, trust export, bundle
 * export, bundle resend) against the paths that must never be written: the
 * vault itself, its -wal, an existing file, a dangling symbolic link, a link
 * to a folder, and a folder that does not exist. Each is refused with a clear
 * code before any work (no token login, no bundle recorded), the path is
 * left as it was, and the vault still opens. Then the files the CLI reads
 * from the operator: a device, a FIFO, a folder or an oversized file is
 * refused at once (NOT_A_FILE, FILE_TOO_LARGE), never read until memory runs out.
 *
 * The real CLI in child processes, on a SoftHSM2 token.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyholdService } from '../../electron/core/service.js';
import { addRecipient, addTokenSigner, PASSPHRASE, PIN, pinProvider, vaultDigest } from '../bundle/helpers.js';
import type { SoftHsm } from '../helpers/softhsm.js';
import type { TmpDir } from '../helpers/tmp.js';
import { closeTokenVault, openTokenVault } from '../helpers/token-vault.js';
import { keyhold, type Run } from './run.js';

let hsm: SoftHsm;
let tmp: TmpDir;
let vaultPath: string;
let env: Record<string, string>;

beforeAll(async () => {
  let svc: KeyholdService;
  ({ hsm, tmp, svc, vaultPath } = await openTokenVault({
    tokens: [{ label: 'one' }],
    tmpPrefix: 'keyhold-cli-outputs-',
    vaultFile: 'vault.khv',
    passphrase: PASSPHRASE,
    service: (h) => ({ tokens: { module: h.module }, askPin: pinProvider() }),
  }));
  try {
    await addRecipient(svc, 'gw', { verifies: ['payments'] });
    await svc.call('key.create', { name: 'pay', service: 'payments' });
    await addTokenSigner(svc, 'one', 'sig-one', 'ES256');
    // A recorded bundle for `bundle resend`, and a newer key so that `bundle export` has work to do.
    await svc.call('bundle.export', { recipient: 'gw', out: path.join(tmp.dir, 'b1.json') });
    await svc.call('key.create', { name: 'pay2', service: 'payments' });
  } finally {
    await svc.shutdown();
  }
  env = hsm.cliEnv({ KEYHOLD_VAULT: vaultPath, KEYHOLD_PASSPHRASE: PASSPHRASE, KEYHOLD_PIN: PIN });
}, 120_000);

afterAll(() => closeTokenVault({ hsm, tmp }));

function run(args: string[]): Run {
  const r = keyhold(['--json', ...args], env);
  for (const s of [r.stdout, r.stderr]) {
    expect(s).not.toContain(PASSPHRASE);
    expect(s).not.toContain(PIN);
  }
  return r;
}

function errorOf(r: Run): { code: string; message: string; hint?: string } {
  return (JSON.parse(r.stdout) as { error: { code: string; message: string; hint?: string } }).error;
}

/** What is at a path, without following a link. */
function state(p: string): string {
  const st = fs.lstatSync(p, { throwIfNoEntry: false });
  if (!st) return 'absent';
  if (st.isSymbolicLink()) return `link -> ${fs.readlinkSync(p)}`;
  if (st.isDirectory()) return `dir [${fs.readdirSync(p).sort().join(',')}]`;
  return `file ${fs.readFileSync(p).toString('hex').slice(0, 64)} ${st.size}`;
}

const COMMANDS: readonly (readonly [string, string[]])[] = [
  ['audit export', ['audit', 'export']],
  ['trust export', ['trust', 'export']],
  ['bundle export', ['bundle', 'export', '--recipient', 'gw']],
  ['bundle resend', ['bundle', 'resend', '--recipient', 'gw']],
];

describe('every --out refuses what must never be written', () => {
  it.each(COMMANDS)('%s: the vault, its -wal, an existing file, a dangling link, a link to a folder, a missing folder', (_name, args) => {
    const dir = path.join(tmp.dir, 'targets');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'existing.json'), 'an earlier file, not to be lost');
    fs.symlinkSync(path.join(dir, 'nowhere.json'), path.join(dir, 'dangling.json'));
    fs.symlinkSync(path.join(dir, 'sub'), path.join(dir, 'to-sub'));
    const cases: [string, string, RegExp][] = [
      [vaultPath, 'FILE_EXISTS', /the vault itself/],
      [`${vaultPath}-wal`, 'FILE_EXISTS', /the vault's own files/],
      [path.join(dir, 'existing.json'), 'FILE_EXISTS', /already exists/],
      [path.join(dir, 'dangling.json'), 'FILE_EXISTS', /symbolic link \(to nothing\)/],
      [path.join(dir, 'to-sub'), 'FILE_EXISTS', /symbolic link/],
      [path.join(dir, 'missing', 'x.json'), 'PATH_NOT_WRITABLE', /does not exist/],
    ];
    const outDirBefore = state(dir);
    // SQLite makes and removes the -wal and -shm as the vault opens and closes; anything else beside the vault is a leftover.
    const besideVault = (): string[] => fs.readdirSync(tmp.dir).filter((f) => !/\.khv-(wal|shm)$/.test(f)).sort();
    const vaultFolderBefore = besideVault();
    for (const [out, code, message] of cases) {
      const before = vaultDigest(vaultPath);
      const at = state(out);
      const r = run([...args, '--out', out]);
      const e = errorOf(r);
      expect({ out, code: e.code, exit: r.code }).toEqual({ out, code, exit: 7 });
      expect(e.message).toMatch(message);
      expect(e.hint, out).toBeTruthy();
      // Nothing changed: not the path, not the vault (no bundle recorded, no audit entry), no file left beside them.
      if (!out.endsWith('-wal')) expect(state(out)).toBe(at);
      expect(vaultDigest(vaultPath), out).toBe(before);
      expect(state(dir)).toBe(outDirBefore);
      expect(besideVault()).toEqual(vaultFolderBefore);
    }
    // The vault still opens.
    const info = run(['info']);
    expect(info.code, info.stderr).toBe(0);
  });

  it('a dangling link is refused before any token work: no PIN asked, nothing signed (bundle export without KEYHOLD_PIN)', () => {
    const out = path.join(tmp.dir, 'dangling-2.json');
    fs.symlinkSync(path.join(tmp.dir, 'nowhere-2.json'), out);
    const before = vaultDigest(vaultPath);
    const r = keyhold(['--json', 'bundle', 'export', '--recipient', 'gw', '--out', out], { ...env, KEYHOLD_PIN: undefined });
    expect(errorOf(r).code).toBe('FILE_EXISTS');
    expect(vaultDigest(vaultPath)).toBe(before);
    expect(fs.readdirSync(tmp.dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('the normal case still works: audit export to a new file', () => {
    const out = path.join(tmp.dir, 'audit.jsonl');
    const r = run(['audit', 'export', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const v = run(['audit', 'verify', '--file', out]);
    expect(v.code, v.stderr).toBe(0);
  });
});

describe('files read from the operator: regular files only, bounded', () => {
  it('a device, a FIFO, a folder, an oversized or a missing file is refused at once with NOT_A_FILE, FILE_TOO_LARGE or FILE_UNREADABLE', () => {
    const dir = path.join(tmp.dir, 'inputs');
    fs.mkdirSync(dir, { recursive: true });
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const zeroLink = path.join(dir, 'zero-link');
    fs.symlinkSync('/dev/zero', zeroLink);
    const big = path.join(dir, 'big.jwk');
    fs.writeFileSync(big, `{"kty":"OKP","pad":"${'a'.repeat(70 * 1024)}"}`);
    const bigSecret = path.join(dir, 'big-secret');
    fs.writeFileSync(bigSecret, 'x'.repeat(5000), { mode: 0o600 });
    const noPass = { ...env, KEYHOLD_PASSPHRASE: undefined };
    const missing = path.join(dir, 'no-such-file');
    const cases: [string[], Record<string, string | undefined>, string][] = [
      [['recipient', 'add', '--name', 'z', '--public-key', '/dev/zero', '--verifies', 'payments'], env, 'NOT_A_FILE'],
      [['recipient', 'add', '--name', 'z', '--public-key', zeroLink, '--verifies', 'payments'], env, 'NOT_A_FILE'],
      [['recipient', 'add', '--name', 'z', '--public-key', big, '--verifies', 'payments'], env, 'FILE_TOO_LARGE'],
      [['--passphrase-file', '/dev/zero', 'info'], noPass, 'NOT_A_FILE'],
      [['--passphrase-file', fifo, 'info'], noPass, 'NOT_A_FILE'],
      [['--passphrase-file', dir, 'info'], noPass, 'NOT_A_FILE'],
      [['--passphrase-file', bigSecret, 'info'], noPass, 'FILE_TOO_LARGE'],
      [['--pin-file', zeroLink, 'trust', 'export', '--out', path.join(dir, 'root.json')], { ...env, KEYHOLD_PIN: undefined }, 'NOT_A_FILE'],
      [['audit', 'verify', '--file', '/dev/zero'], env, 'NOT_A_FILE'],
      [['audit', 'verify', '--file', fifo], env, 'NOT_A_FILE'],
      [['bundle', 'sign', zeroLink, '--token', 'one'], env, 'NOT_A_FILE'],
      // One code, exit 2, whatever the kind of file (a bundle to sign was VAULT_NOT_FOUND, exit 4; the others INVALID_INPUT).
      [['recipient', 'add', '--name', 'z', '--public-key', missing, '--verifies', 'payments'], env, 'FILE_UNREADABLE'],
      [['--passphrase-file', missing, 'info'], noPass, 'FILE_UNREADABLE'],
      [['audit', 'verify', '--file', missing], env, 'FILE_UNREADABLE'],
      [['bundle', 'sign', missing, '--token', 'one'], env, 'FILE_UNREADABLE'],
    ];
    const before = vaultDigest(vaultPath);
    for (const [args, e, code] of cases) {
      const t0 = Date.now();
      const r = keyhold(['--json', ...args], e);
      expect({ args, code: r.stdout ? errorOf(r).code : r.stderr, exit: r.code }).toEqual({ args, code, exit: 2 });
      expect(Date.now() - t0, args.join(' ')).toBeLessThan(30_000);
    }
    expect(vaultDigest(vaultPath)).toBe(before);
  });
});
