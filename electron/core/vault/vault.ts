/**
 * The vault: one SQLite file, envelope-encrypted under a random 256-bit vault
 * master key (VMK) that only ever exists wrapped in keyslots or in this
 * object's memory while unlocked.
 *
 * From the VMK, HKDF (salt: vault id) derives one key per purpose:
 *   secret  AES-256-GCM for API key secrets
 *   field   AES-256-GCM for other sensitive fields (notes)
 *   mac     HMAC-SHA256 over every row, so that any edit made outside
 *           Keyhold (a widened scope, a changed state) is refused
 * Sealed values carry an AAD that binds table, record, version and field.
 */

import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KdfParams, KeyslotInfo, VaultInfo } from '../../../shared/contract.js';
import { errorCode, KeyholdError, strictAssert } from '../../../shared/errors.js';
import { fsyncDir, fsyncFile } from '../fsutil.js';
import { canonicalRow, equalBytes, equalMacHex, hkdf, hmac, MacKey, open, seal, sha256, sha256Hex, wipe } from '../crypto/primitives.js';
import {
  checkNewVaultPath,
  checkVaultFile,
  fsError,
  checkContent,
  guarded,
  initSchema,
  mapDbError,
  openConnection,
  openReadOnly,
  prepareExisting,
  readOnlyError,
  stmt,
  type Db,
  type VaultAccess,
} from './db.js';
import { entryHashOf, genesisHash, headMacFields, type ChainHead } from '../audit/chain.js';
import { defaultActor, workstation } from '../audit/workstation.js';
import { canonicalJson } from '../../../shared/canonical-json.js';
import { calibrateKdf, type StoredKdfParams } from './kdf.js';
import {
  describeSlot,
  makePassphraseSlot,
  passphraseOpener,
  slotChecksum,
  slotMacFields,
  unwrapPassphraseSlot,
  type KeyslotRow,
  type NewKeyslot,
  type SlotOpener,
} from './keyslots.js';
import { MacWorker } from './mac-worker.js';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';

export type Clock = () => Date;

export type VaultOptions = Readonly<{
  /** Argon2id parameters for a new passphrase slot; calibrated when absent. */
  kdf?: KdfParams | undefined;
  clock?: Clock | undefined;
  /** Who is acting, for the audit log (default: the OS user). */
  actor?: string | undefined;
  /**
   * How long to wait for a vault another process holds (milliseconds; 0, the
   * default, fails at once with VAULT_IN_USE). The open is retried until the
   * lock is free or the time is up.
   */
  waitMs?: number | undefined;
  /** Told what the open or creation did besides (leftovers of an interrupted creation removed). */
  onNotice?: ((text: string) => void) | undefined;
  /**
   * At unlock: runs once the vault is open and its keyslots and metadata are
   * checked, before anything is written (migrations, cleanup); a throw closes
   * the vault unchanged. The rollback check on tokens (token/anchor.ts) runs here.
   */
  beforeChanges?: ((vault: Vault) => Promise<void> | void) | undefined;
  /**
   * At creation: rows written in the creation's own transaction (the first
   * operator, electron/core/operators); what it returns is added to the
   * details of the vault.create entry.
   */
  seed?: ((tx: CreationTx) => Record<string, unknown>) | undefined;
}>;

/** What a creation seed may use: the new file, its row MAC and field sealing, and the creation time. */
export type CreationTx = Readonly<{
  db: Db;
  mac: (table: string, fields: readonly unknown[]) => Buffer;
  sealField: (aad: string, plaintext: string) => Buffer;
  now: string;
}>;

/** What an audit entry says; written with the change it records. */
export type AuditEvent = Readonly<{
  action: string;
  subject: string;
  keyId?: string | null | undefined;
  details?: Record<string, unknown> | undefined;
  /**
   * The details already serialized, for batch writers that build the text
   * directly: it must be exactly canonicalJson(details) (audit-log.md, 1.3),
   * which their tests hold it to. Used instead of `details` when given.
   */
  detailsJson?: string | undefined;
}>;

type PurposeKeys = { vmk: Buffer; secret: Buffer; field: Buffer; mac: Buffer };

type MetaRow = { vault_id: string; created_at: string; checksum: Buffer; mac: Buffer };

/** Plain SHA-256 of the metadata row: the vault id feeds every AAD, so damage to it is named before unlock. */
export function metaChecksum(vaultId: string, createdAt: string): Buffer {
  return sha256(canonicalRow('vault_meta', [vaultId, createdAt]));
}

const INTEGRITY_HINT = 'The vault file was altered outside Keyhold or is damaged. Restore it from a backup.';

function deriveKeys(vmk: Buffer, vaultId: string): PurposeKeys {
  return {
    vmk,
    secret: hkdf(vmk, vaultId, 'keyhold/v1 seal secret'),
    field: hkdf(vmk, vaultId, 'keyhold/v1 seal field'),
    mac: hkdf(vmk, vaultId, 'keyhold/v1 row mac'),
  };
}

/** AAD for a sealed value: binds table, record, version and field. */
export function fieldAad(table: string, record: string, version: number, field: string): string {
  // JSON.stringify(['keyhold/v1', table, record, version, field]), element by element (the same text; an
  // array through JSON.stringify costs several times more, once per sealed value).
  return `["keyhold/v1",${JSON.stringify(table)},${JSON.stringify(record)},${JSON.stringify(version)},${JSON.stringify(field)}]`;
}

export function bytesFromPassphrase(p: string): Buffer {
  // NFC, as RFC 8265 prepares passwords: the same passphrase typed on two
  // systems may reach us in different Unicode normal forms.
  return Buffer.from(p.normalize('NFC'), 'utf8');
}

export class Vault {
  readonly path: string;
  readonly id: string;
  readonly createdAt: string;
  readonly schemaVersion: number;
  readonly clock: Clock;
  /** The unlocking identity (options' actor or the OS user): what the log says until an operator signs in. */
  readonly #unlockActor: string;
  #actor: string;
  /** Details every entry gets while a dual-controlled command runs (approvedBy): KeyholdService.call sets them. */
  #extraDetails: Record<string, unknown> | null = null;
  /** Opened read-only (the file, its folder or its medium is write-protected): every change is refused. */
  readonly readOnly: boolean;
  readonly #readOnlyWhy: string;
  #db: Db | null;
  #keys: PurposeKeys | null;
  #head: ChainHead;
  #headError: KeyholdError | null = null;
  /** The log does not end at the head (AUDIT_TRUNCATED: entries cut off; INTEGRITY: others): changes are refused. */
  #tailError: KeyholdError | null = null;
  #recovering = false;
  #inTransaction = false;
  #appended = 0;
  /** Inside rehearse(): every transaction is rolled back at its end instead of committed. */
  #rehearsing = false;
  #macKey: MacKey | null = null;
  /** Row MAC checks off the main thread (mac-worker.ts): started on first use, stopped at lock. */
  #macWorker: MacWorker | null = null;

  private constructor(p: string, db: Db, meta: MetaRow, keys: PurposeKeys, opts: VaultOptions, access: VaultAccess) {
    this.path = p;
    this.readOnly = !access.writable;
    this.#readOnlyWhy = access.why;
    this.id = meta.vault_id;
    this.createdAt = meta.created_at;
    this.schemaVersion = SCHEMA_VERSION;
    this.clock = opts.clock ?? (() => new Date());
    this.#unlockActor = opts.actor ?? defaultActor();
    this.#actor = this.#unlockActor;
    this.#db = db;
    this.#keys = keys;
    this.#head = { seq: 0, hash: genesisHash(meta.vault_id) };
    this.#loadHead();
  }

  // ---- creation and unlock ------------------------------------------------

  /**
   * Creates a vault with one passphrase keyslot and returns it unlocked. The
   * file is built under a temporary name and linked into place only when
   * complete, so a crash never leaves a half-made vault at `vaultPath`, and an
   * existing file is never overwritten.
   */
  static async create(vaultPath: string, passphrase: string, opts: VaultOptions = {}): Promise<Vault> {
    const target = path.resolve(vaultPath);
    checkNewVaultPath(target);
    removeCreationLeftovers(target, opts.onNotice);
    const clock = opts.clock ?? (() => new Date());
    const tmp = creatingPath(target);
    // The file is made 0600 before SQLite opens it (its -wal inherits the
    // mode), and before any slow KDF work, so an unwritable place fails fast.
    try {
      fs.writeFileSync(tmp, '', { mode: 0o600, flag: 'wx' });
    } catch (e) {
      throw fsError(e, target, 'create', true);
    }
    let kdf: KdfParams;
    try {
      kdf = opts.kdf ?? (await calibrateKdf());
    } catch (e) {
      removeQuietly(tmp);
      throw e;
    }
    const vmk = randomBytes(32);
    const vaultId = randomUUID();
    const createdAt = clock().toISOString();
    const pass = bytesFromPassphrase(passphrase);
    let keys: PurposeKeys | null = null;
    try {
      const slot = await makePassphraseSlot(vaultId, 1, vmk, pass, kdf, 'passphrase');
      keys = deriveKeys(vmk, vaultId);
      const k = keys;
      const db = openConnection(tmp, { create: true });
      try {
        guarded(tmp, () => {
          initSchema(db);
          db.transaction(() => {
            db.prepare('INSERT INTO vault_meta (id, vault_id, created_at, checksum, mac) VALUES (1, ?, ?, ?, ?)').run(
              vaultId, createdAt, metaChecksum(vaultId, createdAt), macOf(k.mac, 'vault_meta', [vaultId, createdAt]));
            insertSlot(db, k.mac, 1, slot, createdAt);
            const seeded = opts.seed?.({ db, mac: (table, fields) => macOf(k.mac, table, fields),
              sealField: (aad, text) => seal(k.field, Buffer.from(text, 'utf8'), aad), now: createdAt }) ?? {};
            const entry = appendEntry(db, { seq: 0, hash: genesisHash(vaultId) }, {
              at: createdAt, actor: opts.actor ?? defaultActor(), action: 'vault.create', subject: 'vault',
              keyId: null, details: { vaultId, keyslot: { id: 1, type: 'passphrase' }, kdf, ...seeded },
            });
            writeHead(db, k.mac, entry);
          })();
        });
      } finally {
        db.close();
      }
      fsyncFile(tmp);
      publish(tmp, target);
    } catch (e) {
      if (keys) wipe(keys.secret, keys.field, keys.mac);
      wipe(vmk);
      removeQuietly(tmp);
      if (e instanceof KeyholdError) throw e;
      const code = errorCode(e);
      if (code.startsWith('SQLITE_')) throw mapDbError(e, target);
      throw /^E[A-Z]+$/.test(code) ? fsError(e, target, 'create', true) : e;
    } finally {
      wipe(pass);
    }
    const db = openConnection(target, { create: false });
    try {
      prepareExisting(db, target);
      const meta = readMeta(db, target);
      return new Vault(target, db, meta, keys, { ...opts, clock }, { writable: true, why: '' });
    } catch (e) {
      db.close();
      wipe(keys.vmk, keys.secret, keys.field, keys.mac);
      throw e;
    }
  }

  /**
   * Opens and unlocks a vault with a passphrase. Every passphrase slot costs a
   * full Argon2id derivation whatever the outcome; a wrong passphrase changes
   * nothing in the file.
   */
  static unlock(vaultPath: string, passphrase: string, opts: VaultOptions = {}): Promise<Vault> {
    return Vault.unlockWith(vaultPath, passphraseOpener(bytesFromPassphrase(passphrase)), opts);
  }

  /**
   * Opens and unlocks a vault with any unlock method: every slot of the
   * opener's type is tried (a passphrase costs a full KDF per slot whatever
   * the outcome); damaged slots are named; a refusal changes nothing.
   */
  static async unlockWith(vaultPath: string, opener: SlotOpener, opts: VaultOptions = {}): Promise<Vault> {
    const target = path.resolve(vaultPath);
    let access: VaultAccess;
    let db: Db;
    try {
      access = checkVaultFile(target);
      // A write-protected vault (a backup on read-only media, say) is read
      // from an in-memory snapshot: reading commands work, changes are refused.
      db = access.writable ? await openWhenFree(target, opts.waitMs ?? 0) : openReadOnly(target, access.why);
    } catch (e) {
      opener.dispose();
      throw e;
    }
    let vmk: Buffer | null = null;
    try {
      prepareExisting(db, target, { content: false });
      let meta: MetaRow;
      let rows: KeyslotRow[];
      try {
        meta = readMeta(db, target); // checksummed
        rows = guarded(target, () => db.prepare('SELECT * FROM keyslots ORDER BY id').all() as KeyslotRow[]); // each checksummed before use
      } catch (e) {
        checkContent(db, target); // a damaged file is named as such first, as ever
        throw e;
      }
      // Argon2id runs in libuv's thread pool: SQLite's check of the whole file
      // runs on this thread meanwhile, and is answered first, as it was when it
      // ran before. Nothing else is read from the file until both are done.
      const opening = openKeyslots(meta.vault_id, rows, opener);
      try {
        checkContent(db, target);
      } catch (e) {
        await opening.then((r) => wipe(r.vmk), () => undefined);
        throw e;
      }
      vmk = (await opening).vmk;
      const keys = deriveKeys(vmk, meta.vault_id);
      const vault = new Vault(target, db, meta, keys, opts, access);
      vmk = null;
      vault.#checkMeta(meta);
      vault.#readSlots(); // checks every slot's checksum and MAC
      try {
        await opts.beforeChanges?.(vault);
      } catch (e) {
        vault.lock();
        throw e;
      }
      vault.#migrate();
      if (access.writable) removeCreationLeftovers(target, opts.onNotice);
      else opts.onNotice?.(`opened ${target} read-only (${access.why}): reading commands work; changes and reveals are refused`);
      return vault;
    } catch (e) {
      wipe(vmk);
      if (db.open) db.close();
      throw mapDbError(e, target);
    } finally {
      opener.dispose();
    }
  }

  // ---- state --------------------------------------------------------------

  get isUnlocked(): boolean {
    return this.#keys !== null;
  }

  /** Zeroes every key held in memory and closes the file. Idempotent. */
  lock(): void {
    if (this.#keys) {
      wipe(this.#keys.vmk, this.#keys.secret, this.#keys.field, this.#keys.mac);
      this.#keys = null;
    }
    this.#macKey?.wipe();
    this.#macKey = null;
    this.#macWorker?.close();
    this.#macWorker = null;
    if (this.#db) {
      try {
        this.#db.close();
      } finally {
        this.#db = null;
      }
    }
  }

  #need(): { db: Db; keys: PurposeKeys } {
    if (!this.#db || !this.#keys) {
      throw new KeyholdError('VAULT_LOCKED', 'vault: locked', 'Unlock the vault first.');
    }
    return { db: this.#db, keys: this.#keys };
  }

  /** The open connection, for the core's repositories. */
  get db(): Db {
    return this.#need().db;
  }

  /**
   * Runs a change in one SQLite transaction with its audit entries: all of it
   * is written, or none. A change that appends no audit entry is refused, so
   * no code path can change the vault without recording it.
   */
  transaction<T>(fn: () => T): T {
    const { db, keys } = this.#need();
    strictAssert(!this.#inTransaction, 'vault transactions do not nest');
    if (this.readOnly) throw readOnlyError(this.path, this.#readOnlyWhy);
    if (this.#tailError && !this.#recovering) throw this.#tailError;
    const before = this.#head;
    this.#inTransaction = true;
    this.#appended = 0;
    try {
      return guarded(this.path, () =>
        db.transaction(() => {
          const out = fn();
          strictAssert(this.#appended > 0, 'a vault change must write its audit entry');
          writeHead(db, keys.mac, this.#head);
          // A rehearsal (dry run) has done everything the change does; throwing now rolls all of it back.
          if (this.#rehearsing) throw new Rehearsed(out);
          return out;
        })(),
      );
    } catch (e) {
      this.#head = before;
      if (e instanceof Rehearsed) return e.value as T;
      throw e;
    } finally {
      this.#inTransaction = false;
    }
  }

  /**
   * A dry run: runs fn, a command's own code, with every transaction it
   * makes run to its end (checks, writes, audit entries) and then rolled
   * back instead of committed, and returns what fn returned: the would-be
   * result. Nothing of it reaches the file, the audit log included. For
   * commands that change the vault in one transaction (a second one would
   * not see the first's changes).
   */
  rehearse<T>(fn: () => T): T {
    strictAssert(!this.#rehearsing && !this.#inTransaction, 'a rehearsal runs outside any transaction');
    this.#rehearsing = true;
    try {
      return fn();
    } finally {
      this.#rehearsing = false;
    }
  }

  /** Whether this is a dry run (rehearse): work outside the transaction that would change something is skipped. */
  get rehearsing(): boolean {
    return this.#rehearsing;
  }

  /** Who the log names as actor: the signed-in operator (electron/core/operators), else the unlocking identity. */
  get actor(): string {
    return this.#actor;
  }

  /** The signed-in operator's name becomes every entry's actor; null: back to the unlocking identity. */
  actAs(name: string | null): void {
    this.#actor = name ?? this.#unlockActor;
  }

  /** Runs fn with `extra` merged into the details of every entry it writes (a dual-control approval's names). */
  async withAuditDetails<T>(extra: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    const before = this.#extraDetails;
    this.#extraDetails = { ...before, ...extra };
    try {
      return await fn();
    } finally {
      this.#extraDetails = before;
    }
  }

  /** Appends an audit entry; only inside transaction(), with the change it records. */
  audit(event: AuditEvent): void {
    const { db } = this.#need();
    strictAssert(this.#inTransaction, 'audit entries are written inside a vault transaction');
    if (this.#headError) throw this.#headError;
    const extra = this.#extraDetails;
    const details = extra === null ? event.details ?? {}
      : { ...(event.detailsJson !== undefined ? JSON.parse(event.detailsJson) as Record<string, unknown> : event.details ?? {}), ...extra };
    this.#head = appendEntry(db, this.#head, {
      at: this.#entryTime(), actor: this.#actor, action: event.action, subject: event.subject,
      keyId: event.keyId ?? null, details, detailsJson: extra === null ? event.detailsJson : undefined,
    });
    this.#appended++;
  }

  #lastMs = NaN;
  #lastIso = '';

  /** now() for an entry; a batch appends many entries in the same millisecond, formatted once. */
  #entryTime(): string {
    const ms = this.clock().getTime();
    if (ms !== this.#lastMs) {
      this.#lastIso = new Date(ms).toISOString();
      this.#lastMs = ms;
    }
    return this.#lastIso;
  }

  /** The chain head as stored (sequence and hash of the last entry). */
  get auditHead(): ChainHead {
    return this.#head;
  }

  /** Why appends are refused (the stored head failed its MAC), or null. */
  get auditHeadError(): KeyholdError | null {
    return this.#headError;
  }

  /**
   * Why the log does not end at its (MAC-valid) head, or null:
   * AUDIT_TRUNCATED when entries were cut off the end (`audit recover`
   * resolves it), INTEGRITY when the last entry is not the head's.
   */
  get auditTailError(): KeyholdError | null {
    return this.#tailError;
  }

  /**
   * Why a change (any write, a reveal, housekeeping) would be refused now, or
   * null: the vault is open read-only (VAULT_READ_ONLY), or its audit log
   * cannot take an entry (INTEGRITY, AUDIT_TRUNCATED). Commands check it
   * before any work; transaction() enforces it.
   */
  get writeRefusal(): KeyholdError | null {
    if (this.readOnly) return readOnlyError(this.path, this.#readOnlyWhy);
    return this.#headError ?? this.#tailError;
  }

  /**
   * Resolves a log cut off at the end (AUDIT_TRUNCATED): the head moves back
   * to `last`, the last entry of the intact chain (recoverAudit in
   * audit/log.ts walks it), and an `audit.recover` entry recording the old
   * head, the new one and the reason is appended after it, in one
   * transaction. The lost entries stay lost: the entry records the gap.
   */
  recoverTruncatedLog(last: ChainHead, reason: string): { oldHead: ChainHead; newHead: ChainHead; head: ChainHead } {
    this.#need();
    if (this.readOnly) throw readOnlyError(this.path, this.#readOnlyWhy);
    if (this.#headError) throw this.#headError;
    const old = this.#head;
    if (this.#tailError?.code !== 'AUDIT_TRUNCATED') {
      if (this.#tailError) throw this.#tailError;
      throw new KeyholdError('NOTHING_TO_RECOVER', `audit: the log ends at its head (entry ${old.seq}); there is nothing to recover`,
        'Run `keyhold audit verify` to check the whole chain.');
    }
    strictAssert(last.seq < old.seq, 'recovery moves the head back');
    this.#recovering = true;
    try {
      this.transaction(() => {
        this.#head = last;
        this.audit({ action: 'audit.recover', subject: 'audit', details: {
          reason,
          oldHead: { seq: old.seq, hash: old.hash.toString('hex') },
          newHead: { seq: last.seq, hash: last.hash.toString('hex') },
          missing: { from: last.seq + 1, to: old.seq },
        } });
      });
    } finally {
      this.#recovering = false;
    }
    this.#tailError = null;
    return { oldHead: old, newHead: last, head: this.#head };
  }

  #loadHead(): void {
    const row = this.read((db) => db.prepare('SELECT seq, hash, mac FROM audit_head WHERE id = 1').get()) as
      | { seq: unknown; hash: unknown; mac: unknown }
      | undefined;
    if (!row || typeof row.seq !== 'number' || !Buffer.isBuffer(row.hash)) {
      this.#headError = new KeyholdError('INTEGRITY', 'audit: the audit log head is missing or damaged',
        'Run `keyhold audit verify`. Changes are refused until the vault is restored from a backup.');
      return;
    }
    const head = { seq: row.seq, hash: row.hash };
    try {
      this.checkMac('audit_head', headMacFields(head), row.mac, 'the audit log head');
      this.#head = head;
    } catch (e) {
      this.#headError = e as KeyholdError;
      return;
    }
    // The chain must end at the head: entries cut off the end leave a valid
    // head that no entry reaches (audit-log.md, 4).
    const last = this.read((db) => db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get()) as
      | { seq: unknown; hash: unknown }
      | undefined;
    const lastSeq = typeof last?.seq === 'number' ? last.seq : 0;
    if (lastSeq < head.seq) {
      this.#tailError = new KeyholdError('AUDIT_TRUNCATED',
        `audit: the log ends at entry ${lastSeq} but its head is entry ${head.seq}: entries ${lastSeq + 1} to ${head.seq} were cut off`,
        'Changes and reveals are refused until this is resolved. Restore the vault from a backup, or run ' +
        '`keyhold audit recover` to record the loss and continue from the last intact entry.');
    } else if (lastSeq > head.seq || !Buffer.isBuffer(last?.hash) || !last.hash.equals(head.hash)) {
      this.#tailError = new KeyholdError('INTEGRITY', `audit: the log does not end at its head (entry ${head.seq})`,
        'Run `keyhold audit verify`. Changes are refused until the vault is restored from a backup.');
    }
  }

  /** Runs a read, mapping SQLite's errors onto Keyhold's. */
  read<T>(fn: (db: Db) => T): T {
    const { db } = this.#need();
    return guarded(this.path, () => fn(db));
  }

  now(): string {
    return this.clock().toISOString();
  }

  // ---- sealing and row integrity -------------------------------------------

  sealSecret(aad: string, plaintext: Uint8Array): Buffer {
    return seal(this.#need().keys.secret, plaintext, aad);
  }

  openSecret(aad: string, sealed: Uint8Array, what: string): Buffer {
    return open(this.#need().keys.secret, sealed, aad, what);
  }

  sealField(aad: string, plaintext: string): Buffer {
    return plaintext === '' ? Buffer.alloc(0) : seal(this.#need().keys.field, Buffer.from(plaintext, 'utf8'), aad);
  }

  openField(aad: string, sealed: Buffer, what: string): string {
    return sealed.length === 0 ? '' : open(this.#need().keys.field, sealed, aad, what).toString('utf8');
  }

  /**
   * The row MAC key prepared for many MACs (MacKey: the HMAC pads), made on
   * first use from the row MAC key and wiped by lock().
   */
  #rowMacKey(): MacKey {
    const { keys } = this.#need();
    this.#macKey ??= new MacKey(keys.mac);
    return this.#macKey;
  }

  /**
   * The row MAC checker in a worker thread (mac-worker.ts), for bulk reads
   * (keys/rows.ts eachKeyWithCurrent): started on first use with a copy of the
   * row MAC key, reused while unlocked (another is started if it failed), and
   * stopped at lock, when it wipes its copy.
   */
  rowMacWorker(): MacWorker {
    const { keys } = this.#need();
    if (!this.#macWorker?.usable) this.#macWorker = new MacWorker(keys.mac);
    return this.#macWorker;
  }

  /**
   * HMAC-SHA256 under the anchor key, derived from the VMK for this purpose
   * alone (label 'keyhold/v1 token anchor'): the MAC of a token's rollback
   * anchor (token/anchor.ts).
   */
  anchorMac(data: string): Buffer {
    const key = hkdf(this.#need().keys.vmk, this.id, 'keyhold/v1 token anchor');
    try {
      return hmac(key, Buffer.from(data, 'utf8'));
    } finally {
      wipe(key);
    }
  }

  /** MAC over a row: table name and every field, in a fixed order. */
  mac(table: string, fields: readonly unknown[]): Buffer {
    return this.#rowMacKey().macRow(table, fields);
  }

  /** Checks a row's stored MAC (a Buffer, or HexBytes from a bulk read) in constant time. */
  checkMac(table: string, fields: readonly unknown[], mac: unknown, what: string): void {
    if (!equalMacHex(this.#rowMacKey().macRowHex(table, fields), mac)) {
      throw new KeyholdError('INTEGRITY', `vault: integrity check failed for ${what}`, INTEGRITY_HINT);
    }
  }

  #checkMeta(meta: MetaRow): void {
    this.checkMac('vault_meta', [meta.vault_id, meta.created_at], meta.mac, 'the vault metadata');
  }

  #migrate(): void {
    // Pending migrations run only after a successful unlock, so a wrong
    // passphrase never changes the file.
    const { db } = this.#need();
    const version = db.pragma('user_version', { simple: true }) as number;
    if (this.readOnly && version < SCHEMA_VERSION) {
      throw new KeyholdError('VAULT_READ_ONLY',
        `vault: ${this.path} has schema version ${version} and needs an upgrade to ${SCHEMA_VERSION}, which needs write access (${this.#readOnlyWhy})`,
        'Copy the vault to a writable folder and open the copy (it is upgraded there), or open it with the Keyhold that wrote it.');
    }
    for (const m of MIGRATIONS) {
      if (m.version <= version) continue;
      this.transaction(() => {
        m.up(db);
        db.pragma(`user_version = ${m.version}`);
        this.audit({ action: 'vault.migrate', subject: 'vault', details: { from: m.version - 1, to: m.version } });
      });
    }
  }

  // ---- keyslots -----------------------------------------------------------

  #readSlots(): KeyslotRow[] {
    const rows = this.read((db) => db.prepare('SELECT * FROM keyslots ORDER BY id').all() as KeyslotRow[]);
    for (const row of rows) {
      if (!equalBytes(slotChecksum(row), row.checksum)) {
        throw new KeyholdError('VAULT_CORRUPT', `vault: keyslot ${row.id} is damaged`, INTEGRITY_HINT);
      }
      this.checkMac('keyslots', slotMacFields(row), row.mac, `keyslot ${row.id}`);
    }
    return rows;
  }

  listKeyslots(): KeyslotInfo[] {
    return this.#readSlots().map(describeSlot);
  }

  async addPassphraseSlot(passphrase: string, label: string, kdf?: KdfParams): Promise<KeyslotInfo> {
    const { keys } = this.#need();
    const params = kdf ?? (await calibrateKdf());
    const pass = bytesFromPassphrase(passphrase);
    try {
      const id = this.#nextSlotId();
      const slot = await makePassphraseSlot(this.id, id, keys.vmk, pass, params, label || 'passphrase');
      return this.addSlot(slot, id);
    } finally {
      wipe(pass);
    }
  }

  /**
   * Adds a keyslot of any unlock method: `make` receives the VMK (only for the
   * duration of the call), the vault id and the new slot's id, and returns the
   * slot with the VMK wrapped under the method's key and the AAD from wrapAad.
   * Token and quorum slots come through here.
   */
  async addSlotWith(make: (vmk: Buffer, vaultId: string, slotId: number) => Promise<NewKeyslot>, replaces?: number): Promise<KeyslotInfo> {
    const { keys } = this.#need();
    const id = this.#nextSlotId();
    return this.addSlot(await make(keys.vmk, this.id, id), id, replaces);
  }

  /**
   * Stores a finished slot and audits it. With `replaces` (a quorum re-share),
   * that slot is removed in the same transaction: both entries or neither.
   */
  addSlot(slot: NewKeyslot, id: number, replaces?: number): KeyslotInfo {
    const { db, keys } = this.#need();
    const createdAt = this.now();
    const old = replaces === undefined ? undefined : this.#readSlots().find((r) => r.id === replaces);
    if (replaces !== undefined && !old) throw new KeyholdError('KEYSLOT_NOT_FOUND', `vault: no keyslot ${replaces}`, 'See `keyhold slot list`.');
    this.transaction(() => {
      insertSlot(db, keys.mac, id, slot, createdAt);
      this.audit({ action: 'slot.add', subject: `keyslot:${id}`,
        details: { id, type: slot.type, label: slot.label, ...(old ? { replaces: old.id } : {}) } });
      if (old) {
        db.prepare('DELETE FROM keyslots WHERE id = ?').run(old.id);
        this.audit({ action: 'slot.remove', subject: `keyslot:${old.id}`,
          details: { id: old.id, type: old.type, label: old.label, replacedBy: id } });
      }
    });
    return this.listKeyslots().find((s) => s.id === id) as KeyslotInfo;
  }

  #nextSlotId(): number {
    const row = this.read((db) => db.prepare('SELECT coalesce(max(id), 0) + 1 AS n FROM keyslots').get() as { n: number });
    return row.n;
  }

  removeKeyslot(id: number): void {
    const rows = this.#readSlots();
    if (!rows.some((r) => r.id === id)) {
      throw new KeyholdError('KEYSLOT_NOT_FOUND', `vault: no keyslot ${id}`, 'See `keyhold slot list`.');
    }
    if (rows.length === 1) {
      throw new KeyholdError('LAST_KEYSLOT', `vault: keyslot ${id} is the last one and cannot be removed`,
        'Add another keyslot first; without one the vault could never be opened again.');
    }
    const removed = rows.find((r) => r.id === id) as KeyslotRow;
    this.transaction(() => {
      this.db.prepare('DELETE FROM keyslots WHERE id = ?').run(id);
      this.audit({ action: 'slot.remove', subject: `keyslot:${id}`, details: { id, type: removed.type, label: removed.label } });
    });
  }

  /**
   * Re-wraps the VMK under a new passphrase in the slot that `current` opens.
   * The VMK itself does not change, so nothing else in the vault is rewritten.
   */
  async changePassphrase(current: string, next: string, kdf?: KdfParams): Promise<KeyslotInfo> {
    const { db, keys } = this.#need();
    const rows = this.#readSlots().filter((r) => r.type === 'passphrase');
    const cur = bytesFromPassphrase(current);
    const nxt = bytesFromPassphrase(next);
    try {
      let match: KeyslotRow | null = null;
      for (const row of rows) {
        const got = await unwrapPassphraseSlot(this.id, row, cur);
        if (got && equalBytes(got, keys.vmk) && !match) match = row;
        wipe(got);
      }
      if (!match) throw new KeyholdError('WRONG_PASSPHRASE', 'vault: wrong passphrase', 'The vault was not changed.');
      const old = JSON.parse(match.params) as StoredKdfParams;
      const params = kdf ?? { memoryKiB: old.memoryKiB, passes: old.passes, parallelism: old.parallelism };
      const slot = await makePassphraseSlot(this.id, match.id, keys.vmk, nxt, params, match.label);
      const id = match.id;
      const createdAt = match.created_at;
      this.transaction(() => {
        db.prepare('DELETE FROM keyslots WHERE id = ?').run(id);
        insertSlot(db, keys.mac, id, slot, createdAt);
        this.audit({ action: 'passphrase.change', subject: `keyslot:${id}`, details: { id } });
      });
      return this.listKeyslots().find((s) => s.id === id) as KeyslotInfo;
    } finally {
      wipe(cur, nxt);
    }
  }

  // ---- backup ---------------------------------------------------------------

  /**
   * What a backup (electron/core/backup) is made of, in one synchronous step so
   * that it is consistent: the vault file's image (SQLite's serialize, in
   * memory: no copy on disk), the audit head and the keyslot rows it holds,
   * and the key for a backup with this id (backupKey; the caller wipes it).
   */
  backupSnapshot(backupId: string): { image: Buffer; head: ChainHead; slots: KeyslotRow[]; key: Buffer } {
    const { db, keys } = this.#need();
    strictAssert(!this.#inTransaction, 'a backup is taken outside any transaction');
    const slots = this.#readSlots();
    const image = guarded(this.path, () => db.serialize());
    return { image, head: this.#head, slots, key: backupKey(keys.vmk, this.id, backupId) };
  }

  // ---- info ---------------------------------------------------------------

  info(): VaultInfo {
    const counts = this.read((db) => ({
      keys: (db.prepare('SELECT count(*) AS n FROM keys').get() as { n: number }).n,
      keyVersions: (db.prepare('SELECT count(*) AS n FROM key_versions').get() as { n: number }).n,
    }));
    return {
      vaultId: this.id,
      path: this.path,
      schemaVersion: this.schemaVersion,
      createdAt: this.createdAt,
      keyslots: this.listKeyslots(),
      counts,
    };
  }
}

// ---- helpers ------------------------------------------------------------------

/**
 * Tries an unlock method on keyslot rows (a vault's, or those a backup carries:
 * electron/core/backup): every intact slot of the opener's type is tried (a
 * passphrase costs a full KDF per slot whatever the outcome); damaged slots
 * are named. Returns the VMK and the id of the slot that gave it; the caller
 * wipes the VMK and disposes of the opener.
 */
export async function openKeyslots(vaultId: string, rows: readonly KeyslotRow[], opener: SlotOpener,
  damagedHint = INTEGRITY_HINT): Promise<{ vmk: Buffer; slotId: number }> {
  let vmk: Buffer | null = null;
  let slotId = 0;
  const damaged: number[] = [];
  let tried = 0;
  for (const row of rows) {
    if (!equalBytes(slotChecksum(row), row.checksum)) {
      damaged.push(row.id);
      continue;
    }
    if (row.type !== opener.type) continue;
    if (!opener.paramsValid(row)) {
      damaged.push(row.id);
      continue;
    }
    tried++;
    const got = await opener.open(vaultId, row);
    if (got && !vmk) {
      vmk = got;
      slotId = row.id;
    } else wipe(got);
  }
  if (!vmk) {
    if (damaged.length > 0) {
      throw new KeyholdError('VAULT_CORRUPT', `vault: keyslot ${damaged.join(', ')} is damaged`,
        tried > 0 ? `The ${opener.type} opened no intact keyslot. Restore the vault from a backup.` : damagedHint);
    }
    throw tried === 0 ? opener.noSlot() : opener.refused();
  }
  return { vmk, slotId };
}

/**
 * The key that encrypts a backup of the vault (electron/core/backup): a purpose
 * of its own, derived from the VMK like the others (salt: vault id), and one
 * per backup (its random id in the info), so no two backups share a key.
 */
export function backupKey(vmk: Buffer, vaultId: string, backupId: string): Buffer {
  return hkdf(vmk, vaultId, `keyhold/v1 backup ${backupId}`);
}

/** Thrown at the end of a rehearsed transaction (Vault.rehearse) to roll it back; carries its result. */
class Rehearsed extends Error {
  constructor(readonly value: unknown) {
    super('dry run: rolled back');
  }
}

function macOf(key: Buffer, table: string, fields: readonly unknown[]): Buffer {
  return hmac(key, canonicalRow(table, fields));
}

type NewEntry = Readonly<{
  at: string;
  actor: string;
  action: string;
  subject: string;
  keyId: string | null;
  details: Record<string, unknown>;
  detailsJson?: string | undefined;
}>;

const INSERT_ENTRY = `INSERT INTO audit_log (seq, at, actor, host, workstation, action, subject, key_id, details, prev_hash, hash)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** Writes one audit entry after `head` and returns the new head. */
function appendEntry(db: Db, head: ChainHead, e: NewEntry): ChainHead {
  const ws = workstation();
  const seq = head.seq + 1;
  const details = e.detailsJson ?? canonicalJson(e.details);
  const hash = entryHashOf(seq, e.at, e.actor, ws.host, ws.id, e.action, e.subject, e.keyId, details, head.hash);
  try {
    stmt(db, INSERT_ENTRY).run(seq, e.at, e.actor, ws.host, ws.id, e.action, e.subject, e.keyId, details, head.hash, hash);
  } catch (err) {
    if (errorCode(err) === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
      throw new KeyholdError('INTEGRITY', `audit: entry ${seq} already exists past the chain head`,
        'The audit log was altered outside Keyhold. Run `keyhold audit verify`; changes are refused.');
    }
    throw err;
  }
  return { seq, hash };
}

function writeHead(db: Db, macKey: Buffer, head: ChainHead): void {
  stmt(db, 'INSERT OR REPLACE INTO audit_head (id, seq, hash, mac) VALUES (1, ?, ?, ?)')
    .run(head.seq, head.hash, macOf(macKey, 'audit_head', headMacFields(head)));
}

function insertSlot(db: Db, macKey: Buffer, id: number, slot: NewKeyslot, createdAt: string): void {
  const base = { id, type: slot.type, label: slot.label, created_at: createdAt, params: slot.params, wrapped: slot.wrapped };
  const checksum = slotChecksum(base);
  const mac = macOf(macKey, 'keyslots', slotMacFields({ ...base, checksum }));
  db.prepare('INSERT INTO keyslots (id, type, label, created_at, params, wrapped, checksum, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    .run(id, slot.type, slot.label, createdAt, slot.params, slot.wrapped, checksum, mac);
}

function readMeta(db: Db, vaultPath: string): MetaRow {
  const row = guarded(vaultPath, () =>
    db.prepare('SELECT vault_id, created_at, checksum, mac FROM vault_meta WHERE id = 1').get()) as MetaRow | undefined;
  if (!row || typeof row.vault_id !== 'string' || typeof row.created_at !== 'string' || !Buffer.isBuffer(row.mac) ||
      !Buffer.isBuffer(row.checksum)) {
    throw new KeyholdError('VAULT_CORRUPT', `vault: ${vaultPath} has no vault metadata`, INTEGRITY_HINT);
  }
  if (!equalBytes(metaChecksum(row.vault_id, row.created_at), row.checksum)) {
    throw new KeyholdError('VAULT_CORRUPT', 'vault: the vault metadata is damaged', INTEGRITY_HINT);
  }
  return row;
}

/** Moves a finished file into place without ever replacing an existing one (also a restored backup: electron/core/backup). */
export function publish(tmp: string, target: string): void {
  try {
    fs.linkSync(tmp, target);
    fs.unlinkSync(tmp);
  } catch (e) {
    const code = errorCode(e);
    if (code === 'EEXIST') {
      throw new KeyholdError('VAULT_EXISTS', `vault: ${target} already exists`,
        'Keyhold never overwrites a vault. Choose another path or move the file away.');
    }
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
    // Filesystems without hard links (FAT on removable media): check, then rename.
    if (fs.existsSync(target)) {
      throw new KeyholdError('VAULT_EXISTS', `vault: ${target} already exists`);
    }
    fs.renameSync(tmp, target);
  }
  fsyncDir(path.dirname(target));
}

/**
 * Opens a vault for writing, waiting up to `waitMs` for another process to
 * let it go: the open is retried every so often until it succeeds or the time
 * is up (then VAULT_IN_USE, saying how long it waited).
 */
async function openWhenFree(target: string, waitMs: number): Promise<Db> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return openConnection(target, { create: false });
    } catch (e) {
      if (!(e instanceof KeyholdError) || e.code !== 'VAULT_IN_USE') throw e;
      const left = deadline - Date.now();
      if (left <= 0) {
        if (waitMs <= 0) throw e;
        throw new KeyholdError('VAULT_IN_USE',
          `vault: ${target} is still in use by another Keyhold process after waiting ${Math.round(waitMs / 1000)} s`,
          'Let the other command finish (or close the other Keyhold window) and try again, or wait longer with --wait SECONDS (KEYHOLD_WAIT).',
          { cause: e });
      }
      await sleep(Math.min(100, left));
    }
  }
}

// ---- leftovers of interrupted creations -----------------------------------------

/** Identifies this machine in temporary names, so a pid is only ever checked on the machine that wrote it. */
const HOST_TAG = sha256Hex(Buffer.from(os.hostname(), 'utf8')).slice(0, 8);

/** `.<name>.creating-<host>-<pid>-<random>`: the temporary file of a creation in progress. */
export function creatingPath(target: string): string {
  return path.join(path.dirname(target),
    `.${path.basename(target)}.creating-${HOST_TAG}-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** A legacy temporary name (no pid) counts as left over once this old. */
const LEGACY_STALE_MS = 60 * 60 * 1000;
/** A name from another machine (its pid cannot be checked here) counts as left over once this old. */
const FOREIGN_STALE_MS = 24 * 60 * 60 * 1000;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, but belongs to someone else.
    return errorCode(e) !== 'ESRCH';
  }
}

/**
 * Removes what an interrupted creation of `target` (a killed `keyhold init`)
 * left in its folder: temporary files whose creating process is gone (its
 * pid, on this machine, no longer runs), and those of another machine or of
 * an older Keyhold (no pid in the name) once old enough, with their -wal,
 * -journal and -shm. A creation still running is never touched. Says what it
 * removed through `notice`; a file it cannot remove is left alone.
 */
function removeCreationLeftovers(target: string, notice?: (text: string) => void): void {
  const dir = path.dirname(target);
  const prefix = `.${path.basename(target)}.creating-`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const rest = name.slice(prefix.length);
    if (/-(wal|journal|shm)$/.test(rest)) continue; // removed with their file
    const ours = /^([0-9a-f]{8})-(\d{1,10})-[0-9a-f]{12}$/.exec(rest);
    const file = path.join(dir, name);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(file);
    } catch {
      continue;
    }
    if (!st.isFile()) continue;
    const age = Date.now() - st.mtimeMs;
    let stale: boolean;
    if (ours) stale = ours[1] === HOST_TAG ? Number(ours[2]) !== process.pid && !processAlive(Number(ours[2])) : age > FOREIGN_STALE_MS;
    else stale = /^[0-9a-f]{12}$/.test(rest) && age > LEGACY_STALE_MS;
    if (!stale) continue;
    try {
      fs.unlinkSync(file);
    } catch {
      continue;
    }
    removeQuietly(file);
    removed.push(name);
  }
  if (removed.length > 0) {
    notice?.(`removed ${removed.length === 1 ? 'a file' : `${removed.length} files`} left by an interrupted vault creation in ${dir}: ${removed.join(', ')}`);
  }
}

function removeQuietly(p: string): void {
  for (const f of [p, `${p}-wal`, `${p}-journal`, `${p}-shm`]) {
    try {
      fs.unlinkSync(f);
    } catch {
      // not there
    }
  }
}

strictAssert(SCHEMA_VERSION >= 1, 'schema has at least one migration');
