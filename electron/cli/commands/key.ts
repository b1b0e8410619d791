/** `keyhold key ...`: API keys and their versions (docs/cli.md 3.7-3.14). */

import type { CommandOutput } from '../../../shared/contract.js';
import { KeyholdError } from '../../../shared/errors.js';
import type { KeyholdService } from '../../core/service.js';
import { defined, destructive, intOption, listOption, out, withVault, type Globals, type Program } from '../common.js';
import { esc, formatDue, formatKey, formatKeys } from '../output.js';

/** A key as a question names it: id (service/environment/name). */
async function keyName(svc: KeyholdService, id: string): Promise<{ name: string; states: Map<number, string> }> {
  const k = await svc.call('key.show', { id });
  return { name: `${k.id} (${esc(`${k.service}/${k.environment}/${k.name}`)})`, states: new Map(k.versions.map((v) => [v.version, v.state])) };
}

/** "version 1 (retiring), version 2 (active)" */
function versionList(versions: readonly number[], states?: Map<number, string>): string {
  return versions.map((n) => `version ${n}${states?.get(n) ? ` (${states.get(n) ?? ''})` : ''}`).join(', ');
}

export function keyCommands(program: Program, g: Globals): void {
  const key = program.command('key').description('API keys');
  key.command('create').description('create an API key (prints its id and metadata, never the secret)')
    .requiredOption('--name <name>', 'key name, unique within service and environment')
    .requiredOption('--service <service>', 'the service the key belongs to')
    .option('--env <environment>', 'environment', 'production')
    .option('--scopes <list>', 'comma-separated scopes (least privilege: only these)', '')
    .option('--owner <owner>', 'who answers for the key', '')
    .option('--notes <text>', 'free text, stored sealed', '')
    .option('--activate-at <time>', 'ISO 8601 date or time with a zone (2027-01-31, 2027-01-31T09:00:00Z, 2027-01-31T10:00+01:00): the key is pre-active until then')
    .action(async function keyCreateAction(o) {
      const scopes = listOption(o.scopes);
      await withVault(g(), async (svc) => {
        const k = await svc.call('key.create', defined({
          name: o.name, service: o.service, environment: o.env, scopes, owner: o.owner, notes: o.notes, activateAt: o.activateAt,
        }));
        out<'key.create'>(g(), k, (v) => `Created key ${v.id} (${v.service}/${v.environment}/${v.name}).\nReveal it with: keyhold key reveal ${v.id}`);
      });
    });
  key.command('list').description('list keys')
    .option('--service <service>', 'only this service')
    .option('--env <environment>', 'only this environment')
    .option('--query <text>', 'only keys whose id, name, service, environment, owner or scopes contain this')
    .action(async function keyListAction(o) {
      await withVault(g(), async (svc) => {
        const keys = await svc.call('key.list', defined({ service: o.service, environment: o.env, query: o.query }));
        out<'key.list'>(g(), keys, formatKeys, 'keys');
      });
    });
  key.command('show').description("a key's metadata, versions and states").argument('<id>', 'key id (16 characters) or service/environment/name')
    .action(async function keyShowAction(id) {
      await withVault(g(), async (svc) => out<'key.show'>(g(), await svc.call('key.show', { id }), formatKey));
    });
  key.command('reveal').description("print a key's secret").argument('<id>', 'key id (16 characters) or service/environment/name')
    .option('--version <N>', 'a version other than the current one')
    .action(async function keyRevealAction(id, o) {
      const version = intOption(o.version, '--version');
      await withVault(g(), async (svc) => {
        const r = await svc.call('key.reveal', defined({ id, version }));
        out<'key.reveal'>(g(), r, (x) => x.secret);
      });
    });

  key.command('due').description('keys overdue or due for rotation within their warning time')
    .option('--all', 'list every key with its status, not only the due ones')
    .action(async function keyDueAction(o) {
      await withVault(g(), async (svc) => out<'key.due'>(g(), await svc.call('key.due', { all: o.all === true }), formatDue, 'keys'));
    });
  key.command('rotate').description('rotate keys: a new active version, the old one retiring for its grace window')
    .argument('[ids...]', 'keys, each by id or service/environment/name')
    .addHelpText('after', '\nExactly one of: key ids, --due or --all is needed.')
    .option('--due', 'every key overdue or due within its warning time')
    .option('--all', 'every key with an active version (asks first)')
    .option('--yes', 'with --all: do not ask for confirmation (for scripts)')
    .option('--dry-run', 'print what would be rotated and change nothing')
    .action(async function keyRotateAction(ids, o) {
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
    .action(async function keyRevokeAction(id, o) {
      const version = intOption(o.version, '--version');
      await destructive(g(), o, 'key.revoke', defined({ id, reason: o.reason, version }), {
        // Every live version of the key: asked; one named version is what the operator already spelled out.
        ask: version === undefined,
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
    .action(async function keyDestroyAction(id, o) {
      const version = intOption(o.version, '--version');
      await destructive(g(), o, 'key.destroy', defined({ id, version }), {
        ask: true,
        before: `Destroy the secret of key ${esc(id)}${version !== undefined ? ` version ${version}` : ' (every revoked version)'}?`,
        question: async (x, svc) => {
          const k = await keyName(svc, x.id);
          return `Destroy the secret of key ${k.name} ${versionList(x.versions)}? It is erased for good; metadata and history stay.`;
        },
        print: (x, dry) => dry
          ? `Dry run: would destroy the secret of ${x.id} version ${x.versions.join(', ')}; nothing was changed.`
          : `Destroyed the secret of ${x.id} version ${x.versions.join(', ')}.`,
      });
    });
}
