/**
 * Keys store: the list of the vault's keys with their due status, filtered and
 * sorted here, in the browser (a keystroke or a header click costs a pass over
 * arrays, not an IPC round trip), and key creation. The selected key's detail,
 * its secrets and its actions live in stores/keyDetail.ts.
 *
 * Loading (key.table, shared/contract.ts): first a screenful in the list's own
 * order, drawn at once; then the whole vault as four ranges of key ids asked
 * together (the core's fastest read), each put in the list's order as it
 * arrives, while main reads the next, and merged at the end. Every row is
 * MAC-checked by the core on the way; nothing is shown that was not.
 *
 * Sorting: each column's rank of every row is computed once, when the column is
 * first sorted on (or in idle time after loading), and kept; a sort is then one
 * typed-array sort of numbers. Filtering keeps the sort: it scans the sorted
 * order. Search text is built lazily too, on the first query.
 */
import { create } from 'zustand';
import {
  dueStatusSchema,
  keyCreateInput,
  keyStateSchema,
  type DueStatus,
  type KeyDetail,
  type KeyState,
  type KeySummary,
  type KeyTable,
} from '../../../shared/contract';
import { call, type ApiError } from '../api';
import { useKeyDetail } from './keyDetail';
import { useUi } from './ui';

export type Status = 'idle' | 'loading' | 'ready' | 'error';

/** One row of the list: a key's summary with its due status. */
export type KeyRow = Readonly<{
  id: string;
  name: string;
  service: string;
  environment: string;
  scopes: readonly string[];
  owner: string;
  state: KeyState;
  currentVersion: number;
  createdAt: string;
  due: DueStatus;
  rotateAt: string | null;
}>;

export type KeyFilter = Readonly<{ query: string; service: string; environment: string; state: KeyState | ''; due: DueStatus | '' }>;

export const NO_FILTER: KeyFilter = { query: '', service: '', environment: '', state: '', due: '' };

export const SORT_COLUMNS = ['name', 'service', 'environment', 'state', 'due'] as const;
export type SortColumn = (typeof SORT_COLUMNS)[number];
export type Sort = Readonly<{ column: SortColumn | 'default'; dir: 'asc' | 'desc' }>;
/** The core's own order: service, environment, name. */
export const DEFAULT_SORT: Sort = { column: 'default', dir: 'asc' };

export type KeyForm = Readonly<{ name: string; service: string; environment: string; scopes: string }>;

export type FieldErrors = Partial<Record<keyof KeyForm, string>>;

/** Keys drawn before the rest of a large vault has arrived. */
export const FIRST_PAGE = 100;
/** Resolves after the next frame is painted (at once where there are no frames: the stores' Node tests). */
function nextPaint(): Promise<void> {
  const raf = (globalThis as { requestAnimationFrame?: (cb: () => void) => number }).requestAnimationFrame;
  if (!raf) return Promise.resolve();
  // requestAnimationFrame runs before the paint; the timeout after it runs once the frame is out.
  return new Promise((resolve) => raf(() => setTimeout(resolve, 0)));
}

/** Keys per page after the first: big enough to amortise a call, small enough to report progress. */
export const PAGE = 50_000;

/**
 * Key id ranges read side by side: ids are random base62 (0-9, A-Z, a-z, in
 * that byte order), so each range holds about a quarter of the keys.
 */
const ID_RANGES: ReadonlyArray<readonly [string | null, string | null]> = [[null, 'G'], ['G', 'V'], ['V', 'l'], ['l', null]];

/** Lifecycle order, for sorting by state. */
const STATE_ORDER: readonly KeyState[] = keyStateSchema.options;
/** Urgency order, for sorting by due status. */
export const DUE_ORDER: readonly DueStatus[] = ['overdue', 'due-soon', 'ok', 'inactive'];

type KeysState = Readonly<{
  status: Status;
  error: ApiError | null;
  all: readonly KeyRow[];
  /** Keys in the vault; more than all.length while the rest is still loading. */
  total: number;
  /** True while pages after the first are arriving. */
  partial: boolean;
  /** Keys read so far by those pages. */
  read: number;
  services: readonly string[];
  environments: readonly string[];
  filter: KeyFilter;
  sort: Sort;
  /** Indices into `all` that pass the filter, in the sort's order. */
  visible: readonly number[];
  /** Bumped whenever `visible` is recomputed, so the list resets its scroll. */
  version: number;

  createStatus: Status;
  createError: ApiError | null;
  fieldErrors: FieldErrors;

  load: () => Promise<void>;
  setFilter: (patch: Partial<KeyFilter>) => void;
  clearFilters: () => void;
  setSort: (column: SortColumn) => void;
  /** Puts a key's fresh state (from key.show) into the list, adding it if new. */
  upsert: (detail: KeyDetail) => void;
  createKey: (form: KeyForm) => Promise<KeySummary | null>;
  resetCreate: () => void;
  clear: () => void;
}>;

// ---- derived data, kept outside the store (large, and rebuilt only when `all` changes) ----

type Derived = {
  all: readonly KeyRow[];
  /** Position of each row in the default order (service, environment, name). */
  defaultPos: Int32Array | null;
  /** Rows in the default order. */
  defaultOrder: Int32Array | null;
  ranks: Map<SortColumn, Int32Array>;
  haystack: string[] | null;
  /** All rows in the current sort's order. */
  sorted: { sort: Sort; order: Int32Array } | null;
};

let derived: Derived = { all: [], defaultPos: null, defaultOrder: null, ranks: new Map(), haystack: null, sorted: null };

function derivedFor(all: readonly KeyRow[]): Derived {
  if (derived.all !== all) derived = { all, defaultPos: null, defaultOrder: null, ranks: new Map(), haystack: null, sorted: null };
  return derived;
}

/** Rank of each row by a text value (UTF-16 code unit order, as sort() with no comparator): equal text, equal rank. */
function rankByText(all: readonly KeyRow[], value: (r: KeyRow) => string): Int32Array {
  const n = all.length;
  const values = new Array<string>(n);
  for (let i = 0; i < n; i++) values[i] = value(all[i] as KeyRow);
  const distinctValues = [...new Set(values)].sort();
  const at = new Map<string, number>();
  distinctValues.forEach((v, i) => at.set(v, i));
  const rank = new Int32Array(n);
  for (let i = 0; i < n; i++) rank[i] = at.get(values[i] as string) as number;
  return rank;
}

function rankOf(d: Derived, column: SortColumn): Int32Array {
  let r = d.ranks.get(column);
  if (r) return r;
  const all = d.all;
  switch (column) {
    case 'name':
      r = rankByText(all, (k) => k.name);
      break;
    case 'service':
      r = rankByText(all, (k) => k.service);
      break;
    case 'environment':
      r = rankByText(all, (k) => k.environment);
      break;
    case 'state': {
      const n = all.length;
      r = new Int32Array(n);
      for (let i = 0; i < n; i++) r[i] = STATE_ORDER.indexOf((all[i] as KeyRow).state);
      break;
    }
    case 'due':
      // Most urgent first; within a status, the earliest rotation date first.
      r = rankByText(all, (k) => `${DUE_ORDER.indexOf(k.due)}${k.rotateAt ?? '~'}`);
      break;
  }
  d.ranks.set(column, r);
  return r;
}

function defaultOrderOf(d: Derived): { pos: Int32Array; order: Int32Array } {
  if (d.defaultPos && d.defaultOrder) return { pos: d.defaultPos, order: d.defaultOrder };
  const n = d.all.length;
  const s = rankOf(d, 'service');
  const e = rankOf(d, 'environment');
  const m = rankOf(d, 'name');
  const top = (r: Int32Array): number => r.reduce((a, b) => Math.max(a, b), -1) + 1;
  const [ns, ne, nm] = [top(s), top(e), top(m)];
  const width = 2 ** Math.ceil(Math.log2(n + 1));
  let order: Int32Array;
  if (ns * ne * nm * width < 2 ** 53) {
    // One number per row (service, environment, name, then the row itself), sorted natively as a typed array.
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = (((s[i] as number) * ne + (e[i] as number)) * nm + (m[i] as number)) * width + i;
    keys.sort();
    order = new Int32Array(n);
    for (let p = 0; p < n; p++) order[p] = (keys[p] as number) % width;
  } else {
    const idx = Array.from({ length: n }, (_, i) => i);
    idx.sort((a, b) => (s[a] as number) - (s[b] as number) || (e[a] as number) - (e[b] as number) || (m[a] as number) - (m[b] as number));
    order = Int32Array.from(idx);
  }
  const pos = new Int32Array(n);
  for (let p = 0; p < n; p++) pos[order[p] as number] = p;
  d.defaultOrder = order;
  d.defaultPos = pos;
  return { pos, order };
}

/** The list's own order (service, environment, name; UTF-16 code units, as rankByText): for rows a page already holds. */
export function byDefaultOrder(a: KeyRow, b: KeyRow): number {
  if (a.service !== b.service) return a.service < b.service ? -1 : 1;
  if (a.environment !== b.environment) return a.environment < b.environment ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Two runs in the list's own order, merged into one in that order. */
function mergeTwo(a: readonly KeyRow[], b: readonly KeyRow[]): KeyRow[] {
  const out = new Array<KeyRow>(a.length + b.length);
  let i = 0;
  let j = 0;
  let o = 0;
  while (i < a.length && j < b.length) {
    out[o++] = byDefaultOrder(b[j] as KeyRow, a[i] as KeyRow) < 0 ? (b[j++] as KeyRow) : (a[i++] as KeyRow);
  }
  while (i < a.length) out[o++] = a[i++] as KeyRow;
  while (j < b.length) out[o++] = b[j++] as KeyRow;
  return out;
}

/** Runs each in the list's own order, merged into one in that order, two at a time (each row moves log2(runs) times). */
export function mergeInDefaultOrder(runs: readonly (readonly KeyRow[])[]): KeyRow[] {
  let level: (readonly KeyRow[])[] = [...runs];
  if (level.length === 0) return [];
  while (level.length > 1) {
    const next: KeyRow[][] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(i + 1 < level.length ? mergeTwo(level[i] as KeyRow[], level[i + 1] as KeyRow[]) : [...(level[i] as KeyRow[])]);
    }
    level = next;
  }
  return level[0] as KeyRow[];
}

/**
 * Records that `all` is already in the list's own order, so that the default
 * order is the rows as they are, with no ranks to build: `'merged'`, rows
 * sorted and merged here with byDefaultOrder (in order by construction), or
 * `'core'`, a first screenful in the core's order, which is checked, not
 * assumed (SQLite orders text by its UTF-8 bytes, this list by UTF-16 code
 * units; they differ past U+FFFF): rows out of order are left to
 * defaultOrderOf.
 */
function adoptDefaultOrder(all: readonly KeyRow[], from: 'merged' | 'core'): void {
  const n = all.length;
  if (from === 'core') for (let i = 1; i < n; i++) if (byDefaultOrder(all[i - 1] as KeyRow, all[i] as KeyRow) > 0) return;
  const d = derivedFor(all);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  d.defaultOrder = order;
  d.defaultPos = order;
}

/** Every row in the sort's order; ties keep the default order (in either direction). */
export function sortedOrder(all: readonly KeyRow[], sort: Sort): Int32Array {
  const d = derivedFor(all);
  if (d.sorted && d.sorted.sort.column === sort.column && d.sorted.sort.dir === sort.dir) return d.sorted.order;
  const { pos, order: byDefault } = defaultOrderOf(d);
  const n = all.length;
  let order: Int32Array;
  if (sort.column === 'default') {
    order = sort.dir === 'asc' ? byDefault : byDefault.slice().reverse();
  } else {
    const rank = rankOf(d, sort.column);
    let max = 0;
    for (let i = 0; i < n; i++) if ((rank[i] as number) > max) max = rank[i] as number;
    // One number per row, rank then default position, sorted natively as a typed array.
    const m = 2 ** Math.ceil(Math.log2(n + 1));
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const r = sort.dir === 'asc' ? (rank[i] as number) : max - (rank[i] as number);
      keys[i] = r * m + (pos[i] as number);
    }
    keys.sort();
    order = new Int32Array(n);
    for (let p = 0; p < n; p++) order[p] = byDefault[(keys[p] as number) % m] as number;
  }
  d.sorted = { sort, order };
  return order;
}

function searchText(k: KeyRow): string {
  return `${k.name}\n${k.service}\n${k.environment}\n${k.state}\n${k.id}\n${k.owner}\n${k.scopes.join('\n')}`.toLowerCase();
}

/** The lowercase search text of every row (built on the first query, then kept). */
export function haystackOf(all: readonly KeyRow[]): readonly string[] {
  const d = derivedFor(all);
  d.haystack ??= all.map(searchText);
  return d.haystack;
}

/** Builds what sorting and searching need ahead of time, in small steps that leave the page responsive. */
function warmUp(all: readonly KeyRow[]): void {
  const steps: Array<() => void> = [
    () => void haystackOf(all),
    ...SORT_COLUMNS.map((c) => () => void rankOf(derivedFor(all), c)),
  ];
  const idle = (globalThis as { requestIdleCallback?: (cb: () => void) => number }).requestIdleCallback;
  const next = (): void => {
    const step = steps.shift();
    if (!step || derived.all !== all) return;
    step();
    if (idle) idle(next);
  };
  if (idle) idle(next);
}

/**
 * Indices of the rows that pass the filter, in `order`'s order. `within`, when
 * given, is a previous result known to contain every match (the user typed more
 * of the same query), so only it is scanned.
 */
export function applyFilter(all: readonly KeyRow[], order: ArrayLike<number>, f: KeyFilter, within?: readonly number[]): number[] {
  const q = f.query.trim().toLowerCase();
  const src = within ?? order;
  const n = src.length;
  // No criterion: every row, without testing each against nothing.
  if (!q && !f.service && !f.environment && !f.state && !f.due) return Array.from(order);
  const hay = q ? haystackOf(all) : null;
  const out: number[] = [];
  for (let j = 0; j < n; j++) {
    const i = src[j] as number;
    const k = all[i] as KeyRow;
    if (f.service && k.service !== f.service) continue;
    if (f.environment && k.environment !== f.environment) continue;
    if (f.state && k.state !== f.state) continue;
    if (f.due && k.due !== f.due) continue;
    if (hay && !(hay[i] as string).includes(q)) continue;
    out.push(i);
  }
  return out;
}

/** A key.table page as rows. The dictionary's scopes (JSON text) are parsed once each. */
export function rowsOf(t: KeyTable): KeyRow[] {
  const dict = t.dict;
  const scopes = new Map<number, readonly string[]>();
  const scopesAt = (at: number): readonly string[] => {
    let s = scopes.get(at);
    if (!s) {
      let parsed: unknown = [];
      try {
        parsed = JSON.parse(dict[at] ?? '[]');
      } catch {
        // Shown as no scopes; the core checked the row, so this does not happen.
      }
      s = Object.freeze(Array.isArray(parsed) ? parsed.map(String) : []);
      scopes.set(at, s);
    }
    return s;
  };
  const stateOf = (at: number): KeyState => {
    const p = keyStateSchema.safeParse(dict[at]);
    return p.success ? p.data : 'destroyed';
  };
  const dueOf = (at: number): DueStatus => {
    const p = dueStatusSchema.safeParse(dict[at]);
    return p.success ? p.data : 'inactive';
  };
  const states = new Map<number, KeyState>();
  const dues = new Map<number, DueStatus>();
  const n = t.id.length;
  const out = new Array<KeyRow>(n);
  for (let i = 0; i < n; i++) {
    const st = t.state[i] as number;
    const du = t.due[i] as number;
    let state = states.get(st);
    if (state === undefined) states.set(st, (state = stateOf(st)));
    let due = dues.get(du);
    if (due === undefined) dues.set(du, (due = dueOf(du)));
    const rot = t.rotateAt[i] as number;
    out[i] = {
      id: t.id[i] as string,
      name: t.name[i] as string,
      service: dict[t.service[i] as number] ?? '',
      environment: dict[t.environment[i] as number] ?? '',
      scopes: scopesAt(t.scopes[i] as number),
      owner: dict[t.owner[i] as number] ?? '',
      state,
      currentVersion: t.currentVersion[i] as number,
      createdAt: dict[t.createdAt[i] as number] ?? '',
      due,
      rotateAt: rot < 0 ? null : (dict[rot] ?? null),
    };
  }
  return out;
}

export function rowOfDetail(d: KeyDetail): KeyRow {
  return {
    id: d.id, name: d.name, service: d.service, environment: d.environment, scopes: d.scopes, owner: d.owner, state: d.state,
    currentVersion: d.currentVersion, createdAt: d.createdAt, due: d.due.status, rotateAt: d.due.rotateAt,
  };
}

function distinct(values: Iterable<string>): string[] {
  return [...new Set(values)].sort((a, b) => a.localeCompare(b));
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

const CLEARED = {
  status: 'idle',
  error: null,
  all: [],
  total: 0,
  partial: false,
  read: 0,
  services: [],
  environments: [],
  filter: NO_FILTER,
  sort: DEFAULT_SORT,
  visible: [],
  version: 0,
  createStatus: 'idle',
  createError: null,
  fieldErrors: {},
} as const;

/** Each load has a number; a load overtaken by a later one (or by a lock) stops and sets nothing. */
let loadSeq = 0;

export const useKeys = create<KeysState>()((set, get) => {
  /** New rows: the lists of services and environments, the sort, the filter. */
  function show(all: readonly KeyRow[], extra: Partial<KeysState> = {}, inDefaultOrder?: 'merged' | 'core'): void {
    const { filter, sort, version } = get();
    if (inDefaultOrder) adoptDefaultOrder(all, inDefaultOrder);
    set({
      all,
      services: distinct(all.map((k) => k.service)),
      environments: distinct(all.map((k) => k.environment)),
      visible: applyFilter(all, sortedOrder(all, sort), filter),
      version: version + 1,
      ...extra,
    });
  }

  return {
    ...CLEARED,

    load: async () => {
      const seq = ++loadSeq;
      // When the list was asked for: the end-to-end suite times the first rows from here (user timing, no effect).
      globalThis.performance?.mark?.('keyhold:keys-load');
      const reloading = get().all.length > 0 && !get().partial;
      if (!reloading) set({ status: 'loading', error: null });
      const fail = (error: ApiError): void => {
        if (seq !== loadSeq) return;
        // A reload that fails leaves the list as it was and says so.
        set(reloading ? { error } : { status: 'error', error, partial: false });
      };
      if (!reloading) {
        // A first screenful in the list's own order, shown before the rest is read.
        const first = await call((api) => api.keyTable({ order: 'list', limit: FIRST_PAGE }));
        if (seq !== loadSeq) return;
        if (!first.ok) return fail(first.error);
        const rows = rowsOf(first.value);
        const total = first.value.total ?? rows.length;
        if (total <= rows.length) {
          show(rows, { status: 'ready', total: rows.length, partial: false }, 'core');
          warmUp(get().all);
          return;
        }
        show(rows, { status: 'ready', total, partial: true, read: 0 }, 'core');
        // Let the first screenful paint before the rest arrives and keeps the page busy decoding it.
        await nextPaint();
        if (seq !== loadSeq) return;
      }
      // The rest as ranges of key ids (ids are uniformly random), all asked at once: main reads one range
      // while the page receives the one before. A range larger than a page continues from its `next`. Each
      // range is put in the list's own order as it arrives (while main reads the next), so that the end is
      // one merge, not a sort of every key.
      const ranges = ID_RANGES.map(async ([from, to]): Promise<KeyRow[] | ApiError> => {
        const out: KeyRow[] = [];
        let after: string | null = from;
        do {
          const r = await call((api) => api.keyTable({ order: 'id', limit: PAGE, ...(after !== null ? { after } : {}), ...(to !== null ? { before: to } : {}) }));
          if (seq !== loadSeq) return out;
          if (!r.ok) return r.error;
          for (const row of rowsOf(r.value)) out.push(row);
          after = r.value.next;
          if (!reloading) set({ read: get().read + r.value.id.length });
        } while (after !== null);
        return out.sort(byDefaultOrder);
      });
      const runs: KeyRow[][] = [];
      for (const got of await Promise.all(ranges)) {
        if (seq !== loadSeq) return;
        if (!Array.isArray(got)) return fail(got);
        runs.push(got);
      }
      const all = mergeInDefaultOrder(runs);
      show(all, { status: 'ready', error: null, total: all.length, partial: false }, 'merged');
      warmUp(all);
    },

    setFilter: (patch) => {
      const { filter: before, all, sort, visible, version } = get();
      const filter = { ...before, ...patch };
      const oldQ = before.query.trim().toLowerCase();
      const newQ = filter.query.trim().toLowerCase();
      // A longer query with the same selects only narrows: the current matches hold every new one.
      const narrows = oldQ !== '' && newQ.includes(oldQ) && filter.service === before.service
        && filter.environment === before.environment && filter.state === before.state && filter.due === before.due;
      set({ filter, visible: applyFilter(all, sortedOrder(all, sort), filter, narrows ? visible : undefined), version: version + 1 });
    },

    clearFilters: () => {
      const { all, sort, version } = get();
      set({ filter: NO_FILTER, visible: applyFilter(all, sortedOrder(all, sort), NO_FILTER), version: version + 1 });
    },

    setSort: (column) => {
      const { all, sort: before, visible, version } = get();
      const sort: Sort = { column, dir: before.column === column && before.dir === 'asc' ? 'desc' : 'asc' };
      const order = sortedOrder(all, sort);
      // The same rows in the new order: no need to test the filter again when every row passes.
      const everything = visible.length === all.length;
      let next: number[];
      if (everything) {
        next = Array.from(order);
      } else {
        const keep = new Uint8Array(all.length);
        for (const i of visible) keep[i] = 1;
        next = [];
        for (let p = 0; p < order.length; p++) if (keep[order[p] as number]) next.push(order[p] as number);
      }
      set({ sort, visible: next, version: version + 1 });
    },

    upsert: (detail) => {
      const { all } = get();
      const row = rowOfDetail(detail);
      const at = all.findIndex((k) => k.id === row.id);
      const old = at >= 0 ? all[at] : undefined;
      if (old && old.state === row.state && old.due === row.due && old.rotateAt === row.rotateAt
        && old.currentVersion === row.currentVersion && old.owner === row.owner) return;
      const next = at >= 0 ? all.map((k, i) => (i === at ? row : k)) : [...all, row];
      // The same list with one row changed: the list keeps its scroll position.
      show(next, { total: Math.max(get().total, next.length), version: get().version });
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
      // Its due status comes from the core with its detail; until then it is not yet active or due.
      const shown = await call((api) => api.keyShow({ id: key.id }));
      if (shown.ok) get().upsert(shown.value);
      else show([...get().all, { ...key, due: 'inactive', rotateAt: null }]);
      set({ createStatus: 'ready' });
      useUi.getState().announce(`Key ${key.name} created.`);
      return key;
    },

    resetCreate: () => set({ createStatus: 'idle', createError: null, fieldErrors: {} }),

    clear: () => {
      loadSeq++;
      derived = { all: [], defaultPos: null, defaultOrder: null, ranks: new Map(), haystack: null, sorted: null };
      // At lock: the open key, and any secret it shows, go with the list.
      useKeyDetail.getState().clear();
      set({ ...CLEARED });
    },
  };
});
