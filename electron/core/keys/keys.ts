/**
 * API keys in the vault: creation (one or a batch, in one transaction),
 * listing, detail and reveal. Secrets are sealed with an AAD bound to key and
 * version; every change and every reveal writes its audit entry in the same
 * transaction.
 */

import { formatApiKey, KEY_ID_LENGTH, randomBase62, SECRET_LENGTH } from '../../../shared/apikey.js';
import type { EffectivePolicy, KeyCreateSpec, KeyDetail, KeyState, KeySummary, KeyTable, RevealedKey } from '../../../shared/contract.js';
import { canonicalJson } from '../../../shared/canonical-json.js';
import { formatDuration } from '../../../shared/duration.js';
import { parseTime, timePlus } from '../../../shared/time.js';
import { errorCode, KeyholdError } from '../../../shared/errors.js';
import { randomBytes } from '../crypto/primitives.js';
import type { Vault } from '../vault/vault.js';
import { get } from '../vault/db.js';
import { sql, type Sql } from '../vault/sql.js';
import { dueOf, effectivePolicy, loadPolicies } from './policy.js';
import {
  findVersion,
  getKey,
  getVersions,
  insertKey,
  insertVersion,
  eachKeyWithCurrent,
  KEY_AT,
  keysWithCurrent,
  notesAad,
  VERSION_AT,
  secretAad,
  summarize,
  versionInfo,
  type KeyRow,
  type MacChecks,
  type VersionRow,
} from './rows.js';

export { secretAad } from './rows.js';

export type Progress = (done: number, total: number) => void;

/** Reports progress about a hundred times over a run, and at its end. */
export function progressStep(total: number, onProgress?: Progress): (done: number) => void {
  if (!onProgress) return () => undefined;
  const step = Math.max(1, Math.floor(total / 100));
  return (done) => {
    if (done % step === 0 || done === total) onProgress(done, total);
  };
}

function keyExists(spec: KeyCreateSpec): KeyholdError {
  return new KeyholdError('KEY_EXISTS', `key: "${spec.name}" already exists in ${spec.service}/${spec.environment}`,
    'Key names are unique within a service and environment; choose another name.');
}

function isUniqueViolation(e: unknown): boolean {
  const code = errorCode(e);
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

let lastFrom = '';
let lastLifetime = NaN;
let lastNotAfter = '';

/**
 * activation + lifetime, as a time; a batch asks for the same one again and
 * again, so the last answer is kept (one entry, keyed on both arguments: a
 * pure function of them). INVALID_INPUT when it would leave the years a
 * bundle can carry (shared/time.ts): such a version could never be exported.
 * Exported for its test (test/unit/caches.test.ts).
 */
export function notAfter(from: string, lifetimeS: number): string {
  if (from !== lastFrom || lifetimeS !== lastLifetime) {
    lastNotAfter = timePlus(from, lifetimeS, `key: the not-after of a version activated at ${from} with a lifetime of ${formatDuration(lifetimeS)}`,
      'Choose an earlier --activate-at, or a shorter lifetime (keyhold policy set --lifetime).');
    lastFrom = from;
    lastLifetime = lifetimeS;
  }
  return lastNotAfter;
}

/**
 * A fresh secret version, sealed; the plaintext is wiped before returning.
 * With `activateAt` later than now it is pre-active until then.
 */
export function newVersion(vault: Vault, keyId: string, version: number, now: string, lifetimeS: number,
  activateAt?: string): Omit<VersionRow, 'mac'> {
  const secret = Buffer.from(randomBase62(SECRET_LENGTH, randomBytes), 'ascii');
  const pending = activateAt !== undefined && activateAt > now;
  const from = pending ? activateAt : now;
  try {
    return {
      key_id: keyId,
      version,
      state: pending ? 'pre-active' : 'active',
      created_at: now,
      activated_at: from,
      not_after: notAfter(from, lifetimeS),
      grace_until: null,
      revoked_at: null,
      revoke_reason: null,
      destroyed_at: null,
      secret: vault.sealSecret(secretAad(keyId, version), secret),
      row_version: 1,
    };
  } finally {
    secret.fill(0);
  }
}

/** Any UTF-16 surrogate code unit, paired or not. */
const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * The details of a key.create entry, as canonical JSON (audit-log.md, 1.3):
 * exactly canonicalJson of { name, service, environment, scopes, owner,
 * version: 1, state, activateAt? }, written out with its members already in
 * canonical order (activateAt, environment, name, owner, scopes, service,
 * state, version), which costs a fraction of sorting an object per key.
 * Anything but the expected strings, and any string holding a surrogate (an
 * astral character, or a lone surrogate whose treatment is canonicalJson's
 * to decide), goes through canonicalJson itself. Held to canonicalJson over
 * random inputs by test/unit/differential.test.ts.
 */
export function keyCreateDetails(spec: Pick<KeyCreateSpec, 'name' | 'service' | 'environment' | 'scopes' | 'owner'>,
  state: string, activateAt: string | null): string {
  const { name, service, environment, owner } = spec;
  if (typeof name !== 'string' || typeof service !== 'string' || typeof environment !== 'string' ||
      typeof owner !== 'string' || typeof state !== 'string' || (activateAt !== null && typeof activateAt !== 'string') ||
      SURROGATE.test(name) || SURROGATE.test(service) || SURROGATE.test(environment) || SURROGATE.test(owner) ||
      SURROGATE.test(state) || (activateAt !== null && SURROGATE.test(activateAt))) {
    return canonicalJson({ name, service, environment, scopes: spec.scopes, owner, version: 1, state,
      ...(activateAt !== null ? { activateAt } : {}) });
  }
  const j = JSON.stringify;
  return `{${activateAt !== null ? `"activateAt":${j(activateAt)},` : ''}"environment":${j(environment)},"name":${j(name)},` +
    `"owner":${j(owner)},"scopes":${canonicalJson(spec.scopes)},"service":${j(service)},"state":${j(state)},"version":1}`;
}

/**
 * Creates keys in one transaction: all are created, or none. A name already
 * used in the same service and environment (in the vault or earlier in the
 * batch) is refused and nothing is written.
 */
export function createKeys(vault: Vault, specs: readonly KeyCreateSpec[], onProgress?: Progress): KeySummary[] {
  const now = vault.now();
  const policies = loadPolicies(vault);
  const seen = new Set<string>();
  for (const spec of specs) {
    const tag = `${spec.service}\u0000${spec.environment}\u0000${spec.name}`;
    if (seen.has(tag)) throw keyExists(spec);
    seen.add(tag);
  }
  const out: KeySummary[] = new Array<KeySummary>(specs.length);
  const report = progressStep(specs.length, onProgress);
  const activateAt = specs.map((s) => (s.activateAt === undefined ? undefined : parseTime(s.activateAt, 'key --activate-at')));
  // Rows go in in key id order: the ids are random, and inserting them sorted
  // turns scattered B-tree page writes into near-appends (several times
  // faster for a large batch). Results come back in the order asked.
  const ids = specs.map(() => randomBase62(KEY_ID_LENGTH, randomBytes));
  const order = specs.map((_, i) => i).sort((a, b) => ((ids[a] as string) < (ids[b] as string) ? -1 : 1));
  vault.transaction(() => {
    order.forEach((i, done) => {
      const spec = specs[i] as KeyCreateSpec;
      const id = ids[i] as string;
      const key: Omit<KeyRow, 'mac'> = {
        id,
        name: spec.name,
        service: spec.service,
        environment: spec.environment,
        scopes: JSON.stringify(spec.scopes),
        owner: spec.owner,
        notes: spec.notes === '' ? Buffer.alloc(0) : vault.sealField(notesAad(id), spec.notes),
        current_version: 1,
        created_at: now,
        updated_at: now,
        row_version: 1,
      };
      try {
        insertKey(vault, key);
      } catch (e) {
        // The UNIQUE (service, environment, name) index is the check against
        // the vault; the transaction rolls back whole.
        if (isUniqueViolation(e)) throw keyExists(spec);
        throw e;
      }
      const lifetime = effectivePolicy(policies, { id, service: spec.service }).lifetime;
      const version = newVersion(vault, id, 1, now, lifetime, activateAt[i]);
      insertVersion(vault, version);
      vault.audit({ action: 'key.create', subject: `key:${id}`, keyId: id,
        detailsJson: keyCreateDetails(spec, version.state, version.state === 'pre-active' ? version.activated_at : null) });
      out[i] = {
        id, name: spec.name, service: spec.service, environment: spec.environment, scopes: [...spec.scopes],
        owner: spec.owner, state: version.state, currentVersion: 1, createdAt: now,
      };
      report(done + 1);
    });
  });
  return out;
}

export type KeyFilter = Readonly<{ service?: string | undefined; environment?: string | undefined; query?: string | undefined }>;

export function listKeys(vault: Vault, filter: KeyFilter = {}): KeySummary[] {
  const conditions: Sql[] = [];
  if (filter.service !== undefined) conditions.push(sql`k.service = ${filter.service}`);
  if (filter.environment !== undefined) conditions.push(sql`k.environment = ${filter.environment}`);
  const q = filter.query?.toLowerCase();
  const out: KeySummary[] = [];
  for (const [k, v] of keysWithCurrent(vault, conditions)) {
    const s = summarize(k, v);
    if (q && ![s.id, s.name, s.service, s.environment, s.owner, ...s.scopes].some((f) => f.toLowerCase().includes(q))) {
      continue;
    }
    out.push(s);
  }
  return out;
}

export type KeyTableQuery = Readonly<{ order: 'list' | 'id'; after?: string | undefined; before?: string | undefined; limit: number }>;

/**
 * A page of the key list as columns (shared/contract.ts keyTableSchema), with
 * each key's due status under its effective policy: what the app's list needs,
 * in a form that crosses IPC cheaply. Every row read is MAC-checked
 * (keysWithCurrent), as for listKeys. Order 'list' gives the first `limit` keys
 * in key.list's order and no `next`; order 'id' pages through the vault in key
 * id order, the fastest read, `after` the previous page's `next`; `after` and
 * `before` may also bound a range of ids (prefixes), so that a caller can ask
 * for several ranges at once and read one while the next is being made.
 * Past its first rows, a large page has its MACs checked in the vault's
 * worker thread while the rows are read (eachKeyWithCurrent): the table is
 * returned only once every row's are confirmed. `checks` forces where the
 * MACs are checked (for the tests that hold both ways to the same answers).
 */
export async function keyTable(vault: Vault, q: KeyTableQuery, checks: MacChecks = 'auto'): Promise<KeyTable> {
  const byId = q.order === 'id';
  const total = q.after !== undefined || q.before !== undefined ? null
    : vault.read((db) => get<{ n: number }>(db, sql`SELECT count(*) AS n FROM keys`))?.n ?? 0;
  // Read before the rows: the connection is busy while they are stepped through.
  const policies = loadPolicies(vault);
  const nowMs = vault.clock().getTime();
  // Without a policy of a key's own, the policy is the service's: one lookup per service, not per key.
  const perKey = [...policies.keys()].some((scope) => scope.startsWith('key:'));
  const byService = new Map<string, EffectivePolicy>();
  const dict: string[] = [];
  const seen = new Map<string, number>();
  const intern = (text: string): number => {
    let at = seen.get(text);
    if (at === undefined) {
      at = dict.length;
      dict.push(text);
      seen.set(text, at);
    }
    return at;
  };
  // A batch of keys shares its activation time and policy: one due computation each.
  const dues = new Map<EffectivePolicy, Map<string, readonly [number, number]>>();
  const t: Omit<KeyTable, 'total' | 'next' | 'dict'> = {
    id: [], name: [], service: [], environment: [], scopes: [], owner: [], state: [], currentVersion: [], createdAt: [],
    due: [], rotateAt: [],
  };
  const K = KEY_AT;
  const V = VERSION_AT;
  // Every row's state is checked by eachKeyWithCurrent before it gets here, and its MACs before the promise
  // resolves (the table is not returned before); only the columns the list shows are kept.
  const n = await eachKeyWithCurrent(vault, byId ? q : { order: 'list', limit: q.limit }, (r) => {
    const id = r[K.id] as string;
    const service = r[K.service] as string;
    let policy = perKey ? undefined : byService.get(service);
    if (!policy) {
      policy = effectivePolicy(policies, { id, service });
      if (!perKey) byService.set(service, policy);
    }
    const state = r[V.state] as KeyState;
    const activatedAt = r[V.activated_at] as string | null;
    const notAfter = r[V.not_after] as string | null;
    let forPolicy = dues.get(policy);
    if (!forPolicy) dues.set(policy, (forPolicy = new Map<string, readonly [number, number]>()));
    const memo = `${state}\u0000${activatedAt ?? ''}\u0000${notAfter ?? ''}`;
    let due = forPolicy.get(memo);
    if (!due) {
      const d = dueOf({ state, activated_at: activatedAt, not_after: notAfter }, policy, nowMs);
      due = [intern(d.status), d.rotateAt === null ? -1 : intern(d.rotateAt)];
      forPolicy.set(memo, due);
    }
    t.id.push(id);
    t.name.push(r[K.name] as string);
    t.service.push(intern(service));
    t.environment.push(intern(r[K.environment] as string));
    t.scopes.push(intern(r[K.scopes] as string));
    t.owner.push(intern(r[K.owner] as string));
    t.state.push(intern(state));
    t.currentVersion.push(r[K.current_version] as number);
    t.createdAt.push(intern(r[K.created_at] as string));
    t.due.push(due[0]);
    t.rotateAt.push(due[1]);
  }, checks);
  return { total, next: byId && n === q.limit ? (t.id[n - 1] as string) : null, dict, ...t };
}

export function showKey(vault: Vault, id: string): KeyDetail {
  const k = getKey(vault, id);
  const versions = getVersions(vault, k);
  const current = versions[k.current_version - 1] as VersionRow;
  const policy = effectivePolicy(loadPolicies(vault), { id: k.id, service: k.service });
  return {
    ...summarize(k, current),
    notes: vault.openField(notesAad(k.id), k.notes, `the notes of key ${k.id}`),
    updatedAt: k.updated_at,
    versions: versions.map(versionInfo),
    policy,
    due: dueOf(current, policy, vault.clock().getTime()),
  };
}

/** The key's text, for the one who asked; each reveal is an audited event. */
export function revealKey(vault: Vault, id: string, version?: number): RevealedKey {
  const k = getKey(vault, id);
  const want = version ?? k.current_version;
  const versions = getVersions(vault, k);
  const v = findVersion(k, versions, want);
  if (!v.secret) {
    throw new KeyholdError('KEY_NOT_FOUND', `key: ${id} version ${want} was destroyed; its secret no longer exists`);
  }
  const sealed = v.secret;
  return vault.transaction(() => {
    vault.audit({ action: 'key.reveal', subject: `key:${id}`, keyId: id, details: { version: want, state: v.state } });
    const secret = vault.openSecret(secretAad(id, want), sealed, `the secret of key ${id} version ${want}`);
    try {
      return { id, version: want, secret: formatApiKey(id, secret.toString('ascii')) };
    } finally {
      secret.fill(0);
    }
  });
}
