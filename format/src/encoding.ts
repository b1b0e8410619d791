/** Byte encodings used by the format: strict base64url, hex SHA-256. */

import { createHash } from 'node:crypto';

const B64URL_RE = /^[A-Za-z0-9_-]*$/;
const B64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Strict base64url (RFC 4648 section 5, no padding): the alphabet only, no
 * length of 1 mod 4, and unused trailing bits zero. Enforced by re-encoding,
 * because Node's decoder (like most) is lenient and two spellings of the same
 * bytes must never both be accepted. Undefined when not canonical.
 */
export function b64urlDecodeStrict(s: string): Buffer | undefined {
  if (s.length % 4 === 1 || !B64URL_RE.test(s)) return undefined;
  // The unused low bits of the last character must be zero: 4 bits when 2 characters
  // end the string's last group, 2 bits when 3 do. (Checked directly rather than by
  // re-encoding, which costs a second pass over a multi-megabyte payload.)
  const rem = s.length % 4;
  if (rem !== 0) {
    const last = B64URL_ALPHABET.indexOf(s[s.length - 1]!);
    if ((rem === 2 && (last & 0x0f) !== 0) || (rem === 3 && (last & 0x03) !== 0)) return undefined;
  }
  return Buffer.from(s, 'base64url');
}

export function b64url(bytes: Uint8Array | string): string {
  return (typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString('base64url');
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export const HEX64_RE = /^[0-9a-f]{64}$/;
