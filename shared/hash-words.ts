/**
 * A payload hash as words for reading aloud (docs/bundle-export.md, "Before
 * signing: prepare and summary"). Two custodians comparing a 64-digit hex
 * string by voice miss digits; words from a list built for that (BIP-39's
 * English list: 2048 words, no two sharing their first four letters) are
 * read and heard reliably.
 *
 * The rule: the 32 bytes of the SHA-256 payload hash are BIP-39 entropy, and
 * the words are its mnemonic in the English list (@scure/bip39,
 * entropyToMnemonic): 24 words, 11 bits each, the last one carrying 3 bits
 * of the hash and an 8-bit checksum. All 256 bits are in the words, so they
 * name exactly the hash (hashFromWords gives it back), and a word misheard
 * is caught by the checksum most of the time.
 */
import { entropyToMnemonic, mnemonicToEntropy } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';

/** How many words a payload hash reads as. */
export const HASH_WORD_COUNT = 24;

const HEX64 = /^[0-9a-f]{64}$/;

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** The 24 words of a SHA-256 hash given as 64 lowercase hex digits. */
export function hashWords(hashHex: string): string[] {
  if (!HEX64.test(hashHex)) throw new TypeError('hash-words: the hash must be 64 lowercase hex digits');
  return entropyToMnemonic(hexBytes(hashHex), wordlist).split(' ');
}

/** The hash (hex) that 24 words name; throws when a word is not in the list or the checksum fails. */
export function hashFromWords(words: readonly string[]): string {
  if (words.length !== HASH_WORD_COUNT) throw new TypeError(`hash-words: ${HASH_WORD_COUNT} words are needed`);
  const bytes = mnemonicToEntropy(words.join(' '), wordlist);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A hex hash in groups of four digits, for reading ("3e14 1609 b979 …"). */
export function groupHex(hashHex: string, size = 4): string[] {
  const out: string[] = [];
  for (let i = 0; i < hashHex.length; i += size) out.push(hashHex.slice(i, i + size));
  return out;
}
