/**
 * The approval of a dual-controlled action (useApproval.ts holds the request):
 * the core's summary of exactly what will run and the hash of its parameters
 * (monospace, in groups, and as words to read aloud), then a second operator,
 * a custodian or security officer other than the one who asked, picks their
 * name and approves with their own passphrase or token PIN (approval.grant).
 * Approved: the dialog closes and the action runs. Cancel or Esc: nothing runs;
 * the request left in the core cannot be used by anyone and expires.
 *
 * Mounted once, in the shell; it opens by itself when an approval is pending.
 */
import { useEffect, useId, useRef, useState } from 'react';
import { call, type ApiError } from '../api';
import { useAccess } from '../stores/access';
import { credentialFields, type Credential } from '../stores/operators';
import { useApproval } from '../useApproval';
import { OperatorCredentialForm } from './SignIn';

/** "3f2a…" -> ["3f2a9c01", …]: the hash in groups of eight characters, as people compare it. */
export function hashGroups(hash: string, size = 8): string[] {
  const out: string[] = [];
  for (let i = 0; i < hash.length; i += size) out.push(hash.slice(i, i + size));
  return out;
}

function useSecondsLeft(until: string): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return Math.max(0, Math.ceil((Date.parse(until) - now) / 1000));
}

export function ApprovalDialog() {
  const pending = useApproval((s) => s.pending);
  if (!pending) return null;
  // Remounted per request: nothing typed for one approval is left for the next.
  return <PendingApproval key={pending.approval.id} />;
}

function PendingApproval() {
  const pending = useApproval((s) => s.pending);
  const settle = useApproval((s) => s.settle);
  const approvers = useAccess((s) => s.dualControl?.approvers ?? []);
  const ref = useRef<HTMLDialogElement>(null);
  const approvedRef = useRef(false);
  const id = useId();
  const a = pending?.approval;
  const left = useSecondsLeft(a?.expiresAt ?? new Date(0).toISOString());

  useEffect(function open() {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);

  if (!a) return null;
  const names = approvers.filter((n) => n !== a.requestedBy);

  async function grant(name: string, credential: Credential): Promise<ApiError | null> {
    if (!a) return null;
    const r = await call((api) => api.approvalGrant({ id: a.id, name, ...credentialFields(credential) }));
    if (!r.ok) return r.error;
    approvedRef.current = true;
    ref.current?.close();
    return null;
  }

  return (
    <dialog
      ref={ref}
      className="dialog approval-dialog"
      aria-labelledby={`${id}-title`}
      aria-describedby={`${id}-what`}
      data-testid="approval-dialog"
      data-command={a.command}
      onClose={(e) => {
        // React passes a nested dialog's close up the tree (the PIN prompt's final-try confirmation): only ours settles.
        if (e.target === e.currentTarget) settle(approvedRef.current);
      }}
    >
      <h2 id={`${id}-title`}>A second operator must approve this</h2>
      <p id={`${id}-what`}>
        <strong>{a.requestedBy}</strong> asked for this action. It is under dual control: another operator who is a custodian or
        security officer checks what it does, then approves with their own credential. Only then does it run.
      </p>
      <h3>What will run</h3>
      <ul className="approval-summary" data-testid="approval-summary">
        {a.summary.map((line, i) => (
          <li key={i}>{line}</li>
        ))}
      </ul>
      <h3>Parameters hash</h3>
      <p className="hint">SHA-256 of exactly these parameters; the approval is for them only and is used once.</p>
      <p className="approval-hash" data-testid="approval-hash" data-hash={a.paramsHash}>
        <code>
          {hashGroups(a.paramsHash).map((g, i) => (
            <span key={i} className="hash-group">{g}</span>
          ))}
        </code>
      </p>
      <p className="approval-words" data-testid="approval-words">
        <span className="hint">As words: </span>
        {a.words.join(' ')}
      </p>
      <p className={left <= 60 ? 'notice' : 'hint'} data-testid="approval-expires" aria-live="off">
        {left > 0 ? `The request expires in ${Math.floor(left / 60)} min ${String(left % 60).padStart(2, '0')} s.` : 'The request expired: cancel and start the action again.'}
      </p>
      {names.length === 0 ? (
        <div className="notice" data-testid="approval-no-approver">
          <p>No other operator can approve (a custodian or security officer with a credential).</p>
          <div className="actions">
            <button type="button" className="button" onClick={() => ref.current?.close()} data-testid="approval-cancel">
              Cancel
            </button>
          </div>
        </div>
      ) : (
        <OperatorCredentialForm
          names={names}
          purpose="approve this action"
          submitLabel="Approve and run"
          busyLabel="Approving…"
          onSubmit={grant}
          onCancel={() => ref.current?.close()}
          testId="approval"
          errorTitle="Not approved"
        />
      )}
    </dialog>
  );
}
