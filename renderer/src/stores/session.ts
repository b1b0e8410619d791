/**
 * Session store: where the app stands (no vault yet, locked, unlocked), the
 * environment main reports (air gap, settings), and the vault's lifecycle
 * actions. Locking from any source (the user, idle time) goes through
 * `locked()`, which also clears every other store holding vault data.
 */
import { create } from 'zustand';
import type { VaultInfo } from '../../../shared/contract';
import type { AirgapStatus, AppEnvironment, LockReason } from '../../../shared/ipc';
import { bridge, call, NO_BRIDGE, pinFields, type ApiError } from '../api';
import { useApproval } from '../useApproval';
import { needsSignIn } from './access';
import { useKeys } from './keys';
import { useOperators } from './operators';
import { useUi } from './ui';

/** After the vault opens: who is signed in; the keys load once someone is (a vault with several operators asks first). */
async function afterOpen(): Promise<void> {
  const who = await useOperators.getState().loadIdentity();
  if (who === null || !needsSignIn(who)) void useKeys.getState().load();
}

export type Phase = 'loading' | 'error' | 'no-vault' | 'locked' | 'unlocked';

type SessionState = Readonly<{
  phase: Phase;
  env: AppEnvironment | null;
  airgap: AirgapStatus | null;
  info: VaultInfo | null;
  /** Why the app could not start (phase 'error'). */
  loadError: ApiError | null;
  /** The last create/unlock/lock failure, shown on the current screen. */
  actionError: ApiError | null;
  busy: boolean;
  lockReason: LockReason | null;
  init: () => Promise<void>;
  createVault: (passphrase: string) => Promise<boolean>;
  unlock: (passphrase: string) => Promise<boolean>;
  /**
   * Unlocks with a token keyslot: the token named by serial, its PIN (null
   * where Keyhold gives none: a PIN pad, no login needed). The PIN goes to that
   * token only and is not kept. Resolves null on success, else the error, for
   * the PIN prompt to show (actionError is left to the passphrase form).
   */
  /** `acceptRollback`: open a copy the token's rollback record refuses, with the reason recorded (RollbackNotice). */
  unlockToken: (token: string, pin: string | null, allowFinalTry: boolean, acceptRollback?: { reason: string }) => Promise<ApiError | null>;
  /** The vault was opened by another way (a quorum's M-th share, stores/quorum.ts): the same as after an unlock. */
  opened: (info: VaultInfo, announcement: string) => void;
  lock: () => Promise<void>;
  locked: (reason: LockReason) => void;
  setAirgap: (status: AirgapStatus) => void;
  /** Subscribes to main's events; returns the function that unsubscribes them all. */
  subscribe: () => () => void;
}>;

export const useSession = create<SessionState>()((set, get) => ({
  phase: 'loading',
  env: null,
  airgap: null,
  info: null,
  loadError: null,
  actionError: null,
  busy: false,
  lockReason: null,

  init: async () => {
    set({ phase: 'loading', loadError: null });
    const env = await call((api) => api.appEnvironment());
    if (!env.ok) {
      set({ phase: 'error', loadError: env.error });
      return;
    }
    const status = await call((api) => api.vaultStatus());
    if (!status.ok) {
      set({ phase: 'error', loadError: status.error, env: env.value, airgap: env.value.airgap });
      return;
    }
    const phase: Phase = status.value.unlocked ? 'unlocked' : env.value.vault.exists ? 'locked' : 'no-vault';
    set({ phase, env: env.value, airgap: env.value.airgap });
    if (phase === 'unlocked') {
      const info = await call((api) => api.vaultInfo());
      if (info.ok) set({ info: info.value });
      void afterOpen();
    }
  },

  createVault: async (passphrase) => {
    set({ busy: true, actionError: null });
    const r = await call((api) => api.vaultCreate({ passphrase }));
    if (!r.ok) {
      set({ busy: false, actionError: r.error });
      return false;
    }
    set({ busy: false, phase: 'unlocked', info: r.value, lockReason: null });
    useUi.getState().announce('Vault created and unlocked.');
    void afterOpen();
    return true;
  },

  unlock: async (passphrase) => {
    set({ busy: true, actionError: null });
    const r = await call((api) => api.vaultUnlock({ passphrase }));
    if (!r.ok) {
      set({ busy: false, actionError: r.error });
      return false;
    }
    set({ busy: false, phase: 'unlocked', info: r.value, lockReason: null });
    useUi.getState().announce('Vault unlocked.');
    void afterOpen();
    return true;
  },

  unlockToken: async (token, pin, allowFinalTry, acceptRollback) => {
    set({ busy: true, actionError: null });
    const r = await call((api) => api.vaultUnlockToken({ token, ...pinFields(pin, allowFinalTry), ...(acceptRollback ? { acceptRollback } : {}) }));
    if (!r.ok) {
      set({ busy: false });
      return r.error;
    }
    set({ busy: false, phase: 'unlocked', info: r.value, lockReason: null });
    useUi.getState().announce('Vault unlocked with the token.');
    void afterOpen();
    return null;
  },

  opened: (info, announcement) => {
    set({ busy: false, phase: 'unlocked', info, lockReason: null, actionError: null });
    useUi.getState().announce(announcement);
    void afterOpen();
  },

  lock: async () => {
    set({ busy: true, actionError: null });
    const r = await call((api) => api.vaultLock());
    set({ busy: false });
    // The vault.locked event also arrives; locked() is idempotent.
    if (r.ok) get().locked('user');
    else set({ actionError: r.error });
  },

  locked: (reason) => {
    useKeys.getState().clear();
    useUi.getState().reset();
    // No one is signed in to a locked vault; an approval waiting in the dialog is dropped (the core dropped it too).
    useOperators.getState().clear();
    useApproval.getState().settle(false);
    if (get().phase === 'locked') return;
    set({ phase: 'locked', info: null, lockReason: reason, actionError: null, busy: false });
    useUi.getState().announce(reason === 'idle' ? 'Vault locked after idle time.'
      : reason === 'airgap' ? 'Vault locked: a network interface came up.' : 'Vault locked.');
  },

  setAirgap: (status) => set({ airgap: status }),

  subscribe: () => {
    const api = bridge();
    if (!api) {
      set({ phase: 'error', loadError: NO_BRIDGE });
      return () => undefined;
    }
    const offLocked = api.on('vault.locked', function onVaultLocked(p) {
      get().locked(p.reason);
    });
    const offAirgap = api.on('airgap.changed', function onAirgapChanged(p) {
      get().setAirgap(p);
    });
    return function unsubscribeAll() {
      offLocked();
      offAirgap();
    };
  },
}));
