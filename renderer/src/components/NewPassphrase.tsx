/**
 * A new passphrase, typed twice: every place that sets one (create vault, add a
 * passphrase keyslot, change the passphrase) uses this one component.
 *
 * - Strength: zxcvbn's estimate (shared/strength.ts), the same the core
 *   enforces, as a meter with its label, warning and suggestions. zxcvbn and
 *   its dictionaries are a separate chunk, fetched when a field first gets
 *   focus; until then the meter says it is checking.
 * - Show/hide: one toggle (aria-pressed) for both fields.
 * - Caps Lock: a warning while it is on (KeyboardEvent.getModifierState).
 *
 * The passphrase stays in the caller's component state; nothing here keeps it.
 * `checkNewPassphrase` is the same rule for the caller's submit.
 */
import { useEffect, useId, useState, type KeyboardEvent } from 'react';
import { MIN_NEW_PASSPHRASE, newPassphraseSchema } from '../../../shared/contract';
import { loadStrengthEstimator, MIN_STRENGTH_SCORE, STRENGTH_LABELS, type Strength, type StrengthEstimator } from '../../../shared/strength';

/** The estimator once loaded, shared by every field of the page. */
let loaded: StrengthEstimator | null = null;

function useEstimator(): { estimator: StrengthEstimator | null; failed: boolean; load: () => void } {
  // A function in useState is taken as its initialiser: wrap the estimator so it is stored, not called.
  const [estimator, setEstimator] = useState<StrengthEstimator | null>(() => loaded);
  const [failed, setFailed] = useState(false);
  const [wanted, setWanted] = useState(false);
  useEffect(
    function loadWhenWanted() {
      if (!wanted || estimator) return;
      let live = true;
      loadStrengthEstimator().then(
        (e) => {
          loaded = e;
          if (live) setEstimator(() => e);
        },
        () => {
          if (live) setFailed(true);
        },
      );
      return () => {
        live = false;
      };
    },
    [wanted, estimator],
  );
  return { estimator, failed, load: () => setWanted(true) };
}

/**
 * What is wrong with a new passphrase for the form to show, or null when it
 * passes: the contract's length rule, then the strength minimum (waiting for
 * the estimator; if it cannot load, the core still checks).
 */
export async function checkNewPassphrase(passphrase: string): Promise<string | null> {
  const r = newPassphraseSchema.safeParse(passphrase);
  if (!r.success) return r.error.issues[0]?.message ?? 'the passphrase is not valid';
  let estimate: StrengthEstimator;
  try {
    estimate = loaded ?? (await loadStrengthEstimator());
  } catch {
    return null;
  }
  const s = estimate(passphrase);
  if (s.acceptable) return null;
  return `the passphrase is too easy to guess (${s.label}); it must be at least ${STRENGTH_LABELS[MIN_STRENGTH_SCORE]}. The tips below the field say why.`;
}

export type NewPassphraseProps = Readonly<{
  value: string;
  onChange: (value: string) => void;
  confirm: string;
  onConfirmChange: (value: string) => void;
  errors: Readonly<{ passphrase?: string | undefined; confirm?: string | undefined }>;
  /** The first field's label ("Passphrase", "New passphrase"). */
  label?: string;
  autoFocus?: boolean;
  /** Ids for the caller to focus a field with an error. */
  ids?: Readonly<{ passphrase: string; confirm: string }>;
}>;

export function NewPassphrase(props: NewPassphraseProps) {
  const { value, onChange, confirm, onConfirmChange, errors, label = 'Passphrase', autoFocus = false } = props;
  const id = useId();
  const passId = props.ids?.passphrase ?? `${id}-pass`;
  const confirmId = props.ids?.confirm ?? `${id}-confirm`;
  const [shown, setShown] = useState(false);
  const [caps, setCaps] = useState(false);
  const { estimator, failed, load } = useEstimator();

  const strength: Strength | null = value.length === 0 ? null : estimator ? estimator(value) : null;
  const tooShort = value.length > 0 && value.length < MIN_NEW_PASSPHRASE;
  const labelText =
    value.length === 0
      ? 'type a passphrase'
      : tooShort
        ? `too short (at least ${MIN_NEW_PASSPHRASE} characters)`
        : strength
          ? strength.label
          : failed
            ? 'cannot be estimated here (the vault checks it when you save)'
            : 'checking…';
  const score = strength?.score ?? 0;
  const level = value.length === 0 ? 'none' : strength ? (strength.acceptable ? 'ok' : 'weak') : tooShort ? 'weak' : 'none';

  function onKey(e: KeyboardEvent<HTMLInputElement>): void {
    setCaps(e.getModifierState('CapsLock'));
  }

  const passDescribed = [`${id}-strength`, caps ? `${id}-caps` : null, errors.passphrase ? `${passId}-error` : null]
    .filter(Boolean)
    .join(' ');
  const confirmDescribed = [caps ? `${id}-caps` : null, errors.confirm ? `${confirmId}-error` : null].filter(Boolean).join(' ');

  return (
    <div className="new-passphrase" data-testid="new-passphrase-group">
      <div className="field">
        <label htmlFor={passId}>{label}</label>
        <div className="passphrase-row">
          <input
            id={passId}
            type={shown ? 'text' : 'password'}
            autoComplete="new-password"
            spellCheck={false}
            autoCapitalize="off"
            value={value}
            onChange={(e) => {
              load();
              onChange(e.target.value);
            }}
            onFocus={load}
            onKeyDown={onKey}
            onKeyUp={onKey}
            aria-invalid={errors.passphrase ? true : undefined}
            aria-describedby={passDescribed}
            autoFocus={autoFocus}
            data-testid="new-passphrase"
          />
          <button
            type="button"
            className="button toggle-shown"
            aria-pressed={shown}
            onClick={() => setShown((s) => !s)}
            data-testid="show-passphrase"
          >
            Show passphrase
          </button>
        </div>
        {caps ? (
          <p className="caps-warning" id={`${id}-caps`} role="status" data-testid="caps-lock">
            Caps Lock is on.
          </p>
        ) : null}
        <div className="strength" id={`${id}-strength`} data-testid="strength" data-score={strength ? score : ''} data-level={level}>
          <div className="strength-line">
            <meter
              min={0}
              max={4}
              low={MIN_STRENGTH_SCORE - 0.5}
              high={MIN_STRENGTH_SCORE + 0.5}
              optimum={4}
              value={tooShort ? 0 : score}
              aria-label="Passphrase strength"
              aria-valuetext={labelText}
              data-testid="strength-meter"
            />
            <span data-testid="strength-label">Strength: {labelText}</span>
          </div>
          {strength && !tooShort && (strength.warning || (!strength.acceptable && strength.suggestions.length > 0)) ? (
            <div className="strength-feedback">
              {strength.warning ? (
                <p className="strength-warning" data-testid="strength-warning">
                  {strength.warning}
                </p>
              ) : null}
              {!strength.acceptable && strength.suggestions.length > 0 ? (
                <ul className="strength-suggestions" data-testid="strength-suggestions">
                  {strength.suggestions.map((s) => (
                    <li key={s}>{s}</li>
                  ))}
                </ul>
              ) : null}
            </div>
          ) : null}
        </div>
        {errors.passphrase ? (
          <p className="field-error" id={`${passId}-error`}>
            {errors.passphrase}
          </p>
        ) : null}
      </div>
      <div className="field">
        <label htmlFor={confirmId}>{label} again</label>
        <input
          id={confirmId}
          type={shown ? 'text' : 'password'}
          autoComplete="new-password"
          spellCheck={false}
          autoCapitalize="off"
          value={confirm}
          onChange={(e) => onConfirmChange(e.target.value)}
          onKeyDown={onKey}
          onKeyUp={onKey}
          aria-invalid={errors.confirm ? true : undefined}
          aria-describedby={confirmDescribed || undefined}
          data-testid="confirm-passphrase"
        />
        {errors.confirm ? (
          <p className="field-error" id={`${confirmId}-error`}>
            {errors.confirm}
          </p>
        ) : null}
      </div>
    </div>
  );
}
