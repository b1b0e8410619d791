/**
 * The payload types of the format and their hand-written strict validation
 * (docs/bundle-format.md sections 4, 5 and 7). Strict means: exact member
 * sets (an unknown member is an error, never ignored), exact types and
 * ranges, one spelling per value (timestamps to the second, lowercase hex),
 * and a fixed order for lists, so that a payload has exactly one canonical
 * form and the exporter cannot produce two bundles that mean the same.
 */

import { ImportError, type ImportErrorCode } from './errors.js';
import { HEX64_RE } from './encoding.js';
import { KEY_ID_RE } from './apikey.js';
import { ed25519PointProblem, p256PointProblem } from './curves.js';

export const BUNDLE_FORMAT = 'keyhold-bundle/v1';
export const TRUST_FORMAT = 'keyhold-trust/v1';
export const SECRETS_FORMAT = 'keyhold-secrets/v1';

export const IDENT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const SCOPE_RE = /^[A-Za-z0-9][A-Za-z0-9:._*/-]{0,127}$/;
export const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
export const THUMBPRINT_RE = /^[A-Za-z0-9_-]{43}$/;
const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const MAX_VERSION = 2 ** 31 - 1;
export const MAX_CHANGES = 1_000_000;
export const MAX_SIGNERS = 32;
export const REVOKE_REASONS = ['compromised', 'superseded', 'retired', 'other'] as const;
export type RevokeReason = (typeof REVOKE_REASONS)[number];

export type IssueChange = Readonly<{
  type: 'issue';
  keyId: string;
  version: number;
  name: string;
  service: string;
  environment: string;
  scopes: readonly string[];
  notBefore: string;
  notAfter: string | null;
  verifier: string;
}>;

export type RevokeChange = Readonly<{
  type: 'revoke';
  keyId: string;
  version: number;
  reason: RevokeReason;
  effectiveAt: string;
}>;

export type Change = IssueChange | RevokeChange;

/** The head of the vault's audit chain at export time (docs/audit-log.md), signed with the bundle. */
export type Checkpoint = Readonly<{ seq: number; hash: string }>;

export type BundlePayload = Readonly<{
  format: typeof BUNDLE_FORMAT;
  bundleId: string;
  vaultId: string;
  recipient: string;
  sequence: number;
  previous: string | null;
  issuedAt: string;
  expiresAt: string;
  changes: readonly Change[];
  secrets?: string;
  checkpoint?: Checkpoint;
}>;

export type EcPublicJwk = Readonly<{ kty: 'EC'; crv: 'P-256'; x: string; y: string }>;
export type OkpPublicJwk = Readonly<{ kty: 'OKP'; crv: 'Ed25519'; x: string }>;
export type SignerJwk = EcPublicJwk | OkpPublicJwk;

export type TrustRootPayload = Readonly<{
  format: typeof TRUST_FORMAT;
  vaultId: string;
  version: number;
  threshold: number;
  signers: readonly SignerJwk[];
  issuedAt: string;
  expiresAt: string | null;
}>;

export type SecretEntry = Readonly<{ keyId: string; version: number; key: string }>;
export type SecretsPlaintext = Readonly<{ format: typeof SECRETS_FORMAT; bundleId: string; keys: readonly SecretEntry[] }>;

// ---- helpers ----------------------------------------------------------------

const validTimes = new Set<string>();

export class Checker {
  readonly #code: ImportErrorCode;
  readonly #what: string;
  constructor(code: ImportErrorCode, what: string) {
    this.#code = code;
    this.#what = what;
  }

  fail(path: string, message: string): never {
    throw new ImportError(this.#code, `${this.#what}: ${path} ${message}`);
  }

  object(v: unknown, path: string, required: readonly string[], optional: readonly string[] = []): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'must be an object');
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!required.includes(k) && !optional.includes(k)) this.fail(path, `has an unknown member "${k.slice(0, 40)}"`);
    }
    for (const k of required) if (!(k in o)) this.fail(path, `lacks the member "${k}"`);
    return o;
  }

  array(v: unknown, path: string, max: number): readonly unknown[] {
    if (!Array.isArray(v)) this.fail(path, 'must be an array');
    if (v.length > max) this.fail(path, `has more than ${max} items`);
    return v;
  }

  string(v: unknown, path: string, re: RegExp, what: string): string {
    if (typeof v !== 'string' || !re.test(v)) this.fail(path, `must be ${what}`);
    return v;
  }

  int(v: unknown, path: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      this.fail(path, `must be an integer from ${min} to ${max}`);
    }
    return v;
  }

  time(v: unknown, path: string): string {
    const s = this.string(v, path, TIME_RE, 'a UTC time like 2026-01-31T12:00:00Z');
    if (validTimes.has(s)) return s;
    const d = new Date(s);
    // Rejects dates that do not exist (2026-02-30) which Date would roll over.
    if (Number.isNaN(d.getTime()) || d.toISOString() !== `${s.slice(0, 19)}.000Z`) this.fail(path, 'is not a valid date');
    // A bundle repeats the same few times thousands of times; remember the valid ones (bounded).
    if (validTimes.size > 4096) validTimes.clear();
    validTimes.add(s);
    return s;
  }

  timeOrNull(v: unknown, path: string): string | null {
    return v === null ? null : this.time(v, path);
  }
}

/** A Date as the format writes times: RFC 3339 UTC, to the second. */
export function formatTime(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

export function timeMs(s: string): number {
  return Date.parse(s);
}

function compareKeyVersion(a: { keyId: string; version: number }, b: { keyId: string; version: number }): number {
  if (a.keyId !== b.keyId) return a.keyId < b.keyId ? -1 : 1;
  return a.version - b.version;
}

export function sortByKeyVersion<T extends { keyId: string; version: number }>(items: readonly T[]): T[] {
  return [...items].sort(compareKeyVersion);
}

function checkOrder(c: Checker, items: readonly { keyId: string; version: number }[], path: string): void {
  for (let i = 1; i < items.length; i++) {
    if (compareKeyVersion(items[i - 1]!, items[i]!) >= 0) {
      c.fail(`${path}[${i}]`, 'is out of order or repeats a key version (sort by keyId, then version; one entry per key version)');
    }
  }
}

// ---- bundle payload -------------------------------------------------------------

function parseChange(c: Checker, v: unknown, path: string): Change {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) c.fail(path, 'must be an object');
  const type = (v as Record<string, unknown>).type;
  if (type === 'issue') {
    const o = c.object(v, path, ['type', 'keyId', 'version', 'name', 'service', 'environment', 'scopes', 'notBefore', 'notAfter', 'verifier']);
    const scopesRaw = c.array(o.scopes, `${path}.scopes`, 64);
    const scopes = scopesRaw.map((s, i) => c.string(s, `${path}.scopes[${i}]`, SCOPE_RE, 'a scope (1-128 letters, digits and : . _ * / -)'));
    for (let i = 1; i < scopes.length; i++) {
      if (scopes[i - 1]! >= scopes[i]!) c.fail(`${path}.scopes`, 'must be sorted and must not repeat');
    }
    const notBefore = c.time(o.notBefore, `${path}.notBefore`);
    const notAfter = c.timeOrNull(o.notAfter, `${path}.notAfter`);
    if (notAfter !== null && timeMs(notAfter) <= timeMs(notBefore)) c.fail(`${path}.notAfter`, 'must be after notBefore');
    return {
      type: 'issue',
      keyId: c.string(o.keyId, `${path}.keyId`, KEY_ID_RE, 'a key id (16 base62 characters)'),
      version: c.int(o.version, `${path}.version`, 1, MAX_VERSION),
      name: c.string(o.name, `${path}.name`, IDENT_RE, 'a name (1-64 letters, digits, . _ -)'),
      service: c.string(o.service, `${path}.service`, IDENT_RE, 'a service (1-64 letters, digits, . _ -)'),
      environment: c.string(o.environment, `${path}.environment`, IDENT_RE, 'an environment (1-64 letters, digits, . _ -)'),
      scopes,
      notBefore,
      notAfter,
      verifier: c.string(o.verifier, `${path}.verifier`, HEX64_RE, '64 lowercase hex digits'),
    };
  }
  if (type === 'revoke') {
    const o = c.object(v, path, ['type', 'keyId', 'version', 'reason', 'effectiveAt']);
    if (typeof o.reason !== 'string' || !(REVOKE_REASONS as readonly string[]).includes(o.reason)) {
      c.fail(`${path}.reason`, `must be one of ${REVOKE_REASONS.join(', ')}`);
    }
    return {
      type: 'revoke',
      keyId: c.string(o.keyId, `${path}.keyId`, KEY_ID_RE, 'a key id (16 base62 characters)'),
      version: c.int(o.version, `${path}.version`, 1, MAX_VERSION),
      reason: o.reason as RevokeReason,
      effectiveAt: c.time(o.effectiveAt, `${path}.effectiveAt`),
    };
  }
  return c.fail(`${path}.type`, 'must be "issue" or "revoke"');
}

const COMPACT_JWE_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function parseBundlePayload(v: unknown, code: ImportErrorCode = 'BUNDLE_MALFORMED'): BundlePayload {
  const c = new Checker(code, 'bundle');
  const o = c.object(v, 'payload', ['format', 'bundleId', 'vaultId', 'recipient', 'sequence', 'previous', 'issuedAt', 'expiresAt', 'changes'], ['secrets', 'checkpoint']);
  if (o.format !== BUNDLE_FORMAT) c.fail('payload.format', `must be "${BUNDLE_FORMAT}"`);
  const issuedAt = c.time(o.issuedAt, 'payload.issuedAt');
  const expiresAt = c.time(o.expiresAt, 'payload.expiresAt');
  if (timeMs(expiresAt) <= timeMs(issuedAt)) c.fail('payload.expiresAt', 'must be after issuedAt');
  const changes = c.array(o.changes, 'payload.changes', MAX_CHANGES).map((x, i) => parseChange(c, x, `payload.changes[${i}]`));
  checkOrder(c, changes, 'payload.changes');
  const sequence = c.int(o.sequence, 'payload.sequence', 1, Number.MAX_SAFE_INTEGER);
  const previous = o.previous === null ? null : c.string(o.previous, 'payload.previous', HEX64_RE, 'null or 64 lowercase hex digits');
  if ((sequence === 1) !== (previous === null)) c.fail('payload.previous', 'must be null exactly when sequence is 1');
  let payload: BundlePayload = {
    format: BUNDLE_FORMAT,
    bundleId: c.string(o.bundleId, 'payload.bundleId', ID_RE, '1-64 characters of A-Z a-z 0-9 _ -'),
    vaultId: c.string(o.vaultId, 'payload.vaultId', ID_RE, '1-64 characters of A-Z a-z 0-9 _ -'),
    recipient: c.string(o.recipient, 'payload.recipient', THUMBPRINT_RE, "the recipient key's RFC 7638 thumbprint (43 base64url characters)"),
    sequence,
    previous,
    issuedAt,
    expiresAt,
    changes,
  };
  if ('secrets' in o) {
    const secrets = c.string(o.secrets, 'payload.secrets', COMPACT_JWE_RE, 'a JWE in compact serialization');
    if (!changes.some((x) => x.type === 'issue')) c.fail('payload.secrets', 'is present but no change issues a key');
    payload = { ...payload, secrets };
  }
  if ('checkpoint' in o) {
    const cp = c.object(o.checkpoint, 'payload.checkpoint', ['seq', 'hash']);
    payload = {
      ...payload,
      checkpoint: { seq: c.int(cp.seq, 'payload.checkpoint.seq', 1, Number.MAX_SAFE_INTEGER), hash: c.string(cp.hash, 'payload.checkpoint.hash', HEX64_RE, '64 lowercase hex digits') },
    };
  }
  return payload;
}

// ---- signer keys and the trust root ------------------------------------------------

const B64_32 = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/; // 32 bytes in canonical base64url

// Point checks cost a few modular exponentiations; a trust root is re-read on every apply, so results are kept (bounded).
const pointChecks = new Map<string, string | undefined>();
function cachedPointProblem(key: string, check: () => string | undefined): string | undefined {
  if (pointChecks.has(key)) return pointChecks.get(key);
  const r = check();
  if (pointChecks.size > 1024) pointChecks.clear();
  pointChecks.set(key, r);
  return r;
}

export function parseSignerJwk(v: unknown, path: string, code: ImportErrorCode = 'TRUST_ROOT_INVALID'): SignerJwk {
  const c = new Checker(code, 'trust root');
  if (typeof v !== 'object' || v === null || Array.isArray(v)) c.fail(path, 'must be a JWK object');
  const kty = (v as Record<string, unknown>).kty;
  if (kty === 'EC') {
    const o = c.object(v, path, ['kty', 'crv', 'x', 'y']);
    if (o.crv !== 'P-256') c.fail(`${path}.crv`, 'must be P-256 (ES256 only)');
    const x = c.string(o.x, `${path}.x`, B64_32, '32 bytes in base64url');
    const y = c.string(o.y, `${path}.y`, B64_32, '32 bytes in base64url');
    const problem = cachedPointProblem(`EC.${x}.${y}`, () => p256PointProblem(Buffer.from(x, 'base64url'), Buffer.from(y, 'base64url')));
    if (problem) c.fail(path, `is refused: ${problem}`);
    return { kty: 'EC', crv: 'P-256', x, y };
  }
  if (kty === 'OKP') {
    const o = c.object(v, path, ['kty', 'crv', 'x']);
    if (o.crv !== 'Ed25519') c.fail(`${path}.crv`, 'must be Ed25519 (EdDSA only)');
    const x = c.string(o.x, `${path}.x`, B64_32, '32 bytes in base64url');
    const problem = cachedPointProblem(`OKP.${x}`, () => ed25519PointProblem(Buffer.from(x, 'base64url')));
    if (problem) c.fail(path, `is refused: ${problem}`);
    return { kty: 'OKP', crv: 'Ed25519', x };
  }
  return c.fail(`${path}.kty`, 'must be EC (P-256) or OKP (Ed25519); a private, symmetric or RSA key is refused');
}

/**
 * Validates a trust root payload's shape, each signer key's point included
 * (on its curve, canonical, not of small order); thumbprint order and
 * uniqueness are checked by trust.ts.
 */
export function parseTrustRootPayload(v: unknown): TrustRootPayload {
  const c = new Checker('TRUST_ROOT_INVALID', 'trust root');
  const o = c.object(v, 'payload', ['format', 'vaultId', 'version', 'threshold', 'signers', 'issuedAt', 'expiresAt']);
  if (o.format !== TRUST_FORMAT) c.fail('payload.format', `must be "${TRUST_FORMAT}"`);
  const signers = c.array(o.signers, 'payload.signers', MAX_SIGNERS).map((s, i) => parseSignerJwk(s, `payload.signers[${i}]`));
  if (signers.length === 0) c.fail('payload.signers', 'must name at least one signer');
  const issuedAt = c.time(o.issuedAt, 'payload.issuedAt');
  const expiresAt = c.timeOrNull(o.expiresAt, 'payload.expiresAt');
  if (expiresAt !== null && timeMs(expiresAt) <= timeMs(issuedAt)) c.fail('payload.expiresAt', 'must be after issuedAt');
  return {
    format: TRUST_FORMAT,
    vaultId: c.string(o.vaultId, 'payload.vaultId', ID_RE, '1-64 characters of A-Z a-z 0-9 _ -'),
    version: c.int(o.version, 'payload.version', 1, MAX_VERSION),
    threshold: c.int(o.threshold, 'payload.threshold', 1, signers.length),
    signers,
    issuedAt,
    expiresAt,
  };
}

// ---- secrets plaintext ------------------------------------------------------------------

export function parseSecretsPlaintext(v: unknown): SecretsPlaintext {
  const c = new Checker('BUNDLE_SECRETS', 'secrets');
  const o = c.object(v, 'plaintext', ['format', 'bundleId', 'keys']);
  if (o.format !== SECRETS_FORMAT) c.fail('plaintext.format', `must be "${SECRETS_FORMAT}"`);
  const keys = c.array(o.keys, 'plaintext.keys', MAX_CHANGES).map((x, i) => {
    const e = c.object(x, `plaintext.keys[${i}]`, ['keyId', 'version', 'key']);
    // The key text itself is never echoed in an error: only its position.
    const key = typeof e.key === 'string' && e.key.length === 70 ? e.key : c.fail(`plaintext.keys[${i}].key`, 'must be a Keyhold API key');
    return {
      keyId: c.string(e.keyId, `plaintext.keys[${i}].keyId`, KEY_ID_RE, 'a key id (16 base62 characters)'),
      version: c.int(e.version, `plaintext.keys[${i}].version`, 1, MAX_VERSION),
      key,
    };
  });
  checkOrder(c, keys, 'plaintext.keys');
  return { format: SECRETS_FORMAT, bundleId: c.string(o.bundleId, 'plaintext.bundleId', ID_RE, 'a bundle id'), keys };
}
