/**
 * Backup and restore (docs/backup.md): "Back up now" (a save dialog, then
 * vault.backup with its handle) and "Restore from a backup" on the first
 * screen (an open dialog for the backup, optionally a save dialog for the new
 * vault, then vault.restore with a passphrase or a token's PIN). Files only
 * through main's dialogs: handles, never paths. No passphrase or PIN is kept
 * here: each restore call takes it as an argument.
 */
import { create } from 'zustand';
import type { IpcOutput, OpenPurpose, SavePurpose } from '../../../../shared/ipc';
import { call, pinFields, type ApiError } from '../../api';
import { today } from '../../stores/audit';
import { useSession } from '../../stores/session';
import { useUi } from '../../stores/ui';

export type BackupResult = IpcOutput<'vault.backup'>;
export type RestoreResult = IpcOutput<'vault.restore'>;
/** A file chosen in one of main's dialogs: its single-use handle and what to show. */
export type Chosen = Readonly<{ handle: string; name: string; path: string }>;

type Status = 'idle' | 'running' | 'done' | 'error';

type BackupState = Readonly<{
  status: Status;
  result: BackupResult | null;
  error: ApiError | null;
  /** Save dialog, then the backup: the result (file, size, SHA-256) or the error is kept for the screen. */
  backUp: () => Promise<void>;
  clear: () => void;

  file: Chosen | null;
  /** Where the restored vault goes: null is this workstation's vault file (only when none is there yet). */
  target: Chosen | null;
  restoring: boolean;
  restoreError: ApiError | null;
  chooseFile: () => Promise<void>;
  chooseTarget: () => Promise<void>;
  /** Restores with the backed-up vault's passphrase; true once the restored vault is open. */
  restoreWithPassphrase: (passphrase: string) => Promise<boolean>;
  /** Restores with a token keyslot of the backup: null once open, else the error (for the PIN prompt). */
  restoreWithToken: (serial: string, pin: string | null, allowFinalTry: boolean) => Promise<ApiError | null>;
  resetRestore: () => void;
}>;

async function choose(kind: 'open', purpose: OpenPurpose): Promise<Chosen | ApiError | null>;
async function choose(kind: 'save', purpose: SavePurpose, suggestedName: string): Promise<Chosen | ApiError | null>;
async function choose(kind: 'open' | 'save', purpose: string, suggestedName?: string): Promise<Chosen | ApiError | null> {
  const r = kind === 'open'
    ? await call((api) => api.dialogOpen({ purpose: purpose as OpenPurpose }))
    : await call((api) => api.dialogSave({ purpose: purpose as SavePurpose, suggestedName: suggestedName ?? 'file' }));
  if (!r.ok) return r.error;
  return r.value.cancelled ? null : { handle: r.value.handle, name: r.value.name, path: r.value.path };
}

function isError(x: Chosen | ApiError): x is ApiError {
  return 'code' in x;
}

const NO_FILE: ApiError = { code: 'INVALID_INPUT', message: 'Choose the backup file first.' };

export const useBackup = create<BackupState>()((set, get) => ({
  status: 'idle',
  result: null,
  error: null,

  backUp: async () => {
    set({ status: 'running', error: null, result: null });
    const out = await choose('save', 'backup', `keyhold-backup-${today()}.khbackup`);
    if (out === null) {
      set({ status: 'idle' });
      return;
    }
    if (isError(out)) {
      set({ status: 'error', error: out });
      return;
    }
    const r = await call((api) => api.vaultBackup({ out: out.handle }));
    if (!r.ok) {
      set({ status: 'error', error: r.error });
      return;
    }
    set({ status: 'done', result: r.value });
    useUi.getState().announce(`Backup saved to ${r.value.path}`);
  },

  clear: () => set({ status: 'idle', result: null, error: null }),

  file: null,
  target: null,
  restoring: false,
  restoreError: null,

  chooseFile: async () => {
    const f = await choose('open', 'backup');
    if (f === null) return;
    if (isError(f)) set({ restoreError: f });
    else set({ file: f, restoreError: null });
  },

  chooseTarget: async () => {
    const f = await choose('save', 'vault', `keyhold-restored-${today()}.db`);
    if (f === null) return;
    if (isError(f)) set({ restoreError: f });
    else set({ target: f, restoreError: null });
  },

  restoreWithPassphrase: async (passphrase) => {
    const { file, target } = get();
    if (!file) {
      set({ restoreError: NO_FILE });
      return false;
    }
    set({ restoring: true, restoreError: null });
    const r = await call((api) => api.vaultRestore({ file: file.handle, ...(target ? { target: target.handle } : {}), passphrase }));
    return finish(r.ok ? r.value : null, r.ok ? null : r.error);
  },

  restoreWithToken: async (serial, pin, allowFinalTry) => {
    const { file, target } = get();
    if (!file) return NO_FILE;
    set({ restoring: true, restoreError: null });
    const r = await call((api) => api.vaultRestore({
      file: file.handle, ...(target ? { target: target.handle } : {}), unlock: 'token', token: serial, ...pinFields(pin, allowFinalTry),
    }));
    finish(r.ok ? r.value : null, null);
    if (!r.ok) set({ restoring: false });
    return r.ok ? null : r.error;
  },

  resetRestore: () => set({ file: null, target: null, restoring: false, restoreError: null }),
}));

/** After a restore: the restored vault is open (the session moves on), or the error stays for the form. */
function finish(value: RestoreResult | null, error: ApiError | null): boolean {
  if (!value) {
    useBackup.setState({ restoring: false, restoreError: error });
    return false;
  }
  // The handles were spent: a further restore chooses its files again.
  useBackup.setState({ restoring: false, restoreError: null, file: null, target: null });
  const { restoredFrom } = value;
  useSession.getState().opened(value, `Vault restored from ${restoredFrom.file} and unlocked.`);
  return true;
}
