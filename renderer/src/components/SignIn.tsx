/**
 * Operators signing in: the sign-in screen shown after unlock when the vault
 * has several operators and no one is signed in, and the credential form it
 * shares with the approval dialog (components/ApprovalDialog.tsx).
 *
 * OperatorCredentialForm: pick the operator, then their own credential:
 * - a passphrase (show/hide, a Caps Lock warning), kept in this component's
 *   state only and cleared whatever the outcome;
 * - or a key on their token: the PIN in the shared PinPrompt, for the
 *   operator's registered token when the core names it (whoami.signIn), else
 *   for the token picked among those present. PIN state first, the final try
 *   only after a confirmation (PinPrompt's rules).
 */
import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent, type ReactNode } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { ApiError } from '../api';
import { useLiveTokens } from '../useLiveTokens';
import { needsSignIn, signInMethod, useAccess } from '../stores/access';
import { useOperators, type Credential } from '../stores/operators';
import { useSession } from '../stores/session';
import { useTokens } from '../stores/tokens';
import { ErrorBlock, Loading, ScreenTitle } from './common';
import { PinBadge, PinPrompt } from './PinPrompt';

type Method = 'passphrase' | 'token';

export type OperatorCredentialFormProps = Readonly<{
  /** The operators to pick from (empty: a name field). */
  names: readonly string[];
  /** completes "PIN for <token> to <purpose> as <name>" */
  purpose: string;
  submitLabel: string;
  busyLabel: string;
  onSubmit: (name: string, credential: Credential) => Promise<ApiError | null>;
  onCancel?: () => void;
  /** data-testid prefix: <t>-operator, -method-passphrase, -method-token, -passphrase, -show, -caps, -submit, -error, -cancel, -token (PinPrompt) */
  testId: string;
  /** A title for the error block when the credential is refused. */
  errorTitle?: string;
}>;

export function OperatorCredentialForm(props: OperatorCredentialFormProps) {
  const { names, testId: t } = props;
  const whoami = useAccess((s) => s.whoami);
  const id = useId();
  const [name, setName] = useState(names[0] ?? '');
  const [chosenMethod, setChosenMethod] = useState<Method>('passphrase');
  const known = name ? signInMethod(whoami, name) : null;
  const method: Method = known && known.credential !== 'none' ? known.credential : chosenMethod;

  return (
    <div className="operator-credential" data-testid={`${t}-form`}>
      <div className="field">
        <label htmlFor={`${id}-name`}>Operator</label>
        {names.length > 0 ? (
          <select id={`${id}-name`} value={name} onChange={(e) => setName(e.target.value)} data-testid={`${t}-operator`}>
            {names.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        ) : (
          <input id={`${id}-name`} value={name} onChange={(e) => setName(e.target.value)} autoComplete="username" spellCheck={false}
            data-testid={`${t}-operator`} />
        )}
      </div>
      {known?.credential === 'none' ? (
        <p className="notice" data-testid={`${t}-no-credential`}>
          {name} has no credential yet (a vault from before operators): {name} cannot sign in or approve until they set one,
          signed in in a session where they are the only operator.
        </p>
      ) : known ? (
        <p className="hint" data-testid={`${t}-method`}>
          {known.credential === 'passphrase' ? `${name} signs in with their own passphrase.` : `${name} signs in with a key on their token.`}
        </p>
      ) : (
        <fieldset className="method-switch">
          <legend>Sign in with</legend>
          {(['passphrase', 'token'] as const).map((m) => (
            <label key={m} className={`method-option${method === m ? ' checked' : ''}`}>
              <input type="radio" name={`${id}-method`} value={m} checked={method === m} onChange={() => setChosenMethod(m)}
                data-testid={`${t}-method-${m}`} />
              {m === 'passphrase' ? 'Their passphrase' : 'Their token and PIN'}
            </label>
          ))}
        </fieldset>
      )}
      {known?.credential === 'none' ? (
        props.onCancel ? (
          <div className="actions">
            <button type="button" className="button" onClick={props.onCancel} data-testid={`${t}-cancel`}>
              Cancel
            </button>
          </div>
        ) : null
      ) : method === 'passphrase' ? (
        <PassphraseCredential key={`p-${name}`} {...props} name={name} />
      ) : (
        <TokenCredential key={`t-${name}`} {...props} name={name} serial={known?.token?.serial ?? null} />
      )}
    </div>
  );
}

function PassphraseCredential(props: OperatorCredentialFormProps & { name: string }) {
  const { name, testId: t } = props;
  const id = useId();
  const [passphrase, setPassphrase] = useState('');
  const [shown, setShown] = useState(false);
  const [caps, setCaps] = useState(false);
  const [empty, setEmpty] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const input = useRef<HTMLInputElement>(null);

  function onKey(e: KeyboardEvent<HTMLInputElement>): void {
    setCaps(e.getModifierState('CapsLock'));
  }

  async function onSubmit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    if (busy) return;
    if (name.trim().length === 0 || passphrase.length === 0) {
      setEmpty(true);
      input.current?.focus();
      return;
    }
    setEmpty(false);
    setBusy(true);
    let failed: ApiError | null;
    try {
      failed = await props.onSubmit(name.trim(), { kind: 'passphrase', passphrase });
    } finally {
      // Whatever the outcome, the passphrase does not stay in the page.
      setPassphrase('');
      setBusy(false);
    }
    setError(failed);
    if (failed) input.current?.focus();
  }

  const describedBy = [caps ? `${id}-caps` : null, empty ? `${id}-empty` : null, error ? `${id}-error` : null].filter(Boolean).join(' ');
  return (
    <form noValidate className="form" onSubmit={(e) => void onSubmit(e)} aria-busy={busy}>
      <div className="field">
        <label htmlFor={`${id}-pass`}>Passphrase of {name || 'the operator'}</label>
        <div className="passphrase-row">
          <input
            id={`${id}-pass`}
            ref={input}
            type={shown ? 'text' : 'password'}
            autoComplete="current-password"
            spellCheck={false}
            autoCapitalize="off"
            value={passphrase}
            onChange={(e) => setPassphrase(e.target.value)}
            onKeyDown={onKey}
            onKeyUp={onKey}
            aria-invalid={empty || error?.code === 'OPERATOR_AUTH_FAILED' ? true : undefined}
            aria-describedby={describedBy || undefined}
            data-testid={`${t}-passphrase`}
          />
          <button type="button" className="button toggle-shown" aria-pressed={shown} onClick={() => setShown((s) => !s)}
            data-testid={`${t}-show`}>
            Show passphrase
          </button>
        </div>
        {caps ? (
          <p className="caps-warning" id={`${id}-caps`} role="status" data-testid={`${t}-caps`}>
            Caps Lock is on.
          </p>
        ) : null}
        {empty ? (
          <p className="field-error" id={`${id}-empty`}>
            {name.trim().length === 0 ? 'Type the operator\u2019s name.' : `Type the passphrase of ${name}.`}
          </p>
        ) : null}
      </div>
      {error ? (
        <div id={`${id}-error`} data-testid={`${t}-error`}>
          <ErrorBlock error={error} title={props.errorTitle ?? (error.code === 'OPERATOR_AUTH_FAILED' ? 'Wrong passphrase' : 'That did not work')} />
        </div>
      ) : null}
      <div className="actions">
        <button type="submit" className="button primary" disabled={busy} data-testid={`${t}-submit`}>
          {busy ? props.busyLabel : props.submitLabel}
        </button>
        {props.onCancel ? (
          <button type="button" className="button" onClick={props.onCancel} disabled={busy} data-testid={`${t}-cancel`}>
            Cancel
          </button>
        ) : null}
      </div>
    </form>
  );
}

function TokenCredential(props: OperatorCredentialFormProps & { name: string; serial: string | null }) {
  const { name, serial, testId: t } = props;
  const { tokens, loading, error } = useTokens(useShallow((s) => ({ tokens: s.tokens, loading: s.loading, error: s.error })));
  const load = useTokens((s) => s.load);
  const recheck = useTokens((s) => s.recheck);
  const [chosen, setChosen] = useState<string | null>(null);
  const id = useId();

  useLiveTokens();

  const present = tokens?.filter((x) => !x.empty) ?? [];
  // The operator's registered token when the core names it; else the one picked (or the only one present).
  const selected = serial !== null
    ? present.find((x) => x.serial === serial)
    : present.find((x) => x.serial === chosen) ?? (present.length === 1 ? present[0] : undefined);

  if (tokens === null) {
    return error ? <ErrorBlock error={error} title="Tokens cannot be read" /> : <Loading label="Looking for tokens…" />;
  }
  return (
    <div className="token-unlock" data-testid={`${t}-tokens`}>
      {serial !== null && !selected ? (
        <p className="notice" data-testid={`${t}-token-missing`}>
          Insert the token of {name} (serial {serial}): it shows up here by itself.
        </p>
      ) : null}
      {serial === null ? (
        present.length === 0 ? (
          <p className="notice" data-testid={`${t}-no-tokens`}>No token is present. Insert the token of {name}: it shows up here by itself.</p>
        ) : (
          <fieldset className="token-choice">
            <legend>Token of {name || 'the operator'}</legend>
            {present.map((x) => (
              <label key={`${x.module}|${x.slot}`} className={`token-option${selected?.serial === x.serial ? ' checked' : ''}`}>
                <input type="radio" name={`${id}-token`} value={x.serial} checked={selected?.serial === x.serial}
                  onChange={() => setChosen(x.serial)} data-testid={`${t}-token-${x.serial}`} />
                <span className="token-option-text">
                  <span className="token-label">{x.label}</span>
                  <span className="hint">serial {x.serial}</span>
                </span>
                <PinBadge token={x} />
              </label>
            ))}
          </fieldset>
        )
      ) : null}
      <div className="actions">
        <button type="button" className="button" onClick={() => void load()} disabled={loading} data-testid={`${t}-tokens-refresh`}>
          {loading ? 'Looking…' : 'Look again'}
        </button>
      </div>
      {selected ? (
        <PinPrompt
          key={selected.serial}
          token={selected}
          purpose={`${props.purpose} as ${name}`}
          submitLabel={props.submitLabel}
          busyLabel={props.busyLabel}
          onSubmit={(pin, allowFinalTry) => props.onSubmit(name.trim(), { kind: 'token', pin, allowFinalTry })}
          recheck={() => recheck(selected.serial)}
          {...(props.onCancel ? { onCancel: props.onCancel } : {})}
          testId={`${t}-token`}
        />
      ) : (
        <p className="hint">
          {serial === null ? `Pick the token of ${name || 'the operator'}: its PIN state shows before the PIN is typed.` : ''}
        </p>
      )}
    </div>
  );
}

/** After unlock, when the vault has several operators and no one is signed in. */
export function SignInScreen() {
  const whoami = useAccess((s) => s.whoami);
  const signIn = useOperators((s) => s.signIn);
  const lock = useSession((s) => s.lock);
  const names = whoami?.operators ?? [];
  return (
    <main className="screen narrow" data-screen="sign-in">
      <ScreenTitle>Sign in</ScreenTitle>
      <p className="hint">
        The vault is unlocked. It has {names.length} operators, each with their own roles: sign in as yourself to see what you may do.
        Everything you do is recorded in the audit log under your name.
      </p>
      <OperatorCredentialForm
        names={names}
        purpose="sign in"
        submitLabel="Sign in"
        busyLabel="Signing in…"
        onSubmit={(name, credential) => signIn(name, credential)}
        testId="sign-in"
        errorTitle="Not signed in"
      />
      <div className="actions sign-in-lock">
        <button type="button" className="button" onClick={() => void lock()} data-testid="sign-in-lock">
          Lock the vault instead
        </button>
      </div>
    </main>
  );
}

/** Whether the unlocked vault waits for a sign-in (App.tsx shows SignInScreen then). */
export function useSignInNeeded(): boolean {
  return useAccess((s) => needsSignIn(s.whoami));
}

/**
 * The unlocked vault: who is signed in is read first (any way the vault was
 * opened), then the sign-in screen when the vault asks for one, else the shell.
 */
export function Unlocked({ children }: { children: ReactNode }) {
  const { status, error } = useOperators(useShallow((s) => ({ status: s.identityStatus, error: s.identityError })));
  const loadIdentity = useOperators((s) => s.loadIdentity);
  const whoami = useAccess((s) => s.whoami);
  const signInNeeded = useSignInNeeded();
  useEffect(
    function readIdentity() {
      if (status === 'idle') void loadIdentity();
    },
    [status, loadIdentity],
  );
  if (whoami === null) {
    if (status === 'error' && error) {
      return (
        <main className="screen narrow" data-screen="identity-error">
          <h1>Keyhold</h1>
          <ErrorBlock error={error} title="Who is signed in could not be read">
            <button type="button" className="button" onClick={() => void loadIdentity()} data-testid="identity-retry">
              Try again
            </button>
          </ErrorBlock>
        </main>
      );
    }
    return (
      <main className="screen narrow" data-screen="loading">
        <h1>Keyhold</h1>
        <Loading label="Opening the vault…" />
      </main>
    );
  }
  return signInNeeded ? <SignInScreen /> : <>{children}</>;
}
