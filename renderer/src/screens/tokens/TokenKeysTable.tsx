/** A token's keys: label, algorithm, key id (kid), whether it can sign, and what it is for. */
import type { TokenKeyInfo } from '../../../../shared/contract';

/**
 * Whether a key signs. With private keys listed, the private key's CKA_SIGN
 * says; before a login only the public half is visible, and its CKA_VERIFY
 * tells a signing key from a keyslot key (docs/tokens.md 4.2).
 */
function canSign(k: TokenKeyInfo, withPrivate: boolean): { text: string; yes: boolean } {
  if (withPrivate || k.hasPrivateKey) {
    if (!k.hasPrivateKey) return { text: 'No (no private key)', yes: false };
    return k.canSign ? { text: 'Yes', yes: true } : { text: 'No', yes: false };
  }
  return k.canVerify ? { text: 'Yes (by its public key)', yes: true } : { text: 'No', yes: false };
}

function use(k: TokenKeyInfo): string {
  if (k.canSign || (!k.hasPrivateKey && k.canVerify)) return 'Signing (bundles, trust root)';
  if (k.canDerive || (!k.hasPrivateKey && !k.canVerify && k.keyType === 'EC-P256')) return 'Vault keyslot';
  return '—';
}

export function TokenKeysTable({ keys, withPrivate }: { keys: readonly TokenKeyInfo[]; withPrivate: boolean }) {
  if (keys.length === 0) {
    return (
      <p className="token-no-keys" data-testid="token-no-keys">
        {withPrivate ? 'This token holds no keys.' : 'No public keys on this token. Private keys, if any, show after the PIN.'}
      </p>
    );
  }
  return (
    <>
      <div className="table-scroll">
        <table className="token-keys" data-testid="token-keys">
          <thead>
            <tr>
              <th scope="col">Label</th>
              <th scope="col">Algorithm</th>
              <th scope="col">Key id (kid)</th>
              <th scope="col">Can sign</th>
              <th scope="col">Use</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => {
              const sign = canSign(k, withPrivate);
              return (
                <tr key={`${k.id}|${k.label}`} data-testid="token-key" data-label={k.label} data-alg={k.alg ?? ''} data-can-sign={sign.yes}>
                  <th scope="row">{k.label || <span className="hint">(no label)</span>}</th>
                  <td>{k.alg ?? k.keyType}</td>
                  <td className="kid">{k.kid ? <code>{k.kid}</code> : <span className="hint">none (not ES256 or EdDSA)</span>}</td>
                  <td>{sign.text}</td>
                  <td>{use(k)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <p className="hint">
        {withPrivate
          ? 'Private keys listed: the token is logged in until the vault locks.'
          : 'Public keys only: the token hides private keys until its PIN is given.'}
      </p>
    </>
  );
}
