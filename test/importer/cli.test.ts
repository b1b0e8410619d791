/** The keyhold-import command line, run in-process through main() (the bin only imports and calls it). */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../importer/src/cli.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { fixture, makeBundle, type Fixture } from './helpers.js';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

let f: Fixture;
let tmp: TmpDir;
let dir: string;
// The CLI uses the real clock: bundles here are valid around now.
beforeAll(async () => {
  f = await fixture();
  tmp = makeTmpDir('kh-import-');
  dir = tmp.dir;
  writeFileSync(join(dir, 'root.json'), f.trustText);
});
afterAll(() => tmp.remove());

describe('keyhold-import CLI', () => {
  it('--help, per-command --help, and usage errors exit 2', async () => {
    expect((await run('--help')).out).toMatch(/keygen.*\n.*verify/s);
    for (const c of ['keygen', 'verify', 'apply', 'check']) {
      const r = await run(c, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`Usage: keyhold-import ${c}`));
    }
    expect((await run('trust', '--help')).out).toMatch(/trust update/);
    expect((await run('frobnicate')).code).toBe(2);
    expect((await run('apply', 'x.json')).code).toBe(2);
    expect((await run('verify', '--bogus', 'x')).code).toBe(2);
  });

  it('keygen, verify, apply (twice), check, with exit codes and no secret printed', async () => {
    const kg = await run('keygen', '--crv', 'X25519', '--out', join(dir, 'server.jwk'), '--public-out', join(dir, 'server.pub.jwk'), '--json');
    expect(kg.code).toBe(0);
    const { recipientId } = JSON.parse(kg.out) as { recipientId: string };
    expect(statSync(join(dir, 'server.jwk')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'server.pub.jwk'), 'utf8')).not.toContain('"d"');
    expect((await run('keygen', '--out', join(dir, 'server.jwk'))).code).toBe(1); // never overwritten

    const recipient = { ...f.recipient, publicJwk: JSON.parse(readFileSync(join(dir, 'server.pub.jwk'), 'utf8')), recipientId };
    const now = new Date();
    const b = await makeBundle(f, { to: recipient, issuedAt: new Date(now.getTime() - 60_000), expiresAt: new Date(now.getTime() + 86400_000) });
    writeFileSync(join(dir, 'b1.json'), b.text);

    const v = await run('verify', '--trust', join(dir, 'root.json'), '--key', join(dir, 'server.jwk'), join(dir, 'b1.json'));
    expect(v.code).toBe(0);
    expect(v.out).toContain(b.hash);
    expect(v.out).toMatch(/would issue 2 key versions/);
    const vj = JSON.parse((await run('verify', '--trust', join(dir, 'root.json'), '--recipient', recipientId, '--json', join(dir, 'b1.json'))).out);
    expect(vj).toMatchObject({ ok: true, bundle: { payloadHash: b.hash, sequence: 1, hasSecrets: true } });

    const state = join(dir, 'state');
    const a = await run('apply', '--trust', join(dir, 'root.json'), '--key', join(dir, 'server.jwk'), '--state', state, '--secrets-format', 'env', join(dir, 'b1.json'));
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/applied bundle 1 .*2 issued/);
    const again = await run('apply', '--key', join(dir, 'server.jwk'), '--state', state, join(dir, 'b1.json'));
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/already applied; nothing to do/);
    for (const r of [v, a, again]) for (const i of b.issued) expect(r.out + r.err).not.toContain(i.key);

    const ok = await run('check', '--state', state, b.issued[0]!.key);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^valid: /);
    expect(ok.out).not.toContain(b.issued[0]!.key);
    const bad = await run('check', '--state', state, '--json', `${b.issued[0]!.key.slice(0, -1)}X`);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.out)).toEqual({ valid: false, reason: 'malformed' });
  });

  it('a rejected bundle exits 1 with its code (text and --json)', async () => {
    const now = new Date();
    const b = await makeBundle(f, { signers: [f.signers[0]!], issuedAt: new Date(now.getTime() - 60_000), expiresAt: new Date(now.getTime() + 86400_000) });
    writeFileSync(join(dir, 'weak.json'), b.text);
    const r = await run('verify', '--trust', join(dir, 'root.json'), join(dir, 'weak.json'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\[BUNDLE_THRESHOLD\]/);
    const j = await run('verify', '--trust', join(dir, 'root.json'), '--json', join(dir, 'weak.json'));
    expect(JSON.parse(j.out)).toMatchObject({ ok: false, error: { code: 'BUNDLE_THRESHOLD' } });
    const big = await run('verify', '--trust', join(dir, 'root.json'), '--max-bytes', '100', join(dir, 'weak.json'));
    expect(big.err).toMatch(/BUNDLE_TOO_LARGE/);
  });

  it('trust show prints the fingerprint', async () => {
    const r = await run('trust', 'show', '--json', join(dir, 'root.json'));
    expect(JSON.parse(r.out)).toMatchObject({ ok: true, hash: f.trust.hash, version: 1, threshold: 2 });
  });
});
