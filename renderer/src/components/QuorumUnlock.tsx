/**
 * Unlock by quorum: any M of the N custodians of the vault's quorum keyslot,
 * one at a time. Each custodian gives their passphrase, their token's PIN
 * (PinPrompt: the PIN goes to their token only) or their paper share's words.
 * A visible count says how many are in and how many more are needed; nothing
 * opens before the M-th. Cancel ends the collection: the core wipes every
 * share collected (it also does at lock and after 5 minutes idle).
 *
 * No passphrase, PIN or word stays in the page: each field is cleared
 * whatever the outcome of its call.
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { QuorumState } from '../../../shared/contract';
import type { ApiError } from '../api';
import { useLiveTokens } from '../useLiveTokens';
import { useQuorum } from '../stores/quorum';
import { useTokens } from '../stores/tokens';
import { ErrorBlock, Loading } from './common';
import { PinPrompt } from './PinPrompt';
import { RollbackNotice } from './RollbackNotice';

type Custodian = QuorumState['custodians'][number];

export function QuorumUnlock({ onUnlocked }: { onUnlocked?: () => void }) {
  const { state, starting, error, refused, override } = useQuorum(useShallow((s) => ({ state: s.state, starting: s.starting, error: s.error,
    refused: s.refused, override: s.override })));
  const openAnyway = useQuorum((s) => s.openAnyway);
  const dismissRefusal = useQuorum((s) => s.dismissRefusal);
  const begin = useQuorum((s) => s.begin);
  const cancel = useQuorum((s) => s.cancel);
  const clear = useQuorum((s) => s.clear);
  const [chosen, setChosen] = useState<string | null>(null);
  const id = useId();

  useEffect(
    function startOnOpen() {
      void begin();
      // Leaving the method (or the screen) ends the collection: the core wipes what was collected.
      return () => {
        const s = useQuorum.getState().state;
        if (s) void useQuorum.getState().cancel();
        else clear();
      };
    },
    [begin, clear],
  );

  if (refused) {
    return (
      <RollbackNotice error={refused} busy={starting} onOverride={openAnyway} onCancel={() => void dismissRefusal()} />
    );
  }
  if (starting) return <Loading label="Reading the vault's quorum keyslot…" />;
  if (!state) {
    return (
      <div className="quorum-unlock" data-testid="quorum-unlock">
        {error ? (
          <ErrorBlock error={error} title={error.code === 'KEYSLOT_NOT_FOUND' ? 'This vault has no quorum keyslot' : 'The quorum unlock cannot start'} />
        ) : (
          <p className="hint" data-testid="quorum-cancelled">
            The collection was cancelled; the shares given were wiped.
          </p>
        )}
        <div className="actions">
          <button type="button" className="button" onClick={() => void begin()} data-testid="quorum-start">
            Start collecting shares
          </button>
        </div>
      </div>
    );
  }

  const needed = Math.max(0, state.m - state.collected);
  const current = state.custodians.find((c) => c.name === chosen && !state.given.includes(c.name)) ?? null;
  return (
    <div className="quorum-unlock" data-testid="quorum-unlock">
      <p>
        Any <strong>{state.m}</strong> of the <strong>{state.n}</strong> custodians of keyslot #{state.slot} together open the vault. Each
        gives their share in turn.
      </p>
      {override ? (
        <p className="notice" role="note" data-testid="quorum-override">
          Opening this older copy anyway (disaster recovery): the custodians give their shares again, and the reason is recorded in the
          audit log when the vault opens.
        </p>
      ) : null}
      <div className="quorum-progress">
        <progress max={state.m} value={state.collected} aria-labelledby={`${id}-count`} />
        <p id={`${id}-count`} role="status" data-testid="quorum-count" data-collected={state.collected} data-needed={needed}>
          {state.collected} of {state.m} collected, {needed} more needed
        </p>
      </div>
      <ul className="quorum-custodians" aria-label="Custodians">
        {state.custodians.map((c) => {
          const given = state.given.includes(c.name);
          return (
            <li key={c.name} className={`quorum-custodian${current?.name === c.name ? ' active' : ''}`} data-testid={`quorum-custodian-${c.name}`}
              data-given={given}>
              <span className="quorum-name">{c.name}</span>
              <span className="hint">{c.kind === 'token' ? `token ${c.token ? `'${c.token.label}'` : ''}` : 'passphrase'}</span>
              {given ? (
                <span className="badge quorum-given">Share given</span>
              ) : (
                <button
                  type="button"
                  className="button"
                  aria-pressed={current?.name === c.name}
                  aria-label={`Give share of ${c.name}`}
                  onClick={() => setChosen(c.name)}
                  data-testid={`quorum-give-${c.name}`}
                >
                  Give share
                </button>
              )}
            </li>
          );
        })}
      </ul>
      {current ? <ShareForm key={current.name} custodian={current} onDone={() => {
        setChosen(null);
        if (useQuorum.getState().state === null) onUnlocked?.();
      }} /> : (
        <p className="hint">Pick the custodian who gives the next share.</p>
      )}
      <div className="actions">
        <button type="button" className="button" onClick={() => void cancel()} data-testid="quorum-cancel">
          Cancel and wipe the shares
        </button>
      </div>
    </div>
  );
}

/** One custodian's share: passphrase or token PIN, or their paper share's words. */
function ShareForm({ custodian, onDone }: { custodian: Custodian; onDone: () => void }) {
  const [way, setWay] = useState<'secret' | 'paper'>('secret');
  const id = useId();
  return (
    <section className="panel quorum-share" aria-labelledby={`${id}-title`} data-testid="quorum-share-form">
      <h2 id={`${id}-title`}>{custodian.name}&apos;s share</h2>
      <fieldset className="method-switch">
        <legend>{custodian.name} gives</legend>
        {(['secret', 'paper'] as const).map((w) => (
          <label key={w} className={`method-option${way === w ? ' checked' : ''}`}>
            <input type="radio" name={`${id}-way`} value={w} checked={way === w} onChange={() => setWay(w)} data-testid={`quorum-way-${w}`} />
            {w === 'paper' ? 'Paper share words' : custodian.kind === 'token' ? 'Token and PIN' : 'Passphrase'}
          </label>
        ))}
      </fieldset>
      {way === 'paper' ? (
        <PaperWordsForm custodian={custodian} onDone={onDone} />
      ) : custodian.kind === 'token' ? (
        <TokenShare custodian={custodian} onDone={onDone} />
      ) : (
        <PassphraseShare custodian={custodian} onDone={onDone} />
      )}
    </section>
  );
}

function PassphraseShare({ custodian, onDone }: { custodian: Custodian; onDone: () => void }) {
  const share = useQuorum((s) => s.share);
  const [passphrase, setPassphrase] = useState('');
  const [busy, setBusy] = useState(false);
  const [empty, setEmpty] = useState(false);
  const [failed, setFailed] = useState<ApiError | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const id = useId();

  useEffect(function focusField() {
    input.current?.focus();
  }, []);

  async function onSubmit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    if (busy) return;
    if (passphrase.length === 0) {
      setEmpty(true);
      input.current?.focus();
      return;
    }
    setEmpty(false);
    setBusy(true);
    setFailed(null);
    const err = await share(custodian.name, { kind: 'passphrase', passphrase });
    setPassphrase('');
    setBusy(false);
    if (err) {
      setFailed(err);
      input.current?.focus();
      return;
    }
    onDone();
  }

  return (
    <form noValidate className="form" onSubmit={(e) => void onSubmit(e)} aria-busy={busy}>
      <div className="field">
        <label htmlFor={`${id}-pass`}>Passphrase of {custodian.name}</label>
        <input
          id={`${id}-pass`}
          ref={input}
          type="password"
          autoComplete="off"
          value={passphrase}
          onChange={(e) => setPassphrase(e.target.value)}
          aria-invalid={empty || failed?.code === 'WRONG_PASSPHRASE' ? true : undefined}
          aria-describedby={empty ? `${id}-empty` : undefined}
          data-testid="quorum-passphrase"
        />
        {empty ? (
          <p className="field-error" id={`${id}-empty`}>
            Type {custodian.name}&apos;s passphrase.
          </p>
        ) : null}
      </div>
      {failed ? <ErrorBlock error={failed} title={failed.code === 'WRONG_PASSPHRASE' ? 'Wrong passphrase' : 'The share was not taken'} /> : null}
      <button type="submit" className="button primary" disabled={busy} data-testid="quorum-share-submit">
        {busy ? 'Checking the share…' : `Add ${custodian.name}'s share`}
      </button>
    </form>
  );
}

function PaperWordsForm({ custodian, onDone }: { custodian: Custodian; onDone: () => void }) {
  const share = useQuorum((s) => s.share);
  const [words, setWords] = useState('');
  const [busy, setBusy] = useState(false);
  const [failed, setFailed] = useState<ApiError | null>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const id = useId();

  useEffect(function focusField() {
    input.current?.focus();
  }, []);

  async function onSubmit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    if (busy || words.trim().length === 0) {
      input.current?.focus();
      return;
    }
    setBusy(true);
    setFailed(null);
    const err = await share(custodian.name, { kind: 'words', words });
    setBusy(false);
    if (err) {
      // A mistyped line is named: the words stay so that one line can be corrected.
      setFailed(err);
      input.current?.focus();
      return;
    }
    setWords('');
    onDone();
  }

  return (
    <form noValidate className="form" onSubmit={(e) => void onSubmit(e)} aria-busy={busy}>
      <div className="field">
        <label htmlFor={`${id}-words`}>Paper share words of {custodian.name}</label>
        <textarea
          id={`${id}-words`}
          ref={input}
          className="paper-words-input"
          rows={6}
          spellCheck={false}
          autoComplete="off"
          autoCapitalize="off"
          value={words}
          onChange={(e) => setWords(e.target.value)}
          aria-describedby={`${id}-hint`}
          aria-invalid={failed?.code === 'INVALID_INPUT' ? true : undefined}
          data-testid="quorum-words"
        />
        <p className="hint" id={`${id}-hint`}>
          The 4 lines of 9 words as printed, one line each; line numbers may be left out. The last word of each line checks it, so a
          mistyped word is found by its line.
        </p>
      </div>
      {failed ? <ErrorBlock error={failed} title="The paper share was not taken" /> : null}
      <button type="submit" className="button primary" disabled={busy} data-testid="quorum-words-submit">
        {busy ? 'Checking the share…' : `Add ${custodian.name}'s paper share`}
      </button>
    </form>
  );
}

function TokenShare({ custodian, onDone }: { custodian: Custodian; onDone: () => void }) {
  const { tokens, loading, error } = useTokens(useShallow((s) => ({ tokens: s.tokens, loading: s.loading, error: s.error })));
  const load = useTokens((s) => s.load);
  const recheck = useTokens((s) => s.recheck);
  const share = useQuorum((s) => s.share);

  useLiveTokens();

  const serial = custodian.token?.serial;
  const token = tokens?.find((t) => !t.empty && t.serial === serial) ?? null;
  if (tokens === null) {
    return error ? <ErrorBlock error={error} title="Tokens cannot be read" /> : <Loading label="Looking for tokens…" />;
  }
  if (!token) {
    return (
      <div className="empty" data-testid="quorum-token-absent">
        <p>
          Insert {custodian.name}&apos;s token{custodian.token ? ` '${custodian.token.label}' (serial ${custodian.token.serial})` : ''}: it
          shows up here by itself.
        </p>
        <button type="button" className="button" onClick={() => void load()} disabled={loading} data-testid="quorum-tokens-refresh">
          {loading ? 'Looking…' : 'Look again'}
        </button>
      </div>
    );
  }
  return (
    <PinPrompt
      key={token.serial}
      token={token}
      purpose={`give ${custodian.name}'s quorum share`}
      submitLabel={`Add ${custodian.name}'s share`}
      busyLabel="Checking the share…"
      onSubmit={async (pin, allowFinalTry) => {
        const err = await share(custodian.name, { kind: 'pin', pin, allowFinalTry });
        if (!err) onDone();
        return err;
      }}
      recheck={() => recheck(token.serial)}
      testId="quorum-token"
    />
  );
}
