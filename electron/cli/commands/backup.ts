/** `keyhold backup` and `keyhold restore`: the whole vault as one encrypted file (docs/cli.md 3.2a, 3.2b; docs/backup.md). */

import { KeyholdError } from '../../../shared/errors.js';
import { defined, engine, out, passphrase, service, vaultPath, withVault, type Globals, type Program } from '../common.js';
import { esc, formatInfo } from '../output.js';

export function backupCommands(program: Program, g: Globals): void {
  program.command('backup').description('write an encrypted backup of the whole vault to a new file (the same keyslots open it)')
    .requiredOption('--out <file>', 'the backup file, a new one (never overwritten; not a link; not the vault\'s own files)')
    .action(async function backupAction(o) {
      await withVault(g(), async (svc) => out<'vault.backup'>(g(), await svc.call('vault.backup', { out: o.out }), (b) =>
        `Backed up vault ${b.vaultId} to ${esc(b.path)}\n\nsize     ${b.bytes} bytes\nsha256   ${b.sha256}\nhead     ${b.head.seq} ${b.head.hash}`));
    });

  program.command('restore').description('restore a backup as a new vault at --vault PATH (never over a file), opened with one of the backup\'s keyslots')
    .argument('<file>', 'the backup file')
    .action(async function restoreAction(file) {
      const gl = g();
      const path = vaultPath(gl);
      const method = gl.unlock === undefined || gl.unlock === '' ? (gl.unlockToken !== undefined ? 'token' : 'passphrase') : gl.unlock;
      if (method !== 'passphrase' && method !== 'token') {
        throw new KeyholdError('INVALID_INPUT', `cli: --unlock must be passphrase or token, not ${JSON.stringify(method).slice(0, 40)}`);
      }
      // A taken path is reported before any prompt.
      (await engine()).checkRestoreTarget(path);
      const acceptRollback = gl.acceptRollback === undefined ? undefined : { reason: gl.acceptRollback };
      const svc = await service(gl);
      try {
        const input = method === 'token'
          ? defined({ file, path, unlock: 'token' as const, token: gl.unlockToken, allowFinalTry: gl.allowFinalTry === true, acceptRollback })
          : defined({ file, path, passphrase: await passphrase(gl, 'Passphrase of the backed-up vault: '), acceptRollback });
        const r = await svc.call('vault.restore', input);
        out<'vault.restore'>(gl, r, (v) => `Restored vault ${v.vaultId} at ${esc(v.path)} from ${esc(v.restoredFrom.file)} ` +
          `(sha256 ${v.restoredFrom.sha256}, made ${esc(v.restoredFrom.createdAt)}, audit head ${v.restoredFrom.head.seq})\n\n${formatInfo(v)}`);
      } finally {
        await svc.shutdown();
      }
    });
}
