/**
 * Bundle export through the service (a real vault, a real SoftHSM2 token
 * signer) and the REAL importer library: verifyBundle, applyBundle,
 * decryptSecrets, checkPresentedKey. One vault and one chain per recipient
 * run through the whole file in order, as a ceremony would over months; the
 * vault's clock and the importer's `now` are the same test clock.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyholdService } from '../../electron/core/service.js';
import {
  applyBundle,
  checkPresentedKey,
  decryptSecrets,
  loadRecipientPrivateKey,
  loadTrustRoot,
  readState,
  verifierOf,
  verifyBundle,
  type Change,
  type IssueChange,
  type RevokeChange,
  type TrustRoot,
} from '../../importer/src/index.js';
import { DAY_MS, HOUR_MS, testClock } from '../helpers/clock.js';
import type { SoftHsm } from '../helpers/softhsm.js';
import type { TmpDir } from '../helpers/tmp.js';
import { closeTokenVault, openTokenVault } from '../helpers/token-vault.js';
import { rejectsWith } from '../token/helpers.js';
import { addRecipient, addTokenSigner, PASSPHRASE, pinProvider, readBundle, type Recipient } from './helpers.js';

const clock = testClock(Date.UTC(2026, 10, 1, 9, 0, 0));
let hsm: SoftHsm;
let tmp: TmpDir;
let svc: KeyholdService;
let kid: string;
let root: TrustRoot;
let rootText: string;
/** gateway verifies payments and billing; client holds billing; edge verifies payments and holds billing. */
let gateway: Recipient;
let client: Recipient;
let edge: Recipient;
const keys: Record<string, string> = {};
let n = 0;

const iso = (t: string | Date): string => `${new Date(t).toISOString().slice(0, 19)}Z`;
const stateOf = (r: Recipient): string => path.join(tmp.dir, `state-${r.name}`);

async function reveal(id: string, version?: number): Promise<string> {
  return (await svc.call('key.reveal', { id, ...(version !== undefined ? { version } : {}) })).secret;
}

async function exportTo(r: Recipient, extra: { revocationsOnly?: boolean; expires?: string } = {}) {
  const out = path.join(tmp.dir, `bundle-${++n}-${r.name}.json`);
  const report = await svc.call('bundle.export', { recipient: r.name, out, ...extra });
  const file = readBundle(out);
  return { report, file, out };
}

async function applyTo(r: Recipient, text: string, now = clock.now()) {
  return applyBundle(stateOf(r), text, { privateKey: r.privateJwk, trustRootText: rootText, now });
}

async function keystoreOf(r: Recipient) {
  const cur = await readState(stateOf(r));
  if (!cur?.keystore) throw new Error(`no keystore for ${r.name}`);
  return cur;
}

const issues = (changes: readonly Change[]): IssueChange[] => changes.filter((c): c is IssueChange => c.type === 'issue');
const revokes = (changes: readonly Change[]): RevokeChange[] => changes.filter((c): c is RevokeChange => c.type === 'revoke');
const pairs = (changes: readonly Change[]): string[] => changes.map((c) => `${c.type}:${c.keyId}/${c.version}`);

beforeAll(async () => {
  ({ hsm, tmp, svc } = await openTokenVault({
    tokens: [{ label: 'card' }],
    tmpPrefix: 'keyhold-bundle-rt-',
    passphrase: PASSPHRASE,
    service: (h) => ({ clock: clock.now, tokens: { module: h.module }, askPin: pinProvider() }),
  }));
  kid = await addTokenSigner(svc, 'card', 'signer1', 'ES256');
  const t = await svc.call('trust.export', { out: path.join(tmp.dir, 'root.json') });
  expect(t).toMatchObject({ version: 1, threshold: 1, signers: [kid], signatures: [kid] });
  rootText = fs.readFileSync(t.path, 'utf8');
  root = await loadTrustRoot(rootText);
  gateway = await addRecipient(svc, 'gateway', { verifies: ['payments', 'billing'] });
  client = await addRecipient(svc, 'client', { holds: ['billing'], crv: 'P-256' });
  edge = await addRecipient(svc, 'edge', { verifies: ['payments'], holds: ['billing'] });
  for (const [name, service] of [['pay1', 'payments'], ['pay2', 'payments'], ['bill1', 'billing'], ['ops1', 'internal']] as const) {
    keys[name] = (await svc.call('key.create', { name, service, scopes: ['read', 'write'] })).id;
  }
});

afterAll(() => closeTokenVault({ svc, hsm, tmp }));

describe('round trip: export through the service, verify and apply with the real importer', () => {
  it('a verifier (gateway) gets an issue with the right verifier for every key of its services, no secrets, and applies; presented keys check valid', async () => {
    const headBefore = (await svc.call('audit.verify', {})).head;
    const { report, file } = await exportTo(gateway);
    const v = await verifyBundle(file.text, root, { now: clock.now(), recipient: gateway.recipientId });
    expect(v.signers).toEqual([kid]);
    expect(v.hash).toBe(createHash('sha256').update(file.payloadBytes).digest('hex'));
    const p = v.payload;
    expect(p).toMatchObject({ format: 'keyhold-bundle/v1', recipient: gateway.recipientId, sequence: 1, previous: null,
      issuedAt: iso(clock.now()), expiresAt: iso(new Date(clock.ms() + 7 * DAY_MS)), vaultId: root.payload.vaultId });
    expect(p.secrets).toBeUndefined();
    // The checkpoint is the audit chain head when the bundle was made (before its own bundle.export entry).
    expect(p.checkpoint).toEqual({ seq: headBefore.seq, hash: headBefore.hash });
    expect(pairs(p.changes).sort()).toEqual([`issue:${keys.bill1}/1`, `issue:${keys.pay1}/1`, `issue:${keys.pay2}/1`].sort());
    for (const c of issues(p.changes)) {
      const secret = await reveal(c.keyId);
      expect(c.verifier).toBe(verifierOf(secret));
      expect(file.text).not.toContain(secret.slice(22, 60)); // no part of a secret travels to a verifier
      expect(c).toMatchObject({ scopes: ['read', 'write'], environment: 'production', notBefore: iso(clock.now()) });
    }
    expect(report).toMatchObject({ recipient: 'gateway', recipientId: gateway.recipientId, sequence: 1, hash: v.hash,
      issued: 3, revoked: 0, secrets: 0, signatures: [kid], threshold: 1, bytes: Buffer.byteLength(file.text), expiresAt: p.expiresAt });
    expect(file.text.endsWith('\n')).toBe(true);

    const applied = await applyTo(gateway, file.text);
    expect(applied).toMatchObject({ status: 'applied', sequence: 1, issued: 3, revoked: 0, secrets: 0 });
    const cur = await keystoreOf(gateway);
    expect(cur.secrets).toBeNull();
    for (const name of ['pay1', 'pay2', 'bill1']) {
      expect(checkPresentedKey(cur.keystore!, await reveal(keys[name]!), clock.now())).toMatchObject({ valid: true, keyId: keys[name], version: 1, name });
    }
    // A key of a service the gateway does not verify is unknown to it.
    expect(checkPresentedKey(cur.keystore!, await reveal(keys.ops1!), clock.now())).toMatchObject({ valid: false, reason: 'unknown' });

    const listed = (await svc.call('recipient.list', {})).find((r) => r.name === 'gateway');
    expect(listed).toMatchObject({ sequence: 1, lastHash: v.hash });
    const last = (await svc.call('audit.list', { action: 'bundle.export' })).entries.at(-1);
    expect(last).toMatchObject({ subject: 'recipient:gateway', details: { sequence: 1, hash: v.hash, issued: 3, secrets: 0 } });
  });

  it('a holder (client) gets exactly its services\' secrets in one JWE to its key, equal to key.reveal, and applies them to secrets.json', async () => {
    const { report, file } = await exportTo(client);
    const p = (await verifyBundle(file.text, root, { now: clock.now(), recipient: client.recipientId })).payload;
    expect(pairs(p.changes)).toEqual([`issue:${keys.bill1}/1`]);
    expect(typeof p.secrets).toBe('string');
    const [h] = p.secrets!.split('.');
    expect(JSON.parse(Buffer.from(h!, 'base64url').toString('utf8'))).toMatchObject({
      alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: client.recipientId, cty: 'keyhold-secrets+json', epk: { kty: 'EC', crv: 'P-256' } });
    const bill = await reveal(keys.bill1!);
    expect(file.text).not.toContain(bill);
    const plain = await decryptSecrets(p.secrets!, await loadRecipientPrivateKey(client.privateJwk), p.bundleId);
    expect(plain.keys).toEqual([{ keyId: keys.bill1, version: 1, key: bill }]);
    expect(report).toMatchObject({ sequence: 1, issued: 1, secrets: 1 });

    await applyTo(client, file.text);
    const cur = await keystoreOf(client);
    expect(cur.secrets?.keys.map((k) => [k.keyId, k.version, k.key])).toEqual([[keys.bill1, 1, bill]]);
    // The file is the owner's only (it carries secrets, encrypted), and no secret reaches the audit log.
    expect(fs.statSync(report.path).mode & 0o777).toBe(0o600);
    const log = JSON.stringify((await svc.call('audit.list', { limit: 10_000 })).entries);
    expect(log.includes(bill)).toBe(false);
    expect(log.includes(bill.slice(22, 65))).toBe(false);
  });

  it('a recipient that verifies one service and holds another gets issues for both but secrets only for the one it holds', async () => {
    const { file } = await exportTo(edge);
    const p = (await verifyBundle(file.text, root, { now: clock.now(), recipient: edge.recipientId })).payload;
    expect(pairs(p.changes).sort()).toEqual([`issue:${keys.bill1}/1`, `issue:${keys.pay1}/1`, `issue:${keys.pay2}/1`].sort());
    const plain = await decryptSecrets(p.secrets!, await loadRecipientPrivateKey(edge.privateJwk), p.bundleId);
    expect(plain.keys.map((k) => k.keyId)).toEqual([keys.bill1]);
    for (const id of [keys.pay1!, keys.pay2!]) expect(file.text).not.toContain(await reveal(id));
    await applyTo(edge, file.text);
    // Another recipient's private key cannot open it.
    await expect(decryptSecrets(p.secrets!, await loadRecipientPrivateKey(client.privateJwk), p.bundleId)).rejects.toMatchObject({ code: 'BUNDLE_DECRYPT' });
  });

  it('a second export with nothing changed is an empty-changes bundle (no secrets) that chains: sequence 2, previous = bundle 1\'s payload hash', async () => {
    clock.advance(HOUR_MS);
    const before = (await svc.call('recipient.list', {})).find((r) => r.name === 'client')!;
    const { report, file } = await exportTo(client);
    expect(file.payload.changes).toEqual([]);
    expect(file.payload.secrets).toBeUndefined();
    expect(file.payload).toMatchObject({ sequence: 2, previous: before.lastHash });
    expect(report).toMatchObject({ sequence: 2, issued: 0, revoked: 0, secrets: 0 });
    expect((await applyTo(client, file.text)).status).toBe('applied');
    expect((await keystoreOf(client)).state).toMatchObject({ sequence: 2, payloadHash: report.hash });
    // Applying it again is the importer's no-op.
    expect((await applyTo(client, file.text)).status).toBe('already-applied');
  });

  it('rotation: the new version is issued and the old one superseded at the end of its grace window; the importer accepts the old key until then and not after', async () => {
    clock.advance(HOUR_MS);
    const rot = (await svc.call('key.rotate', { ids: [keys.pay1!] })).rotated[0]!;
    const { file } = await exportTo(gateway);
    const p = file.payload;
    expect(p).toMatchObject({ sequence: 2 });
    expect(pairs(p.changes)).toEqual([`revoke:${keys.pay1}/1`, `issue:${keys.pay1}/2`]); // by key id, then version
    expect(revokes(p.changes)[0]).toEqual({ type: 'revoke', keyId: keys.pay1, version: 1, reason: 'superseded', effectiveAt: iso(rot.graceUntil) });
    expect(issues(p.changes)[0]).toMatchObject({ keyId: keys.pay1, version: 2, verifier: verifierOf(await reveal(keys.pay1!, 2)) });
    await applyTo(gateway, file.text);
    const ks = (await keystoreOf(gateway)).keystore!;
    const v1 = await reveal(keys.pay1!, 1);
    const grace = Date.parse(iso(rot.graceUntil));
    expect(checkPresentedKey(ks, v1, clock.now())).toMatchObject({ valid: true, version: 1 });
    expect(checkPresentedKey(ks, v1, new Date(grace - 1000))).toMatchObject({ valid: true, version: 1 });
    expect(checkPresentedKey(ks, v1, new Date(grace))).toMatchObject({ valid: false, reason: 'revoked', version: 1 });
    expect(checkPresentedKey(ks, await reveal(keys.pay1!, 2), new Date(grace))).toMatchObject({ valid: true, version: 2 });
    // The next bundle does not send the supersede or the issue again.
    const again = await exportTo(gateway);
    expect(again.file.payload.changes).toEqual([]);
    await applyTo(gateway, again.file.text);
  });

  it('a revocation after the supersede is sent again and its earlier time wins at the importer', async () => {
    clock.advance(HOUR_MS);
    const r = await svc.call('key.revoke', { id: keys.pay1!, version: 1, reason: 'compromised' });
    const { file } = await exportTo(gateway);
    expect(file.payload.changes).toEqual([{ type: 'revoke', keyId: keys.pay1, version: 1, reason: 'compromised', effectiveAt: iso(r.revokedAt) }]);
    await applyTo(gateway, file.text);
    const ks = (await keystoreOf(gateway)).keystore!;
    expect(ks.entries.find((e) => e.keyId === keys.pay1 && e.version === 1)?.revoked).toEqual({ reason: 'compromised', effectiveAt: iso(r.revokedAt) });
    expect(checkPresentedKey(ks, await reveal(keys.pay1!, 1), clock.now())).toMatchObject({ valid: false, reason: 'revoked' });
  });

  it('housekeeping after the grace window sends a later "superseded" revocation, which never moves the importer\'s earlier time', async () => {
    const rot = (await svc.call('key.rotate', { ids: [keys.pay2!] })).rotated[0]!;
    const first = await exportTo(gateway);
    expect(revokes(first.file.payload.changes)).toEqual([{ type: 'revoke', keyId: keys.pay2, version: 1, reason: 'superseded', effectiveAt: iso(rot.graceUntil) }]);
    await applyTo(gateway, first.file.text);
    clock.set(Date.parse(rot.graceUntil) + 2 * DAY_MS);
    const { file } = await exportTo(gateway); // housekeeping runs first: v1 becomes revoked (superseded) now
    const rv = revokes(file.payload.changes);
    expect(rv).toEqual([{ type: 'revoke', keyId: keys.pay2, version: 1, reason: 'superseded', effectiveAt: iso(clock.now()) }]);
    await applyTo(gateway, file.text);
    const e = (await keystoreOf(gateway)).keystore!.entries.find((x) => x.keyId === keys.pay2 && x.version === 1);
    expect(e?.revoked?.effectiveAt).toBe(iso(rot.graceUntil));
  });

  it('revocations only (an incident): revocations go out, a new key and its secret do not; the next full bundle issues it', async () => {
    clock.advance(HOUR_MS);
    keys.bill2 = (await svc.call('key.create', { name: 'bill2', service: 'billing' })).id;
    const r = await svc.call('key.revoke', { id: keys.bill1!, reason: 'compromised' });
    const inc = await exportTo(client, { revocationsOnly: true });
    expect(inc.file.payload.changes).toEqual([{ type: 'revoke', keyId: keys.bill1, version: 1, reason: 'compromised', effectiveAt: iso(r.revokedAt) }]);
    expect(inc.file.payload.secrets).toBeUndefined();
    expect(inc.report).toMatchObject({ issued: 0, revoked: 1, secrets: 0 });
    await applyTo(client, inc.file.text);
    const cur = await keystoreOf(client);
    expect(checkPresentedKey(cur.keystore!, await reveal(keys.bill1!), clock.now())).toMatchObject({ valid: false, reason: 'revoked' });
    // The revoked key is no longer handed to the service that presents it.
    expect(cur.secrets?.keys.filter((k) => k.keyId === keys.bill1 && k.revokedAt === null)).toEqual([]);

    const full = await exportTo(client);
    expect(pairs(full.file.payload.changes)).toEqual([`issue:${keys.bill2}/1`]);
    const plain = await decryptSecrets(full.file.payload.secrets!, await loadRecipientPrivateKey(client.privateJwk), full.file.payload.bundleId);
    expect(plain.keys).toEqual([{ keyId: keys.bill2, version: 1, key: await reveal(keys.bill2) }]);
    await applyTo(client, full.file.text);
  });

  it('destroy: a version whose revocation was already sent sends nothing more; one destroyed before its revocation went out is still revoked', async () => {
    clock.advance(HOUR_MS);
    await svc.call('key.destroy', { id: keys.bill1! });
    const quiet = await exportTo(client);
    expect(quiet.file.payload.changes).toEqual([]);
    await applyTo(client, quiet.file.text);
    const s2 = await reveal(keys.bill2!);
    const r = await svc.call('key.revoke', { id: keys.bill2!, reason: 'retired' });
    await svc.call('key.destroy', { id: keys.bill2! });
    const { file } = await exportTo(client);
    expect(file.payload.changes).toEqual([{ type: 'revoke', keyId: keys.bill2, version: 1, reason: 'retired', effectiveAt: iso(r.revokedAt) }]);
    await applyTo(client, file.text);
    expect(checkPresentedKey((await keystoreOf(client)).keystore!, s2, clock.now())).toMatchObject({ valid: false, reason: 'revoked' });
    expect((await keystoreOf(client)).secrets?.keys.some((k) => k.key === s2 && k.revokedAt === null)).toBe(false);
  });

  it('a pre-active key (activate-at) is issued with notBefore = its activation time, secret included; not yet valid before, valid after; never re-sent once active', async () => {
    const at = new Date(clock.ms() + 10 * DAY_MS);
    keys.bill3 = (await svc.call('key.create', { name: 'bill3', service: 'billing', activateAt: at.toISOString() })).id;
    const { file } = await exportTo(client);
    const c = issues(file.payload.changes);
    expect(c).toHaveLength(1);
    expect(c[0]).toMatchObject({ keyId: keys.bill3, version: 1, notBefore: iso(at) });
    const plain = await decryptSecrets(file.payload.secrets!, await loadRecipientPrivateKey(client.privateJwk), file.payload.bundleId);
    const secret = await reveal(keys.bill3);
    expect(plain.keys).toEqual([{ keyId: keys.bill3, version: 1, key: secret }]);
    await applyTo(client, file.text);
    const ks = (await keystoreOf(client)).keystore!;
    expect(checkPresentedKey(ks, secret, clock.now())).toMatchObject({ valid: false, reason: 'not-yet-valid' });
    expect(checkPresentedKey(ks, secret, new Date(at.getTime() + 1000))).toMatchObject({ valid: true });
    clock.set(at.getTime() + HOUR_MS);
    expect((await svc.call('key.show', { id: keys.bill3 })).state).toBe('active');
    const after = await exportTo(client);
    expect(after.file.payload.changes).toEqual([]);
    await applyTo(client, after.file.text);
  });

  it('a recipient added late gets the live versions only: a retiring one issued with notAfter = its grace end (no separate supersede later), nothing revoked or destroyed', async () => {
    const rot = (await svc.call('key.rotate', { ids: [keys.bill3!] })).rotated[0]!;
    const late = await addRecipient(svc, 'late', { verifies: ['billing'] });
    const { file } = await exportTo(late);
    const c = file.payload.changes;
    expect(pairs(c)).toEqual([`issue:${keys.bill3}/1`, `issue:${keys.bill3}/2`]);
    expect(issues(c)[0]).toMatchObject({ version: 1, notAfter: iso(rot.graceUntil) });
    const applied = await applyBundle(stateOf(late), file.text, { privateKey: late.privateJwk, trustRootText: rootText, now: clock.now() });
    expect(applied.status).toBe('applied');
    const ks = (await keystoreOf(late)).keystore!;
    const v1 = await reveal(keys.bill3!, 1);
    expect(checkPresentedKey(ks, v1, clock.now()).valid).toBe(true);
    expect(checkPresentedKey(ks, v1, new Date(Date.parse(iso(rot.graceUntil))))).toMatchObject({ valid: false });
    const next = await exportTo(late);
    expect(next.file.payload.changes).toEqual([]);
  });

  it('the checkpoint and sequence only move forward along each chain; --expires sets the validity and the importer refuses the bundle after it', async () => {
    const { file, report } = await exportTo(gateway, { expires: '1d' });
    expect(Date.parse(file.payload.expiresAt) - Date.parse(file.payload.issuedAt)).toBe(DAY_MS);
    expect(report.checkpoint.seq).toBeGreaterThan(1);
    await expect(applyTo(gateway, file.text, new Date(clock.ms() + DAY_MS + 301_000))).rejects.toMatchObject({ code: 'BUNDLE_EXPIRED' });
    await applyTo(gateway, file.text);
    const receipts = fs.readdirSync(path.join(stateOf(gateway), 'receipts'));
    expect(receipts.length).toBe(report.sequence);
    for (const bad of ['30s', '91d']) {
      await rejectsWith(svc.call('bundle.export', { recipient: 'gateway', out: path.join(tmp.dir, 'x.json'), expires: bad }), 'INVALID_INPUT');
    }
    expect(fs.existsSync(path.join(tmp.dir, 'x.json'))).toBe(false);
  });
});
