/**
 * What the signed-in operator may do, for every screen: one helper over
 * shared/roles.ts (COMMAND_ROLES, the map the core enforces) and the operator
 * from operator.whoami (stores/access.ts). Screens hide or disable what the
 * operator may not run and say why ("Needs the key operator role"); the core
 * still checks every command, and a ROLE_REQUIRED error that happens anyway is
 * shown like any other error.
 *
 *   const may = usePermission('key.destroy');
 *   <button disabled={!may.allowed} title={may.reason ?? undefined}>…</button>
 *   {may.allowed ? null : <p className="hint">{may.reason}</p>}
 */
import { useMemo } from 'react';
import type { CommandName, OperatorInfo } from '../../shared/contract';
import { COMMAND_ROLES, mayRun, ROLE_NAMES, type Role } from '../../shared/roles';
import { SCREENS } from './screens/registry';
import { useAccess } from './stores/access';

export type Permission = Readonly<{ allowed: boolean; reason: string | null }>;

const ALLOWED: Permission = { allowed: true, reason: null };

/** "the key operator role", "the security officer or auditor role". */
export function roleList(roles: readonly Role[]): string {
  const names = roles.map((r) => ROLE_NAMES[r]);
  const joined = names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1] ?? ''}`;
  return `the ${joined} role`;
}

/**
 * Whether `operator` may run `command`. A vault with no operators at all (the
 * whoami answer lists none) behaves as a one-person vault: everything is
 * allowed, as the core does.
 */
export function permission(command: CommandName, operator: OperatorInfo | null, operators: readonly string[] = []): Permission {
  const need = COMMAND_ROLES[command];
  if (need === 'none') return ALLOWED;
  if (operator === null) {
    return operators.length === 0 ? ALLOWED : { allowed: false, reason: 'Needs a signed-in operator' };
  }
  if (mayRun(command, operator.roles)) return ALLOWED;
  return { allowed: false, reason: `Needs ${roleList(need === 'any' ? [] : need)}` };
}

/** The permission for one command, following sign-in, sign-out and role changes. */
export function usePermission(command: CommandName): Permission {
  const operator = useAccess((s) => s.whoami?.operator ?? null);
  const operators = useAccess((s) => s.whoami?.operators);
  return permission(command, operator, operators ?? []);
}

/** The same, outside React (stores, event handlers). */
export function currentPermission(command: CommandName): Permission {
  const w = useAccess.getState().whoami;
  return permission(command, w?.operator ?? null, w?.operators ?? []);
}

/** Whether a command is under dual control for the signed-in operator now (someone else can approve it). */
export function useDualControlled(command: CommandName): boolean {
  const d = useAccess((s) => s.dualControl);
  const me = useAccess((s) => s.whoami?.operator?.name ?? null);
  return dualControlApplies(d, command, me);
}

export function dualControlApplies(
  d: Readonly<{ active: boolean; commands: readonly string[]; approvers: readonly string[] }> | null,
  command: string,
  me: string | null,
): boolean {
  return d !== null && d.active && d.commands.includes(command) && d.approvers.some((n) => n !== me);
}

type ScreenEntry = (typeof SCREENS)[number];

/** The command an area of the navigation needs (registry.ts `requires`), or null for every operator. */
export function screenRequires(s: ScreenEntry): CommandName | null {
  return 'requires' in s ? s.requires : null;
}

/** The areas the signed-in operator sees, in the navigation's order. */
export function useVisibleScreens(): readonly ScreenEntry[] {
  const operator = useAccess((s) => s.whoami?.operator ?? null);
  const operators = useAccess((s) => s.whoami?.operators);
  return useMemo(
    () => SCREENS.filter((s) => {
      const need = screenRequires(s);
      return need === null || permission(need, operator, operators ?? []).allowed;
    }),
    [operator, operators],
  );
}
