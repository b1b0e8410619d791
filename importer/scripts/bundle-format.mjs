// `npm pack` of the importer (its prepack and postpack scripts): keyhold-format
// is a workspace package that is never published, so the importer's tarball
// carries it as a bundled dependency (importer/package.json
// bundleDependencies). npm bundles only what is in the package's own
// node_modules, and a workspace's dependencies are hoisted to the root, so
// prepack copies the built format (package.json and dist/) to
// importer/node_modules/keyhold-format and postpack removes the copy again
// (left in place, it would shadow the workspace link with a stale copy).
import { cpSync, existsSync, mkdirSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const target = join(root, 'importer', 'node_modules', 'keyhold-format');

rmSync(target, { recursive: true, force: true });
if (process.argv[2] === '--clean') {
  const modules = dirname(target);
  if (existsSync(modules) && readdirSync(modules).length === 0) rmdirSync(modules);
} else {
  const from = join(root, 'format');
  if (!existsSync(join(from, 'dist', 'index.js'))) {
    process.stderr.write('bundle-format: format/dist is missing; run `npm run build -w keyhold-format` first\n');
    process.exit(1);
  }
  mkdirSync(target, { recursive: true });
  cpSync(join(from, 'package.json'), join(target, 'package.json'));
  cpSync(join(from, 'dist'), join(target, 'dist'), { recursive: true });
}
