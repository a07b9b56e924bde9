/**
 * The peer channel's handshake messages and the transcript hashes that bind them (DESIGN.md,
 * "Attestation and sealing": peer channels). Three messages, initiator I to responder R:
 *
 *   1. Hello   I -> R   ids, the lowest epoch I will accept, nonce_I
 *   2. Reply   R -> I   ids, epoch, nonce_R, eph_R, R's attestation document
 *                       (public_key = eph_R, nonce = nonce_I, user_data = H(reply binding))
 *   3. Finish  I -> R   ids, epoch, eph_I, evidence kind, I's evidence: an attestation document
 *                       (public_key = eph_I, nonce = nonce_R, user_data = H(finish binding)) or,
 *                       from the coordinator, an Ed25519 signature over the finish binding
 *
 * Byte layouts (integers big-endian). Every frame begins `type u8 | version u8`, type first as in
 * TLS's record layer, so a transport can dispatch on byte 0 (or call {@link frameType}):
 *
 *   Hello   01 01 | initiator u16 | responder u16 | minEpoch u32 | nonce_I 32             42 bytes
 *   Reply   02 01 | initiator u16 | responder u16 | epoch u32 | nonce_R 32 | eph_R 32
 *                 | evidenceLength u32 | evidence                                        78 + n
 *   Finish  03 01 | initiator u16 | responder u16 | epoch u32 | eph_I 32 | kind u8
 *                 | evidenceLength u32 | evidence                                        47 + n
 *
 * The "prefix" of a Reply or Finish is everything before `evidenceLength`: the part its own
 * evidence vouches for (a document cannot contain its own hash). Records are type 04 (records.ts).
 *
 * Every decoder is strict: version and type byte, exact lengths, bounded evidence, no trailing
 * bytes. One encoding per message means one transcript per handshake: two parties can never hash
 * different bytes for what they both accepted as "the same" message.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, u16, u32, utf8 } from '../../protocol/bytes.js';
import { MAX_PARTY_ID } from '../../protocol/envelope.js';
import type { PartyId } from '../../protocol/errors.js';
import { ChannelError } from './errors.js';

/** The channel protocol version, the second byte of every frame. */
export const CHANNEL_VERSION = 1;

/** The first byte of every frame. */
export const FRAME_TYPES = { hello: 1, reply: 2, finish: 3, record: 4 } as const;
export type FrameType = keyof typeof FRAME_TYPES;

/** Challenge nonces: 256 bits, so that a reused challenge is a broken random source, not luck. */
export const NONCE_BYTES = 32;
/** An X25519 public key (RFC 7748 Section 5). */
export const EPHEMERAL_BYTES = 32;
/** An Ed25519 signature (RFC 8032 Section 5.1.6). */
export const SIGNATURE_BYTES = 64;
/**
 * The largest evidence accepted. A simulated or real document binding three 32-byte fields is
 * about 4.5 KiB; the bound keeps an unauthenticated peer from making us buffer megabytes.
 */
export const MAX_EVIDENCE_BYTES = 16 * 1024;
/** The largest epoch: epochs are u32 on the wire and never wrap. */
export const MAX_EPOCH = 0xffff_ffff;

/** What the Finish's evidence is: the kind byte. */
export const EVIDENCE_KINDS = { attestation: 1, coordinator: 2 } as const;
export type EvidenceKind = keyof typeof EVIDENCE_KINDS;

export interface Hello {
  readonly initiator: PartyId;
  readonly responder: PartyId;
  /** The lowest epoch the initiator accepts: one past its current epoch (1 on a fresh channel). */
  readonly minEpoch: number;
  readonly nonce: Uint8Array;
}

export interface Reply {
  readonly initiator: PartyId;
  readonly responder: PartyId;
  /** The new channel's epoch, chosen by the responder: max(minEpoch, its own epoch + 1). */
  readonly epoch: number;
  readonly nonce: Uint8Array;
  readonly ephemeral: Uint8Array;
  /** The responder's attestation document. */
  readonly evidence: Uint8Array;
}

export interface Finish {
  readonly initiator: PartyId;
  readonly responder: PartyId;
  readonly epoch: number;
  readonly ephemeral: Uint8Array;
  readonly kind: EvidenceKind;
  /** An attestation document, or the coordinator's 64-byte signature. */
  readonly evidence: Uint8Array;
}

/** Reads the frame type without decoding the rest: for a transport that demultiplexes. */
export function frameType(frame: Uint8Array): FrameType | null {
  if (!(frame instanceof Uint8Array) || frame.length < 2 || frame[1] !== CHANNEL_VERSION) {
    return null;
  }
  const entry = Object.entries(FRAME_TYPES).find(([, code]) => code === frame[0]);
  return entry === undefined ? null : (entry[0] as FrameType);
}

// ---------------------------------------------------------------------------------------------
// Encoding

function header(type: FrameType, initiator: PartyId, responder: PartyId): Uint8Array {
  return concat(Uint8Array.of(FRAME_TYPES[type], CHANNEL_VERSION), u16(initiator), u16(responder));
}

export function encodeHello(hello: Hello): Uint8Array {
  return concat(
    header('hello', hello.initiator, hello.responder),
    u32(hello.minEpoch),
    hello.nonce,
  );
}

/** The part of a Reply its document vouches for (through `user_data`). */
export function encodeReplyPrefix(reply: Omit<Reply, 'evidence'>): Uint8Array {
  return concat(
    header('reply', reply.initiator, reply.responder),
    u32(reply.epoch),
    reply.nonce,
    reply.ephemeral,
  );
}

export function encodeReply(reply: Reply): Uint8Array {
  return concat(encodeReplyPrefix(reply), u32(reply.evidence.length), reply.evidence);
}

/** The part of a Finish its evidence vouches for, the kind byte included. */
export function encodeFinishPrefix(finish: Omit<Finish, 'evidence'>): Uint8Array {
  return concat(
    header('finish', finish.initiator, finish.responder),
    u32(finish.epoch),
    finish.ephemeral,
    Uint8Array.of(EVIDENCE_KINDS[finish.kind]),
  );
}

export function encodeFinish(finish: Finish): Uint8Array {
  return concat(encodeFinishPrefix(finish), u32(finish.evidence.length), finish.evidence);
}

// ---------------------------------------------------------------------------------------------
// Strict decoding

/** A cursor that turns every shortfall or leftover into MALFORMED. */
class Cursor {
  readonly #bytes: Uint8Array;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  take(length: number, what: string): Uint8Array {
    if (this.#offset + length > this.#bytes.length) malformed(`${what}: message truncated`);
    const out = this.#bytes.slice(this.#offset, this.#offset + length);
    this.#offset += length;
    return out;
  }

  u8(what: string): number {
    return this.take(1, what)[0]!;
  }

  u16(what: string): number {
    const b = this.take(2, what);
    return (b[0]! << 8) | b[1]!;
  }

  u32(what: string): number {
    const b = this.take(4, what);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
  }

  end(): void {
    if (this.#offset !== this.#bytes.length) {
      malformed(`${this.#bytes.length - this.#offset} trailing bytes`);
    }
  }
}

function malformed(message: string): never {
  throw new ChannelError('MALFORMED', message);
}

function openFrame(bytes: Uint8Array, type: FrameType): { cursor: Cursor; ids: [number, number] } {
  if (!(bytes instanceof Uint8Array)) malformed('a handshake message must be bytes');
  const cursor = new Cursor(bytes);
  if (cursor.u8('type') !== FRAME_TYPES[type]) malformed(`not a ${type} message`);
  if (cursor.u8('version') !== CHANNEL_VERSION) malformed('unknown channel version');
  const initiator = cursor.u16('initiator');
  const responder = cursor.u16('responder');
  if (initiator > MAX_PARTY_ID || responder > MAX_PARTY_ID) malformed('party id out of range');
  return { cursor, ids: [initiator, responder] };
}

function readEpoch(cursor: Cursor): number {
  const epoch = cursor.u32('epoch');
  // Epoch 0 means "no channel yet" and is never negotiated.
  if (epoch === 0) malformed('epoch 0');
  return epoch;
}

function readEvidence(cursor: Cursor, exact?: number): Uint8Array {
  const length = cursor.u32('evidence length');
  if (length === 0 || length > MAX_EVIDENCE_BYTES || (exact !== undefined && length !== exact)) {
    malformed(`evidence of ${length} bytes`);
  }
  return cursor.take(length, 'evidence');
}

export function decodeHello(bytes: Uint8Array): Hello {
  const { cursor, ids } = openFrame(bytes, 'hello');
  const minEpoch = readEpoch(cursor);
  const nonce = cursor.take(NONCE_BYTES, 'nonce');
  cursor.end();
  return { initiator: ids[0], responder: ids[1], minEpoch, nonce };
}

export function decodeReply(bytes: Uint8Array): Reply {
  const { cursor, ids } = openFrame(bytes, 'reply');
  const epoch = readEpoch(cursor);
  const nonce = cursor.take(NONCE_BYTES, 'nonce');
  const ephemeral = cursor.take(EPHEMERAL_BYTES, 'ephemeral key');
  const evidence = readEvidence(cursor);
  cursor.end();
  return { initiator: ids[0], responder: ids[1], epoch, nonce, ephemeral, evidence };
}

export function decodeFinish(bytes: Uint8Array): Finish {
  const { cursor, ids } = openFrame(bytes, 'finish');
  const epoch = readEpoch(cursor);
  const ephemeral = cursor.take(EPHEMERAL_BYTES, 'ephemeral key');
  const kindCode = cursor.u8('evidence kind');
  const kind = (Object.keys(EVIDENCE_KINDS) as EvidenceKind[]).find(
    (k) => EVIDENCE_KINDS[k] === kindCode,
  );
  if (kind === undefined) malformed(`unknown evidence kind ${kindCode}`);
  // A signature has one length; anything else under the coordinator kind is not one.
  const evidence = readEvidence(cursor, kind === 'coordinator' ? SIGNATURE_BYTES : undefined);
  cursor.end();
  return { initiator: ids[0], responder: ids[1], epoch, ephemeral, kind, evidence };
}

// ---------------------------------------------------------------------------------------------
// Transcript hashes. Each is SHA-256 over length-prefixed parts behind its own domain tag, so no
// hash of one kind can be taken for another, and no two splits of the parts hash alike.

const TAG_REPLY = utf8('mpc-kms/channel/v1/reply');
const TAG_FINISH = utf8('mpc-kms/channel/v1/finish');
const TAG_TRANSCRIPT = utf8('mpc-kms/channel/v1/transcript');

function hashParts(...parts: Uint8Array[]): Uint8Array {
  return sha256(concat(...parts.flatMap((p) => [u32(p.length), p])));
}

/**
 * The responder's `user_data`: binds the Hello (both ids, minEpoch, nonce_I) and the Reply's
 * prefix (epoch, nonce_R, eph_R). Without it a relay could pair R's document with another Hello,
 * or swap the ids: the document's own nonce binds only nonce_I.
 */
export function replyBinding(hello: Uint8Array, replyPrefix: Uint8Array): Uint8Array {
  return hashParts(TAG_REPLY, hello, replyPrefix);
}

/**
 * The initiator's `user_data`, or what the coordinator signs: binds everything the initiator has
 * seen (Hello, the whole Reply with R's document) and the Finish's prefix (eph_I, evidence kind).
 */
export function finishBinding(
  hello: Uint8Array,
  reply: Uint8Array,
  finishPrefix: Uint8Array,
): Uint8Array {
  return hashParts(TAG_FINISH, hello, reply, finishPrefix);
}

/** The handshake transcript: HKDF's salt, so the keys depend on every byte both sides accepted. */
export function transcriptHash(
  hello: Uint8Array,
  reply: Uint8Array,
  finish: Uint8Array,
): Uint8Array {
  return hashParts(TAG_TRANSCRIPT, hello, reply, finish);
}
