/**
 * shared/hash-words.ts: a payload hash as the 24 words read aloud before
 * signing. The words are BIP-39's English mnemonic of the 32 hash bytes, so
 * the test holds them to the BIP-39 vectors for 32-byte entropy (the ones
 * @scure/bip39's own test suite uses, from the reference implementation),
 * and checks the way back, the checksum and the refusals.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { groupHex, HASH_WORD_COUNT, hashFromWords, hashWords } from '../../shared/hash-words.js';

/** [entropy hex, mnemonic]: BIP-39's English vectors for 256-bit entropy. */
const VECTORS: ReadonlyArray<readonly [string, string]> = [
  ['0000000000000000000000000000000000000000000000000000000000000000',
    'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art'],
  ['7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f',
    'legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth title'],
  ['8080808080808080808080808080808080808080808080808080808080808080',
    'letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic bless'],
  ['ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
    'zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo vote'],
  ['3e141609b97933b66a060dcddc71fad1d91677db872031e85f4c015c5e7e8982',
    'dignity pass list indicate nasty swamp pool script soccer toe leaf photo multiply desk host tomato cradle drill spread actor shine dismiss champion exotic'],
  ['2c85efc7f24ee4573d2b81a6ec66cee209b2dcbd09d8eddc51e0215b0b68e416',
    'clutch control vehicle tonight unusual clog visa ice plunge glimpse recipe series open hour vintage deposit universe tip job dress radar refuse motion taste'],
  ['4fa1a8bc3e6d80ee1316050e862c1812031493212b7ec3f3bb1b08f168cabeef',
    'exile ask congress lamp submit jacket era scheme attend cousin alcohol catch course end lucky hurt sentence oven short ball bird grab wing top'],
  ['15da872c95a13dd738fbf50e427583ad61f18fd99f628c417a61cf8343c90419',
    'beyond stage sleep clip because twist token leaf atom beauty genius food business side grid unable middle armed observe pair crouch tonight away coconut'],
];

describe('hash words', () => {
  it('are the BIP-39 English mnemonic of the 32 hash bytes (the reference vectors), and lead back to the hash', () => {
    for (const [hex, mnemonic] of VECTORS) {
      const words = hashWords(hex);
      expect(words).toHaveLength(HASH_WORD_COUNT);
      expect(words.join(' ')).toBe(mnemonic);
      expect(hashFromWords(words)).toBe(hex);
    }
  });

  it('name every bit of a real SHA-256 hash: one bit changed changes the words', () => {
    const hash = createHash('sha256').update('a canonical payload').digest('hex');
    const words = hashWords(hash);
    expect(hashFromWords(words)).toBe(hash);
    for (const byte of [0, 15, 31]) {
      const flipped = hash.slice(0, byte * 2) + (Number.parseInt(hash.slice(byte * 2, byte * 2 + 2), 16) ^ 1).toString(16).padStart(2, '0') + hash.slice(byte * 2 + 2);
      expect(hashWords(flipped), `byte ${byte}`).not.toEqual(words);
    }
  });

  it('catch a misheard last word with the checksum, and refuse what is not a hash or not 24 list words', () => {
    const words = hashWords(VECTORS[4]![0]);
    // "exotic" carries 3 hash bits and the 8-bit checksum: another word there fails the checksum.
    expect(() => hashFromWords([...words.slice(0, 23), 'zoo'])).toThrow();
    expect(() => hashFromWords([...words.slice(0, 23), 'notaword'])).toThrow();
    expect(() => hashFromWords(words.slice(0, 12))).toThrow(/24 words/);
    expect(() => hashWords('ABCD')).toThrow(/64 lowercase hex/);
    expect(() => hashWords(VECTORS[3]![0].toUpperCase())).toThrow(/64 lowercase hex/);
  });

  it('group hex in fours for reading', () => {
    expect(groupHex(VECTORS[4]![0])).toHaveLength(16);
    expect(groupHex(VECTORS[4]![0]).slice(0, 3)).toEqual(['3e14', '1609', 'b979']);
    expect(groupHex(VECTORS[4]![0]).join('')).toBe(VECTORS[4]![0]);
  });
});
