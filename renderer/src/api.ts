/**
 * The renderer's one way out: `window.keyhold`, built by the preload from the
 * IPC contract's names. Stores call it; components call stores.
 */
import type { Result } from '../../shared/contract';
import type { ErrorInfo } from '../../shared/errors';
import type { KeyholdApi } from '../../shared/ipc-names';
import { withApprovals } from './useApproval';

/**
 * The bridge, or null when the page runs outside Keyhold (opened in a plain
 * browser). Read from globalThis rather than window so the stores also run in
 * Node, where the store tests hand them the same API over the real router.
 */
export function bridge(): KeyholdApi | null {
  return (globalThis as { keyhold?: KeyholdApi }).keyhold ?? null;
}

/** An error envelope's error: its `code` is the ErrorCode union, so a comparison with a misspelt code fails typecheck. */
export type ApiError = ErrorInfo;

/** What a screen shows when there is no bridge at all. */
export const NO_BRIDGE: ApiError = {
  code: 'INTERNAL',
  message: 'renderer: the Keyhold bridge is missing',
  hint: 'Open this page from the Keyhold app, not from a browser.',
};

/**
 * Calls one API method; a missing bridge becomes an error envelope like any
 * other. A command under dual control goes through the approval flow first
 * (useApproval.ts): the caller sees its usual answer, or why it was not approved.
 */
export async function call<T>(run: (api: KeyholdApi) => Promise<Result<T>>): Promise<Result<T>> {
  const api = bridge();
  if (!api) return { ok: false, error: NO_BRIDGE };
  return run(withApprovals(api));
}

/**
 * A token command's PIN fields for the one token the command names: the PIN
 * when one was typed (null: a PIN pad, or a token that needs no login), and
 * whether the final try may be spent. The PIN goes straight into the call,
 * never into a store.
 */
export function pinFields(pin: string | null, allowFinalTry: boolean): { pin?: string; allowFinalTry: boolean } {
  return pin === null ? { allowFinalTry } : { pin, allowFinalTry };
}
