/**
 * Rotation policies on the Settings screen: the global policy and each
 * service's, every value shown with where it comes from (default, global or
 * the service's own), and an editor for one scope at a time (durations like
 * 90d or 36h; remove a scope's policy to fall back to the next one).
 */
import { useEffect, useRef, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { EffectivePolicy } from '../../../../shared/contract';
import { formatDuration } from '../../../../shared/duration';
import { ErrorBlock, Loading } from '../../components/common';
import { usePermission } from '../../roles';
import { useKeys } from '../../stores/keys';
import {
  isServiceName,
  MAX_SERVICES,
  POLICY_FIELDS,
  scopeKey,
  scopeLabel,
  useSettings,
  type PolicyField,
  type PolicyScopeRef,
} from '../../stores/settings';

const FIELD_LABEL: Readonly<Record<PolicyField, string>> = {
  rotation: 'Rotation period',
  grace: 'Grace window',
  warn: 'Warning lead time',
  lifetime: 'Maximum lifetime',
};

const FIELD_HINT: Readonly<Record<PolicyField, string>> = {
  rotation: 'How often a key is rotated (at least 1h).',
  grace: 'How long the old version stays valid after a rotation (at most the rotation period).',
  warn: 'How long before the rotation date a key shows as due soon (at most the rotation period).',
  lifetime: 'The longest a version may live (at least the rotation period).',
};

/** 'service:billing' -> 'service'; 'global', 'default' as they are. */
function sourceLabel(source: string): string {
  return source.startsWith('service:') ? 'service' : source.startsWith('key:') ? 'key' : source;
}

function Value({ p, f }: { p: EffectivePolicy; f: PolicyField }) {
  const src = sourceLabel(p.sources[f]);
  return (
    <>
      <span className="policy-value">{formatDuration(p[f])}</span> <span className={`policy-source src-${src}`}>{src}</span>
    </>
  );
}

function ownFields(p: EffectivePolicy, scope: PolicyScopeRef): number {
  const key = scopeKey(scope);
  return POLICY_FIELDS.filter((f) => p.sources[f] === key).length;
}

function PolicyEditor() {
  const e = useSettings(useShallow((x) => ({
    editing: x.editing, form: x.policyForm, errors: x.policyErrors, busy: x.policyBusy, error: x.policyError, saved: x.policySaved,
    global: x.global, services: x.services, setField: x.setPolicyField, save: x.savePolicy, clear: x.clearPolicy, close: x.closePolicy,
  })));
  const headRef = useRef<HTMLHeadingElement>(null);
  const editingKey = e.editing ? scopeKey(e.editing) : '';
  useEffect(
    function focusEditor() {
      if (editingKey) headRef.current?.focus();
    },
    [editingKey],
  );
  if (!e.editing) return null;
  const scope = e.editing;
  const current = 'global' in scope ? e.global : (e.services[scope.service] ?? null);
  const own = current ? ownFields(current, scope) : 0;
  function onSubmit(ev: React.FormEvent): void {
    ev.preventDefault();
    void e.save();
  }
  function onKeyDown(ev: React.KeyboardEvent): void {
    if (ev.key === 'Escape') {
      ev.stopPropagation();
      e.close();
    }
  }
  return (
    <section className="policy-editor" aria-labelledby="policy-editor-title" data-testid="policy-editor" data-scope={scopeKey(scope)}
      onKeyDown={onKeyDown}>
      <h3 id="policy-editor-title" ref={headRef} tabIndex={-1}>
        {'global' in scope ? 'Global policy' : <>Policy of the service <code>{scope.service}</code></>}
      </h3>
      <p className="hint">
        {'global' in scope
          ? 'Applies to every key whose service or key has no value of its own.'
          : 'Applies to the keys of this service that have no value of their own; unset values come from the global policy.'}{' '}
        Durations: a whole number and a unit, s, m, h, d or w (90d, 36h, 2w). Saving sets only the values you change.
      </p>
      {!e.form ? (
        e.error ? <ErrorBlock error={e.error} title="The policy could not be read" /> : <Loading label="Loading the policy…" />
      ) : (
        <form className="form policy-form" onSubmit={onSubmit} noValidate>
          <div className="policy-fields">
            {POLICY_FIELDS.map((f) => (
              <div className="field" key={f}>
                <label htmlFor={`policy-${f}`}>{FIELD_LABEL[f]}</label>
                <input
                  id={`policy-${f}`}
                  value={e.form?.[f] ?? ''}
                  onChange={(ev) => e.setField(f, ev.target.value)}
                  aria-invalid={e.errors[f] ? true : undefined}
                  aria-describedby={`policy-${f}-hint policy-${f}-error`}
                  data-testid={`policy-${f}`}
                  autoComplete="off"
                  spellCheck={false}
                />
                <p className="field-error" id={`policy-${f}-error`}>{e.errors[f] ?? ''}</p>
                <p className="hint" id={`policy-${f}-hint`}>
                  {FIELD_HINT[f]}{current ? ` Now: ${formatDuration(current[f])}, from ${sourceLabel(current.sources[f])}.` : ''}
                </p>
              </div>
            ))}
          </div>
          {e.error ? <ErrorBlock error={e.error} title="The policy was not changed" /> : null}
          <div className="actions">
            <button type="submit" className="button primary" disabled={e.busy} data-testid="policy-save">
              {e.busy ? 'Saving…' : `Save the ${scopeLabel(scope)} policy`}
            </button>
            <button type="button" className="button" disabled={e.busy || own === 0} onClick={() => void e.clear()}
              data-testid="policy-clear" aria-describedby="policy-clear-hint">
              Remove the {scopeLabel(scope)} policy
            </button>
            <button type="button" className="button" onClick={e.close} data-testid="policy-close">
              Close
            </button>
          </div>
          <p className="hint" id="policy-clear-hint">
            {own === 0
              ? `The ${scopeLabel(scope)} policy sets nothing of its own.`
              : `Removing it: ${'global' in scope ? 'the defaults apply' : 'the global policy and the defaults apply'} (recorded in the audit log).`}
          </p>
          <p role="status" className="saved-note" data-testid="policy-saved">{e.saved ?? ''}</p>
        </form>
      )}
    </section>
  );
}

export function PoliciesSection() {
  const services = useKeys((s) => s.services);
  const p = useSettings(useShallow((x) => ({
    status: x.policyStatus, loadError: x.policyLoadError, global: x.global, byService: x.services, editing: x.editing,
    loadPolicies: x.loadPolicies, edit: x.editPolicy,
  })));
  const [other, setOther] = useState('');
  const [otherError, setOtherError] = useState('');
  const servicesKey = services.join('\u0000');
  const { loadPolicies } = p;
  useEffect(
    function loadAll() {
      void loadPolicies(servicesKey === '' ? [] : servicesKey.split('\u0000'));
    },
    [loadPolicies, servicesKey],
  );
  const editingKey = p.editing ? scopeKey(p.editing) : '';
  const canEdit = usePermission('policy.set');
  const shown = Object.keys(p.byService).sort();
  function onOther(ev: React.FormEvent): void {
    ev.preventDefault();
    const name = other.trim();
    if (!isServiceName(name)) {
      setOtherError('A service name is 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit.');
      return;
    }
    setOtherError('');
    void p.edit({ service: name });
  }
  return (
    <section className="settings-card settings-policies" aria-labelledby="policies-title" data-testid="policies">
      <h2 id="policies-title">Rotation policies</h2>
      <p className="hint">
        The most specific value wins, field by field: a key&apos;s own, then its service&apos;s, then the global policy, then the
        default. Each value shows where it comes from. Every change is recorded in the audit log.
      </p>
      {p.status === 'loading' || p.status === 'idle' ? (
        <Loading label="Loading the policies…" />
      ) : p.status === 'error' && p.loadError ? (
        <ErrorBlock error={p.loadError} title="The policies could not be read">
          <div className="actions">
            <button type="button" className="button" onClick={() => void p.loadPolicies(services)}>Try again</button>
          </div>
        </ErrorBlock>
      ) : (
        <div className="table-scroll">
          <table className="settings-table policy-table" data-testid="policy-table">
            <caption className="visually-hidden">Effective rotation policy of the vault and of each service</caption>
            <thead>
              <tr>
                <th scope="col">Scope</th>
                {POLICY_FIELDS.map((f) => <th scope="col" key={f}>{FIELD_LABEL[f]}</th>)}
                <th scope="col"><span className="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {p.global ? (
                <tr data-testid="policy-row-global" className={editingKey === 'global' ? 'selected' : undefined}>
                  <th scope="row">Global</th>
                  {POLICY_FIELDS.map((f) => <td key={f} data-testid={`global-${f}`}><Value p={p.global as EffectivePolicy} f={f} /></td>)}
                  <td>
                    {canEdit.allowed ? (
                      <button type="button" className="button small" onClick={() => void p.edit({ global: true })}
                        data-testid="policy-edit-global" aria-label="Edit the global policy">Edit</button>
                    ) : null}
                  </td>
                </tr>
              ) : null}
              {shown.map((svc) => {
                const pol = p.byService[svc] as EffectivePolicy;
                return (
                  <tr key={svc} data-testid={`policy-row-${svc}`} className={editingKey === `service:${svc}` ? 'selected' : undefined}>
                    <th scope="row"><code>{svc}</code></th>
                    {POLICY_FIELDS.map((f) => <td key={f} data-testid={`${svc}-${f}`}><Value p={pol} f={f} /></td>)}
                    <td>
                      {canEdit.allowed ? (
                        <button type="button" className="button small" onClick={() => void p.edit({ service: svc })}
                          data-testid={`policy-edit-${svc}`} aria-label={`Edit the policy of the service ${svc}`}>Edit</button>
                      ) : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          {shown.length === 0 ? (
            <p className="empty" data-testid="no-services">No services yet: a service appears here once a key names it.</p>
          ) : null}
          {services.length > MAX_SERVICES ? (
            <p className="hint">The first {MAX_SERVICES} of {services.length} services are listed; name another one below.</p>
          ) : null}
        </div>
      )}
      {canEdit.allowed ? null : (
        <p className="hint" data-testid="policy-not-allowed">{canEdit.reason} to change a policy.</p>
      )}
      {canEdit.allowed ? (
      <form className="other-service" onSubmit={onOther} noValidate>
        <div className="field">
          <label htmlFor="policy-other-service">Another service</label>
          <input
            id="policy-other-service"
            value={other}
            onChange={(ev) => {
              setOther(ev.target.value);
              setOtherError('');
            }}
            aria-invalid={otherError ? true : undefined}
            aria-describedby="policy-other-error"
            data-testid="policy-service-input"
            autoComplete="off"
            spellCheck={false}
          />
          <p className="field-error" id="policy-other-error">{otherError}</p>
        </div>
        <button type="submit" className="button" data-testid="policy-open-service">Edit its policy</button>
      </form>
      ) : null}
      {canEdit.allowed ? <PolicyEditor /> : null}
    </section>
  );
}
