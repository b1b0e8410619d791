/**
 * Keys store: the list (filtered here, in the browser, so a keystroke in the
 * search box costs one pass over precomputed lowercase text, not an IPC round
 * trip), the selected key's detail, a revealed secret, and key creation.
 *
 * A revealed secret lives only in `revealed`, which hideSecret(), select(),
 * closeDetail() and clear() (at lock) all drop: no secret outlives the view
 * that asked for it.
 */
import { create } from 'zustand';
import {
  keyCreateInput,
  type KeyDetail,
  type KeyState,
  type KeySummary,
  type RevealedKey,
} from '../../../shared/contract';
import { call, type ApiError } from '../api';
import { useUi } from './ui';

export type Status = 'idle' | 'loading' | 'ready' | 'error';

export type KeyFilter = Readonly<{ query: string; service: string; environment: string; state: KeyState | '' }>;

export const NO_FILTER: KeyFilter = { query: '', service: '', environment: '', state: '' };

export type KeyForm = Readonly<{ name: string; service: string; environment: string; scopes: string }>;

export type FieldErrors = Partial<Record<keyof KeyForm, string>>;

type KeysState = Readonly<{
  status: Status;
  error: ApiError | null;
  all: readonly KeySummary[];
  /** Lowercased search text of each key in `all`, same order. */
  haystack: readonly string[];
  services: readonly string[];
  environments: readonly string[];
  filter: KeyFilter;
  /** Indices into `all` that pass the filter. */
  visible: readonly number[];

  selectedId: string | null;
  detail: KeyDetail | null;
  detailStatus: Status;
  detailError: ApiError | null;

  revealed: RevealedKey | null;
  revealStatus: Status;
  revealError: ApiError | null;
  copyStatus: Status;

  createStatus: Status;
  createError: ApiError | null;
  fieldErrors: FieldErrors;

  load: () => Promise<void>;
  setFilter: (patch: Partial<KeyFilter>) => void;
  select: (id: string | null) => Promise<void>;
  closeDetail: () => void;
  reveal: () => Promise<void>;
  hideSecret: () => void;
  copy: () => Promise<void>;
  createKey: (form: KeyForm) => Promise<KeySummary | null>;
  resetCreate: () => void;
  clear: () => void;
}>;

function searchText(k: KeySummary): string {
  return `${k.name}\n${k.service}\n${k.environment}\n${k.state}\n${k.id}\n${k.scopes.join('\n')}`.toLowerCase();
}

function distinct(values: Iterable<string>): string[] {
  return [...new Set(values)].sort((a, b) => a.localeCompare(b));
}

/**
 * Indices of the keys that pass the filter. `within`, when given, is a previous
 * result known to contain every match (the user typed more of the same query),
 * so only it is scanned: typing narrows a 100,000-key list without rescanning it.
 */
export function applyFilter(
  all: readonly KeySummary[],
  haystack: readonly string[],
  f: KeyFilter,
  within?: readonly number[],
): number[] {
  const q = f.query.trim().toLowerCase();
  // No criterion: every index, without testing 100,000 rows against nothing.
  if (!q && !f.service && !f.environment && !f.state) return Array.from({ length: all.length }, (_, i) => i);
  const out: number[] = [];
  const n = within ? within.length : all.length;
  for (let j = 0; j < n; j++) {
    const i = within ? (within[j] as number) : j;
    const k = all[i] as KeySummary;
    if (f.service && k.service !== f.service) continue;
    if (f.environment && k.environment !== f.environment) continue;
    if (f.state && k.state !== f.state) continue;
    if (q && !(haystack[i] as string).includes(q)) continue;
    out.push(i);
  }
  return out;
}

/** The form as the contract's key.create input; scopes are typed comma- or space-separated. */
export function formToInput(form: KeyForm): Record<string, unknown> {
  const scopes = form.scopes.split(/[\s,]+/).filter((s) => s.length > 0);
  return {
    name: form.name.trim(),
    service: form.service.trim(),
    environment: form.environment.trim() || 'production',
    scopes,
  };
}

/** Validates the form with the very schema main applies, so messages appear at the field before any IPC. */
export function validateForm(form: KeyForm): FieldErrors {
  const r = keyCreateInput.safeParse(formToInput(form));
  if (r.success) return {};
  const errors: FieldErrors = {};
  for (const issue of r.error.issues) {
    const field = issue.path[0];
    if (field === 'name' || field === 'service' || field === 'environment' || field === 'scopes') {
      errors[field] ??= issue.message;
    }
  }
  return errors;
}

/** No key selected: nothing shown, nothing revealed. */
const NO_DETAIL = {
  selectedId: null,
  detail: null,
  detailStatus: 'idle',
  detailError: null,
  revealed: null,
  revealStatus: 'idle',
  revealError: null,
  copyStatus: 'idle',
} as const;

const CLEARED = {
  status: 'idle',
  error: null,
  all: [],
  haystack: [],
  services: [],
  environments: [],
  filter: NO_FILTER,
  visible: [],
  ...NO_DETAIL,
  createStatus: 'idle',
  createError: null,
  fieldErrors: {},
} as const;

export const useKeys = create<KeysState>()((set, get) => ({
  ...CLEARED,

  load: async () => {
    set({ status: 'loading', error: null });
    const r = await call((api) => api.keyList());
    if (!r.ok) {
      set({ status: 'error', error: r.error });
      return;
    }
    const all = r.value;
    const haystack = all.map(searchText);
    set({
      status: 'ready',
      all,
      haystack,
      services: distinct(all.map((k) => k.service)),
      environments: distinct(all.map((k) => k.environment)),
      visible: applyFilter(all, haystack, get().filter),
    });
  },

  setFilter: (patch) => {
    const { filter: before, all, haystack, visible } = get();
    const filter = { ...before, ...patch };
    const oldQ = before.query.trim().toLowerCase();
    const newQ = filter.query.trim().toLowerCase();
    // A longer query with the same selects only narrows: the current matches hold every new one.
    const narrows = oldQ !== '' && newQ.includes(oldQ) && filter.service === before.service
      && filter.environment === before.environment && filter.state === before.state;
    set({ filter, visible: applyFilter(all, haystack, filter, narrows ? visible : undefined) });
  },

  select: async (id) => {
    // Changing the selection closes the previous detail, and with it any revealed secret.
    set({ ...NO_DETAIL, selectedId: id, detailStatus: id ? 'loading' : 'idle' });
    if (!id) return;
    const r = await call((api) => api.keyShow({ id }));
    if (get().selectedId !== id) return;
    if (r.ok) set({ detail: r.value, detailStatus: 'ready' });
    else set({ detailStatus: 'error', detailError: r.error });
  },

  closeDetail: () => set({ ...NO_DETAIL }),

  reveal: async () => {
    const id = get().selectedId;
    if (!id) return;
    set({ revealStatus: 'loading', revealError: null, revealed: null });
    const r = await call((api) => api.keyReveal({ id }));
    // The user may have closed the view while main answered: drop the secret then.
    if (get().selectedId !== id) return;
    if (r.ok) set({ revealed: r.value, revealStatus: 'ready' });
    else set({ revealStatus: 'error', revealError: r.error });
  },

  hideSecret: () => set({ revealed: null, revealStatus: 'idle', revealError: null }),

  copy: async () => {
    const id = get().selectedId;
    if (!id) return;
    set({ copyStatus: 'loading', revealError: null });
    const r = await call((api) => api.clipboardCopySecret({ id }));
    if (get().selectedId !== id) return;
    if (r.ok) {
      set({ copyStatus: 'ready' });
      const after = r.value.clearAfterSeconds;
      useUi.getState().announce(after > 0 ? `Secret copied. The clipboard clears in ${after} seconds.` : 'Secret copied.');
    } else {
      set({ copyStatus: 'error', revealError: r.error });
    }
  },

  createKey: async (form) => {
    const fieldErrors = validateForm(form);
    if (Object.keys(fieldErrors).length > 0) {
      set({ fieldErrors, createError: null, createStatus: 'error' });
      return null;
    }
    set({ fieldErrors: {}, createError: null, createStatus: 'loading' });
    const r = await call((api) => api.keyCreate(formToInput(form) as Parameters<typeof api.keyCreate>[0]));
    if (!r.ok) {
      set({
        createStatus: 'error',
        createError: r.error,
        fieldErrors: r.error.code === 'KEY_EXISTS' ? { name: 'a key with this name already exists in this service and environment' } : {},
      });
      return null;
    }
    const key = r.value;
    const all = [...get().all, key];
    const haystack = [...get().haystack, searchText(key)];
    set({
      createStatus: 'ready',
      all,
      haystack,
      services: distinct(all.map((k) => k.service)),
      environments: distinct(all.map((k) => k.environment)),
      visible: applyFilter(all, haystack, get().filter),
    });
    useUi.getState().announce(`Key ${key.name} created.`);
    return key;
  },

  resetCreate: () => set({ createStatus: 'idle', createError: null, fieldErrors: {} }),

  clear: () => set({ ...CLEARED }),
}));
