/**
 * The text form of a Keyhold API key (normative: docs/key-format.md), as the
 * app uses it: the one implementation is the bundle format's
 * (`keyhold-format/text`, pure code, no Node, so shared/ stays usable by the
 * renderer); this module words its refusals as Keyhold errors
 * (INVALID_KEY_FORMAT). The verifier a server stores is keyhold-format's
 * `verifierOf` (it needs node:crypto, so it is not here).
 *
 *   khk_<key id: 16 base62>_<secret: 43 base62><checksum: 6 base62>
 */

import { API_KEY_PREFIX, KEY_ID_LENGTH, apiKeyPartsProblem, apiKeyProblem, formatApiKey as joinApiKey, type ApiKeyProblem } from 'keyhold-format/text';
import { KeyholdError } from './errors.js';

export {
  API_KEY_LENGTH,
  API_KEY_PREFIX,
  CHECKSUM_LENGTH,
  KEY_ID_LENGTH,
  SECRET_LENGTH,
  base62Fixed,
  checksumOf,
  crc32,
  isBase62,
  randomBase62,
  type RandomBytes,
} from 'keyhold-format/text';

function refused(p: ApiKeyProblem): KeyholdError {
  return new KeyholdError('INVALID_KEY_FORMAT', p.message, p.hint);
}

export function formatApiKey(keyId: string, secret: string): string {
  const p = apiKeyPartsProblem(keyId, secret);
  if (p) throw refused(p);
  return joinApiKey(keyId, secret);
}

export type ParsedApiKey = Readonly<{ keyId: string }>;

/**
 * Checks an API key's shape and checksum. The error never repeats the key
 * text: a mistyped key is still mostly a secret.
 */
export function parseApiKey(text: string): ParsedApiKey {
  const p = apiKeyProblem(text);
  if (p) throw refused(p);
  return { keyId: text.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + KEY_ID_LENGTH) };
}

export function isValidApiKey(text: string): boolean {
  return apiKeyProblem(text) === undefined;
}
