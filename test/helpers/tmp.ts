/**
 * Temporary folders for tests, and a fast Argon2id setting.
 *
 * `tmpDir()` makes a fresh folder under os.tmpdir() for the running test and
 * removes it when the test ends (pass or fail). `makeTmpDir()` is the manual
 * form for beforeAll/afterAll hooks.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import type { KdfParams } from '../../shared/contract.js';

/** The schema's minimum Argon2id cost (19 MiB, 2 passes, 1 lane): real Argon2id, but quick. */
export const FAST_KDF: KdfParams = Object.freeze({ memoryKiB: 19456, passes: 2, parallelism: 1 });

export type TmpDir = Readonly<{ dir: string; remove: () => void }>;

export function makeTmpDir(prefix = 'keyhold-test-'): TmpDir {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh folder for the current test, removed after it. Call inside a test. */
export function tmpDir(prefix?: string): string {
  const t = makeTmpDir(prefix);
  onTestFinished(() => t.remove());
  return t.dir;
}
