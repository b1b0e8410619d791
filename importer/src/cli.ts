/**
 * keyhold-import: the command line over the library. node:util parseArgs
 * only (the importer depends on jose and Node, nothing else). Exit codes:
 * 0 ok, 1 rejected (a bundle, a trust root, a key), 2 usage, 70 internal.
 * Nothing printed ever contains a secret: not the bundle's keys, not the
 * private key, not a presented key.
 */

import { parseArgs } from 'node:util';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ImportError, exitCodeFor, isImportError } from './errors.js';
import { writeFileAtomic } from './fsutil.js';
import { generateRecipientKey, loadRecipientPrivateKey, type RecipientCurve } from './keys.js';
import { loadTrustRoot, type TrustRoot } from './trust.js';
import { verifyBundle, DEFAULT_MAX_BUNDLE_BYTES, type VerifiedBundle } from './bundle.js';
import { applyBundle, readState, updateTrustRoot } from './state.js';
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
Exit codes: 0 ok, 1 rejected, 2 usage error, 70 internal error.
Format: docs/bundle-format.md.
`,
  keygen: `Usage: keyhold-import keygen [--crv P-256|X25519] --out FILE|DIR/ [--public-out FILE]

Makes the recipient key pair (ECDH-ES+A256KW). The private JWK is written with
mode 0600 and stays on this server; give the public JWK to the vault
(keyhold recipient add --public-key FILE). With --out DIR, writes
DIR/private.jwk and DIR/public.jwk (an existing directory, or any path
ending in '/', created 0700). Prints the recipient id (the key's
RFC 7638 thumbprint).

  --crv P-256|X25519   curve (default P-256)
  --alg ECDH-ES        accepted for clarity; the only algorithm
  --out FILE|DIR       private key file, or a directory for both files
  --public-out FILE    public key file (default: FILE with .pub.jwk)
`,
  verify: `Usage: keyhold-import verify (--trust ROOT | --state DIR) [--key PRIVATE.jwk | --recipient ID] [--json] BUNDLE

Checks the format, the signatures against the trust root's threshold, the
vault, the recipient (when --key or --recipient is given) and the validity
window; prints what it would apply. Nothing is written; secrets are not
decrypted.

  --trust ROOT       trust root file (default: the one pinned in --state)
  --state DIR        state directory (for its pinned root and last sequence)
  --key FILE         this server's private key (to check the recipient)
  --recipient ID     the expected recipient id
  --max-bytes N      size limit (default ${DEFAULT_MAX_BUNDLE_BYTES})
  --json             machine-readable output
`,
  apply: `Usage: keyhold-import apply --key PRIVATE.jwk --state DIR [--trust ROOT] [--secrets-format json|env] [--json] BUNDLE

Verifies the bundle, checks it continues the applied chain (sequence, previous
hash), decrypts its secrets, and commits atomically: DIR/keystore.json (the
verifiers an API gateway loads), DIR/secrets.json (0600, keys this server
holds), DIR/secrets.env (0600, with --secrets-format env), DIR/state.json and a
receipt in DIR/receipts/. Applying the same bundle again is a no-op.

  --trust ROOT              trust root (needed the first time; a newer version is
                            accepted only as a valid rotation of the pinned one)
  --key FILE                this server's private key
  --state DIR               state directory (created if missing)
  --secrets-format json|env also write an env file (sticky once chosen)
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

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ImportError('INVALID_INPUT', `${what}: cannot read ${path}`, undefined, { cause: e });
  }
}

function readBundle(path: string, maxBytes: number): Buffer {
  try {
    // The size is checked before the file is read whole: a huge file is refused without loading it.
    const size = statSync(path).size;
    if (size > maxBytes) throw new ImportError('BUNDLE_TOO_LARGE', `bundle: ${size} bytes is over the limit of ${maxBytes}`, 'Raise the limit (--max-bytes) if the bundle is expected to be this large.');
    return readFileSync(path);
  } catch (e) {
    if (isImportError(e)) throw e;
    throw new ImportError('INVALID_INPUT', `bundle: cannot read ${path}`, undefined, { cause: e });
  }
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
  if (values.out.endsWith('/') || (existsSync(values.out) && statSync(values.out).isDirectory())) {
    mkdirSync(values.out, { recursive: true, mode: 0o700 });
    privPath = join(values.out, 'private.jwk');
    pubPath ??= join(values.out, 'public.jwk');
  }
  pubPath ??= privPath.replace(/(\.jwk)?$/, '.pub.jwk');
  if (existsSync(privPath)) throw new ImportError('INVALID_INPUT', `keygen: ${privPath} exists; it is never overwritten`);
  const pair = await generateRecipientKey(crv);
  writeFileAtomic(privPath, `${JSON.stringify(pair.privateJwk, null, 1)}\n`, 0o600);
  writeFileAtomic(pubPath, `${JSON.stringify(pair.publicJwk, null, 1)}\n`, 0o644);
  if (values.json) io.out(`${JSON.stringify({ ok: true, recipientId: pair.recipientId, private: privPath, public: pubPath, crv })}\n`);
  else io.out(`recipient id ${pair.recipientId}\nprivate key  ${privPath} (0600, keep it on this server)\npublic key   ${pubPath} (give it to the vault: keyhold recipient add --public-key)\n`);
  return 0;
}

async function trustFor(trustPath: string | undefined, stateDir: string | undefined): Promise<TrustRoot> {
  if (trustPath) return loadTrustRoot(readText(trustPath, 'trust root'));
  if (stateDir) {
    const cur = await readState(stateDir);
    if (cur) return cur.trust;
    throw new ImportError('INVALID_INPUT', `verify: ${stateDir} has no pinned trust root`, 'Give --trust root.json.');
  }
  return usage('give --trust ROOT or --state DIR');
}

async function cmdVerify(args: string[], io: Out): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { trust: { type: 'string' }, state: { type: 'string' }, key: { type: 'string' }, recipient: { type: 'string' }, 'max-bytes': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } }, allowPositionals: true, strict: true });
  if (values.help) return help('verify', io);
  if (positionals.length !== 1) usage('verify takes one BUNDLE file');
  const maxBytes = maxBytesOf(values['max-bytes']);
  const trust = await trustFor(values.trust, values.state);
  let recipient = values.recipient;
  if (values.key) recipient = (await loadRecipientPrivateKey(readText(values.key, 'key'))).recipientId;
  const v = await verifyBundle(readBundle(positionals[0]!, maxBytes), trust, recipient === undefined ? { maxBytes } : { maxBytes, recipient });
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
  const { values, positionals } = parseArgs({ args, options: { trust: { type: 'string' }, state: { type: 'string' }, key: { type: 'string' }, 'secrets-format': { type: 'string' }, 'max-bytes': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } }, allowPositionals: true, strict: true });
  if (values.help) return help('apply', io);
  if (positionals.length !== 1) usage('apply takes one BUNDLE file');
  if (!values.key) usage('apply needs --key PRIVATE.jwk');
  if (!values.state) usage('apply needs --state DIR');
  const fmt = values['secrets-format'];
  if (fmt !== undefined && fmt !== 'json' && fmt !== 'env') usage('--secrets-format must be json or env');
  const maxBytes = maxBytesOf(values['max-bytes']);
  const bundle = readBundle(positionals[0]!, maxBytes);
  const r = await applyBundle(values.state, bundle, {
    privateKey: readText(values.key, 'key'),
    maxBytes,
    ...(values.trust ? { trustRootText: readText(values.trust, 'trust root') } : {}),
    ...(fmt ? { secretsFormat: fmt } : {}),
  });
  if (values.json) io.out(`${JSON.stringify({ ok: true, ...r })}\n`);
  else io.out(`${r.message}\nreceipt ${r.receiptPath}\n`);
  return 0;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
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
  const text = readText(positionals[0]!, 'trust root');
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
