/**
 * The trust root (`keyhold-trust/v1`, docs/bundle-format.md section 5): the
 * signer keys and threshold an importer pins, itself a JWS signed by its
 * threshold, rotated as TUF rotates root.json.
 */

import { ImportError } from './errors.js';
import { b64url } from './encoding.js';
import { canonicalize, parseCanonical } from './jcs.js';
import {
  jwkThumbprint,
  normalizeSignerJwk,
  parseGeneralJws,
  payloadHash,
  signGeneralJws,
  TRUST_CODES,
  TRUST_TYP,
  verifyOneSignature,
  checkSignatureAlg,
  type ParsedJws,
  type ParsedSignature,
  type Signer,
} from './jws.js';
import { formatTime, parseTrustRootPayload, timeMs, TRUST_FORMAT, type SignerJwk, type TrustRootPayload } from './schema.js';

export type TrustRoot = Readonly<{
  payload: TrustRootPayload;
  /** SHA-256 (hex) of the canonical payload: the root's identity. */
  hash: string;
  /** The file text as given (what the importer pins). */
  text: string;
  /** Signer keys by kid (thumbprint). */
  signers: ReadonlyMap<string, SignerJwk>;
}>;

export type TrustRootInput = Readonly<{
  vaultId: string;
  version: number;
  threshold: number;
  /** Public JWKs as a token or library exports them; reduced to their minimal form. */
  signers: readonly unknown[];
  issuedAt?: Date;
  expiresAt?: Date | null;
}>;

/** Builds a trust root payload: signers normalized, sorted by thumbprint, no repeats. */
export function buildTrustRoot(input: TrustRootInput): TrustRootPayload {
  const keys = input.signers.map((j) => normalizeSignerJwk(j));
  const byTp = new Map<string, SignerJwk>();
  for (const k of keys) {
    const tp = jwkThumbprint(k);
    if (byTp.has(tp)) throw new ImportError('INVALID_INPUT', `trust root: signer ${tp} is listed twice`);
    byTp.set(tp, k);
  }
  const signers = [...byTp.keys()].sort().map((tp) => byTp.get(tp)!);
  const issuedAt = input.issuedAt ?? new Date();
  const payload = {
    format: TRUST_FORMAT,
    vaultId: input.vaultId,
    version: input.version,
    threshold: input.threshold,
    signers,
    issuedAt: formatTime(issuedAt),
    expiresAt: input.expiresAt ? formatTime(input.expiresAt) : null,
  };
  try {
    return parseTrustRootPayload(payload);
  } catch (e) {
    if (e instanceof ImportError) throw new ImportError('INVALID_INPUT', e.message);
    throw e;
  }
}

export function encodeTrustRootPayload(payload: TrustRootPayload): { b64: string; hash: string } {
  const text = canonicalize(payload);
  return { b64: b64url(text), hash: payloadHash(Buffer.from(text, 'utf8')) };
}

/** Signs a trust root with software or token signers (each returns a raw signature). */
export async function signTrustRoot(payload: TrustRootPayload, signers: readonly Signer[]): Promise<string> {
  return signGeneralJws(encodeTrustRootPayload(payload).b64, signers, TRUST_TYP);
}

type Decoded = Readonly<{ jws: ParsedJws; root: TrustRoot }>;

function decodeTrustRoot(text: string): Decoded {
  let jws: ParsedJws;
  try {
    jws = parseGeneralJws(text, TRUST_TYP, TRUST_CODES);
  } catch (e) {
    // Header, algorithm and duplicate-signer errors are the bundle's codes in the shared parser; for a root they are all TRUST_ROOT_INVALID.
    if (e instanceof ImportError && e.code.startsWith('BUNDLE_')) throw new ImportError('TRUST_ROOT_INVALID', e.message, e.hint, { cause: e });
    throw e;
  }
  const parsed = parseCanonical(jws.payloadBytes, 'trust root: payload');
  if (!parsed) throw new ImportError('TRUST_ROOT_INVALID', 'trust root: payload is not canonical JSON (RFC 8785)');
  const payload = parseTrustRootPayload(parsed.value);
  const signers = new Map<string, SignerJwk>();
  let last = '';
  for (const s of payload.signers) {
    const tp = jwkThumbprint(s);
    if (tp <= last) throw new ImportError('TRUST_ROOT_INVALID', 'trust root: signers must be sorted by thumbprint and must not repeat');
    last = tp;
    signers.set(tp, s);
  }
  return { jws, root: { payload, hash: payloadHash(jws.payloadBytes), text, signers } };
}

/**
 * Verifies every signature of a trust root document against the union of
 * the key sets given, and returns, per key set, how many distinct signers of
 * that set signed. A signature by a key in no set, or one that does not
 * verify, fails the whole document.
 */
async function countSigners(jws: ParsedJws, sets: readonly ReadonlyMap<string, SignerJwk>[], ignoreOthers = false): Promise<number[]> {
  const counted = sets.map(() => new Set<string>());
  // As for a bundle, rule by rule: every signer known, then every algorithm, then every signature.
  const known: { sig: ParsedSignature; jwk: SignerJwk }[] = [];
  for (const sig of jws.signatures) {
    const jwk = sets.map((s) => s.get(sig.header.kid)).find((k) => k !== undefined);
    if (!jwk && ignoreOthers) continue;
    if (!jwk) throw new ImportError('TRUST_ROOT_INVALID', `trust root: signer ${sig.header.kid} is not among its signers`);
    known.push({ sig, jwk });
  }
  try {
    for (const { sig, jwk } of known) checkSignatureAlg(sig, jwk, 'trust root');
    for (const { sig, jwk } of known) await verifyOneSignature(jws.payloadB64, sig, jwk, 'trust root');
  } catch (e) {
    if (e instanceof ImportError) throw new ImportError('TRUST_ROOT_INVALID', e.message, e.hint, { cause: e });
    throw e;
  }
  for (const { sig } of known) {
    sets.forEach((s, i) => {
      if (s.has(sig.header.kid)) counted[i]!.add(sig.header.kid);
    });
  }
  return counted.map((c) => c.size);
}

/**
 * Loads a trust root on its own (the first one an importer pins, verified
 * out of band by its fingerprint): its own threshold of its own signers must
 * sign it. Signatures by keys outside its own set are skipped, not counted:
 * they are the previous version's keys vouching for a rotation, which only
 * verifyRootRotation (knowing that version) can check. Expiry is checked
 * where the root is used (verifyBundle).
 */
export async function loadTrustRoot(text: string): Promise<TrustRoot> {
  const { jws, root } = decodeTrustRoot(text);
  const [own] = await countSigners(jws, [root.signers], true);
  if (own! < root.payload.threshold) {
    throw new ImportError('TRUST_ROOT_THRESHOLD', `trust root: ${own} of the required ${root.payload.threshold} signers signed version ${root.payload.version}`);
  }
  return root;
}

/**
 * TUF-style rotation: version N+1 is accepted only with version exactly
 * N+1, the same vault, a threshold of root N's signers AND a threshold of its
 * own signers. A signer in both sets counts in both, once in each.
 */
export async function verifyRootRotation(current: TrustRoot, nextText: string): Promise<TrustRoot> {
  const { jws, root } = decodeTrustRoot(nextText);
  const n = current.payload.version;
  if (root.payload.vaultId !== current.payload.vaultId) {
    throw new ImportError('TRUST_ROOT_INVALID', `trust root: version ${root.payload.version} is for vault ${root.payload.vaultId}, the pinned root for vault ${current.payload.vaultId}`);
  }
  if (root.payload.version <= n) {
    if (root.hash === current.hash) return current;
    if (root.payload.version === n) {
      throw new ImportError('TRUST_ROOT_MISMATCH', `trust root: this is another version ${n} than the pinned one (fingerprint ${root.hash.slice(0, 16)}, pinned ${current.hash.slice(0, 16)})`, 'Two different trust roots carry the same version: check where this one came from.');
    }
    throw new ImportError('TRUST_ROOT_ROLLBACK', `trust root: version ${root.payload.version} is not newer than the pinned version ${n}`, 'An importer never goes back to an older trust root.');
  }
  if (root.payload.version !== n + 1) {
    throw new ImportError('TRUST_ROOT_VERSION', `trust root: version ${root.payload.version} skips versions (the pinned root is version ${n})`, `Apply each root in turn, starting with version ${n + 1}.`);
  }
  const [old, own] = await countSigners(jws, [current.signers, root.signers]);
  if (old! < current.payload.threshold) {
    throw new ImportError('TRUST_ROOT_THRESHOLD', `trust root: version ${n + 1} is signed by ${old} of the ${current.payload.threshold} signers that version ${n} requires`);
  }
  if (own! < root.payload.threshold) {
    throw new ImportError('TRUST_ROOT_THRESHOLD', `trust root: version ${n + 1} is signed by ${own} of its own ${root.payload.threshold} required signers`);
  }
  return root;
}

export function trustRootExpired(root: TrustRoot, now: Date, skewSeconds: number): boolean {
  return root.payload.expiresAt !== null && now.getTime() > timeMs(root.payload.expiresAt) + skewSeconds * 1000;
}
