/**
 * Acceptance of the quorum unlock from the CLI (issue 12), with real `keyhold`
 * processes: a 2-of-3 quorum vault unlocks with any two shares (all three
 * pairs) and not with one; a paper share works in place of a passphrase; on
 * a terminal the custodians are asked for in turn, a wrong passphrase asked
 * again; `slot reshare` stops the old shares.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyslotInfo, VaultInfo } from '../../shared/contract.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { keyhold, keyholdJson, keyholdOnTty } from './run.js';

const OWNER = 'cli quorum owner passphrase';
const FAST = ['--kdf-memory', '19', '--kdf-passes', '2', '--kdf-parallelism', '1'];
const PASS = {
  alice: 'alice keeps the orchard lantern',
  bob: 'bob paints violet harbour stones',
  carol: 'carol whistles under copper bridges',
} as const;
type Name = keyof typeof PASS;

let tmp: TmpDir;
let vault: string;
let vaultId: string;
let slot: KeyslotInfo;
/** Each custodian's passphrase in a file of its own (mode 0600). */
const file: Record<string, string> = {};

/** The environment of a command run without the owner's passphrase: only the quorum can open the vault. */
const quorumEnv = (): Record<string, string> => ({ KEYHOLD_VAULT: vault });
const shareArgs = (...names: string[]): string[] => names.flatMap((n) => ['--share', `${n}=${file[n] ?? ''}`]);

beforeAll(() => {
  tmp = makeTmpDir('keyhold-cli-quorum-');
  vault = path.join(tmp.dir, 'q.db');
  for (const [n, p] of Object.entries(PASS)) {
    file[n] = path.join(tmp.dir, `${n}.pass`);
    fs.writeFileSync(file[n], p, { mode: 0o600 });
  }
  const owner = { KEYHOLD_VAULT: vault, KEYHOLD_PASSPHRASE: OWNER };
  vaultId = keyholdJson<VaultInfo>(['init', ...FAST], owner).vaultId;
  // alice from a file, bob from the environment, carol from a file.
  slot = keyholdJson<KeyslotInfo>(['slot', 'add-quorum', '--m', '2', ...FAST,
    '--custodian', 'alice', '--custodian', 'bob', '--custodian', 'carol',
    '--custodian-passphrase-file', `alice=${file.alice}`, '--custodian-passphrase-file', `carol=${file.carol}`],
  { ...owner, KEYHOLD_CUSTODIAN_PASSPHRASE_BOB: PASS.bob });
});

afterAll(() => tmp.remove());

describe('keyhold --unlock quorum', () => {
  it('slot add-quorum made a 2-of-3 quorum keyslot', () => {
    expect(slot).toMatchObject({ type: 'quorum', params: { m: 2, n: 3, custodians: 'alice:passphrase,bob:passphrase,carol:passphrase' } });
  });

  it('unlocks with any two shares (all three pairs)', () => {
    for (const pair of [['alice', 'bob'], ['alice', 'carol'], ['bob', 'carol']] as Name[][]) {
      const info = keyholdJson<VaultInfo>(['--unlock', 'quorum', ...shareArgs(...pair), 'info'], quorumEnv());
      expect(info.vaultId).toBe(vaultId);
    }
  });

  it('does not unlock with one share: QUORUM_SHARE, exit 3, the vault stays locked', () => {
    for (const n of ['bob']) {
      const r = keyhold(['--json', '--unlock', 'quorum', ...shareArgs(n), 'info'], quorumEnv());
      expect(r.code).toBe(3);
      const err = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
      expect(err.code).toBe('QUORUM_SHARE');
      expect(err.message).toMatch(/1 of the 2 shares/);
      expect(r.stdout).not.toContain(vaultId);
    }
    // No share at all, no terminal: the same, never a partial unlock.
    expect(keyhold(['--unlock', 'quorum', 'info'], quorumEnv()).code).toBe(3);
  });

  it('a wrong passphrase for one custodian is WRONG_PASSPHRASE naming them, never showing the passphrase', () => {
    const wrong = path.join(tmp.dir, 'wrong.pass');
    fs.writeFileSync(wrong, 'this is not bob at all', { mode: 0o600 });
    const r = keyhold(['--unlock', 'quorum', '--share', `alice=${file.alice}`, '--share', `bob=${wrong}`, 'info'], quorumEnv());
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('wrong passphrase for custodian bob');
    expect(r.stderr + r.stdout).not.toContain('not bob at all');
  });

  it('a paper share works in place of a passphrase; a mistyped line is named', () => {
    const paperFile = path.join(tmp.dir, 'carol-paper.txt');
    const w = keyhold(['share', 'paper', '--slot', String(slot.id), '--custodian', 'carol', '--custodian-passphrase-file', file.carol ?? '',
      '--out', paperFile], { KEYHOLD_VAULT: vault, KEYHOLD_PASSPHRASE: OWNER });
    expect(w.code, w.stderr).toBe(0);
    expect(fs.statSync(paperFile).mode & 0o077).toBe(0);
    // Never over an existing file.
    const again = keyhold(['share', 'paper', '--slot', String(slot.id), '--custodian', 'carol', '--custodian-passphrase-file', file.carol ?? '',
      '--out', paperFile], { KEYHOLD_VAULT: vault, KEYHOLD_PASSPHRASE: OWNER });
    expect(again.code).toBe(7);
    file.carolPaper = paperFile;
    const info = keyholdJson<VaultInfo>(['--unlock', 'quorum', ...shareArgs('alice', 'carolPaper').map((a) => a.replace('carolPaper=', 'carol=')), 'info'], quorumEnv());
    expect(info.vaultId).toBe(vaultId);

    const lines = fs.readFileSync(paperFile, 'utf8').split('\n').filter((l) => /^\d\. /.test(l));
    expect(lines).toHaveLength(4);
    const typo = lines.map((l, i) => (i === 1 ? l.replace(/^(\d\. )(\S+)/, (_m, n: string, word: string) => `${n}${word === 'zoo' ? 'zone' : 'zoo'}`) : l));
    const typoFile = path.join(tmp.dir, 'typo.txt');
    fs.writeFileSync(typoFile, typo.join('\n'), { mode: 0o600 });
    const r = keyhold(['--unlock', 'quorum', '--share', `carol=${typoFile}`, '--share', `alice=${file.alice}`, 'info'], quorumEnv());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('line 2');
  });

  it('share paper prints the words and a terminal QR code', () => {
    const r = keyhold(['share', 'paper', '--slot', String(slot.id), '--custodian', 'alice', '--custodian-passphrase-file', file.alice ?? ''],
      { KEYHOLD_VAULT: vault, KEYHOLD_PASSPHRASE: OWNER });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter((l) => /^\d\. (\S+ ){8}\S+$/.test(l))).toHaveLength(4);
    expect(r.stdout).toMatch(/[▀▄█]/);
  });

  it('on a terminal, asks each custodian in turn: Enter skips one, a wrong passphrase is asked again', async () => {
    const r = await keyholdOnTty(['--unlock', 'quorum', 'info'], [
      { prompt: 'Custodian alice, passphrase', reply: '' },
      { prompt: 'Custodian bob, passphrase', reply: 'this is not bob at all' },
      { prompt: 'Custodian bob, passphrase', reply: PASS.bob },
      { prompt: 'Custodian carol, passphrase', reply: PASS.carol },
    ], quorumEnv());
    expect(r.stdout).toContain('wrong passphrase for custodian bob');
    expect(r.stdout).toContain('1 of 2 collected, 1 more needed');
    expect(r.stdout).not.toContain('not bob at all');
    expect(r.stdout).toContain(vaultId);
    expect(r.code).toBe(0);
  });

  it('slot reshare: a new split; the old shares (passphrase and paper) stop working, the new ones unlock', () => {
    const dave = path.join(tmp.dir, 'dave.pass');
    fs.writeFileSync(dave, 'dave counts seventeen quiet comets', { mode: 0o600 });
    const r = keyholdJson<{ removed: number; slot: KeyslotInfo }>(['slot', 'reshare', String(slot.id), ...FAST,
      '--custodian', 'alice', '--custodian', 'dave', '--custodian-passphrase-file', `alice=${file.alice}`, '--custodian-passphrase-file', `dave=${dave}`],
    { KEYHOLD_VAULT: vault, KEYHOLD_PASSPHRASE: OWNER });
    expect(r.removed).toBe(slot.id);
    expect(r.slot.params).toMatchObject({ m: 2, n: 2, custodians: 'alice:passphrase,dave:passphrase' });
    // Carol's paper share of the old split is refused; bob is no custodian any more.
    const old = keyhold(['--json', '--unlock', 'quorum', '--share', `alice=${file.alice}`, '--share', `dave=${file.carolPaper ?? ''}`, 'info'], quorumEnv());
    expect(old.code).toBe(3);
    expect((JSON.parse(old.stdout) as { error: { code: string } }).error.code).toBe('QUORUM_SHARE');
    expect(keyhold(['--unlock', 'quorum', ...shareArgs('alice', 'bob'), 'info'], quorumEnv()).code).toBe(2);
    const ok = keyholdJson<VaultInfo>(['--unlock', 'quorum', '--share', `alice=${file.alice}`, '--share', `dave=${dave}`, 'info'], quorumEnv());
    expect(ok.vaultId).toBe(vaultId);
  });
});
