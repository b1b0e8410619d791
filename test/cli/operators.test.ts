/**
 * Operators, roles and dual control from the CLI, in real `keyhold`
 * processes on a SoftHSM2 signer token (issue 12, "Acceptance"): `init --as`
 * makes the first operator, `operator add` another; with several operators a
 * command needs `--as NAME` and that operator's own passphrase; a key
 * operator cannot change a policy and an auditor cannot reveal (ROLE_REQUIRED,
 * exit 3); a bundle export under dual control fails without the approval
 * (DUAL_CONTROL_REQUIRED, exit 7, no file) and succeeds with `--approver`,
 * and its audit entry names both operators. Setup that is not under test is
 * done in this process, to spare spawns.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import { addRecipient, addTokenSigner, PIN } from '../bundle/helpers.js';
import { setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { closeTokenVault } from '../helpers/token-vault.js';
import { keyhold } from './run.js';

const PASS = 'correct horse battery staple';
const KIM = 'velvet compass harbor 9023';
const AUDREY = 'quiet lantern orchard 4471';
const CORA = 'granite meadow trumpet 5512';
const FAST = ['--kdf-memory', '19', '--kdf-passes', '2', '--kdf-parallelism', '1'];

let hsm: SoftHsm;
let tmp: TmpDir;
let vault: string;
let keyId: string;

function env(extra: Record<string, string> = {}): Record<string, string> {
  return hsm.cliEnv({ KEYHOLD_VAULT: vault, KEYHOLD_PASSPHRASE: PASS, KEYHOLD_PIN: PIN, ...extra });
}

/** A command as an operator: --as NAME, its passphrase from KEYHOLD_OPERATOR_PASSPHRASE. */
function as(name: string, passphrase: string, args: string[], extra: Record<string, string> = {}) {
  const r = keyhold(['--as', name, ...args], env({ KEYHOLD_OPERATOR_PASSPHRASE: passphrase, ...extra }));
  for (const s of [r.stdout, r.stderr]) for (const secret of [PASS, KIM, AUDREY, CORA]) expect(s).not.toContain(secret);
  return r;
}

function errorOf(r: { stdout: string }): { code: string; message: string; hint?: string } {
  return (JSON.parse(r.stdout) as { error: { code: string; message: string; hint?: string } }).error;
}

beforeAll(async () => {
  hsm = setupSoftHsm([{ label: 'signer' }]);
  tmp = makeTmpDir('keyhold-cli-operators-');
  vault = path.join(tmp.dir, 'vault.db');
  const init = keyhold(['--as', 'sam', 'init', ...FAST], env());
  expect(init.code, init.stderr).toBe(0);
  // The one operator is signed in at unlock: --as sam asks for nothing more.
  const add = as('sam', 'unused', ['operator', 'add', 'kim', '--roles', 'key-operator'], { KEYHOLD_NEW_OPERATOR_PASSPHRASE: KIM });
  expect(add.code, add.stderr).toBe(0);
  expect(add.stdout).toContain('kim');

  // The rest of the setup in this process: a signer on the token, a recipient, two more operators, a key.
  const svc = new KeyholdService({ tokens: { module: hsm.module } });
  try {
    await svc.call('vault.unlock', { path: vault, passphrase: PASS });
    await svc.call('operator.signIn', { name: 'sam', passphrase: PASS });
    await addTokenSigner(svc, 'signer', 'sig1', 'ES256');
    await addRecipient(svc, 'gw', { verifies: ['payments'] });
    await svc.call('operator.add', { name: 'audrey', roles: ['auditor'], passphrase: AUDREY });
    await svc.call('operator.add', { name: 'cora', roles: ['custodian'], passphrase: CORA });
    await svc.call('operator.signIn', { name: 'kim', passphrase: KIM });
    keyId = (await svc.call('key.create', { name: 'api', service: 'payments' })).id;
  } finally {
    await svc.shutdown();
  }
});

afterAll(() => closeTokenVault({ hsm, tmp }));

describe('operators from the CLI', () => {
  it('needs --as with several operators; a key operator cannot change a policy; an auditor cannot reveal', () => {
    const none = keyhold(['--json', 'key', 'list'], env());
    expect(none.code).toBe(3);
    expect(errorOf(none)).toMatchObject({ code: 'OPERATOR_REQUIRED' });
    expect(errorOf(none).hint).toContain('--as NAME');

    const wrong = as('kim', AUDREY, ['--json', 'key', 'list']);
    expect(wrong.code).toBe(3);
    expect(errorOf(wrong).code).toBe('OPERATOR_AUTH_FAILED');

    const policy = as('kim', KIM, ['--json', 'policy', 'set', '--global', '--rotation', '30d']);
    expect(policy.code).toBe(3);
    expect(errorOf(policy)).toEqual({ code: 'ROLE_REQUIRED', message: 'operator: policy set needs a security officer; kim holds: key operator',
      hint: expect.any(String) as string });

    const reveal = as('audrey', AUDREY, ['--json', 'key', 'reveal', keyId]);
    expect(reveal.code).toBe(3);
    expect(errorOf(reveal)).toMatchObject({ code: 'ROLE_REQUIRED', message: 'operator: key reveal needs a key operator; audrey holds: auditor' });

    const who = as('audrey', AUDREY, ['--json', 'operator', 'whoami']);
    expect(who.code, who.stderr).toBe(0);
    expect(JSON.parse(who.stdout)).toMatchObject({ operator: { name: 'audrey', roles: ['auditor'] }, signInRequired: false });
  });

  it('refuses a bundle export under dual control without the approval, and exports with --approver; the entry names both', () => {
    const out = path.join(tmp.dir, 'gw-1.khb');
    const refused = as('kim', KIM, ['--json', 'bundle', 'export', '--recipient', 'gw', '--out', out]);
    expect(refused.code).toBe(7);
    expect(errorOf(refused)).toMatchObject({ code: 'DUAL_CONTROL_REQUIRED' });
    expect(errorOf(refused).hint).toContain('--approver NAME');
    expect(fs.existsSync(out)).toBe(false);

    // The one who asks cannot approve.
    const self = as('kim', KIM, ['--json', '--approver', 'kim', 'bundle', 'export', '--recipient', 'gw', '--out', out],
      { KEYHOLD_APPROVER_PASSPHRASE: KIM });
    expect(self.code).toBe(7);
    expect(errorOf(self).code).toBe('APPROVAL_INVALID');
    expect(fs.existsSync(out)).toBe(false);

    const done = as('kim', KIM, ['--json', '--approver', 'cora', 'bundle', 'export', '--recipient', 'gw', '--out', out],
      { KEYHOLD_APPROVER_PASSPHRASE: CORA });
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toContain('Approval by cora needed for:');
    expect(done.stderr).toMatch(/parameters hash: [0-9a-f]{64}/);
    // What the bundle would carry, for the approver to read.
    expect(done.stderr).toContain('bundle 1 to gw: 1 issued (0 with secrets), 0 revoked');
    expect(done.stderr).toContain('Approved by cora.');
    expect(JSON.parse(done.stdout)).toMatchObject({ recipient: 'gw', sequence: 1 });
    expect(fs.existsSync(out)).toBe(true);

    const log = as('audrey', AUDREY, ['--json', 'audit', 'list', '--action', 'bundle.export']);
    expect(log.code, log.stderr).toBe(0);
    const entries = (JSON.parse(log.stdout) as { entries: { actor: string; details: { approvedBy?: string } }[] }).entries;
    expect(entries.map((e) => [e.actor, e.details.approvedBy])).toEqual([['kim', 'cora']]);
    const shown = as('audrey', AUDREY, ['dualcontrol', 'show']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('dual control: on');
    expect(shown.stdout).toContain('bundle.export');
  });
});
