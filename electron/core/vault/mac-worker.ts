/**
 * Row MAC checks in a worker thread, for the bulk reads (the app's key list,
 * keys/rows.ts eachKeyWithCurrent): the main thread steps through the rows and
 * builds each one's canonical encoding (canonicalRow, exactly the bytes the
 * MAC was written over), and posts them in batches, with the MACs the rows
 * store, to this worker, which computes HMAC-SHA-256 under the row MAC key and
 * answers which of them do not match. So the hashing, about half of what the
 * checks cost, runs on the second core while the main thread reads the next
 * rows. Nothing read is used before its batch is answered: the caller waits
 * for every batch before it returns anything (see eachKeyWithCurrent).
 *
 * The worker is started by the vault on first use (Vault.rowMacWorker), with a
 * copy of the row MAC key transferred to it (nothing of the copy is left on
 * this side), reused while the vault is unlocked, and stopped at lock: it is
 * told to wipe the HMAC pads it made from the key, which it does before it
 * ends, and the key it was given is zeroed as soon as the pads are made.
 *
 * Why an inline worker (`new Worker(source, { eval: true })`) rather than a
 * file of its own: the core runs in three builds (TypeScript under tsx in the
 * tests, the CLI bundled into out/cli, Electron's main process bundled into
 * out/main), and a worker entry file would need a path that exists in each
 * and bundler configuration in two of them. The worker's code is a small
 * self-contained CommonJS string using only node:crypto and
 * node:worker_threads, so it is the same in all three with no configuration.
 * Its HMAC is computed exactly as primitives.ts MacKey computes it (RFC 2104
 * with the pads kept: two one-shot SHA-256 calls per MAC); test/integration/
 * mac-worker.test.ts holds the worker's answers to the main thread's checks.
 */

import { Worker } from 'node:worker_threads';
import { KeyholdError } from '../../../shared/errors.js';

/** Bytes in a MAC (HMAC-SHA-256). */
export const MAC_LEN = 32;

/**
 * The worker. Messages in: { type: 'key', key: ArrayBuffer } once, first;
 * { type: 'check', id, data, ends, macs } for each batch (rows back to back in
 * data, ends[i] the end of row i, macs the expected MACs, 32 bytes each);
 * { type: 'wipe' } last. Out: { id, bad } for each batch, the indexes of the
 * rows whose MAC differs, in order.
 */
const WORKER_SOURCE = String.raw`'use strict';
const { parentPort } = require('node:worker_threads');
const { hash } = require('node:crypto');
const BLOCK = 64;
const LEN = 32;
let inner = Buffer.alloc(BLOCK + 4096); // K ^ ipad, then the row
const outer = Buffer.alloc(BLOCK + LEN); // K ^ opad, then the inner digest
const got = Buffer.alloc(LEN); // the MAC computed
let keyed = false;
function wipeAll() {
  inner.fill(0);
  outer.fill(0);
  got.fill(0);
  keyed = false;
}
parentPort.on('message', (m) => {
  if (m.type === 'key') {
    const k = new Uint8Array(m.key);
    for (let i = 0; i < BLOCK; i++) {
      const b = i < k.length ? k[i] : 0;
      inner[i] = b ^ 0x36;
      outer[i] = b ^ 0x5c;
    }
    k.fill(0);
    keyed = k.length > 0 && k.length <= BLOCK;
    return;
  }
  if (m.type === 'wipe') {
    wipeAll();
    process.exit(0);
  }
  if (m.type !== 'check') return;
  if (!keyed) {
    parentPort.postMessage({ id: m.id, error: 'no key' });
    return;
  }
  const data = new Uint8Array(m.data);
  const ends = new Uint32Array(m.ends);
  const macs = new Uint8Array(m.macs);
  const bad = [];
  let start = 0;
  for (let i = 0; i < m.count; i++) {
    const end = ends[i];
    const n = BLOCK + end - start;
    if (n > inner.length) {
      const bigger = Buffer.alloc(Math.max(n, inner.length * 2));
      inner.copy(bigger, 0, 0, BLOCK);
      inner.fill(0);
      inner = bigger;
    }
    inner.set(data.subarray(start, end), BLOCK);
    // Digests as hex, written back as bytes: a Buffer made per digest costs more than the hash (as in MacKey).
    outer.write(hash('sha256', inner.subarray(0, n), 'hex'), BLOCK, LEN, 'hex');
    got.write(hash('sha256', outer, 'hex'), 0, LEN, 'hex');
    // Constant time: every byte compared whatever the first difference.
    let diff = 0;
    for (let j = 0, at = i * LEN; j < LEN; j++) diff |= got[j] ^ macs[at + j];
    if (diff !== 0) bad.push(i);
    start = end;
  }
  parentPort.postMessage({ id: m.id, bad });
});
`;

/** A batch of rows for the worker (see WORKER_SOURCE); its buffers are transferred, so each batch has its own. */
export type MacBatchBuffers = Readonly<{ data: ArrayBuffer; ends: ArrayBuffer; macs: ArrayBuffer; count: number }>;

type Pending = { resolve: (bad: number[]) => void; reject: (e: unknown) => void };

function stopped(why: string): KeyholdError {
  return new KeyholdError('INTERNAL', `vault: the row MAC checker stopped (${why})`, 'Lock and unlock the vault, then try again.');
}

export class MacWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  /** Why no batch can be checked any more (locked, or the worker failed); null while it works. */
  #failure: KeyholdError | null = null;

  /** Starts the worker with a copy of `key` (the row MAC key); the caller keeps and wipes its own. */
  constructor(key: Uint8Array) {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, name: 'keyhold row MACs', env: {}, stdout: false, stderr: false });
    const copy = new Uint8Array(new ArrayBuffer(key.length));
    copy.set(key);
    // Transferred: the copy's memory moves to the worker, nothing of it stays here.
    this.#worker.postMessage({ type: 'key', key: copy.buffer }, [copy.buffer]);
    this.#worker.on('message', (m: { id: number; bad?: number[]; error?: string }) => {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) this.#worker.unref();
      if (m.bad) p.resolve(m.bad);
      else p.reject(stopped(m.error ?? 'no answer'));
    });
    this.#worker.on('error', (e) => this.#stop(stopped(e instanceof Error ? e.message : 'an error')));
    this.#worker.on('exit', () => this.#stop(this.#failure ?? stopped('it ended')));
    // Idle, it does not keep the process alive (a CLI command ends when its work does); ref'd while a batch is out.
    this.#worker.unref();
  }

  /** Whether batches can still be checked (false once locked, or if the worker failed: the vault starts another). */
  get usable(): boolean {
    return this.#failure === null;
  }

  /**
   * Checks a batch: resolves to the indexes of the rows whose MAC differs
   * (empty when all match). Rejects with VAULT_LOCKED if the vault is locked
   * before the answer, INTERNAL if the worker fails.
   */
  check(batch: MacBatchBuffers): Promise<number[]> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#next++;
    if (this.#pending.size === 0) this.#worker.ref();
    return new Promise<number[]>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ type: 'check', id, data: batch.data, ends: batch.ends, macs: batch.macs, count: batch.count },
        [batch.data, batch.ends, batch.macs]);
    });
  }

  /**
   * At lock: every batch still out fails with VAULT_LOCKED; the worker wipes
   * its pads and ends (terminated after a second if it has not: a batch takes
   * milliseconds). Idempotent.
   */
  close(): void {
    if (this.#failure) return;
    this.#stop(new KeyholdError('VAULT_LOCKED', 'vault: locked', 'Unlock the vault first.'));
    this.#worker.postMessage({ type: 'wipe' });
    setTimeout(() => void this.#worker.terminate(), 1000).unref();
  }

  #stop(why: KeyholdError): void {
    this.#failure ??= why;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#worker.unref();
    for (const p of pending) p.reject(this.#failure);
  }
}
