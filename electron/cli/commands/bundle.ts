/** `keyhold bundle ...`: signed rotation bundles for servers (docs/cli.md 3.29-3.31). */

import type { CommandOutput } from '../../../shared/contract.js';
import type { KeyholdService } from '../../core/service.js';
import { defined, intOption, out, vaultGiven, withTokens, withVault, type Globals, type Program } from '../common.js';
import { esc, formatBundleExport } from '../output.js';

export function bundleCommands(program: Program, g: Globals): void {
  const bundle = program.command('bundle').description('signed rotation bundles for servers');
  bundle.command('export').description('write what changed for a recipient since its last bundle, signed on the token(s)')
    .requiredOption('--recipient <name>', 'the recipient')
    .requiredOption('--out <file>', 'the bundle file, a new one (never overwritten; not a link)')
    .option('--revocations-only', 'only revocations: no new keys, no secrets')
    .option('--expires <duration>', 'how long it may be applied, e.g. 7d (1m to 90d)', '7d')
    .option('--token <label>', 'sign with the signers on this token only (label or serial); a PIN given (KEYHOLD_PIN, --pin-file) is for it. Needed with a PIN given when signers are on several tokens present')
    .action(async function bundleExportAction(o) {
      await withVault(g(), async (svc) => out<'bundle.export'>(g(), await svc.call('bundle.export', defined({
        recipient: o.recipient, out: o.out, revocationsOnly: o.revocationsOnly === true, expires: o.expires,
        token: o.token, allowFinalTry: g().allowFinalTry === true,
      })), formatBundleExport));
    });
  bundle.command('resend').description('write a bundle the vault recorded (the last one, or --sequence N) to a new file: for a lost or damaged file')
    .requiredOption('--recipient <name>', 'the recipient')
    .requiredOption('--out <file>', 'the file to write (never overwritten)')
    .option('--sequence <n>', 'which bundle (default: the last one)')
    .action(async function bundleResendAction(o) {
      const sequence = intOption(o.sequence, '--sequence');
      await withVault(g(), async (svc) => out<'bundle.resend'>(g(), await svc.call('bundle.resend', defined({
        recipient: o.recipient, out: o.out, sequence,
      })), (v) => `Wrote bundle ${v.sequence} for ${v.recipient} again to ${esc(v.path)} (${v.bytes} bytes, payload sha256 ${v.hash}).`));
    });
  bundle.command('sign').description('add another token\'s signature to a bundle (M-of-N signing)').argument('<file>', 'the bundle file')
    .option('--token <label>', 'the token, by label or serial')
    .option('--key <keylabel>', 'the key on the token (needed without --vault)')
    .action(async function bundleSignAction(file, o) {
      const input = defined({ file, token: o.token, keyLabel: o.key, allowFinalTry: g().allowFinalTry === true });
      const print = (v: CommandOutput<'bundle.sign'>) => `Signed ${v.path} as ${v.kid}: ${v.signatures.length} signature(s).`;
      const run = async (svc: KeyholdService) => out<'bundle.sign'>(g(), await svc.call('bundle.sign', input), print);
      if (vaultGiven(g())) await withVault(g(), run);
      else await withTokens(g(), run);
    });
}
