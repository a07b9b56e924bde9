/**
 * The coordinator's metadata store: what the service remembers between requests and restarts.
 * Key records (public data only), signing policies, API token hashes, ceremony records, the
 * audit log and idempotent answers. Never a share: shares live sealed, one per enclave.
 *
 * Two implementations behind this one interface: SQLite (the embedded default, a file under the
 * data directory) and PostgreSQL (`DATABASE_URL`). The same test suite runs against both.
 */

export type Role = 'admin' | 'signer' | 'auditor';

/** A key as the service shows it, plus what the coordinator needs to aggregate. */
export interface KeyRecord {
  readonly id: string;
  readonly scheme: 'ecdsa-secp256k1' | 'schnorr-secp256k1-bip340' | 'eddsa-ed25519';
  readonly threshold: number;
  readonly parties: readonly number[];
  /** Hex, as the REST contract shows it. */
  readonly publicKey: string;
  readonly chainCode: string;
  readonly epoch: number;
  /**
   * The key's public data as the enclaves reported it (the encoding of `KeyPublic`, base64):
   * verification shares and key session id, which aggregation needs.
   */
  readonly keyPublic: string;
  /** ISO 8601. */
  readonly createdAt: string;
}

export interface PolicyRecord {
  readonly keyId: string;
  /** Signer sets allowed to sign; empty: any `threshold` holders. */
  readonly allowedSignerSets: readonly (readonly number[])[];
  /** Signatures per minute for this key, all tokens together; null: no limit. */
  readonly keyRatePerMinute: number | null;
  /** Signatures per minute for this key by any one token; null: no limit. */
  readonly tokenRatePerMinute: number | null;
  /** Transaction signing: allowed destinations (lowercase); null: any. */
  readonly destinations: readonly string[] | null;
  /** Transaction signing: total value per UTC day, as a decimal string; null: no limit. */
  readonly dailyValueLimit: string | null;
  readonly updatedAt: string;
}

export interface TokenRecord {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  /** SHA-256 of the token, hex. The token itself is shown once and never stored. */
  readonly hash: string;
  /** Signer tokens: the key ids they may use; null: all keys. */
  readonly keyIds: readonly string[] | null;
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

export type CeremonyKind = 'keygen' | 'sign' | 'presign' | 'refresh';

export interface CeremonyRecord {
  readonly id: string;
  readonly kind: CeremonyKind;
  readonly keyId: string | null;
  readonly parties: readonly number[];
  readonly status: 'running' | 'succeeded' | 'failed';
  readonly startedAt: string;
  readonly finishedAt: string | null;
  /** `{code, message, blame}` of a failure, JSON; null otherwise. */
  readonly error: string | null;
}

/** One audit entry as stored: its content, its position and its link to the previous one. */
export interface AuditEntry {
  readonly seq: number;
  /** The canonical JSON of the entry's content (see coordinator/audit.ts); hashed as is. */
  readonly body: string;
  /** Hex SHA-256 of the previous entry's `hash` (64 zeros for the first). */
  readonly prevHash: string;
  /** Hex SHA-256 over prevHash and body (see coordinator/audit.ts). */
  readonly hash: string;
}

/** A stored answer for an `Idempotency-Key`. */
export interface IdempotencyRecord {
  readonly tokenId: string;
  readonly key: string;
  /** SHA-256 of method, path and body: a reuse of the key for another request is refused. */
  readonly requestHash: string;
  /** null while the first request is still running. */
  readonly status: number | null;
  readonly response: string | null;
  readonly createdAt: string;
}

export interface MetadataStore {
  /** Applies pending migrations (idempotent; safe for concurrent starters). */
  migrate(): Promise<void>;
  close(): Promise<void>;

  insertKey(record: KeyRecord): Promise<void>;
  getKey(id: string): Promise<KeyRecord | null>;
  /** Keys ordered by creation (then id). */
  listKeys(): Promise<KeyRecord[]>;
  /** A refresh: the new epoch and public data; refused (false) unless `fromEpoch` is current. */
  updateKeyEpoch(id: string, fromEpoch: number, epoch: number, keyPublic: string): Promise<boolean>;

  putPolicy(policy: PolicyRecord): Promise<void>;
  getPolicy(keyId: string): Promise<PolicyRecord | null>;

  insertToken(token: TokenRecord): Promise<void>;
  findTokenByHash(hash: string): Promise<TokenRecord | null>;
  listTokens(): Promise<TokenRecord[]>;
  /** Marks a token revoked; false when there is no such live token. */
  revokeToken(id: string, at: string): Promise<boolean>;

  insertCeremony(record: CeremonyRecord): Promise<void>;
  finishCeremony(
    id: string,
    status: 'succeeded' | 'failed',
    finishedAt: string,
    error: string | null,
  ): Promise<void>;
  getCeremony(id: string): Promise<CeremonyRecord | null>;

  /**
   * Appends an entry after the current last one, atomically: `link(prevHash, seq)` computes the
   * entry's hash from the previous hash and its sequence number inside the same transaction, so
   * two concurrent appends can never both link to one predecessor.
   */
  appendAudit(body: string, link: (prevHash: string, seq: number) => string): Promise<AuditEntry>;
  /** Entries with seq >= from, ascending, at most `limit`. */
  listAudit(from: number, limit: number): Promise<AuditEntry[]>;

  /**
   * Claims an idempotency key: inserts a running record and returns null, or returns the record
   * already there (running or finished) without changing it.
   */
  claimIdempotency(record: IdempotencyRecord): Promise<IdempotencyRecord | null>;
  /** Stores the answer of a claimed key. */
  completeIdempotency(
    tokenId: string,
    key: string,
    status: number,
    response: string,
  ): Promise<void>;
  /** Drops a claim whose request failed before doing anything (so a retry may run). */
  releaseIdempotency(tokenId: string, key: string): Promise<void>;
  /** Signatures by this key (and token, if given) since `since` (ISO): for rate limits. */
  countSignatures(keyId: string, since: string, tokenId?: string): Promise<number>;
  /** Records one signature for rate limits and daily value limits. */
  recordSignature(entry: {
    keyId: string;
    tokenId: string;
    at: string;
    /** Transaction value in the chain's base unit, decimal; "0" for digests. */
    value: string;
  }): Promise<void>;
  /** The total value signed with this key since `since` (ISO), decimal string. */
  sumValue(keyId: string, since: string): Promise<string>;
}
