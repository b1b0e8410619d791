/**
 * The summary before signing (docs/desktop.md, Bundles): what the prepared
 * bundle carries, its payload hash in groups and the same hash as 24
 * numbered words for reading aloud, an explicit confirmation, then the PIN
 * of the token that signs and the save dialog. The file written is exactly
 * the payload shown (bundle.export with `prepared`).
 */
import { useEffect, useId, useState } from 'react';
import type { BundleSummary } from '../../../../shared/contract';
import { ErrorBlock, ScreenTitle } from '../../components/common';
import { PinPrompt } from '../../components/PinPrompt';
import { plural, when } from '../../format';
import { useBundles } from '../../stores/bundles';
import { signerTokens, TokenPick } from './TokenPick';

/** A hex hash in groups of four digits, for reading ("3e14 1609 b979 …"). */
export function groupHex(hash: string): string[] {
  return hash.match(/.{1,4}/g) ?? [];
}

export function shortId(id: string, n = 12): string {
  return id.length > n ? `${id.slice(0, n)}…` : id;
}

export function HashGroups({ hash, testId }: { hash: string; testId?: string }) {
  return (
    <code className="hash-groups" data-testid={testId} data-hash={hash} aria-label={`SHA-256 ${groupHex(hash).join(' ')}`}>
      {groupHex(hash).map((g, i) => (
        <span key={i}>{g}</span>
      ))}
    </code>
  );
}

function reasonText(reason: string | null): string {
  return reason === null ? '' : reason === 'superseded' ? 'superseded (end of grace)' : reason;
}

export function SummaryView({ summary }: { summary: BundleSummary }) {
  const { signers, tokens, discard, signPrepared, recheck, prepareError } = useBundles();
  const [confirmed, setConfirmed] = useState(false);
  const [needConfirm, setNeedConfirm] = useState(false);
  const present = signerTokens(tokens, signers);
  const [serial, setSerial] = useState(present[0]?.serial ?? '');
  const token = present.find((t) => t.serial === serial) ?? null;
  const id = useId();

  useEffect(
    function pickFirstPresent() {
      if (!present.some((t) => t.serial === serial) && present[0]) setSerial(present[0].serial);
    },
    [present, serial],
  );

  const changes = summary.issued + summary.revoked;
  return (
    <div className="bundle-summary" data-testid="bundle-summary" data-hash={summary.hash}>
      <div className="screen-head">
        <ScreenTitle focusKey="summary">Check the bundle before signing</ScreenTitle>
      </div>
      <p className="notice">
        Nothing is signed yet. Read the hash or the words with the other custodian; sign only the bundle you both checked.
      </p>
      {prepareError ? <ErrorBlock error={prepareError} /> : null}
      <section className="summary-grid" aria-labelledby={`${id}-what`}>
        <div className="summary-panel">
          <h2 id={`${id}-what`}>What it carries</h2>
          <ul className="summary-counts" data-testid="summary-counts">
            <li>
              <span className="num" data-testid="summary-issued">{summary.issued}</span> new key {summary.issued === 1 ? 'version' : 'versions'}
            </li>
            <li>
              <span className="num" data-testid="summary-revoked">{summary.revoked}</span> {summary.revoked === 1 ? 'revocation' : 'revocations'}
            </li>
            <li>
              <span className="num" data-testid="summary-secrets">{summary.secrets}</span> {summary.secrets === 1 ? 'secret' : 'secrets'} (encrypted to the recipient)
            </li>
          </ul>
          <dl className="facts">
            <dt>Recipient</dt>
            <dd data-testid="summary-recipient">
              {summary.recipient.name} <code title={summary.recipient.id}>{shortId(summary.recipient.id, 16)}</code>
            </dd>
            <dt>Bundle</dt>
            <dd>
              number {summary.sequence}
              {summary.revocationsOnly ? ', revocations only' : ''}
            </dd>
            <dt>Valid</dt>
            <dd>
              {when(summary.issuedAt)} to {when(summary.expiresAt)}
            </dd>
            <dt>Audit checkpoint</dt>
            <dd>entry {summary.checkpoint.seq}</dd>
            <dt>Signatures needed</dt>
            <dd>{summary.threshold}</dd>
            <dt>Sign before</dt>
            <dd>{when(summary.preparedUntil)}</dd>
          </dl>
        </div>
        <div className="summary-panel">
          <h2>Payload hash (SHA-256)</h2>
          <HashGroups hash={summary.hash} testId="summary-hash" />
          <h3 id={`${id}-words`}>The same hash as words</h3>
          <ol className="hash-words" aria-labelledby={`${id}-words`} data-testid="summary-words">
            {summary.words.map((w, i) => (
              <li key={i}>
                <span className="word-n" aria-hidden="true">
                  {i + 1}
                </span>
                <span className="word">{w}</span>
              </li>
            ))}
          </ol>
        </div>
      </section>

      <section aria-labelledby={`${id}-keys`} className="summary-keys">
        <h2 id={`${id}-keys`}>Keys ({plural(changes, 'change')})</h2>
        {changes === 0 ? (
          <p className="empty" data-testid="summary-no-changes">
            Nothing changed for this recipient since its last bundle: this bundle carries no key. It still advances the
            recipient&apos;s chain and its audit checkpoint.
          </p>
        ) : (
          <div className="table-scroll">
            <table className="due-table" data-testid="summary-keys">
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col">Version</th>
                  <th scope="col">Change</th>
                  <th scope="col">Secret</th>
                </tr>
              </thead>
              <tbody>
                {summary.keys.map((k) => (
                  <tr key={`${k.keyId}/${k.version}/${k.kind}`}>
                    <td className="key-path">
                      {k.service}/{k.environment}/{k.name}
                    </td>
                    <td>{k.version}</td>
                    <td>{k.kind === 'issue' ? 'issue' : `revoke: ${reasonText(k.reason)}`}</td>
                    <td>{k.secret ? 'carried, encrypted' : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {summary.moreKeys > 0 ? (
              <p className="hint" data-testid="summary-more">
                and {plural(summary.moreKeys, 'more change')} not listed here
              </p>
            ) : null}
          </div>
        )}
      </section>

      <section aria-labelledby={`${id}-sign`} className="summary-sign">
        <h2 id={`${id}-sign`}>Sign</h2>
        <div className="field confirm-check">
          <label>
            <input
              type="checkbox"
              checked={confirmed}
              onChange={(e) => {
                setConfirmed(e.target.checked);
                if (e.target.checked) setNeedConfirm(false);
              }}
              aria-invalid={needConfirm ? true : undefined}
              aria-describedby={needConfirm ? `${id}-confirm-error` : undefined}
              data-testid="confirm-summary"
            />{' '}
            We checked this summary and its hash: this is the bundle to sign.
          </label>
          {needConfirm ? (
            <p className="field-error" id={`${id}-confirm-error`} data-testid="confirm-summary-error">
              Tick the confirmation first: nothing is signed without it.
            </p>
          ) : null}
        </div>
        <TokenPick tokens={tokens} signers={signers} value={serial} onChange={setSerial} testId="sign-token" />
        {token ? (
          <PinPrompt
            key={token.serial}
            token={token}
            purpose={`sign bundle ${summary.sequence} for ${summary.recipient.name}`}
            submitLabel="Sign with token"
            busyLabel="Signing…"
            testId="sign"
            autoFocus={false}
            validate={() => {
              if (!confirmed) setNeedConfirm(true);
              return confirmed;
            }}
            recheck={() => recheck(token.serial)}
            onSubmit={(pin, allowFinalTry) => signPrepared(token.serial, pin, allowFinalTry)}
          />
        ) : null}
        {summary.threshold > 1 ? (
          <p className="hint">
            This token adds one signature; the bundle needs {summary.threshold}. The other custodians add theirs with
            Co-sign a bundle file.
          </p>
        ) : null}
        <div className="actions">
          <button type="button" className="button" onClick={discard} data-testid="discard-summary">
            Back, do not sign
          </button>
        </div>
      </section>
    </div>
  );
}
