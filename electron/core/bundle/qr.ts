/**
 * A revocations-only bundle as QR codes (docs/bundle-format.md, section 14):
 * the texts of its codes (keyhold-format's encodeQrParts, the one
 * implementation the importer decodes with), each drawn as an SVG for the
 * app and as a PNG for the CLI by `qrcode`. The codes carry the bundle file
 * exactly as written and recorded; they add nothing to trust.
 */

import fs from 'node:fs';
import path from 'node:path';
import QRCode from 'qrcode';
import { encodeQrParts, isImportError, QR_CHUNK_CHARS, QR_MAX_PARTS } from 'keyhold-format';
import { KeyholdError } from '../../../shared/errors.js';
import { checkNewFile, writeNewFile } from '../fsutil.js';

export type QrCodePart = { index: number; total: number; text: string; svg: string };

/** Error correction M (15%): a code read off a screen or a printed page. */
const QR_OPTIONS = { errorCorrectionLevel: 'M', margin: 4 } as const;

/** The texts of a bundle file's codes (INVALID_INPUT when it needs more than QR_MAX_PARTS). */
export function qrTexts(file: string | Uint8Array): string[] {
  try {
    return encodeQrParts(typeof file === 'string' ? Buffer.from(file, 'utf8') : file);
  } catch (e) {
    if (isImportError(e)) throw new KeyholdError('INVALID_INPUT', e.message.replace(/^qr: /, 'bundle: '), e.hint);
    throw e;
  }
}

/**
 * Refuses, before anything is signed, a bundle that would need more codes
 * than are made: `bytes` is an upper estimate of the file's length.
 */
export function checkQrFits(bytes: number): void {
  const parts = Math.ceil(Math.ceil((bytes * 4) / 3) / QR_CHUNK_CHARS);
  if (parts > QR_MAX_PARTS) {
    throw new KeyholdError('INVALID_INPUT', `bundle: this bundle would need about ${parts} QR codes; at most ${QR_MAX_PARTS} are made`,
      'Export it as a file instead (without QR), or revoke fewer keys per bundle.');
  }
}

/** The codes of a bundle file, each with its text and an SVG drawing. */
export async function qrCodes(file: string | Uint8Array): Promise<QrCodePart[]> {
  const texts = qrTexts(file);
  return Promise.all(texts.map(async (text, i) => ({
    index: i + 1, total: texts.length, text, svg: await QRCode.toString(text, { ...QR_OPTIONS, type: 'svg' }),
  })));
}

/** The file name of part i of n in a folder of PNGs: part-01-of-03.png. */
export function qrPngName(index: number, total: number): string {
  const w = String(total).length < 2 ? 2 : String(total).length;
  return `part-${String(index).padStart(w, '0')}-of-${String(total).padStart(w, '0')}.png`;
}

/** Checks, before any work, that `dir` is a folder the PNGs can be written to (PATH_NOT_WRITABLE otherwise). */
export function checkQrDir(dir: string): string {
  const abs = path.resolve(dir);
  const st = fs.statSync(abs, { throwIfNoEntry: false });
  if (!st?.isDirectory()) {
    throw new KeyholdError('PATH_NOT_WRITABLE', `bundle: cannot write QR codes to ${abs}: ${st ? 'it is not a folder' : 'no folder is there'}`,
      'Create the folder first (an empty one: no file is ever overwritten).');
  }
  checkNewFile(path.join(abs, qrPngName(1, 1)), 'bundle');
  return abs;
}

/**
 * Writes each code as a numbered PNG in `dir` (each a new file, written
 * atomically, never over anything); returns the paths, part 1 first.
 */
export async function writeQrPngs(dir: string, texts: readonly string[]): Promise<string[]> {
  const abs = path.resolve(dir);
  const names = texts.map((_, i) => path.join(abs, qrPngName(i + 1, texts.length)));
  for (const n of names) checkNewFile(n, 'bundle');
  const pngs = await Promise.all(texts.map((t) => QRCode.toBuffer(t, { ...QR_OPTIONS, type: 'png', scale: 6 })));
  return names.map((n, i) => writeNewFile(n, pngs[i] as Buffer, 'bundle'));
}
