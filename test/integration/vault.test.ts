/**
 * The vault file end to end, through the service and the Vault class, on real
 * SQLite files and real Argon2id: create, unlock, refusal of wrong files and
 * passphrases, the single-writer lock across processes, keyslots, lock, and
 * survival of a SIGKILL in the middle of writing.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, onTestFinished } from 'vitest';
import { seal, tryOpen } from '../../electron/core/crypto/primitives.js';
import { createKeys, revealKey } from '../../electron/core/keys/keys.js';
import { KeyholdService } from '../../electron/core/service.js';
import { wrapAad, type SlotOpener } from '../../electron/core/vault/keyslots.js';
import { Vault } from '../../electron/core/vault/vault.js';
import { SCHEMA_VERSION } from '../../electron/core/vault/schema.js';
import { parseApiKey } from '../../shared/apikey.js';
import { KeyholdError } from '../../shared/errors.js';
import { FAST_KDF, tmpDir } from '../helpers/tmp.js';
import {
  creatingLeftovers,
  expectCode,
  median,
  newPassphrase,
  probeUnlock,
  reap,
  sleep,
  snapshot,
  spawnVaultChild,
  unchangedSince,
} from './helpers/harness.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function service(): KeyholdService {
  const svc = new KeyholdService();
  onTestFinished(() => svc.close());
  return svc;
}

/** A closed vault with `keys` keys in a fresh folder. */
async function closedVault(keys = 0): Promise<{ dir: string; file: string; pass: string; ids: string[] }> {
  const dir = tmpDir();
  const file = path.join(dir, 'vault.khv');
  const pass = newPassphrase();
  const svc = new KeyholdService();
  const ids: string[] = [];
  try {
    await svc.call('vault.create', { path: file, passphrase: pass, kdf: FAST_KDF });
    for (let i = 0; i < keys; i++) {
      ids.push((await svc.call('key.create', { name: `key-${i}`, service: 'billing', notes: `note ${i}` })).id);
    }
  } finally {
    svc.close();
  }
  return { dir, file, pass, ids };
}

async function revealAll(svc: KeyholdService, ids: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const id of ids) out.push((await svc.call('key.reveal', { id })).secret);
  return out;
}

describe('vault create', () => {
  it('returns info: a uuid vault id, schema version 1, one passphrase keyslot without its salt, and counts', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'new.khv');
    const svc = service();
    const pass = newPassphrase();
    const before = Date.now();
    const info = await svc.call('vault.create', { path: file, passphrase: pass, kdf: FAST_KDF });

    expect(info.vaultId).toMatch(UUID_RE);
    expect(info.path).toBe(path.resolve(file));
    expect(info.schemaVersion).toBe(SCHEMA_VERSION);
    expect(Date.parse(info.createdAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(info.createdAt)).toBeLessThanOrEqual(Date.now() + 1000);
    expect(info.counts).toEqual({ keys: 0, keyVersions: 0 });
    expect(info.keyslots).toHaveLength(1);
    const slot = info.keyslots[0];
    expect(slot).toMatchObject({ id: 1, type: 'passphrase' });
    expect(slot?.params).toMatchObject({ memoryKiB: 19456, passes: 2, parallelism: 1, kdf: 'argon2id' });
    expect(slot?.params).not.toHaveProperty('salt');
    expect(JSON.stringify(info)).not.toMatch(/salt|wrapped|checksum/i);

    expect(await svc.call('vault.status', {})).toEqual({ unlocked: true, path: path.resolve(file) });
    await svc.call('key.create', { name: 'a', service: 's' });
    await svc.call('key.create', { name: 'b', service: 's' });
    expect((await svc.call('vault.info', {})).counts).toEqual({ keys: 2, keyVersions: 2 });

    // The id and creation time are stored, not made up per session.
    await svc.call('vault.lock', {});
    expect(fs.readdirSync(dir)).toEqual(['new.khv']);
    const again = await svc.call('vault.unlock', { path: file, passphrase: pass });
    expect(again.vaultId).toBe(info.vaultId);
    expect(again.createdAt).toBe(info.createdAt);
    expect(again.keyslots).toEqual(info.keyslots);
    expect(again.counts).toEqual({ keys: 2, keyVersions: 2 });
  });

  it('makes the vault file mode 0600, and its WAL while open', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'v.khv');
    const svc = service();
    await svc.call('vault.create', { path: file, passphrase: newPassphrase(), kdf: FAST_KDF });
    expect((fs.statSync(file).mode & 0o777).toString(8)).toBe('600');
    await svc.call('key.create', { name: 'a', service: 's' });
    expect(fs.existsSync(`${file}-wal`)).toBe(true);
    expect((fs.statSync(`${file}-wal`).mode & 0o777).toString(8)).toBe('600');
    expect(fs.existsSync(`${file}-shm`)).toBe(false);
    svc.close();
    expect((fs.statSync(file).mode & 0o777).toString(8)).toBe('600');
  });

  it('refuses to overwrite an existing vault or file (VAULT_EXISTS) and leaves it byte-identical', async () => {
    const { dir, file, pass, ids } = await closedVault(1);
    const plain = path.join(dir, 'notes.txt');
    fs.writeFileSync(plain, 'precious, not a vault\n');
    const vaultBefore = snapshot(file);
    const plainBefore = snapshot(plain);
    const svc = service();

    for (const target of [file, plain]) {
      const e = await expectCode(() => svc.call('vault.create', { path: target, passphrase: newPassphrase(), kdf: FAST_KDF }),
        'VAULT_EXISTS');
      expect(e.message).toContain('already exists');
    }
    expect(unchangedSince(file, vaultBefore)).toBe(true);
    expect(unchangedSince(plain, plainBefore)).toBe(true);
    expect(creatingLeftovers(dir)).toEqual([]);
    expect(await svc.call('vault.status', {})).toEqual({ unlocked: false, path: null });

    // The old vault still opens with its own passphrase and holds its key.
    await svc.call('vault.unlock', { path: file, passphrase: pass });
    expect((await svc.call('key.list', {})).map((k) => k.id)).toEqual(ids);
  });

  it('refuses a dangling symlink at the target and removes its temporary file', async () => {
    // The existence check passes (the link points nowhere), so the refusal comes
    // late, from publishing the finished file: the temporary file must go.
    const dir = tmpDir();
    const target = path.join(dir, 'v.khv');
    fs.symlinkSync(path.join(dir, 'elsewhere', 'nothing'), target);
    const svc = service();
    await expectCode(() => svc.call('vault.create', { path: target, passphrase: newPassphrase(), kdf: FAST_KDF }),
      'VAULT_EXISTS');
    expect(fs.readlinkSync(target)).toBe(path.join(dir, 'elsewhere', 'nothing'));
    expect(creatingLeftovers(dir)).toEqual([]);
    expect(fs.readdirSync(dir)).toEqual(['v.khv']);
  });

  it('into a missing folder: a clear error that names the missing folder', async () => {
    const dir = tmpDir();
    const missing = path.join(dir, 'no-such-folder');
    const svc = service();
    const e = await expectCode(
      () => svc.call('vault.create', { path: path.join(missing, 'v.khv'), passphrase: newPassphrase(), kdf: FAST_KDF }),
      'PATH_NOT_WRITABLE', 'VAULT_NOT_FOUND');
    expect(e.message).toContain(missing);
    // It is the folder that is missing; "no vault at <folder>" would send the user looking for a vault.
    expect(e.message).not.toMatch(/no vault/i);
    expect(fs.existsSync(missing)).toBe(false);
  });

  it('into a path whose parent is a regular file: PATH_NOT_WRITABLE, and the file is untouched', async () => {
    const dir = tmpDir();
    const parent = path.join(dir, 'plain-file');
    fs.writeFileSync(parent, 'x');
    const before = snapshot(parent);
    const svc = service();
    const e = await expectCode(
      () => svc.call('vault.create', { path: path.join(parent, 'v.khv'), passphrase: newPassphrase(), kdf: FAST_KDF }),
      'PATH_NOT_WRITABLE');
    expect(e.message).toContain(parent);
    expect(unchangedSince(parent, before)).toBe(true);
    expect(creatingLeftovers(dir)).toEqual([]);
  });

  // Tests run as root, so chmod does not stop writes; these kernel file systems do.
  it.each(['/proc/keyhold-test.db', '/sys/keyhold.db'])(
    'into an unwritable location (%s): PATH_NOT_WRITABLE naming the path, not INTERNAL',
    async (target) => {
      expect(fs.existsSync(path.dirname(target))).toBe(true);
      const svc = service();
      const e = await expectCode(() => svc.call('vault.create', { path: target, passphrase: newPassphrase(), kdf: FAST_KDF }),
        'PATH_NOT_WRITABLE');
      expect(e.message).toContain(path.dirname(target));
      expect(fs.existsSync(target)).toBe(false);
      expect(creatingLeftovers(path.dirname(target))).toEqual([]);
    },
  );
});

describe('vault unlock', () => {
  it('with a wrong passphrase: WRONG_PASSPHRASE with a clear message, file bytes and mtime unchanged', async () => {
    const { dir, file } = await closedVault(2);
    const before = snapshot(file);
    const guess = newPassphrase('guess');
    const svc = service();
    const e = await expectCode(() => svc.call('vault.unlock', { path: file, passphrase: guess }), 'WRONG_PASSPHRASE');
    expect(e.message).toContain('wrong passphrase');
    expect(e.message.includes(guess)).toBe(false);
    expect((e.hint ?? '').includes(guess)).toBe(false);
    expect(unchangedSince(file, before)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['vault.khv']); // no -wal or -shm left behind
    expect(await svc.call('vault.status', {})).toEqual({ unlocked: false, path: null });
  });

  it('spends on a wrong guess at least about what a right unlock costs (no shortcut cheaper than the KDF)', async () => {
    const { file, pass } = await closedVault(1);
    const wrong = newPassphrase('guess');
    const right: number[] = [];
    const bad: number[] = [];
    // Warm up Argon2 and SQLite once each, then interleave the measurements.
    (await Vault.unlock(file, pass, {})).lock();
    await expectCode(() => Vault.unlock(file, wrong), 'WRONG_PASSPHRASE');
    for (let i = 0; i < 5; i++) {
      let t = performance.now();
      const v = await Vault.unlock(file, pass);
      right.push(performance.now() - t);
      v.lock();
      t = performance.now();
      await expectCode(() => Vault.unlock(file, wrong), 'WRONG_PASSPHRASE');
      bad.push(performance.now() - t);
    }
    const r = median(right);
    const w = median(bad);
    expect(w, `median wrong guess ${w.toFixed(1)} ms vs median right unlock ${r.toFixed(1)} ms`)
      .toBeGreaterThanOrEqual(0.5 * r);
  });

  it.each([
    ['a text file', (p: string) => fs.writeFileSync(p, 'hello, I am a shopping list\n')],
    ['an empty file', (p: string) => fs.writeFileSync(p, '')],
    ['a directory', (p: string) => fs.mkdirSync(p)],
    ['a SQLite database that is not a vault', (p: string) => {
      const db = new Database(p);
      db.exec("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('a')");
      db.close();
    }],
  ])('refuses %s with NOT_A_VAULT', async (_what, make) => {
    const dir = tmpDir();
    const p = path.join(dir, 'thing');
    make(p);
    const svc = service();
    const e = await expectCode(() => svc.call('vault.unlock', { path: p, passphrase: newPassphrase() }), 'NOT_A_VAULT');
    expect(e.message).toContain(p);
    expect(await svc.call('vault.status', {})).toEqual({ unlocked: false, path: null });
  });

  it('leaves a text file and a foreign SQLite database unchanged when refusing them', async () => {
    const dir = tmpDir();
    const text = path.join(dir, 'list.txt');
    fs.writeFileSync(text, 'SQLite is great\n');
    const foreign = path.join(dir, 'app.sqlite');
    const db = new Database(foreign);
    db.exec("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('a')");
    db.close();
    const textBefore = snapshot(text);
    const foreignBefore = snapshot(foreign);
    const svc = service();
    await expectCode(() => svc.call('vault.unlock', { path: text, passphrase: newPassphrase() }), 'NOT_A_VAULT');
    await expectCode(() => svc.call('vault.unlock', { path: foreign, passphrase: newPassphrase() }), 'NOT_A_VAULT');
    expect(unchangedSince(text, textBefore)).toBe(true);
    // Someone else's database must not be converted (e.g. to WAL mode) by a refused unlock.
    const after = fs.readFileSync(foreign);
    expect(after.equals(foreignBefore.bytes), `bytes changed at offsets ${diffOffsets(foreignBefore.bytes, after)}`).toBe(true);
    expect(fs.readdirSync(dir).sort()).toEqual(['app.sqlite', 'list.txt']);
  });

  it('for a missing file: VAULT_NOT_FOUND naming the path', async () => {
    const dir = tmpDir();
    const p = path.join(dir, 'nope.khv');
    const svc = service();
    const e = await expectCode(() => svc.call('vault.unlock', { path: p, passphrase: newPassphrase() }), 'VAULT_NOT_FOUND');
    expect(e.message).toContain(p);
    expect(fs.existsSync(p)).toBe(false);
  });

  it('refuses a vault with a newer schema (user_version 99) with VAULT_TOO_NEW and does not change it', async () => {
    const { file, pass } = await closedVault(1);
    const db = new Database(file);
    db.pragma('user_version = 99');
    db.close();
    const before = snapshot(file);
    const svc = service();
    const e = await expectCode(() => svc.call('vault.unlock', { path: file, passphrase: pass }), 'VAULT_TOO_NEW');
    expect(e.message).toContain('99');
    expect(unchangedSince(file, before)).toBe(true);
    const check = new Database(file, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(99);
    } finally {
      check.close();
    }
  });
});

describe('one process at a time', () => {
  it('while this process holds the vault, another process gets VAULT_IN_USE; after lock it unlocks', async () => {
    const { file, pass, ids } = await closedVault(1);
    const svc = service();
    await svc.call('vault.unlock', { path: file, passphrase: pass });
    expect(await probeUnlock(file, pass)).toEqual({ code: 'VAULT_IN_USE' });
    // The holder is unaffected.
    expect((await svc.call('key.list', {})).map((k) => k.id)).toEqual(ids);
    await svc.call('vault.lock', {});
    expect(await probeUnlock(file, pass)).toEqual({ ok: true });
  });

  it('while another process holds the vault, this process gets VAULT_IN_USE; after it closes, unlock works', async () => {
    const { file, pass, ids } = await closedVault(1);
    const child = spawnVaultChild('hold', file, pass);
    onTestFinished(() => reap(child));
    await child.waitFor((m) => m.ready === true);
    const svc = service();
    const e = await expectCode(() => svc.call('vault.unlock', { path: file, passphrase: pass }), 'VAULT_IN_USE');
    expect(e.message).toContain('in use');
    expect(await svc.call('vault.status', {})).toEqual({ unlocked: false, path: null });

    child.send('close');
    await child.waitFor((m) => m.closed === true);
    expect((await child.exited).code).toBe(0);
    await svc.call('vault.unlock', { path: file, passphrase: pass });
    expect((await svc.call('key.list', {})).map((k) => k.id)).toEqual(ids);
  });
});

describe('keyslots', () => {
  it('a second passphrase slot unlocks too; after removing slot 1 the old passphrase fails', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'v.khv');
    const p1 = newPassphrase('one');
    const p2 = newPassphrase('two');
    const svc = service();
    await svc.call('vault.create', { path: file, passphrase: p1, kdf: FAST_KDF });
    const { id } = await svc.call('key.create', { name: 'k', service: 's' });
    const text = (await svc.call('key.reveal', { id })).secret;

    const slot = await svc.call('slot.addPassphrase', { passphrase: p2, label: 'backup', kdf: FAST_KDF });
    expect(slot).toMatchObject({ id: 2, type: 'passphrase', label: 'backup' });
    expect(slot.params).not.toHaveProperty('salt');
    expect((await svc.call('slot.list', {})).map((s) => s.id)).toEqual([1, 2]);

    for (const pass of [p1, p2]) {
      await svc.call('vault.lock', {});
      await svc.call('vault.unlock', { path: file, passphrase: pass });
      expect((await svc.call('key.reveal', { id })).secret === text).toBe(true);
    }

    expect(await svc.call('slot.remove', { id: 1 })).toMatchObject({ removed: 1, slot: { id: 1, type: 'passphrase' }, passphraseSlotsLeft: 1 });
    expect((await svc.call('slot.list', {})).map((s) => s.id)).toEqual([2]);
    await svc.call('vault.lock', {});
    const e = await expectCode(() => svc.call('vault.unlock', { path: file, passphrase: p1 }), 'WRONG_PASSPHRASE');
    expect(e.message).toContain('wrong passphrase');
    await svc.call('vault.unlock', { path: file, passphrase: p2 });
    expect((await svc.call('key.reveal', { id })).secret === text).toBe(true);
  });

  it('refuses to remove the last keyslot (LAST_KEYSLOT) and an unknown one (KEYSLOT_NOT_FOUND)', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'v.khv');
    const pass = newPassphrase();
    const svc = service();
    await svc.call('vault.create', { path: file, passphrase: pass, kdf: FAST_KDF });

    const e = await expectCode(() => svc.call('slot.remove', { id: 1 }), 'LAST_KEYSLOT');
    expect(e.message).toContain('last');
    await expectCode(() => svc.call('slot.remove', { id: 99 }), 'KEYSLOT_NOT_FOUND');
    await expectCode(() => svc.call('slot.remove', { id: 0 }), 'INVALID_INPUT');
    expect((await svc.call('slot.list', {})).map((s) => s.id)).toEqual([1]);

    // Still there on disk: the vault still opens with it.
    await svc.call('vault.lock', {});
    const info = await svc.call('vault.unlock', { path: file, passphrase: pass });
    expect(info.keyslots.map((s) => s.id)).toEqual([1]);
  });

  it('change passphrase: the old one fails afterwards, the new one works, keys reveal identically', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'v.khv');
    const oldPass = newPassphrase('old');
    const newPass = newPassphrase('new');
    const svc = service();
    const created = await svc.call('vault.create', { path: file, passphrase: oldPass, kdf: FAST_KDF });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await svc.call('key.create', { name: `k${i}`, service: 's', notes: `n${i}` })).id);
    const texts = await revealAll(svc, ids);

    const slot = await svc.call('passphrase.change', { current: oldPass, next: newPass, kdf: FAST_KDF });
    expect(slot).toMatchObject({ id: 1, type: 'passphrase' });
    await svc.call('vault.lock', {});

    await expectCode(() => svc.call('vault.unlock', { path: file, passphrase: oldPass }), 'WRONG_PASSPHRASE');
    const info = await svc.call('vault.unlock', { path: file, passphrase: newPass });
    expect(info.vaultId).toBe(created.vaultId);
    expect(info.keyslots).toHaveLength(1);
    const after = await revealAll(svc, ids);
    expect(after.length).toBe(texts.length);
    expect(after.every((t, i) => t === texts[i])).toBe(true);
  });

  it('change passphrase with a wrong current passphrase: WRONG_PASSPHRASE and nothing changed', async () => {
    const { file, pass } = await closedVault(1);
    const before = snapshot(file);
    const next = newPassphrase('next');
    const svc = service();
    await svc.call('vault.unlock', { path: file, passphrase: pass });
    const slotsBefore = await svc.call('slot.list', {});
    const e = await expectCode(
      () => svc.call('passphrase.change', { current: newPassphrase('bad'), next, kdf: FAST_KDF }), 'WRONG_PASSPHRASE');
    expect(e.message).toContain('wrong passphrase');
    expect(e.message.includes(next)).toBe(false);
    expect(await svc.call('slot.list', {})).toEqual(slotsBefore);
    await svc.call('vault.lock', {});

    expect(fs.readFileSync(file).equals(before.bytes)).toBe(true);
    await expectCode(() => svc.call('vault.unlock', { path: file, passphrase: next }), 'WRONG_PASSPHRASE');
    await svc.call('vault.unlock', { path: file, passphrase: pass });
  });
});

describe('lock', () => {
  it('after vault.lock, commands give VAULT_LOCKED and the file lock is released', async () => {
    const { file, pass, ids } = await closedVault(1);
    const svc = service();
    await svc.call('vault.unlock', { path: file, passphrase: pass });

    // While unlocked, another connection cannot take the file.
    const busy = new Database(file, { timeout: 0 });
    try {
      expect(() => busy.exec('BEGIN EXCLUSIVE; COMMIT;')).toThrow();
    } finally {
      busy.close();
    }

    expect(await svc.call('vault.lock', {})).toEqual({ locked: true });
    expect(await svc.call('vault.status', {})).toEqual({ unlocked: false, path: null });
    for (const [cmd, input] of [
      ['key.list', {}],
      ['key.show', { id: ids[0] }],
      ['key.reveal', { id: ids[0] }],
      ['key.create', { name: 'x', service: 's' }],
      ['vault.info', {}],
      ['slot.list', {}],
    ] as const) {
      const e = await expectCode(() => svc.call(cmd, input), 'VAULT_LOCKED');
      expect(e.message).toContain('locked');
    }
    // Locking twice is fine.
    expect(await svc.call('vault.lock', {})).toEqual({ locked: true });

    const other = new Database(file, { timeout: 0 });
    try {
      other.exec('BEGIN EXCLUSIVE; COMMIT;');
      expect(other.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(other.prepare('SELECT count(*) AS n FROM keys').get()).toEqual({ n: 1 });
    } finally {
      other.close();
    }
  });

  it('Vault.lock() makes the object refuse every use with VAULT_LOCKED, and is idempotent', async () => {
    const { file, pass, ids } = await closedVault(1);
    const v = await Vault.unlock(file, pass);
    expect(v.isUnlocked).toBe(true);
    v.lock();
    expect(v.isUnlocked).toBe(false);
    v.lock();
    await expectCode(() => v.info(), 'VAULT_LOCKED');
    await expectCode(() => v.db, 'VAULT_LOCKED');
    await expectCode(() => v.listKeyslots(), 'VAULT_LOCKED');
    await expectCode(() => v.openSecret('x', Buffer.alloc(40), 'x'), 'VAULT_LOCKED');
    // The file is free: a fresh unlock works at once.
    const again = await Vault.unlock(file, pass);
    try {
      expect(again.info().counts).toEqual({ keys: ids.length, keyVersions: ids.length });
    } finally {
      again.lock();
    }
  });
});

describe('crash safety', () => {
  it('after SIGKILL in the middle of creating keys, the vault unlocks with every key intact (3 rounds)', async () => {
    const { file, pass } = await closedVault(2);
    let atLeast = 2;
    for (let round = 1; round <= 3; round++) {
      const child = spawnVaultChild('churn', file, pass, [`r${round}`]);
      try {
        await child.waitFor((m) => m.ready === true);
        await child.waitFor((m) => typeof m.committed === 'number');
        await sleep(300 + Math.floor(Math.random() * 500));
        child.proc.kill('SIGKILL');
        const exit = await child.exited;
        expect(exit.signal, `round ${round}: the child ended before the kill; ${child.stderr().slice(-300)}`).toBe('SIGKILL');
      } finally {
        await reap(child);
      }
      const reported = Math.max(0, ...child.messages.map((m) => (typeof m.committed === 'number' ? m.committed : 0)));
      expect(reported).toBeGreaterThan(0);

      const svc = new KeyholdService();
      try {
        await svc.call('vault.unlock', { path: file, passphrase: pass });
        const list = await svc.call('key.list', {});
        // Everything the child reported as committed survived.
        expect(list.length).toBeGreaterThanOrEqual(atLeast + reported);
        let bad = 0;
        for (const k of list) {
          const shown = await svc.call('key.show', { id: k.id });
          const { secret, version } = await svc.call('key.reveal', { id: k.id });
          if (parseApiKey(secret).keyId !== k.id || version !== 1 || shown.versions.length !== 1) bad++;
        }
        expect(bad).toBe(0);
        // A batch is one transaction: all four of its keys, or none.
        const batches = new Map<string, number>();
        for (const k of list) {
          const m = /^(r\d+-batch\d+)-\d$/.exec(k.name);
          if (m) batches.set(m[1] as string, (batches.get(m[1] as string) ?? 0) + 1);
        }
        expect([...batches.values()].filter((n) => n !== 4)).toEqual([]);
        // And it takes writes again.
        const after = await svc.call('key.create', { name: `after-crash-${round}`, service: 'churn' });
        expect(parseApiKey((await svc.call('key.reveal', { id: after.id })).secret).keyId).toBe(after.id);
        atLeast = list.length + 1;
      } finally {
        svc.close();
      }
    }
  });
});

function diffOffsets(a: Buffer, b: Buffer): string {
  const out: number[] = [];
  for (let i = 0; i < Math.max(a.length, b.length) && out.length < 8; i++) if (a[i] !== b[i]) out.push(i);
  return out.length ? out.join(', ') : 'none';
}

describe('keyslot mechanism for other unlock methods', () => {
  it('a slot of another type, added with addSlotWith and opened with its own SlotOpener, unlocks the same vault', async () => {
    const file = path.join(tmpDir(), 'plug.khv');
    const pass = newPassphrase();
    // A stand-in for a quorum's combined secret: a real 256-bit key, a real AES-GCM wrap.
    const kek = randomBytes(32);
    const vault = await Vault.create(file, pass, { kdf: FAST_KDF });
    const added = await vault.addSlotWith((vmk, vaultId, slotId) => {
      const params = JSON.stringify({ scheme: 'test-kek' });
      return Promise.resolve({ type: 'quorum', label: 'test', params,
        wrapped: seal(kek, vmk, wrapAad(vaultId, slotId, 'quorum', params)) });
    });
    expect(added).toMatchObject({ id: 2, type: 'quorum', label: 'test' });
    const [k] = createKeys(vault, [{ name: 'k', service: 's', environment: 'e', scopes: [], owner: '', notes: '' }]);
    const before = revealKey(vault, k!.id);
    vault.lock();

    const opener = (key: Buffer): SlotOpener => ({
      type: 'quorum',
      paramsValid: () => true,
      open: (vaultId, row) => Promise.resolve(tryOpen(key, row.wrapped, wrapAad(vaultId, row.id, row.type, row.params))),
      refused: () => new KeyholdError('WRONG_PASSPHRASE', 'vault: the quorum did not open any keyslot'),
      noSlot: () => new KeyholdError('WRONG_PASSPHRASE', 'vault: no quorum keyslot'),
      dispose: () => key.fill(0),
    });
    const reopened = await Vault.unlockWith(file, opener(Buffer.from(kek)));
    expect(revealKey(reopened, before.id).secret).toBe(before.secret);
    expect(reopened.listKeyslots().map((x) => x.type)).toEqual(['passphrase', 'quorum']);
    reopened.lock();
    const wrong = await expectCode(() => Vault.unlockWith(file, opener(randomBytes(32))), 'WRONG_PASSPHRASE');
    expect(wrong.message).toBe('vault: the quorum did not open any keyslot');
    // The passphrase still opens it too.
    (await Vault.unlock(file, pass)).lock();
  });
});
