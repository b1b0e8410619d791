import fs from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { beforeAll, describe, expect, it } from 'vitest';

// The layer boundaries (eslint.config.js, build/eslint/layers.js,
// docs/architecture.md "Layers") proven through ESLint itself: one forbidden
// import per boundary, each linted as if it were a file inside its layer and
// each expected to be reported, and one allowed import per layer expected to
// pass. The repository's own config is used; only type-aware linting is
// switched off, because the probe files do not exist for TypeScript's project
// service and the layer rule needs no types.

const ROOT = path.resolve(import.meta.dirname, '../..');
const RULE = 'keyhold/layers';

/** A file path inside each layer (it need not exist). */
const FILE: Record<string, string> = {
  main: 'electron/main/probe.ts',
  preload: 'electron/preload/probe.ts',
  core: 'electron/core/bundle/probe.ts',
  cli: 'electron/cli/probe.ts',
  renderer: 'renderer/src/components/Probe.tsx',
  shared: 'shared/probe.ts',
  format: 'format/src/probe.ts',
  'format-text': 'format/src/text.ts',
  importer: 'importer/src/probe.ts',
  test: 'test/unit/probe.test.ts',
  build: 'build/probe.ts',
};

type Case = Readonly<{ layer: string; code: string; says: RegExp }>;

/** One import per boundary; `says` is what its report must name (the layer, module or reason refused). */
const FORBIDDEN: readonly Case[] = [
  // main: core, shared, format, electron, Node but the network.
  { layer: 'main', code: "import '../preload/index.js';", says: /main may not import preload/ },
  { layer: 'main', code: "import { api } from '../../renderer/src/api.js';", says: /main may not import renderer/ },
  { layer: 'main', code: "import { buildProgram } from '../cli/main.js';", says: /main may not import cli/ },
  { layer: 'main', code: "import { verifyBundle } from 'keyhold-import';", says: /main may not import importer/ },
  { layer: 'main', code: "import https from 'node:https';", says: /network module 'node:https'/ },
  // preload: shared, and contextBridge/ipcRenderer from electron.
  { layer: 'preload', code: "import { route } from '../main/router.js';", says: /preload may not import main/ },
  { layer: 'preload', code: "import { KeyholdService } from '../core/service.js';", says: /preload may not import core/ },
  { layer: 'preload', code: "import fs from 'node:fs';", says: /preload may not import Node's 'node:fs'/ },
  { layer: 'preload', code: "import { shell } from 'electron';", says: /only contextBridge, ipcRenderer.*not shell/ },
  { layer: 'preload', code: "import * as electron from 'electron';", says: /not everything/ },
  { layer: 'preload', code: "import { z } from 'zod';", says: /preload may not import the package 'zod'/ },
  // core: shared, format, Node but the network; no electron, nothing above it.
  { layer: 'core', code: "import { route } from '../../main/router.js';", says: /core may not import main/ },
  { layer: 'core', code: "import { buildProgram } from '../../cli/main.js';", says: /core may not import cli/ },
  { layer: 'core', code: "import { api } from '../../../renderer/src/api.js';", says: /core may not import renderer/ },
  { layer: 'core', code: "import { app } from 'electron';", says: /core may not import 'electron'/ },
  { layer: 'core', code: "import net from 'node:net';", says: /network module 'node:net'/ },
  { layer: 'core', code: "import { fetch } from 'undici';", says: /network module 'undici'/ },
  { layer: 'core', code: "import { verifyBundle } from '../../../importer/src/index.js';", says: /core may not import importer/ },
  { layer: 'core', code: "import { verifyBundle } from 'keyhold-import';", says: /core may not import importer/ },
  { layer: 'core', code: "import { canonicalize } from '../../../format/src/index.js';", says: /into the format\/ package's files by path.*'keyhold-format'/ },
  { layer: 'core', code: "import { canonicalize } from 'keyhold-format/src/jcs.js';", says: /not something the keyhold-format package exports/ },
  // cli: core, shared, format, Node but the network; no electron, no main.
  { layer: 'cli', code: "import { route } from '../main/router.js';", says: /cli may not import main/ },
  { layer: 'cli', code: "import { api } from '../../renderer/src/api.js';", says: /cli may not import renderer/ },
  { layer: 'cli', code: "import { dialog } from 'electron';", says: /cli may not import 'electron'/ },
  { layer: 'cli', code: "import http from 'node:http';", says: /network module 'node:http'/ },
  // renderer: shared and browser packages only.
  { layer: 'renderer', code: "import { KeyholdService } from '../../../electron/core/service.js';", says: /renderer may not import core/ },
  { layer: 'renderer', code: "import type { Vault } from '../../../electron/core/vault/vault.js';", says: /renderer may not import core/ },
  { layer: 'renderer', code: "import { route } from '../../../electron/main/router.js';", says: /renderer may not import main/ },
  { layer: 'renderer', code: "import '../../../electron/preload/index.js';", says: /renderer may not import preload/ },
  { layer: 'renderer', code: "import { ipcRenderer } from 'electron';", says: /renderer may not import 'electron'/ },
  { layer: 'renderer', code: "import { readFileSync } from 'node:fs';", says: /renderer may not import Node's 'node:fs'/ },
  { layer: 'renderer', code: "import { canonicalize } from 'keyhold-format/text';", says: /renderer may not import format-text/ },
  { layer: 'renderer', code: "import Database from 'better-sqlite3';", says: /renderer may not import the package 'better-sqlite3'/ },
  // shared: pure; no other layer, no Node, no electron, no DOM library.
  { layer: 'shared', code: "import { KeyholdService } from '../electron/core/service.js';", says: /shared may not import core/ },
  { layer: 'shared', code: "import { api } from '../renderer/src/api.js';", says: /shared may not import renderer/ },
  { layer: 'shared', code: "import { canonicalize } from 'keyhold-format';", says: /shared may not import format / },
  { layer: 'shared', code: "import { createHash } from 'node:crypto';", says: /shared may not import Node's 'node:crypto'/ },
  { layer: 'shared', code: "import path from 'path';", says: /shared may not import Node's 'path'/ },
  { layer: 'shared', code: "import { app } from 'electron';", says: /shared may not import 'electron'/ },
  { layer: 'shared', code: "import { useState } from 'react';", says: /shared may not import the package 'react'/ },
  // format-text (keyhold-format/text): pure, only its own files.
  { layer: 'format-text', code: "import { createHash } from 'node:crypto';", says: /format-text may not import Node's 'node:crypto'/ },
  { layer: 'format-text', code: "import { compactDecrypt } from 'jose';", says: /format-text may not import the package 'jose'/ },
  { layer: 'format-text', code: "import { b64url } from './encoding.js';", says: /format-text may not import format / },
  { layer: 'format-text', code: "import { KeyholdError } from '../../shared/errors.js';", says: /format-text may not import shared/ },
  // format: jose and Node but the network; depends on neither the app nor the importer.
  { layer: 'format', code: "import { KeyholdError } from '../../shared/errors.js';", says: /format may not import shared/ },
  { layer: 'format', code: "import { KeyholdService } from '../../electron/core/service.js';", says: /format may not import core/ },
  { layer: 'format', code: "import { verifyBundle } from '../../importer/src/index.js';", says: /format may not import importer/ },
  { layer: 'format', code: "import { verifyBundle } from 'keyhold-import';", says: /format may not import importer/ },
  { layer: 'format', code: "import http from 'node:http';", says: /network module 'node:http'/ },
  { layer: 'format', code: "import { app } from 'electron';", says: /format may not import 'electron'/ },
  { layer: 'format', code: "import { z } from 'zod';", says: /format may not import the package 'zod'/ },
  // importer: keyhold-format by name, jose, Node; never the app.
  { layer: 'importer', code: "import { KeyholdError } from '../../shared/errors.js';", says: /importer may not import shared/ },
  { layer: 'importer', code: "import { KeyholdService } from '../../electron/core/service.js';", says: /importer may not import core/ },
  { layer: 'importer', code: "import { canonicalize } from '../../format/src/index.js';", says: /into the format\/ package's files by path.*'keyhold-format'/ },
  { layer: 'importer', code: "import { canonicalize } from 'keyhold-format/src/jcs.js';", says: /not something the keyhold-format package exports/ },
  { layer: 'importer', code: "import { app } from 'electron';", says: /importer may not import 'electron'/ },
  { layer: 'importer', code: "import { z } from 'zod';", says: /importer may not import the package 'zod'/ },
  // Every way of writing an import is checked, not only `import ... from`.
  { layer: 'core', code: "export { route } from '../../main/router.js';", says: /core may not import main/ },
  { layer: 'core', code: "export * from '../../main/router.js';", says: /core may not import main/ },
  { layer: 'core', code: "export async function f() { return import('../../main/router.js'); }", says: /core may not import main/ },
  { layer: 'core', code: "export const r: unknown = require('../../main/router.js');", says: /core may not import main/ },
  { layer: 'core', code: "import router = require('../../main/router.js'); export { router };", says: /core may not import main/ },
  { layer: 'core', code: "export type R = typeof import('../../main/router.js');", says: /core may not import main/ },
  // However the path is spelled, it is the layer it lands in that counts.
  { layer: 'core', code: "import { route } from '../../core/../main/./router.js';", says: /core may not import main/ },
  { layer: 'core', code: "import { route } from '../../../electron/main/router.js';", says: /core may not import main/ },
  // A path that lands in no layer at all.
  { layer: 'core', code: "import '../../../docs/notes.js';", says: /in no layer/ },
];

/** One allowed import set per layer: nothing in it may be reported. */
const ALLOWED: readonly Case[] = [
  { layer: 'main', code: "import { app } from 'electron';\nimport fs from 'node:fs';\nimport { KeyholdService } from '../core/service.js';\nimport { KeyholdError } from '../../shared/errors.js';\nimport { route } from './router.js';\nimport { canonicalize } from 'keyhold-format';", says: /^$/ },
  { layer: 'preload', code: "import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';\nimport { IPC_METHODS } from '../../shared/ipc-names.js';", says: /^$/ },
  { layer: 'core', code: "import fs from 'node:fs';\nimport Database from 'better-sqlite3';\nimport { KeyholdError } from '../../../shared/errors.js';\nimport { stmt } from '../vault/db.js';\nimport { canonicalize } from 'keyhold-format';", says: /^$/ },
  { layer: 'cli', code: "import { Command } from 'commander';\nimport readline from 'node:readline/promises';\nimport { KeyholdService } from '../core/service.js';\nimport { toErrorInfo } from '../../shared/errors.js';", says: /^$/ },
  { layer: 'renderer', code: "import { useState } from 'react';\nimport { createRoot } from 'react-dom/client';\nimport { useShallow } from 'zustand/react/shallow';\nimport { type Result } from '../../../shared/contract.js';\nimport { api } from '../api.js';", says: /^$/ },
  { layer: 'shared', code: "import { z } from 'zod';\nimport { KeyholdError } from './errors.js';\nimport { canonicalize } from 'keyhold-format/text';", says: /^$/ },
  { layer: 'format-text', code: "import { ImportError } from './errors.js';\nexport { canonicalize } from './canonical.js';", says: /^$/ },
  { layer: 'format', code: "import { CompactSign } from 'jose';\nimport { createHash } from 'node:crypto';\nimport { canonicalize } from './jcs.js';\nimport { ImportError } from './errors.js';", says: /^$/ },
  { layer: 'importer', code: "import { canonicalize } from 'keyhold-format';\nimport { apiKeyId } from 'keyhold-format/text';\nimport { CompactSign } from 'jose';\nimport fs from 'node:fs';\nimport { ImportError } from './errors.js';", says: /^$/ },
  { layer: 'test', code: "import { verifyBundle } from '../../importer/src/index.js';\nimport { route } from '../../electron/main/router.js';\nimport { app } from 'electron';\nimport http from 'node:http';", says: /^$/ },
  { layer: 'build', code: "import { KeyholdService } from '../electron/core/service.js';\nimport { verifyBundle } from '../importer/src/index.js';\nimport { app } from 'electron';", says: /^$/ },
];

let eslint: ESLint;

beforeAll(() => {
  eslint = new ESLint({ cwd: ROOT, overrideConfig: [tseslint.configs.disableTypeChecked] });
});

/** The layer rule's reports for `code` linted as a file of `layer`; a parse error fails the test instead of passing it. */
async function layerReports(layer: string, code: string): Promise<string[]> {
  const file = FILE[layer];
  if (file === undefined) throw new Error(`no probe file for layer ${layer}`);
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  if (result === undefined) throw new Error(`ESLint returned no result for ${file}`);
  expect(result.messages.filter((m) => m.fatal === true).map((m) => m.message)).toEqual([]);
  return result.messages.filter((m) => m.ruleId === RULE).map((m) => m.message);
}

describe('layer boundaries (keyhold/layers)', () => {
  it('every layer of the config has a probe file, forbidden imports and an allowed one', async () => {
    const config = (await eslint.calculateConfigForFile(path.join(ROOT, FILE.core!))) as { rules: Record<string, unknown> };
    const entry = config.rules[RULE] as [unknown, { layers: { name: string; anything?: boolean }[] }];
    const names = entry[1].layers.map((l) => l.name);
    expect(names.sort()).toEqual(Object.keys(FILE).sort());
    for (const l of entry[1].layers) {
      expect(ALLOWED.some((c) => c.layer === l.name), `an allowed case for ${l.name}`).toBe(true);
      if (l.anything !== true) expect(FORBIDDEN.some((c) => c.layer === l.name), `a forbidden case for ${l.name}`).toBe(true);
    }
  });

  it.each(FORBIDDEN.map((c) => [c.layer, c.code, c] as const))('%s refuses %s', async (_layer, _code, c) => {
    const reports = await layerReports(c.layer, c.code);
    expect(reports.length, `reports for ${c.code}`).toBeGreaterThan(0);
    expect(reports.join('\n')).toMatch(c.says);
  });

  it.each(ALLOWED.map((c) => [c.layer, c] as const))('%s allows its own imports', async (_layer, c) => {
    expect(await layerReports(c.layer, c.code)).toEqual([]);
  });

  it('the workspace packages the rule knows by name are the ones in the tree', async () => {
    const config = (await eslint.calculateConfigForFile(path.join(ROOT, FILE.core!))) as { rules: Record<string, unknown> };
    const entry = config.rules[RULE] as [unknown, { workspaces: Record<string, string>; entries: Record<string, string> }];
    expect(Object.keys(entry[1].workspaces).sort()).toEqual(['keyhold-format', 'keyhold-import']);
    for (const [name, dir] of Object.entries(entry[1].workspaces)) {
      const file = path.join(ROOT, dir, 'package.json');
      // keyhold-format may not be in the tree yet; once it is, its name must match.
      if (name === 'keyhold-format' && !fs.existsSync(file)) continue;
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name: string; exports?: Record<string, unknown> };
      expect(pkg.name, file).toBe(name);
      // An entry point given a layer of its own must be one the package exports.
      for (const spec of Object.keys(entry[1].entries).filter((e) => e.startsWith(`${name}/`))) {
        expect(Object.keys(pkg.exports ?? {}), `${file} exports`).toContain(`.${spec.slice(name.length)}`);
      }
    }
  });
});
