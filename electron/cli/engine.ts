/**
 * The part of the core a command needs to run: the service (SQLite, Argon2,
 * PKCS#11, the zod schemas, the bundle format) and the few core functions the
 * CLI calls directly. It is loaded by `engine()` in common.ts when a command
 * runs, never at start: `keyhold --version`, `--help` and a usage error do
 * not load it, and the compiled CLI keeps it in a chunk of its own
 * (out/cli/engine.js). Import the core from here, not from a command file.
 */

import type { CommandName, CommandOutput } from '../../shared/contract.js';
import { KeyholdService, type ServiceOptions } from '../core/service.js';

export { requireStrongPassphrase } from '../../shared/strength.js';
export { parseCommandInput } from '../../shared/validate.js';
export { enforceStrictAirgap, listInterfaces, refuseStrictWhileConnected, strictFromEnv } from '../core/airgap.js';
export { verifyAuditFile } from '../core/audit/log.js';
export { READ_LIMITS, readJsonObjectFile, readTextFile } from '../core/fsutil.js';
export { pinStateText, tokenName } from '../core/token/token.js';
export { checkNewVaultPath } from '../core/vault/db.js';
export { checkRestoreTarget } from '../core/backup/backup.js';
export { checkQrDir, writeQrPngs } from '../core/bundle/qr.js';
export { DEFAULT_KDF } from '../core/vault/kdf.js';
export { looksLikePaper } from '../core/quorum/paper.js';
export { terminalQr } from '../core/quorum/commands.js';
export { writeNewFile } from '../core/fsutil.js';

/** The service with each call timed: `took` hears how long each call took, in milliseconds. */
export class TimedService extends KeyholdService {
  readonly #took: (ms: number) => void;

  constructor(opts: ServiceOptions, took: (ms: number) => void) {
    super(opts);
    this.#took = took;
  }

  /**
   * Runs before each command (the CLI's --approver, operator-cli.ts): asks for
   * and grants the approval of a dual-controlled command, then the call goes on.
   */
  approve: ((command: CommandName, input: unknown) => Promise<void>) | null = null;

  override async call<C extends CommandName>(command: C, input: unknown): Promise<CommandOutput<C>> {
    if (this.approve) await this.approve(command, input);
    const start = performance.now();
    try {
      return await super.call(command, input);
    } finally {
      this.#took(performance.now() - start);
    }
  }
}
