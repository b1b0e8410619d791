/**
 * Dual control in the app: one wrapper around `window.keyhold` (api.ts `call`
 * uses it for every command), so no screen handles approvals itself.
 *
 * When a command is under dual control for the signed-in operator (the rules
 * from dualControl.show, stores/access.ts), the wrapper first asks the core for
 * an approval of exactly that input (approval.request: its summary lines and
 * parameters hash), then waits for the ApprovalDialog (components/ApprovalDialog.tsx):
 * a second operator signs in inside it and approves (approval.grant). Only then
 * is the command sent, with the same input. Cancel answers the caller an error
 * and nothing is sent; the unapproved request stays in the core's memory until
 * it expires (five minutes) or the vault locks, and cannot be used by anyone.
 *
 * A command the rules did not list but the core refuses with
 * DUAL_CONTROL_REQUIRED (the rules changed meanwhile) gets the same flow once.
 *
 * The input of the held command (a token PIN, for a bundle export) stays in
 * this closure while the dialog is open, as it would in the form that sent
 * it; it is never put in a store. What goes to approval.request has no PIN
 * and no output file (the core hashes neither).
 */
import { create } from 'zustand';
import type { ApprovalInfo, CommandName, Result } from '../../shared/contract';
import { COMMAND_ROLES } from '../../shared/roles';
import { IPC_METHODS, type KeyholdApi } from '../../shared/ipc-names';
import type { ErrorInfo } from '../../shared/errors';
import { useAccess } from './stores/access';
import { dualControlApplies } from './roles';

/** What the caller of a command gets when the approval was not given. */
export const NOT_APPROVED: ErrorInfo = {
  code: 'DUAL_CONTROL_REQUIRED',
  message: 'The action was not approved by a second operator, so nothing was done.',
  hint: 'Start it again when a second operator (a custodian or security officer) is here to approve it.',
};

type Pending = Readonly<{ approval: ApprovalInfo; resolve: (approved: boolean) => void }>;

type ApprovalState = Readonly<{
  pending: Pending | null;
  /** The dialog's answer: approved (the command is sent now) or not (nothing is sent). */
  settle: (approved: boolean) => void;
}>;

export const useApproval = create<ApprovalState>()((set, get) => ({
  pending: null,
  settle: (approved) => {
    const p = get().pending;
    set({ pending: null });
    p?.resolve(approved);
  },
}));

/** Fields never sent with an approval request: the PIN, its final-try flag, and the output file handle. */
const NOT_SENT = new Set(['pin', 'allowFinalTry', 'out']);

function forApproval(input: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (input && typeof input === 'object') for (const [k, v] of Object.entries(input)) if (!NOT_SENT.has(k)) out[k] = v;
  return out;
}

/** Commands that can be dual-controlled at all: those with roles (not 'none' or 'any'), and not a dry run. */
function candidate(command: string, input: unknown): command is CommandName {
  const need = (COMMAND_ROLES as Readonly<Record<string, unknown>>)[command];
  if (need === undefined || need === 'none' || need === 'any') return false;
  return !(input && typeof input === 'object' && (input as { dryRun?: unknown }).dryRun === true);
}

type Method = (input?: unknown) => Promise<Result<unknown>>;

async function rules(api: KeyholdApi, fresh: boolean) {
  const known = useAccess.getState().dualControl;
  if (known && !fresh) return known;
  const r = await api.dualControlShow();
  if (!r.ok) return known;
  useAccess.getState().setDualControl(r.value);
  return r.value;
}

/** Asks for the approval and waits for the dialog: null when approved, else the error for the caller. */
async function approval(api: KeyholdApi, command: CommandName, input: unknown): Promise<ErrorInfo | null> {
  const r = await api.approvalRequest({ command, input: forApproval(input) });
  if (!r.ok) return r.error;
  // One request at a time: a second one (which the UI does not allow) cancels the first.
  useApproval.getState().pending?.resolve(false);
  const approved = await new Promise<boolean>((resolve) => {
    useApproval.setState({ pending: { approval: r.value, resolve } });
  });
  return approved ? null : NOT_APPROVED;
}

async function run(raw: KeyholdApi, send: Method, command: string, input: unknown): Promise<Result<unknown>> {
  if (!candidate(command, input)) return send(input);
  const me = useAccess.getState().whoami?.operator?.name ?? null;
  if (dualControlApplies(await rules(raw, false), command, me)) {
    const refused = await approval(raw, command, input);
    return refused ? { ok: false, error: refused } : send(input);
  }
  const first = await send(input);
  if (first.ok || first.error.code !== 'DUAL_CONTROL_REQUIRED') return first;
  // The rules changed since they were read: read them again and ask once.
  if (!dualControlApplies(await rules(raw, true), command, me)) return first;
  const refused = await approval(raw, command, input);
  return refused ? { ok: false, error: refused } : send(input);
}

const wrapped = new WeakMap<KeyholdApi, KeyholdApi>();

/** `window.keyhold` with every dual-controllable command going through the approval flow (same methods, same types). */
export function withApprovals(raw: KeyholdApi): KeyholdApi {
  const known = wrapped.get(raw);
  if (known) return known;
  const methods: Record<string, unknown> = { on: raw.on };
  for (const [command, method] of IPC_METHODS) {
    const send = (raw as unknown as Record<string, Method>)[method];
    if (typeof send !== 'function') continue;
    methods[method] = (input?: unknown) => run(raw, send, command, input);
  }
  const out = Object.freeze(methods) as unknown as KeyholdApi;
  wrapped.set(raw, out);
  return out;
}
