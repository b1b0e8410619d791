/**
 * Operators store: the signed-in operator (loaded into stores/access.ts after
 * every unlock, sign-in and change) and the Operators screen: the list, adding
 * (passphrase or token key), removing, granting and revoking roles, and the
 * dual-control rules. No passphrase or PIN is kept here: each action takes it
 * as an argument for its one call.
 */
import { create } from 'zustand';
import type { CommandName, DualControlInfo, OperatorInfo } from '../../../shared/contract';
import { ROLE_NAMES, type Role } from '../../../shared/roles';
import { call, pinFields, type ApiError } from '../api';
import { useAccess, type Whoami } from './access';
import { useKeys } from './keys';
import { useUi } from './ui';

export type Status = 'idle' | 'loading' | 'ready' | 'error';

/** A credential typed in a form, for one call: a passphrase, or a token PIN (null: a PIN pad or no login). */
export type Credential =
  | Readonly<{ kind: 'passphrase'; passphrase: string }>
  | Readonly<{ kind: 'token'; pin: string | null; allowFinalTry: boolean }>;

export type NewOperator = Readonly<{
  name: string;
  roles: readonly Role[];
  credential:
    | Readonly<{ kind: 'passphrase'; passphrase: string }>
    | Readonly<{ kind: 'token'; token: string; keyLabel: string; pin: string | null; allowFinalTry: boolean }>;
}>;

export function credentialFields(c: Credential): { passphrase?: string; pin?: string; allowFinalTry: boolean } {
  return c.kind === 'passphrase' ? { passphrase: c.passphrase, allowFinalTry: false } : pinFields(c.pin, c.allowFinalTry);
}

type OperatorsState = Readonly<{
  identityStatus: Status;
  identityError: ApiError | null;
  status: Status;
  error: ApiError | null;
  operators: readonly OperatorInfo[];
  dualControl: DualControlInfo | null;
  /** Reads who is signed in (and, once someone is, the dual-control rules); resolves the answer or null on error. */
  loadIdentity: () => Promise<Whoami | null>;
  signIn: (name: string, credential: Credential) => Promise<ApiError | null>;
  signOut: () => Promise<ApiError | null>;
  load: () => Promise<void>;
  add: (op: NewOperator) => Promise<ApiError | null>;
  remove: (name: string) => Promise<ApiError | null>;
  grant: (name: string, roles: readonly Role[]) => Promise<ApiError | null>;
  revoke: (name: string, roles: readonly Role[]) => Promise<ApiError | null>;
  setRules: (commands: readonly CommandName[] | 'defaults') => Promise<ApiError | null>;
  setCredential: (c: NewOperator['credential']) => Promise<ApiError | null>;
  clear: () => void;
}>;

export const useOperators = create<OperatorsState>()((set, get) => {
  async function rules(): Promise<void> {
    const r = await call((api) => api.dualControlShow());
    if (r.ok) {
      useAccess.getState().setDualControl(r.value);
      set({ dualControl: r.value });
    }
  }

  /** After a change: the list, the rules and who is signed in (a role of mine may have changed). */
  async function reload(): Promise<void> {
    await get().loadIdentity();
    await get().load();
  }

  return {
    identityStatus: 'idle',
    identityError: null,
    status: 'idle',
    error: null,
    operators: [],
    dualControl: null,

    loadIdentity: async () => {
      set({ identityStatus: 'loading', identityError: null });
      const r = await call((api) => api.operatorWhoami());
      if (!r.ok) {
        set({ identityStatus: 'error', identityError: r.error });
        return null;
      }
      useAccess.getState().setWhoami(r.value);
      set({ identityStatus: 'ready' });
      if (r.value.operator !== null) await rules();
      return r.value;
    },

    signIn: async (name, credential) => {
      const r = await call((api) => api.operatorSignIn({ name, ...credentialFields(credential) }));
      if (!r.ok) return r.error;
      // What the previous operator had open goes; the keys load for the one now signed in.
      useKeys.getState().clear();
      useUi.getState().reset();
      await get().loadIdentity();
      void useKeys.getState().load();
      useUi.getState().announce(`Signed in as ${r.value.name}.`);
      return null;
    },

    signOut: async () => {
      const r = await call((api) => api.operatorSignOut());
      if (!r.ok) return r.error;
      useAccess.getState().setDualControl(null);
      set({ status: 'idle', operators: [], dualControl: null, error: null });
      useKeys.getState().clear();
      useUi.getState().reset();
      await get().loadIdentity();
      useUi.getState().announce('Signed out.');
      return null;
    },

    load: async () => {
      set({ status: 'loading', error: null });
      const [list, dual] = await Promise.all([call((api) => api.operatorList()), call((api) => api.dualControlShow())]);
      if (!list.ok) {
        set({ status: 'error', error: list.error });
        return;
      }
      if (dual.ok) useAccess.getState().setDualControl(dual.value);
      set({ status: 'ready', operators: list.value, dualControl: dual.ok ? dual.value : null, error: dual.ok ? null : dual.error });
    },

    add: async (op) => {
      const c = op.credential;
      const cred = c.kind === 'passphrase'
        ? { passphrase: c.passphrase }
        : { token: c.token, keyLabel: c.keyLabel, ...pinFields(c.pin, c.allowFinalTry) };
      const r = await call((api) => api.operatorAdd({ name: op.name, roles: [...op.roles], ...cred }));
      if (!r.ok) return r.error;
      useUi.getState().announce(`Operator ${r.value.name} added.`);
      await reload();
      return null;
    },

    remove: async (name) => {
      const r = await call((api) => api.operatorRemove({ name }));
      if (!r.ok) return r.error;
      useUi.getState().announce(`Operator ${r.value.removed} removed.`);
      await reload();
      return null;
    },

    grant: async (name, roles) => {
      const r = await call((api) => api.operatorGrant({ name, roles: [...roles] }));
      if (!r.ok) return r.error;
      useUi.getState().announce(`${name} now holds: ${r.value.roles.map((x) => ROLE_NAMES[x]).join(', ')}.`);
      await reload();
      return null;
    },

    revoke: async (name, roles) => {
      const r = await call((api) => api.operatorRevoke({ name, roles: [...roles] }));
      if (!r.ok) return r.error;
      useUi.getState().announce(`${name} now holds: ${r.value.roles.map((x) => ROLE_NAMES[x]).join(', ')}.`);
      await reload();
      return null;
    },

    setRules: async (commands) => {
      const r = await call((api) => api.dualControlSet(commands === 'defaults' ? { defaults: true } : { commands: [...commands] }));
      if (!r.ok) return r.error;
      useAccess.getState().setDualControl(r.value);
      set({ dualControl: r.value });
      useUi.getState().announce('Dual-control rules saved.');
      return null;
    },

    setCredential: async (c) => {
      const cred = c.kind === 'passphrase'
        ? { passphrase: c.passphrase }
        : { token: c.token, keyLabel: c.keyLabel, ...pinFields(c.pin, c.allowFinalTry) };
      const r = await call((api) => api.operatorSetCredential(cred));
      if (!r.ok) return r.error;
      useUi.getState().announce('Your credential is set.');
      await reload();
      return null;
    },

    clear: () => {
      useAccess.getState().clear();
      set({ identityStatus: 'idle', identityError: null, status: 'idle', error: null, operators: [], dualControl: null });
    },
  };
});
