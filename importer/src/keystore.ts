/**
 * The keystore file (`keyhold-keystore/v1`, docs/bundle-format.md section 7):
 * what an API gateway loads to check presented keys. It holds verifiers,
 * never keys.
 */

import { timingSafeEqual } from 'node:crypto';
import {
  ImportError,
  READ_LIMITS,
  readFileBounded,
  apiKeyId,
  verifierOf,
  Checker,
  IDENT_RE,
  ID_RE,
  REVOKE_REASONS,
  SCOPE_RE,
  THUMBPRINT_RE,
  timeMs,
  HEX64_RE,
  KEY_ID_RE,
  type IssueChange,
  type RevokeReason,
} from 'keyhold-format';

export const KEYSTORE_FORMAT = 'keyhold-keystore/v1';

export type Revocation = Readonly<{ reason: RevokeReason; effectiveAt: string }>;

/** An issued key version as the keystore keeps it: the issue entry's fields, and its revocation once known. */
export type KeystoreEntry = Readonly<Omit<IssueChange, 'type'> & { revoked: Revocation | null }>;

/** A revocation for a version this keystore never received: kept so the version can never be issued later. */
export type OrphanRevocation = Readonly<{ keyId: string; version: number } & Revocation>;

export type Keystore = Readonly<{
  format: typeof KEYSTORE_FORMAT;
  vaultId: string;
  recipient: string;
  sequence: number;
  bundle: string;
  updatedAt: string;
  entries: readonly KeystoreEntry[];
  revokedUnknown: readonly OrphanRevocation[];
}>;

export function parseKeystore(v: unknown): Keystore {
  const c = new Checker('STATE_INVALID', 'keystore');
  const o = c.object(v, 'keystore', ['format', 'vaultId', 'recipient', 'sequence', 'bundle', 'updatedAt', 'entries', 'revokedUnknown']);
  if (o.format !== KEYSTORE_FORMAT) c.fail('keystore.format', `must be "${KEYSTORE_FORMAT}"`);
  const rev = (r: unknown, p: string): Revocation => {
    const ro = c.object(r, p, ['reason', 'effectiveAt']);
    if (typeof ro.reason !== 'string' || !(REVOKE_REASONS as readonly string[]).includes(ro.reason)) c.fail(`${p}.reason`, 'is not a revocation reason');
    return { reason: ro.reason as RevokeReason, effectiveAt: c.time(ro.effectiveAt, `${p}.effectiveAt`) };
  };
  const entries = c.array(o.entries, 'keystore.entries', 10_000_000).map((e, i): KeystoreEntry => {
    const p = `keystore.entries[${i}]`;
    const eo = c.object(e, p, ['keyId', 'version', 'name', 'service', 'environment', 'scopes', 'notBefore', 'notAfter', 'verifier', 'revoked']);
    return {
      keyId: c.string(eo.keyId, `${p}.keyId`, KEY_ID_RE, 'a key id'),
      version: c.int(eo.version, `${p}.version`, 1, 2 ** 31 - 1),
      name: c.string(eo.name, `${p}.name`, IDENT_RE, 'a name'),
      service: c.string(eo.service, `${p}.service`, IDENT_RE, 'a service'),
      environment: c.string(eo.environment, `${p}.environment`, IDENT_RE, 'an environment'),
      scopes: c.array(eo.scopes, `${p}.scopes`, 64).map((s, j) => c.string(s, `${p}.scopes[${j}]`, SCOPE_RE, 'a scope')),
      notBefore: c.time(eo.notBefore, `${p}.notBefore`),
      notAfter: c.timeOrNull(eo.notAfter, `${p}.notAfter`),
      verifier: c.string(eo.verifier, `${p}.verifier`, HEX64_RE, '64 lowercase hex digits'),
      revoked: eo.revoked === null ? null : rev(eo.revoked, `${p}.revoked`),
    };
  });
  const revokedUnknown = c.array(o.revokedUnknown, 'keystore.revokedUnknown', 10_000_000).map((r, i): OrphanRevocation => {
    const p = `keystore.revokedUnknown[${i}]`;
    const ro = c.object(r, p, ['keyId', 'version', 'reason', 'effectiveAt']);
    return { keyId: c.string(ro.keyId, `${p}.keyId`, KEY_ID_RE, 'a key id'), version: c.int(ro.version, `${p}.version`, 1, 2 ** 31 - 1), ...rev({ reason: ro.reason, effectiveAt: ro.effectiveAt }, p) };
  });
  return {
    format: KEYSTORE_FORMAT,
    vaultId: c.string(o.vaultId, 'keystore.vaultId', ID_RE, 'a vault id'),
    recipient: c.string(o.recipient, 'keystore.recipient', THUMBPRINT_RE, 'a recipient id'),
    sequence: c.int(o.sequence, 'keystore.sequence', 0, Number.MAX_SAFE_INTEGER),
    bundle: typeof o.bundle === 'string' ? o.bundle : c.fail('keystore.bundle', 'must be a string'),
    updatedAt: c.time(o.updatedAt, 'keystore.updatedAt'),
    entries,
    revokedUnknown,
  };
}

/** Reads and validates a keystore file (e.g. STATE/keystore.json). */
export function loadKeystore(path: string): Keystore {
  let text: string;
  try {
    text = readFileBounded(path, READ_LIMITS.keystore).toString('utf8');
  } catch (e) {
    const why = e instanceof ImportError ? `: ${e.message.replace(/^keystore: /, '')}` : '';
    throw new ImportError('STATE_INVALID', `keystore: cannot read ${path}${why}`, 'Apply a bundle first, or point at STATE/keystore.json.', { cause: e });
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ImportError('STATE_INVALID', `keystore: ${path} is not JSON`);
  }
  return parseKeystore(v);
}

export type KeyCheck =
  | Readonly<{ valid: true; keyId: string; version: number; name: string; service: string; environment: string; scopes: readonly string[] }>
  | Readonly<{ valid: false; reason: 'malformed' | 'unknown' | 'revoked' | 'not-yet-valid' | 'expired'; keyId?: string; version?: number }>;

const indexes = new WeakMap<Keystore, Map<string, KeystoreEntry[]>>();

function indexOf(ks: Keystore): Map<string, KeystoreEntry[]> {
  let idx = indexes.get(ks);
  if (!idx) {
    idx = new Map();
    for (const e of ks.entries) {
      const list = idx.get(e.keyId);
      if (list) list.push(e);
      else idx.set(e.keyId, [e]);
    }
    indexes.set(ks, idx);
  }
  return idx;
}

/**
 * Is a presented API key valid now? Shape and checksum first (offline, no
 * lookup), then the verifier of the presented key is compared with every
 * stored verifier of that key id in constant time (timingSafeEqual over the
 * 32-byte digests). The answer never contains the key.
 */
export function checkPresentedKey(keystore: Keystore, presentedKey: string, now: Date = new Date()): KeyCheck {
  const keyId = apiKeyId(presentedKey);
  if (keyId === undefined) return { valid: false, reason: 'malformed' };
  const presented = Buffer.from(verifierOf(presentedKey), 'hex');
  let match: KeystoreEntry | undefined;
  for (const e of indexOf(keystore).get(keyId) ?? []) {
    // Every candidate is compared (no early exit), so timing does not say which version matched.
    if (timingSafeEqual(presented, Buffer.from(e.verifier, 'hex'))) match = e;
  }
  if (!match) return { valid: false, reason: 'unknown', keyId };
  const t = now.getTime();
  const at = { keyId, version: match.version };
  if (match.revoked && timeMs(match.revoked.effectiveAt) <= t) return { valid: false, reason: 'revoked', ...at };
  if (timeMs(match.notBefore) > t) return { valid: false, reason: 'not-yet-valid', ...at };
  if (match.notAfter !== null && timeMs(match.notAfter) <= t) return { valid: false, reason: 'expired', ...at };
  return { valid: true, keyId, version: match.version, name: match.name, service: match.service, environment: match.environment, scopes: match.scopes };
}
