/**
 * The vault's custody settings through the service (settings.show / set):
 * stored in the vault's MACed `settings` rows, every change audited as
 * `settings.set` with old and new values, a row edited outside Keyhold
 * refused, and the CLI's `keyhold settings` over the same vault.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import os from 'node:os';
import { enforceStrictAirgap, externalInterfaceNames, listInterfaces } from '../../electron/core/airgap.js';
import { KeyholdService } from '../../electron/core/service.js';
import { SETTING_ROWS } from '../../electron/core/settings.js';
import { KeyholdError } from '../../shared/errors.js';
import { keyhold } from '../cli/run.js';
import { FAST_KDF, tmpDir } from '../helpers/tmp.js';

const PASS = 'correct horse battery staple';

async function newVault(): Promise<{ file: string; svc: KeyholdService }> {
  const file = path.join(tmpDir(), 'vault.db');
  const svc = new KeyholdService({ actor: 'tester' });
  await svc.call('vault.create', { path: file, passphrase: PASS, kdf: FAST_KDF });
  return { file, svc };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return e instanceof KeyholdError ? e.code : `not a KeyholdError: ${String(e)}`;
  }
  return 'no error';
}

describe('vault settings', () => {
  it('are unset in a new vault, set and shown, kept across a lock, and cleared back to the workstation\'s', async () => {
    const { file, svc } = await newVault();
    expect(await svc.call('settings.show', {})).toEqual({ autoLockMinutes: null, clipboardClearSeconds: null, airgapStrict: null });

    const set = await svc.call('settings.set', { autoLockMinutes: 10, clipboardClearSeconds: 45, airgapStrict: true });
    expect(set).toEqual({ autoLockMinutes: 10, clipboardClearSeconds: 45, airgapStrict: true });

    svc.close();
    await svc.call('vault.unlock', { path: file, passphrase: PASS });
    expect(await svc.call('settings.show', {})).toEqual({ autoLockMinutes: 10, clipboardClearSeconds: 45, airgapStrict: true });

    // One field changed, the others kept; null removes the vault's value.
    expect(await svc.call('settings.set', { clipboardClearSeconds: null })).toEqual(
      { autoLockMinutes: 10, clipboardClearSeconds: null, airgapStrict: true });
    await svc.shutdown();
  });

  it('writes one settings.set audit entry per change with the old and new value of each setting given', async () => {
    const { svc } = await newVault();
    await svc.call('settings.set', { autoLockMinutes: 15 });
    await svc.call('settings.set', { autoLockMinutes: 2, airgapStrict: false });
    await svc.call('settings.set', { autoLockMinutes: null });
    const { entries } = await svc.call('audit.list', { action: 'settings.set' });
    expect(entries.map((e) => [e.subject, e.actor, e.keyId, e.details])).toEqual([
      ['settings', 'tester', null, { autoLockMinutes: { from: null, to: 15 } }],
      ['settings', 'tester', null, { autoLockMinutes: { from: 15, to: 2 }, airgapStrict: { from: null, to: false } }],
      ['settings', 'tester', null, { autoLockMinutes: { from: 2, to: null } }],
    ]);
    expect((await svc.call('audit.verify', {})).ok).toBe(true);
    await svc.shutdown();
  });

  it('refuses out-of-range values and an empty change, writing nothing', async () => {
    const { svc } = await newVault();
    expect(await codeOf(svc.call('settings.set', { autoLockMinutes: -1 }))).toBe('INVALID_INPUT');
    expect(await codeOf(svc.call('settings.set', { autoLockMinutes: 1441 }))).toBe('INVALID_INPUT');
    expect(await codeOf(svc.call('settings.set', { clipboardClearSeconds: 2.5 }))).toBe('INVALID_INPUT');
    expect(await codeOf(svc.call('settings.set', { clipboardClearSeconds: 3601 }))).toBe('INVALID_INPUT');
    expect(await codeOf(svc.call('settings.set', { airgapStrict: 'yes' }))).toBe('INVALID_INPUT');
    expect(await codeOf(svc.call('settings.set', { theme: 'dark' }))).toBe('INVALID_INPUT');
    expect(await codeOf(svc.call('settings.set', {}))).toBe('INVALID_INPUT');
    expect((await svc.call('audit.list', { action: 'settings.set' })).entries).toEqual([]);
    expect(await svc.call('settings.show', {})).toEqual({ autoLockMinutes: null, clipboardClearSeconds: null, airgapStrict: null });
    await svc.shutdown();
  });

  it('refuses a settings row edited in SQLite directly (INTEGRITY), and one copied from another setting', async () => {
    const { file, svc } = await newVault();
    await svc.call('settings.set', { autoLockMinutes: 5, clipboardClearSeconds: 20, airgapStrict: true });
    svc.close();

    // Strict air gap turned off by hand, MAC left as it was.
    const db = new Database(file);
    db.prepare('UPDATE settings SET value = ? WHERE name = ?').run('false', SETTING_ROWS.airgapStrict);
    db.close();
    await svc.call('vault.unlock', { path: file, passphrase: PASS });
    expect(await codeOf(svc.call('settings.show', {}))).toBe('INTEGRITY');
    expect(await codeOf(svc.call('settings.set', { autoLockMinutes: 3 }))).toBe('INTEGRITY');
    svc.close();

    // A MACed row moved under another name (value and MAC of clipboard put on auto-lock): the MAC covers the name.
    const db2 = new Database(file);
    db2.prepare('DELETE FROM settings WHERE name = ?').run(SETTING_ROWS.airgapStrict);
    const clip = db2.prepare('SELECT value, mac FROM settings WHERE name = ?').get(SETTING_ROWS.clipboardClearSeconds) as { value: string; mac: Buffer };
    db2.prepare('UPDATE settings SET value = ?, mac = ? WHERE name = ?').run(clip.value, clip.mac, SETTING_ROWS.autoLockMinutes);
    db2.close();
    await svc.call('vault.unlock', { path: file, passphrase: PASS });
    expect(await codeOf(svc.call('settings.show', {}))).toBe('INTEGRITY');
    await svc.shutdown();
  });

  it('keyhold settings show and set over the same vault, with --json', async () => {
    const { file, svc } = await newVault();
    await svc.shutdown();
    const env = { KEYHOLD_VAULT: file, KEYHOLD_PASSPHRASE: PASS };
    const set = keyhold(['settings', 'set', '--auto-lock', '12', '--clipboard-clear', '0', '--airgap-strict', 'off'], env);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/auto-lock\s+12 min/);
    expect(set.stdout).toMatch(/clipboard-clear\s+0 \(never cleared\)/);
    expect(set.stdout).toMatch(/airgap-strict\s+off/);
    const shown = keyhold(['--json', 'settings', 'show'], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ autoLockMinutes: 12, clipboardClearSeconds: 0, airgapStrict: false });
    const back = keyhold(['settings', 'set', '--auto-lock', 'default'], env);
    expect(back.stdout).toMatch(/auto-lock\s+workstation/);
    const bad = keyhold(['settings', 'set', '--airgap-strict', 'maybe'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--airgap-strict must be on, off or default');
    const none = keyhold(['settings', 'set'], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('settings: nothing to set');
  });

  it('strict air gap holds for the CLI too: with an interface up, a strict vault (or KEYHOLD_AIRGAP_STRICT) is refused, and turning it on is refused', async () => {
    // This machine's own interfaces decide which way each command must go; both ways are checked.
    const connected = externalInterfaceNames(listInterfaces(os.networkInterfaces())).length > 0;
    const { file, svc } = await newVault();
    await svc.call('key.create', { name: 'checkout', service: 'payments' });
    await svc.shutdown();
    const env = { KEYHOLD_VAULT: file, KEYHOLD_PASSPHRASE: PASS };

    const turnOn = keyhold(['settings', 'set', '--airgap-strict', 'on'], env);
    expect(turnOn.code, turnOn.stderr).toBe(connected ? 7 : 0);
    if (connected) expect(turnOn.stderr).toMatch(/strict air gap cannot be turned on while a network interface is up/);

    const byWorkstation = keyhold(['key', 'list'], { ...env, KEYHOLD_AIRGAP_STRICT: '1' });
    expect(byWorkstation.code, byWorkstation.stderr).toBe(connected ? 7 : 0);
    if (connected) expect(byWorkstation.stderr).toMatch(/This workstation is set to require it/);

    // The vault made strict (as on an air-gapped workstation), then opened here.
    await svc.call('vault.unlock', { path: file, passphrase: PASS });
    await svc.call('settings.set', { airgapStrict: true });
    await svc.shutdown();
    const byVault = keyhold(['key', 'list'], env);
    expect(byVault.code, byVault.stderr).toBe(connected ? 7 : 0);
    if (connected) {
      expect(byVault.stderr).toMatch(/AIRGAP_REQUIRED|a network interface is up/);
      expect(byVault.stderr).toMatch(/This vault requires an air-gapped workstation/);
      expect(byVault.stdout).not.toContain('checkout');
    } else {
      expect(byVault.stdout).toContain('checkout');
    }
  });

  it('enforceStrictAirgap: with an interface up, a strict vault or workstation is locked again and refused; loopback only passes', async () => {
    const { file, svc } = await newVault();
    const lo = [{ name: 'lo', family: 'IPv4', internal: true, address: '127.0.0.1' }];
    const up = [...lo, { name: 'eth0', family: 'IPv4', internal: false, address: '192.0.2.9' }];
    const unlocked = async (): Promise<boolean> => (await svc.call('vault.status', {})).unlocked;
    // Neither strict: an interface up changes nothing.
    expect(await enforceStrictAirgap(svc, false, up)).toMatchObject({ airgapStrict: null });
    // The workstation strict: refused, and the vault is locked again.
    expect(await codeOf(enforceStrictAirgap(svc, true, up))).toBe('AIRGAP_REQUIRED');
    expect(await unlocked()).toBe(false);
    // The vault strict: loopback only passes; an interface up is refused and locks it.
    await svc.call('vault.unlock', { path: file, passphrase: PASS });
    await svc.call('settings.set', { airgapStrict: true });
    expect(await enforceStrictAirgap(svc, false, lo)).toMatchObject({ airgapStrict: true });
    expect(await unlocked()).toBe(true);
    expect(await codeOf(enforceStrictAirgap(svc, false, up))).toBe('AIRGAP_REQUIRED');
    expect(await unlocked()).toBe(false);
    await svc.shutdown();
  });

});
