/**
 * Quorum store: a quorum unlock in progress (quorum.begin, one share per
 * custodian, quorum.cancel), and the quorum keyslot actions of the Keyslots
 * screen (add, re-share, a custodian's paper share).
 *
 * No passphrase, PIN or paper word is kept here: each action takes them as
 * arguments, passes them to the one call and drops them. The collected shares
 * live in the core only (wiped there at cancel, lock and after 5 minutes
 * idle); this store holds the count and the names of who gave one. A paper
 * share shown on screen stays in the view component, cleared when it closes.
 */
import { create } from 'zustand';
import type { CommandInput, QuorumState } from '../../../shared/contract';
import { call, pinFields, type ApiError } from '../api';
import { useKeyslots } from './keyslots';
import { useSession } from './session';
import { useUi } from './ui';

/** What one custodian gives: their passphrase, their token's PIN, or their paper share's words. */
export type ShareCredential =
  | Readonly<{ kind: 'passphrase'; passphrase: string }>
  | Readonly<{ kind: 'pin'; pin: string | null; allowFinalTry: boolean }>
  | Readonly<{ kind: 'words'; words: string }>;

export type NewCustodian = CommandInput<'slot.addQuorum'>['custodians'][number];

export type PaperShare = Readonly<{ slot: number; custodian: string; lines: readonly string[]; qr: string }>;

type QuorumStore = Readonly<{
  /** The collection in progress (null: none). */
  state: QuorumState | null;
  starting: boolean;
  /** Why the collection could not start, or ended (cancelled sessions excluded). */
  error: ApiError | null;
  /**
   * The M-th share opened an older or forked copy of the vault file than a
   * registered token recorded (ROLLBACK_DETECTED, ANCHOR_INVALID): the core
   * ended the collection and changed nothing.
   */
  refused: ApiError | null;
  /** The disaster-recovery override the next collection carries to its M-th share (the reason is audited). */
  override: Readonly<{ reason: string }> | null;
  begin: () => Promise<void>;
  /** After a refusal: collect the shares again, this time opening the copy anyway with the reason given. */
  openAnyway: (reason: string) => Promise<ApiError | null>;
  /** After a refusal: back to a plain collection. */
  dismissRefusal: () => Promise<void>;
  /** One custodian's share: null when it counted (the vault may now be open), else the error (the collection goes on). */
  share: (custodian: string, cred: ShareCredential) => Promise<ApiError | null>;
  cancel: () => Promise<void>;
  /** Forgets the collection without a call (the vault locked, or opened otherwise). */
  clear: () => void;
  addQuorum: (m: number, custodians: readonly NewCustodian[], label: string) => Promise<ApiError | null>;
  reshare: (slot: number, m: number, custodians: readonly NewCustodian[]) => Promise<ApiError | null>;
  paper: (slot: number, custodian: string, cred: Exclude<ShareCredential, { kind: 'words' }>) =>
    Promise<{ ok: true; value: PaperShare } | { ok: false; error: ApiError }>;
}>;

function credFields(cred: ShareCredential): { passphrase?: string; words?: string; pin?: string; allowFinalTry?: boolean } {
  if (cred.kind === 'passphrase') return { passphrase: cred.passphrase };
  if (cred.kind === 'words') return { words: cred.words };
  return pinFields(cred.pin, cred.allowFinalTry);
}

export const useQuorum = create<QuorumStore>()((set, get) => ({
  state: null,
  starting: false,
  error: null,
  refused: null,
  override: null,

  begin: async () => {
    set({ starting: true, error: null });
    const r = await call((api) => api.quorumBegin({}));
    if (!r.ok) {
      set({ starting: false, state: null, error: r.error });
      return;
    }
    set({ starting: false, state: r.value, error: null });
  },

  share: async (custodian, cred) => {
    const s = get().state;
    if (!s) return null;
    const override = get().override;
    const r = await call((api) => api.quorumShare({ session: s.session, custodian, ...credFields(cred),
      ...(override ? { acceptRollback: override } : {}) }));
    if (!r.ok) {
      // The M-th share met a token's rollback record: the core ended the collection, nothing changed.
      if (r.error.code === 'ROLLBACK_DETECTED' || r.error.code === 'ANCHOR_INVALID') {
        set({ state: null, error: null, refused: r.error });
        return r.error;
      }
      // A collection that ended (idle, locked) cannot go on: the screen starts again from its error.
      if (r.error.code === 'QUORUM_SHARE' && /ended/.test(r.error.message)) set({ state: null, error: r.error });
      return r.error;
    }
    if (r.value.unlocked && r.value.vault) {
      set({ state: null, error: null, refused: null, override: null });
      useSession.getState().opened(r.value.vault, 'Vault unlocked by the quorum.');
      return null;
    }
    set({ state: { ...s, collected: r.value.collected, given: r.value.given } });
    useUi.getState().announce(`${r.value.collected} of ${s.m} shares collected, ${r.value.needed} more needed.`);
    return null;
  },

  openAnyway: async (reason) => {
    set({ refused: null, override: { reason } });
    await get().begin();
    return get().error;
  },

  dismissRefusal: async () => {
    set({ refused: null, override: null });
    await get().begin();
  },

  cancel: async () => {
    const s = get().state;
    set({ state: null, error: null, override: null });
    if (s) await call((api) => api.quorumCancel({ session: s.session }));
    useUi.getState().announce('Quorum unlock cancelled; the shares collected were wiped.');
  },

  clear: () => set({ state: null, error: null, starting: false, refused: null, override: null }),

  addQuorum: async (m, custodians, label) => {
    const r = await call((api) => api.slotAddQuorum({ m, custodians: [...custodians], label }));
    if (!r.ok) return r.error;
    useUi.getState().announce(`Quorum keyslot #${r.value.id} added.`);
    await useKeyslots.getState().load();
    return null;
  },

  reshare: async (slot, m, custodians) => {
    const r = await call((api) => api.slotReshare({ slot, m, custodians: [...custodians] }));
    if (!r.ok) return r.error;
    useUi.getState().announce(`Keyslot #${r.value.removed} re-shared as keyslot #${r.value.slot.id}; the old shares no longer work.`);
    await useKeyslots.getState().load();
    return null;
  },

  paper: async (slot, custodian, cred) => {
    const r = await call((api) => api.sharePaper({ slot, custodian, ...credFields(cred) }));
    if (!r.ok) return { ok: false, error: r.error };
    return { ok: true, value: { slot: r.value.slot, custodian: r.value.custodian, lines: r.value.lines, qr: r.value.qr } };
  },
}));
