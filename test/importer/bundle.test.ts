import { describe, expect, it } from 'vitest';
import { readFileSync, statSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  applyBundle,
  checkPresentedKey,
  decryptSecrets,
  loadKeystore,
  loadRecipientPrivateKey,
  readState,
  verifierOf,
  verifyBundle,
  ImportError,
  type Change,
} from '../../importer/src/index.js';
import { tmpDir } from '../helpers/tmp.js';
import { fixture, issue, makeApiKey, makeBundle, NOW, snapshot, VAULT_ID } from './helpers.js';

function stateDir(): string {
  return join(tmpDir('kh-import-'), 'state');
}

describe('verify and apply', () => {
  it('verifies a bundle and reports its payload hash, signers and changes', async () => {
    const f = await fixture();
    const b = await makeBundle(f);
    const v = await verifyBundle(b.text, f.trust, { now: NOW, recipient: f.recipient.recipientId });
    expect(v.hash).toBe(b.hash);
    expect(v.signers).toEqual([f.signers[0]!.kid, f.signers[1]!.kid]);
    expect(v.payload.changes.map((c) => c.keyId).sort()).toEqual(b.issued.map((i) => i.change.keyId).sort());
    expect(v.payload.sequence).toBe(1);
    expect(v.payload.previous).toBeNull();
  });

  it('applies a bundle: keystore of verifiers, 0600 secrets, receipt, state', async () => {
    const f = await fixture();
    const b = await makeBundle(f);
    const dir = stateDir();
    const r = await applyBundle(dir, b.text, { now: NOW, trustRootText: f.trustText, privateKey: f.recipient.privateJwk });
    expect(r.status).toBe('applied');
    expect(r).toMatchObject({ sequence: 1, payloadHash: b.hash, issued: 2, revoked: 0, secrets: 2, trustRootVersion: 1 });

    const ks = loadKeystore(join(dir, 'keystore.json'));
    expect(ks.sequence).toBe(1);
    expect(ks.bundle).toBe(b.hash);
    expect(ks.entries.map((e) => e.verifier).sort()).toEqual(b.issued.map((i) => verifierOf(i.key)).sort());
    // The keystore holds verifiers, never a key.
    const ksText = readFileSync(join(dir, 'keystore.json'), 'utf8');
    for (const i of b.issued) expect(ksText).not.toContain(i.key);

    const secretsPath = join(dir, 'secrets.json');
    expect(statSync(secretsPath).mode & 0o777).toBe(0o600);
    const held = JSON.parse(readFileSync(secretsPath, 'utf8'));
    expect(held.keys.map((k: { key: string }) => k.key).sort()).toEqual(b.issued.map((i) => i.key).sort());

    const receipts = readdirSync(join(dir, 'receipts'));
    expect(receipts).toHaveLength(1);
    const receipt = JSON.parse(readFileSync(join(dir, 'receipts', receipts[0]!), 'utf8'));
    expect(receipt).toMatchObject({ format: 'keyhold-receipt/v1', payloadHash: b.hash, sequence: 1, issued: 2, secrets: 2, signers: [f.signers[0]!.kid, f.signers[1]!.kid] });
    expect(JSON.stringify(receipt)).not.toContain('khk_');

    const st = await readState(dir);
    expect(st?.state).toMatchObject({ sequence: 1, payloadHash: b.hash, recipient: f.recipient.recipientId, trustRoot: { version: 1, hash: f.trust.hash } });
    expect(readlinkSync(join(dir, 'current'))).toMatch(/^gen-\d{12}$/);
  });

  it('applying the same bundle twice is a no-op with a clear message and changes no byte', async () => {
    const f = await fixture();
    const b = await makeBundle(f);
    const dir = stateDir();
    await applyBundle(dir, b.text, { now: NOW, trustRootText: f.trustText, privateKey: f.recipient.privateJwk });
    const before = snapshot(dir);
    // The outer JSON re-spaced: a different file text, the same bundle (identity is the payload hash).
    const respaced = JSON.stringify(JSON.parse(b.text), null, 2);
    for (const text of [b.text, respaced]) {
      const r = await applyBundle(dir, text, { now: NOW, privateKey: f.recipient.privateJwk });
      expect(r.status).toBe('already-applied');
      expect(r.message).toMatch(/already applied; nothing to do/);
    }
    expect(snapshot(dir)).toEqual(before);
  });

  it('applies a chain, revokes with grace, and checks presented keys in constant time per version', async () => {
    const f = await fixture();
    const dir = stateDir();
    const first = issue(1);
    const b1 = await makeBundle(f, { issued: [first] });
    await applyBundle(dir, b1.text, { now: NOW, trustRootText: f.trustText, privateKey: f.recipient.privateJwk });
    const second = issue(2, first.change.keyId, first.change.name);
    const graceEnd = '2026-12-01T00:00:00Z';
    const revokes: Change[] = [{ type: 'revoke', keyId: first.change.keyId, version: 1, reason: 'superseded', effectiveAt: graceEnd }];
    const b2 = await makeBundle(f, { issued: [second], revokes, sequence: 2, previous: b1.hash });
    const r = await applyBundle(dir, b2.text, { now: NOW, privateKey: f.recipient.privateJwk });
    expect(r).toMatchObject({ status: 'applied', issued: 1, revoked: 1, sequence: 2 });

    const ks = loadKeystore(join(dir, 'keystore.json'));
    expect(checkPresentedKey(ks, first.key, NOW)).toMatchObject({ valid: true, version: 1 });
    expect(checkPresentedKey(ks, second.key, NOW)).toMatchObject({ valid: true, version: 2 });
    expect(checkPresentedKey(ks, first.key, new Date('2026-12-02T00:00:00Z'))).toMatchObject({ valid: false, reason: 'revoked', version: 1 });
    expect(checkPresentedKey(ks, second.key, new Date('2026-10-01T00:00:00Z'))).toMatchObject({ valid: false, reason: 'not-yet-valid' });
    expect(checkPresentedKey(ks, makeApiKey(first.change.keyId), NOW)).toMatchObject({ valid: false, reason: 'unknown' });
    expect(checkPresentedKey(ks, `${first.key.slice(0, 69)}x`, NOW)).toEqual({ valid: false, reason: 'malformed' });

    // The holder keeps the superseded key until its revocation is in effect.
    const held = JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8'));
    expect(held.keys.map((k: { version: number; revokedAt: string | null }) => [k.version, k.revokedAt])).toEqual([[1, graceEnd], [2, null]]);
  });

  it('applies a revocation-only bundle (no JWE) and drops the revoked secret once in effect', async () => {
    const f = await fixture();
    const dir = stateDir();
    const k = issue(1);
    const b1 = await makeBundle(f, { issued: [k] });
    await applyBundle(dir, b1.text, { now: NOW, trustRootText: f.trustText, privateKey: f.recipient.privateJwk });
    const b2 = await makeBundle(f, { issued: [], revokes: [{ type: 'revoke', keyId: k.change.keyId, version: 1, reason: 'compromised', effectiveAt: '2026-11-27T11:00:00Z' }], sequence: 2, previous: b1.hash });
    expect(JSON.parse(Buffer.from(JSON.parse(b2.text).payload, 'base64url').toString()).secrets).toBeUndefined();
    const r = await applyBundle(dir, b2.text, { now: NOW, privateKey: f.recipient.privateJwk });
    expect(r).toMatchObject({ status: 'applied', issued: 0, revoked: 1, secrets: 0 });
    expect(checkPresentedKey(loadKeystore(join(dir, 'keystore.json')), k.key, NOW)).toMatchObject({ valid: false, reason: 'revoked' });
    expect(JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8')).keys).toEqual([]);
  });

  it('works with an X25519 recipient and writes an env file (0600) when asked', async () => {
    const f = await fixture({ curve: 'X25519' });
    const dir = stateDir();
    const k = issue(1, undefined, 'billing.api-key');
    const b = await makeBundle(f, { issued: [k] });
    await applyBundle(dir, b.text, { now: NOW, trustRootText: f.trustText, privateKey: f.recipient.privateJwk, secretsFormat: 'env' });
    const env = join(dir, 'secrets.env');
    expect(statSync(env).mode & 0o777).toBe(0o600);
    expect(readFileSync(env, 'utf8')).toBe(`KEYHOLD_BILLING_API_KEY=${k.key}\n`);
  });

  it('decrypts the one JWE of a bundle to exactly the issued keys', async () => {
    const f = await fixture();
    const b = await makeBundle(f, { issued: [issue(), issue(), issue()] });
    const v = await verifyBundle(b.text, f.trust, { now: NOW });
    const jwe = v.payload.secrets!;
    expect(jwe.split('.')).toHaveLength(5);
    const plain = await decryptSecrets(jwe, await loadRecipientPrivateKey(f.recipient.privateJwk), v.payload.bundleId);
    expect(plain.keys.map((k) => k.key).sort()).toEqual(b.issued.map((i) => i.key).sort());
    await expect(decryptSecrets(jwe, await loadRecipientPrivateKey(f.recipient.privateJwk), 'another-bundle')).rejects.toMatchObject({ code: 'BUNDLE_SECRETS' });
  });

  it('refuses payloads the exporter should never build, at build time', async () => {
    const { buildPayload } = await import('../../importer/src/index.js');
    const base = { vaultId: VAULT_ID, recipient: 'a'.repeat(43), sequence: 1, previous: null, issuedAt: NOW, expiresAt: new Date(NOW.getTime() + 1000), changes: [] };
    expect(() => buildPayload({ ...base, sequence: 2 })).toThrow(ImportError);
    expect(() => buildPayload({ ...base, expiresAt: NOW })).toThrow(/expiresAt/);
    const i = issue();
    expect(() => buildPayload({ ...base, changes: [i.change, i.change] })).toThrow(/out of order or repeats/);
  });
});

describe('crash recovery and concurrency', () => {
  it('an orphan generation (a crash before the commit) is ignored, then replaced, then removed', async () => {
    const f = await fixture();
    const dir = stateDir();
    const b1 = await makeBundle(f);
    await applyBundle(dir, b1.text, { now: NOW, trustRootText: f.trustText, privateKey: f.recipient.privateJwk });
    // What a crash after writing generation 2 but before the rename of `current` leaves behind.
    const { mkdirSync, writeFileSync, existsSync } = await import('node:fs');
    mkdirSync(join(dir, 'gen-000000000002'));
    writeFileSync(join(dir, 'gen-000000000002', 'keystore.json'), '{"half":');
    expect((await readState(dir))?.state.sequence).toBe(1);
    expect(loadKeystore(join(dir, 'keystore.json')).sequence).toBe(1);
    const b2 = await makeBundle(f, { sequence: 2, previous: b1.hash });
    await applyBundle(dir, b2.text, { now: NOW, privateKey: f.recipient.privateJwk });
    expect(readlinkSync(join(dir, 'current'))).toBe('gen-000000000002');
    expect(loadKeystore(join(dir, 'keystore.json')).sequence).toBe(2);
    expect(existsSync(join(dir, 'gen-000000000001'))).toBe(false);
  });

  it('a receipt lost to a crash right after the commit is restored by applying the same bundle again', async () => {
    const f = await fixture();
    const dir = stateDir();
    const b = await makeBundle(f);
    const r = await applyBundle(dir, b.text, { now: NOW, trustRootText: f.trustText, privateKey: f.recipient.privateJwk });
    const { rmSync, existsSync } = await import('node:fs');
    rmSync(r.receiptPath);
    const again = await applyBundle(dir, b.text, { now: NOW, privateKey: f.recipient.privateJwk });
    expect(again.status).toBe('already-applied');
    expect(existsSync(r.receiptPath)).toBe(true);
    expect(JSON.parse(readFileSync(r.receiptPath, 'utf8')).payloadHash).toBe(b.hash);
  });

  it('a second import running (the lock held) is refused and changes nothing', async () => {
    const f = await fixture();
    const dir = stateDir();
    const b1 = await makeBundle(f);
    await applyBundle(dir, b1.text, { now: NOW, trustRootText: f.trustText, privateKey: f.recipient.privateJwk });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, '.lock'));
    const before = snapshot(dir);
    const b2 = await makeBundle(f, { sequence: 2, previous: b1.hash });
    await expect(applyBundle(dir, b2.text, { now: NOW, privateKey: f.recipient.privateJwk })).rejects.toMatchObject({ code: 'STATE_LOCKED' });
    expect(snapshot(dir)).toEqual(before);
  });

  it('a damaged state directory is reported, not overwritten', async () => {
    const f = await fixture();
    const dir = stateDir();
    const b1 = await makeBundle(f);
    await applyBundle(dir, b1.text, { now: NOW, trustRootText: f.trustText, privateKey: f.recipient.privateJwk });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'current', 'state.json'), '{"format":"keyhold-import-state/v1"}');
    const before = snapshot(dir);
    const b2 = await makeBundle(f, { sequence: 2, previous: b1.hash });
    await expect(applyBundle(dir, b2.text, { now: NOW, privateKey: f.recipient.privateJwk })).rejects.toMatchObject({ code: 'STATE_INVALID' });
    expect(snapshot(dir)).toEqual(before);
  });
});

describe('recipient keys', () => {
  it('a private key file of another curve or type is refused before anything is read', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const f = await fixture();
    const b = await makeBundle(f);
    const dir = stateDir();
    for (const [curve, kind] of [['P-384', 'ec'], ['secp256k1', 'ec'], [undefined, 'ed25519']] as const) {
      const jwk = (kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: curve }) : generateKeyPairSync('ed25519')).privateKey.export({ format: 'jwk' });
      await expect(applyBundle(dir, b.text, { now: NOW, trustRootText: f.trustText, privateKey: jwk })).rejects.toMatchObject({ code: 'KEY_INVALID' });
    }
    await expect(applyBundle(dir, b.text, { now: NOW, trustRootText: f.trustText, privateKey: f.recipient.publicJwk })).rejects.toMatchObject({ code: 'KEY_INVALID' });
    const { existsSync } = await import('node:fs');
    expect(existsSync(dir)).toBe(false);
  });
});

describe('signing side helpers', () => {
  it('a second custodian adds a signature to a bundle below threshold (keyhold bundle sign)', async () => {
    const { addSignature, encodeProtectedHeader, signingInput } = await import('../../importer/src/index.js');
    const f = await fixture();
    const one = await makeBundle(f, { signers: [f.signers[0]!] });
    await expect(verifyBundle(one.text, f.trust, { now: NOW })).rejects.toMatchObject({ code: 'BUNDLE_THRESHOLD' });
    const payloadB64 = (JSON.parse(one.text) as { payload: string }).payload;
    const second = f.signers[2]!;
    const protectedB64 = encodeProtectedHeader({ alg: second.alg, kid: second.kid, typ: 'keyhold-bundle+json' });
    const two = addSignature(one.text, { protected: protectedB64, signature: await second.sign(signingInput(protectedB64, payloadB64)) });
    const v = await verifyBundle(two, f.trust, { now: NOW });
    expect(v.signers).toEqual([f.signers[0]!.kid, second.kid]);
    expect(v.hash).toBe(one.hash);
    // The same custodian again, and a DER-encoded (not raw r||s) ECDSA signature, are refused when assembling.
    expect(() => addSignature(two, { protected: protectedB64, signature: new Uint8Array(64) })).toThrow(ImportError);
    const first = f.signers[1]!;
    const p1 = encodeProtectedHeader({ alg: first.alg, kid: first.kid, typ: 'keyhold-bundle+json' });
    expect(() => addSignature(one.text, { protected: p1, signature: new Uint8Array(71) })).toThrow(/64 bytes/);
  });
});
