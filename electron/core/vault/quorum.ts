/**
 * The quorum keyslot (Shamir M-of-N): any M of N custodians together unlock.
 *
 * A fresh random 32-byte quorum key K seals the VMK (the row's `wrapped`,
 * AAD wrapAad as for every slot, so the params below are bound to it). K is
 * split with shamir-secret-sharing (a well-kept, audited library; never a
 * home-made split) into N shares. Each share's plaintext (43 bytes: format
 * byte 1, the split id (8 random bytes), the custodian's index, the 33-byte
 * share) is sealed to one custodian:
 *   passphrase  AES-256-GCM under Argon2id(passphrase, its own salt)
 *   token       the token keyslot's ECDH P-256 method (token/keyslot.ts,
 *               makeTokenSlot and tokenOpener, reused), bound to that token
 * with the AAD ["keyhold/v1/quorum-share", vault id, slot id, split, index,
 * name]. The params (canonical JSON) hold m, n, the split id and each
 * custodian's name, kind, KDF or token parameters and sealed share.
 *
 * Unlock collects shares one custodian at a time (QuorumSessions): a share
 * whose split id is not the slot's (another split, an older one replaced by
 * a re-share) or that was given already is refused; nothing is combined
 * before M shares, and a session's shares are wiped at cancel, lock, an error
 * that ends it, or after 5 minutes idle.
 */

import { randomBytes } from 'node:crypto';
import { combine, split } from 'shamir-secret-sharing';
import { canonicalize } from 'keyhold-format';
import type { KdfParams } from '../../../shared/contract.js';
import { KeyholdError } from '../../../shared/errors.js';
import { equalBytes, seal, tryOpen, wipe } from '../crypto/primitives.js';
import { makeTokenSlot, parseTokenSlotParams, tokenOpener, type TokenSlotParams } from '../token/keyslot.js';
import type { PinPlan, Token, TokenKey, TokenManager } from '../token/token.js';
import type { PublicJwk } from '../token/jwk.js';
import { PAPER_PAYLOAD_BYTES } from '../quorum/paper.js';
import { deriveKek, type StoredKdfParams } from './kdf.js';
import { parseStoredKdf, wrapAad, type KeyslotRow, type NewKeyslot, type SlotOpener } from './keyslots.js';

export const QUORUM_METHOD = 'shamir-v1';
export const MAX_CUSTODIANS = 16;
/** A collection left idle this long is wiped. */
export const QUORUM_IDLE_MS = 5 * 60 * 1000;
const SHARE_FORMAT = 1;
const SPLIT_BYTES = 8;
const SHARE_BYTES = 33;

export type PassphraseCustodian = Readonly<{ name: string; kind: 'passphrase'; share: string } & StoredKdfParams>;
export type TokenCustodian = Readonly<{ name: string; kind: 'token'; token: TokenSlotParams; share: string }>;
export type Custodian = PassphraseCustodian | TokenCustodian;

export type QuorumParams = Readonly<{ method: typeof QUORUM_METHOD; m: number; n: number; split: string; custodians: readonly Custodian[] }>;

/** A custodian as slot.addQuorum gets it, its credential ready (a token logged in, its key chosen). */
export type NewCustodian = Readonly<{ name: string; kind: 'passphrase'; passphrase: Buffer; kdf: KdfParams }>
  | Readonly<{ name: string; kind: 'token'; token: Token; key: TokenKey & { jwk: PublicJwk } }>;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function parseQuorumParams(params: string): QuorumParams | null {
  try {
    const p = JSON.parse(params) as Partial<QuorumParams>;
    if (p.method !== QUORUM_METHOD || !Number.isInteger(p.m) || !Number.isInteger(p.n) || typeof p.split !== 'string') return null;
    if (!/^[0-9a-f]{16}$/.test(p.split) || !Array.isArray(p.custodians)) return null;
    const m = p.m as number;
    const n = p.n as number;
    if (m < 2 || n < m || n > MAX_CUSTODIANS || p.custodians.length !== n) return null;
    const names = new Set<string>();
    for (const c of p.custodians as Custodian[]) {
      if (typeof c !== 'object' || c === null || typeof c.name !== 'string' || !NAME_RE.test(c.name) || names.has(c.name)) return null;
      names.add(c.name);
      if (typeof c.share !== 'string' || Buffer.from(c.share, 'base64').length < 16) return null;
      if (c.kind === 'passphrase') {
        const { name: _n, kind: _k, share: _s, ...kdf } = c;
        if (!parseStoredKdf(JSON.stringify(kdf))) return null;
      } else if (c.kind === 'token') {
        if (typeof c.token !== 'object' || c.token === null || !parseTokenSlotParams(JSON.stringify(c.token))) return null;
      } else {
        return null;
      }
    }
    return p as QuorumParams;
  } catch {
    return null;
  }
}

function shareAad(vaultId: string, slotId: number, splitId: string, index: number, name: string): string {
  return JSON.stringify(['keyhold/v1/quorum-share', vaultId, slotId, splitId, index, name]);
}

/** The id a token custodian's ECDH binds besides the slot id: vault, split and index. */
function tokenScope(vaultId: string, splitId: string, index: number): string {
  return `${vaultId}/quorum/${splitId}/${index}`;
}

function sharePlaintext(splitId: string, index: number, share: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([SHARE_FORMAT]), Buffer.from(splitId, 'hex'), Buffer.from([index]), share]);
}

/** A share's parts, or null when its bytes are not a share. */
export function readShare(plain: Uint8Array): { split: string; index: number; share: Buffer } | null {
  if (plain.length !== 2 + SPLIT_BYTES + SHARE_BYTES || plain.length !== PAPER_PAYLOAD_BYTES || plain[0] !== SHARE_FORMAT) return null;
  return {
    split: Buffer.from(plain.subarray(1, 1 + SPLIT_BYTES)).toString('hex'),
    index: plain[1 + SPLIT_BYTES] as number,
    share: Buffer.from(plain.subarray(2 + SPLIT_BYTES)),
  };
}

/**
 * Makes a quorum slot for Vault.addSlotWith: a new K and split every time
 * (a re-share is a new slot: the old shares open nothing in it).
 */
export async function makeQuorumSlot(vaultId: string, slotId: number, vmk: Buffer, m: number, custodians: readonly NewCustodian[],
  label: string): Promise<NewKeyslot> {
  const n = custodians.length;
  if (m < 2 || n < m || n > MAX_CUSTODIANS) {
    throw new KeyholdError('INVALID_INPUT', `quorum: ${m} of ${n} custodians is not a quorum`,
      `Give 2 to ${MAX_CUSTODIANS} custodians and an m from 2 to their number.`);
  }
  if (new Set(custodians.map((c) => c.name)).size !== n) {
    throw new KeyholdError('INVALID_INPUT', 'quorum: custodian names must not repeat', 'Give each custodian a name of their own.');
  }
  // The library takes plain Uint8Arrays (it checks the constructor: a Buffer is refused).
  const k = new Uint8Array(32);
  crypto.getRandomValues(k);
  const splitId = randomBytes(SPLIT_BYTES).toString('hex');
  const shares = await split(k, n, m);
  const plains: Buffer[] = [];
  try {
    const sealed: Custodian[] = [];
    for (const [i, c] of custodians.entries()) {
      const plain = sharePlaintext(splitId, i, shares[i] as Uint8Array);
      plains.push(plain);
      if (c.kind === 'passphrase') {
        const stored: StoredKdfParams = { kdf: 'argon2id', version: 19, memoryKiB: c.kdf.memoryKiB, passes: c.kdf.passes,
          parallelism: c.kdf.parallelism, salt: randomBytes(32).toString('base64') };
        const kek = await deriveKek(c.passphrase, stored);
        try {
          sealed.push({ name: c.name, kind: 'passphrase', ...stored,
            share: seal(kek, plain, shareAad(vaultId, slotId, splitId, i, c.name)).toString('base64') });
        } finally {
          wipe(kek);
        }
      } else {
        // The token keyslot's own method (and its proof on the card), sealing the share instead of the VMK.
        const t = await makeTokenSlot(c.token, c.key, plain, tokenScope(vaultId, splitId, i), slotId, c.name);
        sealed.push({ name: c.name, kind: 'token', token: JSON.parse(t.params) as TokenSlotParams, share: t.wrapped.toString('base64') });
      }
    }
    const params = canonicalize({ method: QUORUM_METHOD, m, n, split: splitId, custodians: sealed } satisfies QuorumParams);
    return { type: 'quorum', label, params, wrapped: seal(Buffer.from(k.buffer, k.byteOffset, k.length), vmk, wrapAad(vaultId, slotId, 'quorum', params)) };
  } finally {
    wipe(k, ...shares, ...plains);
  }
}

/** What a custodian gives to unseal their share. */
export type ShareCredential =
  | Readonly<{ passphrase: Buffer }>
  | Readonly<{ tokens: TokenManager; pins: PinPlan; allowFinalTry?: boolean | undefined }>;

/**
 * Unseals one custodian's share: its plaintext, or WRONG_PASSPHRASE (a
 * passphrase custodian), or the token's own errors (a wrong PIN, the token
 * absent). Nothing is kept.
 */
export async function unsealShare(vaultId: string, slotId: number, p: QuorumParams, index: number, cred: ShareCredential): Promise<Buffer> {
  const c = p.custodians[index] as Custodian;
  const sealed = Buffer.from(c.share, 'base64');
  if (c.kind === 'passphrase') {
    if (!('passphrase' in cred)) {
      throw new KeyholdError('INVALID_INPUT', `quorum: custodian ${c.name} holds a passphrase share: give their passphrase`);
    }
    const { name: _n, kind: _k, share: _s, ...kdf } = c;
    const kek = await deriveKek(cred.passphrase, kdf);
    try {
      const plain = tryOpen(kek, sealed, shareAad(vaultId, slotId, p.split, index, c.name));
      if (!plain) {
        throw new KeyholdError('WRONG_PASSPHRASE', `quorum: wrong passphrase for custodian ${c.name}`,
          'Nothing collected so far was lost; the custodian may try again.');
      }
      return plain;
    } finally {
      wipe(kek);
    }
  }
  if (!('tokens' in cred)) {
    throw new KeyholdError('INVALID_INPUT', `quorum: custodian ${c.name} holds a token share: give the token's PIN`);
  }
  // The token keyslot's opener, on a row made of this custodian's params and sealed share: the PIN goes to this token only.
  const opener = tokenOpener(cred.tokens, { pins: cred.pins, allowFinalTry: cred.allowFinalTry, token: c.token.serial });
  const row: KeyslotRow = { id: slotId, type: 'token', label: c.name, created_at: '', params: canonicalize(c.token),
    wrapped: sealed, checksum: Buffer.alloc(0), mac: Buffer.alloc(0) };
  const plain = await opener.open(tokenScope(vaultId, p.split, index), row);
  if (!plain) throw opener.refused();
  return plain;
}

/**
 * The slot opener a completed collection unlocks with (Vault.unlockWith):
 * only the slot the shares were collected for, and only while its split is
 * the one they belong to.
 */
export function quorumOpener(slotId: number, splitId: string, key: Buffer): SlotOpener {
  let matched = false;
  return {
    type: 'quorum',
    paramsValid: (row) => parseQuorumParams(row.params) !== null,
    open: (vaultId, row) => {
      if (row.id !== slotId) return Promise.resolve(null);
      const p = parseQuorumParams(row.params);
      if (!p || p.split !== splitId) return Promise.resolve(null);
      matched = true;
      return Promise.resolve(tryOpen(key, row.wrapped, wrapAad(vaultId, row.id, row.type, row.params)));
    },
    refused: () => matched
      ? new KeyholdError('INTEGRITY', `vault: the quorum shares did not open keyslot ${slotId}`,
        'The keyslot was altered outside Keyhold. Unlock with another keyslot.')
      : new KeyholdError('QUORUM_SHARE', `quorum: keyslot ${slotId} was re-shared or removed while the shares were collected`,
        'Start again: the shares collected belong to a split that no longer opens the vault.'),
    noSlot: () => new KeyholdError('QUORUM_SHARE', `quorum: keyslot ${slotId} was removed while the shares were collected`,
      'Unlock with one of its other keyslots (see `keyhold slot list`).'),
    dispose: () => wipe(key),
  };
}

/**
 * An opener that opens nothing and records the quorum slots it is shown:
 * quorum.begin reads a locked vault's quorum slots through Vault.unlockWith,
 * with its checks (checksums, damaged slots, a vault in use), and no key.
 */
export function quorumSurvey(): SlotOpener & { readonly seen: ReadonlyArray<{ vaultId: string; row: KeyslotRow }> } {
  const seen: { vaultId: string; row: KeyslotRow }[] = [];
  return {
    seen,
    type: 'quorum',
    paramsValid: (row) => parseQuorumParams(row.params) !== null,
    open: (vaultId, row) => {
      seen.push({ vaultId, row });
      return Promise.resolve(null);
    },
    refused: () => new KeyholdError('INTERNAL', 'quorum: survey'),
    noSlot: () => new KeyholdError('KEYSLOT_NOT_FOUND', 'vault: this vault has no quorum keyslot',
      'Unlock it with one of its other keyslots; a quorum slot is added with `keyhold slot add-quorum`.'),
    dispose: () => undefined,
  };
}

// ---- collection -----------------------------------------------------------------

export type QuorumSessionInfo = Readonly<{
  session: string;
  slot: number;
  m: number;
  n: number;
  custodians: { name: string; kind: 'passphrase' | 'token'; token?: { label: string; serial: string } }[];
  collected: number;
  given: string[];
}>;

type Session = {
  id: string;
  path: string;
  vaultId: string;
  slotId: number;
  params: QuorumParams;
  /** Custodian index -> the share's 33 bytes. */
  shares: Map<number, Buffer>;
  lastUsed: number;
  timer: NodeJS.Timeout | null;
};

function sessionGone(): KeyholdError {
  return new KeyholdError('QUORUM_SHARE', 'quorum: this collection of shares has ended (cancelled, locked, timed out or failed)',
    'Start the quorum unlock again; nothing of the earlier collection was kept.');
}

/**
 * Collections of quorum shares in progress (one at a time): begin, one share
 * per custodian, cancel. Shares are held only here, wiped when the
 * collection ends however it ends.
 */
export class QuorumSessions {
  #session: Session | null = null;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Starts a collection for a vault's quorum slot (read by survey); an earlier one is wiped. */
  begin(path: string, seen: ReadonlyArray<{ vaultId: string; row: KeyslotRow }>, slot: number | undefined): QuorumSessionInfo {
    this.clear();
    const rows = slot === undefined ? seen : seen.filter((s) => s.row.id === slot);
    if (rows.length === 0) {
      throw new KeyholdError('KEYSLOT_NOT_FOUND', `vault: no quorum keyslot ${slot ?? ''}`.trim(), 'See `keyhold slot list`.');
    }
    if (rows.length > 1) {
      throw new KeyholdError('INVALID_INPUT', `quorum: the vault has several quorum keyslots (${rows.map((r) => r.row.id).join(', ')}): name one`,
        'Unlock by quorum uses a vault\'s only quorum keyslot: remove the others (`keyhold slot remove`), or re-share into one.');
    }
    const { vaultId, row } = rows[0] as { vaultId: string; row: KeyslotRow };
    const params = parseQuorumParams(row.params) as QuorumParams;
    const id = `qs_${randomBytes(16).toString('base64url')}`;
    const s: Session = { id, path, vaultId, slotId: row.id, params, shares: new Map(), lastUsed: this.#now(), timer: null };
    this.#session = s;
    this.#touch(s);
    return this.#info(s);
  }

  #info(s: Session): QuorumSessionInfo {
    return {
      session: s.id, slot: s.slotId, m: s.params.m, n: s.params.n,
      custodians: s.params.custodians.map((c) => (c.kind === 'token'
        ? { name: c.name, kind: c.kind, token: { label: c.token.token, serial: c.token.serial } }
        : { name: c.name, kind: c.kind })),
      collected: s.shares.size,
      given: [...s.shares.keys()].sort((a, b) => a - b).map((i) => (s.params.custodians[i] as Custodian).name),
    };
  }

  /** Activity: the idle time starts again (the clock for the check, a timer that wipes the shares if nothing follows). */
  #touch(s: Session): void {
    s.lastUsed = this.#now();
    if (s.timer) clearTimeout(s.timer);
    s.timer = setTimeout(() => {
      if (this.#session === s) this.clear();
    }, QUORUM_IDLE_MS);
    s.timer.unref();
  }

  /** The live session with this id (its idle time not over), or QUORUM_SHARE. */
  #get(id: string): Session {
    const s = this.#session;
    if (!s || s.id !== id) throw sessionGone();
    if (this.#now() - s.lastUsed >= QUORUM_IDLE_MS) {
      this.clear();
      throw sessionGone();
    }
    return s;
  }

  /**
   * Adds one custodian's share. `unseal` gives the share's plaintext from the
   * custodian's credential (passphrase, token PIN, paper words); its errors
   * (a wrong passphrase) leave the collection as it was. Returns the
   * collection's state, and with the M-th share the combined key and the
   * slot to open (the collection is then over).
   */
  async add(id: string, custodian: string, unseal: (vaultId: string, slotId: number, p: QuorumParams, index: number) => Promise<Buffer>):
    Promise<{ info: QuorumSessionInfo; complete: null | { path: string; opener: SlotOpener } }> {
    const s = this.#get(id);
    const index = s.params.custodians.findIndex((c) => c.name === custodian);
    if (index < 0) {
      throw new KeyholdError('INVALID_INPUT', `quorum: keyslot ${s.slotId} has no custodian '${custodian}'`,
        `Its custodians: ${s.params.custodians.map((c) => c.name).join(', ')}.`);
    }
    if (s.shares.has(index)) {
      throw new KeyholdError('QUORUM_SHARE', `quorum: custodian ${custodian}'s share was given already`,
        'The same share counts once: the next share must come from another custodian.');
    }
    this.#touch(s);
    const plain = await unseal(s.vaultId, s.slotId, s.params, index);
    // The session may have ended while the KDF or the token ran (a cancel, a lock).
    if (this.#session !== s) {
      wipe(plain);
      throw sessionGone();
    }
    const got = readShare(plain);
    wipe(plain);
    try {
      if (!got || got.split !== s.params.split) {
        throw new KeyholdError('QUORUM_SHARE', `quorum: this share is not one of keyslot ${s.slotId}'s current split`,
          'It belongs to another quorum, or to a split replaced by a re-share: such shares no longer open the vault. Nothing collected so far was lost.');
      }
      if (got.index !== index) {
        const other = s.params.custodians[got.index]?.name;
        throw new KeyholdError('QUORUM_SHARE', `quorum: this paper share is ${other === undefined ? 'not' : `${other}'s, not`} ${custodian}'s`,
          'Enter each custodian\'s own share under their name. Nothing collected so far was lost.');
      }
      for (const have of s.shares.values()) {
        if (equalBytes(have, got.share)) {
          throw new KeyholdError('QUORUM_SHARE', 'quorum: this share was given already', 'The same share counts once.');
        }
      }
    } catch (e) {
      wipe(got?.share);
      throw e;
    }
    s.shares.set(index, got.share);
    this.#touch(s);
    const info = this.#info(s);
    if (s.shares.size < s.params.m) return { info, complete: null };
    // The M-th share: combine, and the collection ends whatever the unlock does.
    const shares = [...s.shares.values()].map((b) => new Uint8Array(b));
    this.clear();
    let key: Buffer;
    try {
      const combined = await combine(shares);
      key = Buffer.from(combined);
      wipe(combined);
    } finally {
      wipe(...shares);
    }
    return { info, complete: { path: s.path, opener: quorumOpener(s.slotId, s.params.split, key) } };
  }

  /** Ends a collection, wiping its shares. Unknown or ended sessions are fine (nothing to wipe). */
  cancel(id: string): boolean {
    if (this.#session?.id !== id) return false;
    this.clear();
    return true;
  }

  /** Wipes any collection in progress (lock, shutdown, a new begin). */
  clear(): void {
    const s = this.#session;
    this.#session = null;
    if (!s) return;
    if (s.timer) clearTimeout(s.timer);
    for (const b of s.shares.values()) wipe(b);
    s.shares.clear();
  }

  /** Whether a collection is held (tests: nothing is kept after a cancel). */
  get active(): boolean {
    return this.#session !== null;
  }
}
