/**
 * Ceremonies through the real service (issue 12, "Ceremony transcript"): a
 * vault on a SoftHSM2 token, a ceremony with a key create, rotate, revoke and
 * a bundle export, ended with a checkpoint signed on the token, and its
 * transcript PDF read back with the real pdftotext (poppler-utils). Also the
 * refusals: a second start while one is open, an end without a signer key
 * (the ceremony stays open), a transcript over an existing file.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_TYP, fingerprintOf, verifyCheckpoint } from '../../electron/core/ceremony/ceremony.js';
import { cutLines, pdfSafe } from '../../electron/core/ceremony/transcript.js';
import type { KeyholdService } from '../../electron/core/service.js';
import type { AuditEntry, CeremonyInfo } from '../../shared/contract.js';
import { groupHex, hashWords } from '../../shared/hash-words.js';
import { addRecipient, addTokenSigner, PASSPHRASE, pinProvider } from '../bundle/helpers.js';
import { testClock } from '../helpers/clock.js';
import type { SoftHsm } from '../helpers/softhsm.js';
import type { TmpDir } from '../helpers/tmp.js';
import { closeTokenVault, openTokenVault } from '../helpers/token-vault.js';
import { rejectsWith } from '../token/helpers.js';

const clock = testClock(Date.UTC(2026, 10, 2, 9, 0, 0));
const MINUTE = 60_000;
let hsm: SoftHsm;
let tmp: TmpDir;
let svc: KeyholdService;

/** The PDF's text as pdftotext reads it. */
function pdfText(file: string): string {
  return execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' });
}
/** Without any whitespace: a wrapped value (a hash, the JWS) reads as one string. */
const squash = (s: string): string => s.replace(/\s+/g, '');
/** Whitespace runs as one space: a line broken anywhere still reads as its words. */
const flat = (s: string): string => s.replace(/\s+/g, ' ');

async function head(): Promise<{ seq: number; hash: string }> {
  return (await svc.call('audit.verify', {})).head;
}

beforeAll(async () => {
  ({ hsm, tmp, svc } = await openTokenVault({
    tokens: [{ label: 'card' }],
    tmpPrefix: 'keyhold-ceremony-',
    passphrase: PASSPHRASE,
    service: (h) => ({ clock: clock.now, tokens: { module: h.module }, askPin: pinProvider() }),
  }));
});

afterAll(() => closeTokenVault({ svc, hsm, tmp }));

describe('a ceremony, start to transcript', () => {
  let ceremony: CeremonyInfo;
  let steps: AuditEntry[];
  let ended: CeremonyInfo;
  const secrets: string[] = [];
  let bundleHash = '';

  it('starts with its purpose and the people present, recorded in a ceremony.start entry whose sequence is its id', async () => {
    const before = await head();
    ceremony = await svc.call('ceremony.start', { purpose: 'Quarterly rotation of the billing keys', present: ['Ada Lovelace', 'Grace Hopper', 'Zoë Ünal'] });
    expect(ceremony).toMatchObject({ id: before.seq + 1, open: true, steps: 0, endedAt: null, checkpoint: null,
      purpose: 'Quarterly rotation of the billing keys', present: ['Ada Lovelace', 'Grace Hopper', 'Zoë Ünal'] });
    const [entry] = (await svc.call('audit.list', { action: 'ceremony.start' })).entries;
    expect(entry).toMatchObject({ seq: ceremony.id, at: ceremony.startedAt, subject: `ceremony:${ceremony.id}`,
      details: { purpose: ceremony.purpose, present: ceremony.present } });
    expect(await svc.call('ceremony.list', {})).toEqual([ceremony]);
  });

  it('refuses a second start while one is open (CEREMONY_STATE), writing nothing', async () => {
    const before = await head();
    const e = await rejectsWith(svc.call('ceremony.start', { purpose: 'another', present: ['Ada Lovelace'] }), 'CEREMONY_STATE');
    expect(e.message).toContain(`ceremony ${ceremony.id}`);
    expect(e.message).toContain('still open');
    expect(await head()).toEqual(before);
  });

  it('refuses bad input: no one present, a name twice, a control character in the purpose', async () => {
    await rejectsWith(svc.call('ceremony.start', { purpose: 'x', present: [] }), 'INVALID_INPUT');
    await rejectsWith(svc.call('ceremony.start', { purpose: 'x', present: ['Ada', 'Ada'] }), 'INVALID_INPUT');
    await rejectsWith(svc.call('ceremony.start', { purpose: 'line one\nline two', present: ['Ada'] }), 'INVALID_INPUT');
  });

  it('cannot end without a registered signer key: a clear error, and the ceremony stays open', async () => {
    const before = await head();
    const e = await rejectsWith(svc.call('ceremony.end', {}), 'NO_SIGNERS');
    expect(e.message).toBe('ceremony: no signer is registered to sign the checkpoint');
    expect(e.hint).toContain('stays open');
    expect(await head()).toEqual(before);
    const [c] = await svc.call('ceremony.list', {});
    expect(c).toMatchObject({ id: ceremony.id, open: true, endedAt: null });
  });

  it('records the steps done meanwhile: signer, recipient, key create, rotate, revoke and a bundle export', async () => {
    clock.advance(MINUTE);
    await addTokenSigner(svc, 'card', 'ceremony-signer', 'ES256');
    await addRecipient(svc, 'gateway', { holds: ['billing'] });
    clock.advance(MINUTE);
    const k1 = await svc.call('key.create', { name: 'invoices', service: 'billing', owner: 'ops team' });
    const k2 = await svc.call('key.create', { name: 'refunds', service: 'billing' });
    clock.advance(MINUTE);
    await svc.call('key.rotate', { ids: [k1.id] });
    clock.advance(MINUTE);
    await svc.call('key.revoke', { id: k2.id, reason: 'compromised' });
    for (const [id, version] of [[k1.id, 1], [k1.id, 2], [k2.id, 1]] as const) secrets.push((await svc.call('key.reveal', { id, version })).secret);
    clock.advance(MINUTE);
    const b = await svc.call('bundle.export', { recipient: 'gateway', out: path.join(tmp.dir, 'gateway-1.khb') });
    bundleHash = b.hash;
    const h = await head();
    steps = (await svc.call('audit.list', { after: ceremony.id })).entries;
    expect(steps.map((s) => s.action)).toEqual(['token.keygen', 'signer.add', 'recipient.add', 'key.create', 'key.create', 'key.rotate',
      'key.revoke', 'key.reveal', 'key.reveal', 'key.reveal', 'bundle.export']);
    const [c] = await svc.call('ceremony.list', {});
    expect(c).toMatchObject({ open: true, steps: h.seq - ceremony.id });
  });

  it('ends with the audit head signed on the token: a compact JWS that verifies against the registered signer', async () => {
    const before = await head();
    clock.advance(MINUTE);
    ended = await svc.call('ceremony.end', {});
    const signer = (await svc.call('signer.list', {})).signers[0];
    expect(ended).toMatchObject({ id: ceremony.id, open: false, endedAt: clock.iso(), steps: steps.length });
    expect(ended.checkpoint).toMatchObject({ seq: before.seq, hash: before.hash, kid: signer?.kid, fingerprint: fingerprintOf(signer?.kid ?? '') });
    const jws = ended.checkpoint?.jws ?? '';
    const [h, p] = jws.split('.').slice(0, 2).map((x) => JSON.parse(Buffer.from(x, 'base64url').toString('utf8')) as Record<string, unknown>);
    expect(h).toEqual({ alg: 'ES256', kid: signer?.kid, typ: CHECKPOINT_TYP });
    const info = await svc.call('vault.info', {});
    expect(p).toEqual({ typ: CHECKPOINT_TYP, vaultId: info.vaultId, ceremony: ceremony.id, head: before, at: clock.iso() });
    const check = await verifyCheckpoint(svc.vault, jws, ceremony.id);
    expect(check.verified).toBe(true);
    // The end entry carries the checkpoint, right after the head it signs.
    const end = (await svc.call('audit.list', { action: 'ceremony.end' })).entries[0];
    expect(end).toMatchObject({ seq: before.seq + 1, subject: `ceremony:${ceremony.id}`, details: { ceremony: ceremony.id, jws, kid: signer?.kid,
      checkpoint: before } });
    // Closed: a second end is refused, and a new ceremony may start.
    await rejectsWith(svc.call('ceremony.end', {}), 'CEREMONY_STATE');
  });

  it('a checkpoint altered or made for another ceremony does not verify', async () => {
    const jws = ended.checkpoint?.jws ?? '';
    const [h, p, s] = jws.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as { head: { seq: number } };
    payload.head.seq -= 1;
    const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    expect(await verifyCheckpoint(svc.vault, forged, ceremony.id)).toMatchObject({ verified: false,
      reason: 'the signature does not verify with the registered public key' });
    expect(await verifyCheckpoint(svc.vault, jws, ceremony.id + 1)).toMatchObject({ verified: false });
    expect((await verifyCheckpoint(svc.vault, 'not.a-jws', ceremony.id)).verified).toBe(false);
  });

  it('writes a transcript PDF that lists every step with its time and operator, the bundle hash and its words, the checkpoint and "verified"', async () => {
    const out = path.join(tmp.dir, 'transcript.pdf');
    const r = await svc.call('ceremony.transcript', { out });
    expect(r).toMatchObject({ path: out, ceremony: ceremony.id, steps: steps.length, verified: true });
    expect(fs.statSync(out).size).toBe(r.bytes);
    expect(fs.readFileSync(out).subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const text = pdfText(out);
    const f = flat(text);
    const info = await svc.call('vault.info', {});
    expect(f).toContain('Keyhold ceremony transcript');
    expect(f).toContain(`Vault: ${info.vaultId}`);
    expect(f).toContain('Purpose: Quarterly rotation of the billing keys');
    expect(f).toContain('People present: Ada Lovelace, Grace Hopper, Zoë Ünal');
    expect(f).toContain(`Started: ${ceremony.startedAt} by ${ceremony.startedBy}`);
    expect(f).toContain(`Ended: ${ended.endedAt ?? ''} by ${ended.endedBy ?? ''}`);
    // Every step, in order, with its time and operator.
    let at = 0;
    steps.forEach((s, i) => {
      const line = `${i + 1}. ${s.action} - `;
      const found = f.indexOf(line, at);
      expect(found, `step ${i + 1} (${s.action})`).toBeGreaterThanOrEqual(0);
      at = found;
      expect(f.indexOf(`time ${s.at}; operator ${s.actor}; audit entry ${s.seq}`, at), `time and operator of step ${i + 1}`).toBeGreaterThan(at);
    });
    // Keys by name, versions, the recipient by name.
    expect(f).toContain('key billing/production/invoices');
    expect(f).toContain('key billing/production/refunds');
    expect(f).toContain('from: 1');
    expect(f).toContain('to: 2');
    expect(f).toContain('reason: compromised');
    expect(f).toContain('recipient: gateway');
    // The bundle's payload hash and the same hash as 24 words.
    expect(squash(text)).toContain(squash(groupHex(bundleHash).join(' ')));
    const words = hashWords(bundleHash);
    expect(f).toContain(words.map((w, i) => `${i + 1}. ${w}`).slice(0, 6).join(' '));
    for (const [i, w] of words.entries()) expect(f).toContain(`${i + 1}. ${w}`);
    // The checkpoint: what it signs, its signer, the JWS (wrapped, so compared without whitespace) and the verification.
    const cp = ended.checkpoint;
    expect(squash(text)).toContain(squash(`entry ${cp?.seq ?? 0}, hash ${cp?.hash ?? ''}`));
    expect(squash(text)).toContain(squash(cp?.jws ?? 'x'));
    expect(squash(text)).toContain(squash(cp?.fingerprint ?? 'x'));
    expect(f).toContain('Verified: yes');
    // A line for each witness.
    for (const name of ceremony.present) expect(f).toContain(`Name: ${name}`);
    expect(f.match(/Signature:/g)?.length).toBe(ceremony.present.length);
    // No secret of any key of the ceremony.
    for (const s of secrets) expect(squash(text).includes(squash(s))).toBe(false);
  });

  it('refuses to write over an existing file (FILE_EXISTS), leaving it as it was', async () => {
    const out = path.join(tmp.dir, 'existing.pdf');
    fs.writeFileSync(out, 'keep me');
    await rejectsWith(svc.call('ceremony.transcript', { out }), 'FILE_EXISTS');
    expect(fs.readFileSync(out, 'utf8')).toBe('keep me');
    await rejectsWith(svc.call('ceremony.transcript', { out: `${svc.vault.path}` }), 'FILE_EXISTS');
  });

  it('a second ceremony: its transcript while open says it is not final; transcripts by id; an unknown id is CEREMONY_STATE', async () => {
    const second = await svc.call('ceremony.start', { purpose: 'Short check', present: ['Ada Lovelace'] });
    await svc.call('key.create', { name: 'payouts', service: 'billing' });
    const open = path.join(tmp.dir, 'open.pdf');
    const r = await svc.call('ceremony.transcript', { out: open });
    expect(r).toMatchObject({ ceremony: second.id, steps: 1, verified: null });
    const f = flat(pdfText(open));
    expect(f).toContain('the ceremony is still open, so this transcript is not final');
    expect(f).toContain('1. key.create - key billing/production/payouts');
    const first = path.join(tmp.dir, 'first-again.pdf');
    expect(await svc.call('ceremony.transcript', { ceremony: ceremony.id, out: first })).toMatchObject({ ceremony: ceremony.id, verified: true });
    await rejectsWith(svc.call('ceremony.transcript', { ceremony: ceremony.id + 1, out: path.join(tmp.dir, 'none.pdf') }), 'CEREMONY_STATE');
    expect(fs.existsSync(path.join(tmp.dir, 'none.pdf'))).toBe(false);
    const list = await svc.call('ceremony.list', {});
    expect(list.map((c) => [c.id, c.open])).toEqual([[ceremony.id, false], [second.id, true]]);
  });
});

describe('pdfSafe: what the PDF standard fonts cannot show', () => {
  it('keeps Latin-1 and Windows-1252 punctuation, writes anything else as [U+XXXX]', () => {
    expect(pdfSafe('Zoë “Ünal” – café')).toBe('Zoë “Ünal” – café');
    expect(pdfSafe('李雷')).toBe('[U+674E][U+96F7]');
    expect(pdfSafe('a\u202Eb')).toBe('a[U+202E]b');
  });

  it('cuts a long value into lines of at most the size given, none ending in "-" (pdftotext would drop it as a hyphen), losing nothing', () => {
    const value = 'abc-def--ghi-jk_lmn-'.repeat(20);
    for (const size of [5, 7, 16, 90]) {
      const lines = cutLines(value, size);
      expect(lines.join('')).toBe(value);
      expect(lines.every((l) => l.length <= size && l.length > 0)).toBe(true);
      expect(lines.slice(0, -1).every((l) => !l.endsWith('-'))).toBe(true);
    }
  });
});
