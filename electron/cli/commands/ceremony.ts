/** `keyhold ceremony ...`: key ceremonies, their signed checkpoint and transcript (docs/cli.md 3.40-3.43). */

import type { CeremonyInfo } from '../../../shared/contract.js';
import { defined, intOption, out, withVault, type Globals, type Program } from '../common.js';
import { esc, table } from '../output.js';

function formatCeremony(c: CeremonyInfo, verb: string): string {
  const lines = [`${verb} ceremony ${c.id}: ${esc(c.purpose)}`,
    `  present: ${c.present.map(esc).join(', ')}`,
    `  started ${c.startedAt} by ${esc(c.startedBy)}`];
  if (c.endedAt !== null) lines.push(`  ended ${c.endedAt} by ${esc(c.endedBy ?? '')}; ${c.steps} step(s)`);
  else lines.push(`  open; ${c.steps} step(s) so far`);
  if (c.checkpoint) {
    lines.push(`  checkpoint: audit head ${c.checkpoint.seq} ${c.checkpoint.hash}`,
      `  signed by ${c.checkpoint.kid} (fingerprint ${c.checkpoint.fingerprint})`);
  }
  return lines.join('\n');
}

function formatCeremonies(list: readonly CeremonyInfo[]): string {
  if (list.length === 0) return 'No ceremonies yet. Start one with `keyhold ceremony start`.';
  return table(['ID', 'STARTED', 'ENDED', 'STEPS', 'PRESENT', 'PURPOSE'],
    list.map((c) => [String(c.id), c.startedAt, c.endedAt ?? 'open', String(c.steps), c.present.join(', '), c.purpose]));
}

export function ceremonyCommands(program: Program, g: Globals): void {
  const ceremony = program.command('ceremony').description('key ceremonies: a session with its people present, a checkpoint signed on the token, a PDF transcript');
  ceremony.command('start').description('open a ceremony (one at a time): what is done until `ceremony end` is its steps')
    .requiredOption('--purpose <text>', 'what the ceremony is for (one line)')
    .requiredOption('--present <name...>', 'the people present, operators and witnesses (1 to 20 names, each quoted: --present "Ada Lovelace" "Grace Hopper")')
    .action(async function ceremonyStartAction(o) {
      await withVault(g(), async (svc) => out<'ceremony.start'>(g(), await svc.call('ceremony.start', { purpose: o.purpose, present: o.present }),
        (c) => `${formatCeremony(c, 'Started')}\nEnd it with \`keyhold ceremony end\` (the checkpoint is signed on a signer's token).`));
    });
  ceremony.command('end').description('end the open ceremony: the audit head is signed on the token by a registered signer key')
    .option('--token <label>', 'the signer\'s token (label or serial); a PIN given (KEYHOLD_PIN, --pin-file) is for it')
    .option('--key-label <label>', 'the signer key\'s label on the token (when several signers are registered)')
    .action(async function ceremonyEndAction(o) {
      await withVault(g(), async (svc) => out<'ceremony.end'>(g(), await svc.call('ceremony.end', defined({
        token: o.token, keyLabel: o.keyLabel, allowFinalTry: g().allowFinalTry === true,
      })), (c) => formatCeremony(c, 'Ended')));
    });
  ceremony.command('list').description('past and open ceremonies, oldest first')
    .action(async function ceremonyListAction() {
      await withVault(g(), async (svc) => out<'ceremony.list'>(g(), await svc.call('ceremony.list', {}), formatCeremonies, 'ceremonies'));
    });
  ceremony.command('transcript').description('write a ceremony\'s transcript as a PDF (atomically; the checkpoint is verified first)')
    .option('--ceremony <id>', 'which ceremony (its id, see `ceremony list`; default: the last one)')
    .requiredOption('--out <file>', 'the PDF to write, a new file (never overwritten; not a link)')
    .action(async function ceremonyTranscriptAction(o) {
      const id = intOption(o.ceremony, '--ceremony');
      const r = await withVault(g(), (svc) => svc.call('ceremony.transcript', defined({ ceremony: id, out: o.out })));
      out<'ceremony.transcript'>(g(), r, (v) => `Wrote the transcript of ceremony ${v.ceremony} to ${esc(v.path)} (${v.steps} step(s), ${v.bytes} bytes); checkpoint ${
        v.verified === null ? 'none yet (the ceremony is open)' : v.verified ? 'verified' : 'DOES NOT VERIFY (see the transcript)'}.`);
      // As `audit verify`: a checkpoint that does not verify is damage, reported by the exit code too.
      if (r.verified === false) process.exitCode = 5;
    });
}
