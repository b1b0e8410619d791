/** `keyhold init` and `keyhold info`: the vault itself (docs/cli.md 3.1, 3.2). */

import { checkStrength, defined, engine, kdfFrom, out, service, vaultPath, withKdfOptions, withVault, type Globals, type Program } from '../common.js';
import { esc, formatInfo } from '../output.js';
import { readSecret } from '../prompt.js';

export function vaultCommands(program: Program, g: Globals): void {
  withKdfOptions(program.command('init').description('create a new vault (never overwrites a file); Argon2id is calibrated to this machine unless --kdf-* is given'))
    .action(async function initAction(o) {
      const path = vaultPath(g());
      const kdf = await kdfFrom(o);
      // An existing file (or a missing folder) is reported before any prompt or calibration.
      (await engine()).checkNewVaultPath(path);
      const pass = await readSecret({
        envVar: 'KEYHOLD_PASSPHRASE', file: g().passphraseFile, prompt: 'New vault passphrase: ', confirm: true,
        check: (p) => checkStrength(p, 'init'),
      }, 'new passphrase');
      if (!g().json && !kdf) process.stderr.write('Calibrating Argon2id for this machine...\n');
      const svc = await service(g());
      try {
        // --as names the first operator (every role; its credential is this passphrase); default: the OS user.
        const info = await svc.call('vault.create', defined({ path, passphrase: pass, kdf, operator: g().as }));
        out<'vault.create'>(g(), info, (i) => `Created vault ${i.vaultId} at ${esc(i.path)}\n\n${formatInfo(i)}`);
      } finally {
        svc.close();
      }
    });

  program.command('info').description('vault id, schema, keyslots and counts')
    .action(async function infoAction() {
      await withVault(g(), async (svc) => out<'vault.info'>(g(), await svc.call('vault.info', {}), formatInfo));
    });
}
