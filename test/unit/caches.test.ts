/**
 * The module-level memo caches of the core, each held to the answer made
 * without it, and shown unable to serve a stale answer once what it depends
 * on changes:
 *
 * - effectivePolicy's memo (keys/policy.ts): per loaded policy set, keyed on
 *   everything the answer depends on, bounded, answers frozen; a policy set
 *   in the vault is seen by the next load (and by the next rotation);
 * - the one-entry memos of notAfter (keys/keys.ts) and plusSeconds
 *   (keys/lifecycle.ts): equal to timePlus for any sequence of calls, and an
 *   input timePlus refuses is refused every time, never answered from before;
 * - workstation() (audit/workstation.ts): kept for the host name it was made
 *   for, so a renamed host is named afresh.
 *
 * Nothing here is a secret.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it, onTestFinished } from 'vitest';
import { workstation } from '../../electron/core/audit/workstation.js';
import { notAfter } from '../../electron/core/keys/keys.js';
import { plusSeconds } from '../../electron/core/keys/lifecycle.js';
import { computePolicy, effectivePolicy, loadPolicies, MEMO_LIMIT } from '../../electron/core/keys/policy.js';
import { KeyholdService } from '../../electron/core/service.js';
import { timePlus } from '../../shared/time.js';
import { DAY_MS, testClock } from '../helpers/clock.js';
import { FAST_KDF, tmpDir } from '../helpers/tmp.js';
import { newPassphrase } from '../integration/helpers/harness.js';

type Policies = Parameters<typeof effectivePolicy>[0];
type PolicyRow = Policies extends ReadonlyMap<string, infer R> ? R : never;
type Key = { id: string; service: string };

const DAY_S = 86_400;

/** The answer without the memo. */
const uncached = (p: Policies, key: Key) => computePolicy(p, key);

function policyRow(scope: string, v: Partial<Record<'rotation_s' | 'grace_s' | 'warn_s' | 'lifetime_s', number | undefined>>): PolicyRow {
  return { scope, rotation_s: v.rotation_s ?? null, grace_s: v.grace_s ?? null, warn_s: v.warn_s ?? null,
    lifetime_s: v.lifetime_s ?? null, updated_at: '2026-01-01T00:00:00.000Z', mac: Buffer.alloc(0) };
}

describe('effectivePolicy and its memo', () => {
  it('answers what it would without the memo, for random policy sets and keys asked in any order, again and again', () => {
    const fieldValue = fc.option(fc.integer({ min: 1, max: 400 }).map((d) => d * DAY_S), { nil: undefined });
    const row = fc.record({ rotation_s: fieldValue, grace_s: fieldValue, warn_s: fieldValue, lifetime_s: fieldValue });
    const services = ['a', 'b', 'c', 'd'];
    const ids = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6'];
    const scope = fc.oneof(fc.constant('global'), fc.constantFrom(...services.map((s) => `service:${s}`)),
      fc.constantFrom(...ids.map((i) => `key:${i}`)));
    const key = fc.record({ id: fc.constantFrom(...ids, ''), service: fc.constantFrom(...services, '\u0000') });
    fc.assert(
      fc.property(fc.array(fc.tuple(scope, row), { maxLength: 8 }), fc.array(key, { minLength: 1, maxLength: 30 }), (rows, keys) => {
        const policies: Policies = new Map(rows.map(([s, v]) => [s, policyRow(s, v)]));
        for (const k of keys) expect(effectivePolicy(policies, k)).toEqual(uncached(policies, k));
      }),
      { numRuns: 2000 },
    );
  });

  it('a key with a policy of its own, asked for under another service, gets that service\'s fields (the memo is keyed on both)', () => {
    const policies: Policies = new Map([
      ['key:k1', policyRow('key:k1', { rotation_s: 10 * DAY_S })],
      ['service:a', policyRow('service:a', { grace_s: 1 * DAY_S })],
      ['service:b', policyRow('service:b', { grace_s: 2 * DAY_S })],
    ]);
    expect(effectivePolicy(policies, { id: 'k1', service: 'a' }).grace).toBe(1 * DAY_S);
    const b = effectivePolicy(policies, { id: 'k1', service: 'b' });
    expect(b).toEqual(uncached(policies, { id: 'k1', service: 'b' }));
    expect(b).toMatchObject({ rotation: 10 * DAY_S, grace: 2 * DAY_S, sources: { rotation: 'key:k1', grace: 'service:b' } });
  });

  it('an answer cannot be changed by the caller it was given to: the next caller gets the uncached answer', () => {
    const policies: Policies = new Map([['service:a', policyRow('service:a', { rotation_s: 30 * DAY_S })]]);
    const key = { id: 'k1', service: 'a' };
    const first = effectivePolicy(policies, key);
    expect(() => {
      (first as { rotation: number }).rotation = 1;
    }).toThrow(TypeError);
    expect(() => {
      (first.sources as { rotation: string }).rotation = 'forged';
    }).toThrow(TypeError);
    expect(effectivePolicy(policies, key)).toEqual(uncached(policies, key));
    expect(effectivePolicy(policies, key).rotation).toBe(30 * DAY_S);
  });

  it(`stays right past its bound (${MEMO_LIMIT} answers per policy set), asked about more services than that, twice over`, () => {
    const policies: Policies = new Map([
      ['global', policyRow('global', { rotation_s: 50 * DAY_S })],
      ['service:s7', policyRow('service:s7', { rotation_s: 7 * DAY_S })],
      ['key:k9', policyRow('key:k9', { grace_s: 3 * DAY_S })],
    ]);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < MEMO_LIMIT + 500; i++) {
        const key = { id: `k${i}`, service: `s${i}` };
        const got = effectivePolicy(policies, key);
        if (got.rotation !== (i === 7 ? 7 : 50) * DAY_S || got.grace !== (i === 9 ? 3 : 7) * DAY_S) {
          expect(got, `round ${round}, key ${i}`).toEqual(uncached(policies, key));
        }
      }
    }
  });

  it('a policy set in the vault is what the next load, the next show and the next rotation use', async () => {
    const dir = tmpDir('keyhold-caches-');
    const clock = testClock();
    const svc = new KeyholdService({ clock: clock.now, actor: 'alice' });
    onTestFinished(() => svc.close());
    await svc.call('vault.create', { path: path.join(dir, 'c.khv'), passphrase: newPassphrase(), kdf: FAST_KDF });
    const k = await svc.call('key.create', { name: 'k', service: 'billing' });
    const key = { id: k.id, service: 'billing' };

    const before = loadPolicies(svc.vault);
    const old = effectivePolicy(before, key);
    expect(old.grace).toBe(7 * DAY_S);

    await svc.call('policy.set', { scope: { service: 'billing' }, grace: '2d' });
    const after = loadPolicies(svc.vault);
    expect(effectivePolicy(after, key)).toEqual(uncached(after, key));
    expect(effectivePolicy(after, key)).toMatchObject({ grace: 2 * DAY_S, sources: { grace: 'service:billing' } });
    expect((await svc.call('policy.show', { scope: { key: k.id } })).grace).toBe(2 * DAY_S);
    // The policy set loaded before the change is a snapshot: it still says what the vault said then.
    expect(effectivePolicy(before, key).grace).toBe(7 * DAY_S);

    clock.advance(DAY_MS);
    const r = await svc.call('key.rotate', { ids: [k.id] });
    expect(r.rotated[0]?.graceUntil).toBe(new Date(clock.ms() + 2 * DAY_MS).toISOString());

    // A key policy of its own, set afterwards, wins from the next load on.
    await svc.call('policy.set', { scope: { key: k.id }, grace: '1d' });
    expect(effectivePolicy(loadPolicies(svc.vault), key)).toMatchObject({ grace: DAY_S, sources: { grace: `key:${k.id}` } });
    clock.advance(DAY_MS);
    const r2 = await svc.call('key.rotate', { ids: [k.id] });
    expect(r2.rotated[0]?.graceUntil).toBe(new Date(clock.ms() + DAY_MS).toISOString());
  });
});

describe('the one-entry time memos of batch work', () => {
  const refused = (f: () => string): string => {
    try {
      return f();
    } catch (e) {
      return `refused: ${(e as { code?: string }).code ?? 'not a KeyholdError'}`;
    }
  };

  it('notAfter and plusSeconds equal timePlus for any sequence of calls, repeats and refusals included', () => {
    const base = fc.oneof(
      fc.constantFrom('2026-01-01T00:00:00.000Z', '2026-06-30T12:00:00.000Z', '9999-12-01T00:00:00.000Z', '0000-01-02T00:00:00.000Z'),
      fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }).map((t) => new Date(t).toISOString()),
    );
    const seconds = fc.oneof(fc.constantFrom(0, -0, 1, 7 * DAY_S, 365 * DAY_S, 400 * 365 * DAY_S, -DAY_S, NaN), fc.integer({ min: -1e9, max: 1e10 }));
    // Calls in a row, each often the same as the one before (what the memo is for).
    const calls = fc.array(fc.tuple(base, seconds, fc.boolean()), { minLength: 1, maxLength: 20 })
      .map((xs) => xs.flatMap(([b, s, twice]) => (twice ? [[b, s], [b, s]] : [[b, s]]) as [string, number][]));
    fc.assert(
      fc.property(calls, (seq) => {
        for (const [b, s] of seq) {
          const want = refused(() => timePlus(b, s, 'x'));
          expect(refused(() => notAfter(b, s)), `notAfter(${b}, ${s})`).toBe(want);
          expect(refused(() => plusSeconds(b, s)), `plusSeconds(${b}, ${s})`).toBe(want);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('a refused input is refused again, and does not leave the previous answer behind for the next input', () => {
    const ok = '2026-01-01T00:00:00.000Z';
    const late = '9999-12-31T00:00:00.000Z';
    for (const f of [notAfter, plusSeconds]) {
      expect(f(ok, DAY_S)).toBe('2026-01-02T00:00:00.000Z');
      expect(refused(() => f(late, 365 * DAY_S))).toBe('refused: INVALID_INPUT');
      expect(refused(() => f(late, 365 * DAY_S))).toBe('refused: INVALID_INPUT');
      expect(f(late, 0)).toBe(late);
      expect(f(ok, DAY_S)).toBe('2026-01-02T00:00:00.000Z');
    }
  });
});

describe('workstation()', () => {
  it('is made afresh for another host name, and equals what it would be without the memo', () => {
    const machineId = ['/etc/machine-id', '/var/lib/dbus/machine-id']
      .map((f) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').trim() : ''))
      .find((v) => v !== '');
    const expected = (host: string) => ({
      host,
      id: createHash('sha256').update(`keyhold workstation v1\0${machineId ?? `${host}/${os.platform()}/${os.arch()}`}`)
        .digest('hex').slice(0, 16),
    });
    const here = os.hostname();
    expect(workstation()).toEqual(expected(here));
    expect(workstation()).toBe(workstation());
    // Renamed while running: the next entry names the new host, not the one remembered.
    expect(workstation('renamed-host')).toEqual(expected('renamed-host'));
    expect(workstation()).toEqual(expected(here));
    expect(Object.isFrozen(workstation())).toBe(true);
  });
});
