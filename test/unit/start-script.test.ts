/**
 * build/start.mjs (`npm start`): its decisions as functions over real files
 * (the binary lookup, the offline zip location checked against
 * @electron/get's own code, the native module list read from the installed
 * addons, the stamp, whether out/ is current), the Node-API modules prepared
 * in a place of their own and loaded from there, and the script itself in a
 * child process on this machine, where there is no Electron binary and no
 * route to Electron's download site: it must say what to do, exit non-zero,
 * and leave the Node builds in node_modules as they were.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTmpDir, tmpDir } from '../helpers/tmp.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SCRIPT = path.join(ROOT, 'build/start.mjs');

type Env = Record<string, string | undefined>;
type Pkg = { name: string; version: string; dir: string };
type Addon = { file: string; kind: 'node-api' | 'abi'; abi: number | null };
type NativeModule = { name: string; version: string; packages: Pkg[]; addons: Addon[]; rebuild: boolean };
type Stamp = { format: number; electron: string; abi: number; platform: string; arch: string; modules: Record<string, { version: string; how: string; packages: Record<string, string> }> };
type StartScript = {
  STAMP_FILE: string;
  INSTALL_COMMAND: string;
  parseArgs: (argv: readonly string[]) => { prepareOnly: boolean; nativesOnly: boolean; build: boolean; download: boolean; rebuild: boolean; electronArgs: string[] };
  electronPackage: (root: string) => { version: string; dir: string } | null;
  findElectronBinary: (w: { root: string; env: Env }) => { path: string; from: string } | { missing: string; explicit: boolean };
  binaryVersion: (binary: string) => string | null;
  electronZipLocation: (w: { version: string; platform: string; arch: string; env: Env }) => { url: string; cacheRoot: string; dir: string; file: string; zip: string };
  addonInterface: (bytes: Buffer) => { kind: 'node-api' } | { kind: 'abi'; abi: number | null } | { kind: 'none' };
  nativeModules: (root: string) => NativeModule[];
  expectedStamp: (w: { electron: string; abi: number; platform: string; arch: string; modules: NativeModule[] }) => Stamp;
  stampDecision: (stamp: unknown, expected: Stamp, state?: { missingFiles?: readonly string[] }) => { rebuild: boolean; reason: string };
  electronAbi: (root: string, version: string) => Promise<number>;
  stageModules: (modules: readonly NativeModule[], nodeModulesDir: string) => void;
  checkPrepared: (dir: string, modules: readonly NativeModule[], t: { abi: number; platform: string; arch: string }) => string[];
  prepareNatives: (w: { root: string; cacheRoot: string; electron: string; abi: number; modules: NativeModule[]; force: boolean; env: Env; say: (l: string) => void }) => Promise<{ dir: string; stamp: Stamp; reused: boolean }>;
  installIntoMain: (w: { from: string; outMain: string; stamp: Stamp }) => boolean;
  buildFreshness: (root: string, sources?: readonly string[], outputs?: readonly string[]) => { fresh: boolean; reason: string };
};

// Loaded at the top, not in beforeAll: skipIf below reads it while the tests are collected.
const S = (await import(pathToFileURL(SCRIPT).href)) as StartScript;
const electronVersion = S.electronPackage(ROOT)!.version;
const electronAbiVersion = await S.electronAbi(ROOT, electronVersion);

/** Every addon file of the Node builds in node_modules, with its hash and mtime: what must not change. */
function nodeBuilds(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.node')) out.set(path.relative(ROOT, p), `${crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex')} ${fs.statSync(p).mtimeMs}`);
    }
  };
  for (const m of ['better-sqlite3', 'argon2', 'pkcs11js', '@node-usb']) walk(path.join(ROOT, 'node_modules', m));
  return out;
}

/** The Node builds load in Node and the CLI runs: what tests, the CLI and the bench rely on. */
function expectNodeBuildsWork(): void {
  const loaded = execFileSync(process.execPath, ['-e', `
    const Database = require('better-sqlite3'); const db = new Database(':memory:');
    require('argon2'); require('pkcs11js'); require('usb');
    process.stdout.write(String(db.prepare('select 1 + 1 as two').get().two));`], { cwd: ROOT, encoding: 'utf8' });
  expect(loaded).toBe('2');
  const version = execFileSync(process.execPath, [path.join(ROOT, 'electron/cli/keyhold.mjs'), '--version'], { cwd: ROOT, encoding: 'utf8' });
  expect(version.trim()).toMatch(/^\d+\.\d+\.\d+/);
}

/** The environment without npm's own settings (an `npm test` run passes its npm_config_* down). */
function cleanEnv(extra: Env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_(config|package)_/i.test(k) && !k.startsWith('ELECTRON_') && k !== 'electron_config_cache' && k !== 'KEYHOLD_ELECTRON_NATIVES') env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

function runScript(args: string[], env: Env): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { cwd: ROOT, env: cleanEnv(env), encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('options', () => {
  it('takes its own options before --, and passes what follows to Electron', () => {
    expect(S.parseArgs(['--prepare-only', '--no-download', '--', '--no-sandbox', '--enable-logging'])).toMatchObject({
      prepareOnly: true, download: false, build: true, rebuild: false, electronArgs: ['--no-sandbox', '--enable-logging'],
    });
    expect(() => S.parseArgs(['--no-sandbox'])).toThrow(/unknown option --no-sandbox/);
    expect(() => S.parseArgs(['--prepare-only', '--natives-only'])).toThrow(/exclude each other/);
  });
});

describe('finding the Electron binary', () => {
  it('uses ELECTRON_PATH when set, and only it', () => {
    const dir = tmpDir('keyhold-start-bin-');
    const exe = path.join(dir, 'electron');
    fs.writeFileSync(exe, '');
    expect(S.findElectronBinary({ root: ROOT, env: { ELECTRON_PATH: exe } })).toEqual({ path: exe, from: 'ELECTRON_PATH' });
    const missing = S.findElectronBinary({ root: ROOT, env: { ELECTRON_PATH: path.join(dir, 'nothing') } });
    expect(missing).toEqual({ missing: `ELECTRON_PATH=${path.join(dir, 'nothing')} is not a file`, explicit: true });
    expect(S.findElectronBinary({ root: ROOT, env: { ELECTRON_PATH: dir } })).toMatchObject({ explicit: true });
  });

  it("reads node_modules/electron's path.txt and dist/ as the installer leaves them", () => {
    const root = tmpDir('keyhold-start-root-');
    const pkgDir = path.join(root, 'node_modules/electron');
    expect(S.findElectronBinary({ root, env: {} })).toEqual({ missing: 'node_modules/electron is not installed (run npm ci)', explicit: false });
    fs.mkdirSync(pkgDir, { recursive: true });
    fs.writeFileSync(path.join(pkgDir, 'package.json'), JSON.stringify({ name: 'electron', version: electronVersion }));
    const noBinary = S.findElectronBinary({ root, env: {} });
    expect('missing' in noBinary && noBinary.missing).toMatch(/ELECTRON_SKIP_BINARY_DOWNLOAD/);
    fs.writeFileSync(path.join(pkgDir, 'path.txt'), 'electron');
    expect(S.findElectronBinary({ root, env: {} })).toEqual({ missing: 'node_modules/electron/dist/electron does not exist', explicit: false });
    fs.mkdirSync(path.join(pkgDir, 'dist'));
    fs.writeFileSync(path.join(pkgDir, 'dist/electron'), '');
    expect(S.findElectronBinary({ root, env: {} })).toEqual({ path: path.join(pkgDir, 'dist/electron'), from: 'node_modules/electron' });
  });

  it("reads the binary's version from the version file of Electron's release beside it", () => {
    const dir = tmpDir('keyhold-start-version-');
    expect(S.binaryVersion(path.join(dir, 'electron'))).toBeNull();
    fs.writeFileSync(path.join(dir, 'version'), '45.4.1');
    expect(S.binaryVersion(path.join(dir, 'electron'))).toBe('45.4.1');
    const app = path.join(dir, 'Electron.app/Contents/MacOS');
    fs.mkdirSync(app, { recursive: true });
    expect(S.binaryVersion(path.join(app, 'Electron'))).toBe('45.4.1');
  });
});

describe('the offline zip location', () => {
  type GetCache = { Cache: { getCacheDirectory: (url: string) => string } };
  type GetUrls = { getArtifactRemoteURL: (d: { version: string; artifactName: string; platform: string; arch: string }) => Promise<string> };

  it("is where @electron/get's cache looks, with and without a mirror or a cache folder", async () => {
    const dist = path.join(ROOT, 'node_modules/@electron/get/dist');
    const { Cache } = (await import(pathToFileURL(path.join(dist, 'Cache.js')).href)) as GetCache;
    const { getArtifactRemoteURL } = (await import(pathToFileURL(path.join(dist, 'artifact-utils.js')).href)) as GetUrls;
    const envPaths = ((await import(pathToFileURL(path.join(ROOT, 'node_modules/env-paths/index.js')).href)) as { default: (n: string, o: { suffix: string }) => { cache: string } }).default;
    const saved = { ELECTRON_MIRROR: process.env.ELECTRON_MIRROR };
    try {
      for (const mirror of [undefined, 'https://mirror.example/electron/']) {
        if (mirror === undefined) delete process.env.ELECTRON_MIRROR;
        else process.env.ELECTRON_MIRROR = mirror;
        const url = await getArtifactRemoteURL({ version: `v${electronVersion}`, artifactName: 'electron', platform: process.platform, arch: process.arch });
        const mine = S.electronZipLocation({ version: electronVersion, platform: process.platform, arch: process.arch, env: { ELECTRON_MIRROR: mirror } });
        expect(mine.url).toBe(url);
        expect(mine.cacheRoot).toBe(envPaths('electron', { suffix: '' }).cache);
        expect(mine.zip).toBe(path.join(envPaths('electron', { suffix: '' }).cache, Cache.getCacheDirectory(url), path.basename(url)));
        const inDir = S.electronZipLocation({ version: electronVersion, platform: process.platform, arch: process.arch, env: { ELECTRON_MIRROR: mirror, electron_config_cache: '/srv/electron-cache' } });
        expect(inDir.dir).toBe(path.join('/srv/electron-cache', Cache.getCacheDirectory(url)));
      }
    } finally {
      if (saved.ELECTRON_MIRROR === undefined) delete process.env.ELECTRON_MIRROR;
      else process.env.ELECTRON_MIRROR = saved.ELECTRON_MIRROR;
    }
  });
});

describe('the native modules main loads', () => {
  it('tells an addon built for one ABI from a Node-API addon by the symbols it carries', () => {
    const read = (rel: string): Buffer => fs.readFileSync(path.join(ROOT, 'node_modules', rel));
    expect(S.addonInterface(read('better-sqlite3/build/Release/better_sqlite3.node'))).toEqual({ kind: 'abi', abi: Number(process.versions.modules) });
    expect(S.addonInterface(read('pkcs11js/build/Release/pkcs11.node'))).toEqual({ kind: 'node-api' });
    expect(S.addonInterface(read('argon2/build/Release/argon2.node'))).toEqual({ kind: 'node-api' });
    // A SQLite extension, not a Node addon.
    expect(S.addonInterface(read('better-sqlite3/build/Release/test_extension.node'))).toEqual({ kind: 'none' });
  });

  it('are the dependencies with an addon: better-sqlite3 rebuilt for Electron, the Node-API ones copied', () => {
    const modules = S.nativeModules(ROOT);
    expect(modules.map((m) => m.name)).toEqual(['argon2', 'better-sqlite3', 'pkcs11js', 'usb']);
    expect(Object.fromEntries(modules.map((m) => [m.name, m.rebuild]))).toEqual({ argon2: false, 'better-sqlite3': true, pkcs11js: false, usb: false });
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const m of modules) {
      // A dependency, so electron-vite leaves it out of main's bundle and main loads it at run time.
      expect(pkg.dependencies[m.name]).toBeDefined();
      expect(m.addons.length).toBeGreaterThan(0);
    }
    // usb's addon is in its prebuilt platform package, which goes with it.
    const usb = modules.find((m) => m.name === 'usb')!;
    expect(usb.packages.map((p) => p.name)).toEqual(['usb', ...usb.addons.map((a) => a.file.split('/').slice(0, 2).join('/'))]);
    expect(usb.addons.every((a) => a.file.startsWith('@node-usb/'))).toBe(true);
  });

  it('are each imported by the code main runs (electron/main and electron/core)', () => {
    const sources: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.ts')) sources.push(fs.readFileSync(p, 'utf8'));
      }
    };
    walk(path.join(ROOT, 'electron/main'));
    walk(path.join(ROOT, 'electron/core'));
    const all = sources.join('\n');
    for (const m of S.nativeModules(ROOT)) {
      expect(all.includes(`from '${m.name}'`) || all.includes(`import('${m.name}')`), m.name).toBe(true);
    }
  });
});

describe('the stamp', () => {
  const modules = (): NativeModule[] => S.nativeModules(ROOT);
  const base = (): Stamp => S.expectedStamp({ electron: '45.5.0', abi: 150, platform: 'linux', arch: 'x64', modules: modules() });

  it('lets a build be reused only for the same Electron, platform, architecture and module versions', () => {
    const want = base();
    const same = JSON.parse(JSON.stringify({ ...want, preparedAt: '2026-12-03T00:00:00Z' })) as unknown;
    expect(S.stampDecision(same, want)).toEqual({ rebuild: false, reason: 'built for Electron 45.5.0 (ABI 150)' });
    expect(S.stampDecision(null, want)).toEqual({ rebuild: true, reason: 'not built yet' });
    expect(S.stampDecision({ ...want, format: 0 }, want).rebuild).toBe(true);
    expect(S.stampDecision({ ...want, electron: '45.4.0' }, want)).toEqual({ rebuild: true, reason: 'built for Electron 45.4.0, not 45.5.0' });
    expect(S.stampDecision({ ...want, abi: 140 }, want).rebuild).toBe(true);
    expect(S.stampDecision({ ...want, arch: 'arm64' }, want)).toEqual({ rebuild: true, reason: 'built for linux-arm64, not linux-x64' });
    const older = JSON.parse(JSON.stringify(want)) as Stamp;
    older.modules['better-sqlite3']!.version = '12.10.0';
    expect(S.stampDecision(older, want)).toEqual({ rebuild: true, reason: `better-sqlite3 12.10.0 is now ${want.modules['better-sqlite3']!.version}` });
    const fewer = JSON.parse(JSON.stringify(want)) as Stamp;
    delete fewer.modules.usb;
    expect(S.stampDecision(fewer, want)).toEqual({ rebuild: true, reason: 'usb is new' });
    const more = JSON.parse(JSON.stringify(want)) as Stamp;
    more.modules.sharp = { version: '1.0.0', how: 'rebuilt', packages: { sharp: '1.0.0' } };
    expect(S.stampDecision(more, want)).toEqual({ rebuild: true, reason: 'sharp is no longer a dependency' });
    expect(S.stampDecision(same, want, { missingFiles: ['x/node_modules/argon2/package.json'] })).toEqual({ rebuild: true, reason: 'x/node_modules/argon2/package.json is missing' });
  });
});

describe('whether out/ is current', () => {
  it('is not when an output is missing or a source is newer than the oldest output', () => {
    const root = tmpDir('keyhold-start-fresh-');
    const write = (rel: string, at: number): void => {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), rel);
      fs.utimesSync(path.join(root, rel), at, at);
    };
    const t = Math.floor(Date.now() / 1000) - 1000;
    write('electron/main/index.ts', t);
    write('renderer/src/App.tsx', t + 10);
    write('renderer/node_modules/x/index.js', t + 500);
    write('out/main/index.js', t + 20);
    const sources = ['electron/main', 'renderer'];
    expect(S.buildFreshness(root, sources, ['out/main/index.js', 'out/renderer/index.html'])).toEqual({ fresh: false, reason: 'out/renderer/index.html does not exist' });
    write('out/renderer/index.html', t + 30);
    expect(S.buildFreshness(root, sources, ['out/main/index.js', 'out/renderer/index.html'])).toEqual({ fresh: true, reason: 'out/ is newer than every source' });
    write('renderer/src/App.tsx', t + 25);
    expect(S.buildFreshness(root, sources, ['out/main/index.js', 'out/renderer/index.html'])).toEqual({ fresh: false, reason: `${path.join('renderer', 'src', 'App.tsx')} changed since the last build` });
  });
});

describe('a place of their own', () => {
  // Under the repository (as out/main is), so that the modules' pure-JavaScript dependencies
  // (node-gyp-build, bindings, ...) resolve from node_modules the way they do for main.
  let scratch: string;
  beforeAll(() => {
    fs.mkdirSync(path.join(ROOT, 'node_modules/.cache'), { recursive: true });
    scratch = fs.mkdtempSync(path.join(ROOT, 'node_modules/.cache/keyhold-start-test-'));
  });
  afterAll(() => {
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('holds the Node-API modules, prepared once, reused by stamp, and loaded by a script beside it rather than node_modules', async () => {
    const before = nodeBuilds();
    const modules = S.nativeModules(ROOT).filter((m) => !m.rebuild);
    const lines: string[] = [];
    const args = { root: ROOT, cacheRoot: path.join(scratch, 'cache'), electron: electronVersion, abi: electronAbiVersion, modules, force: false, env: {}, say: (l: string) => lines.push(l) };
    const first = await S.prepareNatives(args);
    expect(first.reused).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(first.dir, S.STAMP_FILE), 'utf8'))).toMatchObject(first.stamp);
    expect(fs.readdirSync(path.dirname(first.dir))).toEqual([path.basename(first.dir)]);
    const second = await S.prepareNatives(args);
    expect(second.reused).toBe(true);
    expect(lines.at(-1)).toMatch(/reused from/);

    const outMain = path.join(scratch, 'out/main');
    fs.mkdirSync(outMain, { recursive: true });
    expect(S.installIntoMain({ from: first.dir, outMain, stamp: first.stamp })).toBe(true);
    expect(S.installIntoMain({ from: first.dir, outMain, stamp: first.stamp })).toBe(false);
    // --rebuild prepares afresh: the copy in out/main follows even though the stamp reads the same.
    expect((await S.prepareNatives({ ...args, force: true })).reused).toBe(false);
    expect(S.installIntoMain({ from: first.dir, outMain, stamp: first.stamp })).toBe(true);
    expect(S.installIntoMain({ from: first.dir, outMain, stamp: first.stamp })).toBe(false);
    expect(S.checkPrepared(path.join(outMain, 'node_modules'), modules, { abi: electronAbiVersion, platform: process.platform, arch: process.arch })).toEqual([]);

    fs.writeFileSync(path.join(outMain, 'probe.mjs'), `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const argon2 = await import('argon2');
      const hash = await argon2.hash('probe', { memoryCost: 19456, timeCost: 2, parallelism: 1 });
      await import('pkcs11js');
      await import('usb');
      process.stdout.write(JSON.stringify({
        verified: await argon2.verify(hash, 'probe'),
        resolved: ['argon2', 'pkcs11js', 'usb'].map((m) => require.resolve(m)),
        addons: Object.keys(require.cache).filter((k) => k.endsWith('.node')),
      }));`);
    const probe = JSON.parse(execFileSync(process.execPath, [path.join(outMain, 'probe.mjs')], { cwd: ROOT, encoding: 'utf8' })) as { verified: boolean; resolved: string[]; addons: string[] };
    expect(probe.verified).toBe(true);
    const own = path.join(outMain, 'node_modules') + path.sep;
    expect(probe.resolved.every((p) => p.startsWith(own))).toBe(true);
    expect(probe.addons.length).toBe(3);
    expect(probe.addons.every((p) => p.startsWith(own))).toBe(true);
    expect(nodeBuilds()).toEqual(before);
  });

  it("refuses an addon built for Node's ABI as the Electron build", () => {
    const modules = S.nativeModules(ROOT).filter((m) => m.name === 'better-sqlite3');
    const dir = path.join(scratch, 'node-build/node_modules');
    fs.cpSync(path.join(ROOT, 'node_modules/better-sqlite3'), path.join(dir, 'better-sqlite3'), { recursive: true });
    const target = { platform: process.platform, arch: process.arch };
    expect(S.checkPrepared(dir, modules, { abi: electronAbiVersion, ...target })).toEqual([
      `better-sqlite3/build/Release/better_sqlite3.node is built for ABI ${process.versions.modules}, not Electron's ${electronAbiVersion}`,
    ]);
    expect(S.checkPrepared(dir, modules, { abi: Number(process.versions.modules), ...target })).toEqual([]);
    // Staged for a rebuild, the module goes without its build: a failed rebuild leaves no addon, not the Node one.
    const staged = path.join(scratch, 'staged/node_modules');
    S.stageModules(modules, staged);
    expect(fs.existsSync(path.join(staged, 'better-sqlite3/binding.gyp'))).toBe(true);
    expect(fs.existsSync(path.join(staged, 'better-sqlite3/build'))).toBe(false);
    expect(S.checkPrepared(staged, modules, { abi: electronAbiVersion, ...target })).toEqual(['better-sqlite3 has no addon']);
  });
});

describe('npm start where there is no Electron binary', () => {
  const present = (): boolean => !('missing' in S.findElectronBinary({ root: ROOT, env: {} }));
  const outMainModules = path.join(ROOT, 'out/main/node_modules');

  it('with ELECTRON_PATH naming nothing: exits 1 with what to do, before building or copying anything', () => {
    const tmp = makeTmpDir('keyhold-start-run-');
    try {
      const before = nodeBuilds();
      const hadOutModules = fs.existsSync(outMainModules);
      const r = runScript([], { ELECTRON_PATH: path.join(tmp.dir, 'no-electron'), KEYHOLD_ELECTRON_NATIVES: path.join(tmp.dir, 'natives'), electron_config_cache: path.join(tmp.dir, 'electron-cache') });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`no Electron binary: ELECTRON_PATH=${path.join(tmp.dir, 'no-electron')} is not a file`);
      expect(r.stderr).toContain('ELECTRON_PATH=/path/to/electron npm start');
      expect(r.stderr).toContain(S.INSTALL_COMMAND);
      const zip = S.electronZipLocation({ version: electronVersion, platform: process.platform, arch: process.arch, env: { electron_config_cache: path.join(tmp.dir, 'electron-cache') } });
      expect(r.stderr).toContain(`cp ${zip.file} "${zip.dir}/"`);
      // ELECTRON_PATH was given: the installer is not run in its place.
      expect(r.stdout).not.toContain('installer');
      expect(fs.existsSync(path.join(tmp.dir, 'natives'))).toBe(false);
      expect(fs.existsSync(outMainModules)).toBe(hadOutModules);
      expect(nodeBuilds()).toEqual(before);
      expectNodeBuildsWork();
    } finally {
      tmp.remove();
    }
  });

  it.skipIf(present())('with no binary installed: runs the installer, which cannot download here, and says what to do', () => {
    const tmp = makeTmpDir('keyhold-start-run-');
    try {
      const before = nodeBuilds();
      const electronDir = path.join(ROOT, 'node_modules/electron');
      const electronFiles = fs.readdirSync(electronDir).sort();
      // An empty installer cache and a mirror on a closed local port: the download fails the same
      // way wherever this runs, instead of fetching 100 MB on a connected machine.
      const r = runScript([], { ELECTRON_MIRROR: 'http://127.0.0.1:9/', electron_config_cache: path.join(tmp.dir, 'electron-cache'), KEYHOLD_ELECTRON_NATIVES: path.join(tmp.dir, 'natives') });
      expect(r.status).toBe(1);
      expect(r.stdout).toContain(`running Electron's installer: ${S.INSTALL_COMMAND}`);
      expect(r.stderr).toMatch(new RegExp(`installer could not get Electron ${electronVersion.replaceAll('.', '\\.')}: .+`));
      expect(r.stderr).toContain('ELECTRON_PATH=/path/to/electron npm start');
      expect(r.stderr).toContain('ELECTRON_MIRROR=');
      expect(r.stderr).toContain('electron_config_cache=DIR');
      expect(fs.readdirSync(electronDir).sort()).toEqual(electronFiles);
      expect(fs.existsSync(path.join(tmp.dir, 'natives'))).toBe(false);
      expect(nodeBuilds()).toEqual(before);
      expectNodeBuildsWork();
    } finally {
      tmp.remove();
    }
  });

  it('--natives-only, where Electron\'s headers cannot be had: exits 1 naming the offline way, keeps nothing, changes no Node build', () => {
    const tmp = makeTmpDir('keyhold-start-run-');
    try {
      const before = nodeBuilds();
      const headers = path.join(tmp.dir, 'no-headers');
      fs.mkdirSync(headers);
      // No prebuilt binary (a closed local port, an empty npm cache for prebuild-install) and a
      // headers folder without headers: the rebuild fails here as it does on an offline machine.
      const r = runScript(['--natives-only'], {
        KEYHOLD_ELECTRON_NATIVES: path.join(tmp.dir, 'natives'),
        npm_config_nodedir: headers,
        npm_config_better_sqlite3_binary_host: 'http://127.0.0.1:9',
        npm_config_cache: path.join(tmp.dir, 'npm-cache'),
      });
      expect(r.status).toBe(1);
      expect(r.stdout).toContain('argon2');
      expect(r.stdout).toMatch(/better-sqlite3: built against one ABI, rebuilding for Electron/);
      expect(r.stderr).toContain(`better-sqlite3 could not be built for Electron ${electronVersion}`);
      expect(r.stderr).toContain(`https://www.electronjs.org/headers/v${electronVersion}/node-v${electronVersion}-headers.tar.gz`);
      expect(r.stderr).toContain(`npm_config_nodedir=${headers} is set`);
      expect(r.stderr).toContain('The Node builds in node_modules were not changed');
      // Neither a cache entry nor its staging folder is left: a failed build is never reused.
      expect(fs.readdirSync(path.join(tmp.dir, 'natives'))).toEqual([]);
      expect(nodeBuilds()).toEqual(before);
      expectNodeBuildsWork();
    } finally {
      tmp.remove();
    }
  });
});
