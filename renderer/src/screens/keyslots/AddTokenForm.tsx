/**
 * Add a token keyslot: pick a token present (its PIN state shown before any
 * PIN is typed), the key on it that will open the vault (an existing P-256
 * key that may derive and not sign, or a new key pair Keyhold generates on the
 * token), an optional label, then the PIN through PinPrompt (final try only
 * after confirmation, a locked PIN refused without a call).
 */
import { useEffect, useId, useState } from 'react';
import { freeText, type TokenInfo, type TokenKeyInfo } from '../../../../shared/contract';
import { ErrorBlock, Loading } from '../../components/common';
import { PinBadge, PinPrompt } from '../../components/PinPrompt';
import { useIpcEvent } from '../../events';
import { useKeyslots } from '../../stores/keyslots';

const keyLabelSchema = freeText('the key label', 64, { min: 1 });
const slotLabelSchema = freeText('the slot label', 64);
const NEW_KEY = '';
const DEFAULT_NEW_LABEL = 'keyhold-keyslot';

/** Whether the core takes this key for a keyslot (electron/core/token/keyslot.ts: P-256, derive, never sign). */
function usable(k: TokenKeyInfo): boolean {
  return k.keyType === 'EC-P256' && !k.canSign;
}

export function AddTokenForm({ onDone, onCancel }: { onDone: () => void; onCancel: () => void }) {
  const tokens = useKeyslots((s) => s.tokens);
  const tokensError = useKeyslots((s) => s.tokensError);
  const tokenKeys = useKeyslots((s) => s.tokenKeys);
  const loadTokens = useKeyslots((s) => s.loadTokens);
  const setTokens = useKeyslots((s) => s.setTokens);
  const loadTokenKeys = useKeyslots((s) => s.loadTokenKeys);
  const recheckToken = useKeyslots((s) => s.recheckToken);
  const addToken = useKeyslots((s) => s.addToken);
  const id = useId();
  const [serial, setSerial] = useState<string | null>(null);
  const [keyChoice, setKeyChoice] = useState(NEW_KEY);
  const [newLabel, setNewLabel] = useState(DEFAULT_NEW_LABEL);
  const [slotLabel, setSlotLabel] = useState('');
  const [errors, setErrors] = useState<{ keyLabel?: string; slotLabel?: string }>({});

  useEffect(
    function listTokens() {
      void loadTokens();
    },
    [loadTokens],
  );
  useIpcEvent('tokens.changed', function onTokensChanged(p) {
    setTokens(p.tokens);
  });

  const present = tokens?.filter((t) => !t.empty) ?? [];
  const chosen: TokenInfo | undefined = serial ? present.find((t) => t.serial === serial) : undefined;
  // The only token present is chosen for the user; a chosen token that leaves is unchosen.
  useEffect(
    function chooseToken() {
      if (tokens === null) return;
      const here = tokens.filter((t) => !t.empty);
      if (serial && !here.some((t) => t.serial === serial)) setSerial(null);
      else if (!serial && here.length === 1) setSerial(here[0]!.serial);
    },
    [tokens, serial],
  );
  useEffect(
    function listKeysOfChosen() {
      if (serial) void loadTokenKeys(serial);
      setKeyChoice(NEW_KEY);
    },
    [serial, loadTokenKeys],
  );

  const keys = tokenKeys && tokenKeys.serial === serial ? tokenKeys : null;
  const candidates = keys?.keys.filter(usable) ?? [];
  const signing = keys?.keys.filter((k) => !usable(k)) ?? [];

  function validate(): boolean {
    const next: { keyLabel?: string; slotLabel?: string } = {};
    if (keyChoice === NEW_KEY) {
      const k = keyLabelSchema.safeParse(newLabel.trim());
      if (!k.success) next.keyLabel = k.error.issues[0]?.message ?? 'the key label is not valid';
      else if (keys?.keys.some((x) => x.label === newLabel.trim())) {
        next.keyLabel = 'the token already has a key with this label: choose it in the list above, or name another';
      }
    }
    const l = slotLabelSchema.safeParse(slotLabel);
    if (!l.success) next.slotLabel = l.error.issues[0]?.message ?? 'the label is not valid';
    setErrors(next);
    if (next.keyLabel) document.getElementById(`${id}-newkey`)?.focus();
    else if (next.slotLabel) document.getElementById(`${id}-slotlabel`)?.focus();
    return Object.keys(next).length === 0;
  }

  return (
    <section className="keyslot-form" aria-labelledby={`${id}-title`} data-testid="add-token-form">
      <h2 id={`${id}-title`}>Add a token keyslot</h2>
      <p className="hint">
        The vault will also open with this token and its PIN. The token keeps its key; the vault stores only what the key can
        unwrap.
      </p>
      {tokensError ? (
        <ErrorBlock error={tokensError} title="Tokens cannot be read">
          <button type="button" className="button" onClick={() => void loadTokens()} data-testid="keyslot-tokens-retry">
            Try again
          </button>
        </ErrorBlock>
      ) : tokens === null ? (
        <Loading label="Looking for tokens…" />
      ) : present.length === 0 ? (
        <div className="empty" data-testid="keyslot-no-token">
          <p>No token is present. Insert one: it shows up here by itself.</p>
          <div className="actions">
            <button type="button" className="button" onClick={() => void loadTokens()} data-testid="keyslot-tokens-again">
              Look again
            </button>
            <button type="button" className="button" onClick={onCancel} data-testid="keyslot-form-cancel">
              Cancel
            </button>
          </div>
        </div>
      ) : (
        <fieldset className="token-choice">
          <legend>Token</legend>
          {present.map((t) => (
            <label key={t.serial} className="choice" data-testid="keyslot-token" data-serial={t.serial}>
              <input
                type="radio"
                name={`${id}-token`}
                value={t.serial}
                checked={serial === t.serial}
                onChange={() => setSerial(t.serial)}
              />
              <span className="choice-text">
                <strong>{t.label}</strong> <span className="hint">serial {t.serial}</span> <PinBadge token={t} />
              </span>
            </label>
          ))}
        </fieldset>
      )}
      {chosen ? (
        <PinPrompt
          key={chosen.serial}
          token={chosen}
          purpose="add a keyslot"
          submitLabel="Add token keyslot"
          busyLabel="Adding the keyslot…"
          autoFocus={false}
          validate={validate}
          recheck={() => recheckToken(chosen.serial)}
          onCancel={onCancel}
          testId="keyslot-pin"
          onSubmit={async (pin, allowFinalTry) => {
            const keyLabel = keyChoice === NEW_KEY ? newLabel.trim() : keyChoice;
            const err = await addToken({ serial: chosen.serial, keyLabel, label: slotLabel.trim(), pin, allowFinalTry });
            if (!err) onDone();
            return err;
          }}
        >
          <div className="field">
            <label htmlFor={`${id}-key`}>Key on the token</label>
            {keys?.status === 'loading' ? <Loading label="Reading the token's keys…" /> : null}
            {keys?.status === 'error' && keys.error ? <ErrorBlock error={keys.error} title="The token's keys cannot be read" /> : null}
            <select id={`${id}-key`} value={keyChoice} onChange={(e) => setKeyChoice(e.target.value)} data-testid="keyslot-key">
              <option value={NEW_KEY}>A new key pair, generated on the token</option>
              {candidates.map((k) => (
                <option key={k.id} value={k.label}>
                  {k.label} ({k.keyType}
                  {k.canDerive ? ', derive' : ''})
                </option>
              ))}
            </select>
            {signing.length > 0 ? (
              <p className="hint" data-testid="keyslot-signing-keys">
                Not offered: {signing.map((k) => k.label).join(', ')}. A keyslot needs a P-256 key that may derive and never
                sign; signing keys stay for signing bundles.
              </p>
            ) : null}
          </div>
          {keyChoice === NEW_KEY ? (
            <div className="field">
              <label htmlFor={`${id}-newkey`}>Label of the new key</label>
              <input
                id={`${id}-newkey`}
                value={newLabel}
                onChange={(e) => setNewLabel(e.target.value)}
                aria-invalid={errors.keyLabel ? true : undefined}
                aria-describedby={errors.keyLabel ? `${id}-newkey-error` : undefined}
                data-testid="keyslot-new-key-label"
              />
              {errors.keyLabel ? (
                <p className="field-error" id={`${id}-newkey-error`}>
                  {errors.keyLabel}
                </p>
              ) : null}
            </div>
          ) : null}
          <div className="field">
            <label htmlFor={`${id}-slotlabel`}>Keyslot label (optional)</label>
            <input
              id={`${id}-slotlabel`}
              value={slotLabel}
              onChange={(e) => setSlotLabel(e.target.value)}
              placeholder={`token ${chosen.label}`}
              aria-invalid={errors.slotLabel ? true : undefined}
              aria-describedby={errors.slotLabel ? `${id}-slotlabel-error` : undefined}
              data-testid="keyslot-token-label"
            />
            {errors.slotLabel ? (
              <p className="field-error" id={`${id}-slotlabel-error`}>
                {errors.slotLabel}
              </p>
            ) : null}
          </div>
        </PinPrompt>
      ) : present.length > 0 ? (
        <div className="actions">
          <p className="hint">Choose the token first.</p>
          <button type="button" className="button" onClick={onCancel} data-testid="keyslot-form-cancel">
            Cancel
          </button>
        </div>
      ) : null}
    </section>
  );
}
