/**
 * A key is named by its 16-character id or by service/environment/name,
 * everywhere a key is taken: key show, reveal, rotate, revoke, destroy,
 * policy --key and audit list --key (resolved by the core: resolveKeyRef).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import type { AuditEntry, EffectivePolicy, KeyDetail, RevealedKey } from '../../shared/contract.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { keyhold } from './run.js';

const PASS = 'key names passphrase 1';
let tmp: TmpDir;
let vaultPath: string;
let gw: string;
let other: string;
const env = () => ({ KEYHOLD_VAULT: vaultPath, KEYHOLD_PASSPHRASE: PASS });

function json<T>(args: string[]): T {
  const r = keyhold(['--json', ...args], env());
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as T;
}

beforeAll(async () => {
  tmp = makeTmpDir('keyhold-key-names-');
  vaultPath = path.join(tmp.dir, 'vault.db');
  const svc = new KeyholdService();
  try {
    await svc.call('vault.create', { path: vaultPath, passphrase: PASS, kdf: FAST_KDF });
    gw = (await svc.call('key.create', { name: 'gateway', service: 'payments', environment: 'production' })).id;
    // The same name in another environment: a different key.
    other = (await svc.call('key.create', { name: 'gateway', service: 'payments', environment: 'staging' })).id;
  } finally {
    await svc.shutdown();
  }
});

afterAll(() => tmp?.remove());

describe('service/environment/name names a key', () => {
  it('key show and key reveal', () => {
    expect(json<KeyDetail>(['key', 'show', 'payments/production/gateway']).id).toBe(gw);
    expect(json<KeyDetail>(['key', 'show', 'payments/staging/gateway']).id).toBe(other);
    expect(json<RevealedKey>(['key', 'reveal', 'payments/production/gateway']).id).toBe(gw);
  });

  it('policy --key, stored under the key id', () => {
    const p = json<EffectivePolicy>(['policy', 'set', '--key', 'payments/production/gateway', '--grace', '1d']);
    expect(p.sources.grace).toBe(`key:${gw}`);
  });

  it('key rotate, key revoke and key destroy; audit list --key', () => {
    const rot = json<{ rotated: { id: string }[] }>(['key', 'rotate', 'payments/production/gateway']);
    expect(rot.rotated.map((r) => r.id)).toEqual([gw]);
    expect(json<{ id: string }>(['key', 'revoke', 'payments/production/gateway', '--reason', 'retired', '--yes']).id).toBe(gw);
    expect(json<{ id: string }>(['key', 'destroy', 'payments/production/gateway', '--yes']).id).toBe(gw);
    const audit = json<{ entries: AuditEntry[] }>(['audit', 'list', '--key', 'payments/production/gateway']);
    expect(audit.entries.map((e) => e.action)).toEqual(['key.create', 'key.reveal', 'policy.set', 'key.rotate', 'key.revoke', 'key.destroy']);
    expect(new Set(audit.entries.map((e) => e.keyId))).toEqual(new Set([gw]));
    // The subjects name the id, never the name typed.
    expect(audit.entries.every((e) => e.subject.endsWith(gw))).toBe(true);
  });

  it('a name that matches no key is KEY_NOT_FOUND with a hint; a malformed one INVALID_INPUT', () => {
    const r = keyhold(['key', 'show', 'payments/production/nope'], env());
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('key: no key named nope in payments/production');
    expect(r.stderr).toContain('hint: Name a key by its id or as service/environment/name');
    const bad = keyhold(['key', 'show', 'payments/gateway'], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('key show: the key id must be 16 letters and digits, or name the key as service/environment/name');
  });
});
