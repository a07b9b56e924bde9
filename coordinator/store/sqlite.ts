/**
 * The metadata store in SQLite: the embedded default, one file under the coordinator's data
 * directory, no server to run. better-sqlite3 is synchronous; each method does its work at once
 * and returns a settled promise, so callers see the same asynchronous interface as PostgreSQL's.
 *
 * Durability: the database runs in WAL mode with `synchronous = FULL`. WAL lets readers go on
 * while a write commits. In WAL mode the default `NORMAL` does not sync the log at each commit: an
 * acknowledged transaction survives a process crash but may vanish on power loss or a kernel
 * panic. `FULL` syncs the log before a commit returns, so once the coordinator has reported a key
 * created, its record (public key, parties, epoch) is on disk. Losing it would orphan shares that
 * the enclaves already sealed. Signing and audit writes pay one fsync each; that is the price.
 *
 * Concurrency: every write is a single statement or an IMMEDIATE transaction (the write lock is
 * taken at BEGIN), so another process writing the same file waits on the busy timeout rather
 * than failing half-way. Within this process, calls cannot interleave at all: each runs to the
 * end synchronously.
 */
import { closeSync, constants, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError } from './errors.js';
import { migrateSqlite } from './migrations.js';
import {
  GENESIS_HASH,
  auditFromRow,
  ceremonyFromRow,
  ceremonyValues,
  checkHash,
  checkInstant,
  checkInteger,
  idempotencyFromRow,
  idempotencyValues,
  keyFromRow,
  keyValues,
  policyFromRow,
  policyValues,
  signatureValues,
  tokenFromRow,
  tokenValues,
  type AuditRow,
  type CeremonyRow,
  type IdempotencyRow,
  type KeyRow,
  type PolicyRow,
  toSafeInteger,
  type TokenRow,
} from './rows.js';
import type {
  AuditEntry,
  CeremonyRecord,
  IdempotencyRecord,
  KeyRecord,
  MetadataStore,
  PolicyRecord,
  TokenRecord,
} from './types.js';

/** How long a write waits for another process's write lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 10_000;

/**
 * Opens (creating if needed) the SQLite database at `path`, whose directory must already exist.
 * A new file is created with mode 0600: it names every key and token hash, and SQLite gives the
 * `-wal` and `-shm` files it creates beside it the same mode. Does not migrate; call `migrate()`
 * (openStore in index.ts does).
 */
export async function openSqliteStore(path: string): Promise<MetadataStore> {
  const file = resolve(path);
  const dir = dirname(file);
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new StoreError('UNAVAILABLE', `the store's directory ${dir} does not exist`);
  }
  try {
    // O_EXCL: create only if absent, so an existing database keeps the mode its operator chose.
    closeSync(openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  try {
    // Some file systems (network mounts without shared memory) cannot do WAL, and SQLite then
    // silently keeps its previous journal mode: refuse rather than run with other guarantees.
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') {
      throw new StoreError('UNAVAILABLE', `SQLite refused WAL mode for ${file} (got ${mode})`);
    }
    db.pragma('synchronous = FULL');
    // Off by default in SQLite, for compatibility; the schema relies on them (policies and
    // signatures must name an existing key).
    db.pragma('foreign_keys = ON');
  } catch (error) {
    db.close();
    throw error;
  }
  return new SqliteStore(db);
}

/** Maps SQLite's constraint failures to store codes; other errors pass through. */
function translate(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (!(error instanceof Database.SqliteError) || typeof code !== 'string') return error;
  const message = error.message;
  switch (code) {
    case 'SQLITE_CONSTRAINT_PRIMARYKEY':
    case 'SQLITE_CONSTRAINT_UNIQUE':
      return new StoreError('CONFLICT', message, { cause: error });
    case 'SQLITE_CONSTRAINT_FOREIGNKEY':
      return new StoreError('MISSING_REFERENCE', message, { cause: error });
    case 'SQLITE_CONSTRAINT_CHECK':
    case 'SQLITE_CONSTRAINT_NOTNULL':
    case 'SQLITE_CONSTRAINT_DATATYPE':
      return new StoreError('INVALID_ARGUMENT', message, { cause: error });
    default:
      return error;
  }
}

class SqliteStore implements MetadataStore {
  /** Prepared statements by SQL text: prepared on first use, because tables appear in migrate. */
  readonly #statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  /** Runs `work`, translating constraint failures (the one place errors are mapped). */
  #run<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw translate(error);
    }
  }

  #stmt(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** The first row of a query, typed by the caller (rows.ts describes each table's shape). */
  #get<R>(sql: string, ...params: unknown[]): R | undefined {
    return this.#stmt(sql).get(...params) as R | undefined;
  }

  #all<R>(sql: string, ...params: unknown[]): R[] {
    return this.#stmt(sql).all(...params) as R[];
  }

  async migrate(): Promise<void> {
    // Statements prepared against an older schema are dropped; none exist before the first
    // migrate, but a long-lived store migrated twice should not keep stale ones.
    this.#statements.clear();
    this.#run(() => migrateSqlite(this.db));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  // ---- keys ------------------------------------------------------------------------------

  async insertKey(record: KeyRecord): Promise<void> {
    const values = keyValues(record);
    this.#run(() =>
      this.#stmt(
        `INSERT INTO keys (id, scheme, threshold, parties, public_key, chain_code, epoch,
           key_public, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(...values),
    );
  }

  async getKey(id: string): Promise<KeyRecord | null> {
    const row = this.#run(() => this.#get<KeyRow>('SELECT * FROM keys WHERE id = ?', id));
    return row === undefined ? null : keyFromRow(row);
  }

  async listKeys(): Promise<KeyRecord[]> {
    const rows = this.#run(() => this.#all<KeyRow>('SELECT * FROM keys ORDER BY created_at, id'));
    return rows.map(keyFromRow);
  }

  async updateKeyEpoch(
    id: string,
    fromEpoch: number,
    epoch: number,
    keyPublic: string,
  ): Promise<boolean> {
    checkInteger('fromEpoch', fromEpoch, 0);
    checkInteger('epoch', epoch, fromEpoch + 1);
    // The epoch test in WHERE makes this a compare-and-swap: of two refreshes that started from
    // the same epoch, exactly one changes the row.
    const result = this.#run(() =>
      this.#stmt('UPDATE keys SET epoch = ?, key_public = ? WHERE id = ? AND epoch = ?').run(
        epoch,
        keyPublic,
        id,
        fromEpoch,
      ),
    );
    return result.changes === 1;
  }

  // ---- policies --------------------------------------------------------------------------

  async putPolicy(policy: PolicyRecord): Promise<void> {
    const values = policyValues(policy);
    this.#run(() =>
      this.#stmt(
        `INSERT INTO policies (key_id, allowed_signer_sets, key_rate_per_minute,
           token_rate_per_minute, destinations, daily_value_limit, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (key_id) DO UPDATE SET
           allowed_signer_sets = excluded.allowed_signer_sets,
           key_rate_per_minute = excluded.key_rate_per_minute,
           token_rate_per_minute = excluded.token_rate_per_minute,
           destinations = excluded.destinations,
           daily_value_limit = excluded.daily_value_limit,
           updated_at = excluded.updated_at`,
      ).run(...values),
    );
  }

  async getPolicy(keyId: string): Promise<PolicyRecord | null> {
    const row = this.#run(() =>
      this.#get<PolicyRow>('SELECT * FROM policies WHERE key_id = ?', keyId),
    );
    return row === undefined ? null : policyFromRow(row);
  }

  // ---- tokens ----------------------------------------------------------------------------

  async insertToken(token: TokenRecord): Promise<void> {
    const values = tokenValues(token);
    this.#run(() =>
      this.#stmt(
        `INSERT INTO tokens (id, name, role, hash, key_ids, created_at, revoked_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(...values),
    );
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | null> {
    const row = this.#run(() => this.#get<TokenRow>('SELECT * FROM tokens WHERE hash = ?', hash));
    return row === undefined ? null : tokenFromRow(row);
  }

  async listTokens(): Promise<TokenRecord[]> {
    const rows = this.#run(() =>
      this.#all<TokenRow>('SELECT * FROM tokens ORDER BY created_at, id'),
    );
    return rows.map(tokenFromRow);
  }

  async revokeToken(id: string, at: string): Promise<boolean> {
    checkInstant('at', at);
    // Only a live token: revoking twice keeps the first revocation time.
    const result = this.#run(() =>
      this.#stmt('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(
        at,
        id,
      ),
    );
    return result.changes === 1;
  }

  // ---- ceremonies ------------------------------------------------------------------------

  async insertCeremony(record: CeremonyRecord): Promise<void> {
    const values = ceremonyValues(record);
    this.#run(() =>
      this.#stmt(
        `INSERT INTO ceremonies (id, kind, key_id, parties, status, started_at, finished_at,
           error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(...values),
    );
  }

  async finishCeremony(
    id: string,
    status: 'succeeded' | 'failed',
    finishedAt: string,
    error: string | null,
  ): Promise<void> {
    checkInstant('finishedAt', finishedAt);
    // Only a running ceremony finishes, once: a second report must not rewrite the outcome.
    const result = this.#run(() =>
      this.#stmt(
        `UPDATE ceremonies SET status = ?, finished_at = ?, error = ?
         WHERE id = ? AND status = 'running'`,
      ).run(status, finishedAt, error, id),
    );
    if (result.changes !== 1) {
      throw new StoreError('NOT_FOUND', `no running ceremony ${id} to finish`);
    }
  }

  async getCeremony(id: string): Promise<CeremonyRecord | null> {
    const row = this.#run(() =>
      this.#get<CeremonyRow>('SELECT * FROM ceremonies WHERE id = ?', id),
    );
    return row === undefined ? null : ceremonyFromRow(row);
  }

  // ---- audit -----------------------------------------------------------------------------

  async appendAudit(
    body: string,
    link: (prevHash: string, seq: number) => string,
  ): Promise<AuditEntry> {
    // IMMEDIATE: the write lock is held from the read of the last entry to the insert, so no
    // other process can append in between and leave two entries linked to one predecessor.
    const append = this.db.transaction((): AuditEntry => {
      const last = this.#get<AuditRow>('SELECT * FROM audit ORDER BY seq DESC LIMIT 1');
      const prevHash = last === undefined ? GENESIS_HASH : last.hash;
      const seq = last === undefined ? 1 : toSafeInteger(last.seq) + 1;
      const hash = checkHash('the audit link hash', link(prevHash, seq));
      this.#stmt('INSERT INTO audit (seq, body, prev_hash, hash) VALUES (?, ?, ?, ?)').run(
        seq,
        body,
        prevHash,
        hash,
      );
      return { seq, body, prevHash, hash };
    });
    return this.#run(() => append.immediate());
  }

  async listAudit(from: number, limit: number): Promise<AuditEntry[]> {
    checkInteger('from', from, 0);
    checkInteger('limit', limit, 0);
    const rows = this.#run(() =>
      this.#all<AuditRow>('SELECT * FROM audit WHERE seq >= ? ORDER BY seq LIMIT ?', from, limit),
    );
    return rows.map(auditFromRow);
  }

  // ---- idempotency -----------------------------------------------------------------------

  async claimIdempotency(record: IdempotencyRecord): Promise<IdempotencyRecord | null> {
    if (record.status !== null || record.response !== null) {
      throw new StoreError('INVALID_ARGUMENT', 'a claim is a running record: no status yet');
    }
    const values = idempotencyValues(record);
    const claim = this.db.transaction((): IdempotencyRecord | null => {
      const inserted = this.#stmt(
        `INSERT INTO idempotency (token_id, idempotency_key, request_hash, status, response,
           created_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (token_id, idempotency_key) DO NOTHING`,
      ).run(...values);
      if (inserted.changes === 1) return null;
      const row = this.#get<IdempotencyRow>(
        'SELECT * FROM idempotency WHERE token_id = ? AND idempotency_key = ?',
        record.tokenId,
        record.key,
      );
      // Inside one transaction the conflicting row cannot vanish between the two statements.
      if (row === undefined) throw new Error('idempotency record vanished inside a transaction');
      return idempotencyFromRow(row);
    });
    return this.#run(() => claim.immediate());
  }

  async completeIdempotency(
    tokenId: string,
    key: string,
    status: number,
    response: string,
  ): Promise<void> {
    checkInteger('status', status, 100);
    // Only a running claim takes an answer: the first answer is the one every retry gets.
    const result = this.#run(() =>
      this.#stmt(
        `UPDATE idempotency SET status = ?, response = ?
         WHERE token_id = ? AND idempotency_key = ? AND status IS NULL`,
      ).run(status, response, tokenId, key),
    );
    if (result.changes !== 1) {
      throw new StoreError('NOT_FOUND', `no running claim of idempotency key ${key}`);
    }
  }

  async releaseIdempotency(tokenId: string, key: string): Promise<void> {
    // A finished answer is never dropped: a retry must get it, not run the request again.
    this.#run(() =>
      this.#stmt(
        `DELETE FROM idempotency
         WHERE token_id = ? AND idempotency_key = ? AND status IS NULL`,
      ).run(tokenId, key),
    );
  }

  // ---- signatures ------------------------------------------------------------------------

  async countSignatures(keyId: string, since: string, tokenId?: string): Promise<number> {
    checkInstant('since', since);
    const row = this.#run(() =>
      tokenId === undefined
        ? this.#get<{ n: number }>(
            'SELECT count(*) AS n FROM signatures WHERE key_id = ? AND at >= ?',
            keyId,
            since,
          )
        : this.#get<{ n: number }>(
            'SELECT count(*) AS n FROM signatures WHERE key_id = ? AND token_id = ? AND at >= ?',
            keyId,
            tokenId,
            since,
          ),
    );
    return row?.n ?? 0;
  }

  async recordSignature(entry: {
    keyId: string;
    tokenId: string;
    at: string;
    value: string;
  }): Promise<void> {
    const values = signatureValues(entry);
    this.#run(() =>
      this.#stmt('INSERT INTO signatures (key_id, token_id, at, value) VALUES (?, ?, ?, ?)').run(
        ...values,
      ),
    );
  }

  async sumValue(keyId: string, since: string): Promise<string> {
    checkInstant('since', since);
    // Added here with BigInt, not with SQL sum(): SQLite's sum() works on 64-bit integers and
    // floating point, so a day's total above 2^63 would overflow or be rounded. The values are
    // TEXT checked as decimal on the way in, so BigInt parses each one exactly.
    return this.#run(() => {
      const values = this.#stmt('SELECT value FROM signatures WHERE key_id = ? AND at >= ?')
        .pluck()
        .iterate(keyId, since) as IterableIterator<string>;
      let total = 0n;
      for (const value of values) total += BigInt(value);
      return total.toString();
    });
  }
}
