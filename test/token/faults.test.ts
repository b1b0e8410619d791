/**
 * Paths SoftHSM2 cannot be brought to by itself (it never locks a PIN, and a
 * token cannot be pulled out of it mid-call), tested through a thin
 * fault-injecting layer over the REAL pkcs11js module and SoftHSM2 token
 * (fault-driver.ts): PIN flags ORed into C_GetTokenInfo, and CKR_* errors
 * injected at every PKCS#11 call of an operation. Every test name says so.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import path from 'node:path';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import type { Token, PinProvider } from '../../electron/core/token/token.js';
import { KeyholdError } from '../../shared/errors.js';
import { setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { closeTokenVault } from '../helpers/token-vault.js';
import { FaultInjector, type Fault, type Injected } from './fault-driver.js';
import { rejectsWith, verifiesWithNode } from './helpers.js';

const PIN = '123456';
const PASSPHRASE = 'fault test passphrase';

let hsm: SoftHsm;
let tmp: TmpDir;
const inj = new FaultInjector();
let svc: KeyholdService;

beforeAll(() => {
  hsm = setupSoftHsm([{ label: 'card' }]);
  tmp = makeTmpDir('keyhold-faults-');
  svc = new KeyholdService({ tokens: { module: hsm.module, driverFactory: inj.factory } });
});

afterAll(() => closeTokenVault({ svc, hsm, tmp }));

const given = (p: string) => vi.fn<PinProvider>(() => Promise.resolve(p));

function card(label = 'card'): Token {
  return svc.tokens.token(label);
}

describe('PIN flags before login (fault injected over SoftHSM2: PIN flags ORed into C_GetTokenInfo)', () => {
  it('final try (fault injected over SoftHSM2: CKF_USER_PIN_FINAL_TRY) stops with TOKEN_PIN_FINAL_TRY before any PIN is asked or C_Login made; with allowFinalTry it proceeds with one C_Login', async () => {
    const t = card();
    await t.logout();
    inj.tokenFlags = pkcs11js.CKF_USER_PIN_FINAL_TRY;
    try {
      const ask = given(PIN);
      const m = inj.mark();
      const e = await rejectsWith(t.login({ askPin: ask, why: 'test' }), 'TOKEN_PIN_FINAL_TRY');
      expect(e.message).toContain('one PIN try left');
      expect(e.hint).toContain('--allow-final-try');
      expect(ask).not.toHaveBeenCalled();
      expect(inj.since(m)).toContain('C_GetTokenInfo');
      expect(inj.since(m)).not.toContain('C_Login');
      expect(t.loggedIn).toBe(false);

      const m2 = inj.mark();
      await t.login({ askPin: ask, why: 'test', allowFinalTry: true });
      expect(ask).toHaveBeenCalledTimes(1);
      expect(ask.mock.calls[0]![0].token.pin?.finalTry).toBe(true);
      const calls = inj.since(m2);
      expect(calls.filter((c) => c === 'C_Login')).toHaveLength(1);
      expect(calls.indexOf('C_GetTokenInfo')).toBeLessThan(calls.indexOf('C_Login'));
      expect(t.loggedIn).toBe(true);
    } finally {
      inj.tokenFlags = 0;
      await t.logout();
    }
  });

  it('locked (fault injected over SoftHSM2: CKF_USER_PIN_LOCKED) is TOKEN_PIN_LOCKED without asking a PIN or calling C_Login, even with allowFinalTry', async () => {
    const t = card();
    inj.tokenFlags = pkcs11js.CKF_USER_PIN_LOCKED;
    try {
      const ask = given(PIN);
      const m = inj.mark();
      for (const allowFinalTry of [false, true]) {
        const e = await rejectsWith(t.login({ askPin: ask, why: 'test', allowFinalTry }), 'TOKEN_PIN_LOCKED');
        expect(e.message).toContain("'card'");
      }
      expect(ask).not.toHaveBeenCalled();
      expect(inj.since(m)).not.toContain('C_Login');
    } finally {
      inj.tokenFlags = 0;
    }
  });

  it('a PIN the token locks at C_Login (fault injected over SoftHSM2: C_Login answers CKR_PIN_LOCKED) is TOKEN_PIN_LOCKED after exactly one C_Login', async () => {
    const t = card();
    const ask = given(PIN);
    const m = inj.mark();
    inj.arm({ method: 'C_Login', at: 1, code: pkcs11js.CKR_PIN_LOCKED });
    try {
      await rejectsWith(t.login({ askPin: ask, why: 'test' }), 'TOKEN_PIN_LOCKED');
    } finally {
      inj.disarm();
    }
    expect(ask).toHaveBeenCalledTimes(1);
    expect(inj.since(m).filter((c) => c === 'C_Login')).toHaveLength(1);
    expect(t.loggedIn).toBe(false);
  });

  it('no retries (call log of the fault layer over SoftHSM2): each wrong-PIN attempt is exactly one C_Login, and a PIN given with a command serves one login only', async () => {
    const t = card();
    await t.logout();
    const m = inj.mark();
    for (let i = 1; i <= 3; i++) {
      const ask = given('999999');
      const e = await rejectsWith(t.login({ askPin: ask, why: 'test' }), 'TOKEN_PIN_INCORRECT');
      expect(e.message).toMatch(/tries left|locked|one try left/);
      expect(ask).toHaveBeenCalledTimes(1);
      expect(inj.since(m).filter((c) => c === 'C_Login')).toHaveLength(i);
    }
    // Through the service: the wrong PIN in the input is used once, then the command fails (no fallback, no default PIN).
    const m2 = inj.mark();
    await rejectsWith(svc.call('token.keys', { token: 'card', login: true, pin: '999999' }), 'TOKEN_PIN_INCORRECT');
    expect(inj.since(m2).filter((c) => c === 'C_Login')).toHaveLength(1);
    const m3 = inj.mark();
    const listed = await svc.call('token.keys', { token: 'card', login: true, pin: PIN });
    expect(inj.since(m3).filter((c) => c === 'C_Login')).toHaveLength(1);
    expect(listed[0]!.token.label).toBe('card');
  });
});

// ---- removal at every step ---------------------------------------------------

/** Calls that take a slot, not a session: "after" a removal they answer CKR_TOKEN_NOT_PRESENT. */
const SLOT_CALLS = new Set(['C_GetSlotList', 'C_GetSlotInfo', 'C_GetTokenInfo', 'C_GetMechanismList']);

type Mode = Readonly<{ name: string; fault: (k: number) => Fault }>;
const MODES: readonly Mode[] = [
  // During: the token goes at call k and stays gone until the test "reinserts" it (disarms).
  { name: 'CKR_DEVICE_REMOVED at call k and after (during)', fault: (k) => ({ at: k, code: pkcs11js.CKR_DEVICE_REMOVED, sticky: true }) },
  // After: the token was pulled and put back: call k finds its session gone (or, for a slot call, the token not present).
  {
    name: 'CKR_SESSION_HANDLE_INVALID at call k (after)',
    fault: (k) => ({ at: k, code: (m: string) => (SLOT_CALLS.has(m) ? pkcs11js.CKR_TOKEN_NOT_PRESENT : pkcs11js.CKR_SESSION_HANDLE_INVALID) }),
  },
];

type StepCheck = (e: KeyholdError, failed: Injected) => void | Promise<void>;

/**
 * Runs op once to count its PKCS#11 calls (n), then for every k in 1..n:
 * prepare, fail call k, check the error and state, then retry without the
 * fault and check that it succeeds. Returns n and the methods called.
 */
async function atEveryStep(mode: Mode, steps: {
  prepare: () => Promise<void>;
  op: () => Promise<unknown>;
  /** Calls made by the token scan that starts op: a failure there is "not present". */
  scanCalls?: number;
  check: StepCheck;
  retry: () => Promise<void>;
  /** The slot of the token under test. */
  slot: () => Buffer;
  /** The steps k to fail, given the calls op makes (default: every one). */
  only?: (calls: readonly string[]) => number[];
}): Promise<string[]> {
  let otherSlot = 0;
  // A first run settles the state (keys made, mechanisms cached); the second is the one counted.
  await steps.prepare();
  await steps.op();
  await steps.prepare();
  const m = inj.mark();
  await steps.op();
  const calls = inj.since(m);
  expect(calls.length).toBeGreaterThan(0);
  const ks = steps.only ? steps.only(calls) : calls.map((_c, i) => i + 1);
  for (const k of ks) {
    await steps.prepare();
    inj.arm(mode.fault(k));
    let error: unknown = null;
    try {
      await steps.op();
    } catch (e) {
      error = e;
    } finally {
      inj.disarm();
    }
    const failed = inj.injected[0];
    const where = `${mode.name}: k=${k} (${calls[k - 1] ?? '?'})`;
    expect(failed, where).toBeDefined();
    expect(failed!.method, where).toBe(calls[k - 1]);
    const inScan = k <= (steps.scanCalls ?? 0);
    if (error === null) {
      // Only a one-shot failure of the scan about another slot (the other token, the free slot) leaves op unharmed.
      expect(inScan && mode.name.includes('(after)'), where).toBe(true);
      expect(failed!.slot, where).toBeDefined();
      expect(failed!.slot, where).not.toBe(steps.slot().toString('hex'));
      otherSlot++;
      await steps.prepare();
      await steps.retry();
      continue;
    }
    expect(error, where).toBeInstanceOf(KeyholdError);
    const e = error as KeyholdError;
    expect(inScan ? ['TOKEN_REMOVED', 'TOKEN_NOT_FOUND'] : ['TOKEN_REMOVED'], `${where}: ${e.code} ${e.message}`).toContain(e.code);
    // A failure in the scan names the module (its slot list) or the token; later ones name the token.
    expect(e.message, where).toMatch(inScan ? /'card|libsofthsm2/ : /'card/);
    await steps.check(e, failed!);
    await steps.prepare();
    await steps.retry();
  }
  // Faults on the token under test are the rule; at most the other slots' scan calls were spared.
  expect(otherSlot).toBeLessThanOrEqual(steps.scanCalls ?? 0);
  return calls;
}

/**
 * The steps k of a command's own calls: those after the vault was written
 * update the rollback anchor on the token (electron/core/token/anchor.ts:
 * the object made, C_CreateObject, and the old one destroyed). The change is
 * committed by then, and a failure there is only told (a notice), so they are
 * left out.
 */
function commandSteps(calls: readonly string[]): number[] {
  const create = calls.lastIndexOf('C_CreateObject');
  const end = create < 0 ? calls.length : calls.slice(0, create).lastIndexOf('C_DestroyObject') + 1;
  return calls.slice(0, end).map((_c, i) => i + 1);
}

function scanCallCount(): number {
  const m = inj.mark();
  svc.tokens.scan();
  return inj.since(m).length;
}

/** Destroys the token's objects whose label matches, on a session of its own, so that each step starts alike. */
function destroyKeys(label: string, re: RegExp): void {
  const t = card(label);
  const p = t.module.driver;
  const s = p.C_OpenSession(t.slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  try {
    try {
      p.C_Login(s, pkcs11js.CKU_USER, PIN);
    } catch (e) {
      // Sessions Keyhold forgot after an injected fault are still open on SoftHSM2, and logged in.
      if (!(e instanceof pkcs11js.Pkcs11Error && e.code === pkcs11js.CKR_USER_ALREADY_LOGGED_IN)) throw e;
    }
    p.C_FindObjectsInit(s, []);
    const all = p.C_FindObjects(s, 1000);
    p.C_FindObjectsFinal(s);
    for (const h of all) {
      const [l] = p.C_GetAttributeValue(s, h, [{ type: pkcs11js.CKA_LABEL }]);
      if (re.test(l?.value?.toString() ?? '')) p.C_DestroyObject(s, h);
    }
    p.C_Logout(s); // logs every session of the process out, as Keyhold's logoutAll did
  } finally {
    p.C_CloseSession(s);
  }
}

describe('token removed at every step k (fault injected over SoftHSM2)', () => {
  let vaultPath: string;

  beforeAll(async () => {
    vaultPath = path.join(tmp.dir, 'faults.db');
    await svc.call('vault.create', { path: vaultPath, passphrase: PASSPHRASE, kdf: FAST_KDF });
  });

  for (const mode of MODES) {
    it(`sign (fault injected over SoftHSM2: ${mode.name}): TOKEN_REMOVED at every call of scan + login + sign, and a retry signs`, async () => {
      const t0 = card();
      await t0.login({ askPin: given(PIN), why: 'test' });
      const key = (await t0.listKeys()).find((k) => k.label === 'sig') ?? await t0.generateKey('sig', 'ES256');
      const message = Buffer.from('signed after a removal');
      const op = async () => {
        const t = card();
        await t.login({ askPin: given(PIN), why: 'test' });
        return t.sign({ label: 'sig' }, message);
      };
      const calls = await atEveryStep(mode, {
        prepare: () => card().logout(),
        op,
        scanCalls: scanCallCount(),
        slot: () => card().slot,
        check: (e) => {
          if (e.code === 'TOKEN_REMOVED') expect(e.hint).toContain('nothing was changed');
          // The session state was dropped: the token is not taken as logged in.
          expect(svc.tokens.scan().some((d) => d.label === 'card')).toBe(true);
          expect(card().loggedIn).toBe(false);
        },
        retry: async () => {
          expect(verifiesWithNode(key.jwk!, message, await op())).toBe(true);
        },
      });
      expect(calls).toEqual(expect.arrayContaining(['C_GetSlotList', 'C_GetTokenInfo', 'C_OpenSession', 'C_Login', 'C_FindObjectsInit', 'C_SignInit', 'C_Sign']));
      // The cached handle path too: login kept, only C_SignInit and C_Sign.
      await op();
      const t = card();
      for (const method of ['C_SignInit', 'C_Sign']) {
        inj.arm({ ...mode.fault(1), method });
        try {
          await rejectsWith(t.sign({ label: 'sig' }, message), 'TOKEN_REMOVED');
        } finally {
          inj.disarm();
        }
        expect(t.loggedIn).toBe(false);
        expect(verifiesWithNode(key.jwk!, message, await op())).toBe(true);
      }
    });
  }

  /** The keyslots and the audit log (its length and head hash, after verifying the whole chain). */
  async function vaultState(): Promise<unknown> {
    const { ok, entries, head } = await svc.call('audit.verify', {});
    expect(ok).toBe(true);
    return { slots: await svc.call('slot.list', {}), entries, head };
  }

  for (const mode of MODES) {
    it(`slot.addToken through the service on a real vault (fault injected over SoftHSM2: ${mode.name}): TOKEN_REMOVED at every call, vault unchanged, audit verifies, retry adds the slot`, async () => {
      let before: unknown = null;
      let added = 0;
      const op = () => svc.call('slot.addToken', { token: 'card', keyLabel: 'ks', pin: PIN });
      const calls = await atEveryStep(mode, {
        slot: () => card().slot,
        only: (c) => commandSteps(c),
        prepare: async () => {
          await svc.tokens.logoutAll();
          before = await vaultState();
        },
        op,
        scanCalls: scanCallCount(),
        check: async () => {
          expect(await vaultState()).toEqual(before);
        },
        retry: async () => {
          const slot = await op();
          added++;
          expect(slot).toMatchObject({ type: 'token', params: { token: 'card', keyLabel: 'ks', method: 'ecdh-p256' } });
        },
      });
      expect(added).toBe(commandSteps(calls).length);
      expect(calls).toEqual(expect.arrayContaining(['C_Login', 'C_DeriveKey', 'C_GetAttributeValue', 'C_DestroyObject', 'C_CreateObject']));
      expect((await svc.call('audit.verify', {})).ok).toBe(true);
    });
  }

  it('slot.addToken with a new key label, so the key pair is generated on the token (fault injected over SoftHSM2: CKR_DEVICE_REMOVED at the calls just before, at and after C_GenerateKeyPair): TOKEN_REMOVED, vault unchanged, retry reuses or makes the key', async () => {
    const mode = MODES[0]!;
    let before: unknown = null;
    let k = 0;
    const calls = await atEveryStep(mode, {
      slot: () => card().slot,
      // The calls before key generation are those of the test above; SoftHSM2 writes token objects slowly.
      only: (calls) => {
        const g = calls.indexOf('C_GenerateKeyPairAsync') + 1;
        return [g - 1, g, g + 1, g + 2, g + 3];
      },
      prepare: async () => {
        await svc.tokens.logoutAll();
        destroyKeys('card', /^new-/);
        before = await vaultState();
      },
      op: () => svc.call('slot.addToken', { token: 'card', keyLabel: `new-${k++}`, pin: PIN }),
      scanCalls: scanCallCount(),
      check: async () => {
        expect(await vaultState()).toEqual(before);
      },
      retry: async () => {
        k--; // the same label again: the user repeats the command
        await svc.call('slot.addToken', { token: 'card', keyLabel: `new-${k++}`, pin: PIN });
      },
    });
    expect(calls).toContain('C_GenerateKeyPairAsync');
  });

  it('vault.unlockToken (fault injected over SoftHSM2: both modes): TOKEN_REMOVED at every call, the vault file unchanged, retry unlocks', async () => {
    // A vault of its own with one token keyslot: unlock then makes a bounded number of calls.
    const p = path.join(tmp.dir, 'unlock.db');
    await svc.call('vault.create', { path: p, passphrase: PASSPHRASE, kdf: FAST_KDF });
    await svc.call('slot.addToken', { token: 'card', keyLabel: 'unlock-key', pin: PIN });
    const slots = await svc.call('slot.list', {});
    svc.close();
    const fileState = (): string => {
      const db = new Database(p, { readonly: true, fileMustExist: true });
      try {
        const h = createHash('sha256');
        const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[];
        for (const { name } of tables) h.update(JSON.stringify([name, db.prepare(`SELECT * FROM "${name}"`).raw().all()], (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v)));
        return h.digest('hex');
      } finally {
        db.close();
      }
    };
    const before = fileState();
    const op = () => svc.call('vault.unlockToken', { path: p, pin: PIN });
    for (const mode of MODES) {
      const calls = await atEveryStep(mode, {
        slot: () => card().slot,
        prepare: async () => {
          svc.close();
          await svc.tokens.logoutAll();
        },
        op,
        scanCalls: scanCallCount(),
        check: () => {
          expect(fileState()).toBe(before);
        },
        retry: async () => {
          const info = await op();
          expect(info.keyslots).toEqual(slots);
        },
      });
      expect(calls).toEqual(expect.arrayContaining(['C_Login', 'C_DeriveKey']));
    }
    expect((await svc.call('audit.verify', {})).ok).toBe(true);
    svc.close();
    expect(fileState()).toBe(before);
  });
});
