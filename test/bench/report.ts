/** Figures for `npm run bench`: each with its target and the ratio to it. */
import os from 'node:os';

/**
 * cpuMs, when given, is the process's CPU time (user + system) over the same
 * span: on a shared machine it moves much less than the wall time with the
 * other load, so A/B comparisons read it alongside. Targets are on `ms`.
 */
export type Figure = Readonly<{ name: string; ms: number; targetMs: number; spec?: string; cpuMs?: number }>;

export function machine(): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${cpu}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

export function fmtMs(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(1)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function printFigures(figures: readonly Figure[]): boolean {
  const cpu = figures.some((f) => f.cpuMs !== undefined);
  const rows = figures.map((f) => [f.name, fmtMs(f.ms), `< ${fmtMs(f.targetMs)}`, `${(f.ms / f.targetMs).toFixed(3)}`,
    f.ms < f.targetMs ? 'ok' : 'MISSED', ...(cpu ? [f.cpuMs === undefined ? '' : fmtMs(f.cpuMs)] : []), f.spec ?? '']);
  const head = ['figure', 'measured', 'target', 'ratio', '', ...(cpu ? ['cpu'] : []), 'specification'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, i) => c.padEnd(w[i] ?? 0)).join('  ').trimEnd();
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  return figures.every((f) => f.ms < f.targetMs);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** Like time(), plus the process's CPU time (user + system) in ms over the call. */
export function timeCpu<T>(fn: () => T): [T, number, number] {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = fn();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return [r, ms, (c.user + c.system) / 1000];
}

export function time<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const r = fn();
  return [r, performance.now() - t0];
}

export async function timeAsync<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}
