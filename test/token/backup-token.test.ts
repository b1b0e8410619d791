/**
 * A backup carries the vault's keyslots, so a token keyslot opens it too
 * (docs/backup.md): on a real SoftHSM2 token, a vault with a passphrase and a
 * token keyslot is backed up; restored with the passphrase, the token keyslot
 * comes back with it; restored with the token and its PIN, a wrong PIN writes
 * nothing, and the token's rollback record (it saw the vault move on after the
 * backup) refuses the older copy until the override is given, which is
 * audited; the restored vault is the original (keys, secrets) and verifies.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import { KeyholdError } from '../../shared/errors.js';
import type { SoftHsm } from '../helpers/softhsm.js';
import type { TmpDir } from '../helpers/tmp.js';
import { closeTokenVault, openTokenVault } from '../helpers/token-vault.js';

const PASS = 'token backup passphrase 3Rv%';
const PIN = '123456';

let hsm: SoftHsm;
let tmp: TmpDir;
let svc: KeyholdService;
let backup: string;
let keyId: string;
let secret: string;

beforeAll(async () => {
  ({ hsm, tmp, svc } = await openTokenVault({ tokens: [{ label: 'vaultcard' }], tmpPrefix: 'keyhold-backup-token-', passphrase: PASS }));
  await svc.call('slot.addToken', { token: 'vaultcard', keyLabel: 'vault-unlock', pin: PIN });
  keyId = (await svc.call('key.create', { name: 'gw', service: 'payments' })).id;
  secret = (await svc.call('key.reveal', { id: keyId })).secret;
  backup = path.join(tmp.dir, 'v.khbackup');
  await svc.call('vault.backup', { out: backup });
  await svc.call('vault.lock', {});
}, 60_000);

afterAll(() => closeTokenVault({ hsm, tmp, svc }));

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (e) {
    if (e instanceof KeyholdError) return e.code;
    throw e;
  }
}

describe('a backup opened with its token keyslot', () => {
  it('restores with the passphrase (no token involved): the token keyslot comes back with it', async () => {
    const other = new KeyholdService({ tokens: { module: hsm.module } });
    try {
      const info = await other.call('vault.restore', { file: backup, path: path.join(tmp.dir, 'by-passphrase.db'), passphrase: PASS });
      expect(info.keyslots.map((s) => s.type)).toEqual(['passphrase', 'token']);
      expect((await other.call('key.reveal', { id: keyId })).secret).toBe(secret);
    } finally {
      await other.shutdown();
    }
  });

  it('with the token and its PIN: checked against the token\'s rollback record (the backup is older), restored with the override', async () => {
    const other = new KeyholdService({ tokens: { module: hsm.module } });
    try {
      const target = path.join(tmp.dir, 'restored.db');
      expect(await code(other.call('vault.restore', { file: backup, path: target, unlock: 'token', pin: '000000' }))).toBe('TOKEN_PIN_INCORRECT');
      expect(fs.existsSync(target)).toBe(false);
      // The token recorded the vault's later head (the backup's own entry, the reveal): the backup is a rolled-back copy to it.
      expect(await code(other.call('vault.restore', { file: backup, path: target, unlock: 'token', token: 'vaultcard', pin: PIN })))
        .toBe('ROLLBACK_DETECTED');
      expect(fs.readdirSync(tmp.dir).filter((f) => f.startsWith('restored') || f.includes('.restored'))).toEqual([]);
      const info = await other.call('vault.restore', { file: backup, path: target, unlock: 'token', token: 'vaultcard', pin: PIN,
        acceptRollback: { reason: 'disaster recovery test' } });
      expect(info.keyslots.map((s) => s.type)).toEqual(['passphrase', 'token']);
      expect((await other.call('key.reveal', { id: keyId })).secret).toBe(secret);
      expect((await other.call('audit.verify', {})).ok).toBe(true);
      const actions = (await other.call('audit.list', { limit: 1000 })).entries.map((e) => e.action);
      expect(actions).toContain('vault.rollbackAccepted');
      expect(actions).toContain('vault.restore');
    } finally {
      await other.shutdown();
    }
  });
});
