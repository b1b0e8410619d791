/**
 * The unlock refused by a token's rollback record (ROLLBACK_DETECTED: the
 * vault file is older than, or forked from, what the token recorded;
 * ANCHOR_INVALID: the record does not check out). Shows the refusal with
 * both audit heads (in the core's message) and what to do; "Open anyway
 * (disaster recovery)" asks for a reason (recorded in the audit log) and an
 * explicit confirmation before the unlock is sent again with the override.
 * docs/desktop.md (Unlock), docs/threat-model.md (rollback).
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import type { ApiError } from '../api';
import { withoutPrefix } from '../errors';
import { ErrorBlock } from './common';

/** The error codes this notice is for. */
export function isRollbackRefusal(e: ApiError | null): e is ApiError {
  return e?.code === 'ROLLBACK_DETECTED' || e?.code === 'ANCHOR_INVALID';
}

const REASON_MAX = 500;

export function RollbackNotice({ error, busy, onOverride, onCancel }: {
  error: ApiError;
  busy: boolean;
  /** Sends the unlock again with the override; resolves null when the vault opened, else the error. */
  onOverride: (reason: string) => Promise<ApiError | null>;
  onCancel: () => void;
}) {
  const id = useId();
  const heading = useRef<HTMLHeadingElement>(null);
  const reasonField = useRef<HTMLTextAreaElement>(null);
  const [overriding, setOverriding] = useState(false);
  const [reason, setReason] = useState('');
  const [confirmed, setConfirmed] = useState(false);
  const [problems, setProblems] = useState<{ reason?: string | undefined; confirm?: string | undefined }>({});
  const [failed, setFailed] = useState<ApiError | null>(null);
  const invalid = error.code === 'ANCHOR_INVALID';

  useEffect(function focusHeading() {
    heading.current?.focus();
  }, []);

  useEffect(
    function focusReason() {
      if (overriding) reasonField.current?.focus();
    },
    [overriding],
  );

  async function submit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    if (busy) return;
    const trimmed = reason.trim();
    const next: { reason?: string; confirm?: string } = {};
    if (trimmed.length === 0) next.reason = 'Say why this copy must be opened: the reason is recorded in the audit log.';
    else if (trimmed.length > REASON_MAX) next.reason = `Keep the reason to ${REASON_MAX} characters.`;
    if (!confirmed) next.confirm = 'Confirm that you mean to open this copy.';
    setProblems(next);
    if (next.reason !== undefined) {
      reasonField.current?.focus();
      return;
    }
    if (next.confirm !== undefined) return;
    setFailed(await onOverride(trimmed));
  }

  return (
    <section className="rollback-notice" data-testid="rollback-notice" aria-labelledby={`${id}-title`}>
      <div className="error-block" role="alert" data-code={error.code}>
        <h2 id={`${id}-title`} ref={heading} tabIndex={-1} className="error-title">
          {invalid ? 'The token\u2019s record of this vault does not check out' : 'This vault file is older than the token\u2019s record'}
        </h2>
        <p data-testid="rollback-message">{withoutPrefix(error.message)}</p>
        <p className="hint">
          {invalid
            ? 'The record was made by another vault or altered. Nothing was changed.'
            : 'Someone put back an older or diverging copy of the vault file: keys revoked since may look active in it. Nothing was changed.'}{' '}
          Open the newest copy of the vault instead, from the workstation or backup it was last used on.
        </p>
      </div>
      {!overriding ? (
        <div className="actions">
          <button type="button" className="button primary" onClick={onCancel} disabled={busy} data-testid="rollback-cancel">
            Cancel
          </button>
          <button type="button" className="button danger-outline" onClick={() => setOverriding(true)} data-testid="rollback-override">
            Open anyway (disaster recovery)…
          </button>
        </div>
      ) : (
        <form noValidate className="form" onSubmit={(e) => void submit(e)} aria-busy={busy} data-testid="rollback-form">
          <p>
            Only when no newer copy exists. The vault opens as it is in this file, an audit entry records both records and your
            reason, and the token&apos;s record moves to this file.
          </p>
          <div className="field">
            <label htmlFor={`${id}-reason`}>Reason (recorded in the audit log)</label>
            <textarea
              id={`${id}-reason`}
              ref={reasonField}
              rows={3}
              maxLength={REASON_MAX}
              value={reason}
              onChange={(e) => {
                setReason(e.target.value);
                setProblems((p) => ({ ...p, reason: undefined }));
              }}
              aria-invalid={problems.reason !== undefined ? true : undefined}
              aria-describedby={problems.reason !== undefined ? `${id}-reason-error` : undefined}
              data-testid="rollback-reason"
            />
            {problems.reason !== undefined ? (
              <p className="field-error" id={`${id}-reason-error`}>
                {problems.reason}
              </p>
            ) : null}
          </div>
          <div className="field">
            <label>
              <input
                type="checkbox"
                checked={confirmed}
                onChange={(e) => {
                  setConfirmed(e.target.checked);
                  setProblems((p) => ({ ...p, confirm: undefined }));
                }}
                aria-invalid={problems.confirm !== undefined ? true : undefined}
                aria-describedby={problems.confirm !== undefined ? `${id}-confirm-error` : undefined}
                data-testid="rollback-confirm"
              />{' '}
              I understand that this opens an older or altered copy of the vault
            </label>
            {problems.confirm !== undefined ? (
              <p className="field-error" id={`${id}-confirm-error`}>
                {problems.confirm}
              </p>
            ) : null}
          </div>
          {failed ? (
            <div data-testid="rollback-error">
              <ErrorBlock error={failed} title="The vault did not open" />
            </div>
          ) : null}
          <div className="actions">
            <button type="button" className="button" onClick={onCancel} disabled={busy} data-testid="rollback-back">
              Cancel
            </button>
            <button type="submit" className="button danger" disabled={busy} data-testid="rollback-open">
              {busy ? 'Opening…' : 'Open this copy'}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
