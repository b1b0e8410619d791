/**
 * The CLI acceptance of the token work, as a user runs it (child processes,
 * SoftHSM2 tokens in a temporary folder), and pkcs11-spy (OpenSC) between
 * Keyhold and SoftHSM2 to see every PKCS#11 call a user action makes.
 *
 * The spy log holds the PIN in clear (it dumps C_Login's arguments): it stays
 * in the temporary folder, is never printed, and is compared byte-wise only.
 */
import { calculateJwkThumbprint } from 'jose';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyslotInfo, TokenInfo, VaultInfo } from '../../shared/contract.js';
import { KeyholdService } from '../../electron/core/service.js';
import { BIN, cleanEnv, ROOT, type Run } from '../cli/run.js';
import { setupSoftHsm, spyModulePath, type SoftHsm } from '../helpers/softhsm.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { closeTokenVault } from '../helpers/token-vault.js';

const PIN = '739182';
const WRONG_PIN = '000111';
const PASSPHRASE = 'cli token test passphrase';

let hsm: SoftHsm;
let tmp: TmpDir;
let vault: string;
let spy: string;
const runs: Run[] = [];

/** Runs keyhold as a child process (asynchronously, so independent runs overlap). */
function keyhold(args: string[], env: Record<string, string | undefined>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv({ ...hsm.env, ...env }), cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const r = { code: code ?? -1, stdout, stderr };
      runs.push(r);
      resolve(r);
    });
  });
}

type SpyCall = { name: string; text: string };

/** The calls in a pkcs11-spy log, in order (each with its logged arguments and return value). */
function spyCalls(file: string): SpyCall[] {
  const log = fs.readFileSync(file, 'utf8');
  const out: SpyCall[] = [];
  const re = /^\d+: (C_\w+)$/gm;
  const starts: { name: string; at: number }[] = [];
  for (let m = re.exec(log); m; m = re.exec(log)) starts.push({ name: m[1]!, at: m.index });
  starts.forEach((s, i) => out.push({ name: s.name, text: log.slice(s.at, starts[i + 1]?.at ?? log.length) }));
  return out;
}

/** The PIN bytes of a logged C_Login (from the spy's hex dump). */
function loggedPin(call: SpyCall): Buffer {
  const lines = call.text.split('\n');
  const i = lines.findIndex((l) => l.includes('pPin[ulPinLen]'));
  const len = Number(/\/ (\d+)/.exec(lines[i] ?? '')?.[1] ?? -1);
  const bytes: number[] = [];
  for (const l of lines.slice(i + 1)) {
    const m = /^\s+[0-9a-f]{8}\s+((?:[0-9a-f]{2} )+)/i.exec(l);
    if (!m) break;
    bytes.push(...m[1]!.trim().split(/\s+/).map((h) => parseInt(h, 16)));
  }
  return Buffer.from(bytes.slice(0, len));
}

let keygen: Run;
let list: Run;
let missing: Run;
let addToken: Run;
let unlockOk: Run;
let unlockWrong: Run;
const missingModule = '/nonexistent/keyhold/no-such-pkcs11.so';

beforeAll(async () => {
  // Two tokens: SoftHSM2's file store is not safe for several processes writing one token at once
  // (measured: empty CKA_EC_POINT, CKR_OBJECT_HANDLE_INVALID, once a crash), so parallel runs write different tokens.
  hsm = setupSoftHsm([{ label: 'clicard', pin: PIN }, { label: 'clivault', pin: PIN }]);
  tmp = makeTmpDir('keyhold-token-cli-');
  spy = spyModulePath();
  vault = path.join(tmp.dir, 'vault.db');
  // The vault is made in-process (one fast Argon2id); this process never opens the PKCS#11 module.
  const svc = new KeyholdService();
  await svc.call('vault.create', { path: vault, passphrase: PASSPHRASE, kdf: FAST_KDF });
  await svc.shutdown();

  const env = { KEYHOLD_PKCS11_MODULE: hsm.module, KEYHOLD_PIN: PIN };
  // Independent runs overlap: a CLI start costs seconds on a busy machine.
  [keygen, list, missing, addToken] = await Promise.all([
    keyhold(['token', 'keygen', '--token', 'clicard', '--label', 'cli-signer', '--alg', 'ES256', '--json'], env),
    keyhold(['token', 'list', '--json'], { KEYHOLD_PKCS11_MODULE: hsm.module }),
    keyhold(['--module', missingModule, 'token', 'list'], {}),
    keyhold(['--vault', vault, 'slot', 'add-token', '--token', 'clivault', '--label', 'cli-unlock', '--json'], { ...env, KEYHOLD_PASSPHRASE: PASSPHRASE }),
  ]);
  const viaSpy = (pin: string, log: string, json: string[]) => keyhold(['--vault', vault, '--module', spy, '--unlock', 'token', 'info', ...json],
    { KEYHOLD_PIN: pin, PKCS11SPY: hsm.module, PKCS11SPY_OUTPUT: path.join(tmp.dir, log) });
  // One after the other: an open vault is locked against other processes.
  unlockOk = await viaSpy(PIN, 'spy-ok.log', ['--json']);
  unlockWrong = await viaSpy(WRONG_PIN, 'spy-wrong.log', []);
}, 120_000);

afterAll(() => closeTokenVault({ hsm, tmp }));

describe('keyhold token CLI (SoftHSM2)', () => {
  it('token keygen --json prints the public JWK and its RFC 7638 key id', async () => {
    expect(keygen.code, keygen.stderr).toBe(0);
    const k = JSON.parse(keygen.stdout) as { label: string; id: string; alg: string; jwk: { kty: string; crv: string; x: string; y: string }; kid: string; token: TokenInfo };
    expect(k).toMatchObject({ label: 'cli-signer', alg: 'ES256', canSign: true, hasPrivateKey: true, token: { label: 'clicard', serial: hsm.serial('clicard') } });
    expect(k.jwk).toMatchObject({ kty: 'EC', crv: 'P-256' });
    expect(Buffer.from(k.jwk.x, 'base64url')).toHaveLength(32);
    expect(k.kid).toBe(await calculateJwkThumbprint(k.jwk, 'sha256'));
  });

  it('token list --json lists the token with its serial, flags and mechanisms, and the free slot uninitialised', () => {
    expect(list.code, list.stderr).toBe(0);
    const tokens = (JSON.parse(list.stdout) as { tokens: TokenInfo[] }).tokens;
    const card = tokens.find((t) => t.label === 'clicard');
    expect(card).toMatchObject({ serial: hsm.serial('clicard'), manufacturer: 'SoftHSM project', flags: { initialized: true, loginRequired: true } });
    expect(card!.mechanisms).toEqual(expect.arrayContaining(['ECDSA', 'ECDH', 'EdDSA']));
    expect(tokens.some((t) => !t.flags.initialized)).toBe(true);
  });

  it('--module naming no file exits 8 with the path in the message', () => {
    expect(missing.code).toBe(8);
    expect(missing.stderr).toContain(missingModule);
    expect(missing.stdout).toBe('');
  });

  it('slot add-token then --unlock token with KEYHOLD_PIN opens the vault', () => {
    expect(addToken.code, addToken.stderr).toBe(0);
    const slot = JSON.parse(addToken.stdout) as KeyslotInfo;
    expect(slot).toMatchObject({ type: 'token', params: { token: 'clivault', keyLabel: 'cli-unlock', method: 'ecdh-p256', serial: hsm.serial('clivault') } });
    expect(unlockOk.code, unlockOk.stderr).toBe(0);
    const info = JSON.parse(unlockOk.stdout) as VaultInfo;
    expect(info.keyslots.map((s) => s.type)).toEqual(['passphrase', 'token']);
    expect(info.keyslots[1]!.id).toBe(slot.id);
  });

  it('a wrong PIN exits 3 with the remaining-tries state on stderr, and nothing else', () => {
    expect(unlockWrong.code).toBe(3);
    expect(unlockWrong.stderr).toContain("wrong PIN for 'clivault'");
    expect(unlockWrong.stderr).toMatch(/tries left|one try left|locked/);
    expect(unlockWrong.stdout).toBe('');
  });

  it('pkcs11-spy: C_Initialize gets CKF_OS_LOCKING_OK (flags 0x2); one unlock makes exactly one C_Login, with the PIN given (right: CKR_OK, wrong: CKR_PIN_INCORRECT), never another', () => {
    for (const [log, pin, result] of [['spy-ok.log', PIN, 'CKR_OK'], ['spy-wrong.log', WRONG_PIN, 'CKR_PIN_INCORRECT']] as const) {
      const calls = spyCalls(path.join(tmp.dir, log));
      const init = calls.filter((c) => c.name === 'C_Initialize');
      expect(init).toHaveLength(1);
      expect(init[0]!.text).toMatch(/flags: 2\s+CKF_OS_LOCKING_OK/);
      const logins = calls.filter((c) => c.name === 'C_Login');
      expect(logins, log).toHaveLength(1);
      expect(logins[0]!.text).toContain('CKU_USER');
      expect(logins[0]!.text).toMatch(new RegExp(`Returned:\\s+\\d+ ${result}\\b`));
      // Compared, never printed: the log holds the PIN.
      expect(loggedPin(logins[0]!).equals(Buffer.from(pin)), `${log}: the PIN logged is the one given`).toBe(true);
      // The flags were read before the login (PIN state shown first).
      expect(calls.findIndex((c) => c.name === 'C_GetTokenInfo')).toBeLessThan(calls.indexOf(logins[0]!));
      // Clean teardown: logout (when logged in), session closed, module finalised.
      expect(calls.at(-1)!.name).toBe('C_Finalize');
    }
  });

  it('no output of any run carries the PIN or the passphrase', () => {
    expect(runs.length).toBe(6);
    for (const r of runs) {
      for (const secret of [PIN, WRONG_PIN, PASSPHRASE]) {
        expect(r.stdout.includes(secret) || r.stderr.includes(secret)).toBe(false);
      }
    }
  });
});
