/**
 * The selected key: its detail (key.show), a revealed secret, a copy to the
 * clipboard, and the actions on it (rotate, revoke, destroy). After an action
 * the detail is read again and the list row updated from it.
 *
 * A revealed secret lives only in `revealed`, which hideSecret(), select(),
 * close() and clear() (at lock) all drop, and which hides itself when its time
 * is up (REVEAL_SECONDS): no secret outlives the view that asked for it.
 */
import { create } from 'zustand';
import type { KeyDetail, KeyVersionInfo, RevokeReason } from '../../../shared/contract';
import { call, type ApiError } from '../api';
import { useKeys, type Status } from './keys';
import { useUi } from './ui';

/** How long a revealed secret stays on screen. */
export const REVEAL_SECONDS = 30;

export type Revealed = Readonly<{ id: string; version: number; secret: string; hideAt: number }>;
export type Copied = Readonly<{ version: number; clearAt: number | null }>;
export type ActionKind = 'rotate' | 'revoke' | 'destroy';

type KeyDetailState = Readonly<{
  selectedId: string | null;
  detail: KeyDetail | null;
  status: Status;
  error: ApiError | null;

  revealed: Revealed | null;
  /** The version being revealed or copied, while the call runs. */
  busyVersion: number | null;
  secretError: ApiError | null;
  copied: Copied | null;

  action: ActionKind | null;
  actionStatus: Status;
  actionError: ApiError | null;

  select: (id: string | null) => Promise<void>;
  refresh: () => Promise<void>;
  close: () => void;
  reveal: (version: number) => Promise<void>;
  hideSecret: () => void;
  copy: (version: number) => Promise<void>;
  rotate: () => Promise<boolean>;
  revoke: (reason: RevokeReason, version?: number) => Promise<boolean>;
  destroy: (version: number) => Promise<boolean>;
  resetAction: () => void;
  clear: () => void;
}>;

/** Why a version's secret cannot be revealed or copied, or null when it can. */
export function noSecretReason(v: KeyVersionInfo): string | null {
  if (v.state === 'destroyed' || v.destroyedAt !== null) return 'Its secret was destroyed; nothing remains to show or copy.';
  return null;
}

/** Where a version's use ends: the grace end while it retires, else its not-after. */
export function trueEnd(v: KeyVersionInfo): { at: string | null; what: string } {
  if (v.state === 'retiring' && v.graceUntil) return { at: v.graceUntil, what: 'grace ends' };
  if (v.state === 'revoked') return { at: v.revokedAt, what: 'revoked' };
  if (v.state === 'destroyed') return { at: v.destroyedAt, what: 'destroyed' };
  return { at: v.notAfter, what: 'expires' };
}

/** The secret in blocks of four characters, easier to read aloud and compare. */
export function groupSecret(secret: string, size = 4): string[] {
  const out: string[] = [];
  for (let i = 0; i < secret.length; i += size) out.push(secret.slice(i, i + size));
  return out;
}

let hideTimer: ReturnType<typeof setTimeout> | null = null;

function stopHideTimer(): void {
  if (hideTimer !== null) clearTimeout(hideTimer);
  hideTimer = null;
}

const NO_SECRET = { revealed: null, busyVersion: null, secretError: null } as const;
const NO_ACTION = { action: null, actionStatus: 'idle', actionError: null } as const;
const CLEARED = { selectedId: null, detail: null, status: 'idle', error: null, copied: null, ...NO_SECRET, ...NO_ACTION } as const;

export const useKeyDetail = create<KeyDetailState>()((set, get) => {
  async function load(id: string): Promise<boolean> {
    const r = await call((api) => api.keyShow({ id }));
    if (get().selectedId !== id) return false;
    if (!r.ok) {
      set({ status: 'error', error: r.error });
      return false;
    }
    set({ detail: r.value, status: 'ready', error: null });
    useKeys.getState().upsert(r.value);
    return true;
  }

  /** Runs an action on the selected key, then reads it again (the list row follows). */
  async function act<T>(kind: ActionKind, run: (id: string) => Promise<{ ok: true; value: T } | { ok: false; error: ApiError }>,
    done: (value: T) => string): Promise<boolean> {
    const id = get().selectedId;
    if (!id) return false;
    set({ action: kind, actionStatus: 'loading', actionError: null });
    const r = await run(id);
    if (get().selectedId !== id) return false;
    if (!r.ok) {
      set({ actionStatus: 'error', actionError: r.error });
      return false;
    }
    // A secret shown before the change may belong to a version that changed: hide it.
    stopHideTimer();
    set({ actionStatus: 'ready', ...NO_SECRET });
    useUi.getState().announce(done(r.value));
    await load(id);
    return true;
  }

  return {
    ...CLEARED,

    select: async (id) => {
      // Changing the selection closes the previous detail, and with it any revealed secret.
      stopHideTimer();
      set({ ...CLEARED, selectedId: id, status: id ? 'loading' : 'idle' });
      if (id) await load(id);
    },

    refresh: async () => {
      const id = get().selectedId;
      if (id) await load(id);
    },

    close: () => {
      stopHideTimer();
      set({ ...CLEARED });
    },

    reveal: async (version) => {
      const id = get().selectedId;
      if (!id) return;
      stopHideTimer();
      set({ ...NO_SECRET, busyVersion: version });
      const r = await call((api) => api.keyReveal({ id, version }));
      // The user may have closed the view while main answered: drop the secret then.
      if (get().selectedId !== id || get().busyVersion !== version) return;
      if (!r.ok) {
        set({ busyVersion: null, secretError: r.error });
        return;
      }
      const hideAt = Date.now() + REVEAL_SECONDS * 1000;
      set({ busyVersion: null, revealed: { id, version: r.value.version, secret: r.value.secret, hideAt } });
      hideTimer = setTimeout(function hideRevealedSecret() {
        hideTimer = null;
        if (get().revealed?.hideAt === hideAt) set({ revealed: null });
      }, REVEAL_SECONDS * 1000);
    },

    hideSecret: () => {
      stopHideTimer();
      set({ revealed: null, secretError: null });
    },

    copy: async (version) => {
      const id = get().selectedId;
      if (!id) return;
      set({ busyVersion: version, secretError: null });
      const r = await call((api) => api.clipboardCopySecret({ id, version }));
      if (get().selectedId !== id) return;
      if (!r.ok) {
        set({ busyVersion: null, secretError: r.error });
        return;
      }
      const after = r.value.clearAfterSeconds;
      set({ busyVersion: null, copied: { version, clearAt: after > 0 ? Date.now() + after * 1000 : null } });
      useUi.getState().announce(after > 0 ? `Version ${version} copied. The clipboard clears in ${after} seconds.` : `Version ${version} copied.`);
    },

    rotate: () =>
      act('rotate', (id) => call((api) => api.keyRotate({ ids: [id] })), (v) => {
        const r = v.rotated[0];
        return r ? `Rotated: version ${r.to} is active, version ${r.from} retires.` : 'Nothing was rotated.';
      }),

    revoke: (reason, version) =>
      act('revoke', (id) => call((api) => api.keyRevoke(version === undefined ? { id, reason } : { id, reason, version })),
        (v) => `Revoked version${v.versions.length === 1 ? '' : 's'} ${v.versions.join(', ')} (${v.reason}).`),

    destroy: (version) =>
      act('destroy', (id) => call((api) => api.keyDestroy({ id, version })),
        (v) => `The secret of version${v.versions.length === 1 ? '' : 's'} ${v.versions.join(', ')} was destroyed.`),

    resetAction: () => set({ ...NO_ACTION }),

    clear: () => {
      stopHideTimer();
      set({ ...CLEARED });
    },
  };
});
