/**
 * Issue 12's acceptance line, from the CLI (real `keyhold` processes, a real
 * SoftHSM2 token): a vault file copied back from before a revocation is
 * refused at unlock with the token present (ROLLBACK_DETECTED, exit 5, the
 * file unchanged); `--accept-rollback REASON` opens it, audited; a passphrase
 * unlock with the token absent is not blocked (the check needs the token).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnchorStatus, AuditEntry } from '../../shared/contract.js';
import { setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { keyhold, type Run } from './run.js';

const PIN = '482913';
const PASSPHRASE = 'anchor cli test passphrase';
const KDF = ['--kdf-memory', '19', '--kdf-passes', '2', '--kdf-parallelism', '1'];

let hsm: SoftHsm;
let tmp: TmpDir;
let vault: string;

beforeAll(() => {
  hsm = setupSoftHsm([{ label: 'card', pin: PIN }]);
  tmp = makeTmpDir('keyhold-anchor-cli-');
  vault = path.join(tmp.dir, 'vault.db');
});

afterAll(() => {
  hsm.cleanup();
  tmp.remove();
});

const env = (extra: Record<string, string> = {}) => hsm.cliEnv({ KEYHOLD_PASSPHRASE: PASSPHRASE, KEYHOLD_PIN: PIN, ...extra });

function ok(r: Run): Run {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

const byToken = (args: string[], extra: Record<string, string> = {}): Run => keyhold(['--vault', vault, '--unlock', 'token', ...args], env(extra));
const sha = (p: string): string => createHash('sha256').update(fs.readFileSync(p)).digest('hex');

describe('keyhold: rollback of the vault file, detected on the token', () => {
  it('refuses a copy from before a revocation at unlock with the token present; --accept-rollback opens it, audited; a passphrase unlock without the token is not blocked', () => {
    ok(keyhold(['--vault', vault, 'init', ...KDF], env()));
    ok(keyhold(['--vault', vault, 'slot', 'add-token', '--token', 'card', '--label', 'vault-unlock'], env()));
    const created = JSON.parse(ok(byToken(['--json', 'key', 'create', '--name', 'gateway', '--service', 'payments'])).stdout) as { id: string };
    const old = path.join(tmp.dir, 'before-revoke.db');
    fs.copyFileSync(vault, old);

    ok(byToken(['key', 'revoke', created.id, '--reason', 'compromised', '--yes']));
    const status = JSON.parse(ok(byToken(['--json', 'anchor', 'status'])).stdout) as AnchorStatus;
    expect(status.tokens).toEqual([expect.objectContaining({ label: 'card', present: true, checked: true, state: 'current', matches: true })]);
    const newest = status.head.seq;

    // The old copy put back in place.
    fs.copyFileSync(old, vault);
    const before = sha(vault);
    const refused = byToken(['--json', 'info']);
    expect(refused.code).toBe(5);
    const err = (JSON.parse(refused.stdout) as { error: { code: string; message: string; hint: string } }).error;
    expect(err.code).toBe('ROLLBACK_DETECTED');
    expect(err.message).toMatch(new RegExp(`older copy: its audit log ends at entry \\d+ .*recorded entry ${newest} `));
    expect(refused.stderr).toContain('--accept-rollback');
    expect(sha(vault)).toBe(before);

    // Without the token (absent: a SoftHSM2 configuration with no token), a passphrase unlock opens the old copy.
    const noToken = hsm.envWithOnly([], path.join(tmp.dir, 'no-token'));
    const absent = keyhold(['--vault', vault, '--json', 'info'], { ...env(), ...noToken });
    expect(absent.code, absent.stderr).toBe(0);

    // Disaster recovery: opened anyway, the reason in the audit log; the next unlock by token is clean.
    ok(byToken(['--accept-rollback', 'restored from the only surviving copy', 'info']));
    const log = JSON.parse(ok(byToken(['--json', 'audit', 'list'])).stdout) as { entries: AuditEntry[] };
    const accepted = log.entries.find((e) => e.action === 'vault.rollbackAccepted');
    expect(accepted?.details).toMatchObject({ reason: 'restored from the only surviving copy', problem: 'behind', anchor: { seq: newest } });
    const after = JSON.parse(ok(byToken(['--json', 'anchor', 'status'])).stdout) as AnchorStatus;
    expect(after.tokens[0]).toMatchObject({ state: 'current', matches: true });
    expect(JSON.parse(ok(byToken(['--json', 'audit', 'verify'])).stdout)).toMatchObject({ ok: true });
  });
});
