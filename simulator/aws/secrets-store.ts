/**
 * The simulated Secrets Manager's state: one JSON file per secret under
 * `<dataDir>/secretsmanager/`, written atomically (files.ts), plus the staging-label rules that
 * every mutating operation shares. The operations themselves (wire input and output) are in
 * secrets-manager.ts; this module knows nothing about HTTP.
 *
 * Files are read on every request rather than cached: a secret is small, the simulator's load is
 * light, and it means a restarted (or SIGKILLed) process can never serve anything but what is on
 * disk. All file access is synchronous, so within one process each operation's
 * read-modify-write runs to completion before the next begins; one process per data directory.
 *
 * A file that does not parse or does not have the expected shape is reported as an error
 * naming the file, never treated as absent: silently "resetting" a secret would lose a sealed
 * key share.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, writeFileAtomic } from './files.js';
import { decodeBase64Strict } from './input.js';

/** The stored value of one version: text (SecretString) or bytes (SecretBinary), never both. */
export type SecretValue =
  | { readonly kind: 'string'; readonly text: string }
  | { readonly kind: 'binary'; readonly bytes: Uint8Array };

export interface SecretVersion {
  readonly versionId: string;
  /** Epoch milliseconds. */
  readonly createdDate: number;
  /** Staging labels; empty means deprecated (prunable). */
  stages: string[];
  readonly value: SecretValue;
}

export interface SecretRecord {
  readonly arn: string;
  readonly name: string;
  /** The 12-digit account whose namespace holds the secret (from the creator's principal). */
  readonly account: string;
  readonly description?: string;
  readonly kmsKeyId?: string;
  readonly tags: readonly { readonly Key: string; readonly Value: string }[];
  /** Epoch milliseconds. */
  readonly createdDate: number;
  lastChangedDate: number;
  /** In creation order, oldest first. */
  versions: SecretVersion[];
}

/** Format version of the files; bump it, and keep reading the old one, if the layout changes. */
const RECORD_FORMAT = 1;

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPREVIOUS = 'AWSPREVIOUS';

/** Keeps a file name fixed-length and free of `/`, `..` and case-folding clashes. */
function fileKey(account: string, name: string): string {
  return createHash('sha256').update(`${account}\0${name}`, 'utf8').digest('hex');
}

/** Persisted form: bytes as base64, everything else as is. */
function encodeRecord(record: SecretRecord): string {
  return JSON.stringify({
    format: RECORD_FORMAT,
    arn: record.arn,
    name: record.name,
    account: record.account,
    description: record.description,
    kmsKeyId: record.kmsKeyId,
    tags: record.tags,
    createdDate: record.createdDate,
    lastChangedDate: record.lastChangedDate,
    versions: record.versions.map((v) => ({
      versionId: v.versionId,
      createdDate: v.createdDate,
      stages: v.stages,
      ...(v.value.kind === 'string'
        ? { secretString: v.value.text }
        : { secretBinary: Buffer.from(v.value.bytes).toString('base64') }),
    })),
  });
}

/** Thrown for a store file that exists but cannot be trusted; the server reports it as a 500. */
export class CorruptStoreError extends Error {
  override readonly name = 'CorruptStoreError';
}

/** Parses a persisted record, checking every field; `path` is only for the error message. */
function decodeRecord(raw: unknown, path: string): SecretRecord {
  const bad = (what: string) => new CorruptStoreError(`corrupt secret record ${path}: ${what}`);
  const isObject = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v);
  const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
  if (!isObject(raw)) throw bad('not an object');
  if (raw['format'] !== RECORD_FORMAT) throw bad(`unknown format ${String(raw['format'])}`);
  const { arn, name, account, description, kmsKeyId, tags, createdDate, lastChangedDate } = raw;
  if (typeof arn !== 'string' || typeof name !== 'string' || typeof account !== 'string') {
    throw bad('arn, name or account missing');
  }
  if (description !== undefined && typeof description !== 'string') throw bad('description');
  if (kmsKeyId !== undefined && typeof kmsKeyId !== 'string') throw bad('kmsKeyId');
  if (!isTime(createdDate) || !isTime(lastChangedDate)) throw bad('dates');
  if (
    !Array.isArray(tags) ||
    !tags.every(
      (t) => isObject(t) && typeof t['Key'] === 'string' && typeof t['Value'] === 'string',
    )
  ) {
    throw bad('tags');
  }
  if (!Array.isArray(raw['versions'])) throw bad('versions');
  const seenStages = new Set<string>();
  const seenIds = new Set<string>();
  const versions = raw['versions'].map((v: unknown): SecretVersion => {
    if (!isObject(v)) throw bad('version is not an object');
    const { versionId, createdDate: created, stages, secretString, secretBinary } = v;
    if (typeof versionId !== 'string' || seenIds.has(versionId)) throw bad('version id');
    seenIds.add(versionId);
    if (!isTime(created)) throw bad('version date');
    if (!Array.isArray(stages) || !stages.every((s) => typeof s === 'string')) {
      throw bad('version stages');
    }
    for (const stage of stages as string[]) {
      // The invariant every operation keeps: a label is on at most one version.
      if (seenStages.has(stage)) throw bad(`stage ${stage} on two versions`);
      seenStages.add(stage);
    }
    let value: SecretValue;
    if (typeof secretString === 'string' && secretBinary === undefined) {
      value = { kind: 'string', text: secretString };
    } else if (typeof secretBinary === 'string' && secretString === undefined) {
      const bytes = decodeBase64Strict(secretBinary);
      if (bytes === undefined) throw bad('secretBinary is not base64');
      value = { kind: 'binary', bytes };
    } else {
      throw bad('version value');
    }
    return { versionId, createdDate: created, stages: [...(stages as string[])], value };
  });
  return {
    arn,
    name,
    account,
    ...(description === undefined ? {} : { description }),
    ...(kmsKeyId === undefined ? {} : { kmsKeyId }),
    tags: tags as { Key: string; Value: string }[],
    createdDate,
    lastChangedDate,
    versions,
  };
}

/** The directory of secret files, one per (account, name). */
export class SecretFiles {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'secretsmanager');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  private path(account: string, name: string): string {
    return join(this.dir, `${fileKey(account, name)}.json`);
  }

  /** The secret, or undefined when no file exists; throws CorruptStoreError for a bad file. */
  load(account: string, name: string): SecretRecord | undefined {
    const path = this.path(account, name);
    let raw: unknown;
    try {
      raw = readJsonFile(path);
    } catch (error) {
      throw new CorruptStoreError((error as Error).message, { cause: error });
    }
    if (raw === undefined) return undefined;
    const record = decodeRecord(raw, path);
    // A file renamed or copied into another secret's place must not answer for it.
    if (record.account !== account || record.name !== name) {
      throw new CorruptStoreError(`corrupt secret record ${path}: holds another secret`);
    }
    return record;
  }

  save(record: SecretRecord): void {
    writeFileAtomic(this.path(record.account, record.name), encodeRecord(record));
  }

  /** Number of stored secrets (all accounts), for the store's size bound. */
  count(): number {
    return readdirSync(this.dir).filter((f) => /^[0-9a-f]{64}\.json$/.test(f)).length;
  }
}

// ---------------------------------------------------------------------------------------------
// Staging labels. Invariant: each label is attached to at most one version of a secret.

/** The version carrying `stage`, if any. */
export function versionWithStage(record: SecretRecord, stage: string): SecretVersion | undefined {
  return record.versions.find((v) => v.stages.includes(stage));
}

function detach(version: SecretVersion, stage: string): void {
  version.stages = version.stages.filter((s) => s !== stage);
}

/**
 * Attaches `stage` to `target`, taking it from whichever version held it. Moving AWSCURRENT
 * also gives AWSPREVIOUS to the version it left (taking AWSPREVIOUS from wherever it was), as
 * PutSecretValue and UpdateSecretVersionStage both document.
 */
export function attachStage(record: SecretRecord, stage: string, target: SecretVersion): void {
  const holder = versionWithStage(record, stage);
  if (holder === target) return;
  if (holder !== undefined) detach(holder, stage);
  target.stages = [...target.stages, stage];
  if (stage === AWSCURRENT && holder !== undefined) {
    const previous = versionWithStage(record, AWSPREVIOUS);
    if (previous !== undefined) detach(previous, AWSPREVIOUS);
    holder.stages = [...holder.stages, AWSPREVIOUS];
  }
}

/** Removes `stage` from `version` (the caller has checked that it holds it). */
export function removeStage(version: SecretVersion, stage: string): void {
  detach(version, stage);
}

/**
 * Keeps at most `maxVersions` versions by dropping the oldest deprecated (label-less) ones.
 * AWS keeps 100 recent versions plus everything from the last 24 hours; the simulator drops the
 * 24-hour allowance so the store stays bounded whatever the call rate. Labelled versions are
 * never dropped; the caller refuses an operation that would leave too many of them.
 */
export function pruneVersions(record: SecretRecord, maxVersions: number): void {
  let excess = record.versions.length - maxVersions;
  if (excess <= 0) return;
  record.versions = record.versions.filter((v) => {
    if (excess > 0 && v.stages.length === 0) {
      excess--;
      return false;
    }
    return true;
  });
}
