/**
 * A vault on SoftHSM2 tokens, for a test file's beforeAll/afterAll: the tokens
 * (test/helpers/softhsm.ts), a temporary folder (test/helpers/tmp.ts) and a
 * real KeyholdService with a fresh vault at <folder>/vault.db (FAST_KDF).
 * A file that only needs the vault made can shut the service down at the end
 * of its beforeAll and leave `svc` out of closeTokenVault.
 *
 *   beforeAll(async () => {
 *     ({ hsm, tmp, svc, vaultPath } = await openTokenVault({ tokens: [{ label: 'card' }], tmpPrefix: 'keyhold-x-', passphrase: PASSPHRASE }));
 *   });
 *   afterAll(() => closeTokenVault({ svc, hsm, tmp }));
 */
import path from 'node:path';
import { KeyholdService, type ServiceOptions } from '../../electron/core/service.js';
import { setupSoftHsm, type SoftHsm, type TokenSpec } from './softhsm.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from './tmp.js';

export type TokenVault = Readonly<{ hsm: SoftHsm; tmp: TmpDir; svc: KeyholdService; vaultPath: string }>;

export type TokenVaultOptions = Readonly<{
  tokens: readonly TokenSpec[];
  tmpPrefix: string;
  /** The vault's file name in the folder; vault.db when absent. */
  vaultFile?: string;
  passphrase: string;
  /** The service's options; `{ tokens: { module: hsm.module } }` when absent. */
  service?: (hsm: SoftHsm) => ServiceOptions;
}>;

/** Makes the tokens, the folder, the service and the vault (left unlocked). On failure, removes what it made. */
export async function openTokenVault(opts: TokenVaultOptions): Promise<TokenVault> {
  const made: { hsm?: SoftHsm; tmp?: TmpDir; svc?: KeyholdService } = {};
  try {
    const hsm = (made.hsm = setupSoftHsm(opts.tokens));
    const tmp = (made.tmp = makeTmpDir(opts.tmpPrefix));
    const svc = (made.svc = new KeyholdService(opts.service?.(hsm) ?? { tokens: { module: hsm.module } }));
    const vaultPath = path.join(tmp.dir, opts.vaultFile ?? 'vault.db');
    await svc.call('vault.create', { path: vaultPath, passphrase: opts.passphrase, kdf: FAST_KDF });
    return { hsm, tmp, svc, vaultPath };
  } catch (e) {
    await closeTokenVault(made);
    throw e;
  }
}

/** Shuts the service down, removes the tokens and the folder. Each part may be missing (a beforeAll that failed). */
export async function closeTokenVault(v: Readonly<{ svc?: KeyholdService | undefined; hsm?: SoftHsm | undefined; tmp?: TmpDir | undefined }>): Promise<void> {
  await v.svc?.shutdown();
  v.hsm?.cleanup();
  v.tmp?.remove();
}
