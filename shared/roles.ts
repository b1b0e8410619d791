/**
 * Operators' roles (issue 12) and which roles may run each core command.
 * The core enforces this map (KeyholdService.call, electron/core/operators/),
 * before any handler or housekeeping touches the vault; the app reads it only
 * to show what the signed-in operator may do.
 *
 * A command is one of:
 * - 'none': runs without a signed-in operator (unlocking, locking, status,
 *   listing tokens: what has to work before anyone can sign in);
 * - 'any': any signed-in operator (read-only views that reveal no secret);
 * - a list of roles: a signed-in operator holding at least one of them.
 *
 * test/unit/roles.test.ts fails when a contract command has no entry; the
 * type below makes the build fail too.
 */

import type { CommandName } from './contract.js';

export const ROLES = ['security-officer', 'custodian', 'key-operator', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_NAMES: Readonly<Record<Role, string>> = {
  'security-officer': 'security officer',
  custodian: 'custodian',
  'key-operator': 'key operator',
  auditor: 'auditor',
};

/** What each role is for, in one line (docs/threat-model.md, Operators and roles). */
export const ROLE_PURPOSE: Readonly<Record<Role, string>> = {
  'security-officer': 'operators and roles, policies, signers, threshold, keyslots, settings, dual-control rules',
  custodian: 'holds an unlock slot or quorum share; approves dual-controlled actions',
  'key-operator': 'creates, rotates, revokes, destroys and reveals keys; exports bundles and trust',
  auditor: 'reads, verifies and exports the audit log; never reveals a secret',
};

export function isRole(x: unknown): x is Role {
  return typeof x === 'string' && (ROLES as readonly string[]).includes(x);
}

export function roleName(role: Role): string {
  return ROLE_NAMES[role];
}

export type CommandRoles = 'none' | 'any' | readonly Role[];

const SO = ['security-officer'] as const;
const KO = ['key-operator'] as const;
const AUDIT = ['security-officer', 'auditor'] as const;

export const COMMAND_ROLES: { readonly [C in CommandName]: CommandRoles } = {
  'vault.create': 'none',
  'vault.unlock': 'none',
  'vault.unlockToken': 'none',
  'vault.lock': 'none',
  'vault.status': 'none',
  'vault.info': 'any',
  'anchor.status': 'any',
  'vault.backup': SO,
  'vault.restore': 'none',
  'slot.list': 'any',
  'slot.addToken': SO,
  'slot.addPassphrase': SO,
  'slot.remove': SO,
  'quorum.begin': 'none',
  'quorum.share': 'none',
  'quorum.cancel': 'none',
  'slot.addQuorum': SO,
  'slot.reshare': SO,
  'share.paper': ['custodian'],
  'passphrase.change': SO,
  'key.create': KO,
  'key.list': 'any',
  'key.table': 'any',
  'key.show': 'any',
  'key.reveal': KO,
  'key.due': 'any',
  'key.rotate': KO,
  'key.revoke': KO,
  'key.destroy': KO,
  'policy.set': SO,
  'policy.clear': SO,
  'policy.show': 'any',
  // The custody settings (auto-lock, clipboard, strict air gap) apply from the unlock on, before anyone signs in.
  'settings.show': 'none',
  'settings.set': SO,
  'audit.list': AUDIT,
  'audit.verify': AUDIT,
  'audit.recover': SO,
  'audit.export': AUDIT,
  'recipient.add': SO,
  'recipient.list': 'any',
  'signer.add': SO,
  'signer.list': 'any',
  'signer.threshold': SO,
  'bundle.export': KO,
  'bundle.prepare': KO,
  'bundle.resend': KO,
  'bundle.sign': KO,
  'trust.export': KO,
  'token.list': 'none',
  'token.keys': 'any',
  'token.keygen': KO,
  'operator.add': SO,
  'operator.list': 'any',
  'operator.remove': SO,
  'operator.grant': SO,
  'operator.revoke': SO,
  'operator.signIn': 'none',
  'operator.signOut': 'none',
  'operator.whoami': 'none',
  'operator.setCredential': 'any',
  'approval.request': 'any',
  'approval.grant': 'any',
  'dualControl.show': 'any',
  'dualControl.set': SO,
  'ceremony.start': SO,
  'ceremony.end': SO,
  'ceremony.list': AUDIT,
  'ceremony.transcript': AUDIT,
};

/** The roles a command needs, for messages: "a security officer", "a security officer or an auditor". */
export function rolesText(roles: readonly Role[]): string {
  const names = roles.map((r) => `${/^[aeiou]/.test(ROLE_NAMES[r]) ? 'an' : 'a'} ${ROLE_NAMES[r]}`);
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1] ?? ''}`;
}

/** Whether an operator holding `held` may run `command` (signed in or not: 'none' commands need no one). */
export function mayRun(command: CommandName, held: readonly Role[] | null): boolean {
  const need = COMMAND_ROLES[command];
  if (need === 'none') return true;
  if (held === null) return false;
  if (need === 'any') return true;
  return need.some((r) => held.includes(r));
}
