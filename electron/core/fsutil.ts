/** Files Keyhold writes for the user: atomically, so a crash leaves the old file or the new one, never half. */

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { KeyholdError } from '../../shared/errors.js';

/** Writes to a temporary file in the same folder, fsyncs it, renames it into place, fsyncs the folder. */
export function writeFileAtomic(target: string, data: string | Uint8Array, mode = 0o600): void {
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.tmp-${randomBytes(6).toString('hex')}`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', mode);
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    const code = e && typeof e === 'object' && 'code' in e ? String(e.code) : 'I/O error';
    throw new KeyholdError('PATH_NOT_WRITABLE', `file: cannot write ${target} (${code})`,
      'Check that the folder exists and is writable.');
  }
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // Not every platform can fsync a folder; the rename is atomic regardless.
  }
}
