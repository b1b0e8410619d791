/**
 * Ceremony: start one (its purpose and the people present), follow its steps
 * while it runs (the audit entries since its start), end it with the
 * checkpoint signed on a signer's token (PinPrompt: the PIN state first, the
 * final try only after a confirmation), and save any ceremony's transcript,
 * a PDF the core writes to a file chosen in main's save dialog.
 */
import { useEffect, useId, useMemo, useState, type FormEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { AuditEntry, CeremonyInfo } from '../../../../shared/contract';
import { ErrorBlock, Loading, ScreenTitle } from '../../components/common';
import { PinPrompt } from '../../components/PinPrompt';
import { plural, when } from '../../format';
import { openOf, STEP_LIMIT, useCeremony } from '../../stores/ceremony';
import { useKeys } from '../../stores/keys';
import { useUi } from '../../stores/ui';
import type { ApiError } from '../../api';
import { signerTokens, TokenPick } from '../bundles/TokenPick';

function time(iso: string | null): string {
  if (iso === null) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** The people present as typed: one name per line, blank lines dropped. */
export function namesOf(text: string): string[] {
  return text.split('\n').map((s) => s.trim()).filter((s) => s.length > 0);
}

function StartForm() {
  const start = useCeremony((s) => s.start);
  const [purpose, setPurpose] = useState('');
  const [present, setPresent] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [missing, setMissing] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();
  async function submit(e: FormEvent): Promise<void> {
    e.preventDefault();
    const names = namesOf(present);
    if (purpose.trim() === '' || names.length === 0) {
      setMissing(purpose.trim() === '' ? 'Say what the ceremony is for.' : 'Name at least one person present.');
      return;
    }
    setMissing(null);
    setBusy(true);
    const err = await start(purpose.trim(), names);
    setBusy(false);
    setError(err);
    if (!err) {
      setPurpose('');
      setPresent('');
    }
  }
  return (
    <section className="bundle-section" aria-labelledby={`${id}-h`} data-testid="ceremony-start">
      <h2 id={`${id}-h`}>Start a ceremony</h2>
      <p className="hint">
        Everything done in the vault until the ceremony ends is one of its steps. Ending it signs the audit head on a signer&apos;s token;
        the transcript lists every step for the people present to sign.
      </p>
      <form className="ceremony-form" onSubmit={(e) => void submit(e)} noValidate>
        <div className="field">
          <label htmlFor={`${id}-purpose`}>Purpose</label>
          <input id={`${id}-purpose`} type="text" value={purpose} maxLength={512} onChange={(e) => { setPurpose(e.target.value); setMissing(null); }}
            placeholder="Quarterly rotation of the payment keys" data-testid="ceremony-purpose" />
        </div>
        <div className="field">
          <label htmlFor={`${id}-present`}>People present (one name per line, at most 20)</label>
          <textarea id={`${id}-present`} rows={4} value={present} onChange={(e) => { setPresent(e.target.value); setMissing(null); }}
            aria-describedby={`${id}-present-hint`} data-testid="ceremony-present" />
          <p id={`${id}-present-hint`} className="hint">Operators and witnesses: each gets a line to sign on the transcript.</p>
        </div>
        {missing ? <p className="field-error" role="alert" data-testid="ceremony-start-missing">{missing}</p> : null}
        {error ? <ErrorBlock error={error} title="The ceremony was not started" /> : null}
        <div className="actions">
          <button type="submit" className="button primary" disabled={busy} data-testid="ceremony-start-submit">
            {busy ? 'Starting…' : 'Start ceremony'}
          </button>
        </div>
      </form>
    </section>
  );
}

function StepsTable({ steps, more }: { steps: readonly AuditEntry[]; more: boolean }) {
  const keys = useKeys((s) => s.all);
  // "key:ID" shown as the key's service/environment/name where the keys list knows it (as the Audit screen does).
  const labels = useMemo(
    () => new Map<string, string>(keys.map((k) => [`key:${k.id}`, `${k.service}/${k.environment}/${k.name}`])),
    [keys],
  );
  if (steps.length === 0) {
    return (
      <p className="empty" data-testid="ceremony-no-steps">
        No step yet. Work in the other areas (keys, rotation, bundles…): each change is a step of this ceremony.
      </p>
    );
  }
  return (
    <>
      <div className="table-scroll" tabIndex={0} role="region" aria-label="Steps of the ceremony so far">
        <table className="audit-table" data-testid="ceremony-steps" data-count={steps.length}>
          <caption className="visually-hidden">Steps of the ceremony so far</caption>
          <thead>
            <tr>
              <th scope="col" className="num">#</th>
              <th scope="col">Time</th>
              <th scope="col">Operator</th>
              <th scope="col">Action</th>
              <th scope="col">Subject</th>
            </tr>
          </thead>
          <tbody>
            {steps.map((e) => (
              <tr key={e.seq} data-testid={`ceremony-step-${e.seq}`}>
                <td className="num">{e.seq}</td>
                <td>{time(e.at)}</td>
                <td>{e.actor}</td>
                <td>{e.action}</td>
                <td className="cell-subject">{labels.get(e.subject) ?? e.subject}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {more ? <p className="hint">The first {STEP_LIMIT} steps are listed here; the transcript has them all.</p> : null}
    </>
  );
}

function EndPanel({ ceremony }: { ceremony: CeremonyInfo }) {
  const { tokens, signers, end, recheck } = useCeremony(
    useShallow((s) => ({ tokens: s.tokens, signers: s.signers, end: s.end, recheck: s.recheck })),
  );
  const present = signerTokens(tokens, signers);
  const [serial, setSerial] = useState('');
  const token = present.find((t) => t.serial === serial) ?? present[0] ?? null;
  const id = useId();
  return (
    <section className="bundle-section" aria-labelledby={`${id}-h`} data-testid="ceremony-end-panel">
      <h2 id={`${id}-h`}>End the ceremony</h2>
      <p className="hint">
        The audit head (entry {ceremony.id + ceremony.steps}, the last step) is signed on the token by a registered signer key. Until it is
        signed, the ceremony stays open.
      </p>
      <TokenPick tokens={tokens} signers={signers} value={token?.serial ?? ''} onChange={setSerial} testId="ceremony-token"
        legend="Token that signs the checkpoint" />
      {token ? (
        <PinPrompt
          key={token.serial}
          token={token}
          purpose={`sign the checkpoint of ceremony ${ceremony.id}`}
          submitLabel="End ceremony and sign"
          busyLabel="Signing…"
          testId="ceremony-end"
          autoFocus={false}
          recheck={() => recheck(token.serial)}
          onSubmit={(pin, allowFinalTry) => end(token.serial, pin, allowFinalTry)}
        />
      ) : null}
    </section>
  );
}

function Running({ ceremony }: { ceremony: CeremonyInfo }) {
  const { steps, moreSteps } = useCeremony(useShallow((s) => ({ steps: s.steps, moreSteps: s.moreSteps })));
  const id = useId();
  return (
    <>
      <section className="bundle-section" aria-labelledby={`${id}-h`} data-testid="ceremony-running" data-ceremony={ceremony.id}>
        <h2 id={`${id}-h`}>Ceremony {ceremony.id} is running</h2>
        <dl className="facts">
          <dt>Purpose</dt>
          <dd data-testid="ceremony-running-purpose">{ceremony.purpose}</dd>
          <dt>People present</dt>
          <dd>{ceremony.present.join(', ')}</dd>
          <dt>Started</dt>
          <dd>
            {time(ceremony.startedAt)} by {ceremony.startedBy}
          </dd>
          <dt>Steps so far</dt>
          <dd data-testid="ceremony-step-count">{ceremony.steps}</dd>
        </dl>
        <StepsTable steps={steps} more={moreSteps} />
      </section>
      <EndPanel ceremony={ceremony} />
    </>
  );
}

function PastCeremonies() {
  const { ceremonies, saving, saved, saveError, saveTranscript } = useCeremony(
    useShallow((s) => ({ ceremonies: s.ceremonies, saving: s.saving, saved: s.saved, saveError: s.saveError, saveTranscript: s.saveTranscript })),
  );
  const id = useId();
  const list = [...ceremonies].reverse();
  return (
    <section className="bundle-section" aria-labelledby={`${id}-h`} data-testid="ceremony-past">
      <h2 id={`${id}-h`}>Ceremonies</h2>
      {list.length === 0 ? (
        <p className="empty" data-testid="ceremony-none">No ceremony was held in this vault yet.</p>
      ) : (
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Ceremonies of this vault">
          <table className="audit-table ceremony-list" data-testid="ceremony-list">
            <caption className="visually-hidden">Ceremonies of this vault, newest first</caption>
            <thead>
              <tr>
                <th scope="col" className="num">#</th>
                <th scope="col">Purpose</th>
                <th scope="col">When</th>
                <th scope="col" className="num">Steps</th>
                <th scope="col">Transcript</th>
              </tr>
            </thead>
            <tbody>
              {list.map((c) => (
                <tr key={c.id} data-testid={`ceremony-row-${c.id}`}>
                  <td className="num">{c.id}</td>
                  <td>
                    {c.purpose}
                    <span className="hint"> — {c.present.join(', ')}</span>
                  </td>
                  <td className="cell-when">
                    <span className="visually-hidden">started </span>
                    {when(c.startedAt)}
                    <br />
                    {c.open ? <span className="badge">running</span> : <><span className="visually-hidden">ended </span>{'to '}{when(c.endedAt)}</>}
                  </td>
                  <td className="num">{c.steps}</td>
                  <td>
                    <button type="button" className="button" onClick={() => void saveTranscript(c.id)} disabled={saving !== null}
                      data-testid={`ceremony-transcript-${c.id}`}>
                      {saving === c.id ? 'Saving…' : 'Save transcript…'}
                      <span className="visually-hidden"> of ceremony {c.id}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {saveError ? <ErrorBlock error={saveError} title="The transcript was not saved" /> : null}
      {saved ? (
        <div className="result-panel" role="status" data-testid="ceremony-saved" data-path={saved.path} data-verified={String(saved.verified)}>
          <p>
            Transcript of ceremony {saved.ceremony} ({plural(saved.steps, 'step')}) saved to <code>{saved.path}</code>.
          </p>
          <p>
            {saved.verified === null
              ? 'The ceremony is still open: the transcript has no checkpoint yet.'
              : saved.verified
                ? 'Its checkpoint verifies against the registered signer\'s public key.'
                : 'Its checkpoint does NOT verify against the registered signer\'s key: see the transcript.'}
          </p>
        </div>
      ) : null}
    </section>
  );
}

export function CeremonyScreen() {
  const { status, error, ceremonies, load } = useCeremony(
    useShallow((s) => ({ status: s.status, error: s.error, ceremonies: s.ceremonies, load: s.load })),
  );
  useEffect(
    function loadOnOpen() {
      void load();
    },
    [load],
  );
  const open = openOf(ceremonies);
  return (
    <main className="screen wide ceremony-screen" data-screen="ceremony" aria-busy={status === 'loading'}>
      <div className="screen-head">
        <ScreenTitle>Ceremony</ScreenTitle>
        <div className="actions">
          <button type="button" className="button" onClick={() => void load()} disabled={status === 'loading'} data-testid="reload-ceremony">
            Reload
          </button>
        </div>
      </div>
      {status === 'error' && error ? (
        <ErrorBlock error={error} title="Could not read the ceremonies" />
      ) : status !== 'ready' && ceremonies.length === 0 ? (
        <Loading label="Reading the ceremonies…" />
      ) : (
        <>
          {open ? <Running ceremony={open} /> : <StartForm />}
          <PastCeremonies />
        </>
      )}
    </main>
  );
}

/**
 * The shell's sign that a ceremony is running: its number and steps so far,
 * a button to its screen. Read again when the area changes (a step done on
 * another screen); hidden when none is open or the operator may not see them.
 */
export function CeremonyIndicator() {
  const screen = useUi((s) => s.screen);
  const showScreen = useUi((s) => s.showScreen);
  const { ceremonies, refresh } = useCeremony(useShallow((s) => ({ ceremonies: s.ceremonies, refresh: s.refresh })));
  useEffect(
    function readOnAreaChange() {
      void refresh();
    },
    [screen, refresh],
  );
  const open = openOf(ceremonies);
  if (!open) return null;
  return (
    <button type="button" className="nav-link ceremony-indicator" onClick={() => showScreen('ceremony')} data-testid="ceremony-indicator"
      data-ceremony={open.id} title="Open the Ceremony area">
      <span>
        <span className="ceremony-dot" aria-hidden="true" />
        Ceremony {open.id} running
      </span>
      <span className="hint">{plural(open.steps, 'step')} so far</span>
    </button>
  );
}
