/**
 * The sealed blob: what leaves the enclave for storage. Layout (all integers big-endian):
 *
 *   "MKSB" | version u8 = 1
 *   header:  key id (u32 length + UTF-8) | party id u16 | epoch u32 | public key (u32 length + bytes)
 *   KMS ciphertext blob (u32 length + bytes)   the data key, encrypted under the party's KMS key
 *   IV (12 bytes) | AEAD ciphertext (u32 length + bytes, the 16-byte tag last)
 *
 * The AEAD is AES-256-GCM under the data key over the encoded share record. Its additional data
 * is a domain tag followed by everything up to and including the header, so a blob whose header
 * was edited to claim another key, party, epoch or public key fails authentication, and a blob
 * moved to another secret is refused by the header check before KMS is even asked.
 *
 * The header is public (a key id, a party number, an epoch and a public key), so storage and
 * recovery can read which epoch a stored version holds without opening it.
 */
import { Reader, Writer } from '../protocol/codec.js';
import { concat, toHex } from '../protocol/bytes.js';
import { ProtocolError, type PartyId } from '../protocol/errors.js';
import { SealError } from './errors.js';
import { checkKeyId } from './share-record.js';

const MAGIC = new TextEncoder().encode('MKSB');
const VERSION = 1;
const AAD_TAG = new TextEncoder().encode('mpc-kms/sealed-share/v1');
export const IV_BYTES = 12;
export const TAG_BYTES = 16;
const MAX_PUBLIC_KEY_BYTES = 65;
// KMS ciphertext blobs of symmetric keys are a few hundred bytes; 6144 is KMS's own ceiling.
const MAX_KMS_BLOB_BYTES = 6144;
// A record holds a 2048-bit Paillier secret and three 2048-bit integers per party.
const MAX_AEAD_BYTES = 1 << 20;

/** The public header of a sealed blob. */
export interface SealedHeader {
  readonly keyId: string;
  readonly partyId: PartyId;
  readonly epoch: number;
  /** The key's public key, as the group encodes it. */
  readonly publicKey: Uint8Array;
}

export interface SealedBlob {
  readonly header: SealedHeader;
  readonly kmsCiphertext: Uint8Array;
  readonly iv: Uint8Array;
  /** AES-256-GCM ciphertext with its tag appended. */
  readonly ciphertext: Uint8Array;
}

/** The magic, version and header: the part the AEAD authenticates. */
export function encodeHeader(header: SealedHeader): Uint8Array {
  checkKeyId(header.keyId);
  if (!Number.isInteger(header.partyId) || header.partyId < 1 || header.partyId > 0xffff) {
    throw new SealError('BLOB_MALFORMED', `party id ${header.partyId} out of range`);
  }
  if (!Number.isInteger(header.epoch) || header.epoch < 0 || header.epoch > 0xffffffff) {
    throw new SealError('BLOB_MALFORMED', `epoch ${header.epoch} out of range`);
  }
  return new Writer()
    .fixed(MAGIC)
    .u8(VERSION)
    .bytes(new TextEncoder().encode(header.keyId))
    .u16(header.partyId)
    .u32(header.epoch)
    .bytes(header.publicKey)
    .finish();
}

/** The AEAD's additional data for a header. */
export function headerAad(header: SealedHeader): Uint8Array {
  return concat(AAD_TAG, encodeHeader(header));
}

export function encodeSealedBlob(blob: SealedBlob): Uint8Array {
  if (blob.iv.length !== IV_BYTES) throw new SealError('BLOB_MALFORMED', 'IV must be 12 bytes');
  return concat(
    encodeHeader(blob.header),
    new Writer().bytes(blob.kmsCiphertext).fixed(blob.iv).bytes(blob.ciphertext).finish(),
  );
}

/**
 * Parses a sealed blob; checks sizes only. Whether it is the blob the caller wanted is
 * {@link expectBinding}'s business, and whether it is authentic the AEAD's.
 *
 * @throws SealError('BLOB_MALFORMED')
 */
export function decodeSealedBlob(bytes: Uint8Array): SealedBlob {
  try {
    const r = new Reader(bytes, null);
    if (toHex(r.fixed(MAGIC.length, 'magic')) !== toHex(MAGIC)) r.fail('not a sealed share');
    const version = r.u8('version');
    if (version !== VERSION) r.fail(`version ${version} is not supported`);
    const keyId = new TextDecoder('utf-8', { fatal: true }).decode(r.bytes(128, 'key id'));
    checkKeyId(keyId);
    const partyId = r.u16('party id');
    if (partyId === 0) r.fail('party id 0');
    const epoch = r.u32('epoch');
    const publicKey = r.bytes(MAX_PUBLIC_KEY_BYTES, 'public key').slice();
    const kmsCiphertext = r.bytes(MAX_KMS_BLOB_BYTES, 'KMS ciphertext').slice();
    if (kmsCiphertext.length === 0) r.fail('empty KMS ciphertext');
    const iv = r.fixed(IV_BYTES, 'IV').slice();
    const ciphertext = r.bytes(MAX_AEAD_BYTES, 'ciphertext').slice();
    if (ciphertext.length <= TAG_BYTES) r.fail('ciphertext shorter than its tag');
    r.end();
    return { header: { keyId, partyId, epoch, publicKey }, kmsCiphertext, iv, ciphertext };
  } catch (error) {
    if (error instanceof SealError) throw error;
    const reason = error instanceof ProtocolError ? error.message : 'unreadable';
    throw new SealError('BLOB_MALFORMED', `sealed blob: ${reason}`);
  }
}

/**
 * Refuses a blob bound to another key, party or epoch than the caller asked for, before any
 * key is fetched: a parent that swaps blobs between secrets learns nothing and changes nothing.
 */
export function expectBinding(
  header: SealedHeader,
  expected: { keyId: string; partyId: PartyId; epoch: number },
): void {
  if (
    header.keyId !== expected.keyId ||
    header.partyId !== expected.partyId ||
    header.epoch !== expected.epoch
  ) {
    throw new SealError(
      'BLOB_MISMATCH',
      `sealed blob is for key ${header.keyId}, party ${header.partyId}, epoch ${header.epoch}; ` +
        `expected key ${expected.keyId}, party ${expected.partyId}, epoch ${expected.epoch}`,
    );
  }
}
