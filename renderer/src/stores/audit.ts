/**
 * Audit store: one page of the log (audit.list) under the filters applied,
 * the chain's verification (audit.verify), an export to a file chosen in
 * main's save dialog (audit.export), and the recovery of a log cut off at its
 * end (audit.recover), which the core records with the reason given.
 *
 * Paging follows the core's cursor: an answer's `next` is the `after` of the
 * next page; the cursors of the pages already seen are kept so Previous goes
 * back without a second kind of query.
 */
import { create } from 'zustand';
import type { AuditEntry, AuditVerifyReport } from '../../../shared/contract';
import { call, type ApiError } from '../api';
import { useSession } from './session';
import { useUi } from './ui';

export type Status = 'idle' | 'loading' | 'ready' | 'error';

export const PAGE_SIZE = 100;

/** The filters as typed: times are the values of datetime-local inputs (local time, no zone). */
export type AuditFilter = Readonly<{ key: string; action: string; actor: string; since: string; until: string }>;

export const NO_FILTER: AuditFilter = { key: '', action: '', actor: '', since: '', until: '' };

export type ExportResult = Readonly<{ path: string; entries: number; head: Readonly<{ seq: number; hash: string }> }>;

export type RecoverResult = Readonly<{
  oldHead: Readonly<{ seq: number; hash: string }>;
  newHead: Readonly<{ seq: number; hash: string }>;
  missing: Readonly<{ from: number; to: number }>;
}>;

/** Entries cut off the end of the log, as far as the app can tell. */
export type Truncation = Readonly<{ from: number; to: number }>;

type AuditState = Readonly<{
  filter: AuditFilter;
  applied: AuditFilter;
  filterError: string | null;
  status: Status;
  error: ApiError | null;
  entries: readonly AuditEntry[];
  /** `after` of each page seen so far; the current page is the last. */
  cursors: readonly number[];
  next: number | null;

  verifyStatus: Status;
  verify: AuditVerifyReport | null;
  verifyError: ApiError | null;

  exportStatus: Status;
  exported: ExportResult | null;
  exportError: ApiError | null;

  /** Set when the core refused a change with AUDIT_TRUNCATED, or verification shows a log cut off at the end. */
  truncated: Truncation | null;
  recoverStatus: Status;
  recovered: RecoverResult | null;
  recoverError: ApiError | null;

  setFilter: (patch: Partial<AuditFilter>) => void;
  /** Applies the typed filters and shows their first page. */
  apply: () => Promise<void>;
  clearFilters: () => Promise<void>;
  nextPage: () => Promise<void>;
  previousPage: () => Promise<void>;
  reload: () => Promise<void>;
  runVerify: () => Promise<void>;
  exportLog: () => Promise<void>;
  recover: (reason: string) => Promise<boolean>;
  clear: () => void;
}>;

/** A datetime-local value ("2026-12-03T14:05") as ISO 8601 in UTC, or null when it is not a time. */
export function localToIso(value: string): string | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/**
 * The audit.list input for a filter, or the message that says what is wrong
 * with it (checked here so a reversed range reads as a mistake, not as an empty log).
 */
export function listInput(f: AuditFilter, after: number): { input: Record<string, string | number> } | { error: string } {
  const input: Record<string, string | number> = { limit: PAGE_SIZE };
  if (after > 0) input.after = after;
  if (f.key.trim()) input.key = f.key.trim();
  if (f.action) input.action = f.action;
  if (f.actor.trim()) input.actor = f.actor.trim();
  const since = localToIso(f.since);
  const until = localToIso(f.until);
  if (f.since && !since) return { error: 'The "from" time is not a valid date and time.' };
  if (f.until && !until) return { error: 'The "until" time is not a valid date and time.' };
  if (since && until && since >= until) return { error: 'The "from" time must be before the "until" time.' };
  if (since) input.since = since;
  if (until) input.until = until;
  return { input };
}

/**
 * A verification that shows a log cut off at the end: every entry present
 * links intact and the chain simply stops before its stored head (the shape
 * the core refuses changes for with AUDIT_TRUNCATED).
 */
export function truncationOf(r: AuditVerifyReport): Truncation | null {
  if (r.ok || !r.firstBroken) return null;
  if (r.firstBroken.seq === r.entries + 1 && r.head.seq > r.entries) return { from: r.entries + 1, to: r.head.seq };
  return null;
}

/** Today as YYYY-MM-DD in local time, for the suggested file name. */
export function today(d: Date = new Date()): string {
  const p = (x: number): string => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

const INITIAL = {
  filter: NO_FILTER,
  applied: NO_FILTER,
  filterError: null,
  status: 'idle',
  error: null,
  entries: [],
  cursors: [0],
  next: null,
  verifyStatus: 'idle',
  verify: null,
  verifyError: null,
  exportStatus: 'idle',
  exported: null,
  exportError: null,
  truncated: null,
  recoverStatus: 'idle',
  recovered: null,
  recoverError: null,
} as const;

export const useAudit = create<AuditState>()((set, get) => {
  /** Notes a refusal for a log cut off at the end, wherever it came from. */
  function noteError(e: ApiError): void {
    if (e.code === 'AUDIT_TRUNCATED' && !get().truncated) {
      const m = /entries (\d+) to (\d+)/.exec(e.message);
      set({ truncated: m ? { from: Number(m[1]), to: Number(m[2]) } : { from: 0, to: 0 } });
    }
  }

  /** Loads the page whose cursor is the last of `cursors`, under `filter`. */
  async function show(filter: AuditFilter, cursors: readonly number[]): Promise<void> {
    const q = listInput(filter, cursors[cursors.length - 1] ?? 0);
    if ('error' in q) {
      set({ filterError: q.error });
      return;
    }
    set({ status: 'loading', error: null, filterError: null });
    const r = await call((api) => api.auditList(q.input));
    if (!r.ok) {
      noteError(r.error);
      set({ status: 'error', error: r.error });
      return;
    }
    set({ status: 'ready', applied: filter, cursors, entries: r.value.entries, next: r.value.next });
  }

  return {
    ...INITIAL,

    setFilter: (patch) => set({ filter: { ...get().filter, ...patch }, filterError: null }),

    apply: () => show(get().filter, [0]),

    clearFilters: async () => {
      set({ filter: NO_FILTER });
      await show(NO_FILTER, [0]);
    },

    nextPage: async () => {
      const { next, cursors, applied, status } = get();
      if (next === null || status === 'loading') return;
      await show(applied, [...cursors, next]);
    },

    previousPage: async () => {
      const { cursors, applied, status } = get();
      if (cursors.length < 2 || status === 'loading') return;
      await show(applied, cursors.slice(0, -1));
    },

    reload: () => show(get().applied, get().cursors),

    runVerify: async () => {
      set({ verifyStatus: 'loading', verifyError: null });
      const r = await call((api) => api.auditVerify());
      if (!r.ok) {
        noteError(r.error);
        set({ verifyStatus: 'error', verifyError: r.error });
        return;
      }
      const cut = truncationOf(r.value);
      set({ verifyStatus: 'ready', verify: r.value, ...(cut ? { truncated: cut } : {}) });
    },

    exportLog: async () => {
      set({ exportStatus: 'loading', exportError: null });
      const chosen = await call((api) => api.dialogSave({ purpose: 'audit', suggestedName: `keyhold-audit-${today()}.jsonl` }));
      if (!chosen.ok) {
        set({ exportStatus: 'error', exportError: chosen.error });
        return;
      }
      const picked = chosen.value;
      if (picked.cancelled) {
        set({ exportStatus: 'idle' });
        useUi.getState().announce('Export cancelled: no file was written.');
        return;
      }
      const out = picked.handle;
      const r = await call((api) => api.auditExport({ out }));
      if (!r.ok) {
        noteError(r.error);
        set({ exportStatus: 'error', exportError: r.error });
        return;
      }
      set({ exportStatus: 'ready', exported: r.value });
      useUi.getState().announce(`Audit log exported: ${r.value.entries.toLocaleString('en-US')} entries.`);
    },

    recover: async (reason) => {
      set({ recoverStatus: 'loading', recoverError: null });
      const r = await call((api) => api.auditRecover({ reason }));
      if (!r.ok) {
        set({ recoverStatus: 'error', recoverError: r.error });
        return false;
      }
      set({ recoverStatus: 'ready', recovered: r.value, truncated: null });
      useUi.getState().announce('The loss was recorded and the log continues from its last intact entry.');
      await Promise.all([get().runVerify(), show(get().applied, [0])]);
      return true;
    },

    clear: () => set({ ...INITIAL }),
  };
});

// The vault's data leaves with the vault: at lock, this store forgets it.
useSession.subscribe(function clearWhenLocked(s, prev) {
  if (prev.phase === 'unlocked' && s.phase !== 'unlocked') useAudit.getState().clear();
});
