/**
 * Import benchmark for `npm run bench` (issue 5: import of a bundle of 10,000
 * new key versions, verify + decrypt + apply, under 1 s). The bundle is
 * signed in software here (two signers, ES256 and EdDSA) and carries every
 * key in its JWE (a holder: the heaviest case); the export side, signed on
 * SoftHSM2, is measured by the app's own bench.
 */

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyBundle,
  buildPayload,
  buildTrustRoot,
  decryptSecrets,
  encodePayload,
  encryptSecrets,
  generateRecipientKey,
  loadRecipientPrivateKey,
  loadTrustRoot,
  signBundle,
  signTrustRoot,
  softwareSigner,
  verifierOf,
  verifyBundle,
  type IssueChange,
} from '../../importer/src/index.js';
import { median, timeAsync, type Figure } from './report.js';

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(n: number): string {
  let s = '';
  while (s.length < n) for (const b of randomBytes(n * 2)) if (b < 248 && s.length < n) s += B62[b % 62];
  return s;
}

function apiKey(keyId: string): string {
  const body = `khk_${keyId}_${base62(43)}`;
  let c = 0xffffffff;
  for (let i = 0; i < body.length; i++) {
    c ^= body.charCodeAt(i);
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  let n = (c ^ 0xffffffff) >>> 0;
  let sum = '';
  for (let i = 0; i < 6; i++) {
    sum = B62[n % 62] + sum;
    n = Math.floor(n / 62);
  }
  return body + sum;
}

export type ImportBench = Readonly<{
  figures: readonly Figure[];
  versions: number;
  bundleBytes: number;
  /** Medians in ms (wall clock). */
  buildMs: number;
  verifyMs: number;
  decryptMs: number;
  applyMs: number;
  /** CPU time (user + system) of the median apply: what wall time would be on an idle machine, give or take I/O. */
  applyCpuMs: number;
  /** The first apply, before the JIT has warmed up: what a one-shot CLI run sees. */
  coldApplyMs: number;
}>;

/** Builds a bundle of `versions` new key versions and measures verify, decrypt and a full apply (median of `runs`). */
export async function benchImport(opts: { versions?: number; runs?: number } = {}): Promise<ImportBench> {
  const versions = opts.versions ?? 10_000;
  const runs = opts.runs ?? 3;
  const signers = [softwareSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), softwareSigner(generateKeyPairSync('ed25519').privateKey)];
  const now = new Date();
  const trustText = await signTrustRoot(buildTrustRoot({ vaultId: 'bench-vault', version: 1, threshold: 2, signers: signers.map((s) => s.publicJwk), issuedAt: now }), signers);
  const trust = await loadTrustRoot(trustText);
  const recipient = await generateRecipientKey('P-256');
  const privateKey = await loadRecipientPrivateKey(recipient.privateJwk);

  const [built, buildMs] = await timeAsync(async () => {
    const changes: IssueChange[] = [];
    const keys: { keyId: string; version: number; key: string }[] = [];
    for (let i = 0; i < versions; i++) {
      const keyId = base62(16);
      const key = apiKey(keyId);
      keys.push({ keyId, version: 1, key });
      changes.push({ type: 'issue', keyId, version: 1, name: `key-${i}`, service: `svc-${i % 50}`, environment: 'production', scopes: ['read', 'write'], notBefore: '2026-01-01T00:00:00Z', notAfter: null, verifier: verifierOf(key) });
    }
    const bundleId = randomBytes(16).toString('base64url');
    const secrets = await encryptSecrets(recipient.publicJwk, bundleId, keys);
    const payload = buildPayload({ bundleId, vaultId: 'bench-vault', recipient: recipient.recipientId, sequence: 1, previous: null, issuedAt: new Date(now.getTime() - 1000), expiresAt: new Date(now.getTime() + 86_400_000), changes, secrets });
    return { text: await signBundle(payload, signers), hash: encodePayload(payload).hash };
  });

  const verifyTimes: number[] = [];
  const decryptTimes: number[] = [];
  const applyTimes: number[] = [];
  const applyCpu: number[] = [];
  // One extra, first run: the cold figure; the median is over the `runs` after it.
  for (let r = 0; r <= runs; r++) {
    const [v, tv] = await timeAsync(() => verifyBundle(built.text, trust, { recipient: recipient.recipientId }));
    if (v.hash !== built.hash) throw new Error('bench: the bundle did not verify to its own hash');
    verifyTimes.push(tv);
    const [plain, td] = await timeAsync(() => decryptSecrets(v.payload.secrets!, privateKey, v.payload.bundleId));
    if (plain.keys.length !== versions) throw new Error('bench: the secrets did not decrypt to every key');
    decryptTimes.push(td);
    const dir = mkdtempSync(join(tmpdir(), 'kh-bench-import-'));
    try {
      const cpu0 = process.cpuUsage();
      const [res, ta] = await timeAsync(() => applyBundle(join(dir, 'state'), built.text, { trustRootText: trustText, privateKey: recipient.privateJwk }));
      const cpu = process.cpuUsage(cpu0);
      if (res.status !== 'applied' || res.issued !== versions) throw new Error('bench: apply did not install every version');
      applyTimes.push(ta);
      applyCpu.push((cpu.user + cpu.system) / 1000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const coldApplyMs = applyTimes[0]!;
  const applyMs = median(applyTimes.slice(1));
  const applyCpuMs = median(applyCpu.slice(1));
  const n = versions.toLocaleString('en-US');
  return {
    versions,
    bundleBytes: Buffer.byteLength(built.text),
    buildMs,
    verifyMs: median(verifyTimes.slice(1)),
    decryptMs: median(decryptTimes.slice(1)),
    applyMs,
    applyCpuMs,
    coldApplyMs,
    figures: [{ name: `import a bundle of ${n} new key versions (verify, decrypt, apply)`, ms: applyMs, targetMs: 1000, spec: 'issue 5: import under 1 s' }],
  };
}
