/**
 * Module lifecycle (C_Initialize once per module per process, finalise only
 * what Keyhold initialised) and token hotplug (USB events or polling), on a
 * real SoftHSM2 module. The call log comes from the fault layer used as a
 * transparent recorder (no fault armed unless the test name says so).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TokenWatcher, type UsbEventSource } from '../../electron/core/token/hotplug.js';
import { loadedModules, openModule, resolveModulePaths } from '../../electron/core/token/module.js';
import { TokenManager, type TokenDescription } from '../../electron/core/token/token.js';
import { setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { FaultInjector } from './fault-driver.js';
import { throwsWith } from './helpers.js';

let hsm: SoftHsm;
const inj = new FaultInjector();

beforeAll(() => {
  hsm = setupSoftHsm([{ label: 'one' }, { label: 'doomed' }]);
});

afterAll(() => {
  for (const m of loadedModules()) while (m.refs > 0) m.release();
  hsm?.cleanup();
});

const count = (calls: readonly string[], name: string) => calls.filter((c) => c === name).length;

describe('module lifecycle (real SoftHSM2, calls recorded)', () => {
  it('two TokenManagers share one LoadedModule: C_Initialize once with CKF_OS_LOCKING_OK, refs counted, C_Finalize once after the last close', async () => {
    const m = inj.mark();
    const a = new TokenManager({ module: hsm.module, driverFactory: inj.factory });
    const b = new TokenManager({ module: hsm.module, driverFactory: inj.factory });
    expect(a.scan().some((t) => t.label === 'one')).toBe(true);
    expect(b.scan().some((t) => t.label === 'one')).toBe(true);
    const mods = loadedModules().filter((x) => x.path === hsm.module);
    expect(mods).toHaveLength(1);
    expect(a.modules()[0]).toBe(b.modules()[0]);
    expect(mods[0]!.refs).toBe(2);
    expect(mods[0]!.initializedByUs).toBe(true);
    expect(count(inj.since(m), 'load')).toBe(1);
    expect(count(inj.since(m), 'C_Initialize')).toBe(1);
    expect(((inj.initOptions as { flags: number }).flags & pkcs11js.CKF_OS_LOCKING_OK)).toBe(pkcs11js.CKF_OS_LOCKING_OK);

    await a.close();
    expect(mods[0]!.refs).toBe(1);
    expect(count(inj.since(m), 'C_Finalize')).toBe(0);
    expect(b.scan().some((t) => t.label === 'one')).toBe(true);
    await b.close();
    await b.close(); // idempotent
    await a.close();
    expect(count(inj.since(m), 'C_Finalize')).toBe(1);
    expect(count(inj.since(m), 'close')).toBe(1);
    expect(inj.since(m).slice(-2)).toEqual(['C_Finalize', 'close']);
    expect(loadedModules().filter((x) => x.path === hsm.module)).toHaveLength(0);
  });

  it('a module another user in the process initialised first (a raw pkcs11js object: Keyhold gets CKR_CRYPTOKI_ALREADY_INITIALIZED for real) is used but never finalised', async () => {
    const other = new pkcs11js.PKCS11();
    other.load(hsm.module);
    other.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    try {
      const m = inj.mark();
      const mgr = new TokenManager({ module: hsm.module, driverFactory: inj.factory });
      expect(mgr.scan().some((t) => t.label === 'one')).toBe(true);
      expect(mgr.modules()[0]!.initializedByUs).toBe(false);
      await mgr.close();
      expect(count(inj.since(m), 'C_Initialize')).toBe(1);
      expect(count(inj.since(m), 'C_Finalize')).toBe(0);
      expect(count(inj.since(m), 'close')).toBe(1);
      // The other user's module still works.
      const slots = other.C_GetSlotList(true);
      expect(slots.map((s) => other.C_GetTokenInfo(s).label.trim())).toContain('one');
    } finally {
      other.C_Finalize();
      other.close();
    }
    // Once the other user has finalised, Keyhold initialises (and will finalise) by itself.
    const mgr = new TokenManager({ module: hsm.module, driverFactory: inj.factory });
    mgr.scan();
    expect(mgr.modules()[0]!.initializedByUs).toBe(true);
    const m = inj.mark();
    await mgr.close();
    expect(inj.since(m)).toContain('C_Finalize');
  });

  it('C_Initialize failing (fault injected over SoftHSM2: CKR_GENERAL_ERROR) is TOKEN_MODULE naming the path, and the library is unloaded', () => {
    inj.arm({ method: 'C_Initialize', at: 1, code: pkcs11js.CKR_GENERAL_ERROR });
    const m = inj.mark();
    try {
      const e = throwsWith(() => openModule(hsm.module, inj.factory), 'TOKEN_MODULE');
      expect(e.message).toContain(hsm.module);
      expect(e.message).toContain('CKR_GENERAL_ERROR');
    } finally {
      inj.disarm();
    }
    expect(inj.since(m)).toEqual(['load', 'C_Initialize', 'close']);
    expect(loadedModules()).toHaveLength(0);
  });

  it('module paths: --module wins over KEYHOLD_PKCS11_MODULE, which wins over the platform defaults (each installed one once)', () => {
    expect(resolveModulePaths('/x/named.so', { KEYHOLD_PKCS11_MODULE: '/y/env.so' })).toEqual(['/x/named.so']);
    expect(resolveModulePaths(undefined, { KEYHOLD_PKCS11_MODULE: 'rel/env.so' })).toEqual([path.resolve('rel/env.so')]);
    const defaults = resolveModulePaths(undefined, {});
    expect(defaults).toContain(hsm.module);
    expect(new Set(defaults).size).toBe(defaults.length);
  });
});

describe('hotplug', () => {
  it('with the default USB source the watcher degrades to polling on this machine (no USB subsystem) and says why', async () => {
    const mgr = new TokenManager({ module: hsm.module });
    const onChange = vi.fn();
    const w = new TokenWatcher({ scan: () => mgr.scan(), onChange, pollMs: 20 });
    try {
      const mode = await w.start();
      expect(mode.mode).toBe('polling');
      expect(typeof mode.reason).toBe('string');
      expect(mode.reason!.length).toBeGreaterThan(0);
      await sleep(80);
      expect(onChange).not.toHaveBeenCalled(); // polling, nothing changed
    } finally {
      w.stop();
      await mgr.close();
    }
  });

  it('polling sees a token deleted with softhsm2-util (its slot answers CKR_GENERAL_ERROR and drops out), and one added once the module is initialised again (SoftHSM2 reads its token directory at C_Initialize)', async () => {
    const mgr = new TokenManager({ module: hsm.module });
    const changes: string[][] = [];
    const labels = (ts: TokenDescription[]) => ts.filter((t) => t.flags.initialized).map((t) => t.label).sort();
    const w = new TokenWatcher({ scan: () => mgr.scan(), onChange: (ts) => changes.push(labels(ts)), onError: (e) => changes.push([String(e)]), usb: null, pollMs: 20 });
    try {
      expect((await w.start()).mode).toBe('polling');
      expect(labels(mgr.scan())).toEqual(['doomed', 'one']);
      hsm.deleteToken('doomed');
      await vi.waitFor(() => expect(changes).toEqual([['one']]), { timeout: 5000, interval: 20 });

      hsm.addToken({ label: 'newcomer' });
      await sleep(100);
      // Measured with SoftHSM 2.6: a module initialised before the token was made does not list it.
      expect(changes).toEqual([['one']]);
      expect(labels(mgr.scan())).not.toContain('newcomer');
    } finally {
      w.stop();
      await mgr.close();
    }
    // Initialised again (the last user closed it), SoftHSM2 reads the directory: a watcher sees the new token at start.
    const fresh = new TokenManager({ module: hsm.module });
    try {
      expect(labels(fresh.scan())).toEqual(['newcomer', 'one']);
    } finally {
      await fresh.close();
    }
  });

  function fakeUsb() {
    const listeners = new Map<string, Set<() => void>>();
    const usb: UsbEventSource = {
      getDevices: () => Promise.resolve([]),
      addEventListener: (type, l) => {
        if (!listeners.has(type)) listeners.set(type, new Set());
        listeners.get(type)!.add(l);
      },
      removeEventListener: (type, l) => {
        listeners.get(type)?.delete(l);
      },
    };
    const fire = (type: 'connect' | 'disconnect') => {
      for (const l of listeners.get(type) ?? []) l();
    };
    const size = () => [...listeners.values()].reduce((n, s) => n + s.size, 0);
    return { usb, fire, size };
  }

  it('USB events (fed to the watcher): a burst of attach/detach events causes one debounced rescan; no change, no event; a change, one event; stop removes the listeners', async () => {
    const mgr = new TokenManager({ module: hsm.module });
    try {
      const real = mgr.scan();
      let present = real;
      const scan = vi.fn(() => present);
      const onChange = vi.fn();
      const { usb, fire, size } = fakeUsb();
      const w = new TokenWatcher({ scan, onChange, usb, debounceMs: 40 });
      expect(await w.start()).toEqual({ mode: 'usb' });
      expect(size()).toBe(2);
      expect(scan).toHaveBeenCalledTimes(1); // the baseline

      for (let i = 0; i < 5; i++) fire(i % 2 ? 'disconnect' : 'connect');
      await vi.waitFor(() => expect(scan).toHaveBeenCalledTimes(2), { timeout: 2000, interval: 10 });
      await sleep(100);
      expect(scan).toHaveBeenCalledTimes(2);
      expect(onChange).not.toHaveBeenCalled();

      present = real.filter((t) => t.label !== 'one'); // the card is pulled
      fire('disconnect');
      fire('disconnect');
      await vi.waitFor(() => expect(onChange).toHaveBeenCalledTimes(1), { timeout: 2000, interval: 10 });
      expect(scan).toHaveBeenCalledTimes(3);
      expect(onChange.mock.calls[0]![0]).toEqual(present);

      w.stop();
      expect(size()).toBe(0);
      w.trigger();
      await sleep(80);
      expect(scan).toHaveBeenCalledTimes(3);
    } finally {
      await mgr.close();
    }
  });

  it('a failing rescan goes to onError and the watcher keeps going', async () => {
    let fail = false;
    const scan = vi.fn((): TokenDescription[] => {
      if (fail) throw new Error('module gone');
      return [];
    });
    const onError = vi.fn();
    const onChange = vi.fn();
    const { usb } = fakeUsb();
    const w = new TokenWatcher({ scan, onChange, onError, usb, debounceMs: 5 });
    await w.start();
    fail = true;
    w.rescan();
    expect(onError).toHaveBeenCalledTimes(1);
    fail = false;
    w.rescan();
    expect(scan).toHaveBeenCalledTimes(3);
    expect(onChange).not.toHaveBeenCalled();
    w.stop();
  });
});
