/**
 * The renderer's production JavaScript, gzipped: the figure the issue bounds
 * at 300 KB. Measures what `npm run build` left in out/renderer/assets; the
 * caller builds first. `npm run bench` prints it (test/bench/run.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export type RendererBundleFile = Readonly<{ name: string; bytes: number; gzipBytes: number }>;

export type RendererBundleReport = Readonly<{
  files: readonly RendererBundleFile[];
  totalGzipBytes: number;
  targetBytes: number;
}>;

export const RENDERER_GZIP_TARGET_BYTES = 300 * 1024;

const DEFAULT_ASSETS = path.resolve(import.meta.dirname, '../../out/renderer/assets');

/**
 * Sizes of every .js file in the renderer's assets folder, raw and gzipped at
 * level 9 (what a server would send, and a fair proxy for parse cost). Throws
 * when there is no build to measure, rather than reporting zero.
 */
export function rendererBundleReport(assetsDir: string = DEFAULT_ASSETS): RendererBundleReport {
  if (!fs.existsSync(assetsDir)) {
    throw new Error(`bench: ${assetsDir} does not exist: run \`npm run build\` first`);
  }
  const files = fs
    .readdirSync(assetsDir)
    .filter((name) => name.endsWith('.js'))
    .sort()
    .map(function measure(name): RendererBundleFile {
      const data = fs.readFileSync(path.join(assetsDir, name));
      return { name, bytes: data.byteLength, gzipBytes: gzipSync(data, { level: 9 }).byteLength };
    });
  if (files.length === 0) throw new Error(`bench: no .js file in ${assetsDir}: run \`npm run build\` first`);
  return {
    files,
    totalGzipBytes: files.reduce((sum, f) => sum + f.gzipBytes, 0),
    targetBytes: RENDERER_GZIP_TARGET_BYTES,
  };
}
