/**
 * Issue 12's acceptance line "the transcript PDF lists every step", from real
 * `keyhold` processes: a ceremony started, keys created, rotated and revoked,
 * a bundle exported, the ceremony ended with its checkpoint signed on a
 * SoftHSM2 token, and `keyhold ceremony transcript` read back with pdftotext.
 * The vault, its signer and its recipient are made in-process first (setup,
 * not what is tested).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import type { AuditEntry, CeremonyInfo } from '../../shared/contract.js';
import { hashWords } from '../../shared/hash-words.js';
import { addRecipient, addTokenSigner, PIN } from '../bundle/helpers.js';
import { setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { closeTokenVault } from '../helpers/token-vault.js';
import { keyhold as run, type Run } from './run.js';

const PASSPHRASE = 'cli ceremony test passphrase';
let hsm: SoftHsm;
let tmp: TmpDir;
let vault: string;

function keyhold(args: string[]): Run {
  return run(['--vault', vault, ...args], { ...hsm.env, KEYHOLD_PKCS11_MODULE: hsm.module, KEYHOLD_PASSPHRASE: PASSPHRASE, KEYHOLD_PIN: PIN });
}
function ok(args: string[]): Run {
  const r = keyhold(args);
  expect(r.code, `keyhold ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}
function json<T>(args: string[]): T {
  return JSON.parse(ok(['--json', ...args]).stdout) as T;
}

beforeAll(async () => {
  hsm = setupSoftHsm([{ label: 'card', pin: PIN }]);
  tmp = makeTmpDir('keyhold-cli-ceremony-');
  vault = path.join(tmp.dir, 'vault.db');
  const svc = new KeyholdService({ tokens: { module: hsm.module } });
  try {
    await svc.call('vault.create', { path: vault, passphrase: PASSPHRASE, kdf: FAST_KDF });
    await addTokenSigner(svc, 'card', 'ceremony-signer', 'ES256');
    await addRecipient(svc, 'gateway', { holds: ['billing'] });
  } finally {
    await svc.shutdown();
  }
}, 60_000);

afterAll(() => closeTokenVault({ hsm, tmp }));

describe('keyhold ceremony (SoftHSM2, real processes)', () => {
  it('start, steps, end, transcript: the transcript PDF lists every step with its time and operator, the bundle hash and words, the checkpoint verified', () => {
    const started = json<CeremonyInfo>(['ceremony', 'start', '--purpose', 'Rotate the billing keys', '--present', 'Ada Lovelace', 'Grace Hopper']);
    expect(started).toMatchObject({ open: true, present: ['Ada Lovelace', 'Grace Hopper'], purpose: 'Rotate the billing keys' });
    // One at a time: a second start is refused with the ceremony's state error (exit 7).
    const again = keyhold(['ceremony', 'start', '--purpose', 'again', '--present', 'Ada Lovelace']);
    expect(again.code).toBe(7);
    expect(again.stderr).toContain(`keyhold: ceremony: ceremony ${started.id} ("Rotate the billing keys") is still open`);

    const k1 = json<{ id: string }>(['key', 'create', '--name', 'invoices', '--service', 'billing']);
    const k2 = json<{ id: string }>(['key', 'create', '--name', 'refunds', '--service', 'billing']);
    ok(['key', 'rotate', k1.id]);
    ok(['key', 'revoke', 'billing/production/refunds', '--reason', 'compromised', '--yes']);
    const bundle = json<{ hash: string }>(['bundle', 'export', '--recipient', 'gateway', '--out', path.join(tmp.dir, 'gateway-1.khb')]);
    const ended = json<CeremonyInfo>(['ceremony', 'end']);
    expect(ended).toMatchObject({ id: started.id, open: false, steps: 5 });
    expect(ended.checkpoint?.jws.split('.')).toHaveLength(3);

    const list = json<{ ceremonies: CeremonyInfo[] }>(['ceremony', 'list']).ceremonies;
    const { tookMs: _took, ...endedInfo } = ended as CeremonyInfo & { tookMs: number };
    expect(list).toEqual([endedInfo]);
    const text = ok(['ceremony', 'list']).stdout;
    expect(text).toMatch(new RegExp(`^${started.id}\\s+${started.startedAt}\\s+${ended.endedAt ?? ''}\\s+5\\s+Ada Lovelace, Grace Hopper\\s+Rotate the billing keys$`, 'm'));

    const out = path.join(tmp.dir, 'transcript.pdf');
    const t = ok(['ceremony', 'transcript', '--out', out]);
    expect(t.stdout).toContain(`Wrote the transcript of ceremony ${started.id} to ${out} (5 step(s)`);
    expect(t.stdout).toContain('checkpoint verified');

    const steps = json<{ entries: AuditEntry[] }>(['audit', 'list', '--after', String(started.id), '--limit', '5']).entries;
    expect(steps.map((s) => s.action)).toEqual(['key.create', 'key.create', 'key.rotate', 'key.revoke', 'bundle.export']);
    const pdf = execFileSync('pdftotext', ['-enc', 'UTF-8', out, '-'], { encoding: 'utf8' });
    const flat = pdf.replace(/\s+/g, ' ');
    const squash = pdf.replace(/\s+/g, '');
    steps.forEach((s, i) => {
      expect(flat).toContain(`${i + 1}. ${s.action} - `);
      expect(flat).toContain(`time ${s.at}; operator ${s.actor}; audit entry ${s.seq}`);
    });
    expect(flat).toContain(`key billing/production/invoices (id ${k1.id})`);
    expect(flat).toContain(`key billing/production/refunds (id ${k2.id})`);
    expect(squash).toContain(bundle.hash);
    for (const [i, w] of hashWords(bundle.hash).entries()) expect(flat).toContain(`${i + 1}. ${w}`);
    expect(squash).toContain(ended.checkpoint?.jws ?? 'no jws');
    expect(flat).toContain('Verified: yes');
    expect(flat).toContain('Name: Ada Lovelace');
    expect(flat).toContain('Name: Grace Hopper');

    // Never over an existing file: exit 7, the file untouched.
    const before = fs.readFileSync(out);
    const again2 = keyhold(['ceremony', 'transcript', '--out', out]);
    expect(again2.code).toBe(7);
    expect(again2.stderr).toContain('already exists');
    expect(fs.readFileSync(out).equals(before)).toBe(true);
  }, 180_000);

  it('ceremony end with no ceremony open: exit 7 with the error and a hint', () => {
    const r = keyhold(['ceremony', 'end']);
    expect(r.code).toBe(7);
    expect(r.stderr).toContain('keyhold: ceremony: no ceremony is open');
    expect(r.stderr).toContain('hint: Start one with `keyhold ceremony start`.');
  }, 60_000);
});
