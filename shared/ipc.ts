/**
 * The IPC contract between the renderer (untrusted) and main: for every command
 * the renderer may call, its input and output schema, and for every event main
 * sends, its payload schema. Main's router (electron/main/router.ts) parses
 * each request against these before the core sees it.
 *
 * Core commands take their schemas from shared/contract.ts unchanged, except
 * where the renderer must not choose something: vault.create and vault.unlock
 * take only the passphrase over IPC (main fills in the vault path from its
 * configuration, and the KDF cost), and commands that read or write a file the
 * user picks take a file handle: the renderer asks main for a dialog
 * (dialog.open / dialog.save), main shows it and answers an opaque handle for
 * the path chosen, and the command names that handle. The renderer never
 * names a path.
 *
 * Names (channels, method names, the type of window.keyhold) are in
 * shared/ipc-names.ts, which has no zod, for the preload.
 */

import { z } from 'zod';
import { contract, freeText, newPassphraseSchema, passphraseSchema, tokenInfoSchema } from './contract.js';
import {
  type AppIpcCommandName,
  type CoreIpcCommandName,
  CORE_IPC_COMMANDS,
  type IpcCommandName,
  type IpcEventName,
} from './ipc-names.js';

// ---- app-level schemas -------------------------------------------------------

export const networkInterfaceSchema = z.object({
  name: z.string(),
  family: z.string(),
  address: z.string(),
});
export type NetworkInterfaceInfo = z.infer<typeof networkInterfaceSchema>;

/** Isolated when no non-loopback interface is up. */
export const airgapStatusSchema = z.object({
  isolated: z.boolean(),
  interfaces: z.array(networkInterfaceSchema),
});
export type AirgapStatus = z.infer<typeof airgapStatusSchema>;

export const appSettingsSchema = z.object({
  /** Idle minutes before the vault locks itself; 0 turns auto-lock off. */
  autoLockMinutes: z.number().nonnegative(),
  /** Seconds before a copied secret is cleared from the clipboard (if still there); 0 never clears. */
  clipboardClearSeconds: z.number().nonnegative(),
  /** Strict air gap: no unlock while a non-loopback interface is up (the workstation's KEYHOLD_AIRGAP_STRICT, or the vault's). */
  airgapStrict: z.boolean().optional(),
});
export type AppSettings = z.infer<typeof appSettingsSchema>;

export const appEnvironmentSchema = z.object({
  platform: z.string(),
  vault: z.object({ path: z.string(), exists: z.boolean() }),
  airgap: airgapStatusSchema,
  /** The settings in force: the unlocked vault's own where it sets them, else the workstation's. */
  settings: appSettingsSchema,
  /** The workstation's own settings (main's configuration), which apply where the vault sets none. */
  workstation: appSettingsSchema.optional(),
});
export type AppEnvironment = z.infer<typeof appEnvironmentSchema>;

// ---- commands ----------------------------------------------------------------

const empty = z.strictObject({});

/**
 * IPC-specific inputs for core commands whose contract input holds something
 * the renderer must not choose. The router adds the rest (see `coreArgs` in
 * electron/main/router.ts).
 */
/**
 * A file the user chose in a dialog main showed (dialog.open / dialog.save):
 * an opaque, single-use name for the path, valid for FILE_HANDLE_TTL_MS.
 */
export const fileHandleSchema = z.string().regex(/^fh_[A-Za-z0-9_-]{22}$/, 'the file handle is not one main gave (choose the file again)');
export const FILE_HANDLE_TTL_MS = 30 * 60_000;

/** What a dialog is for: the title, file name filters and default name main uses. */
export const openPurposeSchema = z.enum(['public-key', 'bundle', 'backup']);
export const savePurposeSchema = z.enum(['bundle', 'trust', 'audit', 'transcript', 'backup', 'vault']);
export type OpenPurpose = z.infer<typeof openPurposeSchema>;
export type SavePurpose = z.infer<typeof savePurposeSchema>;

/** A dialog's answer: the handle and the chosen file's path (shown to the user), or cancelled. */
export const dialogResultSchema = z.union([
  z.object({ cancelled: z.literal(true) }),
  z.object({ cancelled: z.literal(false), handle: fileHandleSchema, path: z.string(), name: z.string() }),
]);
export type DialogResult = z.infer<typeof dialogResultSchema>;

const c = contract;
const coreOverrides = {
  'vault.create': z.strictObject({ passphrase: newPassphraseSchema }),
  'vault.unlock': z.strictObject({ passphrase: passphraseSchema }),
  'vault.unlockToken': c['vault.unlockToken'].input.omit({ path: true }),
  'quorum.begin': c['quorum.begin'].input.omit({ path: true }),
  'audit.export': c['audit.export'].input.omit({ out: true }).extend({ out: fileHandleSchema }),
  'bundle.export': c['bundle.export'].input.omit({ out: true }).extend({ out: fileHandleSchema }),
  'bundle.resend': c['bundle.resend'].input.omit({ out: true }).extend({ out: fileHandleSchema }),
  'bundle.sign': c['bundle.sign'].input.omit({ file: true }).extend({ file: fileHandleSchema }),
  'trust.export': c['trust.export'].input.omit({ out: true }).extend({ out: fileHandleSchema }),
  'ceremony.transcript': c['ceremony.transcript'].input.omit({ out: true }).extend({ out: fileHandleSchema }),
  'vault.backup': c['vault.backup'].input.omit({ out: true }).extend({ out: fileHandleSchema }),
  /**
   * The backup from dialog.open('backup'); the new vault at `target`, a file chosen in dialog.save('vault'), or,
   * without it, main's own vault path (the first screen, when no vault is there yet). Both are handles, never paths.
   */
  'vault.restore': z.union([
    c['vault.restore'].input.options[0].omit({ file: true, path: true }).extend({ file: fileHandleSchema, target: fileHandleSchema.optional() }),
    c['vault.restore'].input.options[1].omit({ file: true, path: true }).extend({ file: fileHandleSchema, target: fileHandleSchema.optional() }),
  ]),
  /** The public key comes from a file chosen in dialog.open('public-key'); main reads and parses it. */
  'recipient.add': c['recipient.add'].input.omit({ publicKey: true }).extend({ publicKeyFile: fileHandleSchema }),
} as const;

/** The field of each override that is a file handle, and whether main reads it (open) or writes it (save). */
export const FILE_HANDLE_FIELDS = {
  'audit.export': { field: 'out', kind: 'save' },
  'bundle.export': { field: 'out', kind: 'save' },
  'bundle.resend': { field: 'out', kind: 'save' },
  'bundle.sign': { field: 'file', kind: 'open' },
  'trust.export': { field: 'out', kind: 'save' },
  'ceremony.transcript': { field: 'out', kind: 'save' },
  'vault.backup': { field: 'out', kind: 'save' },
  /** And `target`, when given, a 'save' handle for the new vault (the router spends both). */
  'vault.restore': { field: 'file', kind: 'open' },
  'recipient.add': { field: 'publicKeyFile', kind: 'open' },
} as const satisfies Partial<Record<CoreIpcCommandName, { field: string; kind: 'open' | 'save' }>>;

type CoreOverrides = typeof coreOverrides;

type CoreIpcSpec = {
  readonly [C in CoreIpcCommandName]: {
    readonly input: C extends keyof CoreOverrides ? CoreOverrides[C] : (typeof contract)[C]['input'];
    readonly output: (typeof contract)[C]['output'];
  };
};

function coreSpec(): CoreIpcSpec {
  const out: Record<string, { input: z.ZodType; output: z.ZodType }> = {};
  for (const c of CORE_IPC_COMMANDS) {
    const override = (coreOverrides as Partial<Record<CoreIpcCommandName, z.ZodType>>)[c];
    out[c] = { input: override ?? contract[c].input, output: contract[c].output };
  }
  return out as unknown as CoreIpcSpec;
}

const appSpec = {
  'app.environment': { input: empty, output: appEnvironmentSchema },
  /**
   * Main reveals the key through the core (an audited reveal) and writes it to
   * the clipboard itself: the secret never travels to the renderer for a copy.
   */
  'clipboard.copySecret': {
    input: contract['key.reveal'].input,
    output: z.object({ copied: z.literal(true), clearAfterSeconds: z.number().nonnegative() }),
  },
  /** Main shows an open-file dialog; the renderer gets a handle for the file chosen. */
  'dialog.open': { input: z.strictObject({ purpose: openPurposeSchema }), output: dialogResultSchema },
  /** Main shows a save dialog (a new file: Keyhold never replaces one) with a suggested name. */
  'dialog.save': {
    input: z.strictObject({
      purpose: savePurposeSchema,
      suggestedName: freeText('the file name', 128, { min: 1 })
        .refine((n) => !/[\\/]/.test(n) && n !== '.' && n !== '..', 'the file name must not name a folder'),
    }),
    output: dialogResultSchema,
  },
} as const satisfies Record<AppIpcCommandName, { input: z.ZodType; output: z.ZodType }>;

export const ipcContract = { ...coreSpec(), ...appSpec } as const satisfies Record<
  IpcCommandName,
  { input: z.ZodType; output: z.ZodType }
>;

export type IpcContract = typeof ipcContract;
/** What the renderer passes (defaults not yet applied). */
export type IpcInput<C extends IpcCommandName> = z.input<IpcContract[C]['input']>;
/** What the router hands on after parsing (defaults applied). */
export type IpcArgs<C extends IpcCommandName> = z.output<IpcContract[C]['input']>;
export type IpcOutput<C extends IpcCommandName> = z.output<IpcContract[C]['output']>;

// ---- events --------------------------------------------------------------------

/** user: the Lock button or Ctrl+L; idle: auto-lock; airgap: strict air gap and a network interface came up. */
export const lockReasonSchema = z.enum(['user', 'idle', 'airgap']);
export type LockReason = z.infer<typeof lockReasonSchema>;

export const ipcEvents = {
  /** The vault was locked: by the user (vault.lock), after idle time, or by strict air gap. */
  'vault.locked': z.object({ reason: lockReasonSchema }),
  /** Progress of long work (e.g. rotating many keys). */
  progress: z.object({ command: z.string(), done: z.number().int(), total: z.number().int() }),
  /** The set of non-loopback interfaces that are up changed. */
  'airgap.changed': airgapStatusSchema,
  /** A token was inserted or removed (USB events, or polling of PKCS#11 slots): the tokens present now. */
  'tokens.changed': z.object({ tokens: z.array(tokenInfoSchema) }),
} as const satisfies Record<IpcEventName, z.ZodType>;

export type IpcEventPayload<E extends IpcEventName> = z.output<(typeof ipcEvents)[E]>;

/** One event as the router emits it. */
export type IpcEvent = { [E in IpcEventName]: Readonly<{ name: E; payload: IpcEventPayload<E> }> }[IpcEventName];

/**
 * Parses a request's payload against its IPC input schema. Like the core's
 * parseCommandInput, the message names the field and the rule, never the value.
 */
export function parseIpcInput<C extends IpcCommandName>(
  command: C,
  payload: unknown,
): { ok: true; value: IpcArgs<C> } | { ok: false; message: string } {
  const schema = ipcContract[command].input as unknown as z.ZodType<IpcArgs<C>>;
  const r = schema.safeParse(payload ?? {});
  if (r.success) return { ok: true, value: r.data };
  const first = r.error.issues[0];
  const where = first && first.path.length > 0 ? `${first.path.map(String).join('.')}: ` : '';
  const what = first?.code === 'unrecognized_keys' ? 'unknown field' : (first?.message ?? 'invalid input');
  const more = r.error.issues.length > 1 ? ` (and ${r.error.issues.length - 1} more problem(s))` : '';
  return { ok: false, message: `ipc: ${command}: ${where}${what}${more}` };
}
