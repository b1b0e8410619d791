/**
 * `keyhold trust export` prints, in text mode, the trust root's fingerprint
 * exactly as `keyhold-import trust show` prints it (the same line: the
 * SHA-256 of the root's payload, in hex), so custodians at the vault and at a
 * server can compare them aloud. On a real SoftHSM2 token, with both real
 * commands in child processes.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyholdService } from '../../electron/core/service.js';
import { cleanEnv, ensureImporterBuilt, keyhold, ROOT } from './run.js';
import { DEFAULT_PIN, type SoftHsm } from '../helpers/softhsm.js';
import type { TmpDir } from '../helpers/tmp.js';
import { closeTokenVault, openTokenVault } from '../helpers/token-vault.js';

const PASS = 'trust fingerprint passphrase';
const IMPORTER_BIN = path.join(ROOT, 'importer', 'bin', 'keyhold-import.mjs');

let hsm: SoftHsm;
let tmp: TmpDir;
let vaultPath: string;

beforeAll(async () => {
  ensureImporterBuilt();
  let svc: KeyholdService;
  ({ hsm, tmp, svc, vaultPath } = await openTokenVault({ tokens: [{ label: 'custodian' }], tmpPrefix: 'keyhold-trust-fp-', passphrase: PASS }));
  try {
    await svc.call('token.keygen', { token: 'custodian', label: 'signer1', alg: 'ES256', pin: DEFAULT_PIN });
    await svc.call('signer.add', { token: 'custodian', keyLabel: 'signer1' });
  } finally {
    await svc.shutdown();
  }
});

afterAll(() => closeTokenVault({ hsm, tmp }));

describe('trust root fingerprint', () => {
  it('trust export (text) and keyhold-import trust show print the identical fingerprint line', () => {
    const root = path.join(tmp.dir, 'root.json');
    const r = keyhold(['trust', 'export', '--out', root],
      hsm.cliEnv({ KEYHOLD_VAULT: vaultPath, KEYHOLD_PASSPHRASE: PASS, KEYHOLD_PIN: DEFAULT_PIN }));
    expect(r.code, r.stderr).toBe(0);
    const exported = r.stdout.split('\n').filter((l) => l.includes('fingerprint'));
    expect(exported).toHaveLength(1);
    expect(exported[0]).toMatch(/^ {2}fingerprint [0-9a-f]{64}$/);

    const shown = spawnSync(process.execPath, [IMPORTER_BIN, 'trust', 'show', root], { env: cleanEnv(), encoding: 'utf8', cwd: ROOT });
    expect(shown.status, shown.stderr).toBe(0);
    const imported = shown.stdout.split('\n').filter((l) => l.includes('fingerprint'));
    expect(imported).toEqual(exported);
  });
});
