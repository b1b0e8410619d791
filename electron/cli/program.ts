/**
 * The `keyhold` program: the global options (common.ts), each command group
 * (commands/, one file per group, registered here in the order --help lists
 * them), and the run of one command line with its errors and exit code.
 * main.ts loads it for everything but --version; the core is loaded only when
 * a command runs (engine.ts).
 */

import { CommanderError } from '@commander-js/extra-typings';
import { exitCodeFor, toErrorInfo } from '../../shared/errors.js';
import { newProgram, type GlobalOpts, type Program } from './common.js';
import { anchorCommands } from './commands/anchor.js';
import { auditCommands } from './commands/audit.js';
import { backupCommands } from './commands/backup.js';
import { bundleCommands } from './commands/bundle.js';
import { ceremonyCommands } from './commands/ceremony.js';
import { keyCommands } from './commands/key.js';
import { operatorCommands } from './commands/operator.js';
import { policyCommands } from './commands/policy.js';
import { quorumCommands } from './commands/quorum.js';
import { recipientCommands } from './commands/recipient.js';
import { settingsCommands } from './commands/settings.js';
import { signerCommands } from './commands/signer.js';
import { slotCommands } from './commands/slot.js';
import { tokenCommands } from './commands/token.js';
import { trustCommands } from './commands/trust.js';
import { vaultCommands } from './commands/vault.js';
import { printError, printJson } from './output.js';

export function buildProgram(): Program {
  const program = newProgram();
  const g = (): GlobalOpts => program.opts();
  vaultCommands(program, g); // init, info
  backupCommands(program, g); // backup, restore
  slotCommands(program, g); // slot ..., passphrase change
  quorumCommands(program, g); // slot add-quorum, slot reshare, share paper
  keyCommands(program, g);
  policyCommands(program, g);
  settingsCommands(program, g);
  recipientCommands(program, g);
  signerCommands(program, g);
  bundleCommands(program, g);
  trustCommands(program, g);
  tokenCommands(program, g);
  operatorCommands(program, g); // operator ..., dualcontrol ...
  auditCommands(program, g);
  ceremonyCommands(program, g);
  anchorCommands(program, g);
  return program;
}

/** Runs one command line; resolves to the exit code (docs/cli.md 4.2). */
export async function run(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  const json = argv.includes('--json');
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help ends here too, with exit code 0; commander has printed its message.
      if (e.exitCode === 0) return 0;
      if (json) printJson({ error: { code: 'INVALID_INPUT', message: `cli: ${e.message.replace(/^error: /, '')}` } });
      return 2;
    }
    const info = toErrorInfo(e);
    printError(info, json);
    return exitCodeFor(info.code);
  }
}
