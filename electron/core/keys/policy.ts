/**
 * Rotation policies: rotation period, grace window, warning lead time and
 * maximum lifetime, set globally, per service or per key. The most specific
 * setting wins, field by field; unset fields fall back to the defaults.
 */

import type { DueStatus, EffectivePolicy, Policy, PolicyScope } from '../../../shared/contract.js';
import { formatDuration, parseDuration } from '../../../shared/duration.js';
import { KeyholdError, missingCase } from '../../../shared/errors.js';
import { all, run } from '../vault/db.js';
import { sql } from '../vault/sql.js';
import type { Vault } from '../vault/vault.js';
import { getKey, type VersionRow } from './rows.js';

const DAY = 86_400;
export const DEFAULT_POLICY: Policy = Object.freeze({ rotation: 90 * DAY, grace: 7 * DAY, warn: 14 * DAY, lifetime: 365 * DAY });
const FIELDS = ['rotation', 'grace', 'warn', 'lifetime'] as const;
type Field = (typeof FIELDS)[number];

type PolicyRow = {
  scope: string;
  rotation_s: number | null;
  grace_s: number | null;
  warn_s: number | null;
  lifetime_s: number | null;
  updated_at: string;
  mac: Buffer;
};

const macFields = (r: Omit<PolicyRow, 'mac'>): unknown[] =>
  [r.scope, r.rotation_s, r.grace_s, r.warn_s, r.lifetime_s, r.updated_at];

export function scopeName(scope: PolicyScope): string {
  if ('global' in scope) return 'global';
  if ('service' in scope) return `service:${scope.service}`;
  if ('key' in scope) return `key:${scope.key}`;
  return missingCase(scope);
}

export type Policies = ReadonlyMap<string, PolicyRow>;

export function loadPolicies(vault: Vault): Policies {
  const rows = vault.read((db) => all<PolicyRow>(db, sql`SELECT * FROM policies`));
  const out = new Map<string, PolicyRow>();
  for (const r of rows) {
    vault.checkMac('policies', macFields(r), r.mac, `the ${String(r.scope)} policy`);
    out.set(r.scope, r);
  }
  return out;
}

const column = (f: Field): keyof PolicyRow => `${f}_s` as keyof PolicyRow;

/**
 * Answers of effectivePolicy, per loaded policy set: a run over 100,000 keys
 * asks often. A policy set is a snapshot (loadPolicies makes a new one on
 * every load, setPolicy works on a copy), so a change to the policies in the
 * vault is never answered from here: the next load has no entries. Keyed on
 * everything the answer depends on (the service, and the key id when the key
 * has a policy of its own), bounded at MEMO_LIMIT entries per set (then
 * emptied), and every answer is frozen: a caller cannot change what the next
 * one is given. Held to computePolicy by test/unit/caches.test.ts.
 */
const memo = new WeakMap<Policies, Map<string, EffectivePolicy>>();
export const MEMO_LIMIT = 4096;

/** The policy that applies to a key (memoized: see memo). */
export function effectivePolicy(policies: Policies, key: { id: string; service: string }): EffectivePolicy {
  let cache = memo.get(policies);
  if (!cache) {
    cache = new Map();
    memo.set(policies, cache);
  }
  const cacheKey = policies.has(`key:${key.id}`) ? `key:${key.id}\u0000${key.service}` : `service:${key.service}`;
  const hit = cache.get(cacheKey);
  if (hit) return hit;
  const p = computePolicy(policies, key);
  Object.freeze(p.sources);
  if (cache.size >= MEMO_LIMIT) cache.clear();
  cache.set(cacheKey, Object.freeze(p));
  return p;
}

/** The policy that applies to a key, worked out afresh (effectivePolicy without its memo). */
export function computePolicy(policies: Policies, key: { id: string; service: string }): EffectivePolicy {
  const chain = [`key:${key.id}`, `service:${key.service}`, 'global'];
  const p = { ...DEFAULT_POLICY };
  const sources = { rotation: 'default', grace: 'default', warn: 'default', lifetime: 'default' };
  for (const f of FIELDS) {
    for (const scope of chain) {
      const v = policies.get(scope)?.[column(f)];
      if (typeof v === 'number') {
        p[f] = v;
        sources[f] = scope;
        break;
      }
    }
  }
  return { ...p, sources };
}

/** The effective policy for a scope itself (a service or global one has no key level). */
function effectiveForScope(policies: Policies, scope: PolicyScope, vault: Vault): EffectivePolicy {
  if ('key' in scope) return effectivePolicy(policies, getKey(vault, scope.key));
  if ('service' in scope) return effectivePolicy(policies, { id: '', service: scope.service });
  return effectivePolicy(policies, { id: '', service: '\u0000' });
}

export function validatePolicy(p: Policy, where: string): void {
  const bad = (msg: string) => new KeyholdError('INVALID_INPUT', `policy: ${where}: ${msg}`);
  if (p.rotation < 3600) throw bad('the rotation period must be at least 1h');
  if (p.grace > p.rotation) {
    throw bad(`the grace window (${formatDuration(p.grace)}) exceeds the rotation period (${formatDuration(p.rotation)})`);
  }
  if (p.warn > p.rotation) {
    throw bad(`the warning lead time (${formatDuration(p.warn)}) exceeds the rotation period (${formatDuration(p.rotation)})`);
  }
  if (p.lifetime < p.rotation) {
    throw bad(`the maximum lifetime (${formatDuration(p.lifetime)}) is shorter than the rotation period (${formatDuration(p.rotation)})`);
  }
}

export type PolicyChange = Partial<Record<Field, string>>;

export function setPolicy(vault: Vault, scope: PolicyScope, change: PolicyChange, clear = false): EffectivePolicy {
  const name = scopeName(scope);
  const policies = loadPolicies(vault);
  const old = policies.get(name);
  const parsed: Partial<Record<Field, number | null>> = {};
  for (const f of FIELDS) {
    const t = change[f];
    if (t !== undefined) parsed[f] = parseDuration(t, `policy ${f}`);
  }
  if (!clear && Object.keys(parsed).length === 0) {
    throw new KeyholdError('INVALID_INPUT', 'policy: nothing to set', 'Give at least one of --rotation, --grace, --warn, --lifetime.');
  }
  const row: Omit<PolicyRow, 'mac'> = {
    scope: name,
    rotation_s: clear ? null : (parsed.rotation ?? old?.rotation_s ?? null),
    grace_s: clear ? null : (parsed.grace ?? old?.grace_s ?? null),
    warn_s: clear ? null : (parsed.warn ?? old?.warn_s ?? null),
    lifetime_s: clear ? null : (parsed.lifetime ?? old?.lifetime_s ?? null),
    updated_at: vault.now(),
  };
  const next = new Map(policies);
  next.set(name, { ...row, mac: Buffer.alloc(0) });
  const eff = effectiveForScope(next, scope, vault);
  validatePolicy(eff, name);
  // A change to a wider scope must not leave a narrower one invalid (a global
  // lifetime below a service's rotation period, say): check every scope set.
  for (const other of next.keys()) {
    if (other === name) continue;
    const [kind, ...rest] = other.split(':');
    const id = rest.join(':');
    const s: PolicyScope = kind === 'key' ? { key: id } : kind === 'service' ? { service: id } : { global: true };
    try {
      validatePolicy(effectiveForScope(next, s, vault), other);
    } catch (e) {
      if (e instanceof KeyholdError && e.code === 'INVALID_INPUT') {
        throw new KeyholdError('INVALID_INPUT', `${e.message} (after this change to ${name})`,
          `Change the ${other} policy first, or choose values that keep it valid.`);
      }
      throw e;
    }
  }
  vault.transaction(() => {
    if (clear) run(vault.db, sql`DELETE FROM policies WHERE scope = ${name}`);
    else {
      run(vault.db, sql`INSERT OR REPLACE INTO policies (scope, rotation_s, grace_s, warn_s, lifetime_s, updated_at, mac)
        VALUES (${row.scope}, ${row.rotation_s}, ${row.grace_s}, ${row.warn_s}, ${row.lifetime_s}, ${row.updated_at},
        ${vault.mac('policies', macFields(row))})`);
    }
    vault.audit({
      action: clear ? 'policy.clear' : 'policy.set',
      subject: `policy:${name}`,
      keyId: 'key' in scope ? scope.key : null,
      details: { scope: name, ...Object.fromEntries(FIELDS.map((f) => [f, row[`${f}_s`]])) },
    });
  });
  return clear ? effectiveForScope(loadPolicies(vault), scope, vault) : eff;
}

export function showPolicy(vault: Vault, scope: PolicyScope): EffectivePolicy {
  return effectiveForScope(loadPolicies(vault), scope, vault);
}

export type Due = Readonly<{ status: DueStatus; rotateAt: string | null; notAfter: string | null }>;

export function dueOf(v: Pick<VersionRow, 'state' | 'activated_at' | 'not_after'>, p: Policy, nowMs: number): Due {
  if (v.state !== 'active' || v.activated_at === null) return { status: 'inactive', rotateAt: null, notAfter: v.not_after };
  const rotateAtMs = Date.parse(v.activated_at) + p.rotation * 1000;
  const notAfterMs = v.not_after === null ? Infinity : Date.parse(v.not_after);
  const deadline = Math.min(rotateAtMs, notAfterMs);
  const status: DueStatus = nowMs >= deadline ? 'overdue' : nowMs >= deadline - p.warn * 1000 ? 'due-soon' : 'ok';
  return { status, rotateAt: new Date(rotateAtMs).toISOString(), notAfter: v.not_after };
}
