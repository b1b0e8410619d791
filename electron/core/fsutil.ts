/**
 * Files Keyhold reads from the operator and writes for the operator.
 *
 * Reading: `readRegularFile` opens the file (links resolved), refuses anything
 * but a regular file by fstat on the open descriptor (a folder, /dev/zero, a
 * FIFO, a socket: NOT_A_FILE), and reads in chunks, stopping as soon as the
 * limit of its kind is passed (FILE_TOO_LARGE): a size from stat is never
 * trusted, since a device or a growing file reports 0 or less than it holds.
 *
 * Writing: a file written for the user (`--out` of bundle export, bundle
 * resend, trust export, audit export) is new, always. `checkNewFile` runs
 * before any work (before a token is touched): the folder exists and is
 * writable, nothing is at the path (lstat: a dangling symbolic link counts),
 * and the path is not one of the vault's own files (the vault, its -wal,
 * -shm or -journal, compared by folder identity and name, so another
 * spelling of the same folder is caught too). Then `stageNewFile` writes a
 * temporary file in the same folder and fsyncs it, and `publishNewFile`
 * links it to its name, which never replaces anything that appeared there
 * meanwhile, and fsyncs the folder.
 */

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fsyncDir, linkNew, readBounded } from 'keyhold-format';
import { errorCode, KeyholdError } from '../../shared/errors.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Size limits of the files Keyhold reads, by kind (docs/cli.md 2.1, 2.3, 3.17, 3.24, 3.30).
 * secret: a passphrase (at most 1024 characters) or a PIN (at most 255), with a newline.
 * jwk: a recipient's public key, a few hundred bytes in practice.
 * bundle: the importer's default limit for a bundle (64 MiB).
 * audit: an audit export, about a million entries of a few hundred bytes.
 */
export const READ_LIMITS = Object.freeze({
  secret: 4 * KiB,
  jwk: 64 * KiB,
  bundle: 64 * MiB,
  audit: 1024 * MiB,
});

function sizeText(n: number): string {
  return n >= MiB ? `${n / MiB} MiB` : n >= KiB ? `${n / KiB} KiB` : `${n} bytes`;
}

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

export type ReadOptions = Readonly<{
  /** The error prefix and the kind of file, e.g. `cli`, `passphrase`. */
  prefix: string;
  what: string;
  limit: number;
}>;

/**
 * Reads a regular file (links resolved) up to `limit` bytes. Refuses, before
 * reading a byte, what is not a regular file (NOT_A_FILE), and stops reading
 * one byte past the limit (FILE_TOO_LARGE): memory stays bounded whatever the path names.
 */
export function readRegularFile(file: string, o: ReadOptions): Buffer {
  // The one bounded reader is the bundle format's; the app words its refusals.
  return readBounded(file, o.limit, (f) => {
    switch (f.reason) {
      case 'open':
        return new KeyholdError('FILE_UNREADABLE', `${o.prefix}: cannot read the ${o.what} file ${file} (${f.errno || 'I/O error'})`,
          f.errno === 'ENOENT' ? 'Check the path: no file is there.' : f.errno === 'EACCES' ? 'You are not allowed to read it.' : undefined);
      case 'read':
        return new KeyholdError('FILE_UNREADABLE', `${o.prefix}: cannot read the ${o.what} file ${file} (${f.errno || 'I/O error'})`);
      case 'not-a-file':
        return new KeyholdError('NOT_A_FILE', `${o.prefix}: the ${o.what} file ${file} is ${kindOf(f.stats)}`,
          'Name a regular file (a link to one is fine).');
      case 'too-large':
        return new KeyholdError('FILE_TOO_LARGE', `${o.prefix}: the ${o.what} file ${file} is larger than ${sizeText(o.limit)}`,
          `A ${o.what} file is at most ${sizeText(o.limit)}; check that the path names the right file.`);
    }
  });
}

/** readRegularFile as UTF-8 text. */
export function readTextFile(file: string, o: ReadOptions): string {
  return readRegularFile(file, o).toString('utf8');
}

/** readTextFile holding one JSON object (a JWK, say): the object, or null when the text is anything else. */
export function readJsonObjectFile(file: string, o: ReadOptions): Record<string, unknown> | null {
  try {
    const v = JSON.parse(readTextFile(file, o)) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch (e) {
    if (e instanceof SyntaxError) return null;
    throw e;
  }
}

// ---- writing ------------------------------------------------------------------------

export function fsyncFile(p: string): void {
  const fd = fs.openSync(p, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Makes a rename or link in `dir` durable (the bundle format's; a folder that cannot be fsynced at all is tolerated). */
export { fsyncDir, linkNew };

/** The vault's own files, which no output may name: the vault and SQLite's companions. */
export function vaultFiles(vaultPath: string): string[] {
  return ['', '-wal', '-shm', '-journal'].map((s) => `${vaultPath}${s}`);
}

const caseless = process.platform === 'darwin' || process.platform === 'win32';
const sameName = (a: string, b: string): boolean => (caseless ? a.toLowerCase() === b.toLowerCase() : a === b);

function folderId(dir: string): string | null {
  try {
    const st = fs.statSync(dir);
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

function cannotWrite(what: string, target: string, reason: string, hint: string): KeyholdError {
  return new KeyholdError('PATH_NOT_WRITABLE', `${what}: cannot write ${target}: ${reason}`, hint);
}

const FOLDER_HINT = 'Check that the folder exists and is writable (a mounted removable medium, for example).';
const EXISTS_HINT = 'Choose a new file name: an existing file is never overwritten (it may be a bundle not yet carried to its server).';

/**
 * Checks, before any work, that `out` can be written as a new file; returns
 * its absolute path. `protect` lists files that must never be written (the
 * vault's own, from vaultFiles()), whether they exist yet or not.
 */
export function checkNewFile(out: string, what: string, protect: readonly string[] = []): string {
  if (out === '' || out.endsWith('/') || (path.sep === '\\' && out.endsWith('\\'))) {
    throw cannotWrite(what, out || '""', 'the path names a folder', 'Name a new file in the folder.');
  }
  const target = path.resolve(out);
  const dir = path.dirname(target);
  const name = path.basename(target);
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    const code = errorCode(e);
    throw cannotWrite(what, target, code === 'ENOENT' ? `the folder ${dir} does not exist`
      : code === 'ENOTDIR' ? `a part of ${dir} is a file, not a folder` : `the folder ${dir} cannot be used (${code || 'I/O error'})`, FOLDER_HINT);
  }
  if (!st.isDirectory()) throw cannotWrite(what, target, `${dir} is a file, not a folder`, FOLDER_HINT);
  const id = `${st.dev}:${st.ino}`;
  for (const p of protect) {
    const abs = path.resolve(p);
    if (sameName(path.basename(abs), name) && folderId(path.dirname(abs)) === id) {
      throw new KeyholdError('FILE_EXISTS', `${what}: ${target} is ${abs === path.resolve(protect[0] ?? '') ? 'the vault itself' : 'one of the vault\'s own files'}`,
        'Write to a new file outside the vault\'s names (the vault and its -wal, -shm and -journal files).');
    }
  }
  const there = fs.lstatSync(target, { throwIfNoEntry: false });
  if (there?.isDirectory()) throw cannotWrite(what, target, 'the path names a folder', 'Name a new file in the folder.');
  if (there?.isSymbolicLink()) {
    const to = fs.statSync(target, { throwIfNoEntry: false });
    throw new KeyholdError('FILE_EXISTS', `${what}: ${target} is a symbolic link${to ? '' : ' (to nothing)'}`,
      'Choose a new file name: a link is never followed or replaced when writing.');
  }
  if (there) throw new KeyholdError('FILE_EXISTS', `${what}: ${target} already exists`, EXISTS_HINT);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    throw cannotWrite(what, target, `the folder ${dir} is not writable (${errorCode(e) || 'I/O error'})`, FOLDER_HINT);
  }
  return target;
}

/** The name of a new temporary file beside `target` (hidden, so that no one takes it for the file). */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${randomBytes(6).toString('hex')}`);
}

/** Writes `data` to a new temporary file (`tmp`, else a fresh name beside `target`) and fsyncs it; returns its path. */
export function stageNewFile(target: string, data: string | Uint8Array, what: string, tmp = tempPathFor(target), mode = 0o600): string {
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', mode);
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    return tmp;
  } catch (e) {
    // Only a file this call created is removed: when the open failed there is none.
    if (fd !== undefined) {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
    }
    const code = errorCode(e);
    throw cannotWrite(what, target, code === 'ENOSPC' ? 'the disk is full' : code === 'EROFS' ? 'the file system is read-only'
      : code === 'ENOENT' ? `the folder ${path.dirname(target)} is gone` : code === 'EACCES' || code === 'EPERM' ? `permission denied (${code})`
        : `${code || 'I/O error'}`, FOLDER_HINT);
  }
}

/**
 * Gives a staged file its name: a hard link, which never replaces a file that
 * appeared at the target meanwhile (an export can wait minutes at a PIN
 * prompt), then the temporary name is removed and the folder fsynced.
 * On failure the staged file is left for the caller: `done` says what already happened.
 */
export function publishNewFile(tmp: string, target: string, what: string, done: string, hint: string): void {
  try {
    linkNew(tmp, target);
  } catch (e) {
    const code = errorCode(e);
    throw new KeyholdError(code === 'EEXIST' ? 'FILE_EXISTS' : 'PATH_NOT_WRITABLE',
      `${what}: ${done}, but it could not be written to ${target} (${code === 'EEXIST' ? 'a file appeared there meanwhile' : code || 'I/O error'})`, hint);
  }
  fsyncDir(path.dirname(target));
}

/** Replaces an existing file (one Keyhold was asked to change, as `bundle sign` does) by a staged one, atomically. */
export function replaceWithStaged(tmp: string, target: string, what: string, done: string): void {
  try {
    fs.renameSync(tmp, target);
  } catch (e) {
    throw new KeyholdError('PATH_NOT_WRITABLE', `${what}: ${done}, but ${target} could not be replaced (${errorCode(e) || 'I/O error'})`,
      `The complete file is at ${tmp}; rename it yourself.`);
  }
  fsyncDir(path.dirname(target));
}

/** Writes a new file for the user: checkNewFile, then stage and publish. Returns the absolute path. */
export function writeNewFile(out: string, data: string | Uint8Array, what: string, protect: readonly string[] = []): string {
  const target = checkNewFile(out, what, protect);
  const tmp = stageNewFile(target, data, what);
  try {
    publishNewFile(tmp, target, what, 'the file was complete', 'Choose a new file name and run the command again.');
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  return target;
}

/**
 * A test hook: with NODE_ENV=test and KEYHOLD_TEST_PAUSE naming this point,
 * the process says so on stderr and stops there (blocked, not busy) until it
 * is killed: crash tests kill a real process at an exact point of a command.
 */
export function testPause(point: string): void {
  if (process.env.NODE_ENV !== 'test' || process.env.KEYHOLD_TEST_PAUSE !== point) return;
  fs.writeSync(2, `keyhold-test-paused ${point}\n`);
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(cell, 0, 0, 60_000);
}
