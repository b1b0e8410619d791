/**
 * The one error shape of Keyhold: core, CLI and IPC all speak it.
 *
 * A message begins with its component ("vault: wrong passphrase") and never
 * carries a secret, PIN or passphrase. The hint says what the user can do.
 * Callers match on `code`, never on the text.
 */

/**
 * Exit code families of the CLI (docs/cli.md, 4.2). A new code picks one:
 * usage 2 (bad input, the command could not start), auth 3, notFound 4,
 * damaged 5 (vault or audit log damaged or altered; an altered bundle),
 * busy 6, refused 7 (would overwrite, duplicate, lock out or break a rule of
 * state), token 8, internal 70 (a bug).
 */
export const EXIT = {
  usage: 2,
  auth: 3,
  notFound: 4,
  damaged: 5,
  busy: 6,
  refused: 7,
  token: 8,
  internal: 70,
} as const;

type ErrorSpec = Readonly<{ exit: (typeof EXIT)[keyof typeof EXIT]; meaning: string }>;

/**
 * Every error code, listed once: its exit code and a one-line meaning. One
 * code per distinct failure; a code is reused only where the failure really
 * is the same (a missing key whatever names it). docs/cli.md 4.1 and 4.2
 * carry the same list (test/unit/error-codes.test.ts holds them together).
 *
 * Message rule, for every code: the message begins with its component
 * (`vault: wrong passphrase`), names the field or file, never carries a
 * secret, PIN or passphrase; the hint says what the user can do.
 */
export const ERRORS = {
  INVALID_INPUT: { exit: EXIT.usage, meaning: 'an option, argument or IPC payload breaks its rule' },
  VAULT_EXISTS: { exit: EXIT.refused, meaning: 'init at a path where something already is' },
  VAULT_NOT_FOUND: { exit: EXIT.notFound, meaning: 'no file at the vault path' },
  NOT_A_VAULT: { exit: EXIT.damaged, meaning: 'the vault path names something that is not a Keyhold vault' },
  VAULT_TOO_NEW: { exit: EXIT.damaged, meaning: 'the vault schema is newer than this Keyhold reads' },
  VAULT_CORRUPT: { exit: EXIT.damaged, meaning: 'the vault file is damaged (SQLite, schema, checksums)' },
  INTEGRITY: { exit: EXIT.damaged, meaning: 'a MAC or signature fails: data altered outside Keyhold' },
  VAULT_IN_USE: { exit: EXIT.busy, meaning: 'another process holds the vault' },
  VAULT_LOCKED: { exit: EXIT.auth, meaning: 'an operation that needs an unlocked vault' },
  WRONG_PASSPHRASE: { exit: EXIT.auth, meaning: 'no passphrase keyslot opens with the passphrase' },
  PATH_NOT_WRITABLE: { exit: EXIT.refused, meaning: 'a file or folder cannot be written (or the vault cannot be read)' },
  FILE_EXISTS: { exit: EXIT.refused, meaning: 'a file to write is already there (or is a link, or a vault file)' },
  /** A file given to read cannot be opened or read (missing, permission denied, I/O error). */
  FILE_UNREADABLE: { exit: EXIT.usage, meaning: 'a file given to read cannot be opened or read' },
  /** A file given to read is not a regular file (a folder, a device, a FIFO), after links are resolved. */
  NOT_A_FILE: { exit: EXIT.usage, meaning: 'a file given to read is not a regular file' },
  /** A file given to read is larger than its kind allows (checked while reading, not by stat). */
  FILE_TOO_LARGE: { exit: EXIT.usage, meaning: 'a file given to read is larger than its kind allows' },
  /** The vault file (or its folder) is read-only: reading commands work, changes are refused. */
  VAULT_READ_ONLY: { exit: EXIT.refused, meaning: 'a change or reveal on a vault opened read-only' },
  /** The audit chain does not end at the stored, MACed head (entries were cut off): changes are refused until recovery. */
  AUDIT_TRUNCATED: { exit: EXIT.damaged, meaning: 'the audit log ends before its stored head' },
  /** A destructive command was not confirmed (no terminal and no --yes, or the answer was no). */
  CONFIRMATION_REQUIRED: { exit: EXIT.usage, meaning: 'a destructive command was not confirmed' },
  /** `audit recover` on a log that ends at its head: nothing was cut off. */
  NOTHING_TO_RECOVER: { exit: EXIT.refused, meaning: 'audit recover on a log with nothing missing' },
  /** A ceremony started while one is open, ended while none is, or a transcript of a ceremony that does not exist. */
  CEREMONY_STATE: { exit: EXIT.refused, meaning: 'no ceremony in the state asked for: one is already open, none is open, or none has that id' },
  /** A vault with two or more operators and no one signed in (operator.signIn, the CLI's --as). */
  OPERATOR_REQUIRED: { exit: EXIT.auth, meaning: 'a command that needs a signed-in operator, and no one is signed in' },
  /** The signed-in operator holds none of the roles the command needs (shared/roles.ts). */
  ROLE_REQUIRED: { exit: EXIT.auth, meaning: 'the signed-in operator lacks the role the command needs' },
  /** An operator's passphrase or token signature does not verify (sign-in, approval). */
  OPERATOR_AUTH_FAILED: { exit: EXIT.auth, meaning: 'an operator\'s passphrase or token signature does not verify' },
  OPERATOR_NOT_FOUND: { exit: EXIT.notFound, meaning: 'no operator with that name' },
  OPERATOR_EXISTS: { exit: EXIT.refused, meaning: 'an operator name (or its token key) already registered' },
  /** An operator migrated from before operators has no credential yet: it cannot sign in or approve, and no second operator is added until it sets one. */
  OPERATOR_NO_CREDENTIAL: { exit: EXIT.refused, meaning: 'an operator without a credential yet (set one first)' },
  /** Removing or demoting the last operator who is a security officer. */
  LAST_SECURITY_OFFICER: { exit: EXIT.refused, meaning: 'removing or demoting the last security officer' },
  /** A dual-controlled command without a granted, unexpired, unused approval of exactly its parameters. */
  DUAL_CONTROL_REQUIRED: { exit: EXIT.refused, meaning: 'a dual-controlled command without a matching approval' },
  /** An approval that cannot be granted: unknown, expired, used, or by the operator who asked or one who may not approve. */
  APPROVAL_INVALID: { exit: EXIT.refused, meaning: 'an approval that cannot be granted (unknown, expired, used or same operator)' },
  KEYSLOT_NOT_FOUND: { exit: EXIT.notFound, meaning: 'no keyslot with that id, or none of the kind asked for' },
  LAST_KEYSLOT: { exit: EXIT.refused, meaning: 'removing the only keyslot' },
  KEY_NOT_FOUND: { exit: EXIT.notFound, meaning: 'no such key or key version (or its secret was destroyed)' },
  KEY_EXISTS: { exit: EXIT.refused, meaning: 'a key name already used in that service and environment' },
  INVALID_KEY_FORMAT: { exit: EXIT.usage, meaning: 'a key text that fails the API-key format' },
  ILLEGAL_TRANSITION: { exit: EXIT.refused, meaning: 'a key version change the lifecycle forbids' },
  NOT_INTERACTIVE: { exit: EXIT.usage, meaning: 'a passphrase or PIN is needed and there is no terminal to ask on' },
  RECIPIENT_NOT_FOUND: { exit: EXIT.notFound, meaning: 'no recipient with that name' },
  RECIPIENT_EXISTS: { exit: EXIT.refused, meaning: 'a recipient name or public key already registered' },
  /** No signer is registered at all: nothing can sign a bundle or a trust root. */
  NO_SIGNERS: { exit: EXIT.notFound, meaning: 'no signer is registered' },
  /** Signers are registered, but none on the token named (--token). */
  SIGNER_NOT_FOUND: { exit: EXIT.notFound, meaning: 'no registered signer is on the token named' },
  SIGNER_EXISTS: { exit: EXIT.refused, meaning: 'a token key already registered as a signer' },
  /** The signer, or another key of its token, has signed this bundle already: one token signs once. */
  ALREADY_SIGNED: { exit: EXIT.refused, meaning: 'the signer or its token has already signed the bundle' },
  /** `bundle resend` for a recipient the vault has recorded no bundle for. */
  NOTHING_EXPORTED: { exit: EXIT.notFound, meaning: 'no bundle was exported to the recipient yet' },
  /** `bundle resend --sequence N` when the recipient has bundles, but not that one. */
  BUNDLE_NOT_FOUND: { exit: EXIT.notFound, meaning: 'the recipient has no bundle with that sequence' },
  /** A file given to sign is not a bundle of this vault: malformed, not canonical, or made by another vault. */
  BUNDLE_INVALID: { exit: EXIT.usage, meaning: 'a file given as a bundle is not a bundle of this vault' },
  /** A prepared bundle (bundle.prepare) that can no longer be signed: expired, dropped at lock, or the recipient or keys moved on. */
  BUNDLE_STALE: { exit: EXIT.refused, meaning: 'a prepared bundle that can no longer be signed as it was summarised' },
  TOKEN_MODULE: { exit: EXIT.token, meaning: 'the PKCS#11 module is missing, does not load or fails to initialise' },
  TOKEN_NOT_FOUND: { exit: EXIT.token, meaning: 'the token asked for (or a signer\'s, a keyslot\'s) is not present' },
  TOKEN_REMOVED: { exit: EXIT.token, meaning: 'the token went away during an operation' },
  TOKEN_PIN_INCORRECT: { exit: EXIT.auth, meaning: 'a wrong token PIN' },
  TOKEN_PIN_LOCKED: { exit: EXIT.auth, meaning: 'the token\'s user PIN is locked' },
  TOKEN_PIN_FINAL_TRY: { exit: EXIT.auth, meaning: 'one PIN try left and --allow-final-try not given' },
  TOKEN_KEY_NOT_FOUND: { exit: EXIT.notFound, meaning: 'no key with that label or id on the token' },
  TOKEN_KEY_EXISTS: { exit: EXIT.refused, meaning: 'token keygen with a label a key on the token already has' },
  /** A label names several keys on one token: name the key by its id. */
  TOKEN_KEY_AMBIGUOUS: { exit: EXIT.usage, meaning: 'a label names several keys on the token' },
  TOKEN_UNSUPPORTED: { exit: EXIT.token, meaning: 'the token lacks a mechanism, or the key cannot serve this use' },
  TOKEN_ERROR: { exit: EXIT.token, meaning: 'any other PKCS#11 failure' },
  /** Several tokens could take a login and none was named: a PIN is only ever offered to the token it was given for. */
  TOKEN_AMBIGUOUS: { exit: EXIT.usage, meaning: 'several tokens match and none was named unambiguously' },
  /** A threshold that counts more signers than there are distinct tokens (two keys on one card are one person). */
  THRESHOLD_UNREACHABLE: { exit: EXIT.refused, meaning: 'a threshold above the number of distinct signer tokens' },
  /** An IPC request from a sender other than the app's own main frame (electron/main/router.ts). */
  IPC_FORBIDDEN: { exit: EXIT.usage, meaning: 'an IPC request from a sender other than the app\'s own window' },
  /** Strict air gap (the vault's or the workstation's setting): the app refuses to unlock while a network interface is up. */
  AIRGAP_REQUIRED: { exit: EXIT.refused, meaning: 'an unlock refused by strict air gap while a network interface is up' },
  /** A token's anchor (docs/threat-model.md) records a later or different audit head than the vault file: a copy rolled back. */
  ROLLBACK_DETECTED: { exit: EXIT.damaged, meaning: 'the vault file is older than, or forked from, the head its token recorded' },
  /** A token's anchor for this vault fails its MAC or does not parse (another vault's, or edited). */
  ANCHOR_INVALID: { exit: EXIT.damaged, meaning: 'the rollback anchor on a token fails its check for this vault' },
  /** A file given as a vault backup does not begin as one (docs/backup.md), or is of a format this Keyhold does not read. */
  BACKUP_INVALID: { exit: EXIT.usage, meaning: 'a file given as a backup is not a Keyhold backup (or of a newer format)' },
  /** A backup shorter than its header says (cut off in copying). */
  BACKUP_TRUNCATED: { exit: EXIT.damaged, meaning: 'a backup file is shorter than its header says' },
  /** A backup whose header or body fails its checksum or authentication: a byte changed, or parts of two backups. */
  BACKUP_ALTERED: { exit: EXIT.damaged, meaning: 'a backup fails its checksum or authentication (altered or damaged)' },
  /** A backup whose header and body name different vaults (a header spliced from another vault's backup). */
  BACKUP_WRONG_VAULT: { exit: EXIT.damaged, meaning: 'a backup whose header and body belong to different vaults' },
  /** A quorum share that cannot count (another split, given twice), a collection that ended, or too few shares to unlock. */
  QUORUM_SHARE: { exit: EXIT.auth, meaning: 'a quorum share refused (another split, given twice, collection ended) or too few' },
  INTERNAL: { exit: EXIT.internal, meaning: 'anything unexpected (a bug)' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export const ERROR_CODES = Object.freeze(Object.keys(ERRORS)) as readonly ErrorCode[];

export function isErrorCode(x: unknown): x is ErrorCode {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(ERRORS, x);
}

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

/** Process exit code for the CLI: the code's family (EXIT). */
export function exitCodeFor(code: ErrorCode): number {
  return isErrorCode(code) ? ERRORS[code].exit : EXIT.internal;
}

export function missingCase(x: never): never {
  throw new Error(`missing case: ${String(x)}`);
}

export function strictAssert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new KeyholdError('INTERNAL', `assertion failed: ${message}`);
}
