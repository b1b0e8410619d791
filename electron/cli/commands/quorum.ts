/**
 * Quorum keyslots (docs/cli.md 3.23a, 3.23b): `keyhold slot add-quorum`,
 * `keyhold slot reshare` and `keyhold share paper`. Unlocking by quorum is
 * `--unlock quorum` on any command (../quorum-unlock.ts).
 *
 * A custodian is `--custodian NAME` (a passphrase custodian) or
 * `--custodian NAME=token:TOKEN[:KEYLABEL]` (a key on that token; KEYLABEL
 * defaults to quorum-NAME, generated when new). A passphrase custodian's new
 * passphrase comes from `--custodian-passphrase-file NAME=FILE`, else
 * KEYHOLD_CUSTODIAN_PASSPHRASE_<NAME> (the name in capitals, other
 * characters as _), else it is typed twice at a prompt.
 */

import { Command } from '@commander-js/extra-typings';
import type { CommandArgs, CommandOutput } from '../../../shared/contract.js';
import { KeyholdError } from '../../../shared/errors.js';
import {
  defined, engine, intOption, kdfFrom, newPassphrase, out, withKdfOptions, withVault, type GlobalOpts, type Globals, type Program,
} from '../common.js';
import { esc, printJson } from '../output.js';
import { readSecret } from '../prompt.js';

type CustodianInput = CommandArgs<'slot.addQuorum'>['custodians'][number];

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** KEYHOLD_CUSTODIAN_PASSPHRASE_<NAME>: the name in capitals, anything but letters and digits as _. */
export function custodianEnvVar(name: string): string {
  return `KEYHOLD_CUSTODIAN_PASSPHRASE_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

function nameFile(v: string, option: string): { name: string; file: string } {
  const at = v.indexOf('=');
  if (at <= 0 || at === v.length - 1) {
    throw new KeyholdError('INVALID_INPUT', `cli: ${option} must be NAME=FILE, not ${JSON.stringify(v.slice(0, 40))}`);
  }
  return { name: v.slice(0, at), file: v.slice(at + 1) };
}

/** The custodians of --custodian, their new passphrases read (file, environment or prompt). */
async function custodians(list: readonly string[], files: readonly string[], command: string, allowFinalTry: boolean): Promise<CustodianInput[]> {
  if (list.length === 0) {
    throw new KeyholdError('INVALID_INPUT', `${command}: name the custodians with --custodian (at least 2)`,
      'For example --custodian alice --custodian bob --custodian carol=token:card1.');
  }
  const byName = new Map(files.map((f) => nameFile(f, '--custodian-passphrase-file')).map((f) => [f.name, f.file]));
  const out: CustodianInput[] = [];
  for (const spec of list) {
    const at = spec.indexOf('=');
    const name = at < 0 ? spec : spec.slice(0, at);
    if (at >= 0) {
      const m = /^token:([^:]+)(?::(.+))?$/.exec(spec.slice(at + 1));
      if (!m) {
        throw new KeyholdError('INVALID_INPUT', `${command}: --custodian ${JSON.stringify(spec.slice(0, 60))} must be NAME or NAME=token:TOKEN[:KEYLABEL]`);
      }
      out.push({ name, token: m[1] as string, keyLabel: m[2] ?? `quorum-${name}`, allowFinalTry });
      continue;
    }
    const passphrase = await newPassphrase(byName.get(name), custodianEnvVar(name), `Custodian ${esc(name)}, new passphrase: `, command);
    out.push({ name, passphrase });
  }
  for (const n of byName.keys()) {
    if (!out.some((c) => c.name === n && 'passphrase' in c)) {
      throw new KeyholdError('INVALID_INPUT', `${command}: --custodian-passphrase-file names '${esc(n)}', who is no passphrase custodian here`);
    }
  }
  return out;
}

const custodiansText = (v: CommandOutput<'slot.addQuorum'>): string => String(v.params.custodians ?? '').split(',')
  .map((c) => c.replace(/:(passphrase|token)$/, ' ($1)')).join(', ');

/** A subcommand of `slot` (made here, typed, then added: the group is slot.ts's). */
function quorumOptions(name: string, parent: Program['commands'][number]) {
  const cmd = new Command(name).copyInheritedSettings(parent);
  return withKdfOptions(cmd)
    .option('--m <n>', 'how many custodians together unlock (2 up to their number)')
    .option('--custodian <spec>', 'a custodian: NAME (a passphrase) or NAME=token:TOKEN[:KEYLABEL] (a key on a token); repeat per custodian',
      collect, [] as string[])
    .option('--custodian-passphrase-file <name=file>', 'read a passphrase custodian\'s new passphrase from a file (else KEYHOLD_CUSTODIAN_PASSPHRASE_<NAME> or a prompt); repeat',
      collect, [] as string[])
    .option('--label <label>', 'a name for the keyslot');
}

export function quorumCommands(program: Program, g: Globals): void {
  const slot = program.commands.find((c) => c.name() === 'slot');
  if (!slot) throw new Error('cli: the slot command group is registered before the quorum commands');

  const add = quorumOptions('add-quorum', slot)
    .description('add a quorum keyslot: any M of the custodians (passphrases or token keys) together unlock (--unlock quorum)')
    .action(async function slotAddQuorumAction(o) {
      const gl: GlobalOpts = g();
      const m = intOption(o.m, '--m');
      if (m === undefined) throw new KeyholdError('INVALID_INPUT', 'slot add-quorum: give --m, how many custodians together unlock');
      // Shares of new custodians are asked for before the vault is unlocked (a refused passphrase costs no unlock).
      const list = await custodians(o.custodian, o.custodianPassphraseFile, 'slot add-quorum', gl.allowFinalTry === true);
      const kdf = await kdfFrom(o);
      await withVault(gl, async (svc) => {
        const s = await svc.call('slot.addQuorum', defined({ m, custodians: list, label: o.label, kdf }));
        out<'slot.addQuorum'>(gl, s, (v) => `Added keyslot ${v.id} (quorum: any ${v.params.m} of ${v.params.n}: ${esc(custodiansText(v))}).`);
      });
    });

  const reshare = quorumOptions('reshare', slot)
    .description('re-share a quorum keyslot: a new split for the custodians given (replace, add or drop); the old shares stop working')
    .argument('<id>', 'the quorum keyslot')
    .action(async function slotReshareAction(id, o) {
      const gl: GlobalOpts = g();
      const n = intOption(id, 'keyslot id') as number;
      const list = await custodians(o.custodian, o.custodianPassphraseFile, 'slot reshare', gl.allowFinalTry === true);
      const kdf = await kdfFrom(o);
      await withVault(gl, async (svc) => {
        const r = await svc.call('slot.reshare', defined({ slot: n, m: intOption(o.m, '--m'), custodians: list, label: o.label, kdf }));
        out<'slot.reshare'>(gl, r, (v) => `Re-shared keyslot ${v.removed} as keyslot ${v.slot.id} (quorum: any ${v.slot.params.m} of ` +
          `${v.slot.params.n}: ${esc(custodiansText(v.slot))}); every share of keyslot ${v.removed} stopped working.`);
      });
    });

  slot.addCommand(add);
  slot.addCommand(reshare);

  const share = program.command('share').description('quorum shares');
  share.command('paper').description('a custodian\'s share of a quorum keyslot on paper: words with a check word per line, and a QR code')
    .requiredOption('--slot <id>', 'the quorum keyslot')
    .requiredOption('--custodian <name>', 'the custodian whose share it is (they unseal it with their passphrase or token PIN)')
    .option('--custodian-passphrase-file <file>', 'read the custodian\'s passphrase from a file (else KEYHOLD_CUSTODIAN_PASSPHRASE_<NAME> or a prompt)')
    .option('--out <file>', 'write the share to a new file instead (never over one): the QR code as SVG for a name ending .svg, else the words')
    .action(async function sharePaperAction(o) {
      const gl: GlobalOpts = g();
      const slotId = intOption(o.slot, '--slot') as number;
      await withVault(gl, async (svc) => {
        const slots = await svc.call('slot.list', {});
        const s = slots.find((x) => x.id === slotId);
        const kind = String(s?.params.custodians ?? '').split(',').find((c) => c.startsWith(`${o.custodian}:`))?.split(':')[1];
        const passphrase = kind === 'passphrase'
          ? await readSecret({ envVar: custodianEnvVar(o.custodian), file: o.custodianPassphraseFile,
            prompt: `Custodian ${esc(o.custodian)}, passphrase: ` })
          : undefined;
        const p = await svc.call('share.paper', defined({ slot: slotId, custodian: o.custodian, passphrase,
          allowFinalTry: gl.allowFinalTry === true }));
        const e = await engine();
        if (o.out !== undefined) {
          const svg = /\.svg$/i.test(o.out);
          const file = e.writeNewFile(o.out, svg ? p.qr : `${paperHeader(p)}\n${p.text}\n`, 'share paper');
          // The words went to the file: --json says where, without them.
          if (gl.json) printJson({ slot: p.slot, custodian: p.custodian, path: file, format: svg ? 'svg' : 'words' });
          else process.stdout.write(`Wrote custodian ${esc(p.custodian)}'s share of keyslot ${p.slot} (${svg ? 'QR code, SVG' : 'words'}) to ${esc(file)}.\n`);
          return;
        }
        const qr = await e.terminalQr(p.text);
        out<'share.paper'>(gl, p, (v) => `${paperHeader(v)}\n\n${v.text}\n\n${qr}`);
      });
    });
}

function paperHeader(p: CommandOutput<'share.paper'>): string {
  return `# Keyhold quorum share: keyslot ${p.slot}, custodian ${esc(p.custodian)}. ` +
    'Keep it as secret as the passphrase; each line ends with its check word.';
}
