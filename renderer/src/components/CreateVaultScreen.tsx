/** First run: choose a passphrase (twice) for a new vault; its strength is shown as it is typed. */
import { useId, useState, type FormEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { MIN_NEW_PASSPHRASE, newPassphraseSchema } from '../../../shared/contract';
import { passphraseStrength } from '../format';
import { useSession } from '../stores/session';
import { ErrorBlock, ScreenTitle } from './common';

export function CreateVaultScreen() {
  const { busy, actionError, env } = useSession(useShallow((s) => ({ busy: s.busy, actionError: s.actionError, env: s.env })));
  const createVault = useSession((s) => s.createVault);
  const [passphrase, setPassphrase] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<{ passphrase?: string; confirm?: string }>({});
  const id = useId();
  const strength = passphraseStrength(passphrase, MIN_NEW_PASSPHRASE);

  async function onSubmit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    const next: { passphrase?: string; confirm?: string } = {};
    const r = newPassphraseSchema.safeParse(passphrase);
    if (!r.success) next.passphrase = r.error.issues[0]?.message ?? 'passphrase is not valid';
    if (confirm !== passphrase) next.confirm = 'the two passphrases differ';
    setErrors(next);
    if (next.passphrase) return document.getElementById(`${id}-pass`)?.focus();
    if (next.confirm) return document.getElementById(`${id}-confirm`)?.focus();
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
        characters; a few unrelated words are strong and easy to type.
      </p>
      {env ? <p className="hint">Vault file: <code>{env.vault.path}</code></p> : null}
      <form noValidate onSubmit={(e) => void onSubmit(e)} className="form">
        <div className="field">
          <label htmlFor={`${id}-pass`}>Passphrase</label>
          <input
            id={`${id}-pass`}
            type="password"
            autoComplete="new-password"
            value={passphrase}
            onChange={(e) => setPassphrase(e.target.value)}
            aria-invalid={errors.passphrase ? true : undefined}
            aria-describedby={`${id}-strength${errors.passphrase ? ` ${id}-pass-error` : ''}`}
            autoFocus
            data-testid="new-passphrase"
          />
          <div className="strength" id={`${id}-strength`}>
            <meter min={0} max={4} low={2} high={3} optimum={4} value={strength.score} aria-label="Passphrase strength" />
            <span data-testid="strength-label">Strength: {strength.label}</span>
          </div>
          {errors.passphrase ? (
            <p className="field-error" id={`${id}-pass-error`}>
              {errors.passphrase}
            </p>
          ) : null}
        </div>
        <div className="field">
          <label htmlFor={`${id}-confirm`}>Passphrase again</label>
          <input
            id={`${id}-confirm`}
            type="password"
            autoComplete="new-password"
            value={confirm}
            onChange={(e) => setConfirm(e.target.value)}
            aria-invalid={errors.confirm ? true : undefined}
            aria-describedby={errors.confirm ? `${id}-confirm-error` : undefined}
            data-testid="confirm-passphrase"
          />
          {errors.confirm ? (
            <p className="field-error" id={`${id}-confirm-error`}>
              {errors.confirm}
            </p>
          ) : null}
        </div>
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
    </main>
  );
}
