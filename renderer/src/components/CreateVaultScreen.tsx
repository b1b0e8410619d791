/** First run: choose a passphrase (twice) for a new vault; its strength is shown as it is typed (NewPassphrase). */
import { useId, useState, type FormEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { MIN_NEW_PASSPHRASE } from '../../../shared/contract';
import { RestoreFromBackup } from '../screens/backup/RestoreFromBackup';
import { useSession } from '../stores/session';
import { ErrorBlock, ScreenTitle } from './common';
import { checkNewPassphrase, NewPassphrase } from './NewPassphrase';

export function CreateVaultScreen() {
  const { busy, actionError, env } = useSession(useShallow((s) => ({ busy: s.busy, actionError: s.actionError, env: s.env })));
  const createVault = useSession((s) => s.createVault);
  const [passphrase, setPassphrase] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<{ passphrase?: string; confirm?: string }>({});
  const id = useId();
  const ids = { passphrase: `${id}-pass`, confirm: `${id}-confirm` };

  async function onSubmit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    const next: { passphrase?: string; confirm?: string } = {};
    const weak = await checkNewPassphrase(passphrase);
    if (weak) next.passphrase = weak;
    if (confirm !== passphrase) next.confirm = 'the two passphrases differ';
    setErrors(next);
    if (next.passphrase) return document.getElementById(ids.passphrase)?.focus();
    if (next.confirm) return document.getElementById(ids.confirm)?.focus();
    const ok = await createVault(passphrase);
    if (ok) {
      setPassphrase('');
      setConfirm('');
    }
  }

  return (
    <main className="screen narrow" data-screen="create-vault" aria-busy={busy}>
      <ScreenTitle focus={false}>Create your vault</ScreenTitle>
      <p>
        Keys are kept encrypted in one vault file on this workstation. Choose a passphrase of at least {MIN_NEW_PASSPHRASE}{' '}
        characters that the strength meter rates at least strong; four or five unrelated words are strong and easy to type.
      </p>
      {env ? <p className="hint">Vault file: <code>{env.vault.path}</code></p> : null}
      <form noValidate onSubmit={(e) => void onSubmit(e)} className="form">
        <NewPassphrase
          value={passphrase}
          onChange={setPassphrase}
          confirm={confirm}
          onConfirmChange={setConfirm}
          errors={errors}
          ids={ids}
          autoFocus
        />
        {actionError ? <ErrorBlock error={actionError} title="The vault was not created" /> : null}
        <button type="submit" className="button primary" disabled={busy} data-testid="create-vault">
          {busy ? 'Creating the vault…' : 'Create vault'}
        </button>
        {busy ? (
          <p role="status" className="hint">
            Deriving the vault key from the passphrase; this takes a moment.
          </p>
        ) : null}
      </form>
      <p className="hint">Or bring back a vault from a backup file made with Keyhold.</p>
      <RestoreFromBackup target="workstation" />
    </main>
  );
}
