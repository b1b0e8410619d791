/** `keyhold slot ...` and `keyhold passphrase change`: the keyslots that unlock the vault (docs/cli.md 3.3-3.6, 3.23). */

import type { CommandOutput } from '../../../shared/contract.js';
import {
  defined, intOption, kdfFrom, newPassphrase, out, passphrase, destructive, service, vaultPath, withKdfOptions, withVault,
  type Globals, type Program,
} from '../common.js';
import { esc, formatSlots } from '../output.js';

export function slotCommands(program: Program, g: Globals): void {
  const slot = program.command('slot').description('keyslots: the ways to unlock the vault');
  slot.command('list').description('list keyslots')
    .action(async function slotListAction() {
      await withVault(g(), async (svc) => out<'slot.list'>(g(), await svc.call('slot.list', {}), formatSlots, 'keyslots'));
    });
  withKdfOptions(slot.command('add-passphrase').description('add another passphrase keyslot'))
    .option('--label <label>', 'a name for the slot', '')
    .option('--new-passphrase-file <file>', 'read the new passphrase from a file (else KEYHOLD_NEW_PASSPHRASE or a prompt)')
    .action(async function slotAddPassphraseAction(o) {
      await withVault(g(), async (svc) => {
        const next = await newPassphrase(o.newPassphraseFile, 'KEYHOLD_NEW_PASSPHRASE', 'New passphrase for the slot: ', 'slot add-passphrase');
        const kdf = await kdfFrom(o);
        const s = await svc.call('slot.addPassphrase', defined({ passphrase: next, label: o.label, kdf }));
        out<'slot.addPassphrase'>(g(), s, (v) => `Added keyslot ${v.id} (${v.type}).`);
      });
    });
  slot.command('add-token').description('add a keyslot that a PKCS#11 token unlocks (ECDH on the token; the key is generated on the token if the label is new)')
    .requiredOption('--token <label>', 'the token, by label or serial (see `keyhold token list`)')
    .requiredOption('--label <keylabel>', 'the token key for the slot: a P-256 key allowed to derive, or a new label')
    .option('--slot-label <label>', 'a name for the keyslot', '')
    .action(async function slotAddTokenAction(o) {
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
    .action(async function slotRemoveAction(id, o) {
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
    .action(async function passphraseChangeAction(o) {
      const current = await passphrase(g(), 'Current passphrase: ');
      const next = await newPassphrase(o.newPassphraseFile, 'KEYHOLD_NEW_PASSPHRASE', 'New passphrase: ', 'passphrase change');
      const kdf = await kdfFrom(o);
      const svc = await service(g());
      try {
        await svc.call('vault.unlock', { path: vaultPath(g()), passphrase: current });
        const s = await svc.call('passphrase.change', defined({ current, next, kdf }));
        out<'passphrase.change'>(g(), s, (v) => `Changed the passphrase of keyslot ${v.id}.`);
      } finally {
        svc.close();
      }
    });
}
