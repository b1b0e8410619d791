/**
 * keyhold-import: the command line over the library. node:util parseArgs
 * only (the importer depends on jose and Node, nothing else). Exit codes:
 * 0 ok, 1 rejected (a bundle, a trust root, a key), 2 usage, 70 internal.
 * Nothing printed ever contains a secret: not the bundle's keys, not the
 * private key, not a presented key.
 */

import { parseArgs } from 'node:util';
import { rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  ImportError,
  exitCodeFor,
  isImportError,
  checkNewPath,
  makeDirs,
  READ_LIMITS,
  readFileBounded,
  readTextBounded,
  tooLarge,
  writeNewFileNoClobber,
  generateRecipientKey,
  loadRecipientPrivateKey,
  loadTrustRoot,
  verifyBundle,
  decodeQrParts,
  QR_TEXT_READ,
  DEFAULT_MAX_BUNDLE_BYTES,
  THUMBPRINT_RE,
  type RecipientCurve,
  type TrustRoot,
  type VerifiedBundle,
} from 'keyhold-format';
import { applyBundle, readState, updateTrustRoot, type ApplyResult } from './state.js';
import { checkPresentedKey, loadKeystore } from './keystore.js';

type Out = Readonly<{ out: (s: string) => void; err: (s: string) => void }>;

const HELP: Record<string, string> = {
  main: `keyhold-import: verify and apply Keyhold rotation bundles on a server

Usage: keyhold-import <command> [options]

Commands:
  keygen        make this server's recipient key pair
  verify        check a bundle against a trust root and show what it would apply
  apply         verify a bundle, then apply it to a state directory
  check         is a presented API key valid? (exit 0 yes, 1 no)
  trust show    print a trust root's version, vault, threshold and signers
  trust update  pin a trust root, or rotate the pinned one to version N+1

Run 'keyhold-import <command> --help' for a command's options.
Exit codes: 0 ok, 1 rejected (a bundle, trust root or key, or a file that
cannot be read or written as asked), 2 usage error, 70 internal or I/O error.
Files are read only if they are regular files (links followed), up to a limit
per kind. Format: docs/bundle-format.md.
`,
  keygen: `Usage: keyhold-import keygen [--crv P-256|X25519] --out FILE|DIR/ [--public-out FILE]

Makes the recipient key pair (ECDH-ES+A256KW). The private JWK is written with
mode 0600 and stays on this server; give the public JWK to the vault
(keyhold recipient add --public-key FILE). With --out DIR, writes
DIR/private.jwk and DIR/public.jwk (an existing directory, or any path
ending in '/', created 0700). Nothing is ever overwritten: a file, folder or
symbolic link (even a dangling one) at either path is refused (FILE_EXISTS)
before the key is made. Prints the recipient id (the key's RFC 7638
thumbprint).

  --crv P-256|X25519   curve (default P-256)
  --alg ECDH-ES        accepted for clarity; the only algorithm
  --out FILE|DIR       private key file, or a directory for both files
  --public-out FILE    public key file (default: FILE with .pub.jwk)
`,
  verify: `Usage: keyhold-import verify (--trust ROOT | --state DIR) [--key PRIVATE.jwk | --recipient ID] [--json] BUNDLE
       keyhold-import verify ... --qr-text TEXTFILE... | -

Checks the format, the signatures against the trust root's threshold, the
vault, the recipient (when --key or --recipient is given) and the validity
window; prints what it would apply. Nothing is written; secrets are not
decrypted.

  --trust ROOT       trust root file (default: the one pinned in --state)
  --state DIR        state directory (for its pinned root and last sequence)
  --key FILE         this server's private key (to check the recipient)
  --recipient ID     the expected recipient id
  --qr-text          the bundle comes as the texts of its QR codes (keyhold bundle
                     export --qr): the files named (or standard input, '-') hold
                     one code's text per line, in any order (docs/bundle-format.md 14)
  --max-bytes N      size limit (default ${DEFAULT_MAX_BUNDLE_BYTES})
  --json             machine-readable output
`,
  apply: `Usage: keyhold-import apply --key PRIVATE.jwk --state DIR [--trust ROOT] [--secrets-format json|env] [--json] BUNDLE
       keyhold-import apply ... --qr-text TEXTFILE... | -

Verifies the bundle, checks it continues the applied chain (sequence, previous
hash), decrypts its secrets, and commits atomically: DIR/keystore.json (the
verifiers an API gateway loads), DIR/secrets.json (0600, keys this server
holds), DIR/secrets.env (0600, with --secrets-format env), DIR/state.json and a
receipt in DIR/receipts/. Applying the same bundle again is a no-op.
A held version leaves the secret files once revoked (the earliest revocation
wins); a key whose every held version is revoked is named in the output
("no secret held for ...", --json: withdrawn): this server holds nothing for it.

  --trust ROOT              trust root (needed the first time; a newer version is
                            accepted only as a valid rotation of the pinned one)
  --key FILE                this server's private key
  --state DIR               state directory (created if missing)
  --secrets-format json|env also write an env file (sticky once chosen)
  --qr-text                 the bundle comes as the texts of its QR codes: the
                            files named (or '-', standard input) hold one code's
                            text per line, any order; joined and checked, then
                            verified and applied exactly as a bundle file
  --max-bytes N             size limit (default ${DEFAULT_MAX_BUNDLE_BYTES})
  --json                    machine-readable output
`,
  check: `Usage: keyhold-import check --state DIR [KEY | -]

Checks a presented API key against DIR/keystore.json: format and checksum,
verifier (constant-time compare), revocation and validity. Reads the key from
standard input when KEY is '-' or absent (a key on the command line may end up
in shell history). Exit 0 if valid, 1 if not. Never prints the key.

  --state DIR   state directory (or --keystore FILE)
  --json        machine-readable output
`,
  trust: `Usage: keyhold-import trust show ROOT
       keyhold-import trust update --state DIR ROOT

show:   verifies a trust root's own signatures and prints it.
update: pins ROOT in an empty state directory, or rotates the pinned root to
        ROOT, which must be version N+1 signed by a threshold of version N's
        signers and a threshold of its own.
`,
};

function usage(message: string): never {
  throw new ImportError('USAGE', `usage: ${message}`, "Run 'keyhold-import --help'.");
}

// Every file is read through the one bounded reader: regular files only (links followed), a limit per kind counted while reading.
function readTrustRootFile(path: string): string {
  return readTextBounded(path, READ_LIMITS.trustRoot, 'TRUST_ROOT_INVALID');
}

function readKeyFile(path: string): string {
  return readTextBounded(path, READ_LIMITS.privateKey, 'KEY_INVALID');
}

function readBundle(path: string, maxBytes: number): Buffer {
  return readFileBounded(path, { what: 'bundle', maxBytes, tooLarge: 'BUNDLE_TOO_LARGE', hint: 'Raise the limit (--max-bytes) if the bundle is expected to be this large.' });
}

/**
 * The bundle: one file, or with --qr-text the texts of its QR codes, one per
 * line in the files given ('-': standard input), joined and checked
 * (decodeQrParts) into the very bundle file, then verified as any other.
 */
async function bundleFrom(positionals: readonly string[], qr: boolean | undefined, maxBytes: number, cmd: string): Promise<Buffer> {
  if (qr !== true) {
    if (positionals.length !== 1) usage(`${cmd} takes one BUNDLE file`);
    return readBundle(positionals[0]!, maxBytes);
  }
  if (positionals.length === 0) usage(`${cmd} --qr-text takes the files holding the codes' texts (or '-' for standard input)`);
  const lines: string[] = [];
  for (const f of positionals) {
    const text = f === '-' ? await readStdin(QR_TEXT_READ) : readTextBounded(f, QR_TEXT_READ, 'QR_PART_INVALID');
    lines.push(...text.split(/\r?\n/));
  }
  const bundle = decodeQrParts(lines);
  if (bundle.length > maxBytes) throw new ImportError('BUNDLE_TOO_LARGE', `bundle: the QR codes hold ${bundle.length} bytes, over the limit of ${maxBytes}`);
  return bundle;
}

function maxBytesOf(v: string | undefined): number {
  if (v === undefined) return DEFAULT_MAX_BUNDLE_BYTES;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) usage('--max-bytes must be a positive integer');
  return n;
}

function summary(v: VerifiedBundle): Record<string, unknown> {
  const p = v.payload;
  return {
    bundleId: p.bundleId,
    payloadHash: v.hash,
    vaultId: p.vaultId,
    recipient: p.recipient,
    sequence: p.sequence,
    previous: p.previous,
    issuedAt: p.issuedAt,
    expiresAt: p.expiresAt,
    signers: v.signers,
    issue: p.changes.filter((c) => c.type === 'issue').map((c) => ({ keyId: c.keyId, version: c.version, name: c.type === 'issue' ? c.name : '', service: c.type === 'issue' ? c.service : '' })),
    revoke: p.changes.filter((c) => c.type === 'revoke').map((c) => ({ keyId: c.keyId, version: c.version, reason: c.type === 'revoke' ? c.reason : '' })),
    hasSecrets: p.secrets !== undefined,
    checkpoint: p.checkpoint ?? null,
  };
}

async function cmdKeygen(args: string[], io: Out): Promise<number> {
  const { values } = parseArgs({ args, options: { crv: { type: 'string' }, alg: { type: 'string' }, out: { type: 'string' }, 'public-out': { type: 'string' }, help: { type: 'boolean' }, json: { type: 'boolean' } }, allowPositionals: false, strict: true });
  if (values.help) return help('keygen', io);
  const crv = (values.crv ?? 'P-256') as RecipientCurve;
  if (crv !== 'P-256' && crv !== 'X25519') usage('--crv must be P-256 or X25519');
  if (values.alg !== undefined && values.alg !== 'ECDH-ES' && values.alg !== 'ECDH-ES+A256KW') usage('--alg must be ECDH-ES');
  if (!values.out) usage('keygen needs --out FILE or --out DIR');
  let privPath = values.out;
  let pubPath = values['public-out'];
  let isDir = values.out.endsWith('/');
  if (!isDir) {
    try {
      isDir = statSync(values.out).isDirectory(); // an existing folder, or a link to one
    } catch {
      isDir = false;
    }
  }
  if (isDir) {
    makeDirs(values.out, 0o700, 'keygen');
    privPath = join(values.out, 'private.jwk');
    pubPath ??= join(values.out, 'public.jwk');
  }
  pubPath ??= privPath.replace(/(\.jwk)?$/, '.pub.jwk');
  if (resolve(privPath) === resolve(pubPath)) usage('--out and --public-out name the same file');
  // Both outputs are checked before the key is made: a refusal leaves nothing behind. Nothing is ever overwritten.
  checkNewPath(privPath, 'keygen');
  checkNewPath(pubPath, 'keygen');
  const pair = await generateRecipientKey(crv);
  writeNewFileNoClobber(privPath, `${JSON.stringify(pair.privateJwk, null, 1)}\n`, 0o600, 'keygen');
  try {
    writeNewFileNoClobber(pubPath, `${JSON.stringify(pair.publicJwk, null, 1)}\n`, 0o644, 'keygen');
  } catch (e) {
    // Not half a key pair: the private key just written (by this run) goes too.
    rmSync(privPath, { force: true });
    throw e;
  }
  if (values.json) io.out(`${JSON.stringify({ ok: true, recipientId: pair.recipientId, private: privPath, public: pubPath, crv })}\n`);
  else io.out(`recipient id ${pair.recipientId}\nprivate key  ${privPath} (0600, keep it on this server)\npublic key   ${pubPath} (give it to the vault: keyhold recipient add --public-key)\n`);
  return 0;
}

async function trustFor(trustPath: string | undefined, stateDir: string | undefined): Promise<TrustRoot> {
  if (trustPath) return loadTrustRoot(readTrustRootFile(trustPath));
  if (stateDir) {
    const cur = await readState(stateDir);
    if (cur) return cur.trust;
    throw new ImportError('INVALID_INPUT', `verify: ${stateDir} has no pinned trust root`, 'Give --trust root.json.');
  }
  return usage('give --trust ROOT or --state DIR');
}

/**
 * A recipient id is base64url and starts with '-' one time in 64; parseArgs
 * takes `--recipient -Abc...` for a missing value. A value that is a
 * thumbprint is joined to its option (`--recipient=-Abc...`) first.
 */
function joinIdValues(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (args[i] === '--recipient' && next !== undefined && THUMBPRINT_RE.test(next)) {
      out.push(`--recipient=${next}`);
      i++;
    } else out.push(args[i]!);
  }
  return out;
}

async function cmdVerify(rawArgs: string[], io: Out): Promise<number> {
  const args = joinIdValues(rawArgs);
  const { values, positionals } = parseArgs({ args, options: { trust: { type: 'string' }, state: { type: 'string' }, key: { type: 'string' }, recipient: { type: 'string' }, 'max-bytes': { type: 'string' }, 'qr-text': { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean' } }, allowPositionals: true, strict: true });
  if (values.help) return help('verify', io);
  const maxBytes = maxBytesOf(values['max-bytes']);
  const bundle = await bundleFrom(positionals, values['qr-text'], maxBytes, 'verify');
  const trust = await trustFor(values.trust, values.state);
  let recipient = values.recipient;
  if (values.key) recipient = (await loadRecipientPrivateKey(readKeyFile(values.key))).recipientId;
  const v = await verifyBundle(bundle, trust, recipient === undefined ? { maxBytes } : { maxBytes, recipient });
  let chain = 'not checked (no --state)';
  if (values.state) {
    const cur = await readState(values.state);
    const last = cur?.state.sequence ?? 0;
    chain = v.payload.sequence === last && v.hash === cur?.state.payloadHash ? 'already applied' : v.payload.sequence === last + 1 && v.payload.previous === (cur?.state.payloadHash ?? null) ? 'continues the applied chain' : `does not continue the applied chain (last applied ${last})`;
  }
  const s = summary(v);
  if (values.json) {
    io.out(`${JSON.stringify({ ok: true, trustRootVersion: trust.payload.version, recipientChecked: recipient !== undefined, chain, bundle: s })}\n`);
  } else {
    const p = v.payload;
    io.out(
      [
        `bundle ${p.bundleId} verified (trust root version ${trust.payload.version}, ${v.signers.length} of ${trust.payload.threshold} required signers)`,
        `  payload hash ${v.hash}`,
        `  vault ${p.vaultId}, recipient ${p.recipient}${recipient === undefined ? ' (not checked: give --key or --recipient)' : ''}`,
        `  sequence ${p.sequence}, ${chain}; issued ${p.issuedAt}, expires ${p.expiresAt}`,
        `  would issue ${(s.issue as unknown[]).length} key versions, revoke ${(s.revoke as unknown[]).length}${p.secrets ? ', and install secrets for this server' : ''}`,
        ...p.changes.slice(0, 50).map((c) => (c.type === 'issue' ? `    issue  ${c.keyId} v${c.version} ${c.name} (${c.service}/${c.environment})` : `    revoke ${c.keyId} v${c.version} (${c.reason}, from ${c.effectiveAt})`)),
        ...(p.changes.length > 50 ? [`    ... and ${p.changes.length - 50} more (--json lists all)`] : []),
      ].join('\n') + '\n',
    );
  }
  return 0;
}

async function cmdApply(args: string[], io: Out): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { trust: { type: 'string' }, state: { type: 'string' }, key: { type: 'string' }, 'secrets-format': { type: 'string' }, 'max-bytes': { type: 'string' }, 'qr-text': { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean' } }, allowPositionals: true, strict: true });
  if (values.help) return help('apply', io);
  if (values['qr-text'] !== true && positionals.length !== 1) usage('apply takes one BUNDLE file');
  if (!values.key) usage('apply needs --key PRIVATE.jwk');
  if (!values.state) usage('apply needs --state DIR');
  const fmt = values['secrets-format'];
  if (fmt !== undefined && fmt !== 'json' && fmt !== 'env') usage('--secrets-format must be json or env');
  const maxBytes = maxBytesOf(values['max-bytes']);
  const bundle = await bundleFrom(positionals, values['qr-text'], maxBytes, 'apply');
  const r = await applyBundle(values.state, bundle, {
    privateKey: readKeyFile(values.key),
    maxBytes,
    ...(values.trust ? { trustRootText: readTrustRootFile(values.trust) } : {}),
    ...(fmt ? { secretsFormat: fmt } : {}),
  });
  if (values.json) io.out(`${JSON.stringify({ ok: true, ...r })}\n`);
  else io.out(`${r.message}\n${withdrawnLines(r.withdrawn)}receipt ${r.receiptPath}\n`);
  return 0;
}

/** One line per key the holder no longer holds any secret for (the first 50; --json lists all). */
function withdrawnLines(keys: ApplyResult['withdrawn']): string {
  const lines = keys.slice(0, 50).map((w) => {
    const versions = w.versions.map((v) => `v${v.version} revoked${v.reason ? ` (${v.reason})` : ''} from ${v.effectiveAt}`).join(', ');
    return `  no secret held for ${w.name} (${w.service}/${w.environment}, key ${w.keyId}): ${versions}\n`;
  });
  if (keys.length > 50) lines.push(`  ... and ${keys.length - 50} more (--json lists all)\n`);
  return lines.join('');
}

/** Standard input, up to its limit (a presented key is 70 characters; /dev/zero on stdin is stopped, not read forever). */
async function readStdin(limit: { what: string; maxBytes: number } = READ_LIMITS.stdinKey): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of process.stdin) {
    const b = c as Buffer;
    total += b.length;
    if (total > limit.maxBytes) {
      process.stdin.destroy();
      throw tooLarge(limit, '-');
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8').trim();
}

async function cmdCheck(args: string[], io: Out): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { state: { type: 'string' }, keystore: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } }, allowPositionals: true, strict: true });
  if (values.help) return help('check', io);
  if (positionals.length > 1) usage('check takes at most one KEY');
  const path = values.keystore ?? (values.state ? join(values.state, 'keystore.json') : usage('check needs --state DIR or --keystore FILE'));
  const ks = loadKeystore(path);
  const key = positionals[0] === undefined || positionals[0] === '-' ? await readStdin() : positionals[0];
  const r = checkPresentedKey(ks, key);
  if (values.json) io.out(`${JSON.stringify(r)}\n`);
  else if (r.valid) io.out(`valid: ${r.keyId} v${r.version} ${r.name} (${r.service}/${r.environment})\n`);
  else io.out(`not valid: ${r.reason}${r.keyId ? ` (${r.keyId}${r.version ? ` v${r.version}` : ''})` : ''}\n`);
  return r.valid ? 0 : 1;
}

async function cmdTrust(args: string[], io: Out): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h') return help('trust', io);
  const { values, positionals } = parseArgs({ args: rest, options: { state: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } }, allowPositionals: true, strict: true });
  if (values.help) return help('trust', io);
  if (positionals.length !== 1) usage(`trust ${sub} takes one ROOT file`);
  const text = readTrustRootFile(positionals[0]!);
  if (sub === 'show') {
    const root = await loadTrustRoot(text);
    const p = root.payload;
    if (values.json) io.out(`${JSON.stringify({ ok: true, hash: root.hash, version: p.version, vaultId: p.vaultId, threshold: p.threshold, signers: [...root.signers.keys()], expiresAt: p.expiresAt })}\n`);
    else io.out(`trust root version ${p.version} for vault ${p.vaultId}\n  fingerprint ${root.hash}\n  threshold ${p.threshold} of ${p.signers.length}\n${[...root.signers.keys()].map((k) => `  signer ${k}\n`).join('')}  expires ${p.expiresAt ?? 'never'}\n`);
    return 0;
  }
  if (sub === 'update') {
    if (!values.state) usage('trust update needs --state DIR');
    const r = await updateTrustRoot(values.state, text);
    if (values.json) io.out(`${JSON.stringify({ ok: true, ...r })}\n`);
    else io.out(`trust root version ${r.version} ${r.status} (${r.hash})\n`);
    return 0;
  }
  return usage(`unknown trust command ${JSON.stringify(sub.slice(0, 20))}`);
}

function help(topic: string, io: Out): number {
  io.out(HELP[topic] ?? HELP.main!);
  return 0;
}

/** Runs the CLI; returns the exit code. Exported for tests (no process.exit inside). */
export async function main(argv: readonly string[], io: Out = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): Promise<number> {
  const [cmd, ...rest] = argv;
  const json = rest.includes('--json');
  try {
    switch (cmd) {
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        return help(rest[0] ?? 'main', io);
      case 'keygen':
        return await cmdKeygen(rest, io);
      case 'verify':
        return await cmdVerify(rest, io);
      case 'apply':
        return await cmdApply(rest, io);
      case 'check':
        return await cmdCheck(rest, io);
      case 'trust':
        return await cmdTrust(rest, io);
      default:
        return usage(`unknown command ${JSON.stringify(cmd.slice(0, 20))}`);
    }
  } catch (e) {
    let err: ImportError;
    if (isImportError(e)) err = e;
    else if (e instanceof TypeError && 'code' in e && typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS')) err = new ImportError('USAGE', `usage: ${e.message}`, "Run 'keyhold-import --help'.");
    // Anything else may carry text from a library that was never vetted for secrets: not passed on.
    else err = new ImportError('INTERNAL', 'keyhold-import: internal error', 'This is a bug in keyhold-import; the state directory was not changed unless the message said so.');
    if (json) io.out(`${JSON.stringify({ ok: false, error: err.toInfo() })}\n`);
    else io.err(`keyhold-import: ${err.message} [${err.code}]\n${err.hint ? `  ${err.hint}\n` : ''}`);
    return exitCodeFor(err.code);
  }
}
