import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  applyBundle,
  buildTrustRoot,
  loadTrustRoot,
  readState,
  signTrustRoot,
  updateTrustRoot,
  verifyBundle,
  verifyRootRotation,
  type Signer,
  type TrustRoot,
} from '../../importer/src/index.js';
import { tmpDir } from '../helpers/tmp.js';
import { ed25519Signer, es256Signer, fixture, makeBundle, NOW, snapshot, VAULT_ID, type Fixture } from './helpers.js';

/** Root version `version` with `members` and `threshold`, signed by `by` (in that order, repeats allowed). */
async function root(version: number, members: Signer[], threshold: number, by: Signer[]): Promise<string> {
  const { assembleGeneralJws, encodeProtectedHeader, encodeTrustRootPayload, signingInput } = await import('../../importer/src/index.js');
  const payload = buildTrustRoot({ vaultId: VAULT_ID, version, threshold, signers: members.map((s) => s.publicJwk), issuedAt: new Date('2026-06-01T00:00:00Z') });
  const b64 = encodeTrustRootPayload(payload).b64;
  // assembleGeneralJws refuses a signer twice, so repeats are assembled by hand: the importer must refuse them too.
  const sigs = await Promise.all(
    by.map(async (s) => {
      const p = encodeProtectedHeader({ alg: s.alg, kid: s.kid, typ: 'keyhold-trust+json' });
      return { protected: p, signature: Buffer.from(await s.sign(signingInput(p, b64))).toString('base64url') };
    }),
  );
  if (new Set(by.map((s) => s.kid)).size === by.length) return assembleGeneralJws(b64, sigs);
  return JSON.stringify({ payload: b64, signatures: sigs });
}

describe('trust root', () => {
  it('loads a root signed by its threshold and refuses one below it', async () => {
    const s = [es256Signer(), ed25519Signer(), es256Signer()];
    const ok = await loadTrustRoot(await root(1, s, 2, [s[0]!, s[1]!]));
    expect(ok.payload.threshold).toBe(2);
    expect([...ok.signers.keys()]).toEqual(s.map((x) => x.kid).sort());
    await expect(loadTrustRoot(await root(1, s, 2, [s[2]!]))).rejects.toMatchObject({ code: 'TRUST_ROOT_THRESHOLD' });
    // A signature by an outside key is skipped, never counted towards the threshold.
    await expect(loadTrustRoot(await root(1, s, 2, [s[0]!, es256Signer()]))).rejects.toMatchObject({ code: 'TRUST_ROOT_THRESHOLD' });
    // A bad signature by one of its own signers fails the document.
    const good = JSON.parse(await root(1, s, 1, [s[0]!, s[1]!]));
    good.signatures[1].signature = good.signatures[0].signature;
    await expect(loadTrustRoot(JSON.stringify(good))).rejects.toMatchObject({ code: 'TRUST_ROOT_INVALID' });
  });

  describe('rotation (as TUF)', () => {
    let old: Signer[];
    let fresh: Signer[];
    let current: TrustRoot;
    const setup = async (): Promise<void> => {
      old = [es256Signer(), es256Signer(), ed25519Signer()];
      fresh = [ed25519Signer(), es256Signer(), es256Signer()];
      current = await loadTrustRoot(await root(1, old, 2, [old[0]!, old[1]!]));
    };

    it('accepts N+1 signed by a threshold of N and a threshold of N+1', async () => {
      await setup();
      const next = await verifyRootRotation(current, await root(2, fresh, 2, [old[0]!, old[2]!, fresh[0]!, fresh[1]!]));
      expect(next.payload.version).toBe(2);
      expect(next.signers.has(fresh[0]!.kid)).toBe(true);
      expect(next.signers.has(old[0]!.kid)).toBe(false);
    });

    it('a signer kept across the rotation counts in both sets', async () => {
      await setup();
      const members = [old[0]!, fresh[0]!];
      const next = await verifyRootRotation(current, await root(2, members, 2, [old[0]!, old[1]!, fresh[0]!]));
      expect(next.payload.version).toBe(2);
    });

    it('refuses N+1 without a threshold of the old keys', async () => {
      await setup();
      await expect(verifyRootRotation(current, await root(2, fresh, 2, [old[0]!, fresh[0]!, fresh[1]!]))).rejects.toMatchObject({ code: 'TRUST_ROOT_THRESHOLD', message: expect.stringMatching(/1 of the 2 signers that version 1 requires/) });
    });

    it('refuses N+1 without a threshold of its own keys', async () => {
      await setup();
      await expect(verifyRootRotation(current, await root(2, fresh, 2, [old[0]!, old[1]!, fresh[0]!]))).rejects.toMatchObject({ code: 'TRUST_ROOT_THRESHOLD', message: expect.stringMatching(/1 of its own 2/) });
    });

    it('refuses a skipped version, an older one, and another document with the pinned version', async () => {
      await setup();
      await expect(verifyRootRotation(current, await root(3, fresh, 2, [old[0]!, old[1]!, fresh[0]!, fresh[1]!]))).rejects.toMatchObject({ code: 'TRUST_ROOT_VERSION' });
      const v2 = await verifyRootRotation(current, await root(2, fresh, 2, [old[0]!, old[1]!, fresh[0]!, fresh[1]!]));
      await expect(verifyRootRotation(v2, current.text)).rejects.toMatchObject({ code: 'TRUST_ROOT_ROLLBACK' });
      await expect(verifyRootRotation(current, await root(1, old, 1, [old[0]!, old[1]!]))).rejects.toMatchObject({ code: 'TRUST_ROOT_MISMATCH' });
      await expect(verifyRootRotation(current, current.text)).resolves.toBe(current);
    });

    it('one signer signing twice counts once: it is refused, never counted as two', async () => {
      await setup();
      // Old threshold 2 "met" by old[0] twice, new threshold met honestly.
      await expect(verifyRootRotation(current, await root(2, fresh, 2, [old[0]!, old[0]!, fresh[0]!, fresh[1]!]))).rejects.toMatchObject({ code: 'TRUST_ROOT_INVALID', message: expect.stringMatching(/signed more than once/) });
      // New threshold "met" by fresh[0] twice.
      await expect(verifyRootRotation(current, await root(2, fresh, 2, [old[0]!, old[1]!, fresh[0]!, fresh[0]!]))).rejects.toMatchObject({ code: 'TRUST_ROOT_INVALID', message: expect.stringMatching(/signed more than once/) });
    });
  });

  it('trust update pins, rotates, then bundles verify only under the new keys', async () => {
    const f: Fixture = await fixture();
    const dir = join(tmpDir('kh-import-'), 'state');
    expect(await updateTrustRoot(dir, f.trustText, NOW)).toMatchObject({ status: 'pinned', version: 1 });
    const b1 = await makeBundle(f);
    await applyBundle(dir, b1.text, { now: NOW, privateKey: f.recipient.privateJwk });

    const fresh = [ed25519Signer(), es256Signer()];
    const v2 = await root(2, fresh, 2, [f.signers[0]!, f.signers[1]!, fresh[0]!, fresh[1]!]);
    const skip = await root(3, fresh, 2, [f.signers[0]!, f.signers[1]!, fresh[0]!, fresh[1]!]);
    const before = snapshot(dir);
    await expect(updateTrustRoot(dir, skip, NOW)).rejects.toMatchObject({ code: 'TRUST_ROOT_VERSION' });
    expect(snapshot(dir)).toEqual(before);

    expect(await updateTrustRoot(dir, v2, NOW)).toMatchObject({ status: 'rotated', version: 2 });
    expect(await updateTrustRoot(dir, v2, NOW)).toMatchObject({ status: 'unchanged', version: 2 });
    const st = await readState(dir);
    expect(st?.state).toMatchObject({ sequence: 1, trustRoot: { version: 2 } });
    expect(st?.keystore?.entries).toHaveLength(2);

    const oldSigned = await makeBundle(f, { sequence: 2, previous: b1.hash });
    await expect(applyBundle(dir, oldSigned.text, { now: NOW, privateKey: f.recipient.privateJwk })).rejects.toMatchObject({ code: 'BUNDLE_UNKNOWN_SIGNER' });
    const newSigned = await makeBundle(f, { sequence: 2, previous: b1.hash, signers: fresh });
    await expect(applyBundle(dir, newSigned.text, { now: NOW, privateKey: f.recipient.privateJwk })).resolves.toMatchObject({ status: 'applied', trustRootVersion: 2 });
  });

  it('apply --trust with the successor root rotates and applies in one commit', async () => {
    const f = await fixture();
    const dir = join(tmpDir('kh-import-'), 'state');
    const b1 = await makeBundle(f);
    await applyBundle(dir, b1.text, { now: NOW, trustRootText: f.trustText, privateKey: f.recipient.privateJwk });
    const fresh = [es256Signer()];
    const v2 = await root(2, fresh, 1, [f.signers[0]!, f.signers[2]!, fresh[0]!]);
    const b2 = await makeBundle(f, { sequence: 2, previous: b1.hash, signers: fresh });
    await expect(applyBundle(dir, b2.text, { now: NOW, privateKey: f.recipient.privateJwk })).rejects.toMatchObject({ code: 'BUNDLE_UNKNOWN_SIGNER' });
    const r = await applyBundle(dir, b2.text, { now: NOW, privateKey: f.recipient.privateJwk, trustRootText: v2 });
    expect(r).toMatchObject({ status: 'applied', trustRootVersion: 2 });
    expect((await readState(dir))?.trust.payload.version).toBe(2);
  });

  it('an expired trust root accepts no bundle', async () => {
    const s = [es256Signer()];
    const payload = buildTrustRoot({ vaultId: VAULT_ID, version: 1, threshold: 1, signers: s.map((x) => x.publicJwk), issuedAt: new Date('2025-01-01T00:00:00Z'), expiresAt: new Date('2026-01-01T00:00:00Z') });
    const tr = await loadTrustRoot(await signTrustRoot(payload, s));
    const f = await fixture();
    const b = await makeBundle(f, { signers: s });
    await expect(verifyBundle(b.text, tr, { now: NOW })).rejects.toMatchObject({ code: 'TRUST_ROOT_EXPIRED' });
  });

  it('a signed trust root naming a key of another curve, or a symmetric key, is refused', async () => {
    const { b64url, canonicalize } = await import('../../importer/src/index.js');
    const { generateKeyPairSync } = await import('node:crypto');
    const s = es256Signer();
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
    for (const odd of [{ kty: 'EC', crv: 'P-384', x: p384.x, y: p384.y }, { kty: 'oct', k: 'c2VjcmV0' }]) {
      const payload = { expiresAt: null, format: 'keyhold-trust/v1', issuedAt: '2026-01-01T00:00:00Z', signers: [s.publicJwk, odd], threshold: 1, vaultId: VAULT_ID, version: 1 };
      const b64 = b64url(canonicalize(payload));
      const { encodeProtectedHeader, signingInput, assembleGeneralJws } = await import('../../importer/src/index.js');
      const p = encodeProtectedHeader({ alg: s.alg, kid: s.kid, typ: 'keyhold-trust+json' });
      const text = assembleGeneralJws(b64, [{ protected: p, signature: await s.sign(signingInput(p, b64)) }]);
      await expect(loadTrustRoot(text)).rejects.toMatchObject({ code: 'TRUST_ROOT_INVALID' });
    }
  });

  it('buildTrustRoot refuses private keys, encryption keys, other curves and mismatched kids', () => {
    const s = es256Signer();
    const base = { vaultId: VAULT_ID, version: 1, threshold: 1 };
    expect(() => buildTrustRoot({ ...base, signers: [{ ...s.publicJwk, d: 'x' }] })).toThrow(/private key/);
    expect(() => buildTrustRoot({ ...base, signers: [{ ...s.publicJwk, use: 'enc' }] })).toThrow(/another use/);
    expect(() => buildTrustRoot({ ...base, signers: [{ ...s.publicJwk, kid: 'x'.repeat(43) }] })).toThrow(/thumbprint/);
    expect(() => buildTrustRoot({ ...base, signers: [{ ...s.publicJwk, crv: 'P-384' }] })).toThrow(/P-256/);
    expect(() => buildTrustRoot({ ...base, signers: [{ ...s.publicJwk, alg: 'EdDSA' }] })).toThrow(/does not match/);
    expect(() => buildTrustRoot({ ...base, signers: [s.publicJwk, { ...s.publicJwk, kid: s.kid }] })).toThrow(/listed twice/);
    expect(() => buildTrustRoot({ ...base, threshold: 2, signers: [s.publicJwk] })).toThrow(/threshold/);
  });
});
