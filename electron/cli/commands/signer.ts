/** `keyhold signer ...`: the token keys that sign bundles and trust roots (docs/cli.md 3.26-3.28). */

import { intOption, out, withVault, type Globals, type Program } from '../common.js';
import { esc, formatSigners } from '../output.js';

export function signerCommands(program: Program, g: Globals): void {
  const signer = program.command('signer').description('token keys that sign bundles and trust roots');
  signer.command('add').description('register a signing key on a token (see `keyhold token keys`)')
    .requiredOption('--token <label>', 'the token, by label or serial')
    .requiredOption('--key <keylabel>', 'the key\'s label on the token')
    .action(async function signerAddAction(o) {
      await withVault(g(), async (svc) => out<'signer.add'>(g(), await svc.call('signer.add', { token: o.token, keyLabel: o.key }),
        (s) => `Registered signer ${s.kid} (${s.alg}, '${esc(s.keyLabel)}' on '${esc(s.token)}').${s.warnings.map((w) => `\nwarning: ${esc(w)}`).join('')}`));
    });
  signer.command('list').description('registered signers and the signing threshold')
    .action(async function signerListAction() {
      await withVault(g(), async (svc) => out<'signer.list'>(g(), await svc.call('signer.list', {}), formatSigners));
    });
  signer.command('threshold').description('how many distinct signers a bundle and a trust root need').argument('<n>', 'the threshold')
    .action(async function signerThresholdAction(n) {
      const threshold = intOption(n, 'threshold') ?? 1;
      await withVault(g(), async (svc) => out<'signer.threshold'>(g(), await svc.call('signer.threshold', { threshold }),
        (v) => `Threshold set to ${v.threshold} of ${v.signers} signers.`));
    });
}
