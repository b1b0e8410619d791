/**
 * A quorum share on paper: its 43 bytes (quorum.ts, sharePlaintext) and one
 * byte of checksum as 32 words of the BIP39 English list (11 bits each),
 * written in 4 lines of 8 words, each line ending with a check word derived
 * from the line's number and words. A mistyped word is caught by its line's
 * check word, so the error names the line; a word that is not in the list is
 * named with its line and place; the whole-share checksum byte catches what a
 * check word misses (one chance in 2048 per line).
 */

import { wordlist } from '@scure/bip39/wordlists/english.js';
import { KeyholdError } from '../../../shared/errors.js';
import { sha256, wipe } from '../crypto/primitives.js';

export const PAPER_LINES = 4;
export const PAPER_WORDS_PER_LINE = 8;
/** Bytes a paper share carries (the share's plaintext). */
export const PAPER_PAYLOAD_BYTES = 43;

const INDEX = new Map<string, number>(wordlist.map((w, i) => [w, i]));

function payloadCheck(payload: Uint8Array): number {
  return sha256(Buffer.concat([Buffer.from('keyhold/v1/paper-share\n'), payload]))[0] as number;
}

function lineCheck(line: number, words: readonly string[]): string {
  const h = sha256(Buffer.from(`keyhold/v1/paper-line\n${line}\n${words.join(' ')}`, 'utf8'));
  return wordlist[(((h[0] as number) << 8) | (h[1] as number)) >> 5] as string;
}

/** The lines of a paper share: "word word ... check" (9 words each). */
export function shareToWords(payload: Uint8Array): string[] {
  if (payload.length !== PAPER_PAYLOAD_BYTES) throw new Error('paper: unexpected share length');
  const bytes = Buffer.concat([Buffer.from(payload), Buffer.from([payloadCheck(payload)])]);
  const words: string[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 11) {
      bits -= 11;
      words.push(wordlist[(acc >> bits) & 0x7ff] as string);
      acc &= (1 << bits) - 1;
    }
  }
  wipe(bytes);
  const lines: string[] = [];
  for (let l = 0; l < PAPER_LINES; l++) {
    const w = words.slice(l * PAPER_WORDS_PER_LINE, (l + 1) * PAPER_WORDS_PER_LINE);
    lines.push([...w, lineCheck(l + 1, w)].join(' '));
  }
  return lines;
}

function bad(message: string): KeyholdError {
  return new KeyholdError('INVALID_INPUT', `paper share: ${message}`,
    `Type the ${PAPER_LINES} lines of ${PAPER_WORDS_PER_LINE + 1} words as printed (line numbers may be left out).`);
}

/** The lines of typed words: lower case, trimmed, leading line numbers and `#` comment lines (a file's header) left out. */
function paperLines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => !l.startsWith('#'))
    .map((l) => l.toLowerCase().replace(/^\d+\s*[.:)]?\s+/, '')).filter((l) => l.length > 0);
}

/**
 * The share's plaintext from typed words: one line per printed line, or all
 * the words in order on any number of lines. Case, extra spaces and leading
 * line numbers ("1." or "1:") and `#` lines are ignored. Errors name the line.
 */
export function wordsToShare(text: string): Buffer {
  const perLine = PAPER_WORDS_PER_LINE + 1;
  const typedLines = paperLines(text).map((l) => l.split(/\s+/));
  const all = typedLines.flat();
  if (all.length !== PAPER_LINES * perLine) {
    throw bad(`expected ${PAPER_LINES * perLine} words (${PAPER_LINES} lines of ${perLine}), got ${all.length}`);
  }
  const lines = typedLines.length === PAPER_LINES && typedLines.every((l) => l.length === perLine)
    ? typedLines
    : Array.from({ length: PAPER_LINES }, (_, i) => all.slice(i * perLine, (i + 1) * perLine));
  const indices: number[] = [];
  for (const [l, line] of lines.entries()) {
    for (const [p, w] of line.entries()) {
      if (!INDEX.has(w)) throw bad(`line ${l + 1}, word ${p + 1} is not a word of the list (a typing mistake?)`);
    }
    const data = line.slice(0, PAPER_WORDS_PER_LINE);
    if (lineCheck(l + 1, data) !== line[PAPER_WORDS_PER_LINE]) {
      throw bad(`line ${l + 1} has a mistyped word (its check word does not match)`);
    }
    for (const w of data) indices.push(INDEX.get(w) as number);
  }
  const out = Buffer.alloc(PAPER_PAYLOAD_BYTES + 1);
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (const i of indices) {
    acc = (acc << 11) | i;
    bits += 11;
    while (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  const payload = Buffer.from(out.subarray(0, PAPER_PAYLOAD_BYTES));
  const check = out[PAPER_PAYLOAD_BYTES];
  wipe(out);
  if (payloadCheck(payload) !== check) {
    wipe(payload);
    throw bad('the words do not make a valid share (a word swapped between lines, or lines in the wrong order?)');
  }
  return payload;
}

/** Whether a text is meant as paper share words (36 words of the list, line numbers aside), not a passphrase or a PIN. */
export function looksLikePaper(text: string): boolean {
  const words = paperLines(text).flatMap((l) => l.split(/\s+/));
  return words.length === PAPER_LINES * (PAPER_WORDS_PER_LINE + 1) && words.every((w) => INDEX.has(w));
}
