// Which `keyhold` runs: the compiled CLI or the TypeScript sources.
//
// `npm run build` (and build/install.sh) compiles the CLI into out/cli/
// (build/cli.vite.config.ts), with out/cli/sources.json naming every file it
// was built from and when the build started. keyhold.mjs runs:
//   - the compiled out/cli/keyhold.js when it is there and none of those
//     files changed since the build (a fresh install, CI, `npm test`);
//   - else the sources, through tsx (a devDependency): out/cli missing, or a
//     source edited since the build, so a developer never runs stale code.
// KEYHOLD_CLI=compiled or KEYHOLD_CLI=source picks one whatever the files
// say; KEYHOLD_DEBUG=1 prints the choice and its reason on stderr.
// Checking costs one small JSON read and a stat per source file (~70):
// well under a millisecond.

import fs from 'node:fs';
import path from 'node:path';

const HERE = import.meta.dirname;

/**
 * @param {{ root?: string, env?: Record<string, string | undefined> }} [o]
 * @returns {{ use: 'compiled' | 'source', why: string, entry: string }}
 */
export function chooseCli(o = {}) {
  const root = o.root ?? path.resolve(HERE, '../..');
  const env = o.env ?? process.env;
  const compiled = path.join(root, 'out/cli/keyhold.js');
  const source = path.join(root, 'electron/cli/main.ts');
  const pick = (use, why) => ({ use, why, entry: use === 'compiled' ? compiled : source });
  const forced = env.KEYHOLD_CLI;
  if (forced === 'source') return pick('source', 'KEYHOLD_CLI=source');
  if (forced === 'compiled') return pick('compiled', 'KEYHOLD_CLI=compiled');
  let built;
  try {
    built = JSON.parse(fs.readFileSync(path.join(root, 'out/cli/sources.json'), 'utf8'));
  } catch {
    return pick('source', 'out/cli is not built (npm run build)');
  }
  if (!fs.existsSync(compiled) || typeof built?.builtAt !== 'number' || !Array.isArray(built.files)) {
    return pick('source', 'out/cli is not built (npm run build)');
  }
  for (const f of built.files) {
    const st = fs.statSync(path.join(root, f), { throwIfNoEntry: false });
    if (st === undefined) return pick('source', `${f} is gone since out/cli was built (npm run build)`);
    if (st.mtimeMs > built.builtAt) return pick('source', `${f} changed since out/cli was built (npm run build)`);
  }
  return pick('compiled', 'out/cli is built from the current sources');
}
