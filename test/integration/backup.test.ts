/**
 * Encrypted backup and restore (docs/backup.md) through the real service, on
 * real SQLite files and real Argon2id: a restored vault is the same vault
 * (info, keys, secrets, audit chain) plus one `vault.restore` entry; and each
 * bad input (truncated, any byte changed, a header spliced from another
 * vault's backup or from another backup, a wrong passphrase, a taken target)
 * is its own clear error with nothing written.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parseBackup } from '../../electron/core/backup/format.js';
import { KeyholdService } from '../../electron/core/service.js';
import type { CommandOutput } from '../../shared/contract.js';
import { KeyholdError } from '../../shared/errors.js';
import { FAST_KDF, tmpDir } from '../helpers/tmp.js';

const PASS = 'backup test passphrase 7Qx!';
const OTHER = 'another vault passphrase 9Zk?';

function service(): KeyholdService {
  const svc = new KeyholdService();
  onTestFinished(() => svc.close());
  return svc;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof KeyholdError) return e.code;
    throw e;
  }
  return 'no error';
}

async function makeVault(dir: string, name: string, pass = PASS): Promise<{ svc: KeyholdService; path: string }> {
  const svc = service();
  const p = path.join(dir, name);
  await svc.call('vault.create', { path: p, passphrase: pass, kdf: FAST_KDF });
  return { svc, path: p };
}

function listing(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

describe('vault backup and restore', () => {
  it('restores a vault identical to the original, plus one audited restore entry, and audit verify passes across it', async () => {
    const dir = tmpDir('keyhold-backup-');
    const { svc } = await makeVault(dir, 'v.db');
    const a = await svc.call('key.create', { name: 'gw', service: 'payments' });
    await svc.call('key.create', { name: 'reports', service: 'payments', notes: 'quarterly' });
    await svc.call('key.rotate', { ids: [a.id] });
    await svc.call('slot.addPassphrase', { passphrase: OTHER, label: 'second', kdf: FAST_KDF });
    const before = await svc.call('vault.info', {});
    const secret = (await svc.call('key.reveal', { id: a.id })).secret;
    const headBefore = (await svc.call('audit.verify', {})).head;

    const out = path.join(dir, 'v.khbackup');
    const b = await svc.call('vault.backup', { out });
    expect(b.path).toBe(out);
    const bytes = fs.readFileSync(out);
    expect(b.bytes).toBe(bytes.length);
    expect(b.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(b.head).toEqual({ seq: headBefore.seq, hash: headBefore.hash });
    expect((fs.statSync(out).mode & 0o777).toString(8)).toBe('600');
    // No temporary file left, and the secret does not appear in the file.
    expect(listing(dir)).toEqual(['v.db', 'v.db-wal', 'v.khbackup'].filter((f) => fs.existsSync(path.join(dir, f))));
    expect(bytes.includes(Buffer.from(secret))).toBe(false);
    const logged = (await svc.call('audit.list', { action: 'vault.backup' })).entries;
    expect(logged).toHaveLength(1);
    expect(logged[0]?.details).toEqual({ file: 'v.khbackup', bytes: bytes.length, sha256: b.sha256, backupId: b.backupId, head: b.head });
    expect((await svc.call('audit.verify', {})).ok).toBe(true);

    // Restored with the second keyslot's passphrase: the same unlock methods open the backup.
    const restoredPath = path.join(dir, 'restored.db');
    const svc2 = service();
    const r = await svc2.call('vault.restore', { file: out, path: restoredPath, passphrase: OTHER });
    const { restoredFrom, ...info } = r;
    expect({ ...info, path: 'x' }).toEqual({ ...before, path: 'x' });
    expect(info.path).toBe(restoredPath);
    expect(restoredFrom).toEqual({ file: 'v.khbackup', sha256: b.sha256, backupId: b.backupId, createdAt: b.createdAt, head: b.head });
    expect((await svc2.call('vault.info', {}))).toEqual(info);
    expect((await svc2.call('key.reveal', { id: a.id })).secret).toBe(secret);
    const verify = await svc2.call('audit.verify', {});
    expect(verify.ok).toBe(true);
    expect(verify.head.seq).toBe(headBefore.seq + 2); // the restore entry, then the reveal
    const restoreEntries = (await svc2.call('audit.list', { action: 'vault.restore' })).entries;
    expect(restoreEntries).toHaveLength(1);
    expect(restoreEntries[0]?.seq).toBe(headBefore.seq + 1);
    expect(restoreEntries[0]?.prevHash).toBe(headBefore.hash);
    svc2.close();

    // The restored file opens on its own with the original's first passphrase.
    const svc3 = service();
    await svc3.call('vault.unlock', { path: restoredPath, passphrase: PASS });
    expect((await svc3.call('audit.verify', {})).ok).toBe(true);
  });

  it('refuses every bad input with its own error and writes nothing', async () => {
    const dir = tmpDir('keyhold-backup-bad-');
    const { svc } = await makeVault(dir, 'v.db');
    await svc.call('key.create', { name: 'gw', service: 'payments' });
    const good = path.join(dir, 'good.khb');
    await svc.call('vault.backup', { out: good });
    const second = path.join(dir, 'second.khb');
    await svc.call('vault.backup', { out: second });
    // Another vault, with the same passphrase, so that only the splice itself can be told.
    const { svc: other } = await makeVault(dir, 'other.db');
    const foreign = path.join(dir, 'foreign.khb');
    await other.call('vault.backup', { out: foreign });
    other.close();
    svc.close();

    const data = fs.readFileSync(good);
    const headerEnd = data.indexOf(0x0a, data.indexOf(0x0a) + 1) + 1;
    const target = path.join(dir, 'restored.db');
    const files = listing(dir);
    const r = service();
    const restore = async (bytes: Buffer, passphrase = PASS): Promise<string> => {
      const f = path.join(dir, 'case.khb');
      fs.writeFileSync(f, bytes);
      const c = await code(r.call('vault.restore', { file: f, path: target, passphrase }));
      fs.rmSync(f);
      expect(listing(dir)).toEqual(files);
      return c;
    };

    // Truncated anywhere: in the magic line, the header, the binding, the content, by one byte.
    for (const n of [5, 40, headerEnd - 3, headerEnd + 20, headerEnd + 200, data.length - 1]) {
      expect(await restore(data.subarray(0, n)), `cut at ${n}`).toBe('BACKUP_TRUNCATED');
    }
    // Any byte changed: every byte of the header and binding, and bytes across the content.
    const changed = (i: number) => {
      const d = Buffer.from(data);
      d[i] = (d[i] as number) ^ 0x01;
      return d;
    };
    const codes = new Map<string, number>();
    for (let i = 0; i < headerEnd + 48; i++) {
      const c = await restore(changed(i));
      codes.set(c, (codes.get(c) ?? 0) + 1);
      expect(i < 17 ? ['BACKUP_INVALID'] : ['BACKUP_ALTERED'], `byte ${i}`).toContain(c);
    }
    for (const i of [headerEnd + 48, headerEnd + 49, headerEnd + 60, headerEnd + 1000, Math.floor((headerEnd + data.length) / 2), data.length - 1]) {
      expect(await restore(changed(i)), `byte ${i}`).toBe('BACKUP_ALTERED');
    }
    expect(codes.get('BACKUP_ALTERED')).toBeGreaterThan(100);
    // A byte added at the end.
    expect(await restore(Buffer.concat([data, Buffer.from([0])]))).toBe('BACKUP_ALTERED');

    // The header of another vault's backup on this one's content, and the other way round.
    const splice = (h: Buffer, body: Buffer) => {
      const he = h.indexOf(0x0a, h.indexOf(0x0a) + 1) + 1;
      const be = body.indexOf(0x0a, body.indexOf(0x0a) + 1) + 1;
      return Buffer.concat([h.subarray(0, he), body.subarray(be)]);
    };
    const foreignData = fs.readFileSync(foreign);
    expect(await restore(splice(foreignData, data))).toBe('BACKUP_WRONG_VAULT');
    expect(await restore(splice(data, foreignData))).toBe('BACKUP_WRONG_VAULT');
    // The header of another backup of the same vault.
    expect(await restore(splice(fs.readFileSync(second), data))).toBe('BACKUP_ALTERED');

    // Not a backup at all (the vault file itself, an empty file).
    expect(await restore(fs.readFileSync(path.join(dir, 'v.db')))).toBe('BACKUP_INVALID');
    expect(await restore(Buffer.alloc(0))).toBe('BACKUP_INVALID');
    // A wrong passphrase.
    expect(await restore(data, 'not the passphrase at all')).toBe('WRONG_PASSPHRASE');

    // A target that is taken: the vault, another file, a stale -wal beside a free name.
    expect(await code(r.call('vault.restore', { file: good, path: path.join(dir, 'v.db'), passphrase: PASS }))).toBe('VAULT_EXISTS');
    expect(await code(r.call('vault.restore', { file: good, path: good, passphrase: PASS }))).toBe('VAULT_EXISTS');
    fs.writeFileSync(`${target}-wal`, 'stale');
    expect(await code(r.call('vault.restore', { file: good, path: target, passphrase: PASS }))).toBe('VAULT_EXISTS');
    fs.rmSync(`${target}-wal`);
    expect(listing(dir)).toEqual(files);

    // The good file still restores (nothing above consumed or changed it).
    expect(parseBackup(data, 'good.khb').header.head.seq).toBeGreaterThan(0);
    await r.call('vault.restore', { file: good, path: target, passphrase: PASS });
    expect((await r.call('audit.verify', {})).ok).toBe(true);
  }, 120_000);

  it('never writes a backup over an existing file or the vault\'s own files', async () => {
    const dir = tmpDir('keyhold-backup-out-');
    const { svc, path: vaultPath } = await makeVault(dir, 'v.db');
    fs.writeFileSync(path.join(dir, 'taken'), 'x');
    for (const out of [path.join(dir, 'taken'), vaultPath, `${vaultPath}-wal`, `${vaultPath}-journal`]) {
      expect(await code(svc.call('vault.backup', { out })), out).toBe('FILE_EXISTS');
    }
    expect(await code(svc.call('vault.backup', { out: path.join(dir, 'no-such-folder', 'b') }))).toBe('PATH_NOT_WRITABLE');
    expect(fs.readFileSync(path.join(dir, 'taken'), 'utf8')).toBe('x');
    const entries: CommandOutput<'audit.list'> = await svc.call('audit.list', { action: 'vault.backup' });
    expect(entries.entries).toEqual([]);
  });
});
