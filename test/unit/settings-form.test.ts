/**
 * The Settings screen's forms (renderer/src/stores/settings.ts): what a save
 * sends is exactly what the person changed (an emptied field removes the
 * vault's value; an untouched one is not sent), values out of range are
 * refused before anything is sent, and a policy edit sends only the
 * durations that differ from the ones in force. The theme is applied to
 * <html> and kept in storage.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EffectivePolicy, VaultSettings } from '../../shared/contract.js';

// The renderer is typechecked by its own project (tsconfig.web.json): loaded by path, typed here, as test/e2e/stores.test.ts does.
type Form = { autoLockMinutes: string; clipboardClearSeconds: string; airgapStrict: boolean | null };
type PolicyForm = Record<'rotation' | 'grace' | 'warn' | 'lifetime', string>;
type Theme = 'system' | 'light' | 'dark';
const RENDERER = path.resolve(import.meta.dirname, '../../renderer/src');
const { applyTheme, policyChange, policyForm, savedTheme, settingsChange, useSettings } =
  (await import(path.join(RENDERER, 'stores/settings.ts'))) as {
    applyTheme: (t: Theme) => void;
    savedTheme: () => Theme;
    settingsChange: (f: Form, v: VaultSettings) => { change: Record<string, unknown> } | { errors: Record<string, string> };
    policyForm: (p: EffectivePolicy) => PolicyForm;
    policyChange: (f: PolicyForm, p: EffectivePolicy) => { change: Record<string, string> } | { errors: Record<string, string> };
    useSettings: { getState: () => { theme: Theme; setTheme: (t: Theme) => void } };
  };

const DAY = 86_400;
const POLICY: EffectivePolicy = {
  rotation: 90 * DAY, grace: 7 * DAY, warn: 14 * DAY, lifetime: 365 * DAY,
  sources: { rotation: 'default', grace: 'default', warn: 'default', lifetime: 'default' },
};

describe('settings form', () => {
  const vault = { autoLockMinutes: 5, clipboardClearSeconds: null, airgapStrict: null };

  it('sends only what changed; an emptied field is null', () => {
    expect(settingsChange({ autoLockMinutes: '5', clipboardClearSeconds: '', airgapStrict: null }, vault)).toEqual({ change: {} });
    expect(settingsChange({ autoLockMinutes: ' 10 ', clipboardClearSeconds: '0', airgapStrict: true }, vault))
      .toEqual({ change: { autoLockMinutes: 10, clipboardClearSeconds: 0, airgapStrict: true } });
    expect(settingsChange({ autoLockMinutes: '', clipboardClearSeconds: '', airgapStrict: null }, vault))
      .toEqual({ change: { autoLockMinutes: null } });
  });

  it('refuses what the core would refuse, naming the field', () => {
    const r = settingsChange({ autoLockMinutes: '1441', clipboardClearSeconds: '1.5', airgapStrict: null }, vault);
    expect(r).toEqual({ errors: { autoLockMinutes: 'At most 1440 minutes.', clipboardClearSeconds: 'Write seconds as a whole number, 0 to 3600.' } });
    expect(settingsChange({ autoLockMinutes: '-1', clipboardClearSeconds: '3600', airgapStrict: null }, vault))
      .toEqual({ errors: { autoLockMinutes: 'Write minutes as a whole number, 0 to 1440.' } });
  });
});

describe('policy form', () => {
  it('shows durations as the CLI writes them and sends only the changed ones', () => {
    const form = policyForm(POLICY);
    expect(form).toEqual({ rotation: '90d', grace: '1w', warn: '2w', lifetime: '365d' });
    expect(policyChange(form, POLICY)).toEqual({ change: {} });
    // 7d is the grace in force under another spelling: not a change.
    expect(policyChange({ ...form, rotation: '30d', grace: '7d' }, POLICY)).toEqual({ change: { rotation: '30d' } });
  });

  it('refuses a text that is not a duration, field by field', () => {
    const r = policyChange({ rotation: '10x', grace: '2d', warn: '', lifetime: '365d' }, POLICY);
    expect(Object.keys('errors' in r ? r.errors : {}).sort()).toEqual(['rotation', 'warn']);
  });
});

describe('theme', () => {
  it('is system without a document or storage, and setTheme keeps the choice in the store', () => {
    expect(savedTheme()).toBe('system');
    expect(() => applyTheme('dark')).not.toThrow();
    useSettings.getState().setTheme('dark');
    expect(useSettings.getState().theme).toBe('dark');
    useSettings.getState().setTheme('system');
    expect(useSettings.getState().theme).toBe('system');
  });
});
