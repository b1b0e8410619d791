/**
 * `npm pack` of the importer gives a package that installs and runs alone on
 * a server. keyhold-format is a workspace package that is never published, so
 * the importer's tarball must carry it (bundleDependencies, filled by the
 * importer's prepack script): installed from the tarball into an empty
 * folder, offline, `keyhold-import --help` runs and `verify` accepts a bundle
 * made by the test helpers.
 *
 * The pack runs in a copy of the two packages (format/, importer/) in a temp
 * folder, so its builds never rewrite format/dist or importer/dist under the
 * other test files running meanwhile. jose is the importer's one dependency
 * from the registry; it is given as a tarball packed from the installed copy
 * (npm's cache holds its tarball, not the registry's metadata that
 * `npm install --offline` of a range would need).
 */

import { execFile } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { fixture, makeBundle, type Fixture } from './helpers.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const NPM_ENV = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };

async function npm(cwd: string, ...args: string[]): Promise<string> {
  const r = await run('npm', args, { cwd, env: NPM_ENV, maxBuffer: 16 * 1024 * 1024 });
  return r.stdout;
}

/** The tarball npm pack wrote to `dir` (the one whose name starts with `name`). */
function tarball(dir: string, name: string): string {
  const f = readdirSync(dir).find((n) => n.startsWith(`${name}-`) && n.endsWith('.tgz'));
  if (!f) throw new Error(`no ${name} tarball in ${dir}`);
  return join(dir, f);
}

describe('npm pack of the importer', () => {
  let tmp: TmpDir;
  let work: string;
  let server: string;
  let f: Fixture;

  beforeAll(async () => {
    tmp = makeTmpDir('kh-pack-');
    work = tmp.dir;
    // The workspace as npm sees it: the two packages, the base tsconfig, and the root's node_modules (tsc, jose).
    const src = join(work, 'src');
    mkdirSync(src);
    for (const pkg of ['format', 'importer']) {
      cpSync(join(ROOT, pkg), join(src, pkg), { recursive: true, filter: (p) => !/[/\\](dist|node_modules)$/.test(p) });
    }
    cpSync(join(ROOT, 'tsconfig.base.json'), join(src, 'tsconfig.base.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'), 'dir');
    const out = join(work, 'tarballs');
    mkdirSync(out);
    await npm(join(src, 'importer'), 'pack', '--pack-destination', out);
    await npm(join(ROOT, 'node_modules', 'jose'), 'pack', '--pack-destination', out);

    server = join(work, 'server');
    mkdirSync(server);
    writeFileSync(join(server, 'package.json'), '{"name":"a-server","version":"1.0.0","private":true}\n');
    await npm(server, 'install', '--offline', '--no-audit', '--no-fund', tarball(out, 'keyhold-import'), tarball(out, 'jose'));
    f = await fixture();
  }, 240_000);

  afterAll(() => tmp.remove());

  it('carries keyhold-format inside the tarball and leaves nothing behind in the package folder', () => {
    expect(existsSync(join(server, 'node_modules', 'keyhold-import', 'node_modules', 'keyhold-format', 'dist', 'index.js'))).toBe(true);
    expect(existsSync(join(server, 'node_modules', 'keyhold-import', 'dist', 'cli.js'))).toBe(true);
    // postpack removed the copy prepack made (left there, it would shadow the workspace link).
    expect(existsSync(join(work, 'src', 'importer', 'node_modules'))).toBe(false);
  });

  it('installs alone: keyhold-import --help runs, and verify accepts a bundle', async () => {
    const bin = join(server, 'node_modules', '.bin', 'keyhold-import');
    const help = await run(bin, ['--help'], { cwd: server });
    expect(help.stdout).toMatch(/keygen.*\n.*verify/s);

    writeFileSync(join(server, 'root.json'), f.trustText);
    writeFileSync(join(server, 'server.jwk'), JSON.stringify(f.recipient.privateJwk));
    chmodSync(join(server, 'server.jwk'), 0o600);
    const now = Date.now();
    const b = await makeBundle(f, { issuedAt: new Date(now - 60_000), expiresAt: new Date(now + 86400_000) });
    writeFileSync(join(server, 'b1.json'), b.text);
    const v = await run(bin, ['verify', '--trust', 'root.json', '--key', 'server.jwk', '--json', 'b1.json'], { cwd: server });
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, bundle: { payloadHash: b.hash, sequence: 1, hasSecrets: true } });
  });
});
