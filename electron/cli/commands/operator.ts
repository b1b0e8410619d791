/**
 * `keyhold operator add|list|remove|grant|revoke|whoami|set-credential` and
 * `keyhold dualcontrol show|set`: operators, their roles and credentials, and
 * the commands that need a second operator's approval (docs/cli.md,
 * operators; electron/core/operators). Who runs them is `--as NAME`; a
 * dual-controlled one takes `--approver NAME` (operator-cli.ts).
 */

import type { DualControlInfo, OperatorInfo } from '../../../shared/contract.js';
import { KeyholdError } from '../../../shared/errors.js';
import { defined, listOption, newPassphrase, out, withVault, type Globals, type Program } from '../common.js';
import { esc, table } from '../output.js';

export function formatOperators(list: readonly OperatorInfo[]): string {
  return table(['NAME', 'ROLES', 'CREDENTIAL', 'CREATED'], list.map((o) => [o.name, o.roles.join(','),
    o.credential === 'token' && o.token ? `token '${o.token.label}' key '${o.token.keyLabel}'` : o.credential, o.createdAt]));
}

function formatOperator(o: OperatorInfo): string {
  return formatOperators([o]);
}

export function formatDualControl(d: DualControlInfo): string {
  const lines = [`dual control: ${d.active ? 'on' : 'off'}${d.reason ? ` (${d.reason})` : ''}`,
    `approvers: ${d.approvers.length > 0 ? d.approvers.join(', ') : '(none)'}`,
    'commands that need a second operator\'s approval:',
    ...(d.commands.length > 0 ? d.commands.map((c) => `  ${c}`) : ['  (none)'])];
  return lines.map(esc).join('\n');
}

/** Roles as given to --roles: a comma-separated list (the core checks the names). */
function rolesOption(v: string): string[] {
  const roles = listOption(v);
  if (roles.length === 0) throw new KeyholdError('INVALID_INPUT', 'operator: --roles is empty', 'Give roles such as key-operator,auditor.');
  return roles;
}

const ROLES_HELP = 'comma-separated roles: security-officer, custodian, key-operator, auditor';

export function operatorCommands(program: Program, g: Globals): void {
  const operator = program.command('operator').description('operators, their roles and credentials');

  operator.command('add').description('add an operator with its roles and its own credential (a passphrase, or a key on its token)')
    .argument('<name>', 'the operator\'s name (letters, digits, . _ -)')
    .requiredOption('--roles <roles>', ROLES_HELP)
    .option('--token <token>', 'sign in with a key on this token (label or serial) instead of a passphrase')
    .option('--key <label>', 'with --token: the label of the signing key (make one with `keyhold token keygen`)')
    .option('--new-passphrase-file <file>', 'the new operator\'s passphrase from a file (else KEYHOLD_NEW_OPERATOR_PASSPHRASE or a prompt)')
    .action(async function operatorAddAction(name, o) {
      const roles = rolesOption(o.roles);
      if ((o.token === undefined) !== (o.key === undefined)) {
        throw new KeyholdError('INVALID_INPUT', 'operator add: --token and --key go together', 'Give both, or neither for a passphrase.');
      }
      await withVault(g(), async (svc) => {
        const cred = o.token !== undefined
          ? { token: o.token, keyLabel: o.key as string }
          : { passphrase: await newPassphrase(o.newPassphraseFile, 'KEYHOLD_NEW_OPERATOR_PASSPHRASE', `Passphrase for operator ${esc(name)}: `, 'operator add') };
        const added = await svc.call('operator.add', { name, roles, ...cred, allowFinalTry: g().allowFinalTry === true });
        out<'operator.add'>(g(), added, (v) => `Added operator ${esc(v.name)}\n\n${formatOperator(v)}`);
      });
    });

  operator.command('list').description('the operators, their roles and how each signs in')
    .action(async function operatorListAction() {
      await withVault(g(), async (svc) => out<'operator.list'>(g(), await svc.call('operator.list', {}), formatOperators, 'operators'));
    });

  operator.command('remove').description('remove an operator (never the last security officer)')
    .argument('<name>', 'the operator\'s name')
    .action(async function operatorRemoveAction(name) {
      await withVault(g(), async (svc) => out<'operator.remove'>(g(), await svc.call('operator.remove', { name }),
        (v) => `Removed operator ${esc(v.removed)} (${v.operators} left)`));
    });

  for (const verb of ['grant', 'revoke'] as const) {
    operator.command(verb).description(verb === 'grant' ? 'give an operator more roles' : 'take roles from an operator (never the last security officer)')
      .argument('<name>', 'the operator\'s name')
      .requiredOption('--roles <roles>', ROLES_HELP)
      .action(async function operatorRolesAction(name, o) {
        const roles = rolesOption(o.roles);
        await withVault(g(), async (svc) => {
          const v = await svc.call(verb === 'grant' ? 'operator.grant' : 'operator.revoke', { name, roles });
          out<'operator.grant'>(g(), v, formatOperator);
        });
      });
  }

  operator.command('whoami').description('the operator signed in (--as NAME, or the only one)')
    .action(async function operatorWhoamiAction() {
      await withVault(g(), async (svc) => out<'operator.whoami'>(g(), await svc.call('operator.whoami', {}), (v) => (v.operator
        ? formatOperator(v.operator)
        : `no one is signed in (operators: ${v.operators.map(esc).join(', ')}); give --as NAME`)));
    });

  operator.command('set-credential').description('set or replace the signed-in operator\'s own credential (a vault from before operators has none)')
    .option('--token <token>', 'sign in with a key on this token (label or serial) instead of a passphrase')
    .option('--key <label>', 'with --token: the label of the signing key')
    .option('--new-passphrase-file <file>', 'the new passphrase from a file (else KEYHOLD_NEW_OPERATOR_PASSPHRASE or a prompt)')
    .action(async function operatorSetCredentialAction(o) {
      if ((o.token === undefined) !== (o.key === undefined)) {
        throw new KeyholdError('INVALID_INPUT', 'operator set-credential: --token and --key go together', 'Give both, or neither for a passphrase.');
      }
      await withVault(g(), async (svc) => {
        const cred = o.token !== undefined
          ? { token: o.token, keyLabel: o.key as string }
          : { passphrase: await newPassphrase(o.newPassphraseFile, 'KEYHOLD_NEW_OPERATOR_PASSPHRASE', 'New operator passphrase: ', 'operator set-credential') };
        const v = await svc.call('operator.setCredential', { ...cred, allowFinalTry: g().allowFinalTry === true });
        out<'operator.setCredential'>(g(), v, (x) => `Credential set for ${esc(x.name)} (${x.credential})`);
      });
    });

  const dc = program.command('dualcontrol').description('the commands that need a second operator\'s approval');
  dc.command('show').description('the dual-controlled commands, whether dual control is on, and who can approve')
    .action(async function dualControlShowAction() {
      await withVault(g(), async (svc) => out<'dualControl.show'>(g(), await svc.call('dualControl.show', {}), formatDualControl));
    });
  dc.command('set').description('change the dual-controlled commands (audited; itself dual-controlled by default)')
    .option('--commands <names>', 'the whole set, comma-separated command names such as bundle.export,key.destroy (empty: none)')
    .option('--add <names>', 'add these commands to the set')
    .option('--remove <names>', 'remove these commands from the set')
    .option('--defaults', 'back to the default set')
    .action(async function dualControlSetAction(o) {
      const n = [o.commands !== undefined, o.add !== undefined || o.remove !== undefined, o.defaults === true].filter(Boolean).length;
      if (n !== 1) {
        throw new KeyholdError('INVALID_INPUT', 'dualcontrol set: give one of --commands, --add/--remove or --defaults',
          'For example: keyhold dualcontrol set --add key.revoke');
      }
      await withVault(g(), async (svc) => {
        let input: { defaults: true } | { commands: string[] };
        if (o.defaults === true) input = { defaults: true };
        else if (o.commands !== undefined) input = { commands: listOption(o.commands) };
        else {
          const now = (await svc.call('dualControl.show', {})).commands;
          const add = listOption(o.add ?? '');
          const drop = new Set(listOption(o.remove ?? ''));
          input = { commands: [...new Set([...now, ...add])].filter((c) => !drop.has(c)) };
        }
        out<'dualControl.set'>(g(), await svc.call('dualControl.set', defined(input)), formatDualControl);
      });
    });
}
