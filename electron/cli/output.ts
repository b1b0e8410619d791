/** Printing for the CLI: JSON on stdout with --json, readable text otherwise. */

import type { KeyDetail, KeySummary, KeyslotInfo, VaultInfo } from '../../shared/contract.js';
import { type ErrorInfo } from '../../shared/errors.js';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printError(err: ErrorInfo, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify({ error: err })}\n`);
  process.stderr.write(`keyhold: ${err.message}\n`);
  if (err.hint) process.stderr.write(`  hint: ${err.hint}\n`);
}

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
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
    `vault      ${i.vaultId}`,
    `path       ${i.path}`,
    `schema     ${i.schemaVersion}`,
    `created    ${i.createdAt}`,
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
    `id           ${k.id}`,
    `name         ${k.name}`,
    `service      ${k.service}`,
    `environment  ${k.environment}`,
    `scopes       ${k.scopes.join(', ') || '(none)'}`,
    `owner        ${k.owner || '(none)'}`,
    `state        ${k.state} (version ${k.currentVersion})`,
    `created      ${k.createdAt}`,
    `updated      ${k.updatedAt}`,
  ];
  if (k.notes) head.push(`notes        ${k.notes.replace(/\n/g, '\n             ')}`);
  return [...head, '', table(['VERSION', 'STATE', 'CREATED', 'ACTIVATED'],
    k.versions.map((v) => [String(v.version), v.state, v.createdAt, v.activatedAt ?? '-']))].join('\n');
}
