/**
 * Dual control of a command whose input main rewrites: recipient.add takes a
 * key file chosen in a dialog (a handle), which the router reads into the
 * public key the core sees. An approval asked for through the router must
 * carry the same public key, so that the parameters hash the approver sees is
 * the one the call matches; asking must not spend the handle the call then
 * uses, and an approval for another key file must not let the call through.
 */
import fs from 'node:fs';
import path from 'node:path';
import { generateRecipientKey } from 'keyhold-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import type { Result } from '../../shared/contract.js';
import { makeTestRouter, TEST_SENDER, type TestRouter } from '../helpers/router.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';

const ALICE = 'alice keeps amber lanterns over seven bridges';
const DAVE = 'dave guards quiet copper bridges twice';

let tmp: TmpDir;
let t: TestRouter;
let keyFile = '';
let otherKeyFile = '';

async function ok<T>(p: Promise<Result<unknown>>): Promise<T> {
  const r = await p;
  if (!r.ok) throw new Error(`expected success, got ${r.error.code}: ${r.error.message}`);
  return r.value as T;
}

async function err(p: Promise<Result<unknown>>): Promise<{ code: string; message: string }> {
  const r = await p;
  if (r.ok) throw new Error('expected an error');
  return r.error;
}

async function choose(file: string): Promise<string> {
  t.dialogs.answers.push(file);
  return (await ok<{ handle: string }>(t.router.handle('dialog.open', TEST_SENDER, { purpose: 'public-key' }))).handle;
}

beforeAll(async () => {
  tmp = makeTmpDir('keyhold-e2e-approval-router-');
  const vaultPath = path.join(tmp.dir, 'vault.db');
  const svc = new KeyholdService({ actor: 'alice' });
  try {
    await svc.call('vault.create', { path: vaultPath, passphrase: ALICE, kdf: FAST_KDF });
    await svc.call('operator.add', { name: 'dave', roles: ['custodian'], passphrase: DAVE });
  } finally {
    svc.close();
  }
  keyFile = path.join(tmp.dir, 'server.pub.jwk');
  otherKeyFile = path.join(tmp.dir, 'other.pub.jwk');
  fs.writeFileSync(keyFile, JSON.stringify((await generateRecipientKey('X25519')).publicJwk));
  fs.writeFileSync(otherKeyFile, JSON.stringify((await generateRecipientKey('X25519')).publicJwk));
  t = makeTestRouter({ vaultPath });
  await ok(t.router.handle('vault.unlock', TEST_SENDER, { passphrase: ALICE }));
  await ok(t.router.handle('operator.signIn', TEST_SENDER, { name: 'alice', passphrase: ALICE }));
  // recipient.add is not dual-controlled by default: a security officer adds it (the rule change itself is, by dave).
  const rules = await ok<{ commands: string[] }>(t.router.handle('dualControl.show', TEST_SENDER, {}));
  const change = { commands: [...rules.commands, 'recipient.add'] };
  const a = await ok<{ id: string }>(t.router.handle('approval.request', TEST_SENDER, { command: 'dualControl.set', input: change }));
  await ok(t.router.handle('approval.grant', TEST_SENDER, { id: a.id, name: 'dave', passphrase: DAVE }));
  await ok(t.router.handle('dualControl.set', TEST_SENDER, change));
}, 60_000);

afterAll(() => {
  t?.router.dispose();
  tmp?.remove();
});

describe('an approval of recipient.add asked for from the app', () => {
  it('is refused without an approval, and an approval for another key file does not let it through', async () => {
    const input = { name: 'gateway', publicKeyFile: await choose(keyFile), verifies: ['payments'], holds: [] };
    expect((await err(t.router.handle('recipient.add', TEST_SENDER, input))).code).toBe('DUAL_CONTROL_REQUIRED');
    const other = { ...input, publicKeyFile: await choose(otherKeyFile) };
    const a = await ok<{ id: string }>(t.router.handle('approval.request', TEST_SENDER, { command: 'recipient.add', input: other }));
    await ok(t.router.handle('approval.grant', TEST_SENDER, { id: a.id, name: 'dave', passphrase: DAVE }));
    expect((await err(t.router.handle('recipient.add', TEST_SENDER, input))).code).toBe('DUAL_CONTROL_REQUIRED');
    expect(await ok<unknown[]>(t.router.handle('recipient.list', TEST_SENDER, {}))).toEqual([]);
  });

  it('hashes the key read from the chosen file, so the approved call runs with the same handle', async () => {
    const input = { name: 'gateway', publicKeyFile: await choose(keyFile), verifies: ['payments'], holds: [] };
    const a = await ok<{ id: string; summary: string[] }>(t.router.handle('approval.request', TEST_SENDER, { command: 'recipient.add', input }));
    await ok(t.router.handle('approval.grant', TEST_SENDER, { id: a.id, name: 'dave', passphrase: DAVE }));
    const added = await ok<{ name: string }>(t.router.handle('recipient.add', TEST_SENDER, input));
    expect(added.name).toBe('gateway');
    // Used once: the handle is spent by the call, and the approval by its use.
    expect((await err(t.router.handle('recipient.add', TEST_SENDER, { ...input, name: 'gateway-2' }))).code).toBe('INVALID_INPUT');
    const entries = await ok<{ entries: { action: string; actor: string; details: Record<string, unknown> }[] }>(
      t.router.handle('audit.list', TEST_SENDER, { action: 'recipient.add' }));
    expect(entries.entries.map((e) => [e.actor, e.details.approvedBy])).toEqual([['alice', 'dave']]);
  });
});
