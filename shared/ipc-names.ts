/**
 * The names of the IPC contract, without its schemas: which commands the
 * renderer may call, their method names on `window.keyhold`, their channels,
 * and the events main sends. The preload builds `window.keyhold` from these
 * names alone, so it bundles no zod (a sandboxed preload is one small file).
 *
 * The schemas live in shared/ipc.ts; only types come from there (erased at
 * build time), so importing this module costs nothing at run time.
 *
 * To expose a new core command (shared/contract.ts) to the renderer, add its
 * name to IPC_COMMANDS here: shared/ipc.ts then derives its schemas from the
 * contract. A command whose input names a file path must not be exposed as is
 * (the renderer never chooses paths): give it an IPC-specific input in
 * shared/ipc.ts (a file handle from dialog.open / dialog.save in place of the
 * path, or nothing where main knows the path, as for vault.create).
 */

import type { Result } from './contract.js';
import type { IpcEventPayload, IpcInput, IpcOutput } from './ipc.js';

/** Core commands the renderer may call (a subset of shared/contract.ts). */
export const CORE_IPC_COMMANDS = [
  'vault.create',
  'vault.unlock',
  'vault.unlockToken',
  'vault.lock',
  'vault.status',
  'vault.info',
  'vault.backup',
  'vault.restore',
  'slot.list',
  'slot.addPassphrase',
  'slot.addToken',
  'slot.remove',
  'quorum.begin',
  'quorum.share',
  'quorum.cancel',
  'slot.addQuorum',
  'slot.reshare',
  'share.paper',
  'passphrase.change',
  'key.create',
  'key.list',
  'key.table',
  'key.show',
  'key.reveal',
  'key.due',
  'key.rotate',
  'key.revoke',
  'key.destroy',
  'policy.set',
  'policy.clear',
  'policy.show',
  'settings.show',
  'settings.set',
  'audit.list',
  'audit.verify',
  'audit.recover',
  'audit.export',
  'recipient.add',
  'recipient.list',
  'signer.add',
  'signer.list',
  'signer.threshold',
  'bundle.export',
  'bundle.prepare',
  'bundle.resend',
  'bundle.sign',
  'trust.export',
  'token.list',
  'token.keys',
  'token.keygen',
  'ceremony.start',
  'ceremony.end',
  'ceremony.list',
  'ceremony.transcript',
  'operator.add',
  'operator.list',
  'operator.remove',
  'operator.grant',
  'operator.revoke',
  'operator.signIn',
  'operator.signOut',
  'operator.whoami',
  'operator.setCredential',
  'approval.request',
  'approval.grant',
  'dualControl.show',
  'dualControl.set',
] as const;

/**
 * Commands that main answers itself (they need the OS: clipboard, network
 * interfaces, file dialogs). A file dialog answers an opaque handle; commands
 * that read or write a file take that handle, never a path (shared/ipc.ts).
 */
export const APP_IPC_COMMANDS = ['app.environment', 'clipboard.copySecret', 'dialog.open', 'dialog.save'] as const;

export const IPC_COMMANDS = [...CORE_IPC_COMMANDS, ...APP_IPC_COMMANDS] as const;

export type CoreIpcCommandName = (typeof CORE_IPC_COMMANDS)[number];
export type AppIpcCommandName = (typeof APP_IPC_COMMANDS)[number];
export type IpcCommandName = (typeof IPC_COMMANDS)[number];

/** Events main sends to the renderer. */
export const IPC_EVENTS = ['vault.locked', 'progress', 'airgap.changed', 'tokens.changed'] as const;
export type IpcEventName = (typeof IPC_EVENTS)[number];

/** 'key.create' -> 'keyCreate', 'clipboard.copySecret' -> 'clipboardCopySecret'. */
export type MethodName<C extends string> = C extends `${infer A}.${infer B}` ? `${A}${Capitalize<B>}` : C;

export function methodName<C extends IpcCommandName>(command: C): MethodName<C> {
  const dot = command.indexOf('.');
  const head = command.slice(0, dot);
  const tail = command.slice(dot + 1);
  return `${head}${tail.charAt(0).toUpperCase()}${tail.slice(1)}` as MethodName<C>;
}

/** The IPC channel of a command: ipcMain.handle(commandChannel(c)) in main, ipcRenderer.invoke in the preload. */
export function commandChannel(command: IpcCommandName): `keyhold:${IpcCommandName}` {
  return `keyhold:${command}`;
}

/** The IPC channel of an event: webContents.send(eventChannel(e), payload) in main. */
export function eventChannel(event: IpcEventName): `keyhold:event:${IpcEventName}` {
  return `keyhold:event:${event}`;
}

export function isIpcCommandName(x: unknown): x is IpcCommandName {
  return typeof x === 'string' && (IPC_COMMANDS as readonly string[]).includes(x);
}

export function isIpcEventName(x: unknown): x is IpcEventName {
  return typeof x === 'string' && (IPC_EVENTS as readonly string[]).includes(x);
}

/** Every command as [command, method name, channel], for building the API or registering handlers. */
export const IPC_METHODS: ReadonlyArray<readonly [IpcCommandName, string, string]> = IPC_COMMANDS.map(
  (c) => [c, methodName(c), commandChannel(c)] as const,
);

// ---- the type of window.keyhold ---------------------------------------------

/** A command whose input is an empty object may be called without an argument. */
type CommandMethod<C extends IpcCommandName> = Record<never, never> extends IpcInput<C>
  ? (input?: IpcInput<C>) => Promise<Result<IpcOutput<C>>>
  : (input: IpcInput<C>) => Promise<Result<IpcOutput<C>>>;

export type KeyholdCommands = {
  readonly [C in IpcCommandName as MethodName<C>]: CommandMethod<C>;
};

export type KeyholdApi = KeyholdCommands & {
  /** Subscribes to a main-process event; returns the function that unsubscribes (idempotent). */
  readonly on: <E extends IpcEventName>(event: E, listener: (payload: IpcEventPayload<E>) => void) => () => void;
};
