/**
 * Opening the vault's SQLite file: checks that come before SQLite sees it,
 * pragmas, the exclusive lock, the schema version, and the mapping of SQLite's
 * errors onto Keyhold's.
 */

import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { errorCode, KeyholdError } from '../../../shared/errors.js';
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION } from './schema.js';
import { fragment, type Sql } from './sql.js';

export type Db = Database.Database;

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

function sqliteCode(e: unknown): string | undefined {
  const code = errorCode(e);
  return code.startsWith('SQLITE_') ? code : undefined;
}

/**
 * Maps an error from better-sqlite3 onto the error shape, by code (never by
 * message). Errors that are already Keyhold's pass through.
 */
export function mapDbError(e: unknown, vaultPath: string): Error {
  if (e instanceof KeyholdError) return e;
  const code = sqliteCode(e);
  if (code === undefined) return e instanceof Error ? e : new Error(String(e));
  if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code.startsWith('SQLITE_LOCKED')) {
    return new KeyholdError(
      'VAULT_IN_USE',
      `vault: ${vaultPath} is in use by another Keyhold process`,
      'Close the other Keyhold window or command and try again, or give --wait SECONDS (KEYHOLD_WAIT) to wait for it.',
      { cause: e },
    );
  }
  if (code === 'SQLITE_CORRUPT' || code.startsWith('SQLITE_CORRUPT_') || code === 'SQLITE_NOTADB' ||
      code === 'SQLITE_IOERR_SHORT_READ') {
    return new KeyholdError(
      'VAULT_CORRUPT',
      `vault: ${vaultPath} is damaged (SQLite reports ${code})`,
      'Restore the vault from a backup. Keyhold did not change it.',
      { cause: e },
    );
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code === 'SQLITE_PERM' ||
      code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR')) {
    return new KeyholdError(
      'PATH_NOT_WRITABLE',
      `vault: cannot write ${vaultPath} (SQLite reports ${code})`,
      'Check that the folder exists, is writable and has free space.',
      { cause: e },
    );
  }
  return e instanceof Error ? e : new Error(String(e));
}

/**
 * The most statements cached per connection. The vault's SQL comes from a
 * fixed set of templates (IN lists are one bound JSON array: vault/sql.ts),
 * about sixty texts in all; the limit only keeps a mistake from growing the
 * cache without end. Past it, the oldest statement is dropped (first in,
 * first out: a hit costs one lookup, nothing more).
 */
export const STATEMENT_CACHE_LIMIT = 200;

type Cache = { object: Map<string, Database.Statement>; raw: Map<string, Database.Statement> };
const statements = new WeakMap<Db, Cache>();

/** A statement written as a literal: a constant string is accepted, a string built at run time is not. */
export type LiteralSql<T extends string> = string extends T ? never : T;

function cached(db: Db, text: string, raw: boolean): Database.Statement {
  let c = statements.get(db);
  if (!c) {
    c = { object: new Map(), raw: new Map() };
    statements.set(db, c);
  }
  const m = raw ? c.raw : c.object;
  let st = m.get(text);
  if (!st) {
    st = db.prepare(text);
    // Raw mode is the statement's own state: raw and object statements are cached apart.
    if (raw) st.raw(true);
    if (c.object.size + c.raw.size >= STATEMENT_CACHE_LIMIT) {
      const other = raw ? c.object : c.raw;
      const from = m.size > 0 ? m : other;
      const oldest = from.keys().next();
      if (!oldest.done) from.delete(oldest.value);
    }
    m.set(text, st);
  }
  return st;
}

function templateText(q: Sql | string): string {
  if (typeof q === 'string') return q;
  if (fragment(q).params.length > 0) {
    throw new TypeError('db: a statement template has no bound values; run a fragment with values through all/get/run/rawAll');
  }
  return q.text;
}

/**
 * A prepared statement, cached per connection, for SQL run many times with
 * arguments given at each run (`?` in the text): a fragment without bound
 * values, or a literal string.
 */
export function stmt<T extends string>(db: Db, q: Sql | LiteralSql<T>): Database.Statement {
  return cached(db, templateText(q), false);
}

/** Like stmt, in raw mode: rows as arrays, read by name through a selectList index (vault/sql.ts). */
export function rawStmt<T extends string>(db: Db, q: Sql | LiteralSql<T>): Database.Statement {
  return cached(db, templateText(q), true);
}

/** Every row of a fragment, as objects. */
export function all<R>(db: Db, q: Sql): R[] {
  return cached(db, fragment(q).text, false).all(...q.params) as R[];
}

/** The first row of a fragment, as an object, or undefined. */
export function get<R>(db: Db, q: Sql): R | undefined {
  return cached(db, fragment(q).text, false).get(...q.params) as R | undefined;
}

/** Runs a fragment that changes rows. */
export function run(db: Db, q: Sql): Database.RunResult {
  return cached(db, fragment(q).text, false).run(...q.params);
}

/** Every row of a fragment, as arrays (raw mode). */
export function rawAll(db: Db, q: Sql): unknown[][] {
  return cached(db, fragment(q).text, true).all(...q.params) as unknown[][];
}

/** Rows of a fragment one at a time, as objects. */
export function iterate<R>(db: Db, q: Sql): IterableIterator<R> {
  return cached(db, fragment(q).text, false).iterate(...q.params) as IterableIterator<R>;
}

/** How many statements the connection has cached, and their texts (for tests). */
export function cachedStatements(db: Db): string[] {
  const c = statements.get(db);
  return c ? [...c.object.keys(), ...c.raw.keys()] : [];
}

/** Runs fn, mapping SQLite's errors onto Keyhold's. */
export function guarded<T>(vaultPath: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw mapDbError(e, vaultPath);
  }
}

/** Maps a filesystem error onto the error shape; `creating` words ENOENT for a new vault. */
export function fsError(e: unknown, vaultPath: string, doing: string, creating = false): KeyholdError {
  const code = errorCode(e);
  switch (code) {
    case 'ENOENT':
      if (creating) {
        return new KeyholdError('PATH_NOT_WRITABLE', `vault: cannot create ${vaultPath}: the folder does not exist`,
          'Create the folder first, or choose another path.');
      }
      return new KeyholdError('VAULT_NOT_FOUND', `vault: no vault at ${vaultPath}`,
        'Check the path, or create a vault with `keyhold init`.');
    case 'ENOTDIR':
      return new KeyholdError('PATH_NOT_WRITABLE', `vault: ${vaultPath}: a part of the path is not a folder`);
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new KeyholdError('PATH_NOT_WRITABLE', `vault: cannot ${doing} ${vaultPath}: permission denied`,
        'Choose a folder you can write to.');
    default:
      return new KeyholdError('PATH_NOT_WRITABLE', `vault: cannot ${doing} ${vaultPath} (${code || 'I/O error'})`);
  }
}

/** How a vault file can be opened: read-write, or (a write-protected file, folder or medium) read-only. */
export type VaultAccess = Readonly<{ writable: boolean; why: string }>;

function canWrite(p: string): string | null {
  try {
    fs.accessSync(p, fs.constants.W_OK);
    return null;
  } catch (e) {
    const code = errorCode(e);
    return code === 'EROFS' ? 'on a read-only file system' : code === 'EPERM' ? 'write-protected (immutable)' : 'not writable';
  }
}

/**
 * Whether the vault can be written: the file, its folder (SQLite keeps its
 * write-ahead log there) and an existing -wal must all be writable. The
 * check is the kernel's (access(2)), so a read-only mount or an immutable
 * file is seen even by root.
 */
export function vaultAccess(vaultPath: string): VaultAccess {
  const file = canWrite(vaultPath);
  if (file !== null) return { writable: false, why: `the file is ${file}` };
  const dir = canWrite(path.dirname(vaultPath));
  if (dir !== null) return { writable: false, why: `its folder is ${dir}` };
  if (fs.existsSync(`${vaultPath}-wal`) && canWrite(`${vaultPath}-wal`) !== null) {
    return { writable: false, why: 'its write-ahead log (-wal) is not writable' };
  }
  return { writable: true, why: '' };
}

/** Checks made before SQLite opens the file, so that a wrong file gets a clear error. Returns how it can be opened. */
export function checkVaultFile(vaultPath: string): VaultAccess {
  let st: fs.Stats;
  try {
    st = fs.statSync(vaultPath);
  } catch (e) {
    throw fsError(e, vaultPath, 'open');
  }
  if (!st.isFile()) {
    throw new KeyholdError('NOT_A_VAULT', `vault: ${vaultPath} is not a file`);
  }
  try {
    fs.accessSync(vaultPath, fs.constants.R_OK);
  } catch (e) {
    throw new KeyholdError('PATH_NOT_WRITABLE', `vault: cannot read ${vaultPath} (${errorCode(e) || 'I/O error'})`,
      'Check the file\'s permissions: Keyhold needs to read the vault (and to write it for changes).');
  }
  // The 100-byte SQLite header is read raw, so a file that is not a vault is
  // refused before SQLite opens it (and before any pragma could change it).
  const head = Buffer.alloc(100);
  let fd: number | undefined;
  try {
    fd = fs.openSync(vaultPath, 'r');
    const n = fs.readSync(fd, head, 0, head.length, 0);
    if (n < SQLITE_MAGIC.length || !head.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC)) {
      throw new KeyholdError('NOT_A_VAULT', `vault: ${vaultPath} is not a Keyhold vault`,
        st.size === 0 ? 'The file is empty.' : 'The file is not a SQLite database.');
    }
    if (n < head.length) {
      throw new KeyholdError('VAULT_CORRUPT', `vault: ${vaultPath} is damaged (shorter than a SQLite header)`,
        'Restore the vault from a backup.');
    }
    // application_id: big-endian at offset 68 of the header.
    if (head.readUInt32BE(68) !== APPLICATION_ID) {
      throw new KeyholdError('NOT_A_VAULT', `vault: ${vaultPath} is a SQLite database but not a Keyhold vault`);
    }
    // A closed vault has no write-ahead log, and its header's page count is
    // then the file's true length: a shorter file lost its tail, even where
    // the lost bytes belonged to pages that no query happens to read.
    const pageSize = head.readUInt16BE(16) === 1 ? 65536 : head.readUInt16BE(16);
    const pages = head.readUInt32BE(28);
    const walSize = fs.statSync(`${vaultPath}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    if (walSize === 0 && pages > 0 && head.readUInt32BE(24) === head.readUInt32BE(92) && st.size < pages * pageSize) {
      throw new KeyholdError('VAULT_CORRUPT', `vault: ${vaultPath} is damaged (truncated: ${st.size} of ${pages * pageSize} bytes)`,
        'Restore the vault from a backup.');
    }
  } catch (e) {
    if (e instanceof KeyholdError) throw e;
    throw fsError(e, vaultPath, 'read');
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  return vaultAccess(vaultPath);
}

/** Checks that a new vault may be written at this path. */
export function checkNewVaultPath(vaultPath: string): void {
  if (fs.existsSync(vaultPath)) {
    throw new KeyholdError('VAULT_EXISTS', `vault: ${vaultPath} already exists`,
      'Keyhold never overwrites a vault. Choose another path or move the file away.');
  }
  const dir = path.dirname(path.resolve(vaultPath));
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    throw fsError(e, vaultPath, 'create', true);
  }
  if (!st.isDirectory()) {
    throw new KeyholdError('PATH_NOT_WRITABLE', `vault: ${dir} is not a folder`);
  }
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    throw fsError(e, vaultPath, 'create', true);
  }
}

/**
 * Opens a SQLite connection with the vault's pragmas and takes the exclusive
 * lock: with locking_mode=EXCLUSIVE set before WAL is first touched, SQLite
 * keeps the lock until the connection closes and never creates a -shm file,
 * so a second process gets SQLITE_BUSY (VAULT_IN_USE), not a shared file.
 */
export function openConnection(vaultPath: string, opts: { create: boolean }): Db {
  return guarded(vaultPath, () => {
    const db = new Database(vaultPath, { fileMustExist: !opts.create, timeout: 0 });
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('secure_delete = ON');
      db.pragma('trusted_schema = OFF');
      // Up to 256 MiB of page cache (used only as the file grows): a 100,000-key vault
      // with its audit log is over 100 MiB, and random key ids
      // make index inserts touch pages all over the file.
      db.pragma('cache_size = -262144');
      // Take the write lock now, so "in use" is known at open rather than mid-command.
      db.exec('BEGIN EXCLUSIVE; COMMIT;');
      return db;
    } catch (e) {
      db.close();
      throw e;
    }
  });
}

/** The VAULT_READ_ONLY error for a change refused on a vault opened read-only. */
export function readOnlyError(vaultPath: string, why: string): KeyholdError {
  return new KeyholdError('VAULT_READ_ONLY',
    `vault: ${vaultPath} is open read-only (${why}): changes, reveals and housekeeping are refused`,
    'Reading commands work. To change the vault, copy it (with any -wal file beside it) to a writable folder and use the copy, or make the file and its folder writable.');
}

/**
 * Opens a vault that cannot be written (vaultAccess), for reading: an in-memory snapshot of
 * the file, made read-only. SQLite cannot read a WAL-mode file in place
 * without creating (or writing) its -wal and -shm beside it, which a
 * write-protected folder or medium refuses, and which would leave files in a
 * backup folder; the snapshot writes nothing anywhere and takes no lock.
 *
 * A closed vault has no write-ahead log, so the file holds every committed
 * change. A -wal with content holds changes the file does not (a Keyhold that
 * still has the vault open, or one that crashed): they cannot be applied
 * without writing, so the open is refused. The file is read in one go and
 * checked again afterwards, so a change made meanwhile (by another user who
 * can write it) is caught rather than read torn.
 */
export function openReadOnly(vaultPath: string, why: string): Db {
  const walSize = (): number => fs.statSync(`${vaultPath}-wal`, { throwIfNoEntry: false })?.size ?? 0;
  const pendingLog = () => new KeyholdError('VAULT_READ_ONLY',
    `vault: ${vaultPath} is read-only (${why}) and has a write-ahead log (${path.basename(vaultPath)}-wal) with changes not yet in the file`,
    'Another Keyhold has the vault open, or one was stopped before it closed the vault. Close the other Keyhold and try again, ' +
    'or copy the vault with its -wal file to a writable folder and open the copy there (Keyhold then applies the log).');
  if (walSize() > 0) throw pendingLog();
  let image: Buffer;
  try {
    const before = fs.statSync(vaultPath);
    image = fs.readFileSync(vaultPath);
    const after = fs.statSync(vaultPath);
    if (walSize() > 0) throw pendingLog();
    if (before.mtimeMs !== after.mtimeMs || before.size !== after.size || image.length !== after.size) {
      throw new KeyholdError('VAULT_IN_USE', `vault: ${vaultPath} changed while it was being read`,
        'Another process is writing it. Close it and try again.');
    }
  } catch (e) {
    if (e instanceof KeyholdError) throw e;
    throw fsError(e, vaultPath, 'read');
  }
  // Bytes 18 and 19 of the header are 2 in WAL mode, which an in-memory
  // database cannot use: 1 (rollback journal) reads the same pages.
  if (image.length >= 20 && image[18] === 2 && image[19] === 2) {
    image[18] = 1;
    image[19] = 1;
  }
  return guarded(vaultPath, () => {
    const db = new Database(image, { readonly: true, timeout: 0 });
    try {
      db.pragma('foreign_keys = ON');
      db.pragma('trusted_schema = OFF');
      return db;
    } catch (e) {
      db.close();
      throw e;
    }
  });
}

const expectedSchemas = new Map<number, string>();

/** The schema (sqlite_schema rows) a vault at `version` must have, made by running the migrations in memory. */
function expectedSchema(version: number): string {
  let s = expectedSchemas.get(version);
  if (s === undefined) {
    const mem = new Database(':memory:');
    try {
      for (const m of MIGRATIONS) if (m.version <= version) m.up(mem);
      s = schemaText(mem);
    } finally {
      mem.close();
    }
    expectedSchemas.set(version, s);
  }
  return s;
}

function schemaText(db: Db): string {
  return JSON.stringify(db.prepare('SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name').all());
}

/**
 * A damaged schema page can rename a column and still parse; SQLite's own
 * checks accept it. Comparing with the schema the migrations make names it.
 */
function checkSchema(db: Db, vaultPath: string, version: number): void {
  if (schemaText(db) !== expectedSchema(version)) {
    throw new KeyholdError('VAULT_CORRUPT', `vault: ${vaultPath} is damaged (its schema is not that of version ${version})`,
      'Restore the vault from a backup. Keyhold did not change it.');
  }
}

/** Brings a new, empty file to the current schema and marks it as a vault. */
export function initSchema(db: Db): void {
  db.transaction(() => {
    db.pragma(`application_id = ${APPLICATION_ID}`);
    for (const m of MIGRATIONS) m.up(db);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}

/**
 * Checks that an open file is a vault this build can read, and runs SQLite's
 * own structural check so that a damaged file is named as such before any of
 * its content is used. Pending migrations run later, after a successful
 * unlock (Vault), so that a wrong passphrase never changes the file. With
 * `content: false` SQLite's checks of the whole file are left to the caller,
 * who runs checkContent before trusting anything it read but the checksummed
 * metadata and keyslots (Vault.unlockWith runs it while Argon2id derives).
 */
export function prepareExisting(db: Db, vaultPath: string, opts: Readonly<{ content?: boolean }> = {}): number {
  return guarded(vaultPath, () => {
    const appId = db.pragma('application_id', { simple: true }) as number;
    if (appId !== APPLICATION_ID) {
      throw new KeyholdError('NOT_A_VAULT', `vault: ${vaultPath} is a SQLite database but not a Keyhold vault`);
    }
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new KeyholdError('VAULT_TOO_NEW',
        `vault: ${vaultPath} has schema version ${version}; this Keyhold reads up to ${SCHEMA_VERSION}`,
        'Open it with a newer Keyhold. It was not changed.');
    }
    if (version < 1) {
      throw new KeyholdError('VAULT_CORRUPT', `vault: ${vaultPath} has no schema version`,
        'The file may come from an interrupted creation; Keyhold never leaves one at the final path.');
    }
    checkSchema(db, vaultPath, version);
    if (opts.content !== false) checkContent(db, vaultPath);
    return version;
  });
}

/**
 * SQLite's own checks of the whole file, the slow part of opening a large
 * vault (about a third of a second at 100,000 keys): rows whose parent is
 * gone, and integrity_check. VAULT_CORRUPT names a damaged file.
 */
export function checkContent(db: Db, vaultPath: string): void {
  guarded(vaultPath, () => {
    // Rows whose parent is gone (a key deleted with foreign keys off) are damage too.
    if ((db.pragma('foreign_key_check') as unknown[]).length > 0) {
      throw new KeyholdError('VAULT_CORRUPT', `vault: ${vaultPath} is damaged (rows refer to keys that are gone)`,
        'Restore the vault from a backup. Keyhold did not change it.');
    }
    // integrity_check, not quick_check: it also compares every index with its
    // table, so a damaged row cannot make a key vanish from a list unnoticed.
    const check = db.pragma('integrity_check(1)', { simple: true }) as string;
    if (check !== 'ok') {
      throw new KeyholdError('VAULT_CORRUPT', `vault: ${vaultPath} is damaged (SQLite integrity_check: ${check})`,
        'Restore the vault from a backup. Keyhold did not change it.');
    }
  });
}
