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
import { addRecipient, addSigner, exportBundle, exportTrust, resendBundle, setThreshold, signBundleFile } from './bundle/export.js';
import { listRecipients, listSigners, recipientInfo, signerInfo, threshold } from './bundle/store.js';
import { keyslotKey, makeTokenSlot, tokenOpener } from './token/keyslot.js';
import { TokenManager, type PinProvider, type TokenManagerOptions } from './token/token.js';
import { Vault, type Clock } from './vault/vault.js';

export type ServiceOptions = Readonly<{
  clock?: Clock | undefined;
  /** Who is acting, for the audit log (default: the OS user). */
  actor?: string | undefined;
  /** Progress of long work (rotation of many keys), for a bar or UI events. */
  onProgress?: ((command: CommandName, done: number, total: number) => void) | undefined;
  /** PKCS#11 modules and driver (`--module`, KEYHOLD_PKCS11_MODULE, platform defaults). */
  tokens?: TokenManagerOptions | undefined;
  /**
   * Asks for a token PIN when a command needs a login and its input carries
   * none (the CLI prompts or reads KEYHOLD_PIN). Without it such a command
   * fails with NOT_INTERACTIVE.
   */
  askPin?: PinProvider | undefined;
}>;

/** Read-only commands that still run when housekeeping cannot (a damaged row must not hide the audit log). */
const READ_ONLY: ReadonlySet<CommandName> = new Set(['vault.info', 'slot.list', 'audit.list', 'audit.verify', 'audit.export',
  'recipient.list', 'signer.list']);

/** Commands that run without an unlocked vault, or must not trigger housekeeping first. */
const NO_HOUSEKEEPING: ReadonlySet<CommandName> = new Set(['vault.create', 'vault.unlock', 'vault.unlockToken', 'vault.lock',
  'vault.status', 'token.list', 'token.keys', 'token.keygen', 'bundle.sign']);

type Handlers = {
  [C in CommandName]: (args: CommandArgs<C>) => Promise<CommandOutput<C>> | CommandOutput<C>;
};

export class KeyholdService {
  #vault: Vault | null = null;
  #tokens: TokenManager | null = null;
  readonly #opts: ServiceOptions;
  readonly #handlers: Handlers;

  constructor(opts: ServiceOptions = {}) {
    this.#opts = opts;
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
      'vault.unlockToken': async (a) => {
        this.#close();
        const opener = tokenOpener(this.tokens, { askPin: this.#pins(a.pin), allowFinalTry: a.allowFinalTry, token: a.token });
        this.#vault = await Vault.unlockWith(a.path, opener, { clock: opts.clock, actor: opts.actor });
        try {
          if (!this.#vault.auditHeadError) housekeeping(this.#vault);
        } catch {
          // As for a passphrase unlock: the command that needs a damaged row reports it.
        }
        return this.#vault.info();
      },
      'vault.lock': async () => {
        this.#close();
        await this.#tokens?.logoutAll();
        return { locked: true as const };
      },
      'vault.status': () => ({ unlocked: this.#vault !== null, path: this.#vault?.path ?? null }),
      'vault.info': () => this.vault.info(),
      'slot.list': () => this.vault.listKeyslots(),
      'slot.addPassphrase': (a) => this.vault.addPassphraseSlot(a.passphrase, a.label, a.kdf),
      'slot.addToken': async (a) => {
        const vault = this.vault;
        const token = this.tokens.token(a.token);
        await token.login({ askPin: this.#pins(a.pin), why: 'add a keyslot for this token', allowFinalTry: a.allowFinalTry });
        const key = await keyslotKey(token, a.keyLabel);
        // Every token operation (including the proof that the token unwraps)
        // is done before the vault is written: a token pulled out leaves no slot.
        return vault.addSlotWith((vmk, vaultId, slotId) =>
          makeTokenSlot(token, key, vmk, vaultId, slotId, a.label || `token ${token.description.label}`));
      },
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
      'recipient.add': (a) => addRecipient(this.vault, a.name, a.publicKey, a.verifies, a.holds),
      'recipient.list': () => listRecipients(this.vault).map(recipientInfo),
      'signer.add': (a) => addSigner(this.vault, this.tokens, a.token, a.keyLabel),
      'signer.list': () => ({ threshold: threshold(this.vault), signers: listSigners(this.vault).map(signerInfo) }),
      'signer.threshold': (a) => setThreshold(this.vault, a.threshold),
      'bundle.export': (a) => exportBundle(this.vault, this.tokens, { recipient: a.recipient, out: a.out,
        revocationsOnly: a.revocationsOnly, expires: a.expires, askPin: this.#pins(a.pin), allowFinalTry: a.allowFinalTry }),
      'bundle.resend': (a) => resendBundle(this.vault, a),
      'bundle.sign': (a) => signBundleFile(this.#vault, this.tokens, { file: a.file, token: a.token, keyLabel: a.keyLabel,
        askPin: this.#pins(a.pin), allowFinalTry: a.allowFinalTry }),
      'trust.export': (a) => exportTrust(this.vault, this.tokens, { out: a.out, expires: a.expires, askPin: this.#pins(a.pin),
        allowFinalTry: a.allowFinalTry }),
      'token.list': () => this.tokens.scan(),
      'token.keys': async (a) => {
        const tokens = a.token === undefined
          ? this.tokens.scan().filter((d) => d.flags.initialized).map((d) => this.tokens.token(d.serial))
          : [this.tokens.token(a.token)];
        const out = [];
        for (const t of tokens) {
          if (a.login || a.pin !== undefined) {
            await t.login({ askPin: this.#pins(a.pin), why: 'list its private keys', allowFinalTry: a.allowFinalTry });
          }
          out.push({ token: t.description, keys: await t.listKeys() });
        }
        return out;
      },
      'token.keygen': async (a) => {
        const token = this.tokens.token(a.token);
        await token.login({ askPin: this.#pins(a.pin), why: `generate the key '${a.label}'`, allowFinalTry: a.allowFinalTry });
        const key = await token.generateKey(a.label, a.alg);
        const v = this.#vault;
        if (v) {
          // With a vault open the ceremony's log records the new signing key.
          v.transaction(() => v.audit({ action: 'token.keygen', subject: `token-key:${key.kid ?? key.id}`,
            details: { token: token.description.label, serial: token.description.serial, label: key.label, id: key.id, alg: a.alg, kid: key.kid } }));
        }
        return { ...key, token: token.description };
      },
    };
  }

  /** The token manager (modules load on first use). */
  get tokens(): TokenManager {
    this.#tokens ??= new TokenManager(this.#opts.tokens);
    return this.#tokens;
  }

  /**
   * PINs for the logins of one command: the PIN given in the input serves
   * the first login only (never tried on a second token, where it would
   * spend a try); later ones are asked for.
   */
  #pins(pin: string | undefined): PinProvider {
    let given = pin;
    return async (req) => {
      if (given !== undefined) {
        const p = given;
        given = undefined;
        return p;
      }
      if (this.#opts.askPin) return this.#opts.askPin(req);
      throw new KeyholdError('NOT_INTERACTIVE', `token: a PIN is needed for '${req.token.label}'`,
        'Give the PIN (KEYHOLD_PIN, or a prompt on a terminal).');
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

  /** Locks the vault, logs out of tokens, closes their sessions and releases PKCS#11 modules. */
  async shutdown(): Promise<void> {
    this.#close();
    const t = this.#tokens;
    this.#tokens = null;
    await t?.close();
  }
}
