/**
 * What both backends share: the shape of each table's rows (the column names are the same in
 * SQLite and PostgreSQL), the conversions between rows and records, and the checks every write
 * runs before it reaches a database.
 *
 * Why check here rather than trust the caller: the store compares timestamps as text and sums
 * values as decimal text, so a timestamp in another ISO 8601 form, or a value like "1e3", would
 * be stored without complaint and then silently drop out of a rate limit or a daily total. Each
 * check refuses such input with `INVALID_ARGUMENT` instead.
 */
import { StoreError } from './errors.js';
import type {
  AuditEntry,
  CeremonyRecord,
  IdempotencyRecord,
  KeyRecord,
  PolicyRecord,
  TokenRecord,
} from './types.js';

/** The `prevHash` of the first audit entry (the same constant as coordinator/audit.ts uses). */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * The largest value a signature may record: 78 decimal digits hold every 256-bit unsigned
 * integer (2^256 ≈ 1.16e77), the widest amount any supported chain has. PostgreSQL's column is
 * NUMERIC(78, 0) to match; sums may grow past it, and both backends return them exactly.
 */
const DECIMAL = /^(0|[1-9][0-9]{0,77})$/;
/** Exactly what `Date.prototype.toISOString()` writes for years 0000-9999, always UTC. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

function invalid(message: string): StoreError {
  return new StoreError('INVALID_ARGUMENT', message);
}

/**
 * Refuses a timestamp not in `toISOString()` form. The store keeps timestamps as text and
 * compares them as text (rate-limit windows, creation order); that is only chronological when
 * every one has the same fixed-width UTC form.
 */
export function checkInstant(what: string, value: string): string {
  if (typeof value !== 'string' || !ISO_INSTANT.test(value) || Number.isNaN(Date.parse(value))) {
    throw invalid(`${what} must be a UTC timestamp as toISOString() writes it, got ${value}`);
  }
  return value;
}

/** Refuses anything but a non-negative decimal integer without leading zeros, up to 78 digits. */
export function checkDecimal(what: string, value: string): string {
  if (typeof value !== 'string' || !DECIMAL.test(value)) {
    throw invalid(`${what} must be a non-negative decimal integer string, got ${value}`);
  }
  return value;
}

/** Refuses anything but lowercase hex SHA-256: an uppercase copy would never match a lookup. */
export function checkHash(what: string, value: string): string {
  if (typeof value !== 'string' || !SHA256_HEX.test(value)) {
    throw invalid(`${what} must be 64 lowercase hex digits`);
  }
  return value;
}

/** Refuses a non-integer or one below `min` (a fraction would be truncated by INTEGER columns). */
export function checkInteger(what: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw invalid(`${what} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

function checkIntegerOrNull(what: string, value: number | null, min: number): number | null {
  return value === null ? null : checkInteger(what, value, min);
}

function checkPartyList(what: string, parties: readonly number[]): string {
  if (!Array.isArray(parties)) throw invalid(`${what} must be an array of party ids`);
  for (const p of parties) checkInteger(what, p, 1);
  return JSON.stringify(parties);
}

function checkStringList(what: string, list: readonly string[] | null): string | null {
  if (list === null) return null;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string')) {
    throw invalid(`${what} must be an array of strings or null`);
  }
  return JSON.stringify(list);
}

/** A count or sequence number as a driver returns it (PostgreSQL's BIGINT arrives as a string). */
export function toSafeInteger(value: number | string | bigint): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`${value} is not a safe integer`);
  return n;
}

// ---- keys --------------------------------------------------------------------------------

export interface KeyRow {
  id: string;
  scheme: string;
  threshold: number;
  /** JSON array of party ids. */
  parties: string;
  public_key: string;
  chain_code: string;
  epoch: number;
  key_public: string;
  created_at: string;
}

/** The checked column values of a new key, in the column order of the INSERT statements. */
export function keyValues(
  k: KeyRecord,
): [string, string, number, string, string, string, number, string, string] {
  return [
    k.id,
    k.scheme,
    checkInteger('threshold', k.threshold, 1),
    checkPartyList('parties', k.parties),
    k.publicKey,
    k.chainCode,
    checkInteger('epoch', k.epoch, 0),
    k.keyPublic,
    checkInstant('createdAt', k.createdAt),
  ];
}

export function keyFromRow(r: KeyRow): KeyRecord {
  return {
    id: r.id,
    scheme: r.scheme as KeyRecord['scheme'],
    threshold: r.threshold,
    parties: JSON.parse(r.parties) as number[],
    publicKey: r.public_key,
    chainCode: r.chain_code,
    epoch: r.epoch,
    keyPublic: r.key_public,
    createdAt: r.created_at,
  };
}

// ---- policies ----------------------------------------------------------------------------

export interface PolicyRow {
  key_id: string;
  /** JSON array of party-id arrays. */
  allowed_signer_sets: string;
  key_rate_per_minute: number | null;
  token_rate_per_minute: number | null;
  /** JSON array of strings, or NULL for "any destination". */
  destinations: string | null;
  daily_value_limit: string | null;
  updated_at: string;
}

export function policyValues(
  p: PolicyRecord,
): [string, string, number | null, number | null, string | null, string | null, string] {
  if (!Array.isArray(p.allowedSignerSets)) throw invalid('allowedSignerSets must be an array');
  for (const set of p.allowedSignerSets) checkPartyList('allowedSignerSets', set);
  return [
    p.keyId,
    JSON.stringify(p.allowedSignerSets),
    checkIntegerOrNull('keyRatePerMinute', p.keyRatePerMinute, 0),
    checkIntegerOrNull('tokenRatePerMinute', p.tokenRatePerMinute, 0),
    checkStringList('destinations', p.destinations),
    p.dailyValueLimit === null ? null : checkDecimal('dailyValueLimit', p.dailyValueLimit),
    checkInstant('updatedAt', p.updatedAt),
  ];
}

export function policyFromRow(r: PolicyRow): PolicyRecord {
  return {
    keyId: r.key_id,
    allowedSignerSets: JSON.parse(r.allowed_signer_sets) as number[][],
    keyRatePerMinute: r.key_rate_per_minute,
    tokenRatePerMinute: r.token_rate_per_minute,
    destinations: r.destinations === null ? null : (JSON.parse(r.destinations) as string[]),
    dailyValueLimit: r.daily_value_limit,
    updatedAt: r.updated_at,
  };
}

// ---- tokens ------------------------------------------------------------------------------

export interface TokenRow {
  id: string;
  name: string;
  role: string;
  hash: string;
  /** JSON array of key ids, or NULL for "every key". */
  key_ids: string | null;
  created_at: string;
  revoked_at: string | null;
}

export function tokenValues(
  t: TokenRecord,
): [string, string, string, string, string | null, string, string | null] {
  return [
    t.id,
    t.name,
    t.role,
    checkHash('token hash', t.hash),
    checkStringList('keyIds', t.keyIds),
    checkInstant('createdAt', t.createdAt),
    t.revokedAt === null ? null : checkInstant('revokedAt', t.revokedAt),
  ];
}

export function tokenFromRow(r: TokenRow): TokenRecord {
  return {
    id: r.id,
    name: r.name,
    role: r.role as TokenRecord['role'],
    hash: r.hash,
    keyIds: r.key_ids === null ? null : (JSON.parse(r.key_ids) as string[]),
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  };
}

// ---- ceremonies --------------------------------------------------------------------------

export interface CeremonyRow {
  id: string;
  kind: string;
  key_id: string | null;
  /** JSON array of party ids. */
  parties: string;
  status: string;
  started_at: string;
  finished_at: string | null;
  error: string | null;
}

export function ceremonyValues(
  c: CeremonyRecord,
): [string, string, string | null, string, string, string, string | null, string | null] {
  return [
    c.id,
    c.kind,
    c.keyId,
    checkPartyList('parties', c.parties),
    c.status,
    checkInstant('startedAt', c.startedAt),
    c.finishedAt === null ? null : checkInstant('finishedAt', c.finishedAt),
    c.error,
  ];
}

export function ceremonyFromRow(r: CeremonyRow): CeremonyRecord {
  return {
    id: r.id,
    kind: r.kind as CeremonyRecord['kind'],
    keyId: r.key_id,
    parties: JSON.parse(r.parties) as number[],
    status: r.status as CeremonyRecord['status'],
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    error: r.error,
  };
}

// ---- audit -------------------------------------------------------------------------------

export interface AuditRow {
  seq: number | string;
  body: string;
  prev_hash: string;
  hash: string;
}

export function auditFromRow(r: AuditRow): AuditEntry {
  return { seq: toSafeInteger(r.seq), body: r.body, prevHash: r.prev_hash, hash: r.hash };
}

// ---- idempotency -------------------------------------------------------------------------

export interface IdempotencyRow {
  token_id: string;
  idempotency_key: string;
  request_hash: string;
  status: number | null;
  response: string | null;
  created_at: string;
}

export function idempotencyValues(
  r: IdempotencyRecord,
): [string, string, string, number | null, string | null, string] {
  return [
    r.tokenId,
    r.key,
    r.requestHash,
    checkIntegerOrNull('status', r.status, 100),
    r.response,
    checkInstant('createdAt', r.createdAt),
  ];
}

export function idempotencyFromRow(r: IdempotencyRow): IdempotencyRecord {
  return {
    tokenId: r.token_id,
    key: r.idempotency_key,
    requestHash: r.request_hash,
    status: r.status,
    response: r.response,
    createdAt: r.created_at,
  };
}

// ---- signatures --------------------------------------------------------------------------

/** The checked column values of one signature record: key, token, time, value. */
export function signatureValues(e: {
  keyId: string;
  tokenId: string;
  at: string;
  value: string;
}): [string, string, string, string] {
  return [e.keyId, e.tokenId, checkInstant('at', e.at), checkDecimal('value', e.value)];
}
