/**
 * The fast paths of batch work, held to what they replace: the prepared HMAC
 * key gives createHmac's bytes; BLOBs read as hex MAC exactly like the bytes;
 * the bulk read of keys (list, due, rotate --due / --all) refuses every BLOB
 * whose type or bytes were changed; a batch rotation supersedes the retiring
 * versions of every key it rotates, MAC-checked, all or none. Nothing here
 * prints a secret.
 */
import { createHmac, randomBytes as nodeRandomBytes } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  canonicalRow,
  equalMacHex,
  HexBytes,
  MacKey,
  open,
  seal,
  sha256,
  sha256Hex,
} from '../../electron/core/crypto/primitives.js';
import { keyCreateDetails } from '../../electron/core/keys/keys.js';
import { keyRotateDetails } from '../../electron/core/keys/lifecycle.js';
import { KeyholdService } from '../../electron/core/service.js';
import { canonicalJson } from '../../shared/canonical-json.js';
import { fieldAad } from '../../electron/core/vault/vault.js';
import { DAY_MS, testClock } from '../helpers/clock.js';
import { referenceRow } from '../helpers/reference-row.js';
import { FAST_KDF, tmpDir } from '../helpers/tmp.js';
import { copyVault, expectCode, newPassphrase, snapshot, unchangedSince } from './helpers/harness.js';

describe('primitives against their reference', () => {
  it('canonicalRow matches the plain encoding, for ASCII and non-ASCII text, long text and every type', () => {
    const texts = ['', 'a', '2026-11-27T21:12:14.643Z', 'Zoë', 'naïve — 🔑', '\u{10FFFF}x', 'x'.repeat(5000), 'é'.repeat(3000),
      'lone \ud800 surrogate'];
    for (const t of texts) {
      const fields = [t, 1, null, Buffer.from([1, 2, 3]), Buffer.alloc(0), 2 ** 40, t, 10n];
      expect(Buffer.from(canonicalRow('keys', fields)).equals(referenceRow('keys', fields)), JSON.stringify(t.slice(0, 20))).toBe(true);
      expect(Buffer.from(canonicalRow(t, [])).equals(referenceRow(t, []))).toBe(true);
    }
  });

  it('HexBytes encodes like a Buffer with the same bytes, whatever the case of its hex', () => {
    for (const n of [0, 1, 32, 72, 1000]) {
      const b = nodeRandomBytes(n);
      const want = referenceRow('key_versions', ['id', b, 1]);
      expect(Buffer.from(canonicalRow('key_versions', ['id', new HexBytes(b.toString('hex').toUpperCase()), 1])).equals(want)).toBe(true);
      expect(Buffer.from(canonicalRow('key_versions', ['id', new HexBytes(b.toString('hex')), 1])).equals(want)).toBe(true);
    }
    expect(() => canonicalRow('t', [new HexBytes('zz')])).toThrow(/not hex/);
    expect(() => canonicalRow('t', [new HexBytes('abc')])).toThrow(/not hex/);
  });

  it('MacKey gives HMAC-SHA256 exactly (RFC 2104, as createHmac), for messages of any length; wiped, it refuses', () => {
    for (let i = 0; i < 200; i++) {
      const key = nodeRandomBytes(i % 3 === 0 ? 32 : i % 65);
      const msg = nodeRandomBytes([0, 1, 55, 56, 63, 64, 65, 200, 1000, 1024, 5000][i % 11] as number);
      const mk = new MacKey(key);
      const want = createHmac('sha256', key).update(msg).digest();
      expect(mk.hex(msg)).toBe(want.toString('hex'));
      expect(mk.mac(msg).equals(want)).toBe(true);
      // The work buffers are reused: a second, shorter message after a long one.
      expect(mk.hex(msg.subarray(0, 3))).toBe(createHmac('sha256', key).update(msg.subarray(0, 3)).digest('hex'));
      mk.wipe();
      expect(() => mk.hex(msg)).toThrow();
    }
    expect(() => new MacKey(Buffer.alloc(65))).toThrow();
  });

  it('equalMacHex: equal bytes as a Buffer or as hex of either case; anything else unequal', () => {
    const mac = nodeRandomBytes(32);
    const hex = mac.toString('hex');
    expect(equalMacHex(hex, mac)).toBe(true);
    expect(equalMacHex(hex, new HexBytes(hex.toUpperCase()))).toBe(true);
    const other = Buffer.from(mac);
    other[31] = (other[31] as number) ^ 1;
    for (const bad of [other, new HexBytes(other.toString('hex')), mac.subarray(0, 31), new HexBytes(hex.slice(0, 62)),
      new HexBytes(`${hex.slice(0, 62)}zz`), hex, null, undefined, 42]) {
      expect(equalMacHex(hex, bad)).toBe(false);
    }
  });

  it('sha256Hex is sha256 in hex; fieldAad is the JSON array text', () => {
    const m = nodeRandomBytes(300);
    expect(sha256Hex(m)).toBe(sha256(m).toString('hex'));
    for (const [t, r, v, f] of [['key_versions', '7mBltGCkkZ1AtbhL', 1, 'secret'], ['keys', 'a"b\\c\u2028é', 0, 'notes']] as const) {
      expect(fieldAad(t, r, v, f)).toBe(JSON.stringify(['keyhold/v1', t, r, v, f]));
    }
  });

  it('keyCreateDetails is canonicalJson of the key.create details, for any text and scopes, active or pre-active', () => {
    const texts = ['', 'a', 'key-1', 'Zoë "quoted" \\ back', 'tab\tnew\nline', '\u2028\u2029', '🔑', 'lone \ud800', 'ctl \u0001'];
    const scopeSets = [[], ['read'], ['read', 'write:0', 'admin:*'], ['z', 'a'], ['é', '"', '🔑']];
    let n = 0;
    for (const name of texts) {
      for (const scopes of scopeSets) {
        for (const activateAt of [null, '2027-01-01T00:00:00.000Z']) {
          const spec = { name, service: `svc ${name}`, environment: name.toUpperCase(), scopes, owner: `${name}!` };
          const state = activateAt ? 'pre-active' : 'active';
          const want = canonicalJson({ name: spec.name, service: spec.service, environment: spec.environment, scopes,
            owner: spec.owner, version: 1, state, ...(activateAt ? { activateAt } : {}) });
          expect(keyCreateDetails(spec, state, activateAt)).toBe(want);
          n++;
        }
      }
    }
    expect(n).toBe(texts.length * scopeSets.length * 2);
  });

  it('keyRotateDetails is canonicalJson of the key.rotate details, with and without superseded versions', () => {
    for (const [from, to] of [[1, 2], [9, 10], [123456, 123457]] as const) {
      for (const superseded of [[], [1], [3, 4, 5]]) {
        for (const graceUntil of ['2027-01-01T00:00:00.000Z', 'odd "text" \\ 🔑']) {
          const want = canonicalJson({ from, to, graceUntil, ...(superseded.length > 0 ? { superseded } : {}) });
          expect(keyRotateDetails(from, to, graceUntil, superseded)).toBe(want);
        }
      }
    }
    // Not integers: left to canonicalJson (which refuses what it cannot encode).
    expect(keyRotateDetails(1.5, 2, 'g', [])).toBe(canonicalJson({ from: 1.5, to: 2, graceUntil: 'g' }));
    expect(() => keyRotateDetails(Number.NaN, 2, 'g', [])).toThrow();
  });

  it('seal lays out format, nonce, ciphertext and tag, opens only with its AAD, and never repeats a nonce', () => {
    const key = nodeRandomBytes(32);
    const nonces = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const pt = nodeRandomBytes(i % 80);
      const s = seal(key, pt, 'aad');
      expect(s.length).toBe(1 + 12 + pt.length + 16);
      expect(s[0]).toBe(1);
      nonces.add(s.subarray(1, 13).toString('hex'));
      expect(open(key, s, 'aad', 'x').equals(pt)).toBe(true);
      expect(() => open(key, s, 'aae', 'x')).toThrow(/integrity/);
    }
    expect(nonces.size).toBe(2000);
  });
});

type Opened = { svc: KeyholdService; file: string; dir: string; pass: string; clock: ReturnType<typeof testClock> };

async function openVault(): Promise<Opened> {
  const dir = tmpDir('keyhold-bulk-');
  const file = path.join(dir, 'bulk.khv');
  const pass = newPassphrase();
  const clock = testClock();
  const svc = new KeyholdService({ clock: clock.now, actor: 'alice' });
  onTestFinished(() => svc.close());
  await svc.call('vault.create', { path: file, passphrase: pass, kdf: FAST_KDF });
  return { svc, file, dir, pass, clock };
}

function rawEdit(file: string, sql: string, ...args: unknown[]): void {
  const db = new Database(file);
  try {
    db.pragma('foreign_keys = OFF');
    expect(db.prepare(sql).run(...args).changes).toBeGreaterThan(0);
  } finally {
    db.close();
  }
}

describe('the bulk read of keys (list, due, rotate --all) on BLOBs changed in the file', () => {
  it('refuses a BLOB turned into TEXT, NULL or other bytes, in keys.notes, keys.mac, key_versions.secret and .mac', async () => {
    const { svc, file, dir, pass } = await openVault();
    const a = await svc.call('key.create', { name: 'a', service: 's', notes: 'ops notes — ünïcode' });
    const b = await svc.call('key.create', { name: 'b', service: 's' });
    const d = await svc.call('key.create', { name: 'd', service: 's' });
    await svc.call('key.revoke', { id: d.id, reason: 'retired' });
    await svc.call('key.destroy', { id: d.id });
    const listed = await svc.call('key.list', {});
    expect(listed.map((k) => k.id).sort()).toEqual([a.id, b.id, d.id].sort());
    svc.close();

    const cases: [string, string, unknown[]][] = [
      ['notes as TEXT', 'UPDATE keys SET notes = CAST(notes AS TEXT) WHERE id = ?', [a.id]],
      ['empty notes as TEXT', "UPDATE keys SET notes = '' WHERE id = ?", [b.id]],
      ['empty notes as a number', 'UPDATE keys SET notes = 0 WHERE id = ?', [b.id]],
      ['notes with a flipped byte', `UPDATE keys SET notes = unhex(substr(hex(notes), 1, 40) ||
        CASE substr(hex(notes), 41, 2) WHEN 'FF' THEN '00' ELSE 'FF' END || substr(hex(notes), 43)) WHERE id = ?`, [a.id]],
      ['key mac as TEXT', 'UPDATE keys SET mac = CAST(mac AS TEXT) WHERE id = ?', [a.id]],
      ['key mac as hex TEXT', 'UPDATE keys SET mac = hex(mac) WHERE id = ?', [b.id]],
      ['version mac as TEXT', 'UPDATE key_versions SET mac = CAST(mac AS TEXT) WHERE key_id = ?', [b.id]],
      ['version mac cut short', 'UPDATE key_versions SET mac = substr(mac, 1, 31) WHERE key_id = ?', [a.id]],
      ['secret as TEXT', 'UPDATE key_versions SET secret = CAST(secret AS TEXT) WHERE key_id = ?', [a.id]],
      ['secret as NULL (not destroyed)', 'UPDATE key_versions SET secret = NULL WHERE key_id = ?', [b.id]],
      ['a destroyed secret (NULL) turned into TEXT', "UPDATE key_versions SET secret = 'x' WHERE key_id = ?", [d.id]],
      ['a destroyed secret (NULL) turned into an empty BLOB', 'UPDATE key_versions SET secret = zeroblob(0) WHERE key_id = ?', [d.id]],
      ['a destroyed secret (NULL) turned into an empty TEXT', "UPDATE key_versions SET secret = '' WHERE key_id = ?", [d.id]],
    ];
    for (const [what, sql, args] of cases) {
      const copy = path.join(dir, `${what.replace(/\W+/g, '-')}.khv`);
      copyVault(file, copy);
      rawEdit(copy, sql, ...args);
      const s2 = new KeyholdService({ actor: 'alice' });
      try {
        await s2.call('vault.unlock', { path: copy, passphrase: pass });
        const e = await expectCode(() => s2.call('key.list', {}), 'INTEGRITY');
        expect(e.message, what).toMatch(/integrity check failed for key/);
        await expectCode(() => s2.call('key.due', { all: true }), 'INTEGRITY');
        const before = snapshot(copy);
        await expectCode(() => s2.call('key.rotate', { all: true }), 'INTEGRITY');
        s2.close();
        expect(unchangedSince(copy, before), `${what}: a refused rotation changed the file`).toBe(true);
      } finally {
        s2.close();
      }
    }
  });
});

describe('batch rotation and retiring versions', () => {
  it('supersedes the retiring version of every key it rotates, in version order, each audited with its list', async () => {
    const { svc, clock } = await openVault();
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await svc.call('key.create', { name: `k${i}`, service: `s${i % 3}` })).id);
    clock.advance(DAY_MS);
    await svc.call('key.rotate', { all: true });
    clock.advance(DAY_MS);
    const seq = svc.vault.auditHead.seq;
    const r2 = await svc.call('key.rotate', { all: true });
    expect(r2.rotated).toHaveLength(30);
    const entries = (await svc.call('audit.list', { after: seq, limit: 1000 })).entries;
    expect(entries).toHaveLength(30);
    for (const e of entries) {
      expect(e.action).toBe('key.rotate');
      expect(e.details).toMatchObject({ from: 2, to: 3, superseded: [1] });
    }
    for (const id of ids) {
      const k = await svc.call('key.show', { id });
      expect(k.versions.map((v) => [v.version, v.state, v.revokeReason])).toEqual([
        [1, 'revoked', 'superseded'], [2, 'retiring', null], [3, 'active', null]]);
    }
    expect((await svc.call('audit.verify', {})).ok).toBe(true);
  });

  it('a retiring version altered in the file fails the whole batch (INTEGRITY), nothing written', async () => {
    const { svc, file, pass, clock } = await openVault();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await svc.call('key.create', { name: `k${i}`, service: 's' })).id);
    clock.advance(DAY_MS);
    await svc.call('key.rotate', { all: true });
    svc.close();
    rawEdit(file, "UPDATE key_versions SET grace_until = '2099-01-01T00:00:00.000Z' WHERE key_id = ? AND version = 1", ids[3]);
    const s2 = new KeyholdService({ clock: clock.now, actor: 'alice' });
    onTestFinished(() => s2.close());
    await s2.call('vault.unlock', { path: file, passphrase: pass });
    const head = s2.vault.auditHead.seq;
    const e = await expectCode(() => s2.call('key.rotate', { all: true }), 'INTEGRITY');
    expect(e.message).toContain(`key ${ids[3]} version 1`);
    expect(s2.vault.auditHead.seq).toBe(head);
    // Keys whose retiring versions are intact still rotate one by one; the altered one still fails.
    await s2.call('key.rotate', { ids: [ids[0] as string] });
    await expectCode(() => s2.call('key.rotate', { ids: [ids[3] as string] }), 'INTEGRITY');
  });
});
