/**
 * The one error type the metadata store throws on purpose. Both backends translate their
 * driver's constraint failures (SQLite's `SQLITE_CONSTRAINT_*`, PostgreSQL's SQLSTATE 23xxx) into
 * it, so the service maps one set of codes to HTTP statuses whichever database runs underneath.
 * Anything else a driver throws (a lost connection, a full disk) passes through unchanged: those
 * are operational failures, not answers about the data.
 */

/** Why the store refused. */
export type StoreErrorCode =
  /** A record with the same identity already exists: key or token id, token hash, ceremony id. */
  | 'CONFLICT'
  /** A record refers to one that does not exist (a policy or signature for an unknown key). */
  | 'MISSING_REFERENCE'
  /** The record to change does not exist or is no longer in a state that allows the change. */
  | 'NOT_FOUND'
  /** An argument the store cannot keep faithfully: a bad timestamp, a non-decimal value, etc. */
  | 'INVALID_ARGUMENT'
  /**
   * The database's schema does not match this build: written by a newer version, or a migration
   * applied under another name. Starting anyway could corrupt data another version relies on.
   */
  | 'SCHEMA_MISMATCH'
  /** The store cannot be opened as configured (a missing directory, an unsupported URL). */
  | 'UNAVAILABLE';

/** A refusal by the metadata store, with a stable code. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
