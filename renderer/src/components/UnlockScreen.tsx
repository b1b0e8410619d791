/** Unlock with the passphrase; a wrong one says so and lets the user try again. */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useSession } from '../stores/session';
import { ErrorBlock, ScreenTitle } from './common';

export function UnlockScreen() {
  const { busy, actionError, lockReason, env } = useSession(
    useShallow((s) => ({ busy: s.busy, actionError: s.actionError, lockReason: s.lockReason, env: s.env })),
  );
  const unlock = useSession((s) => s.unlock);
  const [passphrase, setPassphrase] = useState('');
  const [empty, setEmpty] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const id = useId();

  useEffect(function focusPassphrase() {
    input.current?.focus();
  }, []);

  async function onSubmit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    if (passphrase.length === 0) {
      setEmpty(true);
      input.current?.focus();
      return;
    }
    setEmpty(false);
    const ok = await unlock(passphrase);
    // Whatever the outcome, the passphrase does not stay in the page.
    setPassphrase('');
    if (!ok) input.current?.focus();
  }

  const wrong = actionError?.code === 'WRONG_PASSPHRASE';
  return (
    <main className="screen narrow" data-screen="unlock" aria-busy={busy}>
      <ScreenTitle focus={false}>Unlock the vault</ScreenTitle>
      {lockReason === 'idle' ? (
        <p className="notice" data-testid="idle-notice">
          The vault locked itself after {env?.settings.autoLockMinutes ?? ''} minutes without activity.
        </p>
      ) : null}
      <form noValidate onSubmit={(e) => void onSubmit(e)} className="form">
        <div className="field">
          <label htmlFor={`${id}-pass`}>Passphrase</label>
          <input
            id={`${id}-pass`}
            ref={input}
            type="password"
            autoComplete="current-password"
            value={passphrase}
            onChange={(e) => setPassphrase(e.target.value)}
            aria-invalid={empty || wrong ? true : undefined}
            aria-describedby={empty ? `${id}-empty` : wrong ? 'unlock-error' : undefined}
            data-testid="passphrase"
          />
          {empty ? (
            <p className="field-error" id={`${id}-empty`}>
              Type the vault&apos;s passphrase.
            </p>
          ) : null}
        </div>
        {actionError ? (
          <div id="unlock-error" data-testid="unlock-error">
            <ErrorBlock error={actionError} title={wrong ? 'Wrong passphrase' : 'The vault did not unlock'} />
          </div>
        ) : null}
        <button type="submit" className="button primary" disabled={busy} data-testid="unlock">
          {busy ? 'Unlocking…' : 'Unlock'}
        </button>
      </form>
    </main>
  );
}
