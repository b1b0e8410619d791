/**
 * Dual control through the real service (issue 12, "Dual control" and "Bad
 * input"): a dual-controlled command fails DUAL_CONTROL_REQUIRED without an
 * approval and changes nothing; another operator (custodian or security
 * officer) approves exactly the action shown (its parameters hash), once,
 * within five minutes (the test clock); the command's audit entry names both
 * operators; an approval by the operator who asked, for other parameters, or
 * expired is refused; with one operator dual control is off and says why.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import { APPROVAL_TTL_MS, DUAL_CONTROL_DEFAULTS, paramsHash } from '../../electron/core/operators/operators.js';
import { KeyholdError } from '../../shared/errors.js';
import { testClock } from '../helpers/clock.js';
import { FAST_KDF, tmpDir } from '../helpers/tmp.js';

const PASS = 'correct horse battery staple';
const CORA = 'granite meadow trumpet 5512';
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

/** sam (every role, made with the vault), kim (key operator), cora (custodian); signed in as kim, with two revoked keys. */
async function team() {
  const clock = testClock();
  const file = path.join(tmpDir(), 'vault.db');
  const svc = new KeyholdService({ clock: clock.now, actor: 'os-user' });
  await svc.call('vault.create', { path: file, passphrase: PASS, kdf: FAST_KDF, operator: 'sam' });
  // One operator: dual control is off, and says why.
  const off = await svc.call('dualControl.show', {});
  expect(off).toMatchObject({ active: false, commands: [...DUAL_CONTROL_DEFAULTS] });
  expect(off.reason).toContain('one operator');
  await svc.call('operator.add', { name: 'kim', roles: ['key-operator'], passphrase: KIM });
  // No one but sam can approve yet, so sam still adds cora alone.
  await svc.call('operator.add', { name: 'cora', roles: ['custodian'], passphrase: CORA });
  const a = await svc.call('key.create', { name: 'api', service: 'billing' });
  const b = await svc.call('key.create', { name: 'web', service: 'billing' });
  // Only revoked versions can be destroyed.
  await svc.call('key.revoke', { id: a.id, reason: 'retired' });
  await svc.call('key.revoke', { id: b.id, reason: 'retired' });
  await svc.call('operator.signIn', { name: 'kim', passphrase: KIM });
  return { clock, file, svc, a, b };
}

/** The audit head, as sam (then signed back in as `back`). */
async function headAs(svc: KeyholdService, back: { name: string; passphrase: string }): Promise<unknown> {
  await svc.call('operator.signIn', { name: 'sam', passphrase: PASS });
  const h = (await svc.call('audit.verify', {})).head;
  await svc.call('operator.signIn', back);
  return h;
}

describe('dual control', () => {
  it('refuses a destroy without approval, runs it once with the approval of exactly it, and the entry names both', async () => {
    const { svc, a, b } = await team();
    expect(await svc.call('dualControl.show', {})).toMatchObject({ active: true, reason: null, approvers: ['cora', 'sam'] });
    const kim = { name: 'kim', passphrase: KIM };
    const before = await headAs(svc, kim);

    const refused = await failure(svc.call('key.destroy', { id: a.id }));
    expect(refused.code).toBe('DUAL_CONTROL_REQUIRED');
    expect(refused.hint).toContain('--approver NAME');
    expect(await headAs(svc, kim)).toEqual(before);
    // A dry run changes nothing and needs no approval.
    expect(await svc.call('key.destroy', { id: a.id, dryRun: true })).toMatchObject({ dryRun: true });

    const req = await svc.call('approval.request', { command: 'key.destroy', input: { id: 'billing/production/api' } });
    expect(req).toMatchObject({ command: 'key.destroy', requestedBy: 'kim', approvedBy: null });
    expect(req.summary).toEqual(['key destroy, asked for by kim', `id: billing/production/api (${a.id})`]);
    expect(req.paramsHash).toMatch(/^[0-9a-f]{64}$/);
    expect(req.words).toHaveLength(24);
    expect(Date.parse(req.expiresAt) - Date.parse('2026-01-01T00:00:00.000Z')).toBe(APPROVAL_TTL_MS);

    // Not yet approved; the one who asked cannot approve; a wrong passphrase approves nothing.
    expect((await failure(svc.call('key.destroy', { id: 'billing/production/api' }))).message).toContain('not approved yet');
    const self = await failure(svc.call('approval.grant', { id: req.id, name: 'kim', passphrase: KIM }));
    expect(self.code).toBe('APPROVAL_INVALID');
    expect(self.message).toBe('approval: kim asked for this action and cannot approve it too');
    expect((await failure(svc.call('approval.grant', { id: req.id, name: 'cora', passphrase: KIM }))).code).toBe('OPERATOR_AUTH_FAILED');

    const granted = await svc.call('approval.grant', { id: req.id, name: 'cora', passphrase: CORA });
    expect(granted).toMatchObject({ approvedBy: 'cora', paramsHash: req.paramsHash });
    expect((await failure(svc.call('approval.grant', { id: req.id, name: 'sam', passphrase: PASS }))).code).toBe('APPROVAL_INVALID');

    // Another action (key b) is not what was approved.
    const other = await failure(svc.call('key.destroy', { id: b.id }));
    expect(other.code).toBe('DUAL_CONTROL_REQUIRED');
    expect(other.message).toContain('other parameters');

    // The key named by id is the same action as by name: the parsed input is what is hashed.
    const done = await svc.call('key.destroy', { id: 'billing/production/api' });
    expect(done.id).toBe(a.id);
    // Single use.
    expect((await failure(svc.call('key.destroy', { id: 'billing/production/api' }))).code).toBe('DUAL_CONTROL_REQUIRED');

    await svc.call('operator.signIn', { name: 'sam', passphrase: PASS });
    const { entries } = await svc.call('audit.list', { action: 'key.destroy' });
    expect(entries.map((e) => [e.actor, e.details.approvedBy])).toEqual([['kim', 'cora']]);
    // Key b, refused for want of its own approval, was not touched.
    expect((await svc.call('key.show', { id: b.id })).versions.map((v) => v.state)).toEqual(['revoked']);
    expect((await svc.call('audit.verify', {})).ok).toBe(true);
    await svc.shutdown();
  });

  it('refuses an expired approval and an unknown approver, and drops approvals at lock', async () => {
    const { clock, file, svc, a, b } = await team();
    const req = await svc.call('approval.request', { command: 'key.destroy', input: { id: a.id } });
    await svc.call('approval.grant', { id: req.id, name: 'cora', passphrase: CORA });
    clock.advance(APPROVAL_TTL_MS + 1000);
    const expired = await failure(svc.call('key.destroy', { id: a.id }));
    expect(expired.code).toBe('DUAL_CONTROL_REQUIRED');
    expect(expired.message).toBe('operator: the approval of key destroy expired');

    const late = await svc.call('approval.request', { command: 'key.destroy', input: { id: a.id } });
    clock.advance(APPROVAL_TTL_MS);
    expect((await failure(svc.call('approval.grant', { id: late.id, name: 'cora', passphrase: CORA }))).message)
      .toBe('approval: the request expired');

    // Asked again after a request left ungranted (a dialog cancelled): the new one, once granted, is the one used.
    const first = await svc.call('approval.request', { command: 'key.destroy', input: { id: b.id } });
    const again = await svc.call('approval.request', { command: 'key.destroy', input: { id: b.id } });
    expect(again.id).not.toBe(first.id);
    expect((await failure(svc.call('approval.grant', { id: first.id, name: 'cora', passphrase: CORA }))).code).toBe('APPROVAL_INVALID');
    await svc.call('approval.grant', { id: again.id, name: 'cora', passphrase: CORA });
    expect((await svc.call('key.destroy', { id: b.id })).id).toBe(b.id);

    // An approver must be an operator; sam (security officer) may approve.
    const req2 = await svc.call('approval.request', { command: 'key.destroy', input: { id: a.id } });
    const notApprover = await failure(svc.call('approval.grant', { id: req2.id, name: 'nobody', passphrase: CORA }));
    expect(notApprover.code).toBe('OPERATOR_NOT_FOUND');

    // Approvals live in memory only: a lock drops them.
    await svc.call('approval.grant', { id: req2.id, name: 'sam', passphrase: PASS });
    svc.close();
    await svc.call('vault.unlock', { path: file, passphrase: PASS });
    await svc.call('operator.signIn', { name: 'kim', passphrase: KIM });
    expect((await failure(svc.call('key.destroy', { id: a.id }))).code).toBe('DUAL_CONTROL_REQUIRED');
    await svc.shutdown();
  });

  it('puts operator changes and the rules themselves under dual control; the rules change is audited', async () => {
    const { svc } = await team();
    await svc.call('operator.signIn', { name: 'sam', passphrase: PASS });
    // sam is a security officer; cora can approve, so sam's operator changes need her.
    expect((await failure(svc.call('operator.grant', { name: 'kim', roles: ['auditor'] }))).code).toBe('DUAL_CONTROL_REQUIRED');
    const g = await svc.call('approval.request', { command: 'operator.grant', input: { name: 'kim', roles: ['auditor'] } });
    // A key operator may not approve.
    const ko = await failure(svc.call('approval.grant', { id: g.id, name: 'kim', passphrase: KIM }));
    expect(ko.code).toBe('APPROVAL_INVALID');
    expect(ko.message).toBe('approval: kim is not a custodian or security officer and cannot approve');
    await svc.call('approval.grant', { id: g.id, name: 'cora', passphrase: CORA });
    expect(await svc.call('operator.grant', { name: 'kim', roles: ['auditor'] })).toMatchObject({ roles: ['key-operator', 'auditor'] });

    // Rules: only commands that need a role can be dual-controlled.
    const bad = await failure(svc.call('approval.request', { command: 'dualControl.set', input: { commands: ['key.list'] } }));
    expect(bad.code).toBe('INVALID_INPUT');
    const r = await svc.call('approval.request', { command: 'dualControl.set', input: { commands: ['key.reveal', 'key.destroy'] } });
    expect(r.paramsHash).toBe(paramsHash('dualControl.set', { commands: ['key.reveal', 'key.destroy'] }));
    // The hash leaves out secrets, the final-try flag and where output goes; every other field counts.
    const base = { recipient: 'gw', revocationsOnly: false, expires: '7d' };
    expect(paramsHash('bundle.export', { ...base, out: '/a.khb', pin: '1234', allowFinalTry: true }))
      .toBe(paramsHash('bundle.export', { ...base, out: '/b.khb' }));
    expect(paramsHash('bundle.export', { ...base, expires: '8d' })).not.toBe(paramsHash('bundle.export', base));
    expect(paramsHash('trust.export', base)).not.toBe(paramsHash('bundle.export', base));
    await svc.call('approval.grant', { id: r.id, name: 'cora', passphrase: CORA });
    const set = await svc.call('dualControl.set', { commands: ['key.reveal', 'key.destroy'] });
    expect(set.commands).toEqual(['key.destroy', 'key.reveal']);
    // policy.set is no longer dual-controlled; key.reveal now is.
    await svc.call('policy.set', { scope: { global: true }, rotation: '30d' });
    await svc.call('operator.signIn', { name: 'kim', passphrase: KIM });
    expect((await failure(svc.call('key.reveal', { id: 'billing/production/api' }))).code).toBe('DUAL_CONTROL_REQUIRED');
    await svc.call('operator.signIn', { name: 'sam', passphrase: PASS });
    const { entries } = await svc.call('audit.list', { action: 'dualcontrol.set' });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actor: 'sam', details: { approvedBy: 'cora', after: ['key.destroy', 'key.reveal'] } });
    await svc.shutdown();
  });
});
