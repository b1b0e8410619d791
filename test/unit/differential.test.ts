/**
 * Every hand-written fast path in custody code, held to its reference over
 * at least 100,000 random inputs (fast-check), plus the edge cases named:
 *
 * - MacKey (HMAC-SHA256 from prepared pads) against node:crypto createHmac:
 *   keys of 0 to 64 bytes, messages from empty to far past the SHA-256 block
 *   and past MacKey's work buffer, one key used for many messages;
 * - canonicalRow, rowHash, rowHashHex and MacKey.macRow against the encoding
 *   written out the slow, obvious way (docs/vault-format.md, section 1):
 *   every field type, text with non-ASCII, astral and lone-surrogate
 *   characters, numbers such as -0, NaN, 1e21 and 2^53 + 2, rows longer
 *   than the module's scratch buffer; and canonicalRow's result is the
 *   caller's own memory (a later call does not change it);
 * - keyCreateDetails and keyRotateDetails (the key.create / key.rotate audit
 *   details written out by hand) against the canonical JSON they stand for,
 *   the same function they defer to (shared/canonical-json.ts: the bundle
 *   format's RFC 8785 implementation, keyhold-format's canonicalize, with
 *   the audit details' two departures): equal text, or both refuse.
 *
 * Inputs are made by a seeded generator from integers fast-check draws (see
 * "random inputs"); a failure prints the input, and the seed that repeats
 * it. Nothing here is a secret.
 */
import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalRow, HexBytes, MacKey, rowHash, rowHashHex } from '../../electron/core/crypto/primitives.js';
import { keyCreateDetails } from '../../electron/core/keys/keys.js';
import { keyRotateDetails } from '../../electron/core/keys/lifecycle.js';
import { canonicalJson } from '../../shared/canonical-json.js';
import { referenceRow } from '../helpers/reference-row.js';

const RUNS = 100_000;

// ---- random inputs ------------------------------------------------------------------
// Each input is made from two integers fast-check draws (a size and a seed)
// by a small seeded generator (mulberry32): one arbitrary per value instead
// of one per character or byte keeps 100,000 runs within seconds. A failure
// still prints the input and the seed that reproduces it, and shrinks the size.

type Rand = () => number; // a uint32

function mulberry32(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

const seeded = <T>(maxSize: number, make: (size: number, r: Rand) => T): fc.Arbitrary<T> =>
  fc.tuple(fc.nat({ max: maxSize }), fc.integer()).map(([n, seed]) => make(n, mulberry32(seed)));

const pick = <T>(r: Rand, xs: readonly T[]): T => xs[r() % xs.length] as T;

const SPECIAL = ['"', '\\', '/', '\u007f', '\u0080', '\u00e9', '\u2028', '\u2029', '\ufeff', '\uffff', '\u{1F511}', '\u{10FFFF}'];

/**
 * One character of any kind: mostly ASCII (what Keyhold's text nearly always
 * is), and those JSON and UTF-8 treat specially: controls, quote and
 * backslash, U+2028/U+2029, the BMP's top, astral characters, and lone high
 * and low surrogates (two of which may pair up).
 */
function randomChar(r: Rand): string {
  const x = r();
  switch (x & 15) {
    case 8:
      return String.fromCharCode((x >>> 4) & 0x1f);
    case 9:
      return SPECIAL[(x >>> 4) % SPECIAL.length] as string;
    case 10:
      return String.fromCharCode(0x80 + ((x >>> 4) % 0xff80));
    case 11:
      return String.fromCodePoint(0x10000 + ((x >>> 4) % 0x100000));
    case 12:
      return String.fromCharCode(0xd800 + ((x >>> 4) & 0x7ff));
    default:
      return String.fromCharCode(0x20 + ((x >>> 4) % 95));
  }
}

/** Text of up to maxLength characters of any kind (randomChar); empty one time in eight. */
function randomText(r: Rand, maxLength: number): string {
  const n = (r() & 7) === 0 ? 0 : r() % (maxLength + 1);
  let s = '';
  for (let i = 0; i < n; i++) s += randomChar(r);
  return s;
}

function randomBytes(r: Rand, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let i = 0;
  for (; i + 4 <= n; i += 4) b.writeUInt32LE(r(), i);
  for (; i < n; i++) b[i] = r() & 0xff;
  return b;
}

const AWKWARD_NUMBERS = [0, -0, 1, -1, 1e21, -1e21, 1e20, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), Number.MAX_SAFE_INTEGER, Number.MAX_VALUE,
  Number.MIN_VALUE, 0.1, 1.5, 1e-7, NaN, Infinity, -Infinity];

/** A number of any kind: awkward ones, 32-bit and 53-bit integers, any float64 bit pattern (NaNs, subnormals, -0). */
function randomNumber(r: Rand): number {
  const x = r();
  switch (x % 5) {
    case 0:
      return pick(r, AWKWARD_NUMBERS);
    case 1:
      return r() | 0;
    case 2:
      return ((x & 8) ? -1 : 1) * ((r() % 2 ** 21) * 2 ** 32 + r());
    case 3: {
      const b = Buffer.allocUnsafe(8);
      b.writeUInt32BE(r(), 0);
      b.writeUInt32BE(r(), 4);
      return b.readDoubleBE(0);
    }
    default:
      return r() % 1000;
  }
}

/** A time as Keyhold writes one (any millisecond in years 0000..9999), or, one time in four, any text. */
function randomTime(r: Rand): string {
  if ((r() & 3) === 0) return randomText(r, 30);
  const span = 253_402_300_800_000 + 62_167_219_200_000; // 0000-01-01 to 10000-01-01, in ms
  return new Date(-62_167_219_200_000 + (((r() % 2 ** 21) * 2 ** 32 + r()) % span)).toISOString();
}

type Outcome = { ok: true; text: string } | { ok: false };

/** What a writer does: its text, or that it refused. */
function outcome(f: () => string): Outcome {
  try {
    return { ok: true, text: f() };
  } catch {
    return { ok: false };
  }
}

const same = (a: Outcome, b: Outcome): boolean => a.ok === b.ok && (!a.ok || a.text === (b as { text: string }).text);

// ---- HMAC ---------------------------------------------------------------------------

const hmacHex = (key: Uint8Array, msg: Uint8Array): string => createHmac('sha256', key).update(msg).digest('hex');

/** Message lengths around SHA-256's 64-byte block and MacKey's first work buffer (1024 bytes: 960 of message). */
const EDGE_LENGTHS = [0, 1, 31, 32, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 959, 960, 961, 1024, 2048, 5000];

/** A message: mostly short (0..140 bytes), one time in thirty far past the block and the work buffer (900..3000). */
function randomMessage(r: Rand): Buffer {
  return randomBytes(r, r() % 30 === 0 ? 900 + (r() % 2101) : r() % 141);
}

/** A key of 0..64 bytes (size), and one or two messages. */
const macInput = seeded(64, (n, r) => ({ key: randomBytes(r, n), messages: (r() & 3) === 0 ? [randomMessage(r), randomMessage(r)] : [randomMessage(r)] }));

describe('MacKey against createHmac', () => {
  it(`gives createHmac's HMAC-SHA256 for ${RUNS} random keys (0..64 bytes) and messages, one or two per key`, () => {
    fc.assert(
      fc.property(macInput, ({ key, messages }) => {
        const mk = new MacKey(key);
        // A second message through the same key reuses (and may have to grow) the buffers of the first.
        return messages.every((m) => mk.hex(m) === hmacHex(key, m));
      }),
      { numRuns: RUNS },
    );
  });

  it('edge cases: empty key, 64-byte key, every message length around the block and the work buffer, long then short', () => {
    const bytesOf = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + seed * 17) & 0xff));
    for (const keyLen of [0, 1, 31, 32, 33, 63, 64]) {
      const key = bytesOf(keyLen, keyLen);
      const mk = new MacKey(key);
      // Up the lengths, then down again: the work buffer grows once and stays grown.
      for (const n of [...EDGE_LENGTHS, ...[...EDGE_LENGTHS].reverse()]) {
        const m = bytesOf(n, n);
        expect(mk.hex(m), `key ${keyLen} bytes, message ${n} bytes`).toBe(hmacHex(key, m));
        expect(mk.mac(m).equals(createHmac('sha256', key).update(m).digest())).toBe(true);
      }
      // A zero key and an empty key are the same HMAC key (RFC 2104 pads with zeros): MacKey agrees with createHmac.
      expect(new MacKey(Buffer.alloc(keyLen)).hex(Buffer.from('x'))).toBe(hmacHex(Buffer.alloc(0), Buffer.from('x')));
      mk.wipe();
      expect(() => mk.hex(Buffer.alloc(1))).toThrow(/wiped/);
    }
    // Longer keys (which createHmac would hash first) are refused, not MACed differently.
    expect(() => new MacKey(Buffer.alloc(65))).toThrow(/longer than a SHA-256 block/);
  });

  it('one key over 20,000 random messages in a row, as the vault uses it', () => {
    const key = Buffer.from('0123456789abcdef0123456789abcdef');
    const mk = new MacKey(key);
    fc.assert(fc.property(seeded(0, (_, r) => randomMessage(r)), (m) => mk.hex(m) === hmacHex(key, m)), { numRuns: 20_000 });
  });
});

// ---- canonicalRow ---------------------------------------------------------------------

const TABLES = ['audit', 'keys', 'key_versions', 'vault_meta', 'policies', 'keyslots'];
const LONG = ['a', 'é', '\u{1F511}', '\ud800'];

/**
 * A field of any type a row can hold, or could hold after damage: text, a
 * number, NULL (null or undefined), bytes (Buffer, Uint8Array or HexBytes in
 * either case), and what SQLite never gives (bigint, boolean); one time in
 * two hundred, text longer than the 4 KiB scratch buffer.
 */
function randomField(r: Rand): unknown {
  const x = r();
  switch (x % 16) {
    case 0: case 1: case 2: case 3: case 4:
      return randomText(r, 40);
    case 5: case 6: case 7:
      return randomNumber(r);
    case 8:
      return (x & 16) ? null : undefined;
    case 9: case 10:
      return randomBytes(r, r() % 49);
    case 11:
      return new Uint8Array(randomBytes(r, r() % 17));
    case 12: {
      const hex = randomBytes(r, r() % 41).toString('hex');
      return new HexBytes((x & 16) ? hex.toUpperCase() : hex);
    }
    case 13:
      return (x & 16) ? BigInt(r()) - 2n ** 31n : (x & 32) !== 0;
    default:
      return r() % 200 === 0 ? pick(r, LONG).repeat(1500 + (r() % 4500)) : randomText(r, 12);
  }
}

/** A table name (now and then any text) and 0..12 fields (size). */
const row = seeded(12, (n, r): [string, unknown[]] =>
  [(r() & 7) === 0 ? randomText(r, 20) : pick(r, TABLES), Array.from({ length: n }, () => randomField(r))]);

describe('canonicalRow and the row digests against the plain encoding', () => {
  it(`canonicalRow encodes exactly like the reference for ${RUNS} random rows; rowHash, rowHashHex and macRow hash those bytes`, () => {
    const key = Buffer.from('row mac key, not a secret, 32 b.');
    const mk = new MacKey(key);
    let previous: { bytes: Buffer; want: Buffer } | null = null;
    let n = 0;
    fc.assert(
      fc.property(row, ([table, fields]) => {
        const want = referenceRow(table, fields);
        // The digests encode through the same code: every fourth row, and every long one, is enough to hold them to
        // it. They go first, so that a long row grows the scratch buffer inside them.
        let ok = true;
        if (n++ % 4 === 0 || want.length > 4096) {
          const digest = createHash('sha256').update(want).digest();
          ok = rowHashHex(table, fields) === digest.toString('hex') && rowHash(table, fields).equals(digest) &&
            mk.macRowHex(table, fields) === hmacHex(key, want) && mk.macRow(table, fields).toString('hex') === hmacHex(key, want);
        }
        const got = canonicalRow(table, fields);
        ok &&= got.equals(want);
        // The previous result is the caller's: this run's encodings did not overwrite it.
        const kept = previous === null || previous.bytes.equals(previous.want);
        previous = { bytes: got, want };
        return ok && kept;
      }),
      { numRuns: RUNS },
    );
  });

  it('edge cases: every type, -0 against 0, NaN, 1e21, lone surrogates, an empty row, a row past the scratch buffer', () => {
    const cases: [string, unknown[]][] = [
      ['', []],
      ['t', [0]], ['t', [-0]], ['t', [NaN]], ['t', [1e21]], ['t', [2 ** 53 + 2]], ['t', [Number.MAX_VALUE]],
      ['t', ['lone \ud800 high', 'lone \udc00 low', 'pair \ud83d\udd11', '\u{10FFFF}', '\u0000']],
      ['t', [null, undefined, Buffer.alloc(0), new Uint8Array(0), new HexBytes(''), '', 10n, true]],
      ['keys', ['x'.repeat(5000), 'é'.repeat(3000), Buffer.alloc(70_000, 7)]],
      ['keys', ['short after long']],
    ];
    for (const [table, fields] of cases) {
      const want = referenceRow(table, fields);
      expect(canonicalRow(table, fields).equals(want), `${table} ${fields.length} fields`).toBe(true);
      expect(rowHashHex(table, fields)).toBe(createHash('sha256').update(want).digest('hex'));
    }
    // Each digest on a row that outgrows the scratch buffer inside it (a row past 64 KiB first, so that the next
    // call starts again from a small buffer): the digest is of the grown buffer, not of the one it replaced.
    const key = Buffer.from('row mac key, not a secret, 32 b.');
    const mk = new MacKey(key);
    const long: unknown[] = ['é'.repeat(2000), Buffer.alloc(6000, 9), 42];
    const want = referenceRow('keys', long);
    const digests: [string, () => string, string][] = [
      ['rowHashHex', () => rowHashHex('keys', long), createHash('sha256').update(want).digest('hex')],
      ['rowHash', () => rowHash('keys', long).toString('hex'), createHash('sha256').update(want).digest('hex')],
      ['macRowHex', () => mk.macRowHex('keys', long), hmacHex(key, want)],
      ['macRow', () => mk.macRow('keys', long).toString('hex'), hmacHex(key, want)],
      ['canonicalRow', () => canonicalRow('keys', long).toString('hex'), want.toString('hex')],
    ];
    for (const [name, digest, expected] of digests) {
      canonicalRow('t', [Buffer.alloc(70_000)]);
      canonicalRow('t', ['short']);
      expect(digest(), name).toBe(expected);
    }
    // -0 and 0 are different float64 bytes, and so different rows (as SQLite would never give back -0 for 0).
    expect(canonicalRow('t', [-0]).equals(canonicalRow('t', [0]))).toBe(false);
    expect(() => canonicalRow('t', [new HexBytes('zz')])).toThrow(/not hex/);
    expect(() => canonicalRow('t', [new HexBytes('abc')])).toThrow(/not hex/);
  });

  it('canonicalRow returns memory the caller owns: a later call, or a change to one result, changes no other', () => {
    const a = canonicalRow('keys', ['first', 1]);
    const aCopy = Buffer.from(a);
    const b = canonicalRow('keys', ['second, longer', 2, Buffer.alloc(10_000, 1)]);
    expect(a.equals(aCopy)).toBe(true);
    expect(a.buffer === b.buffer && a.byteOffset + a.length > b.byteOffset && b.byteOffset + b.length > a.byteOffset).toBe(false);
    b.fill(0);
    expect(canonicalRow('keys', ['first', 1]).equals(aCopy)).toBe(true);
    expect(rowHashHex('keys', ['first', 1])).toBe(createHash('sha256').update(aCopy).digest('hex'));
  });
});

// ---- the audit details written by hand ------------------------------------------------

describe('key.create and key.rotate details against canonical JSON', () => {
  it(`keyCreateDetails is canonicalJson of the key.create details (or both refuse), for ${RUNS} random keys`, () => {
    const input = seeded(4, (nScopes, r) => ({
      name: randomText(r, 12), service: randomText(r, 12), environment: randomText(r, 12), owner: randomText(r, 12),
      scopes: Array.from({ length: nScopes }, () => randomText(r, 10)),
      state: (r() & 3) === 0 ? randomText(r, 8) : pick(r, ['active', 'pre-active']),
      activateAt: (r() & 1) === 0 ? null : randomTime(r),
    }));
    fc.assert(
      fc.property(input, ({ name, service, environment, owner, scopes, state, activateAt }) => {
        const want = outcome(() => canonicalJson({ name, service, environment, scopes, owner, version: 1, state,
          ...(activateAt !== null ? { activateAt } : {}) }));
        return same(outcome(() => keyCreateDetails({ name, service, environment, scopes, owner }, state, activateAt)), want);
      }),
      { numRuns: RUNS },
    );
  });

  it(`keyRotateDetails is canonicalJson of the key.rotate details (or both refuse), for ${RUNS} random rotations`, () => {
    const version = (r: Rand): number => ((r() & 3) === 0 ? randomNumber(r) : r() % 1_000_001);
    const input = seeded(4, (nSuperseded, r) => ({
      from: version(r), to: version(r), graceUntil: randomTime(r), superseded: Array.from({ length: nSuperseded }, () => version(r)),
    }));
    fc.assert(
      fc.property(input, ({ from, to, graceUntil, superseded }) => {
        const want = outcome(() => canonicalJson({ from, to, graceUntil, ...(superseded.length > 0 ? { superseded } : {}) }));
        return same(outcome(() => keyRotateDetails(from, to, graceUntil, superseded)), want);
      }),
      { numRuns: RUNS },
    );
  });

  it('edge cases: empty and awkward text, lone surrogates, -0, 1e21, huge and unsafe integers, non-finite numbers', () => {
    const texts = ['', 'a', '"', '\\', '\u0000', '\u001f', '\u007f', '\u2028\u2029', '\u{1F511}', '\ud800', 'x\udfff', '\udbff\udc00', 'é'];
    for (const t of texts) {
      for (const activateAt of [null, '2027-01-01T00:00:00.000Z', t]) {
        const spec = { name: t, service: `s${t}`, environment: t, scopes: [t, 'read'], owner: t };
        const want = outcome(() => canonicalJson({ ...spec, version: 1, state: 'active', ...(activateAt !== null ? { activateAt } : {}) }));
        expect(outcome(() => keyCreateDetails(spec, 'active', activateAt)), JSON.stringify(t)).toEqual(want);
      }
      expect(outcome(() => keyRotateDetails(1, 2, t, [])), JSON.stringify(t))
        .toEqual(outcome(() => canonicalJson({ from: 1, to: 2, graceUntil: t })));
    }
    const numbers = [0, -0, 1, 1e21, -1e21, 2 ** 53, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE, 1.5, 5e-324, NaN, Infinity];
    for (const n of numbers) {
      for (const superseded of [[], [n], [1, n]]) {
        const want = outcome(() => canonicalJson({ from: n, to: n, graceUntil: 'g', ...(superseded.length > 0 ? { superseded } : {}) }));
        expect(outcome(() => keyRotateDetails(n, n, 'g', superseded)), String(n)).toEqual(want);
      }
    }
    // -0 is written as 0, 1e21 in exponent form: what canonical JSON writes.
    expect(keyRotateDetails(-0, 1e21, 'g', [-0])).toBe('{"from":0,"graceUntil":"g","superseded":[0],"to":1e+21}');
  });
});
