/**
 * Asking for a token's PIN, with the rules of docs/tokens.md 3 kept in the UI
 * (every screen that logs in to a token uses this: unlock, tokens, keyslots,
 * bundle signing):
 *
 * - the PIN is for ONE token, named in the field's label; the caller sends it
 *   to that token only (name it by serial in the command's `token`);
 * - the token's PIN state is shown before the PIN is typed (PinBadge) and read
 *   again right before the PIN is sent (`recheck`);
 * - a locked PIN is refused here with the reason: no field, no call;
 * - the final try is spent only after an explicit confirmation in a modal
 *   dialog; only then is `allowFinalTry` true;
 * - the PIN lives in this component's state only: it is passed to `onSubmit`
 *   and cleared from the field whatever the outcome. Never put it in a store.
 *
 * API:
 *
 *   <PinPrompt
 *     token={info}                         // TokenInfo (shared/contract.ts), the latest the caller has
 *     purpose="unlock the vault"           // completes "PIN for 'card' (serial …) to <purpose>"
 *     submitLabel="Unlock"                 // the button; busyLabel ("Unlocking…") while the call runs
 *     onSubmit={(pin, allowFinalTry) => store.run({ token: info.serial, pin: pin ?? undefined, allowFinalTry })}
 *                                          // resolves null on success, or the ApiError (shown here, field cleared);
 *                                          // pin is null where Keyhold takes no PIN (no login needed, PIN pad)
 *     recheck={() => store.recheck(info.serial)}  // optional: re-reads the token (tokenList), updating the
 *                                          // caller's store too; resolves the fresh TokenInfo or null if gone
 *     validate={() => boolean}             // optional: checks the caller's own fields (children) first
 *     onCancel={() => …}                   // optional: shows a Cancel button
 *     testId="unlock"                      // data-testids: <testId>-pin, -submit, -cancel, -pin-state,
 *   >                                      //   -final-dialog, -final-confirm, -final-cancel, -refused
 *     {extra fields, rendered in the same form above the PIN}
 *   </PinPrompt>
 *
 * Remount it (React `key={token.serial}`) when the token changes, so no PIN
 * typed for one token is ever submitted for another.
 */
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import type { TokenInfo } from '../../../shared/contract';
import type { ApiError } from '../api';
import { ErrorBlock } from './common';

export type PinState = 'empty' | 'ok' | 'count-low' | 'final-try' | 'locked';

/** A token's PIN state as the UI names it; an uninitialised slot has none. */
export function pinState(token: Pick<TokenInfo, 'empty' | 'pin'>): PinState {
  if (token.empty || token.pin === null) return 'empty';
  if (token.pin.locked) return 'locked';
  if (token.pin.finalTry) return 'final-try';
  if (token.pin.countLow) return 'count-low';
  return 'ok';
}

const BADGE_TEXT: Readonly<Record<PinState, string>> = {
  empty: 'no PIN (uninitialised)',
  ok: 'PIN ok',
  'count-low': 'PIN: count low',
  'final-try': 'PIN: final try',
  locked: 'PIN locked',
};

/** What each state means for the person about to type a PIN. */
export const PIN_STATE_TEXT: Readonly<Record<PinState, string>> = {
  empty: 'This slot holds no initialised token: it has no PIN and no keys.',
  ok: 'The token does not report a low number of PIN tries left.',
  'count-low': 'The token reports a low number of PIN tries left. Make sure of the PIN before you type it.',
  'final-try': 'One PIN try is left: a wrong PIN now locks the token. You will be asked to confirm before it is tried.',
  locked:
    'The user PIN is locked. Keyhold will not try it. The token\'s security officer must unblock it with the security officer PIN (PUK) using the vendor\'s tool.',
};

/** "'card' (serial 4864…)", how messages name a token. */
export function tokenName(token: Pick<TokenInfo, 'label' | 'serial' | 'empty'>): string {
  return token.empty ? 'the uninitialised slot' : `'${token.label}' (serial ${token.serial})`;
}

/** The PIN state as a badge: text and colour, never colour alone. */
export function PinBadge({ token, testId }: { token: Pick<TokenInfo, 'empty' | 'pin'>; testId?: string }) {
  const state = pinState(token);
  return (
    <span className={`badge pin-${state}`} data-testid={testId} data-pin-state={state}>
      {BADGE_TEXT[state]}
      {token.pin?.toBeChanged ? ', to be changed' : ''}
    </span>
  );
}

export type PinPromptProps = Readonly<{
  token: TokenInfo;
  purpose: string;
  submitLabel: string;
  busyLabel?: string;
  onSubmit: (pin: string | null, allowFinalTry: boolean) => Promise<ApiError | null>;
  recheck?: () => Promise<TokenInfo | null>;
  validate?: () => boolean;
  onCancel?: () => void;
  children?: ReactNode;
  testId?: string;
  autoFocus?: boolean;
}>;

const GONE: ApiError = {
  code: 'TOKEN_NOT_FOUND',
  message: 'The token is no longer present.',
  hint: 'Insert it again; it shows up here by itself.',
};

/** Whether Keyhold gives this token a PIN at all (a PIN pad, or no login needed: it does not). */
function takesPin(token: TokenInfo): boolean {
  return token.flags.loginRequired && !token.flags.protectedAuthenticationPath;
}

export function PinPrompt(props: PinPromptProps) {
  const { token, purpose, submitLabel, busyLabel, onSubmit, recheck, validate, onCancel, children, autoFocus = true } = props;
  const t = props.testId ?? 'pin';
  const id = useId();
  const [pin, setPin] = useState('');
  const [busy, setBusy] = useState(false);
  const [emptyPin, setEmptyPin] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  /** The fresh token read at submit: its state decides, even before the caller's store re-renders us. */
  const [fresh, setFresh] = useState<TokenInfo | null>(null);
  const [confirming, setConfirming] = useState(false);
  const field = useRef<HTMLInputElement>(null);
  const dialog = useRef<HTMLDialogElement>(null);
  const confirmed = useRef(false);
  const shown = fresh ?? token;
  const state = pinState(shown);
  const needsPin = takesPin(shown);

  // A newer token description from the caller replaces the one read at submit.
  useEffect(
    function followProp() {
      setFresh(null);
    },
    [token],
  );

  useEffect(
    function openDialog() {
      const d = dialog.current;
      if (confirming && d && !d.open) d.showModal();
    },
    [confirming],
  );

  async function send(allowFinalTry: boolean): Promise<void> {
    const given = needsPin ? pin : null;
    setBusy(true);
    let failed: ApiError | null;
    try {
      failed = await onSubmit(given, allowFinalTry);
    } finally {
      // Whatever the outcome, the PIN does not stay in the page.
      setPin('');
      setBusy(false);
    }
    setError(failed);
    if (failed) {
      // The token counted a try (or changed): show its state now.
      if (recheck) setFresh(await recheck());
      field.current?.focus();
    }
  }

  async function onFormSubmit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    if (busy) return;
    if (validate && !validate()) return;
    if (needsPin && pin.length === 0) {
      setEmptyPin(true);
      field.current?.focus();
      return;
    }
    setEmptyPin(false);
    setError(null);
    let now: TokenInfo = shown;
    if (recheck) {
      setBusy(true);
      const got = await recheck();
      setBusy(false);
      if (!got) {
        setPin('');
        setError(GONE);
        return;
      }
      now = got;
      setFresh(got);
    }
    const s = pinState(now);
    if (s === 'locked' || s === 'empty') {
      // Refused here: no login is attempted. The reason shows in place of the field.
      setPin('');
      return;
    }
    if (s === 'final-try' && takesPin(now)) {
      setConfirming(true);
      return;
    }
    await send(false);
  }

  /** Cancel or Esc: the try is kept and the PIN typed goes (the person checks it first). */
  function onDialogClose(): void {
    if (!confirmed.current) setPin('');
    confirmed.current = false;
    setConfirming(false);
  }

  async function confirmFinal(): Promise<void> {
    confirmed.current = true;
    dialog.current?.close();
    await send(true);
  }

  const describedBy = [`${id}-state`, emptyPin ? `${id}-empty` : null, error ? `${id}-error` : null].filter(Boolean).join(' ');

  if (state === 'locked' || state === 'empty') {
    return (
      <div className="pin-prompt" data-testid={`${t}-refused`} data-pin-state={state}>
        <div className="error-block" role="alert">
          <p className="error-title">
            {state === 'locked' ? `The PIN of ${tokenName(shown)} is locked` : 'This slot holds no token'}
          </p>
          <p>{PIN_STATE_TEXT[state]}</p>
          <p>Nothing was sent to the token.</p>
        </div>
        {onCancel ? (
          <div className="actions">
            <button type="button" className="button" onClick={onCancel} data-testid={`${t}-cancel`}>
              Close
            </button>
          </div>
        ) : null}
      </div>
    );
  }

  return (
    <form noValidate className="form pin-prompt" onSubmit={(e) => void onFormSubmit(e)} aria-busy={busy}>
      {children}
      <div className="field">
        {needsPin ? (
          <>
            <label htmlFor={`${id}-pin`}>
              PIN for {tokenName(shown)} to {purpose}
            </label>
            <input
              id={`${id}-pin`}
              ref={field}
              type="password"
              inputMode="numeric"
              autoComplete="off"
              spellCheck={false}
              value={pin}
              onChange={(e) => setPin(e.target.value)}
              aria-invalid={emptyPin || error?.code === 'TOKEN_PIN_INCORRECT' ? true : undefined}
              aria-describedby={describedBy}
              autoFocus={autoFocus}
              maxLength={255}
              data-testid={`${t}-pin`}
            />
          </>
        ) : (
          <p className="hint">
            {shown.flags.protectedAuthenticationPath
              ? `Enter the PIN for ${tokenName(shown)} on the reader's keypad when it asks.`
              : `${tokenName(shown)} needs no PIN.`}
          </p>
        )}
        <p className={`pin-state pin-state-${state}`} id={`${id}-state`} data-testid={`${t}-pin-state`} data-pin-state={state}>
          <PinBadge token={shown} /> {PIN_STATE_TEXT[state]}
        </p>
        {emptyPin ? (
          <p className="field-error" id={`${id}-empty`}>
            Type the token&apos;s PIN.
          </p>
        ) : null}
      </div>
      {error ? (
        <div id={`${id}-error`} data-testid={`${t}-error`}>
          <ErrorBlock error={error} title={errorTitle(error)} />
        </div>
      ) : null}
      <div className="actions">
        <button
          type="submit"
          className={`button primary${state === 'final-try' ? ' danger' : ''}`}
          disabled={busy}
          data-testid={`${t}-submit`}
        >
          {busy ? (busyLabel ?? 'Working…') : state === 'final-try' ? `${submitLabel} (final try)…` : submitLabel}
        </button>
        {onCancel ? (
          <button type="button" className="button" onClick={onCancel} disabled={busy} data-testid={`${t}-cancel`}>
            Cancel
          </button>
        ) : null}
      </div>
      {confirming ? (
        <dialog
          ref={dialog}
          className="dialog"
          aria-labelledby={`${id}-final-title`}
          aria-describedby={`${id}-final-text`}
          onClose={onDialogClose}
          data-testid={`${t}-final-dialog`}
        >
          <h2 id={`${id}-final-title`}>Spend the final PIN try?</h2>
          <div id={`${id}-final-text`}>
            <p>
              {tokenName(shown)} has <strong>one PIN try left</strong>. If the PIN you typed is wrong, the token locks and
              only its security officer can unblock it.
            </p>
            <p>Nothing has been sent to the token yet. If you are not sure of the PIN, cancel and check it first.</p>
          </div>
          <div className="actions">
            <button type="button" className="button" onClick={() => dialog.current?.close()} autoFocus data-testid={`${t}-final-cancel`}>
              Cancel, keep the try
            </button>
            <button type="button" className="button danger" onClick={() => void confirmFinal()} data-testid={`${t}-final-confirm`}>
              Spend the final try
            </button>
          </div>
        </dialog>
      ) : null}
    </form>
  );
}

function errorTitle(e: ApiError): string {
  switch (e.code) {
    case 'TOKEN_PIN_INCORRECT':
      return 'Wrong PIN';
    case 'TOKEN_PIN_LOCKED':
      return 'The PIN is locked';
    case 'TOKEN_PIN_FINAL_TRY':
      return 'One PIN try left';
    case 'TOKEN_NOT_FOUND':
      return 'The token is not present';
    case 'KEYSLOT_NOT_FOUND':
      return 'No keyslot of this vault belongs to this token';
    default:
      return 'That did not work';
  }
}
