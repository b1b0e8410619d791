/** Figures for `npm run bench`: each with its target and the ratio to it. */
import os from 'node:os';

export type Figure = Readonly<{ name: string; ms: number; targetMs: number; spec?: string }>;

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
  const rows = figures.map((f) => [f.name, fmtMs(f.ms), `< ${fmtMs(f.targetMs)}`, `${(f.ms / f.targetMs).toFixed(3)}`,
    f.ms < f.targetMs ? 'ok' : 'MISSED', f.spec ?? '']);
  const head = ['figure', 'measured', 'target', 'ratio', '', 'specification'];
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
