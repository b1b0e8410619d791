/**
 * The custody engine's one service API: a handler per command of the contract
 * (shared/contract.ts), each fed input already parsed against its schema. The
 * CLI calls it directly; the desktop app's IPC router exposes it unchanged.
 * A service holds at most one unlocked vault at a time (a session).
 */

import {
  COMMAND_NAMES,
  type CommandArgs,
  type CommandName,
  type CommandOutput,
} from '../../shared/contract.js';
import { KeyholdError } from '../../shared/errors.js';
import { parseCommandInput } from '../../shared/validate.js';
import { exportAudit, listAudit, verifyAudit } from './audit/log.js';
import { createKeys, listKeys, revealKey, showKey, type Progress } from './keys/keys.js';
import { destroyKey, dueKeys, housekeeping, revokeKey, rotateKeys } from './keys/lifecycle.js';
import { setPolicy, showPolicy } from './keys/policy.js';
import { Vault, type Clock } from './vault/vault.js';

export type ServiceOptions = Readonly<{
  clock?: Clock | undefined;
  /** Who is acting, for the audit log (default: the OS user). */
  actor?: string | undefined;
  /** Progress of long work (rotation of many keys), for a bar or UI events. */
  onProgress?: ((command: CommandName, done: number, total: number) => void) | undefined;
}>;

/** Read-only commands that still run when housekeeping cannot (a damaged row must not hide the audit log). */
const READ_ONLY: ReadonlySet<CommandName> = new Set(['vault.info', 'slot.list', 'audit.list', 'audit.verify', 'audit.export']);

/** Commands that run without an unlocked vault, or must not trigger housekeeping first. */
const NO_HOUSEKEEPING: ReadonlySet<CommandName> = new Set(['vault.create', 'vault.unlock', 'vault.lock', 'vault.status']);

type Handlers = {
  [C in CommandName]: (args: CommandArgs<C>) => Promise<CommandOutput<C>> | CommandOutput<C>;
};

export class KeyholdService {
  #vault: Vault | null = null;
  readonly #handlers: Handlers;

  constructor(opts: ServiceOptions = {}) {
    const progress = (c: CommandName): Progress | undefined =>
      opts.onProgress ? (done, total) => opts.onProgress?.(c, done, total) : undefined;
    this.#handlers = {
      'vault.create': async (a) => {
        this.#close();
        this.#vault = await Vault.create(a.path, a.passphrase, { kdf: a.kdf, clock: opts.clock, actor: opts.actor });
        return this.#vault.info();
      },
      'vault.unlock': async (a) => {
        this.#close();
        this.#vault = await Vault.unlock(a.path, a.passphrase, { clock: opts.clock, actor: opts.actor });
        try {
          if (!this.#vault.auditHeadError) housekeeping(this.#vault);
        } catch {
          // A row that fails its check is reported by the command that needs it;
          // unlock itself stays possible so that `audit verify` can run.
        }
        return this.#vault.info();
      },
      'vault.lock': () => {
        this.#close();
        return { locked: true as const };
      },
      'vault.status': () => ({ unlocked: this.#vault !== null, path: this.#vault?.path ?? null }),
      'vault.info': () => this.vault.info(),
      'slot.list': () => this.vault.listKeyslots(),
      'slot.addPassphrase': (a) => this.vault.addPassphraseSlot(a.passphrase, a.label, a.kdf),
      'slot.remove': (a) => {
        this.vault.removeKeyslot(a.id);
        return { removed: a.id };
      },
      'passphrase.change': (a) => this.vault.changePassphrase(a.current, a.next, a.kdf),
      'key.create': (a) => createKeys(this.vault, [a])[0] as CommandOutput<'key.create'>,
      'key.list': (a) => listKeys(this.vault, a),
      'key.show': (a) => showKey(this.vault, a.id),
      'key.reveal': (a) => revealKey(this.vault, a.id, a.version),
      'key.due': (a) => dueKeys(this.vault, a.all),
      'key.rotate': (a) => {
        const t0 = performance.now();
        const rotated = rotateKeys(this.vault, a, progress('key.rotate'));
        return { rotated, tookMs: performance.now() - t0 };
      },
      'key.revoke': (a) => revokeKey(this.vault, a.id, a.reason, a.version),
      'key.destroy': (a) => destroyKey(this.vault, a.id, a.version),
      'policy.set': (a) => setPolicy(this.vault, a.scope, {
        ...(a.rotation !== undefined ? { rotation: a.rotation } : {}),
        ...(a.grace !== undefined ? { grace: a.grace } : {}),
        ...(a.warn !== undefined ? { warn: a.warn } : {}),
        ...(a.lifetime !== undefined ? { lifetime: a.lifetime } : {}),
      }),
      'policy.clear': (a) => setPolicy(this.vault, a.scope, {}, true),
      'policy.show': (a) => showPolicy(this.vault, a.scope),
      'audit.list': (a) => listAudit(this.vault, a),
      'audit.verify': () => verifyAudit(this.vault),
      'audit.export': (a) => exportAudit(this.vault, a.out),
    };
  }

  /** The unlocked vault, or VAULT_LOCKED. */
  get vault(): Vault {
    if (!this.#vault) throw new KeyholdError('VAULT_LOCKED', 'vault: locked', 'Unlock the vault first.');
    return this.#vault;
  }

  /**
   * Runs one command. `input` is untrusted: it is parsed against the
   * command's schema before any handler sees it. Throws KeyholdError.
   */
  async call<C extends CommandName>(command: C, input: unknown): Promise<CommandOutput<C>> {
    if (!COMMAND_NAMES.includes(command)) {
      throw new KeyholdError('INVALID_INPUT', `service: unknown command ${JSON.stringify(String(command)).slice(0, 80)}`);
    }
    const args = parseCommandInput(command, input);
    // Retiring versions whose grace has ended are revoked before any command sees the vault.
    if (this.#vault && !NO_HOUSEKEEPING.has(command) && !this.#vault.auditHeadError) {
      try {
        housekeeping(this.#vault);
      } catch (e) {
        if (!READ_ONLY.has(command)) throw e;
      }
    }
    const handler = this.#handlers[command] as (a: CommandArgs<C>) => Promise<CommandOutput<C>> | CommandOutput<C>;
    return await handler(args);
  }

  #close(): void {
    const v = this.#vault;
    this.#vault = null;
    v?.lock();
  }

  /** Locks the vault, zeroing its keys. Idempotent. */
  close(): void {
    this.#close();
  }
}
