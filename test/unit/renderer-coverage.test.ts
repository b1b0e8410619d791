/**
 * Every capability of the core has a screen: each command of the contract
 * (shared/contract.ts) is either called by the renderer (through
 * `window.keyhold`, i.e. `api.<method>(...)` in renderer/src) or listed here as
 * CLI-only with its reason, and that list is the one docs/desktop.md gives.
 * The test reads the renderer's sources, so a screen removed or a command
 * added without a screen fails it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMAND_NAMES, type CommandName } from '../../shared/contract.js';
import { IPC_COMMANDS, methodName } from '../../shared/ipc-names.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Commands with no screen, and why. Each must appear in docs/desktop.md's "CLI-only commands" table. */
const CLI_ONLY: Readonly<Partial<Record<CommandName, string>>> = {
  'key.list': 'the app reads the same MAC-checked rows through key.table: in pages, as columns, with each key\'s due status',
  'anchor.status': 'the app checks the rollback anchors at every unlock and shows a refusal on the unlock screen; the per-token detail is a diagnostic',
};

function rendererSources(dir = path.join(ROOT, 'renderer/src')): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...rendererSources(p));
    else if (/\.(ts|tsx)$/.test(e.name)) out.push(fs.readFileSync(p, 'utf8'));
  }
  return out;
}

describe('renderer coverage of the contract', () => {
  const called = new Set<string>();
  for (const src of rendererSources()) for (const m of src.matchAll(/\bapi\.([a-zA-Z]+)\(/g)) called.add(m[1] as string);

  it('calls every command a user can run, or lists it as CLI-only with its reason', () => {
    const missing = COMMAND_NAMES.filter((c) => !called.has(methodName(c as never)) && CLI_ONLY[c] === undefined);
    expect(missing, 'contract commands with no screen and no CLI-only reason').toEqual([]);
  });

  it('exposes over IPC every command a screen calls, and only real methods are called', () => {
    const methods = new Set<string>(IPC_COMMANDS.map((c) => methodName(c)));
    expect([...called].filter((m) => m !== 'on' && !methods.has(m)), 'calls to methods window.keyhold does not have').toEqual([]);
    for (const c of COMMAND_NAMES) {
      if (CLI_ONLY[c] === undefined) expect((IPC_COMMANDS as readonly string[]).includes(c), c).toBe(true);
    }
  });

  it('documents each CLI-only command with its reason in docs/desktop.md', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs/desktop.md'), 'utf8');
    for (const c of Object.keys(CLI_ONLY)) expect(doc, c).toContain(`\`${c}\``);
  });
});
