/**
 * Keyhold API keys on the server side (normative: docs/key-format.md, and
 * docs/bundle-format.md section 6 for the verifier). A copy of the parsing
 * rules in shared/apikey.ts, because the importer installs alone on a server.
 */

import { createHash } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KEY_RE = /^khk_([0-9A-Za-z]{16})_[0-9A-Za-z]{43}([0-9A-Za-z]{6})$/;
export const KEY_ID_RE = /^[0-9A-Za-z]{16}$/;

let table: Uint32Array | undefined;
function crc32(ascii: string): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < ascii.length; i++) c = (table[(c ^ ascii.charCodeAt(i)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function checksum(body: string): string {
  let n = crc32(body);
  let out = '';
  for (let i = 0; i < 6; i++) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

/** The key id of a well-formed Keyhold key (shape and checksum), else undefined. Never echoes the key. */
export function apiKeyId(text: string): string | undefined {
  const m = KEY_RE.exec(text);
  if (!m) return undefined;
  return checksum(text.slice(0, 64)) === m[2] ? m[1] : undefined;
}

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
