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
    description: 'vault metadata, keyslots, keys and key versions',
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
          secret        BLOB,
          row_version   INTEGER NOT NULL,
          mac           BLOB NOT NULL,
          PRIMARY KEY (key_id, version)
        ) WITHOUT ROWID;
      `);
    },
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
