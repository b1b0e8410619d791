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
import { createKeys, listKeys, revealKey, showKey } from './keys/keys.js';
import { Vault, type Clock } from './vault/vault.js';

export type ServiceOptions = Readonly<{ clock?: Clock | undefined }>;

type Handlers = {
  [C in CommandName]: (args: CommandArgs<C>) => Promise<CommandOutput<C>> | CommandOutput<C>;
};

export class KeyholdService {
  #vault: Vault | null = null;
  readonly #clock: Clock | undefined;
  readonly #handlers: Handlers;

  constructor(opts: ServiceOptions = {}) {
    this.#clock = opts.clock;
    this.#handlers = {
      'vault.create': async (a) => {
        this.#close();
        this.#vault = await Vault.create(a.path, a.passphrase, { kdf: a.kdf, clock: this.#clock });
        return this.#vault.info();
      },
      'vault.unlock': async (a) => {
        this.#close();
        this.#vault = await Vault.unlock(a.path, a.passphrase, { clock: this.#clock });
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
