/**
 * The simulated KMS's keys: their persistent records and the ciphertext format they produce.
 *
 * Persistence. One JSON file per key, `<dataDir>/kms/<key-id>.json`, mode 0600, written
 * atomically (files.ts) and loaded at start. It holds the metadata, the key policy text and the
 * 32-byte key material in base64: the simulator has no HSM, so the material sits on disk, which
 * is exactly what real KMS exists to avoid and why this is a simulator. A file that does not parse
 * or does not have the expected shape stops the service: a corrupt store is reported, never
 * silently replaced by an empty one (that would re-key and lose every sealed share).
 *
 * Ciphertext blob (the simulator's own format; AWS's is opaque and different):
 *
 *   offset  0  1 byte   version, 0x01
 *   offset  1  16 bytes key id (the UUID's 16 bytes)
 *   offset 17  12 bytes IV, random per encryption
 *   offset 29  n+16     AES-256-GCM ciphertext, then the 16-byte tag
 *
 * GCM's additional data binds the blob to its key and to the encryption context, so a blob
 * decrypts only under the exact (case-sensitive) context it was made with, as AWS requires:
 *
 *   AAD = lp("mpc-kms-sim/kms-ciphertext/v1") || header (bytes 0..28) || lp(key ARN)
 *         || u32(entry count) || for each entry, sorted by key: lp(key) || lp(value)
 *
 * where lp(s) is the UTF-8 of s prefixed with its length as a big-endian u32. Length prefixes
 * make the encoding injective: no two (ARN, context) pairs share an AAD, e.g. {"a": "bc"} and
 * {"ab": "c"} differ. The key id is in the header, so swapping a blob's key id is caught too.
 *
 * Random 96-bit IVs are safe for well under 2^32 encryptions per key (NIST SP 800-38D, 8.3),
 * far beyond a simulator's use.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, writeFileAtomic } from './files.js';
import { parseKeyPolicy, type KeyPolicy } from './kms-policy.js';

const FILE_FORMAT = 'mpc-kms-sim/kms-key';
const FILE_VERSION = 1;
const BLOB_VERSION = 0x01;
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + 16 + IV_BYTES;
const AAD_DOMAIN = 'mpc-kms-sim/kms-ciphertext/v1';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Shortest blob: header, at least one byte of ciphertext, tag. */
export const MIN_CIPHERTEXT_BYTES = HEADER_BYTES + 1 + TAG_BYTES;

export interface KmsTag {
  readonly TagKey: string;
  readonly TagValue: string;
}

/** A key's public record: everything but its material. */
export interface KmsKey {
  readonly keyId: string;
  readonly arn: string;
  readonly account: string;
  readonly creationDate: Date;
  readonly description: string;
  readonly tags: readonly KmsTag[];
  readonly policy: KeyPolicy;
}

/** Thrown by {@link KmsKeyStore.open} for a store that cannot be trusted. */
export class KmsStoreError extends Error {
  override readonly name = 'KmsStoreError';
}

function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(bytes.length);
  return Buffer.concat([prefix, bytes]);
}

/** The canonical AAD described in the header comment. */
function additionalData(
  header: Uint8Array,
  arn: string,
  context: Readonly<Record<string, string>>,
): Buffer {
  // Code-unit order, the same on every platform; keys of one object are unique, so it is total.
  const keys = Object.keys(context).sort();
  const count = Buffer.alloc(4);
  count.writeUInt32BE(keys.length);
  return Buffer.concat([
    lengthPrefixed(AAD_DOMAIN),
    header,
    lengthPrefixed(arn),
    count,
    ...keys.flatMap((k) => [lengthPrefixed(k), lengthPrefixed(context[k]!)]),
  ]);
}

function uuidBytes(keyId: string): Buffer {
  return Buffer.from(keyId.replaceAll('-', ''), 'hex');
}

function uuidFromBytes(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Reads one key file, refusing anything that is not exactly what {@link KmsKeyStore} writes. */
function loadKeyFile(path: string, keyId: string): { key: KmsKey; material: Buffer } {
  const bad = (what: string): KmsStoreError =>
    new KmsStoreError(`${path}: ${what} (corrupt KMS store; refusing to start)`);
  let raw: unknown;
  try {
    raw = readJsonFile(path);
  } catch (error) {
    throw bad((error as Error).message);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('not an object');
  const f = raw as Record<string, unknown>;
  if (f['format'] !== FILE_FORMAT || f['version'] !== FILE_VERSION) throw bad('unknown format');
  if (f['keyId'] !== keyId) throw bad('keyId does not match the file name');
  for (const name of ['arn', 'account', 'creationDate', 'description', 'policy', 'material']) {
    if (typeof f[name] !== 'string') throw bad(`${name} must be a string`);
  }
  const arn = f['arn'] as string;
  if (!arn.endsWith(`:key/${keyId}`) || !/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:/.test(arn)) {
    throw bad('arn does not name this key');
  }
  const creationDate = new Date(f['creationDate'] as string);
  if (Number.isNaN(creationDate.getTime())) throw bad('creationDate is not a date');
  const tags = f['tags'];
  if (
    !Array.isArray(tags) ||
    !tags.every(
      (t) =>
        typeof t === 'object' &&
        t !== null &&
        typeof (t as KmsTag).TagKey === 'string' &&
        typeof (t as KmsTag).TagValue === 'string',
    )
  ) {
    throw bad('tags must be a list of {TagKey, TagValue}');
  }
  const material = Buffer.from(f['material'] as string, 'base64');
  if (material.length !== KEY_BYTES || material.toString('base64') !== f['material']) {
    throw bad(`material must be ${KEY_BYTES} bytes of base64`);
  }
  let policy: KeyPolicy;
  try {
    policy = parseKeyPolicy(f['policy'] as string);
  } catch (error) {
    throw bad(`stored policy no longer parses: ${(error as Error).message}`);
  }
  const key: KmsKey = {
    keyId,
    arn,
    account: f['account'] as string,
    creationDate,
    description: f['description'] as string,
    tags: (tags as KmsTag[]).map((t) => ({ TagKey: t.TagKey, TagValue: t.TagValue })),
    policy,
  };
  return { key, material };
}

/**
 * The keys of one simulated KMS and their material. Material never leaves this class: callers
 * get {@link KmsKey} records and ask it to encrypt or decrypt.
 */
export class KmsKeyStore {
  readonly #dir: string;
  readonly #keys = new Map<string, KmsKey>();
  /** Key id -> 32-byte AES key. Private: not reachable by inspect, JSON.stringify or callers. */
  readonly #material = new Map<string, Buffer>();

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /**
   * Opens (creating if needed, mode 0700) `dir` and loads every `<uuid>.json` in it. Dot-files
   * are the temporary files of a write that was interrupted before its rename, and are ignored;
   * any other file is unexpected and refused.
   *
   * @throws KmsStoreError for a corrupt or unexpected file.
   */
  static open(dir: string): KmsKeyStore {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const store = new KmsKeyStore(dir);
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith('.')) continue;
      const keyId = name.endsWith('.json') ? name.slice(0, -'.json'.length) : '';
      if (!UUID.test(keyId)) throw new KmsStoreError(`${join(dir, name)}: unexpected file`);
      const { key, material } = loadKeyFile(join(dir, name), keyId);
      store.#keys.set(keyId, key);
      store.#material.set(keyId, material);
    }
    return store;
  }

  get size(): number {
    return this.#keys.size;
  }

  get(keyId: string): KmsKey | undefined {
    return this.#keys.get(keyId);
  }

  #persist(key: KmsKey, material: Buffer): void {
    const file = {
      format: FILE_FORMAT,
      version: FILE_VERSION,
      keyId: key.keyId,
      arn: key.arn,
      account: key.account,
      creationDate: key.creationDate.toISOString(),
      description: key.description,
      tags: key.tags,
      policy: key.policy.text,
      // A base64 string of the key: JavaScript strings cannot be wiped; it lives until collected.
      material: material.toString('base64'),
    };
    writeFileAtomic(join(this.#dir, `${key.keyId}.json`), `${JSON.stringify(file, null, 2)}\n`);
  }

  /** Creates a key with fresh material; it exists (in memory) only once it is on disk. */
  create(spec: {
    region: string;
    account: string;
    creationDate: Date;
    description: string;
    tags: readonly KmsTag[];
    policy: KeyPolicy;
  }): KmsKey {
    const keyId = randomUUID();
    const key: KmsKey = {
      keyId,
      arn: `arn:aws:kms:${spec.region}:${spec.account}:key/${keyId}`,
      account: spec.account,
      creationDate: spec.creationDate,
      description: spec.description,
      tags: spec.tags.map((t) => ({ ...t })),
      policy: spec.policy,
    };
    const material = randomBytes(KEY_BYTES);
    this.#persist(key, material);
    this.#keys.set(keyId, key);
    this.#material.set(keyId, material);
    return key;
  }

  /** Replaces a key's policy, on disk first. */
  setPolicy(keyId: string, policy: KeyPolicy): KmsKey {
    const old = this.#keys.get(keyId);
    const material = this.#material.get(keyId);
    if (!old || !material) throw new Error(`no key ${keyId}`);
    const key = { ...old, policy };
    this.#persist(key, material);
    this.#keys.set(keyId, key);
    return key;
  }

  /** Encrypts under a key, bound to the encryption context (see the header comment). */
  encrypt(
    key: KmsKey,
    plaintext: Uint8Array,
    context: Readonly<Record<string, string>>,
  ): Uint8Array {
    const material = this.#material.get(key.keyId);
    if (!material) throw new Error(`no key ${key.keyId}`);
    const header = Buffer.concat([
      Buffer.of(BLOB_VERSION),
      uuidBytes(key.keyId),
      randomBytes(IV_BYTES),
    ]);
    const cipher = createCipheriv('aes-256-gcm', material, header.subarray(17), {
      authTagLength: TAG_BYTES,
    });
    cipher.setAAD(additionalData(header, key.arn, context));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return new Uint8Array(Buffer.concat([header, body]));
  }

  /**
   * The key id a blob names, or null when it is not a blob of this format. Reads the header
   * only: whoever asks must authorize the caller for that key before {@link decrypt}.
   */
  static blobKeyId(blob: Uint8Array): string | null {
    if (blob.length < MIN_CIPHERTEXT_BYTES || blob[0] !== BLOB_VERSION) return null;
    return uuidFromBytes(blob.subarray(1, 17));
  }

  /**
   * Decrypts a blob of `key`. Returns null when GCM refuses it: the blob was altered, made under
   * another key, or the context differs. The caller owns (and should wipe) the plaintext.
   */
  decrypt(key: KmsKey, blob: Uint8Array, context: Readonly<Record<string, string>>): Buffer | null {
    const material = this.#material.get(key.keyId);
    if (!material || KmsKeyStore.blobKeyId(blob) !== key.keyId) return null;
    const header = blob.subarray(0, HEADER_BYTES);
    const body = blob.subarray(HEADER_BYTES, blob.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', material, header.subarray(17), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(additionalData(header, key.arn, context));
    decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
    const plaintext = decipher.update(body);
    try {
      decipher.final();
    } catch {
      // The tag did not verify: release nothing of what was decrypted.
      plaintext.fill(0);
      return null;
    }
    return plaintext;
  }
}
