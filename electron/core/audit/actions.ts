/**
 * Every action an audit entry can record (docs/audit-log.md, section 2): the
 * one list that `audit list --action` checks against. A new kind of entry is
 * added here and to that table; test/unit/audit-actions.test.ts holds the
 * writers, this list and the table to each other.
 */

import { KeyholdError } from '../../../shared/errors.js';

export const AUDIT_ACTIONS = [
  'vault.create',
  'vault.migrate',
  'slot.add',
  'slot.remove',
  'passphrase.change',
  'key.create',
  'key.reveal',
  'key.rotate',
  'key.revoke',
  'key.destroy',
  'key.activate',
  'key.retire',
  'policy.set',
  'policy.clear',
  'token.keygen',
  'recipient.add',
  'signer.add',
  'signer.threshold',
  'bundle.export',
  'bundle.resend',
  'bundle.recover',
  'bundle.sign',
  'trust.export',
  'audit.recover',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export function isAuditAction(x: string): x is AuditAction {
  return (AUDIT_ACTIONS as readonly string[]).includes(x);
}

/** `action` when it is one of AUDIT_ACTIONS; else INVALID_INPUT listing them (a misspelt filter never reads as "no entries"). */
export function checkAuditAction(action: string): AuditAction {
  if (isAuditAction(action)) return action;
  const close = AUDIT_ACTIONS.filter((a) => a.split('.')[0] === action.split('.')[0]);
  throw new KeyholdError('INVALID_INPUT', `audit: unknown action ${JSON.stringify(action.slice(0, 64))}`,
    `${close.length > 0 ? `Did you mean one of ${close.join(', ')}? ` : ''}Known actions: ${AUDIT_ACTIONS.join(', ')}.`);
}
