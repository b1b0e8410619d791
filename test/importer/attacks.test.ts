/**
 * Every bad input of issue 5: each is refused with its own code, and the
 * state directory is byte-for-byte unchanged (nothing written, nothing
 * created) after the refusal.
 */

import { beforeEach, describe, expect, it } from 'vitest';
import { createHmac, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  applyBundle,
  b64url,
  buildPayload,
  canonicalize,
  encodePayload,
  encryptSecrets,
  jwkThumbprint,
  signBundle,
  signingInput,
  softwareSigner,
  type Signer,
} from '../../importer/src/index.js';
import { tmpDir } from '../helpers/tmp.js';
import { es256Signer, fixture, issue, makeBundle, NOW, snapshot, VAULT_ID, type Fixture, type MadeBundle } from './helpers.js';

let f: Fixture;
let root: string;
let dir: string;
let first: MadeBundle;

beforeEach(async () => {
  f = await fixture();
  root = tmpDir('kh-import-');
  dir = join(root, 'state');
  first = await makeBundle(f);
  await applyBundle(dir, first.text, { now: NOW, trustRootText: f.trustText, privateKey: f.recipient.privateJwk });
});

/** Applies bundle text to the prepared state and expects a refusal with `code` and no change at all. */
async function refused(text: string | Uint8Array, code: string, opts: { maxBytes?: number; trustRootText?: string; now?: Date; stateDir?: string } = {}): Promise<void> {
  const target = opts.stateDir ?? dir;
  const before = snapshot(target);
  const existed = existsSync(target);
  await expect(
    applyBundle(target, text, { now: opts.now ?? NOW, privateKey: f.recipient.privateJwk, ...(opts.maxBytes ? { maxBytes: opts.maxBytes } : {}), ...(opts.trustRootText ? { trustRootText: opts.trustRootText } : {}) }),
  ).rejects.toMatchObject({ name: 'ImportError', code });
  expect(existsSync(target)).toBe(existed);
  expect(snapshot(target)).toEqual(before);
}

function next(o: Parameters<typeof makeBundle>[1] = {}): Promise<MadeBundle> {
  return makeBundle(f, { sequence: 2, previous: first.hash, ...o });
}

type Doc = { payload: string; signatures: { protected: string; signature: string; header?: unknown }[] };
const parse = (t: string): Doc => JSON.parse(t) as Doc;
const header = (h: Record<string, unknown>): string => b64url(JSON.stringify(h));

/** A signature entry with an arbitrary header, signed by `sign` over the real signing input. */
function entry(payloadB64: string, h: Record<string, unknown>, sign: (input: Uint8Array) => Uint8Array): { protected: string; signature: string } {
  const p = header(h);
  return { protected: p, signature: b64url(sign(signingInput(p, payloadB64))) };
}

function flip(text: string, at: number): string {
  const c = text[at]!;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const repl = alphabet[(alphabet.indexOf(c) + 1) % 64]!;
  return text.slice(0, at) + repl + text.slice(at + 1);
}

describe('bad bundles are refused and leave the state unchanged', () => {
  it('a flipped character in the payload, a protected header or a signature', async () => {
    const b = await next();
    const doc = parse(b.text);
    const inPayload = b.text.indexOf(doc.payload) + Math.floor(doc.payload.length / 2);
    await refused(flip(b.text, inPayload), 'BUNDLE_SIGNATURE');
    const inSig = b.text.indexOf(doc.signatures[1]!.signature) + 10;
    await refused(flip(b.text, inSig), 'BUNDLE_SIGNATURE');
    // A header byte changed: the header no longer decodes to canonical JSON, or names another signer.
    const inHeader = b.text.indexOf(doc.signatures[0]!.protected) + 5;
    await refused(flip(b.text, inHeader), 'BUNDLE_HEADER');
  });

  it('a removed signature (below threshold) and a duplicated one', async () => {
    const b = await next();
    const doc = parse(b.text);
    await refused(JSON.stringify({ payload: doc.payload, signatures: [doc.signatures[0]] }), 'BUNDLE_THRESHOLD');
    await refused(JSON.stringify({ payload: doc.payload, signatures: [doc.signatures[0], doc.signatures[1], doc.signatures[0]] }), 'BUNDLE_DUPLICATE_SIGNER');
    await refused(JSON.stringify({ payload: doc.payload, signatures: [doc.signatures[0], doc.signatures[0]] }), 'BUNDLE_DUPLICATE_SIGNER');
    await refused(JSON.stringify({ payload: doc.payload, signatures: [] }), 'BUNDLE_MALFORMED');
  });

  it('degenerate ECDSA signatures: r = s = 0, r = s = n (the group order), wrong length', async () => {
    const doc = parse((await next()).text);
    const n = 'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551';
    for (const sigHex of ['00'.repeat(64), n + n, '00'.repeat(32) + n, '01'.repeat(63)]) {
      const sig = Buffer.from(sigHex, 'hex').toString('base64url');
      await refused(JSON.stringify({ payload: doc.payload, signatures: [{ ...doc.signatures[0]!, signature: sig }, doc.signatures[1]] }), 'BUNDLE_SIGNATURE');
    }
  });

  it('signatures below the threshold', async () => {
    await refused((await next({ signers: [f.signers[2]!] })).text, 'BUNDLE_THRESHOLD');
  });

  it('an unknown kid, even beside a threshold of good signatures', async () => {
    const stranger = es256Signer();
    await refused((await next({ signers: [f.signers[0]!, stranger] })).text, 'BUNDLE_UNKNOWN_SIGNER');
    await refused((await next({ signers: [f.signers[0]!, f.signers[1]!, stranger] })).text, 'BUNDLE_UNKNOWN_SIGNER');
  });

  it('alg none', async () => {
    const doc = parse((await next()).text);
    const none = { protected: header({ alg: 'none', kid: f.signers[0]!.kid, typ: 'keyhold-bundle+json' }), signature: '' };
    await refused(JSON.stringify({ payload: doc.payload, signatures: [none, doc.signatures[1]] }), 'BUNDLE_ALGORITHM');
  });

  it('HS256 keyed with the signer\'s public key (symmetric/asymmetric confusion)', async () => {
    const doc = parse((await next()).text);
    const pub = JSON.stringify(f.signers[0]!.publicJwk);
    const hs = entry(doc.payload, { alg: 'HS256', kid: f.signers[0]!.kid, typ: 'keyhold-bundle+json' }, (i) => createHmac('sha256', pub).update(i).digest());
    await refused(JSON.stringify({ payload: doc.payload, signatures: [hs, doc.signatures[1]] }), 'BUNDLE_ALGORITHM');
  });

  it('a key from another curve: ES384, ES256 on an Ed25519 signer, secp256k1 under a P-256 kid', async () => {
    const doc = parse((await next()).text);
    const typ = 'keyhold-bundle+json';
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    const es384 = entry(doc.payload, { alg: 'ES384', kid: f.signers[0]!.kid, typ }, (i) => nodeSign('sha384', i, { key: p384, dsaEncoding: 'ieee-p1363' }));
    await refused(JSON.stringify({ payload: doc.payload, signatures: [es384, doc.signatures[1]] }), 'BUNDLE_ALGORITHM');
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const onEd = entry(doc.payload, { alg: 'ES256', kid: f.signers[2]!.kid, typ }, (i) => nodeSign('sha256', i, { key: p256, dsaEncoding: 'ieee-p1363' }));
    await refused(JSON.stringify({ payload: doc.payload, signatures: [doc.signatures[0], onEd] }), 'BUNDLE_ALGORITHM');
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey;
    const onP256 = entry(doc.payload, { alg: 'ES256', kid: f.signers[1]!.kid, typ }, (i) => nodeSign('sha256', i, { key: k1, dsaEncoding: 'ieee-p1363' }));
    await refused(JSON.stringify({ payload: doc.payload, signatures: [doc.signatures[0], onP256] }), 'BUNDLE_SIGNATURE');
  });

  it('an attacker-embedded jwk (and jku, x5c, crit) in the protected header, and an unprotected header', async () => {
    const doc = parse((await next()).text);
    const attacker: KeyObject = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const jwk = attacker.export({ format: 'jwk' });
    const pubJwk = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
    const signer: Signer = softwareSigner(attacker);
    for (const extra of [{ jwk: pubJwk }, { jku: 'https://attacker.example/jwks' }, { x5c: ['MIIB'] }, { crit: ['exp'], exp: 1 }]) {
      const h = { alg: 'ES256', kid: jwkThumbprint(pubJwk as never), typ: 'keyhold-bundle+json', ...extra };
      const e = entry(doc.payload, h, (i) => signer.sign(i) as Uint8Array);
      await refused(JSON.stringify({ payload: doc.payload, signatures: [doc.signatures[0], e] }), 'BUNDLE_HEADER');
    }
    const withUnprotected = { payload: doc.payload, signatures: [{ ...doc.signatures[0]!, header: { jwk: pubJwk } }, doc.signatures[1]] };
    await refused(JSON.stringify(withUnprotected), 'BUNDLE_HEADER');
  });

  it('a bundle for another recipient', async () => {
    await refused((await next({ to: f.other })).text, 'BUNDLE_RECIPIENT');
  });

  it('a bundle from another vault', async () => {
    await refused((await next({ vaultId: 'another-vault' })).text, 'BUNDLE_VAULT');
  });

  it('an expired bundle, and one issued in the future (beyond the clock skew)', async () => {
    const b = await next({ issuedAt: new Date('2026-11-01T00:00:00Z'), expiresAt: new Date('2026-11-20T00:00:00Z') });
    await refused(b.text, 'BUNDLE_EXPIRED');
    const future = await next({ issuedAt: new Date(NOW.getTime() + 3600_000), expiresAt: new Date(NOW.getTime() + 7200_000) });
    await refused(future.text, 'BUNDLE_NOT_YET_VALID');
    // Within the skew both pass verification (the boundary is the tolerance, not the exact second).
    const { verifyBundle } = await import('../../importer/src/index.js');
    await expect(verifyBundle(b.text, f.trust, { now: new Date('2026-11-20T00:04:00Z') })).resolves.toBeTruthy();
  });

  it('an older sequence (rollback)', async () => {
    const b2 = await next();
    await applyBundle(dir, b2.text, { now: NOW, privateKey: f.recipient.privateJwk });
    await refused(first.text, 'BUNDLE_ROLLBACK');
  });

  it('an equal sequence with different content (fork)', async () => {
    await refused((await makeBundle(f)).text, 'BUNDLE_FORK');
  });

  it('a broken previous-hash chain, and a gap in the sequence', async () => {
    await refused((await next({ previous: 'f'.repeat(64) })).text, 'BUNDLE_CHAIN');
    await refused((await next({ sequence: 3 })).text, 'BUNDLE_CHAIN');
  });

  it('a first bundle that is not sequence 1 on an empty state directory', async () => {
    const empty = join(root, 'empty');
    await refused((await next()).text, 'BUNDLE_CHAIN', { stateDir: empty, trustRootText: f.trustText });
  });

  it('a bundle larger than the configured limit (checked before parsing)', async () => {
    const b = await next();
    await refused(b.text, 'BUNDLE_TOO_LARGE', { maxBytes: b.text.length - 1 });
    await refused(`${'['.repeat(100)}${' '.repeat(2000)}`, 'BUNDLE_TOO_LARGE', { maxBytes: 1000 });
  });

  it('malformed JSON, non-canonical base64url, a non-canonical payload, an unknown payload member', async () => {
    const b = await next();
    await refused(b.text.slice(0, -20), 'BUNDLE_MALFORMED');
    await refused('', 'BUNDLE_MALFORMED');
    await refused(new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]), 'BUNDLE_MALFORMED');
    const doc = parse(b.text);
    await refused(JSON.stringify({ ...doc, payload: `${doc.payload}=` }), 'BUNDLE_MALFORMED');
    await refused(JSON.stringify({ ...doc, extra: 1 }), 'BUNDLE_MALFORMED');
    // Correctly signed, but the payload is not canonical / has a member the format does not know.
    const payload = JSON.parse(Buffer.from(doc.payload, 'base64url').toString('utf8'));
    // Software signers sign synchronously.
    const signWith = (bytes: Buffer): string => {
      const b64 = b64url(bytes);
      const sigs = f.signers.slice(0, 2).map((s) => entry(b64, { alg: s.alg, kid: s.kid, typ: 'keyhold-bundle+json' }, (i) => s.sign(i) as Uint8Array));
      return JSON.stringify({ payload: b64, signatures: sigs });
    };
    await refused(signWith(Buffer.from(JSON.stringify(payload, null, 1))), 'BUNDLE_MALFORMED');
    await refused(signWith(Buffer.from(canonicalize({ ...payload, admin: true }))), 'BUNDLE_MALFORMED');
  });

  it('a JWE that fails to decrypt: encrypted to another key, or its ciphertext altered before signing', async () => {
    const i = issue();
    const toOther = await encryptSecrets(f.other.publicJwk, 'b1', [{ keyId: i.change.keyId, version: 1, key: i.key }]);
    await refused((await next({ bundleId: 'b1', issued: [i], secrets: toOther })).text, 'BUNDLE_DECRYPT');
    const good = await encryptSecrets(f.recipient.publicJwk, 'b2', [{ keyId: i.change.keyId, version: 1, key: i.key }]);
    const parts = good.split('.');
    parts[3] = flip(parts[3]!, 3);
    await refused((await next({ bundleId: 'b2', issued: [i], secrets: parts.join('.') })).text, 'BUNDLE_DECRYPT');
  });

  it('a secret that does not match its issue change', async () => {
    const i = issue();
    const wrong = issue(1, i.change.keyId);
    const jwe = await encryptSecrets(f.recipient.publicJwk, 'b3', [{ keyId: i.change.keyId, version: 1, key: wrong.key }]);
    await refused((await next({ bundleId: 'b3', issued: [i], secrets: jwe })).text, 'BUNDLE_SECRETS');
  });

  it('re-issuing a revoked version, and an audit checkpoint that goes back', async () => {
    const k = first.issued[0]!;
    const b2 = await next({ issued: [], revokes: [{ type: 'revoke', keyId: k.change.keyId, version: 1, reason: 'compromised', effectiveAt: '2026-11-27T11:00:00Z' }], checkpoint: { seq: 10, hash: 'c'.repeat(64) } });
    await applyBundle(dir, b2.text, { now: NOW, privateKey: f.recipient.privateJwk });
    const again = await makeBundle(f, { sequence: 3, previous: b2.hash, issued: [k] });
    await refused(again.text, 'BUNDLE_CONFLICT');
    await refused((await makeBundle(f, { sequence: 3, previous: b2.hash, issued: [issue()], checkpoint: { seq: 9, hash: 'c'.repeat(64) } })).text, 'BUNDLE_CHECKPOINT');
    await refused((await makeBundle(f, { sequence: 3, previous: b2.hash, issued: [issue()], checkpoint: { seq: 10, hash: 'd'.repeat(64) } })).text, 'BUNDLE_CHECKPOINT');
  });

  it('a bundle signed under a trust root that is not pinned (another root, same vault)', async () => {
    const g = await fixture();
    const payload = buildPayload({ vaultId: VAULT_ID, recipient: f.recipient.recipientId, sequence: 2, previous: first.hash, issuedAt: NOW, expiresAt: new Date(NOW.getTime() + 1000_000), changes: [] });
    expect(encodePayload(payload).hash).toMatch(/^[0-9a-f]{64}$/);
    await refused(await signBundle(payload, g.signers.slice(0, 2)), 'BUNDLE_UNKNOWN_SIGNER');
    // Offering that other root alongside: another version 1 than the pinned one.
    await refused(await signBundle(payload, g.signers.slice(0, 2)), 'TRUST_ROOT_MISMATCH', { trustRootText: g.trustText });
  });
});
