/**
 * API keys in the vault: creation (one or a batch, in one transaction),
 * listing, detail and reveal. Every row read is checked against its MAC
 * before it is used; secrets are sealed with an AAD bound to key and version.
 */

import { formatApiKey, KEY_ID_LENGTH, randomBase62, SECRET_LENGTH } from '../../../shared/apikey.js';
import type { KeyCreateSpec, KeyDetail, KeyState, KeySummary, KeyVersionInfo, RevealedKey } from '../../../shared/contract.js';
import { KeyholdError } from '../../../shared/errors.js';
import { randomBytes } from '../crypto/primitives.js';
import { fieldAad, type Vault } from '../vault/vault.js';

type KeyRow = {
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

type VersionRow = {
  key_id: string;
  version: number;
  state: string;
  created_at: string;
  activated_at: string | null;
  secret: Buffer | null;
  row_version: number;
  mac: Buffer;
};

const KEY_STATES: readonly KeyState[] = ['pre-active', 'active', 'retiring', 'revoked', 'destroyed'];

function keyMacFields(r: Omit<KeyRow, 'mac'>): unknown[] {
  return [r.id, r.name, r.service, r.environment, r.scopes, r.owner, r.notes, r.current_version,
    r.created_at, r.updated_at, r.row_version];
}

function versionMacFields(r: Omit<VersionRow, 'mac'>): unknown[] {
  return [r.key_id, r.version, r.state, r.created_at, r.activated_at, r.secret,
    r.row_version];
}

export const secretAad = (keyId: string, version: number): string => fieldAad('key_versions', keyId, version, 'secret');
const notesAad = (keyId: string): string => fieldAad('keys', keyId, 0, 'notes');

function checkedKey(vault: Vault, row: KeyRow): KeyRow {
  vault.checkMac('keys', keyMacFields(row), row.mac, `key ${row.id}`);
  return row;
}

function checkedVersion(vault: Vault, row: VersionRow): VersionRow {
  vault.checkMac('key_versions', versionMacFields(row), row.mac, `key ${row.key_id} version ${row.version}`);
  if (!KEY_STATES.includes(row.state as KeyState)) {
    throw new KeyholdError('INTEGRITY', `vault: key ${row.key_id} version ${row.version} has an unknown state`);
  }
  return row;
}

function summarize(k: KeyRow, v: VersionRow): KeySummary {
  return {
    id: k.id,
    name: k.name,
    service: k.service,
    environment: k.environment,
    scopes: JSON.parse(k.scopes) as string[],
    owner: k.owner,
    state: v.state as KeyState,
    currentVersion: k.current_version,
    createdAt: k.created_at,
  };
}

function missingVersion(id: string, version: number): KeyholdError {
  return new KeyholdError('INTEGRITY', `vault: integrity check failed: key ${id} has lost its version ${version}`,
    'The vault file was altered outside Keyhold or is damaged. Restore it from a backup.');
}

function keyExists(spec: KeyCreateSpec): KeyholdError {
  return new KeyholdError('KEY_EXISTS', `key: "${spec.name}" already exists in ${spec.service}/${spec.environment}`,
    'Key names are unique within a service and environment; choose another name.');
}

function isUniqueViolation(e: unknown): boolean {
  return !!e && typeof e === 'object' && 'code' in e && e.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

export type CreateProgress = (done: number, total: number) => void;

/**
 * Creates keys in one transaction: all are created, or none. A name already
 * used in the same service and environment (in the vault or earlier in the
 * batch) is refused before anything is written.
 */
export function createKeys(vault: Vault, specs: readonly KeyCreateSpec[], onProgress?: CreateProgress): KeySummary[] {
  const now = vault.now();
  const seen = new Set<string>();
  const out: KeySummary[] = [];
  vault.transaction(() => {
    const db = vault.db;
    const insKey = db.prepare(`INSERT INTO keys (id, name, service, environment, scopes, owner, notes, current_version,
      created_at, updated_at, row_version, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const insVer = db.prepare(`INSERT INTO key_versions (key_id, version, state, created_at, activated_at, secret,
      row_version, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    const step = Math.max(1, Math.floor(specs.length / 100));
    specs.forEach((spec, i) => {
      const tag = `${spec.service}\u0000${spec.environment}\u0000${spec.name}`;
      if (seen.has(tag)) throw keyExists(spec);
      seen.add(tag);
      const id = randomBase62(KEY_ID_LENGTH, randomBytes);
      const secret = Buffer.from(randomBase62(SECRET_LENGTH, randomBytes), 'ascii');
      const key: Omit<KeyRow, 'mac'> = {
        id,
        name: spec.name,
        service: spec.service,
        environment: spec.environment,
        scopes: JSON.stringify(spec.scopes),
        owner: spec.owner,
        notes: vault.sealField(notesAad(id), spec.notes),
        current_version: 1,
        created_at: now,
        updated_at: now,
        row_version: 1,
      };
      const ver: Omit<VersionRow, 'mac'> = {
        key_id: id,
        version: 1,
        state: 'active',
        created_at: now,
        activated_at: now,
        secret: vault.sealSecret(secretAad(id, 1), secret),
        row_version: 1,
      };
      secret.fill(0);
      try {
        insKey.run(key.id, key.name, key.service, key.environment, key.scopes, key.owner, key.notes,
          key.current_version, key.created_at, key.updated_at, key.row_version, vault.mac('keys', keyMacFields(key)));
      } catch (e) {
        // The UNIQUE (service, environment, name) index is the check; the
        // transaction rolls back whole.
        if (isUniqueViolation(e)) throw keyExists(spec);
        throw e;
      }
      insVer.run(ver.key_id, ver.version, ver.state, ver.created_at, ver.activated_at, ver.secret, ver.row_version,
        vault.mac('key_versions', versionMacFields(ver)));
      out.push({
        id, name: spec.name, service: spec.service, environment: spec.environment, scopes: [...spec.scopes],
        owner: spec.owner, state: 'active', currentVersion: 1, createdAt: now,
      });
      if (onProgress && ((i + 1) % step === 0 || i + 1 === specs.length)) onProgress(i + 1, specs.length);
    });
  });
  return out;
}

export type KeyFilter = Readonly<{ service?: string | undefined; environment?: string | undefined; query?: string | undefined }>;

export function listKeys(vault: Vault, filter: KeyFilter = {}): KeySummary[] {
  const rows = vault.read((db) => {
    const where: string[] = [];
    const args: string[] = [];
    if (filter.service !== undefined) {
      where.push('k.service = ?');
      args.push(filter.service);
    }
    if (filter.environment !== undefined) {
      where.push('k.environment = ?');
      args.push(filter.environment);
    }
    const sql = `SELECT k.*, v.key_id AS v_key_id, v.version AS v_version, v.state AS v_state,
        v.created_at AS v_created_at, v.activated_at AS v_activated_at, v.secret AS v_secret,
        v.row_version AS v_row_version, v.mac AS v_mac
      FROM keys k LEFT JOIN key_versions v ON v.key_id = k.id AND v.version = k.current_version
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY k.service, k.environment, k.name`;
    return db.prepare(sql).all(...args) as (KeyRow & Record<`v_${string}`, unknown>)[];
  });
  const q = filter.query?.toLowerCase();
  const out: KeySummary[] = [];
  for (const r of rows) {
    const k = checkedKey(vault, r);
    if (r.v_key_id === null) throw missingVersion(k.id, k.current_version);
    const v = checkedVersion(vault, {
      key_id: r.v_key_id as string,
      version: r.v_version as number,
      state: r.v_state as string,
      created_at: r.v_created_at as string,
      activated_at: r.v_activated_at as string | null,
      secret: r.v_secret as Buffer | null,
      row_version: r.v_row_version as number,
      mac: r.v_mac as Buffer,
    });
    const s = summarize(k, v);
    if (q && ![s.id, s.name, s.service, s.environment, s.owner, ...s.scopes].some((f) => f.toLowerCase().includes(q))) {
      continue;
    }
    out.push(s);
  }
  return out;
}

function getKey(vault: Vault, id: string): KeyRow {
  const row = vault.read((db) => db.prepare('SELECT * FROM keys WHERE id = ?').get(id)) as KeyRow | undefined;
  if (!row) throw new KeyholdError('KEY_NOT_FOUND', `key: no key ${id}`, 'See `keyhold key list`.');
  return checkedKey(vault, row);
}

function getVersions(vault: Vault, id: string): VersionRow[] {
  const rows = vault.read((db) => db.prepare('SELECT * FROM key_versions WHERE key_id = ? ORDER BY version').all(id)) as VersionRow[];
  return rows.map((r) => checkedVersion(vault, r));
}

export function showKey(vault: Vault, id: string): KeyDetail {
  const k = getKey(vault, id);
  const versions = getVersions(vault, id);
  const current = versions.find((v) => v.version === k.current_version);
  if (!current) throw missingVersion(id, k.current_version);
  return {
    ...summarize(k, current),
    notes: vault.openField(notesAad(k.id), k.notes, `the notes of key ${k.id}`),
    updatedAt: k.updated_at,
    versions: versions.map((v): KeyVersionInfo => ({
      version: v.version,
      state: v.state as KeyState,
      createdAt: v.created_at,
      activatedAt: v.activated_at,
    })),
  };
}

/** The key's text, for the one who asked. Later issues audit each reveal. */
export function revealKey(vault: Vault, id: string, version?: number): RevealedKey {
  const k = getKey(vault, id);
  const want = version ?? k.current_version;
  const row = vault.read((db) => db.prepare('SELECT * FROM key_versions WHERE key_id = ? AND version = ?').get(id, want)) as
    | VersionRow
    | undefined;
  if (!row) {
    // Versions are never deleted, only destroyed: a missing one up to the
    // current version means the file was altered.
    if (want <= k.current_version) throw missingVersion(id, want);
    throw new KeyholdError('KEY_NOT_FOUND', `key: ${id} has no version ${want}`, `See \`keyhold key show ${id}\`.`);
  }
  const v = checkedVersion(vault, row);
  if (!v.secret) {
    throw new KeyholdError('KEY_NOT_FOUND', `key: ${id} version ${want} was destroyed; its secret no longer exists`);
  }
  const secret = vault.openSecret(secretAad(id, want), v.secret, `the secret of key ${id} version ${want}`);
  try {
    return { id, version: want, secret: formatApiKey(id, secret.toString('ascii')) };
  } finally {
    secret.fill(0);
  }
}
