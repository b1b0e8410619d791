/**
 * The rows behind API keys, read and written with their MACs. Every row read
 * is checked against its MAC before any field is used.
 */

import type { KeyState, KeySummary, KeyVersionInfo, RevokeReason } from '../../../shared/contract.js';
import { KeyholdError } from '../../../shared/errors.js';
import { canonicalRow, HexBytes, toBuffer, type Bytes } from '../crypto/primitives.js';
import { get, rawAll, rawStmt, run, all } from '../vault/db.js';
import { column, computed, ident, inList, selectList, sql, where, EMPTY, type ColumnName, type Selected, type Sql } from '../vault/sql.js';
import { MAC_LEN } from '../vault/mac-worker.js';
import { fieldAad, type Vault } from '../vault/vault.js';

/**
 * Rows as the bulk reads give them (keysWithCurrent): BLOB columns as
 * HexBytes, which MAC exactly like the bytes, instead of a Buffer each. The
 * single-key reads (getKey, getVersions) give KeyRow and VersionRow, with
 * Buffers; both kinds go through the same MAC checks and updates.
 */
export type AnyKeyRow = Omit<KeyRow, 'notes' | 'mac'> & { notes: Bytes; mac: Bytes };
export type AnyVersionRow = Omit<VersionRow, 'secret' | 'mac'> & { secret: Bytes | null; mac: Bytes };

export type KeyRow = {
  id: string;
  name: string;
  service: string;
  environment: string;
  scopes: string;
  owner: string;
  notes: Buffer;
  current_version: number;
  created_at: string;
  updated_at: string;
  row_version: number;
  mac: Buffer;
};

export type VersionRow = {
  key_id: string;
  version: number;
  state: KeyState;
  created_at: string;
  activated_at: string | null;
  not_after: string | null;
  grace_until: string | null;
  revoked_at: string | null;
  revoke_reason: RevokeReason | null;
  destroyed_at: string | null;
  secret: Buffer | null;
  row_version: number;
  mac: Buffer;
};

export const KEY_STATES: readonly KeyState[] = ['pre-active', 'active', 'retiring', 'revoked', 'destroyed'];
const REASONS: readonly (RevokeReason | null)[] = ['compromised', 'superseded', 'retired', 'other', null];

const INTEGRITY_HINT = 'The vault file was altered outside Keyhold or is damaged. Restore it from a backup.';

export function keyMacFields(r: Omit<AnyKeyRow, 'mac'>): unknown[] {
  return [r.id, r.name, r.service, r.environment, r.scopes, r.owner, r.notes, r.current_version,
    r.created_at, r.updated_at, r.row_version];
}

export function versionMacFields(r: Omit<AnyVersionRow, 'mac'>): unknown[] {
  return [r.key_id, r.version, r.state, r.created_at, r.activated_at, r.not_after, r.grace_until, r.revoked_at,
    r.revoke_reason, r.destroyed_at, r.secret, r.row_version];
}

export const secretAad = (keyId: string, version: number): string => fieldAad('key_versions', keyId, version, 'secret');
export const notesAad = (keyId: string): string => fieldAad('keys', keyId, 0, 'notes');

export function checkedKey<R extends AnyKeyRow>(vault: Vault, row: R): R {
  vault.checkMac('keys', keyMacFields(row), row.mac, `key ${String(row.id)}`);
  return row;
}

export function checkedVersion<R extends AnyVersionRow>(vault: Vault, row: R): R {
  vault.checkMac('key_versions', versionMacFields(row), row.mac, `key ${String(row.key_id)} version ${String(row.version)}`);
  if (!KEY_STATES.includes(row.state) || !REASONS.includes(row.revoke_reason)) {
    throw new KeyholdError('INTEGRITY', `vault: key ${row.key_id} version ${row.version} has an unknown state`, INTEGRITY_HINT);
  }
  return row;
}

export function missingVersion(id: string, version: number): KeyholdError {
  return new KeyholdError('INTEGRITY', `vault: integrity check failed: key ${id} has lost its version ${version}`,
    INTEGRITY_HINT);
}

export function getKey(vault: Vault, id: string): KeyRow {
  const row = vault.read((db) => get<KeyRow>(db, sql`SELECT * FROM keys WHERE id = ${id}`));
  if (!row) throw new KeyholdError('KEY_NOT_FOUND', `key: no key ${id}`, 'See `keyhold key list`.');
  return checkedKey(vault, row);
}

/**
 * The id of the key a command names: its 16-character id (returned as is;
 * getKey then finds it or says KEY_NOT_FOUND), or service/environment/name,
 * which the vault's UNIQUE index makes name at most one key. The one place
 * key names are resolved (key show, reveal, rotate, revoke, destroy,
 * policy --key, audit list --key).
 */
export function resolveKeyRef(vault: Vault, ref: string): string {
  const parts = ref.split('/');
  if (parts.length !== 3) return ref;
  const [service, environment, name] = parts as [string, string, string];
  const row = vault.read((db) =>
    get<KeyRow>(db, sql`SELECT * FROM keys WHERE service = ${service} AND environment = ${environment} AND name = ${name}`));
  if (!row) {
    throw new KeyholdError('KEY_NOT_FOUND', `key: no key named ${name} in ${service}/${environment}`,
      `Name a key by its id or as service/environment/name, as \`keyhold key list --service ${service}\` shows them.`);
  }
  return checkedKey(vault, row).id;
}

export function getVersions(vault: Vault, key: KeyRow): VersionRow[] {
  const rows = vault.read((db) => all<VersionRow>(db, sql`SELECT * FROM key_versions WHERE key_id = ${key.id} ORDER BY version`));
  const out = rows.map((r) => checkedVersion(vault, r));
  // Versions are never deleted (a destroyed one keeps its row): 1..current must all be there.
  for (let v = 1; v <= key.current_version; v++) {
    if (out[v - 1]?.version !== v) throw missingVersion(key.id, v);
  }
  return out;
}

/**
 * One version of a key from its MAC-checked list. Versions are never deleted
 * (a destroyed one keeps its row), so a missing one up to the current version
 * means the file was altered; past it, the version never existed.
 */
export function findVersion(k: KeyRow, versions: readonly VersionRow[], want: number): VersionRow {
  const v = versions.find((x) => x.version === want);
  if (v) return v;
  if (want <= k.current_version) throw missingVersion(k.id, want);
  throw new KeyholdError('KEY_NOT_FOUND', `key: ${k.id} has no version ${want}`, `See \`keyhold key show ${k.id}\`.`);
}

export function insertKey(vault: Vault, k: Omit<KeyRow, 'mac'>): void {
  run(vault.db, sql`INSERT INTO keys (id, name, service, environment, scopes, owner, notes, current_version,
    created_at, updated_at, row_version, mac) VALUES (${k.id}, ${k.name}, ${k.service}, ${k.environment}, ${k.scopes},
    ${k.owner}, ${k.notes}, ${k.current_version}, ${k.created_at}, ${k.updated_at}, ${k.row_version},
    ${vault.mac('keys', keyMacFields(k))})`);
}

export function updateKey<R extends AnyKeyRow>(vault: Vault, k: R, changes: Partial<Pick<KeyRow, 'current_version'>>, now: string): R {
  const next = { ...k, ...changes, updated_at: now, row_version: k.row_version + 1 };
  const mac = vault.mac('keys', keyMacFields(next));
  const r = run(vault.db, sql`UPDATE keys SET current_version = ${next.current_version}, updated_at = ${next.updated_at},
    row_version = ${next.row_version}, mac = ${mac} WHERE id = ${k.id} AND row_version = ${k.row_version}`);
  if (r.changes !== 1) throw new KeyholdError('INTERNAL', `key: ${k.id} changed underneath an update`);
  return { ...next, mac };
}

export function insertVersion(vault: Vault, v: Omit<VersionRow, 'mac'>): void {
  run(vault.db, sql`INSERT INTO key_versions (key_id, version, state, created_at, activated_at, not_after, grace_until,
    revoked_at, revoke_reason, destroyed_at, secret, row_version, mac) VALUES (${v.key_id}, ${v.version}, ${v.state},
    ${v.created_at}, ${v.activated_at}, ${v.not_after}, ${v.grace_until}, ${v.revoked_at}, ${v.revoke_reason},
    ${v.destroyed_at}, ${v.secret}, ${v.row_version}, ${vault.mac('key_versions', versionMacFields(v))})`);
}

export function updateVersion<R extends AnyVersionRow>(vault: Vault, v: R,
  changes: Partial<Omit<VersionRow, 'key_id' | 'version' | 'mac' | 'row_version'>>): R {
  const next = { ...v, ...changes, row_version: v.row_version + 1 };
  const mac = vault.mac('key_versions', versionMacFields(next));
  const r = run(vault.db, sql`UPDATE key_versions SET state = ${next.state}, grace_until = ${next.grace_until},
    revoked_at = ${next.revoked_at}, revoke_reason = ${next.revoke_reason}, destroyed_at = ${next.destroyed_at},
    secret = ${toBuffer(next.secret)}, row_version = ${next.row_version}, mac = ${mac}
    WHERE key_id = ${v.key_id} AND version = ${v.version} AND row_version = ${v.row_version}`);
  if (r.changes !== 1) throw new KeyholdError('INTERNAL', `key: ${v.key_id} version ${v.version} changed underneath an update`);
  return { ...next, mac };
}

export function summarize(k: AnyKeyRow, v: AnyVersionRow): KeySummary {
  return {
    id: k.id,
    name: k.name,
    service: k.service,
    environment: k.environment,
    scopes: JSON.parse(k.scopes) as string[],
    owner: k.owner,
    state: v.state,
    currentVersion: k.current_version,
    createdAt: k.created_at,
  };
}

export function versionInfo(v: AnyVersionRow): KeyVersionInfo {
  return {
    version: v.version,
    state: v.state,
    createdAt: v.created_at,
    activatedAt: v.activated_at,
    notAfter: v.not_after,
    graceUntil: v.grace_until,
    revokedAt: v.revoked_at,
    revokeReason: v.revoke_reason,
    destroyedAt: v.destroyed_at,
  };
}

/**
 * A BLOB column for a bulk read, two result columns wide: its hex text when
 * it is a BLOB, else NULL, then the value itself when it is not a BLOB (NULL,
 * or a value whose type was changed), so the row keeps exactly the types it
 * has in the file. Read with blobAt.
 */
function hexBlob<const Q extends string>(qualified: Q): Selected<ColumnName<Q>> {
  const c = ident(qualified);
  const name = qualified.slice(qualified.lastIndexOf('.') + 1) as ColumnName<Q>;
  return computed(name, sql`iif(typeof(${c}) = 'blob', hex(${c})), iif(typeof(${c}) = 'blob', NULL, ${c})`, 2);
}

/** The value of a hexBlob column of a raw row: HexBytes for a BLOB, else the value as stored. */
const blobAt = (r: readonly unknown[], at: number): unknown => {
  const hex = r[at];
  return typeof hex === 'string' ? new HexBytes(hex) : r[at + 1];
};

/** A key's columns (alias k), then its version's (alias v), as the bulk reads select them; K and V say where each lands. */
const KEY_SELECT = selectList([column('k.id'), column('k.name'), column('k.service'), column('k.environment'),
  column('k.scopes'), column('k.owner'), hexBlob('k.notes'), column('k.current_version'), column('k.created_at'),
  column('k.updated_at'), column('k.row_version'), hexBlob('k.mac')]);
const VERSION_SELECT = selectList([column('v.key_id'), column('v.version'), column('v.state'), column('v.created_at'),
  column('v.activated_at'), column('v.not_after'), column('v.grace_until'), column('v.revoked_at'), column('v.revoke_reason'),
  column('v.destroyed_at'), hexBlob('v.secret'), column('v.row_version'), hexBlob('v.mac')], KEY_SELECT.end);
const K = KEY_SELECT.at;
const V = VERSION_SELECT.at;
const KEY_VERSION_COLUMNS = sql`${KEY_SELECT.list}, ${VERSION_SELECT.list}`;

/** The key of a KEY_VERSION_COLUMNS row, MAC-checked. */
function keyOfRow(vault: Vault, r: readonly unknown[]): AnyKeyRow {
  return checkedKey(vault, {
    id: r[K.id], name: r[K.name], service: r[K.service], environment: r[K.environment], scopes: r[K.scopes],
    owner: r[K.owner], notes: blobAt(r, K.notes), current_version: r[K.current_version], created_at: r[K.created_at],
    updated_at: r[K.updated_at], row_version: r[K.row_version], mac: blobAt(r, K.mac),
  } as AnyKeyRow);
}

/** The version of a KEY_VERSION_COLUMNS row, MAC-checked. */
function versionOfRow(vault: Vault, r: readonly unknown[]): AnyVersionRow {
  return checkedVersion(vault, {
    key_id: r[V.key_id], version: r[V.version], state: r[V.state], created_at: r[V.created_at],
    activated_at: r[V.activated_at], not_after: r[V.not_after], grace_until: r[V.grace_until],
    revoked_at: r[V.revoked_at], revoke_reason: r[V.revoke_reason], destroyed_at: r[V.destroyed_at],
    secret: blobAt(r, V.secret), row_version: r[V.row_version], mac: blobAt(r, V.mac),
  } as AnyVersionRow);
}

/**
 * Every key with its current version, MAC-checked, in name order; with
 * conditions (fragments over k and v, such as sql`k.service = ${s}`), only
 * the keys meeting all of them; with a page, in that order (or key id
 * order) and at most `limit` of them. Read as raw arrays with BLOBs as hex
 * (AnyKeyRow, AnyVersionRow): at 100,000 keys, a Buffer per BLOB and an
 * object per joined row cost more than the MACs.
 */
export function keysWithCurrent(vault: Vault, conditions: readonly Sql[] = [],
  page?: Readonly<{ order: 'list' | 'id'; limit: number }>): [AnyKeyRow, AnyVersionRow][] {
  // Key id order reads both tables in their own (primary key) order: about
  // twice as fast at 100,000 keys as the (service, environment, name) index.
  const order = page?.order === 'id' ? sql`ORDER BY k.id` : sql`ORDER BY k.service, k.environment, k.name`;
  const limit = page ? sql`LIMIT ${page.limit}` : EMPTY;
  const rows = vault.read((db) => rawAll(db, sql`SELECT ${KEY_VERSION_COLUMNS}
    FROM keys k LEFT JOIN key_versions v ON v.key_id = k.id AND v.version = k.current_version
    ${where(conditions)} ${order} ${limit}`));
  const out = new Array<[AnyKeyRow, AnyVersionRow]>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as unknown[];
    const k = keyOfRow(vault, r);
    if (r[V.key_id] === null) throw missingVersion(k.id, k.current_version);
    out[i] = [k, versionOfRow(vault, r)];
  }
  return out;
}

/** Where each column of a KEY_VERSION_COLUMNS row lands: the key's (KEY_AT) and its current version's (VERSION_AT). */
export const KEY_AT = K;
export const VERSION_AT = V;

/**
 * The field lists of keyMacFields and versionMacFields as positions in a raw
 * KEY_VERSION_COLUMNS row, each with whether it is a hexBlob pair: made by
 * the very functions the MACs are written with (given the positions in place
 * of the values), so the order cannot drift from theirs.
 */
const HEX_BLOBS: ReadonlySet<number> = new Set([K.notes, K.mac, V.secret, V.mac]);
function macPositions(fields: readonly unknown[]): { at: Int32Array; blob: Uint8Array } {
  const at = Int32Array.from(fields as number[]);
  return { at, blob: Uint8Array.from(at, (i) => (HEX_BLOBS.has(i) ? 1 : 0)) };
}
const KEY_MAC = macPositions(keyMacFields(K as unknown as Omit<AnyKeyRow, 'mac'>));
const VERSION_MAC = macPositions(versionMacFields(V as unknown as Omit<AnyVersionRow, 'mac'>));

/** Fills `into` with the MAC fields found at `mac`'s positions of raw row r (one array reused for every row). */
function macFieldsAt(r: readonly unknown[], mac: { at: Int32Array; blob: Uint8Array }, into: unknown[]): unknown[] {
  const { at, blob } = mac;
  for (let j = 0; j < at.length; j++) {
    const i = at[j] as number;
    into[j] = blob[j] === 1 ? blobAt(r, i) : r[i];
  }
  return into;
}

/** A part of the key list: 'list' is key.list's order (service, environment, name), 'id' key id order with an optional range. */
export type CurrentRange = Readonly<{ order: 'list' | 'id'; after?: string | undefined; before?: string | undefined; limit: number }>;

const FROM_CURRENT = sql`FROM keys k LEFT JOIN key_versions v ON v.key_id = k.id AND v.version = k.current_version`;
/** One statement text per kind of range (values bound at each run, `?`), so the statement cache holds five. */
const CURRENT_STATEMENTS = {
  list: sql`SELECT ${KEY_VERSION_COLUMNS} ${FROM_CURRENT} ORDER BY k.service, k.environment, k.name LIMIT ?`,
  all: sql`SELECT ${KEY_VERSION_COLUMNS} ${FROM_CURRENT} ORDER BY k.id LIMIT ?`,
  after: sql`SELECT ${KEY_VERSION_COLUMNS} ${FROM_CURRENT} WHERE k.id > ? ORDER BY k.id LIMIT ?`,
  before: sql`SELECT ${KEY_VERSION_COLUMNS} ${FROM_CURRENT} WHERE k.id < ? ORDER BY k.id LIMIT ?`,
  between: sql`SELECT ${KEY_VERSION_COLUMNS} ${FROM_CURRENT} WHERE k.id > ? AND k.id < ? ORDER BY k.id LIMIT ?`,
};

/**
 * Where eachKeyWithCurrent checks the MACs: 'main' on the main thread as it
 * reads (Vault.checkMac), 'worker' in the vault's worker thread
 * (vault/mac-worker.ts) while the main thread reads on, 'auto' the first
 * MAIN_ROWS rows on the main thread and the rest, if any, in the worker (a
 * small read never waits for a worker to start).
 */
export type MacChecks = 'auto' | 'main' | 'worker';

/** 'auto': rows checked on the main thread before the worker takes over (a first screenful, a small vault). */
export const MAIN_ROWS = 2048;
/** Rows per batch sent to the worker: small enough that the last one, checked after the read ends, costs a few ms. */
const BATCH_ROWS = 4096;

/**
 * Where a failure happens in a read, so that the worker path reports the very
 * failure the main-thread path would have stopped at: row * STAGES + stage,
 * the stages in the order each row is checked.
 */
const STAGES = 6;
const AT_READ = 0; // SQLite failing to give the row
const AT_KEY_MAC = 1;
const AT_NO_VERSION = 2;
const AT_VERSION_MAC = 3;
const AT_STATE = 4;
const AT_VISIT = 5;

function macFailure(what: string): KeyholdError {
  return new KeyholdError('INTEGRITY', `vault: integrity check failed for ${what}`, INTEGRITY_HINT);
}

function unknownState(id: unknown, version: unknown): KeyholdError {
  return new KeyholdError('INTEGRITY', `vault: key ${String(id)} version ${String(version)} has an unknown state`, INTEGRITY_HINT);
}

const knownState = (r: readonly unknown[]): boolean =>
  KEY_STATES.includes(r[V.state] as KeyState) && REASONS.includes(r[V.revoke_reason] as RevokeReason | null);

/**
 * Rows on their way to the worker: each one's canonical encoding (the bytes
 * its MAC covers) back to back, where each ends, the MAC it stores, and, to
 * name a row that fails, its place in the read and its key and version.
 */
class MacBatch {
  data = Buffer.allocUnsafeSlow(BATCH_ROWS * 2 * 256);
  used = 0;
  readonly ends = new Uint32Array(BATCH_ROWS * 2);
  readonly macs = Buffer.allocUnsafeSlow(BATCH_ROWS * 2 * MAC_LEN);
  count = 0;
  readonly at: number[] = [];
  readonly keyIds: unknown[] = [];
  /** The version of a key_versions row (as read: a number unless the file was changed), null for a keys row. */
  readonly versions: (number | null)[] = [];

  /**
   * Adds a row; false, with nothing added, when its stored MAC cannot be
   * right (not a BLOB of 32 bytes: Vault.checkMac would fail it too).
   */
  add(table: string, fields: readonly unknown[], mac: unknown, at: number, keyId: unknown, version: unknown): boolean {
    const i = this.count;
    if (!(mac instanceof HexBytes) || mac.hex.length !== 2 * MAC_LEN ||
        this.macs.write(mac.hex, i * MAC_LEN, MAC_LEN, 'hex') !== MAC_LEN) return false;
    const row = canonicalRow(table, fields);
    if (this.used + row.length > this.data.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(this.data.length * 2, this.used + row.length));
      this.data.copy(bigger, 0, 0, this.used);
      this.data = bigger;
    }
    this.used += row.copy(this.data, this.used);
    this.ends[i] = this.used;
    this.at.push(at);
    this.keyIds.push(keyId);
    this.versions.push(version as number | null);
    this.count = i + 1;
    return true;
  }

  /** What a failing row is called: as Vault.checkMac names it. */
  what(i: number): string {
    const key = `key ${String(this.keyIds[i])}`;
    return this.versions[i] === null ? key : `${key} version ${String(this.versions[i])}`;
  }
}

/**
 * keysWithCurrent for a reader that keeps only a few columns of each row (the
 * app's key list, key.table): the rows are stepped through one at a time,
 * never all held at once, and each key row and its current version's row is
 * MAC-checked (and the version's state and reason checked to be known ones),
 * straight from its raw columns. No object is made per row: at 100,000 keys,
 * holding every raw row until the end, and an object for each, cost more than
 * the MACs. `visit` reads the row through KEY_AT and VERSION_AT, must not keep
 * it, and must not use the database (the connection is busy stepping).
 *
 * The MACs are checked on the main thread as each row is read, or, past the
 * first rows (MacChecks), in the vault's worker thread while the main thread
 * reads on: then `visit` is given a row whose state is checked but whose MACs
 * may not be confirmed yet, so what it builds must not be used before the
 * returned promise resolves, which is after every row's MACs are confirmed.
 * Any row that fails stops the read with INTEGRITY; both ways fail with the
 * same error, the first failure in read order. Resolves to the number of rows
 * visited.
 */
export async function eachKeyWithCurrent(vault: Vault, range: CurrentRange, visit: (r: readonly unknown[]) => void,
  checks: MacChecks = 'auto'): Promise<number> {
  const { after, before, limit } = range;
  const [q, args] = range.order === 'list' ? [CURRENT_STATEMENTS.list, [limit]]
    : after !== undefined && before !== undefined ? [CURRENT_STATEMENTS.between, [after, before, limit]]
      : after !== undefined ? [CURRENT_STATEMENTS.after, [after, limit]]
        : before !== undefined ? [CURRENT_STATEMENTS.before, [before, limit]]
          : [CURRENT_STATEMENTS.all, [limit]];
  const keyFields = new Array<unknown>(KEY_MAC.at.length);
  const versionFields = new Array<unknown>(VERSION_MAC.at.length);
  const onMain = checks === 'main' ? Infinity : checks === 'worker' ? 0 : MAIN_ROWS;
  /** The first failure found on the main thread past the rows checked there (the read stops at it). */
  let failure: { at: number; error: unknown } | null = null;
  const sent: Promise<{ batch: MacBatch; bad: number[] }>[] = [];
  let batch: MacBatch | null = null;
  const send = (): void => {
    const b = batch;
    batch = null;
    if (!b || b.count === 0) return;
    sent.push(vault.rowMacWorker().check({ data: b.data.buffer, ends: b.ends.buffer, macs: b.macs.buffer, count: b.count })
      .then((bad) => ({ batch: b, bad })));
  };
  let n = 0;
  try {
    vault.read((db) => {
      for (const row of rawStmt(db, q).iterate(...args)) {
        const r = row as unknown[];
        const id = r[K.id];
        if (n < onMain) {
          vault.checkMac('keys', macFieldsAt(r, KEY_MAC, keyFields), blobAt(r, K.mac), `key ${String(id)}`);
          if (r[V.key_id] === null) throw missingVersion(String(id), r[K.current_version] as number);
          vault.checkMac('key_versions', macFieldsAt(r, VERSION_MAC, versionFields), blobAt(r, V.mac),
            `key ${String(id)} version ${String(r[V.version])}`);
          if (!knownState(r)) throw unknownState(id, r[V.version]);
          visit(r);
          n++;
          continue;
        }
        const at = n * STAGES;
        const b = (batch ??= new MacBatch());
        if (!b.add('keys', macFieldsAt(r, KEY_MAC, keyFields), blobAt(r, K.mac), at + AT_KEY_MAC, id, null)) {
          failure = { at: at + AT_KEY_MAC, error: macFailure(`key ${String(id)}`) };
          break;
        }
        if (r[V.key_id] === null) {
          failure = { at: at + AT_NO_VERSION, error: missingVersion(String(id), r[K.current_version] as number) };
          break;
        }
        const version = r[V.version];
        if (!b.add('key_versions', macFieldsAt(r, VERSION_MAC, versionFields), blobAt(r, V.mac), at + AT_VERSION_MAC, id, version)) {
          failure = { at: at + AT_VERSION_MAC, error: macFailure(`key ${String(id)} version ${String(version)}`) };
          break;
        }
        if (!knownState(r)) {
          failure = { at: at + AT_STATE, error: unknownState(id, version) };
          break;
        }
        try {
          visit(r);
        } catch (e) {
          failure = { at: at + AT_VISIT, error: e };
          break;
        }
        n++;
        if (b.count >= 2 * BATCH_ROWS) send();
      }
    });
  } catch (e) {
    // A failure while the rows checked so far are all confirmed (none went to the worker) is the answer now.
    if (sent.length === 0 && batch === null) throw e;
    failure = { at: n * STAGES + AT_READ, error: e };
  }
  send();
  // Every batch answered before anything is returned; the first failure in read order is the one reported.
  for (const { batch: b, bad } of await Promise.all(sent)) {
    for (const i of bad) {
      const at = b.at[i] as number;
      if (failure === null || at < failure.at) failure = { at, error: macFailure(b.what(i)) };
    }
  }
  if (failure !== null) throw failure.error;
  return n;
}

/**
 * Every version of every key of the given services (or only those in the
 * given states), each with its key, MAC-checked (a key's MAC once), in key id
 * and version order: the bulk read of a bundle export, raw and hex like
 * keysWithCurrent. Each list is one bound JSON array (inList): one statement
 * whatever its length.
 */
export function versionsOfServices(vault: Vault, services: readonly string[], states?: readonly string[]): [AnyKeyRow, AnyVersionRow][] {
  if (services.length === 0) return [];
  const stateFilter = states ? sql`AND v.state IN ${inList(states)}` : EMPTY;
  const rows = vault.read((db) => rawAll(db, sql`SELECT ${KEY_VERSION_COLUMNS}
    FROM key_versions v JOIN keys k ON k.id = v.key_id
    WHERE k.service IN ${inList(services)} ${stateFilter} ORDER BY v.key_id, v.version`));
  const out = new Array<[AnyKeyRow, AnyVersionRow]>(rows.length);
  let k: AnyKeyRow | null = null;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as unknown[];
    if (k === null || k.id !== r[K.id]) k = keyOfRow(vault, r);
    out[i] = [k, versionOfRow(vault, r)];
  }
  return out;
}
