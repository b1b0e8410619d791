/**
 * The custody engine's one service API: a handler per command of the contract
 * (shared/contract.ts), each fed input already parsed against its schema. The
 * CLI calls it directly; the desktop app's IPC router exposes it unchanged.
 * A service holds at most one unlocked vault at a time (a session).
 */

import path from 'node:path';
import {
  COMMAND_NAMES,
  type CommandArgs,
  type CommandName,
  type CommandOutput,
  type KeyslotInfo,
  type PolicyScope,
} from '../../shared/contract.js';
import { KeyholdError } from '../../shared/errors.js';
import { parseCommandInput } from '../../shared/validate.js';
import { requireStrongPassphrase } from '../../shared/strength.js';
import { exportAudit, listAudit, recoverAudit, verifyAudit } from './audit/log.js';
import { createKeys, keyTable, listKeys, revealKey, showKey, type Progress } from './keys/keys.js';
import { destroyKey, dueKeys, housekeeping, revokeKey, rotateKeys } from './keys/lifecycle.js';
import { setPolicy, showPolicy } from './keys/policy.js';
import { resolveKeyRef } from './keys/rows.js';
import { addRecipient, addSigner, exportBundle, exportTrust, prepareBundle, resendBundle, setThreshold, signBundleFile } from './bundle/export.js';
import { PreparedBundles } from './bundle/prepare.js';
import { hashWords } from '../../shared/hash-words.js';
import { listRecipients, listSigners, recipientInfo, signerInfo, threshold } from './bundle/store.js';
import { recoverPendingFiles, type RecoveryNote } from './bundle/recover.js';
import { setSettings, showSettings } from './settings.js';
import { AnchorKeeper } from './token/anchor.js';
import { keyslotKey, makeTokenSlot, tokenOpener } from './token/keyslot.js';
import { PinPlan, TokenManager, type GivenPin, type PinProvider, type TokenManagerOptions } from './token/token.js';
import { bytesFromPassphrase, Vault, type Clock } from './vault/vault.js';
import { calibrateKdf, DEFAULT_KDF } from './vault/kdf.js';
import { checkNewVaultPath } from './vault/db.js';
import { defaultActor } from './audit/workstation.js';
import { operatorNameFrom } from './operators/store.js';
import { Operators } from './operators/operators.js';
import { QuorumSessions, quorumSurvey } from './vault/quorum.js';
import { addQuorumSlot, paperShare, reshareSlot, shareFrom, type QuorumContext } from './quorum/commands.js';
import { passphraseOpener } from './vault/keyslots.js';
import { backupVault, restoreBackup } from './backup/backup.js';
import { endCeremony, listCeremonies, startCeremony } from './ceremony/ceremony.js';
import { writeTranscript } from './ceremony/transcript.js';

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
  /**
   * A PIN given without a prompt for the commands of this service (the CLI's
   * --pin-file or KEYHOLD_PIN). Like a command's `pin`, it is bound to one
   * token before any login (PinPlan) and never offered to another; once bound
   * (by an unlock by token, say) it stays bound.
   */
  givenPin?: GivenPin | undefined;
  /** Things the operator should know that are not a command's result (a leftover of an interrupted export settled at unlock). */
  onNotice?: ((message: string) => void) | undefined;
  /**
   * How long an unlock waits for a vault another process holds, in
   * milliseconds (the CLI's --wait, KEYHOLD_WAIT); 0 or absent: VAULT_IN_USE at once.
   */
  waitMs?: number | undefined;
}>;

/** Read-only commands that still run when housekeeping cannot (a damaged row must not hide the audit log). */
const READ_ONLY: ReadonlySet<CommandName> = new Set(['vault.info', 'slot.list', 'audit.list', 'audit.verify', 'audit.export',
  'ceremony.list', 'ceremony.transcript',
  'recipient.list', 'signer.list', 'settings.show']);

/**
 * Commands that never change the vault: they run on a vault opened read-only
 * and on one whose audit log cannot take an entry. Every other command is
 * refused there before any work (Vault.writeRefusal), token logins included.
 */
const READS: ReadonlySet<CommandName> = new Set(['vault.create', 'vault.unlock', 'vault.unlockToken', 'vault.lock', 'vault.restore',
  'vault.status', 'vault.info', 'slot.list', 'key.list', 'key.table', 'key.show', 'key.due', 'policy.show', 'settings.show', 'audit.list', 'audit.verify',
  'audit.export', 'recipient.list', 'signer.list', 'token.list', 'token.keys', 'quorum.begin', 'quorum.share', 'quorum.cancel', 'anchor.status', 'ceremony.list', 'ceremony.transcript',
  'operator.list', 'operator.signIn', 'operator.signOut', 'operator.whoami', 'approval.request', 'approval.grant', 'dualControl.show']);

/** Commands that run without an unlocked vault, or must not trigger housekeeping first. */
const NO_HOUSEKEEPING: ReadonlySet<CommandName> = new Set(['vault.create', 'vault.unlock', 'vault.unlockToken', 'vault.lock', 'vault.restore',
  'vault.status', 'token.list', 'token.keys', 'token.keygen', 'bundle.sign', 'quorum.begin', 'quorum.share', 'quorum.cancel',
  'operator.signIn', 'operator.signOut', 'operator.whoami']);

type Handlers = {
  [C in CommandName]: (args: CommandArgs<C>) => Promise<CommandOutput<C>> | CommandOutput<C>;
};

export class KeyholdService {
  #vault: Vault | null = null;
  #tokens: TokenManager | null = null;
  /** The service's given PIN, bound once for all its commands. */
  #pinPlan: PinPlan | null = null;
  /** Bundles prepared for a summary (bundle.prepare), in memory only: dropped at lock. */
  readonly #prepared = new PreparedBundles();
  /** Who is signed in and the approvals asked for (electron/core/operators), in memory only: dropped at lock. */
  readonly #operators = new Operators();
  /** A quorum unlock's shares being collected (vault/quorum.ts), in memory only: wiped at cancel, lock, 5 minutes idle. */
  readonly #quorum: QuorumSessions;
  /** The rollback anchors on the vault's tokens (token/anchor.ts): checked at unlock, written after each change. */
  readonly #anchors: AnchorKeeper;
  readonly #opts: ServiceOptions;
  readonly #handlers: Handlers;

  constructor(opts: ServiceOptions = {}) {
    this.#opts = opts;
    this.#quorum = new QuorumSessions(() => (opts.clock?.() ?? new Date()).getTime());
    const quorum: QuorumContext = { tokens: () => this.tokens, pins: (pin) => this.#pins(pin) };
    this.#anchors = new AnchorKeeper((m) => opts.onNotice?.(m));
    const progress = (c: CommandName): Progress | undefined =>
      opts.onProgress ? (done, total) => opts.onProgress?.(c, done, total) : undefined;
    this.#handlers = {
      'vault.create': async (a) => {
        await requireStrongPassphrase(a.passphrase, 'init', 'the passphrase');
        this.#close();
        // The first operator: every role, the creation passphrase as its credential (its own salt), written with
        // the vault and named as the actor of its vault.create entry (electron/core/operators).
        const operator = a.operator ?? operatorNameFrom(opts.actor ?? defaultActor());
        // A path that cannot take a vault fails before any slow KDF work (Vault.create checks again).
        checkNewVaultPath(path.resolve(a.path));
        const kdf = a.kdf ?? (await calibrateKdf());
        const seed = await this.#operators.firstOperator(operator, a.passphrase, kdf);
        this.#vault = await Vault.create(a.path, a.passphrase, { kdf, clock: opts.clock, actor: operator,
          onNotice: opts.onNotice, seed });
        return this.#vault.info();
      },
      'vault.unlock': async (a) => {
        this.#close();
        this.#vault = await Vault.unlock(a.path, a.passphrase, { clock: opts.clock, actor: opts.actor,
          waitMs: opts.waitMs, onNotice: opts.onNotice, beforeChanges: this.#anchorCheck(a.acceptRollback) });
        try {
          if (!this.#vault.writeRefusal) housekeeping(this.#vault);
        } catch {
          // A row that fails its check is reported by the command that needs it;
          // unlock itself stays possible so that `audit verify` can run.
        }
        this.#recoverFiles();
        return this.#vault.info();
      },
      'vault.unlockToken': async (a) => {
        this.#close();
        const opener = tokenOpener(this.tokens, { pins: this.#pins(a.pin), allowFinalTry: a.allowFinalTry, token: a.token });
        try {
          this.#vault = await Vault.unlockWith(a.path, opener, { clock: opts.clock, actor: opts.actor,
            waitMs: opts.waitMs, onNotice: opts.onNotice, beforeChanges: this.#anchorCheck(a.acceptRollback) });
        } catch (e) {
          // A PIN given with several tokens present: bound once the keyslots were seen (no login yet), then a second pass.
          if (!opener.again()) throw e;
          this.#vault = await Vault.unlockWith(a.path, opener, { clock: opts.clock, actor: opts.actor,
            waitMs: opts.waitMs, onNotice: opts.onNotice, beforeChanges: this.#anchorCheck(a.acceptRollback) });
        }
        try {
          if (!this.#vault.writeRefusal) housekeeping(this.#vault);
        } catch {
          // As for a passphrase unlock: the command that needs a damaged row reports it.
        }
        this.#recoverFiles();
        return this.#vault.info();
      },
      'vault.lock': async () => {
        // The anchors are written once more at lock, to every registered token still logged in.
        await this.#syncAnchors(true);
        this.#close();
        await this.#tokens?.logoutAll();
        return { locked: true as const };
      },
      'vault.status': () => ({ unlocked: this.#vault !== null, path: this.#vault?.path ?? null }),
      'vault.info': () => this.vault.info(),
      'anchor.status': () => this.#anchors.status(this.vault, this.tokens),
      'vault.backup': (a) => backupVault(this.vault, a.out),
      'vault.restore': async (a) => {
        // A token logged in for the restore checks its rollback record as at any unlock (a backup is an older copy).
        const vopts = { clock: opts.clock, actor: opts.actor, onNotice: opts.onNotice, beforeChanges: this.#anchorCheck(a.acceptRollback) };
        const opener = 'passphrase' in a
          ? passphraseOpener(bytesFromPassphrase(a.passphrase))
          : tokenOpener(this.tokens, { pins: this.#pins(a.pin), allowFinalTry: a.allowFinalTry, token: a.token });
        const { vault, report } = await restoreBackup(a.file, a.path, opener, vopts);
        this.#close();
        this.#vault = vault;
        return { ...vault.info(), restoredFrom: report.from };
      },
      'slot.list': () => this.vault.listKeyslots(),
      'quorum.begin': async (a) => {
        // The quorum slots are read through unlockWith with an opener that opens nothing (its checks, no key).
        const survey = quorumSurvey();
        try {
          await Vault.unlockWith(a.path, survey, { waitMs: opts.waitMs });
        } catch (e) {
          if (survey.seen.length === 0) throw e;
        }
        return this.#quorum.begin(a.path, survey.seen, a.slot);
      },
      'quorum.share': async (a) => {
        const r = await this.#quorum.add(a.session, a.custodian, shareFrom(quorum, a));
        const state = { slot: r.info.slot, collected: r.info.collected, given: r.info.given, needed: Math.max(0, r.info.m - r.info.collected) };
        if (!r.complete) return { ...state, unlocked: false };
        this.#close();
        this.#vault = await Vault.unlockWith(r.complete.path, r.complete.opener, { clock: opts.clock, actor: opts.actor,
          waitMs: opts.waitMs, onNotice: opts.onNotice, beforeChanges: this.#anchorCheck(a.acceptRollback) });
        try {
          if (!this.#vault.writeRefusal) housekeeping(this.#vault);
        } catch {
          // As for a passphrase unlock: the command that needs a damaged row reports it.
        }
        this.#recoverFiles();
        return { ...state, unlocked: true, vault: this.#vault.info() };
      },
      'quorum.cancel': (a) => ({ cancelled: this.#quorum.cancel(a.session) }),
      'slot.addQuorum': (a) => addQuorumSlot(this.vault, quorum, a),
      'slot.reshare': (a) => reshareSlot(this.vault, quorum, a),
      'share.paper': (a) => paperShare(this.vault, quorum, a),
      'slot.addPassphrase': async (a) => {
        const vault = this.vault;
        await requireStrongPassphrase(a.passphrase, 'slot add-passphrase', 'the passphrase');
        return vault.addPassphraseSlot(a.passphrase, a.label, a.kdf);
      },
      'slot.addToken': async (a) => {
        const vault = this.vault;
        const token = this.tokens.token(a.token);
        const pins = this.#pins(a.pin);
        pins.bind([token.description], a.token);
        await token.login({ askPin: pins.provider, why: 'add a keyslot for this token', allowFinalTry: a.allowFinalTry });
        const key = await keyslotKey(token, a.keyLabel);
        // Every token operation (including the proof that the token unwraps)
        // is done before the vault is written: a token pulled out leaves no slot.
        return vault.addSlotWith((vmk, vaultId, slotId) =>
          makeTokenSlot(token, key, vmk, vaultId, slotId, a.label || `token ${token.description.label}`));
      },
      'slot.remove': (a) => this.#maybeDryRun(a.dryRun, (vault) => {
        const slots = vault.listKeyslots();
        vault.removeKeyslot(a.id);
        return { removed: a.id, slot: slots.find((s) => s.id === a.id) as KeyslotInfo,
          passphraseSlotsLeft: slots.filter((s) => s.type === 'passphrase' && s.id !== a.id).length };
      }),
      'passphrase.change': async (a) => {
        const vault = this.vault;
        await requireStrongPassphrase(a.next, 'passphrase change', 'the new passphrase');
        return vault.changePassphrase(a.current, a.next, a.kdf);
      },
      'key.create': (a) => createKeys(this.vault, [a])[0] as CommandOutput<'key.create'>,
      'key.list': (a) => listKeys(this.vault, a),
      'key.table': (a) => keyTable(this.vault, a),
      'key.show': (a) => showKey(this.vault, this.#key(a.id)),
      'key.reveal': (a) => revealKey(this.vault, this.#key(a.id), a.version),
      'key.due': (a) => dueKeys(this.vault, a.all),
      'key.rotate': (a) => this.#maybeDryRun(a.dryRun, (vault) => {
        const t0 = performance.now();
        const sel = 'ids' in a ? { ids: a.ids.map((r) => this.#key(r)) } : 'due' in a ? { due: true as const } : { all: true as const };
        const rotated = rotateKeys(vault, sel, progress('key.rotate'));
        return { rotated, tookMs: performance.now() - t0 };
      }),
      'key.revoke': (a) => this.#maybeDryRun(a.dryRun, (vault) => revokeKey(vault, this.#key(a.id), a.reason, a.version)),
      'key.destroy': (a) => this.#maybeDryRun(a.dryRun, (vault) => destroyKey(vault, this.#key(a.id), a.version)),
      'policy.set': (a) => setPolicy(this.vault, this.#scope(a.scope), {
        ...(a.rotation !== undefined ? { rotation: a.rotation } : {}),
        ...(a.grace !== undefined ? { grace: a.grace } : {}),
        ...(a.warn !== undefined ? { warn: a.warn } : {}),
        ...(a.lifetime !== undefined ? { lifetime: a.lifetime } : {}),
      }),
      'policy.clear': (a) => setPolicy(this.vault, this.#scope(a.scope), {}, true),
      'policy.show': (a) => showPolicy(this.vault, this.#scope(a.scope)),
      'settings.show': () => showSettings(this.vault),
      'settings.set': (a) => setSettings(this.vault, a),
      'audit.list': (a) => listAudit(this.vault, a.key === undefined ? a : { ...a, key: this.#key(a.key) }),
      'audit.verify': () => verifyAudit(this.vault),
      'audit.recover': (a) => recoverAudit(this.vault, a.reason),
      'audit.export': (a) => exportAudit(this.vault, a.out),
      'recipient.add': (a) => addRecipient(this.vault, a.name, a.publicKey, a.verifies, a.holds),
      'recipient.list': () => listRecipients(this.vault).map(recipientInfo),
      'signer.add': (a) => addSigner(this.vault, this.tokens, a.token, a.keyLabel),
      'signer.list': () => ({ threshold: threshold(this.vault), signers: listSigners(this.vault).map(signerInfo) }),
      'signer.threshold': (a) => setThreshold(this.vault, a.threshold),
      'bundle.export': async (a) => {
        const vault = this.vault;
        const prepared = a.prepared === undefined ? undefined : this.#prepared.get(a.prepared, Date.parse(vault.now()));
        const report = await exportBundle(vault, this.tokens, { recipient: a.recipient, out: a.out,
          revocationsOnly: a.revocationsOnly, expires: a.expires, token: a.token, pins: this.#pins(a.pin), allowFinalTry: a.allowFinalTry,
          prepared, qr: a.qr });
        if (a.prepared !== undefined) this.#prepared.delete(a.prepared);
        return report;
      },
      'bundle.prepare': async (a) => {
        const vault = this.vault;
        const p = await prepareBundle(vault, a);
        this.#prepared.add(p);
        return {
          prepared: p.id, recipient: { name: p.recipient.name, id: p.recipient.id }, sequence: p.sequence, revocationsOnly: p.revocationsOnly,
          issued: p.issued, revoked: p.revoked, secrets: p.secrets, keys: [...p.keys], moreKeys: p.moreKeys, issuedAt: p.issuedAt,
          expiresAt: p.expiresAt, checkpoint: p.checkpoint, hash: p.hash, words: hashWords(p.hash), payloadBytes: p.bytes,
          threshold: threshold(vault), preparedUntil: new Date(p.validUntil).toISOString(),
        };
      },
      'bundle.resend': (a) => resendBundle(this.vault, a),
      'bundle.sign': (a) => signBundleFile(this.#vault, this.tokens, { file: a.file, token: a.token, keyLabel: a.keyLabel,
        pins: this.#pins(a.pin), allowFinalTry: a.allowFinalTry }),
      'trust.export': (a) => exportTrust(this.vault, this.tokens, { out: a.out, expires: a.expires, token: a.token, pins: this.#pins(a.pin),
        allowFinalTry: a.allowFinalTry }),
      'token.list': () => this.tokens.scan(),
      'token.keys': async (a) => {
        const tokens = a.token === undefined
          ? this.tokens.scan().filter((d) => d.flags.initialized).map((d) => this.tokens.token(d.serial))
          : [this.tokens.token(a.token)];
        const out = [];
        const pins = this.#pins(a.pin);
        if (a.login || a.pin !== undefined) pins.bind(tokens.map((t) => t.description), a.token);
        for (const t of tokens) {
          if (a.login || a.pin !== undefined) {
            await t.login({ askPin: pins.provider, why: 'list its private keys', allowFinalTry: a.allowFinalTry });
          }
          out.push({ token: t.description, keys: await t.listKeys() });
        }
        return out;
      },
      'ceremony.start': (a) => startCeremony(this.vault, a.purpose, a.present),
      'ceremony.end': (a) => endCeremony(this.vault, this.tokens, { token: a.token, keyLabel: a.keyLabel, pins: this.#pins(a.pin),
        allowFinalTry: a.allowFinalTry }),
      'ceremony.list': () => listCeremonies(this.vault),
      'operator.add': (a) => this.#operators.add(this.vault, () => this.tokens, a, DEFAULT_KDF),
      'operator.list': () => this.#operators.list(this.vault),
      'operator.remove': (a) => this.#operators.remove(this.vault, a.name),
      'operator.grant': (a) => this.#operators.grant(this.vault, a.name, a.roles),
      'operator.revoke': (a) => this.#operators.revoke(this.vault, a.name, a.roles),
      'operator.signIn': (a) => this.#operators.signIn(this.vault, () => this.tokens, a.name,
        { passphrase: a.passphrase, pins: this.#pins(a.pin), allowFinalTry: a.allowFinalTry }),
      'operator.signOut': () => this.#operators.signOut(this.#vault),
      'operator.whoami': () => this.#operators.whoami(this.#vault),
      'operator.setCredential': (a) => this.#operators.setCredential(this.vault, () => this.tokens, a, DEFAULT_KDF),
      'approval.request': (a) => this.#operators.requestApproval(this.vault, a.command, a.input, () => this.#approvalDetail(a.command, a.input)),
      'approval.grant': (a) => this.#operators.grantApproval(this.vault, () => this.tokens, a.id, a.name,
        { passphrase: a.passphrase, pins: this.#pins(a.pin), allowFinalTry: a.allowFinalTry }),
      'dualControl.show': () => this.#operators.showDualControl(this.vault),
      'dualControl.set': (a) => this.#operators.setDualControl(this.vault, a),
      'ceremony.transcript': (a) => writeTranscript(this.vault, a),
      'token.keygen': async (a) => {
        const token = this.tokens.token(a.token);
        const pins = this.#pins(a.pin);
        pins.bind([token.description], a.token);
        await token.login({ askPin: pins.provider, why: `generate the key '${a.label}'`, allowFinalTry: a.allowFinalTry });
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
   * The PINs of one command (PinPlan): the PIN in its input, else the
   * service's given PIN (--pin-file, KEYHOLD_PIN), each bound to one token
   * before any login and never offered to another; every other token's PIN
   * is asked for (askPin) or the login fails with NOT_INTERACTIVE.
   */
  #pins(pin: string | undefined): PinPlan {
    if (pin !== undefined) return new PinPlan({ source: 'the PIN given', read: () => Promise.resolve(pin) }, this.#opts.askPin);
    this.#pinPlan ??= new PinPlan(this.#opts.givenPin, this.#opts.askPin);
    return this.#pinPlan;
  }

  /**
   * Runs a destructive command's own code, or with `dryRun` rehearses it
   * (Vault.rehearse: the same code to the end of its transaction, rolled
   * back) and returns the would-be result marked `dryRun: true`.
   */
  #maybeDryRun<T extends object>(dryRun: boolean | undefined, fn: (vault: Vault) => T): T | (T & { dryRun: true }) {
    const vault = this.vault;
    if (dryRun !== true) return fn(vault);
    return { ...vault.rehearse(() => fn(vault)), dryRun: true as const };
  }

  /**
   * What an approver of a bundle export should read besides its options: the
   * recipient, sequence and counts of the bundle as it would be made now (the
   * payload prepared, or prepared afresh and dropped: nothing is signed or
   * recorded). Other commands: nothing more.
   */
  async #approvalDetail(command: string, input: Record<string, unknown>): Promise<string[]> {
    if (command !== 'bundle.export') return [];
    const vault = this.vault;
    const p = typeof input.prepared === 'string'
      ? this.#prepared.get(input.prepared, Date.parse(vault.now()))
      : await prepareBundle(vault, { recipient: String(input.recipient), revocationsOnly: input.revocationsOnly === true,
        expires: typeof input.expires === 'string' ? input.expires : '7d' });
    return [`bundle ${p.sequence} to ${p.recipient.name}: ${p.issued} issued (${p.secrets} with secrets), ${p.revoked} revoked`];
  }

  /** A key's id from how a command names it (id or service/environment/name): resolveKeyRef. */
  #key(ref: string): string {
    return resolveKeyRef(this.vault, ref);
  }

  #scope(scope: PolicyScope): PolicyScope {
    return 'key' in scope ? { key: this.#key(scope.key) } : scope;
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
    // Roles, then dual control (shared/roles.ts, electron/core/operators): before any handler or housekeeping.
    const approval = this.#vault ? this.#operators.authorize(this.#vault, command, args) : null;
    // A vault opened read-only, or whose log cannot take an entry, refuses every change before any work.
    const refusal = this.#vault?.writeRefusal ?? null;
    if (refusal && !READS.has(command) && !(command === 'audit.recover' && refusal.code === 'AUDIT_TRUNCATED')) throw refusal;
    // Retiring versions whose grace has ended are revoked before any command sees the vault.
    if (this.#vault && !NO_HOUSEKEEPING.has(command) && !refusal) {
      try {
        housekeeping(this.#vault);
      } catch (e) {
        if (!READ_ONLY.has(command)) throw e;
      }
    }
    const handler = this.#handlers[command] as (a: CommandArgs<C>) => Promise<CommandOutput<C>> | CommandOutput<C>;
    const opened = this.#vault;
    const out = approval && opened
      ? await opened.withAuditDetails({ approvedBy: approval.approvedBy }, async () => handler(args))
      : await handler(args);
    // A vault just opened (created, unlocked, restored): its operators (a one-operator vault signs it in).
    if (this.#vault && this.#vault !== opened) this.#operators.opened(this.#vault);
    // After a change (the audit head moved), or a registered token newly logged in: its rollback anchor (token/anchor.ts).
    await this.#syncAnchors();
    return out;
  }

  /**
   * Settles files an interrupted `bundle export` or `bundle resend` left
   * (bundle/recover.ts) as soon as the vault opens, and tells the operator
   * (onNotice). Never fails the unlock: a vault that cannot be written now
   * (read-only, its log under recovery) is settled by a later command.
   */
  #recoverFiles(): void {
    const v = this.#vault;
    // A vault that refuses changes (read-only, audit cut short) settles nothing: each settlement is audited.
    if (!v || v.auditHeadError || v.writeRefusal) return;
    let notes: RecoveryNote[] = [];
    try {
      notes = recoverPendingFiles(v);
    } catch {
      // Left for `bundle export` and `bundle resend`, which settle leftovers first and report a failure.
    }
    for (const n of notes) this.#opts.onNotice?.(n.message);
  }

  /** Vault's beforeChanges at unlock: the anchors on the registered tokens logged in (token/anchor.ts). */
  #anchorCheck(accept: { reason: string } | undefined): (vault: Vault) => Promise<void> {
    return (vault) => this.#anchors.checkAtUnlock(vault, this.#tokens, accept);
  }

  /**
   * Brings the rollback anchors of the registered tokens logged in to the
   * vault's head (nothing to do, and no token call, when they have it). Never
   * fails the command that changed the vault: a token it cannot write is told
   * (onNotice) and written the next time.
   */
  async #syncAnchors(force = false): Promise<void> {
    const v = this.#vault;
    if (!v) return;
    try {
      await this.#anchors.sync(v, this.#tokens, force);
    } catch (e) {
      this.#opts.onNotice?.(`the rollback records on the tokens were not updated (${e instanceof KeyholdError ? e.message : 'an unexpected error'})`);
    }
  }

  #close(): void {
    const v = this.#vault;
    this.#vault = null;
    this.#operators.closed();
    this.#anchors.reset();
    this.#prepared.clear();
    this.#quorum.clear();
    v?.lock();
  }

  /** Locks the vault, zeroing its keys. Idempotent. */
  close(): void {
    this.#close();
  }

  /** Locks the vault, logs out of tokens, closes their sessions and releases PKCS#11 modules. */
  async shutdown(): Promise<void> {
    await this.#syncAnchors();
    this.#close();
    const t = this.#tokens;
    this.#tokens = null;
    await t?.close();
  }
}
