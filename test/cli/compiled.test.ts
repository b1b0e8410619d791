/**
 * The compiled `keyhold` command (out/cli, `npm run build:cli`):
 * - which.mjs runs it only when it was built from the current sources, and
 *   the sources through tsx otherwise (missing build, a file edited or gone);
 * - its start loads no native module, zod or jose (the program and the core
 *   are chunks of their own, loaded when needed);
 * - it prints exactly what the sources print, help, errors and a real vault's
 *   results alike.
 * Those two are checked on a build of its own, made here from the sources as
 * they are (out/cli, which the other CLI tests run, may be older while a
 * developer edits; under CI test/cli/run.ts insists that it is current).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tmpDir } from '../helpers/tmp.js';
import { chooseCli, keyhold, ROOT, runScript, type Run } from './run.js';

/** A repository of its own: out/cli/keyhold.js and sources.json built at `builtAt`, from the files given with their times. */
function fakeBuild(files: Record<string, number>, builtAt: number): string {
  const root = tmpDir('keyhold-which-');
  fs.mkdirSync(path.join(root, 'out/cli'), { recursive: true });
  fs.writeFileSync(path.join(root, 'out/cli/keyhold.js'), 'export async function main() { return 0; }\n');
  fs.writeFileSync(path.join(root, 'out/cli/sources.json'), JSON.stringify({ builtAt, files: Object.keys(files) }));
  for (const [f, mtime] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), '// source\n');
    fs.utimesSync(path.join(root, f), mtime / 1000, mtime / 1000);
  }
  return root;
}

describe('which keyhold runs (electron/cli/which.mjs)', () => {
  const built = Date.parse('2027-03-01T12:00:00Z');
  const before = built - 60_000;

  it('runs the compiled CLI when no source changed since the build', () => {
    const root = fakeBuild({ 'electron/cli/main.ts': before, 'package.json': before }, built);
    expect(chooseCli({ root, env: {} })).toEqual({ use: 'compiled', why: 'out/cli is built from the current sources',
      entry: path.join(root, 'out/cli/keyhold.js') });
  });

  it('runs the sources when one was edited after the build, naming it', () => {
    const root = fakeBuild({ 'electron/cli/main.ts': before, 'electron/core/service.ts': built + 1000 }, built);
    expect(chooseCli({ root, env: {} })).toEqual({ use: 'source',
      why: 'electron/core/service.ts changed since out/cli was built (npm run build)', entry: path.join(root, 'electron/cli/main.ts') });
  });

  it('runs the sources when a file the build used is gone, or nothing is built', () => {
    const root = fakeBuild({ 'electron/cli/main.ts': before, 'electron/cli/old.ts': before }, built);
    fs.rmSync(path.join(root, 'electron/cli/old.ts'));
    expect(chooseCli({ root, env: {} })).toMatchObject({ use: 'source', why: 'electron/cli/old.ts is gone since out/cli was built (npm run build)' });
    fs.rmSync(path.join(root, 'out/cli/keyhold.js'));
    expect(chooseCli({ root, env: {} })).toMatchObject({ use: 'source', why: 'out/cli is not built (npm run build)' });
    fs.rmSync(path.join(root, 'out'), { recursive: true });
    expect(chooseCli({ root, env: {} })).toMatchObject({ use: 'source', why: 'out/cli is not built (npm run build)' });
  });

  it('takes KEYHOLD_CLI=source or KEYHOLD_CLI=compiled over what the files say', () => {
    const fresh = fakeBuild({ 'electron/cli/main.ts': before }, built);
    expect(chooseCli({ root: fresh, env: { KEYHOLD_CLI: 'source' } })).toMatchObject({ use: 'source', why: 'KEYHOLD_CLI=source' });
    const stale = fakeBuild({ 'electron/cli/main.ts': built + 1000 }, built);
    expect(chooseCli({ root: stale, env: { KEYHOLD_CLI: 'compiled' } })).toMatchObject({ use: 'compiled', why: 'KEYHOLD_CLI=compiled' });
  });
});

describe('the keyhold command without tsx (an install without devDependencies)', () => {
  /** keyhold.mjs and which.mjs in a folder of their own, where no node_modules (so no tsx) is found, and a stand-in build. */
  function install(o: { built: boolean; stale: boolean }): string {
    const root = tmpDir('keyhold-notsx-');
    fs.mkdirSync(path.join(root, 'electron/cli'), { recursive: true });
    for (const f of ['keyhold.mjs', 'which.mjs']) fs.copyFileSync(path.join(ROOT, 'electron/cli', f), path.join(root, 'electron/cli', f));
    fs.writeFileSync(path.join(root, 'electron/cli/main.ts'), '// the sources\n');
    if (o.built) {
      fs.mkdirSync(path.join(root, 'out/cli'), { recursive: true });
      fs.writeFileSync(path.join(root, 'out/cli/keyhold.js'),
        "export async function main(argv) { process.stdout.write(`compiled ${argv.join(' ')}\\n`); return 3; }\n");
      const builtAt = Date.now() + (o.stale ? -60_000 : 60_000);
      fs.writeFileSync(path.join(root, 'out/cli/sources.json'), JSON.stringify({ builtAt, files: ['electron/cli/main.ts'] }));
    }
    return path.join(root, 'electron/cli/keyhold.mjs');
  }

  it('runs a current build, passing its arguments and exit code through', () => {
    const r = runScript(install({ built: true, stale: false }), ['key', 'list'], { KEYHOLD_DEBUG: '1' });
    expect(r).toEqual({ code: 3, stdout: 'compiled key list\n',
      stderr: 'keyhold: running the compiled CLI: out/cli is built from the current sources\n' });
  });

  it('runs a stale build with a warning naming what changed', () => {
    const r = runScript(install({ built: true, stale: true }), ['info'], {});
    expect(r).toEqual({ code: 3, stdout: 'compiled info\n', stderr: 'keyhold: warning: running the compiled CLI, which may be older ' +
      'than its sources (electron/cli/main.ts changed since out/cli was built (npm run build)); tsx is not installed to run them\n' });
  });

  it('fails with exit 1 and a hint when nothing is built', () => {
    const bin = install({ built: false, stale: false });
    for (const env of [{}, { KEYHOLD_CLI: 'compiled' }]) {
      const r = runScript(bin, ['info'], env);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^keyhold: the CLI is not built \(out\/cli is missing\)( and tsx is not installed to run its sources)?\n {2}hint: Run `npm run build`\.\n$/);
    }
  });
});

/**
 * A build of the CLI from the sources as they are now, of its own (out/cli-test-*, beside out/cli so that
 * node_modules and package.json resolve as they do from out/cli), with a two-line runner.
 */
let build: string;
beforeAll(() => {
  fs.mkdirSync(path.join(ROOT, 'out'), { recursive: true });
  build = fs.mkdtempSync(path.join(ROOT, 'out', 'cli-test-'));
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '-c', 'build/cli.vite.config.ts',
    '--outDir', build], { cwd: ROOT, stdio: 'pipe', timeout: 300_000 });
  fs.writeFileSync(path.join(build, 'run.mjs'), "import { main } from './keyhold.js';\nprocess.exitCode = await main(process.argv.slice(2));\n");
}, 300_000);
afterAll(() => {
  fs.rmSync(build, { recursive: true, force: true });
});

describe('the compiled CLI (npm run build:cli)', () => {
  it('lists the files it was built from', () => {
    const built = JSON.parse(fs.readFileSync(path.join(build, 'sources.json'), 'utf8')) as { builtAt: number; files: string[] };
    expect(built.builtAt).toBeLessThanOrEqual(Date.now());
    expect(built.files).toEqual(expect.arrayContaining(['electron/cli/main.ts', 'electron/cli/engine.ts', 'electron/core/service.ts',
      'shared/errors.ts', 'package.json', 'package-lock.json']));
    expect(built.files.filter((f) => f.includes('node_modules') || path.isAbsolute(f) || f.startsWith('..'))).toEqual([]);
  });

  it('loads no native module, zod or jose before a command runs', () => {
    // keyhold.js answers --version and loads program.js (commander and the commands), which loads engine.js (the core) to run one.
    const files = { entry: 'keyhold.js', program: 'program.js', engine: 'engine.js' };
    const text = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, fs.readFileSync(path.join(build, f), 'utf8')]));
    expect(text.entry).toMatch(/import\("\.\/program\.js"\)/);
    expect(text.program).toMatch(/import\("\.\/engine\.js"\)/);
    for (const part of [text.entry, text.program] as string[]) {
      // Static imports: Node built-ins only.
      const imports = [...part.matchAll(/^import\s[^;]*?from\s*"([^"]+)";?$/gm)].map((m) => m[1]);
      expect(imports.length).toBeGreaterThan(0);
      expect(imports.filter((m) => !m?.startsWith('node:'))).toEqual([]);
      // What the bundler put in it, by source path: the command line, not the core.
      for (const heavy of ['node_modules/zod/', 'node_modules/jose/', 'electron/core/service.ts', 'electron/core/vault/']) {
        expect(part).not.toContain(`// ${heavy}`);
      }
    }
    expect(text.entry).not.toContain('// node_modules/commander/');
    for (const native of ['better-sqlite3', 'argon2', 'pkcs11js']) expect(text.engine).toContain(`from "${native}"`);
  });

  it('prints what the sources print: help, usage errors, a vault\'s results', () => {
    const dir = tmpDir('keyhold-compiled-');
    const env = { KEYHOLD_PASSPHRASE: 'compiled cli test passphrase' };
    const VAULT = '<vault>';
    const runs: [string[], Record<string, string>][] = [
      [['--version'], {}],
      [['--help'], {}],
      [['key', 'rotate', '--help'], {}],
      [['key', 'create', '--name', 'x'], {}],
      [['--json', 'info'], {}],
      [['audit', 'verify', '--file', path.join(dir, 'missing.jsonl')], {}],
      [['--vault', VAULT, 'init', '--kdf-memory', '19', '--kdf-passes', '2', '--kdf-parallelism', '1'], env],
      [['--vault', VAULT, 'key', 'create', '--name', 'gateway', '--service', 'payments', '--scopes', 'a,b'], env],
      [['--vault', VAULT, 'policy', 'show', '--service', 'payments'], env],
      [['--vault', VAULT, 'key', 'revoke', 'payments/production/gateway', '--reason', 'retired'], env],
      [['--vault', VAULT, 'key', 'revoke', 'payments/production/gateway', '--reason', 'retired', '--yes'], env],
      [['--vault', VAULT, '--json', 'key', 'list'], env],
      [['--vault', VAULT, 'audit', 'list'], env],
    ];
    // Vault ids, key ids, times and durations differ between two vaults; everything else is the same text.
    const maskText = (t: string, vault: string) => t.replaceAll(vault, VAULT)
      .replace(/("tookMs": )[\d.e+-]+/g, '$1MS')
      .replace(/in [\d.]+ ms/g, 'in MS ms')
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'UUID')
      .replace(/\b[0-9A-Za-z]{16}\b/g, 'ID')
      .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'TIME');
    const mask = (r: Run, vault: string) => ({ code: r.code, stdout: maskText(r.stdout, vault), stderr: maskText(r.stderr, vault) });
    // The same commands on two vaults: the sources through the keyhold command, and this build.
    const [source, compiled] = [path.join(dir, 's.db'), path.join(dir, 'c.db')];
    for (const [args, e] of runs) {
      const on = (v: string) => args.map((a) => (a === VAULT ? v : a));
      const s = keyhold(on(source), { ...e, KEYHOLD_CLI: 'source' });
      const c = runScript(path.join(build, 'run.mjs'), on(compiled), e);
      expect(mask(c, compiled), `keyhold ${args.join(' ')}`).toEqual(mask(s, source));
      expect(c.code, `keyhold ${args.join(' ')}: ${c.stderr}`).not.toBe(1);
    }
  });
});
