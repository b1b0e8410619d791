/** Byte encodings used by the format: strict base64url, hex SHA-256. */

import { createHash } from 'node:crypto';

const B64URL_RE = /^[A-Za-z0-9_-]*$/;

/**
 * Strict base64url (RFC 4648 section 5, no padding): the alphabet only, no
 * length of 1 mod 4, and unused trailing bits zero. Enforced by re-encoding,
 * because Node's decoder (like most) is lenient and two spellings of the same
 * bytes must never both be accepted. Undefined when not canonical.
 */
export function b64urlDecodeStrict(s: string): Buffer | undefined {
  if (!B64URL_RE.test(s) || s.length % 4 === 1) return undefined;
  const bytes = Buffer.from(s, 'base64url');
  return bytes.toString('base64url') === s ? bytes : undefined;
}

export function b64url(bytes: Uint8Array | string): string {
  return (typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString('base64url');
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export const HEX64_RE = /^[0-9a-f]{64}$/;
