/**
 * Canonical JSON of the audit log's details (docs/audit-log.md 1.3): the one
 * RFC 8785 implementation, the bundle format's (`keyhold-format/text`, pure
 * code), with the audit log's two documented departures: a member whose value
 * is undefined is left out, and a lone surrogate is written as
 * JSON.stringify writes it. What cannot be encoded (a non-finite number, a
 * function, a class instance) is refused as INTERNAL: details are built by
 * the code, never typed by a user.
 */

import { canonicalize, isImportError } from 'keyhold-format/text';
import { KeyholdError } from './errors.js';

const AUDIT_DETAILS = { omitUndefined: true, escapeLoneSurrogates: true } as const;

export function canonicalJson(value: unknown): string {
  try {
    return canonicalize(value, AUDIT_DETAILS);
  } catch (e) {
    if (isImportError(e)) throw new KeyholdError('INTERNAL', e.message.replace(/^jcs: /, 'canonical-json: '));
    throw e;
  }
}
