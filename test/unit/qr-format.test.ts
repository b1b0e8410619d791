/**
 * The QR transfer format (docs/bundle-format.md, section 14), keyhold-format's
 * one implementation: chunking and reassembly in any order, and each way a
 * set of texts can be wrong, with its own code.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeQrParts, encodeQrParts, isImportError, parseQrPart, QR_CHUNK_CHARS, QR_MAX_PARTS } from 'keyhold-format';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isImportError(e)) return e.code;
    throw e;
  }
  return 'no error';
}

function shuffled<T>(a: readonly T[]): T[] {
  const out = [...a];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomBytes(1)[0]! % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('QR parts', () => {
  it('cut a file into numbered parts of at most the chunk size, each naming the whole file\'s SHA-256', () => {
    const file = randomBytes(2000);
    const parts = encodeQrParts(file);
    const b64 = file.toString('base64url');
    expect(parts).toHaveLength(Math.ceil(b64.length / QR_CHUNK_CHARS));
    const sum = createHash('sha256').update(file).digest('base64url');
    parts.forEach((t, i) => {
      const p = parseQrPart(t);
      expect(p).toEqual({ index: i + 1, total: parts.length, checksum: sum, chunk: b64.slice(i * QR_CHUNK_CHARS, (i + 1) * QR_CHUNK_CHARS) });
      expect(t).toBe(`KHQR1:${i + 1}/${parts.length}:${sum}:${p.chunk}`);
    });
    // A small file is one code.
    expect(encodeQrParts(Buffer.from('{"payload":"x"}'))).toHaveLength(1);
  });

  it('reassemble in any order, a part read twice or surrounded by blank lines and spaces included', () => {
    for (const size of [1, 74, 75, 76, 500, 4000]) {
      const file = randomBytes(size);
      const parts = encodeQrParts(file, { chunkChars: 100 });
      const texts = [...shuffled(parts), parts[0]!, '', `  ${parts[parts.length - 1]!}  `];
      expect(decodeQrParts(texts).equals(file), `size ${size}`).toBe(true);
    }
  });

  it('refuse a missing part, a part of another file, two texts for one part, a changed character, and what is not a part', () => {
    const file = randomBytes(3000);
    const parts = encodeQrParts(file);
    expect(parts.length).toBeGreaterThan(2);
    expect(codeOf(() => decodeQrParts(parts.slice(1)))).toBe('QR_PARTS_MISSING');
    expect(codeOf(() => decodeQrParts([]))).toBe('QR_PARTS_MISSING');
    const other = encodeQrParts(randomBytes(3000));
    expect(codeOf(() => decodeQrParts([...parts.slice(1), other[0]!]))).toBe('QR_PARTS_MIXED');
    const p2 = parts[1]!;
    const last = p2[p2.length - 1] === 'A' ? 'B' : 'A';
    const changed = `${p2.slice(0, -1)}${last}`;
    expect(codeOf(() => decodeQrParts([...parts, changed]))).toBe('QR_PARTS_MIXED');
    expect(codeOf(() => decodeQrParts(parts.map((t, i) => (i === 1 ? changed : t))))).toBe('QR_CHECKSUM');
    // The checksum itself changed in every part: the file is not the one named.
    const sum = parseQrPart(parts[0]!).checksum;
    const badSum = `${sum[0] === 'A' ? 'B' : 'A'}${sum.slice(1)}`;
    expect(codeOf(() => decodeQrParts(parts.map((t) => t.replace(sum, badSum))))).toBe('QR_CHECKSUM');
    for (const bad of ['hello', 'KHQR1:1/2:abc:def', 'KHQR1:3/2:' + sum + ':AAAA', 'KHQR1:0/2:' + sum + ':AAAA', 'KHQR1:01/2:' + sum + ':AAAA',
      'KHQR1:1/2:' + sum + ':AA=A', 'KHQR2:1/1:' + sum + ':AAAA', 'KHQR1:1/65:' + sum + ':AAAA']) {
      expect(codeOf(() => parseQrPart(bad)), bad).toBe('QR_PART_INVALID');
    }
  });

  it('make at most QR_MAX_PARTS codes', () => {
    const big = randomBytes(Math.floor((QR_MAX_PARTS * QR_CHUNK_CHARS * 3) / 4) + 100);
    expect(codeOf(() => encodeQrParts(big))).toBe('INVALID_INPUT');
    expect(encodeQrParts(randomBytes(Math.floor((QR_MAX_PARTS * QR_CHUNK_CHARS * 3) / 4)))).toHaveLength(QR_MAX_PARTS);
  });
});
