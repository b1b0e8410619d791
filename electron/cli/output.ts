/**
 * Printing for the CLI: JSON on stdout with --json, readable text otherwise.
 * In text, every string that comes from the vault, a token or the operator
 * goes through `esc` (shared/text.ts escapeText): a newline, a C1 control or a
 * bidi override in a name from an older vault or a token's label is shown
 * as `\n` or `\u{9b}`, never acted on. Tables escape their cells themselves.
 */

import type {
  AuditEntry,
  AuditVerifyReport,
  DueKey,
  EffectivePolicy,
  KeyDetail,
  KeySummary,
  BundleExportReport,
  KeyslotInfo,
  RecipientInfo,
  SignerInfo,
  TokenInfo,
  TokenKeyInfo,
  VaultInfo,
} from '../../shared/contract.js';
import { formatDuration } from '../../shared/duration.js';
import { type ErrorInfo } from '../../shared/errors.js';
import { escapeText } from '../../shared/text.js';

/** A string as text output shows it (controls and format characters escaped). */
export const esc = (s: string): string => escapeText(s);

/**
 * A --json result or error on stdout (docs/cli.md 4): always one JSON object,
 * indented with two spaces, then a newline.
 */
export function printJson(value: Readonly<Record<string, unknown>>): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** An error: with --json also `{"error": {code, message, hint?}}` on stdout, printed like a result. */
export function printError(err: ErrorInfo, json: boolean): void {
  if (json) printJson({ error: err });
  process.stderr.write(`keyhold: ${esc(err.message)}\n`);
  if (err.hint) process.stderr.write(`  hint: ${esc(err.hint)}\n`);
}

export function table(headers: readonly string[], cellRows: readonly (readonly string[])[]): string {
  const rows = cellRows.map((r) => r.map(esc));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

function slotParams(s: KeyslotInfo): string {
  return Object.entries(s.params).map(([k, v]) => `${k}=${String(v)}`).join(' ');
}

export function formatSlots(slots: readonly KeyslotInfo[]): string {
  return table(['ID', 'TYPE', 'LABEL', 'CREATED', 'PARAMETERS'],
    slots.map((s) => [String(s.id), s.type, s.label, s.createdAt, slotParams(s)]));
}

export function formatInfo(i: VaultInfo): string {
  return [
    `vault      ${esc(i.vaultId)}`,
    `path       ${esc(i.path)}`,
    `schema     ${i.schemaVersion}`,
    `created    ${esc(i.createdAt)}`,
    `keys       ${i.counts.keys} (${i.counts.keyVersions} versions)`,
    '',
    formatSlots(i.keyslots),
  ].join('\n');
}

export function formatKeys(keys: readonly KeySummary[]): string {
  if (keys.length === 0) return 'No keys. Create one with `keyhold key create --name NAME --service SERVICE`.';
  return table(['ID', 'NAME', 'SERVICE', 'ENV', 'STATE', 'VER', 'SCOPES'],
    keys.map((k) => [k.id, k.name, k.service, k.environment, k.state, String(k.currentVersion), k.scopes.join(',')]));
}

export function formatKey(k: KeyDetail): string {
  const head = [
    `id           ${esc(k.id)}`,
    `name         ${esc(k.name)}`,
    `service      ${esc(k.service)}`,
    `environment  ${esc(k.environment)}`,
    `scopes       ${esc(k.scopes.join(', ')) || '(none)'}`,
    `owner        ${esc(k.owner) || '(none)'}`,
    `state        ${k.state} (version ${k.currentVersion})`,
    `created      ${esc(k.createdAt)}`,
    `updated      ${esc(k.updatedAt)}`,
  ];
  // Notes may hold newlines: shown escaped on the one line, so no note can pass for a field.
  if (k.notes) head.push(`notes        ${esc(k.notes)}`);
  head.push(`due          ${k.due.status}${k.due.rotateAt ? ` (rotate by ${k.due.rotateAt})` : ''}`);
  head.push(`policy       ${policyLine(k.policy)}`);
  return [...head, '', table(['VERSION', 'STATE', 'ACTIVATED', 'NOT AFTER', 'GRACE UNTIL', 'REVOKED'],
    k.versions.map((v) => [String(v.version), v.state, v.activatedAt ?? '-', v.notAfter ?? '-', v.graceUntil ?? '-',
      v.revokedAt ? `${v.revokedAt} (${v.revokeReason ?? '?'})` : '-']))].join('\n');
}

function policyLine(p: EffectivePolicy): string {
  return `rotate every ${formatDuration(p.rotation)}, grace ${formatDuration(p.grace)}, warn ${formatDuration(p.warn)} ahead, ` +
    `lifetime ${formatDuration(p.lifetime)}`;
}

export function formatPolicy(p: EffectivePolicy): string {
  return table(['FIELD', 'VALUE', 'FROM'], (['rotation', 'grace', 'warn', 'lifetime'] as const).map((f) =>
    [f, formatDuration(p[f]), p.sources[f]]));
}

export function formatDue(keys: readonly DueKey[]): string {
  if (keys.length === 0) return 'Nothing is due.';
  return table(['STATUS', 'ROTATE BY', 'ID', 'NAME', 'SERVICE', 'ENV', 'VER'],
    keys.map((k) => [k.status, k.rotateAt ?? '-', k.id, k.name, k.service, k.environment, String(k.currentVersion)]));
}

export function formatAudit(r: { entries: readonly AuditEntry[]; next: number | null }): string {
  if (r.entries.length === 0) return 'No entries.';
  const t = table(['SEQ', 'AT', 'ACTOR', 'ACTION', 'SUBJECT', 'DETAILS'],
    r.entries.map((e) => [String(e.seq), e.at, e.actor, e.action, e.subject, JSON.stringify(e.details)]));
  return r.next === null ? t : `${t}\n(more: --after ${r.next})`;
}

export function formatVerify(r: AuditVerifyReport): string {
  return r.ok
    ? `Audit log verified: ${r.entries} entries, head ${r.head.seq} ${r.head.hash} (${r.tookMs.toFixed(0)} ms).`
    : `AUDIT LOG BROKEN at entry ${r.firstBroken?.seq ?? '?'}: ${esc(r.firstBroken?.reason ?? '')}\n(${r.entries} entries read, head ${r.head.seq})`;
}

/** A one-line progress bar redrawn in place on a terminal. */
export function progressBar(stream: NodeJS.WriteStream): (label: string, done: number, total: number) => void {
  return function draw(label, done, total) {
    const width = 30;
    const filled = total === 0 ? width : Math.round((done / total) * width);
    stream.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total}`);
    if (done >= total) stream.write('\n');
  };
}

function pinState(t: TokenInfo): string {
  // An empty slot (an uninitialised token) has no PIN, so no PIN state.
  if (t.empty || t.pin === null) return '-';
  if (t.pin.locked) return 'LOCKED';
  if (t.pin.finalTry) return 'final try';
  if (t.pin.countLow) return 'count low';
  return 'ok';
}

export function formatTokens(tokens: readonly TokenInfo[]): string {
  if (tokens.length === 0) return 'No token present. Insert one, or name its module with --module.';
  return table(['LABEL', 'SERIAL', 'MANUFACTURER', 'MODEL', 'PIN', 'MECHANISMS'],
    tokens.map((t) => [t.empty ? '(empty slot)' : t.label, t.empty ? '-' : t.serial, t.manufacturer, t.model, pinState(t), t.mechanisms.join(',')]));
}

export function formatTokenKeys(list: readonly { token: TokenInfo; keys: readonly TokenKeyInfo[] }[]): string {
  return list.map(({ token, keys }) => {
    const head = `${esc(token.label)} (serial ${esc(token.serial)})`;
    if (keys.length === 0) return `${head}\n  no keys`;
    const use = (k: TokenKeyInfo) => [k.canSign ? 'sign' : '', k.canDerive ? 'derive' : ''].filter(Boolean).join(',') || (k.hasPrivateKey ? '-' : 'public');
    const note = keys.some((k) => k.hasPrivateKey) ? '' : '\n  (tokens hide private keys until login: add --login to see them and their use)';
    return `${head}\n${table(['LABEL', 'ID', 'TYPE', 'ALG', 'USE', 'KID'],
      keys.map((k) => [k.label, k.id, k.keyType, k.alg ?? '-', use(k), k.kid ?? '-']))}${note}`;
  }).join('\n\n');
}

export function formatRecipients(list: readonly RecipientInfo[]): string {
  if (list.length === 0) return 'No recipients. Add one with `keyhold recipient add`.';
  return table(['NAME', 'ID', 'VERIFIES', 'HOLDS', 'LAST BUNDLE'],
    list.map((r) => [r.name, r.id, r.verifies.join(',') || '-', r.holds.join(',') || '-', r.sequence === 0 ? 'none' : String(r.sequence)]));
}

export function formatSigners(v: { threshold: number; signers: readonly SignerInfo[] }): string {
  if (v.signers.length === 0) return 'No signers. Register a token key with `keyhold signer add`.';
  const tokens = new Set(v.signers.map((s) => s.serial)).size;
  const on = tokens === v.signers.length ? '' : ` (on ${tokens} token${tokens === 1 ? '' : 's'}: keys on one token count once)`;
  return `threshold ${v.threshold} of ${v.signers.length} signers${on}\n${table(['KID', 'ALG', 'TOKEN', 'SERIAL', 'KEY'],
    v.signers.map((s) => [s.kid, s.alg, s.token, s.serial, s.keyLabel]))}`;
}

export function formatBundleExport(b: BundleExportReport): string {
  const lines = [
    `Wrote bundle ${b.sequence} for ${esc(b.recipient)} to ${esc(b.path)} (${b.bytes} bytes, ${b.tookMs.toFixed(0)} ms)`,
    `  ${b.issued} issued, ${b.revoked} revoked, ${b.secrets} secret(s); expires ${b.expiresAt}`,
    `  payload sha256 ${b.hash}`,
    `  signed by ${b.signatures.length} of ${b.threshold} needed: ${b.signatures.join(', ')}`,
  ];
  if (b.signatures.length < b.threshold) {
    lines.push(`  needs ${b.threshold - b.signatures.length} more signature(s): run \`keyhold bundle sign ${esc(b.path)}\` with another signer's token`);
  }
  return lines.join('\n');
}
