/**
 * `keyhold settings show|set`: the vault's custody settings the desktop app
 * applies (auto-lock, clipboard clearing, strict air gap; docs/cli.md 3.15a).
 */

import type { CommandOutput, VaultSettings } from '../../../shared/contract.js';
import { KeyholdError } from '../../../shared/errors.js';
import { defined, engine, out, withVault, type Globals, type Program } from '../common.js';
import { table } from '../output.js';

/** A whole number option, or `default` (null: the vault's value is removed and the workstation's applies). */
function numberOrDefault(value: string | undefined, what: string): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'default') return null;
  if (!/^\d{1,7}$/.test(value)) {
    throw new KeyholdError('INVALID_INPUT', `settings: ${what} must be a whole number or default, not ${JSON.stringify(value.slice(0, 20))}`,
      'For example: keyhold settings set --auto-lock 10');
  }
  return Number(value);
}

function strictOrNot(value: string | undefined): boolean | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'on') return true;
  if (value === 'off') return false;
  if (value === 'default') return null;
  throw new KeyholdError('INVALID_INPUT', `settings: --airgap-strict must be on, off or default, not ${JSON.stringify(value.slice(0, 20))}`,
    'For example: keyhold settings set --airgap-strict on');
}

function shown(v: number | boolean | null, unit: string): string {
  if (v === null) return 'workstation';
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  return v === 0 ? `0 (${unit === 'min' ? 'never locks' : 'never cleared'})` : `${v} ${unit}`;
}

export function formatSettings(s: VaultSettings): string {
  return table(['SETTING', 'VALUE'], [
    ['auto-lock', shown(s.autoLockMinutes, 'min')],
    ['clipboard-clear', shown(s.clipboardClearSeconds, 's')],
    ['airgap-strict', shown(s.airgapStrict, '')],
  ]);
}

export function settingsCommands(program: Program, g: Globals): void {
  const settings = program.command('settings').description('custody settings the desktop app applies: auto-lock, clipboard, air gap');
  settings.command('show').description('the vault\'s settings ("workstation": not set in the vault, the app\'s own applies)')
    .action(async function settingsShowAction() {
      await withVault(g(), async (svc) => out<'settings.show'>(g(), await svc.call('settings.show', {}), formatSettings));
    });
  settings.command('set').description('change settings (audited as settings.set with old and new values)')
    .option('--auto-lock <minutes>', 'idle minutes before the app locks the vault (0: never, at most 1440; default: the workstation\'s)')
    .option('--clipboard-clear <seconds>', 'seconds before a copied secret is cleared (0: never, at most 3600; default: the workstation\'s)')
    .option('--airgap-strict <on|off|default>', 'on: the app and keyhold refuse to unlock while a non-loopback network interface is up')
    .action(async function settingsSetAction(o) {
      const input = defined({
        autoLockMinutes: numberOrDefault(o.autoLock, '--auto-lock'),
        clipboardClearSeconds: numberOrDefault(o.clipboardClear, '--clipboard-clear'),
        airgapStrict: strictOrNot(o.airgapStrict),
      });
      await withVault(g(), async (svc) => {
        if (input.airgapStrict === true) {
          // As in the app: on while connected, the vault would refuse its next unlock here at once.
          const { listInterfaces, refuseStrictWhileConnected } = await engine();
          const { networkInterfaces } = await import('node:os');
          refuseStrictWhileConnected(listInterfaces(networkInterfaces()));
        }
        const r: CommandOutput<'settings.set'> = await svc.call('settings.set', input);
        out<'settings.set'>(g(), r, formatSettings);
      });
    });
}
