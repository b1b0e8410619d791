/**
 * SoftHSM2 tokens made afresh for a test file, never the user's.
 *
 * SoftHSM2 reads its configuration (SOFTHSM2_CONF) once, at C_Initialize, and
 * Vitest runs each test file in its own forked process: so each file makes one
 * setup in beforeAll, before any module is opened in the process, and child
 * processes get the same configuration through `env`. The folder (conf and
 * token directory) is removed by `cleanup()`, which also restores the caller's
 * SOFTHSM2_CONF.
 *
 * A SoftHSM2 already initialised in a process does not see tokens added or
 * deleted by softhsm2-util afterwards in its slot list (measured with 2.6.1):
 * a deleted token stays in the list and answers CKR_GENERAL_ERROR, a new one
 * appears only after C_Finalize and C_Initialize again (or in a new process).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeTmpDir } from './tmp.js';

const MODULE_CANDIDATES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  `/usr/lib/${archTriplet()}/softhsm/libsofthsm2.so`,
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib64/pkcs11/libsofthsm2.so',
  '/usr/lib64/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
];

const SPY_CANDIDATES = [
  `/usr/lib/${archTriplet()}/pkcs11/pkcs11-spy.so`,
  `/usr/lib/${archTriplet()}/pkcs11-spy.so`,
  '/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so',
  '/usr/lib/aarch64-linux-gnu/pkcs11/pkcs11-spy.so',
  '/usr/lib/x86_64-linux-gnu/pkcs11-spy.so',
  '/usr/lib/aarch64-linux-gnu/pkcs11-spy.so',
  '/usr/lib64/pkcs11-spy.so',
  '/usr/lib64/pkcs11/pkcs11-spy.so',
  '/usr/local/lib/pkcs11-spy.so',
];

function archTriplet(): string {
  return process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
}

function firstExisting(candidates: readonly string[]): string | null {
  for (const c of candidates) if (fs.existsSync(c)) return c;
  return null;
}

/** The SoftHSM2 PKCS#11 module (SOFTHSM2_MODULE overrides the Debian paths). */
export function softhsmModulePath(): string {
  const named = process.env.SOFTHSM2_MODULE;
  const found = named !== undefined && named !== '' ? (fs.existsSync(named) ? named : null) : firstExisting(MODULE_CANDIDATES);
  if (!found) {
    // The token tests must run, not skip: a missing SoftHSM2 is a setup failure.
    throw new Error(`softhsm: libsofthsm2.so not found (tried ${MODULE_CANDIDATES.join(', ')}); install the softhsm2 package`);
  }
  return found;
}

/** OpenSC's pkcs11-spy module. */
export function spyModulePath(): string {
  const found = firstExisting(SPY_CANDIDATES);
  if (!found) throw new Error(`softhsm: pkcs11-spy.so not found (tried ${SPY_CANDIDATES.join(', ')}); install the opensc package`);
  return found;
}

export type TokenSpec = Readonly<{ label: string; pin?: string; soPin?: string }>;

export const DEFAULT_PIN = '123456';
export const DEFAULT_SO_PIN = '12345678';

export type SoftHsm = Readonly<{
  /** The temporary folder holding softhsm2.conf and tokens/. */
  dir: string;
  conf: string;
  tokenDir: string;
  /** The SoftHSM2 module path. */
  module: string;
  /** Environment for child processes (SOFTHSM2_CONF). */
  env: Readonly<Record<string, string>>;
  /** Environment for a `keyhold` child process: `env`, KEYHOLD_PKCS11_MODULE (this module), then `extra`. */
  cliEnv: (extra?: Readonly<Record<string, string>>) => Record<string, string>;
  /** Initialises a token in the free slot; returns its serial. */
  addToken: (spec: TokenSpec) => string;
  /** Deletes a token by label (its files go; a process that initialised SoftHSM2 keeps the slot, answering errors). */
  deleteToken: (label: string) => void;
  /** Serial of a token by label, as softhsm2-util reports it. */
  serial: (label: string) => string;
  /** Tokens present, as softhsm2-util reports them (a fresh process: always up to date). */
  tokens: () => { label: string; serial: string }[];
  /**
   * Environment (SOFTHSM2_CONF) for a child process that sees only the tokens
   * named: a second configuration in `dir` whose token folder holds copies of
   * theirs (same keys, same serials), made on the first call. SoftHSM2 skips a
   * symlinked token folder, hence copies.
   */
  envWithOnly: (labels: readonly string[], dir: string) => Readonly<Record<string, string>>;
  /** Removes the folder and restores SOFTHSM2_CONF. Idempotent. */
  cleanup: () => void;
}>;

function util(env: NodeJS.ProcessEnv, args: string[]): string {
  // Arguments carry PINs: an error shows the exit status only, never the command line.
  try {
    return execFileSync('softhsm2-util', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const status = (e as { status?: number }).status;
    // eslint-disable-next-line preserve-caught-error -- the cause's message holds the command line, PINs included
    throw new Error(`softhsm: softhsm2-util ${args[0] ?? ''} failed (exit ${String(status)})`);
  }
}

/** Writes `dir`/softhsm2.conf over an empty `dir`/tokens folder. */
function writeConf(dir: string): { conf: string; tokenDir: string } {
  const tokenDir = path.join(dir, 'tokens');
  fs.mkdirSync(tokenDir, { recursive: true, mode: 0o700 });
  const conf = path.join(dir, 'softhsm2.conf');
  fs.writeFileSync(conf, [
    `directories.tokendir = ${tokenDir}`,
    'objectstore.backend = file',
    'log.level = ERROR',
    '',
  ].join('\n'));
  return { conf, tokenDir };
}

/**
 * Makes a SoftHSM2 configuration and token directory in a temporary folder,
 * points this process at it (process.env.SOFTHSM2_CONF, so call this before
 * any PKCS#11 module is opened) and initialises the tokens given.
 */
export function setupSoftHsm(tokens: readonly TokenSpec[] = []): SoftHsm {
  const module = softhsmModulePath();
  const tmp = makeTmpDir('keyhold-softhsm-');
  const dir = tmp.dir;
  const { conf, tokenDir } = writeConf(dir);
  const previous = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = conf;
  const env = { ...process.env, SOFTHSM2_CONF: conf };

  const list = (): { label: string; serial: string }[] => {
    const out = util(env, ['--show-slots']);
    const found: { label: string; serial: string }[] = [];
    for (const block of out.split(/^Slot /m)) {
      if (!/Initialized:\s+yes/.test(block)) continue;
      const serial = /Serial number:\s*(\S+)/.exec(block)?.[1];
      const label = /Label:\s*(.*)$/m.exec(block)?.[1]?.trim();
      if (serial && label !== undefined) found.push({ label, serial });
    }
    return found;
  };
  const serial = (label: string): string => {
    const t = list().find((x) => x.label === label);
    if (!t) throw new Error(`softhsm: no token labelled ${label}`);
    return t.serial;
  };
  /** Each token's folder under tokenDir, by label. */
  const folders = new Map<string, string>();
  const addToken = (spec: TokenSpec): string => {
    const before = new Set(fs.readdirSync(tokenDir));
    util(env, ['--init-token', '--free', '--label', spec.label, '--so-pin', spec.soPin ?? DEFAULT_SO_PIN, '--pin', spec.pin ?? DEFAULT_PIN]);
    const folder = fs.readdirSync(tokenDir).find((f) => !before.has(f));
    if (folder !== undefined) folders.set(spec.label, folder);
    return serial(spec.label);
  };
  const envWithOnly = (labels: readonly string[], only: string): Readonly<Record<string, string>> => {
    const onlyConf = path.join(only, 'softhsm2.conf');
    if (!fs.existsSync(only)) {
      const made = writeConf(only);
      for (const label of labels) {
        const folder = folders.get(label);
        if (folder === undefined) throw new Error(`softhsm: no token labelled ${label} made by this setup`);
        fs.cpSync(path.join(tokenDir, folder), path.join(made.tokenDir, folder), { recursive: true });
      }
    }
    return { SOFTHSM2_CONF: onlyConf };
  };
  let cleaned = false;
  const h: SoftHsm = {
    dir,
    conf,
    tokenDir,
    module,
    env: { SOFTHSM2_CONF: conf },
    cliEnv: (extra = {}) => ({ SOFTHSM2_CONF: conf, KEYHOLD_PKCS11_MODULE: module, ...extra }),
    addToken,
    deleteToken: (label) => {
      util(env, ['--delete-token', '--token', label]);
    },
    serial,
    tokens: list,
    envWithOnly,
    cleanup: () => {
      if (cleaned) return;
      cleaned = true;
      if (previous === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = previous;
      tmp.remove();
    },
  };
  try {
    for (const t of tokens) addToken(t);
  } catch (e) {
    h.cleanup();
    throw e;
  }
  return h;
}
