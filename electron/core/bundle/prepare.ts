/**
 * Prepared bundles: a bundle's payload made, and summarised, before anything
 * is signed (docs/bundle-export.md, "Before signing: prepare and summary").
 *
 * `bundle.prepare` selects the changes, encrypts the held secrets to the
 * recipient and encodes the canonical payload (exportBundle's first half,
 * prepareBundle in export.ts); the custodians read the summary, its payload
 * hash and the same hash as words; `bundle.export { prepared }` then signs
 * and records exactly that payload (the same bytes, so the same hash).
 *
 * A prepared payload lives only here, in the service's memory: never on
 * disk, dropped when the vault locks (the service clears this store), after
 * PREPARED_TTL_MS, and once signed. It holds the payload (whose secrets are
 * the JWE, encrypted to the recipient) and no plaintext secret: the entries
 * encrypted are let go as soon as the JWE is built.
 */
import { randomBytes } from 'node:crypto';
import { KeyholdError } from '../../../shared/errors.js';
import type { ItemKind } from './store.js';

/** How long a prepared payload may be signed after it was made. */
export const PREPARED_TTL_MS = 15 * 60_000;
/** At most this many prepared payloads are kept; a new one drops the oldest. */
export const PREPARED_MAX = 8;
/** The summary lists at most this many changes, then says how many more there are. */
export const SUMMARY_KEY_LIMIT = 50;

/** One change of a bundle as the summary names it. */
export type SummaryKey = Readonly<{
  keyId: string;
  service: string;
  environment: string;
  name: string;
  version: number;
  kind: 'issue' | 'revoke';
  /** A revocation's reason (superseded at the end of a grace window, compromised, ...); null for an issue. */
  reason: string | null;
  /** Whether the bundle carries this version's secret (encrypted to the recipient). */
  secret: boolean;
}>;

export type PreparedItem = Readonly<{ keyId: string; version: number; kind: ItemKind }>;

export type PreparedBundle = Readonly<{
  id: string;
  vaultId: string;
  /** The recipient's row as it was: an export recorded since (or the row changed) makes this one stale. */
  recipient: Readonly<{ id: string; name: string; sequence: number; lastHash: string | null; rowVersion: number }>;
  revocationsOnly: boolean;
  expires: string;
  sequence: number;
  /** The canonical payload, base64url: what is signed. */
  b64: string;
  hash: string;
  bytes: number;
  issuedAt: string;
  expiresAt: string;
  checkpoint: Readonly<{ seq: number; hash: string }>;
  items: readonly PreparedItem[];
  issued: number;
  revoked: number;
  secrets: number;
  /** The first SUMMARY_KEY_LIMIT changes, sorted by service, environment, name and version. */
  keys: readonly SummaryKey[];
  moreKeys: number;
  /** Vault clock, ms: when it was made and until when it may be signed. */
  preparedAt: number;
  validUntil: number;
}>;

export function newPreparedId(): string {
  return `pb_${randomBytes(16).toString('base64url')}`;
}

/** The same items, whatever their order: what a payload made now would carry is what was prepared. */
export function sameItems(a: readonly PreparedItem[], b: readonly PreparedItem[]): boolean {
  if (a.length !== b.length) return false;
  const key = (i: PreparedItem) => `${i.kind}/${i.keyId}/${i.version}`;
  const set = new Set(a.map(key));
  return b.every((i) => set.has(key(i)));
}

/** The service's prepared payloads, by id. */
export class PreparedBundles {
  readonly #byId = new Map<string, PreparedBundle>();

  add(p: PreparedBundle): void {
    this.#byId.set(p.id, p);
    while (this.#byId.size > PREPARED_MAX) {
      const oldest = this.#byId.keys().next().value as string;
      this.#byId.delete(oldest);
    }
  }

  /** The prepared payload, or BUNDLE_STALE when it is unknown (locked since, signed already, dropped) or expired. */
  get(id: string, nowMs: number): PreparedBundle {
    const p = this.#byId.get(id);
    if (!p) {
      throw new KeyholdError('BUNDLE_STALE', 'bundle: the prepared bundle is no longer known: it was signed already, ' +
        'or dropped when the vault locked or when newer ones were prepared',
      'Prepare the bundle again and check the new summary before signing.');
    }
    if (nowMs >= p.validUntil) {
      this.#byId.delete(id);
      throw new KeyholdError('BUNDLE_STALE', `bundle: the prepared bundle for ${p.recipient.name} expired ` +
        `(a summary may be signed for ${PREPARED_TTL_MS / 60_000} minutes after it is made)`,
      'Prepare the bundle again and check the new summary before signing.');
    }
    return p;
  }

  delete(id: string): void {
    this.#byId.delete(id);
  }

  clear(): void {
    this.#byId.clear();
  }

  get size(): number {
    return this.#byId.size;
  }
}
