/**
 * Operators, roles and dual control in the service (issue 12; docs/threat-model.md,
 * "Operators and roles" and "Dual control").
 *
 * One Operators object lives in a KeyholdService, beside the unlocked vault:
 * who is signed in, and the approvals asked for in this process (in memory
 * only, dropped at lock). KeyholdService.call asks `authorize` before any
 * handler or housekeeping touches the vault: the command's roles
 * (shared/roles.ts), then, for a dual-controlled command, a granted,
 * unexpired, unused approval of exactly its parameters, which it consumes.
 */

import { randomBytes } from 'node:crypto';
import { canonicalJson } from '../../../shared/canonical-json.js';
import {
  contract,
  isCommandName,
  type ApprovalInfo,
  type CommandArgs,
  type CommandName,
  type CommandOutput,
  type DualControlInfo,
  type KdfParams,
  type OperatorInfo,
} from '../../../shared/contract.js';
import { KeyholdError } from '../../../shared/errors.js';
import { hashWords } from '../../../shared/hash-words.js';
import { COMMAND_ROLES, ROLES, roleName, rolesText, type Role } from '../../../shared/roles.js';
import { requireStrongPassphrase } from '../../../shared/strength.js';
import { commandTitle, parseCommandInput } from '../../../shared/validate.js';
import { sha256Hex } from '../crypto/primitives.js';
import { getKey, resolveKeyRef } from '../keys/rows.js';
import { getSetting, putSetting, deleteSetting } from '../bundle/store.js';
import type { PinPlan, TokenManager } from '../token/token.js';
import type { CreationTx, Vault } from '../vault/vault.js';
import { derivePassphrase, passphraseCredential, passphraseMatches, tokenCredential, tokenProves, vaultKdf, type NewCredential } from './credentials.js';
import {
  countOperators,
  deleteOperator,
  ensureOperators,
  findOperator,
  getOperator,
  insertOperator,
  listOperators,
  operatorInfo,
  rolesOf,
  seedFirstOperator,
  sortRoles,
  updateOperator,
  type OperatorRow,
  type TokenParams,
} from './store.js';

/** How long an approval may be granted and used after it was asked for. */
export const APPROVAL_TTL_MS = 5 * 60_000;
/** At most this many approvals are kept; a new one drops the oldest. */
const APPROVALS_MAX = 16;

/** The commands that need a second operator's approval unless the security officer sets others. */
export const DUAL_CONTROL_DEFAULTS: readonly CommandName[] = [
  'bundle.export', 'trust.export', 'key.destroy', 'policy.set', 'policy.clear', 'signer.threshold',
  'operator.add', 'operator.remove', 'operator.grant', 'operator.revoke', 'dualControl.set',
];
const RULES_SETTING = 'dualcontrol.commands';

/** Roles that may approve a dual-controlled command. */
const APPROVER_ROLES: readonly Role[] = ['security-officer', 'custodian'];

/** Input fields left out of an approval's parameters hash: secrets, where output goes (the app names files by handle), the KDF cost (the app's main process sets it). */
const UNHASHED = new Set(['pin', 'passphrase', 'current', 'next', 'allowFinalTry', 'out', 'dryRun', 'kdf']);
/** Output-path fields filled with a placeholder when an approval is asked for without them. */
const PATH_FIELDS = ['out'] as const;

type Approval = {
  id: string;
  command: CommandName;
  paramsHash: string;
  summary: string[];
  requestedBy: string;
  approvedBy: string | null;
  expiresMs: number;
};

/** A credential given to a command (sign-in, approval, operator.add). */
export type GivenCredential = Readonly<{
  passphrase?: string | undefined;
  token?: string | undefined;
  keyLabel?: string | undefined;
  pins: PinPlan;
  allowFinalTry: boolean;
}>;

function isDualControllable(c: string): c is CommandName {
  if (!isCommandName(c)) return false;
  const need = COMMAND_ROLES[c];
  return need !== 'none' && need !== 'any';
}

function checkRules(commands: readonly string[]): void {
  const bad = commands.filter((c) => !isDualControllable(c));
  if (bad.length > 0) {
    throw new KeyholdError('INVALID_INPUT', `dualcontrol set: ${bad.map((c) => JSON.stringify(c.slice(0, 64))).join(', ')} cannot be dual-controlled`,
      'Name commands that change the vault or use a secret (such as bundle.export, key.destroy, policy.set); see `keyhold dualcontrol show`.');
  }
}

/** The hash an approval binds: the command and its parsed input without secrets, final-try flags and output paths. */
export function paramsHash(command: CommandName, args: Record<string, unknown>): string {
  const kept: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) if (!UNHASHED.has(k)) kept[k] = v;
  return sha256Hex(Buffer.from(canonicalJson({ command, params: kept }), 'utf8'));
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(describeValue).join(', ');
  if (v !== null && typeof v === 'object') {
    return Object.entries(v).map(([k, x]) => (x === true ? k : `${k} ${describeValue(x)}`)).join(', ');
  }
  return String(v);
}

export class Operators {
  #signedIn: string | null = null;
  readonly #approvals = new Map<string, Approval>();

  /** After an unlock or creation: a vault made before operators gets its one; a one-operator vault signs it in. */
  opened(vault: Vault): void {
    this.#signedIn = null;
    this.#approvals.clear();
    try {
      ensureOperators(vault);
    } catch {
      // A vault that cannot be written yet (its log under recovery) gets its operator at a later unlock.
    }
    const rows = this.#rowsOrEmpty(vault);
    if (rows.length === 1) this.#signIn(vault, (rows[0] as OperatorRow).name);
  }

  closed(): void {
    this.#signedIn = null;
    this.#approvals.clear();
  }

  #rowsOrEmpty(vault: Vault): OperatorRow[] {
    try {
      return listOperators(vault);
    } catch {
      return [];
    }
  }

  #signIn(vault: Vault, name: string | null): void {
    this.#signedIn = name;
    vault.actAs(name);
    if (name === null) this.#approvals.clear();
  }

  /**
   * The signed-in operator's row, read (and MAC-checked) afresh: a role
   * revoked or an operator removed counts at once. A vault with no operator
   * row at all (one that could not be written since its upgrade) acts as a
   * one-person vault: every role, the unlocking identity.
   */
  current(vault: Vault): { name: string; roles: readonly Role[] } | null {
    if (this.#signedIn === null) {
      if (countOperators(vault) === 0) return { name: vault.actor, roles: ROLES };
      return null;
    }
    const row = findOperator(vault, this.#signedIn);
    if (!row) {
      this.#signIn(vault, null);
      return null;
    }
    return { name: row.name, roles: rolesOf(row) };
  }

  /**
   * The role check, then dual control, for one command about to run on an
   * unlocked vault. Returns the approval's names to record with the command's
   * entries (null when it needs none); the approval is consumed.
   */
  authorize(vault: Vault, command: CommandName, args: Record<string, unknown>): { approvedBy: string } | null {
    const need = COMMAND_ROLES[command];
    if (need === 'none') return null;
    const op = this.current(vault);
    if (!op) {
      throw new KeyholdError('OPERATOR_REQUIRED', `operator: ${commandTitle(command)} needs a signed-in operator`,
        'This vault has several operators: sign in first (`--as NAME`, or KEYHOLD_OPERATOR).');
    }
    // Read-only views are never dual-controlled (checkRules): nothing more to read for them.
    if (need === 'any') return null;
    if (!need.some((r) => op.roles.includes(r))) {
      const held = op.roles.length === 0 ? 'no role' : op.roles.map(roleName).join(', ');
      throw new KeyholdError('ROLE_REQUIRED', `operator: ${commandTitle(command)} needs ${rolesText(need)}; ${op.name} holds: ${held}`,
        'Ask an operator who holds that role, or a security officer to grant it (`keyhold operator grant`).');
    }
    if (args.dryRun === true || !this.#controlled(vault, command) || !this.#approverFor(vault, op.name)) return null;
    const hash = paramsHash(command, args);
    const now = Date.parse(vault.now());
    const mine = [...this.#approvals.values()].filter((a) => a.command === command && a.requestedBy === op.name);
    // A granted, live one first: an earlier request left ungranted (a dialog cancelled, a wrong passphrase) must not hide it.
    const match = mine.find((a) => a.paramsHash === hash && a.approvedBy !== null && a.expiresMs > now)
      ?? mine.find((a) => a.paramsHash === hash);
    const how = `Ask for an approval (\`--approver NAME\` in the CLI): another operator who is a custodian or security officer approves exactly this ${commandTitle(command)}.`;
    if (!match) {
      throw new KeyholdError('DUAL_CONTROL_REQUIRED', mine.length > 0
        ? `operator: ${commandTitle(command)} needs a second operator's approval; the approval asked for was for other parameters`
        : `operator: ${commandTitle(command)} needs a second operator's approval`, how);
    }
    if (match.expiresMs <= now) {
      this.#approvals.delete(match.id);
      throw new KeyholdError('DUAL_CONTROL_REQUIRED', `operator: the approval of ${commandTitle(command)} expired`, how);
    }
    if (match.approvedBy === null) {
      throw new KeyholdError('DUAL_CONTROL_REQUIRED', `operator: ${commandTitle(command)} was asked for but not approved yet`, how);
    }
    this.#approvals.delete(match.id);
    return { approvedBy: match.approvedBy };
  }

  // ---- dual-control rules -------------------------------------------------

  #rules(vault: Vault): CommandName[] {
    const v = getSetting(vault, RULES_SETTING);
    if (v === null) return [...DUAL_CONTROL_DEFAULTS];
    const list = JSON.parse(v) as unknown;
    return Array.isArray(list) ? list.filter((c): c is CommandName => typeof c === 'string' && isDualControllable(c)) : [];
  }

  #controlled(vault: Vault, command: CommandName): boolean {
    return this.#rules(vault).includes(command);
  }

  #approvers(vault: Vault): string[] {
    return listOperators(vault).filter((r) => r.credential !== 'none' && rolesOf(r).some((x) => APPROVER_ROLES.includes(x))).map((r) => r.name);
  }

  /** Whether someone other than `requester` could approve (dual control applies to them). */
  #approverFor(vault: Vault, requester: string): boolean {
    return this.#approvers(vault).some((n) => n !== requester);
  }

  showDualControl(vault: Vault): DualControlInfo {
    const approvers = this.#approvers(vault);
    const n = countOperators(vault);
    let reason: string | null = null;
    if (n < 2) reason = 'the vault has one operator: with no one to approve, dual control is off until a second operator is added';
    else if (approvers.length === 0) reason = 'no operator can approve (a custodian or security officer with a credential): dual control is off';
    return { commands: this.#rules(vault), defaults: [...DUAL_CONTROL_DEFAULTS], active: reason === null, reason, approvers };
  }

  setDualControl(vault: Vault, a: CommandArgs<'dualControl.set'>): DualControlInfo {
    const before = this.#rules(vault);
    let next: string[];
    if ('defaults' in a) {
      next = [...DUAL_CONTROL_DEFAULTS];
    } else {
      checkRules(a.commands);
      next = [...a.commands].sort();
    }
    vault.transaction(() => {
      if ('defaults' in a) deleteSetting(vault, RULES_SETTING);
      else putSetting(vault, RULES_SETTING, JSON.stringify(next));
      vault.audit({ action: 'dualcontrol.set', subject: 'dualcontrol', details: { before, after: next } });
    });
    return this.showDualControl(vault);
  }

  // ---- approvals ----------------------------------------------------------

  /** `detail`: lines the service adds to the summary (a bundle's counts), asked for once the request is known to be allowed. */
  async requestApproval(vault: Vault, command: string, input: Record<string, unknown>,
    detail: () => Promise<readonly string[]> = () => Promise.resolve([])): Promise<ApprovalInfo> {
    if (!isCommandName(command)) {
      throw new KeyholdError('INVALID_INPUT', `approval request: ${JSON.stringify(command.slice(0, 64))} is not a command`);
    }
    const op = this.current(vault);
    if (!op) throw new KeyholdError('OPERATOR_REQUIRED', 'operator: asking for an approval needs a signed-in operator', 'Sign in first.');
    const need = COMMAND_ROLES[command];
    if (need !== 'none' && need !== 'any' && !need.some((r) => op.roles.includes(r))) {
      throw new KeyholdError('ROLE_REQUIRED', `operator: ${commandTitle(command)} needs ${rolesText(need)}; ${op.name} holds: ${op.roles.map(roleName).join(', ') || 'no role'}`,
        'Only an operator who may run the command can ask for its approval.');
    }
    if (!this.#controlled(vault, command)) {
      throw new KeyholdError('INVALID_INPUT', `approval request: ${commandTitle(command)} is not dual-controlled in this vault`, 'Run it without an approval.');
    }
    if (!this.#approverFor(vault, op.name)) {
      throw new KeyholdError('INVALID_INPUT', `approval request: no other operator can approve ${commandTitle(command)} (dual control is off for ${op.name})`,
        'Run it without an approval.');
    }
    // The app names output files by handle, never by path: an approval is asked for before the path is known.
    const schema = contract[command].input as unknown as { shape?: Record<string, unknown> };
    const probe: Record<string, unknown> = { ...input };
    for (const f of PATH_FIELDS) if (schema.shape && f in schema.shape && probe[f] === undefined) probe[f] = 'output';
    const args = parseCommandInput(command, probe) as Record<string, unknown>;
    // What the command itself would refuse at once is refused before anyone approves it.
    if (command === 'dualControl.set' && Array.isArray(args.commands)) checkRules(args.commands as string[]);
    const hash = paramsHash(command, args);
    const extra = await detail();
    const now = Date.parse(vault.now());
    // Expired requests go, and so does an ungranted one of the same action by the same operator (asked again).
    for (const [id, a] of this.#approvals) {
      if (a.expiresMs <= now || (a.approvedBy === null && a.requestedBy === op.name && a.command === command && a.paramsHash === hash)) {
        this.#approvals.delete(id);
      }
    }
    while (this.#approvals.size >= APPROVALS_MAX) this.#approvals.delete(this.#approvals.keys().next().value as string);
    const approval: Approval = {
      id: `ap_${randomBytes(16).toString('base64url').slice(0, 22)}`, command, paramsHash: hash,
      summary: [...this.#summary(vault, command, args), ...extra], requestedBy: op.name, approvedBy: null, expiresMs: now + APPROVAL_TTL_MS,
    };
    this.#approvals.set(approval.id, approval);
    return this.#approvalInfo(approval);
  }

  #summary(vault: Vault, command: CommandName, args: Record<string, unknown>): string[] {
    const lines = [`${commandTitle(command)}, asked for by ${this.#signedIn ?? vault.actor}`];
    for (const [k, v] of Object.entries(args)) {
      if (UNHASHED.has(k) || v === undefined) continue;
      let text = describeValue(v);
      if ((k === 'id' || k === 'key') && typeof v === 'string') text = keyLabel(vault, v);
      if (k === 'ids' && Array.isArray(v)) {
        text = v.length > 10 ? `${v.length} keys` : v.map((x) => keyLabel(vault, String(x))).join(', ');
      }
      lines.push(`${k}: ${text}`);
    }
    return lines;
  }

  #approvalInfo(a: Approval): ApprovalInfo {
    return { id: a.id, command: a.command, summary: [...a.summary], paramsHash: a.paramsHash, words: hashWords(a.paramsHash),
      requestedBy: a.requestedBy, approvedBy: a.approvedBy, expiresAt: new Date(a.expiresMs).toISOString() };
  }

  async grantApproval(vault: Vault, tokens: () => TokenManager, id: string, name: string, cred: GivenCredential): Promise<ApprovalInfo> {
    const a = this.#approvals.get(id);
    const now = Date.parse(vault.now());
    if (!a) throw new KeyholdError('APPROVAL_INVALID', 'approval: no such approval request (it was used, dropped at lock, or never asked for)', 'Ask for the approval again.');
    if (a.expiresMs <= now) {
      this.#approvals.delete(id);
      throw new KeyholdError('APPROVAL_INVALID', 'approval: the request expired', 'Ask for the approval again.');
    }
    if (a.approvedBy !== null) throw new KeyholdError('APPROVAL_INVALID', `approval: already approved by ${a.approvedBy}`, 'Run the command: the approval is waiting.');
    if (name === a.requestedBy) {
      throw new KeyholdError('APPROVAL_INVALID', `approval: ${name} asked for this action and cannot approve it too`,
        'Another operator (a custodian or security officer) must approve.');
    }
    const row = getOperator(vault, name);
    if (!rolesOf(row).some((r) => APPROVER_ROLES.includes(r))) {
      throw new KeyholdError('APPROVAL_INVALID', `approval: ${name} is not a custodian or security officer and cannot approve`,
        'Another operator (a custodian or security officer) must approve.');
    }
    await this.#authenticate(vault, tokens, row, cred, 'approve an action');
    a.approvedBy = name;
    return this.#approvalInfo(a);
  }

  // ---- sign-in ------------------------------------------------------------

  async #authenticate(vault: Vault, tokens: () => TokenManager, row: OperatorRow, cred: GivenCredential, why: string): Promise<void> {
    let ok: boolean;
    if (row.credential === 'none') {
      throw new KeyholdError('OPERATOR_NO_CREDENTIAL', `operator: ${row.name} has no credential yet`,
        `${row.name} sets one once signed in (\`keyhold operator set-credential\`), in a session where it is the only operator or signed in.`);
    } else if (row.credential === 'passphrase') {
      if (cred.passphrase === undefined) {
        throw new KeyholdError('INVALID_INPUT', `operator: ${row.name} signs in with a passphrase and none was given`);
      }
      ok = await passphraseMatches(vault, row, cred.passphrase);
    } else {
      ok = await tokenProves(vault, tokens(), row, cred.pins, cred.allowFinalTry, `${why} as operator ${row.name}`);
    }
    if (!ok) {
      throw new KeyholdError('OPERATOR_AUTH_FAILED', row.credential === 'passphrase'
        ? `operator: wrong passphrase for ${row.name}`
        : `operator: the token's signature of the challenge does not verify against the key registered for ${row.name}`,
      'Nothing was changed.');
    }
  }

  async signIn(vault: Vault, tokens: () => TokenManager, name: string, cred: GivenCredential): Promise<OperatorInfo> {
    const row = getOperator(vault, name);
    await this.#authenticate(vault, tokens, row, cred, 'sign in');
    if (this.#signedIn !== name) this.#approvals.clear();
    this.#signIn(vault, name);
    return operatorInfo(row);
  }

  signOut(vault: Vault | null): { signedOut: true } {
    this.#signedIn = null;
    this.#approvals.clear();
    vault?.actAs(null);
    return { signedOut: true };
  }

  whoami(vault: Vault | null): CommandOutput<'operator.whoami'> {
    if (!vault) return { operator: null, operators: [], signInRequired: false, signIn: [] };
    const rows = listOperators(vault);
    const row = this.#signedIn === null ? null : rows.find((r) => r.name === this.#signedIn) ?? null;
    const signIn = rows.map((r) => {
      const info = operatorInfo(r);
      return { name: r.name, credential: r.credential, token: info.token ? { label: info.token.label, serial: info.token.serial } : null };
    });
    return { operator: row ? operatorInfo(row) : null, operators: rows.map((r) => r.name), signInRequired: row === null && rows.length >= 2, signIn };
  }

  // ---- managing operators -------------------------------------------------

  list(vault: Vault): OperatorInfo[] {
    return listOperators(vault).map(operatorInfo);
  }

  async #credential(vault: Vault, tokens: () => TokenManager, name: string, c: { passphrase?: string | undefined; token?: string | undefined; keyLabel?: string | undefined },
    kdf: KdfParams, what: string): Promise<NewCredential & { kid?: string }> {
    if (c.passphrase !== undefined) {
      await requireStrongPassphrase(c.passphrase, what, 'the passphrase');
      return passphraseCredential(vault, name, c.passphrase, kdf);
    }
    const cred = await tokenCredential(tokens(), c.token as string, c.keyLabel as string);
    const other = listOperators(vault).find((r) => r.name !== name && r.credential === 'token' && (JSON.parse(r.params) as TokenParams).kid === cred.kid);
    if (other) {
      throw new KeyholdError('OPERATOR_EXISTS', `operator: the token key ${cred.kid} is already the credential of ${other.name}`,
        'Each operator signs in with a key of its own: make one with `keyhold token keygen`.');
    }
    return cred;
  }

  async add(vault: Vault, tokens: () => TokenManager, a: CommandArgs<'operator.add'>, defaultKdf: KdfParams): Promise<OperatorInfo> {
    const rows = listOperators(vault);
    if (rows.some((r) => r.name === a.name)) {
      throw new KeyholdError('OPERATOR_EXISTS', `operator: ${a.name} already exists`, 'See `keyhold operator list`.');
    }
    const bare = rows.filter((r) => r.credential === 'none');
    if (bare.length > 0) {
      throw new KeyholdError('OPERATOR_NO_CREDENTIAL',
        `operator: ${bare.map((r) => r.name).join(', ')} has no credential yet; no second operator is added until it has one`,
        'Set it first with `keyhold operator set-credential` (signed in as that operator), so that no one is locked out once sign-in is required.');
    }
    const cred = await this.#credential(vault, tokens, a.name, a, vaultKdf(vault, defaultKdf), 'operator add');
    const roles = sortRoles(a.roles);
    const row = { name: a.name, roles: JSON.stringify(roles), credential: cred.credential, params: cred.params, verifier: cred.verifier,
      created_at: vault.now(), row_version: 1 };
    vault.transaction(() => {
      insertOperator(vault, row);
      vault.audit({ action: 'operator.add', subject: `operator:${a.name}`, details: { roles, credential: cred.credential, kid: cred.kid } });
    });
    return operatorInfo({ ...row, mac: Buffer.alloc(0) });
  }

  /**
   * The first operator of a new vault, made before the vault (the Argon2id
   * work is async): a seed for Vault.create that writes it in the creation's
   * transaction, recorded in the vault.create entry (whose actor it is).
   */
  async firstOperator(name: string, passphrase: string, kdf: KdfParams): Promise<(tx: CreationTx) => Record<string, unknown>> {
    const d = await derivePassphrase(passphrase, kdf);
    return (tx) => seedFirstOperator(tx, name, d.params, d.verifierHex);
  }

  #securityOfficers(rows: readonly OperatorRow[]): string[] {
    return rows.filter((r) => rolesOf(r).includes('security-officer')).map((r) => r.name);
  }

  remove(vault: Vault, name: string): { removed: string; operators: number } {
    const rows = listOperators(vault);
    const row = rows.find((r) => r.name === name) ?? getOperator(vault, name);
    const officers = this.#securityOfficers(rows);
    if (officers.length === 1 && officers[0] === name) {
      throw new KeyholdError('LAST_SECURITY_OFFICER', `operator: ${name} is the last security officer and cannot be removed`,
        'Grant the security officer role to another operator first.');
    }
    vault.transaction(() => {
      deleteOperator(vault, name);
      vault.audit({ action: 'operator.remove', subject: `operator:${name}`, details: { roles: rolesOf(row) } });
    });
    if (this.#signedIn === name) this.signOut(vault);
    return { removed: name, operators: rows.length - 1 };
  }

  grant(vault: Vault, name: string, roles: readonly Role[]): OperatorInfo {
    const row = getOperator(vault, name);
    const before = rolesOf(row);
    const after = sortRoles([...before, ...roles]);
    const next = vault.transaction(() => {
      const r = updateOperator(vault, row, { roles: JSON.stringify(after) });
      vault.audit({ action: 'operator.grant', subject: `operator:${name}`, details: { granted: sortRoles(roles), before, after } });
      return r;
    });
    return operatorInfo(next);
  }

  revoke(vault: Vault, name: string, roles: readonly Role[]): OperatorInfo {
    const rows = listOperators(vault);
    const row = rows.find((r) => r.name === name) ?? getOperator(vault, name);
    const before = rolesOf(row);
    const after = before.filter((r) => !roles.includes(r));
    if (after.length === 0) {
      throw new KeyholdError('INVALID_INPUT', `operator revoke: ${name} would hold no role`, 'Remove the operator instead (`keyhold operator remove`).');
    }
    const officers = this.#securityOfficers(rows);
    if (roles.includes('security-officer') && officers.length === 1 && officers[0] === name) {
      throw new KeyholdError('LAST_SECURITY_OFFICER', `operator: ${name} is the last security officer and cannot lose that role`,
        'Grant the security officer role to another operator first.');
    }
    const next = vault.transaction(() => {
      const r = updateOperator(vault, row, { roles: JSON.stringify(after) });
      vault.audit({ action: 'operator.revoke', subject: `operator:${name}`, details: { revoked: sortRoles(roles), before, after } });
      return r;
    });
    return operatorInfo(next);
  }

  async setCredential(vault: Vault, tokens: () => TokenManager, a: CommandArgs<'operator.setCredential'>, defaultKdf: KdfParams): Promise<OperatorInfo> {
    const op = this.current(vault);
    const row = op ? findOperator(vault, op.name) : null;
    if (!row) throw new KeyholdError('OPERATOR_REQUIRED', 'operator: setting a credential needs a signed-in operator', 'Sign in first.');
    const cred = await this.#credential(vault, tokens, row.name, a, vaultKdf(vault, defaultKdf), 'operator set-credential');
    const next = vault.transaction(() => {
      const r = updateOperator(vault, row, { credential: cred.credential, params: cred.params, verifier: cred.verifier });
      vault.audit({ action: 'operator.setCredential', subject: `operator:${row.name}`, details: { before: row.credential, credential: cred.credential, kid: cred.kid } });
      return r;
    });
    return operatorInfo(next);
  }
}

function keyLabel(vault: Vault, ref: string): string {
  try {
    const k = getKey(vault, resolveKeyRef(vault, ref));
    return `${k.service}/${k.environment}/${k.name} (${k.id})`;
  } catch {
    return ref;
  }
}
