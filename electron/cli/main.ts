/**
 * The `keyhold` command. It parses arguments, gets secrets from the
 * environment, a file or a no-echo prompt, calls the core through the same
 * service API the desktop app uses, and prints. Nothing else lives here.
 */

import { readFileSync } from 'node:fs';
import { Command, CommanderError, Help, Option } from 'commander';
import type { CommandName, CommandOutput, KdfParams, TokenInfo } from '../../shared/contract.js';
import { exitCodeFor, KeyholdError, toErrorInfo } from '../../shared/errors.js';
import { KeyholdService } from '../core/service.js';
import { parseCommandInput } from '../../shared/validate.js';
import { DEFAULT_KDF } from '../core/vault/kdf.js';
import { verifyAuditFile } from '../core/audit/log.js';
import { AUDIT_ACTIONS } from '../core/audit/actions.js';
import {
  formatAudit,
  formatDue,
  formatInfo,
  formatKey,
  formatKeys,
  formatPolicy,
  formatSlots,
  formatTokenKeys,
  formatRecipients,
  formatSigners,
  formatBundleExport,
  formatTokens,
  formatVerify,
  esc,
  printError,
  printJson,
  progressBar,
} from './output.js';
import { canAsk, confirm, readSecret } from './prompt.js';
import { READ_LIMITS, readTextFile } from '../core/fsutil.js';
import { codePointName, unsafeChar } from '../../shared/text.js';
import { checkNewVaultPath } from '../core/vault/db.js';
import { pinStateText, tokenName, type GivenPin, type PinProvider, type PinRequest } from '../core/token/token.js';

type GlobalOpts = {
  vault?: string; json?: boolean; passphraseFile?: string; operator?: string;
  module?: string; unlock?: string; allowFinalTry?: boolean; pinFile?: string; unlockToken?: string;
  wait?: string;
};
type KdfOpts = { kdfMemory?: string; kdfPasses?: string; kdfParallelism?: string };

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    throw new KeyholdError('INVALID_INPUT', `${name} must be a whole number, not ${JSON.stringify(value.slice(0, 20))}`,
      'Write digits only, for example 2.');
  }
  return Number(value);
}

/** KDF flags: any one given means explicit parameters (no calibration). */
function kdfFrom(o: KdfOpts): KdfParams | undefined {
  const mem = intOption(o.kdfMemory, '--kdf-memory');
  const passes = intOption(o.kdfPasses, '--kdf-passes');
  const par = intOption(o.kdfParallelism, '--kdf-parallelism');
  if (mem === undefined && passes === undefined && par === undefined) return undefined;
  return {
    memoryKiB: mem !== undefined ? mem * 1024 : DEFAULT_KDF.memoryKiB,
    passes: passes ?? DEFAULT_KDF.passes,
    parallelism: par ?? DEFAULT_KDF.parallelism,
  };
}

function withKdfOptions(cmd: Command): Command {
  return cmd
    .option('--kdf-memory <MiB>', 'Argon2id memory in MiB, at least 19 (any --kdf-* flag sets the parameters explicitly; unset ones default to 64 MiB, 3 passes, 2 lanes)')
    .option('--kdf-passes <N>', 'Argon2id passes, at least 2')
    .option('--kdf-parallelism <N>', 'Argon2id lanes, 1 to 16');
}

function readJsonFile(file: string, what: string): Record<string, unknown> {
  // A regular file of at most 64 KiB (a JWK is a few hundred bytes), stopped while reading.
  const text = readTextFile(file, { prefix: 'cli', what, limit: READ_LIMITS.jwk });
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  throw new KeyholdError('INVALID_INPUT', `cli: ${what} file ${file} is not a JSON object`);
}

function vaultPath(g: GlobalOpts): string {
  const p = g.vault ?? process.env.KEYHOLD_VAULT;
  if (!p) {
    throw new KeyholdError('INVALID_INPUT', 'cli: no vault given', 'Pass --vault PATH or set KEYHOLD_VAULT.');
  }
  return p;
}

function passphrase(g: GlobalOpts, prompt = 'Vault passphrase: '): Promise<string> {
  return readSecret({ envVar: 'KEYHOLD_PASSPHRASE', file: g.passphraseFile, prompt });
}

function newPassphrase(file: string | undefined, envVar: string, prompt: string): Promise<string> {
  return readSecret({ envVar, file, prompt, confirm: true }, 'new passphrase');
}

/** --wait SECONDS (or KEYHOLD_WAIT) in milliseconds: how long an unlock waits for a vault another process holds. */
function waitMs(g: GlobalOpts): number {
  const w = g.wait;
  if (w === undefined || w === '') return 0;
  if (!/^\d{1,6}(\.\d{1,3})?$/.test(w) || Number(w) > 86_400) {
    throw new KeyholdError('INVALID_INPUT', `--wait must be a number of seconds from 0 to 86400, not ${JSON.stringify(w.slice(0, 20))}`,
      'For example --wait 300 waits up to five minutes for the other command to finish (or set KEYHOLD_WAIT).');
  }
  return Math.round(Number(w) * 1000);
}

function service(g: GlobalOpts): KeyholdService {
  const actor = g.operator ?? process.env.KEYHOLD_OPERATOR;
  // The free-text rule of every name (shared/text.ts): a control or format
  // character would let a name forge or reorder lines in a printed log.
  const bad = actor === undefined ? null : unsafeChar(actor);
  if (actor !== undefined && (actor.length < 1 || actor.length > 128 || bad !== null)) {
    throw new KeyholdError('INVALID_INPUT', `--operator must be 1-128 characters on one line${bad !== null
      ? ` (it contains ${codePointName(bad)}, a control or formatting character)` : ''}`,
    'Give the name as plain text, e.g. --operator "Ada Lovelace" (or KEYHOLD_OPERATOR).');
  }
  // Progress goes to stderr, and only on a terminal: stdout stays for results.
  const bar = process.stderr.isTTY && !g.json ? progressBar(process.stderr) : undefined;
  return new TimedService({
    ...(actor ? { actor } : {}),
    ...(bar ? { onProgress: (c: CommandName, done: number, total: number) => bar(c, done, total) } : {}),
    tokens: { module: g.module },
    waitMs: waitMs(g),
    ...pinSources(g),
    // What the vault settled when it opened (a file an interrupted export left): stderr, so stdout stays the result.
    onNotice: (m: string) => void process.stderr.write(`keyhold: ${esc(m)}\n`),
  });
}

/**
 * Token PINs, asked for only when a login is about to happen; the token's PIN
 * state is shown first (count low, final try). A PIN from --pin-file or
 * KEYHOLD_PIN is for one token: the service binds it before any login to the
 * token the command names (--token, --unlock-token) or the only one it logs
 * in to, refuses with TOKEN_AMBIGUOUS when it could be several, and never
 * offers it to another token. Any other token's PIN is typed at a no-echo
 * prompt that names the token (label and serial), on a terminal only.
 */
function pinSources(g: GlobalOpts): { askPin: PinProvider; givenPin?: GivenPin } {
  const warn = (t: TokenInfo) => {
    if (t.pin && (t.pin.countLow || t.pin.finalTry)) {
      process.stderr.write(`keyhold: warning: token ${esc(tokenName(t))}: ${pinStateText(t.pin)}\n`);
    }
  };
  const prompt = (req: PinRequest) => `PIN for token ${esc(tokenName(req.token))} (to ${esc(req.why)}): `;
  const source = g.pinFile !== undefined ? '--pin-file' : (process.env.KEYHOLD_PIN ?? '') !== '' ? 'KEYHOLD_PIN' : null;
  const askPin: PinProvider = async (req) => {
    if (!process.stdin.isTTY) {
      const other = req.givenFor;
      throw new KeyholdError('NOT_INTERACTIVE', `cli: no PIN given for token ${esc(tokenName(req.token))} and no terminal to ask on`, other
        ? `The PIN given (${source ?? 'KEYHOLD_PIN'}) is for ${esc(tokenName(other))} and is never tried on another token. Work with one token at a time (--token), or type this token's PIN on a terminal.`
        : 'Set KEYHOLD_PIN, or pass a file with --pin-file.');
    }
    warn(req.token);
    return readSecret({ prompt: prompt(req) }, 'PIN');
  };
  if (source === null) return { askPin };
  return {
    askPin,
    givenPin: {
      source,
      read: async (req) => {
        warn(req.token);
        return readSecret({ envVar: 'KEYHOLD_PIN', file: g.pinFile, prompt: prompt(req) }, 'PIN');
      },
    },
  };
}

/**
 * Unlocks the vault (with its passphrase, or with `--unlock token` by a token
 * and its PIN), runs fn, then locks it and releases tokens whatever happens.
 */
async function withVault<T>(g: GlobalOpts, fn: (svc: KeyholdService) => Promise<T>): Promise<T> {
  const path = vaultPath(g);
  const method = g.unlock === undefined || g.unlock === '' ? (g.unlockToken !== undefined ? 'token' : 'passphrase') : g.unlock;
  if (method !== 'passphrase' && method !== 'token') {
    throw new KeyholdError('INVALID_INPUT', `cli: --unlock must be passphrase or token, not ${JSON.stringify(method).slice(0, 40)}`);
  }
  if (method === 'passphrase' && g.unlockToken !== undefined) {
    throw new KeyholdError('INVALID_INPUT', 'cli: --unlock-token names the token that unlocks the vault, but --unlock is passphrase',
      'Drop --unlock-token, or use --unlock token.');
  }
  const svc = service(g);
  try {
    if (method === 'token') {
      await svc.call('vault.unlockToken', { path, allowFinalTry: g.allowFinalTry === true,
        ...(g.unlockToken !== undefined ? { token: g.unlockToken } : {}) });
    }
    else await svc.call('vault.unlock', { path, passphrase: await passphrase(g) });
    return await fn(svc);
  } finally {
    await svc.shutdown();
  }
}

/** Runs a command that needs tokens but no vault. */
async function withTokens<T>(g: GlobalOpts, fn: (svc: KeyholdService) => Promise<T>): Promise<T> {
  const svc = service(g);
  try {
    return await fn(svc);
  } finally {
    await svc.shutdown();
  }
}

/** How long the last service call took, in milliseconds: the `tookMs` of a --json result that has none of its own. */
let lastCallMs: number | null = null;

/** The service with each call timed (after the unlock, the last call is the command's own). */
class TimedService extends KeyholdService {
  override async call<C extends CommandName>(command: C, input: unknown): Promise<CommandOutput<C>> {
    const start = performance.now();
    try {
      return await super.call(command, input);
    } finally {
      lastCallMs = performance.now() - start;
    }
  }
}

/** A command whose core output is a list names the field its --json object holds it under. */
type ListField<C extends CommandName> = CommandOutput<C> extends readonly unknown[] ? [field: string] : [];

/**
 * Prints a result. With --json (docs/cli.md 4) it is always one object: a
 * list under its named field, and `tookMs`, the time of the command's service
 * call (the core's own `tookMs` where its output has one).
 */
function out<C extends CommandName>(g: GlobalOpts, value: CommandOutput<C>, human: (v: CommandOutput<C>) => string,
  ...field: ListField<C>): void {
  if (!g.json) {
    process.stdout.write(`${human(value)}\n`);
    return;
  }
  const body: Record<string, unknown> = Array.isArray(value)
    ? { [(field as string[])[0] ?? 'items']: value }
    : { ...(value as Record<string, unknown>) };
  if (typeof body.tookMs !== 'number') body.tookMs = lastCallMs ?? 0;
  printJson(body);
}

type DestructiveCommand = 'key.destroy' | 'key.revoke' | 'key.rotate' | 'slot.remove';
type Destructive<C extends DestructiveCommand> = {
  /** Whether this use of the command asks first (key revoke with --version and key rotate without --all do not). */
  ask: boolean;
  /** What will change, as far as the arguments tell: the question when there is no terminal to ask on. */
  before: string;
  /** The question naming exactly what will change, from the would-be result (a dry run by the core); null: nothing to ask. */
  question: (would: CommandOutput<C>, svc: KeyholdService) => Promise<string | null>;
  /** A warning printed on stderr even with --yes (after the change, from its result). */
  warning?: (done: CommandOutput<C>) => string | null;
  /** The result in text; the dry run's text says "would" (dry = true). */
  print: (v: CommandOutput<C>, dry: boolean) => string;
};

/**
 * A destructive command (docs/cli.md 3.5, 3.12-3.14). With --dry-run the core
 * rehearses it and the would-be result is printed: nothing changes, no audit
 * entry. Otherwise, when it asks: without --yes and without a terminal it
 * stops with CONFIRMATION_REQUIRED before the vault is unlocked; on a terminal
 * the core's dry run names exactly what will change and confirm() asks; then
 * the change is made.
 */
async function destructive<C extends DestructiveCommand>(g: GlobalOpts, o: { yes?: boolean; dryRun?: boolean }, command: C,
  input: Record<string, unknown>, d: Destructive<C>): Promise<void> {
  // Bad arguments are reported as such (by the core's own schema), before any question or unlock.
  parseCommandInput(command, input);
  // Every destructive command's output is an object: no list field to name.
  const noField = [] as unknown as ListField<C>;
  if (o.dryRun === true) {
    await withVault(g, async (svc) => out<C>(g, await svc.call(command, { ...input, dryRun: true }), (v) => d.print(v, true), ...noField));
    return;
  }
  if (d.ask && o.yes !== true && !canAsk()) await confirm(d.before, { yes: o.yes });
  await withVault(g, async (svc) => {
    if (d.ask && o.yes !== true) {
      const question = await d.question(await svc.call(command, { ...input, dryRun: true }), svc);
      if (question !== null) await confirm(question, { yes: o.yes });
    }
    const done = await svc.call(command, input);
    const warning = d.warning?.(done) ?? null;
    if (warning !== null) process.stderr.write(`keyhold: warning: ${warning}\n`);
    out<C>(g, done, (v) => d.print(v, false), ...noField);
  });
}

/** A key as a question names it: id (service/environment/name). */
async function keyName(svc: KeyholdService, id: string): Promise<{ name: string; states: Map<number, string> }> {
  const k = await svc.call('key.show', { id });
  return { name: `${k.id} (${esc(`${k.service}/${k.environment}/${k.name}`)})`, states: new Map(k.versions.map((v) => [v.version, v.state])) };
}

/** "version 1 (retiring), version 2 (active)" */
function versionList(versions: readonly number[], states?: Map<number, string>): string {
  return versions.map((n) => `version ${n}${states?.get(n) ? ` (${states.get(n) ?? ''})` : ''}`).join(', ');
}

export function buildProgram(): Command {
  const program = new Command('keyhold')
    .description('Offline custody of API keys: vault, keys, keyslots.')
    // --version is handled in main() before parsing, so that a subcommand's
    // own --version (key reveal --version N) is not taken for it.
    .addHelpText('after', '\nRun `keyhold --version` for the version.')
    .addOption(new Option('--vault <path>', 'vault file').env('KEYHOLD_VAULT'))
    .option('--json', 'machine-readable output on stdout')
    .option('--passphrase-file <file>', 'read the vault passphrase from a file (else KEYHOLD_PASSPHRASE or a prompt)')
    .addOption(new Option('--operator <name>', 'who is acting, recorded as the actor in the audit log (default: the OS user)').env('KEYHOLD_OPERATOR'))
    .addOption(new Option('--unlock <method>', 'how to unlock the vault: passphrase, or token (a token keyslot and the token\'s PIN)').env('KEYHOLD_UNLOCK'))
    .addOption(new Option('--wait <seconds>', 'if another Keyhold holds the vault, wait up to this long for it (default 0: fail at once with VAULT_IN_USE)').env('KEYHOLD_WAIT'))
    .addOption(new Option('--module <path>', 'PKCS#11 module (default: SoftHSM2, OpenSC and ykcs11 where installed)').env('KEYHOLD_PKCS11_MODULE'))
    .option('--unlock-token <token>', 'with --unlock token: the token (label or serial) whose keyslot unlocks the vault; a PIN given is for it')
    .option('--pin-file <file>', 'read the token PIN from a file (else KEYHOLD_PIN or a prompt); it is for one token only (see --token)')
    .option('--allow-final-try', 'allow a login that spends the token\'s last PIN try')
    .showHelpAfterError()
    .exitOverride()
    // Required options say so in every command's --help (subcommands inherit this).
    .configureHelp({
      optionDescription(option: Option): string {
        const text = Help.prototype.optionDescription.call(this, option);
        return option.mandatory ? `${text} (required)` : text;
      },
    });
  const g = (): GlobalOpts => program.opts<GlobalOpts>();

  withKdfOptions(program.command('init').description('create a new vault (never overwrites a file); Argon2id is calibrated to this machine unless --kdf-* is given'))
    .action(async function initAction(o: KdfOpts) {
      const path = vaultPath(g());
      const kdf = kdfFrom(o);
      // An existing file (or a missing folder) is reported before any prompt or calibration.
      checkNewVaultPath(path);
      const pass = await readSecret({
        envVar: 'KEYHOLD_PASSPHRASE', file: g().passphraseFile, prompt: 'New vault passphrase: ', confirm: true,
      }, 'new passphrase');
      if (!g().json && !kdf) process.stderr.write('Calibrating Argon2id for this machine...\n');
      const svc = service(g());
      try {
        const info = await svc.call('vault.create', { path, passphrase: pass, ...(kdf ? { kdf } : {}) });
        out<'vault.create'>(g(), info, (i) => `Created vault ${i.vaultId} at ${esc(i.path)}\n\n${formatInfo(i)}`);
      } finally {
        svc.close();
      }
    });

  program.command('info').description('vault id, schema, keyslots and counts')
    .action(async function infoAction() {
      await withVault(g(), async (svc) => out<'vault.info'>(g(), await svc.call('vault.info', {}), formatInfo));
    });

  const slot = program.command('slot').description('keyslots: the ways to unlock the vault');
  slot.command('list').description('list keyslots')
    .action(async function slotListAction() {
      await withVault(g(), async (svc) => out<'slot.list'>(g(), await svc.call('slot.list', {}), formatSlots, 'keyslots'));
    });
  withKdfOptions(slot.command('add-passphrase').description('add another passphrase keyslot'))
    .option('--label <label>', 'a name for the slot', '')
    .option('--new-passphrase-file <file>', 'read the new passphrase from a file (else KEYHOLD_NEW_PASSPHRASE or a prompt)')
    .action(async function slotAddPassphraseAction(o: KdfOpts & { label: string; newPassphraseFile?: string }) {
      await withVault(g(), async (svc) => {
        const next = await newPassphrase(o.newPassphraseFile, 'KEYHOLD_NEW_PASSPHRASE', 'New passphrase for the slot: ');
        const kdf = kdfFrom(o);
        const s = await svc.call('slot.addPassphrase', { passphrase: next, label: o.label, ...(kdf ? { kdf } : {}) });
        out<'slot.addPassphrase'>(g(), s, (v) => `Added keyslot ${v.id} (${v.type}).`);
      });
    });
  slot.command('add-token').description('add a keyslot that a PKCS#11 token unlocks (ECDH on the token; the key is generated on the token if the label is new)')
    .requiredOption('--token <label>', 'the token, by label or serial (see `keyhold token list`)')
    .requiredOption('--label <keylabel>', 'the token key for the slot: a P-256 key allowed to derive, or a new label')
    .option('--slot-label <label>', 'a name for the keyslot', '')
    .action(async function slotAddTokenAction(o: { token: string; label: string; slotLabel: string }) {
      await withVault(g(), async (svc) => {
        const s = await svc.call('slot.addToken', { token: o.token, keyLabel: o.label, label: o.slotLabel,
          allowFinalTry: g().allowFinalTry === true });
        out<'slot.addToken'>(g(), s, (v) => `Added keyslot ${v.id} (token ${esc(String(v.params.token))}, key ${esc(String(v.params.keyLabel))}).`);
      });
    });
  slot.command('remove').description('remove a keyslot (never the last one); asks first, warns when no passphrase keyslot would be left')
    .argument('<id>', 'keyslot id')
    .option('--yes', 'do not ask for confirmation (for scripts); a warning is still printed')
    .option('--dry-run', 'print what would be removed and change nothing')
    .action(async function slotRemoveAction(id: string, o: { yes?: boolean; dryRun?: boolean }) {
      const n = intOption(id, 'keyslot id');
      const slotText = (v: CommandOutput<'slot.remove'>) =>
        `keyslot ${v.removed} (${v.slot.type}${v.slot.label ? `, label '${esc(v.slot.label)}'` : ''})`;
      // Removing the last passphrase keyslot leaves a vault only a token opens: said before the question and after the change.
      const noPassphrase = (v: CommandOutput<'slot.remove'>) => v.slot.type === 'passphrase' && v.passphraseSlotsLeft === 0;
      const lastPassphrase = 'it is the last passphrase keyslot: afterwards only a token opens this vault (--unlock token), and no passphrase ever will';
      await destructive(g(), o, 'slot.remove', { id: n }, {
        ask: true,
        before: `Remove keyslot ${n ?? ''}?`,
        question: async (v) => Promise.resolve(`Remove ${slotText(v)}?${noPassphrase(v) ? `\nWarning: ${lastPassphrase}.` : ''}`),
        warning: (v) => (noPassphrase(v) ? `keyslot ${v.removed} was the last passphrase keyslot: only a token opens this vault now ` +
          '(add a passphrase keyslot with `keyhold --unlock token slot add-passphrase`)' : null),
        print: (v, dry) => dry
          ? `Dry run: would remove ${slotText(v)}; nothing was changed.${noPassphrase(v) ? `\nWarning: ${lastPassphrase}.` : ''}`
          : `Removed ${slotText(v)}.`,
      });
    });

  const pass = program.command('passphrase').description('the vault passphrase');
  withKdfOptions(pass.command('change').description('change the passphrase of the keyslot the current one opens (keeps its KDF parameters unless --kdf-* is given)'))
    .option('--new-passphrase-file <file>', 'read the new passphrase from a file (else KEYHOLD_NEW_PASSPHRASE or a prompt)')
    .action(async function passphraseChangeAction(o: KdfOpts & { newPassphraseFile?: string }) {
      const current = await passphrase(g(), 'Current passphrase: ');
      const next = await newPassphrase(o.newPassphraseFile, 'KEYHOLD_NEW_PASSPHRASE', 'New passphrase: ');
      const kdf = kdfFrom(o);
      const svc = service(g());
      try {
        await svc.call('vault.unlock', { path: vaultPath(g()), passphrase: current });
        const s = await svc.call('passphrase.change', { current, next, ...(kdf ? { kdf } : {}) });
        out<'passphrase.change'>(g(), s, (v) => `Changed the passphrase of keyslot ${v.id}.`);
      } finally {
        svc.close();
      }
    });

  const key = program.command('key').description('API keys');
  key.command('create').description('create an API key (prints its id and metadata, never the secret)')
    .requiredOption('--name <name>', 'key name, unique within service and environment')
    .requiredOption('--service <service>', 'the service the key belongs to')
    .option('--env <environment>', 'environment', 'production')
    .option('--scopes <list>', 'comma-separated scopes (least privilege: only these)', '')
    .option('--owner <owner>', 'who answers for the key', '')
    .option('--notes <text>', 'free text, stored sealed', '')
    .option('--activate-at <time>', 'ISO 8601 date or time with a zone (2027-01-31, 2027-01-31T09:00:00Z, 2027-01-31T10:00+01:00): the key is pre-active until then')
    .action(async function keyCreateAction(o: { name: string; service: string; env: string; scopes: string; owner: string;
      notes: string; activateAt?: string }) {
      const scopes = o.scopes.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
      await withVault(g(), async (svc) => {
        const k = await svc.call('key.create', {
          name: o.name, service: o.service, environment: o.env, scopes, owner: o.owner, notes: o.notes,
          ...(o.activateAt !== undefined ? { activateAt: o.activateAt } : {}),
        });
        out<'key.create'>(g(), k, (v) => `Created key ${v.id} (${v.service}/${v.environment}/${v.name}).\nReveal it with: keyhold key reveal ${v.id}`);
      });
    });
  key.command('list').description('list keys')
    .option('--service <service>', 'only this service')
    .option('--env <environment>', 'only this environment')
    .option('--query <text>', 'only keys whose id, name, service, environment, owner or scopes contain this')
    .action(async function keyListAction(o: { service?: string; env?: string; query?: string }) {
      await withVault(g(), async (svc) => {
        const keys = await svc.call('key.list', {
          ...(o.service !== undefined ? { service: o.service } : {}),
          ...(o.env !== undefined ? { environment: o.env } : {}),
          ...(o.query !== undefined ? { query: o.query } : {}),
        });
        out<'key.list'>(g(), keys, formatKeys, 'keys');
      });
    });
  key.command('show').description("a key's metadata, versions and states").argument('<id>', 'key id (16 characters) or service/environment/name')
    .action(async function keyShowAction(id: string) {
      await withVault(g(), async (svc) => out<'key.show'>(g(), await svc.call('key.show', { id }), formatKey));
    });
  key.command('reveal').description("print a key's secret").argument('<id>', 'key id (16 characters) or service/environment/name')
    .option('--version <N>', 'a version other than the current one')
    .action(async function keyRevealAction(id: string, o: { version?: string }) {
      const v = intOption(o.version, '--version');
      await withVault(g(), async (svc) => {
        const r = await svc.call('key.reveal', { id, ...(v !== undefined ? { version: v } : {}) });
        out<'key.reveal'>(g(), r, (x) => x.secret);
      });
    });

  key.command('due').description('keys overdue or due for rotation within their warning time')
    .option('--all', 'list every key with its status, not only the due ones')
    .action(async function keyDueAction(o: { all?: boolean }) {
      await withVault(g(), async (svc) => out<'key.due'>(g(), await svc.call('key.due', { all: o.all === true }), formatDue, 'keys'));
    });
  key.command('rotate').description('rotate keys: a new active version, the old one retiring for its grace window')
    .argument('[ids...]', 'keys, each by id or service/environment/name')
    .addHelpText('after', '\nExactly one of: key ids, --due or --all is needed.')
    .option('--due', 'every key overdue or due within its warning time')
    .option('--all', 'every key with an active version (asks first)')
    .option('--yes', 'with --all: do not ask for confirmation (for scripts)')
    .option('--dry-run', 'print what would be rotated and change nothing')
    .action(async function keyRotateAction(ids: string[], o: { due?: boolean; all?: boolean; yes?: boolean; dryRun?: boolean }) {
      const picked = [ids.length > 0, o.due === true, o.all === true].filter(Boolean).length;
      if (picked !== 1) {
        throw new KeyholdError('INVALID_INPUT', `key rotate: name key ids, or --due, or --all (exactly one of them; ${picked === 0 ? 'none' : picked} given)`,
          'For example: keyhold key rotate payments/production/gateway, or keyhold key rotate --due.');
      }
      const sel = o.due ? { due: true as const } : o.all ? { all: true as const } : { ids };
      const line = (x: CommandOutput<'key.rotate'>['rotated'][number]) => `  ${x.id}  v${x.from} -> v${x.to}, v${x.from} accepted until ${x.graceUntil}`;
      const keys = (n: number) => `${n} key${n === 1 ? '' : 's'}`;
      await destructive(g(), o, 'key.rotate', sel, {
        ask: o.all === true,
        before: 'Rotate every key with an active version (key rotate --all)?',
        question: async (v, svc) => {
          if (v.rotated.length === 0) return null;
          // Names for the first 20; the whole list is what --dry-run prints.
          const names = new Map((await svc.call('key.list', {})).map((k) => [k.id, `${k.service}/${k.environment}/${k.name}`]));
          const shown = v.rotated.slice(0, 20).map((x) => `  ${x.id} (${esc(names.get(x.id) ?? '?')})  v${x.from} -> v${x.to}, v${x.from} retiring until ${x.graceUntil}`);
          return `Rotate every key with an active version: ${keys(v.rotated.length)}?\n${shown.join('\n')}` +
            `${v.rotated.length > 20 ? `\n  ... and ${v.rotated.length - 20} more (see key rotate --all --dry-run)` : ''}`;
        },
        print: (v, dry) => {
          if (v.rotated.length === 0) return dry ? 'Dry run: nothing to rotate.' : 'Nothing to rotate.';
          // A dry run lists every key: that list is what it is for.
          if (dry) return `Dry run: would rotate ${keys(v.rotated.length)}; nothing was changed:\n${v.rotated.map(line).join('\n')}`;
          return `Rotated ${keys(v.rotated.length)} in ${(v.tookMs / 1000).toFixed(2)} s` +
            `${v.rotated.length <= 20 ? `:\n${v.rotated.map(line).join('\n')}` : '.'}`;
        },
      });
    });
  key.command('revoke').description('revoke a key now (every live version, which asks first, or one)').argument('<id>', 'key id (16 characters) or service/environment/name')
    .option('--version <N>', 'only this version')
    .requiredOption('--reason <reason>', 'compromised, superseded, retired or other')
    .option('--yes', 'without --version: do not ask for confirmation (for scripts)')
    .option('--dry-run', 'print what would be revoked and change nothing')
    .action(async function keyRevokeAction(id: string, o: { version?: string; reason: string; yes?: boolean; dryRun?: boolean }) {
      const v = intOption(o.version, '--version');
      await destructive(g(), o, 'key.revoke', { id, reason: o.reason, ...(v !== undefined ? { version: v } : {}) }, {
        // Every live version of the key: asked; one named version is what the operator already spelled out.
        ask: v === undefined,
        before: `Revoke every live version of key ${esc(id)}?`,
        question: async (x, svc) => {
          const k = await keyName(svc, x.id);
          return `Revoke key ${k.name} ${versionList(x.versions, k.states)} as ${x.reason}? ` +
            'Servers refuse them once they apply the next bundle; a revoked version never comes back.';
        },
        print: (x, dry) => dry
          ? `Dry run: would revoke ${x.id} version ${x.versions.join(', ')} (${x.reason}); nothing was changed.`
          : `Revoked ${x.id} version ${x.versions.join(', ')} (${x.reason}) at ${x.revokedAt}, in ${x.tookMs.toFixed(1)} ms.`,
      });
    });
  key.command('destroy').description('erase the secret of revoked versions; metadata and history stay (asks first)')
    .argument('<id>', 'key id (16 characters) or service/environment/name').option('--version <N>', 'only this version')
    .option('--yes', 'do not ask for confirmation (for scripts)')
    .option('--dry-run', 'print what would be destroyed and change nothing')
    .action(async function keyDestroyAction(id: string, o: { version?: string; yes?: boolean; dryRun?: boolean }) {
      const v = intOption(o.version, '--version');
      await destructive(g(), o, 'key.destroy', { id, ...(v !== undefined ? { version: v } : {}) }, {
        ask: true,
        before: `Destroy the secret of key ${esc(id)}${v !== undefined ? ` version ${v}` : ' (every revoked version)'}?`,
        question: async (x, svc) => {
          const k = await keyName(svc, x.id);
          return `Destroy the secret of key ${k.name} ${versionList(x.versions)}? It is erased for good; metadata and history stay.`;
        },
        print: (x, dry) => dry
          ? `Dry run: would destroy the secret of ${x.id} version ${x.versions.join(', ')}; nothing was changed.`
          : `Destroyed the secret of ${x.id} version ${x.versions.join(', ')}.`,
      });
    });

  const policy = program.command('policy').description('rotation policies: global, per service, per key');
  const scopeOptions = (c: Command): Command => c
    .option('--global', 'the global policy')
    .option('--service <service>', "a service's policy")
    .option('--key <id>', "one key's policy (its id or service/environment/name)")
    .addHelpText('after', '\nExactly one of --global, --service or --key is needed.');
  const scopeOf = (o: { global?: boolean; service?: string; key?: string }) => {
    const n = [o.global === true, o.service !== undefined, o.key !== undefined].filter(Boolean).length;
    if (n !== 1) {
      throw new KeyholdError('INVALID_INPUT', `policy: give exactly one of --global, --service NAME, --key ID (${n === 0 ? 'none' : n} given)`,
        'For example: keyhold policy show --service payments');
    }
    return o.global ? { global: true as const } : o.service !== undefined ? { service: o.service } : { key: o.key as string };
  };
  scopeOptions(policy.command('set').description('set policy fields (durations like 90d, 36h, 2w)'))
    .option('--rotation <duration>', 'rotation period (default 90d)')
    .option('--grace <duration>', 'grace window in which the old version is still accepted (default 7d)')
    .option('--warn <duration>', 'warning lead time before rotation is due (default 14d)')
    .option('--lifetime <duration>', 'maximum lifetime of a version (default 365d)')
    .action(async function policySetAction(o: { global?: boolean; service?: string; key?: string; rotation?: string;
      grace?: string; warn?: string; lifetime?: string }) {
      const scope = scopeOf(o);
      await withVault(g(), async (svc) => {
        const p = await svc.call('policy.set', {
          scope,
          ...(o.rotation !== undefined ? { rotation: o.rotation } : {}),
          ...(o.grace !== undefined ? { grace: o.grace } : {}),
          ...(o.warn !== undefined ? { warn: o.warn } : {}),
          ...(o.lifetime !== undefined ? { lifetime: o.lifetime } : {}),
        });
        out<'policy.set'>(g(), p, formatPolicy);
      });
    });
  scopeOptions(policy.command('clear').description('remove a policy; the next less specific one applies'))
    .action(async function policyClearAction(o: { global?: boolean; service?: string; key?: string }) {
      const scope = scopeOf(o);
      await withVault(g(), async (svc) => out<'policy.clear'>(g(), await svc.call('policy.clear', { scope }), formatPolicy));
    });
  scopeOptions(policy.command('show').description('the effective policy and where each field comes from'))
    .action(async function policyShowAction(o: { global?: boolean; service?: string; key?: string }) {
      const scope = scopeOf(o);
      await withVault(g(), async (svc) => out<'policy.show'>(g(), await svc.call('policy.show', { scope }), formatPolicy));
    });

  const recipient = program.command('recipient').description('servers that import bundles');
  recipient.command('add').description('register a server by its public key (from `keyhold-import keygen`)')
    .requiredOption('--name <name>', 'a name for the recipient')
    .requiredOption('--public-key <file>', 'its public key, a JWK file (P-256 or X25519)')
    .option('--verifies <services>', 'services whose keys it verifies (an API gateway): comma-separated', '')
    .option('--holds <services>', 'services whose keys it presents (a client): it also receives their secrets; comma-separated', '')
    .action(async function recipientAddAction(o: { name: string; publicKey: string; verifies: string; holds: string }) {
      const jwk = readJsonFile(o.publicKey, 'public key');
      const list = (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean);
      await withVault(g(), async (svc) => out<'recipient.add'>(g(), await svc.call('recipient.add', {
        name: o.name, publicKey: jwk, verifies: list(o.verifies), holds: list(o.holds),
      }), (r) => `Added recipient ${r.name} (id ${r.id}).`));
    });
  recipient.command('list').description('recipients, what they verify and hold, and their last bundle')
    .action(async function recipientListAction() {
      await withVault(g(), async (svc) => out<'recipient.list'>(g(), await svc.call('recipient.list', {}), formatRecipients, 'recipients'));
    });

  const signer = program.command('signer').description('token keys that sign bundles and trust roots');
  signer.command('add').description('register a signing key on a token (see `keyhold token keys`)')
    .requiredOption('--token <label>', 'the token, by label or serial')
    .requiredOption('--key <keylabel>', 'the key\'s label on the token')
    .action(async function signerAddAction(o: { token: string; key: string }) {
      await withVault(g(), async (svc) => out<'signer.add'>(g(), await svc.call('signer.add', { token: o.token, keyLabel: o.key }),
        (s) => `Registered signer ${s.kid} (${s.alg}, '${esc(s.keyLabel)}' on '${esc(s.token)}').${s.warnings.map((w) => `\nwarning: ${esc(w)}`).join('')}`));
    });
  signer.command('list').description('registered signers and the signing threshold')
    .action(async function signerListAction() {
      await withVault(g(), async (svc) => out<'signer.list'>(g(), await svc.call('signer.list', {}), formatSigners));
    });
  signer.command('threshold').description('how many distinct signers a bundle and a trust root need').argument('<n>', 'the threshold')
    .action(async function signerThresholdAction(n: string) {
      const threshold = intOption(n, 'threshold') ?? 1;
      await withVault(g(), async (svc) => out<'signer.threshold'>(g(), await svc.call('signer.threshold', { threshold }),
        (v) => `Threshold set to ${v.threshold} of ${v.signers} signers.`));
    });

  const bundle = program.command('bundle').description('signed rotation bundles for servers');
  bundle.command('export').description('write what changed for a recipient since its last bundle, signed on the token(s)')
    .requiredOption('--recipient <name>', 'the recipient')
    .requiredOption('--out <file>', 'the bundle file, a new one (never overwritten; not a link)')
    .option('--revocations-only', 'only revocations: no new keys, no secrets')
    .option('--expires <duration>', 'how long it may be applied, e.g. 7d (1m to 90d)', '7d')
    .option('--token <label>', 'sign with the signers on this token only (label or serial); a PIN given (KEYHOLD_PIN, --pin-file) is for it. Needed with a PIN given when signers are on several tokens present')
    .action(async function bundleExportAction(o: { recipient: string; out: string; revocationsOnly?: boolean; expires: string; token?: string }) {
      await withVault(g(), async (svc) => out<'bundle.export'>(g(), await svc.call('bundle.export', {
        recipient: o.recipient, out: o.out, revocationsOnly: o.revocationsOnly === true, expires: o.expires,
        ...(o.token !== undefined ? { token: o.token } : {}), allowFinalTry: g().allowFinalTry === true,
      }), formatBundleExport));
    });
  bundle.command('resend').description('write a bundle the vault recorded (the last one, or --sequence N) to a new file: for a lost or damaged file')
    .requiredOption('--recipient <name>', 'the recipient')
    .requiredOption('--out <file>', 'the file to write (never overwritten)')
    .option('--sequence <n>', 'which bundle (default: the last one)')
    .action(async function bundleResendAction(o: { recipient: string; out: string; sequence?: string }) {
      const sequence = intOption(o.sequence, '--sequence');
      await withVault(g(), async (svc) => out<'bundle.resend'>(g(), await svc.call('bundle.resend', {
        recipient: o.recipient, out: o.out, ...(sequence !== undefined ? { sequence } : {}),
      }), (v) => `Wrote bundle ${v.sequence} for ${v.recipient} again to ${esc(v.path)} (${v.bytes} bytes, payload sha256 ${v.hash}).`));
    });
  bundle.command('sign').description('add another token\'s signature to a bundle (M-of-N signing)').argument('<file>', 'the bundle file')
    .option('--token <label>', 'the token, by label or serial')
    .option('--key <keylabel>', 'the key on the token (needed without --vault)')
    .action(async function bundleSignAction(file: string, o: { token?: string; key?: string }) {
      const input = { file, ...(o.token !== undefined ? { token: o.token } : {}), ...(o.key !== undefined ? { keyLabel: o.key } : {}),
        allowFinalTry: g().allowFinalTry === true };
      const print = (v: CommandOutput<'bundle.sign'>) => `Signed ${v.path} as ${v.kid}: ${v.signatures.length} signature(s).`;
      if (g().vault ?? process.env.KEYHOLD_VAULT) {
        await withVault(g(), async (svc) => out<'bundle.sign'>(g(), await svc.call('bundle.sign', input), print));
      } else {
        await withTokens(g(), async (svc) => out<'bundle.sign'>(g(), await svc.call('bundle.sign', input), print));
      }
    });
  const trust = program.command('trust').description('the trust root importers pin');
  trust.command('export').description('write the trust root (signer keys, threshold, vault id, version), signed by the signers present')
    .requiredOption('--out <file>', 'the trust root file, a new one (never overwritten; not a link)')
    .option('--expires <duration>', 'how long the root is valid (default: no expiry)')
    .option('--token <label>', 'sign with the signers on this token only (label or serial); a PIN given (KEYHOLD_PIN, --pin-file) is for it. Needed with a PIN given when signers are on several tokens present')
    .action(async function trustExportAction(o: { out: string; expires?: string; token?: string }) {
      await withVault(g(), async (svc) => out<'trust.export'>(g(), await svc.call('trust.export', {
        out: o.out, ...(o.expires !== undefined ? { expires: o.expires } : {}), ...(o.token !== undefined ? { token: o.token } : {}),
        allowFinalTry: g().allowFinalTry === true,
      }), (v) => `Wrote trust root version ${v.version} (${v.signers.length} signer(s), threshold ${v.threshold}, signed by ${v.signatures.length}) to ${esc(v.path)}.\n` +
        // The same fingerprint, computed and written the same way, as `keyhold-import trust show` prints: compared aloud.
        `  fingerprint ${v.hash}`));
    });

  const token = program.command('token').description('PKCS#11 tokens: smartcards and USB HSMs');
  token.command('list').description('tokens present: label, maker, serial, PIN state, mechanisms')
    .action(async function tokenListAction() {
      await withTokens(g(), async (svc) => out<'token.list'>(g(), await svc.call('token.list', {}), formatTokens, 'tokens'));
    });
  token.command('keys').description('key pairs on the tokens (private keys only after --login)')
    .option('--token <label>', 'one token, by label or serial')
    .option('--login', 'log in first (asks for the PIN) so private keys are listed too')
    .action(async function tokenKeysAction(o: { token?: string; login?: boolean }) {
      await withTokens(g(), async (svc) => out<'token.keys'>(g(), await svc.call('token.keys', {
        ...(o.token !== undefined ? { token: o.token } : {}), login: o.login === true, allowFinalTry: g().allowFinalTry === true,
      }), formatTokenKeys, 'tokens'));
    });
  token.command('keygen').description('generate a signing key pair on a token (private key sensitive, never extractable); prints its public JWK and key id')
    .requiredOption('--token <label>', 'the token, by label or serial')
    .requiredOption('--label <keylabel>', 'a label for the new key (must not exist on the token)')
    .addOption(new Option('--alg <alg>', 'ES256 (P-256) or EdDSA (Ed25519)').choices(['ES256', 'EdDSA']).default('ES256'))
    .action(async function tokenKeygenAction(o: { token: string; label: string; alg: 'ES256' | 'EdDSA' }) {
      const run = async (svc: KeyholdService) => {
        const k = await svc.call('token.keygen', { token: o.token, label: o.label, alg: o.alg, allowFinalTry: g().allowFinalTry === true });
        out<'token.keygen'>(g(), k, (v) => `Generated ${v.alg ?? ''} key '${esc(v.label)}' (id ${v.id}) on '${esc(v.token.label)}'.\nkid  ${v.kid ?? '-'}\njwk  ${JSON.stringify(v.jwk)}`);
      };
      // With a vault given, the new key is recorded in its audit log.
      if (g().vault ?? process.env.KEYHOLD_VAULT) await withVault(g(), run);
      else await withTokens(g(), run);
    });

  const audit = program.command('audit').description('the hash-chained audit log');
  audit.command('list').description('entries, oldest first, a page at a time')
    .option('--key <id>', 'entries about this key (its id or service/environment/name)')
    .option('--action <action>', `entries of this action: ${AUDIT_ACTIONS.join(', ')}`)
    .option('--actor <name>', 'entries by this actor')
    .option('--since <time>', 'at or after this ISO 8601 time')
    .option('--until <time>', 'before this ISO 8601 time')
    .option('--after <seq>', 'entries after this sequence number (the "next" of the previous page)')
    .option('--limit <N>', 'entries per page (default 100, at most 10000)')
    .action(async function auditListAction(o: { key?: string; action?: string; actor?: string; since?: string;
      until?: string; after?: string; limit?: string }) {
      const after = intOption(o.after, '--after');
      const limit = intOption(o.limit, '--limit');
      await withVault(g(), async (svc) => {
        const r = await svc.call('audit.list', {
          ...(o.key !== undefined ? { key: o.key } : {}),
          ...(o.action !== undefined ? { action: o.action } : {}),
          ...(o.actor !== undefined ? { actor: o.actor } : {}),
          ...(o.since !== undefined ? { since: o.since } : {}),
          ...(o.until !== undefined ? { until: o.until } : {}),
          ...(after !== undefined ? { after } : {}),
          ...(limit !== undefined ? { limit } : {}),
        });
        out<'audit.list'>(g(), r, formatAudit);
      });
    });
  audit.command('verify').description('recompute the chain and report the first broken link')
    .option('--file <file>', 'verify an exported file instead of the vault (no passphrase needed)')
    .action(async function auditVerifyAction(o: { file?: string }) {
      const report = o.file !== undefined
        ? verifyAuditFile(o.file)
        : await withVault(g(), (svc) => svc.call('audit.verify', {}));
      out<'audit.verify'>(g(), report, formatVerify);
      if (!report.ok) process.exitCode = 5;
    });
  audit.command('export').description('write the log as JSON lines for archival (atomically)')
    .requiredOption('--out <file>', 'the file to write, a new one (never overwritten; not a link)')
    .action(async function auditExportAction(o: { out: string }) {
      await withVault(g(), async (svc) => {
        const r = await svc.call('audit.export', { out: o.out });
        out<'audit.export'>(g(), r, (x) => `Exported ${x.entries} entries to ${esc(x.path)} (head ${x.head.seq} ${x.head.hash}).`);
      });
    });
  audit.command('recover').description('after entries were cut off the end of the log (AUDIT_TRUNCATED): record the loss in an audited entry and continue from the last intact entry')
    .requiredOption('--reason <text>', 'why (recorded in the entry), e.g. "disk fault on 2027-03-02, no backup newer than the cut"')
    .option('--yes', 'do not ask for confirmation (for scripts)')
    .action(async function auditRecoverAction(o: { reason: string; yes?: boolean }) {
      await withVault(g(), async (svc) => {
        // The state is read first, so that a vault with nothing to recover (or damage recovery cannot mend) says so without asking.
        const report = await svc.call('audit.verify', {});
        const missing = report.firstBroken;
        if (missing && /missing \(the log was cut short/.test(missing.reason)) {
          await confirm(`The audit log lost entries ${missing.seq} to ${report.head.seq}. Recovering records that loss ` +
            `and continues the log from entry ${missing.seq - 1}; the lost entries cannot be brought back this way (a backup can). Go ahead?`,
          { yes: o.yes });
        }
        const r = await svc.call('audit.recover', { reason: o.reason });
        out<'audit.recover'>(g(), r, (x) => `Recovered the audit log: entries ${x.missing.from} to ${x.missing.to} are recorded as lost ` +
          `(old head ${x.oldHead.seq} ${x.oldHead.hash}); the log continues from entry ${x.newHead.seq}, new head ${x.head.seq} ${x.head.hash}.`);
      });
    });

  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${version}\n`);
    return 0;
  }
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
