/**
 * The paper form of a quorum share (electron/core/quorum/paper.ts): 43 bytes
 * and a checksum byte as 4 lines of 8 BIP39 words plus a check word each.
 * Round trips for edge payloads; every single-word change of a line is named
 * by that line; a word outside the list is named by line and place; lines
 * swapped or a wrong count are refused; looksLikePaper tells words from a
 * passphrase.
 */
import { describe, expect, it } from 'vitest';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { looksLikePaper, PAPER_PAYLOAD_BYTES, shareToWords, wordsToShare } from '../../electron/core/quorum/paper.js';
import { KeyholdError } from '../../shared/errors.js';

function payload(fill: (i: number) => number): Buffer {
  return Buffer.from(Array.from({ length: PAPER_PAYLOAD_BYTES }, (_, i) => fill(i) & 0xff));
}

function refusal(text: string): KeyholdError {
  try {
    wordsToShare(text);
  } catch (e) {
    expect(e).toBeInstanceOf(KeyholdError);
    return e as KeyholdError;
  }
  throw new Error('expected the words to be refused');
}

const SAMPLES = [payload(() => 0), payload(() => 0xff), payload((i) => i * 37 + 11), payload((i) => (i % 2 ? 0xaa : 0x55))];

describe('paper share words', () => {
  it('round-trips: 4 lines of 9 list words, back to the same bytes (one line, numbered lines, any case)', () => {
    for (const p of SAMPLES) {
      const lines = shareToWords(p);
      expect(lines).toHaveLength(4);
      for (const l of lines) {
        const words = l.split(' ');
        expect(words).toHaveLength(9);
        for (const w of words) expect(wordlist).toContain(w);
      }
      expect(wordsToShare(lines.join('\n')).equals(p)).toBe(true);
      expect(wordsToShare(lines.join(' ')).equals(p)).toBe(true);
      expect(wordsToShare(`# a header line\n${lines.map((l, i) => `${i + 1}. ${l.toUpperCase()}`).join('\n')}\n`).equals(p)).toBe(true);
      expect(looksLikePaper(lines.join('\n'))).toBe(true);
    }
  });

  it('names the line of any single changed word', () => {
    const p = SAMPLES[2] as Buffer;
    const lines = shareToWords(p).map((l) => l.split(' '));
    let checked = 0;
    for (let line = 0; line < 4; line++) {
      for (let at = 0; at < 9; at++) {
        const w = lines[line]?.[at] as string;
        const other = wordlist[(wordlist.indexOf(w) + 1 + line * 9 + at) % 2048] as string;
        const changed = lines.map((l, i) => (i === line ? l.map((x, j) => (j === at ? other : x)) : l));
        const e = refusal(changed.map((l) => l.join(' ')).join('\n'));
        expect(e.code).toBe('INVALID_INPUT');
        expect(e.message).toContain(`line ${line + 1}`);
        checked++;
      }
    }
    expect(checked).toBe(36);
  });

  it('refuses a word outside the list (by line and place), a wrong count, and lines out of order', () => {
    const lines = shareToWords(SAMPLES[1] as Buffer);
    const bad = lines.map((l, i) => (i === 3 ? l.replace(/^(\S+ \S+ )\S+/, '$1qwerty') : l));
    expect(refusal(bad.join('\n')).message).toMatch(/line 4, word 3 is not a word of the list/);
    expect(refusal(lines.slice(0, 3).join('\n')).message).toMatch(/expected 36 words .* got 27/);
    const swapped = [lines[1], lines[0], lines[2], lines[3]].join('\n');
    expect(refusal(swapped).code).toBe('INVALID_INPUT');
  });

  it('tells paper words from a passphrase or a PIN', () => {
    expect(looksLikePaper('alice keeps the orchard lantern')).toBe(false);
    expect(looksLikePaper('123456')).toBe(false);
    expect(looksLikePaper(Array.from({ length: 36 }, () => 'qwerty').join(' '))).toBe(false);
  });
});
