#!/usr/bin/env node
/**
 * `npm start`: the real desktop app, unpackaged, in one command.
 *
 *   node build/start.mjs [options] [-- <arguments for Electron>]
 *
 * 1. Finds the Electron binary: ELECTRON_PATH, else node_modules/electron's
 *    own (path.txt + dist/, read here as test/e2e/app.ts reads it: never
 *    `require('electron')`, which starts a download). With neither, runs the
 *    electron package's installer (node_modules/electron/install.js, with
 *    ELECTRON_SKIP_BINARY_DOWNLOAD unset); where that fails too, says exactly
 *    what to do and exits 1 before anything is built or copied.
 * 2. Builds the native modules main loads (the package.json dependencies with
 *    a Node addon: better-sqlite3, argon2, pkcs11js, usb) for that Electron,
 *    in a folder of their own: node_modules/.cache/keyhold-electron/<key>/
 *    (KEYHOLD_ELECTRON_NATIVES moves it). An addon written against V8 and
 *    Node's internals (better-sqlite3) is rebuilt there with @electron/rebuild
 *    (a prebuilt binary for this Electron, else a compile against Electron's
 *    headers); a Node-API addon (argon2, pkcs11js, usb) is ABI-stable, so its
 *    Node build is copied as is. Which is which is read from each .node file,
 *    and every result is checked the same way (the rebuilt addon must register
 *    Electron's ABI) before a stamp file records it; the next run reuses it
 *    while the stamp matches this Electron version, platform, architecture and
 *    module versions. node_modules itself is only read: the Node builds that
 *    the tests, the CLI and the bench load stay as they are.
 * 3. Runs `electron-vite build` unless out/ is newer than every source (and
 *    `npm run build -w keyhold-format` first when format/src is newer than
 *    format/dist), copies the Electron builds into out/main/node_modules (Node
 *    resolves main's imports there first, and nothing else is under out/main;
 *    electron-vite empties out/main at each build, hence the copy after it),
 *    and starts the binary on the app folder, as `electron-vite preview` did.
 *
 * Options:
 *   --prepare-only  steps 1 to 3 without starting: for KEYHOLD_E2E_ELECTRON=1
 *   --natives-only  only step 2, into the cache; needs no binary (builds for
 *                   the electron package's version, or ELECTRON_PATH's)
 *   --no-build      use out/ as it is
 *   --no-download   never run Electron's installer
 *   --rebuild       rebuild the native modules even when the stamp matches
 *
 * The functions exported here are the decisions (which binary, which modules,
 * whether a build is current); test/unit/start-script.test.ts imports them.
 */
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = path.resolve(import.meta.dirname, '..');
/** The stamp beside a prepared set of modules (in the cache and in out/main/node_modules). */
export const STAMP_FILE = '.keyhold-electron-natives.json';
/** Bumped when what this script puts in a prepared folder changes: older stamps then rebuild. */
export const STAMP_FORMAT = 1;
export const INSTALL_COMMAND = 'node node_modules/electron/install.js';
/** node-gyp's leftovers under build/<config>/, not needed to load an addon (object files, dependency lists). */
const BUILD_LEFTOVERS = new Set(['obj', 'obj.target', '.deps']);

const USAGE = `Usage: node build/start.mjs [--prepare-only | --natives-only] [--no-build] [--no-download] [--rebuild] [-- <Electron arguments>]
  (npm start runs it; npm start -- -- <Electron arguments> passes arguments to Electron)

  --prepare-only  find Electron, build the app and its native modules for Electron, do not start
  --natives-only  only build the native modules for Electron (into the cache), no binary needed
  --no-build      start out/ as it is, without electron-vite build
  --no-download   do not run Electron's installer when no binary is found
  --rebuild       rebuild the native modules for Electron even if they are current

Environment: ELECTRON_PATH (an Electron binary), ELECTRON_MIRROR and electron_config_cache
(for the installer), npm_config_nodedir (Electron's headers, offline), KEYHOLD_ELECTRON_NATIVES
(the cache of Electron builds; default node_modules/.cache/keyhold-electron).
`;

// ---- options -----------------------------------------------------------------

/**
 * @param {readonly string[]} argv
 * @returns {{ prepareOnly: boolean, nativesOnly: boolean, build: boolean, download: boolean, rebuild: boolean, help: boolean, electronArgs: string[] }}
 */
export function parseArgs(argv) {
  const dashdash = argv.indexOf('--');
  const own = dashdash < 0 ? argv : argv.slice(0, dashdash);
  const opts = { prepareOnly: false, nativesOnly: false, build: true, download: true, rebuild: false, help: false, electronArgs: dashdash < 0 ? [] : argv.slice(dashdash + 1) };
  for (const a of own) {
    if (a === '--prepare-only') opts.prepareOnly = true;
    else if (a === '--natives-only') opts.nativesOnly = true;
    else if (a === '--no-build') opts.build = false;
    else if (a === '--no-download') opts.download = false;
    else if (a === '--rebuild') opts.rebuild = true;
    else if (a === '-h' || a === '--help') opts.help = true;
    else throw new UsageError(`unknown option ${a}`);
  }
  if (opts.prepareOnly && opts.nativesOnly) throw new UsageError('--prepare-only and --natives-only exclude each other');
  return opts;
}

class UsageError extends Error {}

// ---- 1. the Electron binary --------------------------------------------------

/**
 * The electron package as installed: its version and folder. Read from its
 * package.json: requiring the package would start a download.
 * @param {string} root
 * @returns {{ version: string, dir: string } | null}
 */
export function electronPackage(root) {
  const dir = path.join(root, 'node_modules/electron');
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    return typeof pkg.version === 'string' ? { version: pkg.version, dir } : null;
  } catch {
    return null;
  }
}

/**
 * Where the Electron binary is, the same way test/e2e/app.ts's electronBinary()
 * looks: ELECTRON_PATH if set (and then only there), else the binary the
 * electron package's installer put in node_modules/electron/dist (path.txt
 * names it).
 * @param {{ root: string, env: Record<string, string | undefined> }} where
 * @returns {{ path: string, from: 'ELECTRON_PATH' | 'node_modules/electron' } | { missing: string, explicit: boolean }}
 */
export function findElectronBinary({ root, env }) {
  const fromEnv = env.ELECTRON_PATH;
  if (fromEnv) {
    const p = path.resolve(fromEnv);
    return fs.existsSync(p) && fs.statSync(p).isFile() ? { path: p, from: 'ELECTRON_PATH' } : { missing: `ELECTRON_PATH=${fromEnv} is not a file`, explicit: true };
  }
  const dir = path.join(root, 'node_modules/electron');
  if (!fs.existsSync(path.join(dir, 'package.json'))) return { missing: 'node_modules/electron is not installed (run npm ci)', explicit: false };
  const pathTxt = path.join(dir, 'path.txt');
  if (!fs.existsSync(pathTxt)) return { missing: 'node_modules/electron has no binary (it was installed with ELECTRON_SKIP_BINARY_DOWNLOAD, or its download failed)', explicit: false };
  const exe = path.join(dir, 'dist', fs.readFileSync(pathTxt, 'utf8').trim());
  return fs.existsSync(exe) ? { path: exe, from: 'node_modules/electron' } : { missing: `${path.relative(root, exe)} does not exist`, explicit: false };
}

/**
 * The version of an Electron binary: the `version` file Electron's release zip
 * puts beside it (beside Electron.app on macOS); null without one. (The binary
 * is not asked: run with ELECTRON_RUN_AS_NODE it answers, but a build whose
 * RunAsNode fuse is off would start its app instead.)
 * @param {string} binary
 * @returns {string | null}
 */
export function binaryVersion(binary) {
  let dir = path.dirname(binary);
  if (/\.app\/Contents\/MacOS$/.test(dir)) dir = path.resolve(dir, '../../..');
  try {
    const v = fs.readFileSync(path.join(dir, 'version'), 'utf8').trim().replace(/^v/, '');
    return /^\d+\.\d+\.\d+/.test(v) ? v : null;
  } catch {
    return null;
  }
}

/**
 * The default cache folder of @electron/get (env-paths' cache folder for "electron").
 * @param {Record<string, string | undefined>} env
 * @param {NodeJS.Platform} platform
 */
function defaultElectronCacheRoot(env, platform) {
  const home = os.homedir();
  if (platform === 'darwin') return path.join(home, 'Library/Caches/electron');
  if (platform === 'win32') return path.join(env.LOCALAPPDATA || path.join(home, 'AppData/Local'), 'electron/Cache');
  return path.join(env.XDG_CACHE_HOME || path.join(home, '.cache'), 'electron');
}

/**
 * Where Electron's installer looks for the release zip before downloading it
 * (@electron/get's cache: the cache root, then the SHA-256 of the download
 * URL's folder, then the file name), so that a zip carried over from a
 * connected machine can be put there and installed offline. The installer
 * checks it against node_modules/electron/checksums.json either way.
 * @param {{ version: string, platform: string, arch: string, env: Record<string, string | undefined> }} what
 * @returns {{ url: string, cacheRoot: string, dir: string, file: string, zip: string }}
 */
export function electronZipLocation({ version, platform, arch, env }) {
  const v = version.replace(/^v/, '');
  const base = env.npm_config_electron_mirror || env.NPM_CONFIG_ELECTRON_MIRROR || env.npm_package_config_electron_mirror || env.ELECTRON_MIRROR || 'https://github.com/electron/electron/releases/download/';
  const custom = env.npm_config_electron_custom_dir || env.NPM_CONFIG_ELECTRON_CUSTOM_DIR || env.npm_package_config_electron_custom_dir || env.ELECTRON_CUSTOM_DIR;
  const folder = custom ? custom.replace('{{ version }}', v) : `v${v}`;
  const file = `electron-v${v}-${platform}-${arch}.zip`;
  const url = `${base}${folder}/${file}`;
  const parsed = new URL(url);
  parsed.hash = '';
  parsed.search = '';
  parsed.pathname = path.posix.dirname(parsed.pathname);
  const hash = crypto.createHash('sha256').update(parsed.toString()).digest('hex');
  const cacheRoot = env.electron_config_cache || defaultElectronCacheRoot(env, /** @type {NodeJS.Platform} */ (platform));
  const dir = path.join(cacheRoot, hash);
  return { url, cacheRoot, dir, file, zip: path.join(dir, file) };
}

/**
 * Runs the electron package's installer (downloads the binary of the locked
 * version into node_modules/electron/dist, or takes it from @electron/get's
 * cache). Its progress goes to the terminal; its error is summed up.
 * @param {{ root: string, env: Record<string, string | undefined> }} where
 * @returns {{ ok: true } | { ok: false, error: string }}
 */
export function runElectronInstaller({ root, env }) {
  const childEnv = { ...env };
  delete childEnv.ELECTRON_SKIP_BINARY_DOWNLOAD;
  delete childEnv.npm_config_electron_skip_binary_download;
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules/electron/install.js')], {
    cwd: root, env: childEnv, stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8',
  });
  if (r.status === 0) return { ok: true };
  const lines = (r.stderr ?? '').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('at '));
  return { ok: false, error: lines.slice(0, 3).join(' / ') || (r.error ? String(r.error.message) : `exit ${r.status ?? r.signal}`) };
}

/**
 * What to do when there is no binary: every way to get one, with the exact
 * commands and paths for this version and machine.
 * @param {{ reason: string, installError: string | null, version: string, platform: string, arch: string, env: Record<string, string | undefined> }} what
 * @returns {string}
 */
export function missingBinaryHelp({ reason, installError, version, platform, arch, env }) {
  const zip = electronZipLocation({ version, platform, arch, env });
  const lines = [
    `start: no Electron binary: ${reason}.`,
    ...(installError ? [`start: Electron's installer could not get Electron ${version}: ${installError}`] : []),
    '',
    `Give the app an Electron ${version} binary in one of these ways, then run \`npm start\` again:`,
    '',
    '  1. Download it where the network allows (github.com, or a mirror):',
    `       ${INSTALL_COMMAND}`,
    '     with ELECTRON_SKIP_BINARY_DOWNLOAD unset (`npx install-electron` is the same installer). Through a mirror:',
    `       ELECTRON_MIRROR=https://mirror.example/electron/ ${INSTALL_COMMAND}`,
    '',
    `  2. Offline: carry ${zip.file} over from a connected machine`,
    `     (${zip.url}), put it in the installer's cache and install from there:`,
    `       mkdir -p "${zip.dir}"`,
    `       cp ${zip.file} "${zip.dir}/"`,
    `       ${INSTALL_COMMAND}`,
    '     The installer checks the zip against node_modules/electron/checksums.json. For another cache folder, set',
    '     electron_config_cache=DIR for both this script and the installer; the zip then goes in DIR/' + path.basename(zip.dir) + '/.',
    '',
    `  3. An Electron ${version} binary you already have:`,
    '       ELECTRON_PATH=/path/to/electron npm start',
    '     (the native modules are built for the version of that binary).',
    '',
  ];
  return lines.join('\n');
}

// ---- 2. native modules --------------------------------------------------------

/**
 * What a .node file is, from the symbols it carries: a Node-API addon
 * (registers napi_register_module_v1; ABI-stable, loads in Node and Electron
 * alike), an addon built against one runtime's ABI (node_module_register, and
 * node_register_module_v<ABI> naming it), or neither (a SQLite extension).
 * @param {Buffer} bytes
 * @returns {{ kind: 'node-api' } | { kind: 'abi', abi: number | null } | { kind: 'none' }}
 */
export function addonInterface(bytes) {
  const m = /node_register_module_v(\d+)/.exec(bytes.toString('latin1'));
  if (m || bytes.includes('node_module_register')) return { kind: 'abi', abi: m ? Number(m[1]) : null };
  if (bytes.includes('napi_register_module_v1')) return { kind: 'node-api' };
  return { kind: 'none' };
}

/**
 * The .node files of an installed package for this platform: under build/,
 * and node-gyp-build's prebuilds/<platform>-<arch>/ (other platforms' are
 * not loaded here). Nested node_modules are other packages.
 * @param {string} dir
 * @param {string} platform
 * @param {string} arch
 * @returns {string[]} paths relative to dir
 */
function addonFiles(dir, platform, arch) {
  /** @type {string[]} */
  const found = [];
  /** @param {string} rel */
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (e.name === 'node_modules' || r === 'deps' || r === 'src' || (r.startsWith('build/') && BUILD_LEFTOVERS.has(e.name))) continue;
        if (rel === 'prebuilds' && e.name !== `${platform}-${arch}`) continue;
        walk(r);
      } else if (e.isFile() && e.name.endsWith('.node')) {
        found.push(r);
      }
    }
  };
  walk('');
  return found.sort();
}

/**
 * @param {string} file
 * @returns {ReturnType<typeof addonInterface>}
 */
function classify(file) {
  return addonInterface(fs.readFileSync(file));
}

/**
 * @typedef {{ name: string, version: string, dir: string }} Pkg
 * @typedef {{ file: string, kind: 'node-api' | 'abi', abi: number | null }} Addon
 * @typedef {{ name: string, version: string, packages: Pkg[], addons: Addon[], rebuild: boolean }} NativeModule
 */

/**
 * The native modules main loads: the package.json dependencies (electron-vite
 * leaves every one of them external to main's bundle) that carry a Node addon,
 * themselves or through an installed optional dependency (usb's prebuilt
 * platform package). `rebuild` is true when an addon is built for one ABI
 * (or a binding.gyp has not been built at all): that one must be built for
 * Electron; a Node-API addon is not (it is ABI-stable).
 * @param {string} root
 * @param {{ platform?: string, arch?: string }} [target]
 * @returns {NativeModule[]}
 */
export function nativeModules(root, { platform = process.platform, arch = process.arch } = {}) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  /** @type {NativeModule[]} */
  const out = [];
  for (const name of Object.keys(pkg.dependencies ?? {}).sort()) {
    const dir = path.join(root, 'node_modules', name);
    if (!fs.existsSync(path.join(dir, 'package.json'))) throw new Error(`node_modules/${name} is not installed: run npm ci`);
    const own = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    /** @type {Pkg[]} */
    const packages = [{ name, version: own.version, dir }];
    for (const opt of Object.keys(own.optionalDependencies ?? {}).sort()) {
      const optDir = [path.join(dir, 'node_modules', opt), path.join(root, 'node_modules', opt)].find((d) => fs.existsSync(path.join(d, 'package.json')));
      if (optDir) packages.push({ name: opt, version: JSON.parse(fs.readFileSync(path.join(optDir, 'package.json'), 'utf8')).version, dir: optDir });
    }
    /** @type {Addon[]} */
    const addons = [];
    for (const p of packages) {
      for (const rel of addonFiles(p.dir, platform, arch)) {
        const what = classify(path.join(p.dir, rel));
        if (what.kind !== 'none') addons.push({ file: `${p.name}/${rel}`, kind: what.kind, abi: what.kind === 'abi' ? what.abi : null });
      }
    }
    const gyp = fs.existsSync(path.join(dir, 'binding.gyp'));
    if (addons.length === 0 && !gyp) continue;
    out.push({ name, version: own.version, packages, addons, rebuild: addons.some((a) => a.kind === 'abi') || addons.length === 0 });
  }
  return out;
}

/**
 * The stamp a prepared folder must carry to be reused: what it was built for.
 * @param {{ electron: string, abi: number, platform: string, arch: string, modules: NativeModule[] }} what
 */
export function expectedStamp({ electron, abi, platform, arch, modules }) {
  return {
    format: STAMP_FORMAT,
    electron,
    abi,
    platform,
    arch,
    modules: Object.fromEntries(modules.map((m) => [m.name, {
      version: m.version,
      how: m.rebuild ? 'rebuilt' : 'node-api',
      packages: Object.fromEntries(m.packages.map((p) => [p.name, p.version])),
    }])),
  };
}

/**
 * Whether a prepared folder can be reused: its stamp (null when there is
 * none) against the one expected, and the addons it should hold.
 * @param {unknown} stamp
 * @param {ReturnType<typeof expectedStamp>} expected
 * @param {{ missingFiles?: readonly string[] }} [state]
 * @returns {{ rebuild: boolean, reason: string }}
 */
export function stampDecision(stamp, expected, { missingFiles = [] } = {}) {
  if (stamp === null || typeof stamp !== 'object') return { rebuild: true, reason: 'not built yet' };
  const s = /** @type {Record<string, any>} */ (stamp);
  if (s.format !== expected.format) return { rebuild: true, reason: 'prepared by an older version of this script' };
  if (s.electron !== expected.electron) return { rebuild: true, reason: `built for Electron ${String(s.electron)}, not ${expected.electron}` };
  if (s.abi !== expected.abi) return { rebuild: true, reason: `built for ABI ${String(s.abi)}, not ${expected.abi}` };
  if (s.platform !== expected.platform || s.arch !== expected.arch) return { rebuild: true, reason: `built for ${String(s.platform)}-${String(s.arch)}, not ${expected.platform}-${expected.arch}` };
  const had = s.modules && typeof s.modules === 'object' ? s.modules : {};
  for (const [name, want] of Object.entries(expected.modules)) {
    const got = had[name];
    if (!got) return { rebuild: true, reason: `${name} is new` };
    if (got.version !== want.version) return { rebuild: true, reason: `${name} ${String(got.version)} is now ${want.version}` };
    if (got.how !== want.how || JSON.stringify(got.packages) !== JSON.stringify(want.packages)) return { rebuild: true, reason: `${name}'s packages changed` };
  }
  for (const name of Object.keys(had)) {
    if (!(name in expected.modules)) return { rebuild: true, reason: `${name} is no longer a dependency` };
  }
  if (missingFiles.length > 0) return { rebuild: true, reason: `${missingFiles[0]} is missing` };
  return { rebuild: false, reason: `built for Electron ${expected.electron} (ABI ${expected.abi})` };
}

/** @param {string} file */
function readJsonOrNull(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * The ABI (NODE_MODULE_VERSION) of an Electron version: the electron
 * package's abi_version for its own version, else node-abi's table (the one
 * @electron/rebuild uses).
 * @param {string} root
 * @param {string} version
 * @returns {Promise<number>}
 */
export async function electronAbi(root, version) {
  const pkg = electronPackage(root);
  if (pkg && pkg.version === version) {
    const txt = fs.existsSync(path.join(pkg.dir, 'abi_version')) ? fs.readFileSync(path.join(pkg.dir, 'abi_version'), 'utf8').trim() : '';
    if (/^\d+$/.test(txt)) return Number(txt);
  }
  const { createRequire } = await import('node:module');
  const fromRebuild = createRequire(createRequire(path.join(root, 'package.json')).resolve('@electron/rebuild'));
  const nodeAbi = await import(pathToFileURL(fromRebuild.resolve('node-abi')).href);
  return Number(nodeAbi.getAbi(version, 'electron'));
}

/**
 * Copies the packages of the modules into `nodeModulesDir` (which becomes a
 * place of their own). A module to rebuild is copied without its build/ (its
 * Node-ABI addon must not survive a failed rebuild); the others with their
 * addons, minus object files.
 * @param {readonly NativeModule[]} modules
 * @param {string} nodeModulesDir
 */
export function stageModules(modules, nodeModulesDir) {
  for (const m of modules) {
    for (const p of m.packages) {
      const dest = path.join(nodeModulesDir, p.name);
      fs.rmSync(dest, { recursive: true, force: true });
      fs.cpSync(p.dir, dest, {
        recursive: true,
        filter: (src) => {
          const rel = path.relative(p.dir, src).split(path.sep);
          if (rel[0] === 'node_modules') return false;
          if (rel[0] === 'build' && (m.rebuild || BUILD_LEFTOVERS.has(rel[2] ?? '') || rel[1] === 'deps')) return false;
          if (m.rebuild && rel[0] === 'bin') return false;
          return true;
        },
      });
    }
  }
}

/**
 * Checks a prepared node_modules folder: every rebuilt module has an addon
 * registering Electron's ABI and none for another, every copied one only
 * Node-API addons. Returns the problems (none: the folder is good).
 * @param {string} nodeModulesDir
 * @param {readonly NativeModule[]} modules
 * @param {{ abi: number, platform: string, arch: string }} target
 * @returns {string[]}
 */
export function checkPrepared(nodeModulesDir, modules, { abi, platform, arch }) {
  /** @type {string[]} */
  const problems = [];
  for (const m of modules) {
    /** @type {Addon[]} */
    const addons = [];
    for (const p of m.packages) {
      const dir = path.join(nodeModulesDir, p.name);
      if (!fs.existsSync(dir)) {
        problems.push(`${p.name} is missing`);
        continue;
      }
      for (const rel of addonFiles(dir, platform, arch)) {
        if (rel.startsWith('bin/')) continue;
        const what = classify(path.join(dir, rel));
        if (what.kind !== 'none') addons.push({ file: `${p.name}/${rel}`, kind: what.kind, abi: what.kind === 'abi' ? what.abi : null });
      }
    }
    if (addons.length === 0) problems.push(`${m.name} has no addon`);
    for (const a of addons) {
      // A rebuilt module may come back as Node-API (ABI-stable); what must not be there is an
      // addon registering another ABI than Electron's (the Node build, say).
      if (m.rebuild && a.kind === 'abi' && a.abi !== null && a.abi !== abi) problems.push(`${a.file} is built for ABI ${a.abi}, not Electron's ${abi}`);
      if (!m.rebuild && a.kind !== 'node-api') problems.push(`${a.file} is not a Node-API addon`);
    }
  }
  return problems;
}

/**
 * The packages a prepared folder should hold and does not, for the stamp decision.
 * @param {string} nodeModulesDir
 * @param {readonly NativeModule[]} modules
 */
function missingPackages(nodeModulesDir, modules) {
  return modules.flatMap((m) => m.packages.map((p) => path.join(nodeModulesDir, p.name, 'package.json'))).filter((f) => !fs.existsSync(f));
}

class StartError extends Error {}

/**
 * A path as the user reads it: relative to the repository when inside it.
 * @param {string} root
 * @param {string} p
 */
function shown(root, p) {
  const rel = path.relative(root, p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

/**
 * Step 2: the native modules built for this Electron in the cache, reused
 * while their stamp matches. Built in a staging folder beside the cache entry
 * and renamed into place only once checked: a failed or interrupted build is
 * never mistaken for a good one.
 * @param {{ root: string, cacheRoot: string, electron: string, abi: number, modules: NativeModule[], force: boolean, env: Record<string, string | undefined>, say: (line: string) => void }} what
 * @returns {Promise<{ dir: string, stamp: ReturnType<typeof expectedStamp>, reused: boolean }>}
 */
export async function prepareNatives({ root, cacheRoot, electron, abi, modules, force, env, say }) {
  const platform = process.platform;
  const arch = process.arch;
  const stamp = expectedStamp({ electron, abi, platform, arch, modules });
  const dir = path.join(cacheRoot, `electron-${electron}-${platform}-${arch}`);
  const decision = force ? { rebuild: true, reason: '--rebuild' } : stampDecision(readJsonOrNull(path.join(dir, STAMP_FILE)), stamp, { missingFiles: missingPackages(path.join(dir, 'node_modules'), modules) });
  if (!decision.rebuild) {
    say(`native modules: ${decision.reason}, reused from ${shown(root, dir)}`);
    return { dir, stamp, reused: true };
  }
  say(`native modules for Electron ${electron} (ABI ${abi}): ${decision.reason}; preparing them in ${shown(root, dir)}`);
  const stage = `${dir}.tmp-${process.pid}`;
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(path.join(stage, 'node_modules'), { recursive: true });
  try {
    // @electron/rebuild walks the dependencies of the package.json in buildPath.
    fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify({
      name: 'keyhold-electron-natives', private: true, description: 'Native modules built for Electron by build/start.mjs',
      dependencies: Object.fromEntries(modules.map((m) => [m.name, m.version])),
    }, null, 2)}\n`);
    stageModules(modules, path.join(stage, 'node_modules'));
    for (const m of modules.filter((x) => !x.rebuild)) say(`  ${m.name} ${m.version}: Node-API, its Node build loads in Electron as is`);
    const toRebuild = modules.filter((m) => m.rebuild).map((m) => m.name);
    if (toRebuild.length > 0) {
      say(`  ${toRebuild.join(', ')}: built against one ABI, rebuilding for Electron ${electron} (a prebuilt binary if one is published, else a compile against Electron's headers)`);
      const { createRequire } = await import('node:module');
      const { rebuild } = await import(pathToFileURL(createRequire(path.join(root, 'package.json')).resolve('@electron/rebuild')).href);
      try {
        const started = Date.now();
        // projectRootPath = the stage: @electron/rebuild looks for modules in node_modules folders up
        // to there and no further, so the repository's own node_modules is never rebuilt.
        await rebuild({ buildPath: stage, projectRootPath: stage, electronVersion: electron, arch, onlyModules: toRebuild, force: true, mode: 'sequential', disablePreGypCopy: true });
        say(`  rebuilt in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      } catch (e) {
        throw new StartError(rebuildHelp({ modules: toRebuild, electron, error: e instanceof Error ? e.message : String(e), env }));
      }
    }
    const problems = checkPrepared(path.join(stage, 'node_modules'), modules, { abi, platform, arch });
    if (problems.length > 0) {
      throw new StartError([
        `the native modules built for Electron ${electron} do not check out:`,
        ...problems.map((p) => `  ${p}`),
        ...(env.npm_config_nodedir ? [`npm_config_nodedir=${env.npm_config_nodedir} is set: are those the headers of Electron ${electron}?`] : []),
        'Nothing was kept; the Node builds in node_modules were not changed.',
      ].join('\n'));
    }
    fs.writeFileSync(path.join(stage, STAMP_FILE), `${JSON.stringify({ ...stamp, preparedAt: new Date().toISOString(), preparation: crypto.randomUUID() }, null, 2)}\n`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(stage, dir);
    return { dir, stamp, reused: false };
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

/**
 * @param {{ modules: string[], electron: string, error: string, env: Record<string, string | undefined> }} what
 */
function rebuildHelp({ modules, electron, error, env }) {
  const headers = `https://www.electronjs.org/headers/v${electron}/node-v${electron}-headers.tar.gz`;
  return [
    `${modules.join(', ')} could not be built for Electron ${electron}: ${error}`,
    '',
    'That needs either a prebuilt binary for this Electron (prebuild-install fetches it from the module\'s',
    `GitHub releases) or Electron's headers (${headers}) and a C/C++ toolchain (build/system-deps.sh).`,
    env.npm_config_nodedir
      ? `npm_config_nodedir=${env.npm_config_nodedir} is set: it must be the extracted headers of Electron ${electron} (the folder holding include/node).`
      : 'Offline: carry that tarball over from a connected machine, extract it, and run',
    ...(env.npm_config_nodedir ? [] : ['    npm_config_nodedir=/path/to/node_headers npm start', '(node_headers is the folder the tarball extracts, the one holding include/node).']),
    'The Node builds in node_modules were not changed: tests and the CLI work as before.',
  ].join('\n');
}

/**
 * Puts the prepared modules where only main resolves them: out/main/node_modules
 * (Node looks there first for out/main/index.js; the CLI, the tests and the
 * bench resolve from elsewhere). Skipped when the stamp there already matches.
 * @param {{ from: string, outMain: string, stamp: ReturnType<typeof expectedStamp> }} what
 * @returns {boolean} whether anything was copied
 */
export function installIntoMain({ from, outMain, stamp }) {
  const target = path.join(outMain, 'node_modules');
  const there = readJsonOrNull(path.join(target, STAMP_FILE));
  const prepared = readJsonOrNull(path.join(from, STAMP_FILE));
  const modules = Object.values(stamp.modules).flatMap((m) => Object.keys(m.packages));
  const missing = modules.map((p) => path.join(target, p, 'package.json')).filter((f) => !fs.existsSync(f));
  // The same stamp and the same preparation (a --rebuild makes a new one): nothing to copy.
  if (!stampDecision(there, stamp, { missingFiles: missing }).rebuild && there.preparation === prepared?.preparation) return false;
  fs.rmSync(target, { recursive: true, force: true });
  fs.mkdirSync(target, { recursive: true });
  for (const p of modules) {
    fs.cpSync(path.join(from, 'node_modules', p), path.join(target, p), {
      recursive: true,
      filter: (src) => {
        const rel = path.relative(path.join(from, 'node_modules', p), src).split(path.sep);
        return !(rel[0] === 'build' && (BUILD_LEFTOVERS.has(rel[2] ?? '') || rel[1] === 'deps'));
      },
    });
  }
  fs.copyFileSync(path.join(from, STAMP_FILE), path.join(target, STAMP_FILE));
  return true;
}

// ---- 3. the build ---------------------------------------------------------------

/** What main, preload and the renderer are built from. */
export const APP_SOURCES = ['electron/main', 'electron/preload', 'electron/core', 'shared', 'renderer', 'format/dist', 'electron.vite.config.ts', 'package.json', 'package-lock.json'];
/** What `electron-vite build` writes (one file per part). */
export const APP_OUTPUTS = ['out/main/index.js', 'out/preload/index.cjs', 'out/renderer/index.html'];

/**
 * The newest file under the given paths (skipping node_modules and dot folders).
 * @param {string} root
 * @param {readonly string[]} paths
 * @returns {{ file: string, mtimeMs: number } | null}
 */
export function newestFile(root, paths) {
  /** @type {{ file: string, mtimeMs: number } | null} */
  let best = null;
  /** @param {string} rel */
  const visit = (rel) => {
    const abs = path.join(root, rel);
    let st;
    try {
      st = fs.statSync(abs);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(abs)) {
        if (e === 'node_modules' || e.startsWith('.')) continue;
        visit(path.join(rel, e));
      }
    } else if (st.isFile() && (best === null || st.mtimeMs > best.mtimeMs)) {
      best = { file: rel, mtimeMs: st.mtimeMs };
    }
  };
  for (const p of paths) visit(p);
  return best;
}

/**
 * Whether out/ is the build of the sources as they are: every output exists
 * and none is older than the newest source.
 * @param {string} root
 * @returns {{ fresh: boolean, reason: string }}
 */
export function buildFreshness(root, sources = APP_SOURCES, outputs = APP_OUTPUTS) {
  let oldest = Infinity;
  for (const o of outputs) {
    const abs = path.join(root, o);
    if (!fs.existsSync(abs)) return { fresh: false, reason: `${o} does not exist` };
    oldest = Math.min(oldest, fs.statSync(abs).mtimeMs);
  }
  const newest = newestFile(root, sources);
  if (newest && newest.mtimeMs > oldest) return { fresh: false, reason: `${newest.file} changed since the last build` };
  return { fresh: true, reason: 'out/ is newer than every source' };
}

/**
 * @param {string} cmd
 * @param {string[]} args
 * @param {(line: string) => void} say
 */
function run(cmd, args, say) {
  say(`$ ${[path.basename(cmd) === path.basename(process.execPath) ? 'node' : cmd, ...args.map((a) => path.isAbsolute(a) ? path.relative(ROOT, a) : a)].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', shell: process.platform === 'win32' && cmd === 'npm' });
  if (r.status !== 0) throw new StartError(`${cmd} ${args.join(' ')} failed (${r.error ? r.error.message : `exit ${r.status ?? r.signal}`})`);
}

/** @param {(line: string) => void} say */
function ensureBuilt(say) {
  const format = buildFreshness(ROOT, ['format/src', 'format/package.json', 'format/tsconfig.json'], ['format/dist/index.js']);
  if (!format.fresh) {
    say(`keyhold-format: ${format.reason}; building it (main bundles it from format/dist)`);
    run('npm', ['run', 'build', '-w', 'keyhold-format'], say);
  }
  const app = buildFreshness(ROOT);
  if (app.fresh) {
    say(`build: ${app.reason}, reused`);
    return;
  }
  say(`build: ${app.reason}; building with electron-vite`);
  run(process.execPath, [path.join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], say);
}

// ---- main -----------------------------------------------------------------------------

/** @param {string} line */
function say(line) {
  process.stdout.write(`start: ${line}\n`);
}

/** @param {readonly string[]} argv */
async function main(argv) {
  const opts = parseArgs(argv);
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const env = process.env;
  const pkg = electronPackage(ROOT);
  if (!pkg) throw new StartError('node_modules/electron is not installed: run `npm ci` (or bash build/install.sh) first');

  // 1. The binary (not needed to build the natives alone).
  let bin = findElectronBinary({ root: ROOT, env });
  if ('missing' in bin && !opts.nativesOnly) {
    let installError = null;
    if (!bin.explicit && opts.download) {
      say(`no Electron binary: ${bin.missing}; running Electron's installer: ${INSTALL_COMMAND}`);
      const r = runElectronInstaller({ root: ROOT, env });
      if (!r.ok) installError = r.error;
      bin = findElectronBinary({ root: ROOT, env });
    }
    if ('missing' in bin) {
      process.stderr.write(missingBinaryHelp({ reason: bin.missing, installError, version: pkg.version, platform: process.platform, arch: process.arch, env }));
      return 1;
    }
  }
  let electron = pkg.version;
  if ('path' in bin) {
    const v = binaryVersion(bin.path);
    if (v) electron = v;
    else say(`no version file beside ${bin.path}: building for the electron package's version, ${pkg.version}`);
    say(`Electron ${electron}: ${bin.path}${bin.from === 'ELECTRON_PATH' ? ' (ELECTRON_PATH)' : ''}`);
  }
  const abi = await electronAbi(ROOT, electron);

  // 2. The native modules for that Electron, in their own place.
  const modules = nativeModules(ROOT);
  const cacheRoot = path.resolve(ROOT, env.KEYHOLD_ELECTRON_NATIVES || 'node_modules/.cache/keyhold-electron');
  const natives = await prepareNatives({ root: ROOT, cacheRoot, electron, abi, modules, force: opts.rebuild, env, say });
  if (opts.nativesOnly) {
    say(`done: ${natives.dir}`);
    return 0;
  }

  // 3. The app, with those modules where only main finds them.
  if (opts.build) ensureBuilt(say);
  else if (!buildFreshness(ROOT).fresh) say(`--no-build: ${buildFreshness(ROOT).reason}; starting out/ as it is`);
  for (const o of APP_OUTPUTS) {
    if (!fs.existsSync(path.join(ROOT, o))) throw new StartError(`${o} does not exist: run without --no-build`);
  }
  const copied = installIntoMain({ from: natives.dir, outMain: path.join(ROOT, 'out/main'), stamp: natives.stamp });
  say(`out/main/node_modules: ${copied ? 'native modules for Electron copied in' : 'already holds the native modules for Electron'} (${modules.map((m) => m.name).join(', ')})`);
  if (opts.prepareOnly) {
    say('prepared; not starting (--prepare-only)');
    return 0;
  }

  if (!('path' in bin)) throw new StartError('no Electron binary');
  const childEnv = { ...env };
  delete childEnv.ELECTRON_RUN_AS_NODE;
  say(`starting ${path.basename(bin.path)} ${['.', ...opts.electronArgs].join(' ')}`);
  const child = spawn(bin.path, [ROOT, ...opts.electronArgs], { cwd: ROOT, stdio: 'inherit', env: childEnv });
  for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) process.on(sig, () => child.kill(sig));
  return await new Promise((resolve) => {
    child.on('error', (e) => {
      process.stderr.write(`start: could not start ${bin.path}: ${e.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      if (e instanceof UsageError) {
        process.stderr.write(`start: ${e.message}\n\n${USAGE}`);
        process.exitCode = 2;
      } else {
        process.stderr.write(`start: ${e instanceof StartError ? e.message : (e instanceof Error ? e.stack : String(e))}\n`);
        process.exitCode = 1;
      }
    },
  );
}
