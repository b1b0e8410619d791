/** `keyhold bundle ...`: signed rotation bundles for servers (docs/cli.md 3.29-3.31). */

import type { CommandOutput } from '../../../shared/contract.js';
import type { KeyholdService } from '../../core/service.js';
import { join } from 'node:path';
import { KeyholdError } from '../../../shared/errors.js';
import { defined, engine, intOption, out, vaultGiven, withTokens, withVault, type Globals, type Program } from '../common.js';
import { esc, formatBundleExport } from '../output.js';

export function bundleCommands(program: Program, g: Globals): void {
  const bundle = program.command('bundle').description('signed rotation bundles for servers');
  bundle.command('export').description('write what changed for a recipient since its last bundle, signed on the token(s)')
    .requiredOption('--recipient <name>', 'the recipient')
    .option('--out <file>', 'the bundle file, a new one (never overwritten; not a link); required unless --qr is given (then DIR/bundle.json)')
    .option('--revocations-only', 'only revocations: no new keys, no secrets')
    .option('--qr <dir>', 'with --revocations-only: also write the bundle as numbered QR codes, DIR/part-01-of-NN.png (new files; bundle-format.md 14)')
    .option('--expires <duration>', 'how long it may be applied, e.g. 7d (1m to 90d)', '7d')
    .option('--token <label>', 'sign with the signers on this token only (label or serial); a PIN given (KEYHOLD_PIN, --pin-file) is for it. Needed with a PIN given when signers are on several tokens present')
    .action(async function bundleExportAction(o) {
      const qrDir = o.qr;
      const file = o.out ?? (qrDir !== undefined ? join(qrDir, 'bundle.json') : undefined);
      if (file === undefined) throw new KeyholdError('INVALID_INPUT', 'cli: bundle export needs --out FILE (or --qr DIR)');
      if (qrDir !== undefined) {
        if (o.revocationsOnly !== true) {
          throw new KeyholdError('INVALID_INPUT', 'cli: --qr is for a revocations-only bundle', 'Add --revocations-only, or carry the bundle as a file.');
        }
        // The folder is checked before anything is signed or recorded.
        (await engine()).checkQrDir(qrDir);
      }
      await withVault(g(), async (svc) => {
        const r = await svc.call('bundle.export', defined({
          recipient: o.recipient, out: file, revocationsOnly: o.revocationsOnly === true, expires: o.expires,
          token: o.token, allowFinalTry: g().allowFinalTry === true, qr: qrDir !== undefined ? true : undefined,
        }));
        if (qrDir === undefined || !r.qr) {
          out<'bundle.export'>(g(), r, formatBundleExport);
          return;
        }
        const texts = r.qr.map((p) => p.text);
        let pngs: string[];
        try {
          pngs = await (await engine()).writeQrPngs(qrDir, texts);
        } catch (e) {
          process.stderr.write(`keyhold: the bundle was exported and recorded (${esc(r.path)}), but its QR codes were not all written\n`);
          throw e;
        }
        // The PNGs in place of the SVG drawings: they are the codes here.
        const shown = { ...r, qr: r.qr.map((p, i) => ({ index: p.index, total: p.total, text: p.text, png: pngs[i] as string })) };
        out<'bundle.export'>(g(), shown as unknown as CommandOutput<'bundle.export'>,
          (v) => `${formatBundleExport(v)}\n  as ${pngs.length} QR code(s): ${pngs.map(esc).join(', ')}`);
      });
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
