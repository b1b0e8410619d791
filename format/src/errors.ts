/**
 * The bundle format's one error type, ImportError (the importer's name for
 * it, kept: servers match on it). Mirrors the app's shape (code, message,
 * hint) so a CLI, a server and the app's export side all match on `code`,
 * never on the text. Messages begin with their component and never carry a secret: a
 * bundle's secrets, a private key or a presented API key never reach an error.
 */

export const IMPORT_ERROR_CODES = [
  'BUNDLE_TOO_LARGE',
  'BUNDLE_MALFORMED',
  'BUNDLE_HEADER',
  'BUNDLE_ALGORITHM',
  'BUNDLE_UNKNOWN_SIGNER',
  'BUNDLE_DUPLICATE_SIGNER',
  'BUNDLE_SIGNATURE',
  'BUNDLE_THRESHOLD',
  'BUNDLE_VAULT',
  'BUNDLE_RECIPIENT',
  'BUNDLE_EXPIRED',
  'BUNDLE_NOT_YET_VALID',
  'BUNDLE_ROLLBACK',
  'BUNDLE_FORK',
  'BUNDLE_CHAIN',
  'BUNDLE_DECRYPT',
  'BUNDLE_SECRETS',
  'BUNDLE_CONFLICT',
  'BUNDLE_CHECKPOINT',
  'TRUST_ROOT_INVALID',
  'TRUST_ROOT_THRESHOLD',
  'TRUST_ROOT_EXPIRED',
  'TRUST_ROOT_VERSION',
  'TRUST_ROOT_ROLLBACK',
  'TRUST_ROOT_MISMATCH',
  'KEY_INVALID',
  'DUPLICATE_MEMBER',
  'QR_PART_INVALID',
  'QR_PARTS_MISSING',
  'QR_PARTS_MIXED',
  'QR_CHECKSUM',
  'NOT_A_FILE',
  'FILE_TOO_LARGE',
  'FILE_NOT_FOUND',
  'FILE_UNREADABLE',
  'FILE_EXISTS',
  'PATH_NOT_WRITABLE',
  'STATE_INVALID',
  'STATE_LOCKED',
  'INVALID_INPUT',
  'USAGE',
  'IO',
  'INTERNAL',
] as const;

export type ImportErrorCode = (typeof IMPORT_ERROR_CODES)[number];

export type ImportErrorInfo = Readonly<{ code: ImportErrorCode; message: string; hint?: string }>;

/**
 * An error with a typed code, a message for people and an optional hint:
 * the one shape of the format's errors, and a base the app's KeyholdError can
 * share (shared/ reaches it through `keyhold-format/text`).
 */
export class CodedError<C extends string> extends Error {
  readonly code: C;
  readonly hint: string | undefined;

  constructor(code: C, message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.hint = hint;
  }

  toInfo(): Readonly<{ code: C; message: string; hint?: string }> {
    return this.hint === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, hint: this.hint };
  }
}

export class ImportError extends CodedError<ImportErrorCode> {
  constructor(code: ImportErrorCode, message: string, hint?: string, options?: { cause?: unknown }) {
    super(code, message, hint, options);
    this.name = 'ImportError';
  }
}

export function isImportError(e: unknown): e is ImportError {
  return e instanceof ImportError;
}

/** Errno-style `code` of a thrown Node error, or ''. */
export function errnoCode(e: unknown): string {
  return e && typeof e === 'object' && 'code' in e && typeof e.code === 'string' ? e.code : '';
}

/**
 * CLI exit status: 0 ok, 1 rejected (a bundle, a trust root, a key, or a file
 * that cannot be read or written as asked), 2 usage, 70 internal or I/O
 * (sysexits EX_SOFTWARE).
 */
export function exitCodeFor(code: ImportErrorCode): number {
  switch (code) {
    case 'USAGE':
      return 2;
    case 'INTERNAL':
    case 'IO':
      return 70;
    default:
      return 1;
  }
}

export function strictAssert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new ImportError('INTERNAL', `importer: invariant failed: ${message}`);
}
