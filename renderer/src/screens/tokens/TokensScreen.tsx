/**
 * Tokens: the PKCS#11 tokens present, updated live from `tokens.changed`
 * while this screen is open; each one's label, maker, serial and PIN state
 * (always visible), its keys (public objects without a PIN; private keys after
 * the PIN), and generating a signing key on it. An uninitialised slot is shown
 * as such, never as a token whose PIN is "ok".
 */
import { useEffect, useId, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { freeText, type TokenInfo } from '../../../../shared/contract';
import { ErrorBlock, Loading, ScreenTitle } from '../../components/common';
import { PinBadge, PinPrompt, tokenName } from '../../components/PinPrompt';
import { useIpcEvent } from '../../events';
import { plural } from '../../format';
import { useTokens, type TokenAlg } from '../../stores/tokens';
import { useUi } from '../../stores/ui';
import { TokenKeysTable } from './TokenKeysTable';
import { usePermission } from '../../roles';

const keyLabelSchema = freeText('the key label', 64, { min: 1 });

/** Which form is open, on which token: one at a time. */
type OpenForm = Readonly<{ serial: string; form: 'login' | 'keygen' }> | null;

export function TokensScreen() {
  const { tokens, loading, error } = useTokens(useShallow((s) => ({ tokens: s.tokens, loading: s.loading, error: s.error })));
  const keys = useTokens((s) => s.keys);
  const { load, loadKeys, setTokens, clearKeys } = useTokens(
    useShallow((s) => ({ load: s.load, loadKeys: s.loadKeys, setTokens: s.setTokens, clearKeys: s.clearKeys })),
  );
  const [open, setOpen] = useState<OpenForm>(null);

  useEffect(
    function listOnOpen() {
      void load();
      // Keys listed here are forgotten when the screen closes (and so at lock).
      return clearKeys;
    },
    [load, clearKeys],
  );

  useIpcEvent('tokens.changed', function onTokensChanged(p) {
    setTokens(p.tokens);
    useUi.getState().announce(`Tokens changed: ${plural(p.tokens.filter((t) => !t.empty).length, 'token')} present.`);
  });

  // Each token present gets its public keys listed once (no PIN needed for those).
  useEffect(
    function listPublicKeys() {
      for (const t of tokens ?? []) if (!t.empty && keys[t.serial] === undefined) void loadKeys(t.serial);
    },
    [tokens, keys, loadKeys],
  );

  // A form for a token that left closes with it.
  const openToken = open ? tokens?.find((t) => !t.empty && t.serial === open.serial) : undefined;
  useEffect(
    function closeFormOfGoneToken() {
      if (open && tokens && !openToken) setOpen(null);
    },
    [open, tokens, openToken],
  );

  const present = tokens?.filter((t) => !t.empty) ?? [];

  return (
    <main className="screen wide" data-screen="tokens" aria-busy={loading}>
      <div className="screen-head">
        <ScreenTitle>Tokens</ScreenTitle>
        <button type="button" className="button" onClick={() => void load()} disabled={loading} data-testid="tokens-refresh">
          {loading ? 'Looking…' : 'Look again'}
        </button>
      </div>
      <p className="hint">
        Smartcards, USB keys and HSM tokens that Keyhold sees. The list follows tokens as they are inserted and removed; the PIN
        state is read again each time you look.
      </p>
      {error ? (
        <ErrorBlock error={error} title="Tokens cannot be read">
          <button type="button" className="button" onClick={() => void load()} data-testid="tokens-retry">
            Try again
          </button>
        </ErrorBlock>
      ) : null}
      {tokens === null ? (
        error ? null : <Loading label="Looking for tokens…" />
      ) : tokens.length === 0 ? (
        <p className="empty" data-testid="no-tokens">
          No token is present. Insert a token: it shows up here by itself.
        </p>
      ) : (
        <>
          <p className="count" data-testid="token-count" data-count={present.length}>
            {plural(present.length, 'token')} present
            {tokens.length > present.length ? `, ${plural(tokens.length - present.length, 'uninitialised slot')}` : ''}
          </p>
          <ul className="token-list">
            {tokens.map((t) => (
              <li key={`${t.module}|${t.slot}`}>
                {t.empty ? (
                  <EmptySlot token={t} />
                ) : (
                  <TokenCard token={t} open={open?.serial === t.serial ? open.form : null} setOpen={setOpen} />
                )}
              </li>
            ))}
          </ul>
        </>
      )}
    </main>
  );
}

function EmptySlot({ token }: { token: TokenInfo }) {
  return (
    <section className="token-card empty-slot" data-testid="token-empty" aria-label={`Uninitialised slot ${token.slot}`}>
      <div className="token-head">
        <h2>Uninitialised slot</h2>
        <PinBadge token={token} testId="token-empty-pin" />
      </div>
      <p>
        Slot {token.slot} holds no initialised token: it has no label, no PIN and no keys, and Keyhold never uses it. Initialise
        it with the token vendor&apos;s tool to use it.
      </p>
      <p className="hint">Module: <code>{token.module}</code></p>
    </section>
  );
}

function TokenCard({
  token,
  open,
  setOpen,
}: {
  token: TokenInfo;
  open: 'login' | 'keygen' | null;
  setOpen: (o: OpenForm) => void;
}) {
  const entry = useTokens((s) => s.keys[token.serial]);
  const { loadKeys, recheck } = useTokens(useShallow((s) => ({ loadKeys: s.loadKeys, recheck: s.recheck })));
  const headingId = useId();
  const maker = [token.manufacturer, token.model].filter(Boolean).join(' · ');
  const supports = algsOf(token);
  const canKeygen = usePermission('token.keygen');

  return (
    <section className="token-card" aria-labelledby={headingId} data-testid="token-card" data-serial={token.serial} data-label={token.label}>
      <div className="token-head">
        <h2 id={headingId}>{token.label}</h2>
        <PinBadge token={token} testId="token-pin" />
      </div>
      <dl className="facts token-facts">
        <dt>Made by</dt>
        <dd>{maker || '—'}</dd>
        <dt>Serial</dt>
        <dd data-testid="token-serial">{token.serial}</dd>
        <dt>Can generate</dt>
        <dd>{supports.length > 0 ? supports.join(', ') : 'no signing key type Keyhold uses'}</dd>
        {token.flags.writeProtected ? (
          <>
            <dt>Write</dt>
            <dd>write-protected: keys cannot be generated</dd>
          </>
        ) : null}
      </dl>

      <h3>Keys</h3>
      {entry === undefined || (entry.status === 'loading' && entry.keys.length === 0) ? (
        <Loading label="Reading the keys…" />
      ) : entry.status === 'error' && entry.error ? (
        <ErrorBlock error={entry.error} title="The keys cannot be read">
          <button type="button" className="button" onClick={() => void loadKeys(token.serial)}>
            Try again
          </button>
        </ErrorBlock>
      ) : (
        <TokenKeysTable keys={entry.keys} withPrivate={entry.withPrivate} />
      )}

      {open === 'login' ? (
        <PinPrompt
          key={`login-${token.serial}`}
          token={token}
          purpose="list its private keys"
          submitLabel="Show private keys"
          busyLabel="Reading…"
          onSubmit={async (pin, allowFinalTry) => {
            const failed = await loadKeys(token.serial, { pin, allowFinalTry });
            if (!failed) setOpen(null);
            return failed;
          }}
          recheck={() => recheck(token.serial)}
          onCancel={() => setOpen(null)}
          testId="keys-login"
        />
      ) : open === 'keygen' ? (
        <KeygenForm token={token} supports={supports} onDone={() => setOpen(null)} recheck={() => recheck(token.serial)} />
      ) : (
        <div className="actions">
          {!entry?.withPrivate ? (
            <button type="button" className="button" onClick={() => setOpen({ serial: token.serial, form: 'login' })} data-testid="show-private">
              Show private keys…
            </button>
          ) : null}
          <button
            type="button"
            className="button primary"
            onClick={() => setOpen({ serial: token.serial, form: 'keygen' })}
            disabled={supports.length === 0 || token.flags.writeProtected || !canKeygen.allowed}
            title={canKeygen.reason ?? undefined}
            data-testid="keygen-open"
          >
            Generate a signing key…
          </button>
        </div>
      )}
    </section>
  );
}

/** The signing algorithms a token can generate keys for (its mechanism list, as token.list reports it). */
function algsOf(token: TokenInfo): TokenAlg[] {
  const out: TokenAlg[] = [];
  if (token.mechanisms.includes('EC-KEYGEN')) out.push('ES256');
  if (token.mechanisms.includes('Ed25519-KEYGEN')) out.push('EdDSA');
  return out;
}

function KeygenForm({
  token,
  supports,
  onDone,
  recheck,
}: {
  token: TokenInfo;
  supports: readonly TokenAlg[];
  onDone: () => void;
  recheck: () => Promise<TokenInfo | null>;
}) {
  const keygen = useTokens((s) => s.keygen);
  const [label, setLabel] = useState('');
  const [alg, setAlg] = useState<TokenAlg>(supports[0] ?? 'ES256');
  const [labelError, setLabelError] = useState<string | null>(null);
  const id = useId();

  function validate(): boolean {
    const r = keyLabelSchema.safeParse(label);
    const msg = r.success ? null : (r.error.issues[0]?.message ?? 'the key label is not valid');
    setLabelError(msg);
    if (msg) document.getElementById(`${id}-label`)?.focus();
    return msg === null;
  }

  return (
    <div className="keygen" data-testid="keygen-form">
      <h3>Generate a signing key on {tokenName(token)}</h3>
      <p className="hint">
        The key pair is made on the token; its private half never leaves it. Register it as a bundle signer under Bundles.
      </p>
      <PinPrompt
        key={`keygen-${token.serial}`}
        token={token}
        purpose={label ? `generate the key '${label}'` : 'generate the key'}
        submitLabel="Generate key"
        busyLabel="Generating…"
        validate={validate}
        onSubmit={async (pin, allowFinalTry) => {
          const failed = await keygen(token.serial, label, alg, pin, allowFinalTry);
          if (!failed) {
            useUi.getState().announce(`Key '${label}' generated on ${tokenName(token)}.`);
            onDone();
          }
          return failed;
        }}
        recheck={recheck}
        onCancel={onDone}
        testId="keygen"
        autoFocus={false}
      >
        <div className="field">
          <label htmlFor={`${id}-label`}>Key label</label>
          <input
            id={`${id}-label`}
            value={label}
            onChange={(e) => {
              setLabel(e.target.value);
              setLabelError(null);
            }}
            maxLength={64}
            autoComplete="off"
            spellCheck={false}
            autoFocus
            aria-invalid={labelError ? true : undefined}
            aria-describedby={labelError ? `${id}-label-error` : undefined}
            data-testid="keygen-label"
          />
          {labelError ? (
            <p className="field-error" id={`${id}-label-error`}>
              {labelError}
            </p>
          ) : null}
        </div>
        <div className="field">
          <label htmlFor={`${id}-alg`}>Algorithm</label>
          <select id={`${id}-alg`} value={alg} onChange={(e) => setAlg(e.target.value as TokenAlg)} data-testid="keygen-alg">
            <option value="ES256" disabled={!supports.includes('ES256')}>
              ES256 (ECDSA on P-256){supports.includes('ES256') ? '' : ': not on this token'}
            </option>
            <option value="EdDSA" disabled={!supports.includes('EdDSA')}>
              EdDSA (Ed25519){supports.includes('EdDSA') ? '' : ': not on this token'}
            </option>
          </select>
        </div>
      </PinPrompt>
    </div>
  );
}
