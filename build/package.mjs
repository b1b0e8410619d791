#!/usr/bin/env node
/**
 * Packages the desktop app from a copy of the repository:
 *
 *   node build/package.mjs [--dry-run] [--keep] [-- <electron-builder arguments, e.g. --linux deb>]
 *
 * Why a copy: electron-builder's npmRebuild rebuilds native modules for
 * Electron's ABI in place, in the node_modules of the folder it packages (it
 * finds them itself among the production dependencies: the same ones
 * build/start.mjs's nativeModules() lists for `npm start`, which builds them
 * out of place instead). Done in the dev tree, the Node tests would then load
 * addons built for another ABI and fail until `npm rebuild`.
 * The copy has its own `npm ci`; only the installers come back, to
 * dist/packages/.
 *
 * Needs the npm registry and Electron's download site (the Electron zip, its
 * headers or prebuilt addons): run it on a connected build machine, then carry
 * the installer to the workstation.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const argv = process.argv.slice(2);
const dashdash = argv.indexOf('--');
const own = dashdash < 0 ? argv : argv.slice(0, dashdash);
const builderArgs = dashdash < 0 ? [] : argv.slice(dashdash + 1);
const dryRun = own.includes('--dry-run');
const keep = own.includes('--keep') || dryRun;
for (const a of own) {
  if (a !== '--dry-run' && a !== '--keep') throw new Error(`package: unknown option ${a}`);
}

function log(line) {
  process.stdout.write(`package: ${line}\n`);
}

function run(cmd, args, cwd, env = process.env) {
  log(`${cwd}$ ${[cmd, ...args].join(' ')}`);
  if (!dryRun) execFileSync(cmd, args, { cwd, stdio: 'inherit', env });
}

/** The files git would keep: tracked ones and untracked ones not ignored (so no node_modules, out, dist). */
function sourceFiles() {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT });
  return out.toString('utf8').split('\0').filter((f) => f !== '' && fs.existsSync(path.join(ROOT, f)));
}

function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'keyhold-package-'));
  const copy = path.join(work, 'keyhold');
  try {
    const files = sourceFiles();
    for (const f of files) {
      const dest = path.join(copy, f);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(path.join(ROOT, f), dest);
    }
    log(`copied ${files.length} files to ${copy}`);
    // The copy's own install: addons built there (for Node first, then for Electron by
    // electron-builder). The Electron binary itself is not needed: electron-builder
    // downloads the zip it packages.
    run('npm', ['ci', '--no-audit', '--no-fund'], copy, { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1' });
    // The bundle format first: main imports keyhold-format by package name, whose entry is format/dist.
    run('npm', ['run', 'build', '-w', 'keyhold-format'], copy);
    run('npx', ['electron-vite', 'build'], copy);
    run('npx', ['electron-builder', '--config', 'build/electron-builder.yml', ...builderArgs], copy);
    const produced = path.join(copy, 'dist/packages');
    const target = path.join(ROOT, 'dist/packages');
    if (!dryRun) {
      fs.mkdirSync(target, { recursive: true });
      for (const name of fs.readdirSync(produced)) {
        const src = path.join(produced, name);
        if (fs.statSync(src).isFile()) {
          fs.copyFileSync(src, path.join(target, name));
          log(`dist/packages/${name}`);
        }
      }
    }
  } finally {
    if (keep) log(`work folder kept: ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

main();
