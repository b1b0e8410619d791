/**
 * One key: metadata, versions, policy and due date; reveal (masked until asked,
 * audited by the core) and copy (main puts the secret on the clipboard; it never
 * comes to the page for that). Unmounting drops any revealed secret.
 */
import { useEffect } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { duration, when } from '../format';
import { useKeys } from '../stores/keys';
import { ErrorBlock, Loading } from './common';

function Reveal() {
  const { revealed, revealStatus, revealError, copyStatus } = useKeys(
    useShallow((s) => ({ revealed: s.revealed, revealStatus: s.revealStatus, revealError: s.revealError, copyStatus: s.copyStatus })),
  );
  const { reveal, hideSecret, copy } = useKeys(useShallow((s) => ({ reveal: s.reveal, hideSecret: s.hideSecret, copy: s.copy })));

  // Leaving the view (another key, close, lock) takes the secret out of the store.
  useEffect(() => hideSecret, [hideSecret]);

  return (
    <section className="reveal" aria-labelledby="reveal-title">
      <h3 id="reveal-title">Secret</h3>
      <p className="secret-box">
        {revealed ? (
          <code className="secret" data-testid="secret">
            {revealed.secret}
          </code>
        ) : (
          <span className="masked" data-testid="secret-masked" aria-label="Secret hidden">
            ••••••••••••••••••••••••
          </span>
        )}
      </p>
      <div className="actions">
        {revealed ? (
          <button type="button" className="button" onClick={hideSecret} data-testid="hide">
            Hide secret
          </button>
        ) : (
          <button type="button" className="button" onClick={() => void reveal()} disabled={revealStatus === 'loading'} data-testid="reveal">
            {revealStatus === 'loading' ? 'Revealing…' : 'Reveal secret'}
          </button>
        )}
        <button type="button" className="button" onClick={() => void copy()} disabled={copyStatus === 'loading'} data-testid="copy">
          {copyStatus === 'loading' ? 'Copying…' : 'Copy to clipboard'}
        </button>
      </div>
      <p className="hint">Revealing or copying a secret is recorded in the audit log.</p>
      {revealError ? <ErrorBlock error={revealError} title="The secret could not be read" /> : null}
    </section>
  );
}

export function KeyDetailPanel() {
  const { detail, detailStatus, detailError, selectedId } = useKeys(
    useShallow((s) => ({ detail: s.detail, detailStatus: s.detailStatus, detailError: s.detailError, selectedId: s.selectedId })),
  );
  const { closeDetail, select } = useKeys(useShallow((s) => ({ closeDetail: s.closeDetail, select: s.select })));

  if (!selectedId) {
    return (
      <section className="detail empty-detail" aria-label="Key detail">
        <p>Select a key to see its versions, policy and secret.</p>
      </section>
    );
  }
  if (detailStatus === 'loading' || (detailStatus === 'idle' && !detail)) {
    return (
      <section className="detail" aria-label="Key detail">
        <Loading label="Loading the key…" />
      </section>
    );
  }
  if (detailStatus === 'error' && detailError) {
    return (
      <section className="detail" aria-label="Key detail">
        <ErrorBlock error={detailError} title="The key could not be shown">
          <button type="button" className="button" onClick={() => void select(selectedId)}>
            Try again
          </button>
        </ErrorBlock>
      </section>
    );
  }
  if (!detail) return null;
  return (
    <section
      className="detail"
      aria-labelledby="detail-title"
      data-testid="key-detail"
      onKeyDown={(e) => {
        if (e.key === 'Escape') closeDetail();
      }}
    >
      <div className="detail-head">
        <h2 id="detail-title">{detail.name}</h2>
        <button type="button" className="button" onClick={closeDetail} data-testid="close-detail">
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
          <span className={`badge state-${detail.state}`}>{detail.state}</span>
        </dd>
        <dt>Scopes</dt>
        <dd>{detail.scopes.length ? detail.scopes.join(', ') : 'none'}</dd>
        <dt>Owner</dt>
        <dd>{detail.owner || '—'}</dd>
        <dt>Rotation due</dt>
        <dd data-testid="due">
          <span className={`badge due-${detail.due.status}`}>{detail.due.status}</span> {when(detail.due.rotateAt)}
        </dd>
      </dl>
      <Reveal />
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
      <h3>Versions</h3>
      <table className="versions">
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">State</th>
            <th scope="col">Created</th>
            <th scope="col">Expires</th>
          </tr>
        </thead>
        <tbody>
          {detail.versions.map((v) => (
            <tr key={v.version}>
              <td>{v.version}</td>
              <td>
                <span className={`badge state-${v.state}`}>{v.state}</span>
              </td>
              <td>{when(v.createdAt)}</td>
              <td>{when(v.notAfter)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
