/**
 * Signatures of exported bundles and trust roots, on two SoftHSM2 tokens
 * (alpha: an ES256 key, beta: an Ed25519 key):
 * - checked with no Keyhold or jose code: node:crypto (and the openssl
 *   command) over the JWS signing input, the payload re-canonicalized by a
 *   few lines of independent JCS, kid recomputed as the RFC 7638 thumbprint;
 * - O(1) token operations per bundle: PKCS#11 calls counted through the
 *   fault-free logging wrapper (test/token/fault-driver.ts) around the real
 *   module, for a bundle of 1 key and one of 200;
 * - M-of-N: threshold 2, an export in a process that sees only one token
 *   (the CLI, with a SoftHSM2 configuration holding only a copy of alpha's
 *   token folder), `bundle sign` with and without a vault, the real importer;
 * - trust roots: version 1, then 2 when a signer is added, accepted by the
 *   importer's rotation rule.
 */
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys } from '../../electron/core/keys/keys.js';
import { KeyholdService } from '../../electron/core/service.js';
import type { PublicJwk } from '../../electron/core/token/jwk.js';
import {
  applyBundle,
  loadTrustRoot,
  updateTrustRoot,
  verifyBundle,
  verifyRootRotation,
  type TrustRoot,
} from '../../importer/src/index.js';
import { keyhold } from '../cli/run.js';
import type { SoftHsm } from '../helpers/softhsm.js';
import { FAST_KDF, type TmpDir } from '../helpers/tmp.js';
import { closeTokenVault, openTokenVault } from '../helpers/token-vault.js';
import { FaultInjector } from '../token/fault-driver.js';
import { rejectsWith, verifiesWithOpenssl } from '../token/helpers.js';
import { addRecipient, PASSPHRASE, PIN, pinProvider, readBundle, tokenKey, type BundleFile, type Recipient } from './helpers.js';

let hsm: SoftHsm;
let tmp: TmpDir;
const inj = new FaultInjector();
let svc: KeyholdService;
let vaultPath: string;
let a: { kid: string; jwk: PublicJwk };
let b: { kid: string; jwk: PublicJwk };
let r1: Recipient;
let state1: string;
let trustV2: string;
let n = 0;

const out = (): string => path.join(tmp.dir, `b${++n}.json`);

/** RFC 8785 for the values a payload holds (strings, integers, booleans, null, arrays, objects): independent of the importer's JCS. */
function jcs(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(jcs).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${jcs(o[k])}`).join(',')}}`;
}

/** RFC 7638 thumbprint written out by hand for the two key types. */
function thumbprint(jwk: PublicJwk): string {
  const members = jwk.kty === 'EC' ? `{"crv":"${jwk.crv}","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}` : `{"crv":"${jwk.crv}","kty":"OKP","x":"${jwk.x}"}`;
  return createHash('sha256').update(members).digest('base64url');
}

/** node:crypto over ASCII(protected "." payload): ES256 as raw r||s (ieee-p1363), Ed25519 over the input itself. */
function verifiesIndependently(jwk: PublicJwk, protectedB64: string, payloadB64: string, sigB64: string): boolean {
  const input = Buffer.from(`${protectedB64}.${payloadB64}`, 'ascii');
  const sig = Buffer.from(sigB64, 'base64url');
  const key = createPublicKey({ key: { ...jwk }, format: 'jwk' });
  if (sig.length !== 64) return false;
  return jwk.kty === 'EC' ? nodeVerify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, sig) : nodeVerify(null, input, key, sig);
}

/** Every signature of a JWS checked independently against the signers given; returns the kids in order. */
function checkAll(f: BundleFile, signers: readonly { kid: string; jwk: PublicJwk }[], typ = 'keyhold-bundle+json'): string[] {
  return f.json.signatures.map((s, i) => {
    const headerBytes = Buffer.from(s.protected, 'base64url');
    const h = f.headers[i]!;
    expect(Object.keys(h).sort()).toEqual(['alg', 'kid', 'typ']);
    expect(headerBytes.toString('utf8')).toBe(jcs(h));
    expect(h.typ).toBe(typ);
    const signer = signers.find((x) => x.kid === h.kid);
    if (!signer) throw new Error(`signature ${i} by an unexpected kid`);
    expect(h.kid).toBe(thumbprint(signer.jwk));
    expect(h.alg).toBe(signer.jwk.kty === 'EC' ? 'ES256' : 'EdDSA');
    expect(verifiesIndependently(signer.jwk, s.protected, f.json.payload, s.signature)).toBe(true);
    // A flipped payload byte does not verify.
    const flipped = Buffer.from(f.payloadBytes);
    flipped[10] = (flipped[10] as number) ^ 1;
    expect(verifiesIndependently(signer.jwk, s.protected, flipped.toString('base64url'), s.signature)).toBe(false);
    return h.kid;
  });
}

/**
 * Runs fn while this process sees only alpha: beta's slot is left out of
 * C_GetSlotList's answer by the logging wrapper (onResult), as if the card
 * were pulled out.
 */
async function withoutBeta<T>(fn: () => Promise<T>): Promise<T> {
  const betaSlot = svc.tokens.scan().find((t) => t.label === 'beta')?.slot;
  expect(betaSlot).toBeDefined();
  return inj.withoutSlot(betaSlot ?? '', () => {
    expect(svc.tokens.scan().filter((t) => t.flags.initialized).map((t) => t.label)).toEqual(['alpha']);
    return fn();
  });
}

async function rootOf(text: string): Promise<TrustRoot> {
  return loadTrustRoot(text);
}

beforeAll(async () => {
  ({ hsm, tmp, svc, vaultPath } = await openTokenVault({
    tokens: [{ label: 'alpha' }, { label: 'beta' }],
    tmpPrefix: 'keyhold-bundle-sig-',
    passphrase: PASSPHRASE,
    service: (h) => ({ tokens: { module: h.module, driverFactory: inj.factory }, askPin: pinProvider() }),
  }));
  a = await tokenKey(svc, 'alpha', 'sig-a', 'ES256');
  b = await tokenKey(svc, 'beta', 'sig-b', 'EdDSA');
  await svc.call('signer.add', { token: 'alpha', keyLabel: 'sig-a' });
  r1 = await addRecipient(svc, 'r1', { verifies: ['svc1'] });
  state1 = path.join(tmp.dir, 'state-r1');
  await svc.call('key.create', { name: 'one', service: 'svc1' });
});

afterAll(() => closeTokenVault({ svc, hsm, tmp }));

describe('signatures, checked without Keyhold or jose code', () => {
  it('trust root version 1 and an ES256 bundle: header canonical {alg,kid,typ}, kid = RFC 7638 thumbprint, payload canonical JSON, node:crypto (ieee-p1363) and openssl verify', async () => {
    const t = await svc.call('trust.export', { out: path.join(tmp.dir, 'root1.json') });
    expect(t).toMatchObject({ version: 1, threshold: 1, signers: [a.kid], signatures: [a.kid] });
    const rootFile = readBundle(t.path);
    expect(checkAll(rootFile, [a], 'keyhold-trust+json')).toEqual([a.kid]);
    expect(rootFile.payloadBytes.toString('utf8')).toBe(jcs(rootFile.payload));
    expect(rootFile.payload).toMatchObject({ format: 'keyhold-trust/v1', version: 1, threshold: 1, expiresAt: null,
      signers: [{ crv: 'P-256', kty: 'EC', x: a.jwk.kty === 'EC' ? a.jwk.x : '', y: a.jwk.kty === 'EC' ? a.jwk.y : '' }] });
    expect(await updateTrustRoot(state1, fs.readFileSync(t.path, 'utf8'))).toMatchObject({ status: 'pinned', version: 1 });

    const rep = await svc.call('bundle.export', { recipient: 'r1', out: out() });
    const f = readBundle(rep.path);
    expect(Object.keys(f.json).sort()).toEqual(['payload', 'signatures']);
    expect(checkAll(f, [a])).toEqual([a.kid]);
    // The payload is canonical: re-canonicalized independently it gives the same bytes, and its hash is the report's.
    expect(f.payloadBytes.toString('utf8')).toBe(jcs(JSON.parse(f.payloadBytes.toString('utf8'))));
    expect(createHash('sha256').update(f.payloadBytes).digest('hex')).toBe(rep.hash);
    const sig = f.json.signatures[0]!;
    expect(verifiesWithOpenssl(tmp.dir, a.jwk, Buffer.from(`${sig.protected}.${f.json.payload}`, 'ascii'), Buffer.from(sig.signature, 'base64url'))).toBe(true);
    expect((await applyBundle(state1, f.text, { privateKey: r1.privateJwk })).status).toBe('applied');
  });

  it('a second signer (Ed25519 on beta) and threshold 2: trust root version 2 signed by both, accepted by the importer as the rotation of version 1; without alpha\'s signature refused', async () => {
    const s = await svc.call('signer.add', { token: 'beta', keyLabel: 'sig-b' });
    expect(s).toMatchObject({ kid: b.kid, alg: 'EdDSA' });
    expect(await svc.call('signer.threshold', { threshold: 2 })).toEqual({ threshold: 2, signers: 2 });
    await rejectsWith(svc.call('signer.threshold', { threshold: 3 }), 'INVALID_INPUT');
    const t = await svc.call('trust.export', { out: path.join(tmp.dir, 'root2.json') });
    expect(t).toMatchObject({ version: 2, threshold: 2, signers: [a.kid, b.kid].sort() });
    expect([...t.signatures].sort()).toEqual([a.kid, b.kid].sort());
    const f = readBundle(t.path);
    expect(checkAll(f, [a, b], 'keyhold-trust+json').sort()).toEqual([a.kid, b.kid].sort());
    expect(f.payload).toMatchObject({ version: 2, threshold: 2 });
    trustV2 = f.text;
    const v1 = await rootOf(fs.readFileSync(path.join(tmp.dir, 'root1.json'), 'utf8'));
    expect((await verifyRootRotation(v1, trustV2)).payload.version).toBe(2);
    // Version 2 with beta's signature only: below both thresholds.
    const onlyB = JSON.stringify({ payload: f.json.payload, signatures: f.json.signatures.filter((_, i) => f.headers[i]!.kid === b.kid) });
    await expect(verifyRootRotation(v1, onlyB)).rejects.toMatchObject({ code: expect.stringMatching(/^TRUST_ROOT_(THRESHOLD|INVALID)$/) as unknown });
    expect(await updateTrustRoot(state1, trustV2)).toMatchObject({ status: 'rotated', version: 2 });
    // Exported again with no change in signers or threshold: still version 2.
    expect((await svc.call('trust.export', { out: path.join(tmp.dir, 'root2b.json') })).version).toBe(2);
  });

  it('both tokens present: one ES256 and one EdDSA signature, each verified with node:crypto; the importer accepts the bundle at threshold 2', async () => {
    await svc.call('key.create', { name: 'two', service: 'svc1' });
    const rep = await svc.call('bundle.export', { recipient: 'r1', out: out() });
    expect([...rep.signatures].sort()).toEqual([a.kid, b.kid].sort());
    expect(rep.threshold).toBe(2);
    const f = readBundle(rep.path);
    expect(checkAll(f, [a, b]).sort()).toEqual([a.kid, b.kid].sort());
    const v = await verifyBundle(f.text, await rootOf(trustV2), { recipient: r1.recipientId });
    expect([...v.signers].sort()).toEqual([a.kid, b.kid].sort());
    expect((await applyBundle(state1, f.text, { privateKey: r1.privateJwk })).status).toBe('applied');
  });

  it('O(1) token operations: the PKCS#11 calls of an export are the same for 1 key and for 200 keys (one C_Sign per signer)', async () => {
    const small = await addRecipient(svc, 'small', { verifies: ['solo'] });
    const big = await addRecipient(svc, 'big', { verifies: ['many'] });
    expect([small.name, big.name]).toEqual(['small', 'big']);
    createKeys(svc.vault, [{ name: 'k', service: 'solo', environment: 'production', scopes: [], owner: '', notes: '' }]);
    createKeys(svc.vault, Array.from({ length: 200 }, (_, i) => ({ name: `k${i}`, service: 'many', environment: 'production', scopes: [], owner: '', notes: '' })));
    const calls = async (recipient: string) => {
      const m = inj.mark();
      const rep = await svc.call('bundle.export', { recipient, out: out() });
      return { rep, log: inj.since(m) };
    };
    const one = await calls('small');
    const many = await calls('big');
    expect(one.rep.issued).toBe(1);
    expect(many.rep.issued).toBe(200);
    const signs = (log: string[]) => log.filter((c) => /^C_Sign(Async)?$/.test(c)).length;
    expect(signs(one.log)).toBe(2);
    expect(signs(many.log)).toBe(2);
    expect(many.log.filter((c) => c === 'C_Login')).toEqual([]); // already logged in: no PIN asked per key either
    expect([...many.log].sort()).toEqual([...one.log].sort());
  });
});

describe('M-of-N: threshold 2, one token at a time', () => {
  /** A SoftHSM2 configuration whose token folder holds only alpha's token. */
  function alphaOnlyEnv(): Record<string, string> {
    // A copy of alpha's token folder (same keys, same serial) is the token "inserted" there.
    return { ...hsm.cliEnv({ KEYHOLD_PIN: PIN, KEYHOLD_PASSPHRASE: PASSPHRASE, KEYHOLD_VAULT: vaultPath }),
      ...hsm.envWithOnly(['alpha'], path.join(tmp.dir, 'alpha-only')) };
  }

  /** Exports in a CLI process that sees only alpha (the vault is locked here meanwhile). */
  async function exportWithAlphaOnly(file: string) {
    await svc.call('vault.lock', {});
    try {
      const r = keyhold(['--json', 'bundle', 'export', '--recipient', 'r1', '--out', file], alphaOnlyEnv());
      expect(r.stderr).not.toContain(PIN);
      expect(r.stderr).not.toContain(PASSPHRASE);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { signatures: string[]; threshold: number; sequence: number; hash: string };
    } finally {
      await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
    }
  }

  it('only alpha present: 1 signature, refused by the importer (BUNDLE_THRESHOLD); `bundle sign` with the vault adds beta\'s and the importer accepts; signing again is refused', async () => {
    await svc.call('key.create', { name: 'three', service: 'svc1' });
    const file = out();
    const rep = await exportWithAlphaOnly(file);
    expect(rep).toMatchObject({ signatures: [a.kid], threshold: 2 });
    const root = await rootOf(trustV2);
    await expect(verifyBundle(fs.readFileSync(file, 'utf8'), root, { recipient: r1.recipientId })).rejects.toMatchObject({ code: 'BUNDLE_THRESHOLD' });
    await expect(applyBundle(state1, fs.readFileSync(file, 'utf8'), { privateKey: r1.privateJwk })).rejects.toMatchObject({ code: 'BUNDLE_THRESHOLD' });

    const before = readBundle(file);
    const s = await svc.call('bundle.sign', { file });
    expect(s).toMatchObject({ kid: b.kid, signatures: [a.kid, b.kid], hash: rep.hash });
    const after = readBundle(file);
    expect(after.json.payload).toBe(before.json.payload); // the signed payload is untouched
    expect(after.json.signatures[0]).toEqual(before.json.signatures[0]);
    expect(checkAll(after, [a, b])).toEqual([a.kid, b.kid]);
    expect((await applyBundle(state1, after.text, { privateKey: r1.privateJwk })).status).toBe('applied');
    const audit = (await svc.call('audit.list', { action: 'bundle.sign' })).entries.at(-1);
    expect(audit).toMatchObject({ subject: `bundle:${rep.hash}`, details: { kid: b.kid, signatures: 2 } });

    // Every registered signer has signed now: a further signature is refused and the file is unchanged.
    await rejectsWith(svc.call('bundle.sign', { file }), ['ALREADY_SIGNED', 'TOKEN_NOT_FOUND']);
    await rejectsWith(svc.call('bundle.sign', { file, token: 'beta' }), ['ALREADY_SIGNED', 'TOKEN_NOT_FOUND']);
    expect(fs.readFileSync(file, 'utf8')).toBe(after.text);
    expect(fs.readdirSync(tmp.dir).filter((x) => x.includes('.tmp-'))).toEqual([]);
  });

  it('`bundle sign` without a vault, naming the token and key, adds the second signature; the same signer again is ALREADY_SIGNED', async () => {
    await svc.call('key.create', { name: 'four', service: 'svc1' });
    const file = out();
    // This time in this process, beta hidden from the slot list (one CLI spawn fewer).
    const rep = await withoutBeta(() => svc.call('bundle.export', { recipient: 'r1', out: file }));
    expect(rep.signatures).toEqual([a.kid]);
    const bare = new KeyholdService({ tokens: { module: hsm.module, driverFactory: inj.factory }, askPin: pinProvider() });
    try {
      // The key is named on the token: no vault, so no registered signer list.
      await rejectsWith(bare.call('bundle.sign', { file, token: 'beta' }), 'INVALID_INPUT');
      const s = await bare.call('bundle.sign', { file, token: 'beta', keyLabel: 'sig-b' });
      expect(s).toMatchObject({ kid: b.kid, signatures: [a.kid, b.kid], hash: rep.hash });
      const signed = fs.readFileSync(file, 'utf8');
      await rejectsWith(bare.call('bundle.sign', { file, token: 'beta', keyLabel: 'sig-b' }), 'ALREADY_SIGNED');
      await rejectsWith(bare.call('bundle.sign', { file, token: 'alpha', keyLabel: 'sig-a' }), 'ALREADY_SIGNED');
      expect(fs.readFileSync(file, 'utf8')).toBe(signed);
      expect(checkAll(readBundle(file), [a, b])).toEqual([a.kid, b.kid]);
      expect((await applyBundle(state1, signed, { privateKey: r1.privateJwk })).status).toBe('applied');
    } finally {
      await bare.shutdown();
      // SoftHSM2 keeps one login per process: bare's logout logged svc's sessions out too, which svc
      // does not notice (its tokens still think they are logged in). Log out here so they log in again.
      await svc.tokens.logoutAll();
    }
  });
});

describe('trust roots and second signatures: what an importer or a custodian relies on', () => {
  it('re-exporting an unchanged trust root gives the same root (same payload hash), so an importer that pinned it accepts the new file', async () => {
    const first = await loadTrustRoot(trustV2);
    // Over a second after version 2 was exported (payload times are to the second): exported again, unchanged.
    const wait = 1001 - (Date.now() - Date.parse(first.payload.issuedAt));
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    expect(Date.now() - Date.parse(first.payload.issuedAt)).toBeGreaterThan(1000);
    const again = fs.readFileSync((await svc.call('trust.export', { out: path.join(tmp.dir, 'root2c.json') })).path, 'utf8');
    const second = await loadTrustRoot(again);
    expect(second.payload.version).toBe(first.payload.version);
    // Two different documents with one version look like an attack to an importer (TRUST_ROOT_MISMATCH).
    expect(second.hash).toBe(first.hash);
    expect(await updateTrustRoot(state1, again)).toMatchObject({ status: 'unchanged', version: 2 });
  });

  it('a trust root needing more signers than are present is refused before anything is written or recorded (nothing can add a signature to a trust root later)', async () => {
    const file = path.join(tmp.dir, 'root-partial.json');
    const before = (await svc.call('audit.list', { action: 'trust.export' })).entries.length;
    await withoutBeta(() => rejectsWith(svc.call('trust.export', { out: file, expires: '30d' }), ['TOKEN_NOT_FOUND', 'INVALID_INPUT']));
    expect(fs.existsSync(file)).toBe(false);
    expect((await svc.call('audit.list', { action: 'trust.export' })).entries.length).toBe(before);
    // With both present it is version 3 (a new expiry is a new root), the rotation of version 2.
    const t = await svc.call('trust.export', { out: file, expires: '30d' });
    expect(t.version).toBe(3);
    expect(await updateTrustRoot(state1, fs.readFileSync(file, 'utf8'))).toMatchObject({ status: 'rotated', version: 3 });
  });

  it('`bundle sign` with the vault refuses a bundle whose payload was changed after it was signed (a custodian never countersigns a forgery)', async () => {
    await svc.call('key.create', { name: 'five', service: 'svc1' });
    const file = out();
    const rep = await withoutBeta(() => svc.call('bundle.export', { recipient: 'r1', out: file }));
    expect(rep.signatures).toEqual([a.kid]);
    const f = readBundle(file);
    // Swap the issued verifier for an attacker's, keep alpha's (now invalid) signature.
    const payload = { ...f.payload, changes: f.payload.changes.map((c) => (c.type === 'issue' ? { ...c, verifier: 'f'.repeat(64) } : c)) };
    const forged = JSON.stringify({ payload: Buffer.from(jcs(payload)).toString('base64url'), signatures: f.json.signatures });
    fs.writeFileSync(file, forged);
    await rejectsWith(svc.call('bundle.sign', { file }), ['INTEGRITY', 'INVALID_INPUT']);
    expect(fs.readFileSync(file, 'utf8')).toBe(forged);
  });

  it('`bundle sign` with the vault by a signer that already signed says so (ALREADY_SIGNED), not that its token is absent', async () => {
    const file = out();
    await svc.call('key.create', { name: 'six', service: 'svc1' });
    await svc.call('bundle.export', { recipient: 'r1', out: file });
    await rejectsWith(svc.call('bundle.sign', { file, token: 'beta' }), 'ALREADY_SIGNED');
  });
});

describe('bundle sign with a vault: only this vault\'s bundles', () => {
  it('a bundle of another vault, signed by a key registered in both, is refused (BUNDLE_INVALID) and left as it was', async () => {
    const other = new KeyholdService({ tokens: { module: hsm.module, driverFactory: inj.factory }, askPin: pinProvider() });
    const file = out();
    try {
      await other.call('vault.create', { path: path.join(tmp.dir, 'other-vault.db'), passphrase: PASSPHRASE, kdf: FAST_KDF });
      await other.call('signer.add', { token: 'alpha', keyLabel: 'sig-a' });
      await addRecipient(other, 'r1', { verifies: ['svc1'] });
      await other.call('key.create', { name: 'elsewhere', service: 'svc1' });
      const rep = await other.call('bundle.export', { recipient: 'r1', out: file });
      expect(rep.signatures).toEqual([a.kid]);
    } finally {
      await other.shutdown();
      await svc.tokens.logoutAll(); // the other service's logout was this process's (see the open bug below)
    }
    const text = fs.readFileSync(file, 'utf8');
    const e = await rejectsWith(svc.call('bundle.sign', { file }), 'BUNDLE_INVALID');
    expect(e.message).toContain('another vault');
    expect(fs.readFileSync(file, 'utf8')).toBe(text);
  });

  it('a bundle whose payload is not canonical JSON is refused (BUNDLE_INVALID, it was INVALID_INPUT) and left as it was', async () => {
    const file = out();
    await svc.call('key.create', { name: 'seven', service: 'svc1' });
    await withoutBeta(() => svc.call('bundle.export', { recipient: 'r1', out: file }));
    const f = readBundle(file);
    const loose = JSON.stringify({ payload: Buffer.from(JSON.stringify(f.payload, null, 1)).toString('base64url'), signatures: f.json.signatures });
    fs.writeFileSync(file, loose);
    const e = await rejectsWith(svc.call('bundle.sign', { file }), 'BUNDLE_INVALID');
    expect(e.message).toBe('bundle: the payload is not canonical JSON');
    expect(fs.readFileSync(file, 'utf8')).toBe(loose);
    // Not a bundle at all (the importer's complaint), and a trust root: the same code.
    fs.writeFileSync(file, '{"hello": 1}');
    await rejectsWith(svc.call('bundle.sign', { file }), 'BUNDLE_INVALID');
    fs.writeFileSync(file, trustV2);
    await rejectsWith(svc.call('bundle.sign', { file }), 'BUNDLE_INVALID');
  });
});

describe('a login ended behind Keyhold\'s back', () => {
  // SoftHSM2 keeps one login per process (a card behind PC/SC one per card, across processes):
  // when another session logs the token out, Token.login() sees it in C_GetSessionInfo's state
  // and logs in again, rather than exporting without the private key.
  beforeAll(async () => {
    // Set-up outside the expected failure (a failure here is a real one): svc logged in to both tokens.
    expect((await svc.call('bundle.export', { recipient: 'r1', out: out() })).signatures).toHaveLength(2);
    expect(svc.tokens.token('alpha').loggedIn).toBe(true);
  });

  it('after another session logs the token out, an export logs in again instead of failing with INTEGRITY', async () => {
    const other = new KeyholdService({ tokens: { module: hsm.module, driverFactory: inj.factory }, askPin: pinProvider() });
    try {
      await other.call('token.keys', { token: 'alpha', login: true });
    } finally {
      await other.shutdown(); // logs alpha out, for this whole process
    }
    try {
      const rep = await svc.call('bundle.export', { recipient: 'r1', out: out() });
      expect(rep.signatures).toHaveLength(2);
    } finally {
      await svc.tokens.logoutAll();
    }
  });
});
