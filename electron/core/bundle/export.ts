/**
 * Rotation bundles, export side (the format is docs/bundle-format.md; its one
 * implementation is the keyhold-format package, used here as a library).
 *
 * An export collects what changed for one recipient since its last bundle
 * (versions to issue, versions to revoke), encrypts the secrets its holders
 * need in one JWE, signs the canonical payload on the token(s) — one
 * signature per signer whatever the number of keys — and records the bundle
 * in the vault with its audit entry in one transaction. The file is written
 * to a temporary name and fsynced before that transaction, and renamed into
 * place after it: a crash leaves either no bundle, or a recorded bundle whose
 * file is complete (under its temporary name if the rename did not happen).
 */

import fs from 'node:fs';
import path from 'node:path';
import type { BundleExportReport, RecipientInfo, SignerInfo } from '../../../shared/contract.js';
import { formatApiKey } from '../../../shared/apikey.js';
import { parseDuration } from '../../../shared/duration.js';
import { type ErrorCode, KeyholdError, missingCase } from '../../../shared/errors.js';
import {
  addSignature,
  buildPayload,
  buildTrustRoot,
  encodePayload,
  encodeProtectedHeader,
  encryptSecrets,
  isImportError,
  newBundleId,
  parseBundlePayload,
  parseCanonical,
  parseGeneralJws,
  payloadHash,
  recipientId as thumbprintOfRecipient,
  recipientPublicJwk,
  signGeneralJws,
  signingInput,
  signTrustRoot,
  encodeTrustRootPayload,
  verifierOf,
  verifyJwsWithKey,
  BUNDLE_TYP,
  type Change,
  type SecretEntry,
  type Signer,
  type ImportErrorCode as FormatErrorCode,
  type TrustRootPayload,
} from 'keyhold-format';
import {
  checkNewFile,
  publishNewFile,
  READ_LIMITS,
  readTextFile,
  replaceWithStaged,
  stageNewFile,
  tempPathFor,
  testPause,
  vaultFiles,
} from '../fsutil.js';
import { recoverPendingFiles, resendCommand, type RecoveryNote } from './recover.js';
import {
  newPreparedId,
  PREPARED_TTL_MS,
  sameItems,
  SUMMARY_KEY_LIMIT,
  type PreparedBundle,
  type PreparedItem,
  type SummaryKey,
} from './prepare.js';
import { secretAad, versionsOfServices } from '../keys/rows.js';
import { toBuffer } from '../crypto/primitives.js';
import { jwkThumbprint, type PublicJwk } from '../token/jwk.js';
import type { PinPlan, PinProvider, Token, TokenManager } from '../token/token.js';
import type { Vault } from '../vault/vault.js';
import {
  advanceRecipient,
  deletePending,
  getRecipient,
  insertPending,
  getSetting,
  insertBundle,
  lastBundle,
  replaceBundleBody,
  insertItems,
  insertRecipient,
  insertSigner,
  listRecipients,
  listSigners,
  putSetting,
  recipientInfo,
  sentItems,
  sentItemsFor,
  signerInfo,
  threshold,
  type RecipientRow,
  type SignerRow,
} from './store.js';
import { checkQrFits, qrCodes } from './qr.js';

const MAX_VALIDITY_S = 90 * 86400;

/**
 * A bundle-format error (keyhold-format's typed codes) as a Keyhold error,
 * code by code. `invalid` is the code for "this breaks the format" in the
 * caller's context: INVALID_INPUT for an argument (a recipient's public key,
 * what a bundle or trust root is built from), BUNDLE_INVALID for a file given
 * as a bundle. File codes keep their meaning; a signer already in the bundle
 * is ALREADY_SIGNED; a signature that does not verify is INTEGRITY.
 */
export function keyholdCodeOf(code: FormatErrorCode, invalid: ErrorCode): ErrorCode {
  switch (code) {
    case 'NOT_A_FILE':
    case 'FILE_TOO_LARGE':
    case 'FILE_UNREADABLE':
    case 'FILE_EXISTS':
    case 'PATH_NOT_WRITABLE':
      return code;
    case 'BUNDLE_TOO_LARGE':
      return 'FILE_TOO_LARGE';
    case 'FILE_NOT_FOUND':
      return 'FILE_UNREADABLE';
    case 'BUNDLE_DUPLICATE_SIGNER':
      return 'ALREADY_SIGNED';
    case 'BUNDLE_SIGNATURE':
      return 'INTEGRITY';
    case 'IO':
    case 'INTERNAL':
      return 'INTERNAL';
    case 'BUNDLE_MALFORMED':
    case 'BUNDLE_HEADER':
    case 'BUNDLE_ALGORITHM':
    case 'BUNDLE_UNKNOWN_SIGNER':
    case 'BUNDLE_THRESHOLD':
    case 'BUNDLE_VAULT':
    case 'BUNDLE_RECIPIENT':
    case 'BUNDLE_EXPIRED':
    case 'BUNDLE_NOT_YET_VALID':
    case 'BUNDLE_ROLLBACK':
    case 'BUNDLE_FORK':
    case 'BUNDLE_CHAIN':
    case 'BUNDLE_DECRYPT':
    case 'BUNDLE_SECRETS':
    case 'BUNDLE_CONFLICT':
    case 'BUNDLE_CHECKPOINT':
    case 'TRUST_ROOT_INVALID':
    case 'TRUST_ROOT_THRESHOLD':
    case 'TRUST_ROOT_EXPIRED':
    case 'TRUST_ROOT_VERSION':
    case 'TRUST_ROOT_ROLLBACK':
    case 'TRUST_ROOT_MISMATCH':
    case 'KEY_INVALID':
    case 'DUPLICATE_MEMBER':
    case 'QR_PART_INVALID':
    case 'QR_PARTS_MISSING':
    case 'QR_PARTS_MIXED':
    case 'QR_CHECKSUM':
    case 'STATE_INVALID':
    case 'STATE_LOCKED':
    case 'INVALID_INPUT':
    case 'USAGE':
      return invalid;
    default:
      return missingCase(code);
  }
}

/** Runs a bundle-format call, its errors as Keyhold errors (keyholdCodeOf). */
function fromImporter<T>(fn: () => T, invalid: ErrorCode = 'INVALID_INPUT'): T {
  try {
    return fn();
  } catch (e) {
    if (isImportError(e)) throw new KeyholdError(keyholdCodeOf(e.code, invalid), e.message, e.hint, { cause: e });
    throw e;
  }
}

// ---- recipients and signers ----------------------------------------------------------

export function addRecipient(vault: Vault, name: string, publicKey: Record<string, unknown>, verifies: readonly string[],
  holds: readonly string[]): RecipientInfo {
  // The public half only: a private member ("d") given by mistake is refused, not stored.
  const jwk = fromImporter(() => recipientPublicJwk(publicKey, false));
  const id = fromImporter(() => thumbprintOfRecipient(jwk));
  if (verifies.length === 0 && holds.length === 0) {
    throw new KeyholdError('INVALID_INPUT', 'recipient: name at least one service it verifies (--verifies) or holds (--holds)');
  }
  const existing = listRecipients(vault);
  if (existing.some((r) => r.name === name)) throw new KeyholdError('RECIPIENT_EXISTS', `recipient: ${name} already exists`);
  const same = existing.find((r) => r.id === id);
  if (same) throw new KeyholdError('RECIPIENT_EXISTS', `recipient: this public key is already recipient ${same.name}`);
  const row = {
    id, name, public_jwk: JSON.stringify(jwk), verifies: JSON.stringify([...verifies].sort()), holds: JSON.stringify([...holds].sort()),
    created_at: vault.now(), sequence: 0, last_hash: null, row_version: 1,
  };
  vault.transaction(() => {
    insertRecipient(vault, row);
    vault.audit({ action: 'recipient.add', subject: `recipient:${name}`, details: { id, verifies: [...verifies].sort(), holds: [...holds].sort() } });
  });
  return recipientInfo({ ...row, mac: Buffer.alloc(0) });
}

export async function addSigner(vault: Vault, tokens: TokenManager, tokenSel: string, keyLabel: string): Promise<SignerInfo & { warnings: string[] }> {
  const token = tokens.token(tokenSel);
  const key = await token.findKey({ label: keyLabel });
  if (!key.alg || !key.jwk || !key.kid) {
    throw new KeyholdError('TOKEN_UNSUPPORTED', `signer: the key '${keyLabel}' is not a P-256 or Ed25519 key with its public key on the token`);
  }
  // Before login the private key is hidden: its public half's CKA_VERIFY says
  // whether it is a signing key (a keyslot key, derive only, is not).
  if (key.hasPrivateKey ? !key.canSign : !key.canVerify) {
    throw new KeyholdError('TOKEN_UNSUPPORTED', `signer: the key '${keyLabel}' is not allowed to sign`,
      'Register a signing key (see `keyhold token keys`; make one with `keyhold token keygen`).');
  }
  const existing = listSigners(vault);
  if (existing.some((s) => s.kid === key.kid)) {
    throw new KeyholdError('SIGNER_EXISTS', `signer: ${key.kid} is already registered`);
  }
  const d = token.description;
  const warnings: string[] = [];
  const sameToken = existing.filter((s) => s.token_serial === d.serial);
  if (sameToken.length > 0) {
    // One card and one PIN are one person: M-of-N must not collapse to that.
    warnings.push(`the token ${token.name} already holds signer ${sameToken.map((s) => s.kid).join(', ')}: signers on one token count once toward the threshold (the signers are on ${distinctTokens(existing)} token(s))`);
  }
  const row = {
    kid: key.kid, alg: key.alg, public_jwk: JSON.stringify(key.jwk), token_label: d.label, token_serial: d.serial,
    key_id: key.id, key_label: key.label, created_at: vault.now(),
  };
  vault.transaction(() => {
    insertSigner(vault, row);
    vault.audit({ action: 'signer.add', subject: `signer:${key.kid}`, details: { alg: key.alg, token: d.label, serial: d.serial, keyLabel: key.label } });
  });
  return { ...signerInfo({ ...row, mac: Buffer.alloc(0) }), warnings };
}

/** How many distinct tokens (by serial) the signers are on: what a threshold counts. */
export function distinctTokens(rows: readonly Pick<SignerRow, 'token_serial'>[]): number {
  return new Set(rows.map((r) => r.token_serial)).size;
}

export function setThreshold(vault: Vault, n: number): { threshold: number; signers: number } {
  const rows = listSigners(vault);
  const signers = rows.length;
  if (n > signers) {
    throw new KeyholdError('INVALID_INPUT', `signer: a threshold of ${n} needs at least ${n} registered signers (there are ${signers})`,
      'Register more with `keyhold signer add`.');
  }
  const tokensN = distinctTokens(rows);
  if (n > tokensN) {
    throw new KeyholdError('THRESHOLD_UNREACHABLE',
      `signer: a threshold of ${n} needs signers on ${n} different tokens; the ${signers} signers are on ${tokensN} token(s)`,
      'Signers on the same token count once: one card and one PIN are one person, so they cannot make M-of-N. Register a key on another token (`keyhold signer add`), or set a lower threshold.');
  }
  vault.transaction(() => {
    putSetting(vault, 'signer.threshold', String(n));
    vault.audit({ action: 'signer.threshold', subject: 'signers', details: { threshold: n, signers } });
  });
  return { threshold: n, signers };
}

// ---- signing on tokens -------------------------------------------------------

export type SigningOptions = Readonly<{
  /** The PINs of the command: a PIN given goes only to the token it is bound to. */
  pins: PinPlan;
  allowFinalTry: boolean;
  /** Only the signers on this token (label or serial). */
  token?: string | undefined;
}>;

export function onToken(row: Pick<SignerRow, 'token_label' | 'token_serial'>, token: Token | null, sel: string): boolean {
  return row.token_label === sel || row.token_serial === sel || (token !== null && (token.description.label === sel || token.description.serial === sel));
}

/**
 * Signers for the registered token keys whose token is present (only those on
 * `o.token`'s token when it is given), each token logged in once. The PIN
 * given is bound to its token before any login (TOKEN_AMBIGUOUS when it
 * could be for several). With `onePerToken` (bundles) a token signs once
 * whatever the number of its keys: signers on one token count once toward a
 * threshold, and a second signature from the same card would let one person
 * make M-of-N. The key on the token must still be the one registered (same
 * thumbprint), or it does not sign.
 */
async function presentSigners(vault: Vault, tokens: TokenManager, o: SigningOptions & { onePerToken: boolean },
  why: string): Promise<Signer[]> {
  const rows = listSigners(vault);
  if (rows.length === 0) {
    throw new KeyholdError('NO_SIGNERS', 'bundle: no signer is registered',
      'Register a token key with `keyhold signer add --token LABEL --key KEYLABEL`.');
  }
  const sel = o.token;
  const picked: { row: SignerRow; token: Token }[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    const token = tokens.bySerial(row.token_serial);
    if (!token || (sel !== undefined && !onToken(row, token, sel))) continue;
    if (o.onePerToken && seen.has(row.token_serial)) continue;
    seen.add(row.token_serial);
    picked.push({ row, token });
  }
  if (picked.length === 0) {
    const mine = sel === undefined ? rows : rows.filter((r) => onToken(r, tokens.bySerial(r.token_serial), sel));
    if (sel !== undefined && mine.length === 0) {
      throw new KeyholdError('SIGNER_NOT_FOUND', `bundle: no registered signer is on the token '${sel}'`,
        `The signers are on: ${[...new Set(rows.map((r) => `'${r.token_label}' (serial ${r.token_serial})`))].join(', ')}.`);
    }
    throw new KeyholdError('TOKEN_NOT_FOUND', 'bundle: no signer\'s token is present',
      `Insert one of: ${[...new Set(mine.map((r) => `'${r.token_label}' (serial ${r.token_serial})`))].join(', ')}.`);
  }
  // Before any login: the PIN given is for one token, named or the only one.
  o.pins.bind(picked.map((p) => p.token.description), sel);
  const out: Signer[] = [];
  for (const { row, token } of picked) out.push(await tokenSigner(token, row, o.pins.provider, o.allowFinalTry, why));
  return out;
}

export async function tokenSigner(token: Token, row: Pick<SignerRow, 'kid' | 'alg' | 'public_jwk' | 'key_id'>,
  askPin: PinProvider, allowFinalTry: boolean, why: string): Promise<Signer> {
  await token.login({ askPin, why, allowFinalTry });
  const key = await token.findKey({ id: row.key_id });
  if (!key.jwk || jwkThumbprint(key.jwk) !== row.kid || !key.canSign) {
    throw new KeyholdError('INTEGRITY', `signer: the key ${row.key_id} on ${token.name} is not the registered signer ${row.kid}`,
      'The token key was replaced. Register the new key with `keyhold signer add`.');
  }
  return {
    alg: row.alg,
    kid: row.kid,
    publicJwk: JSON.parse(row.public_jwk) as PublicJwk,
    sign: (input: Uint8Array) => token.sign({ id: row.key_id }, input),
  };
}

// ---- writing files ------------------------------------------------------------

/**
 * Stages a recorded-to-be bundle beside `target`, noting it in the vault
 * first (pending_files), so that a process killed anywhere after this leaves
 * a file the next command finds (recover.ts). Returns the temporary path.
 */
function stageNoted(vault: Vault, target: string, text: string, kind: 'bundle' | 'resend', r: RecipientRow, sequence: number,
  hash: string): string {
  const tmp = tempPathFor(target);
  insertPending(vault, { tmp_path: tmp, target_path: target, kind, recipient_id: r.id, sequence, hash, created_at: vault.now() });
  try {
    return stageNewFile(target, text, 'bundle', tmp);
  } catch (e) {
    forgetStaged(vault, tmp);
    throw e;
  }
}

/** Drops the note of a staged file; if even that fails, the next command finds the note and settles it (recover.ts). */
function forgetStaged(vault: Vault, tmp: string): void {
  try {
    deletePending(vault, tmp);
  } catch {
    // The error being reported matters more; the note is harmless.
  }
}

/** Removes a staged file and its note (the change it belonged to was not made, or the vault has the bundle). */
function dropStaged(vault: Vault, tmp: string): void {
  fs.rmSync(tmp, { force: true });
  forgetStaged(vault, tmp);
}

/**
 * Gives a staged bundle the vault recorded its name. When that fails (a file
 * appeared at the name meanwhile, the medium went away) the temporary file
 * is removed, since the vault keeps the bundle, and the message gives the
 * exact `bundle resend` command that writes it.
 */
function publishRecorded(vault: Vault, tmp: string, target: string, done: string, recipient: string, sequence: number): void {
  try {
    publishNewFile(tmp, target, 'bundle', done,
      `The vault keeps it: write it with \`${resendCommand(recipient, sequence)}\`.`);
  } catch (e) {
    dropStaged(vault, tmp);
    throw e;
  }
  forgetStaged(vault, tmp);
}

/**
 * A recipient's row must agree with its last recorded bundle: an older copy
 * of the row put back (its MAC still valid) would make the next export reuse
 * a sequence number the servers have already seen.
 */
function checkRecipientChain(vault: Vault, r: RecipientRow): void {
  const last = lastBundle(vault, r.id);
  if ((last?.sequence ?? 0) !== r.sequence || (last?.hash ?? null) !== r.last_hash) {
    throw new KeyholdError('INTEGRITY',
      `bundle: the record of recipient ${r.name} says its last bundle is ${r.sequence}, but the vault holds bundle ${last?.sequence ?? 'none'}` +
      ': the record was replaced by an older copy (rolled back)',
      'Restore the vault from a backup made after its last export; nothing was signed or written.');
  }
}

/** Settles what interrupted exports left; refuses to go on when the interrupted bundle now has the very name asked for. */
function recoverFirst(vault: Vault, target: string): RecoveryNote[] {
  const notes = recoverPendingFiles(vault);
  const mine = notes.find((n) => n.action === 'published' && n.path === target);
  if (mine) {
    throw new KeyholdError('FILE_EXISTS', `bundle: ${mine.message}; no new bundle was made`,
      'Carry that bundle to its server first; export again later for newer changes.');
  }
  return notes;
}

// ---- export ------------------------------------------------------------------

export type ExportOptions = Readonly<{
  recipient: string;
  out: string;
  revocationsOnly: boolean;
  expires: string;
  /** Sign and record this prepared payload (prepareBundle) rather than a new one. */
  prepared?: PreparedBundle | undefined;
  /** Also give the bundle as QR codes (revocations-only bundles only: bundle/qr.ts). */
  qr?: boolean | undefined;
}> & SigningOptions;

export type PrepareOptions = Readonly<{
  recipient: string;
  revocationsOnly: boolean;
  expires: string;
}>;

/** States whose versions a revocations-only bundle looks at. */
const ENDING_STATES = ['retiring', 'revoked', 'destroyed'] as const;

/** A vault time (ISO 8601 with milliseconds, UTC) to the bundle's form, to the second. */
function iso(t: string): string {
  // Vault times are written by toISOString(); anything else goes through Date.
  return t.length === 24 && t[23] === 'Z' && t[19] === '.' ? `${t.slice(0, 19)}Z` : `${new Date(t).toISOString().slice(0, 19)}Z`;
}

/** A bundle's validity (--expires) in seconds, between 1m and 90d. */
function validityOf(expires: string): number {
  const validity = parseDuration(expires, 'bundle --expires');
  if (validity < 60 || validity > MAX_VALIDITY_S) {
    throw new KeyholdError('INVALID_INPUT', 'bundle --expires: between 1m and 90d', 'A bundle expires so that a stale one cannot be applied late.');
  }
  return validity;
}

type Selection = {
  changes: Change[];
  secrets: SecretEntry[];
  items: PreparedItem[];
  keys: SummaryKey[];
};

/**
 * What the recipient has not been sent yet (docs/bundle-export.md, 2). With
 * `open`, the changes as the payload carries them, the secrets of held
 * services read from the vault and what the summary lists; without, only
 * the items (which versions, issued or revoked): no secret is opened.
 */
function selectChanges(vault: Vault, r: RecipientRow, revocationsOnly: boolean, open: boolean): Selection {
  const info = recipientInfo(r);
  const holds = new Set(info.holds);
  const changes: Change[] = [];
  const secrets: SecretEntry[] = [];
  const items: PreparedItem[] = [];
  const keys: SummaryKey[] = [];
  const services = [...new Set([...info.verifies, ...info.holds])];
  // A revocations-only bundle (an incident) reads only versions that end, and
  // only their own records: it stays fast however many keys were sent before.
  const candidates = versionsOfServices(vault, services, revocationsOnly ? ENDING_STATES : undefined);
  const sent = revocationsOnly ? sentItemsFor(vault, r.id, candidates.map(([k, v]) => [k.id, v.version] as const)) : sentItems(vault, r.id);
  // Many keys share one scope list: parse each distinct text once.
  const scopeLists = new Map<string, string[]>();
  const scopesOf = (text: string): string[] => {
    let list = scopeLists.get(text);
    if (!list) scopeLists.set(text, (list = JSON.parse(text) as string[]));
    return list;
  };
  for (const [c, v] of candidates) {
    const issued = sent.has(`issue/${c.id}/${v.version}`);
    const live = v.state === 'pre-active' || v.state === 'active' || v.state === 'retiring';
    const named = { keyId: c.id, service: c.service, environment: c.environment, name: c.name, version: v.version };
    if (live && !issued && !revocationsOnly && v.secret) {
      if (open) {
        const raw = vault.openSecret(secretAad(c.id, v.version), toBuffer(v.secret), `the secret of key ${c.id} version ${v.version}`);
        const key = formatApiKey(c.id, raw.toString('ascii'));
        raw.fill(0);
        // A version first sent while retiring carries its grace end as not-after:
        // one entry per key version per bundle, and it must stop being accepted then.
        const end = v.state === 'retiring' && v.grace_until ? (v.not_after && v.not_after < v.grace_until ? v.not_after : v.grace_until) : v.not_after;
        changes.push({
          type: 'issue', keyId: c.id, version: v.version, name: c.name, service: c.service, environment: c.environment,
          scopes: scopesOf(c.scopes), notBefore: iso(v.activated_at ?? v.created_at),
          notAfter: end ? iso(end) : null, verifier: verifierOf(key),
        });
        if (holds.has(c.service)) secrets.push({ keyId: c.id, version: v.version, key });
        keys.push({ ...named, kind: 'issue', reason: null, secret: holds.has(c.service) });
      }
      items.push({ keyId: c.id, version: v.version, kind: 'issue' });
      if (v.state === 'retiring') items.push({ keyId: c.id, version: v.version, kind: 'supersede' });
      continue;
    }
    if (!issued) continue;
    // A retiring version is superseded at the end of its grace window: servers
    // learn that time now and stop accepting it then. A version revoked later
    // (compromised, say) is sent again as a revocation: the earlier time wins.
    if (v.state === 'retiring' && v.grace_until && !sent.has(`supersede/${c.id}/${v.version}`)) {
      if (open) {
        changes.push({ type: 'revoke', keyId: c.id, version: v.version, reason: 'superseded', effectiveAt: iso(v.grace_until) });
        keys.push({ ...named, kind: 'revoke', reason: 'superseded', secret: false });
      }
      items.push({ keyId: c.id, version: v.version, kind: 'supersede' });
    } else if ((v.state === 'revoked' || v.state === 'destroyed') && v.revoked_at && !sent.has(`revoke/${c.id}/${v.version}`)) {
      if (open) {
        changes.push({ type: 'revoke', keyId: c.id, version: v.version, reason: v.revoke_reason ?? 'other', effectiveAt: iso(v.revoked_at) });
        keys.push({ ...named, kind: 'revoke', reason: v.revoke_reason ?? 'other', secret: false });
      }
      items.push({ keyId: c.id, version: v.version, kind: 'revoke' });
    }
  }
  return { changes, secrets, items, keys };
}

function byKeyName(a: SummaryKey, b: SummaryKey): number {
  return a.service.localeCompare(b.service) || a.environment.localeCompare(b.environment) || a.name.localeCompare(b.name) ||
    a.version - b.version || a.kind.localeCompare(b.kind);
}

/**
 * A bundle's payload for a recipient, made and encoded but not signed: the
 * first half of an export (exportBundle signs and records it). The secrets
 * it carries are encrypted to the recipient (one JWE) before it returns, and
 * the plaintext entries are not kept: what it returns holds the payload, its
 * hash and a summary, nothing that opens a key.
 */
async function preparePayload(vault: Vault, r: RecipientRow, o: PrepareOptions, validity: number): Promise<PreparedBundle> {
  const info = recipientInfo(r);
  const sel = selectChanges(vault, r, o.revocationsOnly, true);
  const bundleId = newBundleId();
  const now = new Date(vault.now());
  const head = vault.auditHead;
  const checkpoint = { seq: head.seq, hash: Buffer.from(head.hash).toString('hex') };
  const secretsN = sel.secrets.length;
  const jwe = secretsN > 0 ? await encryptSecrets(info.publicJwk, bundleId, sel.secrets) : undefined;
  // The JWE holds them now; the plaintext entries go (a JS string cannot be wiped, but nothing refers to one after this).
  sel.secrets.length = 0;
  const sequence = r.sequence + 1;
  const payload = fromImporter(() => buildPayload({
    bundleId, vaultId: vault.id, recipient: r.id, sequence, previous: r.last_hash, issuedAt: now,
    expiresAt: new Date(now.getTime() + validity * 1000), changes: sel.changes, ...(jwe ? { secrets: jwe } : {}), checkpoint,
  }));
  const encoded = encodePayload(payload);
  const issuedN = sel.changes.filter((c) => c.type === 'issue').length;
  const keys = sel.keys.sort(byKeyName);
  const t = now.getTime();
  return {
    id: newPreparedId(), vaultId: vault.id,
    recipient: { id: r.id, name: r.name, sequence: r.sequence, lastHash: r.last_hash, rowVersion: r.row_version },
    revocationsOnly: o.revocationsOnly, expires: o.expires, sequence,
    b64: encoded.b64, hash: encoded.hash, bytes: encoded.bytes.length,
    issuedAt: payload.issuedAt, expiresAt: payload.expiresAt, checkpoint,
    items: sel.items, issued: issuedN, revoked: sel.changes.length - issuedN, secrets: secretsN,
    keys: keys.slice(0, SUMMARY_KEY_LIMIT), moreKeys: Math.max(0, keys.length - SUMMARY_KEY_LIMIT),
    preparedAt: t, validUntil: t + PREPARED_TTL_MS,
  };
}

/**
 * Prepares a bundle for a recipient without signing it (`bundle.prepare`):
 * what it will carry, its payload and the payload's hash, for a summary the
 * custodians read before anything is signed. `bundle.export` with the
 * prepared payload signs and records exactly it.
 */
export async function prepareBundle(vault: Vault, o: PrepareOptions): Promise<PreparedBundle> {
  const validity = validityOf(o.expires);
  const r = getRecipient(vault, o.recipient);
  checkRecipientChain(vault, r);
  return preparePayload(vault, r, o, validity);
}

/**
 * A prepared payload may still be signed: made for this vault and recipient
 * with these options, the recipient's row as it was (no bundle recorded for
 * it since), and what a payload made now would carry the same versions
 * (nothing revoked, rotated or sent meanwhile). BUNDLE_STALE otherwise,
 * before any token is opened.
 */
function checkPrepared(vault: Vault, p: PreparedBundle, r: RecipientRow, o: ExportOptions): void {
  if (p.vaultId !== vault.id || p.recipient.name !== o.recipient || p.revocationsOnly !== o.revocationsOnly || p.expires !== o.expires) {
    throw new KeyholdError('INVALID_INPUT', 'bundle: the prepared bundle was made for another recipient or with other options',
      'Sign it with the recipient, revocation-only choice and expiry it was prepared with, or prepare again.');
  }
  const was = p.recipient;
  if (r.id !== was.id || r.sequence !== was.sequence || r.last_hash !== was.lastHash || r.row_version !== was.rowVersion) {
    throw new KeyholdError('BUNDLE_STALE', `bundle: ${r.name} got bundle ${r.sequence} after this one was prepared (as bundle ${p.sequence})`,
      'Prepare the bundle again and check the new summary before signing: nothing was signed.');
  }
  if (!sameItems(p.items, selectChanges(vault, r, p.revocationsOnly, false).items)) {
    throw new KeyholdError('BUNDLE_STALE', `bundle: the keys changed after the bundle for ${r.name} was prepared (rotated, revoked or created)`,
      'Prepare the bundle again and check the new summary before signing: nothing was signed.');
  }
}

export async function exportBundle(vault: Vault, tokens: TokenManager, o: ExportOptions): Promise<BundleExportReport> {
  const t0 = performance.now();
  if (o.qr === true && !o.revocationsOnly) {
    throw new KeyholdError('INVALID_INPUT', 'bundle: only a revocations-only bundle is given as QR codes',
      'Export with revocations only, or carry the bundle as a file.');
  }
  const validity = o.prepared ? 0 : validityOf(o.expires);
  const recovered = recoverFirst(vault, path.resolve(o.out));
  const target = checkNewFile(o.out, 'bundle', vaultFiles(vault.path));
  const r = getRecipient(vault, o.recipient);
  checkRecipientChain(vault, r);
  if (o.prepared) checkPrepared(vault, o.prepared, r, o);
  const p = o.prepared ?? await preparePayload(vault, r, o, validity);
  const { sequence, hash } = p;
  const signers = await presentSigners(vault, tokens, { ...o, onePerToken: true }, `sign bundle ${sequence} for ${r.name}`);
  // A bundle too large for its codes is refused before it is signed (a signature adds at most about 400 bytes).
  if (o.qr === true) checkQrFits(p.b64.length + 400 * signers.length + 200);
  // One signature per signer over the payload encoded once, whatever its size.
  const text = await signGeneralJws(p.b64, signers, BUNDLE_TYP);
  const need = threshold(vault);

  const tmp = stageNoted(vault, target, text, 'bundle', r, sequence, hash);
  testPause('bundle.export:staged');
  try {
    vault.transaction(() => {
      // The recipient first: its row_version guard is what refuses a concurrent export, before the bundle row collides.
      advanceRecipient(vault, r, sequence, hash);
      insertBundle(vault, r.id, sequence, hash, p.issuedAt, Buffer.from(text, 'utf8'));
      insertItems(vault, r.id, sequence, p.items);
      vault.audit({ action: 'bundle.export', subject: `recipient:${r.name}`, details: {
        recipient: r.id, sequence, hash, issued: p.issued, revoked: p.revoked, secrets: p.secrets,
        signers: signers.map((s) => s.kid), threshold: need, checkpoint: p.checkpoint, revocationsOnly: o.revocationsOnly,
      } });
    });
  } catch (e) {
    dropStaged(vault, tmp);
    throw e;
  }
  testPause('bundle.export:recorded');
  publishRecorded(vault, tmp, target, `bundle ${sequence} for ${r.name} was recorded in the vault`, r.name, sequence);
  return {
    path: target, recipient: r.name, recipientId: r.id, sequence, hash, issued: p.issued, revoked: p.revoked,
    secrets: p.secrets, signatures: signers.map((s) => s.kid), threshold: need, bytes: Buffer.byteLength(text),
    expiresAt: p.expiresAt, checkpoint: p.checkpoint, tookMs: performance.now() - t0, ...(recovered.length > 0 ? { recovered } : {}),
    ...(o.qr === true ? { qr: await qrCodes(text) } : {}),
  };
}

// ---- writing a recorded bundle again ----------------------------------------------

/**
 * Writes a bundle the vault recorded (the last one for the recipient, or the
 * one with that sequence) to a new file: a lost or damaged file is replaced by
 * the very same bundle, never by a new one with the next sequence.
 */
export function resendBundle(vault: Vault, o: { recipient: string; out: string; sequence?: number | undefined }):
  { path: string; recipient: string; sequence: number; hash: string; bytes: number; recovered?: RecoveryNote[] } {
  const recovered = recoverFirst(vault, path.resolve(o.out));
  const target = checkNewFile(o.out, 'bundle', vaultFiles(vault.path));
  const r = getRecipient(vault, o.recipient);
  const b = lastBundle(vault, r.id, o.sequence);
  if (!b) {
    throw new KeyholdError(o.sequence === undefined ? 'NOTHING_EXPORTED' : 'BUNDLE_NOT_FOUND', o.sequence === undefined
      ? `bundle: nothing was exported to ${r.name} yet`
      : `bundle: ${r.name} has no bundle ${o.sequence}`, 'See `keyhold recipient list` for its last sequence.');
  }
  const tmp = stageNoted(vault, target, b.body.toString('utf8'), 'resend', r, b.sequence, b.hash);
  testPause('bundle.resend:staged');
  try {
    vault.transaction(() => vault.audit({ action: 'bundle.resend', subject: `recipient:${r.name}`,
      details: { recipient: r.id, sequence: b.sequence, hash: b.hash } }));
  } catch (e) {
    dropStaged(vault, tmp);
    throw e;
  }
  publishRecorded(vault, tmp, target, `bundle ${b.sequence} for ${r.name} was read from the vault`, r.name, b.sequence);
  return { path: target, recipient: r.name, sequence: b.sequence, hash: b.hash, bytes: b.body.length, ...(recovered.length > 0 ? { recovered } : {}) };
}

// ---- a second signature ---------------------------------------------------------

export type SignFileOptions = Readonly<{
  file: string;
  token?: string | undefined;
  keyLabel?: string | undefined;
}> & SigningOptions;

/**
 * Adds a signature from another token to an existing bundle (M-of-N across
 * custodians or workstations). With a vault, the signer must be registered
 * and the act is audited; without one, the key is named on the token.
 */
export async function signBundleFile(vault: Vault | null, tokens: TokenManager, o: SignFileOptions): Promise<{ path: string; kid: string; signatures: string[]; hash: string }> {
  const target = path.resolve(o.file);
  // As the importer: at most 64 MiB, read from a regular file only (never a device or FIFO).
  const text = readTextFile(target, { prefix: 'bundle', what: 'bundle', limit: READ_LIMITS.bundle });
  const parsed = fromImporter(() => parseGeneralJws(text, BUNDLE_TYP, { malformed: 'BUNDLE_MALFORMED', what: 'bundle' }), 'BUNDLE_INVALID');
  const kids = parsed.signatures.map((s) => (JSON.parse(Buffer.from(s.protected, 'base64url').toString('utf8')) as { kid: string }).kid);
  // What is signed must be a bundle payload, canonical and valid, whatever the signatures say.
  const canonical = parseCanonical(parsed.payloadBytes);
  if (!canonical) throw new KeyholdError('BUNDLE_INVALID', 'bundle: the payload is not canonical JSON');
  const payload = fromImporter(() => parseBundlePayload(canonical.value), 'BUNDLE_INVALID');
  let signer: Signer;
  if (vault) {
    const registered = listSigners(vault);
    if (payload.vaultId !== vault.id) {
      throw new KeyholdError('BUNDLE_INVALID', `bundle: made by another vault (${payload.vaultId.slice(0, 40)}), not this one`);
    }
    // The signatures already there must be this vault's signers' and verify: a
    // custodian never countersigns a payload changed after it was signed.
    for (const s of parsed.signatures) {
      const known = registered.find((r) => r.kid === s.header.kid);
      if (!known) throw new KeyholdError('INTEGRITY', `bundle: signed by ${s.header.kid.slice(0, 43)}, which is not a registered signer`);
      try {
        await verifyJwsWithKey({ protected: s.protected, payload: parsed.payloadB64, signature: s.signature }, JSON.parse(known.public_jwk));
      } catch {
        throw new KeyholdError('INTEGRITY', `bundle: the signature by ${known.kid} does not verify: the bundle was changed after it was signed`,
          'Do not sign it; export the bundle again from the vault.');
      }
    }
    const sel = o.token;
    const selected = registered.filter((s) => sel === undefined || onToken(s, tokens.bySerial(s.token_serial), sel));
    // A token that has signed adds no second signature: signers on one token count once toward the threshold.
    const signedTokens = new Set(registered.filter((r) => kids.includes(r.kid)).map((r) => r.token_serial));
    const rows = selected.filter((s) => !kids.includes(s.kid) && !signedTokens.has(s.token_serial));
    if (selected.length > 0 && rows.length === 0) {
      throw new KeyholdError('ALREADY_SIGNED', `bundle: ${sel === undefined ? 'every registered signer' : `the signer on '${sel}'`} has already signed this bundle`,
        `Signed by: ${kids.join(', ')}.`);
    }
    const present = rows.filter((s) => tokens.bySerial(s.token_serial) !== null);
    const [firstPresent] = present;
    if (!firstPresent) {
      throw new KeyholdError('TOKEN_NOT_FOUND', 'bundle: no registered signer that has not signed yet has its token present',
        `Signed by: ${kids.join(', ')}.`);
    }
    // Before any login: the PIN given is for one token, named or the only one.
    o.pins.bind(present.map((s) => (tokens.bySerial(s.token_serial) as Token).description), sel);
    const bound = o.pins.boundTo;
    const row = (bound ? present.find((s) => s.token_serial === bound.serial) : undefined) ?? firstPresent;
    signer = await tokenSigner(tokens.bySerial(row.token_serial) as Token, row, o.pins.provider, o.allowFinalTry, 'add a signature to a bundle');
  } else {
    if (o.keyLabel === undefined) throw new KeyholdError('INVALID_INPUT', 'bundle sign: without a vault, name the key with --key');
    const token = tokens.token(o.token);
    o.pins.bind([token.description], o.token);
    await token.login({ askPin: o.pins.provider, why: 'add a signature to a bundle', allowFinalTry: o.allowFinalTry });
    const key = await token.findKey({ label: o.keyLabel });
    if (!key.alg || !key.jwk || !key.kid || !key.canSign) {
      throw new KeyholdError('TOKEN_UNSUPPORTED', `bundle sign: the key '${o.keyLabel}' cannot sign`);
    }
    // Another key of this token has signed already: one card signs once.
    const sibling = (await token.listKeys()).find((k) => k.kid !== null && k.kid !== key.kid && kids.includes(k.kid));
    if (sibling) {
      throw new KeyholdError('ALREADY_SIGNED', `bundle: the token ${token.name} has already signed this bundle (key '${sibling.label}')`,
        'Signers on one token count once toward the threshold: the next signature must come from another token.');
    }
    signer = await tokenSigner(token, { kid: key.kid, alg: key.alg, public_jwk: JSON.stringify(key.jwk), key_id: key.id }, o.pins.provider, o.allowFinalTry, 'add a signature to a bundle');
  }
  if (kids.includes(signer.kid)) throw new KeyholdError('ALREADY_SIGNED', `bundle: ${signer.kid} has already signed this bundle`);
  const protectedB64 = encodeProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: BUNDLE_TYP });
  const sig = await signer.sign(signingInput(protectedB64, parsed.payloadB64));
  const next = fromImporter(() => addSignature(text, { protected: protectedB64, signature: sig }), 'BUNDLE_INVALID');
  const hash = payloadHash(parsed.payloadBytes);
  const tmp = stageNewFile(target, next, 'bundle');
  if (vault) {
    try {
      vault.transaction(() => {
        // The vault's copy gains the signature too, so that `bundle resend` writes the countersigned bundle.
        const stored = replaceBundleBody(vault, hash, Buffer.from(next, 'utf8'));
        vault.audit({ action: 'bundle.sign', subject: `bundle:${hash}`, details: { kid: signer.kid, signatures: kids.length + 1, stored } });
      });
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
  }
  replaceWithStaged(tmp, target, 'bundle', 'the signature was added');
  return { path: target, kid: signer.kid, signatures: [...kids, signer.kid], hash };
}

// ---- trust root ------------------------------------------------------------------

export async function exportTrust(vault: Vault, tokens: TokenManager, o: { out: string; expires?: string | undefined } & SigningOptions) {
  // Before any token work: a trust root is a new file, never one that exists (or the vault's own).
  const target = checkNewFile(o.out, 'trust', vaultFiles(vault.path));
  const rows = listSigners(vault);
  if (rows.length === 0) {
    throw new KeyholdError('NO_SIGNERS', 'trust: no signer is registered',
      'Register a token key with `keyhold signer add --token LABEL --key KEYLABEL`.');
  }
  const need = threshold(vault);
  // The version goes up whenever the signer set, threshold or expiry changes, as
  // TUF's root does. Unchanged, the same root is exported again (the same
  // payload, so the same identity): two different roots with one version look
  // like an attack to an importer (TRUST_ROOT_MISMATCH).
  const shape = JSON.stringify({ threshold: need, signers: rows.map((r) => r.kid) });
  const last = getSetting(vault, 'trust.root');
  const prev = last ? (JSON.parse(last) as { version: number; shape: string; payload?: TrustRootPayload }) : null;
  const same = prev !== null && prev.shape === shape && o.expires === undefined;
  const version = prev === null ? 1 : same ? prev.version : prev.version + 1;
  const expires = o.expires === undefined ? null : parseDuration(o.expires, 'trust --expires');
  const now = new Date(vault.now());
  const payload = same && prev?.payload ? prev.payload : fromImporter(() => buildTrustRoot({
    vaultId: vault.id, version, threshold: need, signers: rows.map((r) => JSON.parse(r.public_jwk) as unknown),
    issuedAt: now, expiresAt: expires === null ? null : new Date(now.getTime() + expires * 1000),
  }));
  // Every key present signs (a previous version's threshold is counted in keys, as importers count it);
  // this version's own threshold is counted in distinct tokens.
  const signers = await presentSigners(vault, tokens, { ...o, onePerToken: false }, `sign trust root version ${version}`);
  // Nothing can add a signature to a trust root later: it needs its threshold
  // now, and a new version also the previous version's threshold of its signers.
  const present = new Set(signers.map((s) => s.kid));
  // Signers on one token count once: one card and one PIN are one person.
  const presentTokens = distinctTokens(rows.filter((r) => present.has(r.kid)));
  if (distinctTokens(rows) < need) {
    throw new KeyholdError('THRESHOLD_UNREACHABLE',
      `trust: the threshold is ${need}, but the ${rows.length} signers are on ${distinctTokens(rows)} token(s)`,
      'Signers on the same token count once toward a threshold. Register a key on another token (`keyhold signer add`), or lower the threshold (`keyhold signer threshold N`).');
  }
  const short: string[] = [];
  if (presentTokens < need) short.push(`${presentTokens} of the ${need} signers' tokens it needs`);
  if (prev?.payload && version > prev.version) {
    const old = prev.payload.signers.filter((j) => present.has(jwkThumbprint(j))).length;
    if (old < prev.payload.threshold) short.push(`${old} of the ${prev.payload.threshold} signers of version ${prev.version} it needs`);
  }
  if (short.length > 0) {
    const absent = rows.filter((r) => !present.has(r.kid)).map((r) => `'${r.token_label}' (serial ${r.token_serial})`);
    throw new KeyholdError('TOKEN_NOT_FOUND', `trust: version ${version} would be signed by ${short.join(', and ')}`,
      `Insert the other signers' tokens (${absent.join(', ') || 'none registered'}) and export again: a trust root is signed in one ceremony.`);
  }
  const text = await signTrustRoot(payload, signers);
  const { hash } = encodeTrustRootPayload(payload);
  const tmp = stageNewFile(target, text, 'trust');
  try {
    vault.transaction(() => {
      putSetting(vault, 'trust.root', JSON.stringify({ version, shape, payload }));
      vault.audit({ action: 'trust.export', subject: `trust:${version}`, details: { version, threshold: need, signers: rows.map((r) => r.kid), hash,
        signatures: signers.map((s) => s.kid) } });
    });
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  try {
    publishNewFile(tmp, target, 'trust', `trust root version ${version} was recorded`,
      'Export it again to a new file name: the same root is written again while the signers and threshold are unchanged.');
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  return { path: target, version, threshold: need, signers: rows.map((r) => r.kid), signatures: signers.map((s) => s.kid), hash };
}
