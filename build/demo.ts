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
import { DEFAULT_PIN, setupSoftHsm } from '../test/helpers/softhsm.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'electron/cli/keyhold.mjs');
const IMPORTER = path.join(ROOT, 'importer/bin/keyhold-import.mjs');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyhold-demo-'));
const vault = path.join(dir, 'vault.db');
// A SoftHSM2 token in the demo's own folder stands in for the custodians' smartcards.
const hsm = setupSoftHsm([{ label: 'custodian-1' }]);
const server = path.join(dir, 'server');
const usb = path.join(dir, 'usb-stick');
fs.mkdirSync(server);
fs.mkdirSync(usb);
// Demo passphrases and PIN: made up here, shown as variables, never printed.
const env = {
  ...process.env, ...hsm.env, KEYHOLD_VAULT: vault, KEYHOLD_PASSPHRASE: 'demo passphrase one', KEYHOLD_OPERATOR: 'demo-custodian',
  KEYHOLD_PKCS11_MODULE: hsm.module, KEYHOLD_PIN: DEFAULT_PIN,
};
let step = 0;

function say(title: string): void {
  step++;
  process.stdout.write(`\n\x1b[1m${step}. ${title}\x1b[0m\n`);
}

/** A key in demo output (logs, screenshots) shows its id and four characters, never its secret. */
function mask(text: string): string {
  return text.replace(/(khk_[0-9A-Za-z]{16}_[0-9A-Za-z]{4})[0-9A-Za-z]{45}/g, '$1…(masked)');
}

/** What a command printed, as a terminal shows it: its notices (stderr) come as they happen, before the result. */
function show(r: { stdout: string; stderr: string }): void {
  const shown = mask(r.stderr + r.stdout).trimEnd();
  if (shown) process.stdout.write(`${shown.replace(/^/gm, '  ')}\n`);
}

function keyhold(args: string[], extraEnv: Record<string, string> = {}, expectCode = 0): string {
  process.stdout.write(`$ keyhold ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', cwd: ROOT });
  show(r);
  if (r.status !== expectCode) {
    throw new Error(`demo: keyhold ${args[0] ?? ''} exited ${String(r.status)}, expected ${expectCode}`);
  }
  return r.stdout;
}

/** The importer, as the stand-in server runs it (in its own folder, no vault, no token). */
function importer(args: string[], expectCode = 0): string {
  // A key given on the command line (check) is shown masked too.
  process.stdout.write(`server$ keyhold-import ${mask(args.join(' '))}\n`);
  const r = spawnSync(process.execPath, [IMPORTER, ...args], { env: process.env, encoding: 'utf8', cwd: server });
  show(r);
  if (r.status !== expectCode) throw new Error(`demo: keyhold-import ${args[0] ?? ''} exited ${String(r.status)}, expected ${expectCode}`);
  return r.stdout;
}

/** Carries a file across the air gap (here: a copy through a folder standing in for a USB stick). */
function carry(file: string): string {
  const onStick = path.join(usb, path.basename(file));
  fs.copyFileSync(file, onStick);
  const onServer = path.join(server, path.basename(file));
  fs.copyFileSync(onStick, onServer);
  process.stdout.write(`  (carried ${path.basename(file)} to the server on removable media)\n`);
  return path.basename(file);
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

  say('The custodian\'s token (SoftHSM2 standing in for a smartcard): list it, make a signing key on it');
  keyhold(['token', 'list']);
  keyhold(['token', 'keygen', '--token', 'custodian-1', '--label', 'bundle-signer', '--alg', 'ES256']);

  say('Let the token unlock the vault too (ECDH on the card), then unlock with the token and its PIN');
  keyhold(['slot', 'add-token', '--token', 'custodian-1', '--label', 'vault-unlock']);
  keyhold(['--unlock', 'token', 'slot', 'list']);

  say('A wrong PIN spends one of the card\'s few tries: shown on a throwaway practice token, never on the custodian\'s card');
  // A second SoftHSM2 token, made for this step and deleted after it.
  hsm.addToken({ label: 'practice-card', pin: '246810' });
  process.stdout.write('  (a throwaway token, practice-card, is inserted)\n');
  keyhold(['token', 'keys', '--token', 'practice-card', '--login'], { KEYHOLD_PIN: '000000' }, 3);
  keyhold(['token', 'list']);
  process.stdout.write('  (practice-card now reports a low count of tries; custodian-1 was never tried and still reports ok)\n');
  process.stdout.write('  (with two tokens present, a PIN given in KEYHOLD_PIN is for one of them: naming none is refused before any login)\n');
  keyhold(['token', 'keys', '--login'], {}, 2);
  hsm.deleteToken('practice-card');
  process.stdout.write('  (the practice token is removed)\n');

  say('The server makes its own key pair; its public key comes to the vault');
  importer(['keygen', '--crv', 'P-256', '--out', 'server.jwk', '--public-out', 'server.pub.jwk']);
  carry(path.join(server, 'server.pub.jwk'));

  say('Register the token key as signer and the server as recipient (verifies payments and telemetry, holds telemetry)');
  keyhold(['signer', 'add', '--token', 'custodian-1', '--key', 'bundle-signer']);
  keyhold(['recipient', 'add', '--name', 'api-gateway', '--public-key', path.join(server, 'server.pub.jwk'),
    '--verifies', 'payments,telemetry', '--holds', 'telemetry']);

  say('Open the ceremony: its purpose and who is present go into the audit log');
  keyhold(['ceremony', 'start', '--purpose', 'Quarterly rotation (demo)', '--present', 'demo-custodian', 'Wendy Witness']);

  say('Export the trust root and the first bundle, signed on the token');
  keyhold(['trust', 'export', '--out', path.join(dir, 'root.json')]);
  keyhold(['bundle', 'export', '--recipient', 'api-gateway', '--out', path.join(dir, 'bundle-1.json')]);

  say('On the server: verify and apply it (no Electron, no native module)');
  carry(path.join(dir, 'root.json'));
  importer(['verify', '--trust', 'root.json', carry(path.join(dir, 'bundle-1.json'))]);
  importer(['apply', '--trust', 'root.json', '--key', 'server.jwk', '--state', 'state', 'bundle-1.json']);
  const leaked = (JSON.parse(keyhold(['--json', 'key', 'reveal', created[2]!.id])) as { secret: string }).secret;
  process.stdout.write('  (the ingest key is presented to the gateway)\n');
  importer(['check', '--state', 'state', leaked]);

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

  say('Carry the rotation to the server: the new version is issued, the old one ends with its grace window');
  keyhold(['bundle', 'export', '--recipient', 'api-gateway', '--out', path.join(dir, 'bundle-2.json')]);
  importer(['apply', '--trust', 'root.json', '--key', 'server.jwk', '--state', 'state', carry(path.join(dir, 'bundle-2.json'))]);

  say('Incident: a key leaked. Revoke it now, carry a revocation-only bundle, and the server refuses the key');
  keyhold(['key', 'revoke', created[2]!.id, '--reason', 'compromised', '--yes']);
  keyhold(['bundle', 'export', '--recipient', 'api-gateway', '--revocations-only', '--out', path.join(dir, 'bundle-3.json')]);
  importer(['apply', '--trust', 'root.json', '--key', 'server.jwk', '--state', 'state', carry(path.join(dir, 'bundle-3.json'))]);
  importer(['check', '--state', 'state', leaked], 1);
  process.stdout.write('  (a replayed bundle changes nothing)\n');
  importer(['apply', '--trust', 'root.json', '--key', 'server.jwk', '--state', 'state', 'bundle-2.json'], 1);
  keyhold(['key', 'destroy', created[2]!.id, '--yes']);

  say('The same revocation can leave the machine as QR codes instead of a file (no removable media)');
  keyhold(['key', 'revoke', created[1]!.id, '--reason', 'superseded', '--yes']);
  const codes = path.join(dir, 'qr');
  fs.mkdirSync(codes);
  keyhold(['bundle', 'export', '--recipient', 'api-gateway', '--revocations-only', '--qr', codes]);
  // The server's camera: zbarimg reads each code back (poppler/zbar come from build/system-deps.sh).
  const texts = fs.readdirSync(codes).filter((f) => f.endsWith('.png')).sort().map((f) => {
    const r = spawnSync('zbarimg', ['--raw', '-q', path.join(codes, f)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`demo: zbarimg could not read ${f}`);
    return r.stdout.trim();
  });
  fs.writeFileSync(path.join(server, 'scanned.txt'), `${texts.join('\n')}\n`);
  process.stdout.write(`  (the server scanned ${texts.length} code(s) with zbarimg into scanned.txt)\n`);
  importer(['apply', '--trust', 'root.json', '--key', 'server.jwk', '--state', 'state', '--qr-text', 'scanned.txt']);

  say('Close the ceremony: the audit head is signed on the token; the transcript lists every step for the witnesses');
  keyhold(['ceremony', 'end']);
  const transcript = path.join(dir, 'ceremony.pdf');
  keyhold(['ceremony', 'transcript', '--out', transcript]);
  const text = spawnSync('pdftotext', ['-layout', transcript, '-'], { encoding: 'utf8' });
  if (text.status === 0) {
    const lines = text.stdout.split('\n').filter((l) => l.trim() !== '');
    process.stdout.write(`  (pdftotext, first lines of ${lines.length}:)\n${lines.slice(0, 12).map((l) => `    ${l.trimEnd()}`).join('\n')}\n`);
  }

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

  say('An encrypted backup of the whole vault, restored to a second file: the same keyslots open it');
  const backup = path.join(usb, 'vault.khbackup');
  keyhold(['backup', '--out', backup]);
  const restored = path.join(dir, 'restored.db');
  keyhold(['restore', backup, '--vault', restored]);
  keyhold(['--vault', restored, 'audit', 'verify']);

  say('A 2-of-3 quorum keyslot: any two custodians together unlock, one alone cannot');
  const shareFiles: Record<string, string> = {};
  for (const [name, pass] of [['ana', 'ana quorum words one'], ['ben', 'ben quorum words two'], ['cleo', 'cleo quorum words three']] as const) {
    shareFiles[name] = path.join(dir, `${name}.pass`);
    fs.writeFileSync(shareFiles[name], pass, { mode: 0o600 });
  }
  keyhold(['slot', 'add-quorum', '--m', '2', '--custodian', 'ana', '--custodian', 'ben', '--custodian', 'cleo',
    ...Object.entries(shareFiles).flatMap(([n, f]) => ['--custodian-passphrase-file', `${n}=${f}`])]);
  keyhold(['--unlock', 'quorum', '--share', `ana=${shareFiles.ana!}`, 'info'], {}, 3);
  keyhold(['--unlock', 'quorum', '--share', `ben=${shareFiles.ben!}`, '--share', `cleo=${shareFiles.cleo!}`, 'slot', 'list']);

  say('A second operator: from now on each person signs in as themself, and exports need a second pair of eyes');
  keyhold(['operator', 'add', 'olga', '--roles', 'custodian,auditor'], { KEYHOLD_NEW_OPERATOR_PASSPHRASE: 'olga approves with care' });
  // The first operator's credential is the passphrase the vault was created with.
  const me = { KEYHOLD_OPERATOR_PASSPHRASE: 'demo passphrase one' };
  keyhold(['operator', 'list'], me);
  keyhold(['key', 'rotate', created[0]!.id], me);
  keyhold(['bundle', 'export', '--recipient', 'api-gateway', '--out', path.join(dir, 'bundle-4.json')], me, 7);
  keyhold(['bundle', 'export', '--recipient', 'api-gateway', '--out', path.join(dir, 'bundle-4.json'), '--approver', 'olga'],
    { ...me, KEYHOLD_APPROVER_PASSPHRASE: 'olga approves with care' });
  keyhold(['--as', 'olga', 'key', 'reveal', created[0]!.id], { KEYHOLD_OPERATOR_PASSPHRASE: 'olga approves with care' }, 3);

  say('Every step is in the hash-chained audit log; verify it and export it for archival');
  keyhold(['audit', 'list', '--limit', '8'], me);
  keyhold(['audit', 'verify'], me);
  const exported = path.join(dir, 'audit.jsonl');
  keyhold(['audit', 'export', '--out', exported], me);
  keyhold(['audit', 'verify', '--file', exported]);

  say('Vault summary');
  keyhold(['info'], me);

  process.stdout.write('\nDemo complete.\n');
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
  hsm.cleanup();
}
