/**
 * The quorum parts of the Keyslots screen: add a quorum keyslot (any M of N
 * custodians unlock), re-share one (a new split for a new list of
 * custodians: the old shares, paper copies included, stop working), and a
 * custodian's paper backup of their share (words in a numbered monospace
 * grid, the QR code of the same text, a Print button).
 *
 * Each custodian holds a passphrase (set here with NewPassphrase, strength
 * checked) or a key on a token: the token's PIN is asked with PinPrompt, one
 * token after the other, once the list is complete. Passphrases, PINs and
 * words live in component state only and are cleared whatever the outcome.
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { freeText, MAX_QUORUM_CUSTODIANS, type KeyslotInfo } from '../../../../shared/contract';
import type { ApiError } from '../../api';
import { ErrorBlock, Loading } from '../../components/common';
import { checkNewPassphrase, NewPassphrase } from '../../components/NewPassphrase';
import { PinPrompt } from '../../components/PinPrompt';
import { useIpcEvent } from '../../events';
import { useKeyslots } from '../../stores/keyslots';
import { useQuorum, type NewCustodian, type PaperShare } from '../../stores/quorum';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const slotLabelSchema = freeText('the slot label', 64);

type Row = { key: number; name: string; kind: 'passphrase' | 'token'; passphrase: string; confirm: string; serial: string; keyLabel: string };
type RowErrors = { name?: string; passphrase?: string; confirm?: string; token?: string };

/** A quorum slot's custodians as slot.list shows them ("alice:passphrase,card:token"). */
export function quorumCustodians(slot: KeyslotInfo): { name: string; kind: 'passphrase' | 'token' }[] {
  return String(slot.params.custodians ?? '').split(',').filter(Boolean).map((c) => {
    const at = c.lastIndexOf(':');
    return { name: c.slice(0, at), kind: c.slice(at + 1) === 'token' ? 'token' as const : 'passphrase' as const };
  });
}

let nextKey = 1;
function newRow(name = '', kind: Row['kind'] = 'passphrase'): Row {
  return { key: nextKey++, name, kind, passphrase: '', confirm: '', serial: '', keyLabel: name ? `quorum-${name}` : '' };
}

/**
 * Add a quorum keyslot, or (with `slot`) re-share one: the same form, the
 * custodians of the slot listed to start from.
 */
export function QuorumForm({ slot, onDone, onCancel }: { slot?: KeyslotInfo; onDone: () => void; onCancel: () => void }) {
  const addQuorum = useQuorum((s) => s.addQuorum);
  const reshare = useQuorum((s) => s.reshare);
  const tokens = useKeyslots((s) => s.tokens);
  const loadTokens = useKeyslots((s) => s.loadTokens);
  const setTokens = useKeyslots((s) => s.setTokens);
  const recheckToken = useKeyslots((s) => s.recheckToken);
  const id = useId();
  const [rows, setRows] = useState<Row[]>(() =>
    slot ? quorumCustodians(slot).map((c) => newRow(c.name, c.kind)) : [newRow(), newRow(), newRow()]);
  const [m, setM] = useState(String(slot?.params.m ?? 2));
  const [label, setLabel] = useState('');
  const [errors, setErrors] = useState<{ m?: string; label?: string; rows: Record<number, RowErrors> }>({ rows: {} });
  const [busy, setBusy] = useState(false);
  const [failed, setFailed] = useState<ApiError | null>(null);
  /** Once the list checks out: the PINs of its token custodians, asked one token after the other. */
  const [pinStep, setPinStep] = useState<{ index: number; pins: (string | null)[]; finals: boolean[] } | null>(null);

  useEffect(
    function listTokens() {
      void loadTokens();
    },
    [loadTokens],
  );
  useIpcEvent('tokens.changed', function onTokensChanged(p) {
    setTokens(p.tokens);
  });
  const present = tokens?.filter((t) => !t.empty) ?? [];

  function update(key: number, patch: Partial<Row>): void {
    setRows((rs) => rs.map((r) => (r.key === key ? { ...r, ...patch } : r)));
  }

  function clearSecrets(): void {
    setRows((rs) => rs.map((r) => ({ ...r, passphrase: '', confirm: '' })));
  }

  async function validate(): Promise<boolean> {
    const next: { m?: string; label?: string; rows: Record<number, RowErrors> } = { rows: {} };
    const n = Number(m);
    if (!/^\d+$/.test(m) || n < 2 || n > rows.length) next.m = `m must be a whole number from 2 to the number of custodians (${rows.length})`;
    if (!slot) {
      const l = slotLabelSchema.safeParse(label);
      if (!l.success) next.label = l.error.issues[0]?.message ?? 'the label is not valid';
    }
    const seen = new Set<string>();
    for (const r of rows) {
      const e: RowErrors = {};
      if (!NAME_RE.test(r.name)) e.name = 'a name of 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit';
      else if (seen.has(r.name)) e.name = 'another custodian has this name';
      seen.add(r.name);
      if (r.kind === 'passphrase') {
        const weak = await checkNewPassphrase(r.passphrase);
        if (weak) e.passphrase = weak;
        if (r.confirm !== r.passphrase) e.confirm = 'the two passphrases differ';
      } else if (!present.some((t) => t.serial === r.serial)) {
        e.token = 'choose a token present';
      }
      if (Object.keys(e).length > 0) next.rows[r.key] = e;
    }
    setErrors(next);
    return !next.m && !next.label && Object.keys(next.rows).length === 0;
  }

  const tokenRows = rows.filter((r) => r.kind === 'token');

  async function send(pins: (string | null)[], finals: boolean[]): Promise<ApiError | null> {
    const custodians: NewCustodian[] = rows.map((r) => {
      if (r.kind === 'passphrase') return { name: r.name, passphrase: r.passphrase };
      const i = tokenRows.findIndex((t) => t.key === r.key);
      const pin = pins[i] ?? null;
      return { name: r.name, token: r.serial, keyLabel: r.keyLabel.trim() || `quorum-${r.name}`, allowFinalTry: finals[i] ?? false,
        ...(pin === null ? {} : { pin }) };
    });
    setBusy(true);
    setFailed(null);
    const err = slot ? await reshare(slot.id, Number(m), custodians) : await addQuorum(Number(m), custodians, label.trim());
    setBusy(false);
    clearSecrets();
    setPinStep(null);
    if (err) {
      setFailed(err);
      return err;
    }
    onDone();
    return null;
  }

  async function onSubmit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    if (busy || !(await validate())) return;
    if (tokenRows.length > 0) setPinStep({ index: 0, pins: [], finals: [] });
    else await send([], []);
  }

  if (pinStep) {
    const r = tokenRows[pinStep.index];
    const token = present.find((t) => t.serial === r?.serial);
    if (!r || !token) {
      return (
        <div>
          <p className="empty">The token of custodian {r?.name ?? ''} is no longer present. Insert it, or go back and choose another.</p>
          <button type="button" className="button" onClick={() => setPinStep(null)} data-testid="quorum-pin-back">
            Back
          </button>
        </div>
      );
    }
    return (
      <div data-testid="quorum-pin-step">
        <h2>PIN of {r.name}&apos;s token</h2>
        <p className="hint">
          Token {pinStep.index + 1} of {tokenRows.length}: the key &apos;{r.keyLabel || `quorum-${r.name}`}&apos; on it will hold {r.name}&apos;s share.
        </p>
        <PinPrompt
          key={`${r.key}-${token.serial}`}
          token={token}
          purpose={`hold ${r.name}'s quorum share`}
          submitLabel={pinStep.index + 1 < tokenRows.length ? 'Next' : slot ? 'Re-share' : 'Add keyslot'}
          busyLabel="Sealing the shares…"
          onSubmit={async (pin, allowFinalTry) => {
            const pins = [...pinStep.pins, pin];
            const finals = [...pinStep.finals, allowFinalTry];
            if (pinStep.index + 1 < tokenRows.length) {
              setPinStep({ index: pinStep.index + 1, pins, finals });
              return null;
            }
            return send(pins, finals);
          }}
          recheck={() => recheckToken(token.serial)}
          onCancel={() => {
            setPinStep(null);
            clearSecrets();
          }}
          testId="quorum-pin"
        />
      </div>
    );
  }

  const title = slot ? `Re-share keyslot #${slot.id}` : 'Add a quorum keyslot';
  return (
    <form noValidate className="form keyslot-form quorum-form" onSubmit={(e) => void onSubmit(e)} aria-busy={busy} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{title}</h2>
      <p className="hint">
        {slot
          ? 'A new split for the custodians below: replace, add or drop custodians, or change how many are needed. Every share of the old split stops working, paper copies included; each custodian sets their passphrase again.'
          : 'Any M of the custodians below together open the vault; fewer open nothing. Each holds a passphrase or a key on their own token.'}
      </p>
      <div className="field">
        <label htmlFor={`${id}-m`}>Custodians needed to unlock (m)</label>
        <input id={`${id}-m`} inputMode="numeric" value={m} onChange={(e) => setM(e.target.value)} className="short-input"
          aria-invalid={errors.m ? true : undefined} aria-describedby={errors.m ? `${id}-m-error` : undefined} data-testid="quorum-m" />
        {errors.m ? <p className="field-error" id={`${id}-m-error`}>{errors.m}</p> : null}
      </div>
      {!slot ? (
        <div className="field">
          <label htmlFor={`${id}-label`}>Label (optional)</label>
          <input id={`${id}-label`} value={label} onChange={(e) => setLabel(e.target.value)} placeholder="board quorum"
            aria-invalid={errors.label ? true : undefined} data-testid="quorum-label" />
          {errors.label ? <p className="field-error">{errors.label}</p> : null}
        </div>
      ) : null}
      <ol className="quorum-rows">
        {rows.map((r, i) => {
          const e = errors.rows[r.key] ?? {};
          return (
            <li key={r.key} className="panel quorum-row" data-testid="quorum-custodian-row">
              <fieldset>
                <legend>Custodian {i + 1}</legend>
                <div className="field">
                  <label htmlFor={`${id}-${r.key}-name`}>Name</label>
                  <input id={`${id}-${r.key}-name`} value={r.name} onChange={(ev) => update(r.key, { name: ev.target.value })}
                    aria-invalid={e.name ? true : undefined} aria-describedby={e.name ? `${id}-${r.key}-name-error` : undefined}
                    data-testid="quorum-custodian-name" />
                  {e.name ? <p className="field-error" id={`${id}-${r.key}-name-error`}>{e.name}</p> : null}
                </div>
                <div className="field">
                  <label htmlFor={`${id}-${r.key}-kind`}>Holds the share with</label>
                  <select id={`${id}-${r.key}-kind`} value={r.kind} onChange={(ev) => update(r.key, { kind: ev.target.value as Row['kind'] })}
                    data-testid="quorum-custodian-kind">
                    <option value="passphrase">a passphrase</option>
                    <option value="token">a key on a token</option>
                  </select>
                </div>
                {r.kind === 'passphrase' ? (
                  <NewPassphrase
                    label={`Passphrase of ${r.name || `custodian ${i + 1}`}`}
                    value={r.passphrase}
                    onChange={(v) => update(r.key, { passphrase: v })}
                    confirm={r.confirm}
                    onConfirmChange={(v) => update(r.key, { confirm: v })}
                    errors={e}
                  />
                ) : (
                  <>
                    <div className="field">
                      <label htmlFor={`${id}-${r.key}-token`}>Token</label>
                      {tokens === null ? <Loading label="Looking for tokens…" /> : (
                        <select id={`${id}-${r.key}-token`} value={r.serial} onChange={(ev) => update(r.key, { serial: ev.target.value })}
                          aria-invalid={e.token ? true : undefined} data-testid="quorum-custodian-token">
                          <option value="">{present.length === 0 ? 'no token present' : 'choose a token'}</option>
                          {present.map((t) => <option key={t.serial} value={t.serial}>{t.label} (serial {t.serial})</option>)}
                        </select>
                      )}
                      {e.token ? <p className="field-error">{e.token}</p> : null}
                    </div>
                    <div className="field">
                      <label htmlFor={`${id}-${r.key}-key`}>Key label on the token</label>
                      <input id={`${id}-${r.key}-key`} value={r.keyLabel} placeholder={`quorum-${r.name || 'name'}`}
                        onChange={(ev) => update(r.key, { keyLabel: ev.target.value })} data-testid="quorum-custodian-key" />
                      <p className="hint">A new label: Keyhold generates a key pair for the share on the token.</p>
                    </div>
                  </>
                )}
                <button type="button" className="button danger-outline" disabled={rows.length <= 2}
                  aria-label={`Drop custodian ${i + 1}${r.name ? ` (${r.name})` : ''}`}
                  onClick={() => setRows((rs) => rs.filter((x) => x.key !== r.key))} data-testid="quorum-custodian-drop">
                  Drop
                </button>
              </fieldset>
            </li>
          );
        })}
      </ol>
      <div className="actions">
        <button type="button" className="button" disabled={rows.length >= MAX_QUORUM_CUSTODIANS}
          onClick={() => setRows((rs) => [...rs, newRow()])} data-testid="quorum-custodian-add">
          Add a custodian
        </button>
      </div>
      {failed ? <ErrorBlock error={failed} title={slot ? 'The keyslot was not re-shared' : 'The keyslot was not added'} /> : null}
      <div className="actions">
        <button type="submit" className="button primary" disabled={busy} data-testid="quorum-submit">
          {busy ? 'Sealing the shares…' : tokenRows.length > 0 ? 'Next: token PINs' : slot ? 'Re-share' : 'Add keyslot'}
        </button>
        <button type="button" className="button" onClick={onCancel} disabled={busy} data-testid="keyslot-form-cancel">
          Cancel
        </button>
      </div>
      {busy ? <p role="status" className="hint">Deriving a key from each passphrase; this takes a moment.</p> : null}
    </form>
  );
}

/**
 * A custodian's paper backup of their share: they unseal it (passphrase or
 * token PIN), then see the words in a numbered grid and the QR code, and may
 * print them. Closing the view forgets them.
 */
export function PaperShareForm({ slot, onDone }: { slot: KeyslotInfo; onDone: () => void }) {
  const paper = useQuorum((s) => s.paper);
  const tokens = useKeyslots((s) => s.tokens);
  const loadTokens = useKeyslots((s) => s.loadTokens);
  const recheckToken = useKeyslots((s) => s.recheckToken);
  const custodians = quorumCustodians(slot);
  const [name, setName] = useState(custodians[0]?.name ?? '');
  const [passphrase, setPassphrase] = useState('');
  const [busy, setBusy] = useState(false);
  const [failed, setFailed] = useState<ApiError | null>(null);
  const [shown, setShown] = useState<PaperShare | null>(null);
  const [serial, setSerial] = useState<string | null>(null);
  const id = useId();
  const kind = custodians.find((c) => c.name === name)?.kind ?? 'passphrase';

  useEffect(
    function listTokens() {
      if (kind === 'token') void loadTokens();
    },
    [kind, loadTokens],
  );

  async function onPassphrase(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    if (busy || passphrase.length === 0) return;
    setBusy(true);
    setFailed(null);
    const r = await paper(slot.id, name, { kind: 'passphrase', passphrase });
    setPassphrase('');
    setBusy(false);
    if (!r.ok) setFailed(r.error);
    else setShown(r.value);
  }

  if (shown) return <PaperShareView share={shown} onClose={() => { setShown(null); onDone(); }} />;
  const present = tokens?.filter((t) => !t.empty) ?? [];
  // The custodian's own token: the only one present, or the one picked (the core sends the PIN to the custodian's token only).
  const token = present.find((t) => t.serial === serial) ?? (present.length === 1 ? present[0] : undefined);
  return (
    <div className="form keyslot-form" data-testid="paper-share-form">
      <h2>Paper backup of a share (keyslot #{slot.id})</h2>
      <p className="hint">
        The custodian unseals their own share and gets it as words with a check word per line, and a QR code of the same text.
        Keep the paper as secret as the passphrase: with M-1 other shares it opens the vault.
      </p>
      <div className="field">
        <label htmlFor={`${id}-who`}>Custodian</label>
        <select id={`${id}-who`} value={name} onChange={(e) => setName(e.target.value)} data-testid="paper-custodian">
          {custodians.map((c) => <option key={c.name} value={c.name}>{c.name} ({c.kind})</option>)}
        </select>
      </div>
      {kind === 'passphrase' ? (
        <form noValidate className="form" onSubmit={(e) => void onPassphrase(e)} aria-busy={busy}>
          <div className="field">
            <label htmlFor={`${id}-pass`}>Passphrase of {name}</label>
            <input id={`${id}-pass`} type="password" autoComplete="off" value={passphrase} onChange={(e) => setPassphrase(e.target.value)}
              data-testid="paper-passphrase" />
          </div>
          {failed ? <ErrorBlock error={failed} title="The share was not unsealed" /> : null}
          <div className="actions">
            <button type="submit" className="button primary" disabled={busy || passphrase.length === 0} data-testid="paper-submit">
              {busy ? 'Unsealing…' : 'Show the paper share'}
            </button>
            <button type="button" className="button" onClick={onDone} disabled={busy} data-testid="keyslot-form-cancel">Cancel</button>
          </div>
        </form>
      ) : tokens === null ? <Loading label="Looking for tokens…" /> : present.length === 0 ? (
        <p className="empty">Insert {name}&apos;s token: it shows up here by itself.</p>
      ) : !token ? (
        <div className="field">
          <label htmlFor={`${id}-token`}>{name}&apos;s token</label>
          <select id={`${id}-token`} value="" onChange={(e) => setSerial(e.target.value)} data-testid="paper-token">
            <option value="">choose the token</option>
            {present.map((t) => <option key={t.serial} value={t.serial}>{t.label} (serial {t.serial})</option>)}
          </select>
        </div>
      ) : (
        <PinPrompt
          key={`${name}-${token.serial}`}
          token={token}
          purpose={`unseal ${name}'s quorum share`}
          submitLabel="Show the paper share"
          busyLabel="Unsealing…"
          onSubmit={async (pin, allowFinalTry) => {
            const r = await paper(slot.id, name, { kind: 'pin', pin, allowFinalTry });
            if (!r.ok) return r.error;
            setShown(r.value);
            return null;
          }}
          recheck={() => recheckToken(token.serial)}
          onCancel={onDone}
          testId="paper-pin"
        />
      )}
    </div>
  );
}

function toBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export function PaperShareView({ share, onClose }: { share: PaperShare; onClose: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  const id = useId();
  useEffect(function focusHeading() {
    heading.current?.focus();
  }, []);
  return (
    <section className="paper-share" aria-labelledby={`${id}-title`} data-testid="paper-share">
      <h2 id={`${id}-title`} ref={heading} tabIndex={-1}>
        Quorum share of {share.custodian} (keyslot #{share.slot})
      </h2>
      <p className="hint no-print">
        Write the words down or print this page. Each line ends with a check word: a mistyped word is found by its line when the share is
        entered back. The QR code holds the same text.
      </p>
      <div className="paper-share-body">
        <ol className="paper-words" aria-label="Share words, by line" data-testid="paper-words">
          {share.lines.map((line, i) => (
            <li key={i} className="paper-line" data-testid="paper-line">
              <span className="paper-line-n" aria-hidden="true">{i + 1}.</span>
              <span className="paper-line-words">
                {line.split(' ').map((w, j) => (
                  <span key={j} className={`paper-word${j === line.split(' ').length - 1 ? ' check' : ''}`}>{w}</span>
                ))}
              </span>
            </li>
          ))}
        </ol>
        <img className="paper-qr" src={`data:image/svg+xml;base64,${toBase64(share.qr)}`}
          alt={`QR code of ${share.custodian}'s share words`} data-testid="paper-qr" />
      </div>
      <div className="actions no-print">
        <button type="button" className="button" onClick={() => window.print()} data-testid="paper-print">Print</button>
        <button type="button" className="button primary" onClick={onClose} data-testid="paper-close">Done: forget the words</button>
      </div>
    </section>
  );
}
