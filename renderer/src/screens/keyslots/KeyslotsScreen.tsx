/**
 * Keyslots: the ways the vault opens (passphrases, tokens), each a keyslot
 * that wraps the vault's master key. The list shows type, label, when it was
 * made and its parameters (the KDF cost of a passphrase, the token and key of
 * a token slot, the m of n and custodians of a quorum slot); the actions add
 * a passphrase, token or quorum keyslot (QuorumForms.tsx: also re-share and a
 * custodian's paper backup), change the
 * passphrase, and remove a keyslot: never the last one (the core refuses it
 * too), and never the last passphrase without a warning that the vault will
 * then open only with a token (learnt first from slot.remove's dry run).
 */
import { useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import type { KeyslotInfo } from '../../../../shared/contract';
import type { ApiError } from '../../api';
import { ErrorBlock, Loading, ScreenTitle } from '../../components/common';
import { plural, when } from '../../format';
import { slotName, useKeyslots, type RemovalPreview } from '../../stores/keyslots';
import { AddTokenForm } from './AddTokenForm';
import { AddPassphraseForm, ChangePassphraseForm } from './PassphraseForms';
import { PaperShareForm, QuorumForm, quorumCustodians } from './QuorumForms';
import { usePermission } from '../../roles';
import { Needs } from '../../components/Needs';

type Panel = 'add-passphrase' | 'add-token' | 'change' | 'add-quorum' | 'reshare' | 'paper';

const TYPE_TEXT: Readonly<Record<KeyslotInfo['type'], string>> = {
  passphrase: 'Passphrase',
  token: 'Token',
  quorum: 'Quorum',
};

function str(v: string | number | boolean | undefined): string {
  return v === undefined ? '' : String(v);
}

/** A slot's parameters as a reader wants them. */
function SlotDetails({ slot }: { slot: KeyslotInfo }) {
  const p = slot.params;
  if (slot.type === 'passphrase') {
    const mib = typeof p.memoryKiB === 'number' ? Math.round(p.memoryKiB / 1024) : null;
    return (
      <span>
        Argon2id{mib !== null ? `, ${mib} MiB` : ''}
        {typeof p.passes === 'number' ? `, ${plural(p.passes, 'pass', 'passes')}` : ''}
        {typeof p.parallelism === 'number' ? `, ${plural(p.parallelism, 'lane')}` : ''}
      </span>
    );
  }
  if (slot.type === 'token') {
    const maker = [str(p.manufacturer).trim(), str(p.model).trim()].filter(Boolean).join(' ');
    return (
      <dl className="slot-params">
        <div>
          <dt>Token</dt>
          <dd data-testid="slot-token">{str(p.token)}</dd>
        </div>
        <div>
          <dt>Serial</dt>
          <dd data-testid="slot-serial">{str(p.serial)}</dd>
        </div>
        <div>
          <dt>Key</dt>
          <dd data-testid="slot-key-label">{str(p.keyLabel)}</dd>
        </div>
        {maker ? (
          <div>
            <dt>Made by</dt>
            <dd>{maker}</dd>
          </div>
        ) : null}
      </dl>
    );
  }
  if (slot.type === 'quorum') {
    return (
      <dl className="slot-params">
        <div>
          <dt>Unlock</dt>
          <dd data-testid="slot-quorum">any {str(p.m)} of {str(p.n)}</dd>
        </div>
        <div>
          <dt>Custodians</dt>
          <dd data-testid="slot-custodians">{quorumCustodians(slot).map((c) => `${c.name} (${c.kind})`).join(', ')}</dd>
        </div>
      </dl>
    );
  }
  return (
    <span>
      {Object.entries(p)
        .map(([k, v]) => `${k}: ${str(v)}`)
        .join(', ')}
    </span>
  );
}

export function KeyslotsScreen() {
  const slots = useKeyslots((s) => s.slots);
  const loading = useKeyslots((s) => s.loading);
  const error = useKeyslots((s) => s.error);
  const load = useKeyslots((s) => s.load);
  const reset = useKeyslots((s) => s.reset);
  const previewRemove = useKeyslots((s) => s.previewRemove);
  const [panel, setPanel] = useState<Panel | null>(null);
  /** The quorum slot a re-share or paper backup is for. */
  const [panelSlot, setPanelSlot] = useState<KeyslotInfo | null>(null);
  const [removal, setRemoval] = useState<RemovalPreview | null>(null);
  const [removeError, setRemoveError] = useState<ApiError | null>(null);
  const [checking, setChecking] = useState<number | null>(null);
  const opener = useRef<HTMLButtonElement | null>(null);
  const id = useId();

  useEffect(
    function listOnOpen() {
      void load();
      // What was listed is forgotten when the screen closes (and so when the vault locks).
      return reset;
    },
    [load, reset],
  );

  function open(which: Panel, button: HTMLButtonElement, slot: KeyslotInfo | null = null): void {
    opener.current = button;
    setPanelSlot(slot);
    setRemoveError(null);
    setPanel(which);
  }

  function close(): void {
    setPanel(null);
    // Back to the button that opened the form, not to the page's start.
    requestAnimationFrame(() => opener.current?.focus());
  }

  function onPanelKey(e: KeyboardEvent<HTMLDivElement>): void {
    if (e.key === 'Escape' && !e.defaultPrevented) {
      e.preventDefault();
      close();
    }
  }

  async function askRemove(slot: KeyslotInfo, button: HTMLButtonElement): Promise<void> {
    opener.current = button;
    setRemoveError(null);
    setChecking(slot.id);
    const r = await previewRemove(slot.id);
    setChecking(null);
    if (!r.ok) {
      setRemoveError(r.error);
      return;
    }
    setRemoval(r.value);
  }

  const only = slots !== null && slots.length === 1;
  const passphraseCount = slots?.filter((s) => s.type === 'passphrase').length ?? 0;
  const tokenCount = slots?.filter((s) => s.type === 'token').length ?? 0;
  const quorumCount = slots?.filter((s) => s.type === 'quorum').length ?? 0;
  // Quorum keyslots: the security officer adds and re-shares them; a custodian takes a paper copy of their share.
  const mayAddQuorum = usePermission('slot.addQuorum');
  const mayReshare = usePermission('slot.reshare');
  const mayPaper = usePermission('share.paper');
  const mayRemove = usePermission('slot.remove');

  return (
    <main className="screen wide keyslots-screen" data-screen="keyslots" aria-busy={loading}>
      <div className="screen-head">
        <ScreenTitle>Keyslots</ScreenTitle>
        <Needs command="slot.addPassphrase" what="add or change keyslots">
        <div className="actions">
          <button
            type="button"
            className="button"
            onClick={(e) => open('add-passphrase', e.currentTarget)}
            aria-expanded={panel === 'add-passphrase'}
            data-testid="keyslot-add-passphrase"
          >
            Add passphrase
          </button>
          <button
            type="button"
            className="button"
            onClick={(e) => open('add-token', e.currentTarget)}
            aria-expanded={panel === 'add-token'}
            data-testid="keyslot-add-token"
          >
            Add token
          </button>
          <button
            type="button"
            className="button"
            onClick={(e) => open('add-quorum', e.currentTarget)}
            aria-expanded={panel === 'add-quorum'}
            disabled={!mayAddQuorum.allowed}
            title={mayAddQuorum.reason ?? undefined}
            data-testid="keyslot-add-quorum"
          >
            Add quorum
          </button>
          <button
            type="button"
            className="button"
            onClick={(e) => open('change', e.currentTarget)}
            aria-expanded={panel === 'change'}
            disabled={slots !== null && passphraseCount === 0}
            data-testid="keyslot-change-passphrase"
          >
            Change passphrase
          </button>
        </div>
        </Needs>
      </div>
      <p className="hint">
        Each keyslot opens the vault on its own: a passphrase, a token with its PIN, or a quorum of custodians together. Adding or
        removing one does not change the keys in the vault.
      </p>

      {panel ? (
        <div className="panel keyslot-panel" onKeyDown={onPanelKey} data-testid={`keyslot-panel-${panel}`}>
          {panel === 'add-passphrase' ? <AddPassphraseForm onDone={close} onCancel={close} /> : null}
          {panel === 'change' ? <ChangePassphraseForm onDone={close} onCancel={close} /> : null}
          {panel === 'add-token' ? <AddTokenForm onDone={close} onCancel={close} /> : null}
          {panel === 'add-quorum' ? <QuorumForm onDone={close} onCancel={close} /> : null}
          {panel === 'reshare' && panelSlot ? <QuorumForm key={panelSlot.id} slot={panelSlot} onDone={close} onCancel={close} /> : null}
          {panel === 'paper' && panelSlot ? <PaperShareForm key={panelSlot.id} slot={panelSlot} onDone={close} /> : null}
        </div>
      ) : null}

      {removeError ? <ErrorBlock error={removeError} title="The keyslot cannot be removed" /> : null}

      {error ? (
        <ErrorBlock error={error} title="The keyslots cannot be read">
          <button type="button" className="button" onClick={() => void load()} data-testid="keyslots-retry">
            Try again
          </button>
        </ErrorBlock>
      ) : slots === null ? (
        <Loading label="Reading the keyslots…" />
      ) : slots.length === 0 ? (
        <p className="empty" data-testid="keyslots-empty">
          This vault lists no keyslot.
        </p>
      ) : (
        <section aria-labelledby={`${id}-list`} className="keyslot-list">
          <h2 id={`${id}-list`} className="count" data-testid="keyslot-count" data-count={slots.length}>
            {plural(slots.length, 'keyslot')}: {plural(passphraseCount, 'passphrase')}, {plural(tokenCount, 'token')}
            {quorumCount > 0 ? `, ${plural(quorumCount, 'quorum')}` : ''}
          </h2>
          <div className="table-scroll">
            <table className="keyslot-table" data-testid="keyslot-table">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Type</th>
                  <th scope="col">Label</th>
                  <th scope="col">Created</th>
                  <th scope="col">Details</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {slots.map((s) => (
                  <tr key={s.id} data-testid="keyslot-row" data-id={s.id} data-type={s.type}>
                    <td className="num">{s.id}</td>
                    <td>
                      <span className={`badge slot-${s.type}`}>{TYPE_TEXT[s.type]}</span>
                    </td>
                    <td className="cell-label">{s.label || <span className="hint">(none)</span>}</td>
                    <td>
                      <time dateTime={s.createdAt}>{when(s.createdAt)}</time>
                    </td>
                    <td className="cell-details">
                      <SlotDetails slot={s} />
                    </td>
                    <td>
                      <div className="cell-actions">
                        {s.type === 'quorum' ? (
                          <>
                            <button
                              type="button"
                              className="button"
                              aria-label={`Re-share keyslot #${s.id}`}
                              onClick={(e) => open('reshare', e.currentTarget, s)}
                              disabled={!mayReshare.allowed}
                              title={mayReshare.reason ?? undefined}
                              data-testid="keyslot-reshare"
                            >
                              Re-share
                            </button>
                            <button
                              type="button"
                              className="button"
                              aria-label={`Paper backup of a share of keyslot #${s.id}`}
                              onClick={(e) => open('paper', e.currentTarget, s)}
                              disabled={!mayPaper.allowed}
                              title={mayPaper.reason ?? undefined}
                              data-testid="keyslot-paper"
                            >
                              Paper backup
                            </button>
                          </>
                        ) : null}
                        <button
                          type="button"
                          className="button danger-outline"
                          aria-label={`Remove keyslot #${s.id}${s.label ? ` (${s.label})` : ''}`}
                          aria-describedby={only ? `${id}-only` : undefined}
                          disabled={only || checking !== null || !mayRemove.allowed}
                          title={mayRemove.reason ?? undefined}
                          onClick={(e) => void askRemove(s, e.currentTarget)}
                          data-testid="keyslot-remove"
                        >
                          {checking === s.id ? 'Checking…' : 'Remove'}
                        </button>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {only ? (
            <p className="hint" id={`${id}-only`} data-testid="keyslot-only">
              The vault&apos;s only keyslot cannot be removed: add another one first.
            </p>
          ) : null}
        </section>
      )}

      {removal ? (
        <RemoveDialog
          removal={removal}
          others={(slots ?? []).filter((s) => s.id !== removal.slot.id)}
          onClose={() => {
            setRemoval(null);
            requestAnimationFrame(() => opener.current?.focus());
          }}
        />
      ) : null}
    </main>
  );
}

function RemoveDialog({ removal, others, onClose }: { removal: RemovalPreview; others: readonly KeyslotInfo[]; onClose: () => void }) {
  const remove = useKeyslots((s) => s.remove);
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  const [busy, setBusy] = useState(false);
  const [failed, setFailed] = useState<ApiError | null>(null);
  const { slot, passphraseSlotsLeft } = removal;
  const lastPassphrase = slot.type === 'passphrase' && passphraseSlotsLeft === 0;
  const tokensLeft = others.filter((s) => s.type === 'token');

  useEffect(function openModal() {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);

  async function confirm(): Promise<void> {
    setBusy(true);
    setFailed(null);
    const err = await remove(slot.id);
    setBusy(false);
    if (err) {
      setFailed(err);
      return;
    }
    ref.current?.close();
  }

  return (
    <dialog
      ref={ref}
      className="dialog keyslot-remove-dialog"
      aria-labelledby={`${id}-title`}
      aria-describedby={`${id}-text`}
      onClose={onClose}
      data-testid="keyslot-remove-dialog"
    >
      <h2 id={`${id}-title`}>Remove keyslot #{slot.id}?</h2>
      <div id={`${id}-text`}>
        <p>
          After this, {slotName(slot)} no longer opens the vault. The keys in the vault stay as they are;{' '}
          {others.length === 1 ? 'the other keyslot still opens it' : `the ${others.length} other keyslots still open it`}.
        </p>
        {lastPassphrase ? (
          <div className="error-block" role="alert" data-testid="last-passphrase-warning">
            <p className="error-title">This is the last passphrase keyslot</p>
            <p>
              Without it the vault opens <strong>only with a token</strong>
              {tokensLeft.length > 0
                ? `: ${tokensLeft.map((t) => `'${str(t.params.token) || t.label}' (serial ${str(t.params.serial)})`).join(', ')}`
                : ''}
              . If that token is lost, broken or its PIN locked, nobody can open the vault. Keep a second token keyslot or add a
              passphrase before you go on.
            </p>
          </div>
        ) : null}
      </div>
      {failed ? <ErrorBlock error={failed} title="The keyslot was not removed" /> : null}
      <div className="actions">
        <button type="button" className="button" onClick={() => ref.current?.close()} disabled={busy} autoFocus data-testid="keyslot-remove-cancel">
          Cancel, keep it
        </button>
        <button type="button" className="button danger" onClick={() => void confirm()} disabled={busy} data-testid="keyslot-remove-confirm">
          {busy ? 'Removing…' : lastPassphrase ? 'Remove it: the vault then opens only with a token' : `Remove keyslot #${slot.id}`}
        </button>
      </div>
    </dialog>
  );
}
