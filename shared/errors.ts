/**
 * The one error shape of Keyhold: core, CLI and IPC all speak it.
 *
 * A message begins with its component ("vault: wrong passphrase") and never
 * carries a secret, PIN or passphrase. The hint says what the user can do.
 * Callers match on `code`, never on the text.
 */

export const ERROR_CODES = [
  'INVALID_INPUT',
  'VAULT_EXISTS',
  'VAULT_NOT_FOUND',
  'NOT_A_VAULT',
  'VAULT_TOO_NEW',
  'VAULT_CORRUPT',
  'INTEGRITY',
  'VAULT_IN_USE',
  'VAULT_LOCKED',
  'WRONG_PASSPHRASE',
  'PATH_NOT_WRITABLE',
  'FILE_EXISTS',
  /** A file given to read is not a regular file (a folder, a device, a FIFO), after links are resolved. */
  'NOT_A_FILE',
  /** A file given to read is larger than its kind allows (checked while reading, not by stat). */
  'FILE_TOO_LARGE',
  /** The vault file (or its folder) is read-only: reading commands work, changes are refused. */
  'VAULT_READ_ONLY',
  /** The audit chain does not end at the stored, MACed head (entries were cut off): changes are refused until recovery. */
  'AUDIT_TRUNCATED',
  /** A destructive command was not confirmed (no terminal and no --yes, or the answer was no). */
  'CONFIRMATION_REQUIRED',
  'KEYSLOT_NOT_FOUND',
  'LAST_KEYSLOT',
  'KEY_NOT_FOUND',
  'KEY_EXISTS',
  'INVALID_KEY_FORMAT',
  'ILLEGAL_TRANSITION',
  'NOT_INTERACTIVE',
  'TOKEN_MODULE',
  'TOKEN_NOT_FOUND',
  'TOKEN_REMOVED',
  'TOKEN_PIN_INCORRECT',
  'TOKEN_PIN_LOCKED',
  'TOKEN_PIN_FINAL_TRY',
  'TOKEN_KEY_NOT_FOUND',
  'TOKEN_KEY_EXISTS',
  'TOKEN_UNSUPPORTED',
  'TOKEN_ERROR',
  /** Several tokens could take a login and none was named: a PIN is only ever offered to the token it was given for. */
  'TOKEN_AMBIGUOUS',
  /** A threshold that counts more signers than there are distinct tokens (two keys on one card are one person). */
  'THRESHOLD_UNREACHABLE',
  /** An IPC request from a sender other than the app's own main frame (electron/main/router.ts). */
  'IPC_FORBIDDEN',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export type ErrorInfo = Readonly<{
  code: ErrorCode;
  message: string;
  hint?: string;
}>;

export class KeyholdError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeyholdError';
    this.code = code;
    this.hint = hint;
  }

  toInfo(): ErrorInfo {
    return this.hint === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, hint: this.hint };
  }
}

/** The `code` of a thrown error (an errno name, a SQLITE_* code), or '' when it has none. */
export function errorCode(e: unknown): string {
  return e && typeof e === 'object' && 'code' in e && typeof e.code === 'string' ? e.code : '';
}

export function isKeyholdError(e: unknown): e is KeyholdError {
  return e instanceof KeyholdError;
}

/**
 * Turns anything thrown into the error shape. Unknown errors become INTERNAL
 * with a generic message: their text may come from a native library and is not
 * vetted for secrets, so it is not passed on.
 */
export function toErrorInfo(e: unknown): ErrorInfo {
  if (isKeyholdError(e)) return e.toInfo();
  return {
    code: 'INTERNAL',
    message: 'core: internal error',
    hint: 'This is a bug in Keyhold. The vault was not changed by the failed operation.',
  };
}

/** Process exit codes for the CLI, one per family of error. */
export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'INVALID_INPUT':
    case 'INVALID_KEY_FORMAT':
    case 'NOT_INTERACTIVE':
    case 'NOT_A_FILE':
    case 'FILE_TOO_LARGE':
    case 'CONFIRMATION_REQUIRED':
    case 'TOKEN_AMBIGUOUS':
    case 'IPC_FORBIDDEN':
      return 2;
    case 'WRONG_PASSPHRASE':
    case 'VAULT_LOCKED':
    case 'TOKEN_PIN_INCORRECT':
    case 'TOKEN_PIN_LOCKED':
    case 'TOKEN_PIN_FINAL_TRY':
      return 3;
    case 'VAULT_NOT_FOUND':
    case 'KEY_NOT_FOUND':
    case 'KEYSLOT_NOT_FOUND':
    case 'TOKEN_KEY_NOT_FOUND':
      return 4;
    case 'VAULT_CORRUPT':
    case 'INTEGRITY':
    case 'NOT_A_VAULT':
    case 'VAULT_TOO_NEW':
    case 'AUDIT_TRUNCATED':
      return 5;
    case 'VAULT_IN_USE':
      return 6;
    case 'VAULT_EXISTS':
    case 'KEY_EXISTS':
    case 'ILLEGAL_TRANSITION':
    case 'LAST_KEYSLOT':
    case 'PATH_NOT_WRITABLE':
    case 'FILE_EXISTS':
    case 'TOKEN_KEY_EXISTS':
    case 'VAULT_READ_ONLY':
    case 'THRESHOLD_UNREACHABLE':
      return 7;
    case 'TOKEN_MODULE':
    case 'TOKEN_NOT_FOUND':
    case 'TOKEN_REMOVED':
    case 'TOKEN_UNSUPPORTED':
    case 'TOKEN_ERROR':
      return 8;
    case 'INTERNAL':
      return 70;
    default:
      return missingCase(code);
  }
}

export function missingCase(x: never): never {
  throw new Error(`missing case: ${String(x)}`);
}

export function strictAssert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new KeyholdError('INTERNAL', `assertion failed: ${message}`);
}
