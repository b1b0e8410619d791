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
import { verifyAuditFile } from '../core/audit/log.js';
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
  printError,
  printJson,
  progressBar,
} from './output.js';
import { readSecret } from './prompt.js';
import { pinStateText, type PinRequest } from '../core/token/token.js';

type GlobalOpts = {
  vault?: string; json?: boolean; passphraseFile?: string; operator?: string;
  module?: string; unlock?: string; allowFinalTry?: boolean; pinFile?: string;
};
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

function readJsonFile(file: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new KeyholdError('INVALID_INPUT', `cli: cannot read ${what} file ${file}`);
  }
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

function service(g: GlobalOpts): KeyholdService {
  const actor = g.operator ?? process.env.KEYHOLD_OPERATOR;
  // Control characters would let a name forge lines in a printed log.
  // eslint-disable-next-line no-control-regex
  if (actor !== undefined && !/^[^\u0000-\u001f\u007f]{1,128}$/.test(actor)) {
    throw new KeyholdError('INVALID_INPUT', 'cli: --operator must be 1-128 printable characters');
  }
  // Progress goes to stderr, and only on a terminal: stdout stays for results.
  const bar = process.stderr.isTTY && !g.json ? progressBar(process.stderr) : undefined;
  return new KeyholdService({
    ...(actor ? { actor } : {}),
    ...(bar ? { onProgress: (c: CommandName, done: number, total: number) => bar(c, done, total) } : {}),
    tokens: { module: g.module },
    askPin: pinAsker(g),
  });
}

/**
 * A token PIN, asked for only when a login is about to happen: the token's
 * PIN state is shown first (count low, final try), then the PIN is read from
 * --pin-file, KEYHOLD_PIN or a no-echo prompt.
 */
function pinAsker(g: GlobalOpts): (req: PinRequest) => Promise<string> {
  // A PIN from --pin-file or KEYHOLD_PIN serves the first login of the
  // command only: a second token must never have a try spent on another's PIN.
  let given = g.pinFile !== undefined || (process.env.KEYHOLD_PIN ?? '') !== '';
  let spent = false;
  return async function askPin(req: PinRequest): Promise<string> {
    const t = req.token;
    if (t.pin.countLow || t.pin.finalTry) {
      process.stderr.write(`keyhold: warning: token '${t.label}' (serial ${t.serial}): ${pinStateText(t.pin)}\n`);
    }
    const prompt = `PIN for token '${t.label}' (to ${req.why}): `;
    if (given) {
      given = false;
      spent = true;
      return readSecret({ envVar: 'KEYHOLD_PIN', file: g.pinFile, prompt }, 'PIN');
    }
    // Before any PIN was given, the usual sources apply (and their hint).
    return spent ? readSecret({ prompt }, 'PIN') : readSecret({ envVar: 'KEYHOLD_PIN', file: g.pinFile, prompt }, 'PIN');
  };
}

/**
 * Unlocks the vault (with its passphrase, or with `--unlock token` by a token
 * and its PIN), runs fn, then locks it and releases tokens whatever happens.
 */
async function withVault<T>(g: GlobalOpts, fn: (svc: KeyholdService) => Promise<T>): Promise<T> {
  const path = vaultPath(g);
  const method = g.unlock === undefined || g.unlock === '' ? 'passphrase' : g.unlock;
  if (method !== 'passphrase' && method !== 'token') {
    throw new KeyholdError('INVALID_INPUT', `cli: --unlock must be passphrase or token, not ${JSON.stringify(method).slice(0, 40)}`);
  }
  const svc = service(g);
  try {
    if (method === 'token') await svc.call('vault.unlockToken', { path, allowFinalTry: g.allowFinalTry === true });
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
    .addOption(new Option('--operator <name>', 'who is acting, recorded as the actor in the audit log (default: the OS user)').env('KEYHOLD_OPERATOR'))
    .addOption(new Option('--unlock <method>', 'how to unlock the vault: passphrase, or token (a token keyslot and the token\'s PIN)').env('KEYHOLD_UNLOCK'))
    .addOption(new Option('--module <path>', 'PKCS#11 module (default: SoftHSM2, OpenSC and ykcs11 where installed)').env('KEYHOLD_PKCS11_MODULE'))
    .option('--pin-file <file>', 'read the token PIN from a file (else KEYHOLD_PIN or a prompt)')
    .option('--allow-final-try', 'allow a login that spends the token\'s last PIN try')
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
      const svc = service(g());
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
  slot.command('add-token').description('add a keyslot that a PKCS#11 token unlocks (ECDH on the token; the key is generated on the token if the label is new)')
    .requiredOption('--token <label>', 'the token, by label or serial (see `keyhold token list`)')
    .requiredOption('--label <keylabel>', 'the token key for the slot: a P-256 key allowed to derive, or a new label')
    .option('--slot-label <label>', 'a name for the keyslot', '')
    .action(async function slotAddTokenAction(o: { token: string; label: string; slotLabel: string }) {
      await withVault(g(), async (svc) => {
        const s = await svc.call('slot.addToken', { token: o.token, keyLabel: o.label, label: o.slotLabel,
          allowFinalTry: g().allowFinalTry === true });
        out<'slot.addToken'>(g(), s, (v) => `Added keyslot ${v.id} (token ${String(v.params.token)}, key ${String(v.params.keyLabel)}).`);
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
    .option('--activate-at <time>', 'ISO 8601 time: the key is pre-active until then')
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

  key.command('due').description('keys overdue or due for rotation within their warning time')
    .option('--all', 'list every key with its status, not only the due ones')
    .action(async function keyDueAction(o: { all?: boolean }) {
      await withVault(g(), async (svc) => out<'key.due'>(g(), await svc.call('key.due', { all: o.all === true }), formatDue));
    });
  key.command('rotate').description('rotate keys: a new active version, the old one retiring for its grace window')
    .argument('[ids...]', 'key ids')
    .option('--due', 'every key overdue or due within its warning time')
    .option('--all', 'every key with an active version')
    .action(async function keyRotateAction(ids: string[], o: { due?: boolean; all?: boolean }) {
      const picked = [ids.length > 0, o.due === true, o.all === true].filter(Boolean).length;
      if (picked !== 1) {
        throw new KeyholdError('INVALID_INPUT', 'cli: name key ids, or --due, or --all (exactly one of them)');
      }
      const sel = o.due ? { due: true as const } : o.all ? { all: true as const } : { ids };
      await withVault(g(), async (svc) => {
        const r = await svc.call('key.rotate', sel);
        out<'key.rotate'>(g(), r, (v) => v.rotated.length === 0
          ? 'Nothing to rotate.'
          : `Rotated ${v.rotated.length} key${v.rotated.length === 1 ? '' : 's'} in ${(v.tookMs / 1000).toFixed(2)} s` +
            `${v.rotated.length <= 20 ? `:\n${v.rotated.map((x) => `  ${x.id}  v${x.from} -> v${x.to}, v${x.from} accepted until ${x.graceUntil}`).join('\n')}` : '.'}`);
      });
    });
  key.command('revoke').description('revoke a key now (every live version, or one)').argument('<id>', 'key id')
    .option('--version <N>', 'only this version')
    .requiredOption('--reason <reason>', 'compromised, superseded, retired or other')
    .action(async function keyRevokeAction(id: string, o: { version?: string; reason: string }) {
      const v = intOption(o.version, '--version');
      await withVault(g(), async (svc) => {
        const r = await svc.call('key.revoke', { id, reason: o.reason, ...(v !== undefined ? { version: v } : {}) });
        out<'key.revoke'>(g(), r, (x) =>
          `Revoked ${x.id} version ${x.versions.join(', ')} (${x.reason}) at ${x.revokedAt}, in ${x.tookMs.toFixed(1)} ms.`);
      });
    });
  key.command('destroy').description('erase the secret of revoked versions; metadata and history stay')
    .argument('<id>', 'key id').option('--version <N>', 'only this version')
    .action(async function keyDestroyAction(id: string, o: { version?: string }) {
      const v = intOption(o.version, '--version');
      await withVault(g(), async (svc) => {
        const r = await svc.call('key.destroy', { id, ...(v !== undefined ? { version: v } : {}) });
        out<'key.destroy'>(g(), r, (x) => `Destroyed the secret of ${x.id} version ${x.versions.join(', ')}.`);
      });
    });

  const policy = program.command('policy').description('rotation policies: global, per service, per key');
  const scopeOptions = (c: Command): Command => c
    .option('--global', 'the global policy')
    .option('--service <service>', "a service's policy")
    .option('--key <id>', "one key's policy");
  const scopeOf = (o: { global?: boolean; service?: string; key?: string }) => {
    const n = [o.global === true, o.service !== undefined, o.key !== undefined].filter(Boolean).length;
    if (n !== 1) throw new KeyholdError('INVALID_INPUT', 'cli: give exactly one of --global, --service NAME, --key ID');
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
      await withVault(g(), async (svc) => out<'recipient.list'>(g(), await svc.call('recipient.list', {}), formatRecipients));
    });

  const signer = program.command('signer').description('token keys that sign bundles and trust roots');
  signer.command('add').description('register a signing key on a token (see `keyhold token keys`)')
    .requiredOption('--token <label>', 'the token, by label or serial')
    .requiredOption('--key <keylabel>', 'the key\'s label on the token')
    .action(async function signerAddAction(o: { token: string; key: string }) {
      await withVault(g(), async (svc) => out<'signer.add'>(g(), await svc.call('signer.add', { token: o.token, keyLabel: o.key }),
        (s) => `Registered signer ${s.kid} (${s.alg}, '${s.keyLabel}' on '${s.token}').`));
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
    .requiredOption('--out <file>', 'the bundle file (written atomically)')
    .option('--revocations-only', 'only revocations: no new keys, no secrets')
    .option('--expires <duration>', 'how long it may be applied, e.g. 7d (1m to 90d)', '7d')
    .action(async function bundleExportAction(o: { recipient: string; out: string; revocationsOnly?: boolean; expires: string }) {
      await withVault(g(), async (svc) => out<'bundle.export'>(g(), await svc.call('bundle.export', {
        recipient: o.recipient, out: o.out, revocationsOnly: o.revocationsOnly === true, expires: o.expires,
        allowFinalTry: g().allowFinalTry === true,
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
      }), (v) => `Wrote bundle ${v.sequence} for ${v.recipient} again to ${v.path} (${v.bytes} bytes, payload sha256 ${v.hash}).`));
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
    .requiredOption('--out <file>', 'the trust root file (written atomically)')
    .option('--expires <duration>', 'how long the root is valid (default: no expiry)')
    .action(async function trustExportAction(o: { out: string; expires?: string }) {
      await withVault(g(), async (svc) => out<'trust.export'>(g(), await svc.call('trust.export', {
        out: o.out, ...(o.expires !== undefined ? { expires: o.expires } : {}), allowFinalTry: g().allowFinalTry === true,
      }), (v) => `Wrote trust root version ${v.version} (${v.signers.length} signer(s), threshold ${v.threshold}, signed by ${v.signatures.length}) to ${v.path}.`));
    });

  const token = program.command('token').description('PKCS#11 tokens: smartcards and USB HSMs');
  token.command('list').description('tokens present: label, maker, serial, PIN state, mechanisms')
    .action(async function tokenListAction() {
      await withTokens(g(), async (svc) => out<'token.list'>(g(), await svc.call('token.list', {}), formatTokens));
    });
  token.command('keys').description('key pairs on the tokens (private keys only after --login)')
    .option('--token <label>', 'one token, by label or serial')
    .option('--login', 'log in first (asks for the PIN) so private keys are listed too')
    .action(async function tokenKeysAction(o: { token?: string; login?: boolean }) {
      await withTokens(g(), async (svc) => out<'token.keys'>(g(), await svc.call('token.keys', {
        ...(o.token !== undefined ? { token: o.token } : {}), login: o.login === true, allowFinalTry: g().allowFinalTry === true,
      }), formatTokenKeys));
    });
  token.command('keygen').description('generate a signing key pair on a token (private key sensitive, never extractable); prints its public JWK and key id')
    .requiredOption('--token <label>', 'the token, by label or serial')
    .requiredOption('--label <keylabel>', 'a label for the new key (must not exist on the token)')
    .addOption(new Option('--alg <alg>', 'ES256 (P-256) or EdDSA (Ed25519)').choices(['ES256', 'EdDSA']).default('ES256'))
    .action(async function tokenKeygenAction(o: { token: string; label: string; alg: 'ES256' | 'EdDSA' }) {
      const run = async (svc: KeyholdService) => {
        const k = await svc.call('token.keygen', { token: o.token, label: o.label, alg: o.alg, allowFinalTry: g().allowFinalTry === true });
        out<'token.keygen'>(g(), k, (v) => `Generated ${v.alg ?? ''} key '${v.label}' (id ${v.id}) on '${v.token.label}'.\nkid  ${v.kid ?? '-'}\njwk  ${JSON.stringify(v.jwk)}`);
      };
      // With a vault given, the new key is recorded in its audit log.
      if (g().vault ?? process.env.KEYHOLD_VAULT) await withVault(g(), run);
      else await withTokens(g(), run);
    });

  const audit = program.command('audit').description('the hash-chained audit log');
  audit.command('list').description('entries, oldest first, a page at a time')
    .option('--key <id>', 'entries about this key')
    .option('--action <action>', 'entries of this action (key.create, key.rotate, key.revoke, key.reveal, ...)')
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
    .requiredOption('--out <file>', 'the file to write')
    .action(async function auditExportAction(o: { out: string }) {
      await withVault(g(), async (svc) => {
        const r = await svc.call('audit.export', { out: o.out });
        out<'audit.export'>(g(), r, (x) => `Exported ${x.entries} entries to ${x.path} (head ${x.head.seq} ${x.head.hash}).`);
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
      if (json) process.stdout.write(`${JSON.stringify({ error: { code: 'INVALID_INPUT', message: `cli: ${e.message.replace(/^error: /, '')}` } })}\n`);
      return 2;
    }
    const info = toErrorInfo(e);
    printError(info, json);
    return exitCodeFor(info.code);
  }
}
