/**
 * The file helpers every command goes through (electron/core/fsutil.ts), on
 * real files: a real vault open in WAL mode with its -wal and -shm, symbolic
 * links (dangling, to a folder, to a device), folders, a FIFO, /dev/zero and
 * a procfs file whose stat size lies.
 *
 * Reading: anything but a regular file is refused before a byte is read
 * (NOT_A_FILE), and the size limit stops the read itself (FILE_TOO_LARGE).
 * Writing: nothing existing is ever replaced, the vault's own files are
 * refused whether they exist yet or not, and the check comes first.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { verifyAuditFile } from '../../electron/core/audit/log.js';
import {
  checkNewFile,
  publishNewFile,
  READ_LIMITS,
  readRegularFile,
  stageNewFile,
  vaultFiles,
  writeNewFile,
} from '../../electron/core/fsutil.js';
import { KeyholdService } from '../../electron/core/service.js';
import { FAST_KDF, tmpDir } from '../helpers/tmp.js';
import { expectCode, newPassphrase } from './helpers/harness.js';

const read = (file: string, limit = READ_LIMITS.secret): Buffer => readRegularFile(file, { prefix: 'test', what: 'test', limit });

/** A real vault, open (so its -wal and -shm exist), in a fresh folder. */
async function openVault(): Promise<{ dir: string; file: string }> {
  const dir = tmpDir('keyhold-files-');
  const file = path.join(dir, 'vault.khv');
  const svc = new KeyholdService();
  onTestFinished(() => svc.close());
  await svc.call('vault.create', { path: file, passphrase: newPassphrase(), kdf: FAST_KDF });
  await svc.call('key.create', { name: 'k', service: 's' });
  return { dir, file };
}

describe('readRegularFile: regular files only, size bounded while reading', () => {
  it('reads a regular file, and one through a link', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'secret');
    fs.writeFileSync(f, 'hello\n');
    const l = path.join(dir, 'link');
    fs.symlinkSync(f, l);
    expect(read(f).toString()).toBe('hello\n');
    expect(read(l).toString()).toBe('hello\n');
  });

  it('refuses /dev/zero, a link to it, a folder and a FIFO with NOT_A_FILE, at once', async () => {
    const dir = tmpDir();
    const zero = path.join(dir, 'zero');
    fs.symlinkSync('/dev/zero', zero);
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const t0 = Date.now();
    for (const p of ['/dev/zero', zero, dir, fifo]) {
      const e = await expectCode(() => read(p, READ_LIMITS.audit), 'NOT_A_FILE');
      expect(e.message).toContain(p);
    }
    // No read happened: /dev/zero was not read up to the 1 GiB audit limit, the FIFO open did not wait for a writer.
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('stops at the limit while reading (FILE_TOO_LARGE); a file exactly at the limit is read', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'big');
    fs.writeFileSync(f, Buffer.alloc(READ_LIMITS.secret, 0x61));
    expect(read(f)).toHaveLength(READ_LIMITS.secret);
    fs.appendFileSync(f, 'b');
    const e = await expectCode(() => read(f), 'FILE_TOO_LARGE');
    expect(e.message).toContain('4 KiB');
  });

  it('does not trust stat: a procfs file of size 0 is read whole, and is still bounded', async () => {
    const status = '/proc/self/status';
    expect(fs.statSync(status).size).toBe(0);
    expect(read(status, READ_LIMITS.jwk).toString()).toMatch(/^Name:/);
    await expectCode(() => read(status, 16), 'FILE_TOO_LARGE');
  });

  it('a missing or unreadable file is FILE_UNREADABLE whatever its kind (a bundle to sign was VAULT_NOT_FOUND, the others INVALID_INPUT)', async () => {
    const missing = path.join(tmpDir(), 'nope');
    const e = await expectCode(() => read(missing), 'FILE_UNREADABLE');
    expect(e.message).toContain('(ENOENT)');
    await expectCode(() => readRegularFile(missing, { prefix: 'bundle', what: 'bundle', limit: READ_LIMITS.bundle }), 'FILE_UNREADABLE');
    await expectCode(() => verifyAuditFile(missing), 'FILE_UNREADABLE');
  });

  it('audit verify --file on /dev/zero is refused at once (it used to read until out of memory)', async () => {
    await expectCode(() => verifyAuditFile('/dev/zero'), 'NOT_A_FILE');
  });
});

describe('checkNewFile: never an existing path, never the vault\'s own files', () => {
  it('refuses the vault, its -wal and -shm (present) and -journal (absent), also through another spelling of the folder', async () => {
    const { dir, file } = await openVault();
    expect(fs.existsSync(`${file}-wal`)).toBe(true);
    expect(fs.existsSync(`${file}-journal`)).toBe(false);
    const other = path.join(tmpDir(), 'alias');
    fs.symlinkSync(dir, other);
    for (const p of [...vaultFiles(file), ...vaultFiles(path.join(other, 'vault.khv')), path.join(dir, '.', 'sub', '..', 'vault.khv-journal')]) {
      const e = await expectCode(() => checkNewFile(p, 'audit', vaultFiles(file)), 'FILE_EXISTS');
      expect(e.message).toMatch(/the vault itself|the vault's own files/);
    }
    // A neighbour's name is fine.
    expect(checkNewFile(path.join(dir, 'vault.khv.bak'), 'audit', vaultFiles(file))).toBe(path.join(dir, 'vault.khv.bak'));
  });

  it('refuses an existing file, a dangling link, a link to a folder (FILE_EXISTS), a folder, a missing folder, a file as folder (PATH_NOT_WRITABLE)', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'file');
    fs.writeFileSync(file, 'x');
    const dangling = path.join(dir, 'dangling');
    fs.symlinkSync(path.join(dir, 'nowhere'), dangling);
    const toDir = path.join(dir, 'to-dir');
    fs.symlinkSync(dir, toDir);
    await expectCode(() => checkNewFile(file, 'audit'), 'FILE_EXISTS');
    expect((await expectCode(() => checkNewFile(dangling, 'audit'), 'FILE_EXISTS')).message).toContain('symbolic link (to nothing)');
    expect((await expectCode(() => checkNewFile(toDir, 'audit'), 'FILE_EXISTS')).message).toContain('symbolic link');
    await expectCode(() => checkNewFile(dir, 'audit'), 'PATH_NOT_WRITABLE');
    await expectCode(() => checkNewFile(`${dir}/new/`, 'audit'), 'PATH_NOT_WRITABLE');
    expect((await expectCode(() => checkNewFile(path.join(dir, 'missing', 'x'), 'audit'), 'PATH_NOT_WRITABLE')).message).toContain('does not exist');
    await expectCode(() => checkNewFile(path.join(file, 'x'), 'audit'), 'PATH_NOT_WRITABLE');
    // Nothing was created or followed.
    expect(fs.readdirSync(dir).sort()).toEqual(['dangling', 'file', 'to-dir']);
    expect(fs.existsSync(path.join(dir, 'nowhere'))).toBe(false);
  });

  it('a read-only folder is PATH_NOT_WRITABLE', async () => {
    if (process.getuid?.() === 0) return; // root writes anywhere: nothing to show
    const dir = tmpDir();
    const ro = path.join(dir, 'ro');
    fs.mkdirSync(ro, 0o500);
    onTestFinished(() => fs.chmodSync(ro, 0o700));
    await expectCode(() => checkNewFile(path.join(ro, 'x'), 'audit'), 'PATH_NOT_WRITABLE');
  });
});

describe('writing: a new file, complete, never replacing', () => {
  it('writeNewFile writes mode 0600 and leaves no temporary file', () => {
    const dir = tmpDir();
    const p = writeNewFile(path.join(dir, 'out.json'), 'data\n', 'test');
    expect(fs.readFileSync(p, 'utf8')).toBe('data\n');
    expect(fs.statSync(p).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dir)).toEqual(['out.json']);
  });

  it('publishNewFile never replaces a file (or link) that appeared after the check; the staged file stays for the caller', async () => {
    const dir = tmpDir();
    const target = checkNewFile(path.join(dir, 'b.json'), 'bundle');
    const tmp = stageNewFile(target, 'new', 'bundle');
    fs.symlinkSync(path.join(dir, 'nowhere'), target);
    await expectCode(() => publishNewFile(tmp, target, 'bundle', 'done', 'hint'), 'FILE_EXISTS');
    expect(fs.lstatSync(target).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(tmp, 'utf8')).toBe('new');
    expect(fs.existsSync(path.join(dir, 'nowhere'))).toBe(false);
  });
});
