/**
 * Settings store: the vault's custody settings (settings.show / settings.set:
 * auto-lock, clipboard clearing, strict air gap), the settings in force and
 * the workstation's (app.environment), the rotation policies (global and per
 * service: policy.show / set / clear), and the theme, which is this
 * workstation's visual preference only (localStorage, never the vault).
 */
import { create } from 'zustand';
import {
  MAX_AUTO_LOCK_MINUTES,
  MAX_CLIPBOARD_CLEAR_SECONDS,
  type EffectivePolicy,
  type VaultSettings,
} from '../../../shared/contract';
import { formatDuration, parseDuration } from '../../../shared/duration';
import type { AppSettings, IpcInput } from '../../../shared/ipc';
import { call, type ApiError } from '../api';
import { useSession } from './session';
import { useUi } from './ui';

// ---- theme ---------------------------------------------------------------------

export type Theme = 'system' | 'light' | 'dark';
export const THEMES: readonly Theme[] = ['system', 'light', 'dark'];
const THEME_KEY = 'keyhold.theme';

function isTheme(x: unknown): x is Theme {
  return typeof x === 'string' && (THEMES as readonly string[]).includes(x);
}

/** The theme saved on this workstation; 'system' when none (or storage is unavailable). */
export function savedTheme(): Theme {
  try {
    const v = globalThis.localStorage?.getItem(THEME_KEY);
    return isTheme(v) ? v : 'system';
  } catch {
    return 'system';
  }
}

/** Sets data-theme on <html> (styles.css follows it through color-scheme); 'system' removes it. */
export function applyTheme(theme: Theme): void {
  const root = globalThis.document?.documentElement;
  if (!root) return;
  if (theme === 'system') delete root.dataset.theme;
  else root.dataset.theme = theme;
}

function saveTheme(theme: Theme): void {
  try {
    if (theme === 'system') globalThis.localStorage?.removeItem(THEME_KEY);
    else globalThis.localStorage?.setItem(THEME_KEY, theme);
  } catch {
    // No storage (a locked-down profile): the theme holds for this window only.
  }
}

// ---- custody settings form -------------------------------------------------------

/** The form as typed: '' for a number means "not set in the vault" (the workstation's applies). */
export type SettingsForm = Readonly<{ autoLockMinutes: string; clipboardClearSeconds: string; airgapStrict: boolean | null }>;
export type SettingsFieldErrors = Partial<Record<'autoLockMinutes' | 'clipboardClearSeconds', string>>;

function formOf(v: VaultSettings): SettingsForm {
  return {
    autoLockMinutes: v.autoLockMinutes === null ? '' : String(v.autoLockMinutes),
    clipboardClearSeconds: v.clipboardClearSeconds === null ? '' : String(v.clipboardClearSeconds),
    airgapStrict: v.airgapStrict,
  };
}

function wholeNumber(text: string, max: number, what: string): { value: number | null } | { error: string } {
  const t = text.trim();
  if (t === '') return { value: null };
  if (!/^\d+$/.test(t)) return { error: `Write ${what} as a whole number, 0 to ${max}.` };
  const n = Number(t);
  if (n > max) return { error: `At most ${max} ${what}.` };
  return { value: n };
}

/** The change to send (only fields that differ from the vault's), or the fields' errors. */
export function settingsChange(form: SettingsForm, vault: VaultSettings):
  { change: { -readonly [K in keyof IpcInput<'settings.set'>]: IpcInput<'settings.set'>[K] } } | { errors: SettingsFieldErrors } {
  const errors: SettingsFieldErrors = {};
  const lock = wholeNumber(form.autoLockMinutes, MAX_AUTO_LOCK_MINUTES, 'minutes');
  const clip = wholeNumber(form.clipboardClearSeconds, MAX_CLIPBOARD_CLEAR_SECONDS, 'seconds');
  if ('error' in lock) errors.autoLockMinutes = lock.error;
  if ('error' in clip) errors.clipboardClearSeconds = clip.error;
  if ('error' in lock || 'error' in clip) return { errors };
  const change: { -readonly [K in keyof IpcInput<'settings.set'>]: IpcInput<'settings.set'>[K] } = {};
  if (lock.value !== vault.autoLockMinutes) change.autoLockMinutes = lock.value;
  if (clip.value !== vault.clipboardClearSeconds) change.clipboardClearSeconds = clip.value;
  if (form.airgapStrict !== vault.airgapStrict) change.airgapStrict = form.airgapStrict;
  return { change };
}

// ---- policies -------------------------------------------------------------------

export const POLICY_FIELDS = ['rotation', 'grace', 'warn', 'lifetime'] as const;
export type PolicyField = (typeof POLICY_FIELDS)[number];
export type PolicyScopeRef = Readonly<{ global: true }> | Readonly<{ service: string }>;
export type PolicyForm = Readonly<Record<PolicyField, string>>;
export type PolicyFieldErrors = Partial<Record<PolicyField, string>>;

export function scopeKey(s: PolicyScopeRef): string {
  return 'global' in s ? 'global' : `service:${s.service}`;
}

export function policyForm(p: EffectivePolicy): PolicyForm {
  return { rotation: formatDuration(p.rotation), grace: formatDuration(p.grace), warn: formatDuration(p.warn), lifetime: formatDuration(p.lifetime) };
}

/** The fields whose value the form changes (durations like 90d), or each field's error. */
export function policyChange(form: PolicyForm, current: EffectivePolicy):
  { change: Partial<Record<PolicyField, string>> } | { errors: PolicyFieldErrors } {
  const errors: PolicyFieldErrors = {};
  const change: Partial<Record<PolicyField, string>> = {};
  for (const f of POLICY_FIELDS) {
    const text = form[f].trim();
    let seconds: number;
    try {
      seconds = parseDuration(text, f);
    } catch {
      errors[f] = 'Write a whole number and a unit: s, m, h, d or w (for example 90d or 36h).';
      continue;
    }
    if (seconds !== current[f]) change[f] = text;
  }
  return Object.keys(errors).length > 0 ? { errors } : { change };
}

const SERVICE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export function isServiceName(s: string): boolean {
  return SERVICE_RE.test(s);
}

/** Policies shown per service: at most this many services are read at once. */
export const MAX_SERVICES = 200;

// ---- the store --------------------------------------------------------------------

export type LoadStatus = 'idle' | 'loading' | 'ready' | 'error';

type SettingsState = Readonly<{
  status: LoadStatus;
  loadError: ApiError | null;
  /** The vault's own settings (null fields: not set in the vault). */
  vault: VaultSettings | null;
  inForce: AppSettings | null;
  workstation: AppSettings | null;
  form: SettingsForm;
  fieldErrors: SettingsFieldErrors;
  saving: boolean;
  saveError: ApiError | null;
  /** What the last save said, for a visible confirmation. */
  saved: string | null;

  theme: Theme;

  policyStatus: LoadStatus;
  policyLoadError: ApiError | null;
  global: EffectivePolicy | null;
  /** Effective policy of each service shown, by name. */
  services: Readonly<Record<string, EffectivePolicy>>;
  /** The scope being edited (scopeKey), its form, errors and outcome. */
  editing: PolicyScopeRef | null;
  policyForm: PolicyForm | null;
  policyErrors: PolicyFieldErrors;
  policyBusy: boolean;
  policyError: ApiError | null;
  policySaved: string | null;

  load: () => Promise<void>;
  setField: <K extends keyof SettingsForm>(k: K, v: SettingsForm[K]) => void;
  save: () => Promise<boolean>;
  setTheme: (t: Theme) => void;
  loadPolicies: (services: readonly string[]) => Promise<void>;
  editPolicy: (scope: PolicyScopeRef) => Promise<void>;
  setPolicyField: (f: PolicyField, v: string) => void;
  savePolicy: () => Promise<boolean>;
  clearPolicy: () => Promise<boolean>;
  closePolicy: () => void;
  clear: () => void;
}>;

const EMPTY_FORM: SettingsForm = { autoLockMinutes: '', clipboardClearSeconds: '', airgapStrict: null };

const INITIAL = {
  status: 'idle' as LoadStatus,
  loadError: null,
  vault: null,
  inForce: null,
  workstation: null,
  form: EMPTY_FORM,
  fieldErrors: {},
  saving: false,
  saveError: null,
  saved: null,
  policyStatus: 'idle' as LoadStatus,
  policyLoadError: null,
  global: null,
  services: {},
  editing: null,
  policyForm: null,
  policyErrors: {},
  policyBusy: false,
  policyError: null,
  policySaved: null,
};

export const useSettings = create<SettingsState>()((set, get) => ({
  ...INITIAL,
  theme: savedTheme(),

  load: async () => {
    set({ status: 'loading', loadError: null, saved: null, saveError: null });
    const [vault, env] = await Promise.all([call((api) => api.settingsShow()), call((api) => api.appEnvironment())]);
    if (!vault.ok) {
      set({ status: 'error', loadError: vault.error });
      return;
    }
    if (!env.ok) {
      set({ status: 'error', loadError: env.error });
      return;
    }
    // The header and other screens read the environment from the session: keep it current.
    useSession.setState({ env: env.value, airgap: env.value.airgap });
    set({ status: 'ready', vault: vault.value, form: formOf(vault.value), fieldErrors: {},
      inForce: env.value.settings, workstation: env.value.workstation ?? null });
  },

  setField: (k, v) => set((s) => ({ form: { ...s.form, [k]: v }, fieldErrors: { ...s.fieldErrors, [k]: undefined }, saved: null, saveError: null })),

  save: async () => {
    const { form, vault } = get();
    if (!vault) return false;
    const r = settingsChange(form, vault);
    if ('errors' in r) {
      set({ fieldErrors: r.errors, saved: null });
      return false;
    }
    if (Object.keys(r.change).length === 0) {
      set({ saved: 'Nothing to save: the settings are as stored.', saveError: null });
      return true;
    }
    set({ saving: true, saveError: null, saved: null });
    const res = await call((api) => api.settingsSet(r.change));
    if (!res.ok) {
      set({ saving: false, saveError: res.error });
      return false;
    }
    const env = await call((api) => api.appEnvironment());
    if (env.ok) useSession.setState({ env: env.value, airgap: env.value.airgap });
    set({ saving: false, vault: res.value, form: formOf(res.value), fieldErrors: {},
      inForce: env.ok ? env.value.settings : get().inForce, saved: 'Settings saved in the vault and applied. The change is in the audit log.' });
    useUi.getState().announce('Settings saved.');
    return true;
  },

  setTheme: (theme) => {
    applyTheme(theme);
    saveTheme(theme);
    set({ theme });
  },

  loadPolicies: async (services) => {
    set({ policyStatus: 'loading', policyLoadError: null });
    const g = await call((api) => api.policyShow({ scope: { global: true } }));
    if (!g.ok) {
      set({ policyStatus: 'error', policyLoadError: g.error });
      return;
    }
    const out: Record<string, EffectivePolicy> = {};
    for (const s of services.slice(0, MAX_SERVICES)) {
      const p = await call((api) => api.policyShow({ scope: { service: s } }));
      if (!p.ok) {
        set({ policyStatus: 'error', policyLoadError: p.error });
        return;
      }
      out[s] = p.value;
    }
    set({ policyStatus: 'ready', global: g.value, services: out });
  },

  editPolicy: async (scope) => {
    set({ editing: scope, policyForm: null, policyErrors: {}, policyError: null, policySaved: null, policyBusy: true });
    const p = await call((api) => api.policyShow({ scope }));
    if (get().editing !== scope) return;
    if (!p.ok) {
      set({ policyBusy: false, policyError: p.error });
      return;
    }
    set({ policyBusy: false, policyForm: policyForm(p.value), ...record(scope, p.value) });
  },

  setPolicyField: (f, v) => set((s) => (s.policyForm
    ? { policyForm: { ...s.policyForm, [f]: v }, policyErrors: { ...s.policyErrors, [f]: undefined }, policySaved: null }
    : {})),

  savePolicy: async () => {
    const { editing, policyForm: form } = get();
    if (!editing || !form) return false;
    const current = current_(get(), editing);
    if (!current) return false;
    const r = policyChange(form, current);
    if ('errors' in r) {
      set({ policyErrors: r.errors, policySaved: null });
      return false;
    }
    if (Object.keys(r.change).length === 0) {
      set({ policySaved: 'Nothing to save: the values are the ones in force.', policyError: null });
      return true;
    }
    set({ policyBusy: true, policyError: null, policySaved: null });
    const res = await call((api) => api.policySet({ scope: editing, ...r.change }));
    if (!res.ok) {
      set({ policyBusy: false, policyError: res.error });
      return false;
    }
    set({ policyBusy: false, policyForm: policyForm(res.value), policySaved: `The ${scopeLabel(editing)} policy is saved.`,
      ...record(editing, res.value) });
    useUi.getState().announce(`The ${scopeLabel(editing)} policy is saved.`);
    if ('global' in editing) await refreshServices(get, set);
    return true;
  },

  clearPolicy: async () => {
    const { editing } = get();
    if (!editing) return false;
    set({ policyBusy: true, policyError: null, policySaved: null });
    const res = await call((api) => api.policyClear({ scope: editing }));
    if (!res.ok) {
      set({ policyBusy: false, policyError: res.error });
      return false;
    }
    set({ policyBusy: false, policyForm: policyForm(res.value), policyErrors: {},
      policySaved: `The ${scopeLabel(editing)} policy is removed; ${'global' in editing ? 'the defaults apply' : 'the global policy and the defaults apply'}.`,
      ...record(editing, res.value) });
    useUi.getState().announce(`The ${scopeLabel(editing)} policy is removed.`);
    if ('global' in editing) await refreshServices(get, set);
    return true;
  },

  closePolicy: () => set({ editing: null, policyForm: null, policyErrors: {}, policyError: null, policySaved: null, policyBusy: false }),

  clear: () => set({ ...INITIAL }),
}));

export function scopeLabel(s: PolicyScopeRef): string {
  return 'global' in s ? 'global' : `${s.service} service`;
}

function record(scope: PolicyScopeRef, p: EffectivePolicy): Partial<SettingsState> {
  const s = useSettings.getState();
  return 'global' in scope ? { global: p } : { services: { ...s.services, [scope.service]: p } };
}

function current_(s: SettingsState, scope: PolicyScopeRef): EffectivePolicy | null {
  return 'global' in scope ? s.global : (s.services[scope.service] ?? null);
}

/** After a global change, each service's effective policy may follow it: read them again. */
async function refreshServices(get: () => SettingsState, set: (p: Partial<SettingsState>) => void): Promise<void> {
  const out: Record<string, EffectivePolicy> = {};
  for (const s of Object.keys(get().services)) {
    const p = await call((api) => api.policyShow({ scope: { service: s } }));
    if (p.ok) out[s] = p.value;
  }
  set({ services: { ...get().services, ...out } });
}

// Nothing of the vault stays in the store once it locks.
useSession.subscribe(function clearOnLock(s, prev) {
  if (prev.phase === 'unlocked' && s.phase !== 'unlocked') useSettings.getState().clear();
});
