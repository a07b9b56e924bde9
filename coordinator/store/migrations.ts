/**
 * The metadata store's schema, as an ordered list of versioned migrations, and the two runners
 * that bring a database up to date (one per dialect).
 *
 * A migration is written once as portable SQL; the few places where the dialects differ are
 * chosen by a parameter, each with its reason next to it. A database records what it has applied
 * in `schema_migrations` (version, name, time). `migrate` applies whatever is missing, in order,
 * inside ONE transaction together with those records, so a crash half-way leaves the schema as it
 * was (both SQLite and PostgreSQL roll DDL back with the transaction).
 *
 * Two coordinators starting at once against one database must not both apply a migration. Each
 * runner therefore takes a database-wide lock before it even reads `schema_migrations`: SQLite's
 * `BEGIN IMMEDIATE` (the single write lock, taken up front rather than at the first write), and
 * PostgreSQL's `pg_advisory_xact_lock` (held until the transaction ends). The second starter waits,
 * then finds nothing pending.
 *
 * Rules for adding a migration: append it with the next version; never edit or reorder one that
 * has shipped (the runner refuses a database whose recorded names differ from this list, and one
 * whose version is newer than this build knows).
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Pool } from 'pg';
import { StoreError } from './errors.js';
import { GENESIS_HASH } from './rows.js';

/** The two SQL dialects the store speaks. */
export type Dialect = 'sqlite' | 'postgres';

/** One step of the schema. */
export interface Migration {
  /** 1, 2, 3, ...: applied in this order, each exactly once. */
  readonly version: number;
  /** A short name, recorded with the version so an edited history is noticed. */
  readonly name: string;
  /** The statements for one dialect (several, separated by semicolons). */
  sql(dialect: Dialect): string;
}

/**
 * Version 1: every table the coordinator keeps.
 *
 * Conventions for both dialects:
 * - Timestamps are TEXT in `toISOString()` form (checked in rows.ts). They are compared as text,
 *   which is chronological for that fixed-width UTC form, and read back exactly as written.
 * - Lists (party ids, signer sets, key ids, destinations) are JSON in TEXT: the store never
 *   queries inside them, and TEXT behaves the same in both databases.
 * - Amounts are decimal. PostgreSQL keeps them as NUMERIC, whose `sum()` is exact at any size.
 *   SQLite has no exact wide integer: its INTEGER is 64-bit and its `sum()` overflows or turns to
 *   floating point, so there amounts stay TEXT and the store adds them in JavaScript with BigInt.
 */
function initialSchema(dialect: Dialect): string {
  const pg = dialect === 'postgres';
  // SQLite's STRICT tables refuse a value of the wrong type instead of storing it anyway (its
  // default "type affinity"), which is how PostgreSQL always behaves.
  const strict = pg ? '' : ' STRICT';
  // Text that is sorted or compared by range (timestamps, and ids as the tie-break of listings):
  // PostgreSQL compares text by the database's locale, whose rules (e.g. punctuation ignored at
  // first) need not be code-point order; COLLATE "C" makes it bytewise, like SQLite's BINARY, and
  // lets the indexes below serve ORDER BY and the range scans.
  const ordered = pg ? 'TEXT COLLATE "C"' : 'TEXT';
  return `
CREATE TABLE keys (
  id ${ordered} PRIMARY KEY,
  scheme TEXT NOT NULL
    CHECK (scheme IN ('ecdsa-secp256k1', 'schnorr-secp256k1-bip340', 'eddsa-ed25519')),
  threshold INTEGER NOT NULL CHECK (threshold >= 1),
  parties TEXT NOT NULL,
  public_key TEXT NOT NULL,
  chain_code TEXT NOT NULL,
  epoch INTEGER NOT NULL CHECK (epoch >= 0),
  key_public TEXT NOT NULL,
  created_at ${ordered} NOT NULL
)${strict};
CREATE INDEX keys_by_creation ON keys (created_at, id);

CREATE TABLE policies (
  key_id TEXT PRIMARY KEY REFERENCES keys (id),
  allowed_signer_sets TEXT NOT NULL,
  key_rate_per_minute INTEGER CHECK (key_rate_per_minute >= 0),
  token_rate_per_minute INTEGER CHECK (token_rate_per_minute >= 0),
  destinations TEXT,
  daily_value_limit TEXT,
  updated_at TEXT NOT NULL
)${strict};

CREATE TABLE tokens (
  id ${ordered} PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'signer', 'auditor')),
  -- Unique: a lookup by hash must find one token, never pick between two.
  hash TEXT NOT NULL UNIQUE,
  key_ids TEXT,
  created_at ${ordered} NOT NULL,
  revoked_at TEXT
)${strict};

CREATE TABLE ceremonies (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('keygen', 'sign', 'presign', 'refresh')),
  -- No foreign key: a keygen ceremony is recorded before its key exists (and may fail).
  key_id TEXT,
  parties TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
  started_at TEXT NOT NULL,
  finished_at TEXT,
  error TEXT
)${strict};
CREATE INDEX ceremonies_by_key ON ceremonies (key_id);

CREATE TABLE audit (
  -- SQLite: INTEGER PRIMARY KEY is the rowid itself (64-bit). PostgreSQL: BIGINT.
  seq ${pg ? 'BIGINT' : 'INTEGER'} PRIMARY KEY CHECK (seq >= 1),
  body TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE
)${strict};
${
  pg
    ? `
-- PostgreSQL only: the chain's head in a table of exactly one row. An append locks this row
-- (SELECT ... FOR UPDATE), so concurrent appends from any number of connections or coordinators
-- queue on it and each one links to the entry committed just before it. SQLite needs no such row:
-- its write transactions are serialized by the database lock itself.
CREATE TABLE audit_head (
  one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
  seq BIGINT NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO audit_head (one, seq, hash) VALUES (TRUE, 0, '${GENESIS_HASH}');`
    : ''
}

CREATE TABLE idempotency (
  token_id TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status INTEGER,
  response TEXT,
  created_at TEXT NOT NULL,
  -- Keys are per token: two callers may pick the same Idempotency-Key without colliding.
  PRIMARY KEY (token_id, idempotency_key)
)${strict};

CREATE TABLE signatures (
  id ${pg ? 'BIGINT GENERATED ALWAYS AS IDENTITY' : 'INTEGER'} PRIMARY KEY,
  key_id TEXT NOT NULL REFERENCES keys (id),
  -- No foreign key to tokens: rate limits count by token id, and a token may come from config.
  token_id TEXT NOT NULL,
  at ${ordered} NOT NULL,
  value ${pg ? 'NUMERIC(78, 0) NOT NULL CHECK (value >= 0)' : 'TEXT NOT NULL'}
)${strict};
-- Rate limits and daily totals read one key's signatures over a recent window.
CREATE INDEX signatures_by_key_time ON signatures (key_id, at);
CREATE INDEX signatures_by_key_token_time ON signatures (key_id, token_id, at);
`;
}

/** Every migration, oldest first. Append only. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial schema', sql: initialSchema },
];

const CREATE_SCHEMA_MIGRATIONS = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`;

/** A row of `schema_migrations`. */
interface Applied {
  version: number;
  name: string;
}

/**
 * The migrations a database still needs, after checking that what it has applied is a prefix of
 * `migrations`: same versions, same names, nothing newer. Anything else means another build wrote
 * this database, and going on could break it for that build or misread it here.
 */
export function pendingMigrations(
  applied: readonly Applied[],
  migrations: readonly Migration[] = MIGRATIONS,
): Migration[] {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.name} is out of order (${m.version})`);
  });
  const sorted = [...applied].sort((a, b) => a.version - b.version);
  sorted.forEach((a, i) => {
    const known = migrations[i];
    if (known === undefined) {
      throw new StoreError(
        'SCHEMA_MISMATCH',
        `the database has schema version ${a.version}, newer than this build knows ` +
          `(1..${migrations.length}): it was written by a newer build`,
      );
    }
    if (a.version !== known.version) {
      throw new StoreError(
        'SCHEMA_MISMATCH',
        `the database's applied schema versions skip ${known.version} (found ${a.version})`,
      );
    }
    if (a.name !== known.name) {
      throw new StoreError(
        'SCHEMA_MISMATCH',
        `schema version ${a.version} was applied as "${a.name}", but this build calls it ` +
          `"${known.name}"`,
      );
    }
  });
  return migrations.slice(sorted.length);
}

/**
 * Brings a SQLite database up to date. `BEGIN IMMEDIATE` takes the write lock before reading
 * anything, so a second process starting at the same moment waits on the connection's busy
 * timeout and then finds nothing left to do.
 */
export function migrateSqlite(
  db: BetterSqlite3.Database,
  migrations: readonly Migration[] = MIGRATIONS,
): void {
  db.transaction(() => {
    db.exec(CREATE_SCHEMA_MIGRATIONS);
    const applied = db.prepare('SELECT version, name FROM schema_migrations').all() as Applied[];
    const record = db.prepare(
      'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
    );
    for (const m of pendingMigrations(applied, migrations)) {
      db.exec(m.sql('sqlite'));
      record.run(m.version, m.name, new Date().toISOString());
    }
  }).immediate();
}

/**
 * The advisory lock that serializes migrations across every session of a PostgreSQL server: the
 * ASCII bytes "mpckmsdb" as a signed 64-bit integer (advisory locks are keyed by a plain number,
 * shared by every application on the server, so it should be one nobody else picks).
 */
const MIGRATION_LOCK = '7885912260574667874';

/**
 * Brings a PostgreSQL database up to date, in one transaction that first takes a transaction-scoped
 * advisory lock. Without the lock, two starters could both read "version 0" and both run
 * `CREATE TABLE`, and one would fail; with it, the second waits and then finds nothing pending.
 * The lock is released by COMMIT or ROLLBACK, also when the connection drops.
 */
export async function migratePostgres(
  pool: Pool,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<void> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK]);
      await client.query(CREATE_SCHEMA_MIGRATIONS);
      const { rows } = await client.query<Applied>('SELECT version, name FROM schema_migrations');
      for (const m of pendingMigrations(rows, migrations)) {
        await client.query(m.sql('postgres'));
        await client.query(
          'INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)',
          [m.version, m.name, new Date().toISOString()],
        );
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw error;
    }
  } finally {
    // A connection whose ROLLBACK failed is in an unknown state: destroy it, never reuse it.
    client.release(broken);
  }
}
