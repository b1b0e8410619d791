/**
 * One key: every field, its versions with their true end, and the actions on
 * it: rotate, revoke (a reason picked, a confirmation naming the key), destroy
 * a revoked version (confirmation), reveal or copy any version that still has
 * a secret. A revealed secret is shown in blocks of four and hides itself after
 * REVEAL_SECONDS; a copy shows the time until main clears the clipboard.
 * Unmounting drops any revealed secret.
 */
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { revokeReasonSchema, type KeyDetail, type KeyVersionInfo, type RevokeReason } from '../../../shared/contract';
import { duration, when } from '../format';
import { usePermission } from '../roles';
import { groupSecret, noSecretReason, REVEAL_SECONDS, trueEnd, useKeyDetail } from '../stores/keyDetail';
import { ErrorBlock, Loading } from './common';
import { DUE_LABEL } from './KeysScreen';

const REASON_HELP: Readonly<Record<RevokeReason, string>> = {
  compromised: 'the secret leaked or may have: treat every use since as suspect',
  superseded: 'a newer version replaces it',
  retired: 'the key is no longer needed',
  other: 'none of these; say why in the ceremony record',
};

/** service/environment/name: how people name a key aloud. */
export function keyPath(d: Pick<KeyDetail, 'service' | 'environment' | 'name'>): string {
  return `${d.service}/${d.environment}/${d.name}`;
}

/** The current time, updated every second while `active`. */
function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return undefined;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [active]);
  return now;
}

function secondsLeft(until: number, now: number): number {
  return Math.max(0, Math.ceil((until - now) / 1000));
}

/**
 * A confirmation in the native <dialog> (modal: focus stays inside, Esc cancels).
 * `open` shows it; closing it any way but the confirm button calls onCancel.
 */
function ConfirmDialog(props: Readonly<{
  open: boolean; title: string; testId: string; confirmLabel: string; confirmTestId: string; danger?: boolean;
  busy: boolean; canConfirm?: boolean; error: ReactNode; onConfirm: () => void; onCancel: () => void; children: ReactNode;
}>) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const { open, onCancel } = props;
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  // Mounted only while open: a closed dialog leaves nothing in the page.
  if (!open) return null;
  return (
    <dialog ref={ref} className="dialog key-dialog" aria-labelledby={titleId} data-testid={props.testId}
      onCancel={(e) => {
        // Esc while the action runs: the dialog stays until the answer is shown.
        if (props.busy) e.preventDefault();
      }}
      onClose={() => {
        if (open) onCancel();
      }}>
      <h2 id={titleId}>{props.title}</h2>
      <form method="dialog" onSubmit={(e) => {
        e.preventDefault();
        if (props.canConfirm !== false && !props.busy) props.onConfirm();
      }}>
        {props.children}
        {props.error}
        <div className="actions dialog-actions">
          <button type="submit" className={`button${props.danger ? ' danger' : ' primary'}`} disabled={props.busy || props.canConfirm === false}
            data-testid={props.confirmTestId}>
            {props.busy ? 'Working…' : props.confirmLabel}
          </button>
          <button type="button" className="button" onClick={onCancel} data-testid="dialog-cancel">
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** The revealed secret (blocks of four, hiding itself), or a mask; copy status with its countdown. */
function SecretPanel({ detail }: { detail: KeyDetail }) {
  const { revealed, busyVersion, secretError, copied } = useKeyDetail(
    useShallow((s) => ({ revealed: s.revealed, busyVersion: s.busyVersion, secretError: s.secretError, copied: s.copied })),
  );
  const { reveal, hideSecret, copy } = useKeyDetail(useShallow((s) => ({ reveal: s.reveal, hideSecret: s.hideSecret, copy: s.copy })));
  const now = useNow(revealed !== null || (copied !== null && copied.clearAt !== null));

  // Leaving the view (another key, close, lock) takes the secret out of the store.
  useEffect(() => hideSecret, [hideSecret]);

  const current = detail.versions.find((v) => v.version === detail.currentVersion);
  const currentReason = current ? noSecretReason(current) : 'The key has no current version.';
  const shownVersion = revealed ? detail.versions.find((v) => v.version === revealed.version) : undefined;
  const copyLeft = copied !== null && copied.clearAt !== null ? secondsLeft(copied.clearAt, now) : null;
  const canReveal = usePermission('key.reveal');

  if (!canReveal.allowed) {
    // No reveal or copy button at all for an operator who may not read secrets (an auditor).
    return (
      <section className="reveal" aria-labelledby="reveal-title" data-testid="reveal-not-allowed">
        <h3 id="reveal-title">Secret</h3>
        <p className="hint">{canReveal.reason}: your roles do not allow revealing or copying a secret.</p>
      </section>
    );
  }

  return (
    <section className="reveal" aria-labelledby="reveal-title">
      <h3 id="reveal-title">Secret</h3>
      {revealed ? (
        <>
          <p className="hint">Version {revealed.version}, in blocks of four characters:</p>
          <p className="secret-box">
            <code className="secret" data-testid="secret" data-version={revealed.version}>
              {groupSecret(revealed.secret).map((g, i) => (
                <span key={i} className="secret-group">{g}</span>
              ))}
            </code>
          </p>
          <p className="countdown" data-testid="reveal-countdown" aria-live="off">
            Hides in {secondsLeft(revealed.hideAt, now)} s
          </p>
          {shownVersion && (shownVersion.state === 'revoked' || shownVersion.state === 'retiring') ? (
            <p className="warning" role="alert" data-testid="revoked-warning">
              {shownVersion.state === 'revoked'
                ? `Version ${shownVersion.version} is revoked${shownVersion.revokeReason ? ` (${shownVersion.revokeReason})` : ''}: do not put it back into use.`
                : `Version ${shownVersion.version} is retiring: servers drop it when its grace ends.`}
            </p>
          ) : null}
        </>
      ) : (
        <p className="secret-box">
          <span className="masked" data-testid="secret-masked">
            <span aria-hidden="true">••••••••••••••••••••••••</span>
            <span className="visually-hidden">Secret hidden</span>
          </span>
        </p>
      )}
      <div className="actions">
        {revealed ? (
          <button type="button" className="button" onClick={hideSecret} data-testid="hide">
            Hide secret
          </button>
        ) : (
          <button type="button" className="button" onClick={() => void reveal(detail.currentVersion)}
            disabled={busyVersion !== null || currentReason !== null} data-testid="reveal">
            {busyVersion === detail.currentVersion && !copied ? 'Revealing…' : `Reveal current secret (version ${detail.currentVersion})`}
          </button>
        )}
        <button type="button" className="button" onClick={() => void copy(detail.currentVersion)}
          disabled={busyVersion !== null || currentReason !== null} data-testid="copy">
          Copy current secret
        </button>
      </div>
      {currentReason ? <p className="hint">{currentReason}</p> : null}
      {copied ? (
        <p className="countdown" data-testid="copy-countdown" data-left={copyLeft ?? ''}>
          {copyLeft === null
            ? `Version ${copied.version} copied. The clipboard is not cleared automatically.`
            : copyLeft > 0
              ? `Version ${copied.version} copied. The clipboard clears in ${copyLeft} s.`
              : `Version ${copied.version} was copied; the clipboard has been cleared if it still held it.`}
        </p>
      ) : null}
      <p className="hint">
        Revealing or copying a secret is recorded in the audit log. A revealed secret hides itself after {REVEAL_SECONDS} seconds.
      </p>
      {secretError ? <ErrorBlock error={secretError} title="The secret could not be read" /> : null}
    </section>
  );
}

function VersionCard({ v, current, onRevoke, onDestroy }: {
  v: KeyVersionInfo; current: boolean; onRevoke: (version: number) => void; onDestroy: (version: number) => void;
}) {
  const { busyVersion, revealed } = useKeyDetail(useShallow((s) => ({ busyVersion: s.busyVersion, revealed: s.revealed })));
  const { reveal, copy } = useKeyDetail(useShallow((s) => ({ reveal: s.reveal, copy: s.copy })));
  const reasonId = useId();
  const why = noSecretReason(v);
  const end = trueEnd(v);
  const live = v.state === 'pre-active' || v.state === 'active' || v.state === 'retiring';
  const canReveal = usePermission('key.reveal');
  const canRevoke = usePermission('key.revoke');
  const canDestroy = usePermission('key.destroy');
  return (
    <li className={`version-card${current ? ' current' : ''}`} data-testid={`version-${v.version}`} data-state={v.state}>
      <div className="version-head">
        <h4>Version {v.version}</h4>
        <span className={`badge state-${v.state}`}>{v.state}</span>
        {current ? <span className="hint">current</span> : null}
      </div>
      <dl className="facts compact">
        <dt>Created</dt>
        <dd>{when(v.createdAt)}</dd>
        <dt>{v.state === 'pre-active' ? 'Activates' : 'Activated'}</dt>
        <dd>{when(v.activatedAt)}</dd>
        <dt>Not after</dt>
        <dd>{when(v.notAfter)}</dd>
        {v.graceUntil ? (
          <>
            <dt>Grace ends</dt>
            <dd>{when(v.graceUntil)}</dd>
          </>
        ) : null}
        {v.revokedAt ? (
          <>
            <dt>Revoked</dt>
            <dd data-testid={`revoked-${v.version}`}>
              {when(v.revokedAt)}
              {v.revokeReason ? ` (${v.revokeReason})` : ''}
            </dd>
          </>
        ) : null}
        {v.destroyedAt ? (
          <>
            <dt>Destroyed</dt>
            <dd>{when(v.destroyedAt)}</dd>
          </>
        ) : null}
        <dt>Ends</dt>
        <dd data-testid={`ends-${v.version}`}>
          <strong>{when(end.at)}</strong> <span className="hint">({end.what})</span>
        </dd>
      </dl>
      <div className="actions small">
        {canReveal.allowed ? (
          <>
            <button type="button" className="button small" onClick={() => void reveal(v.version)} disabled={why !== null || busyVersion !== null}
              aria-describedby={why || v.state === 'revoked' ? reasonId : undefined} data-testid={`reveal-version-${v.version}`}>
              {revealed?.version === v.version ? 'Shown above' : 'Reveal'}
            </button>
            <button type="button" className="button small" onClick={() => void copy(v.version)} disabled={why !== null || busyVersion !== null}
              aria-describedby={why || v.state === 'revoked' ? reasonId : undefined} data-testid={`copy-version-${v.version}`}>
              Copy
            </button>
          </>
        ) : null}
        {live ? (
          <button type="button" className="button small" onClick={() => onRevoke(v.version)} disabled={!canRevoke.allowed}
            title={canRevoke.reason ?? undefined} data-testid={`revoke-version-${v.version}`}>
            Revoke…
          </button>
        ) : null}
        {v.state === 'revoked' ? (
          <button type="button" className="button small danger" onClick={() => onDestroy(v.version)} disabled={!canDestroy.allowed}
            title={canDestroy.reason ?? undefined} data-testid={`destroy-version-${v.version}`}>
            Destroy secret…
          </button>
        ) : null}
      </div>
      {why ? (
        <p className="hint" id={reasonId} data-testid={`no-secret-${v.version}`}>{why}</p>
      ) : v.state === 'revoked' ? (
        <p className="warning-text" id={reasonId}>Revoked: reveal or copy it only to investigate, never to use it again.</p>
      ) : null}
    </li>
  );
}

type Dialog = { kind: 'rotate' } | { kind: 'revoke'; version?: number } | { kind: 'destroy'; version: number } | null;

function KeyActions({ detail, dialog, setDialog, reason, setReason }: {
  detail: KeyDetail; dialog: Dialog; setDialog: (d: Dialog) => void; reason: RevokeReason | null; setReason: (r: RevokeReason | null) => void;
}) {
  const { action, actionStatus, actionError } = useKeyDetail(
    useShallow((s) => ({ action: s.action, actionStatus: s.actionStatus, actionError: s.actionError })),
  );
  const { rotate, revoke, destroy, resetAction } = useKeyDetail(
    useShallow((s) => ({ rotate: s.rotate, revoke: s.revoke, destroy: s.destroy, resetAction: s.resetAction })),
  );
  const reasonName = useId();
  const canRotate = usePermission('key.rotate');
  const canRevoke = usePermission('key.revoke');
  const path = keyPath(detail);
  const live = detail.versions.filter((v) => v.state === 'pre-active' || v.state === 'active' || v.state === 'retiring');
  const busy = actionStatus === 'loading';
  const error = actionStatus === 'error' && actionError && dialog !== null && action === dialog.kind
    ? <ErrorBlock error={actionError} title="Nothing was changed" /> : null;

  function open(d: NonNullable<Dialog>): void {
    resetAction();
    setReason(null);
    setDialog(d);
  }
  function cancel(): void {
    if (busy) return;
    setDialog(null);
    resetAction();
  }
  async function run(p: Promise<boolean>): Promise<void> {
    if (await p) setDialog(null);
  }

  const revokeVersions = dialog?.kind === 'revoke' ? (dialog.version !== undefined ? [dialog.version] : live.map((v) => v.version)) : [];
  return (
    <>
      <div className="actions key-actions">
        <button type="button" className="button" onClick={() => open({ kind: 'rotate' })}
          disabled={detail.state === 'revoked' || detail.state === 'destroyed' || !canRotate.allowed} title={canRotate.reason ?? undefined}
          data-testid="key-rotate">
          Rotate…
        </button>
        <button type="button" className="button danger" onClick={() => open({ kind: 'revoke' })} disabled={live.length === 0 || !canRevoke.allowed}
          title={canRevoke.reason ?? undefined} data-testid="key-revoke">
          Revoke…
        </button>
      </div>
      {canRotate.allowed ? null : <p className="hint" data-testid="key-actions-not-allowed">{canRotate.reason} to rotate, revoke or destroy.</p>}
      {live.length === 0 ? <p className="hint">No live version is left to rotate or revoke.</p> : null}

      <ConfirmDialog open={dialog?.kind === 'rotate'} title={`Rotate ${path}?`} testId="rotate-dialog" confirmLabel="Rotate"
        confirmTestId="confirm-key-rotate" busy={busy} error={error} onCancel={cancel} onConfirm={() => void run(rotate())}>
        <p>
          A new secret, version {detail.currentVersion + 1}, is made and becomes active. Version {detail.currentVersion} retires:
          servers still accept it for the grace period ({duration(detail.policy.grace)}), then it is revoked.
        </p>
      </ConfirmDialog>

      <ConfirmDialog open={dialog?.kind === 'revoke'} title={`Revoke ${path}?`} testId="revoke-dialog" confirmLabel="Revoke"
        confirmTestId="confirm-revoke" danger busy={busy} canConfirm={reason !== null} error={error} onCancel={cancel}
        onConfirm={() => {
          if (reason && dialog?.kind === 'revoke') void run(revoke(reason, dialog.version));
        }}>
        <p data-testid="revoke-summary">
          <strong>{path}</strong> ({detail.id}):{' '}
          {revokeVersions.length === 1 ? `version ${revokeVersions[0]}` : `versions ${revokeVersions.join(', ')}`} will be revoked.
          Servers stop accepting {revokeVersions.length === 1 ? 'it' : 'them'} once the next bundle reaches them. This cannot be undone.
        </p>
        <fieldset className="reasons">
          <legend>Reason (required)</legend>
          {revokeReasonSchema.options.map((r) => (
            <label key={r} className="reason">
              <input type="radio" name={reasonName} value={r} checked={reason === r} onChange={() => setReason(r)}
                data-testid={`revoke-reason-${r}`} />
              <span>
                <strong>{r}</strong> <span className="hint">{REASON_HELP[r]}</span>
              </span>
            </label>
          ))}
        </fieldset>
      </ConfirmDialog>

      <ConfirmDialog open={dialog?.kind === 'destroy'} title={`Destroy a secret of ${path}?`} testId="destroy-dialog"
        confirmLabel="Destroy the secret" confirmTestId="confirm-destroy" danger busy={busy} error={error} onCancel={cancel}
        onConfirm={() => {
          if (dialog?.kind === 'destroy') void run(destroy(dialog.version));
        }}>
        <p data-testid="destroy-summary">
          The secret of <strong>{path}</strong> version {dialog?.kind === 'destroy' ? dialog.version : ''} is erased from the vault for
          good: it can never be revealed, copied or exported again. Its dates, state and history stay.
        </p>
      </ConfirmDialog>
    </>
  );
}

export function KeyDetailPanel() {
  const { detail, status, error, selectedId } = useKeyDetail(
    useShallow((s) => ({ detail: s.detail, status: s.status, error: s.error, selectedId: s.selectedId })),
  );
  const { close, select } = useKeyDetail(useShallow((s) => ({ close: s.close, select: s.select })));

  if (!selectedId) {
    return (
      <section className="detail empty-detail" aria-label="Key detail">
        <p>Select a key to see its versions, policy and secret.</p>
      </section>
    );
  }
  if (status === 'loading' || (status === 'idle' && !detail)) {
    return (
      <section className="detail" aria-label="Key detail">
        <Loading label="Loading the key…" />
      </section>
    );
  }
  if (status === 'error' && error) {
    return (
      <section className="detail" aria-label="Key detail">
        <ErrorBlock error={error} title="The key could not be shown">
          <button type="button" className="button" onClick={() => void select(selectedId)}>
            Try again
          </button>
        </ErrorBlock>
      </section>
    );
  }
  if (!detail) return null;
  return <KeyDetailBody detail={detail} close={close} />;
}

function KeyDetailBody({ detail, close }: { detail: KeyDetail; close: () => void }) {
  const [dialog, setDialog] = useState<Dialog>(null);
  const [reason, setReason] = useState<RevokeReason | null>(null);
  const resetAction = useKeyDetail((s) => s.resetAction);
  const section = useRef<HTMLElement>(null);
  // Narrow windows put the detail under the list: bring it into view when another key opens.
  useEffect(() => {
    if (globalThis.matchMedia?.('(max-width: 1100px)').matches) section.current?.scrollIntoView({ block: 'start' });
  }, [detail.id]);
  const current = detail.versions.find((v) => v.version === detail.currentVersion);
  const versions = [...detail.versions].reverse();
  function open(d: NonNullable<Dialog>): void {
    resetAction();
    setReason(null);
    setDialog(d);
  }
  return (
    <section
      ref={section}
      className="detail"
      aria-labelledby="detail-title"
      data-testid="key-detail"
      onKeyDown={(e) => {
        // Esc in a dialog closes the dialog only.
        if (e.key === 'Escape' && !(e.target instanceof Element && e.target.closest('dialog'))) close();
      }}
    >
      <div className="detail-head">
        <div>
          <h2 id="detail-title">{detail.name}</h2>
          <p className="hint key-path" data-testid="key-path">{keyPath(detail)}</p>
        </div>
        <button type="button" className="button" onClick={close} data-testid="close-detail">
          Close
        </button>
      </div>
      <dl className="facts">
        <dt>Key id</dt>
        <dd>
          <code>{detail.id}</code>
        </dd>
        <dt>Service</dt>
        <dd>{detail.service}</dd>
        <dt>Environment</dt>
        <dd>{detail.environment}</dd>
        <dt>State</dt>
        <dd>
          <span className={`badge state-${detail.state}`}>{detail.state}</span> <span className="hint">version {detail.currentVersion}</span>
        </dd>
        <dt>Rotation due</dt>
        <dd data-testid="due" data-due={detail.due.status}>
          <span className={`badge due-${detail.due.status}`}>{DUE_LABEL[detail.due.status]}</span> {when(detail.due.rotateAt)}
        </dd>
        <dt>Activation</dt>
        <dd>{when(current?.activatedAt ?? null)}</dd>
        <dt>Not after</dt>
        <dd>{when(detail.due.notAfter)}</dd>
        <dt>Scopes</dt>
        <dd>{detail.scopes.length ? detail.scopes.join(', ') : 'none'}</dd>
        <dt>Owner</dt>
        <dd>{detail.owner || '—'}</dd>
        <dt>Notes</dt>
        <dd className="notes" data-testid="notes">{detail.notes || '—'}</dd>
        <dt>Created</dt>
        <dd>{when(detail.createdAt)}</dd>
        <dt>Changed</dt>
        <dd>{when(detail.updatedAt)}</dd>
      </dl>
      <KeyActions detail={detail} dialog={dialog} setDialog={setDialog} reason={reason} setReason={setReason} />
      <SecretPanel detail={detail} />
      <h3>Versions</h3>
      <ul className="version-list">
        {versions.map((v) => (
          <VersionCard key={v.version} v={v} current={v.version === detail.currentVersion}
            onRevoke={(n) => open({ kind: 'revoke', version: n })} onDestroy={(n) => open({ kind: 'destroy', version: n })} />
        ))}
      </ul>
      <h3>Policy</h3>
      <dl className="facts">
        <dt>Rotate every</dt>
        <dd>{duration(detail.policy.rotation)} <span className="hint">({detail.policy.sources.rotation})</span></dd>
        <dt>Grace</dt>
        <dd>{duration(detail.policy.grace)}</dd>
        <dt>Warn ahead</dt>
        <dd>{duration(detail.policy.warn)}</dd>
        <dt>Lifetime</dt>
        <dd>{duration(detail.policy.lifetime)}</dd>
      </dl>
    </section>
  );
}
