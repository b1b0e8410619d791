/** The app bar: name, vault state, the lock button, the air-gap warning and the announcer. */
import { useShallow } from 'zustand/react/shallow';
import { ROLE_NAMES } from '../../../shared/roles';
import { useAccess } from '../stores/access';
import { useOperators } from '../stores/operators';
import { useSession } from '../stores/session';
import { useUi } from '../stores/ui';

function AirgapBanner() {
  const airgap = useSession((s) => s.airgap);
  if (!airgap || airgap.isolated) return null;
  const names = [...new Set(airgap.interfaces.map((i) => i.name))].join(', ');
  return (
    <div className="airgap-banner" role="alert" data-testid="airgap-banner">
      <strong>Not air-gapped:</strong> a network interface is up ({names}). Disconnect it before handling keys.
    </div>
  );
}

function Announcer() {
  const { notice, seq } = useUi(useShallow((s) => ({ notice: s.notice, seq: s.noticeSeq })));
  return (
    <p className="visually-hidden" role="status" aria-live="polite" data-testid="announcer" data-seq={seq}>
      {notice}
    </p>
  );
}

/** Who is signed in, with their roles; with several operators, switching and signing out. */
function OperatorBadge() {
  const whoami = useAccess((s) => s.whoami);
  const signOut = useOperators((s) => s.signOut);
  const op = whoami?.operator ?? null;
  if (!op) return null;
  const several = (whoami?.operators.length ?? 0) >= 2;
  return (
    <div className="operator-badge" data-testid="signed-in" data-operator={op.name}>
      <span>
        <span className="visually-hidden">Signed in as </span>
        <strong>{op.name}</strong> <span className="hint">{op.roles.map((r) => ROLE_NAMES[r]).join(', ')}</span>
      </span>
      {several ? (
        <>
          <button type="button" className="button small" onClick={() => void signOut()} data-testid="switch-operator">
            Switch operator
          </button>
          <button type="button" className="button small" onClick={() => void signOut()} data-testid="sign-out">
            Sign out
          </button>
        </>
      ) : null}
    </div>
  );
}

export function Header() {
  const { phase, busy } = useSession(useShallow((s) => ({ phase: s.phase, busy: s.busy })));
  const lock = useSession((s) => s.lock);
  function onLockClick(): void {
    void lock();
  }
  return (
    <header className="app-header">
      <div className="app-bar">
        <span className="app-name">Keyhold</span>
        <span className="vault-state" data-testid="vault-state">
          {phase === 'unlocked' ? 'Vault unlocked' : phase === 'locked' ? 'Vault locked' : ''}
        </span>
        {phase === 'unlocked' ? <OperatorBadge /> : null}
        {phase === 'unlocked' ? (
          <button type="button" className="button" onClick={onLockClick} disabled={busy} data-testid="lock">
            Lock
          </button>
        ) : null}
      </div>
      <AirgapBanner />
      <Announcer />
    </header>
  );
}
