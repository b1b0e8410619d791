/**
 * A PIN is for one token (issue 15, P1). With signers on two real SoftHSM2
 * tokens whose PINs differ, a PIN given without a prompt (KEYHOLD_PIN, a
 * command's `pin`) is bound to one token before any C_Login: the token
 * `--token` names, or the only one the command can log in to; when it could
 * be several, TOKEN_AMBIGUOUS, and no token spends a try. The tokens' PIN
 * flags are read by OpenSC's pkcs11-tool in its own process: a wrong PIN
 * leaves SoftHSM2's CKF_USER_PIN_COUNT_LOW set until the next good login.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import type { PinProvider } from '../../electron/core/token/token.js';
import { keyhold, keyholdOnTty, type Run } from '../cli/run.js';
import type { SoftHsm } from '../helpers/softhsm.js';
import type { TmpDir } from '../helpers/tmp.js';
import { closeTokenVault, openTokenVault } from '../helpers/token-vault.js';
import { addRecipient, PASSPHRASE } from '../bundle/helpers.js';
import { pkcs11Tool, rejectsWith } from './helpers.js';

type Card = { label: string; pin: string; serial: string; kid: string };

let hsm: SoftHsm;
let tmp: TmpDir;
let svc: KeyholdService;
let vaultPath: string;
/** The two signers' tokens, in the signers' kid order: `first` is the one the old "first login" rule picked. */
let first: Card;
let second: Card;
let n = 0;

const out = (): string => path.join(tmp.dir, `out-${++n}.json`);

/** The token's flags as pkcs11-tool (a separate process) reads them. */
function flagsOf(label: string): string {
  const text = pkcs11Tool(hsm.module, hsm.env, ['-L']);
  const block = text.split(/^Slot /m).find((b) => new RegExp(`token label\\s*:\\s*${label}\\s*$`, 'm').test(b));
  if (!block) throw new Error(`no token ${label} in pkcs11-tool -L`);
  return /token flags\s*:\s*(.*)$/m.exec(block)?.[1] ?? '';
}

function countLow(label: string): boolean {
  return flagsOf(label).includes('count low');
}

function cli(args: string[], extra: Record<string, string> = {}): Run {
  const r = keyhold(['--json', ...args], hsm.cliEnv({ KEYHOLD_VAULT: vaultPath, KEYHOLD_PASSPHRASE: PASSPHRASE, ...extra }));
  for (const s of [r.stdout, r.stderr]) {
    for (const secret of [first.pin, second.pin, PASSPHRASE]) expect(s.includes(secret), 'no PIN or passphrase in the output').toBe(false);
  }
  return r;
}

function errorOf(r: Run): { code: string; message: string; hint?: string } {
  return (JSON.parse(r.stdout) as { error: { code: string; message: string; hint?: string } }).error;
}

/** Runs fn with the vault locked in this process (a CLI process needs the file to itself). */
async function locked<T>(fn: () => Promise<T> | T): Promise<T> {
  await svc.call('vault.lock', {});
  try {
    return await fn();
  } finally {
    await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
  }
}

beforeAll(async () => {
  ({ hsm, tmp, svc, vaultPath } = await openTokenVault({
    tokens: [{ label: 'tok-a', pin: '111111' }, { label: 'tok-b', pin: '222222' }],
    tmpPrefix: 'keyhold-pin-binding-',
    passphrase: PASSPHRASE,
  }));
  const cards: Card[] = [];
  for (const [label, pin] of [['tok-a', '111111'], ['tok-b', '222222']] as const) {
    const k = await svc.call('token.keygen', { token: label, label: 'signer', alg: 'ES256', pin });
    await svc.call('signer.add', { token: label, keyLabel: 'signer' });
    cards.push({ label, pin, serial: hsm.serial(label), kid: k.kid ?? '' });
  }
  cards.sort((x, y) => (x.kid < y.kid ? -1 : 1));
  [first, second] = cards as [Card, Card];
  await addRecipient(svc, 'r1', { verifies: ['svc1'] });
  await svc.call('key.create', { name: 'one', service: 'svc1' });
  await svc.shutdown();
  svc = new KeyholdService({ tokens: { module: hsm.module } });
  await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
}, 120_000);

afterAll(() => closeTokenVault({ svc, hsm, tmp }));

describe('a PIN given is tried on the token it is for, and on no other', () => {
  it('KEYHOLD_PIN of one token, signers on two, no --token: trust export and bundle export refuse with TOKEN_AMBIGUOUS before any login; neither token spends a try', async () => {
    expect([countLow(first.label), countLow(second.label)]).toEqual([false, false]);
    await locked(() => {
      for (const args of [['trust', 'export', '--out', out()], ['bundle', 'export', '--recipient', 'r1', '--out', out()]]) {
        const r = cli(args, { KEYHOLD_PIN: second.pin });
        expect(r.code, r.stderr).toBe(2);
        const e = errorOf(r);
        expect(e.code).toBe('TOKEN_AMBIGUOUS');
        expect(e.message).toContain(first.serial);
        expect(e.message).toContain(second.serial);
        expect(e.hint).toContain('--token');
        expect(fs.existsSync(args.at(-1)!)).toBe(false);
      }
    });
    // The token the old rule logged in to with the other token's PIN: no wrong PIN was tried on it.
    expect(countLow(first.label)).toBe(false);
    expect(countLow(second.label)).toBe(false);
  });

  it('with --token naming the PIN\'s token, only that token is logged in to: trust export signed by its signer alone, the other token untouched', async () => {
    const file = out();
    const r = await locked(() => cli(['trust', 'export', '--out', file, '--token', second.label], { KEYHOLD_PIN: second.pin }));
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ signatures: [second.kid], threshold: 1 });
    expect(countLow(first.label)).toBe(false);
    // By serial too, for a bundle: signed on that token only.
    const b = await locked(() => cli(['bundle', 'export', '--recipient', 'r1', '--out', out(), '--token', second.serial], { KEYHOLD_PIN: second.pin }));
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ signatures: [second.kid] });
    expect(countLow(first.label)).toBe(false);
  });

  it('a PIN bound to one token (the unlock token) is never offered to the other: the other signer\'s login fails NOT_INTERACTIVE naming both tokens, its flags unchanged', async () => {
    await svc.call('slot.addToken', { token: second.label, keyLabel: 'unlock', pin: second.pin });
    await svc.call('key.create', { name: 'two', service: 'svc1' });
    const file = out();
    const r = await locked(() => cli(['--unlock', 'token', 'bundle', 'export', '--recipient', 'r1', '--out', file], { KEYHOLD_PIN: second.pin }));
    expect(r.code, r.stderr).toBe(2);
    const e = errorOf(r);
    expect(e.code).toBe('NOT_INTERACTIVE');
    expect(e.message).toContain(`'${first.label}' (serial ${first.serial})`);
    expect(e.hint).toContain(`'${second.label}' (serial ${second.serial})`);
    expect(fs.existsSync(file)).toBe(false);
    expect(countLow(first.label)).toBe(false);
  });

  it('on a terminal with no PIN given, each prompt names its token by label and serial, and each token gets its own PIN', async () => {
    const file = out();
    const prompt = (c: Card) => `PIN for token '${c.label}' (serial ${c.serial})`;
    const r = await locked(() => keyholdOnTty(['trust', 'export', '--out', file],
      [{ prompt: prompt(first), reply: first.pin }, { prompt: prompt(second), reply: second.pin }],
      hsm.cliEnv({ KEYHOLD_VAULT: vaultPath, KEYHOLD_PASSPHRASE: PASSPHRASE })));
    expect(r.code, r.stdout.slice(-400)).toBe(0);
    expect(r.stdout).toContain(`${prompt(first)} (to sign trust root version`);
    expect(r.stdout).toContain(`${prompt(second)} (to sign trust root version`);
    expect(r.stdout.includes(first.pin) || r.stdout.includes(second.pin)).toBe(false);
    expect(fs.existsSync(file)).toBe(true);
  });

  it('service: a command\'s pin with two candidate tokens is TOKEN_AMBIGUOUS and nobody is asked; with token it goes to that token only', async () => {
    const ask = vi.fn<PinProvider>(() => Promise.resolve(first.pin));
    const s = new KeyholdService({ tokens: { module: hsm.module }, askPin: ask });
    try {
      svc.close();
      await s.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
      await rejectsWith(s.call('trust.export', { out: out(), pin: second.pin }), 'TOKEN_AMBIGUOUS');
      await rejectsWith(s.call('token.keys', { login: true, pin: second.pin }), 'TOKEN_AMBIGUOUS');
      expect(ask).not.toHaveBeenCalled();
      const t = await s.call('trust.export', { out: out(), pin: second.pin, token: second.label });
      expect(t.signatures).toEqual([second.kid]);
      expect(ask).not.toHaveBeenCalled();
      // One token the command can log in to: the PIN needs no --token.
      const keys = await s.call('token.keys', { token: second.label, login: true, pin: second.pin });
      expect(keys.map((k) => k.token.label)).toEqual([second.label]);
      // bundle sign: the only token that has not signed yet is derived from the registered signers.
      await s.call('key.create', { name: 'three', service: 'svc1' });
      const file = out();
      expect((await s.call('bundle.export', { recipient: 'r1', out: file, pin: second.pin, token: second.label })).signatures).toEqual([second.kid]);
      expect(await s.call('bundle.sign', { file, pin: first.pin })).toMatchObject({ kid: first.kid, signatures: [second.kid, first.kid] });
      expect(ask).not.toHaveBeenCalled();
    } finally {
      await s.shutdown();
      await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
    }
    expect(countLow(first.label)).toBe(false);
  });

  it('unlock by token: keyslots on both tokens and a PIN given is TOKEN_AMBIGUOUS (no login); --unlock-token picks one; a PIN is derived when only one token has a keyslot', async () => {
    // The vault has a keyslot on `second` (test above); a copy with only that keyslot unlocks with the PIN alone.
    await svc.call('vault.lock', {});
    const onlySecond = path.join(tmp.dir, 'only-second.db');
    for (const ext of ['', '-wal']) if (fs.existsSync(vaultPath + ext)) fs.copyFileSync(vaultPath + ext, onlySecond + ext);
    await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
    await svc.call('slot.addToken', { token: first.label, keyLabel: 'unlock', pin: first.pin });
    const r = await locked(() => cli(['--unlock', 'token', 'info'], { KEYHOLD_PIN: second.pin }));
    expect(r.code, r.stderr).toBe(2);
    expect(errorOf(r)).toMatchObject({ code: 'TOKEN_AMBIGUOUS' });
    expect(errorOf(r).hint).toContain('--unlock-token');
    expect(countLow(first.label)).toBe(false);
    const named = await locked(() => cli(['--unlock', 'token', '--unlock-token', second.label, 'info'], { KEYHOLD_PIN: second.pin }));
    expect(named.code, named.stderr).toBe(0);
    // The copy is older than the vault's record on `second` (its rollback anchor, moved on by the unlock above): opened with the override.
    const derived = cli(['--vault', onlySecond, '--unlock', 'token', '--accept-rollback', 'a copy made for this test', 'info'], { KEYHOLD_PIN: second.pin });
    expect(derived.code, derived.stderr).toBe(0);
    expect([countLow(first.label), countLow(second.label)]).toEqual([false, false]);
  });
});
