/**
 * Token hotplug reaches the app: the IPC router that main registers watches
 * tokens (USB events, or here, with no USB subsystem, polling of PKCS#11
 * slots on a real SoftHSM2 token) and tells the UI with `tokens.changed`.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { IpcRouter } from '../../electron/main/router.js';
import type { IpcEvent } from '../../shared/ipc.js';
import { setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { makeTestRouter } from '../helpers/router.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';

let hsm: SoftHsm;
let tmp: TmpDir;
let router: IpcRouter;
let events: readonly IpcEvent[] = [];

beforeAll(() => {
  hsm = setupSoftHsm([{ label: 'stays' }, { label: 'pulled' }]);
  tmp = makeTmpDir('keyhold-hotplug-router-');
  ({ router, events } = makeTestRouter({
    vaultPath: path.join(tmp.dir, 'vault.db'),
    settings: { autoLockMinutes: 0, clipboardClearSeconds: 0 },
    service: { tokens: { module: hsm.module } },
    tokenWatch: { pollMs: 100, debounceMs: 10 },
  }));
});

afterAll(() => {
  router?.dispose();
  hsm?.cleanup();
  tmp?.remove();
});

it('polls here (no USB subsystem, said why), and a token pulled out is announced with the tokens still present', async () => {
  const mode = await router.tokenWatch;
  expect(mode?.mode).toBe('polling');
  expect(mode?.reason).toBeTruthy();
  expect(events.filter((e) => e.name === 'tokens.changed')).toEqual([]); // nothing changed yet

  hsm.deleteToken('pulled');
  await expect.poll(() => events.filter((e) => e.name === 'tokens.changed').length, { timeout: 10_000 }).toBe(1);
  const e = events.find((x) => x.name === 'tokens.changed');
  if (e?.name !== 'tokens.changed') throw new Error('no tokens.changed event');
  const labels = e.payload.tokens.filter((t) => t.flags.initialized).map((t) => t.label);
  expect(labels).toEqual(['stays']);
});
