/**
 * RFC 8785 JSON Canonicalization Scheme (JCS), self-contained so the importer
 * installs alone on a server (the app imports this file through the package,
 * never the other way round).
 *
 * Choices where RFC 8785 leaves room (docs/bundle-format.md, section 3):
 * - numbers: ECMAScript Number::toString (what JSON.stringify does), -0 as 0;
 *   NaN and Infinity are refused (they are not JSON);
 * - strings: JSON.stringify's escaping, which is exactly JCS's (\b \f \n \r \t,
 *   other controls as \u00xx lowercase, everything else literal); a lone
 *   surrogate is refused rather than escaped, since it cannot be encoded as
 *   UTF-8 and two implementations would disagree on it;
 * - object keys sorted by UTF-16 code units (JS default sort on strings);
 * - only plain JSON values: undefined, functions, bigint, symbols, class
 *   instances are refused, not guessed at.
 */

import { ImportError } from './errors.js';

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function fail(message: string): never {
  throw new ImportError('INVALID_INPUT', `jcs: ${message}`);
}

function str(s: string): string {
  if (LONE_SURROGATE.test(s)) fail('string holds a lone surrogate');
  return JSON.stringify(s);
}

function num(n: number): string {
  if (!Number.isFinite(n)) fail('non-finite number');
  // Object.is(-0) => JSON.stringify gives "0" already; ES Number::toString is the JCS rule.
  return JSON.stringify(n);
}

function write(value: unknown, out: string[], depth: number): void {
  if (depth > 64) fail('nesting deeper than 64');
  if (value === null) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'string':
      out.push(str(value));
      return;
    case 'number':
      out.push(num(value));
      return;
    case 'object': {
      if (Array.isArray(value)) {
        out.push('[');
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out.push(',');
          write(value[i], out, depth + 1);
        }
        out.push(']');
        return;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) fail('only plain objects can be canonicalized');
      const obj = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is what RFC 8785 section 3.2.3 asks.
      const keys = Object.keys(obj).sort();
      out.push('{');
      let first = true;
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined) fail(`member "${k}" is undefined`);
        if (!first) out.push(',');
        first = false;
        out.push(str(k), ':');
        write(v, out, depth + 1);
      }
      out.push('}');
      return;
    }
    default:
      fail(`cannot encode a ${typeof value}`);
  }
}

/** The RFC 8785 canonical form of a JSON value, as a string. */
export function canonicalize(value: unknown): string {
  const out: string[] = [];
  write(value, out, 0);
  return out.join('');
}

/** canonicalize() as UTF-8 bytes: what is hashed and signed. */
export function canonicalBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalize(value));
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses bytes that must already be canonical JSON: strict UTF-8, valid JSON,
 * and byte-for-byte equal to their own canonical form. This single rule
 * rejects duplicate member names, whitespace, escapes JCS would not write and
 * every other second spelling of the same value. Returns undefined when the
 * bytes are not canonical JSON; the caller names the error.
 */
export function parseCanonical(bytes: Uint8Array): { value: unknown; text: string } | undefined {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return undefined;
  }
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
  return again === text ? { value, text } : undefined;
}
