/**
 * The importer's state directory and the apply step (docs/bundle-format.md
 * section 8). Everything the importer writes for one bundle (state, pinned
 * trust root, keystore, secrets, receipt) goes into a fresh generation
 * directory; the `current` symlink is then switched to it with one rename.
 * That rename is the commit: a crash before it leaves the old generation
 * current (the new one is an orphan, removed next time), a crash after it
 * leaves the new one. Nothing is written until every check has passed.
 */

import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, rmdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  ImportError,
  errnoCode,
  apiKeyId,
  verifierOf,
  verifyBundle,
  fsyncDir,
  makeDirs,
  READ_LIMITS,
  readFileBounded,
  replaceSymlink,
  writeFileAtomic,
  writeNewFile,
  loadRecipientPrivateKey,
  decryptSecrets,
  Checker,
  formatTime,
  timeMs,
  THUMBPRINT_RE,
  ID_RE,
  HEX64_RE,
  loadTrustRoot,
  verifyRootRotation,
  type VerifiedBundle,
  type VerifyOptions,
  type RecipientPrivateKey,
  type Checkpoint,
  type IssueChange,
  type RevokeReason,
  type TrustRoot,
} from 'keyhold-format';
import { parseKeystore, KEYSTORE_FORMAT, type Keystore, type KeystoreEntry, type OrphanRevocation } from './keystore.js';

function ioError(what: string, e: unknown): ImportError {
  return new ImportError('IO', `state: cannot ${what}`, 'Check the state directory\'s permissions and free space; the previous state is intact.', { cause: e });
}

export const STATE_FORMAT = 'keyhold-import-state/v1';
export const RECEIPT_FORMAT = 'keyhold-receipt/v1';
export const HOLDER_SECRETS_FORMAT = 'keyhold-holder-secrets/v1';
const GEN_RE = /^gen-(\d{12})$/;

export type ImporterState = Readonly<{
  format: typeof STATE_FORMAT;
  generation: number;
  recipient: string | null;
  vaultId: string;
  sequence: number;
  payloadHash: string | null;
  bundleId: string | null;
  appliedAt: string;
  checkpoint: Checkpoint | null;
  trustRoot: Readonly<{ version: number; hash: string }>;
  secretsEnv: boolean;
}>;

/** A held key: its issue entry's fields (no verifier: the key itself is here), revocation time, and the key. */
export type HeldSecret = Readonly<Omit<IssueChange, 'type' | 'verifier'> & { revokedAt: string | null; key: string }>;

export type HolderSecrets = Readonly<{ format: typeof HOLDER_SECRETS_FORMAT; vaultId: string; recipient: string; sequence: number; keys: readonly HeldSecret[] }>;

/**
 * A key this holder held a secret for until this apply, and holds none for
 * after it: every version it held is revoked (in effect). Never a secret in it.
 */
export type WithdrawnKey = Readonly<{
  keyId: string;
  name: string;
  service: string;
  environment: string;
  /** The held versions removed by this apply, oldest first, each with the revocation that removed it (the earliest known). */
  versions: readonly Readonly<{ version: number; reason: RevokeReason | null; effectiveAt: string }>[];
}>;

export type Receipt = Readonly<{
  format: typeof RECEIPT_FORMAT;
  bundleId: string;
  payloadHash: string;
  sequence: number;
  previous: string | null;
  vaultId: string;
  recipient: string;
  appliedAt: string;
  signers: readonly string[];
  trustRoot: Readonly<{ version: number; hash: string }>;
  issued: number;
  revoked: number;
  secrets: number;
  checkpoint: Checkpoint | null;
  /** Keys this holder no longer holds any secret for (section 8.5): key id and the versions removed. */
  withdrawn: readonly Readonly<{ keyId: string; versions: readonly number[] }>[];
}>;

type Current = Readonly<{
  gen: string;
  state: ImporterState;
  trust: TrustRoot;
  keystore: Keystore | null;
  secrets: HolderSecrets | null;
}>;

// ---- reading ------------------------------------------------------------------------

function readJson(path: string, what: string): unknown {
  try {
    return JSON.parse(readFileBounded(path, what === 'state.json' ? READ_LIMITS.stateFile : READ_LIMITS.stateData).toString('utf8'));
  } catch (e) {
    const why = e instanceof ImportError ? `: ${e.message.replace(/^state: /, '')}` : '';
    throw new ImportError('STATE_INVALID', `state: cannot read ${what} (${path})${why}`, 'The state directory is damaged; restore it from a backup.', { cause: e });
  }
}

function parseState(v: unknown): ImporterState {
  const c = new Checker('STATE_INVALID', 'state');
  const o = c.object(v, 'state', ['format', 'generation', 'recipient', 'vaultId', 'sequence', 'payloadHash', 'bundleId', 'appliedAt', 'checkpoint', 'trustRoot', 'secretsEnv']);
  if (o.format !== STATE_FORMAT) c.fail('state.format', `must be "${STATE_FORMAT}"`);
  const tr = c.object(o.trustRoot, 'state.trustRoot', ['version', 'hash']);
  const cp = o.checkpoint === null ? null : c.object(o.checkpoint, 'state.checkpoint', ['seq', 'hash']);
  return {
    format: STATE_FORMAT,
    generation: c.int(o.generation, 'state.generation', 1, 999_999_999_999),
    recipient: o.recipient === null ? null : c.string(o.recipient, 'state.recipient', THUMBPRINT_RE, 'a recipient id'),
    vaultId: c.string(o.vaultId, 'state.vaultId', ID_RE, 'a vault id'),
    sequence: c.int(o.sequence, 'state.sequence', 0, Number.MAX_SAFE_INTEGER),
    payloadHash: o.payloadHash === null ? null : c.string(o.payloadHash, 'state.payloadHash', HEX64_RE, 'a hash'),
    bundleId: o.bundleId === null ? null : c.string(o.bundleId, 'state.bundleId', ID_RE, 'a bundle id'),
    appliedAt: c.time(o.appliedAt, 'state.appliedAt'),
    checkpoint: cp === null ? null : { seq: c.int(cp.seq, 'state.checkpoint.seq', 1, Number.MAX_SAFE_INTEGER), hash: c.string(cp.hash, 'state.checkpoint.hash', HEX64_RE, 'a hash') },
    trustRoot: { version: c.int(tr.version, 'state.trustRoot.version', 1, 2 ** 31 - 1), hash: c.string(tr.hash, 'state.trustRoot.hash', HEX64_RE, 'a hash') },
    secretsEnv: typeof o.secretsEnv === 'boolean' ? o.secretsEnv : c.fail('state.secretsEnv', 'must be a boolean'),
  };
}

function currentGen(stateDir: string): string | undefined {
  let target: string;
  try {
    target = readlinkSync(join(stateDir, 'current'));
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw new ImportError('STATE_INVALID', `state: ${join(stateDir, 'current')} is not a symlink to a generation`, undefined, { cause: e });
  }
  if (!GEN_RE.test(target)) throw new ImportError('STATE_INVALID', `state: current points at ${target.slice(0, 80)}, not a generation directory`);
  return target;
}

/** Reads the committed state of a directory (undefined when nothing was ever applied). */
export async function readState(stateDir: string): Promise<Current | undefined> {
  const gen = currentGen(stateDir);
  if (gen === undefined) return undefined;
  const dir = join(stateDir, gen);
  const state = parseState(readJson(join(dir, 'state.json'), 'state.json'));
  let trust: TrustRoot;
  try {
    trust = await loadTrustRoot(readFileBounded(join(dir, 'trust.json'), READ_LIMITS.trustRoot).toString('utf8'));
  } catch (e) {
    throw new ImportError('STATE_INVALID', 'state: the pinned trust root cannot be read or no longer verifies', 'The state directory is damaged; restore it from a backup.', { cause: e });
  }
  if (trust.hash !== state.trustRoot.hash) throw new ImportError('STATE_INVALID', 'state: the pinned trust root does not match state.json');
  const keystore = existsSync(join(dir, 'keystore.json')) ? parseKeystore(readJson(join(dir, 'keystore.json'), 'keystore.json')) : null;
  const secrets = existsSync(join(dir, 'secrets.json')) ? (readJson(join(dir, 'secrets.json'), 'secrets.json') as HolderSecrets) : null;
  if (secrets && (secrets.format !== HOLDER_SECRETS_FORMAT || !Array.isArray(secrets.keys))) throw new ImportError('STATE_INVALID', 'state: secrets.json is not a holder secrets file');
  return { gen, state, trust, keystore, secrets };
}

// ---- planning (pure) -------------------------------------------------------------------

export type ApplyOptions = VerifyOptions &
  Readonly<{
    /** The trust root file text to use or rotate to; optional once one is pinned. */
    trustRootText?: string;
    /** The recipient's private JWK (object or file text). */
    privateKey: unknown;
    /** Also write secrets.env (KEY=value lines) beside secrets.json. Sticky once chosen. */
    secretsFormat?: 'json' | 'env';
  }>;

export type ApplyResult = Readonly<{
  status: 'applied' | 'already-applied';
  bundleId: string;
  sequence: number;
  payloadHash: string;
  issued: number;
  revoked: number;
  secrets: number;
  /** Keys whose every held version is now revoked: this holder keeps no secret for them (empty for a verifier). */
  withdrawn: readonly WithdrawnKey[];
  trustRootVersion: number;
  receiptPath: string;
  message: string;
}>;

async function resolveTrust(cur: Current | undefined, text: string | undefined): Promise<TrustRoot> {
  if (text === undefined) {
    if (!cur) throw new ImportError('INVALID_INPUT', 'apply: no trust root is pinned yet', 'Give the trust root with --trust root.json for the first bundle.');
    return cur.trust;
  }
  if (!cur) return loadTrustRoot(text);
  const root = await verifyRootRotation(cur.trust, text);
  return root;
}

function envName(name: string): string {
  return `KEYHOLD_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** The earlier of two revocation times (null: not revoked). A later revocation never postpones an earlier one. */
function earlier(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return timeMs(b) < timeMs(a) ? b : a;
}

/** A held version whose revocation is in effect: it leaves every holder output (secrets.json included). */
function revokedBy(s: HeldSecret, now: number): boolean {
  return s.revokedAt !== null && timeMs(s.revokedAt) <= now;
}

/**
 * May a holder present this version now? Valid (not before, not after) and
 * not revoked. Every output that gives a server one key per name (the env
 * file today) picks, per key, the newest version this says yes to, and none
 * when it says no to all: never an older version that is revoked.
 */
function presentable(k: HeldSecret, now: number): boolean {
  if (timeMs(k.notBefore) > now || (k.notAfter !== null && timeMs(k.notAfter) <= now)) return false;
  return !revokedBy(k, now);
}

/** KEY=value lines, one per key name: the newest version that is valid now. */
function envFile(keys: readonly HeldSecret[], now: number): string {
  const best = new Map<string, HeldSecret>();
  for (const k of keys) {
    if (!presentable(k, now)) continue;
    const v = envName(k.name);
    const prev = best.get(v);
    if (prev && prev.keyId !== k.keyId) {
      throw new ImportError('BUNDLE_CONFLICT', `secrets: keys ${prev.keyId} and ${k.keyId} both map to the variable ${v}`, 'Use --secrets-format json, or give the keys names that differ in more than punctuation and case.');
    }
    if (!prev || k.version > prev.version) best.set(v, k);
  }
  return [...best.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([v, k]) => `${v}=${k.key}\n`).join('');
}

type Plan = Readonly<{
  state: ImporterState;
  trust: TrustRoot;
  keystore: Keystore;
  secrets: HolderSecrets | null;
  env: string | null;
  receipt: Receipt;
  withdrawn: readonly WithdrawnKey[];
}>;

function checkChain(cur: Current | undefined, v: VerifiedBundle, me: string): 'apply' | 'replay' {
  const p = v.payload;
  if (cur && cur.state.recipient !== null && cur.state.recipient !== me) {
    throw new ImportError('STATE_INVALID', `state: this state directory belongs to recipient ${cur.state.recipient}, not to key ${me}`, 'Use one state directory per recipient key.');
  }
  const last = cur?.state.sequence ?? 0;
  const lastHash = cur?.state.payloadHash ?? null;
  if (p.sequence < last) {
    throw new ImportError('BUNDLE_ROLLBACK', `bundle: sequence ${p.sequence} is older than the last applied (${last})`, 'An older bundle is never applied again.');
  }
  if (p.sequence === last) {
    if (v.hash === lastHash) return 'replay';
    throw new ImportError('BUNDLE_FORK', `bundle: sequence ${p.sequence} was already applied with other content (applied ${lastHash}, this one ${v.hash})`, 'Two different bundles carry the same sequence: report this to the custodians.');
  }
  if (p.sequence !== last + 1) {
    throw new ImportError('BUNDLE_CHAIN', `bundle: sequence ${p.sequence} follows ${last} with a gap`, `Apply bundle ${last + 1} first.`);
  }
  if (p.previous !== lastHash) {
    throw new ImportError('BUNDLE_CHAIN', `bundle: its previous-bundle hash does not match the last applied bundle (${lastHash ?? 'none'})`, 'This bundle continues another history (mix-and-match or a fork).');
  }
  return 'apply';
}

function checkCheckpoint(prev: Checkpoint | null, next: Checkpoint | undefined): Checkpoint | null {
  if (!next) return prev;
  if (prev && next.seq < prev.seq) {
    throw new ImportError('BUNDLE_CHECKPOINT', `bundle: audit checkpoint ${next.seq} is behind the last seen (${prev.seq})`, "The workstation's audit log went back: it may have been truncated.");
  }
  if (prev && next.seq === prev.seq && next.hash !== prev.hash) {
    throw new ImportError('BUNDLE_CHECKPOINT', `bundle: audit checkpoint ${next.seq} has another hash than before`, "The workstation's audit log was rewritten.");
  }
  return next;
}

async function plan(cur: Current | undefined, v: VerifiedBundle, trust: TrustRoot, key: RecipientPrivateKey, now: Date, env: boolean): Promise<Plan> {
  const p = v.payload;
  const checkpoint = checkCheckpoint(cur?.state.checkpoint ?? null, p.checkpoint);
  const issues = new Map<string, IssueChange>();
  for (const c of p.changes) if (c.type === 'issue') issues.set(`${c.keyId}/${c.version}`, c);

  // Secrets: decrypted, then each matched to an issue change of this bundle by key id and verifier.
  const newSecrets: HeldSecret[] = [];
  if (p.secrets !== undefined) {
    const plain = await decryptSecrets(p.secrets, key, p.bundleId);
    plain.keys.forEach((s, i) => {
      const issue = issues.get(`${s.keyId}/${s.version}`);
      if (!issue) throw new ImportError('BUNDLE_SECRETS', `secrets: entry ${i} (${s.keyId} v${s.version}) has no issue change in the bundle`);
      if (apiKeyId(s.key) !== s.keyId || verifierOf(s.key) !== issue.verifier) {
        throw new ImportError('BUNDLE_SECRETS', `secrets: the key for ${s.keyId} v${s.version} does not match its verifier`);
      }
      const { type: _t, verifier: _v, ...meta } = issue;
      newSecrets.push({ ...meta, revokedAt: null, key: s.key });
    });
  }

  const entries = new Map<string, KeystoreEntry>();
  for (const e of cur?.keystore?.entries ?? []) entries.set(`${e.keyId}/${e.version}`, e);
  const orphans = new Map<string, OrphanRevocation>();
  for (const r of cur?.keystore?.revokedUnknown ?? []) orphans.set(`${r.keyId}/${r.version}`, r);
  let issued = 0;
  let revoked = 0;
  for (const c of p.changes) {
    const id = `${c.keyId}/${c.version}`;
    const existing = entries.get(id);
    if (c.type === 'issue') {
      if (orphans.has(id) || existing?.revoked) throw new ImportError('BUNDLE_CONFLICT', `bundle: ${c.keyId} v${c.version} was revoked and cannot be issued again`);
      if (existing && existing.verifier !== c.verifier) throw new ImportError('BUNDLE_CONFLICT', `bundle: ${c.keyId} v${c.version} is already installed with another verifier`);
      const { type: _t, ...rest } = c;
      entries.set(id, { ...rest, revoked: null });
      issued++;
    } else {
      const r = { reason: c.reason, effectiveAt: c.effectiveAt };
      if (existing) {
        // A second revocation never postpones the first.
        const keep = existing.revoked && timeMs(existing.revoked.effectiveAt) <= timeMs(c.effectiveAt) ? existing.revoked : r;
        entries.set(id, { ...existing, revoked: keep });
      } else {
        // The same rule for a version never received: the earlier revocation stays.
        const o = orphans.get(id);
        if (!o || timeMs(c.effectiveAt) < timeMs(o.effectiveAt)) orphans.set(id, { keyId: c.keyId, version: c.version, ...r });
      }
      revoked++;
    }
  }
  const byKV = (a: { keyId: string; version: number }, b: { keyId: string; version: number }): number => (a.keyId !== b.keyId ? (a.keyId < b.keyId ? -1 : 1) : a.version - b.version);
  const appliedAt = formatTime(now);
  const keystore: Keystore = {
    format: KEYSTORE_FORMAT,
    vaultId: p.vaultId,
    recipient: p.recipient,
    sequence: p.sequence,
    bundle: v.hash,
    updatedAt: appliedAt,
    entries: [...entries.values()].sort(byKV),
    revokedUnknown: [...orphans.values()].sort(byKV),
  };

  // Holder secrets: cumulative. Each held version carries the earliest revocation time known for it (its own
  // and the keystore's just merged, so an emergency revocation wins over a later grace end as it does there),
  // and is dropped once that time has come. A key left with no held version is withdrawn: said in the result
  // and the receipt.
  let secrets: HolderSecrets | null = null;
  const withdrawn: WithdrawnKey[] = [];
  if (cur?.secrets || newSecrets.length > 0) {
    const held = new Map<string, HeldSecret>();
    for (const s of [...(cur?.secrets?.keys ?? []), ...newSecrets]) {
      const id = `${s.keyId}/${s.version}`;
      const revokedAt = earlier(earlier(held.get(id)?.revokedAt ?? null, s.revokedAt), entries.get(id)?.revoked?.effectiveAt ?? null);
      held.set(id, { ...s, revokedAt });
    }
    const t = now.getTime();
    const keys = [...held.values()].filter((s) => !revokedBy(s, t)).sort(byKV);
    const left = new Set(keys.map((s) => s.keyId));
    const gone = new Map<string, HeldSecret[]>();
    for (const s of [...held.values()].sort(byKV)) {
      if (left.has(s.keyId)) continue;
      const list = gone.get(s.keyId);
      if (list) list.push(s);
      else gone.set(s.keyId, [s]);
    }
    for (const [keyId, list] of gone) {
      const newest = list[list.length - 1]!;
      withdrawn.push({
        keyId, name: newest.name, service: newest.service, environment: newest.environment,
        versions: list.map((s) => ({ version: s.version, reason: entries.get(`${s.keyId}/${s.version}`)?.revoked?.reason ?? null, effectiveAt: s.revokedAt! })),
      });
    }
    secrets = { format: HOLDER_SECRETS_FORMAT, vaultId: p.vaultId, recipient: p.recipient, sequence: p.sequence, keys };
  }
  const state: ImporterState = {
    format: STATE_FORMAT,
    generation: (cur?.state.generation ?? 0) + 1,
    recipient: key.recipientId,
    vaultId: p.vaultId,
    sequence: p.sequence,
    payloadHash: v.hash,
    bundleId: p.bundleId,
    appliedAt,
    checkpoint,
    trustRoot: { version: trust.payload.version, hash: trust.hash },
    secretsEnv: env,
  };
  const receipt: Receipt = {
    format: RECEIPT_FORMAT,
    bundleId: p.bundleId,
    payloadHash: v.hash,
    sequence: p.sequence,
    previous: p.previous,
    vaultId: p.vaultId,
    recipient: p.recipient,
    appliedAt,
    signers: v.signers,
    trustRoot: state.trustRoot,
    issued,
    revoked,
    secrets: newSecrets.length,
    checkpoint,
    withdrawn: withdrawn.map((w) => ({ keyId: w.keyId, versions: w.versions.map((v) => v.version) })),
  };
  return { state, trust, keystore, secrets, env: env && secrets ? envFile(secrets.keys, now.getTime()) : null, receipt, withdrawn };
}

// ---- committing ------------------------------------------------------------------------

function genName(n: number): string {
  return `gen-${String(n).padStart(12, '0')}`;
}

function receiptName(r: Receipt): string {
  return `${String(r.sequence).padStart(12, '0')}-${r.payloadHash.slice(0, 16)}.json`;
}

function json(v: unknown): string {
  return `${JSON.stringify(v, null, 1)}\n`;
}

/** Large files (keystore, holder secrets): one line; indenting megabytes costs time and a reader parses it anyway. */
function compactJson(v: unknown): string {
  return `${JSON.stringify(v)}\n`;
}

function lock(stateDir: string): () => void {
  const path = join(stateDir, '.lock');
  try {
    mkdirSync(path);
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') {
      throw new ImportError('STATE_LOCKED', `state: ${stateDir} is in use by another import`, `If no import is running (a crash), remove ${path}.`);
    }
    throw ioError(`create ${stateDir}`, e);
  }
  return () => rmdirSync(path);
}

/**
 * Writes a generation and switches `current` to it. Order: the generation's
 * files, each fsynced; the generation directory fsynced; `current` replaced
 * by rename; the state directory fsynced (the commit); then, outside the
 * commit, old generations removed, the receipt copied to receipts/ and the
 * stable symlinks made (all repeatable: a crash here is repaired next time).
 */
function commit(stateDir: string, expectedGen: string | undefined, files: ReadonlyMap<string, { data: string; mode: number }>, generation: number): void {
  const unlock = lock(stateDir);
  try {
    if (currentGen(stateDir) !== expectedGen) throw new ImportError('STATE_LOCKED', 'state: another import changed the state meanwhile', 'Run the command again.');
    const gen = genName(generation);
    const dir = join(stateDir, gen);
    rmSync(dir, { recursive: true, force: true }); // an orphan of a crash before a previous commit
    mkdirSync(dir, { mode: 0o755 });
    try {
      for (const [name, f] of files) writeNewFile(join(dir, name), f.data, f.mode);
      fsyncDir(dir);
    } catch (e) {
      // Not committed: the half-written generation goes (a crash instead would leave it for the next run to remove).
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    replaceSymlink(gen, join(stateDir, 'current'));
  } catch (e) {
    if (e instanceof ImportError) throw e;
    throw ioError('write the new state', e);
  } finally {
    unlock();
  }
  tidy(stateDir);
}

/** Post-commit housekeeping: remove generations other than current, restore receipts and stable links. */
function tidy(stateDir: string): void {
  // Another import holds the lock and may be writing its generation: leave everything to it (or to the next run).
  if (existsSync(join(stateDir, '.lock'))) return;
  const gen = currentGen(stateDir);
  if (gen === undefined) return;
  for (const name of readdirSync(stateDir)) {
    if ((GEN_RE.test(name) && name !== gen) || /^\.current\..*\.tmp$/.test(name)) rmSync(join(stateDir, name), { recursive: true, force: true });
  }
  const receiptText = readFileBounded(join(stateDir, gen, 'receipt.json'), READ_LIMITS.stateFile).toString('utf8');
  const receipt = JSON.parse(receiptText) as Receipt;
  const receipts = join(stateDir, 'receipts');
  makeDirs(receipts, 0o755, 'state');
  const rp = join(receipts, receiptName(receipt));
  if (!existsSync(rp)) writeFileAtomic(rp, receiptText, 0o644);
  for (const f of ['state.json', 'trust.json', 'keystore.json', 'secrets.json', 'secrets.env', 'receipt.json']) {
    const link = join(stateDir, f);
    if (!existsSync(join(stateDir, gen, f))) {
      // No dangling stable link for a file this generation does not have (secrets.env, say).
      rmSync(link, { force: true });
      continue;
    }
    let ok: boolean;
    try {
      ok = lstatSync(link).isSymbolicLink() && readlinkSync(link) === join('current', f);
    } catch {
      ok = false;
    }
    if (!ok) {
      rmSync(link, { force: true });
      symlinkSync(join('current', f), link);
    }
  }
  fsyncDir(stateDir);
}

function ensureDir(stateDir: string): void {
  try {
    // Not Node's recursive mkdir: it loops forever where the file system answers ENOENT (/proc/x).
    makeDirs(stateDir, 0o755, 'state');
  } catch (e) {
    if (e instanceof ImportError) throw e;
    throw ioError(`create ${stateDir}`, e);
  }
}

/**
 * Verifies a bundle and applies it to a state directory: trust root
 * (pinned, or rotated by exactly one version), bundle verification,
 * sequence and chain, audit checkpoint, decryption, conflicts; then one
 * atomic commit. The same bundle again is a no-op ('already-applied').
 * On any error nothing in the directory has changed.
 */
export async function applyBundle(stateDir: string, bundle: string | Uint8Array, opts: ApplyOptions): Promise<ApplyResult> {
  const key = await loadRecipientPrivateKey(opts.privateKey);
  const cur = await readState(stateDir);
  const trust = await resolveTrust(cur, opts.trustRootText);
  const v = await verifyBundle(bundle, trust, { ...opts, recipient: key.recipientId });
  const now = opts.now ?? new Date();
  if (checkChain(cur, v, key.recipientId) === 'replay') {
    tidy(stateDir); // restores a receipt lost to a crash right after the commit
    return {
      status: 'already-applied',
      bundleId: v.payload.bundleId,
      sequence: v.payload.sequence,
      payloadHash: v.hash,
      issued: 0,
      revoked: 0,
      secrets: 0,
      withdrawn: [],
      trustRootVersion: cur!.trust.payload.version,
      receiptPath: join(stateDir, 'receipts', receiptName({ sequence: v.payload.sequence, payloadHash: v.hash } as Receipt)),
      message: `bundle ${v.payload.sequence} (${v.hash.slice(0, 16)}) is already applied; nothing to do`,
    };
  }
  const env = opts.secretsFormat === 'env' || (opts.secretsFormat === undefined && (cur?.state.secretsEnv ?? false));
  const pl = await plan(cur, v, trust, key, now, env);
  const files = new Map<string, { data: string; mode: number }>([
    ['state.json', { data: json(pl.state), mode: 0o644 }],
    ['trust.json', { data: pl.trust.text, mode: 0o644 }],
    ['keystore.json', { data: compactJson(pl.keystore), mode: 0o644 }],
    ['receipt.json', { data: json(pl.receipt), mode: 0o644 }],
  ]);
  if (pl.secrets) files.set('secrets.json', { data: compactJson(pl.secrets), mode: 0o600 });
  if (pl.env !== null) files.set('secrets.env', { data: pl.env, mode: 0o600 });
  ensureDir(stateDir);
  commit(stateDir, cur?.gen, files, pl.state.generation);
  return {
    status: 'applied',
    bundleId: v.payload.bundleId,
    sequence: v.payload.sequence,
    payloadHash: v.hash,
    issued: pl.receipt.issued,
    revoked: pl.receipt.revoked,
    secrets: pl.receipt.secrets,
    withdrawn: pl.withdrawn,
    trustRootVersion: trust.payload.version,
    receiptPath: join(stateDir, 'receipts', receiptName(pl.receipt)),
    message: `applied bundle ${v.payload.sequence} (${v.hash.slice(0, 16)}): ${pl.receipt.issued} issued, ${pl.receipt.revoked} revoked, ${pl.receipt.secrets} secrets${
      pl.withdrawn.length > 0 ? `; no secret left for ${pl.withdrawn.length} key${pl.withdrawn.length === 1 ? '' : 's'} (every held version revoked)` : ''}`,
  };
}

/**
 * Installs a trust root: pins it when the directory has none (with an empty
 * keystore), or rotates the pinned one by exactly one version.
 */
export async function updateTrustRoot(stateDir: string, rootText: string, now: Date = new Date()): Promise<Readonly<{ status: 'pinned' | 'rotated' | 'unchanged'; version: number; hash: string }>> {
  const cur = await readState(stateDir);
  const root = await resolveTrust(cur, rootText);
  if (cur && root.hash === cur.trust.hash) return { status: 'unchanged', version: root.payload.version, hash: root.hash };
  if (cur && root.payload.vaultId !== cur.state.vaultId) throw new ImportError('TRUST_ROOT_INVALID', 'trust root: for another vault');
  const appliedAt = formatTime(now);
  const state: ImporterState = cur
    ? { ...cur.state, generation: cur.state.generation + 1, trustRoot: { version: root.payload.version, hash: root.hash } }
    : {
        format: STATE_FORMAT,
        generation: 1,
        recipient: null,
        vaultId: root.payload.vaultId,
        sequence: 0,
        payloadHash: null,
        bundleId: null,
        appliedAt,
        checkpoint: null,
        trustRoot: { version: root.payload.version, hash: root.hash },
        secretsEnv: false,
      };
  const files = new Map<string, { data: string; mode: number }>([
    ['state.json', { data: json(state), mode: 0o644 }],
    ['trust.json', { data: root.text, mode: 0o644 }],
  ]);
  if (cur) {
    // The other files move to the new generation unchanged.
    for (const f of ['keystore.json', 'secrets.json', 'secrets.env', 'receipt.json']) {
      const p = join(stateDir, cur.gen, f);
      if (existsSync(p)) files.set(f, { data: readFileBounded(p, READ_LIMITS.stateData).toString('utf8'), mode: f.startsWith('secrets') ? 0o600 : 0o644 });
    }
  }
  if (!files.has('receipt.json')) {
    const receipt = { format: RECEIPT_FORMAT, trustRoot: state.trustRoot, appliedAt, sequence: 0, payloadHash: root.hash };
    files.set('receipt.json', { data: json(receipt), mode: 0o644 });
  }
  ensureDir(stateDir);
  commit(stateDir, cur?.gen, files, state.generation);
  return { status: cur ? 'rotated' : 'pinned', version: root.payload.version, hash: root.hash };
}

