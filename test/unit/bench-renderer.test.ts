import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import { rendererBundleReport } from '../bench/renderer.js';
import { tmpDir } from '../helpers/tmp.js';

describe('rendererBundleReport', () => {
  let dir: string;
  beforeEach(() => {
    dir = tmpDir('keyhold-assets-');
  });

  it('measures every .js file, raw and gzipped, and sums the gzipped sizes', () => {
    const a = 'export const a = "' + 'x'.repeat(5000) + '";\n';
    const b = Array.from({ length: 200 }, (_, i) => `export function f${i}(){return ${i * 7919 % 1000};}`).join('\n');
    fs.writeFileSync(path.join(dir, 'index-a.js'), a);
    fs.writeFileSync(path.join(dir, 'vendor-b.js'), b);
    fs.writeFileSync(path.join(dir, 'index.css'), 'body{}');
    const r = rendererBundleReport(dir);
    expect(r.targetBytes).toBe(300 * 1024);
    expect(r.files.map((f) => f.name)).toEqual(['index-a.js', 'vendor-b.js']);
    expect(r.files[0]!.bytes).toBe(Buffer.byteLength(a));
    // The gzipped size is that of a real gzip stream of the file.
    expect(r.files[0]!.gzipBytes).toBe(gzipSync(a, { level: 9 }).byteLength);
    expect(gunzipSync(gzipSync(a, { level: 9 })).toString()).toBe(a);
    expect(r.files[0]!.gzipBytes).toBeLessThan(r.files[0]!.bytes);
    expect(r.totalGzipBytes).toBe(r.files[0]!.gzipBytes + r.files[1]!.gzipBytes);
  });

  it('refuses to report on a missing or empty build', () => {
    expect(() => rendererBundleReport(path.join(dir, 'nope'))).toThrow(/npm run build/);
    expect(() => rendererBundleReport(dir)).toThrow(/no \.js file/);
  });
});
