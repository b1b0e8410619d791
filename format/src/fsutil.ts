/**
 * File operations, for the importer and the app alike. Reading: one bounded
 * reader (readBounded: regular files only, a limit enforced while reading;
 * readFileBounded words its failures for the importer, the app's
 * electron/core/fsutil.ts for the app). Writing: every write is fsynced, and
 * so is the directory that names it; a file the operator names as an output
 * is never overwritten (writeNewFileNoClobber, linkNew).
 */

import { closeSync, fstatSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readSync, renameSync, writeSync, rmSync, symlinkSync, unlinkSync, constants, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, basename, resolve } from 'node:path';
import { ImportError, errnoCode, type ImportErrorCode } from './errors.js';

// ---- reading ------------------------------------------------------------------------

/** What is read, for messages, and the most bytes a file of that kind may hold. */
export type ReadKind = Readonly<{
  what: string;
  maxBytes: number;
  /** The code for a file over the limit (default FILE_TOO_LARGE; a bundle uses BUNDLE_TOO_LARGE). */
  tooLarge?: ImportErrorCode;
  hint?: string;
}>;

/**
 * The limit of each kind of file (docs/bundle-format.md section 10). The
 * bundle's is the default of --max-bytes; state files are the importer's own
 * and may grow with the keystore, up to what one JavaScript string can hold
 * comfortably.
 */
export const READ_LIMITS = {
  trustRoot: { what: 'trust root', maxBytes: 1024 * 1024 },
  privateKey: { what: 'key', maxBytes: 64 * 1024 },
  stateFile: { what: 'state', maxBytes: 1024 * 1024 },
  stateData: { what: 'state', maxBytes: 256 * 1024 * 1024 },
  keystore: { what: 'keystore', maxBytes: 256 * 1024 * 1024 },
  stdinKey: { what: 'standard input', maxBytes: 64 * 1024 },
} as const satisfies Record<string, ReadKind>;

const READ_CHUNK = 1024 * 1024;

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

export function notAFile(what: string, path: string, kind: string): ImportError {
  return new ImportError('NOT_A_FILE', `${what}: ${path} is not a regular file (it is ${kind})`, 'Give the path of a regular file: a folder, a device such as /dev/zero, a FIFO or a socket is never read (links are followed, to a regular file only).');
}

export function tooLarge(kind: ReadKind, path: string): ImportError {
  return new ImportError(kind.tooLarge ?? 'FILE_TOO_LARGE', `${kind.what}: ${path} is larger than the limit of ${kind.maxBytes} bytes`, kind.hint ?? `A ${kind.what} file is never this large; check that the path names the right file.`);
}

function readOpenError(kind: ReadKind, path: string, e: unknown): ImportError {
  const code = errnoCode(e);
  const c = { cause: e };
  if (code === 'ENOENT') return new ImportError('FILE_NOT_FOUND', `${kind.what}: ${path} does not exist (or is a link to nothing)`, 'Check the path.', c);
  if (code === 'ENOTDIR') return new ImportError('FILE_NOT_FOUND', `${kind.what}: ${path} does not exist (a part of the path is not a folder)`, 'Check the path.', c);
  if (code === 'ENXIO') return notAFile(kind.what, path, 'a socket or a device with nothing behind it');
  if (code === 'EACCES' || code === 'EPERM') return new ImportError('FILE_UNREADABLE', `${kind.what}: ${path} cannot be read (permission denied)`, 'Run as a user who may read it, or copy it somewhere readable.', c);
  if (code === 'ELOOP') return new ImportError('FILE_UNREADABLE', `${kind.what}: ${path} cannot be read (a loop of symbolic links)`, 'Check the path.', c);
  return new ImportError('FILE_UNREADABLE', `${kind.what}: ${path} cannot be read${code ? ` (${code})` : ''}`, 'Check the path and the medium it is on.', c);
}

/**
 * Why readBounded stopped: the open failed (`open`, with the errno name), the
 * path names something other than a regular file (`not-a-file`, with its
 * stats), the file holds more than the limit (`too-large`), or a read failed
 * (`read`). The caller turns it into its own error.
 */
export type ReadFailure =
  | Readonly<{ reason: 'open' | 'read'; errno: string; cause: unknown }>
  | Readonly<{ reason: 'not-a-file'; stats: Stats }>
  | Readonly<{ reason: 'too-large' }>;

// O_NONBLOCK: opening a FIFO with no writer must not hang; it changes nothing for a regular file.
const READ_FLAGS = constants.O_RDONLY | (process.platform === 'win32' ? 0 : constants.O_NONBLOCK | constants.O_NOCTTY);

/**
 * The one bounded reader (the importer's files and the app's alike). Reads a
 * whole file, refusing anything but a regular file and stopping once more
 * than `maxBytes` have been read. The file is opened first and the open
 * descriptor examined (fstat), so what is checked is what is read: no window
 * between a stat and an open, links followed to whatever they name.
 * O_NONBLOCK makes opening a FIFO return at once instead of waiting for a
 * writer (it is then refused). The size fstat reports is not trusted either
 * (0 for /proc files, and a file can grow): the limit is counted on the bytes
 * actually read. A failure is thrown as `fail` makes it.
 */
export function readBounded(path: string, maxBytes: number, fail: (f: ReadFailure) => Error): Buffer {
  let fd: number;
  try {
    fd = openSync(path, READ_FLAGS);
  } catch (e) {
    throw fail({ reason: 'open', errno: errnoCode(e), cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw fail({ reason: 'not-a-file', stats: st });
    const chunks: Buffer[] = [];
    let total = 0;
    // The size fstat gives only sizes the first read (a whole ordinary file in one buffer); it bounds nothing.
    let first = Math.min(st.size + 1, maxBytes + 1);
    for (;;) {
      // At most one byte past the limit is ever asked for: enough to know the file is over it.
      const want = Math.min(Math.max(READ_CHUNK, first), maxBytes + 1 - total);
      first = 0;
      const buf = Buffer.allocUnsafe(want);
      let n: number;
      try {
        n = readSync(fd, buf, 0, want, null);
      } catch (e) {
        throw fail({ reason: 'read', errno: errnoCode(e), cause: e });
      }
      if (n === 0) break;
      chunks.push(n === want ? buf : buf.subarray(0, n));
      total += n;
      if (total > maxBytes) throw fail({ reason: 'too-large' });
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/** readBounded with the importer's errors (FILE_NOT_FOUND, FILE_UNREADABLE, NOT_A_FILE, FILE_TOO_LARGE or `kind.tooLarge`). */
export function readFileBounded(path: string, kind: ReadKind): Buffer {
  return readBounded(path, kind.maxBytes, (f) => {
    switch (f.reason) {
      case 'open':
      case 'read':
        return readOpenError(kind, path, f.cause);
      case 'not-a-file':
        return notAFile(kind.what, path, kindOf(f.stats));
      case 'too-large':
        return tooLarge(kind, path);
    }
  });
}

/** readFileBounded as text: strict UTF-8 (invalid bytes are an error with `invalidCode`, never replaced). A byte order mark is kept, for the parser to refuse. */
export function readTextBounded(path: string, kind: ReadKind, invalidCode: ImportErrorCode): string {
  const bytes = readFileBounded(path, kind);
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new ImportError(invalidCode, `${kind.what}: ${path} is not UTF-8 text`);
  }
}

// ---- folders and new files ------------------------------------------------------------

export function notWritable(what: string, path: string, e: unknown, detail?: string): ImportError {
  const code = errnoCode(e);
  const why =
    detail ??
    (code === 'ENOENT'
      ? 'a folder on the way does not exist, or the file system does not allow creating it there'
      : code === 'ENOTDIR'
        ? 'a part of the path is not a folder'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : code === 'EROFS'
            ? 'read-only file system'
            : code === 'ENOSPC' || code === 'EDQUOT'
              ? 'no space left'
              : code || 'it cannot be written');
  return new ImportError('PATH_NOT_WRITABLE', `${what}: cannot write ${path} (${why})`, 'Choose a path in an existing folder this user may write to.', { cause: e });
}

/** Is `path` a folder, or a symbolic link to one? */
function isFolder(path: string): boolean {
  try {
    return lstatSync(`${path}/.`).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Creates a folder and any missing parents (like mkdir -p) with a bounded
 * number of steps. Node's recursive mkdir retries forever when a file system
 * answers ENOENT for a folder whose parent exists (/proc/x): here each
 * component is created once, and any failure other than "it exists (as a
 * folder)" is PATH_NOT_WRITABLE.
 */
export function makeDirs(path: string, mode: number, what: string): void {
  const target = resolve(path);
  const missing: string[] = [];
  let p = target;
  for (;;) {
    let st: Stats | undefined;
    try {
      st = lstatSync(p);
    } catch (e) {
      const code = errnoCode(e);
      if (code !== 'ENOENT') throw notWritable(what, target, e);
    }
    if (st) {
      // An existing component: a folder, or a link to one (followed, as a path would be).
      if (!st.isDirectory() && !(st.isSymbolicLink() && isFolder(p))) throw notWritable(what, target, undefined, `${p} exists and is not a folder`);
      break;
    }
    missing.push(p);
    const parent = dirname(p);
    if (parent === p) break;
    p = parent;
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir, { mode });
    } catch (e) {
      if (errnoCode(e) === 'EEXIST' && isFolder(dir)) continue; // made meanwhile by someone else: fine
      throw notWritable(what, target, e);
    }
  }
}

/**
 * Checks that `path` can be created as a new file: nothing at all is there
 * (no file, no symlink, dangling or not, no folder) and its folder exists.
 * Called for every output before any work, so a refusal leaves nothing behind.
 */
export function checkNewPath(path: string, what: string): void {
  try {
    lstatSync(path);
  } catch (e) {
    const code = errnoCode(e);
    if (code !== 'ENOENT') throw notWritable(what, path, e);
    let dir: Stats;
    try {
      dir = lstatSync(`${dirname(resolve(path))}/.`);
    } catch (e2) {
      throw notWritable(what, path, e2, errnoCode(e2) === 'ENOENT' ? `the folder ${dirname(resolve(path))} does not exist` : undefined);
    }
    if (!dir.isDirectory()) throw notWritable(what, path, undefined, `${dirname(resolve(path))} is not a folder`);
    return;
  }
  throw fileExists(what, path);
}

function fileExists(what: string, path: string): ImportError {
  return new ImportError('FILE_EXISTS', `${what}: ${path} already exists (a file, a folder or a symbolic link); it is never overwritten`, 'Choose a new path, or move the existing one away first.');
}

/**
 * Writes a new file that must not exist, atomically and without ever
 * replacing anything: the data goes to a temporary file in the same folder
 * (mode set at creation, fsynced), which is then hard-linked to the final
 * name (link(2) fails if anything, even a dangling symlink, is there) and
 * removed; then the folder is fsynced. Readers see no file or the whole file.
 * On a file system without hard links (some removable media) the file is
 * created in place with O_EXCL, which refuses an existing name the same way.
 */
export function writeNewFileNoClobber(path: string, data: string | Uint8Array, mode: number, what: string): void {
  const dir = dirname(resolve(path));
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeNewFile(tmp, data, mode);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw notWritable(what, path, e);
  }
  try {
    linkSync(tmp, path);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'EEXIST') {
      rmSync(tmp, { force: true });
      throw fileExists(what, path);
    }
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EMLINK' || code === 'ENOSYS') {
      rmSync(tmp, { force: true });
      try {
        writeNewFile(path, data, mode);
      } catch (e2) {
        if (errnoCode(e2) === 'EEXIST') throw fileExists(what, path);
        throw notWritable(what, path, e2);
      }
      fsyncDir(dir);
      return;
    }
    rmSync(tmp, { force: true });
    throw notWritable(what, path, e);
  }
  unlinkSync(tmp);
  fsyncDir(dir);
}

const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Gives a staged file `tmp` the name `target` without ever replacing a file
 * there: a hard link (link(2) fails if anything, even a dangling symlink, is
 * there), then `tmp` is removed. On a file system without hard links (FAT
 * and exFAT on removable media) a rename, once lstat shows the name still
 * free. Throws the raw error (EEXIST when something is at `target`); the
 * caller fsyncs the folder.
 */
export function linkNew(tmp: string, target: string): void {
  try {
    linkSync(tmp, target);
  } catch (e) {
    if (!NO_HARD_LINKS.has(errnoCode(e)) || lstatSync(target, { throwIfNoEntry: false })) throw e;
    renameSync(tmp, target);
    return;
  }
  try {
    unlinkSync(tmp);
  } catch {
    // The file is in place under its name; a stray temporary link is harmless.
  }
}

/**
 * What a platform or file system answers when a folder cannot be opened or
 * fsynced at all (Windows opens no folder; some FUSE and FAT drivers refuse
 * fsync on one): the rename or link is atomic all the same, so these are not
 * errors. Anything else (EIO, ENOSPC...) is thrown: the write may not be durable.
 */
const FSYNC_DIR_UNSUPPORTED = new Set(['EISDIR', 'EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EBADF', 'EPERM', 'EACCES']);

/** Makes a rename or link in `dir` durable (see FSYNC_DIR_UNSUPPORTED for what is tolerated). */
export function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | (process.platform === 'win32' ? 0 : constants.O_DIRECTORY));
  } catch (e) {
    if (FSYNC_DIR_UNSUPPORTED.has(errnoCode(e))) return;
    throw e;
  }
  try {
    fsyncSync(fd);
  } catch (e) {
    if (!FSYNC_DIR_UNSUPPORTED.has(errnoCode(e))) throw e;
  } finally {
    closeSync(fd);
  }
}

/** Writes a new file (it must not exist) with the given mode and fsyncs it. */
export function writeNewFile(path: string, data: string | Uint8Array, mode: number): void {
  // 'wx' and the mode at creation: a secrets file is never readable by others, not even for a moment.
  const fd = openSync(path, 'wx', mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Temp file in the same directory, fsync, rename over the target, fsync the directory. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeNewFile(tmp, data, mode);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dirname(path));
}

/** Points `link` at `target` atomically (a new symlink renamed over the old one), then fsyncs the directory. */
export function replaceSymlink(target: string, link: string): void {
  const tmp = join(dirname(link), `.${basename(link)}.${randomBytes(6).toString('hex')}.tmp`);
  symlinkSync(target, tmp);
  try {
    renameSync(tmp, link);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dirname(link));
}
