/**
 * Files the importer reads and writes (issue 15, D3, D6, D7 and keygen's
 * outputs), through the real `keyhold-import` bin in child processes:
 *
 * - every file it reads (bundle, trust root, private key, state files,
 *   standard input for `check`) goes through one bounded reader that refuses
 *   anything but a regular file once links are resolved, and stops at a
 *   per-kind limit while reading: a symlink to /dev/zero, a FIFO, a folder or
 *   a file one byte over the limit fails at once, with a clear code and
 *   bounded memory;
 * - a state directory or key folder that cannot be created (/proc/x) fails
 *   with PATH_NOT_WRITABLE instead of spinning; a missing folder is
 *   PATH_NOT_WRITABLE, never INTERNAL;
 * - keygen never overwrites: an existing file, a symlink (even dangling) or a
 *   folder at either output path is FILE_EXISTS, and nothing is written.
 *
 * Each child runs under a 2 GB address-space limit (prlimit), so a
 * regression aborts quickly instead of eating the machine's memory, and
 * reports its peak memory, which the tests bound.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync, execFileSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync, readdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_MAX_BUNDLE_BYTES, isImportError } from '../../importer/src/index.js';
import { READ_LIMITS, readFileBounded } from 'keyhold-format';
import { ensureImporterBuilt } from '../cli/run.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { fixture, makeBundle, type Fixture } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = pathToFileURL(join(ROOT, 'importer', 'dist', 'cli.js')).href;
// Runs the compiled CLI (as the bin does), then reports the peak resident memory on stderr.
const RUNNER = `const { main } = await import(${JSON.stringify(CLI)});
const code = await main(process.argv.slice(1));
process.stderr.write('\\nMAXRSS_KB ' + process.resourceUsage().maxRSS + '\\n');
process.exitCode = code;`;
const PRLIMIT = ['/usr/bin/prlimit', '/bin/prlimit'].find((p) => existsSync(p));
/** Peak memory a refusal may take: the runtime itself is ~60 MB; reading /dev/zero would be gigabytes. */
const MAX_RSS_KB = 300_000;

type Run = { code: number; out: string; err: string; rssKb: number; ms: number };

function cli(args: string[], opts: { stdinFd?: number; timeoutMs?: number } = {}): Run {
  const node = [process.execPath, '--input-type=module', '-e', RUNNER, '--', ...args];
  const [cmd, ...argv] = PRLIMIT ? [PRLIMIT, '--as=2000000000', ...node] : node;
  const t0 = Date.now();
  const r = spawnSync(cmd!, argv, {
    encoding: 'utf8',
    cwd: ROOT,
    timeout: opts.timeoutMs ?? 20_000,
    stdio: [opts.stdinFd ?? 'pipe', 'pipe', 'pipe'],
    input: opts.stdinFd === undefined ? '' : undefined,
    maxBuffer: 16 * 1024 * 1024,
  });
  const m = /MAXRSS_KB (\d+)/.exec(r.stderr ?? '');
  return { code: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? '', rssKb: m ? Number(m[1]) : Number.POSITIVE_INFINITY, ms: Date.now() - t0 };
}

/** A refusal: the exit code, the error code in the message, at once, in bounded memory. */
function expectRefused(r: Run, code: string, exit = 1): void {
  expect(r.err, `stderr: ${r.err.slice(0, 400)}`).toContain(`[${code}]`);
  expect(r.code).toBe(exit);
  expect(r.ms).toBeLessThan(15_000);
  expect(r.rssKb).toBeLessThan(MAX_RSS_KB);
}

let f: Fixture;
let tmp: TmpDir;
let dir: string;
let root: string;
let key: string;
let bundle: string;
let zero: string;
let fifo: string;

beforeAll(async () => {
  // The bin runs the compiled importer (CI builds it first; `npm run build -w keyhold-import` locally).
  ensureImporterBuilt();
  f = await fixture();
  tmp = makeTmpDir('kh-import-');
  dir = tmp.dir;
  root = join(dir, 'root.json');
  writeFileSync(root, f.trustText);
  key = join(dir, 'private.jwk');
  writeFileSync(key, JSON.stringify(f.recipient.privateJwk));
  const now = new Date();
  const b = await makeBundle(f, { issuedAt: new Date(now.getTime() - 60_000), expiresAt: new Date(now.getTime() + 86400_000) });
  bundle = join(dir, 'bundle.json');
  writeFileSync(bundle, b.text);
  zero = join(dir, 'zero');
  symlinkSync('/dev/zero', zero);
  fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
});
afterAll(() => tmp.remove());

describe('keyhold-import reads only regular files, and only up to a limit (D3)', () => {
  it('a symlink to /dev/zero as the bundle, trust root, key or state file fails at once with NOT_A_FILE', () => {
    expectRefused(cli(['verify', '--trust', root, '--recipient', f.recipient.recipientId, zero]), 'NOT_A_FILE');
    expectRefused(cli(['verify', '--trust', zero, bundle]), 'NOT_A_FILE');
    expectRefused(cli(['verify', '--trust', root, '--key', zero, bundle]), 'NOT_A_FILE');
    expectRefused(cli(['apply', '--trust', root, '--key', zero, '--state', join(dir, 'never'), bundle]), 'NOT_A_FILE');
    expectRefused(cli(['trust', 'show', zero]), 'NOT_A_FILE');
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });

  it('a FIFO (which would block a plain read forever) and a folder fail at once with NOT_A_FILE', () => {
    for (const p of [fifo, dir]) {
      expectRefused(cli(['verify', '--trust', root, '--recipient', f.recipient.recipientId, p]), 'NOT_A_FILE');
      expectRefused(cli(['trust', 'show', p]), 'NOT_A_FILE');
      expectRefused(cli(['verify', '--trust', root, '--key', p, bundle]), 'NOT_A_FILE');
    }
  });

  it('a file one byte over its limit is refused while reading, one at the limit is read', () => {
    // Real sparse files: stat would say the size, but the reader counts what it reads.
    const big = join(dir, 'big-bundle.json');
    closeSync(openSync(big, 'w'));
    truncateSync(big, DEFAULT_MAX_BUNDLE_BYTES + 1);
    expectRefused(cli(['verify', '--trust', root, big]), 'BUNDLE_TOO_LARGE');
    const small = join(dir, 'small-bundle.json');
    writeFileSync(small, 'x'.repeat(1001));
    expectRefused(cli(['verify', '--trust', root, '--max-bytes', '1000', small]), 'BUNDLE_TOO_LARGE');
    expectRefused(cli(['verify', '--trust', root, '--max-bytes', '1001', small]), 'BUNDLE_MALFORMED');

    const bigKey = join(dir, 'big.jwk');
    writeFileSync(bigKey, `${JSON.stringify(f.recipient.privateJwk)}${' '.repeat(READ_LIMITS.privateKey.maxBytes)}`.slice(0, READ_LIMITS.privateKey.maxBytes + 1));
    expectRefused(cli(['verify', '--trust', root, '--key', bigKey, bundle]), 'FILE_TOO_LARGE');
    const atLimit = join(dir, 'limit.jwk');
    writeFileSync(atLimit, `${JSON.stringify(f.recipient.privateJwk)}${' '.repeat(READ_LIMITS.privateKey.maxBytes)}`.slice(0, READ_LIMITS.privateKey.maxBytes));
    expect(cli(['verify', '--trust', root, '--key', atLimit, bundle]).code).toBe(0);

    const bigRoot = join(dir, 'big-root.json');
    closeSync(openSync(bigRoot, 'w'));
    truncateSync(bigRoot, 8 * 1024 ** 3); // 8 GiB of holes
    expectRefused(cli(['trust', 'show', bigRoot]), 'FILE_TOO_LARGE');
  });

  it('`check -` stops reading standard input at its limit (stdin from /dev/zero)', () => {
    const state = join(dir, 'state-check');
    expect(cli(['apply', '--trust', root, '--key', key, '--state', state, bundle]).code).toBe(0);
    const fd = openSync('/dev/zero', 'r');
    try {
      expectRefused(cli(['check', '--state', state, '-'], { stdinFd: fd }), 'FILE_TOO_LARGE');
    } finally {
      closeSync(fd);
    }
  });

  it('a state file replaced by a link to /dev/zero is a damaged state directory (STATE_INVALID), read no further', () => {
    const state = join(dir, 'state-zero');
    expect(cli(['apply', '--trust', root, '--key', key, '--state', state, bundle]).code).toBe(0);
    const gen = readlinkSync(join(state, 'current'));
    rmSync(join(state, gen, 'state.json'));
    symlinkSync('/dev/zero', join(state, gen, 'state.json'));
    const r = cli(['verify', '--state', state, bundle]);
    expectRefused(r, 'STATE_INVALID');
    expect(r.err).toMatch(/not a regular file/);
    rmSync(join(state, gen, 'state.json'));
    mkdirSync(join(state, gen, 'state.json'));
    expectRefused(cli(['verify', '--state', state, bundle]), 'STATE_INVALID');
  });

  it('the bounded reader itself: limits per kind, what it refuses, and /proc files whose stat size is 0', () => {
    const p = join(dir, 'exact');
    writeFileSync(p, 'abcd');
    expect(readFileBounded(p, { what: 'test', maxBytes: 4 }).toString()).toBe('abcd');
    const over = (() => {
      try {
        readFileBounded(p, { what: 'test', maxBytes: 3 });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(isImportError(over) && over.code).toBe('FILE_TOO_LARGE');
    expect(() => readFileBounded(zero, { what: 'test', maxBytes: 10 })).toThrow(expect.objectContaining({ code: 'NOT_A_FILE' }));
    expect(() => readFileBounded(fifo, { what: 'test', maxBytes: 10 })).toThrow(expect.objectContaining({ code: 'NOT_A_FILE' }));
    expect(() => readFileBounded(join(dir, 'missing'), { what: 'test', maxBytes: 10 })).toThrow(expect.objectContaining({ code: 'FILE_NOT_FOUND' }));
    const dangling = join(dir, 'dangling-in');
    symlinkSync(join(dir, 'nothing-here'), dangling);
    expect(() => readFileBounded(dangling, { what: 'test', maxBytes: 10 })).toThrow(expect.objectContaining({ code: 'FILE_NOT_FOUND' }));
    // stat says 0 bytes; the content is there and is read (stat is not what bounds or sizes the read).
    expect(readFileBounded('/proc/self/status', { what: 'test', maxBytes: 1 << 20 }).toString()).toMatch(/^Name:/);
    expect(() => readFileBounded('/proc/self/status', { what: 'test', maxBytes: 10 })).toThrow(expect.objectContaining({ code: 'FILE_TOO_LARGE' }));
  });
});

describe('paths that cannot be created or written (D6, D7)', () => {
  it('apply --state /proc/x and keygen --out /proc/x/ fail with PATH_NOT_WRITABLE instead of spinning', () => {
    const a = cli(['apply', '--trust', root, '--key', key, '--state', '/proc/keyhold-x', bundle], { timeoutMs: 15_000 });
    expectRefused(a, 'PATH_NOT_WRITABLE');
    expect(a.err).toMatch(/\/proc\/keyhold-x/);
    expectRefused(cli(['keygen', '--out', '/proc/keyhold-x/'], { timeoutMs: 15_000 }), 'PATH_NOT_WRITABLE');
    expectRefused(cli(['keygen', '--out', '/proc/keyhold-x/a/b/'], { timeoutMs: 15_000 }), 'PATH_NOT_WRITABLE');
  });

  it('keygen --out into a missing folder, or under a file, is PATH_NOT_WRITABLE (exit 1), never INTERNAL', () => {
    const r = cli(['keygen', '--out', '/missing-keyhold-folder/k.jwk']);
    expectRefused(r, 'PATH_NOT_WRITABLE');
    expect(r.err).not.toMatch(/INTERNAL|internal error/);
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    expectRefused(cli(['keygen', '--out', join(file, 'k.jwk')]), 'PATH_NOT_WRITABLE');
    expectRefused(cli(['keygen', '--out', join(dir, 'k.jwk'), '--public-out', join(dir, 'no-such-folder', 'k.pub.jwk')]), 'PATH_NOT_WRITABLE');
    expect(existsSync(join(dir, 'k.jwk'))).toBe(false);
    const j = cli(['keygen', '--json', '--out', '/missing-keyhold-folder/k.jwk']);
    expect(JSON.parse(j.out)).toMatchObject({ ok: false, error: { code: 'PATH_NOT_WRITABLE' } });
  });
});

describe('keygen never overwrites', () => {
  function outputs(): string {
    const d = join(dir, `kg-${Math.random().toString(36).slice(2)}`);
    mkdirSync(d);
    return d;
  }

  it('an existing file, a dangling symlink or a folder at --public-out: FILE_EXISTS, nothing written', () => {
    const d = outputs();
    writeFileSync(join(d, 'existing.pub.jwk'), 'keep me');
    symlinkSync(join(d, 'nowhere'), join(d, 'dangling.pub.jwk'));
    mkdirSync(join(d, 'folder.pub.jwk'));
    for (const target of ['existing.pub.jwk', 'dangling.pub.jwk', 'folder.pub.jwk']) {
      const r = cli(['keygen', '--out', join(d, 'k.jwk'), '--public-out', join(d, target)]);
      expectRefused(r, 'FILE_EXISTS');
      expect(existsSync(join(d, 'k.jwk'))).toBe(false);
    }
    expect(readFileSync(join(d, 'existing.pub.jwk'), 'utf8')).toBe('keep me');
    expect(readlinkSync(join(d, 'dangling.pub.jwk'))).toBe(join(d, 'nowhere'));
    expect(existsSync(join(d, 'nowhere'))).toBe(false);
    expect(lstatSync(join(d, 'folder.pub.jwk')).isDirectory()).toBe(true);
  });

  it('a dangling symlink or an existing file at --out, or at the default public path: FILE_EXISTS', () => {
    const d = outputs();
    symlinkSync(join(d, 'elsewhere.jwk'), join(d, 'link.jwk'));
    expectRefused(cli(['keygen', '--out', join(d, 'link.jwk')]), 'FILE_EXISTS');
    expect(lstatSync(join(d, 'link.jwk')).isSymbolicLink()).toBe(true);
    expect(existsSync(join(d, 'elsewhere.jwk'))).toBe(false);
    writeFileSync(join(d, 'k.pub.jwk'), 'keep me');
    expectRefused(cli(['keygen', '--out', join(d, 'k.jwk')]), 'FILE_EXISTS');
    expect(existsSync(join(d, 'k.jwk'))).toBe(false);
    expect(readFileSync(join(d, 'k.pub.jwk'), 'utf8')).toBe('keep me');
  });

  it('--out DIR/ with a public.jwk already there writes nothing; the same path twice is a usage error', () => {
    const d = outputs();
    writeFileSync(join(d, 'public.jwk'), 'keep me');
    expectRefused(cli(['keygen', '--out', `${d}/`]), 'FILE_EXISTS');
    expect(readdirSync(d)).toEqual(['public.jwk']);
    expectRefused(cli(['keygen', '--out', join(d, 'same.jwk'), '--public-out', join(d, 'same.jwk')]), 'USAGE', 2);
    const ok = cli(['keygen', '--out', join(d, 'new')  + '/', '--json']);
    expect(ok.code).toBe(0);
    expect(readdirSync(join(d, 'new')).sort()).toEqual(['private.jwk', 'public.jwk']);
    expect(lstatSync(join(d, 'new', 'private.jwk')).mode & 0o777).toBe(0o600);
  });
});

describe('a recipient id that starts with a dash', () => {
  it('is taken as the value of --recipient, not as a missing value (one id in 64 starts with "-")', async () => {
    const { generateRecipientKey } = await import('../../importer/src/index.js');
    let pair = await generateRecipientKey('X25519');
    while (!pair.recipientId.startsWith('-')) pair = await generateRecipientKey('X25519');
    const r = cli(['verify', '--trust', root, '--recipient', pair.recipientId, bundle]);
    expectRefused(r, 'BUNDLE_RECIPIENT');
  });
});
