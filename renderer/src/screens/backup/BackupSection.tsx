/**
 * Settings: "Back up now". Main's save dialog chooses a new file (Keyhold
 * never replaces one); the whole vault is written there encrypted, openable
 * with the vault's own passphrases and tokens (docs/backup.md). The result
 * shows the file, its size and SHA-256, and the audit entry it is recorded by.
 */
import { useEffect, useId } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { ErrorBlock } from '../../components/common';
import { usePermission } from '../../roles';
import { useBackup } from './store';

/** A SHA-256 in groups of eight hex digits, for reading aloud and comparing. */
function groups(hex: string): string {
  return hex.match(/.{1,8}/g)?.join(' ') ?? hex;
}

export function BackupSection() {
  const s = useBackup(useShallow((x) => ({ status: x.status, result: x.result, error: x.error, backUp: x.backUp, clear: x.clear })));
  const may = usePermission('vault.backup');
  const id = useId();
  const clear = s.clear;
  useEffect(
    function forgetOnLeave() {
      return () => clear();
    },
    [clear],
  );
  const running = s.status === 'running';
  return (
    <section className="settings-card" aria-labelledby={`${id}-h`} data-testid="backup-section">
      <h2 id={`${id}-h`}>Backup</h2>
      <p className="hint">
        The whole vault in one encrypted file: keys, secrets, keyslots, settings, recipients and the audit log. It opens only
        with this vault&apos;s passphrases or tokens. Keep it on separate media, away from this workstation.
      </p>
      <div className="actions">
        <button type="button" className="button primary" onClick={() => void s.backUp()} disabled={running || !may.allowed}
          title={may.reason ?? undefined} aria-describedby={may.allowed ? undefined : `${id}-why`} data-testid="backup-now">
          {running ? 'Backing up…' : 'Back up now'}
        </button>
      </div>
      {may.allowed ? null : <p className="hint" id={`${id}-why`}>{may.reason}</p>}
      {s.error ? <ErrorBlock error={s.error} title="No backup was written" /> : null}
      <div role="status" aria-live="polite">
        {s.result ? (
          <dl className="facts" data-testid="backup-result" data-sha256={s.result.sha256}>
            <dt>File</dt>
            <dd><code data-testid="backup-path">{s.result.path}</code></dd>
            <dt>Size</dt>
            <dd data-testid="backup-bytes" data-bytes={s.result.bytes}>{s.result.bytes.toLocaleString('en-US')} bytes</dd>
            <dt>SHA-256</dt>
            <dd><code className="hash" data-testid="backup-hash">{groups(s.result.sha256)}</code></dd>
            <dt>Holds</dt>
            <dd>the audit log up to entry {s.result.head.seq}; the backup itself is recorded in the next entry</dd>
          </dl>
        ) : null}
      </div>
    </section>
  );
}
