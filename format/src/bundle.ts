/**
 * The rotation bundle (docs/bundle-format.md section 4): building its
 * payload on the export side and verifying it on the import side.
 */

import { randomBytes } from 'node:crypto';
import { ImportError } from './errors.js';
import { b64url } from './encoding.js';
import { canonicalize, parseCanonical } from './jcs.js';
import { BUNDLE_CODES, BUNDLE_TYP, checkSignatureAlg, parseGeneralJws, payloadHash, signGeneralJws, verifyOneSignature, type Signer } from './jws.js';
import {
  BUNDLE_FORMAT,
  formatTime,
  parseBundlePayload,
  sortByKeyVersion,
  timeMs,
  type BundlePayload,
  type Change,
  type Checkpoint,
} from './schema.js';
import { trustRootExpired, type TrustRoot } from './trust.js';

export const DEFAULT_MAX_BUNDLE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_CLOCK_SKEW_SECONDS = 300;

export type BundleInput = Readonly<{
  /** Default: 128 random bits, base64url. */
  bundleId?: string;
  vaultId: string;
  /** The recipient key's RFC 7638 thumbprint. */
  recipient: string;
  sequence: number;
  /** payloadHash of the previous bundle to this recipient; null for sequence 1. */
  previous: string | null;
  issuedAt: Date;
  expiresAt: Date;
  /** Any order; sorted by keyId then version. */
  changes: readonly Change[];
  /** The compact JWE from encryptSecrets, when the recipient holds any issued key. */
  secrets?: string;
  checkpoint?: Checkpoint;
}>;

export function newBundleId(): string {
  return randomBytes(16).toString('base64url');
}

/** Builds and validates a payload exactly as an importer will validate it. */
export function buildPayload(input: BundleInput): BundlePayload {
  const payload: Record<string, unknown> = {
    format: BUNDLE_FORMAT,
    bundleId: input.bundleId ?? newBundleId(),
    vaultId: input.vaultId,
    recipient: input.recipient,
    sequence: input.sequence,
    previous: input.previous,
    issuedAt: formatTime(input.issuedAt),
    expiresAt: formatTime(input.expiresAt),
    changes: sortByKeyVersion(input.changes).map((c) => (c.type === 'issue' ? { ...c, scopes: [...c.scopes].sort() } : { ...c })),
  };
  if (input.secrets !== undefined) payload.secrets = input.secrets;
  if (input.checkpoint !== undefined) payload.checkpoint = { ...input.checkpoint };
  return parseBundlePayload(payload, 'INVALID_INPUT');
}

export type EncodedPayload = Readonly<{ bytes: Uint8Array; b64: string; hash: string }>;

/** The canonical bytes of a payload, their base64url (the JWS payload) and their SHA-256 (the bundle's identity). */
export function encodePayload(payload: BundlePayload): EncodedPayload {
  const bytes = Buffer.from(canonicalize(payload), 'utf8');
  return { bytes, b64: b64url(bytes), hash: payloadHash(bytes) };
}

/** Signs a payload with each signer (software or token) and returns the bundle file text. */
export async function signBundle(payload: BundlePayload, signers: readonly Signer[]): Promise<string> {
  return signGeneralJws(encodePayload(payload).b64, signers, BUNDLE_TYP);
}

export type VerifyOptions = Readonly<{
  now?: Date;
  clockSkewSeconds?: number;
  maxBytes?: number;
  /** This importer's recipient id (thumbprint of its key). When given, a bundle for anyone else is refused. */
  recipient?: string;
}>;

export type VerifiedBundle = Readonly<{
  payload: BundlePayload;
  /** SHA-256 (hex) of the canonical payload: the bundle's identity for replay and chaining. */
  hash: string;
  /** Thumbprints of the signers whose signatures verified, in the order they appear. */
  signers: readonly string[];
  /** The exact signed payload bytes, as the JWS carried them. */
  payloadBytes: Uint8Array;
  /** (protected, signature) pairs as verified: what the signatures cover, for comparisons. */
  signatures: readonly Readonly<{ protected: string; signature: string }>[];
}>;

function byteLength(b: string | Uint8Array): number {
  return typeof b === 'string' ? Buffer.byteLength(b, 'utf8') : b.byteLength;
}

/**
 * Verifies a bundle against a trust root, in this order (each failure has
 * its code; docs/bundle-format.md section 9, each rule checked over every
 * signature before the next): size, JWS structure and protected headers,
 * every signature from a known signer, with its key's algorithm, and valid,
 * threshold of distinct signers, canonical payload and its schema, vault,
 * recipient, trust root expiry, bundle validity window with clock skew.
 * Sequence and chain need the importer's state: applyBundle checks them.
 */
export async function verifyBundle(bundle: string | Uint8Array, trustRoot: TrustRoot, opts: VerifyOptions = {}): Promise<VerifiedBundle> {
  const max = opts.maxBytes ?? DEFAULT_MAX_BUNDLE_BYTES;
  const size = byteLength(bundle);
  if (size > max) throw new ImportError('BUNDLE_TOO_LARGE', `bundle: ${size} bytes is over the limit of ${max}`, 'Raise the limit (--max-bytes) if the bundle is expected to be this large.');
  let text: string;
  if (typeof bundle === 'string') text = bundle;
  else {
    try {
      // ignoreBOM keeps a byte order mark in the text, for the parser to refuse (a BOM is never stripped silently).
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bundle);
    } catch {
      throw new ImportError('BUNDLE_MALFORMED', 'bundle: not UTF-8 text');
    }
  }
  // Rules 2 to 5, rule by rule over all signatures.
  const jws = parseGeneralJws(text, BUNDLE_TYP, BUNDLE_CODES);
  // Rule 6 over all signatures, then rule 7, then rule 8: no cryptography on a bundle naming an unknown signer.
  const keys = jws.signatures.map((sig) => {
    const jwk = trustRoot.signers.get(sig.header.kid);
    if (!jwk) {
      throw new ImportError('BUNDLE_UNKNOWN_SIGNER', `bundle: signer ${sig.header.kid} is not in the trust root (version ${trustRoot.payload.version})`, 'A bundle carries signatures only from the signers the pinned trust root names.');
    }
    return jwk;
  });
  jws.signatures.forEach((sig, i) => checkSignatureAlg(sig, keys[i]!, 'bundle'));
  const signers: string[] = [];
  for (const [i, sig] of jws.signatures.entries()) {
    await verifyOneSignature(jws.payloadB64, sig, keys[i]!, 'bundle');
    signers.push(sig.header.kid);
  }
  const distinct = new Set(signers).size;
  if (distinct < trustRoot.payload.threshold) {
    throw new ImportError('BUNDLE_THRESHOLD', `bundle: ${distinct} of the required ${trustRoot.payload.threshold} signers signed it`, 'Have another custodian add a signature (keyhold bundle sign).');
  }
  const parsed = parseCanonical(jws.payloadBytes, 'bundle: payload');
  if (!parsed) throw new ImportError('BUNDLE_MALFORMED', 'bundle: payload is not canonical JSON (RFC 8785)');
  const payload = parseBundlePayload(parsed.value);
  if (payload.vaultId !== trustRoot.payload.vaultId) {
    throw new ImportError('BUNDLE_VAULT', `bundle: made by vault ${payload.vaultId}, but the trust root is for vault ${trustRoot.payload.vaultId}`);
  }
  if (opts.recipient !== undefined && payload.recipient !== opts.recipient) {
    throw new ImportError('BUNDLE_RECIPIENT', `bundle: addressed to recipient ${payload.recipient}, not to this server (${opts.recipient})`, 'Each bundle is made for one recipient key; ask for a bundle for this server.');
  }
  const now = opts.now ?? new Date();
  const skew = opts.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
  if (trustRootExpired(trustRoot, now, skew)) {
    throw new ImportError('TRUST_ROOT_EXPIRED', `trust root: version ${trustRoot.payload.version} expired at ${trustRoot.payload.expiresAt}`, 'Install a newer trust root (keyhold-import trust update).');
  }
  if (now.getTime() > timeMs(payload.expiresAt) + skew * 1000) {
    throw new ImportError('BUNDLE_EXPIRED', `bundle: expired at ${payload.expiresAt}`, 'An expired bundle is never applied (it may have been held back); export a fresh one.');
  }
  if (timeMs(payload.issuedAt) > now.getTime() + skew * 1000) {
    throw new ImportError('BUNDLE_NOT_YET_VALID', `bundle: issued at ${payload.issuedAt}, in the future`, "Check this server's clock and the workstation's.");
  }
  return {
    payload,
    hash: payloadHash(jws.payloadBytes),
    signers,
    payloadBytes: jws.payloadBytes,
    signatures: jws.signatures.map((s) => ({ protected: s.protected, signature: s.signature })),
  };
}
