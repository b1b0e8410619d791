/**
 * The vault's schema, versioned by migrations. Each migration is one step from
 * version N-1 to N, run in one transaction; PRAGMA user_version records where a
 * file stands. A file with a higher version than this build knows is refused.
 */

import type { Database } from 'better-sqlite3';

/** "KHLD": marks a SQLite file as a Keyhold vault (PRAGMA application_id). */
export const APPLICATION_ID = 0x4b484c44;

export type Migration = Readonly<{ version: number; description: string; up: (db: Database) => void }>;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    // Amended in place before any release, when the lifecycle and audit
    // tables were added: no vault of the first draft exists outside tests.
    description: 'vault metadata, keyslots, keys, key versions, policies, audit log',
    up(db) {
      db.exec(`
        CREATE TABLE vault_meta (
          id          INTEGER PRIMARY KEY CHECK (id = 1),
          vault_id    TEXT NOT NULL,
          created_at  TEXT NOT NULL,
          checksum    BLOB NOT NULL,
          mac         BLOB NOT NULL
        );
        CREATE TABLE keyslots (
          id          INTEGER PRIMARY KEY,
          type        TEXT NOT NULL,
          label       TEXT NOT NULL,
          created_at  TEXT NOT NULL,
          params      TEXT NOT NULL,
          wrapped     BLOB NOT NULL,
          checksum    BLOB NOT NULL,
          mac         BLOB NOT NULL
        );
        CREATE TABLE keys (
          id               TEXT PRIMARY KEY,
          name             TEXT NOT NULL,
          service          TEXT NOT NULL,
          environment      TEXT NOT NULL,
          scopes           TEXT NOT NULL,
          owner            TEXT NOT NULL,
          notes            BLOB NOT NULL,
          current_version  INTEGER NOT NULL,
          created_at       TEXT NOT NULL,
          updated_at       TEXT NOT NULL,
          row_version      INTEGER NOT NULL,
          mac              BLOB NOT NULL,
          UNIQUE (service, environment, name)
        ) WITHOUT ROWID;
        CREATE TABLE key_versions (
          key_id        TEXT NOT NULL REFERENCES keys (id),
          version       INTEGER NOT NULL,
          state         TEXT NOT NULL,
          created_at    TEXT NOT NULL,
          activated_at  TEXT,
          not_after     TEXT,
          grace_until   TEXT,
          revoked_at    TEXT,
          revoke_reason TEXT,
          destroyed_at  TEXT,
          secret        BLOB,
          row_version   INTEGER NOT NULL,
          mac           BLOB NOT NULL,
          PRIMARY KEY (key_id, version)
        ) WITHOUT ROWID;
        CREATE INDEX key_versions_retiring ON key_versions (grace_until) WHERE state = 'retiring';
        -- A pre-active version's activated_at is when it is scheduled to activate.
        CREATE INDEX key_versions_pending ON key_versions (activated_at) WHERE state = 'pre-active';
        CREATE TABLE policies (
          scope         TEXT PRIMARY KEY,
          rotation_s    INTEGER,
          grace_s       INTEGER,
          warn_s        INTEGER,
          lifetime_s    INTEGER,
          updated_at    TEXT NOT NULL,
          mac           BLOB NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE audit_log (
          seq           INTEGER PRIMARY KEY,
          at            TEXT NOT NULL,
          actor         TEXT NOT NULL,
          host          TEXT NOT NULL,
          workstation   TEXT NOT NULL,
          action        TEXT NOT NULL,
          subject       TEXT NOT NULL,
          key_id        TEXT,
          details       TEXT NOT NULL,
          prev_hash     BLOB NOT NULL,
          hash          BLOB NOT NULL
        );
        -- One key's history is the query that must stay fast at any size;
        -- filters by action, actor or time scan in sequence order, and every
        -- extra index would cost each of the millions of appends.
        CREATE INDEX audit_by_key ON audit_log (key_id, seq) WHERE key_id IS NOT NULL;
        CREATE TABLE audit_head (
          id            INTEGER PRIMARY KEY CHECK (id = 1),
          seq           INTEGER NOT NULL,
          hash          BLOB NOT NULL,
          mac           BLOB NOT NULL
        );
      `);
    },
  },
  {
    version: 2,
    description: 'bundle recipients, token signers, exported bundles and what each recipient was sent',
    up(db) {
      db.exec(`
        -- A server that imports bundles; id is the RFC 7638 thumbprint of its public key.
        CREATE TABLE recipients (
          id            TEXT PRIMARY KEY,
          name          TEXT NOT NULL UNIQUE,
          public_jwk    TEXT NOT NULL,
          verifies      TEXT NOT NULL,
          holds         TEXT NOT NULL,
          created_at    TEXT NOT NULL,
          sequence      INTEGER NOT NULL,
          last_hash     TEXT,
          row_version   INTEGER NOT NULL,
          mac           BLOB NOT NULL
        ) WITHOUT ROWID;
        -- A token key registered to sign bundles and trust roots; kid is its RFC 7638 thumbprint.
        CREATE TABLE signers (
          kid           TEXT PRIMARY KEY,
          alg           TEXT NOT NULL,
          public_jwk    TEXT NOT NULL,
          token_label   TEXT NOT NULL,
          token_serial  TEXT NOT NULL,
          key_id        TEXT NOT NULL,
          key_label     TEXT NOT NULL,
          created_at    TEXT NOT NULL,
          mac           BLOB NOT NULL
        ) WITHOUT ROWID;
        -- Small named settings (signing threshold, trust root version), each MACed.
        CREATE TABLE settings (
          name          TEXT PRIMARY KEY,
          value         TEXT NOT NULL,
          mac           BLOB NOT NULL
        ) WITHOUT ROWID;
        -- Every bundle exported, kept so that a lost file can be written again.
        CREATE TABLE bundles (
          recipient_id  TEXT NOT NULL REFERENCES recipients (id),
          sequence      INTEGER NOT NULL,
          hash          TEXT NOT NULL,
          created_at    TEXT NOT NULL,
          body          BLOB NOT NULL,
          mac           BLOB NOT NULL,
          PRIMARY KEY (recipient_id, sequence)
        ) WITHOUT ROWID;
        -- What each recipient has been sent: an issue or a revoke of one key version.
        CREATE TABLE bundle_items (
          recipient_id  TEXT NOT NULL REFERENCES recipients (id),
          key_id        TEXT NOT NULL,
          version       INTEGER NOT NULL,
          kind          TEXT NOT NULL,
          sequence      INTEGER NOT NULL,
          mac           BLOB NOT NULL,
          PRIMARY KEY (recipient_id, key_id, version, kind)
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    version: 3,
    description: 'output files being written: where an interrupted bundle export left its file',
    up(db) {
      db.exec(`
        -- A row is written (in its own transaction) before a bundle's temporary
        -- file is created, and deleted once the file has its name: a row left
        -- over names a file an interrupted export or resend left behind. The
        -- next command publishes it if the vault recorded that bundle (same
        -- recipient, sequence and payload hash), and deletes it if not.
        CREATE TABLE pending_files (
          tmp_path      TEXT PRIMARY KEY,
          target_path   TEXT NOT NULL,
          kind          TEXT NOT NULL,
          recipient_id  TEXT NOT NULL,
          sequence      INTEGER NOT NULL,
          hash          TEXT NOT NULL,
          created_at    TEXT NOT NULL,
          mac           BLOB NOT NULL
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    version: 4,
    description: 'operators: names, roles and credentials (electron/core/operators)',
    up(db) {
      // A vault made before operators gets its one operator (all roles, no
      // credential yet) at its first unlock after this step, when the row MAC
      // key is at hand (ensureOperators in electron/core/operators/store.ts).
      db.exec(`
        -- One person who may act on the vault: roles is a JSON array of
        -- shared/roles.ts names; credential is passphrase, token or none
        -- (migrated, until set); params holds the Argon2id parameters and salt
        -- of a passphrase, or the registered token key (public JWK, kid, token
        -- serial and label, key id and label); verifier is the passphrase's
        -- Argon2id output, sealed under the vault's field key (null for a token).
        CREATE TABLE operators (
          name          TEXT PRIMARY KEY,
          roles         TEXT NOT NULL,
          credential    TEXT NOT NULL,
          params        TEXT NOT NULL,
          verifier      BLOB,
          created_at    TEXT NOT NULL,
          row_version   INTEGER NOT NULL,
          mac           BLOB NOT NULL
        ) WITHOUT ROWID;
      `);
    },
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
