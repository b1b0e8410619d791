/**
 * Rotation store: what is due (key.due with every key), the keys picked for
 * rotation, the confirmation with its optional dry run, and a run.
 *
 * A run rotates in chunks of CHUNK ids, one key.rotate call each. Each call is
 * one transaction in the core (all of its keys or none), so cancelling stops
 * after the chunk in flight and what committed stays committed: the run then
 * reports exactly how many keys rotated and that the rest were not touched.
 * Progress comes from main's `progress` events for the chunk in flight, added
 * to what earlier chunks committed; the subscription lives only as long as
 * the run. The calls are IPC, so the window stays responsive throughout.
 */
import { create } from 'zustand';
import type { DueKey, DueStatus } from '../../../shared/contract';
import { call, type ApiError } from '../api';
import { onIpcEvent } from '../events';
import { useKeys } from './keys';
import { useSession } from './session';
import { useUi } from './ui';

export type Status = 'idle' | 'loading' | 'ready' | 'error';

/** Keys per key.rotate call: the unit that commits, and how far a Cancel can lag. */
export const CHUNK = 500;
/** A dry run checks at most this many keys (it rolls back, but it is as slow as the real thing). */
export const PREVIEW_LIMIT = 1000;
/** The progress bar is redrawn at most this often, however fast events come. */
const PAINT_MS = 50;

export const GROUPS: readonly DueStatus[] = ['overdue', 'due-soon', 'ok', 'inactive'];

export type Groups = Readonly<Record<DueStatus, readonly DueKey[]>>;

const NO_GROUPS: Groups = { overdue: [], 'due-soon': [], ok: [], inactive: [] };

/** One planned rotation, as the dry run reports it. */
export type PlannedRotation = Readonly<{ id: string; from: number; to: number; graceUntil: string }>;

export type Pending = Readonly<{
  /** What the user asked for: the keys ticked, or every key overdue or due soon. */
  kind: 'selected' | 'due';
  ids: readonly string[];
  preview: Readonly<{ status: Status; rotated: readonly PlannedRotation[]; checked: number; error: ApiError | null }>;
}>;

export type Run = Readonly<{
  phase: 'running' | 'done' | 'cancelled' | 'failed';
  total: number;
  /** Keys done as the progress events tell, committed chunks plus the one in flight. */
  done: number;
  /** Keys whose chunk committed. */
  committed: number;
  cancelRequested: boolean;
  error: ApiError | null;
  tookMs: number;
}>;

type RotationState = Readonly<{
  status: Status;
  error: ApiError | null;
  keys: readonly DueKey[];
  groups: Groups;
  byId: ReadonlyMap<string, DueKey>;
  selected: ReadonlySet<string>;
  pending: Pending | null;
  run: Run | null;

  load: () => Promise<void>;
  toggle: (id: string) => void;
  /** Ticks (or unticks) every key of a group. */
  setGroup: (group: DueStatus, on: boolean) => void;
  clearSelection: () => void;
  /** Opens the confirmation for the selected keys, or for every key due. */
  ask: (kind: 'selected' | 'due') => void;
  dismiss: () => void;
  /** A dry run of the pending rotation (its first PREVIEW_LIMIT keys): what would rotate, nothing changed. */
  preview: () => Promise<void>;
  /** Runs the pending rotation, chunk by chunk. */
  rotate: () => Promise<void>;
  /** Stops after the chunk in flight. */
  cancel: () => void;
  closeResult: () => void;
  clear: () => void;
}>;

/** What a key is called on screen: service/environment/name. */
export function keyLabel(k: Readonly<{ service: string; environment: string; name: string }>): string {
  return `${k.service}/${k.environment}/${k.name}`;
}

/** Only a key whose current version is active can rotate; inactive ones are listed, never ticked. */
export function selectable(k: DueKey): boolean {
  return k.status !== 'inactive';
}

function grouped(keys: readonly DueKey[]): Groups {
  const g: Record<DueStatus, DueKey[]> = { overdue: [], 'due-soon': [], ok: [], inactive: [] };
  for (const k of keys) g[k.status].push(k);
  return g;
}

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const IDLE_PREVIEW: Pending['preview'] = { status: 'idle', rotated: [], checked: 0, error: null };

export const useRotation = create<RotationState>()((set, get) => ({
  status: 'idle',
  error: null,
  keys: [],
  groups: NO_GROUPS,
  byId: new Map(),
  selected: new Set(),
  pending: null,
  run: null,

  load: async () => {
    set({ status: 'loading', error: null });
    const r = await call((api) => api.keyDue({ all: true }));
    if (!r.ok) {
      set({ status: 'error', error: r.error });
      return;
    }
    const keys = r.value;
    const byId = new Map(keys.map((k) => [k.id, k] as const));
    // Keep only ticks on keys that can still rotate.
    const selected = new Set([...get().selected].filter((id) => {
      const k = byId.get(id);
      return k !== undefined && selectable(k);
    }));
    set({ status: 'ready', keys, groups: grouped(keys), byId, selected });
  },

  toggle: (id) => {
    const k = get().byId.get(id);
    if (!k || !selectable(k)) return;
    const selected = new Set(get().selected);
    if (selected.has(id)) selected.delete(id);
    else selected.add(id);
    set({ selected });
  },

  setGroup: (group, on) => {
    if (group === 'inactive') return;
    const selected = new Set(get().selected);
    for (const k of get().groups[group]) {
      if (on) selected.add(k.id);
      else selected.delete(k.id);
    }
    set({ selected });
  },

  clearSelection: () => set({ selected: new Set() }),

  ask: (kind) => {
    if (get().run?.phase === 'running') return;
    const { groups, selected, keys } = get();
    // In the order of the list (most overdue first), so a cancelled run has done the most urgent keys.
    const ids = kind === 'due'
      ? [...groups.overdue, ...groups['due-soon']].map((k) => k.id)
      : keys.filter((k) => selected.has(k.id)).map((k) => k.id);
    if (ids.length === 0) return;
    set({ pending: { kind, ids, preview: IDLE_PREVIEW } });
  },

  dismiss: () => set({ pending: null }),

  preview: async () => {
    const pending = get().pending;
    if (!pending || pending.preview.status === 'loading') return;
    const ids = pending.ids.slice(0, PREVIEW_LIMIT);
    set({ pending: { ...pending, preview: { ...IDLE_PREVIEW, status: 'loading', checked: ids.length } } });
    const r = await call((api) => api.keyRotate({ ids: [...ids], dryRun: true }));
    const now = get().pending;
    // The dialog was closed (or replaced) meanwhile: nothing to show.
    if (now?.ids !== pending.ids) return;
    set({
      pending: {
        ...now,
        preview: r.ok
          ? { status: 'ready', rotated: r.value.rotated, checked: ids.length, error: null }
          : { status: 'error', rotated: [], checked: ids.length, error: r.error },
      },
    });
  },

  rotate: async () => {
    const pending = get().pending;
    if (!pending || get().run?.phase === 'running') return;
    const total = pending.ids.length;
    const t0 = performance.now();
    set({
      pending: null,
      run: { phase: 'running', total, done: 0, committed: 0, cancelRequested: false, error: null, tookMs: 0 },
    });
    let committed = 0;
    let inFlight = 0;
    const update = (patch: Partial<Run>): void => {
      const run = get().run;
      if (run) set({ run: { ...run, ...patch } });
    };
    // Events come up to a hundred times a chunk; the bar is redrawn at most every PAINT_MS.
    let latest = 0;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const paint = (): void => {
      timer = null;
      const run = get().run;
      if (run?.phase === 'running' && latest > run.done) update({ done: latest });
    };
    const off = onIpcEvent('progress', function onProgress(p) {
      if (p.command !== 'key.rotate' || inFlight === 0) return;
      // Never past the chunk in flight, never backwards.
      latest = Math.max(latest, committed + Math.min(p.done, inFlight));
      timer ??= setTimeout(paint, PAINT_MS);
    });
    let error: ApiError | null = null;
    try {
      for (const chunk of chunks(pending.ids, CHUNK)) {
        if (get().run?.cancelRequested) break;
        inFlight = chunk.length;
        const r = await call((api) => api.keyRotate({ ids: chunk }));
        inFlight = 0;
        if (!r.ok) {
          error = r.error;
          break;
        }
        committed += r.value.rotated.length;
        latest = Math.max(latest, committed);
        update({ committed, done: committed });
      }
    } finally {
      off();
      if (timer !== null) clearTimeout(timer);
    }
    const cancelled = get().run?.cancelRequested === true && committed < total;
    const phase: Run['phase'] = error ? 'failed' : cancelled ? 'cancelled' : 'done';
    update({ phase, committed, done: committed, error, tookMs: performance.now() - t0 });
    useUi.getState().announce(
      phase === 'done'
        ? `${committed.toLocaleString('en-US')} ${committed === 1 ? 'key' : 'keys'} rotated.`
        : `${committed.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} rotated; the rest were not touched.`,
    );
    set({ selected: new Set() });
    // What is due changed, and so did the keys' versions.
    if (useSession.getState().phase === 'unlocked') {
      void get().load();
      void useKeys.getState().load();
    }
  },

  cancel: () => {
    const run = get().run;
    if (run?.phase === 'running' && !run.cancelRequested) set({ run: { ...run, cancelRequested: true } });
  },

  closeResult: () => {
    if (get().run?.phase !== 'running') set({ run: null });
  },

  clear: () => {
    const run = get().run;
    set({
      status: 'idle',
      error: null,
      keys: [],
      groups: NO_GROUPS,
      byId: new Map(),
      selected: new Set(),
      pending: null,
      // A run in flight stops after its chunk (the vault is locked anyway).
      run: run?.phase === 'running' ? { ...run, cancelRequested: true } : null,
    });
  },
}));

// The vault's data leaves with the vault: at lock, this store forgets it.
useSession.subscribe(function clearWhenLocked(s, prev) {
  if (prev.phase === 'unlocked' && s.phase !== 'unlocked') useRotation.getState().clear();
});
