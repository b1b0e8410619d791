/**
 * Bundles: recipients, signers and threshold, and the export ceremony.
 *
 * Export: pick a recipient, normal or revocations only, and how long the
 * bundle is valid; Prepare makes the payload without signing it and shows
 * the summary (SummaryView): counts, keys, the payload hash in groups and as
 * words. Only after an explicit confirmation does the token sign (its PIN
 * asked by PinPrompt) and main's save dialog choose the file; then the file,
 * size, hash and signer fingerprints are shown (SignedView). Also: the trust
 * root, writing a recorded bundle again, co-signing a bundle file.
 */
import { useEffect, useId, useState, type FormEvent } from 'react';
import { ErrorBlock, Loading, ScreenTitle } from '../../components/common';
import { Needs } from '../../components/Needs';
import { plural, when } from '../../format';
import { useBundles, type Signed } from '../../stores/bundles';
import { QrView } from './QrView';
import { CosignSection, RecipientsSection, ResendSection, SignersSection, TrustSection } from './Sections';
import { HashGroups, SummaryView } from './SummaryView';

const EXPIRY_CHOICES: ReadonlyArray<readonly [string, string]> = [
  ['1d', '1 day'],
  ['7d', '7 days'],
  ['30d', '30 days'],
  ['90d', '90 days'],
];

export function BundlesScreen() {
  const { status, error, view, summary, signed, load, clear } = useBundles();

  useEffect(
    function loadOnOpen() {
      void load();
      // Nothing of the ceremony outlives the screen (a prepared payload not signed is simply not used).
      return () => clear();
    },
    [load, clear],
  );

  let body;
  if (status === 'idle' || (status === 'loading' && view === 'main' && useBundles.getState().recipients.length === 0)) {
    body = <Loading label="Reading recipients and signers…" />;
  } else if (status === 'error' && error) {
    body = (
      <ErrorBlock error={error} title="The bundles could not be read">
        <div className="actions">
          <button type="button" className="button" onClick={() => void load()}>
            Try again
          </button>
        </div>
      </ErrorBlock>
    );
  } else if (view === 'summary' && summary) {
    body = <SummaryView summary={summary} />;
  } else if (view === 'signed' && signed) {
    body = <SignedView signed={signed} />;
  } else {
    body = <MainView />;
  }

  return (
    <main className="screen wide bundles-screen" data-screen="bundles" data-view={view}>
      {body}
    </main>
  );
}

function MainView() {
  const { recipients } = useBundles();
  return (
    <>
      <div className="screen-head">
        <ScreenTitle focusKey="main">Bundles</ScreenTitle>
      </div>
      <Needs command="bundle.prepare" what="export a bundle">
        <ExportSection />
      </Needs>
      <RecipientsSection />
      <SignersSection />
      <Needs command="trust.export" what="export the trust root">
        <TrustSection />
      </Needs>
      <Needs command="bundle.resend" what="write a bundle again">
        <ResendSection recipients={recipients} />
      </Needs>
      <Needs command="bundle.sign" what="co-sign a bundle">
        <CosignSection />
      </Needs>
    </>
  );
}

function ExportSection() {
  const { recipients, form, setForm, prepare, prepareStatus, prepareError } = useBundles();
  const id = useId();
  const chosen = recipients.find((r) => r.name === form.recipient);
  async function submit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    if (!form.recipient) return;
    await prepare();
  }
  return (
    <section className="bundle-section export-section" aria-labelledby={`${id}-h`} data-testid="export">
      <h2 id={`${id}-h`}>Export a bundle</h2>
      {recipients.length === 0 ? (
        <p className="empty" data-testid="export-no-recipients">
          Add a recipient below before exporting: a bundle is made for one server.
        </p>
      ) : (
        <form className="form" onSubmit={(e) => void submit(e)} noValidate>
          <div className="form-row">
            <div className="field">
              <label htmlFor={`${id}-recipient`}>Recipient</label>
              <select id={`${id}-recipient`} value={form.recipient} onChange={(e) => setForm({ recipient: e.target.value })}
                data-testid="export-recipient">
                {recipients.map((r) => (
                  <option key={r.id} value={r.name}>
                    {r.name}
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor={`${id}-expires`}>Valid for</label>
              <select id={`${id}-expires`} value={form.expires} onChange={(e) => setForm({ expires: e.target.value })} data-testid="export-expires">
                {EXPIRY_CHOICES.map(([v, label]) => (
                  <option key={v} value={v}>
                    {label}
                  </option>
                ))}
              </select>
            </div>
          </div>
          <fieldset className="method-switch">
            <legend>What it carries</legend>
            <label className={`method-option${!form.revocationsOnly ? ' checked' : ''}`}>
              <input type="radio" name={`${id}-kind`} checked={!form.revocationsOnly} onChange={() => setForm({ revocationsOnly: false })}
                data-testid="export-normal" />
              Everything new: new key versions, their secrets for held services, and revocations
            </label>
            <label className={`method-option${form.revocationsOnly ? ' checked' : ''}`}>
              <input type="radio" name={`${id}-kind`} checked={form.revocationsOnly} onChange={() => setForm({ revocationsOnly: true })}
                data-testid="export-revocations" />
              Revocations only (an incident: no new keys, no secrets)
            </label>
          </fieldset>
          {chosen ? (
            <p className="hint">
              {chosen.name} verifies {chosen.verifies.join(', ') || 'no service'} and holds {chosen.holds.join(', ') || 'no secret'};
              {chosen.sequence === 0 ? ' no bundle was sent to it yet.' : ` its last bundle is number ${chosen.sequence}.`}
            </p>
          ) : null}
          {prepareError ? <ErrorBlock error={prepareError} title="The bundle was not prepared" /> : null}
          <div className="actions">
            <button type="submit" className="button primary" disabled={prepareStatus === 'loading'} data-testid="prepare-bundle">
              {prepareStatus === 'loading' ? 'Preparing…' : 'Prepare and show summary'}
            </button>
          </div>
          <p className="hint">Nothing is signed until you have checked the summary and confirmed.</p>
        </form>
      )}
    </section>
  );
}

function SignedView({ signed }: { signed: Signed }) {
  const { done } = useBundles();
  const { report } = signed;
  const missing = Math.max(0, report.threshold - report.signatures.length);
  const [showQr, setShowQr] = useState(false);
  return (
    <div className="bundle-signed" data-testid="bundle-signed" data-hash={report.hash}>
      <div className="screen-head">
        <ScreenTitle focusKey="signed">Bundle signed and saved</ScreenTitle>
      </div>
      <dl className="facts signed-facts">
        <dt>File</dt>
        <dd>
          <code data-testid="signed-path">{report.path}</code>
        </dd>
        <dt>Size</dt>
        <dd data-testid="signed-bytes" data-bytes={report.bytes}>
          {report.bytes.toLocaleString('en-US')} bytes
        </dd>
        <dt>Recipient</dt>
        <dd>
          {report.recipient}, bundle number {report.sequence}
        </dd>
        <dt>Carries</dt>
        <dd>
          {plural(report.issued, 'new key version')}, {plural(report.revoked, 'revocation')}, {plural(report.secrets, 'secret')}
        </dd>
        <dt>Expires</dt>
        <dd>{when(report.expiresAt)}</dd>
        <dt>Payload hash</dt>
        <dd>
          <HashGroups hash={report.hash} testId="signed-hash" />
          <p className="hint">The same hash as in the summary you confirmed.</p>
        </dd>
        <dt>Signed by</dt>
        <dd>
          <ul className="kids" data-testid="signed-kids">
            {report.signatures.map((k) => (
              <li key={k}>
                <code>{k}</code>
              </li>
            ))}
          </ul>
          <p className={missing > 0 ? 'notice' : 'hint'} data-testid="signed-threshold">
            {missing > 0
              ? `${report.signatures.length} of the ${report.threshold} signatures it needs: the other custodians co-sign the file before it goes to the server.`
              : `${report.signatures.length} of ${report.threshold} signatures: ready to carry to the server.`}
          </p>
        </dd>
      </dl>
      {showQr && report.qr ? <QrView parts={report.qr} onClose={() => setShowQr(false)} /> : null}
      <div className="actions">
        {report.qr && !showQr && missing === 0 ? (
          <button type="button" className="button" onClick={() => setShowQr(true)} data-testid="show-qr">
            Show as QR codes ({report.qr.length === 1 ? 'one code' : `${report.qr.length} codes`})
          </button>
        ) : null}
        <button type="button" className="button primary" onClick={done} data-testid="signed-done">
          Done
        </button>
      </div>
    </div>
  );
}
