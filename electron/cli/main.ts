/**
 * The `keyhold` command. It parses arguments, gets secrets from the
 * environment, a file or a no-echo prompt, calls the core through the same
 * service API the desktop app uses, and prints. Nothing else lives here.
 */

import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import type { CommandName, CommandOutput, KdfParams } from '../../shared/contract.js';
import { exitCodeFor, KeyholdError, toErrorInfo } from '../../shared/errors.js';
import { KeyholdService } from '../core/service.js';
import { DEFAULT_KDF } from '../core/vault/kdf.js';
import { formatInfo, formatKey, formatKeys, formatSlots, printError, printJson } from './output.js';
import { readSecret } from './prompt.js';

type GlobalOpts = { vault?: string; json?: boolean; passphraseFile?: string };
type KdfOpts = { kdfMemory?: string; kdfPasses?: string; kdfParallelism?: string };

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new KeyholdError('INVALID_INPUT', `cli: ${name} must be a whole number`);
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

/** Unlocks the vault, runs fn, and locks it again whatever happens. */
async function withVault<T>(g: GlobalOpts, fn: (svc: KeyholdService) => Promise<T>): Promise<T> {
  const path = vaultPath(g);
  const svc = new KeyholdService();
  try {
    await svc.call('vault.unlock', { path, passphrase: await passphrase(g) });
    return await fn(svc);
  } finally {
    svc.close();
  }
}

function out<C extends CommandName>(g: GlobalOpts, value: CommandOutput<C>, human: (v: CommandOutput<C>) => string): void {
  if (g.json) printJson(value);
  else process.stdout.write(`${human(value)}\n`);
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
    .showHelpAfterError()
    .exitOverride();
  const g = (): GlobalOpts => program.opts<GlobalOpts>();

  withKdfOptions(program.command('init').description('create a new vault (never overwrites a file); Argon2id is calibrated to this machine unless --kdf-* is given'))
    .action(async function initAction(o: KdfOpts) {
      const path = vaultPath(g());
      const kdf = kdfFrom(o);
      const pass = await readSecret({
        envVar: 'KEYHOLD_PASSPHRASE', file: g().passphraseFile, prompt: 'New vault passphrase: ', confirm: true,
      }, 'new passphrase');
      if (!g().json && !kdf) process.stderr.write('Calibrating Argon2id for this machine...\n');
      const svc = new KeyholdService();
      try {
        const info = await svc.call('vault.create', { path, passphrase: pass, ...(kdf ? { kdf } : {}) });
        out<'vault.create'>(g(), info, (i) => `Created vault ${i.vaultId} at ${i.path}\n\n${formatInfo(i)}`);
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
      await withVault(g(), async (svc) => out<'slot.list'>(g(), await svc.call('slot.list', {}), formatSlots));
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
  slot.command('remove').description('remove a keyslot (never the last one)').argument('<id>', 'keyslot id')
    .action(async function slotRemoveAction(id: string) {
      const n = intOption(id, 'keyslot id');
      await withVault(g(), async (svc) =>
        out<'slot.remove'>(g(), await svc.call('slot.remove', { id: n }), (v) => `Removed keyslot ${v.removed}.`));
    });

  const pass = program.command('passphrase').description('the vault passphrase');
  withKdfOptions(pass.command('change').description('change the passphrase of the keyslot the current one opens (keeps its KDF parameters unless --kdf-* is given)'))
    .option('--new-passphrase-file <file>', 'read the new passphrase from a file (else KEYHOLD_NEW_PASSPHRASE or a prompt)')
    .action(async function passphraseChangeAction(o: KdfOpts & { newPassphraseFile?: string }) {
      const current = await passphrase(g(), 'Current passphrase: ');
      const next = await newPassphrase(o.newPassphraseFile, 'KEYHOLD_NEW_PASSPHRASE', 'New passphrase: ');
      const kdf = kdfFrom(o);
      const svc = new KeyholdService();
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
    .action(async function keyCreateAction(o: { name: string; service: string; env: string; scopes: string; owner: string; notes: string }) {
      const scopes = o.scopes.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
      await withVault(g(), async (svc) => {
        const k = await svc.call('key.create', {
          name: o.name, service: o.service, environment: o.env, scopes, owner: o.owner, notes: o.notes,
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
        out<'key.list'>(g(), keys, formatKeys);
      });
    });
  key.command('show').description("a key's metadata, versions and states").argument('<id>', 'key id')
    .action(async function keyShowAction(id: string) {
      await withVault(g(), async (svc) => out<'key.show'>(g(), await svc.call('key.show', { id }), formatKey));
    });
  key.command('reveal').description("print a key's secret").argument('<id>', 'key id')
    .option('--version <N>', 'a version other than the current one')
    .action(async function keyRevealAction(id: string, o: { version?: string }) {
      const v = intOption(o.version, '--version');
      await withVault(g(), async (svc) => {
        const r = await svc.call('key.reveal', { id, ...(v !== undefined ? { version: v } : {}) });
        out<'key.reveal'>(g(), r, (x) => x.secret);
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
    return 0;
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
