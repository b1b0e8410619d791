/** Picking the token that signs: among the tokens present that hold a registered signer. */
import { useId } from 'react';
import type { SignerInfo, TokenInfo } from '../../../../shared/contract';
import { PinBadge } from '../../components/PinPrompt';

/** Tokens present that hold at least one registered signer. */
export function signerTokens(tokens: readonly TokenInfo[], signers: readonly SignerInfo[]): TokenInfo[] {
  const serials = new Set(signers.map((s) => s.serial));
  return tokens.filter((t) => !t.empty && serials.has(t.serial));
}

export function TokenPick({
  tokens,
  signers,
  value,
  onChange,
  testId,
  legend = 'Token that signs',
}: {
  tokens: readonly TokenInfo[];
  signers: readonly SignerInfo[];
  value: string;
  onChange: (serial: string) => void;
  testId: string;
  legend?: string;
}) {
  const name = useId();
  const present = signerTokens(tokens, signers);
  if (signers.length === 0) {
    return (
      <p className="empty" data-testid={`${testId}-no-signers`}>
        No signer is registered. Register a signing key on a token under Signers first.
      </p>
    );
  }
  if (present.length === 0) {
    const where = [...new Set(signers.map((s) => `'${s.token}' (serial ${s.serial})`))].join(', ');
    return (
      <p className="empty" data-testid={`${testId}-no-token`}>
        No signer&apos;s token is present. Insert one of: {where}.
      </p>
    );
  }
  return (
    <fieldset className="token-choice" data-testid={testId}>
      <legend>{legend}</legend>
      {present.map((t) => {
        const keys = signers.filter((s) => s.serial === t.serial).map((s) => s.keyLabel);
        return (
          <label key={t.serial} className={`token-option${value === t.serial ? ' checked' : ''}`}>
            <input
              type="radio"
              name={name}
              value={t.serial}
              checked={value === t.serial}
              onChange={() => onChange(t.serial)}
              data-testid={`${testId}-${t.serial}`}
            />
            <span className="token-option-text">
              <span className="token-label">{t.label}</span>
              <span className="hint">
                serial {t.serial}; signer {keys.join(', ')}
              </span>
            </span>
            <PinBadge token={t} />
          </label>
        );
      })}
    </fieldset>
  );
}
