/**
 * Tokens (smartcards, USB HSMs) behind PKCS#11. One `Token` per token present:
 * one queue of operations (cards are single-threaded), one session opened
 * lazily and reused, login state tracked. A token pulled out mid-operation
 * (CKR_DEVICE_REMOVED, CKR_SESSION_HANDLE_INVALID, CKR_TOKEN_NOT_PRESENT)
 * drops its session and login state and gives TOKEN_REMOVED; callers write to
 * the vault only after every token operation has succeeded, so no partial
 * state is left behind.
 *
 * PINs are never stored: a PIN is asked for (PinProvider) only when a login is
 * needed, after the token's PIN flags have been read and shown, and is used
 * for exactly one C_Login. A final try is never spent without allowFinalTry.
 */

import { createHash, randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import type { TokenInfo } from '../../../shared/contract.js';
import { KeyholdError } from '../../../shared/errors.js';
import { jwkFromEcPoint, jwkThumbprint, type PublicJwk, type TokenAlg } from './jwk.js';
import { openModule, resolveModulePaths, type LoadedModule } from './module.js';
import {
  CKK_EC_EDWARDS,
  CKM_EC_EDWARDS_KEY_PAIR_GEN,
  CKM_EDDSA,
  ckrOf,
  EC_PARAMS,
  isRemoval,
  NOTABLE_MECHANISMS,
  removedError,
  tokenError,
  type DriverFactory,
  type Handle,
  type Pkcs11Driver,
} from './pkcs11.js';

export type PinFlags = Readonly<{ countLow: boolean; finalTry: boolean; locked: boolean; toBeChanged: boolean }>;

/** A token as `token list` shows it (the contract's TokenInfo). */
export type TokenDescription = Readonly<TokenInfo>;

export type TokenKeyType = 'EC-P256' | 'Ed25519' | 'EC' | 'RSA' | 'other';

export type TokenKey = Readonly<{
  label: string;
  /** CKA_ID, hex. */
  id: string;
  keyType: TokenKeyType;
  /** The JOSE algorithm of the key's curve (ES256 for P-256, EdDSA for Ed25519), or null for others. */
  alg: TokenAlg | null;
  canSign: boolean;
  canDerive: boolean;
  /** The public key's CKA_VERIFY: visible without login, unlike the private key's CKA_SIGN. */
  canVerify: boolean;
  hasPrivateKey: boolean;
  hasPublicKey: boolean;
  jwk: PublicJwk | null;
  /** RFC 7638 thumbprint of the public key. */
  kid: string | null;
}>;

export type PinRequest = Readonly<{
  token: TokenDescription;
  why: string;
  /**
   * The token a PIN given without a prompt (a command's `pin`, --pin-file,
   * KEYHOLD_PIN) is bound to, when that is another token than this one: the
   * given PIN is not for this token, and is never offered to it.
   */
  givenFor?: TokenDescription | undefined;
}>;
/** Asks the user for a PIN (a prompt, a field in the UI); called only right before a login. */
export type PinProvider = (req: PinRequest) => Promise<string>;

/** A PIN given without a prompt: a command's `pin`, the CLI's --pin-file or KEYHOLD_PIN. */
export type GivenPin = Readonly<{
  /** Where it comes from, for messages: `KEYHOLD_PIN`, `--pin-file`, `the PIN given`. */
  source: string;
  /** Reads it; called only right before a login of the token it is bound to. */
  read: (req: PinRequest) => Promise<string>;
}>;

/** `'label' (serial S)`, for messages. */
export function tokenName(t: Pick<TokenDescription, 'label' | 'serial'>): string {
  return `'${t.label}' (serial ${t.serial})`;
}

function selects(t: Pick<TokenDescription, 'label' | 'serial'>, selector: string): boolean {
  return t.label === selector || t.serial === selector;
}

/**
 * The PINs of a command: a PIN given without a prompt is bound to exactly one
 * token before any login, and is offered to no other token (a wrong PIN spends
 * one of a card's few tries). It is bound by `bind`, called by each command
 * with the tokens it is about to log in to, before the first login:
 *
 * - to the token the command names (`--token`, by label or serial), else
 * - to the only token the command can log in to;
 * - when it could be several and none is named: TOKEN_AMBIGUOUS, before any
 *   C_Login.
 *
 * Once bound it stays bound (an unlock by token binds it for the rest of the
 * CLI run). Every other token's PIN is asked for (`ask`, a prompt that names
 * the token), or the login fails with NOT_INTERACTIVE.
 */
export class PinPlan {
  readonly #given: GivenPin | null;
  readonly #ask: PinProvider | null;
  #bound: TokenDescription | null = null;
  /** A named token that is none of the tokens the command logs in to: the given PIN is then used for none. */
  #boundSelector: string | null = null;

  constructor(given: GivenPin | null | undefined, ask: PinProvider | null | undefined) {
    this.#given = given ?? null;
    this.#ask = ask ?? null;
  }

  /** Whether a PIN was given and is not bound to a token yet. */
  get unbound(): boolean {
    return this.#given !== null && this.#bound === null && this.#boundSelector === null;
  }

  /** The token the given PIN is bound to, if any. */
  get boundTo(): TokenDescription | null {
    return this.#bound;
  }

  /**
   * Binds the given PIN, before any login, to the one of `tokens` (the tokens
   * the command is about to log in to) that `named` selects, or to the only
   * one. Nothing to do without a given PIN, or once it is bound.
   * `option` is how the command names a token, for the hint.
   */
  bind(tokens: readonly TokenDescription[], named: string | undefined, option = '--token'): void {
    if (!this.unbound || !this.#given) return;
    const distinct = [...new Map(tokens.map((t) => [t.serial, t])).values()];
    const match = named === undefined ? distinct : distinct.filter((t) => selects(t, named));
    if (match.length === 1) {
      this.#bound = match[0] as TokenDescription;
      return;
    }
    if (match.length === 0) {
      // No token to log in to (named or not): the given PIN is used for none.
      if (named !== undefined) this.#boundSelector = named;
      return;
    }
    const list = match.map(tokenName).join(', ');
    throw new KeyholdError('TOKEN_AMBIGUOUS', named === undefined
      ? `token: the PIN given (${this.#given.source}) could be for any of ${match.length} tokens: ${list}`
      : `token: several tokens are labelled '${named}': ${list}`,
    named === undefined
      ? `Name the token it is for with ${option} LABEL|SERIAL; a PIN given is tried on that token only. No PIN was tried.`
      : `Name the token by its serial with ${option} SERIAL. No PIN was tried.`);
  }

  /** The PinProvider for Token.login. */
  readonly provider: PinProvider = async (req) => {
    const given = this.#given;
    if (given && this.#bound?.serial === req.token.serial) return given.read(req);
    if (given && this.unbound) {
      // A command that logs in without binding first is a bug: the PIN must not go to a token by chance.
      throw new KeyholdError('INTERNAL', `token: a login to ${tokenName(req.token)} before the PIN given was bound to a token`);
    }
    const other = given ? this.#bound ?? undefined : undefined;
    const ask = { ...req, ...(other ? { givenFor: other } : {}) };
    if (this.#ask) return this.#ask(ask);
    throw new KeyholdError('NOT_INTERACTIVE', `token: a PIN is needed for ${tokenName(req.token)} (to ${req.why})`,
      other
        ? `The PIN given (${given?.source ?? ''}) is for ${tokenName(other)} and is tried on no other token. Type this token's PIN at a prompt, or work with one token at a time (--token).`
        : given && this.#boundSelector !== null
          ? `The PIN given (${given.source}) is for the token '${this.#boundSelector}' and is tried on no other token.`
          : 'Give the PIN (the pin of the command, --pin-file, KEYHOLD_PIN, or a prompt on a terminal).');
  };
}

export type LoginOptions = Readonly<{ askPin: PinProvider; why: string; allowFinalTry?: boolean | undefined }>;

/** A key by CKA_ID (hex) or CKA_LABEL; id wins when both are given. */
export type KeyRef = Readonly<{ id?: string | undefined; label?: string | undefined }>;

const A = pkcs11js;
// Slot flags that pkcs11js's typings lack.
const CKF_REMOVABLE_DEVICE = 0x2;
const CKF_HW_SLOT = 0x4;
// Session states meaning "logged in as the user" (PKCS#11 5.6), also absent from the typings.
const CKS_RO_USER_FUNCTIONS = 1;
const CKS_RW_USER_FUNCTIONS = 3;

/** The flags of a token that reports nothing about its PIN. */
export const NO_PIN_FLAGS: PinFlags = Object.freeze({ countLow: false, finalTry: false, locked: false, toBeChanged: false });

export function pinFlags(flags: number): PinFlags {
  return {
    countLow: (flags & A.CKF_USER_PIN_COUNT_LOW) !== 0,
    finalTry: (flags & A.CKF_USER_PIN_FINAL_TRY) !== 0,
    locked: (flags & A.CKF_USER_PIN_LOCKED) !== 0,
    toBeChanged: (flags & A.CKF_USER_PIN_TO_BE_CHANGED) !== 0,
  };
}

/** What the token says about its remaining PIN tries, in words. */
export function pinStateText(p: PinFlags): string {
  if (p.locked) return 'the user PIN is locked';
  if (p.finalTry) return 'one try left: another wrong PIN locks the token';
  if (p.countLow) return 'the token reports a low number of tries left';
  return 'the token does not report a low number of tries left';
}

function slotNumber(slot: Handle): string {
  return slot.length === 8 ? slot.readBigUInt64LE(0).toString() : slot.toString('hex');
}

function text(s: string): string {
  return s.replace(/\0/g, '').trim();
}

function attr(values: pkcs11js.Attribute[], i: number): pkcs11js.Attribute['value'] {
  return values[i]?.value;
}

function asBool(v: unknown): boolean {
  return v === true || (Buffer.isBuffer(v) && v.length > 0 && v[0] !== 0);
}

function asNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (Buffer.isBuffer(v) && v.length >= 4) return v.length >= 8 ? Number(v.readBigUInt64LE(0)) : v.readUInt32LE(0);
  return -1;
}

function asBuffer(v: unknown): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.alloc(0);
}

function keyTypeOf(ckk: number, ecParams: Buffer | null): { keyType: TokenKeyType; alg: TokenAlg | null } {
  if (ckk === A.CKK_EC) {
    return ecParams?.equals(EC_PARAMS.p256) ? { keyType: 'EC-P256', alg: 'ES256' } : { keyType: 'EC', alg: null };
  }
  if (ckk === CKK_EC_EDWARDS) {
    const ed = ecParams && (ecParams.equals(EC_PARAMS.ed25519) || ecParams.equals(EC_PARAMS.ed25519Printable));
    return ed ? { keyType: 'Ed25519', alg: 'EdDSA' } : { keyType: 'other', alg: null };
  }
  if (ckk === A.CKK_RSA) return { keyType: 'RSA', alg: null };
  return { keyType: 'other', alg: null };
}

/** One token in one slot of one module. */
export class Token {
  readonly module: LoadedModule;
  readonly slot: Handle;
  #desc: TokenDescription;
  #session: Handle | null = null;
  #loggedIn = false;
  #tail: Promise<unknown> = Promise.resolve();
  /** Operations started and not finished (the queue's length, the running one included). */
  #pending = 0;
  /** Private key handles by KeyRef: SoftHSM2 slows down a lot when searching many objects. */
  readonly #handles = new Map<string, { priv: Handle; alg: TokenAlg }>();

  constructor(module: LoadedModule, slot: Handle, desc: TokenDescription) {
    this.module = module;
    this.slot = slot;
    this.#desc = desc;
  }

  get description(): TokenDescription {
    return this.#desc;
  }

  /** `'label' (serial S)`, for messages. */
  get name(): string {
    return tokenName(this.#desc);
  }

  get loggedIn(): boolean {
    return this.#loggedIn;
  }

  get #p(): Pkcs11Driver {
    return this.module.driver;
  }

  /**
   * Runs fn after every operation queued before it on this token. A removal
   * seen by fn resets the session; any PKCS#11 failure becomes a KeyholdError.
   *
   * With nothing queued, fn starts at once (no promise hop before it): a
   * signature's own cost is tens of microseconds, and the queue must not add
   * a noticeable share to it. Nothing can slip in between, since fn's
   * synchronous part runs to its end before any other code.
   */
  run<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
    if (this.#pending === 0) {
      this.#pending++;
      let out: T | Promise<T>;
      try {
        out = fn();
      } catch (e) {
        this.#pending--;
        return Promise.reject(this.#failure(e, what));
      }
      if (!(out instanceof Promise)) {
        this.#pending--;
        return Promise.resolve(out);
      }
      const running = out.then(
        (v) => {
          this.#pending--;
          return v;
        },
        (e: unknown) => {
          this.#pending--;
          throw this.#failure(e, what);
        },
      );
      this.#tail = running.catch(() => undefined);
      return running;
    }
    this.#pending++;
    const next = this.#tail.then(async () => {
      try {
        return await fn();
      } catch (e) {
        throw this.#failure(e, what);
      } finally {
        this.#pending--;
      }
    });
    this.#tail = next.catch(() => undefined);
    return next;
  }

  /** The error for a failed operation; a removal (said or found) resets the session first. */
  #failure(e: unknown, what: string): KeyholdError {
    const code = ckrOf(e);
    if (isRemoval(code)) this.#forget();
    // A token that vanished without the module saying so (SoftHSM2 answers
    // CKR_GENERAL_ERROR once its token is deleted) is removed too.
    else if (code !== null && !this.#present()) {
      this.#forget();
      return removedError(e, what, this.name);
    }
    return tokenError(e, what, this.name);
  }

  /** Whether this token (same serial) still answers in its slot. */
  #present(): boolean {
    try {
      const t = this.#p.C_GetTokenInfo(this.slot);
      return (t.flags & A.CKF_TOKEN_INITIALIZED) !== 0 && text(t.serialNumber) === this.#desc.serial;
    } catch {
      return false;
    }
  }

  #forget(closeSession = true): void {
    const s = closeSession ? this.#session : null;
    this.#session = null;
    this.#loggedIn = false;
    this.#handles.clear();
    // Best effort: if the session is in fact still alive (a transient error
    // taken for a removal), it must not stay open and logged in unseen.
    if (s) {
      try {
        this.#p.C_CloseSession(s);
      } catch {
        // Gone with the token, as expected.
      }
    }
  }

  #sessionHandle(): Handle {
    if (!this.#session) {
      try {
        this.#session = this.#p.C_OpenSession(this.slot, A.CKF_SERIAL_SESSION | A.CKF_RW_SESSION);
      } catch (e) {
        // A write-protected token still lists, signs and unlocks in a read-only session.
        if (ckrOf(e) !== A.CKR_TOKEN_WRITE_PROTECTED) throw e;
        this.#session = this.#p.C_OpenSession(this.slot, A.CKF_SERIAL_SESSION);
      }
    }
    return this.#session;
  }

  /** Reads the token's info again (PIN flags change after each login attempt). */
  #refresh(): TokenDescription {
    this.#desc = describeToken(this.module, this.slot, this.#desc.mechanisms);
    return this.#desc;
  }

  /**
   * Logs in with the user PIN unless already logged in. The PIN flags are
   * read first: a locked PIN, or a final try without allowFinalTry, stops
   * before any PIN is asked for. A wrong PIN is one failed C_Login: no retry.
   */
  login(opts: LoginOptions): Promise<PinFlags> {
    return this.run('login', async () => {
      const desc = this.#refresh();
      const flags = desc.pin ?? NO_PIN_FLAGS;
      if (!desc.flags.loginRequired) return flags;
      // The login may have ended behind our back (another process, or another
      // library in this one, logged the token out): ask the session itself.
      if (this.#loggedIn && this.#session) {
        let state = -1;
        try {
          state = this.#p.C_GetSessionInfo(this.#session).state;
        } catch {
          // The session itself is gone (the token was reinserted): a new one is opened below.
          this.#session = null;
        }
        if (state === CKS_RO_USER_FUNCTIONS || state === CKS_RW_USER_FUNCTIONS) return flags;
        this.#loggedIn = false;
        this.#handles.clear();
      }
      if (flags.locked) {
        throw new KeyholdError('TOKEN_PIN_LOCKED', `token: the user PIN of ${this.name} is locked`,
          "Unblock it with the token's security officer PIN (PUK) using the vendor's tool.");
      }
      if (flags.finalTry && opts.allowFinalTry !== true) {
        throw new KeyholdError('TOKEN_PIN_FINAL_TRY', `token: ${this.name} has one PIN try left`,
          'A wrong PIN now locks the token. Make sure of the PIN, then repeat with --allow-final-try.');
      }
      const session = this.#sessionHandle();
      const pin = desc.flags.protectedAuthenticationPath ? undefined : await opts.askPin({ token: desc, why: opts.why });
      try {
        this.#p.C_Login(session, A.CKU_USER, pin);
      } catch (e) {
        const code = ckrOf(e);
        if (code === A.CKR_USER_ALREADY_LOGGED_IN) {
          this.#loggedIn = true;
          return flags;
        }
        if (code === A.CKR_PIN_INCORRECT || code === A.CKR_PIN_LEN_RANGE) {
          const after = this.#refresh().pin ?? NO_PIN_FLAGS;
          throw new KeyholdError('TOKEN_PIN_INCORRECT', `token: wrong PIN for ${this.name} (${pinStateText(after)})`,
            after.locked ? "Unblock it with the token's security officer PIN (PUK)." : 'Nothing was changed. Check the PIN and try again.');
        }
        throw e;
      }
      this.#loggedIn = true;
      return this.#refresh().pin ?? NO_PIN_FLAGS;
    });
  }

  /** Logs out and closes the session; idempotent, never throws. */
  logout(): Promise<void> {
    return this.run('logout', () => {
      const s = this.#session;
      const wasIn = this.#loggedIn;
      this.#forget(false);
      if (!s) return;
      try {
        if (wasIn) this.#p.C_Logout(s);
      } catch {
        // The token may be gone already; the session closes below either way.
      }
      try {
        this.#p.C_CloseSession(s);
      } catch {
        // Same.
      }
    });
  }

  #find(template: pkcs11js.Template): Handle[] {
    const s = this.#sessionHandle();
    this.#p.C_FindObjectsInit(s, template);
    try {
      const out: Handle[] = [];
      for (;;) {
        const batch = this.#p.C_FindObjects(s, 64);
        if (batch.length === 0) break;
        out.push(...batch);
      }
      return out;
    } finally {
      this.#p.C_FindObjectsFinal(s);
    }
  }

  #read(h: Handle, types: number[]): pkcs11js.Attribute[] {
    return this.#p.C_GetAttributeValue(this.#sessionHandle(), h, types.map((type) => ({ type })));
  }

  #ecParams(h: Handle, ckk: number): Buffer | null {
    if (ckk !== A.CKK_EC && ckk !== CKK_EC_EDWARDS) return null;
    return asBuffer(attr(this.#read(h, [A.CKA_EC_PARAMS]), 0));
  }

  /**
   * Every key pair on the token (private keys are listed only when logged in,
   * as tokens hide private objects before that), keys that other tools made
   * included, grouped by CKA_ID (else by label).
   */
  listKeys(): Promise<TokenKey[]> {
    return this.run('listing keys', () => this.#listKeys());
  }

  #listKeys(): TokenKey[] {
    type Acc = { label: string; id: string; ckk: number; ecParams: Buffer | null; pub: Handle | null;
      priv: boolean; sign: boolean; derive: boolean; verify: boolean };
    const groups = new Map<string, Acc>();
    const visit = (cls: number) => {
      for (const h of this.#find([{ type: A.CKA_CLASS, value: cls }])) {
        const v = this.#read(h, [A.CKA_ID, A.CKA_LABEL, A.CKA_KEY_TYPE]);
        const id = asBuffer(attr(v, 0)).toString('hex');
        const label = text(asBuffer(attr(v, 1)).toString('utf8'));
        const ckk = asNumber(attr(v, 2));
        const key = id !== '' ? `id:${id}` : `label:${label}`;
        const acc = groups.get(key) ?? { label, id, ckk, ecParams: this.#ecParams(h, ckk), pub: null, priv: false, sign: false, derive: false, verify: false };
        if (cls === A.CKO_PUBLIC_KEY) {
          acc.pub = h;
          acc.verify = asBool(attr(this.#read(h, [A.CKA_VERIFY]), 0));
        }
        else {
          acc.priv = true;
          const u = this.#read(h, [A.CKA_SIGN, A.CKA_DERIVE]);
          acc.sign = asBool(attr(u, 0));
          acc.derive = asBool(attr(u, 1));
        }
        if (acc.label === '') acc.label = label;
        groups.set(key, acc);
      }
    };
    visit(A.CKO_PUBLIC_KEY);
    visit(A.CKO_PRIVATE_KEY);
    const out: TokenKey[] = [];
    for (const g of groups.values()) {
      const { keyType, alg } = keyTypeOf(g.ckk, g.ecParams);
      let jwk: PublicJwk | null = null;
      if (g.pub && alg) {
        try {
          jwk = jwkFromEcPoint(alg, asBuffer(attr(this.#read(g.pub, [A.CKA_EC_POINT]), 0)));
        } catch (e) {
          if (ckrOf(e) !== null) throw e;
          // A public key Keyhold cannot parse is listed without its JWK.
        }
      }
      out.push({ label: g.label, id: g.id, keyType, alg, canSign: g.sign, canDerive: g.derive, canVerify: g.verify, hasPrivateKey: g.priv,
        hasPublicKey: g.pub !== null, jwk, kid: jwk ? jwkThumbprint(jwk) : null });
    }
    return out.sort((a, b) => a.label.localeCompare(b.label) || a.id.localeCompare(b.id));
  }

  /** The key pair named by ref, or TOKEN_KEY_NOT_FOUND. Private parts need a login first. */
  findKey(ref: KeyRef): Promise<TokenKey> {
    return this.run('finding a key', () => this.#findKey(ref));
  }

  #findKey(ref: KeyRef): TokenKey {
    const matches = this.#listKeys().filter((k) => (ref.id !== undefined ? k.id === ref.id.toLowerCase() : k.label === ref.label));
    const what = ref.id !== undefined ? `id ${ref.id}` : `label '${ref.label ?? ''}'`;
    if (matches.length === 0) {
      throw new KeyholdError('TOKEN_KEY_NOT_FOUND', `token: no key with ${what} on ${this.name}`,
        this.#loggedIn ? 'See `keyhold token keys`.' : 'Private keys are visible only after login; see `keyhold token keys`.');
    }
    if (matches.length > 1) {
      throw new KeyholdError('TOKEN_KEY_AMBIGUOUS', `token: several keys with ${what} on ${this.name}`,
        `Name the key by its id instead: ${matches.map((k) => k.id).join(', ')}.`);
    }
    return matches[0] as TokenKey;
  }

  #privateHandle(ref: KeyRef): { priv: Handle; alg: TokenAlg } {
    const cacheKey = ref.id !== undefined ? `id:${ref.id.toLowerCase()}` : `label:${ref.label ?? ''}`;
    const hit = this.#handles.get(cacheKey);
    if (hit) return hit;
    const key = this.#findKey(ref);
    if (!key.hasPrivateKey) {
      throw new KeyholdError('TOKEN_KEY_NOT_FOUND', `token: the private key of '${key.label}' is not on ${this.name}`,
        this.#loggedIn ? 'Only its public key is on the token.' : 'Log in first: private keys are hidden before login.');
    }
    const template: pkcs11js.Template = [{ type: A.CKA_CLASS, value: A.CKO_PRIVATE_KEY }];
    template.push(key.id !== '' ? { type: A.CKA_ID, value: Buffer.from(key.id, 'hex') } : { type: A.CKA_LABEL, value: key.label });
    const [priv] = this.#find(template);
    if (!priv || !key.alg) {
      throw new KeyholdError('TOKEN_UNSUPPORTED', `token: '${key.label}' is a ${key.keyType} key`, 'Keyhold uses P-256 and Ed25519 keys.');
    }
    const entry = { priv, alg: key.alg };
    this.#handles.set(cacheKey, entry);
    return entry;
  }

  /**
   * Generates a signing key pair on the token: private half sensitive and
   * never extractable; public half readable, so its JWK can be exported.
   */
  generateKey(label: string, alg: TokenAlg, usage: 'sign' | 'derive' = 'sign'): Promise<TokenKey> {
    return this.run('key generation', async () => {
      const existing = this.#listKeys().filter((k) => k.label === label);
      if (existing.length > 0) {
        throw new KeyholdError('TOKEN_KEY_EXISTS', `token: ${this.name} already has a key labelled '${label}'`,
          'Choose another label, or use the existing key.');
      }
      const mech = alg === 'ES256' ? A.CKM_EC_KEY_PAIR_GEN : CKM_EC_EDWARDS_KEY_PAIR_GEN;
      if (!this.#desc.mechanisms.includes(alg === 'ES256' ? 'EC-KEYGEN' : 'Ed25519-KEYGEN')) {
        throw new KeyholdError('TOKEN_UNSUPPORTED', `token: ${this.name} cannot generate ${alg === 'ES256' ? 'P-256' : 'Ed25519'} keys`,
          alg === 'EdDSA' ? 'Use --alg ES256: every PIV card has P-256.' : 'See the mechanisms `keyhold token list` reports.');
      }
      const id = randomBytes(16);
      const common = [
        { type: A.CKA_TOKEN, value: true },
        { type: A.CKA_LABEL, value: label },
        { type: A.CKA_ID, value: id },
      ];
      const pub: pkcs11js.Template = [...common,
        { type: A.CKA_PRIVATE, value: false },
        { type: A.CKA_EC_PARAMS, value: alg === 'ES256' ? EC_PARAMS.p256 : EC_PARAMS.ed25519 },
        { type: A.CKA_VERIFY, value: usage === 'sign' },
        { type: A.CKA_DERIVE, value: usage === 'derive' },
        // One key, one purpose: no usage left to the token's defaults.
        { type: A.CKA_ENCRYPT, value: false },
        { type: A.CKA_WRAP, value: false }];
      const priv: pkcs11js.Template = [...common,
        { type: A.CKA_PRIVATE, value: true },
        { type: A.CKA_SENSITIVE, value: true },
        { type: A.CKA_EXTRACTABLE, value: false },
        { type: A.CKA_SIGN, value: usage === 'sign' },
        { type: A.CKA_DERIVE, value: usage === 'derive' },
        { type: A.CKA_DECRYPT, value: false },
        { type: A.CKA_UNWRAP, value: false }];
      await this.#p.C_GenerateKeyPairAsync(this.#sessionHandle(), { mechanism: mech }, pub, priv);
      const made = this.#findKey({ id: id.toString('hex') });
      if (!made.jwk) {
        // The pair exists on the token, but a key whose public half cannot be
        // read cannot be registered, verified or exported: say so, with its id.
        throw new KeyholdError('TOKEN_ERROR', `token: ${this.name} made the key '${label}' (id ${made.id}) but its public key cannot be read`,
          'Delete that key pair with the token vendor\'s tool and try again; do not run two key generations on one token at once.');
      }
      return made;
    });
  }

  /**
   * The values of the private data objects (CKO_DATA, CKA_PRIVATE true) with
   * this label, oldest handle first: none before login (a token hides
   * private objects), and never a public object of the same label (anyone
   * can make one without the PIN).
   */
  readData(label: string): Promise<Buffer[]> {
    return this.run('reading a data object', () =>
      this.#findData(label).map((h) => Buffer.from(asBuffer(attr(this.#read(h, [A.CKA_VALUE]), 0)))));
  }

  /**
   * Writes a private data object on the token (after login): a new object
   * (CKA_TOKEN, CKA_PRIVATE, CKA_APPLICATION `application`) is made first,
   * then the older ones with this label are destroyed. Many tokens (SoftHSM2
   * among them) do not let a data object's CKA_VALUE change; and an
   * interruption between the two steps leaves both, never none.
   */
  writeData(label: string, application: string, value: Buffer): Promise<void> {
    return this.run('writing a data object', () => {
      if (!this.#loggedIn && this.#desc.flags.loginRequired) {
        throw new KeyholdError('INTERNAL', `token: a private data object written to ${this.name} before login`);
      }
      const s = this.#sessionHandle();
      const old = this.#findData(label);
      this.#p.C_CreateObject(s, [
        { type: A.CKA_CLASS, value: A.CKO_DATA },
        { type: A.CKA_TOKEN, value: true },
        { type: A.CKA_PRIVATE, value: true },
        { type: A.CKA_LABEL, value: label },
        { type: A.CKA_APPLICATION, value: application },
        { type: A.CKA_VALUE, value },
      ]);
      for (const h of old) this.#p.C_DestroyObject(s, h);
    });
  }

  #findData(label: string): Handle[] {
    return this.#find([{ type: A.CKA_CLASS, value: A.CKO_DATA }, { type: A.CKA_PRIVATE, value: true },
      { type: A.CKA_LABEL, value: label }]);
  }

  /**
   * Signs on the token. ES256: SHA-256 in Node, CKM_ECDSA over the digest,
   * whose output is already the raw r||s that JWS wants. EdDSA: CKM_EDDSA
   * over the message itself (Ed25519 is not pre-hashed).
   */
  sign(ref: KeyRef, data: Uint8Array): Promise<Buffer> {
    return this.run('signing', () => {
      const { priv, alg } = this.#privateHandle(ref);
      const s = this.#sessionHandle();
      if (alg === 'ES256') {
        this.#p.C_SignInit(s, { mechanism: A.CKM_ECDSA }, priv);
        // Room for a DER signature too (up to 72 bytes), which some modules return.
        const sig = this.#p.C_Sign(s, createHash('sha256').update(data).digest(), Buffer.alloc(80));
        return sig.length === 64 ? sig : derToRaw(sig);
      }
      this.#p.C_SignInit(s, { mechanism: CKM_EDDSA }, priv);
      return this.#p.C_Sign(s, Buffer.from(data.buffer, data.byteOffset, data.byteLength), Buffer.alloc(64));
    });
  }

  /**
   * ECDH on the token with a P-256 key allowed to derive: the shared secret
   * comes back as a short-lived session object, read once and destroyed.
   */
  deriveEcdh(ref: KeyRef, peerPoint: Buffer): Promise<Buffer> {
    return this.run('key agreement', () => {
      const { priv } = this.#privateHandle(ref);
      const s = this.#sessionHandle();
      const ecdh: pkcs11js.ECDH1 = { type: A.CK_PARAMS_EC_DH, kdf: A.CKD_NULL, publicData: peerPoint };
      const secret = this.#p.C_DeriveKey(s, { mechanism: A.CKM_ECDH1_DERIVE, parameter: ecdh }, priv, [
        { type: A.CKA_CLASS, value: A.CKO_SECRET_KEY },
        { type: A.CKA_KEY_TYPE, value: A.CKK_GENERIC_SECRET },
        { type: A.CKA_TOKEN, value: false },
        { type: A.CKA_SENSITIVE, value: false },
        { type: A.CKA_EXTRACTABLE, value: true },
        { type: A.CKA_VALUE_LEN, value: 32 },
      ]);
      try {
        return Buffer.from(asBuffer(attr(this.#read(secret, [A.CKA_VALUE]), 0)));
      } finally {
        this.#p.C_DestroyObject(s, secret);
      }
    });
  }
}

/** ECDSA-Sig-Value (DER) to raw r||s, for modules that return DER. */
export function derToRaw(der: Buffer): Buffer {
  const fail = () => new KeyholdError('TOKEN_ERROR', 'token: the signature is neither raw r||s nor DER');
  if (der[0] !== 0x30) throw fail();
  let off = 2;
  const out = Buffer.alloc(64);
  for (let i = 0; i < 2; i++) {
    if (der[off] !== 0x02) throw fail();
    const len = der[off + 1] as number;
    let v = der.subarray(off + 2, off + 2 + len);
    while (v.length > 32 && v[0] === 0) v = v.subarray(1);
    if (v.length > 32) throw fail();
    v.copy(out, i * 32 + (32 - v.length));
    off += 2 + len;
  }
  return out;
}

function describeToken(m: LoadedModule, slot: Handle, mechanisms?: string[]): TokenDescription {
  const t = m.driver.C_GetTokenInfo(slot);
  const si = m.driver.C_GetSlotInfo(slot);
  let mechs = mechanisms;
  if (!mechs) {
    const have = new Set(m.driver.C_GetMechanismList(slot));
    mechs = NOTABLE_MECHANISMS.filter(([, code]) => have.has(code)).map(([name]) => name);
  }
  const initialized = (t.flags & A.CKF_TOKEN_INITIALIZED) !== 0;
  return {
    module: m.path,
    slot: slotNumber(slot),
    // An uninitialised token (SoftHSM2's free slot, a blank card) is an empty
    // slot: no label, no serial, no keys, and no PIN whose state could be shown.
    empty: !initialized,
    label: text(t.label),
    manufacturer: text(t.manufacturerID),
    model: text(t.model),
    serial: text(t.serialNumber),
    flags: {
      initialized,
      loginRequired: (t.flags & A.CKF_LOGIN_REQUIRED) !== 0,
      userPinInitialized: (t.flags & A.CKF_USER_PIN_INITIALIZED) !== 0,
      protectedAuthenticationPath: (t.flags & A.CKF_PROTECTED_AUTHENTICATION_PATH) !== 0,
      writeProtected: (t.flags & A.CKF_WRITE_PROTECTED) !== 0,
      removable: (si.flags & CKF_REMOVABLE_DEVICE) !== 0,
      hardware: (si.flags & CKF_HW_SLOT) !== 0,
    },
    pin: initialized ? pinFlags(t.flags) : null,
    mechanisms: mechs,
  };
}

export type TokenManagerOptions = Readonly<{
  /** A module path (`--module`); else KEYHOLD_PKCS11_MODULE; else the platform defaults. */
  module?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  /** The PKCS#11 layer; tests put a fault-injecting wrapper around the real pkcs11js here. */
  driverFactory?: DriverFactory | undefined;
}>;

/**
 * Every token reachable through the configured modules. Modules load on first
 * use; `close` logs out of every token, closes sessions and releases modules
 * (finalising those Keyhold initialised), in that order.
 */
export class TokenManager {
  readonly #opts: TokenManagerOptions;
  #modules: LoadedModule[] | null = null;
  readonly #tokens = new Map<string, Token>();
  #lastScan: TokenDescription[] = [];

  constructor(opts: TokenManagerOptions = {}) {
    this.#opts = opts;
  }

  modules(): LoadedModule[] {
    if (this.#modules) return this.#modules;
    const paths = resolveModulePaths(this.#opts.module, this.#opts.env);
    if (paths.length === 0) {
      throw new KeyholdError('TOKEN_MODULE', 'token: no PKCS#11 module found',
        'Install SoftHSM2, OpenSC or your token vendor\'s module, or name one with --module PATH or KEYHOLD_PKCS11_MODULE.');
    }
    const loaded: LoadedModule[] = [];
    let firstError: unknown = null;
    for (const p of paths) {
      try {
        loaded.push(openModule(p, this.#opts.driverFactory));
      } catch (e) {
        // A named module must work; among defaults, a broken one is skipped.
        if (paths.length === 1) throw e;
        firstError ??= e;
      }
    }
    if (loaded.length === 0) throw firstError instanceof Error ? firstError : new KeyholdError('TOKEN_MODULE', 'token: no PKCS#11 module could be loaded');
    this.#modules = loaded;
    return loaded;
  }

  /** Tokens present now. Tokens gone since the last scan are forgotten (their sessions died with them). */
  scan(): TokenDescription[] {
    const seen = new Set<string>();
    const out: TokenDescription[] = [];
    for (const m of this.modules()) {
      let slots: Handle[];
      try {
        slots = m.driver.C_GetSlotList(true);
      } catch (e) {
        throw tokenError(e, 'listing slots', m.path);
      }
      for (const slot of slots) {
        let desc: TokenDescription;
        try {
          desc = describeToken(m, slot, this.#tokens.get(`${m.path}|${slotNumber(slot)}`)?.description.mechanisms);
        } catch (e) {
          // A token pulled out between the slot list and its info is simply not
          // present; so is one that cannot describe itself (SoftHSM2 answers
          // CKR_GENERAL_ERROR for a deleted token): it must not hide the others.
          if (ckrOf(e) !== null) continue;
          throw tokenError(e, 'reading token info', m.path);
        }
        const key = `${m.path}|${desc.slot}`;
        seen.add(key);
        const known = this.#tokens.get(key);
        if (!known || known.description.serial !== desc.serial) this.#tokens.set(key, new Token(m, slot, desc));
        out.push(desc);
      }
    }
    for (const key of [...this.#tokens.keys()]) if (!seen.has(key)) this.#tokens.delete(key);
    this.#lastScan = out;
    return out;
  }

  /**
   * The token whose label or serial is `selector`; with no selector, the only
   * token present. TOKEN_NOT_FOUND names what is present.
   */
  token(selector?: string): Token {
    // An uninitialised token (SoftHSM2's free slot, a blank card) has no keys and takes no login.
    const present = this.scan().filter((t) => t.flags.initialized);
    const match = selector === undefined ? present : present.filter((t) => t.label === selector || t.serial === selector);
    if (match.length === 1) {
      const d = match[0] as TokenDescription;
      return this.#tokens.get(`${d.module}|${d.slot}`) as Token;
    }
    const list = present.map(tokenName).join(', ') || 'none';
    if (match.length === 0) {
      throw new KeyholdError('TOKEN_NOT_FOUND',
        selector === undefined ? 'token: no token is present' : `token: no token labelled '${selector}' is present`,
        `Tokens present: ${list}. Insert the token, or check --module.`);
    }
    throw new KeyholdError('TOKEN_AMBIGUOUS', selector === undefined
      ? 'token: several tokens are present; name one with --token'
      : `token: several tokens are labelled '${selector}'; name one by its serial`, `Tokens present: ${list}.`);
  }

  /** The tokens the last scan found (no PKCS#11 call). */
  get lastScan(): readonly TokenDescription[] {
    return this.#lastScan;
  }

  /** The present token with this serial, if any. */
  bySerial(serial: string): Token | null {
    const d = this.scan().find((t) => t.flags.initialized && t.serial === serial);
    return d ? (this.#tokens.get(`${d.module}|${d.slot}`) ?? null) : null;
  }

  /** The tokens logged in within this process (no PKCS#11 call: a token pulled out since is found out at its next use). */
  loggedIn(): Token[] {
    return [...this.#tokens.values()].filter((t) => t.loggedIn);
  }

  /** Logs out of every token (vault lock does this). */
  async logoutAll(): Promise<void> {
    await Promise.all([...this.#tokens.values()].map((t) => t.logout()));
  }

  /** Logout, close sessions, release modules. Idempotent. */
  async close(): Promise<void> {
    await this.logoutAll();
    this.#tokens.clear();
    const mods = this.#modules ?? [];
    this.#modules = null;
    for (const m of mods.reverse()) m.release();
  }
}
