/**
 * Bundle export failures on a real vault and SoftHSM2 tokens: each one a
 * clear error, and nothing changed: every row of the vault file (recipient
 * sequence and last hash, bundles, sent records, audit chain head) is the
 * same, no bundle file is written and no temporary file is left in the
 * folder. Rows edited outside Keyhold (raw SQL) are refused, never used.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyholdService } from '../../electron/core/service.js';
import { KeyholdError } from '../../shared/errors.js';
import { generateRecipientKey } from 'keyhold-format';
import type { SoftHsm } from '../helpers/softhsm.js';
import type { TmpDir } from '../helpers/tmp.js';
import { closeTokenVault, openTokenVault } from '../helpers/token-vault.js';
import { rejectsWith } from '../token/helpers.js';
import { addRecipient, addTokenSigner, filesIn, PASSPHRASE, PIN, pinProvider, rawSql, readBundle, snapshot, type Recipient } from './helpers.js';

let hsm: SoftHsm;
let tmp: TmpDir;
let svc: KeyholdService;
let vaultPath: string;
let outDir: string;
let gw: Recipient;

beforeAll(async () => {
  ({ hsm, tmp, svc, vaultPath } = await openTokenVault({
    tokens: [{ label: 'card' }, { label: 'gone' }],
    tmpPrefix: 'keyhold-bundle-fail-',
    passphrase: PASSPHRASE,
    service: (h) => ({ tokens: { module: h.module }, askPin: pinProvider() }),
  }));
  outDir = path.join(tmp.dir, 'out');
  fs.mkdirSync(outDir);
  gw = await addRecipient(svc, 'gw', { verifies: ['payments'] });
  await svc.call('key.create', { name: 'pay', service: 'payments' });
});

afterAll(() => closeTokenVault({ svc, hsm, tmp }));

/** Runs a failing export and checks that it changed nothing and wrote nothing. */
async function failsUnchanged(input: Record<string, unknown>, codes: Parameters<typeof rejectsWith>[1], dir = outDir): Promise<KeyholdError> {
  const before = await snapshot(svc, vaultPath);
  const files = fs.existsSync(dir) ? filesIn(dir) : null;
  const e = await rejectsWith(svc.call('bundle.export', { recipient: 'gw', out: path.join(dir, 'b.json'), ...input }), codes);
  expect(`${e.message} ${e.hint ?? ''}`).not.toContain(PIN);
  expect(await snapshot(svc, vaultPath)).toEqual(before);
  expect(fs.existsSync(dir) ? filesIn(dir) : null).toEqual(files);
  return e;
}

describe('export failures leave the vault and the folder unchanged', () => {
  it('no signer registered: NO_SIGNERS (it was KEYSLOT_NOT_FOUND, a vault keyslot code) naming `keyhold signer add`', async () => {
    const e = await failsUnchanged({}, 'NO_SIGNERS');
    expect(e.hint).toContain('signer add');
    // A trust root too (it was INVALID_INPUT, the importer's complaint about an empty signer list).
    const root = path.join(outDir, 'root.json');
    const t = await rejectsWith(svc.call('trust.export', { out: root }), 'NO_SIGNERS');
    expect(t.message).toBe('trust: no signer is registered');
    expect(fs.existsSync(root)).toBe(false);
  });

  it('the only signer\'s token is absent (deleted from SoftHSM2): TOKEN_NOT_FOUND naming the token to insert', async () => {
    await addTokenSigner(svc, 'gone', 'sig-gone', 'ES256');
    hsm.deleteToken('gone');
    const e = await failsUnchanged({}, 'TOKEN_NOT_FOUND');
    expect(e.hint).toContain("'gone'");
    // A token that is present but holds no signer: SIGNER_NOT_FOUND (it was TOKEN_NOT_FOUND, though the token is there).
    const s = await failsUnchanged({ token: 'card' }, 'SIGNER_NOT_FOUND');
    expect(s.message).toBe("bundle: no registered signer is on the token 'card'");
    // Another registered signer present: the export goes ahead with its signature only.
    const kid = await addTokenSigner(svc, 'card', 'sig-card', 'ES256');
    const rep = await svc.call('bundle.export', { recipient: 'gw', out: path.join(outDir, 'first.json') });
    expect(rep).toMatchObject({ sequence: 1, signatures: [kid] });
    expect(readBundle(rep.path).json.signatures).toHaveLength(1);
    await svc.call('key.create', { name: 'pay2', service: 'payments' });
  });

  it('unknown recipient: RECIPIENT_NOT_FOUND (it was KEY_NOT_FOUND, a key code)', async () => {
    const e = await failsUnchanged({ recipient: 'nobody' }, 'RECIPIENT_NOT_FOUND');
    expect(e.message).toContain('nobody');
  });

  it('wrong PIN: TOKEN_PIN_INCORRECT, the PIN in no message, nothing written; the right PIN then works', async () => {
    await svc.tokens.token('card').logout();
    await failsUnchanged({ pin: '000000' }, 'TOKEN_PIN_INCORRECT');
  });

  it('output folder missing, a file where the folder should be, or a folder where the file should be: PATH_NOT_WRITABLE', async () => {
    const missing = path.join(tmp.dir, 'no-such-folder');
    await failsUnchanged({}, 'PATH_NOT_WRITABLE', missing);
    expect(fs.existsSync(missing)).toBe(false);
    const file = path.join(tmp.dir, 'plain-file');
    fs.writeFileSync(file, 'x');
    await rejectsWith(svc.call('bundle.export', { recipient: 'gw', out: path.join(file, 'b.json') }), 'PATH_NOT_WRITABLE');
    fs.mkdirSync(path.join(outDir, 'b.json'));
    try {
      await failsUnchanged({}, 'PATH_NOT_WRITABLE');
    } finally {
      fs.rmdirSync(path.join(outDir, 'b.json'));
    }
    if (process.getuid?.() !== 0) {
      // (root ignores folder permissions, so this part runs only as another user)
      const ro = path.join(tmp.dir, 'read-only');
      fs.mkdirSync(ro, { mode: 0o500 });
      await failsUnchanged({}, 'PATH_NOT_WRITABLE', ro);
    }
  });

  it('after all those failures the next export is sequence 2, chained to bundle 1', async () => {
    const rep = await svc.call('bundle.export', { recipient: 'gw', out: path.join(outDir, 'second.json') });
    const first = readBundle(path.join(outDir, 'first.json'));
    expect(rep.sequence).toBe(2);
    expect(readBundle(rep.path).payload.previous).toBe((await import('node:crypto')).createHash('sha256').update(first.payloadBytes).digest('hex'));
    expect(filesIn(outDir)).toEqual(['first.json', 'second.json']);
  });
});

describe('rows edited outside Keyhold are refused (INTEGRITY), never used', () => {
  /** Edits the vault file by raw SQL while it is locked, expects INTEGRITY from the export, then puts the row back. */
  async function tampered(sql: string, args: unknown[], undo: string, undoArgs: unknown[], also?: () => Promise<void>) {
    svc.close();
    rawSql(vaultPath, (db) => expect(db.prepare(sql).run(...args).changes).toBe(1));
    await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
    try {
      const files = filesIn(outDir);
      await rejectsWith(svc.call('bundle.export', { recipient: 'gw', out: path.join(outDir, 't.json') }), 'INTEGRITY');
      expect(filesIn(outDir)).toEqual(files);
      await also?.();
    } finally {
      svc.close();
      rawSql(vaultPath, (db) => db.prepare(undo).run(...undoArgs));
      await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
    }
  }

  it('a recipient\'s public key swapped for an attacker\'s', async () => {
    const evil = JSON.stringify((await generateRecipientKey('X25519')).publicJwk);
    let original = '';
    svc.close();
    rawSql(vaultPath, (db) => {
      original = (db.prepare("SELECT public_jwk FROM recipients WHERE name = 'gw'").get() as { public_jwk: string }).public_jwk;
    });
    await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
    expect(JSON.parse(original)).toEqual({ kty: 'OKP', crv: 'X25519', x: gw.publicJwk.x }); // stored reduced to the public members
    await tampered("UPDATE recipients SET public_jwk = ? WHERE name = 'gw'", [evil], "UPDATE recipients SET public_jwk = ? WHERE name = 'gw'", [original],
      async () => { await rejectsWith(svc.call('recipient.list', {}), 'INTEGRITY'); });
  });

  it('a recipient\'s services widened (verifies another service), or its holds widened to get secrets', async () => {
    await tampered("UPDATE recipients SET verifies = '[\"internal\",\"payments\"]' WHERE name = 'gw'", [], "UPDATE recipients SET verifies = '[\"payments\"]' WHERE name = 'gw'", []);
    await tampered("UPDATE recipients SET holds = '[\"payments\"]' WHERE name = 'gw'", [], "UPDATE recipients SET holds = '[]' WHERE name = 'gw'", []);
  });

  it('a recipient\'s sequence rolled back (to make the next bundle fork)', async () => {
    await tampered("UPDATE recipients SET sequence = 1 WHERE name = 'gw'", [], "UPDATE recipients SET sequence = 2 WHERE name = 'gw'", []);
  });

  it('a "sent" record changed from issue to revoke, and the signing threshold edited', async () => {
    let item = { key_id: '', version: 0 };
    svc.close();
    rawSql(vaultPath, (db) => { item = db.prepare("SELECT key_id, version FROM bundle_items WHERE kind = 'issue' ORDER BY key_id LIMIT 1").get() as typeof item; });
    await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
    await tampered("UPDATE bundle_items SET kind = 'revoke' WHERE key_id = ? AND version = ? AND kind = 'issue'", [item.key_id, item.version],
      "UPDATE bundle_items SET kind = 'issue' WHERE key_id = ? AND version = ? AND kind = 'revoke'", [item.key_id, item.version]);
    svc.close();
    rawSql(vaultPath, (db) => db.prepare("INSERT INTO settings (name, value, mac) VALUES ('signer.threshold', '1', x'00')").run());
    await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
    try {
      await rejectsWith(svc.call('bundle.export', { recipient: 'gw', out: path.join(outDir, 't.json') }), 'INTEGRITY');
    } finally {
      svc.close();
      rawSql(vaultPath, (db) => db.prepare("DELETE FROM settings WHERE name = 'signer.threshold'").run());
      await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
    }
  });

  it('a signer\'s public key swapped', async () => {
    let row = { kid: '', public_jwk: '' };
    svc.close();
    rawSql(vaultPath, (db) => { row = db.prepare("SELECT kid, public_jwk FROM signers WHERE token_label = 'card'").get() as typeof row; });
    await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
    const other = JSON.stringify({ ...JSON.parse(row.public_jwk), x: 'AAAA' });
    await tampered('UPDATE signers SET public_jwk = ? WHERE kid = ?', [other, row.kid], 'UPDATE signers SET public_jwk = ? WHERE kid = ?', [row.public_jwk, row.kid]);
  });

  it('with every row put back, export works again (sequence 3)', async () => {
    const rep = await svc.call('bundle.export', { recipient: 'gw', out: path.join(outDir, 'third.json') });
    expect(rep.sequence).toBe(3);
    expect(readBundle(rep.path).payload.changes).toEqual([]);
    expect((await svc.call('audit.verify', {})).ok).toBe(true);
  });
});

describe('recipient add refuses bad input', () => {
  it('a private JWK (with "d"), no service at all, a signing key, a duplicate name or key', async () => {
    const pair = await generateRecipientKey('P-256');
    await rejectsWith(svc.call('recipient.add', { name: 'priv', publicKey: pair.privateJwk, verifies: ['payments'] }), 'INVALID_INPUT');
    await rejectsWith(svc.call('recipient.add', { name: 'none', publicKey: pair.publicJwk }), 'INVALID_INPUT');
    await rejectsWith(svc.call('recipient.add', { name: 'none', publicKey: pair.publicJwk, verifies: [], holds: [] }), 'INVALID_INPUT');
    const ed = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
    await rejectsWith(svc.call('recipient.add', { name: 'ed', publicKey: ed, verifies: ['payments'] }), 'INVALID_INPUT');
    await rejectsWith(svc.call('recipient.add', { name: 'gw', publicKey: pair.publicJwk, verifies: ['payments'] }), 'RECIPIENT_EXISTS');
    await rejectsWith(svc.call('recipient.add', { name: 'gw2', publicKey: gw.publicJwk, verifies: ['payments'] }), 'RECIPIENT_EXISTS');
    expect((await svc.call('recipient.list', {})).map((r) => r.name)).toEqual(['gw']);
    // The private key's "d" is never stored or echoed.
    const e = await rejectsWith(svc.call('recipient.add', { name: 'priv', publicKey: pair.privateJwk, holds: ['x'] }), 'INVALID_INPUT');
    expect(`${e.message} ${e.hint ?? ''}`).not.toContain(String(pair.privateJwk.d));
  });
});

describe('two exports at once (a double click)', () => {
  it('to one recipient: one bundle is recorded, the other fails cleanly with nothing left behind; to two recipients: both succeed', async () => {
    await svc.call('key.create', { name: 'pay3', service: 'payments' });
    const dir = path.join(tmp.dir, 'twice');
    fs.mkdirSync(dir);
    const before = (await svc.call('recipient.list', {})).find((r) => r.name === 'gw')!;
    const results = await Promise.allSettled([1, 2].map((i) => svc.call('bundle.export', { recipient: 'gw', out: path.join(dir, `b${i}.json`) })));
    const done = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(done).toHaveLength(1);
    expect(failed).toHaveLength(1);
    // A clear error that says what happened (not a raw SQLite constraint error, not "altered vault").
    expect(failed[0]!.reason).toBeInstanceOf(KeyholdError);
    expect((failed[0]!.reason as KeyholdError).code).toBe('VAULT_IN_USE');
    const after = (await svc.call('recipient.list', {})).find((r) => r.name === 'gw')!;
    expect(after.sequence).toBe(before.sequence + 1);
    expect(filesIn(dir)).toHaveLength(1);
    expect((await svc.call('audit.verify', {})).ok).toBe(true);
    const other = await addRecipient(svc, 'gw-b', { verifies: ['payments'] });
    const both = await Promise.all(['gw', other.name].map((name) => svc.call('bundle.export', { recipient: name, out: path.join(dir, `${name}.json`) })));
    expect(both.map((r) => r.sequence)).toEqual([after.sequence + 1, 1]);
  });
});

describe('signer add refuses', () => {
  it('a token keyslot key (derive only, it must never sign), the same key twice, a missing key, a threshold above the signers', async () => {
    await svc.call('slot.addToken', { token: 'card', keyLabel: 'vault-unlock', pin: PIN });
    await rejectsWith(svc.call('signer.add', { token: 'card', keyLabel: 'vault-unlock' }), 'TOKEN_UNSUPPORTED');
    await rejectsWith(svc.call('signer.add', { token: 'card', keyLabel: 'sig-card' }), 'SIGNER_EXISTS');
    await rejectsWith(svc.call('signer.add', { token: 'card', keyLabel: 'no-such-key' }), 'TOKEN_KEY_NOT_FOUND');
    const list = await svc.call('signer.list', {});
    expect(list.threshold).toBe(1);
    expect(list.signers.map((s) => s.token).sort()).toEqual(['card', 'gone']);
    await rejectsWith(svc.call('signer.threshold', { threshold: 3 }), 'INVALID_INPUT');
    expect((await svc.call('signer.list', {})).threshold).toBe(1);
  });
});
