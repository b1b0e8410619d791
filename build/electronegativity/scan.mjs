#!/usr/bin/env node
/**
 * Runs Electronegativity over one folder and writes its findings as CSV, in the
 * tool's own columns. Run with this folder's node_modules (see package.json).
 *
 *   node scan.mjs --input DIR --csv FILE --electron VERSION [--exclude a,b]
 *
 * Why not the CLI's `-o out.csv`: in 1.10.3 it writes the CSV header and the rows
 * with two concurrent fs.writeFile calls (one truncating, one appending), so the
 * header regularly overwrites the first finding (seen here: the file began with
 * "ted in the target application", the tail of the first row). The library's
 * run() returns the same issues the CLI would write; we write them in one
 * synchronous call, same columns and quoting.
 *
 * Exit codes: 0 scanned (findings or not: the gate reads the CSV), 2 a file
 * could not be parsed (it was not checked, so a clean CSV would be a lie),
 * 1 the scan itself failed.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

// The tool is CommonJS and resolves from this folder's node_modules (its own TypeScript parser).
const require = createRequire(import.meta.url);

function parseArgs(argv) {
  const args = { input: '', csv: '', electron: '', exclude: [] };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`scan: ${flag} needs a value`);
    if (flag === '--input') args.input = path.resolve(value);
    else if (flag === '--csv') args.csv = path.resolve(value);
    else if (flag === '--electron') args.electron = value;
    else if (flag === '--exclude') args.exclude = value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    else throw new Error(`scan: unknown option ${flag}`);
  }
  if (!args.input || !args.csv || !args.electron) throw new Error('scan: --input, --csv and --electron are required');
  return args;
}

/** The tool's own quoting (dist/util/file.js escapeCsv). */
function quote(value) {
  return value === null || value === undefined ? 'N/A' : `"${String(value).replace(/"/g, '""')}"`;
}

function toCsv(issues) {
  const header = 'issue, severity, confidence, filename, location, sample, description, url';
  const rows = issues.map((issue) => [
    issue.id,
    quote(issue.severity.name),
    quote(issue.confidence.name),
    quote(issue.file),
    quote(`${issue.location.line}:${issue.location.column}`),
    quote(issue.sample),
    quote(issue.description),
    `https://github.com/doyensec/electronegativity/wiki/${issue.id}`,
  ].join(','));
  return [header, ...rows].join(os.EOL) + os.EOL;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const run = require('@doyensec/electronegativity');
  // A SARIF file is the only way to make run() return its issues; it is written
  // in one call (no race), so it is kept beside the CSV for whoever wants it.
  const sarif = args.csv.replace(/\.csv$/i, '') + '.sarif';
  const result = await run({
    input: args.input,
    output: sarif,
    isSarif: true,
    customScan: [],
    excludeFromScan: args.exclude,
    severitySet: undefined,
    confidenceSet: undefined,
    isRelative: true,
    isVerbose: true,
    electronUpgrade: undefined,
    electronVersionOverride: args.electron,
    parserPlugins: [],
  }, false);
  fs.writeFileSync(args.csv, toCsv(result.issues));
  const fatal = result.errors.filter((e) => !e.tolerable);
  for (const e of result.errors) {
    process.stderr.write(`electronegativity: ${e.tolerable ? 'warning' : 'error'} parsing ${e.file}: ${e.message}\n`);
  }
  process.stdout.write(`electronegativity: ${result.atomicChecks} atomic and ${result.globalChecks} global checks, ${result.issues.length} findings\n`);
  process.exitCode = fatal.length > 0 ? 2 : 0;
}

main().catch((e) => {
  process.stderr.write(`electronegativity: scan failed: ${e && e.stack ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
