/**
 * Records: what flows over an established peer channel (DESIGN.md: "Frames carry session, sender,
 * receiver, round and a sequence number in the AAD"). Layout, integers big-endian:
 *
 *   type u8 = 04 | version u8 = 01 | epoch u32 | sequence u64 | sessionId 32 | sender u16
 *   | receiver u16 | round u8                                                 header: 51 bytes
 *   ciphertext (as long as the payload) | Poly1305 tag 16
 *
 * ChaCha20-Poly1305 (RFC 8439) with the whole header as AAD, so no header field can be changed
 * without the tag failing. The 96-bit nonce is epoch u32 || sequence u64: each direction of each
 * epoch has its own key (keys.ts) and the sequence strictly increases under it, so a (key, nonce)
 * pair is never used twice — the one thing this AEAD cannot survive.
 *
 * This module is stateless; which epochs and sequence numbers are acceptable is the channel's.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { concat, u16, u32 } from '../../protocol/bytes.js';
import type { PartyId } from '../../protocol/errors.js';
import { CHANNEL_VERSION, FRAME_TYPES } from './handshake.js';

export const RECORD_HEADER_BYTES = 51;
export const TAG_BYTES = 16;
export const SESSION_ID_BYTES = 32;
/** The largest sequence number: u64 on the wire. A channel re-handshakes long before. */
export const MAX_SEQUENCE = (1n << 64n) - 1n;

const AEAD = 'chacha20-poly1305';

/** A record header, decoded. */
export interface RecordHeader {
  readonly epoch: number;
  readonly sequence: bigint;
  readonly sessionId: Uint8Array;
  readonly sender: PartyId;
  readonly receiver: PartyId;
  readonly round: number;
}

export function encodeRecordHeader(h: RecordHeader): Uint8Array {
  const sequence = new Uint8Array(8);
  new DataView(sequence.buffer).setBigUint64(0, h.sequence);
  return concat(
    Uint8Array.of(FRAME_TYPES.record, CHANNEL_VERSION),
    u32(h.epoch),
    sequence,
    h.sessionId,
    u16(h.sender),
    u16(h.receiver),
    Uint8Array.of(h.round),
  );
}

/**
 * Decodes the header of a record at least {@link RECORD_HEADER_BYTES} long (the caller checks the
 * length first). Returns null when the type or version byte is wrong.
 */
export function decodeRecordHeader(record: Uint8Array): RecordHeader | null {
  if (record[0] !== FRAME_TYPES.record || record[1] !== CHANNEL_VERSION) return null;
  const view = new DataView(record.buffer, record.byteOffset, RECORD_HEADER_BYTES);
  return {
    epoch: view.getUint32(2),
    sequence: view.getBigUint64(6),
    sessionId: record.slice(14, 46),
    sender: view.getUint16(46),
    receiver: view.getUint16(48),
    round: view.getUint8(50),
  };
}

function nonceFor(epoch: number, sequence: bigint): Uint8Array {
  const nonce = new Uint8Array(12);
  const view = new DataView(nonce.buffer);
  view.setUint32(0, epoch);
  view.setBigUint64(4, sequence);
  return nonce;
}

/** Encrypts `payload` under `key`, authenticating the header: header || ciphertext || tag. */
export function sealRecord(key: Uint8Array, header: RecordHeader, payload: Uint8Array): Uint8Array {
  const aad = encodeRecordHeader(header);
  const cipher = createCipheriv(AEAD, key, nonceFor(header.epoch, header.sequence), {
    authTagLength: TAG_BYTES,
  });
  cipher.setAAD(aad, { plaintextLength: payload.length });
  const body = cipher.update(payload);
  cipher.final();
  return concat(aad, body, cipher.getAuthTag());
}

/**
 * Opens a record whose header was decoded as `header`. Returns the payload, or null when the tag
 * does not verify (nothing of a refused record's plaintext is returned).
 */
export function openRecord(
  key: Uint8Array,
  header: RecordHeader,
  record: Uint8Array,
): Uint8Array | null {
  const aad = record.subarray(0, RECORD_HEADER_BYTES);
  const body = record.subarray(RECORD_HEADER_BYTES, record.length - TAG_BYTES);
  const tag = record.subarray(record.length - TAG_BYTES);
  const decipher = createDecipheriv(AEAD, key, nonceFor(header.epoch, header.sequence), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(aad, { plaintextLength: body.length });
  decipher.setAuthTag(tag);
  const plaintext = decipher.update(body);
  try {
    decipher.final();
  } catch {
    plaintext.fill(0);
    return null;
  }
  return new Uint8Array(plaintext);
}
