import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  API_KEY_LENGTH,
  crc32,
  formatApiKey,
  isValidApiKey,
  parseApiKey,
  randomBase62,
} from '../../shared/apikey.js';
import { KeyholdError } from '../../shared/errors.js';

const id = 'AbCdEfGh12345678';
const secret = 'a'.repeat(43);

describe('API key format', () => {
  it('formats prefix, id, secret and checksum to the documented length', () => {
    const k = formatApiKey(id, secret);
    expect(k).toMatch(/^khk_[0-9A-Za-z]{16}_[0-9A-Za-z]{49}$/);
    expect(k).toHaveLength(API_KEY_LENGTH);
    expect(API_KEY_LENGTH).toBe(70);
    expect(parseApiKey(k)).toEqual({ keyId: id });
  });

  it('uses CRC-32/IEEE (check value of "123456789" is 0xCBF43926)', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
  });

  it('rejects every single-character substitution by checksum', () => {
    const k = formatApiKey(id, randomBase62(43, randomBytes));
    const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    let tried = 0;
    for (let i = 4; i < k.length; i++) {
      if (k[i] === '_') continue;
      for (const c of alphabet) {
        if (c === k[i]) continue;
        const typo = k.slice(0, i) + c + k.slice(i + 1);
        expect(isValidApiKey(typo)).toBe(false);
        tried++;
      }
    }
    expect(tried).toBe(65 * 61);
  });

  it('rejects a swap of two adjacent characters', () => {
    const k = formatApiKey(id, 'Ab' + 'c'.repeat(41));
    const swapped = k.slice(0, 21) + k[22] + k[21] + k.slice(23);
    expect(swapped).not.toBe(k);
    expect(isValidApiKey(swapped)).toBe(false);
  });

  it.each([
    ['wrong prefix', 'ghp_' + 'x'.repeat(66)],
    ['truncated', formatApiKey(id, secret).slice(0, 60)],
    ['bad character', formatApiKey(id, secret).replace('_a', '_-')],
    ['empty', ''],
  ])('rejects %s with INVALID_KEY_FORMAT and does not echo the key', (_name, text) => {
    try {
      parseApiKey(text);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(KeyholdError);
      expect((e as KeyholdError).code).toBe('INVALID_KEY_FORMAT');
      if (text.length > 8) expect((e as KeyholdError).message).not.toContain(text.slice(4, 20));
    }
  });

  it('draws base62 characters uniformly (chi-squared over 620,000 draws)', () => {
    const s = randomBase62(620_000, randomBytes);
    const counts = new Map<string, number>();
    for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    const expected = 10_000;
    let chi2 = 0;
    for (const n of counts.values()) chi2 += (n - expected) ** 2 / expected;
    // 61 degrees of freedom: p = 1e-6 at about 125. A modulo bias would give thousands.
    expect(chi2).toBeLessThan(125);
  });
});
