/**
 * Ceremony store: the vault's ceremonies (ceremony.list), the steps of the
 * open one so far (audit.list after its start), the tokens and signers that
 * can sign its checkpoint (token.list, signer.list), and the actions: start,
 * end (the PIN goes straight into the call, never into this store), and a
 * transcript saved through main's save dialog (ceremony.transcript with the
 * file handle dialog.save answered).
 */
import { create } from 'zustand';
import type { AuditEntry, CeremonyInfo, SignerInfo, TokenInfo } from '../../../shared/contract';
import { call, pinFields, type ApiError } from '../api';
import { useSession } from './session';
import { useUi } from './ui';

export type Status = 'idle' | 'loading' | 'ready' | 'error';

/** How many steps of the open ceremony the screen lists (the transcript has them all). */
export const STEP_LIMIT = 500;

export type TranscriptResult = Readonly<{ ceremony: number; path: string; steps: number; verified: boolean | null }>;

type CeremonyState = Readonly<{
  status: Status;
  error: ApiError | null;
  ceremonies: readonly CeremonyInfo[];
  /** The open ceremony's steps so far (at most STEP_LIMIT), oldest first. */
  steps: readonly AuditEntry[];
  /** More steps than listed. */
  moreSteps: boolean;
  tokens: readonly TokenInfo[];
  signers: readonly SignerInfo[];
  /** The ceremony whose transcript is being written, if any. */
  saving: number | null;
  saved: TranscriptResult | null;
  saveError: ApiError | null;

  load: () => Promise<void>;
  /** Reads the ceremonies again without a loading state (the shell's indicator, after a step on another screen). */
  refresh: () => Promise<void>;
  start: (purpose: string, present: readonly string[]) => Promise<ApiError | null>;
  end: (serial: string, pin: string | null, allowFinalTry: boolean) => Promise<ApiError | null>;
  recheck: (serial: string) => Promise<TokenInfo | null>;
  saveTranscript: (ceremony: number) => Promise<void>;
  clear: () => void;
}>;

const INITIAL = {
  status: 'idle' as Status,
  error: null,
  ceremonies: [],
  steps: [],
  moreSteps: false,
  tokens: [],
  signers: [],
  saving: null,
  saved: null,
  saveError: null,
};

/** The open ceremony, if any. */
export function openOf(list: readonly CeremonyInfo[]): CeremonyInfo | null {
  return list.find((c) => c.open) ?? null;
}

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

export const useCeremony = create<CeremonyState>()((set) => {
  /** The ceremonies and, when one is open, its steps so far. */
  async function read(): Promise<ApiError | null> {
    const r = await call((api) => api.ceremonyList());
    if (!r.ok) return r.error;
    const open = openOf(r.value);
    if (!open) {
      set({ ceremonies: r.value, steps: [], moreSteps: false });
      return null;
    }
    const s = await call((api) => api.auditList({ after: open.id, limit: STEP_LIMIT }));
    if (!s.ok) return s.error;
    set({ ceremonies: r.value, steps: s.value.entries, moreSteps: s.value.next !== null });
    return null;
  }

  return {
    ...INITIAL,

    load: async () => {
      set({ status: 'loading', error: null });
      const [err, tokens, signers] = await Promise.all([read(), call((api) => api.tokenList()), call((api) => api.signerList())]);
      if (err) {
        set({ status: 'error', error: err });
        return;
      }
      set({
        status: 'ready',
        tokens: tokens.ok ? tokens.value.filter((t) => !t.empty) : [],
        signers: signers.ok ? signers.value.signers : [],
      });
    },

    refresh: async () => {
      // Quiet: an operator without the auditor's or security officer's role simply sees no indicator.
      await read();
    },

    start: async (purpose, present) => {
      const r = await call((api) => api.ceremonyStart({ purpose, present: [...present] }));
      if (!r.ok) return r.error;
      useUi.getState().announce(`Ceremony ${r.value.id} started.`);
      await read();
      return null;
    },

    end: async (serial, pin, allowFinalTry) => {
      const r = await call((api) => api.ceremonyEnd({ token: serial, ...pinFields(pin, allowFinalTry) }));
      if (!r.ok) return r.error;
      useUi.getState().announce(`Ceremony ${r.value.id} ended; its checkpoint is signed.`);
      await read();
      return null;
    },

    recheck: async (serial) => {
      const r = await call((api) => api.tokenList());
      if (!r.ok) return null;
      set({ tokens: r.value.filter((t) => !t.empty) });
      return r.value.find((t) => t.serial === serial && !t.empty) ?? null;
    },

    saveTranscript: async (ceremony) => {
      set({ saving: ceremony, saveError: null, saved: null });
      const chosen = await call((api) => api.dialogSave({ purpose: 'transcript', suggestedName: `keyhold-ceremony-${ceremony}-${today()}.pdf` }));
      if (!chosen.ok) {
        set({ saving: null, saveError: chosen.error });
        return;
      }
      const picked = chosen.value;
      if (picked.cancelled) {
        set({ saving: null });
        useUi.getState().announce('Cancelled: no transcript was written.');
        return;
      }
      const out = picked.handle;
      const r = await call((api) => api.ceremonyTranscript({ ceremony, out }));
      if (!r.ok) {
        set({ saving: null, saveError: r.error });
        return;
      }
      set({ saving: null, saved: r.value });
      useUi.getState().announce(`Transcript of ceremony ${ceremony} saved.`);
    },

    clear: () => set({ ...INITIAL }),
  };
});

// The vault's data leaves with the vault: at lock, this store forgets it.
useSession.subscribe(function clearWhenLocked(s, prev) {
  if (prev.phase === 'unlocked' && s.phase !== 'unlocked') useCeremony.getState().clear();
});
