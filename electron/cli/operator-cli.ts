/**
 * Operators in the CLI's run of one command (docs/cli.md, operators): after
 * the unlock, `--as NAME` signs that operator in with its own credential, and
 * `--approver NAME` has a second operator approve a dual-controlled command
 * on this workstation, after it has been shown exactly what it approves.
 * Only `import type` from the core here (the core loads with engine()).
 */

import type { CommandName } from '../../shared/contract.js';
import { KeyholdError } from '../../shared/errors.js';
import type { KeyholdService } from '../core/service.js';
import type { GlobalOpts } from './common.js';
import { esc } from './output.js';
import { readSecret } from './prompt.js';

/** An operator's name, as the contract takes it (shared/contract.ts operatorNameSchema). */
export const OPERATOR_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

type SignInEntry = { name: string; credential: 'passphrase' | 'token' | 'none'; token: { label: string; serial: string } | null };

async function entryOf(svc: KeyholdService, name: string): Promise<SignInEntry> {
  const who = await svc.call('operator.whoami', {});
  const e = who.signIn.find((x) => x.name === name);
  if (!e) throw new KeyholdError('OPERATOR_NOT_FOUND', `operator: no operator named ${name}`, 'See `keyhold operator list`.');
  return e;
}

/**
 * Signs in as --as NAME (KEYHOLD_OPERATOR). A vault with one operator signs it
 * in at unlock, so naming it again asks nothing. A passphrase comes from
 * --operator-passphrase-file, KEYHOLD_OPERATOR_PASSPHRASE or a prompt; a
 * token's PIN from --pin-file, KEYHOLD_PIN or a prompt naming that token.
 */
export async function signInAs(svc: KeyholdService, g: GlobalOpts): Promise<void> {
  const name = g.as;
  if (name === undefined) return;
  const who = await svc.call('operator.whoami', {});
  if (who.operator?.name === name) return;
  const e = await entryOf(svc, name);
  const allowFinalTry = g.allowFinalTry === true;
  if (e.credential === 'passphrase') {
    const passphrase = await readSecret({ envVar: 'KEYHOLD_OPERATOR_PASSPHRASE', file: g.operatorPassphraseFile,
      prompt: `Passphrase of operator ${esc(name)}: ` });
    await svc.call('operator.signIn', { name, passphrase, allowFinalTry });
  } else {
    // A token's PIN comes from the service's PIN sources; no credential at all is the core's OPERATOR_NO_CREDENTIAL.
    await svc.call('operator.signIn', { name, allowFinalTry });
  }
}

/**
 * The --approver hook (TimedService.approve): before a command the vault puts
 * under dual control runs, ask for its approval, print what is approved
 * (summary, parameters hash and its words) on stderr, authenticate the
 * approver (--approver-passphrase-file, KEYHOLD_APPROVER_PASSPHRASE or a
 * prompt; a token's PIN as for any login) and grant it. A dry run needs none.
 */
export function approverFor(svc: KeyholdService, g: GlobalOpts): (command: CommandName, input: unknown) => Promise<void> {
  const approver = g.approver as string;
  let controlled: readonly string[] | null = null;
  let busy = false;
  return async (command, input) => {
    // The calls this hook makes itself go straight through.
    if (busy) return;
    const args = (input ?? {}) as Record<string, unknown>;
    if (args.dryRun === true) return;
    busy = true;
    try {
      if (controlled === null) {
        const dc = await svc.call('dualControl.show', {});
        controlled = dc.active ? dc.commands : [];
      }
      if (!controlled.includes(command)) return;
      const req = await svc.call('approval.request', { command, input: args });
      process.stderr.write(`Approval by ${esc(approver)} needed for:\n${req.summary.map((l) => `  ${esc(l)}\n`).join('')}` +
        `  parameters hash: ${req.paramsHash}\n  words: ${req.words.join(' ')}\n`);
      const e = await entryOf(svc, approver);
      const passphrase = e.credential === 'passphrase'
        ? await readSecret({ envVar: 'KEYHOLD_APPROVER_PASSPHRASE', file: g.approverPassphraseFile,
          prompt: `Passphrase of operator ${esc(approver)} (approving): ` })
        : undefined;
      await svc.call('approval.grant', { id: req.id, name: approver, allowFinalTry: g.allowFinalTry === true,
        ...(passphrase !== undefined ? { passphrase } : {}) });
      process.stderr.write(`Approved by ${esc(approver)}.\n`);
    } finally {
      busy = false;
    }
  };
}
