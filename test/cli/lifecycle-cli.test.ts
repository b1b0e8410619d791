import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditVerifyReport, DueKey, EffectivePolicy, KeyDetail, KeySummary } from '../../shared/contract.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { keyhold, keyholdJson } from './run.js';

const PASS = 'cli lifecycle passphrase';
const FAST = ['--kdf-memory', '19', '--kdf-passes', '2'];

let tmp: TmpDir;
let dir: string;
let vault: string;
let env: Record<string, string>;

beforeAll(() => {
  tmp = makeTmpDir('keyhold-cli-life-');
  dir = tmp.dir;
  vault = path.join(dir, 'v.db');
  env = { KEYHOLD_PASSPHRASE: PASS, KEYHOLD_VAULT: vault, KEYHOLD_OPERATOR: 'custodian-a' };
  expect(keyhold(['init', ...FAST], env).code).toBe(0);
});

afterAll(() => tmp.remove());

describe('keyhold lifecycle and audit commands', () => {
  it('sets a service policy, rotates, revokes with a reason and reports the time, destroys, and audits it all', () => {
    const policy = keyholdJson<EffectivePolicy>(['policy', 'set', '--service', 'payments', '--rotation', '30d', '--grace', '2d'], env);
    expect(policy).toMatchObject({ rotation: 30 * 86_400, grace: 2 * 86_400, sources: { rotation: 'service:payments', warn: 'default' } });

    const a = keyholdJson<KeySummary>(['key', 'create', '--name', 'gw', '--service', 'payments'], env);
    const b = keyholdJson<KeySummary>(['key', 'create', '--name', 'reports', '--service', 'payments'], env);
    const shown = keyholdJson<KeyDetail>(['key', 'show', a.id], env);
    expect(shown.policy.rotation).toBe(30 * 86_400);
    expect(shown.due.status).toBe('ok');
    expect(keyholdJson<{ keys: DueKey[] }>(['key', 'due'], env).keys).toEqual([]);
    expect(keyholdJson<{ keys: DueKey[] }>(['key', 'due', '--all'], env).keys.map((k) => k.id).sort()).toEqual([a.id, b.id].sort());

    const rotated = keyholdJson<{ rotated: { id: string; from: number; to: number }[] }>(['key', 'rotate', a.id], env);
    expect(rotated.rotated).toEqual([expect.objectContaining({ id: a.id, from: 1, to: 2 })]);
    const all = keyholdJson<{ rotated: unknown[] }>(['key', 'rotate', '--all', '--yes'], env);
    expect(all.rotated).toHaveLength(2);

    const revoke = keyhold(['key', 'revoke', a.id, '--reason', 'compromised', '--yes'], env);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toMatch(/Revoked .* \(compromised\) at .* in \d+\.\d ms\./);
    const again = keyhold(['--json', 'key', 'revoke', a.id, '--reason', 'compromised', '--yes'], env);
    expect(again.code).toBe(7);
    expect(JSON.parse(again.stdout).error.code).toBe('ILLEGAL_TRANSITION');
    expect(keyhold(['key', 'destroy', b.id, '--yes'], env).code).toBe(7);
    expect(keyhold(['key', 'destroy', a.id, '--yes'], env).code).toBe(0);
    const gone = keyhold(['key', 'reveal', a.id], env);
    expect(gone.code).toBe(4);
    expect(gone.stderr).toContain('destroyed');

    const log = keyholdJson<{ entries: { action: string; actor: string }[] }>(['audit', 'list', '--limit', '1000'], env);
    const actions = log.entries.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['vault.create', 'policy.set', 'key.create', 'key.rotate', 'key.revoke', 'key.destroy']));
    expect(new Set(log.entries.filter((e) => e.action !== 'vault.create').map((e) => e.actor))).toEqual(new Set(['custodian-a']));
    const history = keyholdJson<{ entries: { keyId: string }[] }>(['audit', 'list', '--key', a.id], env);
    expect(history.entries.length).toBeGreaterThanOrEqual(5);
    expect(history.entries.every((e) => e.keyId === a.id)).toBe(true);
    expect(keyholdJson<{ entries: unknown[] }>(['audit', 'list', '--actor', 'nobody-else'], env).entries).toEqual([]);
    expect(keyholdJson<{ entries: unknown[] }>(['audit', 'list', '--actor', 'custodian-a', '--limit', '1000'], env).entries)
      .toHaveLength(log.entries.length);
    expect(keyhold(['--as', 'bad\u0007name', 'key', 'list'], env).code).toBe(2);
    const page = keyholdJson<{ entries: unknown[]; next: number }>(['audit', 'list', '--limit', '2'], env);
    expect(page.entries).toHaveLength(2);
    expect(page.next).toBe(2);
    expect(keyhold(['audit', 'list', '--since', 'yesterday'], env).code).toBe(2);
    expect(keyhold(['policy', 'set', '--service', 'payments', '--grace', '40d'], env).code).toBe(2);
    expect(keyhold(['key', 'rotate'], env).code).toBe(2);
  });

  it('verifies the chain, exports it atomically, and finds tampering in the vault and in the export', () => {
    const ok = keyholdJson<AuditVerifyReport>(['audit', 'verify'], env);
    expect(ok.ok).toBe(true);
    expect(ok.entries).toBe(ok.head.seq);

    const out = path.join(dir, 'audit.jsonl');
    expect(keyhold(['audit', 'export', '--out', out], env).code).toBe(0);
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const file = keyholdJson<AuditVerifyReport>(['audit', 'verify', '--file', out], {});
    expect(file).toMatchObject({ ok: true, entries: ok.entries });

    const lines = fs.readFileSync(out, 'utf8').trimEnd().split('\n');
    const third = JSON.parse(lines[3] as string) as { seq: number; actor: string };
    third.actor = 'mallory';
    lines[3] = JSON.stringify(third);
    fs.writeFileSync(path.join(dir, 'edited.jsonl'), `${lines.join('\n')}\n`);
    const edited = keyhold(['--json', 'audit', 'verify', '--file', path.join(dir, 'edited.jsonl')], {});
    expect(edited.code).toBe(5);
    expect((JSON.parse(edited.stdout) as AuditVerifyReport).firstBroken?.seq).toBe(third.seq);

    const copy = path.join(dir, 'tampered.db');
    fs.copyFileSync(vault, copy);
    const db = new Database(copy);
    db.prepare("UPDATE audit_log SET actor = 'mallory' WHERE seq = 4").run();
    db.close();
    const broken = keyhold(['--json', '--vault', copy, 'audit', 'verify'], env);
    expect(broken.code).toBe(5);
    expect((JSON.parse(broken.stdout) as AuditVerifyReport).firstBroken).toMatchObject({ seq: 4 });
    const human = keyhold(['--vault', copy, 'audit', 'verify'], env);
    expect(human.stdout).toContain('AUDIT LOG BROKEN at entry 4');
  });
});
