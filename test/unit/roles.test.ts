/**
 * shared/roles.ts: every contract command has exactly one entry (a new
 * command without one fails here, and in the typecheck), every entry names
 * known roles, the commands that must run before anyone signs in need no one,
 * and an auditor-only operator can never reveal a secret or change the vault's
 * keys (issue 12, "Operators and roles").
 */
import { describe, expect, it } from 'vitest';
import { COMMAND_NAMES } from '../../shared/contract.js';
import { COMMAND_ROLES, isRole, mayRun, ROLES, rolesText } from '../../shared/roles.js';

describe('COMMAND_ROLES', () => {
  it('has an entry for every contract command and none for anything else', () => {
    const missing = COMMAND_NAMES.filter((c) => !Object.prototype.hasOwnProperty.call(COMMAND_ROLES, c));
    expect(missing).toEqual([]);
    const extra = Object.keys(COMMAND_ROLES).filter((c) => !(COMMAND_NAMES as readonly string[]).includes(c));
    expect(extra).toEqual([]);
  });

  it('names only known roles, each list non-empty and without repeats', () => {
    for (const [c, need] of Object.entries(COMMAND_ROLES)) {
      if (need === 'none' || need === 'any') continue;
      expect(need.length, c).toBeGreaterThan(0);
      expect(need.every(isRole), c).toBe(true);
      expect(new Set(need).size, c).toBe(need.length);
    }
  });

  it('lets unlocking, locking, status and sign-in run with no one signed in', () => {
    for (const c of ['vault.create', 'vault.unlock', 'vault.unlockToken', 'vault.lock', 'vault.status', 'token.list', 'operator.signIn'] as const) {
      expect(COMMAND_ROLES[c], c).toBe('none');
      expect(mayRun(c, null), c).toBe(true);
    }
    expect(mayRun('key.list', null)).toBe(false);
    expect(mayRun('key.list', [])).toBe(true);
  });

  it('never lets an auditor-only operator reveal or change keys, policies or operators; lets it read and verify the log', () => {
    const auditor = ['auditor'] as const;
    for (const c of ['key.reveal', 'key.create', 'key.rotate', 'key.revoke', 'key.destroy', 'bundle.export', 'trust.export',
      'policy.set', 'policy.clear', 'operator.add', 'operator.grant', 'dualControl.set'] as const) {
      expect(mayRun(c, auditor), c).toBe(false);
    }
    for (const c of ['audit.list', 'audit.verify', 'audit.export', 'key.list', 'vault.info'] as const) expect(mayRun(c, auditor), c).toBe(true);
  });

  it('gives the security officer the operators, policies and rules, the key operator the keys and exports', () => {
    expect(COMMAND_ROLES['operator.add']).toEqual(['security-officer']);
    expect(COMMAND_ROLES['policy.set']).toEqual(['security-officer']);
    expect(COMMAND_ROLES['dualControl.set']).toEqual(['security-officer']);
    expect(COMMAND_ROLES['key.reveal']).toEqual(['key-operator']);
    expect(COMMAND_ROLES['bundle.export']).toEqual(['key-operator']);
    expect(mayRun('policy.set', ['key-operator'])).toBe(false);
    expect(mayRun('key.reveal', [...ROLES])).toBe(true);
  });

  it('names the roles for people', () => {
    expect(rolesText(['security-officer', 'auditor'])).toBe('a security officer or an auditor');
    expect(rolesText(['key-operator'])).toBe('a key operator');
  });
});
