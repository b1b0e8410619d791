/**
 * The core's check of an audit action filter. The list itself lives in
 * shared/audit-actions.ts (the app's Audit screen offers it too); it is
 * re-exported here for the core and the CLI.
 */

import { KeyholdError } from '../../../shared/errors.js';
import { AUDIT_ACTIONS, isAuditAction, type AuditAction } from '../../../shared/audit-actions.js';

export { AUDIT_ACTIONS, isAuditAction, type AuditAction };

/** `action` when it is one of AUDIT_ACTIONS; else INVALID_INPUT listing them (a misspelt filter never reads as "no entries"). */
export function checkAuditAction(action: string): AuditAction {
  if (isAuditAction(action)) return action;
  const close = AUDIT_ACTIONS.filter((a) => a.split('.')[0] === action.split('.')[0]);
  throw new KeyholdError('INVALID_INPUT', `audit: unknown action ${JSON.stringify(action.slice(0, 64))}`,
    `${close.length > 0 ? `Did you mean one of ${close.join(', ')}? ` : ''}Known actions: ${AUDIT_ACTIONS.join(', ')}.`);
}
