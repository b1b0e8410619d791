/**
 * A part of a screen shown only to an operator who may run its command
 * (renderer/src/roles.ts); others see one line saying what role it needs.
 *
 *   <Needs command="recipient.add" what="add a recipient"><AddRecipient /></Needs>
 *   -> "Needs the security officer role to add a recipient."
 */
import type { ReactNode } from 'react';
import type { CommandName } from '../../../shared/contract';
import { usePermission } from '../roles';

export function Needs({ command, what, children, testId }: { command: CommandName; what: string; children: ReactNode; testId?: string }) {
  const may = usePermission(command);
  if (may.allowed) return <>{children}</>;
  return (
    <p className="hint not-allowed" data-testid={testId ?? `not-allowed-${command}`}>
      {may.reason} to {what}.
    </p>
  );
}
