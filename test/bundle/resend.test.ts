/**
 * A bundle file is never overwritten, and a lost one is written again from
 * the vault's record (`bundle resend`): the very same bundle, countersignatures
 * included, never a new one with the next sequence.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyholdService } from '../../electron/core/service.js';
import type { SoftHsm } from '../helpers/softhsm.js';
import type { TmpDir } from '../helpers/tmp.js';
import { closeTokenVault, openTokenVault } from '../helpers/token-vault.js';
import { rejectsWith } from '../token/helpers.js';
import { addRecipient, addTokenSigner, filesIn, PASSPHRASE, pinProvider, snapshot } from './helpers.js';

let hsm: SoftHsm;
let tmp: TmpDir;
let svc: KeyholdService;
let vaultPath: string;

beforeAll(async () => {
  ({ hsm, tmp, svc, vaultPath } = await openTokenVault({
    tokens: [{ label: 'one' }, { label: 'two' }],
    tmpPrefix: 'keyhold-bundle-resend-',
    passphrase: PASSPHRASE,
    service: (h) => ({ tokens: { module: h.module }, askPin: pinProvider() }),
  }));
  await addRecipient(svc, 'gw', { verifies: ['payments'] });
  await svc.call('key.create', { name: 'pay', service: 'payments' });
  await addTokenSigner(svc, 'one', 'sig-one', 'ES256');
});

afterAll(() => closeTokenVault({ svc, hsm, tmp }));

describe('bundle files', () => {
  it('an existing file is never overwritten: FILE_EXISTS before any token work, nothing changed', async () => {
    const out = path.join(tmp.dir, 'b1.json');
    fs.writeFileSync(out, 'an earlier bundle not yet carried');
    const before = await snapshot(svc, vaultPath);
    const e = await rejectsWith(svc.call('bundle.export', { recipient: 'gw', out }), 'FILE_EXISTS');
    expect(e.message).toContain('already exists');
    expect(fs.readFileSync(out, 'utf8')).toBe('an earlier bundle not yet carried');
    expect(await snapshot(svc, vaultPath)).toEqual(before);
    fs.rmSync(out);
  });

  it('resend writes the recorded bundle again, byte for byte, and a countersignature is kept in the record', async () => {
    const first = await svc.call('bundle.export', { recipient: 'gw', out: path.join(tmp.dir, 'b1.json') });
    const original = fs.readFileSync(first.path, 'utf8');
    const again = await svc.call('bundle.resend', { recipient: 'gw', out: path.join(tmp.dir, 'b1-again.json') });
    expect(again).toMatchObject({ sequence: 1, hash: first.hash });
    expect(fs.readFileSync(again.path, 'utf8')).toBe(original);

    // A second signer countersigns the file: the vault's copy gains the signature too.
    await addTokenSigner(svc, 'two', 'sig-two', 'ES256');
    const signed = await svc.call('bundle.sign', { file: first.path, token: 'two' });
    expect(signed.signatures).toHaveLength(2);
    const third = await svc.call('bundle.resend', { recipient: 'gw', out: path.join(tmp.dir, 'b1-signed.json'), sequence: 1 });
    expect(fs.readFileSync(third.path, 'utf8')).toBe(fs.readFileSync(first.path, 'utf8'));
    expect(third.hash).toBe(first.hash);

    // Resending changed no sequence: the next export is bundle 2, chained to bundle 1.
    await svc.call('key.create', { name: 'pay2', service: 'payments' });
    const second = await svc.call('bundle.export', { recipient: 'gw', out: path.join(tmp.dir, 'b2.json') });
    expect(second.sequence).toBe(2);
    const audit = await svc.call('audit.list', { action: 'bundle.resend' });
    expect(audit.entries.map((x) => x.details.sequence)).toEqual([1, 1]);
  });

  it('resend of a sequence never exported, or to an existing file, is refused and writes nothing', async () => {
    const files = filesIn(tmp.dir);
    const e = await rejectsWith(svc.call('bundle.resend', { recipient: 'gw', out: path.join(tmp.dir, 'x.json'), sequence: 9 }), 'BUNDLE_NOT_FOUND');
    expect(e.message).toBe('bundle: gw has no bundle 9');
    await rejectsWith(svc.call('bundle.resend', { recipient: 'gw', out: path.join(tmp.dir, 'b2.json') }), 'FILE_EXISTS');
    expect(filesIn(tmp.dir)).toEqual(files);
  });

  it('resend to a recipient with no bundle yet is NOTHING_EXPORTED, to an unknown one RECIPIENT_NOT_FOUND (both were KEY_NOT_FOUND, a key code)', async () => {
    await addRecipient(svc, 'fresh', { verifies: ['payments'] });
    const files = filesIn(tmp.dir);
    const e = await rejectsWith(svc.call('bundle.resend', { recipient: 'fresh', out: path.join(tmp.dir, 'y.json') }), 'NOTHING_EXPORTED');
    expect(e.message).toBe('bundle: nothing was exported to fresh yet');
    const n = await rejectsWith(svc.call('bundle.resend', { recipient: 'nobody', out: path.join(tmp.dir, 'y.json') }), 'RECIPIENT_NOT_FOUND');
    expect(n.message).toBe('bundle: no recipient named nobody');
    expect(filesIn(tmp.dir)).toEqual(files);
  });
});
