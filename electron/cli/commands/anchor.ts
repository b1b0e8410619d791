/** `keyhold anchor status`: the rollback record (anchor) on each of the vault's tokens (docs/cli.md 3.1a). */

import type { AnchorStatus } from '../../../shared/contract.js';
import { out, withVault, type Globals, type Program } from '../common.js';
import { esc } from '../output.js';

const STATE_TEXT: Readonly<Record<NonNullable<AnchorStatus['tokens'][number]['state']>, string>> = {
  none: 'no record for this vault yet',
  current: 'matches the vault',
  older: 'an earlier entry of this vault (the token was away during later changes)',
  behind: 'AHEAD of this file: the file is an older copy',
  fork: 'another entry at its sequence: the file is a forked copy',
  invalid: 'fails its check (another vault\'s, or altered)',
};

export function formatAnchorStatus(s: AnchorStatus): string {
  const lines = [`Audit head: entry ${s.head.seq} (${s.head.at})`];
  if (s.tokens.length === 0) lines.push('No registered token (no token keyslot, no signer).');
  for (const t of s.tokens) {
    const name = `${t.label === null ? 'token' : `'${esc(t.label)}'`} (serial ${esc(t.serial)})`;
    if (!t.present) lines.push(`${name}: not present`);
    else if (!t.checked || t.state === null) lines.push(`${name}: not read (log in to the token: its record is a private object)`);
    else lines.push(`${name}: ${t.anchorSeq === null ? '' : `entry ${t.anchorSeq} (${t.anchorAt ?? ''}), `}${STATE_TEXT[t.state]}`);
  }
  return lines.join('\n');
}

export function anchorCommands(program: Program, g: Globals): void {
  const anchor = program.command('anchor').description('the rollback record (anchor) the vault keeps on its tokens');
  anchor.command('status').description('what each registered token\'s rollback record says about this vault file (read with --unlock token)')
    .action(async function anchorStatusAction() {
      await withVault(g(), async (svc) => out<'anchor.status'>(g(), await svc.call('anchor.status', {}), formatAnchorStatus));
    });
}
