/**
 * `npm run bench`: the performance figures Keyhold claims, measured on this
 * machine against real SQLite files, printed with their targets and ratios.
 * Exits non-zero if a target is missed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KeyCreateSpec } from '../../shared/contract.js';
import { seal, tryOpen } from '../../electron/core/crypto/primitives.js';
import { createKeys, revealKey } from '../../electron/core/keys/keys.js';
import { calibrateKdf } from '../../electron/core/vault/kdf.js';
import { Vault } from '../../electron/core/vault/vault.js';
import { machine, median, printFigures, time, timeAsync, type Figure } from './report.js';

const PASS = 'benchmark passphrase, not a secret';
const FAST_KDF = { memoryKiB: 19 * 1024, passes: 2, parallelism: 1 };
const N_KEYS = Number(process.env.KEYHOLD_BENCH_KEYS ?? 100_000);

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyhold-bench-'));
  const figures: Figure[] = [];
  try {
    console.log(`Keyhold benchmark on ${machine()}\n`);

    // Unlock with the default (calibrated) Argon2id parameters.
    const kdf = await calibrateKdf();
    console.log(`default KDF here: Argon2id ${kdf.memoryKiB / 1024} MiB, ${kdf.passes} passes, ${kdf.parallelism} lanes`);
    const kdfVault = path.join(dir, 'kdf.db');
    (await Vault.create(kdfVault, PASS, { kdf })).lock();
    const unlocks: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [v, ms] = await timeAsync(() => Vault.unlock(kdfVault, PASS));
      v.lock();
      unlocks.push(ms);
    }
    figures.push({ name: 'unlock (default KDF)', ms: median(unlocks), targetMs: 2000,
      spec: 'calibrated to ~0.5 s: slow on purpose, for guessing' });

    // Seal and open one secret.
    const key = Buffer.alloc(32, 7);
    const secret = Buffer.alloc(43, 'a');
    const rounds = 20_000;
    const [, sealMs] = time(() => {
      for (let i = 0; i < rounds; i++) {
        const s = seal(key, secret, 'aad');
        if (!tryOpen(key, s, 'aad')) throw new Error('bench: open failed');
      }
    });
    figures.push({ name: 'seal + open one secret', ms: sealMs / rounds, targetMs: 0.05 });

    // One key with its fsync'd commit (the specification's key generation).
    const vaultPath = path.join(dir, 'keys.db');
    const vault = await Vault.create(vaultPath, PASS, { kdf: FAST_KDF });
    const singles: number[] = [];
    for (let i = 0; i < 50; i++) {
      const [, ms] = time(() => createKeys(vault, [{ name: `single-${i}`, service: 'bench', environment: 'prod', scopes: ['read'], owner: '', notes: '' }]));
      singles.push(ms);
    }
    figures.push({ name: 'generate one key (committed)', ms: median(singles), targetMs: 10, spec: '< 100 ms' });

    // A batch of N keys in one transaction.
    const specs: KeyCreateSpec[] = Array.from({ length: N_KEYS }, (_, i) => ({
      name: `key-${i}`, service: `svc-${i % 50}`, environment: i % 2 ? 'production' : 'staging',
      scopes: ['read', 'write'], owner: 'bench', notes: '',
    }));
    let lastPct = -1;
    const [created, batchMs] = time(() => createKeys(vault, specs, (done, total) => {
      const pct = Math.floor((done / total) * 10);
      if (pct !== lastPct) {
        lastPct = pct;
        process.stderr.write(`\r  creating ${N_KEYS} keys: ${pct * 10}%`);
      }
    }));
    process.stderr.write('\n');
    figures.push({ name: `create ${N_KEYS} keys (one batch)`, ms: batchMs, targetMs: 5000 * (N_KEYS / 100_000) });

    // Reveal one key from the full vault.
    const reveals: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const id = created[(i * 7919) % created.length]?.id as string;
      const [, ms] = time(() => revealKey(vault, id));
      reveals.push(ms);
    }
    figures.push({ name: `reveal one key of ${N_KEYS + 50}`, ms: median(reveals), targetMs: 1, spec: '< 50 ms' });
    vault.lock();

    const fileMiB = fs.statSync(vaultPath).size / 2 ** 20;
    console.log(`vault with ${N_KEYS + 50} keys: ${fileMiB.toFixed(1)} MiB\n`);
    const ok = printFigures(figures);
    if (!ok) process.exitCode = 1;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
