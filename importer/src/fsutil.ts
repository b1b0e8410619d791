/** Durable file operations: every write is fsynced, and so is the directory that names it. */

import { closeSync, fsyncSync, openSync, renameSync, writeSync, rmSync, symlinkSync, constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, basename } from 'node:path';
import { ImportError } from './errors.js';

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
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

export function ioError(what: string, e: unknown): ImportError {
  return new ImportError('IO', `state: cannot ${what}`, 'Check the state directory\'s permissions and free space; the previous state is intact.', { cause: e });
}
