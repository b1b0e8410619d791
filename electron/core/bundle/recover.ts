/**
 * Files an interrupted `bundle export` or `bundle resend` left behind
 * (docs/bundle-export.md, "Recovery"). Each staged file is noted in the
 * vault (pending_files) before it is created, and forgotten once it has its
 * name. A note left over means the process died in between:
 *
 * - the vault recorded that bundle (same recipient, sequence and payload
 *   hash): the complete file is published to its intended name if that name
 *   is free; if it is taken, the temporary file is deleted and the exact
 *   `bundle resend` command that writes it again is given;
 * - the vault did not record it (killed before the commit): the file is a
 *   validly signed bundle no server must ever see (it would fork the chain),
 *   so it is deleted.
 *
 * Each action is audited (bundle.recover) and described in a note for the
 * operator.
 */

import fs from 'node:fs';
import path from 'node:path';
import type { Vault } from '../vault/vault.js';
import { fsyncDir, linkNew } from '../fsutil.js';
import { deletePending, isRecorded, listPending, listRecipients, type PendingFile } from './store.js';

export type RecoveryNote = {
  recipient: string;
  sequence: number;
  /** published: written to its name; deleted: an unrecorded bundle removed; not-published: recorded, its name was taken. */
  action: 'published' | 'deleted' | 'not-published';
  path: string;
  message: string;
};

/** A shell word for a name in a printed command. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command that writes a recorded bundle again (NEW-FILE for the operator to choose). */
export function resendCommand(recipient: string, sequence: number): string {
  return `keyhold bundle resend --recipient ${shellWord(recipient)} --sequence ${sequence} --out NEW-FILE`;
}

function sameContent(a: string, b: string): boolean {
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    if (sa.dev === sb.dev && sa.ino === sb.ino) return true;
    return sa.size === sb.size && fs.readFileSync(a).equals(fs.readFileSync(b));
  } catch {
    return false;
  }
}

function removeFile(p: string): void {
  try {
    fs.unlinkSync(p);
    fsyncDir(path.dirname(p));
  } catch {
    // Gone already.
  }
}

function recoverOne(vault: Vault, p: PendingFile, name: string): RecoveryNote | null {
  const tmp = fs.lstatSync(p.tmp_path, { throwIfNoEntry: false });
  const staged = tmp?.isFile() === true;
  const what = `bundle ${p.sequence} for ${name}`;
  let note: RecoveryNote | null = null;
  if (!isRecorded(vault, p.recipient_id, p.sequence, p.hash)) {
    if (staged) {
      removeFile(p.tmp_path);
      note = { recipient: name, sequence: p.sequence, action: 'deleted', path: p.tmp_path,
        message: `an interrupted export of ${what} was never recorded in the vault: its leftover file ${p.tmp_path} was deleted (it must never reach a server)` };
    }
  } else if (staged) {
    const there = fs.lstatSync(p.target_path, { throwIfNoEntry: false });
    let published = false;
    if (!there) {
      try {
        linkNew(p.tmp_path, p.target_path);
        published = true;
      } catch {
        // Reported below as not published.
      }
    }
    if (published || (there?.isFile() === true && sameContent(p.tmp_path, p.target_path))) {
      if (!published) removeFile(p.tmp_path);
      fsyncDir(path.dirname(p.target_path));
      if (published) {
        note = { recipient: name, sequence: p.sequence, action: 'published', path: p.target_path,
          message: `${what} was recorded by an interrupted ${p.kind === 'resend' ? 'resend' : 'export'}; its file is now at ${p.target_path}` };
      }
    } else {
      removeFile(p.tmp_path);
      note = { recipient: name, sequence: p.sequence, action: 'not-published', path: p.target_path,
        message: `${what} was recorded by an interrupted ${p.kind === 'resend' ? 'resend' : 'export'}, but ${p.target_path} could not be written ` +
          `(${there ? 'another file is there' : 'its folder is not writable'}); write it with: ${resendCommand(name, p.sequence)}` };
    }
  } else if (p.kind === 'bundle' && !fs.existsSync(p.target_path)) {
    // Killed after the commit and before the file was staged cannot happen (the file is staged first); a file removed by hand can.
    note = { recipient: name, sequence: p.sequence, action: 'not-published', path: p.target_path,
      message: `${what} was recorded, but neither ${p.target_path} nor its temporary file is there; write it with: ${resendCommand(name, p.sequence)}` };
  }
  if (note) {
    const n = note;
    vault.transaction(() => {
      deletePending(vault, p.tmp_path);
      vault.audit({ action: 'bundle.recover', subject: `recipient:${name}`, details: {
        recipient: p.recipient_id, sequence: p.sequence, hash: p.hash, action: n.action, path: n.path, interrupted: p.kind } });
    });
  } else {
    deletePending(vault, p.tmp_path);
  }
  return note;
}

/**
 * Finds and settles what interrupted exports left (see above). Returns what
 * was done, for the operator; an empty list when nothing was left.
 */
export function recoverPendingFiles(vault: Vault): RecoveryNote[] {
  const pending = listPending(vault);
  if (pending.length === 0) return [];
  const names = new Map(listRecipients(vault).map((r) => [r.id, r.name]));
  const notes: RecoveryNote[] = [];
  for (const p of pending) {
    const note = recoverOne(vault, p, names.get(p.recipient_id) ?? p.recipient_id);
    if (note) notes.push(note);
  }
  return notes;
}
