/**
 * The transcript of a ceremony as a PDF (pdfkit): the one implementation,
 * used by the CLI (`keyhold ceremony transcript`) and the app alike.
 *
 * It holds what the audit log says about the ceremony and nothing else: the
 * vault, the purpose and the people present, every step (each audit entry
 * between the start and the end: time, operator, action, subject and its
 * details), each bundle exported with its payload hash and the same hash as
 * 24 words, the signed checkpoint with its signer and whether it verifies
 * against the registered public key, and a line for each witness to sign.
 * Audit entries never carry a secret, so neither does the transcript.
 *
 * The text is real text (pdftotext reads it back) in the PDF standard fonts,
 * which pdfkit reads from its own folder at run time (so pdfkit stays outside
 * the bundles: build/cli.vite.config.ts, electron.vite.config.ts). Those
 * fonts cover Latin-1 and the Windows-1252 punctuation; any other character
 * is written as [U+XXXX], so a name is never printed as something else.
 * Long values (hashes, the JWS) wrap inside the page.
 */

import PDFDocument from 'pdfkit';
import type { AuditEntry, CeremonyInfo } from '../../../shared/contract.js';
import { KeyholdError } from '../../../shared/errors.js';
import { groupHex, hashWords } from '../../../shared/hash-words.js';
import { checkNewFile, vaultFiles, writeNewFile } from '../fsutil.js';
import { getKey } from '../keys/rows.js';
import { listRecipients } from '../bundle/store.js';
import type { Vault } from '../vault/vault.js';
import { ceremonyById, ceremonySteps, verifyCheckpoint, type CheckpointCheck } from './ceremony.js';

/** Windows-1252's characters above Latin-1's control block (0x80-0x9F), which the standard fonts also have. */
const CP1252_EXTRA = new Set('€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ');

/** Text the standard fonts can show: anything else as [U+XXXX] (never dropped, never shown as another character). */
export function pdfSafe(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xff) || CP1252_EXTRA.has(ch)) out += ch;
    else if (cp === 0x0a || cp === 0x09) out += ' ';
    else out += `[U+${cp.toString(16).toUpperCase().padStart(4, '0')}]`;
  }
  return out;
}

export type TranscriptReport = Readonly<{ path: string; ceremony: number; steps: number; bytes: number; verified: boolean | null }>;

/** Writes the transcript of a ceremony (default: the last one) to a new file `out`, atomically. */
export async function writeTranscript(vault: Vault, o: { ceremony?: number | undefined; out: string }): Promise<TranscriptReport> {
  // Before any work: a new file, never one that exists (or the vault's own).
  checkNewFile(o.out, 'transcript', vaultFiles(vault.path));
  const c = ceremonyById(vault, o.ceremony);
  const steps = ceremonySteps(vault, c);
  const check = c.checkpoint ? await verifyCheckpoint(vault, c.checkpoint.jws, c.id) : null;
  const pdf = await renderTranscript(vault, c, steps, check);
  const path = writeNewFile(o.out, pdf, 'transcript', vaultFiles(vault.path));
  return { path, ceremony: c.id, steps: steps.length, bytes: pdf.length, verified: check ? check.verified : null };
}

// ---- what each step says ---------------------------------------------------------------

type Names = Readonly<{ key: (id: string) => string; recipient: (id: string) => string }>;

function names(vault: Vault): Names {
  const keys = new Map<string, string>();
  const recipients = new Map(listRecipients(vault).map((r) => [r.id, r.name]));
  return {
    key: (id) => {
      let n = keys.get(id);
      if (n === undefined) {
        try {
          const k = getKey(vault, id);
          n = `${k.service}/${k.environment}/${k.name}`;
        } catch (e) {
          if (!(e instanceof KeyholdError)) throw e;
          n = '(not in the vault)';
        }
        keys.set(id, n);
      }
      return n;
    },
    recipient: (id) => recipients.get(id) ?? id,
  };
}

function scalar(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'string') return v === '' ? '""' : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.length === 0 ? 'none' : v.map(scalar).join(', ');
  return Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k} ${scalar(x)}`).join(', ');
}

/** The subject, with a key's or recipient's name where the entry names it by id. */
function subjectText(e: AuditEntry, n: Names): string {
  if (e.keyId !== null) return `key ${n.key(e.keyId)} (id ${e.keyId})`;
  const m = /^([a-z-]+):(.*)$/.exec(e.subject);
  return m ? `${m[1] ?? ''} ${m[2] ?? ''}` : e.subject;
}

/** The details that matter, one "name: value" each (versions, recipients, signers...); a recipient id with its name. */
function detailLines(e: AuditEntry, n: Names): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(e.details)) {
    if (k === 'recipient' && typeof v === 'string') out.push(`recipient: ${n.recipient(v)} (id ${v})`);
    else if (k === 'hash' && typeof v === 'string' && /^[0-9a-f]{64}$/.test(v)) out.push(`hash: ${groupHex(v).join(' ')}`);
    else out.push(`${k}: ${scalar(v)}`);
  }
  return out;
}

/**
 * A long value without spaces (the JWS) in lines of at most `size`
 * characters, cut by us rather than by the layout, and never after a '-': a
 * reader (pdftotext) takes a line ending in '-' for a hyphenated word and
 * drops the '-' when it joins the lines.
 */
export function cutLines(value: string, size: number): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < value.length) {
    let end = Math.min(at + size, value.length);
    while (end < value.length && end - at > 1 && value[end - 1] === '-') end--;
    out.push(value.slice(at, end));
    at = end;
  }
  return out;
}

// ---- the document -------------------------------------------------------------------------

const MARGIN = 56;
const BODY = 10;

async function renderTranscript(vault: Vault, c: CeremonyInfo, steps: readonly AuditEntry[], check: CheckpointCheck | null): Promise<Buffer> {
  const doc = new PDFDocument({
    size: 'A4', margin: MARGIN, bufferPages: true,
    info: { Title: pdfSafe(`Keyhold ceremony ${c.id} transcript`), Author: 'Keyhold', Subject: pdfSafe(c.purpose) },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (b: Buffer) => chunks.push(b));
  const ended = new Promise<void>((resolve, reject) => {
    doc.on('end', () => resolve());
    doc.on('error', reject);
  });
  const width = doc.page.width - 2 * MARGIN;
  const text = (s: string, o: PDFKit.Mixins.TextOptions = {}) => doc.text(pdfSafe(s), { width, ...o });
  const heading = (s: string) => {
    doc.moveDown(0.8).font('Helvetica-Bold').fontSize(13);
    text(s);
    doc.moveDown(0.2).font('Helvetica').fontSize(BODY);
  };
  const field = (label: string, value: string, mono = false) => {
    doc.font('Helvetica-Bold').fontSize(BODY);
    text(`${label}: `, { continued: true });
    doc.font(mono ? 'Courier' : 'Helvetica');
    text(value);
    doc.font('Helvetica');
  };
  /** A label on a line of its own, for a value that follows on the lines below. */
  const label = (s: string) => {
    doc.font('Helvetica-Bold').fontSize(BODY);
    text(s);
    doc.font('Helvetica');
  };
  const n = names(vault);

  doc.font('Helvetica-Bold').fontSize(18);
  text('Keyhold ceremony transcript');
  doc.moveDown(0.5).font('Helvetica').fontSize(BODY);
  field('Ceremony', String(c.id));
  field('Vault', vault.id, true);
  field('Purpose', c.purpose);
  field('People present', c.present.join(', '));
  field('Started', `${c.startedAt} by ${c.startedBy}`);
  field('Ended', c.endedAt !== null ? `${c.endedAt} by ${c.endedBy ?? ''}` : 'not yet: the ceremony is still open, so this transcript is not final');
  field('Steps', String(steps.length));

  heading(`Steps (${steps.length})`);
  if (steps.length === 0) text('No step was recorded between the start and the end.');
  steps.forEach((e, i) => {
    doc.font('Helvetica-Bold');
    text(`${i + 1}. ${e.action} - ${subjectText(e, n)}`);
    doc.font('Helvetica');
    text(`time ${e.at}; operator ${e.actor}; audit entry ${e.seq}`, { indent: 14 });
    for (const line of detailLines(e, n)) text(line, { indent: 14 });
    doc.moveDown(0.3);
  });

  const bundles = steps.filter((e) => e.action === 'bundle.export' && typeof e.details.hash === 'string');
  heading(`Bundles exported (${bundles.length})`);
  if (bundles.length === 0) text('No bundle was exported during the ceremony.');
  for (const e of bundles) {
    const hash = String(e.details.hash);
    doc.font('Helvetica-Bold');
    text(`Bundle ${scalar(e.details.sequence)} for ${n.recipient(String(e.details.recipient))} (audit entry ${e.seq}, ${e.at})`);
    doc.font('Helvetica');
    field('Payload hash (SHA-256)', groupHex(hash).join(' '), true);
    const words = hashWords(hash);
    label('The same hash as 24 words:');
    for (let i = 0; i < words.length; i += 6) text(words.slice(i, i + 6).map((w, j) => `${i + j + 1}. ${w}`).join('   '), { indent: 14 });
    doc.moveDown(0.3);
  }

  heading('Signed checkpoint');
  if (!c.checkpoint) {
    text('None: the ceremony has not ended, so no checkpoint was signed yet.');
  } else {
    const cp = c.checkpoint;
    field('Audit head signed', `entry ${cp.seq}, hash ${cp.hash}`, true);
    field('Signer kid', cp.kid, true);
    field('Signer fingerprint', cp.fingerprint, true);
    field('Verified', check?.verified === true
      ? 'yes (against the registered signer\'s public key, for this vault and this ceremony)'
      : `NO: ${check?.reason ?? 'not checked'}`);
    label('JWS (compact):');
    doc.font('Courier').fontSize(8);
    for (const line of cutLines(cp.jws, Math.floor(width / (0.6 * 8)) - 2)) text(line);
    doc.font('Helvetica').fontSize(BODY);
  }

  heading('Witnesses');
  text('Each person present signs below to confirm that the steps above are the steps done in the ceremony.');
  for (const person of c.present) {
    if (doc.y > doc.page.height - MARGIN - 90) doc.addPage();
    doc.moveDown(1.2);
    field('Name', person);
    doc.moveDown(1.4);
    const y = doc.y;
    text('Signature:', { continued: false });
    doc.moveTo(MARGIN + 60, y + 10).lineTo(MARGIN + 300, y + 10).stroke();
    doc.text('Date:', MARGIN + 320, y, { lineBreak: false });
    doc.moveTo(MARGIN + 350, y + 10).lineTo(MARGIN + width, y + 10).stroke();
    doc.x = MARGIN;
    doc.y = y + 14;
  }

  // A footer on every page: which transcript, which page.
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc.font('Helvetica').fontSize(8).text(pdfSafe(`Keyhold ceremony ${c.id}, vault ${vault.id} - page ${i - range.start + 1} of ${range.count}`),
      MARGIN, doc.page.height - MARGIN / 2 - 8, { width, align: 'center', lineBreak: false });
    doc.page.margins.bottom = bottom;
  }
  doc.end();
  await ended;
  return Buffer.concat(chunks);
}
