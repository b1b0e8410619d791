/**
 * Errors as the app shows them. The core's messages start with where they
 * came from ("key.show: ", "cli: ") and its hints often name a CLI command;
 * both are for a terminal. The app shows the message without the prefix and,
 * where a hint names a command, the app's own hint for that error code or none.
 */
import type { ErrorCode } from '../../shared/errors';
import type { ApiError } from './api';

/** What to do in the app, for codes whose core hint names a CLI command. */
const APP_HINTS: Partial<Record<ErrorCode, string>> = {
  WRONG_PASSPHRASE: 'Check the passphrase (caps lock?) and try again.',
  VAULT_IN_USE: 'Another Keyhold window or a keyhold command has the vault open. Close it, then try again.',
  KEY_NOT_FOUND: 'The key may have been removed or renamed. Reload the list.',
  KEY_EXISTS: 'Pick another name, or use the existing key.',
  INTEGRITY: 'Open Audit and verify the chain to see where it breaks. Do not make changes until it is explained.',
  AUDIT_TRUNCATED: 'Open Audit: the log was cut off at the end and can be recovered there, with a reason that is recorded.',
  TOKEN_NOT_FOUND: 'Insert the token, then look at Tokens to check that it is seen.',
  TOKEN_PIN_INCORRECT: 'Check the PIN. The token counts wrong tries; look at its PIN state before trying again.',
  TOKEN_PIN_LOCKED: 'This token\'s PIN is locked. Its security officer must unblock it; Keyhold will not try it.',
  TOKEN_PIN_FINAL_TRY: 'One try is left on this token. Confirm that you want to spend it, or stop and check the PIN first.',
  NO_SIGNERS: 'Register a signing key on a token under Bundles, Signers.',
  RECIPIENT_NOT_FOUND: 'Register the server under Bundles, Recipients first.',
  FILE_EXISTS: 'Keyhold never replaces a file. Choose a new file name.',
  VAULT_LOCKED: 'The vault locked. Unlock it and try again.',
  OPERATOR_REQUIRED: 'No operator is signed in. Sign in (the header\'s Switch operator), then try again.',
  ROLE_REQUIRED: 'Your roles do not allow this. Ask an operator who holds the role, or a security officer to grant it under Operators.',
  OPERATOR_AUTH_FAILED: 'Check the passphrase (caps lock?) or the token and PIN, and try again. Nothing was changed.',
  DUAL_CONTROL_REQUIRED: 'A second operator (a custodian or security officer) must approve it in the approval dialog: start the action again when they are here.',
  OPERATOR_NO_CREDENTIAL: 'That operator has no credential yet: they set one under Operators, Your credential, once signed in.',
};

/** "key.show: id: something" -> "something"; "cli: no vault" -> "no vault". Only known-looking prefixes go. */
export function withoutPrefix(message: string): string {
  let m = message;
  for (let i = 0; i < 3; i++) {
    const next = m.replace(/^(?:[a-z][a-z0-9]*(?:\.[a-zA-Z0-9]+)*|id|key|version|recipient|signer|token|ipc|cli|core|renderer|vault|audit|bundle):\s+/, '');
    if (next === m) break;
    m = next;
  }
  return m.length > 0 ? m.charAt(0).toUpperCase() + m.slice(1) : message;
}

/** A hint that tells a terminal user what to type is replaced by the app's own, or dropped. */
export function appHint(e: ApiError): string | undefined {
  const own = APP_HINTS[e.code];
  if (e.hint === undefined) return own;
  if (/`?keyhold(?:-import)?\s|--[a-z]|\bKEYHOLD_[A-Z]/.test(e.hint)) return own;
  return e.hint;
}

export function humanError(e: ApiError): ApiError {
  const hint = appHint(e);
  return { code: e.code, message: withoutPrefix(e.message), ...(hint !== undefined ? { hint } : {}) };
}
