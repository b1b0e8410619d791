/**
 * D8, the output side: a vault whose rows hold a newline, a C1 control or a
 * bidi override (written through the core, bypassing the contract's checks,
 * as an older Keyhold could have) prints them escaped in text mode: `key
 * show`, `slot list` and `audit list` never show a forged line or a raw
 * control character.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys } from '../../electron/core/keys/keys.js';
import { Vault } from '../../electron/core/vault/vault.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { keyhold } from './run.js';

const PASS = 'output escape passphrase 1';
const OWNER = 'ops\nstate        revoked (version 1)';
const SLOT_LABEL = 'spare\n9   passphrase  forged';
const ACTOR = 'eve\u009b2J\u202eevil';
/** What a terminal acts on or reorders by, and the line breaks; none may reach stdout raw. */
// eslint-disable-next-line no-control-regex
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

let tmp: TmpDir;
let vaultPath: string;
let keyId: string;
const env = () => ({ KEYHOLD_VAULT: vaultPath, KEYHOLD_PASSPHRASE: PASS });

beforeAll(async () => {
  tmp = makeTmpDir('keyhold-output-escape-');
  vaultPath = path.join(tmp.dir, 'vault.db');
  const created = await Vault.create(vaultPath, PASS, { kdf: FAST_KDF });
  created.lock();
  // The core itself, with none of the contract's checks: as an older vault was written.
  const v = await Vault.unlock(vaultPath, PASS, { actor: ACTOR });
  try {
    keyId = (createKeys(v, [{ name: 'gw', service: 'pay', environment: 'production', scopes: [], owner: OWNER,
      notes: 'n\u202eote' }])[0] as { id: string }).id;
    await v.addPassphraseSlot('a second passphrase here', SLOT_LABEL, FAST_KDF);
  } finally {
    v.lock();
  }
});

afterAll(() => tmp?.remove());

describe('text output escapes what slipped into a vault', () => {
  it('key show: the owner prints as one escaped line, no fake state line', () => {
    const r = keyhold(['key', 'show', keyId], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('owner        ops\\nstate        revoked (version 1)');
    expect(r.stdout).toContain('notes        n\\u{202e}ote');
    const stateLines = r.stdout.split('\n').filter((l) => l.startsWith('state'));
    expect(stateLines).toEqual(['state        active (version 1)']);
    expect(r.stdout).not.toMatch(RAW);
  });

  it('slot list: a label with a newline adds no row', () => {
    const r = keyhold(['slot', 'list'], env());
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trimEnd().split('\n');
    expect(rows).toHaveLength(3); // the header and two slots
    expect(rows.filter((l) => /^9\s/.test(l))).toEqual([]);
    expect(r.stdout).toContain('spare\\n9   passphrase  forged');
    expect(r.stdout).not.toMatch(RAW);
  });

  it('audit list: an actor with U+009B and U+202E prints escaped', () => {
    const r = keyhold(['audit', 'list'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('eve\\u{9b}2J\\u{202e}evil');
    // The details of key.create hold the owner: escaped as well.
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('state'))).toEqual([]);
  });

  it('--json keeps the values as stored (escaping is for the terminal only)', () => {
    const r = keyhold(['--json', 'key', 'show', keyId], env());
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { owner: string }).owner).toBe(OWNER);
  });
});
