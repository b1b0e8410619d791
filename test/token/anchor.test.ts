/**
 * The rollback anchor (electron/core/token/anchor.ts) on real SoftHSM2 tokens,
 * through the service: each change writes the vault's audit head to a private
 * data object on the registered token (read back with OpenSC's pkcs11-tool, a
 * second PKCS#11 client); an older or forked copy of the vault file is refused
 * at unlock by token, unchanged; the audited override opens it and moves the
 * anchor; another vault's or an edited anchor is refused; a passphrase unlock
 * with no token logged in is not blocked; a token away during a change, or
 * pulled out while its anchor is written, is brought up to date at its next
 * login; one logged in later in a session of an old copy is checked first and
 * left as it is.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import type { SoftHsm } from '../helpers/softhsm.js';
import { FAST_KDF, type TmpDir } from '../helpers/tmp.js';
import { closeTokenVault, openTokenVault } from '../helpers/token-vault.js';
import pkcs11js from 'pkcs11js';
import { FaultInjector } from './fault-driver.js';
import { pkcs11Tool, rejectsWith } from './helpers.js';

const PIN = '123456';
const PASSPHRASE = 'anchor test passphrase';

let hsm: SoftHsm;
let tmp: TmpDir;
let svc: KeyholdService;
let vaultPath: string;
let vaultId: string;
/** Every service of the file goes through it (one driver per module per process): removals at a chosen call. */
const inj = new FaultInjector();
const notices: string[] = [];

beforeAll(async () => {
  ({ hsm, tmp, svc, vaultPath } = await openTokenVault({
    tokens: [{ label: 'card' }],
    tmpPrefix: 'keyhold-anchor-',
    passphrase: PASSPHRASE,
    service: (h) => ({ tokens: { module: h.module, driverFactory: inj.factory }, onNotice: (m) => notices.push(m) }),
  }));
  vaultId = (await svc.call('vault.info', {})).vaultId;
});

afterAll(() => closeTokenVault({ svc, hsm, tmp }));

const label = (id: string): string => `keyhold-anchor:${id}`;

/** pkcs11-tool on the test's token; `login` adds the PIN. */
function tool(args: string[], login = false): string {
  return pkcs11Tool(hsm.module, hsm.env, ['--token-label', 'card', ...(login ? ['--login', '--pin', PIN] : []), ...args]);
}

/** The anchor's value read by pkcs11-tool (a second client), after login. */
function readAnchor(id = vaultId): Record<string, unknown> {
  const file = path.join(tmp.dir, `read-${Date.now()}.json`);
  tool(['--read-object', '--type', 'data', '--label', label(id), '--output-file', file], true);
  const text = fs.readFileSync(file, 'utf8');
  fs.rmSync(file);
  return JSON.parse(text) as Record<string, unknown>;
}

/** Replaces the anchor object of `id` with `value`, by pkcs11-tool (private, as Keyhold makes it). */
function plantAnchor(id: string, value: Buffer): void {
  tool(['--delete-object', '--type', 'data', '--label', label(id)], true);
  const file = path.join(tmp.dir, 'plant.json');
  fs.writeFileSync(file, value);
  tool(['--write-object', file, '--type', 'data', '--label', label(id), '--private', '--application-label', 'keyhold'], true);
  fs.rmSync(file);
}

async function head(s: KeyholdService): Promise<number> {
  return (await s.call('audit.list', {})).entries.at(-1)?.seq ?? 0;
}

function sha(p: string): string {
  return createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

/** Copies a closed vault file (no -wal or -shm is left once it is closed). */
function copyVault(from: string, to: string): void {
  for (const ext of ['-wal', '-shm']) expect(fs.existsSync(from + ext), `${from}${ext}`).toBe(false);
  fs.copyFileSync(from, to);
}

describe('rollback anchor on the token (SoftHSM2)', () => {
  let oldCopy: string;
  let oldSeq: number;
  let anchoredSeq: number;

  it('writes the audit head to a private data object on the registered token after each change, readable by pkcs11-tool after login only', async () => {
    await svc.call('slot.addToken', { token: 'card', keyLabel: 'vault-unlock', pin: PIN });
    const afterSlot = await head(svc);
    const a1 = readAnchor();
    expect(a1).toMatchObject({ v: 1, vaultId, seq: afterSlot });
    expect(a1.mac).toMatch(/^[0-9a-f]{64}$/);
    const entries = (await svc.call('audit.list', {})).entries;
    expect(a1.at).toBe(entries.at(-1)?.at);

    await svc.call('key.create', { name: 'gateway', service: 'payments' });
    expect(readAnchor().seq).toBe(afterSlot + 1);

    // Private: listed with a login, not without; CKA_APPLICATION "keyhold".
    const withLogin = tool(['--list-objects', '--type', 'data'], true);
    expect(withLogin).toContain(label(vaultId));
    expect(withLogin).toMatch(/application:\s+'keyhold'/);
    expect(tool(['--list-objects', '--type', 'data'])).not.toContain('keyhold-anchor');

    const status = await svc.call('anchor.status', {});
    expect(status.head.seq).toBe(afterSlot + 1);
    expect(status.tokens).toEqual([expect.objectContaining({ serial: hsm.serial('card'), label: 'card', present: true, checked: true,
      state: 'current', anchorSeq: afterSlot + 1, matches: true })]);

    // A read (no change) writes nothing more; lock writes once more, to the same head.
    await svc.call('key.table', {});
    await svc.call('vault.lock', {});
    expect(readAnchor().seq).toBe(afterSlot + 1);
    oldSeq = afterSlot + 1;
    oldCopy = path.join(tmp.dir, 'before-revoke.db');
    copyVault(vaultPath, oldCopy);

    // The revocation happens in a session unlocked by the token: the anchor follows it.
    await svc.call('vault.unlockToken', { path: vaultPath, pin: PIN });
    const id = (await svc.call('key.list', {}))[0]?.id as string;
    await svc.call('key.revoke', { id, reason: 'compromised' });
    anchoredSeq = await head(svc);
    expect(anchoredSeq).toBeGreaterThan(afterSlot + 1);
    expect(readAnchor().seq).toBe(anchoredSeq);
    await svc.call('vault.lock', {});
  });

  it('a registered token not logged in during a change is skipped, and brought up to date when it is logged in (token keys --login)', async () => {
    await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
    expect(svc.tokens.loggedIn()).toEqual([]);
    await svc.call('key.create', { name: 'while-away', service: 'payments' });
    const now = await head(svc);
    expect(readAnchor().seq).toBe(anchoredSeq);
    const status = await svc.call('anchor.status', {});
    expect(status.tokens[0]).toMatchObject({ present: true, checked: false, state: null, matches: null });
    await svc.call('token.keys', { token: 'card', login: true, pin: PIN });
    expect(readAnchor().seq).toBe(now);
    expect((await svc.call('anchor.status', {})).tokens[0]).toMatchObject({ checked: true, state: 'current', anchorSeq: now, matches: true });
    await svc.call('vault.lock', {});
    anchoredSeq = now;
  });

  it('a token pulled out while its anchor is written fails no command: the change stands, a notice says so, and the next login writes it', async () => {
    await svc.call('vault.unlockToken', { path: vaultPath, pin: PIN });
    notices.length = 0;
    inj.arm({ method: 'C_CreateObject', at: 1, code: pkcs11js.CKR_DEVICE_REMOVED });
    try {
      await svc.call('key.create', { name: 'during-removal', service: 'payments' });
    } finally {
      inj.disarm();
    }
    expect(inj.injected).toHaveLength(1);
    const now = await head(svc);
    expect((await svc.call('audit.list', {})).entries.at(-1)).toMatchObject({ action: 'key.create', seq: now });
    expect(notices).toEqual([expect.stringMatching(/^the rollback record on token 'card' \(serial \w+\) was not updated \(.*\); it is updated the next time the token is logged in$/)]);
    expect(readAnchor().seq).toBe(anchoredSeq);
    expect(svc.tokens.loggedIn()).toEqual([]);
    await svc.call('token.keys', { token: 'card', login: true, pin: PIN });
    expect(readAnchor().seq).toBe(now);
    await svc.call('vault.lock', {});
    anchoredSeq = now;
  });

  it('refuses a vault file copied back from before the revocation at unlock by token: ROLLBACK_DETECTED with both heads, the file unchanged', async () => {
    const newest = path.join(tmp.dir, 'newest.db');
    copyVault(vaultPath, newest);
    copyVault(oldCopy, vaultPath);
    const before = sha(vaultPath);
    const e = await rejectsWith(svc.call('vault.unlockToken', { path: vaultPath, pin: PIN }), 'ROLLBACK_DETECTED');
    expect(e.message).toContain('older copy');
    expect(e.message).toMatch(new RegExp(`ends at entry ${oldSeq} \\(\\d{4}-.*recorded entry ${anchoredSeq} \\(\\d{4}-`));
    expect(e.hint).toContain('--accept-rollback');
    expect(sha(vaultPath)).toBe(before);
    expect((await svc.call('vault.status', {})).unlocked).toBe(false);
    // The token's record is untouched by the refusal.
    expect(readAnchor().seq).toBe(anchoredSeq);
    // The newest copy opens cleanly.
    copyVault(newest, vaultPath);
    await svc.call('vault.unlockToken', { path: vaultPath, pin: PIN });
    await svc.call('vault.lock', {});
  });

  it('does not block a passphrase unlock of the old copy when no token is logged in (the check needs the token), and refuses a forked copy at unlock by token', async () => {
    const fork = path.join(tmp.dir, 'fork.db');
    copyVault(oldCopy, fork);
    const noTokens = new KeyholdService({ tokens: { module: hsm.module, driverFactory: inj.factory } });
    try {
      await noTokens.call('vault.unlock', { path: fork, passphrase: PASSPHRASE });
      // A change on the old copy: it forks from the chain the token recorded.
      for (let i = 0; (await head(noTokens)) < anchoredSeq; i++) {
        await noTokens.call('key.create', { name: `fork-${i}`, service: 'payments' });
      }
    } finally {
      await noTokens.shutdown();
    }
    const newest = path.join(tmp.dir, 'newest2.db');
    copyVault(vaultPath, newest);
    copyVault(fork, vaultPath);
    const before = sha(vaultPath);
    const e = await rejectsWith(svc.call('vault.unlockToken', { path: vaultPath, pin: PIN }), 'ROLLBACK_DETECTED');
    expect(e.message).toContain('forked copy');
    expect(e.message).toContain(`audit entry ${anchoredSeq} is not the one`);
    expect(sha(vaultPath)).toBe(before);
    copyVault(newest, vaultPath);
  });

  it('a registered token logged in after a passphrase unlock of an old copy is checked first: its record is left as it is, with a notice, and anchor.status says behind', async () => {
    const copy = path.join(tmp.dir, 'old-again.db');
    copyVault(oldCopy, copy);
    const lateNotices: string[] = [];
    const late = new KeyholdService({ tokens: { module: hsm.module, driverFactory: inj.factory }, onNotice: (m) => lateNotices.push(m) });
    try {
      await late.call('vault.unlock', { path: copy, passphrase: PASSPHRASE });
      await late.call('token.keys', { token: 'card', login: true, pin: PIN });
      expect(lateNotices).toEqual([expect.stringMatching(new RegExp(`is an older copy: .*recorded entry ${anchoredSeq} .*; its record was left as it is$`))]);
      expect(readAnchor().seq).toBe(anchoredSeq);
      // A change in that session does not move the record either.
      await late.call('key.create', { name: 'late', service: 'payments' });
      expect(readAnchor().seq).toBe(anchoredSeq);
      expect((await late.call('anchor.status', {})).tokens[0]).toMatchObject({ checked: true, state: 'behind', anchorSeq: anchoredSeq, matches: false });
      await late.call('vault.lock', {});
    } finally {
      await late.shutdown();
    }
    expect(readAnchor().seq).toBe(anchoredSeq);
    expect(lateNotices).toHaveLength(1);
  });

  it('opens the old copy with the override: audited with both heads and the reason, the anchor moved, the next unlock clean', async () => {
    copyVault(oldCopy, vaultPath);
    await rejectsWith(svc.call('vault.unlockToken', { path: vaultPath, pin: PIN }), 'ROLLBACK_DETECTED');
    await rejectsWith(svc.call('vault.unlockToken', { path: vaultPath, pin: PIN, acceptRollback: { reason: '' } }), 'INVALID_INPUT');
    const reason = 'disaster recovery: the workstation with the newest copy burnt';
    await svc.call('vault.unlockToken', { path: vaultPath, pin: PIN, acceptRollback: { reason } });
    const entries = (await svc.call('audit.list', {})).entries;
    const accepted = entries.find((x) => x.action === 'vault.rollbackAccepted');
    expect(accepted).toBeDefined();
    const details = accepted?.details as { reason: string; problem: string; head: { seq: number }; anchor: { seq: number; serial: string } };
    expect(details).toMatchObject({ reason, problem: 'behind', anchor: { seq: anchoredSeq, serial: hsm.serial('card') } });
    expect(details.head.seq).toBe(oldSeq);
    expect(accepted?.seq).toBe(oldSeq + 1);
    expect((await svc.call('audit.verify', {})).ok).toBe(true);
    const now = await head(svc);
    expect(readAnchor().seq).toBe(now);
    await svc.call('vault.lock', {});
    await svc.call('vault.unlockToken', { path: vaultPath, pin: PIN });
    expect((await svc.call('anchor.status', {})).tokens[0]).toMatchObject({ state: 'current', matches: true });
    await svc.call('vault.lock', {});
  });

  it('refuses an anchor made by another vault (its MAC and id) or edited: ANCHOR_INVALID, nothing changed; the override rewrites it', async () => {
    // Vault B, registered on the same card: its own anchor object.
    const other = new KeyholdService({ tokens: { module: hsm.module, driverFactory: inj.factory } });
    const otherPath = path.join(tmp.dir, 'other.db');
    let otherId: string;
    try {
      otherId = (await other.call('vault.create', { path: otherPath, passphrase: PASSPHRASE, kdf: FAST_KDF })).vaultId;
      await other.call('slot.addToken', { token: 'card', keyLabel: 'other-unlock', pin: PIN });
      expect(readAnchor(otherId).vaultId).toBe(otherId);
    } finally {
      await other.shutdown();
    }
    const mine = readAnchor();
    const before = sha(vaultPath);

    plantAnchor(vaultId, Buffer.from(JSON.stringify(readAnchor(otherId))));
    const e1 = await rejectsWith(svc.call('vault.unlockToken', { path: vaultPath, pin: PIN }), 'ANCHOR_INVALID');
    expect(e1.message).toContain('names another vault');

    plantAnchor(vaultId, Buffer.from(JSON.stringify({ ...readAnchor(otherId), vaultId })));
    const e2 = await rejectsWith(svc.call('vault.unlockToken', { path: vaultPath, pin: PIN }), 'ANCHOR_INVALID');
    expect(e2.message).toContain('MAC does not verify');

    plantAnchor(vaultId, Buffer.from(JSON.stringify({ ...mine, seq: 1 })));
    await rejectsWith(svc.call('vault.unlockToken', { path: vaultPath, pin: PIN }), 'ANCHOR_INVALID');
    expect(sha(vaultPath)).toBe(before);

    await svc.call('vault.unlockToken', { path: vaultPath, pin: PIN, acceptRollback: { reason: 'anchor edited in a drill' } });
    const last = (await svc.call('audit.list', {})).entries.at(-1);
    expect(last).toMatchObject({ action: 'vault.rollbackAccepted', details: { problem: 'invalid', anchor: null, reason: 'anchor edited in a drill' } });
    expect(readAnchor()).toMatchObject({ vaultId, seq: last?.seq });
    // One object for this vault again, and vault B's untouched.
    const listed = tool(['--list-objects', '--type', 'data'], true);
    expect(listed.split(label(vaultId)).length - 1).toBe(1);
    expect(listed).toContain(label(otherId));
    await svc.call('vault.lock', {});
    await svc.call('vault.unlockToken', { path: vaultPath, pin: PIN });
    await svc.call('vault.lock', {});
  });
});
