/**
 * Input rules and messages of the real `keyhold` CLI (issue 15): dates the
 * system cannot carry (D4), control and format characters in free text (D8),
 * unknown audit actions, `init` on an existing file, messages written for
 * people, and --help. Vaults are made in this process (one spawn fewer); every
 * check runs the CLI in a child process.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import type { KeyDetail, KeySummary } from '../../shared/contract.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { keyhold, type Run } from './run.js';

const PASS = 'input rules passphrase 1';
let tmp: TmpDir;
let vault: string;
let env: Record<string, string>;

function run(args: string[], extra: Record<string, string> = {}): Run {
  return keyhold(args, { ...env, ...extra });
}

/** A refused command: exit 2, INVALID_INPUT in --json, and the stderr message. */
function refused(args: string[], extra: Record<string, string> = {}): { message: string; hint: string | undefined } {
  const r = run(['--json', ...args], extra);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
  const e = (JSON.parse(r.stdout) as { error: { code: string; message: string; hint?: string } }).error;
  expect(e.code).toBe('INVALID_INPUT');
  return { message: e.message, hint: e.hint };
}

async function keysInVault(): Promise<KeySummary[]> {
  const svc = new KeyholdService();
  try {
    await svc.call('vault.unlock', { path: vault, passphrase: PASS });
    return await svc.call('key.list', {});
  } finally {
    await svc.shutdown();
  }
}

beforeAll(async () => {
  tmp = makeTmpDir('keyhold-input-rules-');
  vault = path.join(tmp.dir, 'vault.db');
  env = { KEYHOLD_VAULT: vault, KEYHOLD_PASSPHRASE: PASS };
  const svc = new KeyholdService();
  await svc.call('vault.create', { path: vault, passphrase: PASS, kdf: FAST_KDF });
  svc.close();
});

afterAll(() => tmp?.remove());

describe('D4: --activate-at and every time option take only times the system can carry', () => {
  it('refuses 9999-12-31 (its not-after would be in year 10000), impossible days, and writes nothing', async () => {
    const far = refused(['key', 'create', '--name', 'far', '--service', 'pay', '--activate-at', '9999-12-31']);
    expect(far.message).toMatch(/not-after .* would be \+010000-.*after 9999-12-31T23:59:59Z/);
    const feb = refused(['key', 'create', '--name', 'feb', '--service', 'pay', '--activate-at', '2027-02-30']);
    expect(feb.message).toContain('February 2027 has 28 days');
    const apr = refused(['key', 'create', '--name', 'apr', '--service', 'pay', '--activate-at', '2027-04-31T10:00+01:00']);
    expect(apr.message).toContain('April 2027 has 30 days');
    expect(refused(['key', 'create', '--name', 'leap', '--service', 'pay', '--activate-at', '2027-02-29']).message)
      .toContain('February 2027 has 28 days');
    expect(await keysInVault()).toEqual([]);
  });

  it('accepts 2028-02-29 (a leap day) and an offset, normalized to UTC', () => {
    const r = run(['--json', 'key', 'create', '--name', 'leap', '--service', 'pay', '--activate-at', '2028-02-29T10:00+01:00']);
    expect(r.code, r.stderr).toBe(0);
    const k = JSON.parse(r.stdout) as KeySummary;
    expect(k.state).toBe('pre-active');
    const shown = run(['--json', 'key', 'show', k.id]);
    expect((JSON.parse(shown.stdout) as KeyDetail).versions[0]?.activatedAt).toBe('2028-02-29T09:00:00.000Z');
  });

  it('audit list --since/--until use the same parser', () => {
    expect(refused(['audit', 'list', '--since', '2027-02-30']).message).toMatch(/^audit --since: .*February 2027 has 28 days/);
    expect(refused(['audit', 'list', '--until', '2027-01-01T10:00']).message).toMatch(/^audit --until: .*no time zone/);
  });

  it('a policy duration longer than 100 years is refused', () => {
    expect(refused(['policy', 'set', '--global', '--lifetime', '999999w']).message).toMatch(/longer than 100 years/);
  });
});

describe('D8: one rule for every free-text field', () => {
  const bad: [string, string[], string][] = [
    ['owner with a newline', ['key', 'create', '--name', 'n1', '--service', 'pay', '--owner', 'ops\nstate revoked (version 1)'], 'the owner contains U+000A'],
    ['owner with U+009B (CSI)', ['key', 'create', '--name', 'n2', '--service', 'pay', '--owner', 'ops\u009b2J'], 'the owner contains U+009B'],
    ['owner with U+202E (RLO)', ['key', 'create', '--name', 'n3', '--service', 'pay', '--owner', 'ops\u202eevil'], 'the owner contains U+202E'],
    ['notes with U+2066 (LRI)', ['key', 'create', '--name', 'n4', '--service', 'pay', '--notes', 'a\u2066b'], 'the notes contain'],
    ['notes with ESC', ['key', 'create', '--name', 'n5', '--service', 'pay', '--notes', 'a\u001b[2Jb'], 'the notes contain'],
    ['slot label with a newline', ['slot', 'add-passphrase', '--label', 'spare\n9  passphrase  fake'], 'the slot label contains U+000A'],
    ['audit --actor with U+200F', ['audit', 'list', '--actor', 'a\u200fb'], 'the actor contains U+200F'],
    ['key list --query with U+0085', ['key', 'list', '--query', 'a\u0085b'], 'the query contains U+0085'],
  ];
  it.each(bad)('refuses %s with INVALID_INPUT naming the field', (_what, args, field) => {
    const { message } = refused(args, { KEYHOLD_NEW_PASSPHRASE: 'a new passphrase for the slot' });
    // "the notes contain" / "the owner contains": the field is named; the value is not echoed.
    expect(message.replace('contains', 'contain')).toContain(field.replace('contains', 'contain'));
    // eslint-disable-next-line no-control-regex -- finding them is the point
    expect(message).not.toMatch(/[\n\u0085\u009b\u202e\u2066\u200f\u001b]/);
  });

  it('refuses an --as or --approver operator name with a C1 control, a bidi override or a newline', () => {
    expect(refused(['--as', 'ada\u009b', 'info']).message).toMatch(/^--as .*U\+009B/);
    expect(refused(['--as', 'ada\u202e', 'info']).message).toMatch(/^--as .*U\+202E/);
    expect(refused(['--approver', 'ada\nroot', 'info']).message).toMatch(/^--approver .*U\+000A/);
  });

  it('notes may hold newlines and tabs; key show prints them escaped on one line', () => {
    const r = run(['--json', 'key', 'create', '--name', 'noted', '--service', 'pay', '--notes', 'line one\nstate revoked\tx']);
    expect(r.code, r.stderr).toBe(0);
    const id = (JSON.parse(r.stdout) as KeySummary).id;
    const shown = run(['key', 'show', id]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('notes        line one\\nstate revoked\\tx');
    expect(shown.stdout.split('\n').filter((l) => l.startsWith('state'))).toHaveLength(1);
  });
});

describe('audit list --action', () => {
  it('an unknown action is an error listing the known ones, not "No entries."', () => {
    const r = run(['audit', 'list', '--action', 'key.reveel']);
    expect(r.code).toBe(2);
    expect(r.stdout).not.toContain('No entries.');
    expect(r.stderr).toContain('unknown action "key.reveel"');
    expect(r.stderr).toMatch(/hint: Did you mean one of key\.create, .*key\.reveal.*Known actions: vault\.create, /);
  });

  it('a known action with no entries is still "No entries."', () => {
    const r = run(['audit', 'list', '--action', 'bundle.export']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('No entries.');
  });
});

describe('init on an existing file', () => {
  it('says the file exists before asking for a passphrase or calibrating Argon2id', () => {
    // No KEYHOLD_PASSPHRASE and no terminal: asking first would fail with NOT_INTERACTIVE instead.
    const r = keyhold(['--vault', vault, 'init']);
    expect(r.code).toBe(7);
    expect(r.stderr).toContain(`vault: ${vault} already exists`);
    expect(r.stderr).not.toContain('Calibrating');
    expect(r.stderr).not.toMatch(/passphrase/i);
  });
});

describe('messages for people', () => {
  it('a bad key id or reason names the command as typed and the valid values, with no internal prefix', () => {
    const show = refused(['key', 'show', 'abc']);
    expect(show.message).toBe('key show: the key id must be 16 letters and digits, or name the key as service/environment/name (see `keyhold key list`)');
    const revoke = refused(['key', 'revoke', 'AAAAAAAAAAAAAAAA', '--reason', 'oops']);
    expect(revoke.message).toBe('key revoke: --reason must be one of: compromised, superseded, retired, other');
    expect(revoke.hint).toBe('Give one of: compromised, superseded, retired, other.');
    const version = refused(['key', 'reveal', 'AAAAAAAAAAAAAAAA', '--version', '0']);
    expect(version.message).toBe('key reveal: --version must be a positive number');
    expect(version.hint).toContain('keyhold key reveal --help');
    for (const m of [show.message, revoke.message, version.message]) expect(m).not.toMatch(/key\.(show|revoke|reveal):|Invalid option/);
  });

  it('key rotate with no selection says what it needs', () => {
    const r = refused(['key', 'rotate']);
    expect(r.message).toMatch(/^key rotate: name key ids, or --due, or --all \(exactly one of them; none given\)/);
  });
});

describe('--help', () => {
  it('marks required options', () => {
    const r = keyhold(['key', 'create', '--help']);
    expect(r.code).toBe(0);
    // Each option's text (wrapped over lines) runs up to the next option.
    const text = (opt: string) => (r.stdout.split(/\n {2}(?=-)/).find((o) => o.startsWith(opt)) ?? '').replace(/\s+/g, ' ');
    expect(text('--name')).toMatch(/\(required\)$/);
    expect(text('--service')).toMatch(/\(required\)$/);
    expect(text('--owner')).toMatch(/^--owner <owner> /);
    expect(text('--owner')).not.toContain('(required)');
  });

  it('key rotate --help says exactly one of ids, --due or --all is needed', () => {
    const r = keyhold(['key', 'rotate', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Exactly one of: key ids, --due or --all is needed.');
  });
});
