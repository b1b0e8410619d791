/**
 * Keyhold API keys: the text format (apikey-text.ts, pure) and the verifier a
 * server stores (docs/bundle-format.md section 6), which needs node:crypto.
 */

import { createHash } from 'node:crypto';

export * from './apikey-text.js';

/**
 * The verifier a server stores for a key: lowercase hex of
 * SHA-256("keyhold-verifier-v1:" || key text). A plain hash is enough because
 * the secret holds 256 uniformly random bits: there is no dictionary to
 * search, so neither a salt nor a slow hash would add anything, and a fast
 * hash keeps each API request cheap. The prefix separates it from any other
 * SHA-256 of the same text.
 */
export const VERIFIER_PREFIX = 'keyhold-verifier-v1:';

export function verifierOf(key: string): string {
  return createHash('sha256').update(VERIFIER_PREFIX).update(key, 'ascii').digest('hex');
}
