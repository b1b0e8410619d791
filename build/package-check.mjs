#!/usr/bin/env node
/**
 * Checks the packaging offline, where Electron cannot be downloaded:
 *
 *   node build/package-check.mjs        (after `npx electron-vite build`)
 *
 * Runs electron-builder with build/electron-builder.yml over a stand-in
 * Electron folder (a file laid out like Electron's binary around its fuse
 * wire, at Electron's default fuse states) into a temporary folder, `--dir`
 * only, without the native rebuild (which needs Electron's headers, and would
 * run in place in this tree). Then checks what a real package would hold:
 * the built app inside app.asar, the native addons unpacked beside it, no
 * renderer-only dependency, and the fuses as build/fuses.mjs chose them.
 * What it cannot check: the Electron binary itself, the rebuild, installers.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { FUSES } from './fuses.mjs';

const ROOT = path.resolve(import.meta.dirname, '..');
const require = createRequire(import.meta.url);
const asar = require('@electron/asar');
const { getCurrentFuseWire } = require('@electron/fuses');

const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
// Electron's defaults: RunAsNode on, cookie encryption off, NODE_OPTIONS on, --inspect on,
// ASAR integrity off, only-asar off, V8 snapshot off, file:// privileges on.
const DEFAULT_WIRE = '10110001';

function standInElectron(dir) {
  const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/electron/package.json'), 'utf8')).version;
  fs.mkdirSync(path.join(dir, 'resources'), { recursive: true });
  const filler = Buffer.alloc(4096, 0x90);
  fs.writeFileSync(path.join(dir, 'electron'), Buffer.concat([filler, Buffer.from(SENTINEL), Buffer.from([1, DEFAULT_WIRE.length]), Buffer.from(DEFAULT_WIRE), filler]), { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'version'), version);
  fs.writeFileSync(path.join(dir, 'LICENSE'), 'stand-in for the Electron license\n');
  return version;
}

function check(failures, ok, what) {
  process.stdout.write(`  ${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
  if (!ok) failures.push(what);
}

async function main() {
  for (const f of ['out/main/index.js', 'out/preload/index.cjs', 'out/renderer/index.html']) {
    if (!fs.existsSync(path.join(ROOT, f))) throw new Error(`package-check: ${f} is missing: run \`npx electron-vite build\` first`);
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'keyhold-package-check-'));
  try {
    const dist = path.join(work, 'electron-dist');
    const version = standInElectron(dist);
    const output = path.join(work, 'out');
    execFileSync('npx', [
      'electron-builder', '--config', 'build/electron-builder.yml', '--linux', 'dir', '--x64',
      `-c.electronDist=${dist}`, `-c.electronVersion=${version}`, '-c.npmRebuild=false', `-c.directories.output=${output}`,
    ], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });

    const app = path.join(output, 'linux-unpacked');
    const archive = path.join(app, 'resources/app.asar');
    const failures = [];
    process.stdout.write('package-check:\n');
    check(failures, fs.existsSync(archive), 'resources/app.asar exists');
    const files = new Set(asar.listPackage(archive).map((f) => f.replaceAll('\\', '/')));
    for (const f of ['/package.json', '/out/main/index.js', '/out/preload/index.cjs', '/out/renderer/index.html']) {
      check(failures, files.has(f), `app.asar holds ${f}`);
    }
    check(failures, ![...files].some((f) => f.endsWith('.map')), 'no source maps in app.asar');
    for (const dep of ['react', 'react-dom', 'zustand', 'tsx', 'esbuild']) {
      check(failures, ![...files].some((f) => f.startsWith(`/node_modules/${dep}/`)), `no ${dep} (renderer- or build-only) in app.asar`);
    }
    for (const dep of ['better-sqlite3', 'argon2', 'pkcs11js', 'zod']) {
      check(failures, files.has(`/node_modules/${dep}/package.json`), `${dep} packaged`);
    }
    const unpacked = path.join(app, 'resources/app.asar.unpacked/node_modules');
    check(failures, fs.existsSync(path.join(unpacked, 'better-sqlite3/build/Release/better_sqlite3.node')), 'better-sqlite3 addon unpacked');
    check(failures, fs.existsSync(path.join(unpacked, 'pkcs11js/build/Release/pkcs11.node')), 'pkcs11js addon unpacked');
    check(failures, ![...files].some((f) => f.endsWith('.node') && !fs.existsSync(path.join(app, 'resources/app.asar.unpacked', f))),
      'every .node file of app.asar also exists unpacked');

    const wire = await getCurrentFuseWire(path.join(app, 'keyhold'));
    for (const [k, wanted] of Object.entries(FUSES)) {
      if (!/^\d+$/.test(k)) continue;
      check(failures, wire[k] === (wanted ? 0x31 : 0x30), `fuse #${k} ${wanted ? 'on' : 'off'}`);
    }
    process.stdout.write(failures.length === 0 ? 'package-check: pass\n' : `package-check: FAIL (${failures.length})\n`);
    return failures.length === 0 ? 0 : 1;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

try {
  process.exitCode = await main();
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
