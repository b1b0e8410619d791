import type { z } from 'zod';
import { KeyholdError } from './errors.js';
import { contract, type CommandArgs, type CommandName } from './contract.js';

/** The CLI command behind each service command whose name differs from "area verb". */
const CLI_NAME: Partial<Record<CommandName, string>> = {
  'vault.create': 'init',
  'vault.unlock': 'unlock',
  'vault.unlockToken': 'unlock',
  'vault.lock': 'lock',
  'vault.status': 'status',
  'vault.info': 'info',
  'slot.addPassphrase': 'slot add-passphrase',
  'slot.addToken': 'slot add-token',
  'operator.setCredential': 'operator set-credential',
  'operator.signIn': 'sign-in',
  'operator.signOut': 'sign-out',
  'approval.request': 'approval request',
  'approval.grant': 'approval',
  'dualControl.show': 'dualcontrol show',
  'dualControl.set': 'dualcontrol set',
};

/** Commands that are not CLI commands of their own (no `--help` to point to). */
const NO_HELP: ReadonlySet<string> = new Set(['unlock', 'lock', 'status', 'sign-in', 'sign-out', 'approval request', 'approval']);

/** How a field is named to people: the CLI option that sets it where there is one. */
const FIELD: Readonly<Record<string, string>> = {
  id: 'the key',
  ids: 'the keys',
  key: '--key',
  version: '--version',
  reason: '--reason',
  name: '--name',
  service: '--service',
  environment: '--env',
  scopes: '--scopes',
  owner: '--owner',
  notes: '--notes',
  activateAt: '--activate-at',
  label: '--label',
  keyLabel: 'the key label',
  token: '--token',
  query: '--query',
  action: '--action',
  actor: '--actor',
  since: '--since',
  until: '--until',
  after: '--after',
  limit: '--limit',
  recipient: '--recipient',
  roles: '--roles',
  commands: '--commands',
  out: '--out',
  expires: '--expires',
  sequence: '--sequence',
  threshold: 'the threshold',
  alg: '--alg',
  verifies: '--verifies',
  holds: '--holds',
  publicKey: '--public-key',
  file: 'the file',
  path: 'the vault path',
  passphrase: 'the passphrase',
  current: 'the current passphrase',
  next: 'the new passphrase',
  pin: 'the PIN',
  kdf: 'the KDF parameters',
  memoryKiB: '--kdf-memory',
  passes: '--kdf-passes',
  parallelism: '--kdf-parallelism',
  scope: 'the policy scope (--global, --service or --key)',
  rotation: '--rotation',
  grace: '--grace',
  warn: '--warn',
  lifetime: '--lifetime',
};

/** The command as people call it: "key show", "init", "slot add-token". */
export function commandTitle(command: CommandName): string {
  return CLI_NAME[command] ?? command.replace('.', ' ');
}

function fieldName(path: readonly PropertyKey[]): string {
  const names = path.filter((p): p is string => typeof p === 'string');
  const last = names[names.length - 1];
  if (last === undefined) return 'the input';
  const index = path.find((p) => typeof p === 'number');
  const base = FIELD[last] ?? last;
  return typeof index === 'number' ? `${base} (item ${index + 1})` : base;
}

/** zod's own English messages, as opposed to the schemas' messages written for people. */
const ZOD_DEFAULT_RE = /^(Invalid|Too (small|big)|Unrecognized|Expected)/;

type Issue = z.core.$ZodIssue;

function quoteList(values: readonly unknown[]): string {
  return values.map((v) => String(v)).join(', ');
}

/** One issue as a sentence about the field, and a hint when there is a useful one. */
function describe(issue: Issue, command: CommandName): { text: string; hint?: string } {
  const field = fieldName(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return { text: `unknown field ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}` };
    case 'invalid_value':
      if (issue.values.length === 1 && issue.values[0] === true) return { text: `${field} must be set` };
      return { text: `${field} must be one of: ${quoteList(issue.values)}`, hint: `Give one of: ${quoteList(issue.values)}.` };
    case 'invalid_type':
      return issue.input === undefined && /received undefined$/.test(issue.message)
        ? { text: `${field} is missing` }
        : { text: `${field} must be ${issue.expected === 'int' ? 'a whole number' : `a ${issue.expected}`}` };
    case 'invalid_union':
      if (command === 'key.rotate') {
        return { text: 'name key ids, or --due, or --all (exactly one of them)' };
      }
      return { text: `${field} is not valid` };
    default:
      break;
  }
  if (!ZOD_DEFAULT_RE.test(issue.message)) return { text: issue.message };
  if (issue.code === 'too_small' || issue.code === 'too_big') {
    const n = Number(issue.code === 'too_small' ? issue.minimum : issue.maximum);
    const inclusive = issue.inclusive !== false;
    const origin = issue.origin;
    if (origin === 'number' || origin === 'int' || origin === 'bigint') {
      const bound = issue.code === 'too_small'
        ? (inclusive ? `at least ${n}` : n === 0 ? 'a positive number' : `more than ${n}`)
        : (inclusive ? `at most ${n}` : `less than ${n}`);
      return { text: `${field} must be ${bound}` };
    }
    const unit = origin === 'string' ? 'characters' : 'items';
    return { text: `${field} must have ${issue.code === 'too_small' ? 'at least' : 'at most'} ${n} ${unit}` };
  }
  return { text: `${field} is not valid` };
}

/**
 * Parses a command's input against its schema. The error names the command
 * as people call it and the field as they set it ("key revoke: --reason must
 * be one of: ..."), with the valid values where there is a list; never the
 * value given (it may be a passphrase).
 */
export function parseCommandInput<C extends CommandName>(command: C, input: unknown): CommandArgs<C> {
  const schema = contract[command].input as unknown as z.ZodType<CommandArgs<C>>;
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  throw inputError(command, r.error.issues);
}

/** The INVALID_INPUT error for a command's failed parse (also for the IPC router's). */
export function inputError(command: CommandName, issues: readonly Issue[]): KeyholdError {
  const title = commandTitle(command);
  const first = issues[0];
  const d = first ? describe(first, command) : { text: 'the input is not valid' };
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem(s))` : '';
  const help = NO_HELP.has(title) ? undefined : `\`keyhold ${title} --help\` lists what it takes.`;
  return new KeyholdError('INVALID_INPUT', `${title}: ${d.text}${more}`, d.hint ?? help);
}
