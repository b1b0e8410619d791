/**
 * QR transfer of a bundle file (docs/bundle-format.md, section 14, normative):
 * the file's bytes as one QR code, or a short numbered sequence of them,
 * each code's text
 *
 *   KHQR1:<i>/<n>:<checksum>:<chunk>
 *
 * `KHQR1` names this format (version 1); `i` is the part's number (1 to n)
 * and `n` the number of parts (1 to 64), decimal without leading zeros;
 * `checksum` is the SHA-256 of the whole file, base64url (43 characters);
 * `chunk` is part i of the file's base64url text (no padding) cut into n
 * pieces of at most `chunkChars` characters, in order. The receiver collects
 * the parts in any order (the same part read twice is fine), checks that
 * they all name the same n and checksum, that none is missing, joins the
 * chunks in part order, decodes them (strict base64url) and checks the
 * checksum. What comes out is the bundle file exactly as written, which is
 * then verified and applied as any bundle file: the codes add no trust.
 *
 * Used by the app's export side (electron/core/bundle/qr.ts) and by
 * keyhold-import (`apply --qr-text`); pure code but for SHA-256.
 */

import { createHash } from 'node:crypto';
import { b64urlDecodeStrict } from './encoding.js';
import { ImportError } from './errors.js';

export const QR_FORMAT = 'KHQR1';
/** Base64url characters per part: a code of about version 22 at error correction M, readable from a screen. */
export const QR_CHUNK_CHARS = 700;
export const QR_MAX_PARTS = 64;
/** The longest text of one part (prefix, numbers, checksum, the largest chunk). */
export const QR_MAX_TEXT = 2000;

/** How much text of codes is read (files or standard input): every part at its longest, twice over. */
export const QR_TEXT_READ = { what: 'QR text', maxBytes: 2 * QR_MAX_PARTS * (QR_MAX_TEXT + 2) } as const;

const FULL_RE = /^KHQR1:([1-9][0-9]?)\/([1-9][0-9]?):([A-Za-z0-9_-]{43}):([A-Za-z0-9_-]+)$/;

export type QrPart = Readonly<{ index: number; total: number; checksum: string; chunk: string }>;

function checksumOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url');
}

/** The texts of the codes for a file's bytes, part 1 first. */
export function encodeQrParts(file: Uint8Array, opts: { chunkChars?: number } = {}): string[] {
  const size = opts.chunkChars ?? QR_CHUNK_CHARS;
  if (!Number.isSafeInteger(size) || size < 16 || size > QR_MAX_TEXT - 64) {
    throw new ImportError('INVALID_INPUT', `qr: a part holds 16 to ${QR_MAX_TEXT - 64} characters, not ${size}`);
  }
  if (file.length === 0) throw new ImportError('INVALID_INPUT', 'qr: nothing to encode');
  const text = Buffer.from(file.buffer, file.byteOffset, file.byteLength).toString('base64url');
  const total = Math.ceil(text.length / size);
  if (total > QR_MAX_PARTS) {
    throw new ImportError('INVALID_INPUT', `qr: the file needs ${total} codes at ${size} characters each; at most ${QR_MAX_PARTS} are made`,
      'A revocations-only bundle is small; carry a larger bundle as a file.');
  }
  const sum = checksumOf(file);
  const parts: string[] = [];
  for (let i = 0; i < total; i++) parts.push(`${QR_FORMAT}:${i + 1}/${total}:${sum}:${text.slice(i * size, (i + 1) * size)}`);
  return parts;
}

/** One code's text as a part (surrounding white space ignored), or QR_PART_INVALID. */
export function parseQrPart(text: string): QrPart {
  const t = text.trim();
  const shown = JSON.stringify(t.length > 40 ? `${t.slice(0, 40)}...` : t);
  if (t.length > QR_MAX_TEXT) throw new ImportError('QR_PART_INVALID', `qr: a text of ${t.length} characters is not a Keyhold QR part`);
  const m = FULL_RE.exec(t);
  if (!m) {
    throw new ImportError('QR_PART_INVALID', t.startsWith(`${QR_FORMAT}:`)
      ? `qr: ${shown} is a damaged Keyhold QR part (expected KHQR1:<i>/<n>:<checksum>:<data>)`
      : /^KHQR[0-9]+:/.test(t) ? `qr: ${shown} is a Keyhold QR part of a format this version does not read`
        : `qr: ${shown} is not a Keyhold QR part (it does not begin with ${QR_FORMAT}:)`,
    'Scan the codes again; give each code\'s text on a line of its own.');
  }
  const index = Number(m[1]);
  const total = Number(m[2]);
  if (total > QR_MAX_PARTS || index > total) {
    throw new ImportError('QR_PART_INVALID', `qr: part ${index} of ${total} is not a valid part number (1 to n, n at most ${QR_MAX_PARTS})`);
  }
  return { index, total, checksum: m[3]!, chunk: m[4]! };
}

/**
 * The file the parts carry: the parts in any order, each at least once.
 * QR_PART_INVALID (a text that is not a part), QR_PARTS_MIXED (parts of
 * different files, or two different texts for one part), QR_PARTS_MISSING,
 * QR_CHECKSUM (the joined file is not the one the parts name).
 */
export function decodeQrParts(texts: Iterable<string>): Buffer {
  const parts = new Map<number, QrPart>();
  let first: QrPart | undefined;
  for (const text of texts) {
    if (text.trim() === '') continue;
    const p = parseQrPart(text);
    first ??= p;
    if (p.total !== first.total || p.checksum !== first.checksum) {
      throw new ImportError('QR_PARTS_MIXED',
        `qr: part ${p.index} of ${p.total} belongs to another bundle than part ${first.index} of ${first.total} (checksum ${p.checksum.slice(0, 8)}... not ${first.checksum.slice(0, 8)}...)`,
        'Give only the codes of one bundle.');
    }
    const seen = parts.get(p.index);
    if (seen && seen.chunk !== p.chunk) {
      throw new ImportError('QR_PARTS_MIXED', `qr: part ${p.index} of ${p.total} was given twice with different content`,
        'One of them was misread or altered: scan that code again.');
    }
    parts.set(p.index, p);
  }
  if (!first) throw new ImportError('QR_PARTS_MISSING', 'qr: no part was given', 'Give the text of every code, one per line.');
  const missing: number[] = [];
  for (let i = 1; i <= first.total; i++) if (!parts.has(i)) missing.push(i);
  if (missing.length > 0) {
    throw new ImportError('QR_PARTS_MISSING', `qr: ${missing.length} of ${first.total} parts missing (part ${missing.join(', ')})`,
      'Scan the missing codes too; the order does not matter.');
  }
  let joined = '';
  for (let i = 1; i <= first.total; i++) joined += (parts.get(i) as QrPart).chunk;
  const file = b64urlDecodeStrict(joined);
  if (!file || checksumOf(file) !== first.checksum) {
    throw new ImportError('QR_CHECKSUM', `qr: the ${first.total} part(s) joined do not give the bundle they name (checksum mismatch)`,
      'A code was misread or altered: scan the codes again.');
  }
  return file;
}
