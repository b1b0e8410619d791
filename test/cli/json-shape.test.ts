/**
 * One shape for `--json` (docs/cli.md section 4, issue 15): every command's
 * result is a JSON object (a list is under a named field: `keyslots`, `keys`,
 * `recipients`, `tokens`, `entries`), indented with two spaces, and carries
 * `tookMs`; an error is an object `{"error": {code, message, hint?}}`
 * indented the same way, the argument parser's errors included.
 *
 * Every command that runs without a token, on a real vault through the real
 * CLI in child processes; `token list` and `token keys` on a SoftHSM2 module
 * with no token in it (its one free slot).
 */
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { closeTokenVault } from '../helpers/token-vault.js';
import { keyhold, type Run } from './run.js';

const PASS = 'json shape passphrase';
const NEXT = 'json shape passphrase two';
const FAST = ['--kdf-memory', '19', '--kdf-passes', '2'];

let hsm: SoftHsm;
let tmp: TmpDir;
let env: Record<string, string>;

beforeAll(() => {
  hsm = setupSoftHsm([]);
  tmp = makeTmpDir('keyhold-json-shape-');
  env = hsm.cliEnv({ KEYHOLD_VAULT: path.join(tmp.dir, 'v.db'),
    KEYHOLD_PASSPHRASE: PASS, KEYHOLD_NEW_PASSPHRASE: NEXT, KEYHOLD_OPERATOR: 'custodian' });
});

afterAll(() => closeTokenVault({ hsm, tmp }));

type Obj = Record<string, unknown>;

/** Parses stdout and checks the one shape: an object, printed as JSON.stringify(v, null, 2) and a newline. */
function shape(r: Run): Obj {
  const v = JSON.parse(r.stdout) as unknown;
  expect(typeof v === 'object' && v !== null && !Array.isArray(v), r.stdout.slice(0, 200)).toBe(true);
  expect(r.stdout).toBe(`${JSON.stringify(v, null, 2)}\n`);
  return v as Obj;
}

/** A result: exit 0, an object with these fields and `tookMs`, a number of milliseconds. */
function result(args: string[], fields: string[], extra: Record<string, string> = {}): Obj {
  const r = keyhold(['--json', ...args], { ...env, ...extra });
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  const v = shape(r);
  expect(Object.keys(v), args.join(' ')).toEqual(expect.arrayContaining([...fields, 'tookMs']));
  expect(typeof v.tookMs, args.join(' ')).toBe('number');
  expect(v.tookMs as number).toBeGreaterThanOrEqual(0);
  return v;
}

/** An error: exit code, and only `{"error": {code, message, hint?}}` on stdout. */
function failure(args: string[], code: string, exit: number, extra: Record<string, string> = {}): Obj {
  const r = keyhold(['--json', ...args], { ...env, ...extra });
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(exit);
  const v = shape(r);
  expect(Object.keys(v)).toEqual(['error']);
  const e = v.error as Obj;
  expect(e.code).toBe(code);
  expect(typeof e.message).toBe('string');
  expect(Object.keys(e).every((k) => ['code', 'message', 'hint'].includes(k))).toBe(true);
  return e;
}

const list = (v: Obj, field: string): unknown[] => {
  expect(Array.isArray(v[field]), field).toBe(true);
  return v[field] as unknown[];
};

describe('--json: one documented shape for every command', () => {
  it('every result is an object with its documented fields and tookMs; lists are under a named field', () => {
    result(['init', ...FAST], ['vaultId', 'path', 'schemaVersion', 'keyslots', 'counts']);
    result(['info'], ['vaultId', 'keyslots', 'counts']);
    expect(list(result(['slot', 'list'], ['keyslots']), 'keyslots')).toHaveLength(1);
    result(['slot', 'add-passphrase', '--label', 'backup', ...FAST], ['id', 'type', 'label', 'params']);
    expect(list(result(['slot', 'list'], ['keyslots']), 'keyslots')).toHaveLength(2);
    result(['slot', 'remove', '2', '--dry-run'], ['removed', 'slot', 'passphraseSlotsLeft', 'dryRun']);
    result(['slot', 'remove', '2', '--yes'], ['removed', 'slot', 'passphraseSlotsLeft']);

    const a = result(['key', 'create', '--name', 'gateway', '--service', 'payments'], ['id', 'name', 'service', 'state']);
    const b = result(['key', 'create', '--name', 'reports', '--service', 'payments'], ['id']);
    const keys = list(result(['key', 'list'], ['keys']), 'keys') as { id: string }[];
    expect(keys.map((k) => k.id).sort()).toEqual([a.id, b.id].sort());
    expect(list(result(['key', 'list', '--service', 'nothing'], ['keys']), 'keys')).toEqual([]);
    result(['key', 'show', String(a.id)], ['id', 'versions', 'policy', 'due']);
    result(['key', 'reveal', String(a.id)], ['id', 'version', 'secret']);
    expect(list(result(['key', 'due'], ['keys']), 'keys')).toEqual([]);
    expect(list(result(['key', 'due', '--all'], ['keys']), 'keys')).toHaveLength(2);
    result(['key', 'rotate', '--all', '--dry-run'], ['rotated', 'dryRun']);
    result(['key', 'rotate', String(a.id)], ['rotated']);
    result(['key', 'revoke', String(a.id), '--reason', 'retired', '--yes'], ['id', 'versions', 'reason', 'revokedAt']);
    result(['key', 'destroy', String(a.id), '--yes'], ['id', 'versions', 'destroyedAt']);

    result(['policy', 'set', '--service', 'payments', '--rotation', '30d'], ['rotation', 'grace', 'warn', 'lifetime', 'sources']);
    result(['policy', 'show', '--service', 'payments'], ['rotation', 'sources']);
    result(['policy', 'clear', '--service', 'payments'], ['rotation', 'sources']);

    const jwk = path.join(tmp.dir, 'gw.jwk');
    fs.writeFileSync(jwk, JSON.stringify(generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' })));
    result(['recipient', 'add', '--name', 'gw', '--public-key', jwk, '--verifies', 'payments'], ['id', 'name', 'verifies', 'holds']);
    expect(list(result(['recipient', 'list'], ['recipients']), 'recipients')).toHaveLength(1);
    expect(list(result(['signer', 'list'], ['threshold', 'signers']), 'signers')).toEqual([]);

    const page = result(['audit', 'list', '--limit', '2'], ['entries', 'next']);
    expect(list(page, 'entries')).toHaveLength(2);
    expect(typeof page.next).toBe('number');
    result(['audit', 'verify'], ['ok', 'entries', 'head', 'firstBroken']);
    const exported = path.join(tmp.dir, 'audit.jsonl');
    result(['audit', 'export', '--out', exported], ['path', 'entries', 'head']);
    result(['audit', 'verify', '--file', exported], ['ok', 'entries', 'head']);

    result(['passphrase', 'change'], ['id', 'type']);
    result(['info'], ['vaultId'], { KEYHOLD_PASSPHRASE: NEXT });

    // No token in the module: the lists are still objects.
    list(result(['token', 'list'], ['tokens']), 'tokens');
    list(result(['token', 'keys'], ['tokens']), 'tokens');
  }, 240_000);

  it('an error is {"error": {code, message, hint}} indented like a result, also from the argument parser', () => {
    const own = { KEYHOLD_VAULT: path.join(tmp.dir, 'errors.db') };
    expect(keyhold(['init', ...FAST], { ...env, ...own }).code).toBe(0);
    const e = failure(['key', 'show', '0000000000000000'], 'KEY_NOT_FOUND', 4, own);
    expect(typeof e.hint).toBe('string');
    failure(['info'], 'WRONG_PASSPHRASE', 3, { ...own, KEYHOLD_PASSPHRASE: 'not the passphrase' });
    failure(['init', ...FAST], 'VAULT_EXISTS', 7, own);
    const parser = failure(['key', 'create', '--service', 'billing'], 'INVALID_INPUT', 2, own);
    expect(parser.message).toBe("cli: required option '--name <name>' not specified");
  }, 120_000);
});
