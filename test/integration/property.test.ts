/**
 * Property test of the key lifecycle: random sequences of create, rotate,
 * revoke, destroy, reveal and clock advances on a real vault (one per run),
 * checked after every step against a model of the allowed transitions
 * (LEGAL_TRANSITIONS) and against the audit log. Nothing here prints a secret:
 * a counterexample is a list of actions with key and version numbers.
 */
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLegal, LEGAL_TRANSITIONS } from '../../electron/core/keys/lifecycle.js';
import { KeyholdService } from '../../electron/core/service.js';
import { parseApiKey } from '../../shared/apikey.js';
import type { AuditEntry, KeyDetail, KeyState, RevokeReason } from '../../shared/contract.js';
import { isKeyholdError, type ErrorCode } from '../../shared/errors.js';
import { DAY_MS, testClock, type TestClock } from '../helpers/clock.js';
import { FAST_KDF, makeTmpDir } from '../helpers/tmp.js';
import { codeOf, describeThrown, newPassphrase } from './helpers/harness.js';

type Action =
  | { kind: 'create' }
  | { kind: 'rotate'; key: number }
  | { kind: 'revoke'; key: number; version: number | null; reason: RevokeReason }
  | { kind: 'destroy'; key: number; version: number | null }
  | { kind: 'reveal'; key: number; version: number | null }
  | { kind: 'advance'; ms: number };

const REASONS: readonly RevokeReason[] = ['compromised', 'superseded', 'retired', 'other'];
const ALLOWED_ERRORS: readonly ErrorCode[] = ['ILLEGAL_TRANSITION', 'KEY_NOT_FOUND'];
const LIVE: readonly KeyState[] = ['pre-active', 'active', 'retiring'];
const UNKNOWN_ID = 'ZZZZZZZZZZZZZZZZ';

const keyPick = fc.nat({ max: 1000 });
const versionPick = fc.option(fc.integer({ min: 1, max: 5 }), { nil: null, freq: 2 });
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'create' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('rotate' as const), key: keyPick }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('revoke' as const), key: keyPick, version: versionPick,
    reason: fc.constantFrom(...REASONS) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('destroy' as const), key: keyPick, version: versionPick }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reveal' as const), key: keyPick, version: versionPick }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 120 * DAY_MS }) }) },
);

/** The key an action names: one of the vault's, or (1 time in 8, or when there are none) an unknown id. */
function pickKey(ids: readonly string[], n: number): string {
  if (ids.length === 0 || n % 8 === 7) return UNKNOWN_ID;
  return ids[n % ids.length] as string;
}

type Snapshot = Map<string, KeyDetail>;

async function snapshotOf(svc: KeyholdService, ids: readonly string[]): Promise<Snapshot> {
  const m: Snapshot = new Map();
  for (const id of ids) m.set(id, await svc.call('key.show', { id }));
  return m;
}

type Outcome = 'ok' | ErrorCode | 'ok-or-KEY_NOT_FOUND';

/** What the lifecycle allows, from the state before the step. */
function predict(a: Action, id: string, before: Snapshot): Outcome {
  if (a.kind === 'create' || a.kind === 'advance') return 'ok';
  const k = before.get(id);
  if (!k) return 'KEY_NOT_FOUND';
  const byVersion = (v: number) => k.versions.find((x) => x.version === v);
  switch (a.kind) {
    case 'rotate':
      return byVersion(k.currentVersion)?.state === 'active' ? 'ok' : 'ILLEGAL_TRANSITION';
    case 'revoke': {
      if (a.version === null) return k.versions.some((v) => LIVE.includes(v.state)) ? 'ok' : 'ILLEGAL_TRANSITION';
      const v = byVersion(a.version);
      if (!v) return 'KEY_NOT_FOUND';
      return LIVE.includes(v.state) ? 'ok' : 'ILLEGAL_TRANSITION';
    }
    case 'destroy': {
      if (a.version === null) {
        if (k.versions.some((v) => LIVE.includes(v.state))) return 'ILLEGAL_TRANSITION';
        return k.versions.some((v) => v.state === 'revoked') ? 'ok' : 'ILLEGAL_TRANSITION';
      }
      const v = byVersion(a.version);
      if (!v) return 'KEY_NOT_FOUND';
      return v.state === 'revoked' ? 'ok' : 'ILLEGAL_TRANSITION';
    }
    case 'reveal': {
      const v = byVersion(a.version ?? k.currentVersion);
      if (!v || v.state === 'destroyed') return 'KEY_NOT_FOUND';
      // Whether a revoked version may still be revealed is not fixed here; live ones must be.
      return v.state === 'revoked' ? 'ok-or-KEY_NOT_FOUND' : 'ok';
    }
  }
}

/** The state every existing version must have after a successful step (new versions are checked apart). */
function expectedStates(a: Action, id: string, before: Snapshot, nowMs: number): Map<string, KeyState[]> {
  const out = new Map<string, KeyState[]>();
  for (const [kid, k] of before) {
    out.set(kid, k.versions.map((v) => {
      if (a.kind === 'advance') {
        return v.state === 'retiring' && v.graceUntil !== null && Date.parse(v.graceUntil) <= nowMs ? 'revoked' : v.state;
      }
      if (kid !== id) return v.state;
      switch (a.kind) {
        case 'rotate':
          if (v.state === 'retiring') return 'revoked';
          return v.version === k.currentVersion ? 'retiring' : v.state;
        case 'revoke':
          if (a.version === null) return LIVE.includes(v.state) ? 'revoked' : v.state;
          return v.version === a.version ? 'revoked' : v.state;
        case 'destroy':
          if (a.version === null) return v.state === 'revoked' ? 'destroyed' : v.state;
          return v.version === a.version ? 'destroyed' : v.state;
        default:
          return v.state;
      }
    }));
  }
  return out;
}

function describeAction(a: Action, id: string, ids: readonly string[]): string {
  const key = id === UNKNOWN_ID ? 'unknown key' : `key #${ids.indexOf(id)}`;
  switch (a.kind) {
    case 'create': return 'create';
    case 'advance': return `advance ${(a.ms / DAY_MS).toFixed(2)}d`;
    case 'rotate': return `rotate ${key}`;
    case 'revoke': return `revoke ${key} ${a.version === null ? 'all' : `v${a.version}`} (${a.reason})`;
    case 'destroy': return `destroy ${key} ${a.version === null ? 'all' : `v${a.version}`}`;
    case 'reveal': return `reveal ${key} ${a.version === null ? 'current' : `v${a.version}`}`;
  }
}

/** Checks that hold after every step, whatever it was. */
function checkInvariants(snap: Snapshot, where: string): void {
  for (const [id, k] of snap) {
    const active = k.versions.filter((v) => v.state === 'active');
    expect(active.length, `${where}: key #${id.slice(0, 4)} has ${active.length} active versions`).toBeLessThanOrEqual(1);
    expect(k.versions.map((v) => v.version), `${where}: versions are not 1..current`).toEqual(
      Array.from({ length: k.currentVersion }, (_, i) => i + 1));
    expect(k.state, `${where}: the key's state is not its current version's`).toBe(k.versions[k.currentVersion - 1]?.state);
    // Only the current version can be active.
    for (const v of active) expect(v.version, `${where}: an old version is active`).toBe(k.currentVersion);
    for (const v of k.versions) {
      expect(v.state === 'destroyed', `${where}: destroyedAt and state disagree`).toBe(v.destroyedAt !== null);
      if (v.state === 'revoked' || v.state === 'destroyed') expect(v.revokedAt, `${where}: revoked without a time`).not.toBeNull();
      if (v.state === 'retiring') expect(v.graceUntil, `${where}: retiring without a grace end`).not.toBeNull();
    }
  }
}

type Tally = Map<string, number>;

function count(t: Tally, what: string): void {
  t.set(what, (t.get(what) ?? 0) + 1);
}

async function runSequence(actions: readonly Action[], tally: Tally = new Map()): Promise<void> {
  const tmp = makeTmpDir('keyhold-prop-');
  const clock: TestClock = testClock();
  const svc = new KeyholdService({ clock: clock.now, actor: 'prop' });
  try {
    await svc.call('vault.create', { path: path.join(tmp.dir, 'prop.khv'), passphrase: newPassphrase(), kdf: FAST_KDF });
    const ids: string[] = [];
    let before: Snapshot = new Map();
    let head = svc.vault.auditHead.seq;
    const log: string[] = [];

    for (const [i, a] of actions.entries()) {
      const id = 'key' in a ? pickKey(ids, a.key) : '';
      const desc = describeAction(a, id, ids);
      log.push(desc);
      const where = `step ${i} (${log.slice(-6).join(' > ')})`;
      const want = predict(a, id, before);

      let got: 'ok' | ErrorCode = 'ok';
      let created: string | null = null;
      let revealed: { id: string; version: number; secret: string } | null = null;
      try {
        switch (a.kind) {
          case 'create':
            created = (await svc.call('key.create', { name: `k${ids.length}`, service: `svc${ids.length % 3}` })).id;
            ids.push(created);
            break;
          case 'rotate':
            await svc.call('key.rotate', { ids: [id] });
            break;
          case 'revoke':
            await svc.call('key.revoke', a.version === null ? { id, reason: a.reason } : { id, version: a.version, reason: a.reason });
            break;
          case 'destroy':
            await svc.call('key.destroy', a.version === null ? { id } : { id, version: a.version });
            break;
          case 'reveal':
            revealed = await svc.call('key.reveal', a.version === null ? { id } : { id, version: a.version });
            break;
          case 'advance':
            clock.advance(a.ms);
            // Any command runs housekeeping first: retiring versions past their grace end become revoked.
            await svc.call('key.list', {});
            break;
        }
      } catch (e) {
        expect(isKeyholdError(e), `${where}: threw ${describeThrown(e)}`).toBe(true);
        got = codeOf(e);
        expect(ALLOWED_ERRORS, `${where}: unexpected ${describeThrown(e)}`).toContain(got);
      }
      count(tally, `${a.kind} ${got}`);
      if (want === 'ok-or-KEY_NOT_FOUND') expect(['ok', 'KEY_NOT_FOUND'], where).toContain(got);
      else expect(got, `${where}: outcome`).toBe(want);

      const after = await snapshotOf(svc, ids);
      checkInvariants(after, where);
      const newHead = svc.vault.auditHead.seq;
      const entries: AuditEntry[] = (await svc.call('audit.list', { after: head, limit: 10_000 })).entries;
      expect(entries.length, `${where}: audit head and listing disagree`).toBe(newHead - head);

      if (got !== 'ok') {
        // A refused command changes nothing and writes nothing.
        expect(newHead, `${where}: a refused command wrote to the audit log`).toBe(head);
        expect(after.size).toBe(before.size);
        for (const [kid, k] of before) expect(after.get(kid), `${where}: a refused command changed a key`).toEqual(k);
      } else {
        // Every version either kept its state or made a legal move, and exactly the expected one.
        const expected = expectedStates(a, id, before, clock.ms());
        const changedKeys = new Set<string>();
        for (const [kid, k] of before) {
          const now = after.get(kid) as KeyDetail;
          k.versions.forEach((v, j) => {
            const to = now.versions[j]?.state as KeyState;
            if (to !== v.state) {
              expect(isLegal(v.state, to), `${where}: forbidden move ${v.state} -> ${to} (allowed: ${LEGAL_TRANSITIONS[v.state].join(', ') || 'none'})`).toBe(true);
              changedKeys.add(kid);
            }
          });
          expect(now.versions.slice(0, k.versions.length).map((v) => v.state), `${where}: version states`).toEqual(expected.get(kid));
          const added = now.versions.slice(k.versions.length);
          if (added.length > 0) {
            expect(a.kind === 'rotate' && kid === id, `${where}: a version appeared without a rotation`).toBe(true);
            expect(added.map((v) => v.state)).toEqual(['active']);
            changedKeys.add(kid);
          }
        }
        if (created !== null) {
          expect(after.get(created)?.versions.map((v) => v.state)).toEqual(['active']);
          changedKeys.add(created);
        }
        // Every change is in the log, stamped with the clock's time at this step.
        if (changedKeys.size > 0) expect(entries.length, `${where}: state changed but no audit entry`).toBeGreaterThan(0);
        for (const kid of changedKeys) {
          expect(entries.some((e) => e.keyId === kid), `${where}: key #${ids.indexOf(kid)} changed with no audit entry naming it`).toBe(true);
        }
        for (const e of entries) expect(e.at, `${where}: ${e.action} entry time`).toBe(clock.iso());
        if (a.kind === 'reveal') {
          expect(entries.map((e) => [e.action, e.keyId])).toEqual([['key.reveal', id]]);
          expect(revealed?.version).toBe(a.version ?? before.get(id)?.currentVersion);
          expect(parseApiKey(revealed?.secret ?? '').keyId).toBe(id);
        }
        if (a.kind === 'advance' && changedKeys.size === 0) expect(entries, `${where}: housekeeping wrote with nothing to do`).toEqual([]);
        if (a.kind === 'advance') for (const e of entries) expect(e.action).toBe('key.retire');
        if (a.kind === 'advance' && entries.length > 0) count(tally, 'housekeeping retired');
        if (a.kind === 'revoke') {
          for (const v of (after.get(id) as KeyDetail).versions) {
            const was = (before.get(id) as KeyDetail).versions[v.version - 1];
            if (was?.state !== v.state) expect(v).toMatchObject({ revokeReason: a.reason, revokedAt: clock.iso() });
          }
        }
      }
      before = after;
      head = newHead;
    }

    const verify = await svc.call('audit.verify', {});
    expect(verify, 'audit.verify at the end of the run').toMatchObject({ ok: true, firstBroken: null, entries: head });
  } finally {
    svc.close();
    tmp.remove();
  }
}

describe('key lifecycle under random sequences', () => {
  it('never makes a forbidden transition, records every change in the audit log, and refuses cleanly', async () => {
    // A fixed default seed keeps CI reproducible (and the coverage check below
    // meaningful); set KEYHOLD_PROPERTY_SEED to explore other sequences.
    const seed = Number(process.env.KEYHOLD_PROPERTY_SEED ?? 20261127);
    let runs = 0;
    const tally: Tally = new Map();
    await fc.assert(
      fc.asyncProperty(fc.array(actionArb, { minLength: 5, maxLength: 40, size: 'max' }), async (actions) => {
        runs++;
        await runSequence(actions, tally);
      }),
      // No shrinking: each run builds a vault; a failure reports the seed and path to replay it.
      { numRuns: 25, endOnFailure: true, seed },
    );
    expect(runs).toBe(25);
    // The runs reached the interesting cases, not only refusals of unknown keys.
    for (const what of ['create ok', 'rotate ok', 'rotate ILLEGAL_TRANSITION', 'revoke ok', 'revoke ILLEGAL_TRANSITION',
      'destroy ok', 'destroy ILLEGAL_TRANSITION', 'reveal ok', 'reveal KEY_NOT_FOUND', 'advance ok', 'housekeeping retired']) {
      expect(tally.get(what) ?? 0, `no "${what}" in 25 runs (seed ${seed}): ${JSON.stringify([...tally])}`).toBeGreaterThan(0);
    }
  });

  it('a fixed sequence exercises every kind of step (the generator is not starved)', async () => {
    const d = (key: number, version: number | null = null) => ({ key, version });
    await runSequence([
      { kind: 'create' }, { kind: 'create' },
      { kind: 'reveal', ...d(0) },
      { kind: 'rotate', key: 0 }, { kind: 'rotate', key: 0 },
      { kind: 'reveal', ...d(0, 2) },
      { kind: 'advance', ms: 8 * DAY_MS },
      { kind: 'revoke', ...d(1, 1), reason: 'retired' },
      { kind: 'revoke', ...d(1), reason: 'other' },
      { kind: 'destroy', ...d(0) },
      { kind: 'destroy', ...d(1) },
      { kind: 'destroy', ...d(1) },
      { kind: 'reveal', ...d(1) },
      { kind: 'rotate', key: 1 },
      { kind: 'revoke', ...d(0), reason: 'compromised' },
      { kind: 'destroy', ...d(0, 1) },
      { kind: 'destroy', ...d(0) },
      { kind: 'rotate', key: 7 },
      { kind: 'advance', ms: 100 * DAY_MS },
    ]);
  });
});
