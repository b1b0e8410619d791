/**
 * The two passphrase forms of the Keyslots screen: add a passphrase keyslot
 * (label + new passphrase) and change the passphrase (current + new). Both set
 * a new passphrase through NewPassphrase (strength, show/hide, caps lock); the
 * passphrases live in this component's state only and are cleared whatever the
 * outcome of the call.
 */
import { useId, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { freeText } from '../../../../shared/contract';
import type { ApiError } from '../../api';
import { ErrorBlock } from '../../components/common';
import { checkNewPassphrase, NewPassphrase } from '../../components/NewPassphrase';
import { useKeyslots } from '../../stores/keyslots';

const slotLabelSchema = freeText('the slot label', 64);

type Errors = { label?: string; current?: string; passphrase?: string; confirm?: string };

function firstError(errors: Errors, ids: Readonly<Record<keyof Errors, string>>): void {
  for (const k of ['label', 'current', 'passphrase', 'confirm'] as const) {
    if (errors[k]) {
      document.getElementById(ids[k])?.focus();
      return;
    }
  }
}

export function AddPassphraseForm({ onDone, onCancel }: { onDone: () => void; onCancel: () => void }) {
  const addPassphrase = useKeyslots((s) => s.addPassphrase);
  const id = useId();
  const ids = { label: `${id}-label`, current: `${id}-current`, passphrase: `${id}-pass`, confirm: `${id}-confirm` };
  const [label, setLabel] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const [failed, setFailed] = useState<ApiError | null>(null);

  async function onSubmit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    if (busy) return;
    const next: Errors = {};
    const l = slotLabelSchema.safeParse(label);
    if (!l.success) next.label = l.error.issues[0]?.message ?? 'the label is not valid';
    const weak = await checkNewPassphrase(passphrase);
    if (weak) next.passphrase = weak;
    if (confirm !== passphrase) next.confirm = 'the two passphrases differ';
    setErrors(next);
    if (Object.keys(next).length > 0) return firstError(next, ids);
    setBusy(true);
    setFailed(null);
    const err = await addPassphrase(passphrase, label.trim());
    setBusy(false);
    setPassphrase('');
    setConfirm('');
    if (err) {
      setFailed(err);
      return;
    }
    onDone();
  }

  return (
    <form noValidate className="form keyslot-form" onSubmit={(e) => void onSubmit(e)} aria-busy={busy} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Add a passphrase keyslot</h2>
      <p className="hint">
        A second passphrase that also opens the vault: for a second custodian, or a sealed backup. Each one opens the vault on its
        own.
      </p>
      <div className="field">
        <label htmlFor={ids.label}>Label (optional)</label>
        <input
          id={ids.label}
          value={label}
          onChange={(e) => setLabel(e.target.value)}
          placeholder="backup"
          aria-invalid={errors.label ? true : undefined}
          aria-describedby={errors.label ? `${ids.label}-error` : undefined}
          autoFocus
          data-testid="slot-label"
        />
        {errors.label ? (
          <p className="field-error" id={`${ids.label}-error`}>
            {errors.label}
          </p>
        ) : null}
      </div>
      <NewPassphrase
        label="New passphrase"
        value={passphrase}
        onChange={setPassphrase}
        confirm={confirm}
        onConfirmChange={setConfirm}
        errors={errors}
        ids={{ passphrase: ids.passphrase, confirm: ids.confirm }}
      />
      {failed ? <ErrorBlock error={failed} title="The keyslot was not added" /> : null}
      <div className="actions">
        <button type="submit" className="button primary" disabled={busy} data-testid="add-passphrase-submit">
          {busy ? 'Adding the keyslot…' : 'Add keyslot'}
        </button>
        <button type="button" className="button" onClick={onCancel} disabled={busy} data-testid="keyslot-form-cancel">
          Cancel
        </button>
      </div>
      {busy ? (
        <p role="status" className="hint">
          Deriving a key from the passphrase; this takes a moment.
        </p>
      ) : null}
    </form>
  );
}

export function ChangePassphraseForm({ onDone, onCancel }: { onDone: () => void; onCancel: () => void }) {
  const changePassphrase = useKeyslots((s) => s.changePassphrase);
  const id = useId();
  const ids = { label: `${id}-label`, current: `${id}-current`, passphrase: `${id}-pass`, confirm: `${id}-confirm` };
  const [current, setCurrent] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const [failed, setFailed] = useState<ApiError | null>(null);
  const [caps, setCaps] = useState(false);
  const currentField = useRef<HTMLInputElement>(null);

  function onKey(e: KeyboardEvent<HTMLInputElement>): void {
    setCaps(e.getModifierState('CapsLock'));
  }

  async function onSubmit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    if (busy) return;
    const next: Errors = {};
    if (current.length === 0) next.current = 'type the passphrase you use now';
    const weak = await checkNewPassphrase(passphrase);
    if (weak) next.passphrase = weak;
    else if (passphrase === current) next.passphrase = 'the new passphrase is the same as the current one';
    if (confirm !== passphrase) next.confirm = 'the two passphrases differ';
    setErrors(next);
    if (Object.keys(next).length > 0) return firstError(next, ids);
    setBusy(true);
    setFailed(null);
    const err = await changePassphrase(current, passphrase);
    setBusy(false);
    // Whatever the outcome, no passphrase stays in the page.
    setCurrent('');
    setPassphrase('');
    setConfirm('');
    if (err) {
      setFailed(err);
      if (err.code === 'WRONG_PASSPHRASE') currentField.current?.focus();
      return;
    }
    onDone();
  }

  const wrong = failed?.code === 'WRONG_PASSPHRASE';
  const currentDescribed = [caps ? `${ids.current}-caps` : null, errors.current ? `${ids.current}-error` : null].filter(Boolean).join(' ');
  return (
    <form noValidate className="form keyslot-form" onSubmit={(e) => void onSubmit(e)} aria-busy={busy} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Change the passphrase</h2>
      <p className="hint">
        Changes the passphrase keyslot that the current passphrase opens; other keyslots (other passphrases, tokens) are left as
        they are. The keys in the vault are not re-encrypted.
      </p>
      <div className="field">
        <label htmlFor={ids.current}>Current passphrase</label>
        <input
          id={ids.current}
          ref={currentField}
          type="password"
          autoComplete="current-password"
          value={current}
          onChange={(e) => setCurrent(e.target.value)}
          onKeyDown={onKey}
          onKeyUp={onKey}
          aria-invalid={errors.current || wrong ? true : undefined}
          aria-describedby={currentDescribed || undefined}
          autoFocus
          data-testid="current-passphrase"
        />
        {caps ? (
          <p className="caps-warning" id={`${ids.current}-caps`} role="status" data-testid="current-caps-lock">
            Caps Lock is on.
          </p>
        ) : null}
        {errors.current ? (
          <p className="field-error" id={`${ids.current}-error`}>
            {errors.current}
          </p>
        ) : null}
      </div>
      <NewPassphrase
        label="New passphrase"
        value={passphrase}
        onChange={setPassphrase}
        confirm={confirm}
        onConfirmChange={setConfirm}
        errors={errors}
        ids={{ passphrase: ids.passphrase, confirm: ids.confirm }}
      />
      {failed ? (
        <ErrorBlock error={failed} title={wrong ? 'The current passphrase is wrong' : 'The passphrase was not changed'} />
      ) : null}
      <div className="actions">
        <button type="submit" className="button primary" disabled={busy} data-testid="change-passphrase-submit">
          {busy ? 'Changing the passphrase…' : 'Change passphrase'}
        </button>
        <button type="button" className="button" onClick={onCancel} disabled={busy} data-testid="keyslot-form-cancel">
          Cancel
        </button>
      </div>
      {busy ? (
        <p role="status" className="hint">
          Checking the current passphrase and deriving the new key; this takes a moment.
        </p>
      ) : null}
    </form>
  );
}
