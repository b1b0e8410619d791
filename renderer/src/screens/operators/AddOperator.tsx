/**
 * Adding an operator: a name, roles (checkboxes, one sentence each), and the
 * operator's own credential: a new passphrase (the strength meter of
 * NewPassphrase) or a signing key on their token (its public key is read; no
 * PIN). Also the role checkboxes the role editor reuses.
 */
import { useEffect, useId, useState, type FormEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { operatorNameSchema } from '../../../../shared/contract';
import { ROLE_NAMES, ROLE_PURPOSE, ROLES, type Role } from '../../../../shared/roles';
import { ErrorBlock, Loading } from '../../components/common';
import { checkNewPassphrase, NewPassphrase } from '../../components/NewPassphrase';
import { useLiveTokens } from '../../useLiveTokens';
import { useOperators } from '../../stores/operators';
import { useTokens } from '../../stores/tokens';
import type { ApiError } from '../../api';

export function RoleChecks({ value, onChange, testId, legend, error }: {
  value: readonly Role[]; onChange: (roles: Role[]) => void; testId: string; legend: string; error?: string | undefined;
}) {
  const id = useId();
  return (
    <fieldset className="choice-group role-checks" aria-describedby={error ? `${id}-error` : undefined} data-testid={testId}>
      <legend>{legend}</legend>
      {ROLES.map((r) => (
        <label key={r} className={`choice${value.includes(r) ? ' checked' : ''}`}>
          <input
            type="checkbox"
            checked={value.includes(r)}
            onChange={(e) => onChange(e.target.checked ? ROLES.filter((x) => x === r || value.includes(x)) : value.filter((x) => x !== r))}
            data-testid={`${testId}-${r}`}
          />
          <span>
            <strong>{ROLE_NAMES[r]}</strong> <span className="hint">{ROLE_PURPOSE[r]}</span>
          </span>
        </label>
      ))}
      {error ? (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : null}
    </fieldset>
  );
}

type Kind = 'passphrase' | 'token';

export function AddOperator({ onDone }: { onDone: () => void }) {
  const add = useOperators((s) => s.add);
  const id = useId();
  const [name, setName] = useState('');
  const [roles, setRoles] = useState<Role[]>(['key-operator']);
  const [kind, setKind] = useState<Kind>('passphrase');
  const [passphrase, setPassphrase] = useState('');
  const [confirm, setConfirm] = useState('');
  const [serial, setSerial] = useState('');
  const [keyLabel, setKeyLabel] = useState('');
  const [errors, setErrors] = useState<{ name?: string; roles?: string; passphrase?: string; confirm?: string; token?: string }>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  async function onSubmit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    if (busy) return;
    const next: typeof errors = {};
    const n = operatorNameSchema.safeParse(name.trim());
    if (!n.success) next.name = n.error.issues[0]?.message ?? 'not a valid name';
    if (roles.length === 0) next.roles = 'Give the operator at least one role.';
    if (kind === 'passphrase') {
      const bad = await checkNewPassphrase(passphrase);
      if (bad) next.passphrase = bad.charAt(0).toUpperCase() + bad.slice(1);
      else if (confirm !== passphrase) next.confirm = 'The two passphrases differ.';
    } else if (!serial || !keyLabel) {
      next.token = 'Pick the token and the signing key the operator signs in with.';
    }
    setErrors(next);
    if (Object.keys(next).length > 0) return;
    setBusy(true);
    setError(null);
    let failed: ApiError | null;
    try {
      failed = await add({
        name: name.trim(),
        roles,
        credential: kind === 'passphrase' ? { kind, passphrase } : { kind, token: serial, keyLabel, pin: null, allowFinalTry: false },
      });
    } finally {
      setPassphrase('');
      setConfirm('');
      setBusy(false);
    }
    setError(failed);
    if (!failed) onDone();
  }

  return (
    <form className="form add-operator" onSubmit={(e) => void onSubmit(e)} noValidate aria-busy={busy} data-testid="add-operator">
      <div className="field">
        <label htmlFor={`${id}-name`}>Name</label>
        <input id={`${id}-name`} value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" spellCheck={false}
          aria-invalid={errors.name ? true : undefined} aria-describedby={`${id}-name-hint${errors.name ? ` ${id}-name-error` : ''}`}
          data-testid="operator-name" />
        <p className="hint" id={`${id}-name-hint`}>Letters, digits, dots, dashes and underscores; it names the operator in the audit log.</p>
        {errors.name ? <p className="field-error" id={`${id}-name-error`}>{errors.name}</p> : null}
      </div>
      <RoleChecks value={roles} onChange={setRoles} testId="operator-roles" legend="Roles" error={errors.roles} />
      <fieldset className="method-switch">
        <legend>Signs in with</legend>
        {(['passphrase', 'token'] as const).map((k) => (
          <label key={k} className={`method-option${kind === k ? ' checked' : ''}`}>
            <input type="radio" name={`${id}-kind`} value={k} checked={kind === k} onChange={() => setKind(k)} data-testid={`operator-kind-${k}`} />
            {k === 'passphrase' ? 'Their own passphrase' : 'A signing key on their token'}
          </label>
        ))}
      </fieldset>
      {kind === 'passphrase' ? (
        <>
          <p className="hint">The new operator types it here themselves: not the vault&apos;s passphrase, and never shared.</p>
          <NewPassphrase value={passphrase} onChange={setPassphrase} confirm={confirm} onConfirmChange={setConfirm}
            errors={{ passphrase: errors.passphrase, confirm: errors.confirm }} label="Operator's passphrase" />
        </>
      ) : (
        <TokenKeyPick serial={serial} setSerial={setSerial} keyLabel={keyLabel} setKeyLabel={setKeyLabel} error={errors.token} />
      )}
      {error ? <ErrorBlock error={error} title="The operator was not added" /> : null}
      <div className="actions">
        <button type="submit" className="button primary" disabled={busy} data-testid="operator-add-submit">
          {busy ? 'Adding…' : 'Add operator'}
        </button>
        <button type="button" className="button" onClick={onDone} disabled={busy} data-testid="operator-add-cancel">
          Cancel
        </button>
      </div>
    </form>
  );
}

function TokenKeyPick({ serial, setSerial, keyLabel, setKeyLabel, error }: {
  serial: string; setSerial: (s: string) => void; keyLabel: string; setKeyLabel: (s: string) => void; error?: string | undefined;
}) {
  const { tokens, keys, loading, tokensError } = useTokens(useShallow((s) => ({ tokens: s.tokens, keys: s.keys, loading: s.loading, tokensError: s.error })));
  const load = useTokens((s) => s.load);
  const loadKeys = useTokens((s) => s.loadKeys);
  const id = useId();
  useLiveTokens();
  useEffect(
    function listKeys() {
      if (serial) void loadKeys(serial);
    },
    [serial, loadKeys],
  );
  const present = tokens?.filter((t) => !t.empty) ?? [];
  const entry = serial ? keys[serial] : undefined;
  const signing = entry?.keys.filter((k) => k.alg !== null && k.jwk !== null && (k.canSign || k.canVerify)) ?? [];

  if (tokens === null) return tokensError ? <ErrorBlock error={tokensError} title="Tokens cannot be read" /> : <Loading label="Looking for tokens…" />;
  return (
    <div className="token-key-pick" data-testid="operator-token">
      <div className="field">
        <label htmlFor={`${id}-token`}>Token</label>
        <select id={`${id}-token`} value={serial} onChange={(e) => { setSerial(e.target.value); setKeyLabel(''); }} data-testid="operator-token-serial">
          <option value="">{present.length === 0 ? 'No token present' : 'Pick the token'}</option>
          {present.map((t) => (
            <option key={t.serial} value={t.serial}>
              {t.label} (serial {t.serial})
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${id}-key`}>Signing key</label>
        <select id={`${id}-key`} value={keyLabel} onChange={(e) => setKeyLabel(e.target.value)} disabled={!serial}
          aria-invalid={error ? true : undefined} aria-describedby={error ? `${id}-error` : `${id}-hint`} data-testid="operator-token-key">
          <option value="">{entry?.status === 'loading' ? 'Reading the keys…' : signing.length === 0 ? 'No signing key found' : 'Pick the key'}</option>
          {signing.map((k) => (
            <option key={k.id} value={k.label}>
              {k.label} ({k.alg})
            </option>
          ))}
        </select>
        <p className="hint" id={`${id}-hint`}>
          Its public key is read from the token (no PIN now); at each sign-in the token signs a fresh challenge with its PIN.
          Make a key on the Tokens screen first if there is none.
        </p>
        {error ? <p className="field-error" id={`${id}-error`}>{error}</p> : null}
      </div>
      <button type="button" className="button" onClick={() => void load()} disabled={loading} data-testid="operator-tokens-refresh">
        {loading ? 'Looking…' : 'Look again'}
      </button>
      {entry?.error ? <ErrorBlock error={entry.error} title="The token's keys cannot be read" /> : null}
    </div>
  );
}
