/**
 * Destructive commands as people use them (issue 15): `key destroy`,
 * `slot remove`, `key rotate --all` and `key revoke` of every version of a
 * key ask on a terminal (a real pseudo-terminal: keyholdOnTty) naming exactly
 * what will change, take --yes in scripts, refuse with CONFIRMATION_REQUIRED
 * (exit 2) without either, and print what would change with --dry-run. Every
 * "nothing changed" is checked on the vault file itself: its keys, versions,
 * keyslots, audit entries and chain head, read before and after.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyslotInfo } from '../../shared/contract.js';
import { KeyholdService } from '../../electron/core/service.js';
import { setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { FAST_KDF, tmpDir } from '../helpers/tmp.js';
import { keyhold, keyholdOnTty, type Run } from './run.js';

const PASS = 'confirm test passphrase';
const PIN = '582913';
const ASK = '[y/N] ';

/** Everything a destructive command could change, read straight from the file. */
function snapshot(file: string): string {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return JSON.stringify({
      keys: db.prepare('SELECT * FROM keys ORDER BY id').all(),
      versions: db.prepare('SELECT * FROM key_versions ORDER BY key_id, version').all(),
      slots: db.prepare('SELECT * FROM keyslots ORDER BY id').all(),
      audit: db.prepare('SELECT count(*) AS n FROM audit_log').get(),
      head: db.prepare('SELECT * FROM audit_head').all(),
    });
  } finally {
    db.close();
  }
}

function auditCount(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function states(file: string, id: string): string[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT state FROM key_versions WHERE key_id = ? ORDER BY version').all(id) as { state: string }[])
      .map((r) => r.state);
  } finally {
    db.close();
  }
}

type Fixture = { file: string; env: Record<string, string>; a: string; b: string; c: string };

/**
 * A vault with key a (v1 retiring, v2 active), key b (v1 active) and key c
 * (v1 revoked), and two passphrase keyslots (1, and 2 labelled 'backup').
 */
async function fixture(): Promise<Fixture> {
  const file = path.join(tmpDir('keyhold-confirm-'), 'v.db');
  const svc = new KeyholdService({ actor: 'setup' });
  try {
    await svc.call('vault.create', { path: file, passphrase: PASS, kdf: FAST_KDF });
    await svc.call('slot.addPassphrase', { passphrase: `${PASS} backup`, label: 'backup', kdf: FAST_KDF });
    const a = (await svc.call('key.create', { name: 'gateway', service: 'payments' })).id;
    const b = (await svc.call('key.create', { name: 'reports', service: 'billing' })).id;
    const c = (await svc.call('key.create', { name: 'old', service: 'billing' })).id;
    await svc.call('key.rotate', { ids: [a] });
    await svc.call('key.revoke', { id: c, reason: 'retired' });
    return { file, env: { KEYHOLD_VAULT: file, KEYHOLD_PASSPHRASE: PASS }, a, b, c };
  } finally {
    svc.close();
  }
}

function errorCode(r: Run): string {
  return (JSON.parse(r.stdout) as { error: { code: string } }).error.code;
}

/** Each destructive use (in this order, on one vault): its arguments, and what its question must name. */
const CASES = (f: Fixture) => [
  { what: 'key destroy', args: ['key', 'destroy', f.c], names: [f.c, 'billing/production/old', 'version 1'],
    done: () => expect(states(f.file, f.c)).toEqual(['destroyed']) },
  { what: 'key rotate --all', args: ['key', 'rotate', '--all'], names: [f.a, 'payments/production/gateway', 'v2 -> v3', f.b, 'billing/production/reports', 'v1 -> v2', '2 keys'],
    done: () => {
      expect(states(f.file, f.a)).toEqual(['revoked', 'retiring', 'active']);
      expect(states(f.file, f.b)).toEqual(['retiring', 'active']);
    } },
  { what: 'key revoke (every live version)', args: ['key', 'revoke', 'payments/production/gateway', '--reason', 'compromised'],
    names: [f.a, 'payments/production/gateway', 'version 1 (retiring), version 2 (active)', 'compromised'],
    // Run after the rotation in the same vault: every version is revoked, however many there are.
    done: () => expect(new Set(states(f.file, f.a))).toEqual(new Set(['revoked'])) },
  { what: 'slot remove', args: ['slot', 'remove', '2'], names: ['keyslot 2', 'passphrase', "'backup'"],
    done: () => expect(snapshot(f.file)).not.toContain('"label":"backup"') },
];

describe('destructive commands without a terminal', () => {
  it('without --yes: CONFIRMATION_REQUIRED (exit 2), before the vault is unlocked, and the vault is unchanged', async () => {
    const f = await fixture();
    for (const c of CASES(f)) {
      const before = snapshot(f.file);
      const r = keyhold(['--json', ...c.args], f.env);
      expect(r.code, c.what).toBe(2);
      expect(errorCode(r), c.what).toBe('CONFIRMATION_REQUIRED');
      expect(r.stderr, c.what).toMatch(/no terminal to ask on.*Nothing was changed/);
      expect(r.stderr, c.what).toContain('--yes');
      expect(snapshot(f.file), c.what).toBe(before);
    }
    // Asked before anything else: not even the passphrase is needed to be refused.
    const r = keyhold(['key', 'destroy', f.c], { KEYHOLD_VAULT: f.file });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Confirmation needed');
    // Bad arguments are still reported as such, not as a missing confirmation.
    const bad = keyhold(['--json', 'key', 'revoke', f.a, '--reason', 'oops'], f.env);
    expect(errorCode(bad)).toBe('INVALID_INPUT');
  }, 240_000);

  it('with --yes: done, each with its audit entry', async () => {
    const f = await fixture();
    for (const c of CASES(f)) {
      const n = auditCount(f.file);
      const r = keyhold([...c.args, '--yes'], f.env);
      expect(r.code, `${c.what}: ${r.stderr}`).toBe(0);
      c.done();
      expect(auditCount(f.file), c.what).toBeGreaterThan(n);
    }
  }, 240_000);

  it('revoking one named version and rotating named keys do not ask', async () => {
    const f = await fixture();
    expect(keyhold(['key', 'revoke', f.a, '--version', '1', '--reason', 'superseded'], f.env).code).toBe(0);
    expect(keyhold(['key', 'rotate', f.b], f.env).code).toBe(0);
    expect(states(f.file, f.a)).toEqual(['revoked', 'active']);
    expect(states(f.file, f.b)).toEqual(['retiring', 'active']);
  });
});

describe('--dry-run', () => {
  it('prints what would change, in text and in --json, and changes nothing (no audit entry either)', async () => {
    const f = await fixture();
    const before = snapshot(f.file);
    const text = (args: string[]) => {
      const r = keyhold([...args, '--dry-run'], f.env);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^Dry run: would /);
      expect(r.stdout).toContain('nothing was changed');
      return r.stdout;
    };
    const json = <T>(args: string[]): T & { dryRun: true } => {
      const r = keyhold(['--json', ...args, '--dry-run'], f.env);
      expect(r.code, r.stderr).toBe(0);
      const v = JSON.parse(r.stdout) as T & { dryRun: true };
      expect(v.dryRun).toBe(true);
      return v;
    };

    expect(text(['key', 'destroy', f.c])).toContain(`destroy the secret of ${f.c} version 1`);
    expect(json<{ id: string; versions: number[] }>(['key', 'destroy', f.c])).toMatchObject({ id: f.c, versions: [1] });

    expect(text(['key', 'revoke', f.a, '--reason', 'compromised'])).toContain(`revoke ${f.a} version 1, 2 (compromised)`);
    expect(json<{ versions: number[] }>(['key', 'revoke', f.a, '--reason', 'compromised']).versions).toEqual([1, 2]);

    const rotation = text(['key', 'rotate', '--all']);
    expect(rotation).toContain('would rotate 2 keys');
    expect(rotation).toMatch(new RegExp(`${f.a}  v2 -> v3`));
    expect(rotation).toMatch(new RegExp(`${f.b}  v1 -> v2`));
    const rotated = json<{ rotated: { id: string; from: number; to: number }[] }>(['key', 'rotate', '--all']).rotated;
    expect(rotated.map((r) => [r.id, r.from, r.to]).sort()).toEqual([[f.a, 2, 3], [f.b, 1, 2]].sort());
    // --yes changes nothing about a dry run.
    expect(keyhold(['key', 'rotate', '--all', '--dry-run', '--yes'], f.env).stdout).toContain('would rotate 2 keys');

    expect(text(['slot', 'remove', '2'])).toContain("would remove keyslot 2 (passphrase, label 'backup')");
    const slot = json<{ removed: number; slot: KeyslotInfo; passphraseSlotsLeft: number }>(['slot', 'remove', '2']);
    expect(slot).toMatchObject({ removed: 2, slot: { id: 2, type: 'passphrase', label: 'backup' }, passphraseSlotsLeft: 1 });

    // The dry run's checks are the command's own: a refused change is refused the same way.
    const live = keyhold(['--json', 'key', 'destroy', f.b, '--dry-run'], f.env);
    expect(live.code).toBe(7);
    expect(errorCode(live)).toBe('ILLEGAL_TRANSITION');

    expect(snapshot(f.file)).toBe(before);
  }, 240_000);
});

describe('dryRun in the core (what the CLI and the IPC router call)', () => {
  it('each of the four commands returns its would-be result marked dryRun and leaves the file as it was; the change then gives the same', async () => {
    const f = await fixture();
    const svc = new KeyholdService({ actor: 'test' });
    try {
      await svc.call('vault.unlock', { path: f.file, passphrase: PASS });
      // This process holds the vault: its state is read through the service.
      const state = async () => JSON.stringify({
        keys: await Promise.all([f.a, f.b, f.c].map((id) => svc.call('key.show', { id }))),
        slots: await svc.call('slot.list', {}),
        head: (await svc.call('audit.verify', {})).head,
      });
      const before = await state();
      const dry = {
        destroy: await svc.call('key.destroy', { id: f.c, dryRun: true }),
        revoke: await svc.call('key.revoke', { id: f.a, reason: 'compromised', dryRun: true }),
        rotate: await svc.call('key.rotate', { all: true, dryRun: true }),
        slot: await svc.call('slot.remove', { id: 2, dryRun: true }),
      };
      expect(await state()).toBe(before);
      for (const v of Object.values(dry)) expect(v.dryRun).toBe(true);
      // The session goes on as if nothing happened: the real changes, in turn, are what the dry runs said.
      expect((await svc.call('key.destroy', { id: f.c })).versions).toEqual(dry.destroy.versions);
      expect((await svc.call('key.rotate', { all: true })).rotated.map((r) => [r.id, r.from, r.to]))
        .toEqual(dry.rotate.rotated.map((r) => [r.id, r.from, r.to]));
      expect((await svc.call('slot.remove', { id: 2 }))).toMatchObject({ removed: 2, slot: dry.slot.slot, passphraseSlotsLeft: 1 });
      expect(dry.revoke.versions).toEqual([1, 2]);
      expect('dryRun' in (await svc.call('key.revoke', { id: f.a, reason: 'compromised' }))).toBe(false);
      const report = await svc.call('audit.verify', {});
      expect(report.ok).toBe(true);
    } finally {
      svc.close();
    }
  });
});

describe('on a terminal', () => {
  it('answering n: the question names exactly what would change, and nothing changes', async () => {
    const f = await fixture();
    for (const c of CASES(f)) {
      const before = snapshot(f.file);
      const r = await keyholdOnTty(c.args, [{ prompt: ASK, reply: 'n' }], f.env);
      expect(r.code, c.what).toBe(2);
      const question = r.stdout.slice(0, r.stdout.indexOf(ASK));
      for (const name of c.names) expect(question, c.what).toContain(name);
      expect(r.stdout, c.what).toContain('Not confirmed: nothing was changed.');
      expect(snapshot(f.file), c.what).toBe(before);
    }
  }, 240_000);

  it('answering y: done', async () => {
    const f = await fixture();
    for (const c of CASES(f)) {
      const n = auditCount(f.file);
      const r = await keyholdOnTty(c.args, [{ prompt: ASK, reply: 'y' }], f.env);
      expect(r.code, `${c.what}: ${r.stdout}`).toBe(0);
      c.done();
      expect(auditCount(f.file), c.what).toBeGreaterThan(n);
    }
  }, 240_000);
});

describe('slot remove of the last passphrase keyslot', () => {
  let hsm: SoftHsm;
  beforeAll(() => {
    hsm = setupSoftHsm([{ label: 'card', pin: PIN }]);
  });
  afterAll(() => hsm.cleanup());

  /** A vault with passphrase keyslot 1 and token keyslot 2. */
  async function withTokenSlot(): Promise<{ file: string; env: Record<string, string> }> {
    const file = path.join(tmpDir('keyhold-confirm-token-'), 'v.db');
    const env = hsm.cliEnv({ KEYHOLD_VAULT: file, KEYHOLD_PASSPHRASE: PASS, KEYHOLD_PIN: PIN });
    const svc = new KeyholdService({ tokens: { module: hsm.module } });
    try {
      await svc.call('vault.create', { path: file, passphrase: PASS, kdf: FAST_KDF });
    } finally {
      await svc.shutdown();
    }
    const add = keyhold(['slot', 'add-token', '--token', 'card', '--label', `slot-${path.basename(path.dirname(file))}`], env);
    expect(add.code, add.stderr).toBe(0);
    return { file, env };
  }

  it('on a terminal: warned in the question; answering n leaves the passphrase keyslot', async () => {
    const { file, env } = await withTokenSlot();
    const before = snapshot(file);
    const r = await keyholdOnTty(['slot', 'remove', '1'], [{ prompt: ASK, reply: 'n' }], env);
    expect(r.code).toBe(2);
    const question = r.stdout.slice(0, r.stdout.indexOf(ASK));
    expect(question).toContain('keyslot 1 (passphrase');
    expect(question).toMatch(/Warning: it is the last passphrase keyslot: afterwards only a token opens this vault/);
    expect(snapshot(file)).toBe(before);
    const dry = keyhold(['slot', 'remove', '1', '--dry-run'], env);
    expect(dry.stdout).toMatch(/Warning: it is the last passphrase keyslot/);
    expect(snapshot(file)).toBe(before);
  });

  it('with --yes in a script: removed, and the warning is printed; the vault then opens with the token only', async () => {
    const { file, env } = await withTokenSlot();
    const r = keyhold(['slot', 'remove', '1', '--yes'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: keyslot 1 was the last passphrase keyslot: only a token opens this vault now/);
    expect(keyhold(['slot', 'list'], env).code).not.toBe(0);
    const byToken = keyhold(['--unlock', 'token', 'slot', 'list'], env);
    expect(byToken.code, byToken.stderr).toBe(0);
    expect(fs.existsSync(file)).toBe(true);
  });

  it('removing a passphrase keyslot while another is left gives no warning', async () => {
    const f = await fixture();
    const r = keyhold(['slot', 'remove', '2', '--yes'], f.env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('warning');
  });
});
