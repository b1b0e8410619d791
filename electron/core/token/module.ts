/**
 * PKCS#11 modules, loaded by path. A module is initialised at most once per
 * process (C_Initialize with CKF_OS_LOCKING_OK, which SoftHSM2 needs for
 * concurrent calls to be safe), shared by every user in the process through a
 * reference count, and finalised only if Keyhold initialised it: a module that
 * another library in the process had already initialised is left running.
 */

import fs from 'node:fs';
import path from 'node:path';
import pkcs11js from 'pkcs11js';
import { KeyholdError } from '../../../shared/errors.js';
import { ckrName, ckrOf, defaultDriverFactory, type DriverFactory, type Pkcs11Driver } from './pkcs11.js';

/** Well-known module paths per platform, tried in order when none is named. */
export const DEFAULT_MODULES: Readonly<Record<string, readonly string[]>> = {
  linux: [
    '/usr/lib/softhsm/libsofthsm2.so',
    '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
    '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
    '/usr/local/lib/softhsm/libsofthsm2.so',
    '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so',
    '/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so',
    '/usr/lib64/opensc-pkcs11.so',
    '/usr/lib/x86_64-linux-gnu/libykcs11.so.2',
    '/usr/lib/aarch64-linux-gnu/libykcs11.so.2',
    '/usr/local/lib/libykcs11.so',
  ],
  darwin: [
    '/opt/homebrew/lib/softhsm/libsofthsm2.so',
    '/usr/local/lib/softhsm/libsofthsm2.so',
    '/Library/OpenSC/lib/opensc-pkcs11.so',
    '/opt/homebrew/lib/libykcs11.dylib',
    '/usr/local/lib/libykcs11.dylib',
  ],
  win32: [
    'C:\\SoftHSM2\\lib\\softhsm2-x64.dll',
    'C:\\Program Files\\OpenSC Project\\OpenSC\\pkcs11\\opensc-pkcs11.dll',
    'C:\\Program Files\\Yubico\\Yubico PIV Tool\\bin\\libykcs11.dll',
  ],
};

/**
 * The modules to use: the one named (`--module`, then KEYHOLD_PKCS11_MODULE),
 * else every default for this platform that exists, each once (symlinks to
 * the same library are one module).
 */
export function resolveModulePaths(named?: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const explicit = named ?? env.KEYHOLD_PKCS11_MODULE;
  if (explicit !== undefined && explicit !== '') return [path.resolve(explicit)];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const p of DEFAULT_MODULES[process.platform] ?? []) {
    try {
      const real = fs.realpathSync(p);
      if (!seen.has(real)) {
        seen.add(real);
        out.push(p);
      }
    } catch {
      // Not installed here.
    }
  }
  return out;
}

export class LoadedModule {
  readonly path: string;
  readonly driver: Pkcs11Driver;
  /** False when another user in this process initialised the module first. */
  readonly initializedByUs: boolean;
  #refs = 0;

  constructor(modulePath: string, driver: Pkcs11Driver, initializedByUs: boolean) {
    this.path = modulePath;
    this.driver = driver;
    this.initializedByUs = initializedByUs;
  }

  get refs(): number {
    return this.#refs;
  }

  retain(): this {
    this.#refs++;
    return this;
  }

  /** Drops one reference; the last one finalises (if ours) and unloads. */
  release(): void {
    if (this.#refs === 0) return;
    this.#refs--;
    if (this.#refs > 0) return;
    registry.delete(this.path);
    try {
      if (this.initializedByUs) this.driver.C_Finalize();
    } catch {
      // Teardown goes on: a finalize failure (a removed reader, say) must not keep the library loaded.
    } finally {
      try {
        this.driver.close();
      } catch {
        // Already unloaded.
      }
    }
  }
}

const registry = new Map<string, LoadedModule>();

/**
 * Loads and initialises a module, or returns the one already loaded at that
 * path. Missing or broken modules are a TOKEN_MODULE error naming the path.
 */
export function openModule(modulePath: string, factory: DriverFactory = defaultDriverFactory): LoadedModule {
  const key = path.resolve(modulePath);
  const loaded = registry.get(key);
  if (loaded) return loaded.retain();
  if (!fs.existsSync(key)) {
    throw new KeyholdError('TOKEN_MODULE', `token: no PKCS#11 module at ${key}`,
      'Install the module (SoftHSM2, OpenSC, ykcs11 or your HSM vendor\'s) or name one with --module PATH or KEYHOLD_PKCS11_MODULE.');
  }
  const driver = factory();
  try {
    driver.load(key);
  } catch (e) {
    throw new KeyholdError('TOKEN_MODULE', `token: ${key} is not a PKCS#11 module that can be loaded`,
      'Check that the path names the module library itself (a .so, .dylib or .dll built for this machine).', { cause: e });
  }
  let ours = true;
  try {
    driver.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (e) {
    const code = ckrOf(e);
    if (code === pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      ours = false;
    } else {
      try {
        driver.close();
      } catch {
        // Best effort.
      }
      throw new KeyholdError('TOKEN_MODULE',
        `token: the PKCS#11 module ${key} failed to initialise${code === null ? '' : ` (${ckrName(code)})`}`,
        'Check the module\'s own configuration (for SoftHSM2, SOFTHSM2_CONF and its token directory).', { cause: e });
    }
  }
  const m = new LoadedModule(key, driver, ours);
  registry.set(key, m);
  return m.retain();
}

/** Modules currently loaded in this process (for tests and diagnostics). */
export function loadedModules(): readonly LoadedModule[] {
  return [...registry.values()];
}
