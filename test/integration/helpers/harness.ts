/**
 * Shared pieces of the integration tests: error capture, file snapshots,
 * reading back everything a vault holds, and a second Keyhold process.
 *
 * Nothing here prints a secret: failures name codes, positions and counts.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { listKeys, revealKey, showKey } from '../../../electron/core/keys/keys.js';
import type { Vault } from '../../../electron/core/vault/vault.js';
import type { KeyDetail, KeySummary, RevealedKey } from '../../../shared/contract.js';
import { type ErrorCode, isKeyholdError, type KeyholdError, toErrorInfo } from '../../../shared/errors.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHILD_SCRIPT = fileURLToPath(new URL('./vault-child.ts', import.meta.url));

/** A random passphrase, long enough for a new slot, distinctive enough to search raw bytes for. */
export function newPassphrase(label = 'pass'): string {
  return `kh ${label} ${randomBytes(12).toString('base64url')}`;
}

/** What the service's callers would see: the code of a KeyholdError, INTERNAL for anything else. */
export function codeOf(e: unknown): ErrorCode {
  return toErrorInfo(e).code;
}

/** A short description of a thrown value that never carries key material. */
export function describeThrown(e: unknown): string {
  if (isKeyholdError(e)) return `KeyholdError ${e.code}: ${e.message}`;
  if (e instanceof Error) {
    const code = 'code' in e ? ` (${String(e.code)})` : '';
    return `non-Keyhold ${e.name}${code}: ${e.message.slice(0, 120)}`;
  }
  return `non-Error thrown: ${typeof e}`;
}

/**
 * Runs fn, which must fail with a KeyholdError whose code is one of `codes`.
 * Returns the error for further checks.
 */
export async function expectCode(fn: () => unknown, ...codes: ErrorCode[]): Promise<KeyholdError> {
  let thrown: unknown = undefined;
  let threw = false;
  try {
    await fn();
  } catch (e) {
    thrown = e;
    threw = true;
  }
  expect(threw, `expected an error with code ${codes.join(' or ')}, but the call succeeded`).toBe(true);
  expect(codeOf(thrown), `unexpected error: ${describeThrown(thrown)}`).toBeOneOf(codes);
  expect(isKeyholdError(thrown), describeThrown(thrown)).toBe(true);
  return thrown as KeyholdError;
}

export type FileSnapshot = Readonly<{ bytes: Buffer; mtimeMs: number; size: number; mode: number }>;

export function snapshot(p: string): FileSnapshot {
  const st = fs.statSync(p);
  return { bytes: fs.readFileSync(p), mtimeMs: st.mtimeMs, size: st.size, mode: st.mode };
}

/** True when the file still has exactly the bytes and mtime of the snapshot. */
export function unchangedSince(p: string, s: FileSnapshot): boolean {
  const now = snapshot(p);
  return now.bytes.equals(s.bytes) && now.mtimeMs === s.mtimeMs;
}

/** Leftovers of an interrupted create (".<name>.creating-<hex>") in a folder. */
export function creatingLeftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.includes('.creating-'));
}

export type VaultData = Readonly<{ list: KeySummary[]; shows: KeyDetail[]; reveals: RevealedKey[] }>;

/** Everything the vault answers about the given keys: list, show of each, reveal of each. */
export function readAllKeys(vault: Vault, ids: readonly string[]): VaultData {
  const list = listKeys(vault);
  const shows = ids.map((id) => showKey(vault, id));
  const reveals = ids.map((id) => revealKey(vault, id));
  return { list, shows, reveals };
}

export function copyVault(from: string, to: string): void {
  for (const f of [to, `${to}-wal`, `${to}-shm`, `${to}-journal`]) fs.rmSync(f, { force: true });
  fs.copyFileSync(from, to);
}

// ---- a second process ---------------------------------------------------------

export type ChildMessage = Record<string, unknown>;

export type VaultChild = Readonly<{
  proc: ChildProcessWithoutNullStreams;
  messages: ChildMessage[];
  /** Resolves with the first message (already seen or future) that matches. */
  waitFor: (pred: (m: ChildMessage) => boolean, timeoutMs?: number) => Promise<ChildMessage>;
  send: (line: string) => void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}>;

/** Spawns `node --import tsx helpers/vault-child.ts <mode> <vault> [...]` with the passphrase in its environment. */
export function spawnVaultChild(mode: 'probe' | 'hold' | 'churn', vaultPath: string, passphrase: string,
  extra: readonly string[] = []): VaultChild {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT, mode, vaultPath, ...extra], {
    cwd: REPO_ROOT,
    env: { ...process.env, KEYHOLD_TEST_PASSPHRASE: passphrase },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const messages: ChildMessage[] = [];
  const waiters: { pred: (m: ChildMessage) => boolean; resolve: (m: ChildMessage) => void }[] = [];
  let buf = '';
  let err = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      let m: ChildMessage;
      try {
        m = JSON.parse(line) as ChildMessage;
      } catch {
        m = { unparsed: line.slice(0, 200) };
      }
      messages.push(m);
      for (const w of [...waiters]) {
        if (w.pred(m)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    }
  });
  proc.stderr.on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const waitFor = (pred: (m: ChildMessage) => boolean, timeoutMs = 20_000): Promise<ChildMessage> => {
    const seen = messages.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise<ChildMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`child (${mode}) sent no matching message in ${timeoutMs} ms; ` +
          `messages: ${JSON.stringify(messages.slice(-5))}; stderr: ${err.slice(-500)}`));
      }, timeoutMs);
      const w = {
        pred,
        resolve: (m: ChildMessage) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      waiters.push(w);
      void exited.then(() => {
        // Let any last stdout data be parsed first.
        setTimeout(() => {
          if (waiters.includes(w)) {
            waiters.splice(waiters.indexOf(w), 1);
            clearTimeout(timer);
            reject(new Error(`child (${mode}) exited without a matching message; ` +
              `messages: ${JSON.stringify(messages.slice(-5))}; stderr: ${err.slice(-500)}`));
          }
        }, 50);
      });
    });
  };
  return {
    proc,
    messages,
    waitFor,
    send: (line) => {
      proc.stdin.write(`${line}\n`);
    },
    exited,
    stderr: () => err,
  };
}

/** Kills a child if it is still running and waits for it. */
export async function reap(child: VaultChild): Promise<void> {
  if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
  await child.exited;
}

/** Runs a one-shot probe: the child tries to unlock and reports the outcome. */
export async function probeUnlock(vaultPath: string, passphrase: string): Promise<ChildMessage> {
  const child = spawnVaultChild('probe', vaultPath, passphrase);
  try {
    return await child.waitFor((m) => 'ok' in m || 'code' in m);
  } finally {
    await reap(child);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
