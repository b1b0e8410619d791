/** The Bundles screen's sections: recipients, signers and threshold, trust root, resend, co-sign. */
import { useEffect, useId, useState, type FormEvent } from 'react';
import type { RecipientInfo } from '../../../../shared/contract';
import type { ApiError } from '../../api';
import { ErrorBlock } from '../../components/common';
import { Needs } from '../../components/Needs';
import { PinPrompt } from '../../components/PinPrompt';
import {
  isApiError,
  serviceList,
  useBundles,
  type ChosenFile,
  type CosignResult,
  type RecipientForm,
  type ResendResult,
  type TrustResult,
} from '../../stores/bundles';
import { HashGroups, shortId } from './SummaryView';
import { signerTokens, TokenPick } from './TokenPick';

// ---- recipients ----------------------------------------------------------------

export function RecipientsSection() {
  const { recipients } = useBundles();
  const id = useId();
  return (
    <section className="bundle-section" aria-labelledby={`${id}-h`} data-testid="recipients">
      <h2 id={`${id}-h`}>Recipients</h2>
      <p className="hint">Servers that receive bundles: each verifies some services&apos; keys and may hold some services&apos; secrets.</p>
      {recipients.length === 0 ? (
        <p className="empty" data-testid="no-recipients">
          No recipient yet. Add a server with the public key its keyhold-import keygen wrote.
        </p>
      ) : (
        <div className="table-scroll">
          <table className="due-table" data-testid="recipient-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Id</th>
                <th scope="col">Verifies</th>
                <th scope="col">Holds</th>
                <th scope="col">Last bundle</th>
              </tr>
            </thead>
            <tbody>
              {recipients.map((r) => (
                <tr key={r.id} data-testid={`recipient-${r.name}`}>
                  <td>{r.name}</td>
                  <td>
                    <code title={r.id}>{shortId(r.id)}</code>
                  </td>
                  <td>{r.verifies.join(', ') || '—'}</td>
                  <td>{r.holds.join(', ') || '—'}</td>
                  <td data-testid={`recipient-${r.name}-sequence`}>{r.sequence === 0 ? 'none yet' : r.sequence}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Needs command="recipient.add" what="add a recipient">
        <AddRecipient />
      </Needs>
    </section>
  );
}

function AddRecipient() {
  const { chooseFile, addRecipient } = useBundles();
  const [form, setForm] = useState<RecipientForm>({ name: '', verifies: '', holds: '' });
  const [file, setFile] = useState<ChosenFile | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [missing, setMissing] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();

  async function pick(): Promise<void> {
    setError(null);
    const r = await chooseFile('public-key');
    if (r === null) return;
    if (isApiError(r)) setError(r);
    else setFile(r);
  }

  async function submit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    if (!form.name.trim()) return setMissing('Give the recipient a name.');
    if (serviceList(form.verifies).length + serviceList(form.holds).length === 0) return setMissing('Name at least one service it verifies or holds.');
    if (!file) return setMissing('Choose the server\'s public key file.');
    setMissing(null);
    setBusy(true);
    const failed = await addRecipient(form, file);
    setBusy(false);
    setError(failed);
    if (!failed) {
      setForm({ name: '', verifies: '', holds: '' });
      setFile(null);
    }
  }

  return (
    <form className="form inline-form" onSubmit={(e) => void submit(e)} noValidate aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`}>Add a recipient</h3>
      <div className="form-row">
        <div className="field">
          <label htmlFor={`${id}-name`}>Name</label>
          <input id={`${id}-name`} value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} data-testid="recipient-name"
            autoComplete="off" spellCheck={false} />
        </div>
        <div className="field grow">
          <label htmlFor={`${id}-verifies`}>Services it verifies</label>
          <input id={`${id}-verifies`} value={form.verifies} onChange={(e) => setForm({ ...form, verifies: e.target.value })}
            aria-describedby={`${id}-services-hint`} data-testid="recipient-verifies" autoComplete="off" spellCheck={false} />
        </div>
        <div className="field grow">
          <label htmlFor={`${id}-holds`}>Services whose secrets it holds</label>
          <input id={`${id}-holds`} value={form.holds} onChange={(e) => setForm({ ...form, holds: e.target.value })}
            aria-describedby={`${id}-services-hint`} data-testid="recipient-holds" autoComplete="off" spellCheck={false} />
        </div>
      </div>
      <p className="hint" id={`${id}-services-hint`}>Services separated by commas, e.g. payments, billing.</p>
      <div className="actions file-choice">
        <button type="button" className="button" onClick={() => void pick()} data-testid="recipient-key-file">
          Choose public key file…
        </button>
        <span data-testid="recipient-key-chosen">{file ? <>Chosen: <code>{file.name}</code></> : 'No file chosen'}</span>
      </div>
      {missing ? <p className="field-error" role="alert">{missing}</p> : null}
      {error ? <ErrorBlock error={error} title="The recipient was not added" /> : null}
      <div className="actions">
        <button type="submit" className="button primary" disabled={busy} data-testid="recipient-add">
          {busy ? 'Adding…' : 'Add recipient'}
        </button>
      </div>
    </form>
  );
}

// ---- signers -----------------------------------------------------------------------

export function SignersSection() {
  const { signers, threshold, setThreshold } = useBundles();
  const [n, setN] = useState(String(threshold));
  const [error, setError] = useState<ApiError | null>(null);
  const id = useId();
  useEffect(
    function followThreshold() {
      setN(String(threshold));
    },
    [threshold],
  );
  async function submit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    setError(await setThreshold(Number(n)));
  }
  const tokensN = new Set(signers.map((s) => s.serial)).size;
  return (
    <section className="bundle-section" aria-labelledby={`${id}-h`} data-testid="signers">
      <h2 id={`${id}-h`}>Signers and threshold</h2>
      <p className="hint">Token keys that sign bundles and the trust root. Signers on one token count once toward the threshold.</p>
      {signers.length === 0 ? (
        <p className="empty" data-testid="no-signers">
          No signer yet. Generate a signing key on a token (Tokens), then register it here.
        </p>
      ) : (
        <div className="table-scroll">
          <table className="due-table" data-testid="signer-table">
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Token</th>
                <th scope="col">Algorithm</th>
                <th scope="col">Fingerprint (kid)</th>
              </tr>
            </thead>
            <tbody>
              {signers.map((s) => (
                <tr key={s.kid} data-testid={`signer-${s.keyLabel}`}>
                  <td>{s.keyLabel}</td>
                  <td>
                    {s.token} <span className="hint">serial {s.serial}</span>
                  </td>
                  <td>{s.alg}</td>
                  <td>
                    <code className="kid">{s.kid}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Needs command="signer.threshold" what={`change the threshold (now ${threshold})`}>
      <form className="threshold-form" onSubmit={(e) => void submit(e)} noValidate>
        <div className="field">
          <label htmlFor={`${id}-threshold`}>Signatures a bundle needs</label>
          <input id={`${id}-threshold`} type="number" min={1} max={32} value={n} onChange={(e) => setN(e.target.value)}
            aria-describedby={`${id}-threshold-hint`} data-testid="threshold" />
        </div>
        <button type="submit" className="button" data-testid="threshold-set">
          Set threshold
        </button>
        <p className="hint" id={`${id}-threshold-hint`}>
          Now {threshold}; the signers are on {plainCount(tokensN, 'token')}.
        </p>
      </form>
      </Needs>
      {error ? <ErrorBlock error={error} title="The threshold was not changed" /> : null}
      <Needs command="signer.add" what="register a signer">
        <AddSigner />
      </Needs>
    </section>
  );
}

function plainCount(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

function AddSigner() {
  const { tokens, tokenKeys, loadTokenKeys, addSigner, signers } = useBundles();
  const [serial, setSerial] = useState('');
  const [label, setLabel] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [warnings, setWarnings] = useState<readonly string[]>([]);
  const [busy, setBusy] = useState(false);
  const id = useId();
  const keys = serial ? tokenKeys[serial] : undefined;
  const registered = new Set(signers.map((s) => s.kid));
  // Signing keys: P-256 or Ed25519 with a public key; before login a private key is hidden, its public half says it verifies.
  const signing = (keys?.keys ?? []).filter((k) => k.alg !== null && k.kid !== null && (k.hasPrivateKey ? k.canSign : k.canVerify));

  useEffect(
    function keysOfToken() {
      if (serial && !tokenKeys[serial]) void loadTokenKeys(serial);
    },
    [serial, tokenKeys, loadTokenKeys],
  );
  // The first signing key not yet registered, unless one that exists is chosen.
  const shownLabel = signing.some((k) => k.label === label) ? label : (signing.find((k) => !registered.has(k.kid ?? ''))?.label ?? signing[0]?.label ?? '');

  async function submit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    if (!serial || !shownLabel) return;
    setBusy(true);
    const r = await addSigner(serial, shownLabel);
    setBusy(false);
    setError(r.error);
    setWarnings(r.warnings);
  }

  return (
    <form className="form inline-form" onSubmit={(e) => void submit(e)} noValidate aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`}>Register a signer</h3>
      {tokens.length === 0 ? (
        <p className="empty" data-testid="signer-no-tokens">
          No token is present. Insert the token that holds the signing key.
        </p>
      ) : (
        <div className="form-row">
          <div className="field">
            <label htmlFor={`${id}-token`}>Token</label>
            <select id={`${id}-token`} value={serial} onChange={(e) => setSerial(e.target.value)} data-testid="signer-token">
              <option value="">Choose a token</option>
              {tokens.map((t) => (
                <option key={t.serial} value={t.serial}>
                  {t.label} (serial {t.serial})
                </option>
              ))}
            </select>
          </div>
          <div className="field grow">
            <label htmlFor={`${id}-key`}>Signing key</label>
            <select id={`${id}-key`} value={shownLabel} onChange={(e) => setLabel(e.target.value)} disabled={!serial || signing.length === 0}
              data-testid="signer-key">
              {signing.length === 0 ? <option value="">{serial ? (keys?.status === 'loading' ? 'Reading keys…' : 'No signing key on this token') : 'Choose a token first'}</option> : null}
              {signing.map((k) => (
                <option key={k.id} value={k.label}>
                  {k.label} ({k.alg}){registered.has(k.kid ?? '') ? ', registered' : ''}
                </option>
              ))}
            </select>
          </div>
        </div>
      )}
      {keys?.error ? <ErrorBlock error={keys.error} title="The token's keys could not be read" /> : null}
      {error ? <ErrorBlock error={error} title="The signer was not registered" /> : null}
      {warnings.length > 0 ? (
        <div className="notice" role="status" data-testid="signer-warnings">
          {warnings.map((w, i) => (
            <p key={i}>{w}</p>
          ))}
        </div>
      ) : null}
      <div className="actions">
        <button type="submit" className="button primary" disabled={busy || !serial || !shownLabel} data-testid="signer-add">
          {busy ? 'Registering…' : 'Register signer'}
        </button>
      </div>
    </form>
  );
}

// ---- trust root ------------------------------------------------------------------

export function TrustSection() {
  const { tokens, signers, threshold, exportTrust, recheck } = useBundles();
  const present = signerTokens(tokens, signers);
  const [serial, setSerial] = useState('');
  const [done, setDone] = useState<TrustResult | null>(null);
  const id = useId();
  const token = present.find((t) => t.serial === serial) ?? present[0] ?? null;
  return (
    <section className="bundle-section" aria-labelledby={`${id}-h`} data-testid="trust">
      <h2 id={`${id}-h`}>Trust root</h2>
      <p className="hint">
        The signers&apos; public keys and the threshold ({threshold}), signed: servers install it once to verify bundles. Every signer
        token present signs.
      </p>
      <TokenPick tokens={tokens} signers={signers} value={token?.serial ?? ''} onChange={setSerial} testId="trust-token" />
      {token ? (
        <PinPrompt
          key={token.serial}
          token={token}
          purpose="sign the trust root"
          submitLabel="Sign and save trust root…"
          busyLabel="Signing…"
          testId="trust"
          autoFocus={false}
          recheck={() => recheck(token.serial)}
          onSubmit={async (pin, allowFinalTry) => {
            const r = await exportTrust(token.serial, pin, allowFinalTry);
            if (isApiError(r)) return r;
            setDone(r);
            return null;
          }}
        />
      ) : null}
      {done ? (
        <div className="result-panel" role="status" data-testid="trust-done">
          <p>
            Trust root version {done.version} saved to <code>{done.path}</code>.
          </p>
          <p>
            Hash: <HashGroups hash={done.hash} />
          </p>
        </div>
      ) : null}
    </section>
  );
}

// ---- resend --------------------------------------------------------------------

export function ResendSection({ recipients }: { recipients: readonly RecipientInfo[] }) {
  const { resend } = useBundles();
  const sent = recipients.filter((r) => r.sequence > 0);
  const [name, setName] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<ResendResult | null>(null);
  const id = useId();
  const chosen = sent.find((r) => r.name === name) ?? sent[0] ?? null;
  async function submit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    if (!chosen) return;
    setDone(null);
    const r = await resend(chosen.name);
    if (isApiError(r)) setError(r);
    else {
      setError(null);
      setDone(r);
    }
  }
  return (
    <section className="bundle-section" aria-labelledby={`${id}-h`} data-testid="resend">
      <h2 id={`${id}-h`}>Write the last bundle again</h2>
      <p className="hint">A lost or damaged file is replaced by the very same bundle, as the vault recorded it: nothing is signed again.</p>
      {sent.length === 0 ? (
        <p className="empty">No bundle was exported yet.</p>
      ) : (
        <form className="threshold-form" onSubmit={(e) => void submit(e)} noValidate>
          <div className="field">
            <label htmlFor={`${id}-r`}>Recipient</label>
            <select id={`${id}-r`} value={chosen?.name ?? ''} onChange={(e) => setName(e.target.value)} data-testid="resend-recipient">
              {sent.map((r) => (
                <option key={r.id} value={r.name}>
                  {r.name} (bundle {r.sequence})
                </option>
              ))}
            </select>
          </div>
          <button type="submit" className="button" data-testid="resend-submit">
            Save again…
          </button>
        </form>
      )}
      {error ? <ErrorBlock error={error} title="The bundle was not written" /> : null}
      {done ? (
        <p role="status" data-testid="resend-done">
          Bundle {done.sequence} for {done.recipient} written to <code>{done.path}</code> ({done.bytes.toLocaleString('en-US')} bytes).
        </p>
      ) : null}
    </section>
  );
}

// ---- co-sign -----------------------------------------------------------------------

export function CosignSection() {
  const { tokens, signers, chooseFile, cosign, recheck } = useBundles();
  const present = signerTokens(tokens, signers);
  const [file, setFile] = useState<ChosenFile | null>(null);
  const [serial, setSerial] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<CosignResult | null>(null);
  const id = useId();
  const token = present.find((t) => t.serial === serial) ?? present[0] ?? null;
  async function pick(): Promise<void> {
    setError(null);
    const r = await chooseFile('bundle');
    if (r === null) return;
    if (isApiError(r)) setError(r);
    else {
      setFile(r);
      setDone(null);
    }
  }
  return (
    <section className="bundle-section" aria-labelledby={`${id}-h`} data-testid="cosign">
      <h2 id={`${id}-h`}>Co-sign a bundle file</h2>
      <p className="hint">Adds this token&apos;s signature to a bundle another custodian signed (M of N). Its signatures are checked first.</p>
      <div className="actions file-choice">
        <button type="button" className="button" onClick={() => void pick()} data-testid="cosign-file">
          Choose bundle file…
        </button>
        <span>{file ? <>Chosen: <code>{file.name}</code></> : 'No file chosen'}</span>
      </div>
      {error ? <ErrorBlock error={error} /> : null}
      {file ? (
        <>
          <TokenPick tokens={tokens} signers={signers} value={token?.serial ?? ''} onChange={setSerial} testId="cosign-token" />
          {token ? (
            <PinPrompt
              key={`${token.serial}/${file.handle}`}
              token={token}
              purpose="add a signature to the bundle"
              submitLabel="Add signature"
              busyLabel="Signing…"
              testId="cosign"
              autoFocus={false}
              recheck={() => recheck(token.serial)}
              onSubmit={async (pin, allowFinalTry) => {
                const r = await cosign(file, token.serial, pin, allowFinalTry);
                if (isApiError(r)) return r;
                setDone(r);
                setFile(null);
                return null;
              }}
            />
          ) : null}
        </>
      ) : null}
      {done ? (
        <div role="status" data-testid="cosign-done">
          <p>
            Signature added to <code>{done.path}</code>: {done.signatures.length} signatures now.
          </p>
          <p>
            Hash: <HashGroups hash={done.hash} />
          </p>
        </div>
      ) : null}
    </section>
  );
}

