/**
 * The compiled `keyhold` command: `npm run build:cli` (part of `npm run build`
 * and of build/install.sh) bundles electron/cli/main.ts, with the core and
 * the pure-JavaScript dependencies it uses, into out/cli/:
 *
 *   keyhold.js    the program: commander, the command groups, printing
 *   engine.js     the core (electron/cli/engine.ts), loaded when a command runs
 *   sources.json  the files it was built from and when, for electron/cli/which.mjs
 *
 * Native modules (better-sqlite3, argon2, pkcs11js, usb) and pdfkit stay in node_modules,
 * loaded by Node as usual. One file per part, nothing to resolve on the way:
 * `keyhold --version` starts in a few tens of milliseconds more than
 * `node -e 0` (`npm run bench`), where running the TypeScript through tsx took
 * most of a second.
 */

import path from 'node:path';
import { defineConfig, type Plugin } from 'vite';

const ROOT = path.resolve(import.meta.dirname, '..');
/**
 * Left out of the bundle, loaded from node_modules at run time: the native
 * addons, and pdfkit (ceremony transcripts), which reads its font metric
 * files (js/data/*.afm) from its own folder, so it cannot run from a bundle.
 */
const NATIVE = ['better-sqlite3', 'argon2', 'pkcs11js', 'usb', 'pdfkit'];

/**
 * out/cli/sources.json: every file of the repository the bundle was built
 * from (workspace packages included), plus package.json and the lockfile (the
 * bundled dependencies), and the time the build started. A file changed
 * since then makes electron/cli/which.mjs run the sources instead.
 */
function sourceList(): Plugin {
  let builtAt = 0;
  return {
    name: 'keyhold-cli-sources',
    buildStart() {
      builtAt = Date.now();
    },
    generateBundle() {
      const files = new Set<string>(['package.json', 'package-lock.json']);
      for (const id of this.getModuleIds()) {
        const file = id.split('?')[0] ?? id;
        if (!path.isAbsolute(file) || file.includes(`${path.sep}node_modules${path.sep}`)) continue;
        const rel = path.relative(ROOT, file);
        if (!rel.startsWith('..')) files.add(rel.split(path.sep).join('/'));
      }
      this.emitFile({
        type: 'asset',
        fileName: 'sources.json',
        source: `${JSON.stringify({ builtAt, files: [...files].sort() }, null, 1)}\n`,
      });
    },
  };
}

export default defineConfig({
  root: ROOT,
  publicDir: false,
  logLevel: 'warn',
  plugins: [sourceList()],
  // Everything but the native addons goes into the bundle (Node's built-ins are never bundled).
  ssr: { noExternal: true, external: NATIVE },
  build: {
    ssr: path.join(ROOT, 'electron/cli/main.ts'),
    outDir: path.join(ROOT, 'out/cli'),
    emptyOutDir: true,
    target: 'node20.19',
    minify: false,
    sourcemap: false,
    reportCompressedSize: false,
    rollupOptions: {
      output: {
        format: 'es',
        entryFileNames: 'keyhold.js',
        chunkFileNames: '[name].js',
      },
    },
  },
});
