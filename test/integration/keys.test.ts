/**
 * API keys in a real vault, through the service (and createKeys for batches):
 * creation, uniqueness, listing and filters, show, reveal, input validation,
 * and a search of the raw files for anything secret.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createKeys } from '../../electron/core/keys/keys.js';
import { KeyholdService } from '../../electron/core/service.js';
import { API_KEY_LENGTH, parseApiKey } from '../../shared/apikey.js';
import type { KeyCreateSpec } from '../../shared/contract.js';
import { commandTitle, parseCommandInput } from '../../shared/validate.js';
import { FAST_KDF, tmpDir } from '../helpers/tmp.js';
import { expectCode, newPassphrase } from './helpers/harness.js';

const KEY_ID_RE = /^[0-9A-Za-z]{16}$/;

async function openVault(): Promise<{ svc: KeyholdService; file: string; dir: string; pass: string }> {
  const dir = tmpDir();
  const file = path.join(dir, 'keys.khv');
  const pass = newPassphrase();
  const svc = new KeyholdService();
  onTestFinished(() => svc.close());
  await svc.call('vault.create', { path: file, passphrase: pass, kdf: FAST_KDF });
  return { svc, file, dir, pass };
}

async function counts(svc: KeyholdService): Promise<{ keys: number; keyVersions: number }> {
  return (await svc.call('vault.info', {})).counts;
}

function spec(name: string, service: string, more: Partial<KeyCreateSpec> = {}): KeyCreateSpec {
  return parseCommandInput('key.create', { name, service, ...more });
}

describe('key create, show and reveal', () => {
  it('creates a key with defaults: environment production, no scopes, active version 1', async () => {
    const { svc } = await openVault();
    const before = Date.now();
    const k = await svc.call('key.create', { name: 'stripe-live', service: 'billing' });
    expect(k).toMatchObject({
      name: 'stripe-live',
      service: 'billing',
      environment: 'production',
      scopes: [],
      owner: '',
      state: 'active',
      currentVersion: 1,
    });
    expect(k.id).toMatch(KEY_ID_RE);
    expect(Date.parse(k.createdAt)).toBeGreaterThanOrEqual(before - 1000);

    const shown = await svc.call('key.show', { id: k.id });
    expect(shown).toMatchObject({ ...k, notes: '' });
    expect(shown.versions).toHaveLength(1);
    expect(shown.versions[0]).toMatchObject({ version: 1, state: 'active', createdAt: k.createdAt, activatedAt: k.createdAt });
    expect(JSON.stringify(shown)).not.toMatch(/khk_/);

    const r = await svc.call('key.reveal', { id: k.id });
    expect(r.id).toBe(k.id);
    expect(r.version).toBe(1);
    expect(r.secret.length).toBe(API_KEY_LENGTH);
    expect(parseApiKey(r.secret)).toEqual({ keyId: k.id });
    const again = await svc.call('key.reveal', { id: k.id, version: 1 });
    expect(again.secret === r.secret).toBe(true);
    expect(await counts(svc)).toEqual({ keys: 1, keyVersions: 1 });
  });

  it('creates many keys with scopes, owner and notes; each has its own parseable secret', async () => {
    const { svc } = await openVault();
    const made = [];
    for (let i = 0; i < 30; i++) {
      const scopes = Array.from({ length: i % 4 }, (_, j) => `scope:${j}/${i}`);
      made.push(await svc.call('key.create', {
        name: `key-${String(i).padStart(2, '0')}`,
        service: `svc-${i % 3}`,
        environment: i % 2 ? 'staging' : 'production',
        scopes,
        owner: `team ${i % 5}`,
        notes: `rotate every ${i + 1} days\n(second line)`,
      }));
    }
    expect(await counts(svc)).toEqual({ keys: 30, keyVersions: 30 });
    const list = await svc.call('key.list', {});
    expect(list).toHaveLength(30);
    expect(new Set(list.map((k) => k.id))).toEqual(new Set(made.map((k) => k.id)));
    for (const k of made) expect(list.find((l) => l.id === k.id)).toEqual(k);

    const secrets = new Set<string>();
    for (const [i, k] of made.entries()) {
      const shown = await svc.call('key.show', { id: k.id });
      expect(shown.notes).toBe(`rotate every ${i + 1} days\n(second line)`);
      expect(shown.scopes).toEqual(Array.from({ length: i % 4 }, (_, j) => `scope:${j}/${i}`));
      const { secret } = await svc.call('key.reveal', { id: k.id });
      expect(parseApiKey(secret).keyId).toBe(k.id);
      secrets.add(secret.slice(21, 64));
    }
    expect(secrets.size).toBe(30);
  });

  it('refuses a duplicate name in the same service and environment (KEY_EXISTS), writing nothing', async () => {
    const { svc } = await openVault();
    const first = await svc.call('key.create', { name: 'api', service: 'search', scopes: ['read'] });
    const e = await expectCode(() => svc.call('key.create', { name: 'api', service: 'search', scopes: ['admin'] }),
      'KEY_EXISTS');
    expect(e.message).toContain('"api"');
    expect(e.message).toContain('search/production');
    expect(await counts(svc)).toEqual({ keys: 1, keyVersions: 1 });
    expect(await svc.call('key.list', {})).toEqual([first]);

    // The same name elsewhere is a different key.
    const staging = await svc.call('key.create', { name: 'api', service: 'search', environment: 'staging' });
    const other = await svc.call('key.create', { name: 'api', service: 'billing' });
    expect(new Set([first.id, staging.id, other.id]).size).toBe(3);
    expect(await counts(svc)).toEqual({ keys: 3, keyVersions: 3 });
  });

  it('lists keys filtered by service, environment and query, ordered by service, environment, name', async () => {
    const { svc } = await openVault();
    const mk = (name: string, service: string, environment: string, scopes: string[] = [], owner = '') =>
      svc.call('key.create', { name, service, environment, scopes, owner });
    const a = await mk('stripe-live', 'billing', 'production', ['payments:write']);
    const b = await mk('stripe-test', 'billing', 'staging', ['payments:write']);
    const c = await mk('algolia', 'search', 'production', ['search:read'], 'Team-Search');
    const d = await mk('algolia', 'search', 'staging', [], 'someone');
    const e = await mk('zeta', 'billing', 'production', ['read']);

    const ids = async (input: Record<string, string>) => (await svc.call('key.list', input)).map((k) => k.id);
    expect(await ids({})).toEqual([a.id, e.id, b.id, c.id, d.id]);
    expect(await ids({ service: 'billing' })).toEqual([a.id, e.id, b.id]);
    expect(await ids({ environment: 'staging' })).toEqual([b.id, d.id]);
    expect(await ids({ service: 'search', environment: 'production' })).toEqual([c.id]);
    expect(await ids({ query: 'STRIPE' })).toEqual([a.id, b.id]); // name, case-insensitive
    expect(await ids({ query: 'payments:' })).toEqual([a.id, b.id]); // scope
    expect(await ids({ query: 'team-search' })).toEqual([c.id]); // owner
    expect(await ids({ query: c.id.toLowerCase() })).toEqual([c.id]); // id
    expect(await ids({ query: 'algolia', environment: 'staging' })).toEqual([d.id]);
    expect(await ids({ query: 'nothing-matches-this' })).toEqual([]);
    expect(await ids({ service: 'unknown' })).toEqual([]);
  });

  it('reports an unknown key id or version as KEY_NOT_FOUND', async () => {
    const { svc } = await openVault();
    const k = await svc.call('key.create', { name: 'k', service: 's' });
    const unknown = k.id === 'AAAAAAAAAAAAAAAA' ? 'BBBBBBBBBBBBBBBB' : 'AAAAAAAAAAAAAAAA';
    const e = await expectCode(() => svc.call('key.reveal', { id: unknown }), 'KEY_NOT_FOUND');
    expect(e.message).toContain(unknown);
    await expectCode(() => svc.call('key.show', { id: unknown }), 'KEY_NOT_FOUND');
    await expectCode(() => svc.call('key.reveal', { id: k.id, version: 2 }), 'KEY_NOT_FOUND');
  });
});

describe('input validation', () => {
  const longPass = newPassphrase('secret-input');
  const shortPass = 'Sh0rt!pass'; // 10 characters: below the 12 a new passphrase needs

  it.each([
    ['a name with bad characters', 'key.create', { name: 'bad name!', service: 's' }, 'name'],
    ['a 65-character name', 'key.create', { name: 'n'.repeat(65), service: 's' }, 'name'],
    ['a name starting with a dot', 'key.create', { name: '.hidden', service: 's' }, 'name'],
    ['an unknown field', 'key.create', { name: 'ok', service: 's', color: 'red' }, 'unknown field'],
    ['a repeated scope', 'key.create', { name: 'ok', service: 's', scopes: ['a', 'a'] }, 'scopes'],
    ['notes with a control character', 'key.create', { name: 'ok', service: 's', notes: 'bell\u0007' }, 'notes'],
    ['a bad key id (short)', 'key.show', { id: 'abc' }, 'id'],
    ['a bad key id (punctuation)', 'key.reveal', { id: 'abcdefgh-1234567' }, 'id'],
    ['a version of 0', 'key.reveal', { id: 'abcdefgh12345678', version: 0 }, 'version'],
    ['a non-object input', 'key.list', 'service=billing', ''],
  ] as const)('refuses %s with INVALID_INPUT naming the field, writing nothing', async (_what, cmd, input, field) => {
    const { svc } = await openVault();
    const e = await expectCode(() => svc.call(cmd, input), 'INVALID_INPUT');
    // The command as people type it ("key show:", not "key.show:"), then the field.
    expect(e.message.startsWith(`${commandTitle(cmd)}:`)).toBe(true);
    expect(e.message).toContain(field);
    expect(await counts(svc)).toEqual({ keys: 0, keyVersions: 0 });
  });

  it('refuses too-short new passphrases with INVALID_INPUT and never echoes a passphrase', async () => {
    const { svc, dir, pass } = await openVault();
    const attempts: [string, unknown][] = [
      ['vault.create', { path: path.join(dir, 'other.khv'), passphrase: shortPass, kdf: FAST_KDF }],
      ['slot.addPassphrase', { passphrase: shortPass, kdf: FAST_KDF }],
      ['passphrase.change', { current: pass, next: shortPass, kdf: FAST_KDF }],
      ['passphrase.change', { current: longPass, next: longPass, extra: longPass }],
      ['vault.unlock', { path: path.join(dir, 'keys.khv'), passphrase: longPass, remember: true }],
      ['vault.create', { path: path.join(dir, 'weak.khv'), passphrase: longPass, kdf: { memoryKiB: 1024, passes: 1, parallelism: 1 } }],
    ];
    for (const [cmd, input] of attempts) {
      const e = await expectCode(() => svc.call(cmd as 'vault.create', input), 'INVALID_INPUT');
      for (const secret of [shortPass, longPass, pass]) {
        expect(e.message.includes(secret) || (e.hint ?? '').includes(secret), `${cmd} echoed a passphrase`).toBe(false);
      }
    }
    const short = await expectCode(
      () => svc.call('vault.create', { path: path.join(dir, 'x.khv'), passphrase: shortPass, kdf: FAST_KDF }), 'INVALID_INPUT');
    expect(short.message).toContain('at least 12 characters');
    expect(fs.readdirSync(dir).filter((f) => f !== 'keys.khv' && f !== 'keys.khv-wal')).toEqual([]);
    expect((await svc.call('slot.list', {})).map((s) => s.id)).toEqual([1]);
  });
});

describe('batch creation (createKeys)', () => {
  it('refuses a batch with a duplicate inside it as a whole: KEY_EXISTS and zero keys written', async () => {
    const { svc } = await openVault();
    const batch = [spec('one', 'mail'), spec('two', 'mail'), spec('three', 'mail'), spec('two', 'mail'), spec('four', 'mail')];
    const e = await expectCode(() => createKeys(svc.vault, batch), 'KEY_EXISTS');
    expect(e.message).toContain('"two"');
    expect(await counts(svc)).toEqual({ keys: 0, keyVersions: 0 });
    expect(await svc.call('key.list', {})).toEqual([]);

    // A batch that collides with a key already in the vault, at its very end, writes nothing either.
    await svc.call('key.create', { name: 'existing', service: 'mail' });
    const late = [spec('a', 'mail'), spec('b', 'mail'), spec('existing', 'mail')];
    await expectCode(() => createKeys(svc.vault, late), 'KEY_EXISTS');
    expect(await counts(svc)).toEqual({ keys: 1, keyVersions: 1 });

    // The same batch without the duplicate is written whole.
    const progress: [number, number][] = [];
    const made = createKeys(svc.vault, [spec('a', 'mail'), spec('b', 'mail'), spec('c', 'mail', { environment: 'dev' })],
      (done, total) => progress.push([done, total]));
    expect(made.map((k) => k.name)).toEqual(['a', 'b', 'c']);
    expect(progress.at(-1)).toEqual([3, 3]);
    expect(await counts(svc)).toEqual({ keys: 4, keyVersions: 4 });
    for (const k of made) expect(parseApiKey((await svc.call('key.reveal', { id: k.id })).secret).keyId).toBe(k.id);
  });
});

describe('confidentiality at rest', () => {
  it('no key text, secret, note or passphrase appears in the vault file, its WAL or journal (open and closed)', async () => {
    const { svc, file, pass } = await openVault();
    const notes: string[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const note = `confidential note ${i}: ${randomBytes(12).toString('base64url')}`;
      notes.push(note);
      ids.push((await svc.call('key.create', { name: `raw-key-${i}`, service: 'raw', owner: 'auditor', notes: note })).id);
    }
    const texts: string[] = [];
    for (const id of ids) texts.push((await svc.call('key.reveal', { id })).secret);

    const needles: [string, Buffer][] = [['the passphrase', Buffer.from(pass, 'utf8')]];
    texts.forEach((t, i) => {
      needles.push([`key ${i} text`, Buffer.from(t, 'utf8')]);
      needles.push([`key ${i} secret part`, Buffer.from(t.slice(21, 21 + 43), 'utf8')]);
    });
    notes.forEach((n, i) => needles.push([`note ${i}`, Buffer.from(n, 'utf8')]));

    const scan = (when: string): { found: string[]; scanned: string[]; all: Buffer } => {
      const found: string[] = [];
      const scanned: string[] = [];
      const parts: Buffer[] = [];
      for (const f of [file, `${file}-wal`, `${file}-journal`, `${file}-shm`]) {
        if (!fs.existsSync(f)) continue;
        const bytes = fs.readFileSync(f);
        scanned.push(path.basename(f));
        parts.push(bytes);
        for (const [what, needle] of needles) if (bytes.includes(needle)) found.push(`${what} in ${path.basename(f)} (${when})`);
      }
      return { found, scanned, all: Buffer.concat(parts) };
    };

    const open = scan('open');
    expect(open.scanned).toContain('keys.khv');
    expect(open.scanned).toContain('keys.khv-wal');
    expect(open.found).toEqual([]);
    // The scan does see the data: key names are stored in clear by design.
    expect(open.all.includes(Buffer.from('raw-key-17'))).toBe(true);

    svc.close();
    const closed = scan('closed');
    expect(closed.scanned).toEqual(['keys.khv']);
    expect(closed.found).toEqual([]);
    expect(closed.all.includes(Buffer.from('raw-key-17'))).toBe(true);
  });
});
