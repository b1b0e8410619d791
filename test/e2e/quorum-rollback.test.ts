/**
 * A quorum unlock in the app (renderer/src/stores/quorum.ts, the store the
 * Quorum method of the unlock screen drives) of a vault file older than what
 * a registered token recorded: in Node, over the window.keyhold the preload
 * builds, the real router and core, and a SoftHSM2 token custodian. The M-th
 * share is refused with ROLLBACK_DETECTED, nothing opens and the file is
 * unchanged; "open anyway" starts a new collection carrying the override, and
 * its M-th share opens the copy with the reason in the audit log.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import type { IpcRouter } from '../../electron/main/router.js';
import type { Result } from '../../shared/contract.js';
import { buildKeyholdApi } from '../../shared/ipc-bridge.js';
import { makeTestRouter, TEST_SENDER } from '../helpers/router.js';
import { DEFAULT_PIN, setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';

type ApiErr = { code: string; message: string };
type Cred = { kind: 'passphrase'; passphrase: string } | { kind: 'pin'; pin: string | null; allowFinalTry: boolean };
type Store<S> = { getState: () => S };
const RENDERER = path.resolve(import.meta.dirname, '../../renderer/src');
const { useQuorum } = (await import(path.join(RENDERER, 'stores/quorum.ts'))) as {
  useQuorum: Store<{
    state: { collected: number } | null;
    refused: ApiErr | null;
    override: { reason: string } | null;
    begin: () => Promise<void>;
    share: (custodian: string, cred: Cred) => Promise<ApiErr | null>;
    openAnyway: (reason: string) => Promise<ApiErr | null>;
  }>;
};

const OWNER = 'owner keeps seven amber lanterns';
const ALICE = 'alice guards quiet copper bridges';

let hsm: SoftHsm;
let tmp: TmpDir;
let router: IpcRouter;
let vaultPath: string;

beforeAll(async () => {
  hsm = setupSoftHsm([{ label: 'custcard' }]);
  tmp = makeTmpDir('keyhold-e2e-quorum-rollback-');
  vaultPath = path.join(tmp.dir, 'vault.db');
  const svc = new KeyholdService({ tokens: { module: hsm.module } });
  try {
    await svc.call('vault.create', { path: vaultPath, passphrase: OWNER, kdf: FAST_KDF });
    await svc.call('slot.addQuorum', { m: 2, kdf: FAST_KDF, custodians: [
      { name: 'alice', passphrase: ALICE },
      { name: 'card', token: 'custcard', keyLabel: 'quorum-share', pin: DEFAULT_PIN }] });
    await svc.call('vault.lock', {});
    // The copy kept from before a change made with the card logged in (its record then moves on).
    fs.copyFileSync(vaultPath, path.join(tmp.dir, 'old.db'));
    const { session } = await svc.call('quorum.begin', { path: vaultPath });
    await svc.call('quorum.share', { session, custodian: 'card', pin: DEFAULT_PIN });
    await svc.call('quorum.share', { session, custodian: 'alice', passphrase: ALICE });
    await svc.call('key.create', { name: 'made-after-the-copy', service: 'payments' });
    await svc.call('vault.lock', {});
  } finally {
    await svc.shutdown();
  }
  fs.copyFileSync(path.join(tmp.dir, 'old.db'), vaultPath);
  router = makeTestRouter({ vaultPath, service: { tokens: { module: hsm.module } } }).router;
  (globalThis as { keyhold?: unknown }).keyhold = buildKeyholdApi(
    (channel, payload) => router.handle(channel.slice('keyhold:'.length), TEST_SENDER, payload),
    () => () => undefined,
  );
}, 60_000);

afterAll(() => {
  router?.dispose();
  hsm?.cleanup();
  tmp?.remove();
});

async function call<T>(command: string, input: unknown): Promise<T> {
  const r = (await router.handle(command, TEST_SENDER, input)) as Result<T>;
  if (!r.ok) throw new Error(`${command}: ${r.error.code}`);
  return r.value;
}

describe('a quorum unlock in the app of a copy older than the token custodian\'s record', () => {
  it('is refused at the M-th share with nothing changed; "open anyway" collects again and opens it, audited with the reason', async () => {
    const q = useQuorum.getState;
    const bytes = fs.readFileSync(vaultPath);
    await q().begin();
    expect(await q().share('alice', { kind: 'passphrase', passphrase: ALICE })).toBeNull();
    expect((await q().share('card', { kind: 'pin', pin: DEFAULT_PIN, allowFinalTry: false }))?.code).toBe('ROLLBACK_DETECTED');
    expect(q().refused?.code).toBe('ROLLBACK_DETECTED');
    expect(q().state).toBeNull();
    expect((await call<{ unlocked: boolean }>('vault.status', {})).unlocked).toBe(false);
    expect(fs.readFileSync(vaultPath).equals(bytes)).toBe(true);

    const reason = 'the newest copy was lost with the old workstation';
    expect(await q().openAnyway(reason)).toBeNull();
    expect(q().refused).toBeNull();
    expect(q().override).toEqual({ reason });
    expect(q().state?.collected).toBe(0);
    expect(await q().share('card', { kind: 'pin', pin: DEFAULT_PIN, allowFinalTry: false })).toBeNull();
    expect(await q().share('alice', { kind: 'passphrase', passphrase: ALICE })).toBeNull();
    expect((await call<{ unlocked: boolean }>('vault.status', {})).unlocked).toBe(true);
    expect(q().override).toBeNull();
    const accepted = await call<{ entries: { details: { reason: string } }[] }>('audit.list', { action: 'vault.rollbackAccepted' });
    expect(accepted.entries.map((e) => e.details.reason)).toEqual([reason]);
  });
});
