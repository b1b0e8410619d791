/**
 * "Restore from a backup", offered on the first screen (no vault yet, or the
 * vault locked): choose the backup file (main's open dialog), where the
 * restored vault goes (this workstation's vault file when none is there yet,
 * else a new file from main's save dialog), then open it with the backed-up
 * vault's passphrase or with a token and its PIN. Every check of the file
 * (complete, unaltered, of one vault) happens before anything is written; the
 * restored vault opens unlocked, with the restore recorded in its audit log.
 */
import { useEffect, useId, useState, type FormEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { ErrorBlock } from '../../components/common';
import { PinBadge, PinPrompt } from '../../components/PinPrompt';
import { useSession } from '../../stores/session';
import { useTokens } from '../../stores/tokens';
import { useBackup } from './store';

type Props = Readonly<{
  /** 'workstation': the vault goes to this workstation's vault file (none there yet); 'choose': a new file chosen in a dialog. */
  target: 'workstation' | 'choose';
}>;

export function RestoreFromBackup({ target }: Props) {
  const [open, setOpen] = useState(false);
  const reset = useBackup((s) => s.resetRestore);
  const id = useId();
  useEffect(
    function forgetOnLeave() {
      return () => reset();
    },
    [reset],
  );
  return (
    <section className="restore-backup" aria-labelledby={`${id}-h`} data-testid="restore-backup">
      <h2 id={`${id}-h`} className="visually-hidden">Restore from a backup</h2>
      <button type="button" className="button" aria-expanded={open} aria-controls={`${id}-panel`}
        onClick={() => {
          setOpen(!open);
          if (open) reset();
        }} data-testid="restore-open">
        {open ? 'Cancel the restore' : 'Restore from a backup'}
      </button>
      {open ? (
        <div id={`${id}-panel`} className="form" data-testid="restore-panel">
          <RestoreForm target={target} />
        </div>
      ) : null}
    </section>
  );
}

function RestoreForm({ target }: Props) {
  const s = useBackup(useShallow((x) => ({
    file: x.file, dest: x.target, restoring: x.restoring, error: x.restoreError, chooseFile: x.chooseFile, chooseTarget: x.chooseTarget,
  })));
  const envPath = useSession((x) => x.env?.vault.path ?? null);
  const [method, setMethod] = useState<'passphrase' | 'token'>('passphrase');
  const id = useId();
  const ready = s.file !== null && (target === 'workstation' || s.dest !== null);
  return (
    <>
      <p className="hint">
        A backup opens with the passphrase or a token of the vault it was made from. Nothing is written until the whole file has
        been checked; an existing vault is never replaced.
      </p>
      <div className="field">
        <span className="label" id={`${id}-file`}>Backup file</span>
        <div className="actions">
          <button type="button" className="button" onClick={() => void s.chooseFile()} aria-describedby={`${id}-file`}
            data-testid="restore-choose-file">
            {s.file ? 'Choose another file…' : 'Choose the backup file…'}
          </button>
          {s.file ? <code data-testid="restore-file">{s.file.name}</code> : null}
        </div>
      </div>
      <div className="field">
        <span className="label" id={`${id}-dest`}>Restore to</span>
        {target === 'workstation' ? (
          <p className="hint" data-testid="restore-dest">This workstation&apos;s vault file{envPath ? <>: <code>{envPath}</code></> : null}</p>
        ) : (
          <>
            <div className="actions">
              <button type="button" className="button" onClick={() => void s.chooseTarget()} aria-describedby={`${id}-dest`}
                data-testid="restore-choose-dest">
                {s.dest ? 'Choose another place…' : 'Choose where to save the restored vault…'}
              </button>
              {s.dest ? <code data-testid="restore-dest">{s.dest.path}</code> : null}
            </div>
            <p className="hint">
              A new file: this workstation&apos;s vault stays as it is. The restored vault opens here now; to work with it later,
              start Keyhold with that file.
            </p>
          </>
        )}
      </div>
      <fieldset className="method-switch">
        <legend>Open the backup with</legend>
        {(['passphrase', 'token'] as const).map((m) => (
          <label key={m} className={`method-option${method === m ? ' checked' : ''}`}>
            <input type="radio" name={`${id}-method`} checked={method === m} onChange={() => setMethod(m)} data-testid={`restore-method-${m}`} />
            {m === 'passphrase' ? 'Passphrase' : 'Token and PIN'}
          </label>
        ))}
      </fieldset>
      {method === 'passphrase' ? <PassphraseRestore ready={ready} /> : <TokenRestore ready={ready} />}
      {s.error && method === 'passphrase' ? (
        <div data-testid="restore-error">
          <ErrorBlock error={s.error} title="Nothing was restored" />
        </div>
      ) : null}
      {s.restoring ? <p role="status" className="hint">Checking and restoring the backup…</p> : null}
    </>
  );
}

function PassphraseRestore({ ready }: { ready: boolean }) {
  const restore = useBackup((s) => s.restoreWithPassphrase);
  const restoring = useBackup((s) => s.restoring);
  const [passphrase, setPassphrase] = useState('');
  const [empty, setEmpty] = useState(false);
  const id = useId();
  async function onSubmit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    if (passphrase.length === 0) {
      setEmpty(true);
      return;
    }
    setEmpty(false);
    const p = passphrase;
    // Whatever the outcome, the passphrase does not stay in the page.
    setPassphrase('');
    await restore(p);
  }
  return (
    <form noValidate onSubmit={(e) => void onSubmit(e)} className="form">
      <div className="field">
        <label htmlFor={`${id}-pass`}>Passphrase of the backed-up vault</label>
        <input id={`${id}-pass`} type="password" autoComplete="off" value={passphrase} onChange={(e) => setPassphrase(e.target.value)}
          aria-invalid={empty ? true : undefined} aria-describedby={empty ? `${id}-empty` : undefined} data-testid="restore-passphrase" />
        {empty ? <p className="field-error" id={`${id}-empty`}>Type the passphrase of the vault the backup was made from.</p> : null}
      </div>
      <button type="submit" className="button primary" disabled={!ready || restoring} data-testid="restore-submit">
        {restoring ? 'Restoring…' : 'Restore and unlock'}
      </button>
      {ready ? null : <p className="hint">Choose the files above first.</p>}
    </form>
  );
}

function TokenRestore({ ready }: { ready: boolean }) {
  const { tokens, error, load, recheck } = useTokens(useShallow((s) => ({ tokens: s.tokens, error: s.error, load: s.load, recheck: s.recheck })));
  const restore = useBackup((s) => s.restoreWithToken);
  const [chosen, setChosen] = useState<string | null>(null);
  const id = useId();
  useEffect(
    function listTokens() {
      void load();
    },
    [load],
  );
  const present = tokens?.filter((t) => !t.empty) ?? [];
  const selected = present.find((t) => t.serial === chosen) ?? (present.length === 1 ? present[0] : undefined);
  if (error && tokens === null) return <ErrorBlock error={error} title="Tokens cannot be read" />;
  if (tokens === null) return <p className="hint">Looking for tokens…</p>;
  if (present.length === 0) {
    return (
      <div className="empty" data-testid="restore-no-tokens">
        <p>No token is present. Insert a token that holds one of the backed-up vault&apos;s keyslots, then look again.</p>
        <button type="button" className="button" onClick={() => void load()}>Look again</button>
      </div>
    );
  }
  return (
    <>
      <fieldset className="token-choice">
        <legend>Token</legend>
        {present.map((t) => (
          <label key={`${t.module}|${t.slot}`} className={`token-option${selected?.serial === t.serial ? ' checked' : ''}`}>
            <input type="radio" name={`${id}-token`} checked={selected?.serial === t.serial} onChange={() => setChosen(t.serial)}
              data-testid={`restore-token-${t.serial}`} />
            <span className="token-option-text">
              <span className="token-label">{t.label}</span>
              <span className="hint">serial {t.serial}</span>
            </span>
            <PinBadge token={t} />
          </label>
        ))}
      </fieldset>
      {selected && ready ? (
        <PinPrompt key={selected.serial} token={selected} purpose="open the backup" submitLabel="Restore and unlock" busyLabel="Restoring…"
          onSubmit={(pin, allowFinalTry) => restore(selected.serial, pin, allowFinalTry)} recheck={() => recheck(selected.serial)}
          autoFocus={false} testId="restore-pin" />
      ) : (
        <p className="hint">{ready ? 'Pick the token.' : 'Choose the files above first.'}</p>
      )}
    </>
  );
}
