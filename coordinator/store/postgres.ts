/**
 * The metadata store in PostgreSQL, for deployments that run several coordinators or keep their
 * state in a managed database (`DATABASE_URL`). One `pg.Pool` per store; every method is a single
 * statement or one transaction on one pooled connection.
 *
 * Where concurrency matters, and how each case is made safe:
 * - Audit appends lock the one row of `audit_head` (SELECT ... FOR UPDATE) for their transaction,
 *   so appends from any number of connections or coordinators queue there, and each reads the head
 *   that the previous append committed. Reading `max(seq)` without a lock would let two appends
 *   link to the same predecessor, forking the chain.
 * - Idempotency claims are `INSERT ... ON CONFLICT DO NOTHING RETURNING`: the primary key decides
 *   which of two simultaneous requests with one key runs; the other reads the winner's record.
 * - Epoch updates and revocations test the current state in their WHERE clause, so they are
 *   compare-and-swap operations under PostgreSQL's row locking.
 * - Amounts are NUMERIC and summed by the server with `sum()`, which is exact for NUMERIC; the
 *   total comes back as text, never through a JavaScript number.
 */
import pg from 'pg';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { StoreError } from './errors.js';
import { migratePostgres } from './migrations.js';
import {
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
  toSafeInteger,
  tokenFromRow,
  tokenValues,
  type AuditRow,
  type CeremonyRow,
  type IdempotencyRow,
  type KeyRow,
  type PolicyRow,
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

/** Connections per store: enough for a burst of concurrent requests, modest for the server. */
const POOL_SIZE = 10;

/**
 * Opens a pool on the database at `url` (postgres:// or postgresql://) and checks that it answers,
 * so a wrong URL or an unreachable server fails at start-up, not at the first request. Does not
 * migrate; call `migrate()` (openStore in index.ts does).
 */
export async function openPostgresStore(url: string): Promise<MetadataStore> {
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  // An idle connection that the server drops emits 'error' on the pool, which would crash the
  // process if nobody listened. The pool discards that connection by itself, and the next query
  // that needs the server reports the failure to its caller, so there is nothing to do here.
  pool.on('error', () => {});
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    await pool.end();
    throw error;
  }
  return new PostgresStore(pool);
}

/** SQLSTATE classes of constraint failures (PostgreSQL's Appendix A), mapped to store codes. */
function translate(error: unknown): unknown {
  if (!(error instanceof pg.DatabaseError)) return error;
  switch (error.code) {
    case '23505': // unique_violation
      return new StoreError('CONFLICT', error.message, { cause: error });
    case '23503': // foreign_key_violation
      return new StoreError('MISSING_REFERENCE', error.message, { cause: error });
    case '23502': // not_null_violation
    case '23514': // check_violation
    case '22003': // numeric_value_out_of_range
    case '22P02': // invalid_text_representation
      return new StoreError('INVALID_ARGUMENT', error.message, { cause: error });
    default:
      return error;
  }
}

/** Something that runs queries: the pool (one statement) or a client inside a transaction. */
type Queryable = Pick<Pool, 'query'> | Pick<PoolClient, 'query'>;

async function query<R extends QueryResultRow>(
  on: Queryable,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  try {
    return await on.query<R>(text, values);
  } catch (error) {
    throw translate(error);
  }
}

class PostgresStore implements MetadataStore {
  #closed = false;

  constructor(private readonly pool: Pool) {}

  /**
   * Runs `work` in one transaction on one connection: COMMIT if it resolves, ROLLBACK if it
   * throws. A connection whose ROLLBACK itself failed is destroyed rather than returned to the
   * pool, since it may still be inside the failed transaction.
   */
  async #transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await query(client, 'BEGIN');
      try {
        const result = await work(client);
        await query(client, 'COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw error;
      }
    } finally {
      client.release(broken);
    }
  }

  async #one<R extends QueryResultRow>(text: string, values: unknown[]): Promise<R | null> {
    return (await query<R>(this.pool, text, values)).rows[0] ?? null;
  }

  async migrate(): Promise<void> {
    try {
      await migratePostgres(this.pool);
    } catch (error) {
      throw translate(error);
    }
  }

  async close(): Promise<void> {
    // Pool.end() may be called only once; a second close is a no-op.
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }

  // ---- keys ------------------------------------------------------------------------------

  async insertKey(record: KeyRecord): Promise<void> {
    await query(
      this.pool,
      `INSERT INTO keys (id, scheme, threshold, parties, public_key, chain_code, epoch,
         key_public, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      keyValues(record),
    );
  }

  async getKey(id: string): Promise<KeyRecord | null> {
    const row = await this.#one<KeyRow>('SELECT * FROM keys WHERE id = $1', [id]);
    return row === null ? null : keyFromRow(row);
  }

  async listKeys(): Promise<KeyRecord[]> {
    // The columns are COLLATE "C" (see migrations.ts): code-point order, as in SQLite.
    const { rows } = await query<KeyRow>(this.pool, 'SELECT * FROM keys ORDER BY created_at, id');
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
    // A compare-and-swap: if two refreshes race, the second waits on the row lock, re-reads the
    // row after the first commits, no longer matches `epoch = fromEpoch`, and changes nothing.
    const result = await query(
      this.pool,
      'UPDATE keys SET epoch = $1, key_public = $2 WHERE id = $3 AND epoch = $4',
      [epoch, keyPublic, id, fromEpoch],
    );
    return result.rowCount === 1;
  }

  // ---- policies --------------------------------------------------------------------------

  async putPolicy(policy: PolicyRecord): Promise<void> {
    await query(
      this.pool,
      `INSERT INTO policies (key_id, allowed_signer_sets, key_rate_per_minute,
         token_rate_per_minute, destinations, daily_value_limit, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (key_id) DO UPDATE SET
         allowed_signer_sets = excluded.allowed_signer_sets,
         key_rate_per_minute = excluded.key_rate_per_minute,
         token_rate_per_minute = excluded.token_rate_per_minute,
         destinations = excluded.destinations,
         daily_value_limit = excluded.daily_value_limit,
         updated_at = excluded.updated_at`,
      policyValues(policy),
    );
  }

  async getPolicy(keyId: string): Promise<PolicyRecord | null> {
    const row = await this.#one<PolicyRow>('SELECT * FROM policies WHERE key_id = $1', [keyId]);
    return row === null ? null : policyFromRow(row);
  }

  // ---- tokens ----------------------------------------------------------------------------

  async insertToken(token: TokenRecord): Promise<void> {
    await query(
      this.pool,
      `INSERT INTO tokens (id, name, role, hash, key_ids, created_at, revoked_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      tokenValues(token),
    );
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | null> {
    const row = await this.#one<TokenRow>('SELECT * FROM tokens WHERE hash = $1', [hash]);
    return row === null ? null : tokenFromRow(row);
  }

  async listTokens(): Promise<TokenRecord[]> {
    const { rows } = await query<TokenRow>(
      this.pool,
      'SELECT * FROM tokens ORDER BY created_at, id',
    );
    return rows.map(tokenFromRow);
  }

  async revokeToken(id: string, at: string): Promise<boolean> {
    checkInstant('at', at);
    const result = await query(
      this.pool,
      'UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL',
      [at, id],
    );
    return result.rowCount === 1;
  }

  // ---- ceremonies ------------------------------------------------------------------------

  async insertCeremony(record: CeremonyRecord): Promise<void> {
    await query(
      this.pool,
      `INSERT INTO ceremonies (id, kind, key_id, parties, status, started_at, finished_at, error)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      ceremonyValues(record),
    );
  }

  async finishCeremony(
    id: string,
    status: 'succeeded' | 'failed',
    finishedAt: string,
    error: string | null,
  ): Promise<void> {
    checkInstant('finishedAt', finishedAt);
    const result = await query(
      this.pool,
      `UPDATE ceremonies SET status = $1, finished_at = $2, error = $3
       WHERE id = $4 AND status = 'running'`,
      [status, finishedAt, error, id],
    );
    if (result.rowCount !== 1) {
      throw new StoreError('NOT_FOUND', `no running ceremony ${id} to finish`);
    }
  }

  async getCeremony(id: string): Promise<CeremonyRecord | null> {
    const row = await this.#one<CeremonyRow>('SELECT * FROM ceremonies WHERE id = $1', [id]);
    return row === null ? null : ceremonyFromRow(row);
  }

  // ---- audit -----------------------------------------------------------------------------

  async appendAudit(
    body: string,
    link: (prevHash: string, seq: number) => string,
  ): Promise<AuditEntry> {
    return this.#transaction(async (client) => {
      // The row lock is the serialization point. Under READ COMMITTED, an append that waited
      // here reads the head row as the append before it committed it, not the stale version.
      const head = (
        await query<{ seq: string; hash: string }>(
          client,
          'SELECT seq, hash FROM audit_head WHERE one FOR UPDATE',
        )
      ).rows[0];
      if (head === undefined) {
        throw new StoreError('SCHEMA_MISMATCH', 'the audit_head row is missing');
      }
      const seq = toSafeInteger(head.seq) + 1;
      const prevHash = head.hash;
      const hash = checkHash('the audit link hash', link(prevHash, seq));
      await query(
        client,
        'INSERT INTO audit (seq, body, prev_hash, hash) VALUES ($1, $2, $3, $4)',
        [seq, body, prevHash, hash],
      );
      await query(client, 'UPDATE audit_head SET seq = $1, hash = $2 WHERE one', [seq, hash]);
      return { seq, body, prevHash, hash };
    });
  }

  async listAudit(from: number, limit: number): Promise<AuditEntry[]> {
    checkInteger('from', from, 0);
    checkInteger('limit', limit, 0);
    const { rows } = await query<AuditRow>(
      this.pool,
      'SELECT * FROM audit WHERE seq >= $1 ORDER BY seq LIMIT $2',
      [from, limit],
    );
    return rows.map(auditFromRow);
  }

  // ---- idempotency -----------------------------------------------------------------------

  async claimIdempotency(record: IdempotencyRecord): Promise<IdempotencyRecord | null> {
    if (record.status !== null || record.response !== null) {
      throw new StoreError('INVALID_ARGUMENT', 'a claim is a running record: no status yet');
    }
    const values = idempotencyValues(record);
    // Two statements, not one transaction: the INSERT alone decides the claim atomically. If the
    // row it collided with is released before the SELECT reads it, the key is free again and the
    // loop claims it on the next pass; three passes only fail if releases keep racing us.
    for (let attempt = 0; attempt < 3; attempt++) {
      const inserted = await query(
        this.pool,
        `INSERT INTO idempotency (token_id, idempotency_key, request_hash, status, response,
           created_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (token_id, idempotency_key) DO NOTHING
         RETURNING token_id`,
        values,
      );
      if (inserted.rowCount === 1) return null;
      const row = await this.#one<IdempotencyRow>(
        'SELECT * FROM idempotency WHERE token_id = $1 AND idempotency_key = $2',
        [record.tokenId, record.key],
      );
      if (row !== null) return idempotencyFromRow(row);
    }
    throw new Error(`idempotency key ${record.key} kept changing while it was being claimed`);
  }

  async completeIdempotency(
    tokenId: string,
    key: string,
    status: number,
    response: string,
  ): Promise<void> {
    checkInteger('status', status, 100);
    const result = await query(
      this.pool,
      `UPDATE idempotency SET status = $1, response = $2
       WHERE token_id = $3 AND idempotency_key = $4 AND status IS NULL`,
      [status, response, tokenId, key],
    );
    if (result.rowCount !== 1) {
      throw new StoreError('NOT_FOUND', `no running claim of idempotency key ${key}`);
    }
  }

  async releaseIdempotency(tokenId: string, key: string): Promise<void> {
    await query(
      this.pool,
      `DELETE FROM idempotency
       WHERE token_id = $1 AND idempotency_key = $2 AND status IS NULL`,
      [tokenId, key],
    );
  }

  // ---- signatures ------------------------------------------------------------------------

  async countSignatures(keyId: string, since: string, tokenId?: string): Promise<number> {
    checkInstant('since', since);
    // count(*) is BIGINT, which pg returns as a string.
    const row =
      tokenId === undefined
        ? await this.#one<{ n: string }>(
            'SELECT count(*) AS n FROM signatures WHERE key_id = $1 AND at >= $2',
            [keyId, since],
          )
        : await this.#one<{ n: string }>(
            `SELECT count(*) AS n FROM signatures
             WHERE key_id = $1 AND token_id = $2 AND at >= $3`,
            [keyId, tokenId, since],
          );
    return row === null ? 0 : toSafeInteger(row.n);
  }

  async recordSignature(entry: {
    keyId: string;
    tokenId: string;
    at: string;
    value: string;
  }): Promise<void> {
    await query(
      this.pool,
      'INSERT INTO signatures (key_id, token_id, at, value) VALUES ($1, $2, $3, $4::numeric)',
      signatureValues(entry),
    );
  }

  async sumValue(keyId: string, since: string): Promise<string> {
    checkInstant('since', since);
    // sum() over NUMERIC is NUMERIC (exact, any width); cast to text so that neither pg nor
    // JavaScript turns it into a floating-point number. coalesce: sum() of no rows is NULL.
    const row = await this.#one<{ total: string }>(
      `SELECT coalesce(sum(value), 0)::text AS total FROM signatures
       WHERE key_id = $1 AND at >= $2`,
      [keyId, since],
    );
    return row?.total ?? '0';
  }
}
