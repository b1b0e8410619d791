/**
 * The vault's custody settings: how long the desktop app waits before it
 * locks an idle vault, how long a copied secret stays on the clipboard, and
 * whether the app refuses to unlock while the workstation is on a network
 * (strict air gap). They travel with the vault (a copy of it on another
 * workstation keeps them), live in its `settings` table as MACed rows (one
 * per setting, checked on every read: a value edited outside Keyhold is
 * refused with INTEGRITY, never applied) and every change is audited as
 * `settings.set` with the old and new values (docs/audit-log.md, section 2).
 *
 * A setting the vault does not hold is null: the workstation's own setting
 * applies (the app's environment, docs/desktop.md, Settings). The core only
 * stores them; the desktop app's router applies and enforces them.
 */

import { MAX_AUTO_LOCK_MINUTES, MAX_CLIPBOARD_CLEAR_SECONDS, type VaultSettings } from '../../shared/contract.js';
import { KeyholdError } from '../../shared/errors.js';
import { deleteSetting, getSetting, putSetting } from './bundle/store.js';
import type { Vault } from './vault/vault.js';

type Field = keyof VaultSettings;
const FIELDS: readonly Field[] = ['autoLockMinutes', 'clipboardClearSeconds', 'airgapStrict'];

/** The row name of each setting in the vault's `settings` table. */
export const SETTING_ROWS: Readonly<Record<Field, string>> = {
  autoLockMinutes: 'app.autoLockMinutes',
  clipboardClearSeconds: 'app.clipboardClearSeconds',
  airgapStrict: 'app.airgapStrict',
};

/** A stored value read back: its MAC held, so anything malformed was written by something other than this code. */
function decode(field: Field, text: string): number | boolean {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = undefined;
  }
  const ok = field === 'airgapStrict'
    ? typeof v === 'boolean'
    : typeof v === 'number' && Number.isInteger(v) && v >= 0 &&
      v <= (field === 'autoLockMinutes' ? MAX_AUTO_LOCK_MINUTES : MAX_CLIPBOARD_CLEAR_SECONDS);
  if (!ok) throw new KeyholdError('VAULT_CORRUPT', `settings: the stored ${field} setting is not a value Keyhold writes`);
  return v as number | boolean;
}

/** The vault's settings, each row MAC-checked (INTEGRITY when one was altered outside Keyhold). */
export function showSettings(vault: Vault): VaultSettings {
  const out: Record<Field, number | boolean | null> = { autoLockMinutes: null, clipboardClearSeconds: null, airgapStrict: null };
  for (const f of FIELDS) {
    const text = getSetting(vault, SETTING_ROWS[f]);
    out[f] = text === null ? null : decode(f, text);
  }
  return out as VaultSettings;
}

export type SettingsChange = { readonly [F in keyof VaultSettings]?: VaultSettings[F] | undefined };

/**
 * Sets the fields given (null removes the vault's value: the workstation's
 * applies again) and writes one `settings.set` entry with, for each field
 * given, its old and new value, in the same transaction. Nothing given:
 * INVALID_INPUT.
 */
export function setSettings(vault: Vault, change: SettingsChange): VaultSettings {
  const given = FIELDS.filter((f) => change[f] !== undefined);
  if (given.length === 0) {
    throw new KeyholdError('INVALID_INPUT', 'settings: nothing to set',
      'Give at least one of auto-lock minutes, clipboard clearing seconds or strict air gap.');
  }
  return vault.transaction(() => {
    const before = showSettings(vault);
    const details: Record<string, { from: number | boolean | null; to: number | boolean | null }> = {};
    for (const f of given) {
      const to = change[f] ?? null;
      if (to === null) deleteSetting(vault, SETTING_ROWS[f]);
      else putSetting(vault, SETTING_ROWS[f], JSON.stringify(to));
      details[f] = { from: before[f], to };
    }
    vault.audit({ action: 'settings.set', subject: 'settings', details });
    return showSettings(vault);
  });
}
