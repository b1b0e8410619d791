/**
 * `npm run demo`: a key ceremony on an embedded default, in a temporary
 * folder, through the real `keyhold` command, printing each step as an
 * operator would type it. It grows as capabilities land.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseApiKey } from '../shared/apikey.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'electron/cli/keyhold.mjs');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyhold-demo-'));
const vault = path.join(dir, 'vault.db');
// Demo passphrases: made up here, shown as variables, never printed.
const env = { ...process.env, KEYHOLD_VAULT: vault, KEYHOLD_PASSPHRASE: 'demo passphrase one', KEYHOLD_OPERATOR: 'demo-custodian' };
let step = 0;

function say(title: string): void {
  step++;
  process.stdout.write(`\n\x1b[1m${step}. ${title}\x1b[0m\n`);
}

function keyhold(args: string[], extraEnv: Record<string, string> = {}, expectCode = 0): string {
  process.stdout.write(`$ keyhold ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', cwd: ROOT });
  // A revealed secret is shown masked: demo output lands in logs and screenshots.
  const shown = (r.stdout + r.stderr).trimEnd().replace(/(khk_[0-9A-Za-z]{16}_[0-9A-Za-z]{4})[0-9A-Za-z]{45}/g, '$1…(masked)');
  if (shown) process.stdout.write(`${shown.replace(/^/gm, '  ')}\n`);
  if (r.status !== expectCode) {
    throw new Error(`demo: keyhold ${args[0] ?? ''} exited ${String(r.status)}, expected ${expectCode}`);
  }
  return r.stdout;
}

try {
  process.stdout.write(`Keyhold demo in ${dir}\n(KEYHOLD_VAULT and KEYHOLD_PASSPHRASE are set for the session; nothing is echoed)\n`);

  say('Create the vault (Argon2id calibrated to this machine)');
  keyhold(['init']);

  say('Create API keys, each with only the scopes it needs');
  const created = [
    ['checkout-gateway', 'payments', 'production', 'charges:write,refunds:write'],
    ['reporting', 'payments', 'production', 'charges:read'],
    ['ingest', 'telemetry', 'staging', 'events:write'],
  ].map(([name, service, envName, scopes]) =>
    JSON.parse(keyhold(['--json', 'key', 'create', '--name', name!, '--service', service!, '--env', envName!,
      '--scopes', scopes!, '--owner', 'platform-team'])) as { id: string });

  say('List the keys');
  keyhold(['key', 'list']);

  say("Show one key's metadata and versions");
  keyhold(['key', 'show', created[0]!.id]);

  say('Reveal a key for its holder, and check its checksum offline');
  const secret = JSON.parse(keyhold(['--json', 'key', 'reveal', created[1]!.id])) as { secret: string };
  const parsed = parseApiKey(secret.secret);
  process.stdout.write(`  checksum valid; key id ${parsed.keyId} matches: ${String(parsed.keyId === created[1]!.id)}\n`);
  const typo = secret.secret.slice(0, 30) + (secret.secret[30] === 'a' ? 'b' : 'a') + secret.secret.slice(31);
  try {
    parseApiKey(typo);
  } catch (e) {
    process.stdout.write(`  a one-character typo is refused offline: ${(e as Error).message}\n`);
  }

  say('Set a rotation policy for the payments service (most specific wins)');
  keyhold(['policy', 'set', '--service', 'payments', '--rotation', '30d', '--grace', '3d']);

  say('Rotate a key: the new version is active, the old one accepted during its grace window');
  keyhold(['key', 'rotate', created[0]!.id]);
  keyhold(['key', 'due', '--all']);

  say('Incident: a key leaked. Revoke it now');
  keyhold(['key', 'revoke', created[2]!.id, '--reason', 'compromised']);
  keyhold(['key', 'destroy', created[2]!.id]);

  say('Add a second passphrase keyslot (for a second custodian)');
  keyhold(['slot', 'add-passphrase', '--label', 'custodian-2'], { KEYHOLD_NEW_PASSPHRASE: 'demo passphrase two' });
  keyhold(['slot', 'list']);

  say('A wrong passphrase is refused and changes nothing');
  keyhold(['info'], { KEYHOLD_PASSPHRASE: 'not the passphrase' }, 3);

  say('Rotate the first custodian\'s passphrase');
  keyhold(['passphrase', 'change'], { KEYHOLD_NEW_PASSPHRASE: 'demo passphrase three' });
  env.KEYHOLD_PASSPHRASE = 'demo passphrase three';

  say('An edit made to the file outside Keyhold is detected');
  const copy = path.join(dir, 'tampered.db');
  fs.copyFileSync(vault, copy);
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(copy);
  db.prepare("UPDATE keys SET scopes = '[\"*\"]' WHERE id = ?").run(created[1]!.id);
  db.close();
  process.stdout.write(`  (widened the scopes of key ${created[1]!.id} to "*" in a copy, with plain SQL)\n`);
  keyhold(['--vault', copy, 'key', 'list'], { KEYHOLD_PASSPHRASE: 'demo passphrase two' }, 5);

  say('Every step is in the hash-chained audit log; verify it and export it for archival');
  keyhold(['audit', 'list', '--limit', '8']);
  keyhold(['audit', 'verify']);
  const exported = path.join(dir, 'audit.jsonl');
  keyhold(['audit', 'export', '--out', exported]);
  keyhold(['audit', 'verify', '--file', exported]);

  say('Vault summary');
  keyhold(['info']);

  process.stdout.write('\nDemo complete.\n');
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
