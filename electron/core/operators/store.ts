/**
 * The operators table (migration 4): who may act on the vault, with which
 * roles and which credential. Every row carries a MAC (the vault's row MAC
 * key) over all its fields, checked on every read: a role added, a
 * credential swapped or a row copied from another vault outside Keyhold is
 * refused, never used. A passphrase's verifier is sealed under the vault's
 * field key, so the file alone gives nothing to guess against.
 */

import type { OperatorInfo } from '../../../shared/contract.js';
import { KeyholdError } from '../../../shared/errors.js';
import { isRole, ROLES, type Role } from '../../../shared/roles.js';
import { all, get, run } from '../vault/db.js';
import { sql } from '../vault/sql.js';
import { fieldAad, type CreationTx, type Vault } from '../vault/vault.js';
import type { PublicJwk, TokenAlg } from '../token/jwk.js';
import type { StoredKdfParams } from '../vault/kdf.js';
import { getSetting, putSetting } from '../bundle/store.js';

export type CredentialKind = 'passphrase' | 'token' | 'none';

export type OperatorRow = {
  name: string;
  /** JSON array of role names, in ROLES order. */
  roles: string;
  credential: CredentialKind;
  /** JSON: PassphraseParams, TokenParams, or {} for none. */
  params: string;
  verifier: Buffer | null;
  created_at: string;
  row_version: number;
  mac: Buffer;
};

export type PassphraseParams = StoredKdfParams;
export type TokenParams = Readonly<{
  alg: TokenAlg; jwk: PublicJwk; kid: string; tokenLabel: string; tokenSerial: string; keyId: string; keyLabel: string;
}>;

const INTEGRITY_HINT = 'The vault file was altered outside Keyhold or is damaged. Restore it from a backup.';

const fields = (r: Omit<OperatorRow, 'mac'>): unknown[] =>
  [r.name, r.roles, r.credential, r.params, r.verifier, r.created_at, r.row_version];

export const verifierAad = (name: string): string => fieldAad('operators', name, 0, 'verifier');

/** Roles in ROLES order, each once. */
export function sortRoles(roles: Iterable<Role>): Role[] {
  const set = new Set(roles);
  return ROLES.filter((r) => set.has(r));
}

function checked(vault: Vault, r: OperatorRow): OperatorRow {
  vault.checkMac('operators', fields(r), r.mac, `operator ${String(r.name)}`);
  let roles: unknown;
  try {
    roles = JSON.parse(r.roles);
  } catch {
    roles = null;
  }
  if (!Array.isArray(roles) || !roles.every(isRole) || !['passphrase', 'token', 'none'].includes(r.credential)) {
    throw new KeyholdError('INTEGRITY', `vault: operator ${r.name} has an unknown role or credential`, INTEGRITY_HINT);
  }
  return r;
}

export function rolesOf(r: Pick<OperatorRow, 'roles'>): Role[] {
  return JSON.parse(r.roles) as Role[];
}

const ROSTER = 'operators.roster';

function rosterOf(rows: readonly Pick<OperatorRow, 'name' | 'row_version'>[]): string {
  return JSON.stringify([...rows].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((r) => [r.name, r.row_version]));
}

/**
 * Every operator row, MAC-checked, and checked as a set against the roster
 * (a MACed setting naming each operator and its row version, rewritten with
 * every change): a row deleted, or an older copy of a row put back, outside
 * Keyhold is refused, as is an empty table in a vault whose log has added
 * operators.
 */
export function listOperators(vault: Vault): OperatorRow[] {
  const rows = vault.read((db) => all<OperatorRow>(db, sql`SELECT * FROM operators ORDER BY name`)).map((r) => checked(vault, r));
  const roster = getSetting(vault, ROSTER);
  const altered = roster === null ? rows.length > 0 || hasAddedOperators(vault) : roster !== rosterOf(rows);
  if (altered) {
    throw new KeyholdError('INTEGRITY', 'vault: integrity check failed for the operators (a row was removed, added or put back outside Keyhold)',
      INTEGRITY_HINT);
  }
  return rows;
}

function hasAddedOperators(vault: Vault): boolean {
  return vault.read((db) => get<{ n: number }>(db, sql`SELECT 1 AS n FROM audit_log WHERE action = 'operator.add' LIMIT 1`)) !== undefined;
}

/** Rewrites the roster from the rows as they are now (inside the transaction that changed them). */
function writeRoster(vault: Vault): void {
  const rows = vault.read((db) => all<Pick<OperatorRow, 'name' | 'row_version'>>(db, sql`SELECT name, row_version FROM operators`));
  putSetting(vault, ROSTER, rosterOf(rows));
}

export function countOperators(vault: Vault): number {
  return listOperators(vault).length;
}

export function findOperator(vault: Vault, name: string): OperatorRow | null {
  return listOperators(vault).find((r) => r.name === name) ?? null;
}

export function getOperator(vault: Vault, name: string): OperatorRow {
  const r = findOperator(vault, name);
  if (!r) {
    throw new KeyholdError('OPERATOR_NOT_FOUND', `operator: no operator named ${name}`, 'See `keyhold operator list`.');
  }
  return r;
}

export function insertOperator(vault: Vault, r: Omit<OperatorRow, 'mac'>): void {
  run(vault.db, sql`INSERT INTO operators (name, roles, credential, params, verifier, created_at, row_version, mac)
    VALUES (${r.name}, ${r.roles}, ${r.credential}, ${r.params}, ${r.verifier}, ${r.created_at}, ${r.row_version},
    ${vault.mac('operators', fields(r))})`);
  writeRoster(vault);
}

/** Rewrites a row read (and checked) before; the row_version guard refuses a concurrent change. */
export function updateOperator(vault: Vault, old: OperatorRow, change: Partial<Pick<OperatorRow, 'roles' | 'credential' | 'params' | 'verifier'>>): OperatorRow {
  const next = { ...old, ...change, row_version: old.row_version + 1 };
  const mac = vault.mac('operators', fields(next));
  const res = run(vault.db, sql`UPDATE operators SET roles = ${next.roles}, credential = ${next.credential}, params = ${next.params},
    verifier = ${next.verifier}, row_version = ${next.row_version}, mac = ${mac}
    WHERE name = ${old.name} AND row_version = ${old.row_version}`);
  if (res.changes !== 1) {
    throw new KeyholdError('VAULT_IN_USE', `operator: ${old.name} was changed by another command at the same time`, 'Try again.');
  }
  writeRoster(vault);
  return { ...next, mac };
}

/**
 * The first operator, written in the creation's own transaction (Vault.create's
 * seed): every role, the creation passphrase as its credential. Returns what
 * the vault.create entry records of it.
 */
export function seedFirstOperator(tx: CreationTx, name: string, params: string, verifierHex: string): Record<string, unknown> {
  const row = { name, roles: JSON.stringify([...ROLES]), credential: 'passphrase' as const, params,
    verifier: tx.sealField(verifierAad(name), verifierHex), created_at: tx.now, row_version: 1 };
  run(tx.db, sql`INSERT INTO operators (name, roles, credential, params, verifier, created_at, row_version, mac)
    VALUES (${row.name}, ${row.roles}, ${row.credential}, ${row.params}, ${row.verifier}, ${row.created_at}, ${row.row_version},
    ${tx.mac('operators', fields(row))})`);
  const roster = rosterOf([row]);
  run(tx.db, sql`INSERT INTO settings (name, value, mac) VALUES (${ROSTER}, ${roster}, ${tx.mac('settings', [ROSTER, roster])})`);
  return { operator: { name, roles: [...ROLES], credential: 'passphrase' } };
}

export function deleteOperator(vault: Vault, name: string): void {
  run(vault.db, sql`DELETE FROM operators WHERE name = ${name}`);
  writeRoster(vault);
}

export function operatorInfo(r: OperatorRow): OperatorInfo {
  let token: OperatorInfo['token'] = null;
  if (r.credential === 'token') {
    const p = JSON.parse(r.params) as TokenParams;
    token = { label: p.tokenLabel, serial: p.tokenSerial, keyLabel: p.keyLabel, keyId: p.keyId, kid: p.kid };
  }
  return { name: r.name, roles: rolesOf(r), credential: r.credential, token, createdAt: r.created_at };
}

/** A name from free text (an OS user, an old actor) that fits the operator name rule; 'operator' when nothing is left. */
export function operatorNameFrom(text: string): string {
  const cleaned = text.normalize('NFKD').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  return cleaned === '' ? 'operator' : cleaned;
}

/**
 * A vault made before operators (migration 4) gets its one operator at its
 * first unlock: named as the actor of its vault.create entry, holding every
 * role, with no credential until it sets one (operator.setCredential).
 * Audited as operator.add with `migrated: true`. Nothing to do on a vault that
 * has operators, or one that cannot be written.
 */
export function ensureOperators(vault: Vault): void {
  if (vault.writeRefusal) return;
  const rows = vault.read((db) => get<{ n: number }>(db, sql`SELECT count(*) AS n FROM operators`) as { n: number }).n;
  if (rows > 0 || getSetting(vault, ROSTER) !== null || hasAddedOperators(vault)) return;
  const first = vault.read((db) => get<{ actor: string }>(db, sql`SELECT actor FROM audit_log WHERE action = 'vault.create' ORDER BY seq LIMIT 1`));
  const name = operatorNameFrom(first?.actor ?? vault.actor);
  const row = { name, roles: JSON.stringify([...ROLES]), credential: 'none' as const, params: '{}', verifier: null,
    created_at: vault.now(), row_version: 1 };
  vault.transaction(() => {
    insertOperator(vault, row);
    vault.audit({ action: 'operator.add', subject: `operator:${name}`,
      details: { roles: [...ROLES], credential: 'none', migrated: true } });
  });
}
