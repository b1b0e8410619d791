/**
 * The app's approval wrapper (renderer/src/useApproval.ts, used by api.ts
 * `call` for every command) and role helper (renderer/src/roles.ts) in Node,
 * over the same window.keyhold the preload builds and the real router and
 * core, on a vault with four operators. What the browser suite cannot see
 * from the DOM: a dual-controlled command is not sent before the approval is
 * settled; not approved, the caller gets DUAL_CONTROL_REQUIRED and nothing
 * changed; approved by a second operator, the very same input runs once; a
 * command outside the rules or a dry run never asks; a command the operator
 * may not run comes back ROLE_REQUIRED without a dialog.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import type { IpcRouter } from '../../electron/main/router.js';
import type { ApprovalInfo, DualControlInfo, OperatorInfo, Result } from '../../shared/contract.js';
import { buildKeyholdApi } from '../../shared/ipc-bridge.js';
import type { KeyholdApi } from '../../shared/ipc-names.js';
import { makeTestRouter } from '../helpers/router.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';

// Renderer modules (web project) loaded by path at run time, described by what the test uses.
type Store<S> = { getState: () => S; setState: (p: Partial<S>) => void };
type Whoami = { operator: OperatorInfo | null; operators: string[]; signInRequired: boolean };
type Credential = { kind: 'passphrase'; passphrase: string };
type ApiErr = { code: string; message: string };
const RENDERER = path.resolve(import.meta.dirname, '../../renderer/src');
const { call } = (await import(path.join(RENDERER, 'api.ts'))) as {
  call: <T>(run: (api: KeyholdApi) => Promise<Result<T>>) => Promise<Result<T>>;
};
const { useApproval } = (await import(path.join(RENDERER, 'useApproval.ts'))) as {
  useApproval: Store<{ pending: { approval: ApprovalInfo } | null; settle: (approved: boolean) => void }>;
};
const { useAccess } = (await import(path.join(RENDERER, 'stores/access.ts'))) as {
  useAccess: Store<{ whoami: Whoami | null; dualControl: DualControlInfo | null }>;
};
const { useOperators } = (await import(path.join(RENDERER, 'stores/operators.ts'))) as {
  useOperators: Store<{ loadIdentity: () => Promise<Whoami | null>; signIn: (n: string, c: Credential) => Promise<ApiErr | null> }>;
};
const { permission } = (await import(path.join(RENDERER, 'roles.ts'))) as {
  permission: (c: string, op: OperatorInfo | null, operators?: readonly string[]) => { allowed: boolean; reason: string | null };
};

const PASS = 'correct horse battery staple';
const BOB = 'bob keeps seven violet lanterns lit';
const DAVE = 'dave guards quiet copper bridges twice';

let tmp: TmpDir;
let router: IpcRouter;
let vaultPath: string;
let oldId = '';
const sent: string[] = [];

beforeAll(async () => {
  tmp = makeTmpDir('keyhold-e2e-approval-');
  vaultPath = path.join(tmp.dir, 'vault.db');
  const svc = new KeyholdService({ actor: 'alice' });
  try {
    await svc.call('vault.create', { path: vaultPath, passphrase: PASS, kdf: FAST_KDF });
    const old = await svc.call('key.create', { name: 'old', service: 'mail' });
    oldId = old.id;
    await svc.call('key.revoke', { id: old.id, reason: 'retired' });
    await svc.call('operator.add', { name: 'bob', roles: ['key-operator'], passphrase: BOB });
    await svc.call('operator.add', { name: 'carol', roles: ['auditor'], passphrase: 'carol audits amber river maps daily' });
    await svc.call('operator.add', { name: 'dave', roles: ['custodian'], passphrase: DAVE });
  } finally {
    svc.close();
  }
  router = makeTestRouter({ vaultPath }).router;
  (globalThis as { keyhold?: unknown }).keyhold = buildKeyholdApi(
    (channel, payload) => {
      const command = channel.slice('keyhold:'.length);
      sent.push(command);
      return router.handle(command, { url: 'app://keyhold/index.html', isMainFrame: true }, payload);
    },
    () => () => undefined,
  );
}, 60_000);

afterAll(() => {
  router?.dispose();
  delete (globalThis as { keyhold?: unknown }).keyhold;
  tmp?.remove();
});

/** Waits until the wrapper has asked for an approval and holds the command. */
async function pendingApproval(): Promise<ApprovalInfo> {
  await expect.poll(() => useApproval.getState().pending !== null).toBe(true);
  return (useApproval.getState().pending as { approval: ApprovalInfo }).approval;
}

async function destroyedAt(): Promise<string | null> {
  return (await router.service.call('key.show', { id: oldId })).versions[0]?.destroyedAt ?? null;
}

describe('the approval wrapper and the role helper over the real router', () => {
  it('holds a dual-controlled command until a second operator approves it, and never sends it otherwise', async () => {
    // Unlocked with four operators: no one is signed in, the helper allows nothing with roles.
    expect((await call((api) => api.vaultUnlock({ passphrase: PASS }))).ok).toBe(true);
    const who = await useOperators.getState().loadIdentity();
    expect([who?.operator, who?.signInRequired]).toEqual([null, true]);
    expect(permission('key.destroy', null, who?.operators ?? [])).toEqual({ allowed: false, reason: 'Needs a signed-in operator' });

    // bob signs in: a key operator, under dual control (alice and dave can approve).
    expect(await useOperators.getState().signIn('bob', { kind: 'passphrase', passphrase: BOB })).toBe(null);
    const bob = useAccess.getState().whoami?.operator ?? null;
    expect(bob?.name).toBe('bob');
    expect(permission('key.destroy', bob).allowed).toBe(true);
    expect(permission('policy.set', bob)).toEqual({ allowed: false, reason: 'Needs the security officer role' });
    expect(permission('audit.list', bob)).toEqual({ allowed: false, reason: 'Needs the security officer or auditor role' });
    expect(useAccess.getState().dualControl?.active).toBe(true);

    // Destroy: the approval is asked for, the command waits; refused in the dialog, it is never sent.
    let mark = sent.length;
    const first = call((api) => api.keyDestroy({ id: oldId, version: 1 }));
    const asked = await pendingApproval();
    expect([asked.command, asked.requestedBy, asked.approvedBy]).toEqual(['key.destroy', 'bob', null]);
    expect(asked.paramsHash).toMatch(/^[0-9a-f]{64}$/);
    expect(sent.slice(mark)).toEqual(['approval.request']);
    useApproval.getState().settle(false);
    const refused = await first;
    expect(refused.ok ? null : refused.error.code).toBe('DUAL_CONTROL_REQUIRED');
    expect(sent.slice(mark)).not.toContain('key.destroy');
    expect(await destroyedAt()).toBe(null);

    // Again: dave approves (bob cannot approve his own request), then the same input runs once.
    mark = sent.length;
    const second = call((api) => api.keyDestroy({ id: oldId, version: 1 }));
    const again = await pendingApproval();
    const self = await call((api) => api.approvalGrant({ id: again.id, name: 'bob', passphrase: BOB }));
    expect(self.ok ? null : self.error.code).toBe('APPROVAL_INVALID');
    const granted = await call((api) => api.approvalGrant({ id: again.id, name: 'dave', passphrase: DAVE }));
    expect(granted.ok && granted.value.approvedBy).toBe('dave');
    expect(await destroyedAt()).toBe(null);
    useApproval.getState().settle(true);
    const done = await second;
    expect(done.ok).toBe(true);
    expect(await destroyedAt()).not.toBe(null);
    expect(sent.slice(mark).filter((c) => c === 'key.destroy')).toHaveLength(1);

    // Outside the rules (key.create) or a dry run: no approval asked for.
    mark = sent.length;
    expect((await call((api) => api.keyCreate({ name: 'fresh', service: 'mail' }))).ok).toBe(true);
    expect((await call((api) => api.keyRotate({ ids: [oldId], dryRun: true }))).ok).toBeDefined();
    expect(sent.slice(mark)).not.toContain('approval.request');
    expect(useApproval.getState().pending).toBe(null);

    // A dual-controlled command bob may not run: the core's ROLE_REQUIRED, no dialog.
    const policy = await call((api) => api.policySet({ scope: { global: true }, rotation: '30d' }));
    expect(policy.ok ? null : policy.error.code).toBe('ROLE_REQUIRED');
    expect(useApproval.getState().pending).toBe(null);
  }, 60_000);
});
