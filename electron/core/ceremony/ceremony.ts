/**
 * Key ceremonies (issue 12, docs/threat-model.md "Ceremony checkpoint"): a
 * session opened with its purpose and the people present, the steps done
 * meanwhile (the audit entries between its start and its end), and an end
 * that signs a checkpoint, the audit head, on a token with a registered
 * signer key.
 *
 * Nothing here has a table of its own: a ceremony is its `ceremony.start`
 * and `ceremony.end` audit entries (its id is the sequence of the start
 * entry), and the open one is remembered in the MACed settings table
 * (`ceremony.open`), so that only one is open at a time.
 */

import type { AuditEntry, CeremonyInfo } from '../../../shared/contract.js';
import { KeyholdError } from '../../../shared/errors.js';
import { groupHex } from '../../../shared/hash-words.js';
import { b64url, b64urlDecodeStrict, canonicalize, encodeProtectedHeader, isImportError, signingInput, verifyJwsWithKey } from 'keyhold-format';
import { listAudit } from '../audit/log.js';
import { onToken, tokenSigner } from '../bundle/export.js';
import { deleteSetting, getSetting, listSigners, putSetting, type SignerRow } from '../bundle/store.js';
import type { PinPlan, Token, TokenManager } from '../token/token.js';
import type { Vault } from '../vault/vault.js';

/** The JWS `typ` of a ceremony checkpoint. */
export const CHECKPOINT_TYP = 'keyhold-checkpoint+json';
/** The settings row that remembers the open ceremony. */
const OPEN_SETTING = 'ceremony.open';

/** What a checkpoint signs (canonical JSON, the compact JWS payload). */
export type CheckpointPayload = Readonly<{
  typ: typeof CHECKPOINT_TYP;
  vaultId: string;
  ceremony: number;
  /** The audit head at the end: the ceremony's last step (the end entry carries the checkpoint, so it follows it). */
  head: Readonly<{ seq: number; hash: string }>;
  at: string;
}>;

type OpenCeremony = { id: number; startedAt: string; purpose: string; present: string[] };

/** The open ceremony (MAC-checked setting), or null. */
export function openCeremony(vault: Vault): OpenCeremony | null {
  const v = getSetting(vault, OPEN_SETTING);
  return v === null ? null : (JSON.parse(v) as OpenCeremony);
}

/** The signer key's thumbprint (its kid, base64url) as hex in groups of four: what people compare aloud. */
export function fingerprintOf(kid: string): string {
  const bytes = b64urlDecodeStrict(kid);
  return bytes ? groupHex(bytes.toString('hex')).join(' ') : kid;
}

function ceremonyText(c: Pick<OpenCeremony, 'id' | 'purpose'>): string {
  const p = c.purpose.length > 60 ? `${c.purpose.slice(0, 57)}...` : c.purpose;
  return `ceremony ${c.id} ("${p}")`;
}

export function startCeremony(vault: Vault, purpose: string, present: readonly string[]): CeremonyInfo {
  const open = openCeremony(vault);
  if (open) {
    throw new KeyholdError('CEREMONY_STATE', `ceremony: ${ceremonyText(open)} is still open, started ${open.startedAt}`,
      'End it first (`keyhold ceremony end`): one ceremony is open at a time.');
  }
  let id = 0;
  vault.transaction(() => {
    id = vault.auditHead.seq + 1;
    vault.audit({ action: 'ceremony.start', subject: `ceremony:${id}`, details: { purpose, present: [...present] } });
    const entry = entryAt(vault, id);
    putSetting(vault, OPEN_SETTING, JSON.stringify({ id, startedAt: entry.at, purpose, present: [...present] }));
  });
  return ceremonyById(vault, id);
}

export type EndOptions = Readonly<{
  token?: string | undefined;
  keyLabel?: string | undefined;
  pins: PinPlan;
  allowFinalTry: boolean;
}>;

/**
 * Ends the open ceremony: the audit head is signed on the token (one
 * registered signer: the one on `token`, or with `keyLabel`, or the only one
 * present), then the `ceremony.end` entry records the checkpoint and the open
 * ceremony is forgotten, in one transaction. Any failure before that (no
 * signer, no token, a wrong PIN) leaves the ceremony open and the vault as it was.
 */
export async function endCeremony(vault: Vault, tokens: TokenManager, o: EndOptions): Promise<CeremonyInfo> {
  const open = openCeremony(vault);
  if (!open) throw new KeyholdError('CEREMONY_STATE', 'ceremony: no ceremony is open', 'Start one with `keyhold ceremony start`.');
  const rows = listSigners(vault);
  if (rows.length === 0) {
    throw new KeyholdError('NO_SIGNERS', 'ceremony: no signer is registered to sign the checkpoint',
      `Register a token key (\`keyhold signer add --token LABEL --key KEYLABEL\`), then end the ceremony: ${ceremonyText(open)} stays open.`);
  }
  const sel = o.token;
  const mine = rows.filter((r) => (o.keyLabel === undefined || r.key_label === o.keyLabel)
    && (sel === undefined || onToken(r, tokens.bySerial(r.token_serial), sel)));
  const where = (list: readonly SignerRow[]) => [...new Set(list.map((r) => `'${r.key_label}' on '${r.token_label}' (serial ${r.token_serial})`))].join(', ');
  if (mine.length === 0) {
    throw new KeyholdError('SIGNER_NOT_FOUND', `ceremony: no registered signer ${o.keyLabel !== undefined ? `has the key label '${o.keyLabel}'` : ''}` +
      `${o.keyLabel !== undefined && sel !== undefined ? ' and ' : ''}${sel !== undefined ? `is on the token '${sel}'` : ''}`,
    `The signers are: ${where(rows)}. ${ceremonyText(open)} stays open.`);
  }
  const present = mine.filter((r) => tokens.bySerial(r.token_serial) !== null);
  const [first] = present;
  if (!first) {
    throw new KeyholdError('TOKEN_NOT_FOUND', 'ceremony: no signer\'s token is present to sign the checkpoint',
      `Insert one of: ${where(mine)}. ${ceremonyText(open)} stays open.`);
  }
  // Before any login: the PIN given is for one token, named or the only one (TOKEN_AMBIGUOUS otherwise).
  o.pins.bind(present.map((r) => (tokens.bySerial(r.token_serial) as Token).description), sel);
  const bound = o.pins.boundTo;
  const row = (bound ? present.find((r) => r.token_serial === bound.serial) : undefined) ?? first;
  const signer = await tokenSigner(tokens.bySerial(row.token_serial) as Token, row, o.pins.provider, o.allowFinalTry,
    `sign the checkpoint of ceremony ${open.id}`);
  // The head is read after the token work: a PIN prompt can take minutes, but nothing else writes meanwhile (the vault is this process's).
  const head = vault.auditHead;
  const payload: CheckpointPayload = { typ: CHECKPOINT_TYP, vaultId: vault.id, ceremony: open.id,
    head: { seq: head.seq, hash: head.hash.toString('hex') }, at: vault.now() };
  const protectedB64 = encodeProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: CHECKPOINT_TYP });
  const payloadB64 = b64url(canonicalize(payload));
  const sig = await signer.sign(signingInput(protectedB64, payloadB64));
  const jws = `${protectedB64}.${payloadB64}.${b64url(sig)}`;
  // Checked before it is recorded: a token that signs wrongly must not leave a checkpoint nobody can verify.
  const check = await verifyCheckpoint(vault, jws, open.id);
  if (!check.verified) throw new KeyholdError('INTEGRITY', `ceremony: the token's checkpoint signature does not verify (${check.reason})`);
  vault.transaction(() => {
    if (vault.auditHead.seq !== head.seq) {
      throw new KeyholdError('VAULT_IN_USE', 'ceremony: the audit log changed while the checkpoint was signed', 'End the ceremony again.');
    }
    vault.audit({ action: 'ceremony.end', subject: `ceremony:${open.id}`, details: {
      ceremony: open.id, checkpoint: { seq: payload.head.seq, hash: payload.head.hash }, jws, kid: signer.kid,
      token: row.token_label, serial: row.token_serial, keyLabel: row.key_label,
    } });
    deleteSetting(vault, OPEN_SETTING);
  });
  return ceremonyById(vault, open.id);
}

export type CheckpointCheck = Readonly<{ verified: boolean; reason: string | null; payload: CheckpointPayload | null; kid: string | null }>;

/**
 * Verifies a checkpoint JWS against the registered signer's public key (the
 * signers table, MAC-checked): the signature, its typ, and that it signs this
 * vault and this ceremony. Never throws for a bad checkpoint: says why.
 */
export async function verifyCheckpoint(vault: Vault, jws: string, ceremony: number): Promise<CheckpointCheck> {
  const fail = (reason: string, kid: string | null = null): CheckpointCheck => ({ verified: false, reason, payload: null, kid });
  const parts = jws.split('.');
  if (parts.length !== 3) return fail('not a compact JWS');
  let header: { kid?: unknown; typ?: unknown };
  try {
    header = JSON.parse(Buffer.from(parts[0] ?? '', 'base64url').toString('utf8')) as { kid?: unknown; typ?: unknown };
  } catch {
    return fail('the protected header is not JSON');
  }
  const kid = typeof header.kid === 'string' ? header.kid : null;
  if (header.typ !== CHECKPOINT_TYP) return fail(`the typ is not ${CHECKPOINT_TYP}`, kid);
  const signer = listSigners(vault).find((s) => s.kid === kid);
  if (!signer) return fail('its signer is not registered in this vault', kid);
  let bytes: Buffer;
  try {
    bytes = await verifyJwsWithKey(jws, JSON.parse(signer.public_jwk) as unknown);
  } catch (e) {
    if (isImportError(e)) return fail('the signature does not verify with the registered public key', kid);
    throw e;
  }
  const payload = JSON.parse(bytes.toString('utf8')) as CheckpointPayload;
  if (payload.typ !== CHECKPOINT_TYP || payload.vaultId !== vault.id) return fail('it signs another vault', kid);
  if (payload.ceremony !== ceremony) return fail(`it signs ceremony ${String(payload.ceremony)}, not ${ceremony}`, kid);
  return { verified: true, reason: null, payload, kid };
}

// ---- reading ceremonies from the audit log ---------------------------------------------

const PAGE = 10_000;

/** Every entry of one action, oldest first. */
function entriesOf(vault: Vault, action: 'ceremony.start' | 'ceremony.end'): AuditEntry[] {
  const out: AuditEntry[] = [];
  let after: number | undefined;
  for (;;) {
    const page = listAudit(vault, { action, after, limit: PAGE });
    out.push(...page.entries);
    if (page.next === null) return out;
    after = page.next;
  }
}

function entryAt(vault: Vault, seq: number): AuditEntry {
  const [e] = listAudit(vault, { after: seq - 1, limit: 1 }).entries;
  if (!e || e.seq !== seq) throw new KeyholdError('INTERNAL', `ceremony: audit entry ${seq} is missing`);
  return e;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function info(start: AuditEntry, end: AuditEntry | undefined, head: number): CeremonyInfo {
  const d = start.details;
  const e = end?.details;
  const cp = e?.checkpoint as { seq?: unknown; hash?: unknown } | undefined;
  const kid = str(e?.kid);
  return {
    id: start.seq,
    purpose: str(d.purpose),
    present: Array.isArray(d.present) ? d.present.map(str) : [],
    startedAt: start.at,
    startedBy: start.actor,
    endedAt: end?.at ?? null,
    endedBy: end?.actor ?? null,
    steps: (end ? end.seq : head + 1) - start.seq - 1,
    open: end === undefined,
    checkpoint: end && cp ? { seq: typeof cp.seq === 'number' ? cp.seq : 0, hash: str(cp.hash), jws: str(e?.jws), kid,
      fingerprint: fingerprintOf(kid) } : null,
  };
}

/** Past and open ceremonies, oldest first. */
export function listCeremonies(vault: Vault): CeremonyInfo[] {
  const ends = new Map(entriesOf(vault, 'ceremony.end').map((e) => [Number(e.details.ceremony), e]));
  const head = vault.auditHead.seq;
  return entriesOf(vault, 'ceremony.start').map((s) => info(s, ends.get(s.seq), head));
}

/** One ceremony by id, or the last one (CEREMONY_STATE when there is none). */
export function ceremonyById(vault: Vault, id?: number): CeremonyInfo {
  const all = listCeremonies(vault);
  const c = id === undefined ? all[all.length - 1] : all.find((x) => x.id === id);
  if (!c) {
    throw new KeyholdError('CEREMONY_STATE', id === undefined ? 'ceremony: no ceremony was held in this vault yet' : `ceremony: there is no ceremony ${id}`,
      id === undefined ? 'Start one with `keyhold ceremony start`.' : 'See `keyhold ceremony list` for the ceremonies and their ids.');
  }
  return c;
}

/** The audit entries of a ceremony between its start and its end (or the head while it is open), oldest first. */
export function ceremonySteps(vault: Vault, c: CeremonyInfo): AuditEntry[] {
  const last = c.open ? vault.auditHead.seq : c.id + c.steps;
  const out: AuditEntry[] = [];
  let after = c.id;
  while (after < last) {
    const page = listAudit(vault, { after, limit: Math.min(PAGE, last - after) });
    out.push(...page.entries.filter((e) => e.seq <= last));
    const lastSeen = page.entries[page.entries.length - 1];
    if (!lastSeen || page.next === null) break;
    after = lastSeen.seq;
  }
  return out;
}
