/**
 * `keyhold-format/text`: the pure part of the format (no Node builtin, no
 * jose), for code that also runs in a browser (the app's shared/ layer, which
 * its renderer uses): the API-key text format and its checksum, canonical
 * JSON (RFC 8785) with the strict duplicate-member parser, and the error type.
 */

export { CodedError, ImportError, IMPORT_ERROR_CODES, exitCodeFor, isImportError, errnoCode, type ImportErrorCode, type ImportErrorInfo } from './errors.js';
export { canonicalize, canonicalBytes, findDuplicateMember, duplicateMemberError, parseJsonStrict, NotJsonError, type CanonicalOptions, type DuplicateMember } from './canonical.js';
export {
  API_KEY_PREFIX,
  API_KEY_LENGTH,
  CHECKSUM_LENGTH,
  KEY_ID_LENGTH,
  KEY_ID_RE,
  SECRET_LENGTH,
  apiKeyId,
  apiKeyPartsProblem,
  apiKeyProblem,
  base62Fixed,
  checksumOf,
  crc32,
  formatApiKey,
  isBase62,
  randomBase62,
  type ApiKeyProblem,
  type RandomBytes,
} from './apikey-text.js';
