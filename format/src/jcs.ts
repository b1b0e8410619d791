/**
 * Parsing canonical JSON from bytes (Node: strict UTF-8 by node:buffer's
 * isUtf8). The writer and the strict parser are in canonical.ts, which is
 * pure (no Node) and also served as `keyhold-format/text`.
 */

import { isUtf8 } from 'node:buffer';
import { canonicalize, duplicateMemberError, findDuplicateMember } from './canonical.js';

export { canonicalBytes, canonicalize, duplicateMemberError, findDuplicateMember, NotJsonError, parseJsonStrict, type CanonicalOptions, type DuplicateMember } from './canonical.js';

/**
 * Parses bytes that must already be canonical JSON: strict UTF-8, valid JSON,
 * and byte-for-byte equal to their own canonical form. This single rule
 * rejects duplicate member names, whitespace, escapes JCS would not write and
 * every other second spelling of the same value. Returns undefined when the
 * bytes are not canonical JSON; the caller names the error. With `what`, a
 * repeated member name is reported as DUPLICATE_MEMBER (naming `what`).
 */
export function parseCanonical(bytes: Uint8Array, what?: string): { value: unknown; text: string } | undefined {
  // isUtf8 then toString: the same strict check as a fatal TextDecoder, several times faster on megabytes.
  if (!isUtf8(bytes)) return undefined;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  let again: string;
  try {
    again = canonicalize(value);
  } catch {
    return undefined;
  }
  if (again === text) return { value, text };
  // Not canonical. When the reason is a repeated member name and the caller named the document, say so
  // (only on this failure path: canonical bytes cannot hold a name twice, so valid input costs nothing more).
  if (what !== undefined) {
    const d = findDuplicateMember(text);
    if (d) throw duplicateMemberError(what, d);
  }
  return undefined;
}

