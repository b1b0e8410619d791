import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'electron-vite';
import type { Plugin } from 'vite';

/**
 * `npm run dev` only: Vite's dev server injects inline styles and scripts
 * (React refresh) and talks to the page over a WebSocket, all of which the
 * app's CSP forbids. The dev page gets those three allowances; a build
 * (`apply: 'serve'` is never part of it) keeps the policy of index.html as is.
 */
function devOnlyCsp(): Plugin {
  return {
    name: 'keyhold-dev-only-csp',
    apply: 'serve',
    transformIndexHtml(html) {
      return html
        .replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
        .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
        .replace("connect-src 'none'", "connect-src 'self' ws://localhost:* ws://127.0.0.1:*");
    },
  };
}

// Layout follows the design card (electron/main, electron/preload, renderer/)
// rather than electron-vite's src/ convention, so every entry is named here.
export default defineConfig({
  main: {
    // electron-vite externalises every package of package.json "dependencies"
    // by default (build.externalizeDeps): the native addons, and pdfkit, which
    // reads its font files from its own folder at run time, load from node_modules.
    build: {
      outDir: 'out/main',
      rollupOptions: { input: { index: resolve(import.meta.dirname, 'electron/main/index.ts') } },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rollupOptions: {
        input: { index: resolve(import.meta.dirname, 'electron/preload/index.ts') },
        // A sandboxed preload can only be one CommonJS file that requires nothing but electron.
        output: { format: 'cjs', entryFileNames: '[name].cjs', inlineDynamicImports: true },
      },
    },
  },
  renderer: {
    root: resolve(import.meta.dirname, 'renderer'),
    plugins: [react(), devOnlyCsp()],
    build: {
      outDir: resolve(import.meta.dirname, 'out/renderer'),
      minify: true,
      rollupOptions: { input: { index: resolve(import.meta.dirname, 'renderer/index.html') } },
    },
  },
});
