/**
 * Access store: who is signed in (operator.whoami) and the vault's dual-control
 * rules (dualControl.show), read by the role helper (renderer/src/roles.ts) and
 * the approval wrapper (renderer/src/useApproval.ts). It holds no secret and
 * makes no call itself (stores/operators.ts loads it), so api.ts can read it
 * without an import cycle.
 */
import { create } from 'zustand';
import type { CommandOutput, DualControlInfo } from '../../../shared/contract';

export type Whoami = CommandOutput<'operator.whoami'>;

/** How an operator signs in, as whoami.signIn tells it before sign-in. */
export type SignInMethod = Readonly<{ credential: 'passphrase' | 'token' | 'none'; token: { label: string; serial: string } | null }>;

type AccessState = Readonly<{
  whoami: Whoami | null;
  dualControl: DualControlInfo | null;
  setWhoami: (w: Whoami | null) => void;
  setDualControl: (d: DualControlInfo | null) => void;
  clear: () => void;
}>;

export const useAccess = create<AccessState>()((set) => ({
  whoami: null,
  dualControl: null,
  setWhoami: (whoami) => set({ whoami }),
  setDualControl: (dualControl) => set({ dualControl }),
  clear: () => set({ whoami: null, dualControl: null }),
}));

/** Whether the app must ask for a sign-in before anything else: operators exist and no one is signed in. */
export function needsSignIn(w: Whoami | null): boolean {
  return w !== null && w.operator === null && (w.signInRequired || w.operators.length > 0);
}

/** How `name` signs in (whoami.signIn: public facts, known before sign-in); null for a name the vault does not have. */
export function signInMethod(w: Whoami | null, name: string): SignInMethod | null {
  const found = w?.signIn.find((x) => x.name === name);
  return found ? { credential: found.credential, token: found.token } : null;
}
