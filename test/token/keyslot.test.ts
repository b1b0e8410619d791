/**
 * The token keyslot through the service on a real vault and real SoftHSM2
 * tokens: the VMK wrapped under an ECDH-P256 key on the token, unlocked by
 * the token and its PIN.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import type { PinProvider } from '../../electron/core/token/token.js';
import { slotChecksum, type KeyslotRow } from '../../electron/core/vault/keyslots.js';
import type { SoftHsm } from '../helpers/softhsm.js';
import type { TmpDir } from '../helpers/tmp.js';
import { closeTokenVault, openTokenVault } from '../helpers/token-vault.js';
import { pkcs11Tool, rejectsWith } from './helpers.js';

const PIN = '123456';
const PASSPHRASE = 'keyslot test passphrase';

let hsm: SoftHsm;
let tmp: TmpDir;
let svc: KeyholdService;
let vaultPath: string;
let keyId: string;
let secret: string;

beforeAll(async () => {
  ({ hsm, tmp, svc, vaultPath } = await openTokenVault({
    tokens: [{ label: 'vaultcard' }, { label: 'spare' }],
    tmpPrefix: 'keyhold-keyslot-',
    passphrase: PASSPHRASE,
  }));
  keyId = (await svc.call('key.create', { name: 'gateway', service: 'payments' })).id;
  secret = (await svc.call('key.reveal', { id: keyId })).secret;
});

afterAll(() => closeTokenVault({ svc, hsm, tmp }));

/** A digest of every row of every table, read while the vault is closed. */
function fileState(p: string): string {
  const db = new Database(p, { readonly: true, fileMustExist: true });
  try {
    const h = createHash('sha256');
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[];
    for (const { name } of tables) {
      h.update(JSON.stringify([name, db.prepare(`SELECT * FROM "${name}"`).raw().all()], (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v)));
    }
    return h.digest('hex');
  } finally {
    db.close();
  }
}

describe('token keyslot (SoftHSM2, through the service)', () => {
  it('adds a token keyslot (a derive-only P-256 key generated on the token), then lock and unlock with the token and its PIN open the vault, keys readable', async () => {
    const slot = await svc.call('slot.addToken', { token: 'vaultcard', keyLabel: 'vault-unlock', pin: PIN });
    expect(slot).toMatchObject({
      type: 'token', label: 'token vaultcard',
      params: { method: 'ecdh-p256', token: 'vaultcard', serial: hsm.serial('vaultcard'), keyLabel: 'vault-unlock',
        manufacturer: 'SoftHSM project', model: 'SoftHSM v2' },
    });
    const key = await svc.tokens.token('vaultcard').findKey({ label: 'vault-unlock' });
    expect(key).toMatchObject({ keyType: 'EC-P256', canDerive: true, canSign: false, id: slot.params.keyId, kid: slot.params.kid });
    const audit = await svc.call('audit.list', {});
    expect(audit.entries.at(-1)).toMatchObject({ action: 'slot.add', subject: `keyslot:${slot.id}` });

    await svc.call('vault.lock', {});
    expect(svc.tokens.token('vaultcard').loggedIn).toBe(false);

    const ask = vi.fn<PinProvider>(() => Promise.resolve(PIN));
    const other = new KeyholdService({ tokens: { module: hsm.module }, askPin: ask });
    try {
      const info = await other.call('vault.unlockToken', { path: vaultPath });
      expect(ask).toHaveBeenCalledTimes(1);
      expect(ask.mock.calls[0]![0].why).toContain(`keyslot ${slot.id}`);
      expect(info.keyslots.map((s) => s.type)).toEqual(['passphrase', 'token']);
      expect((await other.call('key.reveal', { id: keyId })).secret).toBe(secret);
      expect((await other.call('audit.verify', {})).ok).toBe(true);
    } finally {
      await other.shutdown();
    }
    // And through the first service, the PIN given with the command.
    const info = await svc.call('vault.unlockToken', { path: vaultPath, pin: PIN });
    expect(info.keyslots).toHaveLength(2);
    expect((await svc.call('key.reveal', { id: keyId })).secret).toBe(secret);
  });

  it('a signing key label is refused for a keyslot (one key, one purpose), and nothing is added', async () => {
    const signer = await svc.call('token.keygen', { token: 'vaultcard', label: 'signer', alg: 'ES256', pin: PIN });
    expect(signer.canSign).toBe(true);
    const before = await svc.call('slot.list', {});
    const e = await rejectsWith(svc.call('slot.addToken', { token: 'vaultcard', keyLabel: 'signer', pin: PIN }), 'TOKEN_UNSUPPORTED');
    expect(e.message).toContain("'signer'");
    expect(await svc.call('slot.list', {})).toEqual(before);
    // The keygen itself is in the open vault's audit log.
    const audit = await svc.call('audit.list', { action: 'token.keygen' });
    expect(audit.entries.map((x) => x.subject)).toEqual([`token-key:${signer.kid}`]);
  });

  it('a key pkcs11-tool made (allowed to sign and derive, its default) is refused for a keyslot', async () => {
    pkcs11Tool(hsm.module, hsm.env, ['--token-label', 'vaultcard', '--login', '--pin', PIN, '--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'tool-ecdh', '--id', '0a0b']);
    const key = await svc.tokens.token('vaultcard').findKey({ id: '0a0b' });
    expect(key).toMatchObject({ canSign: true, canDerive: true });
    const before = await svc.call('slot.list', {});
    await rejectsWith(svc.call('slot.addToken', { token: 'vaultcard', keyLabel: 'tool-ecdh', pin: PIN }), 'TOKEN_UNSUPPORTED');
    expect(await svc.call('slot.list', {})).toEqual(before);
  });

  it('a wrong PIN at unlock is TOKEN_PIN_INCORRECT with the remaining-tries state; the vault stays locked and its file unchanged', async () => {
    svc.close();
    await svc.tokens.logoutAll();
    const before = fileState(vaultPath);
    const e = await rejectsWith(svc.call('vault.unlockToken', { path: vaultPath, pin: '000000' }), 'TOKEN_PIN_INCORRECT');
    expect(e.message).toMatch(/wrong PIN for 'vaultcard'.*\(the token reports a low number of tries left\)/);
    expect(e.message.includes('000000'), 'the PIN tried is not in the message').toBe(false);
    expect((await svc.call('vault.status', {})).unlocked).toBe(false);
    expect(fileState(vaultPath)).toBe(before);
  });

  it('a token keyslot whose token is absent is TOKEN_NOT_FOUND naming the token (the token deleted with softhsm2-util)', async () => {
    await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
    const spare = await svc.call('slot.addToken', { token: 'spare', keyLabel: 'spare-unlock', pin: PIN });
    svc.close();
    await svc.tokens.logoutAll();
    // Both tokens present: the first slot that opens ends the asking (one PIN, one login).
    const ask = vi.fn<PinProvider>(() => Promise.resolve(PIN));
    const one = new KeyholdService({ tokens: { module: hsm.module }, askPin: ask });
    try {
      await one.call('vault.unlockToken', { path: vaultPath });
      expect(ask).toHaveBeenCalledTimes(1);
    } finally {
      await one.shutdown();
    }
    hsm.deleteToken('spare');
    const before = fileState(vaultPath);
    const e = await rejectsWith(svc.call('vault.unlockToken', { path: vaultPath, token: 'spare', pin: PIN }), 'TOKEN_NOT_FOUND');
    expect(e.message).toContain(`keyslot ${spare.id}: 'spare' (serial ${String(spare.params.serial)})`);
    expect(e.message).toMatch(/not present|is present/);
    expect(fileState(vaultPath)).toBe(before);
    // The other token still opens the vault: slots of absent tokens are skipped.
    const info = await svc.call('vault.unlockToken', { path: vaultPath, pin: PIN });
    expect(info.keyslots.map((s) => s.type)).toEqual(['passphrase', 'token', 'token']);
    svc.close();
  });

  it("a token slot's params edited in SQL are refused: VAULT_CORRUPT (checksum), INTEGRITY when the checksum is recomputed (the params are bound to the wrapped VMK)", async () => {
    svc.close();
    const row = (db: Database.Database) => db.prepare("SELECT * FROM keyslots WHERE type = 'token' ORDER BY id LIMIT 1").get() as KeyslotRow;
    for (const fixChecksum of [false, true]) {
      const copy = path.join(tmp.dir, `tampered-${String(fixChecksum)}.db`);
      fs.copyFileSync(vaultPath, copy);
      const db = new Database(copy);
      try {
        const r = row(db);
        const params = r.params.replace('"keyLabel":"vault-unlock"', '"keyLabel":"vault-unlock2"');
        expect(params).not.toBe(r.params);
        const checksum = fixChecksum ? slotChecksum({ ...r, params }) : r.checksum;
        db.prepare('UPDATE keyslots SET params = ?, checksum = ? WHERE id = ?').run(params, checksum, r.id);
      } finally {
        db.close();
      }
      await svc.tokens.logoutAll();
      const e = await rejectsWith(svc.call('vault.unlockToken', { path: copy, token: 'vaultcard', pin: PIN }), fixChecksum ? 'INTEGRITY' : 'VAULT_CORRUPT');
      expect(e.message).toMatch(/vault: /);
    }
  });

  it('a passphrase unlock of a vault whose only keyslots are token slots is KEYSLOT_NOT_FOUND (it was WRONG_PASSPHRASE, though no passphrase was wrong)', async () => {
    svc.close();
    const copy = path.join(tmp.dir, 'token-only.db');
    fs.copyFileSync(vaultPath, copy);
    await svc.tokens.logoutAll();
    await svc.call('vault.unlockToken', { path: copy, token: 'vaultcard', pin: PIN });
    const passphraseSlots = (await svc.call('slot.list', {})).filter((s) => s.type === 'passphrase');
    expect(passphraseSlots).toHaveLength(1);
    expect((await svc.call('slot.remove', { id: passphraseSlots[0]!.id })).passphraseSlotsLeft).toBe(0);
    svc.close();
    const before = fileState(copy);
    const e = await rejectsWith(svc.call('vault.unlock', { path: copy, passphrase: PASSPHRASE }), 'KEYSLOT_NOT_FOUND');
    expect(e.message).toBe('vault: this vault has no passphrase keyslot');
    expect(fileState(copy)).toBe(before);
  });
});
