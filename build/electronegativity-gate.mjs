#!/usr/bin/env node
/**
 * `npm run check:electronegativity`: runs Electronegativity 1.10.3 over the
 * app's sources (electron/ and renderer/) and fails on any finding of MEDIUM
 * severity or above that has no written justification in
 * build/electronegativity/justifications.json.
 *
 * The tool lives in build/electronegativity/ with its own lockfile: among the
 * project's dependencies its pinned TypeScript parser meets a newer TypeScript
 * and crashes. It is installed there on first use (`npm ci`), which needs the
 * npm registry once; offline it then runs as is (its warnings that it cannot
 * fetch translations are harmless, and the check that fetches Electron's
 * release list is excluded).
 *
 * Sources rather than the built out/: findings then point at lines a reviewer
 * can read and justify, and the minified renderer bundle (React's internals)
 * would only add noise. electron/ and renderer/ are copied side by side into a
 * temporary folder so that one scan sees both (its global checks, such as the
 * CSP check, relate main's code to the renderer's HTML).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evaluate, parseFindings, parseJustifications, summarize } from './electronegativity/gate-lib.mjs';

const ROOT = path.resolve(import.meta.dirname, '..');
const TOOL_DIR = path.join(ROOT, 'build/electronegativity');
const SCANNED = ['electron', 'renderer'];
// Checks that need the network (the release list of Electron): the workstation has none.
const EXCLUDED_CHECKS = ['availablesecurityfixesglobalcheck'];

function electronVersion() {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/electron/package.json'), 'utf8'));
  return String(pkg.version);
}

function ensureInstalled() {
  const bin = path.join(TOOL_DIR, 'node_modules/@doyensec/electronegativity/package.json');
  if (fs.existsSync(bin)) return;
  process.stdout.write('electronegativity gate: installing the pinned tool in build/electronegativity (npm ci)\n');
  try {
    execFileSync('npm', ['ci', '--prefix', TOOL_DIR, '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
  } catch {
    // Fail, never skip: a gate that passes when its tool is missing guards nothing.
    throw new Error('electronegativity gate: FAIL: could not install the tool (its first install needs the npm registry)');
  }
}

/** Copies the scanned folders into dir, skipping anything the app does not ship or own. */
function stage(dir) {
  for (const name of SCANNED) {
    fs.cpSync(path.join(ROOT, name), path.join(dir, name), {
      recursive: true,
      filter: function notGenerated(src) {
        const base = path.basename(src);
        return base !== 'node_modules' && base !== 'screenshots';
      },
    });
  }
}

function main() {
  ensureInstalled();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'keyhold-electronegativity-'));
  try {
    const input = path.join(work, 'src');
    stage(input);
    const csv = path.join(work, 'report.csv');
    try {
      execFileSync(process.execPath, [
        path.join(TOOL_DIR, 'scan.mjs'),
        '--input', input,
        '--csv', csv,
        '--electron', electronVersion(),
        '--exclude', EXCLUDED_CHECKS.join(','),
      ], { cwd: TOOL_DIR, stdio: ['ignore', 'inherit', 'inherit'] });
    } catch (e) {
      const code = e && typeof e === 'object' && 'status' in e ? e.status : null;
      process.stderr.write(code === 2
        ? 'electronegativity gate: FAIL: a file could not be parsed, so it was not checked\n'
        : 'electronegativity gate: FAIL: the scan did not run\n');
      return 1;
    }
    const findings = parseFindings(fs.readFileSync(csv, 'utf8'));
    const justifications = parseJustifications(
      JSON.parse(fs.readFileSync(path.join(TOOL_DIR, 'justifications.json'), 'utf8')),
    );
    const result = evaluate(findings, justifications);
    process.stdout.write(summarize(result) + '\n');
    return result.pass ? 0 : 1;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

try {
  process.exitCode = main();
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
