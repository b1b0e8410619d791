/**
 * The rollback anchor: a vault's audit head (sequence, hash and time of the
 * last entry) and its id, MACed under a key derived from the VMK for this
 * alone (Vault.anchorMac), kept on each of the vault's registered tokens as a
 * private PKCS#11 data object (CKO_DATA, CKA_TOKEN and CKA_PRIVATE true,
 * CKA_LABEL `keyhold-anchor:<vault id>`, CKA_APPLICATION `keyhold`, value a
 * small JSON text). docs/tokens.md (data object), docs/threat-model.md (what
 * it can and cannot tell).
 *
 * - Registered tokens: those a keyslot names (a token keyslot, or any keyslot
 *   whose parameters name a token serial) and those holding a signer key.
 * - Written after every change (the head moved) to each registered token that
 *   is logged in within this process, and once more at lock; a token absent
 *   is skipped and brought up to date the next time it is logged in.
 * - Checked at unlock on each registered token logged in then (the token that
 *   opened a token keyslot, at least): a vault file whose head is behind the
 *   anchor's, or whose entry at the anchor's sequence is another (a fork), is
 *   refused (ROLLBACK_DETECTED); an anchor that fails its MAC is refused too
 *   (ANCHOR_INVALID). Nothing is written by a refusal. With an override
 *   (`acceptRollback`, a reason) the unlock goes on, a `vault.rollbackAccepted`
 *   entry records both heads and the reason, and the anchor is rewritten.
 */

import type { AnchorStatus } from '../../../shared/contract.js';
import { canonicalJson } from '../../../shared/canonical-json.js';
import { KeyholdError } from '../../../shared/errors.js';
import { equalBytes } from '../crypto/primitives.js';
import { genesisHash } from '../audit/chain.js';
import { listSigners } from '../bundle/store.js';
import type { Vault } from '../vault/vault.js';
import { tokenName, type Token, type TokenDescription, type TokenManager } from './token.js';

export const ANCHOR_APPLICATION = 'keyhold';
export const ANCHOR_VERSION = 1;
/** The largest anchor value read (a real one is about 300 bytes). */
const MAX_ANCHOR_BYTES = 4096;

/** The CKA_LABEL of a vault's anchor: one per vault on a token. */
export function anchorLabel(vaultId: string): string {
  return `keyhold-anchor:${vaultId}`;
}

/** An audit head as the anchor records it: sequence, entry hash (hex) and the entry's time. */
export type AnchorHead = Readonly<{ seq: number; hash: string; at: string }>;

export type Anchor = AnchorHead & Readonly<{ v: number; vaultId: string }>;

/** What a token's anchor says about the vault file open now. */
export type AnchorState =
  /** No anchor for this vault on the token yet. */
  | 'none'
  /** The anchor records the vault's head. */
  | 'current'
  /** The anchor records an earlier entry of the vault's own chain (the token was away during later changes). */
  | 'older'
  /** The vault file's head is before the anchor's: the file is an older copy. */
  | 'behind'
  /** The vault's entry at the anchor's sequence is another: the file is a forked copy. */
  | 'fork'
  /** The anchor fails its MAC, names another vault or does not parse. */
  | 'invalid';

export type AnchorCheck = Readonly<{ state: AnchorState; anchor: Anchor | null; why?: string | undefined }>;

/** The text the MAC covers: a domain label, then the anchor's fields in canonical JSON. */
function macInput(a: Anchor): string {
  return `keyhold/v1 token anchor\n${canonicalJson({ v: a.v, vaultId: a.vaultId, seq: a.seq, hash: a.hash, at: a.at })}`;
}

/** The vault's audit head now, with its entry's time (the vault's creation time before any entry). */
export function vaultHead(vault: Vault): AnchorHead {
  const head = vault.auditHead;
  const row = vault.read((db) => db.prepare('SELECT at FROM audit_log WHERE seq = ?').get(head.seq)) as { at?: unknown } | undefined;
  return { seq: head.seq, hash: head.hash.toString('hex'), at: typeof row?.at === 'string' ? row.at : vault.createdAt };
}

/** The anchor's value for the vault's head: canonical JSON with its MAC. */
export function encodeAnchor(vault: Vault, head: AnchorHead): Buffer {
  const a: Anchor = { v: ANCHOR_VERSION, vaultId: vault.id, seq: head.seq, hash: head.hash, at: head.at };
  return Buffer.from(canonicalJson({ ...a, mac: vault.anchorMac(macInput(a)).toString('hex') }), 'utf8');
}

/** Parses and checks one anchor value: its MAC under this vault's anchor key, and its vault id. */
export function decodeAnchor(vault: Vault, value: Buffer): { anchor: Anchor } | { why: string } {
  if (value.length > MAX_ANCHOR_BYTES) return { why: `it is ${value.length} bytes long` };
  let o: unknown;
  try {
    o = JSON.parse(value.toString('utf8'));
  } catch {
    return { why: 'it is not JSON' };
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return { why: 'it is not a JSON object' };
  const r = o as Record<string, unknown>;
  if (r.v !== ANCHOR_VERSION) return { why: `its version is ${JSON.stringify(r.v ?? null).slice(0, 20)}, not ${ANCHOR_VERSION}` };
  if (typeof r.vaultId !== 'string' || typeof r.seq !== 'number' || !Number.isSafeInteger(r.seq) || r.seq < 0 ||
      typeof r.hash !== 'string' || !/^[0-9a-f]{64}$/.test(r.hash) || typeof r.at !== 'string' || r.at.length > 64 ||
      typeof r.mac !== 'string' || !/^[0-9a-f]{64}$/.test(r.mac)) {
    return { why: 'a field is missing or malformed' };
  }
  const a: Anchor = { v: r.v, vaultId: r.vaultId, seq: r.seq, hash: r.hash, at: r.at };
  if (a.vaultId !== vault.id) return { why: 'it names another vault' };
  if (!equalBytes(vault.anchorMac(macInput(a)), Buffer.from(r.mac, 'hex'))) {
    return { why: 'its MAC does not verify with this vault\'s key' };
  }
  return { anchor: a };
}

/** Compares an anchor with the vault file open now. */
export function compareAnchor(vault: Vault, a: Anchor): AnchorState {
  const head = vault.auditHead;
  if (head.seq < a.seq) return 'behind';
  let hash: Buffer | null;
  if (a.seq === head.seq) hash = head.hash;
  // Entry 0 is the genesis: no row, its hash is the vault id's.
  else if (a.seq === 0) hash = genesisHash(vault.id);
  else {
    const row = vault.read((db) => db.prepare('SELECT hash FROM audit_log WHERE seq = ?').get(a.seq)) as { hash?: unknown } | undefined;
    hash = Buffer.isBuffer(row?.hash) ? row.hash : null;
  }
  if (!hash || hash.toString('hex') !== a.hash) return 'fork';
  return head.seq === a.seq ? 'current' : 'older';
}

/** Reads and judges the anchor on a logged-in token. Several objects: an invalid one wins, else the latest. */
export async function checkAnchor(vault: Vault, token: Token): Promise<AnchorCheck> {
  const values = await token.readData(anchorLabel(vault.id));
  if (values.length === 0) return { state: 'none', anchor: null };
  let best: Anchor | null = null;
  for (const v of values) {
    const d = decodeAnchor(vault, v);
    if ('why' in d) return { state: 'invalid', anchor: null, why: d.why };
    if (!best || d.anchor.seq > best.seq) best = d.anchor;
  }
  const anchor = best as Anchor;
  return { state: compareAnchor(vault, anchor), anchor };
}

/** The serials of the vault's registered tokens: named by a keyslot (its params' `serial`, at any depth) or holding a signer key. */
export function registeredSerials(vault: Vault): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, depth: number): void => {
    if (depth > 4 || typeof v !== 'object' || v === null) return;
    for (const [k, x] of Object.entries(v)) {
      if (k === 'serial' && typeof x === 'string' && x !== '') out.add(x);
      else walk(x, depth + 1);
    }
  };
  // The rows were checked (checksum and MAC) at unlock; their raw params keep every nested field (a quorum slot's custodians).
  const rows = vault.read((db) => db.prepare("SELECT params FROM keyslots WHERE type <> 'passphrase'").all()) as { params: unknown }[];
  for (const r of rows) {
    if (typeof r.params !== 'string') continue;
    try {
      walk(JSON.parse(r.params), 0);
    } catch {
      // A slot whose params do not parse names no token.
    }
  }
  try {
    for (const s of listSigners(vault)) out.add(s.token_serial);
  } catch {
    // A signer row that fails its check is reported by the commands that use signers; the keyslots' tokens still count.
  }
  return out;
}

const HINT_OVERRIDE = 'Nothing was changed. Open the newest copy of the vault instead (from the workstation or backup it was last used on). ' +
  'For disaster recovery only, when no newer copy exists, open this one anyway with --accept-rollback REASON: the reason is recorded in the audit log and the token\'s record is moved to this file.';

/** The refusal for a token whose anchor is out of step with the vault file. */
export function rollbackError(vault: Vault, token: Token, check: AnchorCheck): KeyholdError {
  const head = vaultHead(vault);
  const a = check.anchor;
  if (check.state === 'invalid' || !a) {
    return new KeyholdError('ANCHOR_INVALID',
      `vault: the rollback record for this vault on token ${token.name} does not check out (${check.why ?? 'unreadable'}): it was made by another vault, or altered`,
      HINT_OVERRIDE);
  }
  if (check.state === 'behind') {
    return new KeyholdError('ROLLBACK_DETECTED',
      `vault: ${vault.path} is an older copy: its audit log ends at entry ${head.seq} (${head.at}), but token ${token.name} recorded entry ${a.seq} (${a.at})`,
      HINT_OVERRIDE);
  }
  return new KeyholdError('ROLLBACK_DETECTED',
    `vault: ${vault.path} is a forked copy: its audit entry ${a.seq} is not the one token ${token.name} recorded (${a.at}); the file's log ends at entry ${head.seq} (${head.at})`,
    HINT_OVERRIDE);
}

function isProblem(state: AnchorState): boolean {
  return state === 'behind' || state === 'fork' || state === 'invalid';
}

export type AcceptRollback = Readonly<{ reason: string }>;

/**
 * The anchors of one service: checked at unlock, written after changes. Holds
 * only which heads it wrote to which token (no secret) and is reset at every
 * unlock and lock.
 */
export class AnchorKeeper {
  /** Serial -> the head (`seq:hash`) this process wrote or found on the token. */
  readonly #written = new Map<string, string>();
  /** Serials whose anchor was read since the unlock (a token logged in later is checked before its first write). */
  readonly #checked = new Set<string>();
  /** Serials found out of step after the unlock: never overwritten this session, said in anchor.status. */
  readonly #blocked = new Map<string, AnchorCheck>();
  readonly #notice: (message: string) => void;

  constructor(notice: (message: string) => void) {
    this.#notice = notice;
  }

  reset(): void {
    this.#written.clear();
    this.#checked.clear();
    this.#blocked.clear();
  }

  /** The registered tokens logged in within this process. */
  #registered(vault: Vault, tokens: TokenManager | null): Token[] {
    const live = tokens?.loggedIn() ?? [];
    if (live.length === 0) return [];
    const serials = registeredSerials(vault);
    return live.filter((t) => serials.has(t.description.serial));
  }

  /**
   * At unlock, before anything is written (Vault's beforeChanges): checks the
   * anchor on every registered token logged in. Out of step: refused, unless
   * `accept` is given; then each is recorded (`vault.rollbackAccepted`) and the
   * anchors are rewritten by the sync that follows the unlock.
   */
  async checkAtUnlock(vault: Vault, tokens: TokenManager | null, accept: AcceptRollback | undefined): Promise<void> {
    this.reset();
    // A head that fails its MAC: changes and reveals are refused anyway (audit verify says why); its sequence means nothing.
    if (vault.auditHeadError) return;
    const found: { token: Token; check: AnchorCheck }[] = [];
    for (const token of this.#registered(vault, tokens)) {
      const check = await checkAnchor(vault, token);
      this.#checked.add(token.description.serial);
      if (isProblem(check.state)) found.push({ token, check });
      else if (check.state === 'current' && check.anchor) this.#written.set(token.description.serial, `${check.anchor.seq}:${check.anchor.hash}`);
    }
    if (found.length === 0) return;
    const first = found.find((f) => f.check.state !== 'invalid') ?? found[0];
    if (!accept) throw rollbackError(vault, first?.token as Token, first?.check as AnchorCheck);
    const head = vaultHead(vault);
    vault.transaction(() => {
      for (const { token, check } of found) {
        const d = token.description;
        vault.audit({ action: 'vault.rollbackAccepted', subject: 'vault', details: {
          reason: accept.reason,
          problem: check.state,
          head: { seq: head.seq, hash: head.hash, at: head.at },
          anchor: check.anchor ? { seq: check.anchor.seq, hash: check.anchor.hash, at: check.anchor.at, token: d.label, serial: d.serial } : null,
        } });
      }
    });
  }

  /**
   * Brings the anchor of every registered, logged-in token to the vault's
   * head: nothing to do (no PKCS#11 call) when each already has it, unless
   * `force` (at lock). A token logged in after the unlock is checked first: if
   * out of step, it is not overwritten (a notice says so). A token that fails
   * (pulled out) is skipped with a notice; the change itself stands.
   */
  async sync(vault: Vault, tokens: TokenManager | null, force = false): Promise<void> {
    const live = tokens?.loggedIn() ?? [];
    if (live.length === 0 || !vault.isUnlocked || vault.readOnly || vault.rehearsing) return;
    const h = vault.auditHead;
    const key = `${h.seq}:${h.hash.toString('hex')}`;
    if (!force && live.every((t) => this.#written.get(t.description.serial) === key || this.#blocked.has(t.description.serial))) return;
    if (vault.auditHeadError) return;
    const head = vaultHead(vault);
    const registered = this.#registered(vault, tokens);
    // A token logged in that is not the vault's (token keys, say) is not looked at again until the head moves.
    for (const t of live) if (!registered.includes(t)) this.#written.set(t.description.serial, key);
    for (const token of registered) {
      const serial = token.description.serial;
      if (this.#blocked.has(serial) || (!force && this.#written.get(serial) === key)) continue;
      try {
        if (!this.#checked.has(serial)) {
          const check = await checkAnchor(vault, token);
          this.#checked.add(serial);
          if (isProblem(check.state)) {
            this.#blocked.set(serial, check);
            this.#notice(`${rollbackError(vault, token, check).message}; its record was left as it is`);
            continue;
          }
        }
        await token.writeData(anchorLabel(vault.id), ANCHOR_APPLICATION, encodeAnchor(vault, head));
        this.#written.set(serial, key);
      } catch (e) {
        const why = e instanceof KeyholdError ? e.message : 'an unexpected error';
        this.#notice(`the rollback record on token ${tokenName(token.description)} was not updated (${why}); it is updated the next time the token is logged in`);
      }
    }
  }

  /** Each registered token: present, logged in, and what its anchor says (read now). */
  async status(vault: Vault, tokens: TokenManager | null): Promise<AnchorStatus> {
    const head = vaultHead(vault);
    const serials = registeredSerials(vault);
    let present: TokenDescription[] = [];
    try {
      present = tokens ? tokens.scan().filter((d) => d.flags.initialized && serials.has(d.serial)) : [];
    } catch {
      // No PKCS#11 module (or it fails to load): every registered token is reported absent.
    }
    const live = new Map((tokens?.loggedIn() ?? []).map((t) => [t.description.serial, t]));
    const out: AnchorStatus['tokens'] = [];
    for (const serial of [...serials].sort()) {
      const d = present.find((p) => p.serial === serial);
      const token = live.get(serial);
      if (!d || !token) {
        out.push({ serial, label: d?.label ?? null, present: d !== undefined, checked: false, state: null, anchorSeq: null, anchorAt: null, matches: null });
        continue;
      }
      const check = this.#blocked.get(serial) ?? await checkAnchor(vault, token);
      out.push({ serial, label: d.label, present: true, checked: true, state: check.state, anchorSeq: check.anchor?.seq ?? null,
        anchorAt: check.anchor?.at ?? null, matches: check.state === 'current' });
    }
    return { head: { seq: head.seq, at: head.at }, tokens: out };
  }
}
