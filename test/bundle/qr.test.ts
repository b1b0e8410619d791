/**
 * QR transfer of a revocations-only bundle (docs/bundle-format.md, 14), end to
 * end on a SoftHSM2 token: `keyhold bundle export --revocations-only --qr DIR`
 * writes numbered PNGs; zbarimg reads them back; the texts, in any order, go
 * to the real `keyhold-import apply --qr-text`, and the revocation is in the
 * server's keystore. A missing part, a part of another bundle and a changed
 * character are each refused with their own code, nothing applied.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeQrParts } from 'keyhold-format';
import { checkPresentedKey, loadKeystore } from '../../importer/src/index.js';
import { KeyholdService } from '../../electron/core/service.js';
import { cleanEnv, ensureImporterBuilt, keyhold, ROOT } from '../cli/run.js';
import { setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { closeTokenVault } from '../helpers/token-vault.js';
import { addTokenSigner, PASSPHRASE, PIN } from './helpers.js';

const IMPORTER_BIN = path.join(ROOT, 'importer', 'bin', 'keyhold-import.mjs');
const KEYS = 14;

let hsm: SoftHsm;
let tmp: TmpDir;
let vaultPath: string;
let server: string;
let state: string;
let firstBundle: string;
const secrets = new Map<string, string>();

function importer(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [IMPORTER_BIN, ...args], { env: cleanEnv(), input: input ?? '', encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  ensureImporterBuilt();
  hsm = setupSoftHsm([{ label: 'demo' }]);
  tmp = makeTmpDir('keyhold-bundle-qr-');
  vaultPath = path.join(tmp.dir, 'vault.db');
  server = path.join(tmp.dir, 'server');
  expect(importer(['keygen', '--out', `${server}/`]).code).toBe(0);
  // The vault, its signer, the recipient and its first (full) bundle, made in this process: one spawn fewer each.
  const svc = new KeyholdService({ tokens: { module: hsm.module } });
  try {
    await svc.call('vault.create', { path: vaultPath, passphrase: PASSPHRASE, kdf: FAST_KDF });
    await addTokenSigner(svc, 'demo', 'signer1', 'ES256');
    const pub = JSON.parse(fs.readFileSync(path.join(server, 'public.jwk'), 'utf8')) as Record<string, unknown>;
    await svc.call('recipient.add', { name: 'gw', publicKey: pub, verifies: ['payments'] });
    for (let i = 0; i < KEYS; i++) {
      const k = await svc.call('key.create', { name: `key-${i}`, service: 'payments' });
      secrets.set(k.id, (await svc.call('key.reveal', { id: k.id })).secret);
    }
    const root = path.join(tmp.dir, 'root.json');
    await svc.call('trust.export', { out: root, pin: PIN });
    firstBundle = path.join(tmp.dir, 'b1.json');
    await svc.call('bundle.export', { recipient: 'gw', out: firstBundle, pin: PIN });
    state = path.join(tmp.dir, 'state');
    const ap = importer(['apply', '--trust', root, '--key', path.join(server, 'private.jwk'), '--state', state, firstBundle]);
    expect(ap.code, ap.stderr).toBe(0);
    // An incident: every key revoked.
    for (const id of secrets.keys()) await svc.call('key.revoke', { id, reason: 'compromised' });
    // The full bundle is refused as QR before anything is signed.
    await expect(svc.call('bundle.export', { recipient: 'gw', out: path.join(tmp.dir, 'full.json'), qr: true, pin: PIN }))
      .rejects.toMatchObject({ code: 'INVALID_INPUT' });
  } finally {
    await svc.shutdown();
  }
}, 120_000);

afterAll(() => closeTokenVault({ hsm, tmp }));

/** zbarimg's reading of one PNG: the code's text. */
function scan(png: string): string {
  // zbar's own noise on stderr (no D-Bus here) is dropped.
  return execFileSync('zbarimg', ['--raw', '-q', png], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}

describe('QR transfer of a revocations-only bundle', () => {
  it('exports numbered PNGs that zbarimg reads back, and keyhold-import applies them in any order: the keys are revoked on the server', () => {
    const dir = path.join(tmp.dir, 'qr');
    fs.mkdirSync(dir);
    const env = hsm.cliEnv({ KEYHOLD_VAULT: vaultPath, KEYHOLD_PASSPHRASE: PASSPHRASE, KEYHOLD_PIN: PIN });
    // --qr without --revocations-only is refused before the vault is opened.
    const refused = keyhold(['--json', 'bundle', 'export', '--recipient', 'gw', '--qr', dir], env);
    expect(refused.code).toBe(2);
    expect(fs.readdirSync(dir)).toEqual([]);

    const r = keyhold(['--json', 'bundle', 'export', '--recipient', 'gw', '--revocations-only', '--qr', dir], env);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { path: string; revoked: number; qr: { index: number; total: number; text: string; png: string }[] };
    expect(report.revoked).toBe(KEYS);
    expect(report.path).toBe(path.join(dir, 'bundle.json'));
    const n = report.qr.length;
    expect(n).toBeGreaterThan(1);
    const names = Array.from({ length: n }, (_, i) => `part-${String(i + 1).padStart(2, '0')}-of-${String(n).padStart(2, '0')}.png`);
    expect(fs.readdirSync(dir).sort()).toEqual(['bundle.json', ...names].sort());
    expect(report.qr.map((q) => q.png)).toEqual(names.map((f) => path.join(dir, f)));
    expect(report.qr.map((q) => Object.keys(q).sort())).toEqual(report.qr.map(() => ['index', 'png', 'text', 'total']));

    // Read back from the images, not from the report.
    const texts = names.map((f) => scan(path.join(dir, f)));
    expect(texts).toEqual(report.qr.map((q) => q.text));
    expect(texts).toEqual(encodeQrParts(fs.readFileSync(report.path)));
    const order = [...texts.keys()].reverse();
    order.push(order.shift() as number);
    const file = path.join(tmp.dir, 'scanned.txt');
    fs.writeFileSync(file, `${order.map((i) => texts[i]).join('\n')}\n`);

    const key = path.join(server, 'private.jwk');
    // Each broken set is refused with its own code, and nothing is applied.
    const bad = (name: string, lines: string[]) => {
      const f = path.join(tmp.dir, name);
      fs.writeFileSync(f, lines.join('\n'));
      const out = importer(['apply', '--key', key, '--state', state, '--json', '--qr-text', f]);
      expect(out.code, name).toBe(1);
      return (JSON.parse(out.stdout) as { error: { code: string } }).error.code;
    };
    expect(bad('missing.txt', texts.slice(1))).toBe('QR_PARTS_MISSING');
    const foreign = encodeQrParts(fs.readFileSync(firstBundle))[0] as string;
    expect(bad('mixed.txt', [...texts.slice(1), foreign])).toBe('QR_PARTS_MIXED');
    const t = texts[0] as string;
    const at = t.length - 5;
    const changed = `${t.slice(0, at)}${t[at] === 'A' ? 'B' : 'A'}${t.slice(at + 1)}`;
    expect(bad('changed.txt', [changed, ...texts.slice(1)])).toBe('QR_CHECKSUM');
    expect(bad('junk.txt', ['not a code', ...texts])).toBe('QR_PART_INVALID');
    for (const secret of secrets.values()) {
      expect(checkPresentedKey(loadKeystore(path.join(state, 'keystore.json')), secret)).toMatchObject({ valid: true });
    }

    // Verify, then apply from standard input: exactly as the bundle file.
    const v = importer(['verify', '--state', state, '--key', key, '--json', '--qr-text', file]);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, chain: 'continues the applied chain' });
    const ap = importer(['apply', '--key', key, '--state', state, '--json', '--qr-text', '-'], fs.readFileSync(file, 'utf8'));
    expect(ap.code, ap.stderr).toBe(0);
    expect(JSON.parse(ap.stdout)).toMatchObject({ ok: true, status: 'applied', sequence: 2 });
    const ks = loadKeystore(path.join(state, 'keystore.json'));
    for (const secret of secrets.values()) expect(checkPresentedKey(ks, secret)).toMatchObject({ valid: false, reason: 'revoked' });
    // The same codes again: the importer's no-op, as for the file.
    expect(importer(['apply', '--key', key, '--state', state, '--qr-text', file]).code).toBe(0);
  }, 120_000);
});
