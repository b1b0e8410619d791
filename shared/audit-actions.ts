/**
 * Every action an audit entry can record (docs/audit-log.md, section 2), in
 * one list that the core checks filters against (electron/core/audit/actions.ts
 * re-exports it) and the app's Audit screen offers as its action filter.
 * A new kind of entry is added here and to that table;
 * test/unit/audit-actions.test.ts holds the writers, this list and the table
 * to each other.
 */

export const AUDIT_ACTIONS = [
  'vault.create',
  'vault.migrate',
  'slot.add',
  'slot.remove',
  'share.paper',
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
  'settings.set',
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
  'vault.backup',
  'vault.restore',
  'ceremony.start',
  'ceremony.end',
  'vault.rollbackAccepted',
  'operator.add',
  'operator.remove',
  'operator.grant',
  'operator.revoke',
  'operator.setCredential',
  'dualcontrol.set',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export function isAuditAction(x: string): x is AuditAction {
  return (AUDIT_ACTIONS as readonly string[]).includes(x);
}
