/**
 * The vault's symmetric primitives on node:crypto's synchronous API (faster
 * than WebCrypto for the small values the vault seals).
 *
 * Sealed value layout: 0x01 (format) || nonce (12) || ciphertext || tag (16).
 * Nonces are random: a vault seals far fewer than 2^32 values under one key.
 */

import { createCipheriv, createDecipheriv, createHmac, hash, hkdfSync, randomFillSync, timingSafeEqual } from 'node:crypto';
import { KeyholdError } from '../../../shared/errors.js';

const SEAL_FORMAT = 0x01;
const NONCE_LEN = 12;
const TAG_LEN = 16;
export const KEY_LEN = 32;

// Each call into OpenSSL's RNG costs about 5 µs whatever its size, which is
// most of the cost of making a key; so small draws are served from a pool
// refilled 16 KiB at a time. Served bytes are zeroed in the pool at once, so
// it never holds a value that was handed out.
const POOL_SIZE = 16 * 1024;
const pool = Buffer.alloc(POOL_SIZE);
let poolPos = POOL_SIZE;

/** Cryptographically secure random bytes (the OS CSPRNG through OpenSSL). */
export function randomBytes(n: number): Buffer {
  if (n > POOL_SIZE / 4) return randomFillSync(Buffer.alloc(n));
  return drawInto(Buffer.allocUnsafe(n), 0, n);
}

/** Fills out[at, at + n) with random bytes from the pool (n at most POOL_SIZE / 4); returns that range. */
function drawInto(out: Buffer, at: number, n: number): Buffer {
  if (poolPos + n > POOL_SIZE) {
    randomFillSync(pool);
    poolPos = 0;
  }
  pool.copy(out, at, poolPos, poolPos + n);
  pool.fill(0, poolPos, poolPos + n);
  poolPos += n;
  return out.subarray(at, at + n);
}

export function seal(key: Buffer, plaintext: Uint8Array, aad: string): Buffer {
  // The output is laid out once: format byte, nonce drawn straight into it, ciphertext, tag.
  const out = Buffer.allocUnsafe(1 + NONCE_LEN + plaintext.length + TAG_LEN);
  out[0] = SEAL_FORMAT;
  const nonce = drawInto(out, 1, NONCE_LEN);
  const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LEN });
  c.setAAD(Buffer.from(aad, 'utf8'));
  let at = 1 + NONCE_LEN;
  at += c.update(plaintext).copy(out, at);
  at += c.final().copy(out, at);
  c.getAuthTag().copy(out, at);
  return out;
}

/**
 * Opens a sealed value; null when it does not authenticate (wrong key, wrong
 * AAD, altered bytes). The caller decides what that means.
 */
export function tryOpen(key: Buffer, sealed: Uint8Array, aad: string): Buffer | null {
  if (sealed.length < 1 + NONCE_LEN + TAG_LEN || sealed[0] !== SEAL_FORMAT) return null;
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const nonce = buf.subarray(1, 1 + NONCE_LEN);
  const tag = buf.subarray(buf.length - TAG_LEN);
  const body = buf.subarray(1 + NONCE_LEN, buf.length - TAG_LEN);
  try {
    const d = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LEN });
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(tag);
    return Buffer.concat([d.update(body), d.final()]);
  } catch {
    return null;
  }
}

/** Opens a sealed vault field; failure is an integrity error naming the field. */
export function open(key: Buffer, sealed: Uint8Array, aad: string, what: string): Buffer {
  const pt = tryOpen(key, sealed, aad);
  if (pt === null) {
    throw new KeyholdError(
      'INTEGRITY',
      `vault: integrity check failed for ${what}`,
      'The vault file was altered outside Keyhold or is damaged. Restore it from a backup.',
    );
  }
  return pt;
}

export function hkdf(ikm: Buffer, salt: string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, Buffer.from(salt, 'utf8'), Buffer.from(info, 'utf8'), KEY_LEN));
}

export function hmac(key: Buffer, data: Uint8Array): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

const SHA256_BLOCK = 64;
const SHA256_LEN = 32;

/**
 * An HMAC-SHA256 key prepared for many MACs (RFC 2104, exactly as
 * createHmac computes it): the key, zero-padded to the 64-byte block, XORed
 * with 0x36 (inner pad) and 0x5c (outer pad), kept at the front of two work
 * buffers, so that each MAC is two one-shot SHA-256 calls
 *
 *   HMAC(K, m) = SHA-256( (K ^ opad) || SHA-256( (K ^ ipad) || m ) )
 *
 * with no Hmac object per call (a third of the cost of createHmac here). The
 * pads are key material: wipe() zeroes both buffers. Held to createHmac over
 * random keys and messages by test/unit/differential.test.ts.
 */
export class MacKey {
  #inner: Buffer; // K ^ ipad, then the message
  #outer = Buffer.alloc(SHA256_BLOCK + SHA256_LEN); // K ^ opad, then the inner digest
  #wiped = false;

  constructor(key: Uint8Array) {
    if (key.length > SHA256_BLOCK) throw new KeyholdError('INTERNAL', 'mac key longer than a SHA-256 block');
    this.#inner = Buffer.alloc(1024);
    for (let i = 0; i < SHA256_BLOCK; i++) {
      const k = i < key.length ? (key[i] as number) : 0;
      this.#inner[i] = k ^ 0x36;
      this.#outer[i] = k ^ 0x5c;
    }
  }

  /** HMAC-SHA256 of data, as lowercase hex. */
  hex(data: Uint8Array): string {
    if (this.#wiped) throw new KeyholdError('INTERNAL', 'mac key used after it was wiped');
    const end = SHA256_BLOCK + data.length;
    if (end > this.#inner.length) {
      const bigger = Buffer.alloc(Math.max(end, this.#inner.length * 2));
      this.#inner.copy(bigger, 0, 0, SHA256_BLOCK);
      this.#inner.fill(0);
      this.#inner = bigger;
    }
    this.#inner.set(data, SHA256_BLOCK);
    this.#outer.write(hash('sha256', this.#inner.subarray(0, end), 'hex'), SHA256_BLOCK, SHA256_LEN, 'hex');
    return hash('sha256', this.#outer, 'hex');
  }

  /** HMAC-SHA256 of data, as bytes. */
  mac(data: Uint8Array): Buffer {
    return Buffer.from(this.hex(data), 'hex');
  }

  /** HMAC-SHA256 of canonicalRow(table, fields), as lowercase hex, with no Buffer made for the encoding. */
  macRowHex(table: string, fields: readonly unknown[]): string {
    const n = encodeRow(table, fields); // first: it may replace the scratch buffer
    return this.hex(scratch.subarray(0, n));
  }

  /** HMAC-SHA256 of canonicalRow(table, fields), as bytes. */
  macRow(table: string, fields: readonly unknown[]): Buffer {
    return Buffer.from(this.macRowHex(table, fields), 'hex');
  }

  wipe(): void {
    this.#inner.fill(0);
    this.#outer.fill(0);
    this.#wiped = true;
  }
}

/**
 * BLOB bytes carried as their hex text (SQLite's hex(), upper case), for the
 * bulk reads that only MAC a value or write it back: better-sqlite3 makes a
 * Buffer per BLOB, which costs more than the rest of a row. canonicalRow
 * encodes it exactly like a Buffer with the same bytes (tag 0x01).
 */
export class HexBytes {
  constructor(readonly hex: string) {}

  get length(): number {
    return this.hex.length >>> 1;
  }

  toBuffer(): Buffer {
    return Buffer.from(this.hex, 'hex');
  }
}

/** A value read as bytes, either way. */
export type Bytes = Buffer | HexBytes;

export function toBuffer(b: Bytes): Buffer;
export function toBuffer(b: Bytes | null): Buffer | null;
export function toBuffer(b: Bytes | null): Buffer | null {
  return b instanceof HexBytes ? b.toBuffer() : b;
}

/**
 * Constant-time comparison of a MAC given as hex with a stored value (a
 * Buffer, or HexBytes from a bulk read); anything else compares unequal.
 */
export function equalMacHex(macHex: string, stored: unknown): boolean {
  const expected = Buffer.from(macHex, 'hex');
  if (stored instanceof HexBytes) {
    const got = stored.toBuffer();
    return got.length === expected.length && timingSafeEqual(expected, got);
  }
  return equalBytes(expected, stored);
}

/** SHA-256 in one call (crypto.hash: no Hash object per call). */
export function sha256(data: Uint8Array): Buffer {
  return hash('sha256', data, 'buffer');
}

/**
 * SHA-256 as lowercase hex. For hot loops that only compare digests: a hex
 * string costs a fraction of a Buffer to make (about 0.4 µs against 1.1 µs).
 */
export function sha256Hex(data: Uint8Array): string {
  return hash('sha256', data, 'hex');
}

/**
 * Constant-time comparison. Values read from the vault file are untyped
 * (SQLite is dynamically typed and a damaged record can turn a BLOB into
 * text or NULL), so anything that is not bytes compares unequal.
 */
export function equalBytes(a: unknown, b: unknown): boolean {
  return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The canonical encoding of a row for its MAC, checksum or audit hash: the
 * magic "KHR1", then for the table name and each field a type tag, a 32-bit
 * big-endian length and the value: 0 null (no value), 1 bytes, 2 UTF-8 text,
 * 3 number as IEEE 754 float64 (every value Keyhold stores is an integer well
 * inside its exact range). A value whose SQLite type changed (a BLOB read
 * back as text, a number as NULL) never encodes like the original, and no
 * two field lists share an encoding. Normative: docs/vault-format.md.
 *
 * Binary rather than JSON: it is built in one reused buffer, so hashing a
 * million audit entries makes no garbage (hex strings were most of it). That
 * buffer never leaves this module: rowHash, rowHashHex and MacKey's macRow
 * and macRowHex encode into it and digest it before they return, and
 * canonicalRow hands out a copy the caller owns.
 */
const SCRATCH_SIZE = 4096;
let scratch = Buffer.alloc(SCRATCH_SIZE);
let pos = 0;

// Module-level helpers rather than closures: this runs millions of times in a
// rotation or a verify, and a closure per call is garbage per call.
function ensure(n: number): void {
  if (pos + n <= scratch.length) return;
  const bigger = Buffer.alloc(Math.max(scratch.length * 2, pos + n));
  scratch.copy(bigger, 0, 0, pos);
  scratch = bigger;
}

function header(tag: number, len: number): void {
  ensure(5 + len);
  scratch[pos] = tag;
  scratch.writeUInt32BE(len, pos + 1);
  pos += 5;
}

function put(v: unknown): void {
  if (v === null || v === undefined) {
    header(0, 0);
  } else if (Buffer.isBuffer(v)) {
    header(1, v.length);
    pos += v.copy(scratch, pos);
  } else if (v instanceof Uint8Array) {
    header(1, v.length);
    scratch.set(v, pos);
    pos += v.length;
  } else if (typeof v === 'string') {
    putText(v);
  } else if (typeof v === 'number') {
    header(3, 8);
    pos = scratch.writeDoubleBE(v, pos);
  } else if (v instanceof HexBytes) {
    const n = v.length;
    header(1, n);
    if (scratch.write(v.hex, pos, n, 'hex') !== n || v.hex.length !== 2 * n) {
      throw new KeyholdError('INTERNAL', 'canonical row: bytes given as hex are not hex');
    }
    pos += n;
  } else {
    // bigint or anything else SQLite could not have given us for a Keyhold row
    const t = `?${typeof v}`;
    header(9, t.length);
    pos += scratch.write(t, pos, t.length, 'latin1');
  }
}

/**
 * TEXT item: the UTF-8 bytes are written first and the header after, so the
 * length is not computed in a separate pass. Keyhold's text is nearly all
 * ASCII (ids, times, names, canonical JSON), which a plain loop copies faster
 * than a call into Buffer.write for strings this short; anything else goes
 * through Buffer.write. Same bytes either way.
 */
function putText(v: string): void {
  const len = v.length;
  ensure(5 + len * 3); // UTF-8 needs at most 3 bytes per UTF-16 code unit
  const start = pos + 5;
  let q = start;
  let i = 0;
  for (; i < len; i++) {
    const c = v.charCodeAt(i);
    if (c > 0x7f) break;
    scratch[q++] = c;
  }
  if (i < len) q = start + scratch.write(v, start, 'utf8');
  const n = q - start;
  scratch[pos] = 2;
  scratch[pos + 1] = n >>> 24;
  scratch[pos + 2] = (n >>> 16) & 0xff;
  scratch[pos + 3] = (n >>> 8) & 0xff;
  scratch[pos + 4] = n & 0xff;
  pos = q;
}

/**
 * Encodes a row into the scratch buffer and returns its length: the encoding
 * is scratch[0, length) until the next call. Module-private: every caller
 * here copies or digests those bytes before returning to its own caller.
 */
function encodeRow(table: string, fields: readonly unknown[]): number {
  if (scratch.length > 16 * SCRATCH_SIZE) scratch = Buffer.alloc(SCRATCH_SIZE); // a rare long row: do not keep its buffer
  pos = 0;
  ensure(4);
  scratch[0] = 0x4b; // "KHR1"
  scratch[1] = 0x48;
  scratch[2] = 0x52;
  scratch[3] = 0x31;
  pos = 4;
  putText(table);
  for (let i = 0; i < fields.length; i++) put(fields[i]);
  return pos;
}

/** The canonical encoding of a row, in a new Buffer the caller owns. */
export function canonicalRow(table: string, fields: readonly unknown[]): Buffer {
  const n = encodeRow(table, fields);
  const out = Buffer.allocUnsafe(n);
  scratch.copy(out, 0, 0, n);
  return out;
}

/** SHA-256 of canonicalRow(table, fields), with no copy of the encoding. */
export function rowHash(table: string, fields: readonly unknown[]): Buffer {
  const n = encodeRow(table, fields); // first: it may replace the scratch buffer
  return hash('sha256', scratch.subarray(0, n), 'buffer');
}

/** rowHash as lowercase hex (cheaper to make than a Buffer: for loops that compare digests). */
export function rowHashHex(table: string, fields: readonly unknown[]): string {
  const n = encodeRow(table, fields); // first: it may replace the scratch buffer
  return hash('sha256', scratch.subarray(0, n), 'hex');
}

/** Overwrites key material in place; JS offers nothing stronger. */
export function wipe(...bufs: (Buffer | Uint8Array | null | undefined)[]): void {
  for (const b of bufs) b?.fill(0);
}
