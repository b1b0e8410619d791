/**
 * How the importer merges revocations (docs/bundle-format.md, 7 and 8.5):
 * the earlier `effectiveAt` always wins, in the keystore, in its
 * `revokedUnknown` list and in the holder secrets; a holder whose every held
 * version of a key is revoked keeps no secret for it (never an older,
 * revoked one), in secrets.json and secrets.env alike, and the apply result
 * and the receipt say so. Issue 15, D1. Bundles are built and applied with
 * the real importer; every apply runs at the same clock, NOW.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyBundle, loadKeystore, type ApplyResult, type Change, type RevokeReason } from '../../importer/src/index.js';
import { tmpDir } from '../helpers/tmp.js';
import { fixture, issue, makeBundle, NOW, type Fixture, type Issued } from './helpers.js';

const at = (ms: number): string => `${new Date(NOW.getTime() + ms).toISOString().slice(0, 19)}Z`;
const HOUR = 3600_000;
const GRACE_END = at(3 * 24 * HOUR);
/** An emergency revocation a minute before the apply: in effect at NOW. */
const EMERGENCY = at(-60_000);

const revoke = (i: Issued, version: number, reason: RevokeReason, effectiveAt: string): Change =>
  ({ type: 'revoke', keyId: i.change.keyId, version, reason, effectiveAt });

type Held = { keyId: string; version: number; revokedAt: string | null; key: string };

/** A holder's state directory and its chain: each step makes the next bundle and applies it. */
async function holder(format: 'json' | 'env') {
  const f: Fixture = await fixture();
  const dir = join(tmpDir('kh-import-'), 'state');
  let seq = 0;
  let prev: string | null = null;
  return {
    dir,
    async step(issued: Issued[], revokes: Change[] = [], now = NOW): Promise<ApplyResult> {
      const b = await makeBundle(f, { issued, revokes, sequence: ++seq, previous: prev });
      prev = b.hash;
      return applyBundle(dir, b.text, { now, privateKey: f.recipient.privateJwk, ...(seq === 1 ? { trustRootText: f.trustText, secretsFormat: format } : {}) });
    },
    held(): Held[] {
      return (JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8')) as { keys: Held[] }).keys;
    },
    env(): string | undefined {
      return existsSync(join(dir, 'secrets.env')) ? readFileSync(join(dir, 'secrets.env'), 'utf8') : undefined;
    },
    receipt(r: ApplyResult): Record<string, unknown> {
      return JSON.parse(readFileSync(r.receiptPath, 'utf8')) as Record<string, unknown>;
    },
  };
}

describe('D1: an emergency revocation after a rotation', () => {
  for (const format of ['env', 'json'] as const) {
    it(`leaves the holder no secret for the key, never the older revoked version (--secrets-format ${format})`, async () => {
      const h = await holder(format);
      const v1 = issue(1, undefined, 'billing-api');
      const v2 = issue(2, v1.change.keyId, 'billing-api');
      const other = issue(1, undefined, 'reports');
      const first = await h.step([v1, other]);
      if (format === 'env') expect(h.env()).toContain(`KEYHOLD_BILLING_API=${v1.key}\n`);
      else expect(h.env()).toBeUndefined();

      // The rotation: v2 issued, v1 superseded at the end of its grace window.
      await h.step([v2], [revoke(v1, 1, 'superseded', GRACE_END)]);
      if (format === 'env') expect(h.env()).toContain(`KEYHOLD_BILLING_API=${v2.key}\n`);
      expect(h.held().filter((k) => k.keyId === v1.change.keyId).map((k) => [k.version, k.revokedAt])).toEqual([[1, GRACE_END], [2, null]]);

      // `key revoke ID --reason compromised`: both versions, now; a revocation-only bundle.
      const r = await h.step([], [revoke(v1, 1, 'compromised', EMERGENCY), revoke(v2, 2, 'compromised', EMERGENCY)]);
      expect(r).toMatchObject({ status: 'applied', issued: 0, revoked: 2, secrets: 0 });

      // The keystore: the earlier (emergency) revocation won over the grace end.
      const ks = loadKeystore(join(h.dir, 'keystore.json'));
      expect(ks.entries.filter((e) => e.keyId === v1.change.keyId).map((e) => [e.version, e.revoked])).toEqual([
        [1, { reason: 'compromised', effectiveAt: EMERGENCY }],
        [2, { reason: 'compromised', effectiveAt: EMERGENCY }],
      ]);
      // The holder: nothing left of the key in any output; the other key untouched.
      const text = readFileSync(join(h.dir, 'secrets.json'), 'utf8') + (h.env() ?? '');
      expect(text.includes(v1.key)).toBe(false);
      expect(text.includes(v2.key)).toBe(false);
      expect(h.held().map((k) => k.keyId)).toEqual([other.change.keyId]);
      if (format === 'env') expect(h.env()).toBe(`KEYHOLD_REPORTS=${other.key}\n`);
      else expect(h.env()).toBeUndefined();

      // ...and the result and the receipt say so (and only then: not when the key was first held).
      expect(first.withdrawn).toEqual([]);
      expect(r.withdrawn).toEqual([{
        keyId: v1.change.keyId, name: 'billing-api', service: 'billing', environment: 'production',
        versions: [{ version: 1, reason: 'compromised', effectiveAt: EMERGENCY }, { version: 2, reason: 'compromised', effectiveAt: EMERGENCY }],
      }]);
      expect(r.message).toMatch(/no secret left for 1 key \(every held version revoked\)/);
      expect(h.receipt(r).withdrawn).toEqual([{ keyId: v1.change.keyId, versions: [1, 2] }]);
      expect(JSON.stringify(r) + JSON.stringify(h.receipt(r))).not.toContain('khk_');

      // Said once: the next bundle has nothing more to withdraw.
      const next = await h.step([]);
      expect(next.withdrawn).toEqual([]);
      expect(h.receipt(next).withdrawn).toEqual([]);
    });
  }

  it('a revocation still ahead but earlier than the grace end moves the held revokedAt earlier; the secret goes at that time', async () => {
    const h = await holder('env');
    const v1 = issue(1, undefined, 'billing-api');
    const v2 = issue(2, v1.change.keyId, 'billing-api');
    await h.step([v1]);
    await h.step([v2], [revoke(v1, 1, 'superseded', GRACE_END)]);
    const soon = at(HOUR);
    const r = await h.step([], [revoke(v1, 1, 'compromised', soon), revoke(v2, 2, 'compromised', soon)]);
    // Not in effect yet: both still held, each with the earlier time; nothing withdrawn yet.
    expect(r.withdrawn).toEqual([]);
    expect(h.held().map((k) => [k.version, k.revokedAt])).toEqual([[1, soon], [2, soon]]);
    expect(h.env()).toBe(`KEYHOLD_BILLING_API=${v2.key}\n`);
    // Applied after that time: no secret, and said so.
    const later = await h.step([], [], new Date(NOW.getTime() + 2 * HOUR));
    expect(h.held()).toEqual([]);
    expect(h.env()).toBe('');
    expect(later.withdrawn.map((w) => [w.keyId, w.versions.map((v) => v.version)])).toEqual([[v1.change.keyId, [1, 2]]]);
  });

  it('a second rotation supersedes the oldest version at once: it leaves secrets.json then, not at its first grace end', async () => {
    const h = await holder('json');
    const v1 = issue(1, undefined, 'billing-api');
    const v2 = issue(2, v1.change.keyId, 'billing-api');
    const v3 = issue(3, v1.change.keyId, 'billing-api');
    await h.step([v1]);
    await h.step([v2], [revoke(v1, 1, 'superseded', GRACE_END)]);
    const r = await h.step([v3], [revoke(v1, 1, 'superseded', EMERGENCY), revoke(v2, 2, 'superseded', GRACE_END)]);
    expect(h.held().map((k) => [k.version, k.revokedAt])).toEqual([[2, GRACE_END], [3, null]]);
    expect(readFileSync(join(h.dir, 'secrets.json'), 'utf8').includes(v1.key)).toBe(false);
    // The key is still held (v2, v3): nothing withdrawn.
    expect(r.withdrawn).toEqual([]);
  });
});

describe('the earlier revocation wins, whatever the order', () => {
  it('a later revocation never postpones an earlier one (keystore and holder)', async () => {
    const h = await holder('env');
    const v1 = issue(1, undefined, 'billing-api');
    await h.step([v1]);
    const soon = at(HOUR);
    await h.step([], [revoke(v1, 1, 'compromised', soon)]);
    await h.step([], [revoke(v1, 1, 'superseded', GRACE_END)]);
    expect(loadKeystore(join(h.dir, 'keystore.json')).entries[0]!.revoked).toEqual({ reason: 'compromised', effectiveAt: soon });
    expect(h.held().map((k) => k.revokedAt)).toEqual([soon]);
  });

  it('revocations of versions never received (revokedUnknown) keep the earlier time too', async () => {
    const h = await holder('json');
    const known = issue(1);
    const unknown = issue(1);
    await h.step([known]);
    await h.step([], [revoke(unknown, 1, 'superseded', GRACE_END)]);
    await h.step([], [revoke(unknown, 1, 'compromised', EMERGENCY)]);
    await h.step([], [revoke(unknown, 1, 'retired', at(30 * 24 * HOUR))]);
    expect(loadKeystore(join(h.dir, 'keystore.json')).revokedUnknown).toEqual([
      { keyId: unknown.change.keyId, version: 1, reason: 'compromised', effectiveAt: EMERGENCY },
    ]);
  });

  it('only the newest version revoked: the holder presents the older one while gateways still accept it (its grace), and withdraws nothing', async () => {
    const h = await holder('env');
    const v1 = issue(1, undefined, 'billing-api');
    const v2 = issue(2, v1.change.keyId, 'billing-api');
    await h.step([v1]);
    await h.step([v2], [revoke(v1, 1, 'superseded', GRACE_END)]);
    const r = await h.step([], [revoke(v2, 2, 'compromised', EMERGENCY)]);
    expect(r.withdrawn).toEqual([]);
    expect(h.held().map((k) => [k.version, k.revokedAt])).toEqual([[1, GRACE_END]]);
    expect(h.env()).toBe(`KEYHOLD_BILLING_API=${v1.key}\n`);
    // At the grace end v1 goes too, and then the key is withdrawn.
    const after = await h.step([], [], new Date(Date.parse(GRACE_END) + 1000));
    expect(h.env()).toBe('');
    expect(after.withdrawn.map((w) => w.versions)).toEqual([[{ version: 1, reason: 'superseded', effectiveAt: GRACE_END }]]);
  });
});
