/**
 * Unlock with the passphrase, with a token and its PIN, or by a quorum of
 * custodians (QuorumUnlock.tsx).
 *
 * Which keyslots a locked vault has is not known before it opens (their list
 * is read once unlocked), so both methods are offered; the one that last
 * opened the vault on this workstation is preselected (a preference, not a
 * secret, kept in localStorage). A vault with token keyslots only opens with
 * "Token".
 *
 * Token: the custodian picks one of the tokens present (updated live from
 * `tokens.changed`), sees its PIN state before typing, and the PinPrompt keeps
 * the PIN rules (locked refused, final try only after a confirmation).
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { ApiError } from '../api';
import { useLiveTokens } from '../useLiveTokens';
import { useSession } from '../stores/session';
import { useTokens } from '../stores/tokens';
import { ErrorBlock, Loading, ScreenTitle } from './common';
import { PinBadge, PinPrompt } from './PinPrompt';
import { RestoreFromBackup } from '../screens/backup/RestoreFromBackup';
import { QuorumUnlock } from './QuorumUnlock';
import { isRollbackRefusal, RollbackNotice } from './RollbackNotice';

type Method = 'passphrase' | 'token' | 'quorum';

const METHOD_KEY = 'keyhold.unlockMethod';

function rememberedMethod(): Method {
  try {
    const m = globalThis.localStorage?.getItem(METHOD_KEY);
    return m === 'token' || m === 'quorum' ? m : 'passphrase';
  } catch {
    return 'passphrase';
  }
}

function remember(method: Method): void {
  try {
    globalThis.localStorage?.setItem(METHOD_KEY, method);
  } catch {
    // Storage refused: the passphrase stays the default.
  }
}

export function UnlockScreen() {
  const { busy, lockReason, env } = useSession(useShallow((s) => ({ busy: s.busy, lockReason: s.lockReason, env: s.env })));
  const [method, setMethod] = useState<Method>(rememberedMethod);
  const id = useId();

  return (
    <main className="screen narrow" data-screen="unlock" aria-busy={busy}>
      <ScreenTitle focus={false}>Unlock the vault</ScreenTitle>
      {lockReason === 'idle' ? (
        <p className="notice" data-testid="idle-notice">
          The vault locked itself after {env?.settings.autoLockMinutes ?? ''} minutes without activity.
        </p>
      ) : lockReason === 'airgap' ? (
        <p className="notice" data-testid="airgap-lock-notice" role="alert">
          The vault locked because a network interface came up, and this vault may only be open while the
          workstation is offline. Disconnect it, then unlock again.
        </p>
      ) : null}
      <fieldset className="method-switch" aria-describedby={`${id}-methods`}>
        <legend>Unlock with</legend>
        {(['passphrase', 'token', 'quorum'] as const).map((m) => (
          <label key={m} className={`method-option${method === m ? ' checked' : ''}`}>
            <input
              type="radio"
              name={`${id}-method`}
              value={m}
              checked={method === m}
              onChange={() => setMethod(m)}
              data-testid={`method-${m}`}
            />
            {m === 'passphrase' ? 'Passphrase' : m === 'token' ? 'Token and PIN' : 'Quorum of custodians'}
          </label>
        ))}
      </fieldset>
      <p className="hint" id={`${id}-methods`}>
        A vault opens with any of its keyslots: a passphrase, a token (smartcard, USB key) with its PIN, or a quorum of custodians
        each giving their share.
      </p>
      {method === 'passphrase' ? <PassphraseUnlock /> : method === 'token' ? <TokenUnlock /> : <QuorumUnlock onUnlocked={() => remember('quorum')} />}
      <RestoreFromBackup target="choose" />
    </main>
  );
}

function PassphraseUnlock() {
  const { busy, actionError } = useSession(useShallow((s) => ({ busy: s.busy, actionError: s.actionError })));
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
    if (ok) remember('passphrase');
    else input.current?.focus();
  }

  const wrong = actionError?.code === 'WRONG_PASSPHRASE';
  return (
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
  );
}

function TokenUnlock() {
  const { tokens, loading, error } = useTokens(useShallow((s) => ({ tokens: s.tokens, loading: s.loading, error: s.error })));
  const load = useTokens((s) => s.load);
  const recheck = useTokens((s) => s.recheck);
  const unlockToken = useSession((s) => s.unlockToken);
  const lock = useSession((s) => s.lock);
  const busy = useSession((s) => s.busy);
  const [chosen, setChosen] = useState<string | null>(null);
  /** An unlock the token's rollback record refused: the token stays logged in for the override until Cancel. */
  const [refused, setRefused] = useState<{ error: ApiError; serial: string; allowFinalTry: boolean } | null>(null);
  const id = useId();

  useLiveTokens();

  const present = tokens?.filter((t) => !t.empty) ?? [];
  const emptySlots = tokens ? tokens.length - present.length : 0;
  // One token present: it is the one. Several: the custodian picks.
  const selected = present.find((t) => t.serial === chosen) ?? (present.length === 1 ? present[0] : undefined);

  async function submit(serial: string, pin: string | null, allowFinalTry: boolean) {
    const failed = await unlockToken(serial, pin, allowFinalTry);
    if (!failed) remember('token');
    if (isRollbackRefusal(failed)) {
      setRefused({ error: failed, serial, allowFinalTry });
      return null;
    }
    return failed;
  }

  if (refused) {
    return (
      <RollbackNotice
        error={refused.error}
        busy={busy}
        onOverride={async (reason) => {
          const failed = await unlockToken(refused.serial, null, refused.allowFinalTry, { reason });
          if (!failed) remember('token');
          return failed;
        }}
        onCancel={() => {
          setRefused(null);
          // Logs the token out: it stayed logged in for the override.
          void lock();
        }}
      />
    );
  }

  if (tokens === null) {
    if (error) {
      return (
        <ErrorBlock error={error} title="Tokens cannot be read">
          <button type="button" className="button" onClick={() => void load()} data-testid="tokens-retry">
            Try again
          </button>
        </ErrorBlock>
      );
    }
    return <Loading label="Looking for tokens…" />;
  }

  return (
    <div className="token-unlock" data-testid="token-unlock">
      {present.length === 0 ? (
        <div className="empty" data-testid="no-tokens">
          <p>
            No token is present{emptySlots > 0 ? ` (only ${emptySlots === 1 ? 'an uninitialised slot' : `${emptySlots} uninitialised slots`})` : ''}.
            Insert the token that holds the vault&apos;s keyslot: it shows up here by itself.
          </p>
        </div>
      ) : (
        <fieldset className="token-choice">
          <legend>Token</legend>
          {present.map((t) => (
            <label key={`${t.module}|${t.slot}`} className={`token-option${selected?.serial === t.serial ? ' checked' : ''}`}>
              <input
                type="radio"
                name={`${id}-token`}
                value={t.serial}
                checked={selected?.serial === t.serial}
                onChange={() => setChosen(t.serial)}
                data-testid={`token-option-${t.serial}`}
              />
              <span className="token-option-text">
                <span className="token-label">{t.label}</span>
                <span className="hint">
                  {[t.manufacturer, t.model].filter(Boolean).join(' ')} · serial {t.serial}
                </span>
              </span>
              <PinBadge token={t} testId={`token-pin-${t.serial}`} />
            </label>
          ))}
          {emptySlots > 0 ? (
            <p className="hint" data-testid="empty-slots-note">
              {emptySlots === 1 ? 'One uninitialised slot is' : `${emptySlots} uninitialised slots are`} not listed: it has no PIN
              and no keys.
            </p>
          ) : null}
        </fieldset>
      )}
      <div className="actions">
        <button type="button" className="button" onClick={() => void load()} disabled={loading} data-testid="tokens-refresh">
          {loading ? 'Looking…' : 'Look again'}
        </button>
      </div>
      {error ? <ErrorBlock error={error} title="Tokens cannot be read" /> : null}
      {selected ? (
        <PinPrompt
          key={selected.serial}
          token={selected}
          purpose="unlock the vault"
          submitLabel="Unlock"
          busyLabel="Unlocking…"
          onSubmit={(pin, allowFinalTry) => submit(selected.serial, pin, allowFinalTry)}
          recheck={() => recheck(selected.serial)}
          testId="unlock-token"
        />
      ) : present.length > 1 ? (
        <p className="hint">Pick the token that holds the vault&apos;s keyslot; its PIN state shows before you type the PIN.</p>
      ) : null}
    </div>
  );
}
