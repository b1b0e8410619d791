/**
 * The `keyhold` command's start for `npm run bench`: `keyhold --version`
 * through electron/cli/keyhold.mjs, as a shell runs it (the choice between
 * the compiled CLI and the sources included), beside `node -e 0` on the same
 * machine at the same moment. Runs alternate between the two, after one
 * warm-up each; the figures are medians. `keyhold --help` (the whole program
 * built, no core loaded), and the same from the sources through tsx, are
 * printed for comparison.
 */

import { spawnSync } from 'node:child_process';
import { BIN, chooseCli, cleanEnv, ROOT } from '../cli/run.js';
import { fmtMs, median, type Figure } from './report.js';

const RUNS = Number(process.env.KEYHOLD_BENCH_START_RUNS ?? 11);

/** Wall time of one child process, in milliseconds. */
function timed(args: readonly string[], env: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`bench: node ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
  return ms;
}

export function startFigures(): { figures: Figure[]; notes: string[] } {
  const choice = chooseCli({ env: {} });
  if (choice.use !== 'compiled') throw new Error(`bench: keyhold would run its sources (${choice.why}); run \`npm run build\` first`);
  const env = cleanEnv();
  const cases = {
    node: ['-e', '0'],
    version: [BIN, '--version'],
    help: [BIN, '--help'],
  } as const;
  const times: Record<keyof typeof cases, number[]> = { node: [], version: [], help: [] };
  for (const args of Object.values(cases)) timed(args, env);
  for (let i = 0; i < RUNS; i++) {
    for (const [name, args] of Object.entries(cases) as [keyof typeof cases, readonly string[]][]) times[name].push(timed(args, env));
  }
  const source: number[] = [];
  for (let i = 0; i < 3; i++) source.push(timed([BIN, '--help'], cleanEnv({ KEYHOLD_CLI: 'source' })));
  const node = median(times.node);
  return {
    figures: [{ name: 'keyhold --version (compiled CLI)', ms: median(times.version), targetMs: 150,
      spec: `node -e 0 beside it: ${fmtMs(node)}` }],
    notes: [
      `start, median of ${RUNS}: node -e 0 ${fmtMs(node)}, keyhold --version ${fmtMs(median(times.version))}, ` +
        `keyhold --help ${fmtMs(median(times.help))}; keyhold --help from the sources through tsx (KEYHOLD_CLI=source): ${fmtMs(median(source))}`,
    ],
  };
}
