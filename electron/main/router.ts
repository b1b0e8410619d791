/**
 * The IPC router: everything main does with a request from the renderer, with
 * no `electron` import, so Node tests (and the e2e test bridge) run the very
 * code main runs. Main wires it like this:
 *
 *   const router = createIpcRouter({
 *     vaultPath,                                  // from main's configuration, never from the renderer
 *     allowedOrigins: ['app://keyhold'],          // scheme://host[:port] of the app's own pages
 *     platform: {
 *       clipboardWriteText: (s) => clipboard.writeText(s),
 *       clipboardReadText: () => clipboard.readText(),
 *       networkInterfaces: () => listInterfaces(os.networkInterfaces()),
 *     },
 *     settings: { autoLockMinutes: 5, clipboardClearSeconds: 30 },
 *   });
 *   for (const [command, , channel] of IPC_METHODS) {
 *     ipcMain.handle(channel, function onInvoke(event, payload) {
 *       const frame = event.senderFrame;
 *       return router.handle(command, { url: frame?.url ?? '', isMainFrame: frame !== null && frame.parent === null }, payload);
 *     });
 *   }
 *   router.onEvent(function forward(e) { win.webContents.send(eventChannel(e.name), e.payload); });
 *   win.webContents.on('before-input-event', () => router.notifyActivity());
 *   app.on('will-quit', () => router.dispose());
 *
 * What `handle` does, in order: checks the sender (the URL's scheme://host in
 * allowedOrigins, and the main frame only, as VS Code's validateEvent does);
 * checks the command is one the renderer may call (shared/ipc-names.ts);
 * parses the payload against its IPC schema (shared/ipc.ts); runs it (core
 * commands through KeyholdService.call, app commands here); parses the answer
 * against its output schema (unknown fields are dropped, so nothing leaves main
 * that the contract does not name); answers an envelope. It never throws and
 * logs nothing: errors go out through toErrorInfo, which never carries a
 * secret (an unknown error becomes 'core: internal error').
 *
 * The router makes its own KeyholdService, because the service takes its
 * progress callback at construction and the router turns progress into
 * events; `router.service` is there for main's own use (and tests). Commands
 * run one at a time in arrival order: two unlocks racing would otherwise leave
 * a vault open that nothing references.
 *
 * Auto-lock: an idle timer (settings.autoLockMinutes) runs while a vault is
 * unlocked; each command (other than the passive ones a UI may poll) and
 * notifyActivity() restart it; on expiry the vault locks and `vault.locked`
 * { reason: 'idle' } goes out. A user lock sends { reason: 'user' }.
 *
 * Clipboard: clipboard.copySecret reveals the key through the core (audited as
 * a reveal) and writes it to the clipboard; after settings.clipboardClearSeconds
 * (and at lock and dispose) the clipboard is cleared if it still holds that
 * secret. Only a SHA-256 digest of the secret is kept for that comparison.
 *
 * Air gap: the network interfaces are read at each app.environment and every
 * airgapPollMs; a change goes out as `airgap.changed`.
 *
 * Settings: the workstation's (opts.settings, main's configuration) apply
 * while no vault is open; after an unlock the vault's own (settings.show:
 * auto-lock minutes, clipboard clearing seconds) replace them, and after
 * settings.set the new ones. Strict air gap (the workstation's or the
 * vault's) refuses an unlock with AIRGAP_REQUIRED while a non-loopback
 * interface is up: before the unlock for the workstation's, right after it
 * (the vault locked again) for the vault's; an interface coming up while a
 * strict vault is unlocked locks it (`vault.locked` { reason: 'airgap' }).
 */

import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { checkNewFile, READ_LIMITS, readJsonObjectFile, vaultFiles } from '../core/fsutil.js';
import type { KdfParams, Result, VaultSettings } from '../../shared/contract.js';
import { KeyholdError, toErrorInfo } from '../../shared/errors.js';
import {
  type AirgapStatus,
  type AppEnvironment,
  type AppSettings,
  type DialogResult,
  FILE_HANDLE_FIELDS,
  FILE_HANDLE_TTL_MS,
  type IpcArgs,
  type IpcEvent,
  ipcContract,
  type LockReason,
  type NetworkInterfaceInfo,
  type OpenPurpose,
  parseIpcInput,
  type SavePurpose,
} from '../../shared/ipc.js';
import {
  type CoreIpcCommandName,
  type IpcCommandName,
  type IpcEventName,
  isIpcCommandName,
} from '../../shared/ipc-names.js';
import { type AirgapReason, airgapRefusal as coreAirgapRefusal, enforceStrictAirgap } from '../core/airgap.js';
import { KeyholdService, type ServiceOptions } from '../core/service.js';
import { TokenWatcher, type HotplugMode, type UsbEventSource } from '../core/token/hotplug.js';

export type SenderInfo = Readonly<{ url: string; isMainFrame: boolean }>;

/** One address of a network interface, as os.networkInterfaces() gives it (flattened). */
export type NetworkInterfaceAddress = Readonly<{ name: string; family: string | number; internal: boolean; address: string }>;

/**
 * What main gets from the OS (Electron's clipboard, os.networkInterfaces); tests
 * pass in-memory ones. The clipboard may answer synchronously or with a promise.
 */
export type PlatformAdapter = Readonly<{
  clipboardWriteText: (text: string) => void | Promise<void>;
  clipboardReadText: () => string | Promise<string>;
  networkInterfaces: () => readonly NetworkInterfaceAddress[];
  /** process.platform when absent. */
  platform?: string;
  /**
   * File dialogs (Electron's dialog.showOpenDialog / showSaveDialog in main;
   * the e2e test bridge answers them in tests): the path chosen, or null when
   * cancelled. Without them, dialog.open and dialog.save fail.
   */
  showOpenDialog?: (request: DialogRequest) => Promise<string | null>;
  showSaveDialog?: (request: DialogRequest) => Promise<string | null>;
}>;

/** What main's dialog shows: a title, file filters and, for a save dialog, the suggested file name. */
export type DialogRequest = Readonly<{
  purpose: OpenPurpose | SavePurpose;
  title: string;
  defaultName?: string;
  filters: ReadonlyArray<Readonly<{ name: string; extensions: readonly string[] }>>;
}>;

const OPEN_DIALOGS: Readonly<Record<OpenPurpose, Omit<DialogRequest, 'purpose'>>> = {
  'public-key': { title: 'Choose the server\'s public key', filters: [{ name: 'Public key (JWK)', extensions: ['json', 'jwk'] }] },
  bundle: { title: 'Choose the bundle to co-sign', filters: [{ name: 'Keyhold bundle', extensions: ['khb', 'json'] }] },
  backup: { title: 'Choose the vault backup to restore', filters: [{ name: 'Keyhold vault backup', extensions: ['khbackup'] }] },
};
const SAVE_TITLES: Readonly<Record<SavePurpose, string>> = {
  bundle: 'Save the signed bundle',
  trust: 'Save the trust root',
  audit: 'Save the audit log export',
  transcript: 'Save the ceremony transcript',
  backup: 'Save the vault backup',
  vault: 'Save the restored vault',
};
const SAVE_FILTERS: Readonly<Record<SavePurpose, DialogRequest['filters']>> = {
  bundle: [{ name: 'Keyhold bundle', extensions: ['khb'] }],
  trust: [{ name: 'Trust root', extensions: ['json'] }],
  audit: [{ name: 'Audit log (JSON lines)', extensions: ['jsonl'] }],
  transcript: [{ name: 'PDF document', extensions: ['pdf'] }],
  backup: [{ name: 'Keyhold vault backup', extensions: ['khbackup'] }],
  vault: [{ name: 'Keyhold vault', extensions: ['db'] }],
};

export type IpcRouterOptions = Readonly<{
  /** The vault file: main's configuration, never the renderer's choice. */
  vaultPath: string;
  /** Origins (scheme://host[:port]) whose main frame may call; e.g. 'app://keyhold'. */
  allowedOrigins: readonly string[];
  platform: PlatformAdapter;
  settings: AppSettings;
  /** Argon2id cost for a vault created over IPC; the core calibrates when absent. Tests pass FAST_KDF. */
  kdf?: KdfParams | undefined;
  /** Clock and actor for the service; progress is the router's. */
  service?: Omit<ServiceOptions, 'onProgress'> | undefined;
  /** How often to re-read the network interfaces (ms); 0 turns polling off. Default 5000. */
  airgapPollMs?: number | undefined;
  /**
   * Token hotplug: USB attach/detach (or, where there are no USB events,
   * polling of PKCS#11 slots every pollMs) rescans the tokens and emits
   * `tokens.changed`. Off when absent.
   */
  tokenWatch?: Readonly<{ pollMs?: number; debounceMs?: number; usb?: UsbEventSource | null }> | undefined;
}>;

export type IpcEventListener = (event: IpcEvent) => void;

export type IpcRouter = Readonly<{
  /** Answers one request with an envelope; never throws. */
  handle: (command: string, sender: SenderInfo, payload: unknown) => Promise<Result<unknown>>;
  /** Subscribes to router events; returns the unsubscribe function. */
  onEvent: (listener: IpcEventListener) => () => void;
  /** User activity (input events seen by main): restarts the idle timer. */
  notifyActivity: () => void;
  /** Re-reads the network interfaces now, emitting airgap.changed if they changed. */
  checkAirgap: () => AirgapStatus;
  /** Locks the vault, clears a secret still on the clipboard, stops timers. Idempotent. */
  dispose: () => void;
  readonly service: KeyholdService;
  /** How token hotplug is watched (USB events or polling, and why), once started; null when off. */
  readonly tokenWatch: Promise<HotplugMode> | null;
}>;

/** Commands a UI may call on a timer; they do not count as the user being active. */
const PASSIVE: ReadonlySet<IpcCommandName> = new Set<IpcCommandName>(['app.environment', 'vault.status']);

/** os.networkInterfaces() flattened (electron/core/airgap.ts), for main's adapter. */
export { listInterfaces } from '../core/airgap.js';

/** scheme://host[:port] of a URL; WHATWG gives 'null' as the origin of custom schemes, so it is built here. */
function originOf(url: string): string | null {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return null;
  }
}

function digest(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function forbidden(): Result<never> {
  return failure(new KeyholdError('IPC_FORBIDDEN', 'ipc: request refused: it did not come from the app\'s own window',
    'Only the main frame of Keyhold\'s own page may call the vault.'));
}

function failure(e: unknown): Result<never> {
  const info = toErrorInfo(e);
  return { ok: false, error: info.hint === undefined ? { code: info.code, message: info.message } : { ...info } };
}

export function createIpcRouter(opts: IpcRouterOptions): IpcRouter {
  const allowed = new Set(opts.allowedOrigins.map((o) => originOf(o)).filter((o): o is string => o !== null));
  const listeners = new Set<IpcEventListener>();
  /** The workstation's settings (main's configuration); while a vault is unlocked its own settings apply over them. */
  const workstation: AppSettings = { ...opts.settings };
  /** The settings in force now: applySettings. */
  const settings: AppSettings = { ...opts.settings, airgapStrict: opts.settings.airgapStrict === true };
  let disposed = false;
  let queue: Promise<unknown> = Promise.resolve();
  let idleTimer: ReturnType<typeof setTimeout> | null = null;
  let clip: { digest: string; timer: ReturnType<typeof setTimeout> | null } | null = null;
  let airgapKey = '';
  let airgap: AirgapStatus = { isolated: true, interfaces: [] };

  function emit(event: IpcEvent): void {
    for (const l of [...listeners]) {
      try {
        l(event);
      } catch {
        // One broken listener (a closed window) must not stop the others or the command.
      }
    }
  }

  function emitEvent<E extends IpcEventName>(name: E, payload: Extract<IpcEvent, { name: E }>['payload']): void {
    emit({ name, payload } as IpcEvent);
  }

  const service = new KeyholdService({
    ...opts.service,
    onProgress: function onServiceProgress(command, done, total) {
      emitEvent('progress', { command, done, total });
    },
  });

  // ---- serial execution ------------------------------------------------------

  function serially<T>(work: () => Promise<T>): Promise<T> {
    const run = queue.then(work, work);
    queue = run.catch(() => undefined);
    return run;
  }

  // ---- idle lock -------------------------------------------------------------

  function stopIdle(): void {
    if (idleTimer !== null) clearTimeout(idleTimer);
    idleTimer = null;
  }

  function armIdle(): void {
    stopIdle();
    if (disposed || settings.autoLockMinutes <= 0) return;
    if (!isUnlocked()) return;
    idleTimer = setTimeout(function onIdle() {
      idleTimer = null;
      void serially(async function idleLock() {
        if (!isUnlocked()) return;
        await service.call('vault.lock', {});
        await afterLock('idle');
      });
    }, settings.autoLockMinutes * 60_000);
    // Main's event loop lives as long as the app; a test process should not wait on this.
    idleTimer.unref?.();
  }

  function isUnlocked(): boolean {
    try {
      void service.vault;
      return true;
    } catch {
      return false;
    }
  }

  async function afterLock(reason: LockReason): Promise<void> {
    stopIdle();
    applySettings(null);
    emitEvent('vault.locked', { reason });
    await clearClipboardIfOurs();
  }

  // ---- clipboard -------------------------------------------------------------

  async function clearClipboardIfOurs(): Promise<void> {
    const c = clip;
    if (!c) return;
    clip = null;
    if (c.timer !== null) clearTimeout(c.timer);
    try {
      // Cleared only if unchanged: the user may have copied something else since.
      if (digest(await opts.platform.clipboardReadText()) === c.digest) await opts.platform.clipboardWriteText('');
    } catch {
      // A clipboard that cannot be read cannot be checked; leave it alone.
    }
  }

  async function copySecret(secret: string): Promise<void> {
    await clearClipboardIfOurs();
    await opts.platform.clipboardWriteText(secret);
    const entry: { digest: string; timer: ReturnType<typeof setTimeout> | null } = { digest: digest(secret), timer: null };
    if (settings.clipboardClearSeconds > 0) {
      entry.timer = setTimeout(function onClipboardTimeout() {
        if (clip === entry) void clearClipboardIfOurs();
      }, settings.clipboardClearSeconds * 1000);
      entry.timer.unref?.();
    }
    clip = entry;
  }

  // ---- air gap ---------------------------------------------------------------

  function checkAirgap(): AirgapStatus {
    let external: NetworkInterfaceInfo[];
    try {
      external = opts.platform
        .networkInterfaces()
        .filter((i) => !i.internal)
        .map((i) => ({ name: i.name, family: String(i.family), address: i.address }))
        .sort((a, b) => (a.name + a.address < b.name + b.address ? -1 : 1));
    } catch {
      // Unknown is not isolated: warn rather than reassure.
      external = [{ name: 'unknown', family: 'unknown', address: 'the interfaces could not be read' }];
    }
    const status: AirgapStatus = { isolated: external.length === 0, interfaces: external };
    const key = JSON.stringify(external);
    if (key !== airgapKey) {
      const first = airgapKey === '';
      airgapKey = key;
      airgap = status;
      if (!first) emitEvent('airgap.changed', status);
      if (!first && !status.isolated) lockForAirgap();
    }
    return airgap;
  }

  /** Strict air gap while unlocked: an interface came up, so the vault locks at once (`vault.locked` { reason: 'airgap' }). */
  function lockForAirgap(): void {
    if (settings.airgapStrict !== true || !isUnlocked()) return;
    void serially(async function airgapLock() {
      if (settings.airgapStrict !== true || airgap.isolated || !isUnlocked()) return;
      await service.call('vault.lock', {});
      await afterLock('airgap');
    });
  }

  // ---- settings ----------------------------------------------------------------

  /**
   * The settings in force: the unlocked vault's own (settings.show) where it
   * sets them, else the workstation's; strict air gap when either says so.
   * null: no vault open, the workstation's alone.
   */
  function applySettings(v: VaultSettings | null): void {
    settings.autoLockMinutes = v?.autoLockMinutes ?? workstation.autoLockMinutes;
    settings.clipboardClearSeconds = v?.clipboardClearSeconds ?? workstation.clipboardClearSeconds;
    settings.airgapStrict = workstation.airgapStrict === true || v?.airgapStrict === true;
  }

  function airgapRefusal(why: AirgapReason): KeyholdError {
    return coreAirgapRefusal([...new Set(airgap.interfaces.map((i) => i.name))], why);
  }


  /** After an unlock: the vault's settings apply; a strict vault on a connected workstation is locked again at once. */
  async function afterUnlock(): Promise<void> {
    // The rule the CLI applies too (electron/core/airgap.ts), over the interfaces main sees now (unreadable ones
    // count as up). A settings row that fails its check: the workstation's times, strict assumed.
    const up = checkAirgap().interfaces.map((i) => ({ ...i, internal: false }));
    try {
      applySettings(await enforceStrictAirgap(service, workstation.airgapStrict === true, up));
    } catch (e) {
      applySettings(null);
      throw e;
    }
  }

  checkAirgap();
  const pollMs = opts.airgapPollMs ?? 5000;
  const airgapTimer = pollMs > 0 ? setInterval(checkAirgap, pollMs) : null;
  airgapTimer?.unref?.();

  // ---- token hotplug ------------------------------------------------------------

  const watcher = opts.tokenWatch ? new TokenWatcher({
    // Through the service's own token manager: a rescan forgets tokens that left, with their sessions.
    scan: () => service.tokens.scan(),
    onChange: function onTokensChanged(tokens) {
      emitEvent('tokens.changed', { tokens: [...tokens] });
    },
    // No module installed, or one failing: no event; the token commands report it when used.
    onError: () => undefined,
    pollMs: opts.tokenWatch.pollMs,
    debounceMs: opts.tokenWatch.debounceMs,
    usb: opts.tokenWatch.usb,
  }) : null;
  const tokenWatch = watcher ? watcher.start() : null;

  // ---- file dialogs and handles -------------------------------------------------

  /** Paths the user chose in a dialog, by handle; a handle is used once (on success) and expires. */
  const handles = new Map<string, { path: string; kind: 'open' | 'save'; expires: number }>();

  function newHandle(file: string, kind: 'open' | 'save'): DialogResult {
    const now = Date.now();
    for (const [h, e] of handles) if (e.expires <= now) handles.delete(h);
    const handle = `fh_${randomBytes(16).toString('base64url')}`;
    handles.set(handle, { path: file, kind, expires: now + FILE_HANDLE_TTL_MS });
    return { cancelled: false, handle, path: file, name: path.basename(file) };
  }

  function pathOf(handle: string, kind: 'open' | 'save'): string {
    const e = handles.get(handle);
    if (!e || e.expires <= Date.now() || e.kind !== kind) {
      throw new KeyholdError('INVALID_INPUT', 'The file chosen earlier is no longer known to the app.',
        `Choose the file again (a choice is kept for ${FILE_HANDLE_TTL_MS / 60_000} minutes and used once).`);
    }
    return e.path;
  }

  async function openDialog(purpose: OpenPurpose): Promise<DialogResult> {
    const show = opts.platform.showOpenDialog;
    if (!show) throw new KeyholdError('INTERNAL', 'ipc: this window cannot show file dialogs');
    const chosen = await show({ purpose, ...OPEN_DIALOGS[purpose] });
    return chosen === null ? { cancelled: true } : newHandle(chosen, 'open');
  }

  async function saveDialog(purpose: SavePurpose, suggestedName: string): Promise<DialogResult> {
    const show = opts.platform.showSaveDialog;
    if (!show) throw new KeyholdError('INTERNAL', 'ipc: this window cannot show file dialogs');
    const chosen = await show({ purpose, title: SAVE_TITLES[purpose], defaultName: suggestedName, filters: SAVE_FILTERS[purpose] });
    if (chosen === null) return { cancelled: true };
    // Refused now, before a PIN is asked or anything signed: Keyhold never replaces a file (the command checks again).
    return newHandle(checkNewFile(chosen, SAVE_TITLES[purpose].replace(/^Save /, ''), vaultFiles(opts.vaultPath)), 'save');
  }

  /** A JWK file chosen for recipient.add: a regular file of at most 64 KiB holding one JSON object. */
  function readPublicKey(file: string): Record<string, unknown> {
    const jwk = readJsonObjectFile(file, { prefix: 'recipient', what: 'public key', limit: READ_LIMITS.jwk });
    if (jwk) return jwk;
    throw new KeyholdError('INVALID_INPUT', `The file ${path.basename(file)} is not a public key (a JSON object).`,
      'Choose the public key file the server\'s keyhold-import keygen wrote.');
  }

  // ---- commands --------------------------------------------------------------

  function environment(): AppEnvironment {
    return {
      platform: opts.platform.platform ?? process.platform,
      vault: { path: opts.vaultPath, exists: fs.existsSync(opts.vaultPath) },
      airgap: checkAirgap(),
      settings: { ...settings },
      workstation: { ...workstation, airgapStrict: workstation.airgapStrict === true },
    };
  }

  /** The core's input for an IPC request: what the renderer may not choose is filled in here. */
  function coreArgs(command: CoreIpcCommandName, args: unknown): unknown {
    switch (command) {
      case 'vault.create': {
        const a = args as IpcArgs<'vault.create'>;
        return { path: opts.vaultPath, passphrase: a.passphrase, ...(opts.kdf ? { kdf: opts.kdf } : {}) };
      }
      case 'vault.unlock': {
        const a = args as IpcArgs<'vault.unlock'>;
        return { path: opts.vaultPath, passphrase: a.passphrase };
      }
      // A new passphrase keyslot costs what main's KDF setting says (tests: the schema's minimum); calibrated when absent.
      case 'slot.addPassphrase':
      case 'passphrase.change':
        return { ...(opts.kdf ? { kdf: opts.kdf } : {}), ...(args as object) };
      case 'vault.unlockToken':
        return { ...(args as IpcArgs<'vault.unlockToken'>), path: opts.vaultPath };
      case 'quorum.begin':
        return { ...(args as IpcArgs<'quorum.begin'>), path: opts.vaultPath };
      // A quorum's passphrase custodians cost what main's KDF setting says, as a passphrase keyslot.
      case 'slot.addQuorum':
      case 'slot.reshare':
        return { ...(opts.kdf ? { kdf: opts.kdf } : {}), ...(args as object) };
      case 'recipient.add': {
        const { publicKeyFile, ...rest } = args as IpcArgs<'recipient.add'>;
        return { ...rest, publicKey: readPublicKey(pathOf(publicKeyFile, 'open')) };
      }
      case 'audit.export':
      case 'bundle.export':
      case 'bundle.resend':
      case 'bundle.sign':
      case 'trust.export':
      case 'vault.backup':
      case 'ceremony.transcript': {
        const { field, kind } = FILE_HANDLE_FIELDS[command];
        const a = args as Record<string, unknown>;
        return { ...a, [field]: pathOf(String(a[field]), kind) };
      }
      // The new vault: a file chosen in a save dialog, or main's own vault path (nothing there yet: the first screen).
      case 'vault.restore': {
        const { target, ...a } = args as IpcArgs<'vault.restore'>;
        return { ...a, file: pathOf(a.file, 'open'), path: target === undefined ? opts.vaultPath : pathOf(target, 'save') };
      }
      // An approval is asked for the command as the core will run it. The one input main changes in a way the
      // parameters hash covers is recipient.add's chosen key file, read into the key here as for the call itself
      // (no handle is spent by asking); the KDF cost main adds and output files are outside the hash.
      case 'approval.request': {
        const a = args as IpcArgs<'approval.request'>;
        const { publicKeyFile, ...rest } = a.input;
        if (a.command !== 'recipient.add' || typeof publicKeyFile !== 'string') return args;
        return { ...a, input: { ...rest, publicKey: readPublicKey(pathOf(publicKeyFile, 'open')) } };
      }
      default:
        return args;
    }
  }

  /** After a command that used a file handle succeeded, the handle is spent. */
  function spendHandle(command: CoreIpcCommandName, args: unknown): void {
    const spec = (FILE_HANDLE_FIELDS as Partial<Record<CoreIpcCommandName, { field: string }>>)[command];
    if (spec) handles.delete(String((args as Record<string, unknown>)[spec.field]));
    if (command === 'vault.restore') handles.delete(String((args as IpcArgs<'vault.restore'>).target));
  }

  async function run(command: IpcCommandName, args: unknown): Promise<unknown> {
    switch (command) {
      case 'app.environment':
        return environment();
      case 'dialog.open':
        return openDialog((args as IpcArgs<'dialog.open'>).purpose);
      case 'dialog.save': {
        const a = args as IpcArgs<'dialog.save'>;
        return saveDialog(a.purpose, a.suggestedName);
      }
      case 'clipboard.copySecret': {
        const revealed = await service.call('key.reveal', args);
        await copySecret(revealed.secret);
        return { copied: true, clearAfterSeconds: settings.clipboardClearSeconds };
      }
      default: {
        const opens = command === 'vault.unlock' || command === 'vault.unlockToken' || command === 'vault.create' ||
          command === 'quorum.share' || command === 'vault.restore';
        // Strict air gap: refused before any passphrase or PIN is used.
        if (opens && workstation.airgapStrict === true && !checkAirgap().isolated) throw airgapRefusal('workstation');
        if (command === 'settings.set' && (args as IpcArgs<'settings.set'>).airgapStrict === true && !checkAirgap().isolated) {
          throw airgapRefusal('turn-on');
        }
        const value = await service.call(command, coreArgs(command, args));
        spendHandle(command, args);
        if (command === 'vault.lock') await afterLock('user');
        // A quorum share opens the vault only with the M-th share.
        if (opens && (command !== 'quorum.share' || (value as { unlocked?: boolean }).unlocked === true)) await afterUnlock();
        if (command === 'settings.set') applySettings(value as VaultSettings);
        return value;
      }
    }
  }

  async function handle(command: string, sender: SenderInfo, payload: unknown): Promise<Result<unknown>> {
    try {
      if (disposed) throw new KeyholdError('INTERNAL', 'ipc: the app is shutting down');
      const origin = originOf(typeof sender?.url === 'string' ? sender.url : '');
      if (sender?.isMainFrame !== true || origin === null || !allowed.has(origin)) return forbidden();
      if (!isIpcCommandName(command)) {
        throw new KeyholdError('INVALID_INPUT', `ipc: unknown command ${JSON.stringify(String(command)).slice(0, 80)}`);
      }
      const parsed = parseIpcInput(command, payload);
      if (!parsed.ok) throw new KeyholdError('INVALID_INPUT', parsed.message);
      const active = !PASSIVE.has(command);
      if (active) stopIdle();
      try {
        const value = await serially(() => run(command, parsed.value));
        const out = ipcContract[command].output.safeParse(value);
        if (!out.success) throw new KeyholdError('INTERNAL', `ipc: ${command}: the answer does not match the contract`);
        return { ok: true, value: out.data };
      } finally {
        // Restarted after the command, so a long one does not lock halfway.
        if (active) armIdle();
      }
    } catch (e) {
      return failure(e);
    }
  }

  return Object.freeze({
    handle,
    onEvent(listener: IpcEventListener): () => void {
      // A wrapper per subscription, so subscribing the same function twice gives two independent removers.
      const wrapper: IpcEventListener = (e) => listener(e);
      listeners.add(wrapper);
      return function unsubscribe(): void {
        listeners.delete(wrapper);
      };
    },
    notifyActivity(): void {
      if (idleTimer !== null) armIdle();
    },
    checkAirgap,
    tokenWatch,
    dispose(): void {
      if (disposed) return;
      disposed = true;
      stopIdle();
      if (airgapTimer !== null) clearInterval(airgapTimer);
      watcher?.stop();
      handles.clear();
      // Best effort: the app is going away; a pending clipboard answer may not arrive.
      void clearClipboardIfOurs();
      // Locks at once (keys wiped synchronously), then logs out of tokens and releases PKCS#11 modules.
      service.close();
      void service.shutdown();
      listeners.clear();
    },
    service,
  });
}
