/** `keyhold trust export`: the trust root importers pin (docs/cli.md 3.32). */

import { defined, out, withVault, type Globals, type Program } from '../common.js';
import { esc } from '../output.js';

export function trustCommands(program: Program, g: Globals): void {
  const trust = program.command('trust').description('the trust root importers pin');
  trust.command('export').description('write the trust root (signer keys, threshold, vault id, version), signed by the signers present')
    .requiredOption('--out <file>', 'the trust root file, a new one (never overwritten; not a link)')
    .option('--expires <duration>', 'how long the root is valid (default: no expiry)')
    .option('--token <label>', 'sign with the signers on this token only (label or serial); a PIN given (KEYHOLD_PIN, --pin-file) is for it. Needed with a PIN given when signers are on several tokens present')
    .action(async function trustExportAction(o) {
      await withVault(g(), async (svc) => out<'trust.export'>(g(), await svc.call('trust.export', defined({
        out: o.out, expires: o.expires, token: o.token, allowFinalTry: g().allowFinalTry === true,
      })), (v) => `Wrote trust root version ${v.version} (${v.signers.length} signer(s), threshold ${v.threshold}, signed by ${v.signatures.length}) to ${esc(v.path)}.\n` +
        // The same fingerprint, computed and written the same way, as `keyhold-import trust show` prints: compared aloud.
        `  fingerprint ${v.hash}`));
    });
}
