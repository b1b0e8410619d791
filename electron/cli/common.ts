/**
 * What the command groups (commands/*.ts) share: the program and its global
 * options, option parsing, secrets and PINs, unlocking, printing a result,
 * and the flow of a destructive command. Option types are inferred from the
 * option definitions (@commander-js/extra-typings), never written by hand.
 *
 * The core is loaded by `engine()` when a command runs, not when this file
 * is: only `import type` from the core here, and nothing that loads SQLite,
 * Argon2, PKCS#11 or zod.
 */

import { Command, Help, Option, type OptionValues } from '@commander-js/extra-typings';
import type { CommandName, CommandOutput, KdfParams, TokenInfo } from '../../shared/contract.js';
import { KeyholdError } from '../../shared/errors.js';
import { codePointName, unsafeChar } from '../../shared/text.js';
import type { KeyholdService } from '../core/service.js';
import type { GivenPin, PinProvider, PinRequest } from '../core/token/token.js';
import { esc, printJson, progressBar } from './output.js';
import { canAsk, confirm, readSecret } from './prompt.js';
import { unlockByQuorum } from './quorum-unlock.js';
import { approverFor, OPERATOR_NAME_RE, signInAs } from './operator-cli.js';
import type * as EngineModule from './engine.js';

type Engine = typeof EngineModule;
let loading: Promise<Engine> | null = null;

/** The core (engine.ts), loaded once, when the first command needs it. */
export function engine(): Promise<Engine> {
  loading ??= import('./engine.js');
  return loading;
}

/** The `keyhold` program and its global options (docs/cli.md 2), without its commands. */
export function newProgram() {
  return new Command('keyhold')
    .description('Offline custody of API keys: vault, keys, keyslots.')
    // --version is handled in main() before parsing, so that a subcommand's
    // own --version (key reveal --version N) is not taken for it.
    .addHelpText('after', '\nRun `keyhold --version` for the version.')
    .addOption(new Option('--vault <path>', 'vault file').env('KEYHOLD_VAULT'))
    .option('--json', 'machine-readable output on stdout')
    .option('--passphrase-file <file>', 'read the vault passphrase from a file (else KEYHOLD_PASSPHRASE or a prompt)')
    .addOption(new Option('--as <name>', 'sign in as this operator, with its own credential (needed when the vault has several operators; the audit log names it)').env('KEYHOLD_OPERATOR'))
    .option('--operator-passphrase-file <file>', 'with --as: read the operator\'s passphrase from a file (else KEYHOLD_OPERATOR_PASSPHRASE or a prompt)')
    .addOption(new Option('--approver <name>', 'for a dual-controlled command: the second operator who approves it here (a custodian or security officer)').env('KEYHOLD_APPROVER'))
    .option('--approver-passphrase-file <file>', 'with --approver: read the approver\'s passphrase from a file (else KEYHOLD_APPROVER_PASSPHRASE or a prompt)')
    .addOption(new Option('--unlock <method>', 'how to unlock the vault: passphrase, token (a token keyslot and the token\'s PIN), or quorum (custodians\' shares)').env('KEYHOLD_UNLOCK'))
    .option('--share <name=file>', 'with --unlock quorum: a custodian\'s share from a file (their passphrase, token PIN or paper share words); repeat per custodian',
      (v: string, prev: string[]) => [...prev, v], [] as string[])
    .addOption(new Option('--wait <seconds>', 'if another Keyhold holds the vault, wait up to this long for it (default 0: fail at once with VAULT_IN_USE)').env('KEYHOLD_WAIT'))
    .addOption(new Option('--module <path>', 'PKCS#11 module (default: SoftHSM2, OpenSC and ykcs11 where installed)').env('KEYHOLD_PKCS11_MODULE'))
    .option('--unlock-token <token>', 'with --unlock token: the token (label or serial) whose keyslot unlocks the vault; a PIN given is for it')
    .option('--pin-file <file>', 'read the token PIN from a file (else KEYHOLD_PIN or a prompt); it is for one token only (see --token)')
    .option('--allow-final-try', 'allow a login that spends the token\'s last PIN try')
    .option('--accept-rollback <reason>', 'disaster recovery: open a vault a token\'s rollback record refuses (an older or forked copy), recording the reason in the audit log')
    .showHelpAfterError()
    .exitOverride()
    // Required options say so in every command's --help (subcommands inherit this).
    .configureHelp({
      optionDescription(option: Option): string {
        const text = Help.prototype.optionDescription.call(this, option);
        return option.mandatory ? `${text} (required)` : text;
      },
    });
}

export type Program = ReturnType<typeof newProgram>;
/** The global options, as parsed. */
export type GlobalOpts = ReturnType<Program['opts']>;
/** How a command's action reads the global options (they are parsed by the time it runs). */
export type Globals = () => GlobalOpts;

/** What `defined` makes of an object: each field that may be undefined becomes optional instead. */
export type Defined<T> =
  & { [K in keyof T as undefined extends T[K] ? never : K]: T[K] }
  & { [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined> };

/**
 * The object without its undefined fields, in the same order: an option not
 * given is left out of a command's input, never sent as `undefined`.
 */
export function defined<T extends Record<string, unknown>>(o: T): Defined<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Defined<T>;
}

export function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    throw new KeyholdError('INVALID_INPUT', `${name} must be a whole number, not ${JSON.stringify(value.slice(0, 20))}`,
      'Write digits only, for example 2.');
  }
  return Number(value);
}

export function withKdfOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(cmd: Command<A, O, G>) {
  return cmd
    .option('--kdf-memory <MiB>', 'Argon2id memory in MiB, at least 19 (any --kdf-* flag sets the parameters explicitly; unset ones default to 64 MiB, 3 passes, 2 lanes)')
    .option('--kdf-passes <N>', 'Argon2id passes, at least 2')
    .option('--kdf-parallelism <N>', 'Argon2id lanes, 1 to 16');
}

type KdfOpts = ReturnType<ReturnType<typeof withKdfOptions<[], Record<never, never>, Record<never, never>>>['opts']>;

/** KDF flags: any one given means explicit parameters (no calibration). */
export async function kdfFrom(o: KdfOpts): Promise<KdfParams | undefined> {
  const mem = intOption(o.kdfMemory, '--kdf-memory');
  const passes = intOption(o.kdfPasses, '--kdf-passes');
  const par = intOption(o.kdfParallelism, '--kdf-parallelism');
  if (mem === undefined && passes === undefined && par === undefined) return undefined;
  const { DEFAULT_KDF } = await engine();
  return {
    memoryKiB: mem !== undefined ? mem * 1024 : DEFAULT_KDF.memoryKiB,
    passes: passes ?? DEFAULT_KDF.passes,
    parallelism: par ?? DEFAULT_KDF.parallelism,
  };
}

export async function readJsonFile(file: string, what: string): Promise<Record<string, unknown>> {
  const { READ_LIMITS, readJsonObjectFile } = await engine();
  // A regular file of at most 64 KiB (a JWK is a few hundred bytes), stopped while reading.
  const v = readJsonObjectFile(file, { prefix: 'cli', what, limit: READ_LIMITS.jwk });
  if (v) return v;
  throw new KeyholdError('INVALID_INPUT', `cli: ${what} file ${file} is not a JSON object`);
}

/** A comma-separated list option: its items, trimmed, empty ones dropped. */
export function listOption(v: string): string[] {
  return v.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
}

export function vaultPath(g: GlobalOpts): string {
  const p = g.vault ?? process.env.KEYHOLD_VAULT;
  if (!p) {
    throw new KeyholdError('INVALID_INPUT', 'cli: no vault given', 'Pass --vault PATH or set KEYHOLD_VAULT.');
  }
  return p;
}

/** Whether a vault is given (--vault or KEYHOLD_VAULT): commands that work without one record in it when it is. */
export function vaultGiven(g: GlobalOpts): boolean {
  return Boolean(g.vault ?? process.env.KEYHOLD_VAULT);
}

export function passphrase(g: GlobalOpts, prompt = 'Vault passphrase: '): Promise<string> {
  return readSecret({ envVar: 'KEYHOLD_PASSPHRASE', file: g.passphraseFile, prompt });
}

/**
 * A new passphrase: from the file or the environment as given, or typed twice
 * on a terminal, its strength checked before it is asked again (the core
 * checks every new passphrase anyway; this saves typing a refused one twice).
 */
export function newPassphrase(file: string | undefined, envVar: string, prompt: string, command: string): Promise<string> {
  return readSecret({ envVar, file, prompt, confirm: true, check: (p) => checkStrength(p, command) }, 'new passphrase');
}

export async function checkStrength(passphrase: string, command: string): Promise<void> {
  const { requireStrongPassphrase } = await engine();
  await requireStrongPassphrase(passphrase, command, command === 'passphrase change' ? 'the new passphrase' : 'the passphrase');
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

/** How long the last service call took, in milliseconds: the `tookMs` of a --json result that has none of its own. */
let lastCallMs: number | null = null;

/** The service for one command, each call timed (after the unlock, the last call is the command's own). */
export async function service(g: GlobalOpts): Promise<InstanceType<Engine['TimedService']>> {
  // An operator name (--as, --approver) follows the core's rule; checked here so a bad one fails before any prompt or unlock.
  for (const [option, name] of [['--as', g.as], ['--approver', g.approver]] as const) {
    if (name !== undefined && !OPERATOR_NAME_RE.test(name)) {
      const bad = unsafeChar(name);
      throw new KeyholdError('INVALID_INPUT', `${option} must be an operator name: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit${bad !== null
        ? ` (it contains ${codePointName(bad)}, a control or formatting character)` : ''}`,
      'See `keyhold operator list` for the operators\' names.');
    }
  }
  // Progress goes to stderr, and only on a terminal: stdout stays for results.
  const bar = process.stderr.isTTY && !g.json ? progressBar(process.stderr) : undefined;
  const wait = waitMs(g);
  const e = await engine();
  return new e.TimedService({
    ...defined({
      onProgress: bar ? (c: CommandName, done: number, total: number) => bar(c, done, total) : undefined,
    }),
    tokens: { module: g.module },
    waitMs: wait,
    ...pinSources(g, e),
    // What the vault settled when it opened (a file an interrupted export left): stderr, so stdout stays the result.
    onNotice: (m: string) => void process.stderr.write(`keyhold: ${esc(m)}\n`),
  }, (ms) => {
    lastCallMs = ms;
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
function pinSources(g: GlobalOpts, e: Engine): { askPin: PinProvider; givenPin?: GivenPin } {
  const { pinStateText, tokenName } = e;
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
export async function withVault<T>(g: GlobalOpts, fn: (svc: KeyholdService) => Promise<T>): Promise<T> {
  const path = vaultPath(g);
  const method = g.unlock === undefined || g.unlock === '' ? (g.unlockToken !== undefined ? 'token' : 'passphrase') : g.unlock;
  if (method !== 'passphrase' && method !== 'token' && method !== 'quorum') {
    throw new KeyholdError('INVALID_INPUT', `cli: --unlock must be passphrase, token or quorum, not ${JSON.stringify(method).slice(0, 40)}`);
  }
  if (method === 'passphrase' && g.unlockToken !== undefined) {
    throw new KeyholdError('INVALID_INPUT', 'cli: --unlock-token names the token that unlocks the vault, but --unlock is passphrase',
      'Drop --unlock-token, or use --unlock token.');
  }
  const acceptRollback = g.acceptRollback === undefined ? undefined : { reason: g.acceptRollback };
  const svc = await service(g);
  try {
    if (method === 'quorum') await unlockByQuorum(svc, path, g.share, g.allowFinalTry === true, acceptRollback);
    else if (method === 'token') {
      await svc.call('vault.unlockToken', defined({ path, allowFinalTry: g.allowFinalTry === true, token: g.unlockToken, acceptRollback }));
    }
    else await svc.call('vault.unlock', defined({ path, passphrase: await passphrase(g), acceptRollback }));
    // Strict air gap (the vault's setting, or KEYHOLD_AIRGAP_STRICT) holds for the CLI as for the app.
    const { enforceStrictAirgap, listInterfaces, strictFromEnv } = await engine();
    const { networkInterfaces } = await import('node:os');
    await enforceStrictAirgap(svc, strictFromEnv(process.env.KEYHOLD_AIRGAP_STRICT), listInterfaces(networkInterfaces()));
    // Who acts (--as), and who approves a dual-controlled command (--approver): operator-cli.ts.
    await signInAs(svc, g);
    if (g.approver !== undefined) svc.approve = approverFor(svc, g);
    return await fn(svc);
  } finally {
    await svc.shutdown();
  }
}


/** Runs a command that needs tokens but no vault. */
export async function withTokens<T>(g: GlobalOpts, fn: (svc: KeyholdService) => Promise<T>): Promise<T> {
  const svc = await service(g);
  try {
    return await fn(svc);
  } finally {
    await svc.shutdown();
  }
}

/** A command whose core output is a list names the field its --json object holds it under. */
type ListField<C extends CommandName> = CommandOutput<C> extends readonly unknown[] ? [field: string] : [];

/**
 * Prints a result. With --json (docs/cli.md 4) it is always one object: a
 * list under its named field, and `tookMs`, the time of the command's service
 * call (the core's own `tookMs` where its output has one).
 */
export function out<C extends CommandName>(g: GlobalOpts, value: CommandOutput<C>, human: (v: CommandOutput<C>) => string,
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
export async function destructive<C extends DestructiveCommand>(g: GlobalOpts, o: { yes?: true | undefined; dryRun?: true | undefined },
  command: C, input: Record<string, unknown>, d: Destructive<C>): Promise<void> {
  // Bad arguments are reported as such (by the core's own schema), before any question or unlock.
  (await engine()).parseCommandInput(command, input);
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
