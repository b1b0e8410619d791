/**
 * Canonical JSON in the manner of RFC 8785 (JCS) for the values Keyhold
 * writes: objects with keys sorted by UTF-16 code units, no whitespace,
 * strings and finite numbers serialized as ECMAScript's JSON.stringify does
 * (which is what JCS specifies). Anything else is refused, not guessed at.
 */

import { KeyholdError } from './errors.js';

export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new KeyholdError('INTERNAL', 'canonical-json: non-finite number');
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
    }
    default:
      throw new KeyholdError('INTERNAL', `canonical-json: cannot encode a ${typeof value}`);
  }
}
