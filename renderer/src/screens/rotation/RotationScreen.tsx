/**
 * Rotation: every key by what its policy says (overdue, due soon, fine, and
 * inactive ones that cannot rotate), keys ticked one by one or a group at a
 * time, and a rotation of the ticked keys or of all due ones. A confirmation
 * names how many keys will rotate (with a dry run on demand); a run shows a
 * progress bar fed by main's progress events and can be cancelled, stopping
 * after the chunk in flight, and then says exactly what committed.
 */
import { useEffect, useRef, useState } from 'react';
import type { DueKey, DueStatus } from '../../../../shared/contract';
import { ErrorBlock, Loading, ScreenTitle } from '../../components/common';
import { plural, when } from '../../format';
import { usePermission } from '../../roles';
import { GROUPS, keyLabel, PREVIEW_LIMIT, selectable, useRotation, type Pending } from '../../stores/rotation';
import { useShallow } from 'zustand/react/shallow';

const GROUP_TITLE: Readonly<Record<DueStatus, string>> = {
  overdue: 'Overdue',
  'due-soon': 'Due soon',
  ok: 'Fine',
  inactive: 'Inactive',
};

const GROUP_HINT: Readonly<Record<DueStatus, string>> = {
  overdue: 'Past the rotation date their policy sets.',
  'due-soon': 'Within the warning window before their rotation date.',
  ok: 'Not due yet.',
  inactive: 'The current version is not active (not yet activated, revoked or destroyed): these keys cannot be rotated.',
};

/** Rows drawn per group before "Show more": a 100,000-key vault must not become a 100,000-row table. */
const PAGE_ROWS = 50;

const n = (x: number): string => x.toLocaleString('en-US');

/** "in 3 days", "5 days ago", "today". */
function relative(iso: string | null): string {
  if (!iso) return '';
  const ms = new Date(iso).getTime() - Date.now();
  if (Number.isNaN(ms)) return '';
  const days = Math.round(ms / 86_400_000);
  if (days === 0) return 'today';
  return days > 0 ? `in ${plural(days, 'day')}` : `${plural(-days, 'day')} ago`;
}

/** service/environment/name, breakable after each slash rather than inside a word. */
function KeyPath({ label }: { label: string }) {
  const parts = label.split('/');
  return (
    <span className="key-path">
      {parts.map((p, i) => (
        <span key={i}>
          {p}
          {i < parts.length - 1 ? (
            <>
              /<wbr />
            </>
          ) : null}
        </span>
      ))}
    </span>
  );
}

function GroupTable({ group, keys }: { group: DueStatus; keys: readonly DueKey[] }) {
  const [shown, setShown] = useState(PAGE_ROWS);
  const { selected, toggle, setGroup } = useRotation(
    useShallow((s) => ({ selected: s.selected, toggle: s.toggle, setGroup: s.setGroup })),
  );
  const running = useRotation((s) => s.run?.phase === 'running');
  const canSelect = group !== 'inactive';
  const ticked = canSelect ? keys.reduce((c, k) => c + (selected.has(k.id) ? 1 : 0), 0) : 0;
  const all = ticked === keys.length && keys.length > 0;
  const headRef = useRef<HTMLInputElement>(null);
  useEffect(
    function indeterminate() {
      if (headRef.current) headRef.current.indeterminate = ticked > 0 && !all;
    },
    [ticked, all],
  );
  const titleId = `group-${group}`;
  return (
    <section className={`due-group due-group-${group}`} aria-labelledby={titleId} data-testid={`group-${group}`}>
      <h2 id={titleId}>
        {GROUP_TITLE[group]} <span className="group-count">({n(keys.length)})</span>
      </h2>
      <p className="hint">{GROUP_HINT[group]}</p>
      <div className="table-scroll">
        <table className="due-table">
          <thead>
            <tr>
              <th scope="col" className="col-check">
                {canSelect ? (
                  <input
                    ref={headRef}
                    type="checkbox"
                    checked={all}
                    disabled={running}
                    onChange={(e) => setGroup(group, e.target.checked)}
                    aria-label={`Select all ${plural(keys.length, `${GROUP_TITLE[group].toLowerCase()} key`)}`}
                    data-testid={`select-group-${group}`}
                  />
                ) : (
                  <span className="visually-hidden">Not selectable</span>
                )}
              </th>
              <th scope="col">Key</th>
              <th scope="col">State</th>
              <th scope="col">Version</th>
              <th scope="col">Rotate at</th>
            </tr>
          </thead>
          <tbody>
            {keys.slice(0, shown).map((k) => {
              const label = keyLabel(k);
              return (
                <tr key={k.id} className={selected.has(k.id) ? 'selected' : undefined} data-testid="due-row" data-id={k.id}>
                  <td className="col-check">
                    {selectable(k) ? (
                      <input
                        type="checkbox"
                        checked={selected.has(k.id)}
                        disabled={running}
                        onChange={() => toggle(k.id)}
                        aria-label={`Select ${label}`}
                        data-testid="select-key"
                      />
                    ) : null}
                  </td>
                  <td className="cell-key">
                    <KeyPath label={label} />
                  </td>
                  <td>
                    <span className={`badge state-${k.state}`}>{k.state}</span>
                  </td>
                  <td>v{k.currentVersion}</td>
                  <td>
                    {k.rotateAt ? (
                      <>
                        <time dateTime={k.rotateAt}>{when(k.rotateAt)}</time>{' '}
                        <span className={`when-rel due-${k.status}`}>{relative(k.rotateAt)}</span>
                      </>
                    ) : (
                      <span className="hint">no rotation date</span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {keys.length > shown ? (
        <button type="button" className="button link-button" onClick={() => setShown(shown + PAGE_ROWS * 4)} data-testid={`more-${group}`}>
          Show more ({n(keys.length - shown)} not shown)
        </button>
      ) : null}
    </section>
  );
}

function Preview({ pending }: { pending: Pending }) {
  const byId = useRotation((s) => s.byId);
  const p = pending.preview;
  if (p.status === 'idle') return null;
  if (p.status === 'loading') return <Loading label={`Checking ${plural(p.checked, 'key')} with a dry run…`} />;
  if (p.status === 'error' && p.error) return <ErrorBlock error={p.error} title="The dry run failed: nothing would rotate as asked" />;
  const first = p.rotated.slice(0, 6);
  return (
    <div className="rotation-preview" data-testid="rotation-preview">
      <p>
        Dry run: {plural(p.rotated.length, 'key')} would rotate
        {p.checked < pending.ids.length ? ` (the first ${n(p.checked)} checked)` : ''}. Nothing was changed.
      </p>
      <ul>
        {first.map((r) => {
          const k = byId.get(r.id);
          return (
            <li key={r.id}>
              <span className="key-path">{k ? keyLabel(k) : r.id}</span>: version {r.from} → {r.to}; version {r.from} keeps working
              until {when(r.graceUntil)}
            </li>
          );
        })}
      </ul>
      {p.rotated.length > first.length ? <p className="hint">and {n(p.rotated.length - first.length)} more.</p> : null}
    </div>
  );
}

function ConfirmRotation({ pending }: { pending: Pending }) {
  const ref = useRef<HTMLDialogElement>(null);
  const { byId, dismiss, rotate, preview } = useRotation(
    useShallow((s) => ({ byId: s.byId, dismiss: s.dismiss, rotate: s.rotate, preview: s.preview })),
  );
  useEffect(function open() {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  const count = pending.ids.length;
  const names = pending.ids.slice(0, 5).map((id) => {
    const k = byId.get(id);
    return k ? keyLabel(k) : id;
  });
  const what = plural(count, 'key');
  return (
    <dialog ref={ref} className="dialog confirm-rotation" aria-labelledby="rotate-title" aria-describedby="rotate-what"
      data-testid="confirm-rotation" onClose={dismiss}>
      <h2 id="rotate-title">Rotate {what}?</h2>
      <p id="rotate-what">
        {pending.kind === 'due' ? `Every key that is overdue or due soon: ${what}.` : `The ${what} you selected.`} Each gets a new
        version now; its current version retires and keeps working until its grace period ends. Every rotation is recorded in the
        audit log.
      </p>
      <ul className="names">
        {names.map((name) => (
          <li key={name} className="key-path">
            {name}
          </li>
        ))}
        {count > names.length ? <li className="hint">and {n(count - names.length)} more</li> : null}
      </ul>
      <p className="hint">
        Keys rotate in batches of 500. Cancel stops after the batch in progress: what is done stays done, the rest is not touched.
      </p>
      <Preview pending={pending} />
      <div className="actions">
        <button type="button" className="button primary" onClick={() => void rotate()} data-testid="confirm-rotate">
          Rotate {what}
        </button>
        {pending.preview.status === 'idle' ? (
          <button type="button" className="button" onClick={() => void preview()} data-testid="dry-run">
            {count > PREVIEW_LIMIT ? `Dry run (first ${n(PREVIEW_LIMIT)})` : 'Dry run first'}
          </button>
        ) : null}
        <button type="button" className="button" onClick={() => ref.current?.close()} data-testid="cancel-confirm" autoFocus>
          Cancel
        </button>
      </div>
    </dialog>
  );
}

function RunPanel() {
  const run = useRotation((s) => s.run);
  const { cancel, closeResult } = useRotation(useShallow((s) => ({ cancel: s.cancel, closeResult: s.closeResult })));
  const titleRef = useRef<HTMLHeadingElement>(null);
  // The confirmation that started the run is gone: focus lands here, not on the page body.
  useEffect(function focusTitle() {
    const active = document.activeElement;
    if (active === null || active === document.body) titleRef.current?.focus();
  }, []);
  if (!run) return null;
  const running = run.phase === 'running';
  const pct = run.total > 0 ? Math.round((run.done / run.total) * 100) : 0;
  const summary =
    run.phase === 'done'
      ? `${n(run.committed)} of ${n(run.total)} rotated.`
      : run.phase === 'running'
        ? `${n(run.done)} of ${n(run.total)} rotated…`
        : `${n(run.committed)} of ${n(run.total)} rotated; the rest were not touched.`;
  return (
    <section className={`run-panel run-${run.phase}`} aria-labelledby="run-title" data-testid="rotation-run" data-phase={run.phase}>
      <h2 id="run-title" ref={titleRef} tabIndex={-1}>
        {running ? 'Rotating' : run.phase === 'done' ? 'Rotation finished' : run.phase === 'cancelled' ? 'Rotation cancelled' : 'Rotation stopped'}
      </h2>
      <div
        className="progress"
        role="progressbar"
        aria-label="Keys rotated"
        aria-valuemin={0}
        aria-valuemax={run.total}
        aria-valuenow={run.done}
        aria-valuetext={`${n(run.done)} of ${n(run.total)} keys`}
        data-testid="rotation-progress"
      >
        <div className="progress-fill" style={{ width: `${pct}%` }} />
      </div>
      {/* Not a live region: it changes many times a second; the outcome is announced once (useUi.announce). */}
      <p data-testid="rotation-result" data-committed={run.committed} data-total={run.total}>
        {summary}
        {!running && run.tookMs > 0 ? <span className="hint"> ({(run.tookMs / 1000).toFixed(1)} s)</span> : null}
      </p>
      {run.error ? <ErrorBlock error={run.error} title="The batch in progress failed and was not applied" /> : null}
      <div className="actions">
        {running ? (
          <button type="button" className="button" onClick={cancel} disabled={run.cancelRequested} data-testid="cancel-rotation">
            {run.cancelRequested ? 'Stopping after this batch…' : 'Cancel'}
          </button>
        ) : (
          <button type="button" className="button" onClick={closeResult} data-testid="close-result">
            Close
          </button>
        )}
      </div>
    </section>
  );
}

export function RotationScreen() {
  const canRotate = usePermission('key.rotate');
  // Not the run itself: its progress changes many times a second and only RunPanel draws it.
  const { status, error, keys, groups, selected, pending, hasRun, running, load, ask, clearSelection } = useRotation(
    useShallow((s) => ({
      status: s.status,
      error: s.error,
      keys: s.keys,
      groups: s.groups,
      selected: s.selected,
      pending: s.pending,
      hasRun: s.run !== null,
      running: s.run?.phase === 'running',
      load: s.load,
      ask: s.ask,
      clearSelection: s.clearSelection,
    })),
  );
  useEffect(
    function loadOnOpen() {
      void load();
    },
    [load],
  );
  const due = groups.overdue.length + groups['due-soon'].length;
  const loaded = status === 'ready' || (status === 'loading' && keys.length > 0);

  return (
    <main className="screen wide rotation-screen" data-screen="rotation">
      <div className="screen-head">
        <ScreenTitle>Rotation</ScreenTitle>
        <button type="button" className="button" onClick={() => void load()} disabled={status === 'loading' || running} data-testid="refresh-due">
          Refresh
        </button>
      </div>

      {status === 'error' && error ? <ErrorBlock error={error} title="Could not read what is due" /> : null}
      {status === 'loading' && keys.length === 0 ? <Loading label="Reading what is due…" /> : null}

      {loaded ? (
        <>
          <ul className="due-summary" aria-label="Keys by due state">
            {GROUPS.map((g) => (
              <li key={g} className={`due-card due-card-${g}`} data-testid={`count-${g}`} data-count={groups[g].length}>
                <span className="due-num">{n(groups[g].length)}</span> <span className="due-label">{GROUP_TITLE[g].toLowerCase()}</span>
              </li>
            ))}
          </ul>

          {keys.length === 0 ? (
            <p className="empty" data-testid="no-keys">
              The vault has no keys yet. Create keys under Keys; they show here by when their policy says to rotate them.
            </p>
          ) : (
            <div className="rotation-bar">
              {canRotate.allowed ? null : <p className="hint" data-testid="rotate-not-allowed">{canRotate.reason} to rotate keys.</p>}
              <div className="actions">
                <button type="button" className="button primary" onClick={() => ask('due')} disabled={running || due === 0 || !canRotate.allowed}
                  data-testid="rotate-due">
                  Rotate all due ({n(due)})
                </button>
                <button type="button" className="button" onClick={() => ask('selected')} disabled={running || selected.size === 0 || !canRotate.allowed}
                  data-testid="rotate-selected">
                  Rotate selected ({n(selected.size)})
                </button>
                {selected.size > 0 && !running ? (
                  <button type="button" className="button" onClick={clearSelection} data-testid="clear-selection">
                    Clear selection
                  </button>
                ) : null}
              </div>
              {due === 0 ? (
                <p className="hint" data-testid="nothing-due">
                  Nothing is due. Keys can still be rotated early: select them below.
                </p>
              ) : null}
            </div>
          )}

          {hasRun ? <RunPanel /> : null}

          {GROUPS.filter((g) => groups[g].length > 0).map((g) => (
            <GroupTable key={g} group={g} keys={groups[g]} />
          ))}
        </>
      ) : null}

      {pending ? <ConfirmRotation key={pending.ids.length + pending.kind} pending={pending} /> : null}
    </main>
  );
}
