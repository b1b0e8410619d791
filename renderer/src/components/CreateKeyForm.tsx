/** New key: name, service, environment, scopes; each field checked with the contract's schema and its message shown at the field. */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useKeyDetail } from '../stores/keyDetail';
import { useKeys, validateForm, type KeyForm } from '../stores/keys';
import { useUi } from '../stores/ui';
import { ErrorBlock } from './common';

const EMPTY: KeyForm = { name: '', service: '', environment: 'production', scopes: '' };
const FIELDS: ReadonlyArray<readonly [keyof KeyForm, string, string]> = [
  ['name', 'Name', 'e.g. checkout'],
  ['service', 'Service', 'e.g. payments'],
  ['environment', 'Environment', 'production, staging…'],
  ['scopes', 'Scopes', 'comma-separated, e.g. charges:write, refunds:read'],
];

export function CreateKeyForm() {
  const { fieldErrors, createError, createStatus } = useKeys(
    useShallow((s) => ({ fieldErrors: s.fieldErrors, createError: s.createError, createStatus: s.createStatus })),
  );
  const { createKey, resetCreate } = useKeys(useShallow((s) => ({ createKey: s.createKey, resetCreate: s.resetCreate })));
  const select = useKeyDetail((s) => s.select);
  const showView = useUi((s) => s.showView);
  const [form, setForm] = useState<KeyForm>(EMPTY);
  const [touched, setTouched] = useState<Partial<Record<keyof KeyForm, boolean>>>({});
  const id = useId();
  const title = useRef<HTMLHeadingElement>(null);

  useEffect(
    function onOpen() {
      resetCreate();
      title.current?.focus();
      return resetCreate;
    },
    [resetCreate],
  );

  // Errors from the last submit, refreshed live for fields the user has since edited.
  const live = validateForm(form);
  const errors: Partial<Record<keyof KeyForm, string>> = {};
  for (const [field] of FIELDS) {
    const e = touched[field] ? live[field] : fieldErrors[field];
    if (e) errors[field] = e;
  }

  async function onSubmit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    setTouched({});
    const key = await createKey(form);
    if (key) {
      showView('list');
      void select(key.id);
      return;
    }
    const firstBad = FIELDS.find(([f]) => validateForm(form)[f] !== undefined || useKeys.getState().fieldErrors[f] !== undefined);
    if (firstBad) document.getElementById(`${id}-${firstBad[0]}`)?.focus();
  }

  function onCancel(): void {
    showView('list');
  }

  return (
    <section className="create-key" aria-labelledby={`${id}-title`} data-testid="create-key-form">
      <h2 id={`${id}-title`} ref={title} tabIndex={-1}>
        New key
      </h2>
      <form
        noValidate
        className="form"
        onSubmit={(e) => void onSubmit(e)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') onCancel();
        }}
      >
        {FIELDS.map(([field, label, placeholder]) => (
          <div className="field" key={field}>
            <label htmlFor={`${id}-${field}`}>{label}</label>
            <input
              id={`${id}-${field}`}
              name={field}
              type="text"
              autoComplete="off"
              spellCheck={false}
              placeholder={placeholder}
              value={form[field]}
              onChange={(e) => {
                setForm({ ...form, [field]: e.target.value });
                setTouched({ ...touched, [field]: true });
              }}
              aria-invalid={errors[field] ? true : undefined}
              aria-describedby={errors[field] ? `${id}-${field}-error` : undefined}
              data-testid={`field-${field}`}
            />
            {errors[field] ? (
              <p className="field-error" id={`${id}-${field}-error`} data-testid={`error-${field}`}>
                {errors[field]}
              </p>
            ) : null}
          </div>
        ))}
        {createError ? <ErrorBlock error={createError} title="The key was not created" /> : null}
        <div className="actions">
          <button type="submit" className="button primary" disabled={createStatus === 'loading'} data-testid="submit-key">
            {createStatus === 'loading' ? 'Creating…' : 'Create key'}
          </button>
          <button type="button" className="button" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </form>
    </section>
  );
}
