/**
 * Quorum unlock (Shamir M-of-N) through the real service on real vault files:
 * a 2-of-3 quorum keyslot, shares collected one custodian at a time, and each
 * bad input of issue 12 for a quorum (fewer than M, a share from another
 * split, the same share twice, a wrong passphrase, a cancelled or idle
 * collection), a paper share in place of a passphrase, a re-share that stops
 * the old shares, and one token custodian on SoftHSM2.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import { wordsToShare } from '../../electron/core/quorum/paper.js';
import { testClock } from '../helpers/clock.js';
import type { SoftHsm } from '../helpers/softhsm.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { closeTokenVault, openTokenVault } from '../helpers/token-vault.js';
import { rejectsWith } from '../token/helpers.js';

const OWNER = 'quorum owner passphrase 1';
const PASS = {
  alice: 'alice keeps the orchard lantern',
  bob: 'bob paints violet harbour stones',
  carol: 'carol whistles under copper bridges',
} as const;
type Name = keyof typeof PASS;

let tmp: TmpDir;

beforeAll(() => {
  tmp = makeTmpDir('keyhold-quorum-');
});
afterAll(() => tmp.remove());

/** A vault with a 2-of-3 quorum slot (alice, bob, carol), locked; the service and the slot id. */
async function quorumVault(file: string, opts: { clock?: () => Date } = {}): Promise<{ svc: KeyholdService; vaultPath: string; slot: number }> {
  const svc = new KeyholdService({ clock: opts.clock });
  const vaultPath = path.join(tmp.dir, file);
  await svc.call('vault.create', { path: vaultPath, passphrase: OWNER, kdf: FAST_KDF });
  await svc.call('key.create', { name: 'gateway', service: 'payments' });
  const slot = await svc.call('slot.addQuorum', {
    m: 2, kdf: FAST_KDF,
    custodians: (Object.keys(PASS) as Name[]).map((name) => ({ name, passphrase: PASS[name] })),
  });
  await svc.call('vault.lock', {});
  return { svc, vaultPath, slot: slot.id };
}

describe('quorum keyslot (2 of 3, passphrase custodians)', () => {
  let svc: KeyholdService;
  let vaultPath: string;
  let slot: number;
  let vaultId: string;
  let alicePaper: string[];

  beforeAll(async () => {
    ({ svc, vaultPath, slot } = await quorumVault('q.db'));
    vaultId = (await svc.call('vault.unlock', { path: vaultPath, passphrase: OWNER })).vaultId;
    alicePaper = (await svc.call('share.paper', { slot, custodian: 'alice', passphrase: PASS.alice })).lines;
    await svc.call('vault.lock', {});
  });
  afterAll(() => svc.shutdown());

  it('lists as a quorum slot with m, n and its custodians, never a sealed share', async () => {
    await svc.call('vault.unlock', { path: vaultPath, passphrase: OWNER });
    const s = (await svc.call('slot.list', {})).find((x) => x.id === slot);
    expect(s).toMatchObject({ type: 'quorum', label: 'quorum 2 of 3',
      params: { method: 'shamir-v1', m: 2, n: 3, custodians: 'alice:passphrase,bob:passphrase,carol:passphrase' } });
    expect(Object.keys(s?.params ?? {}).sort()).toEqual(['custodians', 'm', 'method', 'n', 'split']);
    await svc.call('vault.lock', {});
  });

  it('unlocks with any two custodians (each pair), and not before the second', async () => {
    for (const [a, b] of [['alice', 'bob'], ['alice', 'carol'], ['bob', 'carol']] as [Name, Name][]) {
      const begun = await svc.call('quorum.begin', { path: vaultPath });
      expect(begun).toMatchObject({ slot, m: 2, n: 3, collected: 0, given: [],
        custodians: [{ name: 'alice', kind: 'passphrase' }, { name: 'bob', kind: 'passphrase' }, { name: 'carol', kind: 'passphrase' }] });
      const one = await svc.call('quorum.share', { session: begun.session, custodian: a, passphrase: PASS[a] });
      expect(one).toEqual({ slot, collected: 1, given: [a], needed: 1, unlocked: false });
      expect((await svc.call('vault.status', {})).unlocked).toBe(false);
      await rejectsWith(svc.call('key.list', {}), 'VAULT_LOCKED');
      const two = await svc.call('quorum.share', { session: begun.session, custodian: b, passphrase: PASS[b] });
      expect(two).toMatchObject({ collected: 2, needed: 0, unlocked: true, vault: { vaultId } });
      expect((await svc.call('key.list', {})).map((k) => k.name)).toEqual(['gateway']);
      await svc.call('vault.lock', {});
      // The session ended with the unlock: it cannot take another share.
      await rejectsWith(svc.call('quorum.share', { session: begun.session, custodian: 'carol', passphrase: PASS.carol }), 'QUORUM_SHARE');
    }
  });

  it('fewer than M: one share leaves the vault locked, and a cancel wipes it (a later share on that session fails)', async () => {
    const { session } = await svc.call('quorum.begin', { path: vaultPath });
    await svc.call('quorum.share', { session, custodian: 'alice', passphrase: PASS.alice });
    expect((await svc.call('vault.status', {})).unlocked).toBe(false);
    expect(await svc.call('quorum.cancel', { session })).toEqual({ cancelled: true });
    const e = await rejectsWith(svc.call('quorum.share', { session, custodian: 'bob', passphrase: PASS.bob }), 'QUORUM_SHARE');
    expect(e.message).toMatch(/ended/);
    expect((await svc.call('vault.status', {})).unlocked).toBe(false);
    // A new collection starts from nothing: alice's earlier share is not in it.
    const again = await svc.call('quorum.begin', { path: vaultPath });
    expect(again.collected).toBe(0);
    expect((await svc.call('quorum.share', { session: again.session, custodian: 'bob', passphrase: PASS.bob })).unlocked).toBe(false);
    expect(await svc.call('quorum.cancel', { session: again.session })).toEqual({ cancelled: true });
    expect(await svc.call('quorum.cancel', { session: again.session })).toEqual({ cancelled: false });
  });

  it('a wrong passphrase is that custodian\'s error: nothing collected is lost, and they may retry', async () => {
    const { session } = await svc.call('quorum.begin', { path: vaultPath });
    await svc.call('quorum.share', { session, custodian: 'alice', passphrase: PASS.alice });
    const e = await rejectsWith(svc.call('quorum.share', { session, custodian: 'bob', passphrase: 'not bob at all, sorry' }), 'WRONG_PASSPHRASE');
    expect(e.message).toContain('bob');
    expect(e.message).not.toContain('not bob');
    const r = await svc.call('quorum.share', { session, custodian: 'bob', passphrase: PASS.bob });
    expect(r).toMatchObject({ collected: 2, unlocked: true });
    await svc.call('vault.lock', {});
  });

  it('the same share twice is refused (the same custodian again, or one paper share under another name), nothing lost', async () => {
    const { session } = await svc.call('quorum.begin', { path: vaultPath });
    await svc.call('quorum.share', { session, custodian: 'alice', passphrase: PASS.alice });
    const twice = await rejectsWith(svc.call('quorum.share', { session, custodian: 'alice', passphrase: PASS.alice }), 'QUORUM_SHARE');
    expect(twice.message).toMatch(/given already/);
    const paperTwice = await rejectsWith(svc.call('quorum.share', { session, custodian: 'alice', words: alicePaper.join('\n') }), 'QUORUM_SHARE');
    expect(paperTwice.message).toMatch(/given already/);
    const asBob = await rejectsWith(svc.call('quorum.share', { session, custodian: 'bob', words: alicePaper.join('\n') }), 'QUORUM_SHARE');
    expect(asBob.message).toMatch(/alice's, not bob's/);
    expect((await svc.call('vault.status', {})).unlocked).toBe(false);
    expect(await svc.call('quorum.share', { session, custodian: 'carol', passphrase: PASS.carol })).toMatchObject({ unlocked: true });
    await svc.call('vault.lock', {});
  });

  it('a paper share works in place of a passphrase; a mistyped word names its line', async () => {
    expect(alicePaper).toHaveLength(4);
    for (const line of alicePaper) expect(line.split(' ')).toHaveLength(9);
    const { session } = await svc.call('quorum.begin', { path: vaultPath });
    // One word of line 3 replaced by another word of the list.
    const words = alicePaper.map((l) => l.split(' '));
    const typo = words.map((l, i) => (i === 2 ? l.map((w, j) => (j === 4 ? (w === 'abandon' ? 'ability' : 'abandon') : w)) : l));
    const bad = await rejectsWith(svc.call('quorum.share', { session, custodian: 'alice', words: typo.map((l) => l.join(' ')).join('\n') }), 'INVALID_INPUT');
    expect(bad.message).toMatch(/line 3/);
    const notAWord = await rejectsWith(svc.call('quorum.share', { session, custodian: 'alice',
      words: words.map((l, i) => (i === 1 ? ['zzzz', ...l.slice(1)] : l).join(' ')).join('\n') }), 'INVALID_INPUT');
    expect(notAWord.message).toMatch(/line 2, word 1/);
    // Numbered lines, upper case and extra spaces, as a person types them.
    const typed = alicePaper.map((l, i) => `${i + 1}.  ${l.toUpperCase()}`).join('\n');
    expect((await svc.call('quorum.share', { session, custodian: 'alice', words: typed })).collected).toBe(1);
    expect(await svc.call('quorum.share', { session, custodian: 'carol', passphrase: PASS.carol })).toMatchObject({ unlocked: true });
    // The paper copy was audited (who, which slot), never its words.
    const { entries } = await svc.call('audit.list', { action: 'share.paper' });
    expect(entries).toHaveLength(1);
    expect(JSON.stringify(entries)).not.toContain(alicePaper[0]?.split(' ')[0] ?? '-');
    await svc.call('vault.lock', {});
  });

  it('an unknown custodian, or a credential of the wrong kind, is bad input; the collection goes on', async () => {
    const { session } = await svc.call('quorum.begin', { path: vaultPath });
    await rejectsWith(svc.call('quorum.share', { session, custodian: 'mallory', passphrase: PASS.alice }), 'INVALID_INPUT');
    await rejectsWith(svc.call('quorum.share', { session, custodian: 'alice', pin: '123456' }), 'INVALID_INPUT');
    expect((await svc.call('quorum.share', { session, custodian: 'alice', passphrase: PASS.alice })).collected).toBe(1);
    await svc.call('quorum.cancel', { session });
  });

  it('a lock wipes a collection in progress', async () => {
    const { session } = await svc.call('quorum.begin', { path: vaultPath });
    await svc.call('quorum.share', { session, custodian: 'alice', passphrase: PASS.alice });
    await svc.call('vault.lock', {});
    await rejectsWith(svc.call('quorum.share', { session, custodian: 'bob', passphrase: PASS.bob }), 'QUORUM_SHARE');
  });

  it('re-share: a new slot and split in one audited transaction; every old share (paper included) stops working', async () => {
    await svc.call('vault.unlock', { path: vaultPath, passphrase: OWNER });
    const before = (await svc.call('slot.list', {})).find((s) => s.id === slot);
    const dave = 'dave counts seventeen quiet comets';
    const r = await svc.call('slot.reshare', { slot, kdf: FAST_KDF, custodians: [
      { name: 'alice', passphrase: PASS.alice }, { name: 'bob', passphrase: PASS.bob }, { name: 'dave', passphrase: dave }] });
    expect(r.removed).toBe(slot);
    expect(r.slot).toMatchObject({ type: 'quorum', params: { m: 2, n: 3, custodians: 'alice:passphrase,bob:passphrase,dave:passphrase' } });
    expect(r.slot.params.split).not.toBe(before?.params.split);
    const slots = await svc.call('slot.list', {});
    expect(slots.map((s) => s.id)).not.toContain(slot);
    const audit = (await svc.call('audit.list', { limit: 10_000 })).entries;
    const add = audit.find((e) => e.action === 'slot.add' && e.subject === `keyslot:${r.slot.id}`);
    const remove = audit.find((e) => e.action === 'slot.remove' && e.subject === `keyslot:${slot}`);
    expect(add?.details).toMatchObject({ type: 'quorum', replaces: slot });
    expect(remove?.details).toMatchObject({ type: 'quorum', replacedBy: r.slot.id });
    expect(remove?.seq).toBe((add?.seq ?? 0) + 1);
    await svc.call('vault.lock', {});

    const { session, slot: now } = await svc.call('quorum.begin', { path: vaultPath });
    expect(now).toBe(r.slot.id);
    // Alice's paper share of the old split: refused as another split's, and the collection goes on.
    const old = await rejectsWith(svc.call('quorum.share', { session, custodian: 'alice', words: alicePaper.join('\n') }), 'QUORUM_SHARE');
    expect(old.message).toMatch(/current split/);
    // Carol is no custodian any more.
    await rejectsWith(svc.call('quorum.share', { session, custodian: 'carol', passphrase: PASS.carol }), 'INVALID_INPUT');
    await svc.call('quorum.share', { session, custodian: 'alice', passphrase: PASS.alice });
    expect(await svc.call('quorum.share', { session, custodian: 'dave', passphrase: dave })).toMatchObject({ unlocked: true, vault: { vaultId } });
    await svc.call('vault.lock', {});
    slot = r.slot.id;
  });

  it('a share from another quorum (another vault\'s split) is refused', async () => {
    const other = await quorumVault('other.db');
    try {
      await other.svc.call('vault.unlock', { path: other.vaultPath, passphrase: OWNER });
      const foreign = await other.svc.call('share.paper', { slot: other.slot, custodian: 'bob', passphrase: PASS.bob });
      await other.svc.call('vault.lock', {});
      const { session } = await svc.call('quorum.begin', { path: vaultPath });
      const e = await rejectsWith(svc.call('quorum.share', { session, custodian: 'bob', words: foreign.text }), 'QUORUM_SHARE');
      expect(e.message).toMatch(/current split/);
      await svc.call('quorum.cancel', { session });
    } finally {
      await other.svc.shutdown();
    }
  });

  it('the paper text decodes back to the same share; the QR is an SVG', async () => {
    await svc.call('vault.unlock', { path: vaultPath, passphrase: OWNER });
    const p = await svc.call('share.paper', { slot, custodian: 'bob', passphrase: PASS.bob });
    expect(p.qr).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    expect(wordsToShare(p.text).equals(wordsToShare(p.lines.join(' ')))).toBe(true);
    await rejectsWith(svc.call('share.paper', { slot, custodian: 'bob', passphrase: PASS.alice }), 'WRONG_PASSPHRASE');
    await svc.call('vault.lock', {});
  });
});

describe('quorum collection idle time', () => {
  it('a collection left idle for 5 minutes is wiped', async () => {
    const clock = testClock();
    const { svc, vaultPath } = await quorumVault('idle.db', { clock: clock.now });
    try {
      const { session } = await svc.call('quorum.begin', { path: vaultPath });
      await svc.call('quorum.share', { session, custodian: 'alice', passphrase: PASS.alice });
      clock.advance(5 * 60 * 1000 + 1);
      await rejectsWith(svc.call('quorum.share', { session, custodian: 'bob', passphrase: PASS.bob }), 'QUORUM_SHARE');
      expect((await svc.call('vault.status', {})).unlocked).toBe(false);
      // Idle means without a share: each share starts the 5 minutes again.
      const again = await svc.call('quorum.begin', { path: vaultPath });
      clock.advance(4 * 60 * 1000);
      await svc.call('quorum.share', { session: again.session, custodian: 'alice', passphrase: PASS.alice });
      clock.advance(4 * 60 * 1000);
      expect(await svc.call('quorum.share', { session: again.session, custodian: 'bob', passphrase: PASS.bob })).toMatchObject({ unlocked: true });
    } finally {
      await svc.shutdown();
    }
  });

  it('a vault without a quorum slot says so at begin', async () => {
    const svc = new KeyholdService();
    const vaultPath = path.join(tmp.dir, 'plain.db');
    try {
      await svc.call('vault.create', { path: vaultPath, passphrase: OWNER, kdf: FAST_KDF });
      await svc.call('vault.lock', {});
      await rejectsWith(svc.call('quorum.begin', { path: vaultPath }), 'KEYSLOT_NOT_FOUND');
      expect(fs.existsSync(vaultPath)).toBe(true);
    } finally {
      await svc.shutdown();
    }
  });
});

describe('quorum with a token custodian (SoftHSM2)', () => {
  const PIN = '123456';
  let hsm: SoftHsm;
  let ttmp: TmpDir;
  let svc: KeyholdService;
  let vaultPath: string;

  beforeAll(async () => {
    ({ hsm, tmp: ttmp, svc, vaultPath } = await openTokenVault({ tokens: [{ label: 'custcard' }], tmpPrefix: 'keyhold-quorum-token-', passphrase: OWNER }));
  });
  afterAll(() => closeTokenVault({ svc, hsm, tmp: ttmp }));

  it('a 2-of-3 slot with a token custodian unlocks with a passphrase and the token\'s PIN; a wrong PIN loses nothing', async () => {
    const slot = await svc.call('slot.addQuorum', { m: 2, kdf: FAST_KDF, custodians: [
      { name: 'alice', passphrase: PASS.alice },
      { name: 'card', token: 'custcard', keyLabel: 'quorum-share', pin: PIN },
      { name: 'carol', passphrase: PASS.carol }] });
    expect(slot.params.custodians).toBe('alice:passphrase,card:token,carol:passphrase');
    await svc.call('vault.lock', {});

    const { session, custodians } = await svc.call('quorum.begin', { path: vaultPath });
    expect(custodians).toContainEqual({ name: 'card', kind: 'token', token: { label: 'custcard', serial: expect.any(String) as string } });
    await svc.call('quorum.share', { session, custodian: 'alice', passphrase: PASS.alice });
    const wrong = await rejectsWith(svc.call('quorum.share', { session, custodian: 'card', pin: '654321' }), 'TOKEN_PIN_INCORRECT');
    expect(wrong.message).not.toContain('654321');
    const r = await svc.call('quorum.share', { session, custodian: 'card', pin: PIN });
    expect(r).toMatchObject({ collected: 2, unlocked: true, given: ['alice', 'card'] });
    expect((await svc.call('vault.status', {})).unlocked).toBe(true);

    // The token custodian's own paper copy, unsealed with the PIN, counts in its place.
    const paper = await svc.call('share.paper', { slot: slot.id, custodian: 'card', pin: PIN });
    await svc.call('vault.lock', {});
    const again = await svc.call('quorum.begin', { path: vaultPath });
    await svc.call('quorum.share', { session: again.session, custodian: 'card', words: paper.text });
    expect(await svc.call('quorum.share', { session: again.session, custodian: 'carol', passphrase: PASS.carol })).toMatchObject({ unlocked: true });
    await svc.call('vault.lock', {});
  });

  it('a quorum unlock with the token custodian refuses a copy older than the token\'s record, and opens it with the audited override', async () => {
    // The card is registered (a quorum share is sealed to it): a change while it is logged in moves its record.
    const old = path.join(ttmp.dir, 'old.db');
    fs.copyFileSync(vaultPath, old);
    const first = await svc.call('quorum.begin', { path: vaultPath });
    await svc.call('quorum.share', { session: first.session, custodian: 'card', pin: PIN });
    await svc.call('quorum.share', { session: first.session, custodian: 'alice', passphrase: PASS.alice });
    await svc.call('key.create', { name: 'after-copy', service: 'payments' });
    await svc.call('vault.lock', {});

    const bytes = fs.readFileSync(old);
    const collect = async (acceptRollback?: { reason: string }) => {
      const { session } = await svc.call('quorum.begin', { path: old });
      await svc.call('quorum.share', { session, custodian: 'alice', passphrase: PASS.alice });
      return svc.call('quorum.share', { session, custodian: 'card', pin: PIN, ...(acceptRollback ? { acceptRollback } : {}) });
    };
    const refused = await rejectsWith(collect(), 'ROLLBACK_DETECTED');
    expect(refused.message).toContain('older copy');
    expect(fs.readFileSync(old).equals(bytes)).toBe(true);
    expect((await svc.call('vault.status', {})).unlocked).toBe(false);

    const reason = 'restoring the copy kept off-site';
    expect(await collect({ reason })).toMatchObject({ unlocked: true });
    const accepted = (await svc.call('audit.list', { action: 'vault.rollbackAccepted' })).entries;
    expect(accepted.map((e) => (e.details as { reason: string }).reason)).toEqual([reason]);
    expect((await svc.call('audit.verify', {})).ok).toBe(true);
    await svc.call('vault.lock', {});
  });
});
