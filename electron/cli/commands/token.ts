/** `keyhold token ...`: PKCS#11 tokens, smartcards and USB HSMs (docs/cli.md 3.18-3.21). */

import { Option } from '@commander-js/extra-typings';
import type { KeyholdService } from '../../core/service.js';
import { defined, out, vaultGiven, withTokens, withVault, type Globals, type Program } from '../common.js';
import { esc, formatTokenKeys, formatTokens } from '../output.js';

export function tokenCommands(program: Program, g: Globals): void {
  const token = program.command('token').description('PKCS#11 tokens: smartcards and USB HSMs');
  token.command('list').description('tokens present: label, maker, serial, PIN state, mechanisms')
    .action(async function tokenListAction() {
      await withTokens(g(), async (svc) => out<'token.list'>(g(), await svc.call('token.list', {}), formatTokens, 'tokens'));
    });
  token.command('keys').description('key pairs on the tokens (private keys only after --login)')
    .option('--token <label>', 'one token, by label or serial')
    .option('--login', 'log in first (asks for the PIN) so private keys are listed too')
    .action(async function tokenKeysAction(o) {
      await withTokens(g(), async (svc) => out<'token.keys'>(g(), await svc.call('token.keys', defined({
        token: o.token, login: o.login === true, allowFinalTry: g().allowFinalTry === true,
      })), formatTokenKeys, 'tokens'));
    });
  token.command('keygen').description('generate a signing key pair on a token (private key sensitive, never extractable); prints its public JWK and key id')
    .requiredOption('--token <label>', 'the token, by label or serial')
    .requiredOption('--label <keylabel>', 'a label for the new key (must not exist on the token)')
    .addOption(new Option('--alg <alg>', 'ES256 (P-256) or EdDSA (Ed25519)').choices(['ES256', 'EdDSA'] as const).default('ES256' as const))
    .action(async function tokenKeygenAction(o) {
      const run = async (svc: KeyholdService) => {
        const k = await svc.call('token.keygen', { token: o.token, label: o.label, alg: o.alg, allowFinalTry: g().allowFinalTry === true });
        out<'token.keygen'>(g(), k, (v) => `Generated ${v.alg ?? ''} key '${esc(v.label)}' (id ${v.id}) on '${esc(v.token.label)}'.\nkid  ${v.kid ?? '-'}\njwk  ${JSON.stringify(v.jwk)}`);
      };
      // With a vault given, the new key is recorded in its audit log.
      if (vaultGiven(g())) await withVault(g(), run);
      else await withTokens(g(), run);
    });
}
