#!/usr/bin/env node
// The `keyhold` command. It runs the compiled CLI (out/cli, built by
// `npm run build` and build/install.sh) when that was built from the current
// sources, else the TypeScript sources through tsx: which.mjs says which and
// why (KEYHOLD_CLI=compiled|source to choose, KEYHOLD_DEBUG=1 to see).
import { existsSync } from 'node:fs';
import { chooseCli } from './which.mjs';

const choice = chooseCli();
if (process.env.KEYHOLD_DEBUG) process.stderr.write(`keyhold: running the ${choice.use === 'compiled' ? 'compiled CLI' : 'sources through tsx'}: ${choice.why}\n`);

async function load() {
  const compiled = new URL('../../out/cli/keyhold.js', import.meta.url);
  if (choice.use === 'source') {
    const tsx = await import('tsx/esm/api').catch(() => null);
    if (tsx !== null) {
      tsx.register();
      return import('./main.ts');
    }
    // No tsx (an install without devDependencies): the compiled CLI, if any, is all there is.
    if (existsSync(compiled)) {
      process.stderr.write(`keyhold: warning: running the compiled CLI, which may be older than its sources (${choice.why}); tsx is not installed to run them\n`);
      return import(compiled.href);
    }
  }
  if (!existsSync(compiled)) {
    process.stderr.write(`keyhold: the CLI is not built (out/cli is missing)${choice.use === 'source' ? ' and tsx is not installed to run its sources' : ''}\n  hint: Run \`npm run build\`.\n`);
    process.exit(1);
  }
  return import(compiled.href);
}

const { main } = await load();
process.exitCode = await main(process.argv.slice(2));
