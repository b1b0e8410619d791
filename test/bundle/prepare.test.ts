/**
 * A summary before anything is signed (docs/bundle-export.md 5.1):
 * bundle.prepare makes and encodes the payload without signing it, and
 * bundle.export { prepared } signs and records exactly that payload. A real
 * vault, a real SoftHSM2 signer, and the REAL importer library verifying and
 * applying what was written.
 *
 * - the summary (counts, keys, recipient, hash, words) is what the signed
 *   file carries, and its hash is the file's payload hash;
 * - a prepared payload that can no longer be signed as summarised is refused
 *   with BUNDLE_STALE before any token work: another export to the
 *   recipient, keys changed, 15 minutes passed, the vault locked, signed once;
 * - a revocations-only summary and its export;
 * - the prepared object holds no plaintext secret (the secrets are only in
 *   the JWE, which the recipient's private key opens).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareBundle } from '../../electron/core/bundle/export.js';
import { PREPARED_TTL_MS, SUMMARY_KEY_LIMIT } from '../../electron/core/bundle/prepare.js';
import type { KeyholdService } from '../../electron/core/service.js';
import { hashFromWords, hashWords } from '../../shared/hash-words.js';
import { applyBundle, decryptSecrets, loadRecipientPrivateKey, loadTrustRoot, verifyBundle, type TrustRoot } from '../../importer/src/index.js';
import { testClock } from '../helpers/clock.js';
import type { SoftHsm } from '../helpers/softhsm.js';
import type { TmpDir } from '../helpers/tmp.js';
import { closeTokenVault, openTokenVault } from '../helpers/token-vault.js';
import { rejectsWith } from '../token/helpers.js';
import { addRecipient, addTokenSigner, PASSPHRASE, pinProvider, readBundle, type Recipient } from './helpers.js';

const clock = testClock(Date.UTC(2026, 10, 2, 9, 0, 0));
const asks = pinProvider();
let hsm: SoftHsm;
let tmp: TmpDir;
let svc: KeyholdService;
let vaultPath: string;
let kid: string;
let root: TrustRoot;
let rootText: string;
let gateway: Recipient;
let holder: Recipient;
const keys: Record<string, string> = {};
let n = 0;

const outFile = (name: string): string => path.join(tmp.dir, `${++n}-${name}.khb`);

beforeAll(async () => {
  ({ hsm, tmp, svc, vaultPath } = await openTokenVault({
    tokens: [{ label: 'card' }],
    tmpPrefix: 'keyhold-bundle-prepare-',
    passphrase: PASSPHRASE,
    service: (h) => ({ clock: clock.now, tokens: { module: h.module }, askPin: asks }),
  }));
  kid = await addTokenSigner(svc, 'card', 'signer1', 'ES256');
  const t = await svc.call('trust.export', { out: path.join(tmp.dir, 'root.json') });
  rootText = fs.readFileSync(t.path, 'utf8');
  root = await loadTrustRoot(rootText);
  gateway = await addRecipient(svc, 'gateway', { verifies: ['payments', 'billing'] });
  holder = await addRecipient(svc, 'holder', { holds: ['billing'], crv: 'P-256' });
  for (const [name, service] of [['pay1', 'payments'], ['pay2', 'payments'], ['bill1', 'billing'], ['ops1', 'internal']] as const) {
    keys[name] = (await svc.call('key.create', { name, service, scopes: ['read'] })).id;
  }
});

afterAll(() => closeTokenVault({ svc, hsm, tmp }));

describe('bundle.prepare, then bundle.export with the prepared payload', () => {
  it('summarises what the bundle carries, and the signed file carries exactly that payload: same hash, same words', async () => {
    const headBefore = (await svc.call('audit.verify', {})).head;
    const s = await svc.call('bundle.prepare', { recipient: 'gateway' });
    expect(s).toMatchObject({ recipient: { name: 'gateway', id: gateway.recipientId }, sequence: 1, revocationsOnly: false,
      issued: 3, revoked: 0, secrets: 0, moreKeys: 0, threshold: 1, checkpoint: { seq: headBefore.seq, hash: headBefore.hash } });
    expect(s.prepared).toMatch(/^pb_[A-Za-z0-9_-]{22}$/);
    // Listed by service, environment and name: what a custodian reads out.
    expect(s.keys.map((k) => `${k.service}/${k.environment}/${k.name} v${k.version} ${k.kind}`)).toEqual([
      'billing/production/bill1 v1 issue', 'payments/production/pay1 v1 issue', 'payments/production/pay2 v1 issue']);
    expect(s.keys.every((k) => k.secret === false && k.reason === null)).toBe(true);
    expect(s.words).toEqual(hashWords(s.hash));
    expect(hashFromWords(s.words)).toBe(s.hash);
    // Nothing was signed or recorded: no PIN asked, no bundle.export entry, the recipient still at 0.
    const asked = asks.calls;
    expect((await svc.call('audit.verify', {})).head).toEqual(headBefore);
    expect((await svc.call('recipient.list', {})).find((r) => r.name === 'gateway')?.sequence).toBe(0);

    clock.advance(60_000);
    const report = await svc.call('bundle.export', { recipient: 'gateway', out: outFile('gateway'), prepared: s.prepared });
    expect(asks.calls).toBeGreaterThanOrEqual(asked);
    const file = readBundle(report.path);
    expect(createHash('sha256').update(file.payloadBytes).digest('hex')).toBe(s.hash);
    expect(report).toMatchObject({ hash: s.hash, sequence: 1, issued: 3, revoked: 0, secrets: 0, signatures: [kid],
      expiresAt: s.expiresAt, checkpoint: s.checkpoint });
    expect(file.payloadBytes.length).toBe(s.payloadBytes);
    // Issued when prepared, not when signed a minute later: the payload is the one summarised.
    expect(file.payload.issuedAt).toBe(s.issuedAt);
    const v = await verifyBundle(file.text, root, { now: clock.now(), recipient: gateway.recipientId });
    expect(v.hash).toBe(s.hash);
    expect(v.signers).toEqual([kid]);
    const applied = await applyBundle(path.join(tmp.dir, 'state-gateway'), file.text, { privateKey: gateway.privateJwk, trustRootText: rootText, now: clock.now() });
    expect(applied).toMatchObject({ status: 'applied', sequence: 1, issued: 3 });
    expect((await svc.call('recipient.list', {})).find((r) => r.name === 'gateway')).toMatchObject({ sequence: 1, lastHash: s.hash });

    // Signed once: the same prepared id again is refused, and writes nothing.
    const again = outFile('again');
    const e = await rejectsWith(svc.call('bundle.export', { recipient: 'gateway', out: again, prepared: s.prepared }), 'BUNDLE_STALE');
    expect(e.message).toMatch(/no longer known/);
    expect(fs.existsSync(again)).toBe(false);
  });

  it('refuses a prepared payload the recipient moved past (another export meanwhile), before any token work', async () => {
    await svc.call('key.rotate', { ids: [keys.pay1!] });
    const s = await svc.call('bundle.prepare', { recipient: 'gateway' });
    // The new version is issued, the old one superseded at the end of its grace window.
    expect(s).toMatchObject({ sequence: 2, issued: 1, revoked: 1 });
    expect(s.keys.map((k) => `${k.name} v${k.version} ${k.kind} ${k.reason ?? ''}`)).toEqual(['pay1 v1 revoke superseded', 'pay1 v2 issue ']);
    await svc.call('bundle.export', { recipient: 'gateway', out: outFile('meanwhile') });
    const asked = asks.calls;
    const out = outFile('stale');
    const e = await rejectsWith(svc.call('bundle.export', { recipient: 'gateway', out, prepared: s.prepared }), 'BUNDLE_STALE');
    expect(e.message).toMatch(/gateway got bundle 2 after this one was prepared/);
    expect(e.hint).toMatch(/Prepare the bundle again/);
    expect(asks.calls).toBe(asked);
    expect(fs.existsSync(out)).toBe(false);
    expect((await svc.call('recipient.list', {})).find((r) => r.name === 'gateway')?.sequence).toBe(2);
  });

  it('refuses a prepared payload whose keys changed since (a key rotated after the summary)', async () => {
    const s = await svc.call('bundle.prepare', { recipient: 'gateway' });
    await svc.call('key.rotate', { ids: [keys.pay2!] });
    const e = await rejectsWith(svc.call('bundle.export', { recipient: 'gateway', out: outFile('changed'), prepared: s.prepared }), 'BUNDLE_STALE');
    expect(e.message).toMatch(/keys changed after the bundle for gateway was prepared/);
  });

  it('refuses one older than 15 minutes, one from before a lock, and one asked with other options', async () => {
    const s = await svc.call('bundle.prepare', { recipient: 'gateway', expires: '2d' });
    const mismatch = await rejectsWith(svc.call('bundle.export', { recipient: 'gateway', out: outFile('mismatch'), prepared: s.prepared }), 'INVALID_INPUT');
    expect(mismatch.message).toMatch(/another recipient or with other options/);
    clock.advance(PREPARED_TTL_MS);
    const late = await rejectsWith(svc.call('bundle.export', { recipient: 'gateway', expires: '2d', out: outFile('late'), prepared: s.prepared }), 'BUNDLE_STALE');
    expect(late.message).toMatch(/expired/);

    const s2 = await svc.call('bundle.prepare', { recipient: 'gateway' });
    svc.close();
    await rejectsWith(svc.call('bundle.export', { recipient: 'gateway', out: outFile('locked'), prepared: s2.prepared }), 'VAULT_LOCKED');
    await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
    const e = await rejectsWith(svc.call('bundle.export', { recipient: 'gateway', out: outFile('after-lock'), prepared: s2.prepared }), 'BUNDLE_STALE');
    expect(e.message).toMatch(/dropped when the vault locked/);
    // Prepared again, it signs.
    const s3 = await svc.call('bundle.prepare', { recipient: 'gateway' });
    expect((await svc.call('bundle.export', { recipient: 'gateway', out: outFile('fresh'), prepared: s3.prepared })).hash).toBe(s3.hash);
  });

  it('summarises and signs a revocations-only bundle: revocations with their reasons, no issue, no secret', async () => {
    await svc.call('key.revoke', { id: keys.bill1!, reason: 'compromised' });
    const s = await svc.call('bundle.prepare', { recipient: 'gateway', revocationsOnly: true });
    expect(s).toMatchObject({ revocationsOnly: true, issued: 0, secrets: 0 });
    expect(s.keys.filter((k) => k.name === 'bill1')).toEqual([
      { keyId: keys.bill1, service: 'billing', environment: 'production', name: 'bill1', version: 1, kind: 'revoke', reason: 'compromised', secret: false }]);
    expect(s.keys.every((k) => k.kind === 'revoke')).toBe(true);
    expect(s.revoked).toBe(s.keys.length);
    const report = await svc.call('bundle.export', { recipient: 'gateway', revocationsOnly: true, out: outFile('revocations'), prepared: s.prepared });
    expect(report).toMatchObject({ hash: s.hash, issued: 0, revoked: s.revoked, secrets: 0 });
    const p = readBundle(report.path).payload;
    expect(p.changes.every((c) => c.type === 'revoke')).toBe(true);
    expect(p.secrets).toBeUndefined();
  });

  it('keeps no plaintext secret: the prepared object holds the payload whose secrets only the recipient opens', async () => {
    const billing = (await svc.call('key.create', { name: 'bill2', service: 'billing', scopes: ['read'] })).id;
    const secret = (await svc.call('key.reveal', { id: billing })).secret;
    const p = await prepareBundle(svc.vault, { recipient: 'holder', revocationsOnly: false, expires: '7d' });
    expect(p.secrets).toBe(1);
    expect(p.keys.find((k) => k.keyId === billing)).toMatchObject({ kind: 'issue', secret: true });
    const held = JSON.stringify(p);
    // Neither the key text nor its random part, in any of the object's fields.
    const random = secret.slice(secret.lastIndexOf('_') + 1);
    expect(random.length).toBeGreaterThan(20);
    expect(held.includes(secret)).toBe(false);
    expect(held.includes(random)).toBe(false);
    expect(Object.keys(p).sort()).toEqual(['b64', 'bytes', 'checkpoint', 'expires', 'expiresAt', 'hash', 'id', 'issued', 'issuedAt',
      'items', 'keys', 'moreKeys', 'preparedAt', 'recipient', 'revocationsOnly', 'revoked', 'secrets', 'sequence', 'validUntil', 'vaultId']);
    // The secret is in the payload, encrypted to the holder: its private key opens it.
    const payload = JSON.parse(Buffer.from(p.b64, 'base64url').toString('utf8')) as { bundleId: string; secrets: string };
    const plain = await decryptSecrets(payload.secrets, await loadRecipientPrivateKey(holder.privateJwk), payload.bundleId);
    expect(plain.keys.find((k) => k.keyId === billing)?.key === secret).toBe(true);
    // The service's summary carries no secret either.
    const s = await svc.call('bundle.prepare', { recipient: 'holder' });
    expect(JSON.stringify(s).includes(random)).toBe(false);
  });

  it('lists at most SUMMARY_KEY_LIMIT keys and counts the rest', async () => {
    const many = SUMMARY_KEY_LIMIT + 7;
    for (let i = 0; i < many; i++) await svc.call('key.create', { name: `k${String(i).padStart(3, '0')}`, service: 'payments', scopes: ['read'] });
    const s = await svc.call('bundle.prepare', { recipient: 'gateway' });
    // bill2 (billing, made above) is new to the gateway too.
    expect(s.issued).toBe(many + 1);
    expect(s.keys).toHaveLength(SUMMARY_KEY_LIMIT);
    expect(s.moreKeys).toBe(s.issued + s.revoked - SUMMARY_KEY_LIMIT);
    expect(s.keys.map((k) => k.name).slice(0, 2)).toEqual(['bill2', 'k000']);
  });
});
