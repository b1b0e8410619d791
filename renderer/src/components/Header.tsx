/** The app bar: name, vault state, the lock button, the air-gap warning and the announcer. */
import { useShallow } from 'zustand/react/shallow';
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
