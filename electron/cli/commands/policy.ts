/** `keyhold policy ...`: rotation policies, global, per service, per key (docs/cli.md 3.15-3.17). */

import type { Command, OptionValues } from '@commander-js/extra-typings';
import { KeyholdError } from '../../../shared/errors.js';
import { defined, out, withVault, type Globals, type Program } from '../common.js';
import { formatPolicy } from '../output.js';

function withScopeOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(c: Command<A, O, G>) {
  return c
    .option('--global', 'the global policy')
    .option('--service <service>', "a service's policy")
    .option('--key <id>', "one key's policy (its id or service/environment/name)")
    .addHelpText('after', '\nExactly one of --global, --service or --key is needed.');
}

type ScopeOpts = ReturnType<ReturnType<typeof withScopeOptions<[], Record<never, never>, Record<never, never>>>['opts']>;

function scopeOf(o: ScopeOpts) {
  const n = [o.global === true, o.service !== undefined, o.key !== undefined].filter(Boolean).length;
  if (n !== 1) {
    throw new KeyholdError('INVALID_INPUT', `policy: give exactly one of --global, --service NAME, --key ID (${n === 0 ? 'none' : n} given)`,
      'For example: keyhold policy show --service payments');
  }
  return o.global ? { global: true as const } : o.service !== undefined ? { service: o.service } : { key: o.key as string };
}

export function policyCommands(program: Program, g: Globals): void {
  const policy = program.command('policy').description('rotation policies: global, per service, per key');
  withScopeOptions(policy.command('set').description('set policy fields (durations like 90d, 36h, 2w)'))
    .option('--rotation <duration>', 'rotation period (default 90d)')
    .option('--grace <duration>', 'grace window in which the old version is still accepted (default 7d)')
    .option('--warn <duration>', 'warning lead time before rotation is due (default 14d)')
    .option('--lifetime <duration>', 'maximum lifetime of a version (default 365d)')
    .action(async function policySetAction(o) {
      const scope = scopeOf(o);
      await withVault(g(), async (svc) => {
        const p = await svc.call('policy.set', defined({ scope, rotation: o.rotation, grace: o.grace, warn: o.warn, lifetime: o.lifetime }));
        out<'policy.set'>(g(), p, formatPolicy);
      });
    });
  withScopeOptions(policy.command('clear').description('remove a policy; the next less specific one applies'))
    .action(async function policyClearAction(o) {
      const scope = scopeOf(o);
      await withVault(g(), async (svc) => out<'policy.clear'>(g(), await svc.call('policy.clear', { scope }), formatPolicy));
    });
  withScopeOptions(policy.command('show').description('the effective policy and where each field comes from'))
    .action(async function policyShowAction(o) {
      const scope = scopeOf(o);
      await withVault(g(), async (svc) => out<'policy.show'>(g(), await svc.call('policy.show', { scope }), formatPolicy));
    });
}
