/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): the one implementation of
 * canonical JSON in Keyhold (bundle format, trust roots, keyslot parameters,
 * audit details). Pure code, no Node: the app's shared/ layer reaches it
 * through `keyhold-format/text`.
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
 *
 * The audit log's details (docs/audit-log.md 1.3) are written by the same
 * code with two documented differences, asked for by CanonicalOptions: a
 * member whose value is undefined is left out (as JSON.stringify leaves it
 * out), and a lone surrogate is written as JSON.stringify writes it
 * (`\ud800`). Nothing signed or hashed by the bundle format uses them.
 */

import { ImportError } from './errors.js';

/** Departures from strict JCS, for the audit log's details only (docs/audit-log.md 1.3). */
export type CanonicalOptions = Readonly<{
  /** Leave out a member whose value is undefined (default: refuse it). */
  omitUndefined?: boolean;
  /** Write a lone surrogate as JSON.stringify does, `\udxxx` (default: refuse it). */
  escapeLoneSurrogates?: boolean;
}>;

type Rules = Readonly<{ omitUndefined: boolean; loneOk: boolean }>;
const STRICT: Rules = { omitUndefined: false, loneOk: false };

const ANY_SURROGATE = /[\uD800-\uDFFF]/;

/** True when a string holds a high surrogate not followed by a low one, or a low one not preceded by a high one. */
function hasLoneSurrogate(s: string): boolean {
  // Fast path: almost every string holds no surrogate at all (a regex scan is much cheaper than a lookbehind per position).
  if (!ANY_SURROGATE.test(s)) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return true;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}

function fail(message: string): never {
  throw new ImportError('INVALID_INPUT', `jcs: ${message}`);
}

function str(s: string, r: Rules): string {
  if (!r.loneOk && hasLoneSurrogate(s)) fail('string holds a lone surrogate');
  return JSON.stringify(s);
}

function num(n: number): string {
  if (!Number.isFinite(n)) fail('non-finite number');
  // Object.is(-0) => JSON.stringify gives "0" already; ES Number::toString is the JCS rule.
  return JSON.stringify(n);
}

// Built by string concatenation (V8 ropes): an array of pieces joined at the end was
// twenty times slower on a 10,000-change payload, most of it in the join.
function write(value: unknown, depth: number, r: Rules): string {
  if (depth > 64) fail('nesting deeper than 64');
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return str(value, r);
    case 'number':
      return num(value);
    case 'object': {
      if (Array.isArray(value)) {
        let s = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) s += ',';
          s += write(value[i], depth + 1, r);
        }
        return `${s}]`;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) fail('only plain objects can be canonicalized');
      const obj = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is what RFC 8785 section 3.2.3 asks.
      const keys = Object.keys(obj).sort();
      let s = '{';
      let first = true;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        const v = obj[k];
        if (v === undefined) {
          if (r.omitUndefined) continue;
          fail(`member "${k}" is undefined`);
        }
        if (!first) s += ',';
        first = false;
        s += `${str(k, r)}:${write(v, depth + 1, r)}`;
      }
      return `${s}}`;
    }
    default:
      return fail(`cannot encode a ${typeof value}`);
  }
}

const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/;

/**
 * Checks a value the way write() would (refusing the same things) and says
 * whether JSON.stringify already gives its canonical form: every object's
 * keys in code-unit order and none of them an array index (JS enumerates
 * those first, in numeric order). JSON.stringify writes numbers and escapes
 * strings exactly as JCS does (and leaves out undefined members, and escapes
 * lone surrogates, which the options allow), so for such a value (the usual
 * case when checking a payload that is already canonical) it is the fast,
 * native path.
 */
function alreadyOrdered(value: unknown, depth: number, r: Rules): boolean {
  if (depth > 64) fail('nesting deeper than 64');
  if (value === null) return true;
  switch (typeof value) {
    case 'boolean':
      return true;
    case 'string':
      if (!r.loneOk && hasLoneSurrogate(value)) fail('string holds a lone surrogate');
      return true;
    case 'number':
      if (!Number.isFinite(value)) fail('non-finite number');
      return true;
    case 'object': {
      let ordered = true;
      if (Array.isArray(value)) {
        for (const v of value) if (!alreadyOrdered(v, depth + 1, r)) ordered = false;
        return ordered;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) fail('only plain objects can be canonicalized');
      const obj = value as Record<string, unknown>;
      let prev: string | undefined;
      for (const k of Object.keys(obj)) {
        if (!r.loneOk && hasLoneSurrogate(k)) fail('string holds a lone surrogate');
        if ((prev !== undefined && prev >= k) || (ARRAY_INDEX.test(k) && Number(k) < 2 ** 32 - 1)) ordered = false;
        prev = k;
        const v = obj[k];
        if (v === undefined) {
          if (r.omitUndefined) continue;
          fail(`member "${k}" is undefined`);
        }
        if (!alreadyOrdered(v, depth + 1, r)) ordered = false;
      }
      return ordered;
    }
    default:
      return fail(`cannot encode a ${typeof value}`);
  }
}

/**
 * The RFC 8785 canonical form of a JSON value, as a string. `options` are
 * for the audit log's details only (see CanonicalOptions).
 */
export function canonicalize(value: unknown, options?: CanonicalOptions): string {
  const r = options ? { omitUndefined: options.omitUndefined === true, loneOk: options.escapeLoneSurrogates === true } : STRICT;
  return alreadyOrdered(value, 0, r) ? JSON.stringify(value) : write(value, 0, r);
}

/** canonicalize() as UTF-8 bytes: what is hashed and signed. */
export function canonicalBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalize(value));
}

// ---- strict parsing of JSON from outside -------------------------------------------------

/** Where a member name repeats: a JSONPath-like location and the name. */
export type DuplicateMember = Readonly<{ path: string; name: string }>;

function stringEnd(text: string, start: number): number {
  // `start` is an opening quote of valid JSON: the closing one is the next quote not escaped by an odd run of backslashes.
  let j = text.indexOf('"', start + 1);
  for (;;) {
    let k = j - 1;
    while (text.charCodeAt(k) === 0x5c) k--;
    if ((j - 1 - k) % 2 === 0) return j;
    j = text.indexOf('"', j + 1);
  }
}

function pathStep(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name.slice(0, 40))}]`;
}

type Frame = { obj: true; names: Set<string>; expectName: boolean; name: string; path: string } | { obj: false; index: number; path: string };

/**
 * The first member name that appears twice in one object of a JSON text that
 * JSON.parse accepts (which keeps the last silently), compared after decoding
 * escapes ("a" and "\u0061" are the same name); undefined when there is none.
 * One pass over the text; strings are skipped with indexOf, so a payload of
 * megabytes inside one string costs next to nothing.
 */
export function findDuplicateMember(text: string): DuplicateMember | undefined {
  const stack: Frame[] = [];
  const here = (): string => {
    const top = stack[stack.length - 1];
    if (!top) return '$';
    return top.obj ? `${top.path}${pathStep(top.name)}` : `${top.path}[${top.index}]`;
  };
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const end = stringEnd(text, i);
      const top = stack[stack.length - 1];
      if (top?.obj && top.expectName) {
        const raw = text.slice(i + 1, end);
        const name = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (top.names.has(name)) return { path: top.path, name };
        top.names.add(name);
        top.name = name;
      }
      i = end;
    } else if (c === 0x7b) {
      stack.push({ obj: true, names: new Set(), expectName: true, name: '', path: here() });
    } else if (c === 0x5b) {
      stack.push({ obj: false, index: 0, path: here() });
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
    } else if (c === 0x2c) {
      const top = stack[stack.length - 1];
      if (top?.obj) top.expectName = true;
      else if (top) top.index++;
    } else if (c === 0x3a) {
      const top = stack[stack.length - 1];
      if (top?.obj) top.expectName = false;
    }
  }
  return undefined;
}

export function duplicateMemberError(what: string, d: DuplicateMember): ImportError {
  const where = d.path === '$' ? 'at the top level' : `in ${d.path}`;
  return new ImportError('DUPLICATE_MEMBER', `${what}: the member "${d.name.slice(0, 40)}" appears twice ${where}`, 'Every member name appears once per object: a file holding two values for one name is refused, never read as either.');
}

/** Thrown by parseJsonStrict for text that is not JSON (the caller names the error). */
export class NotJsonError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'NotJsonError';
  }
}

/**
 * Parses JSON from outside (a file, a header): RFC 8259 exactly as JSON.parse
 * reads it, except that a byte order mark before the text is refused, and a
 * member name that appears twice in one object is refused with
 * DUPLICATE_MEMBER (naming `what`) instead of the last one winning. Throws
 * NotJsonError for text that is not JSON.
 */
export function parseJsonStrict(text: string, what: string): unknown {
  if (text.charCodeAt(0) === 0xfeff) throw new NotJsonError('it begins with a byte order mark (U+FEFF); the format is UTF-8 without one');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new NotJsonError('not valid JSON');
  }
  // Only objects can repeat a name; a text without a brace needs no second look.
  if (text.includes('{')) {
    const d = findDuplicateMember(text);
    if (d) throw duplicateMemberError(what, d);
  }
  return value;
}
