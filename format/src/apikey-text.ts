/**
 * The text form of a Keyhold API key (normative: docs/key-format.md), pure
 * code (no Node), served as `keyhold-format/text` for the app's shared/ layer.
 *
 *   khk_<key id: 16 base62>_<secret: 43 base62><checksum: 6 base62>
 *
 * 43 uniformly drawn base62 characters carry 43 * log2(62) = 256.03 bits.
 * The checksum is CRC-32 (IEEE) of everything before it, in base62, so a
 * server or a secret scanner can reject a mistyped or truncated key offline
 * without any lookup. It is not a security feature: the secret is.
 */

import { ImportError } from './errors.js';

export const API_KEY_PREFIX = 'khk_';
export const KEY_ID_LENGTH = 16;
export const SECRET_LENGTH = 43;
export const CHECKSUM_LENGTH = 6;
export const API_KEY_LENGTH = API_KEY_PREFIX.length + KEY_ID_LENGTH + 1 + SECRET_LENGTH + CHECKSUM_LENGTH;

export const KEY_ID_RE = /^[0-9A-Za-z]{16}$/;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE62_RE = /^[0-9A-Za-z]+$/;
const API_KEY_RE = new RegExp(
  `^${API_KEY_PREFIX}([0-9A-Za-z]{${KEY_ID_LENGTH}})_([0-9A-Za-z]{${SECRET_LENGTH}})([0-9A-Za-z]{${CHECKSUM_LENGTH}})$`,
);

export type RandomBytes = (n: number) => Uint8Array;

/**
 * Draws `length` uniform base62 characters by rejection sampling: bytes at or
 * above 248 (= 4 * 62) are discarded, so every character is equally likely.
 */
export function randomBase62(length: number, randomBytes: RandomBytes): string {
  let out = '';
  while (out.length < length) {
    // 248/256 of bytes are kept; ask for a little more than needed.
    const bytes = randomBytes(Math.ceil((length - out.length) * 1.1) + 4);
    for (const b of bytes) {
      if (b >= 248) continue;
      out += BASE62[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export function isBase62(s: string): boolean {
  return BASE62_RE.test(s);
}

let crcTable: Uint32Array | undefined;

function crc32Table(): Uint32Array {
  if (crcTable) return crcTable;
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  crcTable = t;
  return t;
}

/** CRC-32 (IEEE 802.3) of an ASCII string. */
export function crc32(ascii: string): number {
  const t = crc32Table();
  let c = 0xffffffff;
  for (let i = 0; i < ascii.length; i++) {
    c = (t[(c ^ ascii.charCodeAt(i)) & 0xff] as number) ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** Fixed-width base62 of a 32-bit unsigned integer (62^6 > 2^32). */
export function base62Fixed(n: number, width: number): string {
  let out = '';
  let v = n;
  for (let i = 0; i < width; i++) {
    out = BASE62[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return out;
}

export function checksumOf(body: string): string {
  return base62Fixed(crc32(body), CHECKSUM_LENGTH);
}

/** What is wrong with a key text, for a message (it never repeats the key: a mistyped key is still mostly a secret). */
export type ApiKeyProblem = Readonly<{ message: string; hint?: string }>;

/** Why a key id and secret cannot make a key, or undefined when they can. */
export function apiKeyPartsProblem(keyId: string, secret: string): ApiKeyProblem | undefined {
  if (keyId.length !== KEY_ID_LENGTH || !isBase62(keyId)) return { message: 'apikey: key id must be 16 base62 characters' };
  if (secret.length !== SECRET_LENGTH || !isBase62(secret)) return { message: 'apikey: secret must be 43 base62 characters' };
  return undefined;
}

/** The key text of a key id and a secret (INVALID_INPUT when they are not 16 and 43 base62 characters). */
export function formatApiKey(keyId: string, secret: string): string {
  const p = apiKeyPartsProblem(keyId, secret);
  if (p) throw new ImportError('INVALID_INPUT', p.message);
  const body = `${API_KEY_PREFIX}${keyId}_${secret}`;
  return body + checksumOf(body);
}

/** Why a text is not a well-formed Keyhold key (shape and checksum), or undefined when it is one. */
export function apiKeyProblem(text: string): ApiKeyProblem | undefined {
  if (!text.startsWith(API_KEY_PREFIX)) return { message: `apikey: not a Keyhold key (it must start with "${API_KEY_PREFIX}")` };
  if (text.length !== API_KEY_LENGTH) {
    return { message: `apikey: wrong length (${text.length} characters, expected ${API_KEY_LENGTH})`, hint: 'The key may have been truncated when copied.' };
  }
  const m = API_KEY_RE.exec(text);
  if (!m) return { message: 'apikey: unexpected character or separator', hint: 'A Keyhold key holds only letters, digits and two underscores.' };
  if (checksumOf(text.slice(0, text.length - CHECKSUM_LENGTH)) !== m[3]) {
    return { message: 'apikey: checksum does not match', hint: 'The key was mistyped or altered.' };
  }
  return undefined;
}

/** The key id of a well-formed Keyhold key (shape and checksum), else undefined. Never echoes the key. */
export function apiKeyId(text: string): string | undefined {
  const m = API_KEY_RE.exec(text);
  if (!m) return undefined;
  return checksumOf(text.slice(0, text.length - CHECKSUM_LENGTH)) === m[3] ? m[1] : undefined;
}
