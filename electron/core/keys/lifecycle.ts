/**
 * Key lifecycle after NIST SP 800-57: pre-active -> active -> retiring ->
 * revoked -> destroyed, with revocation possible from any live state. Every
 * transition goes through `transition()`, which refuses an illegal one, and
 * is written with its audit entry in one transaction.
 */

import type { DueKey, KeyState, RevokeReason } from '../../../shared/contract.js';
import { canonicalJson } from '../../../shared/canonical-json.js';
import { KeyholdError } from '../../../shared/errors.js';
import { timePlus } from '../../../shared/time.js';
import { all } from '../vault/db.js';
import { sql } from '../vault/sql.js';
import type { Vault } from '../vault/vault.js';
import { newVersion, progressStep, type Progress } from './keys.js';
import { dueOf, effectivePolicy, loadPolicies, type Policies } from './policy.js';
import {
  checkedVersion,
  findVersion,
  getKey,
  getVersions,
  insertVersion,
  keysWithCurrent,
  summarize,
  updateKey,
  updateVersion,
  type AnyKeyRow,
  type AnyVersionRow,
  type VersionRow,
} from './rows.js';

export const LEGAL_TRANSITIONS: Readonly<Record<KeyState, readonly KeyState[]>> = {
  'pre-active': ['active', 'revoked'],
  active: ['retiring', 'revoked'],
  retiring: ['revoked'],
  revoked: ['destroyed'],
  destroyed: [],
};

export function isLegal(from: KeyState, to: KeyState): boolean {
  return LEGAL_TRANSITIONS[from].includes(to);
}

function transition<R extends AnyVersionRow>(vault: Vault, v: R, to: KeyState, changes: Parameters<typeof updateVersion>[2]): R {
  if (!isLegal(v.state, to)) {
    throw new KeyholdError('ILLEGAL_TRANSITION', `key: ${v.key_id} version ${v.version} is ${v.state} and cannot become ${to}`,
      hintFor(v.state, to));
  }
  return updateVersion(vault, v, { ...changes, state: to });
}

function hintFor(from: KeyState, to: KeyState): string {
  if (from === 'revoked' && to === 'revoked') return 'It is already revoked; nothing to do.';
  if (from === 'destroyed') return 'A destroyed version is final.';
  if (to === 'destroyed') return 'Only revoked versions can be destroyed: revoke it first.';
  if (to === 'retiring') return 'Only the active version can be rotated; a revoked key stays revoked (create a new key).';
  return 'See docs/lifecycle.md for the allowed transitions.';
}

// ---- due ----------------------------------------------------------------------

export function dueKeys(vault: Vault, all = false): DueKey[] {
  const policies = loadPolicies(vault);
  const now = vault.clock().getTime();
  const out: DueKey[] = [];
  for (const [k, v] of keysWithCurrent(vault)) {
    const due = dueOf(v, effectivePolicy(policies, k), now);
    if (!all && due.status !== 'overdue' && due.status !== 'due-soon') continue;
    out.push({ ...summarize(k, v), ...due });
  }
  const rank = { overdue: 0, 'due-soon': 1, ok: 2, inactive: 3 } as const;
  return out.sort((a, b) => rank[a.status] - rank[b.status] || (a.rotateAt ?? '').localeCompare(b.rotateAt ?? ''));
}

// ---- rotation -------------------------------------------------------------------

export type Rotation = Readonly<{ id: string; from: number; to: number; graceUntil: string }>;

/**
 * Every retiring version in the vault, by key, in version order: one query
 * for a whole rotation instead of one per key (the partial index
 * key_versions_retiring holds exactly these rows). Read inside the rotation's
 * transaction; each key is rotated once, so what a key's rotation sees is
 * what it would have read at its own turn.
 */
function retiringByKey(vault: Vault): Map<string, VersionRow[]> {
  const rows = all<VersionRow>(vault.db, sql`SELECT * FROM key_versions WHERE state = 'retiring' ORDER BY key_id, version`);
  const out = new Map<string, VersionRow[]>();
  for (const r of rows) {
    const list = out.get(r.key_id);
    if (list) list.push(r);
    else out.set(r.key_id, [r]);
  }
  return out;
}

// The last answer of plusSeconds (one entry, keyed on both arguments).
let lastBase = '';
let lastSeconds = NaN;
let lastSum = '';

/**
 * A time plus whole seconds, as a time; a batch asks for the same one again
 * and again. Exported for its test (test/unit/caches.test.ts).
 */
export function plusSeconds(time: string, seconds: number): string {
  if (time !== lastBase || seconds !== lastSeconds) {
    // Checked against the years a bundle can carry (shared/time.ts): a grace
    // period stored by an older Keyhold could reach past 9999.
    lastSum = timePlus(time, seconds, `key: the end of a grace window of ${seconds} s from ${time}`,
      'Set a shorter grace or rotation period (keyhold policy set --grace, --rotation).');
    lastBase = time;
    lastSeconds = seconds;
  }
  return lastSum;
}

/**
 * The details of a key.rotate entry, as canonical JSON (audit-log.md, 1.3):
 * exactly canonicalJson of { from, to, graceUntil, superseded? } (superseded
 * only when not empty), written out with its members in canonical order
 * (from, graceUntil, superseded, to). Anything unexpected (a number not an
 * integer, a graceUntil holding a surrogate) goes through canonicalJson
 * itself. Held to canonicalJson over random inputs by
 * test/unit/differential.test.ts.
 */
export function keyRotateDetails(from: number, to: number, graceUntil: string, superseded: readonly number[]): string {
  if (!Number.isInteger(from) || !Number.isInteger(to) || typeof graceUntil !== 'string' || /[\uD800-\uDFFF]/.test(graceUntil) ||
      !superseded.every((n) => Number.isInteger(n))) {
    return canonicalJson({ from, to, graceUntil, ...(superseded.length > 0 ? { superseded } : {}) });
  }
  const sup = superseded.length > 0 ? `,"superseded":[${superseded.join(',')}]` : '';
  return `{"from":${from},"graceUntil":${JSON.stringify(graceUntil)}${sup},"to":${to}}`;
}

function rotateOne(vault: Vault, k: AnyKeyRow, current: AnyVersionRow, policies: Policies, now: string,
  retiringNow: ReadonlyMap<string, VersionRow[]>): Rotation {
  if (current.state !== 'active') {
    throw new KeyholdError('ILLEGAL_TRANSITION', `key: ${k.id} is ${current.state} and cannot be rotated`,
      hintFor(current.state, 'retiring'));
  }
  const policy = effectivePolicy(policies, k);
  // Two generations back is never still accepted: an older retiring version is superseded now.
  const retiring = retiringNow.get(k.id) ?? [];
  for (const r of retiring) {
    transition(vault, checkedVersion(vault, r), 'revoked', { revoked_at: now, revoke_reason: 'superseded' });
  }
  const superseded = retiring.map((r) => r.version);
  const graceUntil = plusSeconds(now, Math.min(policy.grace, policy.rotation));
  transition(vault, current, 'retiring', { grace_until: graceUntil });
  const to = k.current_version + 1;
  insertVersion(vault, newVersion(vault, k.id, to, now, policy.lifetime));
  updateKey(vault, k, { current_version: to }, now);
  vault.audit({ action: 'key.rotate', subject: `key:${k.id}`, keyId: k.id,
    detailsJson: keyRotateDetails(current.version, to, graceUntil, superseded) });
  return { id: k.id, from: current.version, to, graceUntil };
}

export type RotateSelection = Readonly<{ ids: readonly string[] } | { due: true } | { all: true }>;

/**
 * Rotates the selected keys in one transaction: each gets a new active
 * version, its old one retiring until the grace window ends. All or none.
 */
export function rotateKeys(vault: Vault, sel: RotateSelection, onProgress?: Progress): Rotation[] {
  const policies = loadPolicies(vault);
  const nowMs = vault.clock().getTime();
  let targets: [AnyKeyRow, AnyVersionRow][];
  if ('ids' in sel) {
    targets = [...new Set(sel.ids)].map((id) => {
      const k = getKey(vault, id);
      return [k, getVersions(vault, k)[k.current_version - 1] as VersionRow];
    });
  } else {
    targets = [];
    for (const [k, v] of keysWithCurrent(vault)) {
      if (v.state !== 'active') continue;
      if ('due' in sel) {
        const s = dueOf(v, effectivePolicy(policies, k), nowMs).status;
        if (s !== 'overdue' && s !== 'due-soon') continue;
      }
      targets.push([k, v]);
    }
  }
  const now = new Date(nowMs).toISOString();
  // Written in key id order: the version and audit-index writes then land near
  // each other in their B-trees instead of all over the file. Results keep the
  // order of the selection.
  const order = targets.map((_, i) => i).sort((a, b) => {
    const x = (targets[a] as [AnyKeyRow, AnyVersionRow])[0].id;
    const y = (targets[b] as [AnyKeyRow, AnyVersionRow])[0].id;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const report = progressStep(targets.length, onProgress);
  const out = new Array<Rotation>(targets.length);
  if (targets.length === 0) return out;
  vault.transaction(() => {
    const retiring = retiringByKey(vault);
    order.forEach((i, done) => {
      const [k, v] = targets[i] as [AnyKeyRow, AnyVersionRow];
      out[i] = rotateOne(vault, k, v, policies, now, retiring);
      report(done + 1);
    });
  });
  return out;
}

// ---- revocation and destruction --------------------------------------------------

const LIVE: readonly KeyState[] = ['pre-active', 'active', 'retiring'];

export type Revocation = Readonly<{ id: string; versions: number[]; reason: RevokeReason; revokedAt: string; tookMs: number }>;

/**
 * Revokes one version, or every live version of the key, at once: the vault
 * changes in the same transaction as its audit entry.
 */
export function revokeKey(vault: Vault, id: string, reason: RevokeReason, version?: number): Revocation {
  const t0 = performance.now();
  const k = getKey(vault, id);
  const versions = getVersions(vault, k);
  let targets: VersionRow[];
  if (version !== undefined) {
    targets = [findVersion(k, versions, version)];
  } else {
    targets = versions.filter((v) => LIVE.includes(v.state));
    if (targets.length === 0) {
      throw new KeyholdError('ILLEGAL_TRANSITION', `key: ${id} has no live version: it is already revoked`,
        'It is already revoked; nothing to do.');
    }
  }
  const now = vault.now();
  vault.transaction(() => {
    for (const v of targets) transition(vault, v, 'revoked', { revoked_at: now, revoke_reason: reason });
    updateKey(vault, k, {}, now);
    vault.audit({ action: 'key.revoke', subject: `key:${id}`, keyId: id,
      details: { versions: targets.map((v) => v.version), reason } });
  });
  return { id, versions: targets.map((v) => v.version), reason, revokedAt: now, tookMs: performance.now() - t0 };
}

export type Destruction = Readonly<{ id: string; versions: number[]; destroyedAt: string }>;

/**
 * Erases the secret of revoked versions (all of them, or one), keeping
 * metadata and history. The WAL is then checkpointed and truncated so that no
 * copy of the sealed secret lingers in it (secure_delete zeroes the pages).
 */
export function destroyKey(vault: Vault, id: string, version?: number): Destruction {
  const k = getKey(vault, id);
  const versions = getVersions(vault, k);
  let targets: VersionRow[];
  if (version !== undefined) {
    targets = [findVersion(k, versions, version)];
  } else {
    const live = versions.filter((v) => LIVE.includes(v.state));
    if (live.length > 0) {
      throw new KeyholdError('ILLEGAL_TRANSITION',
        `key: ${id} still has ${live.map((v) => `version ${v.version} ${v.state}`).join(', ')}; only revoked versions can be destroyed`,
        `Revoke it first: keyhold key revoke ${id} --reason retired`);
    }
    targets = versions.filter((v) => v.state === 'revoked');
    if (targets.length === 0) {
      throw new KeyholdError('ILLEGAL_TRANSITION', `key: ${id} has nothing left to destroy`, 'A destroyed version is final.');
    }
  }
  const now = vault.now();
  vault.transaction(() => {
    for (const v of targets) transition(vault, v, 'destroyed', { destroyed_at: now, secret: null });
    updateKey(vault, k, {}, now);
    vault.audit({ action: 'key.destroy', subject: `key:${id}`, keyId: id, details: { versions: targets.map((v) => v.version) } });
  });
  // A dry run (Vault.rehearse) wrote nothing to checkpoint.
  if (!vault.rehearsing) vault.read((db) => db.pragma('wal_checkpoint(TRUNCATE)'));
  return { id, versions: targets.map((v) => v.version), destroyedAt: now };
}

// ---- housekeeping -----------------------------------------------------------------

/**
 * Retiring versions whose grace window has ended become revoked (superseded),
 * and pre-active versions whose activation time has come become active.
 * Each command runs this first; with nothing to do it writes nothing.
 */
export function housekeeping(vault: Vault): number {
  const now = vault.now();
  const rows = vault.read((db) =>
    all<VersionRow>(db, sql`SELECT * FROM key_versions WHERE state = 'retiring' AND grace_until <= ${now}`));
  const pending = vault.read((db) =>
    all<VersionRow>(db, sql`SELECT * FROM key_versions WHERE state = 'pre-active' AND activated_at <= ${now}`));
  if (rows.length === 0 && pending.length === 0) return 0;
  vault.transaction(() => {
    // Pre-active versions whose activation time has come become active.
    for (const r of pending) {
      const v = checkedVersion(vault, r);
      transition(vault, v, 'active', {});
      vault.audit({ action: 'key.activate', subject: `key:${v.key_id}`, keyId: v.key_id,
        details: { version: v.version, activatedAt: v.activated_at, by: 'housekeeping' } });
    }
    for (const r of rows) {
      const v = checkedVersion(vault, r);
      transition(vault, v, 'revoked', { revoked_at: now, revoke_reason: 'superseded' });
      vault.audit({ action: 'key.retire', subject: `key:${v.key_id}`, keyId: v.key_id,
        details: { version: v.version, reason: 'superseded', graceUntil: v.grace_until, by: 'housekeeping' } });
    }
  });
  return rows.length + pending.length;
}
