/**
 * JWS JSON General Serialization (RFC 7515 section 7.2.1) as the bundle and
 * the trust root use it: strict parsing, per-signature verification through
 * jose, and the signer-agnostic helpers the export side signs with (the app
 * signs the signing input on a PKCS#11 token and attaches the raw signature).
 */

import { createHash, createPublicKey, sign as nodeSign, type KeyObject } from 'node:crypto';
import { generalVerify, importJWK, type CryptoKey } from 'jose';
import { ImportError, type ImportErrorCode } from './errors.js';
import { b64url, b64urlDecodeStrict, sha256Hex } from './encoding.js';
import { canonicalize, NotJsonError, parseCanonical, parseJsonStrict } from './jcs.js';
import { MAX_SIGNERS, parseSignerJwk, THUMBPRINT_RE, type SignerJwk } from './schema.js';

export type JwsAlg = 'ES256' | 'EdDSA';
export const JWS_ALGS: readonly JwsAlg[] = ['ES256', 'EdDSA'];
export const BUNDLE_TYP = 'keyhold-bundle+json';
export const TRUST_TYP = 'keyhold-trust+json';

export type ProtectedHeader = Readonly<{ alg: JwsAlg; kid: string; typ: string }>;
export type SignatureEntry = Readonly<{ protected: string; signature: string }>;
export type ParsedSignature = SignatureEntry & Readonly<{ header: ProtectedHeader }>;
export type ParsedJws = Readonly<{ payloadB64: string; payloadBytes: Buffer; signatures: readonly ParsedSignature[] }>;

/** Which error codes a parse reports under: the bundle's or the trust root's. */
export type JwsCodes = Readonly<{ malformed: ImportErrorCode; what: string }>;
export const BUNDLE_CODES: JwsCodes = { malformed: 'BUNDLE_MALFORMED', what: 'bundle' };
export const TRUST_CODES: JwsCodes = { malformed: 'TRUST_ROOT_INVALID', what: 'trust root' };

// ---- keys ----------------------------------------------------------------------

/** The algorithm a signer key is used with: one per key type, so a key is never used with another algorithm. */
export function algForJwk(jwk: SignerJwk): JwsAlg {
  return jwk.kty === 'EC' ? 'ES256' : 'EdDSA';
}

/**
 * RFC 7638 thumbprint (SHA-256, base64url) of a public EC or OKP key: the
 * hash of the canonical JSON of its required members, which for these key
 * types is what RFC 7638 section 3.2 prescribes.
 */
export function jwkThumbprint(jwk: Readonly<{ kty: string; crv: string; x: string; y?: string }>): string {
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(canonicalize(members)).digest('base64url');
}

/**
 * Accepts a signer's public JWK as tokens and libraries write it (with kid,
 * alg, use, key_ops) and reduces it to the minimal form the trust root holds.
 * Refused: private keys, other key types or curves, a key marked for
 * encryption, an alg that does not match the curve, a kid that is not its
 * thumbprint. The point itself is checked when it is imported (importSignerKey).
 */
export function normalizeSignerJwk(input: unknown): SignerJwk {
  const c = (m: string): never => {
    throw new ImportError('KEY_INVALID', `key: ${m}`);
  };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) c('a JWK must be a JSON object');
  const o = { ...(input as Record<string, unknown>) };
  if ('d' in o) c('this is a private key; a trust root holds public keys only');
  if (o.use !== undefined && o.use !== 'sig') c('the key is marked for another use than signing');
  if (o.key_ops !== undefined && (!Array.isArray(o.key_ops) || !o.key_ops.includes('verify'))) c('the key_ops do not allow verify');
  const ext = o.ext;
  if (ext !== undefined && typeof ext !== 'boolean') c('ext must be a boolean');
  const minimal: Record<string, unknown> = { kty: o.kty, crv: o.crv, x: o.x };
  if (o.kty === 'EC') minimal.y = o.y;
  const known = ['kty', 'crv', 'x', 'y', 'kid', 'alg', 'use', 'key_ops', 'ext'];
  for (const k of Object.keys(o)) if (!known.includes(k)) c(`unexpected JWK member "${k.slice(0, 40)}"`);
  let jwk: SignerJwk;
  try {
    jwk = parseSignerJwk(minimal, 'jwk', 'KEY_INVALID');
  } catch (e) {
    if (e instanceof ImportError) c(e.message.replace(/^trust root: /, ''));
    throw e;
  }
  if (o.alg !== undefined && o.alg !== algForJwk(jwk)) c(`alg ${JSON.stringify(o.alg).slice(0, 20)} does not match the key type (expected ${algForJwk(jwk)})`);
  if (o.kid !== undefined && o.kid !== jwkThumbprint(jwk)) c('kid is not the RFC 7638 thumbprint of the key');
  return jwk;
}

/** jose's importJWK narrowed to the asymmetric keys the format uses (it returns bytes only for oct keys). */
export async function importAsymmetricJwk(jwk: Record<string, unknown>, alg: string): Promise<CryptoKey> {
  const k = await importJWK(jwk, alg);
  if (k instanceof Uint8Array) throw new ImportError('KEY_INVALID', 'key: a symmetric key is never accepted');
  return k;
}

const keyCache = new Map<string, Promise<CryptoKey>>();

/** Imports a signer key for verification (cached by thumbprint: trust roots are small and reused). */
export function importSignerKey(jwk: SignerJwk, code: ImportErrorCode = 'TRUST_ROOT_INVALID'): Promise<CryptoKey> {
  const tp = jwkThumbprint(jwk);
  let p = keyCache.get(tp);
  if (!p) {
    p = importAsymmetricJwk({ ...jwk }, algForJwk(jwk)).catch((e: unknown) => {
        keyCache.delete(tp);
        throw new ImportError(code, 'key: the signer key is not a valid point on its curve', undefined, { cause: e });
    });
    if (keyCache.size > 256) keyCache.clear();
    keyCache.set(tp, p);
  }
  return p;
}

// ---- parsing ---------------------------------------------------------------------

const HEADER_MEMBERS = ['alg', 'kid', 'typ'];

type HeaderForm = Readonly<{ alg: unknown; kid: string; typ: string }>;

/**
 * Rule 3 for one protected header (docs/bundle-format.md section 9): its
 * bytes are canonical JSON of an object with exactly alg, kid and typ
 * (a name twice is DUPLICATE_MEMBER); kid is a thumbprint; typ is the
 * expected one. Everything else a JOSE header may carry is refused by name,
 * because each is a way to move trust out of the pinned root (jwk, jku, x5u,
 * x5c, x5t: a key chosen by the attacker), change what is signed (b64, zip)
 * or demand processing we do not do (crit). The alg value is rule 4.
 */
function headerForm(protectedB64: string, expectedTyp: string | undefined, codes: JwsCodes, index: number): HeaderForm {
  const at = `signatures[${index}]`;
  const bytes = b64urlDecodeStrict(protectedB64);
  if (!bytes) throw new ImportError(codes.malformed, `${codes.what}: ${at}.protected is not canonical base64url`);
  const parsed = parseCanonical(bytes, `${codes.what}: ${at} protected header`);
  if (!parsed || typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) {
    throw new ImportError('BUNDLE_HEADER', `${codes.what}: ${at} protected header is not a canonical JSON object`);
  }
  const h = parsed.value as Record<string, unknown>;
  for (const k of Object.keys(h)) {
    if (!HEADER_MEMBERS.includes(k)) {
      throw new ImportError('BUNDLE_HEADER', `${codes.what}: ${at} protected header member "${k.slice(0, 40)}" is not allowed`, 'Only alg, kid and typ may appear; keys come from the pinned trust root, never from the bundle.');
    }
  }
  if (!('alg' in h)) throw new ImportError('BUNDLE_HEADER', `${codes.what}: ${at} protected header has no alg`);
  if (typeof h.kid !== 'string' || !THUMBPRINT_RE.test(h.kid)) {
    throw new ImportError('BUNDLE_HEADER', `${codes.what}: ${at} kid must be an RFC 7638 thumbprint`);
  }
  if (expectedTyp !== undefined && h.typ !== expectedTyp) {
    throw new ImportError('BUNDLE_HEADER', `${codes.what}: ${at} typ must be "${expectedTyp}"`);
  }
  if (typeof h.typ !== 'string') throw new ImportError('BUNDLE_HEADER', `${codes.what}: ${at} typ is missing`);
  return { alg: h.alg, kid: h.kid, typ: h.typ };
}

/** Rule 4 for one header: alg is ES256 or EdDSA. */
function headerAlg(h: HeaderForm, codes: JwsCodes, index: number): JwsAlg {
  if (typeof h.alg !== 'string' || !(JWS_ALGS as readonly string[]).includes(h.alg)) {
    throw new ImportError('BUNDLE_ALGORITHM', `${codes.what}: signatures[${index}] alg ${JSON.stringify(String(h.alg).slice(0, 20))} is not allowed (ES256 or EdDSA only)`);
  }
  return h.alg as JwsAlg;
}

/** Checks one protected header: rule 3 (exact canonical members, kid, typ), then rule 4 (alg). */
export function parseProtectedHeader(protectedB64: string, expectedTyp: string | undefined, codes: JwsCodes, index: number): ProtectedHeader {
  const h = headerForm(protectedB64, expectedTyp, codes, index);
  return { alg: headerAlg(h, codes, index), kid: h.kid, typ: h.typ };
}

/**
 * Parses the General JSON Serialization, rules 2 to 5 of docs/bundle-format.md
 * section 9, rule by rule: each rule is checked over every signature entry
 * (in array order) before the next rule, so the first failing rule decides
 * the code whatever entry fails it. The outer JSON document may be spaced as
 * anyone likes (it is not signed), but it is parsed strictly: no byte order
 * mark, no member name twice (DUPLICATE_MEMBER) at any level. Its members
 * are exact: payload and signatures, each signature protected and signature,
 * no unprotected header (which nothing signs).
 */
export function parseGeneralJws(text: string, expectedTyp: string, codes: JwsCodes): ParsedJws {
  const bad = (m: string): never => {
    throw new ImportError(codes.malformed, `${codes.what}: ${m}`);
  };
  // Rule 2: the document's form.
  let doc: unknown;
  try {
    doc = parseJsonStrict(text, codes.what);
  } catch (e) {
    if (e instanceof NotJsonError) return bad(e.reason);
    throw e;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return bad('not a JWS in JSON General Serialization (an object)');
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'payload' && k !== 'signatures') bad(`unexpected member "${k.slice(0, 40)}" (a JWS General Serialization holds payload and signatures)`);
  if (typeof o.payload !== 'string') return bad('payload must be a base64url string');
  const payloadBytes = b64urlDecodeStrict(o.payload);
  if (!payloadBytes) return bad('payload is not canonical base64url');
  if (!Array.isArray(o.signatures) || o.signatures.length === 0) return bad('signatures must be a non-empty array');
  if (o.signatures.length > MAX_SIGNERS) return bad(`more than ${MAX_SIGNERS} signatures`);
  const entries = (o.signatures as unknown[]).map((s, i) => {
    if (typeof s !== 'object' || s === null || Array.isArray(s)) return bad(`signatures[${i}] must be an object`);
    const e = s as Record<string, unknown>;
    // An unprotected header is rule 3's (a header that nothing signs), not a stray member.
    for (const k of Object.keys(e)) if (k !== 'protected' && k !== 'signature' && k !== 'header') bad(`signatures[${i}] has an unexpected member "${k.slice(0, 40)}"`);
    if (typeof e.protected !== 'string' || typeof e.signature !== 'string') return bad(`signatures[${i}] needs protected and signature strings`);
    if (!b64urlDecodeStrict(e.signature)) bad(`signatures[${i}].signature is not canonical base64url`);
    if (!b64urlDecodeStrict(e.protected)) bad(`signatures[${i}].protected is not canonical base64url`);
    return { protected: e.protected, signature: e.signature, unprotected: 'header' in e };
  });
  // Rule 3: the protected headers' form.
  const forms = entries.map((e, i) => {
    if (e.unprotected) throw new ImportError('BUNDLE_HEADER', `${codes.what}: signatures[${i}] has an unprotected header`, 'Unprotected headers are not signed; Keyhold never uses them.');
    return headerForm(e.protected, expectedTyp, codes, i);
  });
  // Rule 4: the algorithms.
  const algs = forms.map((h, i) => headerAlg(h, codes, i));
  // Rule 5: one signature per signer.
  const seen = new Set<string>();
  const signatures: ParsedSignature[] = entries.map((e, i) => {
    const kid = forms[i]!.kid;
    if (seen.has(kid)) {
      throw new ImportError('BUNDLE_DUPLICATE_SIGNER', `${codes.what}: signer ${kid} signed more than once`, 'Each signer signs once; a repeated signature is refused rather than counted twice.');
    }
    seen.add(kid);
    return { protected: e.protected, signature: e.signature, header: { alg: algs[i]!, kid, typ: forms[i]!.typ } };
  });
  return { payloadB64: o.payload, payloadBytes, signatures };
}

/**
 * The protected header of a compact JWE (the bundle's secrets), parsed
 * strictly: canonical base64url, UTF-8, JSON without a byte order mark or a
 * member name twice (DUPLICATE_MEMBER), an object. jose's decoder would let a
 * repeated name's last value win; the members are checked by the caller.
 */
export function parseJweProtectedHeader(jwe: string): Record<string, unknown> {
  const unreadable = (why: string): never => {
    throw new ImportError('BUNDLE_DECRYPT', `secrets: the JWE header cannot be read (${why})`);
  };
  const parts = jwe.split('.');
  if (parts.length !== 5) return unreadable('a compact JWE has five parts');
  const bytes = b64urlDecodeStrict(parts[0]!);
  if (!bytes || bytes.length === 0) return unreadable('not canonical base64url');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return unreadable('not UTF-8');
  }
  let h: unknown;
  try {
    h = parseJsonStrict(text, 'secrets: JWE protected header');
  } catch (e) {
    if (e instanceof NotJsonError) return unreadable(e.reason);
    throw e;
  }
  if (typeof h !== 'object' || h === null || Array.isArray(h)) return unreadable('not a JSON object');
  return h as Record<string, unknown>;
}

// ---- verification ---------------------------------------------------------------------

/** Rule 7 for one signature: its alg is the one algorithm of its signer key's type. */
export function checkSignatureAlg(sig: ParsedSignature, jwk: SignerJwk, what: string): void {
  const alg = algForJwk(jwk);
  if (sig.header.alg !== alg) {
    throw new ImportError('BUNDLE_ALGORITHM', `${what}: signer ${sig.header.kid} uses alg ${sig.header.alg} but its key is for ${alg}`);
  }
}

/**
 * Verifies one signature with jose's generalVerify over a JWS holding that
 * signature alone, so each signature is checked on its own (generalVerify
 * would otherwise stop at the first one that verifies). The algorithm
 * allow-list is the one algorithm of the key's type: no alg/key confusion.
 */
export async function verifyOneSignature(payloadB64: string, sig: ParsedSignature, jwk: SignerJwk, what: string): Promise<void> {
  checkSignatureAlg(sig, jwk, what);
  const alg = algForJwk(jwk);
  const key = await importSignerKey(jwk);
  try {
    await generalVerify({ payload: payloadB64, signatures: [{ protected: sig.protected, signature: sig.signature }] }, key, { algorithms: [alg] });
  } catch (e) {
    throw new ImportError('BUNDLE_SIGNATURE', `${what}: the signature of signer ${sig.header.kid} does not verify`, 'The file was altered or damaged after signing, or it was signed with another key.', { cause: e });
  }
}

/**
 * Verifies a single compact or flattened JWS against one public JWK with the
 * same header rules and allow-lists as a bundle (no typ required). Used for
 * interoperability checks and the Wycheproof vectors; throws ImportError.
 */
export async function verifyJwsWithKey(jws: string | Readonly<{ protected?: unknown; payload?: unknown; signature?: unknown; header?: unknown }>, publicJwk: unknown): Promise<Buffer> {
  const codes: JwsCodes = { malformed: 'BUNDLE_MALFORMED', what: 'jws' };
  let protectedB64: unknown;
  let payloadB64: unknown;
  let signature: unknown;
  if (typeof jws === 'string') {
    const parts = jws.split('.');
    if (parts.length !== 3) throw new ImportError('BUNDLE_MALFORMED', 'jws: compact serialization needs three parts');
    [protectedB64, payloadB64, signature] = parts;
  } else {
    if ('header' in jws) throw new ImportError('BUNDLE_HEADER', 'jws: unprotected header');
    ({ protected: protectedB64, payload: payloadB64, signature } = jws);
  }
  if (typeof protectedB64 !== 'string' || typeof payloadB64 !== 'string' || typeof signature !== 'string') {
    throw new ImportError('BUNDLE_MALFORMED', 'jws: protected, payload and signature must be strings');
  }
  const payload = b64urlDecodeStrict(payloadB64);
  if (!payload || !b64urlDecodeStrict(signature)) throw new ImportError('BUNDLE_MALFORMED', 'jws: not canonical base64url');
  const jwk = normalizeSignerJwk(publicJwk);
  const header = parseProtectedHeaderLoose(protectedB64, codes);
  await verifyOneSignature(payloadB64, { protected: protectedB64, signature, header }, jwk, 'jws');
  return payload;
}

// The same member and algorithm rules as parseProtectedHeader, without requiring canonical JSON,
// a thumbprint kid or a typ: other producers' JWSs (test vectors) are spelled differently.
function parseProtectedHeaderLoose(protectedB64: string, codes: JwsCodes): ProtectedHeader {
  const bytes = b64urlDecodeStrict(protectedB64);
  if (!bytes) throw new ImportError(codes.malformed, 'jws: protected header is not canonical base64url');
  let h: unknown;
  try {
    h = parseJsonStrict(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes), 'jws: protected header');
  } catch (e) {
    if (e instanceof ImportError) throw e;
    throw new ImportError('BUNDLE_HEADER', 'jws: protected header is not JSON');
  }
  if (typeof h !== 'object' || h === null || Array.isArray(h)) throw new ImportError('BUNDLE_HEADER', 'jws: protected header is not an object');
  const o = h as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!HEADER_MEMBERS.includes(k)) throw new ImportError('BUNDLE_HEADER', `jws: protected header member "${k.slice(0, 40)}" is not allowed`);
  if (typeof o.alg !== 'string' || !(JWS_ALGS as readonly string[]).includes(o.alg)) throw new ImportError('BUNDLE_ALGORITHM', 'jws: alg is not allowed');
  return { alg: o.alg as JwsAlg, kid: typeof o.kid === 'string' ? o.kid : '', typ: typeof o.typ === 'string' ? o.typ : '' };
}

// ---- signing side (pure; the signature itself is made elsewhere) ---------------------------

/** base64url of the canonical JSON of a protected header {alg, kid, typ}. */
export function encodeProtectedHeader(header: ProtectedHeader): string {
  if (!(JWS_ALGS as readonly string[]).includes(header.alg)) throw new ImportError('INVALID_INPUT', 'jws: alg must be ES256 or EdDSA');
  if (!THUMBPRINT_RE.test(header.kid)) throw new ImportError('INVALID_INPUT', 'jws: kid must be an RFC 7638 thumbprint');
  return b64url(canonicalize({ alg: header.alg, kid: header.kid, typ: header.typ }));
}

/**
 * The JWS Signing Input (RFC 7515 section 5.1): ASCII(protected || '.' || payload).
 * ES256 signs SHA-256 of these bytes and the signature is raw r || s (64
 * bytes, what CKM_ECDSA returns over the digest); EdDSA signs the bytes
 * themselves (CKM_EDDSA), 64 bytes.
 */
export function signingInput(protectedB64: string, payloadB64: string): Uint8Array {
  return Buffer.from(`${protectedB64}.${payloadB64}`, 'ascii');
}

export type RawSignature = Readonly<{ protected: string; signature: Uint8Array | string }>;

function toEntry(s: RawSignature): SignatureEntry {
  const sig = typeof s.signature === 'string' ? s.signature : b64url(s.signature);
  const bytes = b64urlDecodeStrict(sig);
  // ES256 and EdDSA signatures are both exactly 64 bytes; a DER-encoded ECDSA signature (a common token mistake) is longer.
  if (!bytes || bytes.length !== 64) throw new ImportError('INVALID_INPUT', 'jws: a signature must be 64 bytes (raw r||s for ES256, or Ed25519)');
  return { protected: s.protected, signature: sig };
}

/** The bundle or trust root file text: JWS General JSON Serialization, one line plus newline. */
export function assembleGeneralJws(payloadB64: string, signatures: readonly RawSignature[]): string {
  if (signatures.length === 0) throw new ImportError('INVALID_INPUT', 'jws: at least one signature is needed');
  const entries = signatures.map(toEntry);
  const kids = new Set<string>();
  for (const e of entries) {
    const h = parseProtectedHeader(e.protected, undefined, { malformed: 'INVALID_INPUT', what: 'jws' }, 0);
    if (kids.has(h.kid)) throw new ImportError('BUNDLE_DUPLICATE_SIGNER', `jws: signer ${h.kid} would sign twice`);
    kids.add(h.kid);
  }
  return `${JSON.stringify({ payload: payloadB64, signatures: entries })}\n`;
}

/**
 * Adds one more signature to an existing bundle or trust root (`keyhold
 * bundle sign`: a second custodian). The existing text is parsed strictly;
 * the signature is not verified here (the importer does that), but a
 * second signature by the same signer is refused.
 */
export function addSignature(jwsText: string, signature: RawSignature): string {
  const typ = guessTyp(jwsText);
  const parsed = parseGeneralJws(jwsText, typ, typ === TRUST_TYP ? TRUST_CODES : BUNDLE_CODES);
  return assembleGeneralJws(parsed.payloadB64, [...parsed.signatures, signature]);
}

function guessTyp(jwsText: string): string {
  let doc: { signatures?: { protected?: string }[] } | null;
  try {
    doc = JSON.parse(jwsText) as typeof doc;
  } catch {
    return BUNDLE_TYP; // parseGeneralJws says what is wrong with it
  }
  const first = Array.isArray(doc?.signatures) ? doc.signatures[0]?.protected : undefined;
  const bytes = typeof first === 'string' ? b64urlDecodeStrict(first) : undefined;
  const parsed = bytes ? parseCanonical(bytes) : undefined;
  const typ = (parsed?.value as { typ?: unknown } | undefined)?.typ;
  return typ === TRUST_TYP ? TRUST_TYP : BUNDLE_TYP;
}

/** Anything that can sign a signing input: a token (the app), a software key (tests, bench). */
export type Signer = Readonly<{
  alg: JwsAlg;
  /** RFC 7638 thumbprint of the signer's public key. */
  kid: string;
  publicJwk: SignerJwk;
  sign(input: Uint8Array): Promise<Uint8Array> | Uint8Array;
}>;

/** A signer over a node:crypto private key (P-256 or Ed25519). For tests, the bench and software-only setups. */
export function softwareSigner(privateKey: KeyObject): Signer {
  const pub = createPublicKey(privateKey).export({ format: 'jwk' }) as Record<string, unknown>;
  const publicJwk = normalizeSignerJwk(pub);
  const alg = algForJwk(publicJwk);
  return {
    alg,
    kid: jwkThumbprint(publicJwk),
    publicJwk,
    sign: (input) =>
      alg === 'ES256' ? nodeSign('sha256', input, { key: privateKey, dsaEncoding: 'ieee-p1363' }) : nodeSign(null, input, privateKey),
  };
}

/** Signs a payload (already base64url) with each signer in turn and returns the file text. */
export async function signGeneralJws(payloadB64: string, signers: readonly Signer[], typ: string): Promise<string> {
  const sigs: RawSignature[] = [];
  for (const s of signers) {
    const protectedB64 = encodeProtectedHeader({ alg: s.alg, kid: s.kid, typ });
    sigs.push({ protected: protectedB64, signature: await s.sign(signingInput(protectedB64, payloadB64)) });
  }
  return assembleGeneralJws(payloadB64, sigs);
}

/** Identity of a payload: SHA-256 (hex) of its canonical bytes, never of the JWS text. */
export function payloadHash(payloadBytes: Uint8Array): string {
  return sha256Hex(payloadBytes);
}
