/**
 * Audit: the chain's verification with its head, the log a page at a time
 * under filters (key, action from the known list, actor, time range), an
 * export to a file chosen in main's save dialog, and, for a log cut off at
 * its end, the recovery that records the loss with the reason given.
 */
import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { AUDIT_ACTIONS } from '../../../../shared/audit-actions';
import type { AuditEntry, AuditVerifyReport } from '../../../../shared/contract';
import { ErrorBlock, Loading, ScreenTitle } from '../../components/common';
import { Needs } from '../../components/Needs';
import { withoutPrefix } from '../../errors';
import { useAudit, PAGE_SIZE, type Truncation } from '../../stores/audit';
import { useKeys } from '../../stores/keys';

const n = (x: number): string => x.toLocaleString('en-US');

/** A hash as people compare it: the first 12 hex digits; the whole one is in the title and one click away. */
function short(hash: string): string {
  return hash.length > 16 ? `${hash.slice(0, 12)}…` : hash;
}

function time(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** One line of an entry's details: "reason: compromised · versions: [1,2]". */
function compact(details: Readonly<Record<string, unknown>>): string {
  const parts = Object.entries(details).map(([k, v]) => `${k}: ${typeof v === 'string' && v !== '' ? v : JSON.stringify(v)}`);
  return parts.length > 0 ? parts.join(' · ') : '—';
}

/** A verification's break, in words for the app (the core's text may name a terminal command). */
function brokenText(r: AuditVerifyReport, cut: Truncation | null): string {
  if (cut) return `Entries ${n(cut.from)} to ${n(cut.to)} are missing: the log was cut off at its end.`;
  const reason = r.firstBroken?.reason ?? '';
  // Drop a parenthesis that tells a terminal user what to type.
  return withoutPrefix(reason.replace(/\s*\([^)]*`keyhold[^)]*\)/g, '').replace(/`/g, ''));
}

function Hash({ hash, testId }: { hash: string; testId: string }) {
  const [open, setOpen] = useState(false);
  return (
    <span className="hash">
      <code title={hash} data-testid={testId} data-hash={hash}>
        {open ? hash : short(hash)}
      </code>{' '}
      <button type="button" className="link-button" aria-expanded={open} onClick={() => setOpen(!open)}>
        {open ? 'Shorten' : 'Full hash'}
      </button>
    </span>
  );
}

function ChainPanel() {
  const { verify, verifyStatus, verifyError, truncated, runVerify } = useAudit(
    useShallow((s) => ({
      verify: s.verify,
      verifyStatus: s.verifyStatus,
      verifyError: s.verifyError,
      truncated: s.truncated,
      runVerify: s.runVerify,
    })),
  );
  return (
    <section className="audit-panel chain-panel" aria-labelledby="chain-title" data-testid="chain">
      <div className="panel-head">
        <h2 id="chain-title">Chain</h2>
        <button type="button" className="button" onClick={() => void runVerify()} disabled={verifyStatus === 'loading'} data-testid="verify">
          {verify ? 'Verify again' : 'Verify'}
        </button>
      </div>
      {verifyStatus === 'loading' ? <Loading label="Verifying every entry of the chain…" /> : null}
      {verifyStatus === 'error' && verifyError ? <ErrorBlock error={verifyError} title="Verification could not run" /> : null}
      {verify && verifyStatus !== 'loading' ? (
        <div data-testid="verify-status" data-ok={verify.ok ? 'true' : 'false'}>
          <p className={`chain-state ${verify.ok ? 'chain-ok' : 'chain-broken'}`}>
            <span className="badge">{verify.ok ? 'Intact' : 'Broken'}</span>{' '}
            {verify.ok
              ? 'Every entry links to the one before it and the chain ends at its recorded head.'
              : 'The chain does not verify. Do not make changes until this is explained.'}
          </p>
          <dl className="facts">
            <dt>Entries</dt>
            <dd data-testid="verify-entries">{n(verify.entries)}</dd>
            <dt>Head</dt>
            <dd>
              entry {n(verify.head.seq)}, <Hash hash={verify.head.hash} testId="head-hash" />
            </dd>
            {verify.firstBroken ? (
              <>
                <dt>First broken</dt>
                <dd data-testid="first-broken">
                  entry {n(verify.firstBroken.seq)}: {brokenText(verify, truncated)}
                </dd>
              </>
            ) : null}
            <dt>Checked in</dt>
            <dd>{verify.tookMs < 1000 ? `${Math.max(1, Math.round(verify.tookMs))} ms` : `${(verify.tookMs / 1000).toFixed(1)} s`}</dd>
          </dl>
        </div>
      ) : null}
    </section>
  );
}

function ConfirmRecover({ cut, reason, onClose }: { cut: Truncation; reason: string; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const { recover, recoverStatus } = useAudit(useShallow((s) => ({ recover: s.recover, recoverStatus: s.recoverStatus })));
  useEffect(function open() {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  const range = cut.from > 0 ? `Entries ${n(cut.from)} to ${n(cut.to)}` : 'The entries cut off';
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="recover-title" aria-describedby="recover-what" data-testid="confirm-recover-dialog"
      onClose={onClose}>
      <h2 id="recover-title">Record the loss and continue the log?</h2>
      <p id="recover-what">
        {range} stay lost. Keyhold records an audit entry with your reason and the old and new head, and the log continues from its
        last intact entry. If a backup of the vault still has these entries, restore it instead.
      </p>
      <p>
        Reason recorded: <q>{reason}</q>
      </p>
      <div className="actions">
        <button type="button" className="button danger" disabled={recoverStatus === 'loading'}
          onClick={() => void recover(reason).then((ok) => ok && ref.current?.close())} data-testid="confirm-recover">
          Record the loss
        </button>
        <button type="button" className="button" onClick={() => ref.current?.close()} autoFocus>
          Cancel
        </button>
      </div>
    </dialog>
  );
}

function TruncatedPanel({ cut }: { cut: Truncation }) {
  const recoverError = useAudit((s) => s.recoverError);
  const [reason, setReason] = useState('');
  const [asking, setAsking] = useState(false);
  const [touched, setTouched] = useState(false);
  const empty = reason.trim().length === 0;
  function submit(e: FormEvent): void {
    e.preventDefault();
    setTouched(true);
    if (!empty) setAsking(true);
  }
  return (
    <section className="audit-panel truncated-panel" aria-labelledby="truncated-title" data-testid="truncated">
      <h2 id="truncated-title">The log was cut off at its end</h2>
      <p>
        {cut.from > 0 ? `Entries ${n(cut.from)} to ${n(cut.to)} are missing. ` : 'Entries are missing from the end of the log. '}
        Until this is resolved the vault refuses every change and every reveal. Restore the vault from a backup if one has them; otherwise
        record the loss, with the reason, and the log continues from its last intact entry.
      </p>
      <Needs command="audit.recover" what="record the loss">
      <form className="recover-form" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="recover-reason">Reason (recorded in the log)</label>
          <input id="recover-reason" value={reason} maxLength={512} onChange={(e) => setReason(e.target.value)}
            aria-invalid={touched && empty ? 'true' : undefined} aria-describedby={touched && empty ? 'recover-reason-error' : undefined}
            data-testid="recover-reason" />
          {touched && empty ? (
            <p id="recover-reason-error" className="field-error">
              Say why: the reason is part of the record.
            </p>
          ) : null}
        </div>
        <div className="actions">
          <button type="submit" className="button danger" data-testid="recover">
            Record the loss…
          </button>
        </div>
      </form>
      </Needs>
      {recoverError ? <ErrorBlock error={recoverError} title="The log was not recovered" /> : null}
      {asking ? <ConfirmRecover cut={cut} reason={reason.trim()} onClose={() => setAsking(false)} /> : null}
    </section>
  );
}

function Filters() {
  const { filter, setFilter, apply, clearFilters, filterError, status } = useAudit(
    useShallow((s) => ({
      filter: s.filter,
      setFilter: s.setFilter,
      apply: s.apply,
      clearFilters: s.clearFilters,
      filterError: s.filterError,
      status: s.status,
    })),
  );
  function submit(e: FormEvent): void {
    e.preventDefault();
    void apply();
  }
  const any = filter.key || filter.action || filter.actor || filter.since || filter.until;
  return (
    <form className="audit-filters" onSubmit={submit} aria-label="Filter the log" data-testid="audit-filters">
      <div className="field grow">
        <label htmlFor="f-key">Key</label>
        <input id="f-key" value={filter.key} placeholder="id or service/env/name" onChange={(e) => setFilter({ key: e.target.value })}
          data-testid="filter-key" />
      </div>
      <div className="field">
        <label htmlFor="f-action">Action</label>
        <select id="f-action" value={filter.action} onChange={(e) => setFilter({ action: e.target.value })} data-testid="filter-action">
          <option value="">All actions</option>
          {AUDIT_ACTIONS.map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="f-actor">Actor</label>
        <input id="f-actor" value={filter.actor} onChange={(e) => setFilter({ actor: e.target.value })} data-testid="filter-actor" />
      </div>
      <div className="field">
        <label htmlFor="f-since">From</label>
        <input id="f-since" type="datetime-local" step={1} value={filter.since} onChange={(e) => setFilter({ since: e.target.value })}
          data-testid="filter-since" />
      </div>
      <div className="field">
        <label htmlFor="f-until">Until</label>
        <input id="f-until" type="datetime-local" step={1} value={filter.until} onChange={(e) => setFilter({ until: e.target.value })}
          data-testid="filter-until" />
      </div>
      <div className="actions filter-actions">
        <button type="submit" className="button primary" disabled={status === 'loading'} data-testid="apply-filters">
          Show
        </button>
        <button type="button" className="button" disabled={!any} onClick={() => void clearFilters()} data-testid="clear-filters">
          Clear filters
        </button>
      </div>
      {filterError ? (
        <p className="field-error filter-error" role="alert" data-testid="filter-error">
          {filterError}
        </p>
      ) : null}
    </form>
  );
}

function EntryRow({ e, subject }: { e: AuditEntry; subject: string }) {
  const [open, setOpen] = useState(false);
  const detailId = `entry-${e.seq}`;
  return (
    <>
      <tr data-testid="audit-row" data-seq={e.seq} data-action={e.action}>
        <td className="num">{e.seq}</td>
        <td>
          <time dateTime={e.at} title={e.at}>
            {time(e.at)}
          </time>
        </td>
        <td>{e.actor}</td>
        <td>
          <code>{e.action}</code>
        </td>
        <td className="cell-subject" title={e.subject}>
          {subject}
        </td>
        <td className="cell-details">
          <span className="details-line">{compact(e.details)}</span>
          <button type="button" className="link-button" aria-expanded={open} aria-controls={open ? detailId : undefined}
            onClick={() => setOpen(!open)} data-testid="expand-entry">
            {open ? 'Less' : 'More'}
            <span className="visually-hidden"> about entry {e.seq}</span>
          </button>
        </td>
      </tr>
      {open ? (
        <tr className="entry-detail" id={detailId}>
          <td colSpan={6}>
            <dl className="facts">
              <dt>Time (UTC)</dt>
              <dd>{e.at}</dd>
              <dt>Host</dt>
              <dd>{e.host || '—'}</dd>
              <dt>Workstation</dt>
              <dd>{e.workstation || '—'}</dd>
              <dt>Subject</dt>
              <dd>{e.subject}</dd>
              <dt>Details</dt>
              <dd>
                <pre className="details-json">{JSON.stringify(e.details, null, 2)}</pre>
              </dd>
              <dt>Hash</dt>
              <dd>
                <code className="full-hash">{e.hash}</code>
              </dd>
              <dt>Previous hash</dt>
              <dd>
                <code className="full-hash">{e.prevHash}</code>
              </dd>
            </dl>
          </td>
        </tr>
      ) : null}
    </>
  );
}

function EntriesTable() {
  const { entries, status, error, cursors, next, applied, nextPage, previousPage } = useAudit(
    useShallow((s) => ({
      entries: s.entries,
      status: s.status,
      error: s.error,
      cursors: s.cursors,
      next: s.next,
      applied: s.applied,
      nextPage: s.nextPage,
      previousPage: s.previousPage,
    })),
  );
  const keys = useKeys((s) => s.all);
  // "key:ID" shown as the key's service/environment/name where the keys list knows it.
  const labels = useMemo(
    () => new Map<string, string>(keys.map((k) => [`key:${k.id}`, `${k.service}/${k.environment}/${k.name}`])),
    [keys],
  );
  const page = cursors.length;
  const filtered = Boolean(applied.key || applied.action || applied.actor || applied.since || applied.until);

  if (status === 'error' && error) return <ErrorBlock error={error} title="Could not read the log" />;
  if (status === 'loading' && entries.length === 0) return <Loading label="Reading the log…" />;
  if (status === 'ready' && entries.length === 0) {
    return (
      <p className="empty" data-testid="no-entries">
        {filtered ? 'No entry matches these filters.' : page > 1 ? 'No more entries.' : 'The log has no entries.'}
      </p>
    );
  }
  const first = entries[0];
  const last = entries[entries.length - 1];
  return (
    <div className="audit-list" aria-busy={status === 'loading'}>
      <p className="count" data-testid="audit-page" data-page={page} data-count={entries.length}>
        Page {page}: {entries.length === 1 ? '1 entry' : `${n(entries.length)} entries`}
        {first && last ? ` (entries ${n(first.seq)} to ${n(last.seq)})` : ''}
        {filtered ? ', filtered' : ''}
      </p>
      {/* Focusable so the keyboard can scroll it (it scrolls on its own, the pager stays in view). */}
      <div className="table-scroll" tabIndex={0} role="region" aria-label={`Audit entries, page ${page}`}>
        <table className="audit-table">
          <caption className="visually-hidden">Audit log, page {page}</caption>
          <thead>
            <tr>
              <th scope="col" className="num">#</th>
              <th scope="col">Time</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Subject</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <EntryRow key={e.seq} e={e} subject={labels.get(e.subject) ?? e.subject} />
            ))}
          </tbody>
        </table>
      </div>
      <nav className="pager" aria-label="Pages of the log">
        <button type="button" className="button" onClick={() => void previousPage()} disabled={page < 2 || status === 'loading'}
          data-testid="prev-page">
          Previous {PAGE_SIZE}
        </button>
        <button type="button" className="button" onClick={() => void nextPage()} disabled={next === null || status === 'loading'}
          data-testid="next-page">
          Next {PAGE_SIZE}
        </button>
      </nav>
    </div>
  );
}

function ExportPanel() {
  const { exportStatus, exported, exportError } = useAudit(
    useShallow((s) => ({ exportStatus: s.exportStatus, exported: s.exported, exportError: s.exportError })),
  );
  if (exportStatus === 'loading') return <Loading label="Exporting the log…" />;
  if (exportStatus === 'error' && exportError) return <ErrorBlock error={exportError} title="The log was not exported" />;
  if (!exported) return null;
  return (
    <section className="audit-panel export-result" aria-labelledby="export-title" data-testid="export-result"
      data-entries={exported.entries} data-path={exported.path}>
      <h2 id="export-title">Exported</h2>
      <dl className="facts">
        <dt>File</dt>
        <dd>
          <code>{exported.path}</code>
        </dd>
        <dt>Entries</dt>
        <dd>{n(exported.entries)}</dd>
        <dt>Head</dt>
        <dd>
          entry {n(exported.head.seq)}, <Hash hash={exported.head.hash} testId="export-head-hash" />
        </dd>
      </dl>
      <p className="hint">The file verifies on its own: each line carries its entry's hashes, and the last one is the head above.</p>
    </section>
  );
}

export function AuditScreen() {
  const { truncated, exportStatus, exportLog, reload, runVerify, status } = useAudit(
    useShallow((s) => ({
      truncated: s.truncated,
      exportStatus: s.exportStatus,
      exportLog: s.exportLog,
      reload: s.reload,
      runVerify: s.runVerify,
      status: s.status,
    })),
  );
  useEffect(
    function loadOnOpen() {
      void reload();
      void runVerify();
    },
    [reload, runVerify],
  );
  return (
    <main className="screen wide audit-screen" data-screen="audit">
      <div className="screen-head">
        <ScreenTitle>Audit</ScreenTitle>
        <div className="actions">
          <button type="button" className="button" onClick={() => void reload()} disabled={status === 'loading'} data-testid="reload-audit">
            Reload
          </button>
          <button type="button" className="button primary" onClick={() => void exportLog()} disabled={exportStatus === 'loading'}
            data-testid="export-audit">
            Export log…
          </button>
        </div>
      </div>
      <div className="audit-top">
        <ChainPanel />
        <ExportPanel />
      </div>
      {truncated ? <TruncatedPanel cut={truncated} /> : null}
      <h2 className="section-title">Entries</h2>
      <Filters />
      <EntriesTable />
    </main>
  );
}
