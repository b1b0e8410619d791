/**
 * The IPC router main registers (electron/main/router.ts), built for a test:
 * a real KeyholdService over a real vault file, with an in-memory clipboard and
 * network interfaces the test sets. Every suite that drives the router (the
 * router and store suites, the browser harness, token hotplug, clipboard on
 * quit) builds it here.
 *
 * Defaults: origin app://keyhold, auto-lock 5 min, clipboard clear 30 s,
 * FAST_KDF, air-gap polling off, no network interfaces. Every option of
 * createIpcRouter can be given to override them.
 */
import type { AppSettings, IpcEvent } from '../../shared/ipc.js';
import {
  createIpcRouter,
  type DialogRequest,
  type IpcRouter,
  type IpcRouterOptions,
  type NetworkInterfaceAddress,
  type SenderInfo,
} from '../../electron/main/router.js';
import { FAST_KDF } from './tmp.js';

export const TEST_ORIGIN = 'app://keyhold';
/** The app's main frame, as a sender. */
export const TEST_SENDER: SenderInfo = { url: `${TEST_ORIGIN}/index.html`, isMainFrame: true };
export const TEST_SETTINGS: AppSettings = { autoLockMinutes: 5, clipboardClearSeconds: 30 };

export type TestRouterOptions = Partial<Omit<IpcRouterOptions, 'vaultPath'>> &
  Readonly<{
    vaultPath: string;
    /** The network interfaces the router sees at first (none by default); setInterfaces changes them. */
    interfaces?: readonly NetworkInterfaceAddress[];
  }>;

export type TestRouter = Readonly<{
  router: IpcRouter;
  /** The in-memory clipboard (unused when `platform` is given). */
  clipboard: { text: string };
  /** Every event the router emitted, in order. */
  events: IpcEvent[];
  /** Changes what networkInterfaces() answers from now on (call router.checkAirgap() to re-read at once). */
  setInterfaces: (list: readonly NetworkInterfaceAddress[]) => void;
  /**
   * The file dialogs, answered by the test as a user would: queue the path the
   * next dialog returns (null: the user cancels). A dialog with nothing queued
   * is cancelled. Every request main made is in `requests`.
   */
  dialogs: { answers: (string | null)[]; requests: DialogRequest[] };
}>;

export function makeTestRouter(opts: TestRouterOptions): TestRouter {
  const { interfaces: initial, ...options } = opts;
  const clipboard = { text: '' };
  let interfaces: readonly NetworkInterfaceAddress[] = initial ?? [];
  const dialogs: { answers: (string | null)[]; requests: DialogRequest[] } = { answers: [], requests: [] };
  const answer = (r: DialogRequest): Promise<string | null> => {
    dialogs.requests.push(r);
    return Promise.resolve(dialogs.answers.shift() ?? null);
  };
  const router = createIpcRouter({
    allowedOrigins: [TEST_ORIGIN],
    settings: TEST_SETTINGS,
    kdf: FAST_KDF,
    airgapPollMs: 0,
    platform: {
      clipboardWriteText: (s) => {
        clipboard.text = s;
      },
      clipboardReadText: () => clipboard.text,
      networkInterfaces: () => interfaces,
      showOpenDialog: answer,
      showSaveDialog: answer,
    },
    ...options,
  });
  const events: IpcEvent[] = [];
  router.onEvent((e) => events.push(e));
  return {
    router,
    clipboard,
    events,
    setInterfaces: (list) => {
      interfaces = list;
    },
    dialogs,
  };
}
