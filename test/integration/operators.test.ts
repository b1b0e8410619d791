/**
 * Operators and roles through the real service on real vault files (issue 12,
 * "Operators and roles"): the first operator made with the vault, sign-in
 * with a passphrase, the role check before any work (ROLE_REQUIRED names the
 * roles), OPERATOR_REQUIRED with two operators and no one signed in, the last
 * security officer kept, a vault from before operators migrated, rows edited
 * outside Keyhold refused, and every audit entry naming the operator.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import { Vault } from '../../electron/core/vault/vault.js';
import { KeyholdError } from '../../shared/errors.js';
import { ROLES } from '../../shared/roles.js';
import { FAST_KDF, tmpDir } from '../helpers/tmp.js';
import { DEFAULT_PIN as PIN } from '../helpers/softhsm.js';
import { closeTokenVault, openTokenVault, type TokenVault } from '../helpers/token-vault.js';
import { FaultInjector } from '../token/fault-driver.js';

const PASS = 'correct horse battery staple';
const AUDREY = 'quiet lantern orchard 4471';
const KIM = 'velvet compass harbor 9023';

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string; hint: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof KeyholdError) return { code: e.code, message: e.message, hint: e.hint ?? '' };
    return { code: `not a KeyholdError: ${String(e)}`, message: '', hint: '' };
  }
  return { code: 'no error', message: '', hint: '' };
}

async function newVault(operator?: string): Promise<{ file: string; svc: KeyholdService }> {
  const file = path.join(tmpDir(), 'vault.db');
  const svc = new KeyholdService({ actor: 'os-user' });
  await svc.call('vault.create', { path: file, passphrase: PASS, kdf: FAST_KDF, ...(operator ? { operator } : {}) });
  return { file, svc };
}

/** The audit head (the signed-in operator must be an auditor or security officer). */
async function head(svc: KeyholdService): Promise<unknown> {
  return (await svc.call('audit.verify', {})).head;
}

describe('operators and roles', () => {
  it('makes the first operator with the vault: every role, the creation passphrase, signed in; entries name it', async () => {
    const { file, svc } = await newVault('sam');
    const [sam] = await svc.call('operator.list', {});
    expect(sam).toMatchObject({ name: 'sam', roles: [...ROLES], credential: 'passphrase', token: null });
    expect(await svc.call('operator.whoami', {})).toMatchObject({ operator: { name: 'sam' }, operators: ['sam'], signInRequired: false });
    await svc.call('key.create', { name: 'api', service: 'billing' });
    const { entries } = await svc.call('audit.list', {});
    // The first operator is the actor of vault.create: its record, with no entry of its own.
    expect(entries.map((e) => [e.action, e.actor])).toEqual([['vault.create', 'sam'], ['key.create', 'sam']]);
    // A one-operator vault signs its operator in at unlock: the unlock is the proof.
    svc.close();
    await svc.call('vault.unlock', { path: file, passphrase: PASS });
    expect((await svc.call('operator.whoami', {})).operator?.name).toBe('sam');
    await svc.call('key.list', {});
    // The creation passphrase is the first operator's credential.
    await expect(svc.call('operator.signIn', { name: 'sam', passphrase: PASS })).resolves.toMatchObject({ name: 'sam' });
    await svc.shutdown();
  });

  it('with two operators, needs a sign-in after unlock; a wrong passphrase changes nothing; each role is enforced', async () => {
    const { file, svc } = await newVault('sam');
    await svc.call('operator.add', { name: 'audrey', roles: ['auditor'], passphrase: AUDREY });
    await svc.call('operator.add', { name: 'kim', roles: ['key-operator'], passphrase: KIM });
    const key = await svc.call('key.create', { name: 'api', service: 'billing' });
    svc.close();

    await svc.call('vault.unlock', { path: file, passphrase: PASS });
    expect(await svc.call('vault.status', {})).toMatchObject({ unlocked: true });
    expect(await svc.call('operator.whoami', {})).toEqual({ operator: null, operators: ['audrey', 'kim', 'sam'], signInRequired: true,
      signIn: ['audrey', 'kim', 'sam'].map((name) => ({ name, credential: 'passphrase', token: null })) });
    for (const [c, input] of [['key.list', {}], ['vault.info', {}], ['audit.verify', {}], ['key.reveal', { id: key.id }]] as const) {
      expect((await failure(svc.call(c, input))).code, c).toBe('OPERATOR_REQUIRED');
    }

    // A wrong passphrase: OPERATOR_AUTH_FAILED, no one signed in, nothing written.
    const bad = await failure(svc.call('operator.signIn', { name: 'audrey', passphrase: KIM }));
    expect(bad.code).toBe('OPERATOR_AUTH_FAILED');
    expect(bad.message).not.toContain(KIM);
    expect((await svc.call('operator.whoami', {})).operator).toBeNull();
    expect((await failure(svc.call('operator.signIn', { name: 'nobody', passphrase: KIM }))).code).toBe('OPERATOR_NOT_FOUND');

    // The auditor reads and verifies the log, never reveals, never changes a policy.
    await svc.call('operator.signIn', { name: 'audrey', passphrase: AUDREY });
    const before = await head(svc);
    expect((await svc.call('audit.verify', {})).ok).toBe(true);
    const reveal = await failure(svc.call('key.reveal', { id: key.id }));
    expect(reveal.code).toBe('ROLE_REQUIRED');
    expect(reveal.message).toBe('operator: key reveal needs a key operator; audrey holds: auditor');
    expect((await failure(svc.call('policy.set', { scope: { global: true }, rotation: '30d' }))).code).toBe('ROLE_REQUIRED');
    expect((await failure(svc.call('key.create', { name: 'x', service: 'billing' }))).code).toBe('ROLE_REQUIRED');
    expect((await failure(svc.call('operator.add', { name: 'eve', roles: ['security-officer'], passphrase: AUDREY }))).code).toBe('ROLE_REQUIRED');
    expect(await head(svc)).toEqual(before);

    // The key operator: keys yes, policies and the audit log no; its entries name it.
    await svc.call('operator.signIn', { name: 'kim', passphrase: KIM });
    const policy = await failure(svc.call('policy.set', { scope: { global: true }, rotation: '30d' }));
    expect(policy.code).toBe('ROLE_REQUIRED');
    expect(policy.message).toBe('operator: policy set needs a security officer; kim holds: key operator');
    expect((await failure(svc.call('audit.list', {}))).code).toBe('ROLE_REQUIRED');
    await svc.call('key.rotate', { ids: [key.id] });
    expect((await svc.call('key.reveal', { id: key.id })).version).toBe(2);

    await svc.call('operator.signOut', {});
    expect((await failure(svc.call('key.list', {}))).code).toBe('OPERATOR_REQUIRED');
    await svc.call('operator.signIn', { name: 'sam', passphrase: PASS });
    const { entries } = await svc.call('audit.list', { after: 0, limit: 1000 });
    expect(entries.filter((e) => e.action === 'key.rotate' || e.action === 'key.reveal').map((e) => [e.action, e.actor]))
      .toEqual([['key.rotate', 'kim'], ['key.reveal', 'kim']]);
    await svc.shutdown();
  });

  it('keeps the last security officer, refuses duplicates, grants and revokes roles with audit entries', async () => {
    const { svc } = await newVault('sam');
    // Role changes are dual-controlled by default; this test is about roles alone (dual-control.test.ts has the rest).
    expect(await svc.call('dualControl.set', { commands: [] })).toMatchObject({ commands: [], active: false });
    expect((await failure(svc.call('operator.remove', { name: 'sam' }))).code).toBe('LAST_SECURITY_OFFICER');
    expect((await failure(svc.call('operator.revoke', { name: 'sam', roles: ['security-officer'] }))).code).toBe('LAST_SECURITY_OFFICER');
    await svc.call('operator.add', { name: 'kim', roles: ['key-operator'], passphrase: KIM });
    expect((await failure(svc.call('operator.add', { name: 'kim', roles: ['auditor'], passphrase: AUDREY }))).code).toBe('OPERATOR_EXISTS');
    expect((await failure(svc.call('operator.add', { name: 'weak', roles: ['auditor'], passphrase: 'aaaaaaaaaaaa' }))).code).toBe('INVALID_INPUT');
    expect((await failure(svc.call('operator.add', { name: 'both', roles: ['auditor'] }))).code).toBe('INVALID_INPUT');
    expect((await failure(svc.call('operator.grant', { name: 'nobody', roles: ['auditor'] }))).code).toBe('OPERATOR_NOT_FOUND');
    expect(await svc.call('operator.grant', { name: 'kim', roles: ['security-officer'] }))
      .toMatchObject({ name: 'kim', roles: ['security-officer', 'key-operator'] });
    // With a second security officer, sam may drop the role (and is then refused what needs it).
    expect(await svc.call('operator.revoke', { name: 'sam', roles: ['security-officer'] }))
      .toMatchObject({ roles: ['custodian', 'key-operator', 'auditor'] });
    expect((await failure(svc.call('operator.add', { name: 'eve', roles: ['auditor'], passphrase: AUDREY }))).code).toBe('ROLE_REQUIRED');
    const { entries } = await svc.call('audit.list', { action: 'operator.revoke' });
    expect(entries).toHaveLength(1);
    expect(entries[0]?.details).toMatchObject({ revoked: ['security-officer'], after: ['custodian', 'key-operator', 'auditor'] });
    await svc.shutdown();
  });

  it('migrates a vault made before operators: one operator, every role, no credential until it sets one', async () => {
    const file = path.join(tmpDir(), 'old.db');
    // A vault as the previous schema left it: no operators table, version 3.
    const old = await Vault.create(file, PASS, { kdf: FAST_KDF, actor: 'Old Admin' });
    old.lock();
    const db = new Database(file);
    db.exec('DROP TABLE operators');
    db.pragma('user_version = 3');
    db.close();

    const svc = new KeyholdService({ actor: 'today' });
    await svc.call('vault.unlock', { path: file, passphrase: PASS });
    expect(await svc.call('operator.list', {})).toEqual([expect.objectContaining({ name: 'Old-Admin', roles: [...ROLES], credential: 'none' })]);
    const { entries } = await svc.call('audit.list', {});
    expect(entries.map((e) => [e.action, e.actor])).toEqual([['vault.create', 'Old Admin'], ['vault.migrate', 'today'], ['operator.add', 'today']]);
    expect(entries[1]?.details).toEqual({ from: 3, to: 4 });
    expect(entries[2]?.details).toMatchObject({ migrated: true, credential: 'none' });

    // No second operator before the first has a credential: no one is locked out once sign-in is needed.
    const refused = await failure(svc.call('operator.add', { name: 'kim', roles: ['key-operator'], passphrase: KIM }));
    expect(refused.code).toBe('OPERATOR_NO_CREDENTIAL');
    expect(refused.hint).toContain('operator set-credential');
    expect((await failure(svc.call('operator.signIn', { name: 'Old-Admin', passphrase: PASS }))).code).toBe('OPERATOR_NO_CREDENTIAL');
    await svc.call('operator.setCredential', { passphrase: AUDREY });
    await svc.call('operator.add', { name: 'kim', roles: ['key-operator'], passphrase: KIM });
    svc.close();
    await svc.call('vault.unlock', { path: file, passphrase: PASS });
    await svc.call('operator.signIn', { name: 'Old-Admin', passphrase: AUDREY });
    expect((await svc.call('audit.verify', {})).ok).toBe(true);
    await svc.shutdown();
  });

  it('refuses operator rows removed, put back or widened outside Keyhold', async () => {
    const { file, svc } = await newVault('sam');
    await svc.call('operator.add', { name: 'kim', roles: ['key-operator'], passphrase: KIM });
    svc.close();
    const db = new Database(file);
    // Widened: kim made a security officer by an edit (its MAC no longer matches).
    db.prepare("UPDATE operators SET roles = '[\"security-officer\",\"key-operator\"]' WHERE name = 'kim'").run();
    db.close();
    await svc.call('vault.unlock', { path: file, passphrase: PASS });
    expect((await failure(svc.call('operator.signIn', { name: 'kim', passphrase: KIM }))).code).toBe('INTEGRITY');
    svc.close();

    // Removed: the roster no longer matches the rows.
    const db2 = new Database(file);
    db2.prepare("DELETE FROM operators WHERE name = 'kim'").run();
    db2.close();
    await svc.call('vault.unlock', { path: file, passphrase: PASS });
    expect((await failure(svc.call('operator.signIn', { name: 'sam', passphrase: PASS }))).code).toBe('INTEGRITY');
    svc.close();

    // Every row deleted (and the roster): not taken for a vault from before operators.
    const db3 = new Database(file);
    db3.prepare('DELETE FROM operators').run();
    db3.prepare("DELETE FROM settings WHERE name = 'operators.roster'").run();
    db3.close();
    await svc.call('vault.unlock', { path: file, passphrase: PASS });
    expect((await failure(svc.call('key.list', {}))).code).toBe('INTEGRITY');
    await svc.shutdown();
  });
});

describe('operators with a token credential (SoftHSM2)', () => {
  const inj = new FaultInjector();
  let tv: TokenVault;
  beforeAll(async () => {
    tv = await openTokenVault({ tokens: [{ label: 'card' }], tmpPrefix: 'keyhold-operators-', passphrase: PASS,
      service: (hsm) => ({ tokens: { module: hsm.module, driverFactory: inj.factory } }) });
  });
  afterAll(() => closeTokenVault(tv));

  it('signs in, and approves, by the token signing a fresh challenge; a signature by another key, or a wrong PIN, signs no one in', async () => {
    const { svc, vaultPath } = tv;
    const first = (await svc.call('operator.whoami', {})).operator?.name as string;
    await svc.call('token.keygen', { token: 'card', label: 'op-tina', alg: 'EdDSA', pin: PIN });
    const tina = await svc.call('operator.add', { name: 'tina', roles: ['custodian'], token: 'card', keyLabel: 'op-tina', pin: PIN });
    expect(tina).toMatchObject({ credential: 'token', token: { label: 'card', keyLabel: 'op-tina' } });
    svc.close();
    await svc.call('vault.unlock', { path: vaultPath, passphrase: PASS });
    expect((await svc.call('operator.whoami', {})).signIn).toContainEqual({ name: 'tina', credential: 'token',
      token: { label: 'card', serial: expect.any(String) as string } });

    // The token answers with a signature made by another Ed25519 key: refused, no one signed in.
    const other = generateKeyPairSync('ed25519').privateKey;
    let signed = 0;
    inj.onResult = (method, args, out) => {
      if (method !== 'C_Sign') return out;
      signed++;
      return sign(null, args[1] as Buffer, other);
    };
    try {
      const forged = await failure(svc.call('operator.signIn', { name: 'tina', pin: PIN }));
      expect(forged.code).toBe('OPERATOR_AUTH_FAILED');
      expect(forged.message).toBe('operator: the token\'s signature of the challenge does not verify against the key registered for tina');
    } finally {
      inj.onResult = null;
    }
    expect(signed).toBe(1);
    expect((await svc.call('operator.whoami', {})).operator).toBeNull();
    expect((await failure(svc.call('operator.signIn', { name: 'tina', pin: '654321' }))).code).toBe('TOKEN_PIN_INCORRECT');
    expect((await svc.call('operator.whoami', {})).operator).toBeNull();

    expect(await svc.call('operator.signIn', { name: 'tina', pin: PIN })).toMatchObject({ name: 'tina' });
    expect((await failure(svc.call('key.create', { name: 'x', service: 'billing' }))).code).toBe('ROLE_REQUIRED');
    await svc.call('operator.signIn', { name: first, passphrase: PASS });

    // tina, a custodian, approves the security officer's policy change with her token (PIN, fresh challenge).
    expect((await failure(svc.call('policy.set', { scope: { global: true }, rotation: '30d' }))).code).toBe('DUAL_CONTROL_REQUIRED');
    const req = await svc.call('approval.request', { command: 'policy.set', input: { scope: { global: true }, rotation: '30d' } });
    expect((await svc.call('approval.grant', { id: req.id, name: 'tina', pin: PIN })).approvedBy).toBe('tina');
    await svc.call('policy.set', { scope: { global: true }, rotation: '30d' });
    const { entries } = await svc.call('audit.list', { action: 'policy.set' });
    expect(entries.map((e) => [e.actor, e.details.approvedBy])).toEqual([[first, 'tina']]);

    // One token key is one operator's only (checked once the add, dual-controlled now, is approved).
    const tom = { name: 'tom', roles: ['auditor'], token: 'card', keyLabel: 'op-tina' } as const;
    const add = await svc.call('approval.request', { command: 'operator.add', input: tom });
    await svc.call('approval.grant', { id: add.id, name: 'tina', pin: PIN });
    expect((await failure(svc.call('operator.add', tom))).code).toBe('OPERATOR_EXISTS');
    expect((await svc.call('audit.verify', {})).ok).toBe(true);
  });
});
