/**
 * A thin fault-injecting layer over the REAL pkcs11js module (SoftHSM2 in the
 * tests): every call is forwarded to a real `pkcs11js.PKCS11`, its name is
 * logged (names only: arguments, PINs among them, are never recorded), and an
 * armed fault makes the k-th call (or the k-th call of one method) fail with a
 * genuine `pkcs11js.Pkcs11Error` carrying the chosen CKR code, without
 * reaching the module. PIN flags the token cannot be brought to (SoftHSM2
 * never locks a PIN) are ORed into C_GetTokenInfo's flags.
 *
 * The module registry keeps one driver per module path per process, so a test
 * file that injects faults uses `factory` for every TokenManager it makes.
 */
import pkcs11js from 'pkcs11js';
import type { DriverFactory, Pkcs11Driver } from '../../electron/core/token/pkcs11.js';

export type Fault = Readonly<{
  /** The CKR_* code of the error, or a function of the failing method's name. */
  code: number | ((method: string) => number);
  /** Fail the k-th call (1-based) counted from arming; with `method`, the k-th call of that method. */
  at: number;
  method?: string | undefined;
  /** Fail every matching call from the k-th on (a token that stays gone); default: only the k-th. */
  sticky?: boolean | undefined;
}>;

/** An injected failure; `slot` (hex) is the slot argument of slot calls (C_GetTokenInfo and the like). */
export type Injected = Readonly<{ method: string; k: number; code: number; slot?: string | undefined }>;

const SLOT_ARG = new Set(['C_GetSlotInfo', 'C_GetTokenInfo', 'C_GetMechanismList', 'C_OpenSession']);

export class FaultInjector {
  /** Every PKCS#11 call made through the drivers, by name, in order. */
  readonly log: string[] = [];
  /** Flags ORed into C_GetTokenInfo's answer (CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED, ...). */
  tokenFlags = 0;
  /** Rewrites a call's result (a token answering oddly), or null. */
  onResult: ((method: string, args: readonly unknown[], result: unknown) => unknown) | null = null;
  /** The options of the last C_Initialize (flags only: they hold no secret). */
  initOptions: unknown = undefined;
  #fault: Fault | null = null;
  #seen = 0;
  #injected: Injected[] = [];

  /** A DriverFactory making real pkcs11js objects wrapped by this injector. */
  readonly factory: DriverFactory = () => this.wrap(new pkcs11js.PKCS11());

  /** Arms one fault; calls are counted from now. */
  arm(fault: Fault): void {
    this.#fault = fault;
    this.#seen = 0;
    this.#injected = [];
  }

  disarm(): void {
    this.#fault = null;
  }

  /** Runs fn with `slot` left out of C_GetSlotList's answer (onResult), as if its token were pulled out. */
  async withoutSlot<T>(slot: string, fn: () => Promise<T>): Promise<T> {
    this.onResult = (method, _args, result) => (method === 'C_GetSlotList'
      ? (result as Buffer[]).filter((h) => (h.length === 8 ? h.readBigUInt64LE(0).toString() : h.toString('hex')) !== slot)
      : result);
    try {
      return await fn();
    } finally {
      this.onResult = null;
    }
  }

  /** Faults injected since the last arm. */
  get injected(): readonly Injected[] {
    return this.#injected;
  }

  /** A position in the log; `since(mark)` is the calls made after it. */
  mark(): number {
    return this.log.length;
  }

  since(mark: number): string[] {
    return this.log.slice(mark);
  }

  /** Wraps a real pkcs11js object (or anything implementing the driver) with logging and faults. */
  wrap(real: Pkcs11Driver): Pkcs11Driver {
    return new Proxy(real, {
      get: (target, prop, receiver) => {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof prop !== 'string' || typeof value !== 'function') return value;
        const fn = value as (...args: unknown[]) => unknown;
        if (!prop.startsWith('C_')) {
          // load / close: logged (module lifecycle), never faulted.
          return (...args: unknown[]) => {
            this.log.push(prop);
            return fn.apply(target, args);
          };
        }
        return (...args: unknown[]) => {
          this.log.push(prop);
          if (prop === 'C_Initialize') this.initOptions = args[0];
          const error = this.#check(prop, args[0]);
          if (error) {
            if (prop.endsWith('Async')) return Promise.reject(error);
            throw error;
          }
          let out = fn.apply(target, args);
          if (prop === 'C_GetTokenInfo' && this.tokenFlags !== 0) {
            const info = out as pkcs11js.TokenInfo;
            out = { ...info, flags: info.flags | this.tokenFlags };
          }
          return this.onResult ? this.onResult(prop, args, out) : out;
        };
      },
    });
  }

  #check(method: string, arg0: unknown): pkcs11js.Pkcs11Error | null {
    const f = this.#fault;
    if (!f) return null;
    if (f.method !== undefined && f.method !== method) return null;
    this.#seen++;
    const hit = f.sticky === true ? this.#seen >= f.at : this.#seen === f.at;
    if (!hit) return null;
    const code = typeof f.code === 'function' ? f.code(method) : f.code;
    const slot = SLOT_ARG.has(method) && Buffer.isBuffer(arg0) ? arg0.toString('hex') : undefined;
    this.#injected.push({ method, k: this.#seen, code, slot });
    return new pkcs11js.Pkcs11Error(`injected ${ckr(code)}`, code, method);
  }
}

function ckr(code: number): string {
  const name = Object.entries(pkcs11js).find(([k, v]) => k.startsWith('CKR_') && v === code)?.[0];
  return name ?? `CKR_0x${code.toString(16)}`;
}
