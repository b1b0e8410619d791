import type { z } from 'zod';
import { KeyholdError } from './errors.js';
import { contract, type CommandArgs, type CommandName } from './contract.js';

/**
 * Parses a command's input against its schema. The error names the field and
 * the rule it broke, never the value given (it may be a passphrase).
 */
export function parseCommandInput<C extends CommandName>(command: C, input: unknown): CommandArgs<C> {
  const schema = contract[command].input as unknown as z.ZodType<CommandArgs<C>>;
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const first = r.error.issues[0];
  const where = first && first.path.length > 0 ? `${first.path.map(String).join('.')}: ` : '';
  const what = first?.code === 'unrecognized_keys' ? 'unknown field' : (first?.message ?? 'invalid input');
  const more = r.error.issues.length > 1 ? ` (and ${r.error.issues.length - 1} more problem(s))` : '';
  throw new KeyholdError('INVALID_INPUT', `${command}: ${where}${what}${more}`);
}
