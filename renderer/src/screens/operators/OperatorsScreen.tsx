/**
 * Operators (security officers only; registry.ts `requires`): who may act on
 * the vault and with which roles, adding and removing operators, granting and
 * revoking roles, the signed-in operator's own credential, and the
 * dual-control rules (which actions need a second operator's approval, and
 * why dual control is off when it is). Every change here may itself be under
 * dual control: the approval dialog opens by itself (useApproval.ts).
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { CommandName, OperatorInfo } from '../../../../shared/contract';
import { COMMAND_ROLES, ROLE_NAMES, type Role } from '../../../../shared/roles';
import { ErrorBlock, Loading, ScreenTitle } from '../../components/common';
import { checkNewPassphrase, NewPassphrase } from '../../components/NewPassphrase';
import { when } from '../../format';
import { usePermission } from '../../roles';
import { useAccess } from '../../stores/access';
import { useOperators } from '../../stores/operators';
import type { ApiError } from '../../api';
import { AddOperator, RoleChecks } from './AddOperator';

/** What each command that can be put under dual control does, for people. */
const COMMAND_TEXT: Readonly<Partial<Record<CommandName, string>>> = {
  'bundle.export': 'Export a signed bundle for a server',
  'trust.export': 'Export the trust root',
  'key.destroy': 'Destroy a key version\u2019s secret',
  'policy.set': 'Set a rotation policy',
  'policy.clear': 'Remove a rotation policy',
  'signer.threshold': 'Change the signature threshold',
  'operator.add': 'Add an operator',
  'operator.remove': 'Remove an operator',
  'operator.grant': 'Grant roles',
  'operator.revoke': 'Revoke roles',
  'dualControl.set': 'Change these dual-control rules',
  'key.create': 'Create a key',
  'key.rotate': 'Rotate keys',
  'key.revoke': 'Revoke keys',
  'key.reveal': 'Reveal or copy a secret',
  'settings.set': 'Change the vault\u2019s custody settings',
  'signer.add': 'Register a signer',
  'bundle.resend': 'Write a bundle again',
  'audit.recover': 'Recover a cut-off audit log',
  'slot.remove': 'Remove a keyslot',
  'slot.addToken': 'Add a token keyslot',
  'audit.export': 'Export the audit log',
};

export function commandText(c: string): string {
  return COMMAND_TEXT[c as CommandName] ?? c;
}

function credentialText(op: OperatorInfo): string {
  if (op.credential === 'passphrase') return 'passphrase';
  if (op.credential === 'token' && op.token) return `token '${op.token.label}' (serial ${op.token.serial}), key ${op.token.keyLabel}`;
  return 'none yet';
}

function RemoveDialog({ op, onClose }: { op: OperatorInfo; onClose: () => void }) {
  const remove = useOperators((s) => s.remove);
  const me = useAccess((s) => s.whoami?.operator?.name ?? null);
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(function open() {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  async function confirm(): Promise<void> {
    setBusy(true);
    const failed = await remove(op.name);
    setBusy(false);
    setError(failed);
    if (!failed) ref.current?.close();
  }
  return (
    <dialog ref={ref} className="dialog" aria-labelledby={`${id}-t`} data-testid="remove-operator-dialog"
      onCancel={(e) => {
        if (busy) e.preventDefault();
      }}
      onClose={(e) => {
        if (e.target === e.currentTarget) onClose();
      }}>
      <h2 id={`${id}-t`}>Remove the operator {op.name}?</h2>
      <p data-testid="remove-operator-summary">
        <strong>{op.name}</strong> ({op.roles.map((r) => ROLE_NAMES[r]).join(', ')}) can no longer sign in or approve. Their past actions
        stay in the audit log under their name.{op.name === me ? ' You are signed in as this operator: you are signed out.' : ''}
      </p>
      {error ? <ErrorBlock error={error} title="The operator was not removed" /> : null}
      <div className="actions dialog-actions">
        <button type="button" className="button danger" onClick={() => void confirm()} disabled={busy} data-testid="confirm-remove-operator">
          {busy ? 'Removing…' : `Remove ${op.name}`}
        </button>
        <button type="button" className="button" onClick={() => ref.current?.close()} disabled={busy} data-testid="cancel-remove-operator" autoFocus>
          Cancel
        </button>
      </div>
    </dialog>
  );
}

function RoleEditor({ op, onDone }: { op: OperatorInfo; onDone: () => void }) {
  const { grant, revoke } = useOperators(useShallow((s) => ({ grant: s.grant, revoke: s.revoke })));
  const [roles, setRoles] = useState<Role[]>([...op.roles]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [roleError, setRoleError] = useState<string | undefined>(undefined);
  async function onSubmit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    if (roles.length === 0) {
      setRoleError('An operator holds at least one role; remove the operator instead.');
      return;
    }
    setRoleError(undefined);
    const added = roles.filter((r) => !op.roles.includes(r));
    const removed = op.roles.filter((r) => !roles.includes(r));
    setBusy(true);
    let failed: ApiError | null = null;
    if (added.length > 0) failed = await grant(op.name, added);
    if (!failed && removed.length > 0) failed = await revoke(op.name, removed);
    setBusy(false);
    setError(failed);
    if (!failed) onDone();
  }
  return (
    <form className="form role-editor" onSubmit={(e) => void onSubmit(e)} noValidate aria-busy={busy} data-testid={`role-editor-${op.name}`}>
      <RoleChecks value={roles} onChange={setRoles} testId="edit-roles" legend={`Roles of ${op.name}`} error={roleError} />
      {error ? <ErrorBlock error={error} title="The roles were not changed" /> : null}
      <div className="actions">
        <button type="submit" className="button primary" disabled={busy} data-testid="roles-save">
          {busy ? 'Saving…' : 'Save roles'}
        </button>
        <button type="button" className="button" onClick={onDone} disabled={busy} data-testid="roles-cancel">
          Cancel
        </button>
      </div>
    </form>
  );
}

function OperatorList() {
  const operators = useOperators((s) => s.operators);
  const me = useAccess((s) => s.whoami?.operator?.name ?? null);
  const canRemove = usePermission('operator.remove');
  const canGrant = usePermission('operator.grant');
  const [editing, setEditing] = useState<string | null>(null);
  const [removing, setRemoving] = useState<OperatorInfo | null>(null);
  const id = useId();
  const editedOp = operators.find((o) => o.name === editing) ?? null;
  return (
    <section className="bundle-section" aria-labelledby={`${id}-h`} data-testid="operator-list">
      <h2 id={`${id}-h`}>Operators</h2>
      <p className="hint">Each operator signs in with their own credential; every audit entry names the operator who acted.</p>
      <div className="table-scroll">
        <table className="due-table" data-testid="operator-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Roles</th>
              <th scope="col">Signs in with</th>
              <th scope="col">Created</th>
              <th scope="col"><span className="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {operators.map((o) => (
              <tr key={o.name} data-testid={`operator-${o.name}`} data-roles={o.roles.join(' ')}>
                <td>
                  {o.name}
                  {o.name === me ? <span className="hint"> (you)</span> : null}
                </td>
                <td>
                  <span className="role-badges">
                    {o.roles.map((r) => (
                      <span key={r} className="badge role-badge">{ROLE_NAMES[r]}</span>
                    ))}
                  </span>
                </td>
                <td data-testid={`operator-${o.name}-credential`}>{credentialText(o)}</td>
                <td>{when(o.createdAt)}</td>
                <td>
                  <span className="actions">
                    <button type="button" className="button small" onClick={() => setEditing(o.name)} disabled={!canGrant.allowed}
                      title={canGrant.reason ?? undefined} aria-label={`Change the roles of ${o.name}`} data-testid={`edit-roles-${o.name}`}>
                      Roles…
                    </button>
                    <button type="button" className="button small danger" onClick={() => setRemoving(o)} disabled={!canRemove.allowed}
                      title={canRemove.reason ?? undefined} aria-label={`Remove ${o.name}`} data-testid={`remove-operator-${o.name}`}>
                      Remove…
                    </button>
                  </span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {editedOp ? <RoleEditor key={editedOp.name} op={editedOp} onDone={() => setEditing(null)} /> : null}
      {removing ? <RemoveDialog op={removing} onClose={() => setRemoving(null)} /> : null}
    </section>
  );
}

function DualControlSection() {
  const dual = useOperators((s) => s.dualControl);
  const setRules = useOperators((s) => s.setRules);
  const may = usePermission('dualControl.set');
  const id = useId();
  const [chosen, setChosen] = useState<string[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  if (!dual) return null;
  const current = chosen ?? dual.commands;
  // Any command with roles can be dual-controlled; the defaults and the current ones first.
  const controllable = (Object.keys(COMMAND_ROLES) as CommandName[]).filter((c) => {
    const need = COMMAND_ROLES[c];
    return need !== 'none' && need !== 'any';
  });
  const listed = [...new Set([...dual.defaults, ...dual.commands, ...controllable.filter((c) => COMMAND_TEXT[c] !== undefined)])];
  async function save(commands: readonly string[] | 'defaults'): Promise<void> {
    setBusy(true);
    const failed = await setRules(commands === 'defaults' ? 'defaults' : (commands as CommandName[]));
    setBusy(false);
    setError(failed);
    if (!failed) setChosen(null);
  }
  return (
    <section className="bundle-section" aria-labelledby={`${id}-h`} data-testid="dual-control">
      <h2 id={`${id}-h`}>Dual control</h2>
      {dual.active ? (
        <p className="hint" data-testid="dual-control-state" data-active="true">
          On: the actions ticked below need a second operator&apos;s approval. Who can approve: {dual.approvers.join(', ')}.
        </p>
      ) : (
        <p className="notice" data-testid="dual-control-state" data-active="false">
          Off for now: {dual.reason ?? 'no one can approve'}. The rules below apply as soon as a second operator can approve.
        </p>
      )}
      <fieldset className="choice-group dual-rules" disabled={!may.allowed || busy}>
        <legend>Actions that need a second operator</legend>
        {listed.map((c) => (
          <label key={c} className={`choice${current.includes(c) ? ' checked' : ''}`}>
            <input type="checkbox" checked={current.includes(c)}
              onChange={(e) => setChosen(e.target.checked ? [...current, c] : current.filter((x) => x !== c))} data-testid={`rule-${c}`} />
            <span>
              {commandText(c)} <span className="hint">{dual.defaults.includes(c) ? '(default)' : ''}</span>
            </span>
          </label>
        ))}
      </fieldset>
      {may.allowed ? null : <p className="hint">{may.reason}</p>}
      {error ? <ErrorBlock error={error} title="The rules were not changed" /> : null}
      <div className="actions">
        <button type="button" className="button primary" onClick={() => void save(current)} disabled={!may.allowed || busy || chosen === null}
          data-testid="rules-save">
          {busy ? 'Saving…' : 'Save the rules'}
        </button>
        <button type="button" className="button" onClick={() => void save('defaults')} disabled={!may.allowed || busy} data-testid="rules-defaults">
          Restore the defaults
        </button>
      </div>
    </section>
  );
}

/** The signed-in operator's own passphrase: required for an operator migrated without one, before anyone else is added. */
function MyCredential() {
  const me = useAccess((s) => s.whoami?.operator ?? null);
  const setCredential = useOperators((s) => s.setCredential);
  const id = useId();
  const [open, setOpen] = useState(false);
  const [passphrase, setPassphrase] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<{ passphrase?: string; confirm?: string }>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  if (!me) return null;
  const none = me.credential === 'none';
  async function onSubmit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    const bad = await checkNewPassphrase(passphrase);
    const next = bad ? { passphrase: bad } : confirm !== passphrase ? { confirm: 'The two passphrases differ.' } : {};
    setErrors(next);
    if (Object.keys(next).length > 0) return;
    setBusy(true);
    let failed: ApiError | null;
    try {
      failed = await setCredential({ kind: 'passphrase', passphrase });
    } finally {
      setPassphrase('');
      setConfirm('');
      setBusy(false);
    }
    setError(failed);
    if (!failed) setOpen(false);
  }
  return (
    <section className="bundle-section" aria-labelledby={`${id}-h`} data-testid="my-credential">
      <h2 id={`${id}-h`}>Your credential</h2>
      {none ? (
        <p className="notice" data-testid="no-credential">
          You ({me.name}) have no credential of your own yet: this vault was made before operators. Set a passphrase before adding
          another operator, so that you can still sign in once sign-in is required.
        </p>
      ) : (
        <p className="hint">You ({me.name}) sign in with {credentialText(me)}.</p>
      )}
      {open || none ? (
        <form className="form" onSubmit={(e) => void onSubmit(e)} noValidate aria-busy={busy}>
          <NewPassphrase value={passphrase} onChange={setPassphrase} confirm={confirm} onConfirmChange={setConfirm} errors={errors}
            label="Your new passphrase" />
          {error ? <ErrorBlock error={error} title="Your credential was not set" /> : null}
          <div className="actions">
            <button type="submit" className="button primary" disabled={busy} data-testid="credential-save">
              {busy ? 'Saving…' : 'Set my passphrase'}
            </button>
            {none ? null : (
              <button type="button" className="button" onClick={() => setOpen(false)} disabled={busy}>
                Cancel
              </button>
            )}
          </div>
        </form>
      ) : (
        <button type="button" className="button" onClick={() => setOpen(true)} data-testid="credential-change">
          Change my passphrase…
        </button>
      )}
    </section>
  );
}

export function OperatorsScreen() {
  const { status, error, operators, load } = useOperators(
    useShallow((s) => ({ status: s.status, error: s.error, operators: s.operators, load: s.load })),
  );
  const canAdd = usePermission('operator.add');
  const [adding, setAdding] = useState(false);
  useEffect(
    function loadOperators() {
      void load();
    },
    [load],
  );
  return (
    <main className="screen wide operators-screen" data-screen="operators">
      <div className="screen-head">
        <ScreenTitle>Operators</ScreenTitle>
        {adding ? null : (
          <button type="button" className="button primary" onClick={() => setAdding(true)} disabled={!canAdd.allowed}
            title={canAdd.reason ?? undefined} data-testid="operator-add">
            Add operator…
          </button>
        )}
      </div>
      {status === 'loading' && operators.length === 0 ? <Loading label="Reading the operators…" /> : null}
      {status === 'error' && error ? (
        <ErrorBlock error={error} title="The operators could not be read">
          <button type="button" className="button" onClick={() => void load()}>
            Try again
          </button>
        </ErrorBlock>
      ) : null}
      {adding ? (
        <section className="bundle-section" aria-labelledby="add-operator-h">
          <h2 id="add-operator-h">Add an operator</h2>
          <AddOperator onDone={() => setAdding(false)} />
        </section>
      ) : null}
      {operators.length > 0 ? (
        <>
          <OperatorList />
          <MyCredential />
          <DualControlSection />
        </>
      ) : status === 'ready' ? (
        <p className="empty" data-testid="no-operators">This vault has no operators yet: the first one is made when the vault is opened.</p>
      ) : null}
    </main>
  );
}
