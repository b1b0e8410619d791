/** `keyhold recipient ...`: the servers that import bundles (docs/cli.md 3.24, 3.25). */

import { listOption, out, readJsonFile, withVault, type Globals, type Program } from '../common.js';
import { formatRecipients } from '../output.js';

export function recipientCommands(program: Program, g: Globals): void {
  const recipient = program.command('recipient').description('servers that import bundles');
  recipient.command('add').description('register a server by its public key (from `keyhold-import keygen`)')
    .requiredOption('--name <name>', 'a name for the recipient')
    .requiredOption('--public-key <file>', 'its public key, a JWK file (P-256 or X25519)')
    .option('--verifies <services>', 'services whose keys it verifies (an API gateway): comma-separated', '')
    .option('--holds <services>', 'services whose keys it presents (a client): it also receives their secrets; comma-separated', '')
    .action(async function recipientAddAction(o) {
      const jwk = await readJsonFile(o.publicKey, 'public key');
      await withVault(g(), async (svc) => out<'recipient.add'>(g(), await svc.call('recipient.add', {
        name: o.name, publicKey: jwk, verifies: listOption(o.verifies), holds: listOption(o.holds),
      }), (r) => `Added recipient ${r.name} (id ${r.id}).`));
    });
  recipient.command('list').description('recipients, what they verify and hold, and their last bundle')
    .action(async function recipientListAction() {
      await withVault(g(), async (svc) => out<'recipient.list'>(g(), await svc.call('recipient.list', {}), formatRecipients, 'recipients'));
    });
}
