/**
 * Bundles store: recipients, signers and their threshold, the tokens present
 * (to pick a signer's key and the token that signs), and the export
 * ceremony: prepare -> summary -> confirm -> sign on a token -> saved.
 *
 * The summary is the core's `bundle.prepare` answer (counts, keys, hash and
 * the same hash as words); signing names that prepared payload, so the file
 * written carries exactly what was shown. Files only through main's dialogs:
 * the store asks for a dialog and passes its handle on, never a path. No PIN
 * is kept here: a signing action takes it as an argument for its one call.
 */
import { create } from 'zustand';
import type {
  BundleExportReport,
  BundleSummary,
  RecipientInfo,
  SignerInfo,
  TokenInfo,
  TokenKeyInfo,
} from '../../../shared/contract';
import type { IpcOutput, OpenPurpose, SavePurpose } from '../../../shared/ipc';
import { call, pinFields, type ApiError } from '../api';
import { useUi } from './ui';

export type Status = 'idle' | 'loading' | 'ready' | 'error';

export type ExportForm = Readonly<{ recipient: string; revocationsOnly: boolean; expires: string }>;

export type BundlesView = 'main' | 'summary' | 'signed';

export type RecipientForm = Readonly<{ name: string; verifies: string; holds: string }>;

/** A file chosen in main's open dialog: its handle (single use) and the name to show. */
export type ChosenFile = Readonly<{ handle: string; name: string; path: string }>;

export type Signed = Readonly<{ report: BundleExportReport; summary: BundleSummary }>;
export type TrustResult = IpcOutput<'trust.export'>;
export type ResendResult = IpcOutput<'bundle.resend'>;
export type CosignResult = IpcOutput<'bundle.sign'>;

/** What an action that saves or opens a file answers when the person closes the dialog. */
export const NOT_CHOSEN: ApiError = {
  code: 'INVALID_INPUT',
  message: 'No file was chosen: nothing was signed or written.',
  hint: 'Choose where to save the file to go on.',
};

type BundlesState = Readonly<{
  status: Status;
  error: ApiError | null;
  recipients: readonly RecipientInfo[];
  signers: readonly SignerInfo[];
  threshold: number;
  tokens: readonly TokenInfo[];
  /** Keys of a token, by serial (public objects: no login). */
  tokenKeys: Readonly<Record<string, { status: Status; keys: readonly TokenKeyInfo[]; error: ApiError | null }>>;

  view: BundlesView;
  form: ExportForm;
  prepareStatus: Status;
  prepareError: ApiError | null;
  summary: BundleSummary | null;
  /** The options the summary was prepared with: signing must name the same. */
  preparedWith: ExportForm | null;
  signed: Signed | null;

  load: () => Promise<void>;
  /** Lists the tokens again; answers the one with this serial, or null when it is gone (PinPrompt's recheck). */
  recheck: (serial: string) => Promise<TokenInfo | null>;
  loadTokenKeys: (serial: string) => Promise<void>;
  chooseFile: (purpose: OpenPurpose) => Promise<ChosenFile | null | ApiError>;
  addRecipient: (form: RecipientForm, file: ChosenFile) => Promise<ApiError | null>;
  addSigner: (serial: string, keyLabel: string) => Promise<{ error: ApiError | null; warnings: readonly string[] }>;
  setThreshold: (n: number) => Promise<ApiError | null>;
  setForm: (patch: Partial<ExportForm>) => void;
  prepare: () => Promise<void>;
  /** Back from the summary: the prepared payload is not signed. */
  discard: () => void;
  /** Save dialog, then sign the prepared payload on the token (serial) and record it. */
  signPrepared: (serial: string, pin: string | null, allowFinalTry: boolean) => Promise<ApiError | null>;
  done: () => void;
  exportTrust: (serial: string, pin: string | null, allowFinalTry: boolean) => Promise<TrustResult | ApiError>;
  resend: (recipient: string) => Promise<ResendResult | ApiError>;
  cosign: (file: ChosenFile, serial: string, pin: string | null, allowFinalTry: boolean) => Promise<CosignResult | ApiError>;
  clear: () => void;
}>;

const INITIAL_FORM: ExportForm = { recipient: '', revocationsOnly: false, expires: '7d' };

/** "payments, billing" -> ['payments', 'billing'] (commas or spaces). */
export function serviceList(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter((s) => s.length > 0))];
}

function isError(x: unknown): x is ApiError {
  return typeof x === 'object' && x !== null && 'code' in x && 'message' in x;
}
export { isError as isApiError };

async function saveDialog(purpose: SavePurpose, suggestedName: string): Promise<{ handle: string } | ApiError> {
  const r = await call((api) => api.dialogSave({ purpose, suggestedName }));
  if (!r.ok) return r.error;
  if (r.value.cancelled) return NOT_CHOSEN;
  return { handle: r.value.handle };
}

/** A file name from a recipient's name (already an identifier: letters, digits, '.', '_', '-'). */
function bundleFileName(recipient: string, sequence: number): string {
  return `${recipient}-bundle-${sequence}.khb`;
}

export const useBundles = create<BundlesState>()((set, get) => ({
  status: 'idle',
  error: null,
  recipients: [],
  signers: [],
  threshold: 1,
  tokens: [],
  tokenKeys: {},
  view: 'main',
  form: INITIAL_FORM,
  prepareStatus: 'idle',
  prepareError: null,
  summary: null,
  preparedWith: null,
  signed: null,

  load: async () => {
    set({ status: 'loading', error: null });
    const [recipients, signers, tokens] = await Promise.all([
      call((api) => api.recipientList()),
      call((api) => api.signerList()),
      call((api) => api.tokenList()),
    ]);
    if (!recipients.ok || !signers.ok) {
      set({ status: 'error', error: !recipients.ok ? recipients.error : !signers.ok ? signers.error : null });
      return;
    }
    const form = get().form;
    const names = recipients.value.map((r) => r.name);
    set({
      status: 'ready',
      recipients: recipients.value,
      signers: signers.value.signers,
      threshold: signers.value.threshold,
      // No token module is not an error of this screen: the signer and signing parts say so where they need a token.
      tokens: tokens.ok ? tokens.value.filter((t) => !t.empty) : [],
      form: names.includes(form.recipient) ? form : { ...form, recipient: names[0] ?? '' },
    });
  },

  recheck: async (serial) => {
    const r = await call((api) => api.tokenList());
    if (!r.ok) return null;
    set({ tokens: r.value.filter((t) => !t.empty) });
    return r.value.find((t) => !t.empty && t.serial === serial) ?? null;
  },

  loadTokenKeys: async (serial) => {
    set((s) => ({ tokenKeys: { ...s.tokenKeys, [serial]: { status: 'loading', keys: [], error: null } } }));
    const r = await call((api) => api.tokenKeys({ token: serial }));
    set((s) => ({
      tokenKeys: {
        ...s.tokenKeys,
        [serial]: r.ok
          ? { status: 'ready', keys: r.value.flatMap((t) => t.keys), error: null }
          : { status: 'error', keys: [], error: r.error },
      },
    }));
  },

  chooseFile: async (purpose) => {
    const r = await call((api) => api.dialogOpen({ purpose }));
    if (!r.ok) return r.error;
    return r.value.cancelled ? null : { handle: r.value.handle, name: r.value.name, path: r.value.path };
  },

  addRecipient: async (form, file) => {
    const r = await call((api) =>
      api.recipientAdd({ name: form.name.trim(), verifies: serviceList(form.verifies), holds: serviceList(form.holds), publicKeyFile: file.handle }),
    );
    if (!r.ok) return r.error;
    useUi.getState().announce(`Recipient ${r.value.name} added`);
    await get().load();
    return null;
  },

  addSigner: async (serial, keyLabel) => {
    const r = await call((api) => api.signerAdd({ token: serial, keyLabel }));
    if (!r.ok) return { error: r.error, warnings: [] };
    useUi.getState().announce(`Signer ${keyLabel} added`);
    await get().load();
    return { error: null, warnings: r.value.warnings };
  },

  setThreshold: async (n) => {
    const r = await call((api) => api.signerThreshold({ threshold: n }));
    if (!r.ok) return r.error;
    set({ threshold: r.value.threshold });
    useUi.getState().announce(`Threshold set to ${r.value.threshold}`);
    return null;
  },

  setForm: (patch) => set((s) => ({ form: { ...s.form, ...patch } })),

  prepare: async () => {
    const form = get().form;
    set({ prepareStatus: 'loading', prepareError: null });
    const r = await call((api) => api.bundlePrepare({ recipient: form.recipient, revocationsOnly: form.revocationsOnly, expires: form.expires }));
    if (!r.ok) {
      set({ prepareStatus: 'error', prepareError: r.error });
      return;
    }
    set({ prepareStatus: 'ready', summary: r.value, preparedWith: form, view: 'summary', signed: null });
  },

  discard: () => set({ view: 'main', summary: null, preparedWith: null, prepareStatus: 'idle' }),

  signPrepared: async (serial, pin, allowFinalTry) => {
    const { summary, preparedWith } = get();
    if (!summary || !preparedWith) return { code: 'BUNDLE_STALE', message: 'There is no prepared bundle to sign.', hint: 'Prepare the bundle again.' };
    const out = await saveDialog('bundle', bundleFileName(summary.recipient.name, summary.sequence));
    if (isError(out)) return out;
    const r = await call((api) =>
      api.bundleExport({
        recipient: summary.recipient.name,
        revocationsOnly: summary.revocationsOnly,
        expires: preparedWith.expires,
        out: out.handle,
        prepared: summary.prepared,
        // A revocations-only bundle also comes as QR codes (the Bundles screen can show them: QrView).
        ...(summary.revocationsOnly ? { qr: true } : {}),
        token: serial, ...pinFields(pin, allowFinalTry),
      }),
    );
    if (!r.ok) {
      // A summary that can no longer be signed goes: what is shown must be what would be signed.
      if (r.error.code === 'BUNDLE_STALE') set({ summary: null, view: 'main', prepareStatus: 'error', prepareError: r.error });
      return r.error;
    }
    set({ view: 'signed', signed: { report: r.value, summary }, summary: null, prepareStatus: 'idle' });
    useUi.getState().announce(`Bundle ${r.value.sequence} for ${r.value.recipient} signed and saved`);
    void get().load();
    return null;
  },

  done: () => set({ view: 'main', signed: null }),

  exportTrust: async (serial, pin, allowFinalTry) => {
    const out = await saveDialog('trust', 'trust-root.json');
    if (isError(out)) return out;
    const r = await call((api) => api.trustExport({ out: out.handle, token: serial, ...pinFields(pin, allowFinalTry) }));
    if (!r.ok) return r.error;
    useUi.getState().announce(`Trust root version ${r.value.version} saved`);
    return r.value;
  },

  resend: async (recipient) => {
    const rec = get().recipients.find((x) => x.name === recipient);
    const out = await saveDialog('bundle', bundleFileName(recipient, rec?.sequence ?? 0));
    if (isError(out)) return out;
    const r = await call((api) => api.bundleResend({ recipient, out: out.handle }));
    if (!r.ok) return r.error;
    useUi.getState().announce(`Bundle ${r.value.sequence} for ${r.value.recipient} written again`);
    return r.value;
  },

  cosign: async (file, serial, pin, allowFinalTry) => {
    const r = await call((api) => api.bundleSign({ file: file.handle, token: serial, ...pinFields(pin, allowFinalTry) }));
    if (!r.ok) return r.error;
    useUi.getState().announce('Signature added to the bundle');
    return r.value;
  },

  clear: () =>
    set({
      status: 'idle', error: null, recipients: [], signers: [], threshold: 1, tokens: [], tokenKeys: {}, view: 'main',
      form: INITIAL_FORM, prepareStatus: 'idle', prepareError: null, summary: null, preparedWith: null, signed: null,
    }),
}));
