/**
 * Key material of the peer channel: ephemeral X25519 (RFC 7748) for the shared secret, HKDF-SHA256
 * (RFC 5869) for the per-direction record keys, and the coordinator's Ed25519 (RFC 8032) finish
 * signature.
 *
 * X25519 comes from @noble/curves rather than node:crypto so that the ephemeral private key is a
 * plain byte array drawn from the injected random source and can be overwritten after use; a
 * node:crypto KeyObject can be neither seeded nor wiped. Wiping in JavaScript narrows the window a
 * secret is readable, no more: the engine may have copied a buffer, noble's ladder works on
 * immutable bigints, and node:crypto keeps its own copy of every AEAD key inside OpenSSL.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, u16, u32, utf8, wipe } from '../../protocol/bytes.js';
import type { PartyId } from '../../protocol/errors.js';
import { ChannelError } from './errors.js';
import { EPHEMERAL_BYTES } from './handshake.js';

/** AEAD key length: ChaCha20-Poly1305 takes 256-bit keys (RFC 8439 Section 2.8). */
export const RECORD_KEY_BYTES = 32;

/** The injected random source: `n` fresh bytes per call (node:crypto randomBytes in production). */
export type RandomSource = (length: number) => Uint8Array;

/**
 * Draws `length` bytes and checks what came back. An all-zero answer from a 32-byte request
 * happens with probability 2^-256, so it means a stubbed or broken source: continuing would make
 * challenges predictable (documents replayable) and ephemeral keys guessable.
 */
export function draw(random: RandomSource, length: number): Uint8Array {
  const out = random(length);
  if (!(out instanceof Uint8Array) || out.length !== length) {
    throw new ChannelError('INTERNAL', `the random source did not return ${length} bytes`);
  }
  if (out.every((b) => b === 0)) {
    throw new ChannelError('INTERNAL', 'the random source returned all zeros');
  }
  return out.slice();
}

/** A fresh X25519 key pair: the secret is the caller's to wipe. */
export function newEphemeral(random: RandomSource): { secret: Uint8Array; publicKey: Uint8Array } {
  const secret = draw(random, EPHEMERAL_BYTES);
  return { secret, publicKey: x25519.getPublicKey(secret) };
}

/**
 * X25519(secret, peer). noble refuses the low-order public keys (RFC 7748 Section 6.1); the result
 * is checked for all zeros as well, independently of the library. A low-order key would force a
 * shared secret the attacker knows without any private key; the attestation binds the key, but a
 * check that costs nothing is not left to the peer's honesty.
 */
export function sharedSecret(secret: Uint8Array, peerPublic: Uint8Array): Uint8Array {
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(secret, peerPublic);
  } catch {
    throw new ChannelError('HANDSHAKE_REFUSED', "the peer's ephemeral key is of low order");
  }
  if (shared.every((b) => b === 0)) {
    wipe(shared);
    throw new ChannelError('HANDSHAKE_REFUSED', 'the X25519 shared secret is all zeros');
  }
  return shared;
}

/** The two record keys of one epoch, named by the direction they protect. */
export interface RecordKeys {
  readonly initiatorToResponder: Uint8Array;
  readonly responderToInitiator: Uint8Array;
}

/**
 * HKDF-SHA256 with ikm = the X25519 secret, salt = the transcript hash, and info naming the
 * direction, both ids and the epoch. One key per direction means the two sides never encrypt
 * under the same key and nonce, and a record cannot be reflected back to its sender (it would
 * have to open under the other direction's key).
 */
export function deriveRecordKeys(
  shared: Uint8Array,
  transcript: Uint8Array,
  ids: { initiator: PartyId; responder: PartyId; epoch: number },
): RecordKeys {
  const info = (direction: string): Uint8Array =>
    concat(
      utf8(`mpc-kms/channel/v1/${direction}`),
      u16(ids.initiator),
      u16(ids.responder),
      u32(ids.epoch),
    );
  return {
    initiatorToResponder: hkdf(
      sha256,
      shared,
      transcript,
      info('initiator-to-responder'),
      RECORD_KEY_BYTES,
    ),
    responderToInitiator: hkdf(
      sha256,
      shared,
      transcript,
      info('responder-to-initiator'),
      RECORD_KEY_BYTES,
    ),
  };
}

/**
 * What the coordinator signs: a context string, then the finish binding. The context keeps this
 * signature from being usable for anything else the coordinator's key might ever sign.
 */
function coordinatorMessage(binding: Uint8Array): Uint8Array {
  return concat(utf8('mpc-kms/channel/v1/coordinator-finish\0'), binding);
}

export function signAsCoordinator(privateKey: KeyObject, binding: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, coordinatorMessage(binding), privateKey));
}

export function verifyCoordinator(
  publicKey: KeyObject,
  binding: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    return verify(null, coordinatorMessage(binding), publicKey, signature);
  } catch {
    return false;
  }
}

/** An Ed25519 KeyObject of the wanted type: checked once, when the channel is configured. */
export function isEd25519(key: unknown, type: 'private' | 'public'): key is KeyObject {
  return (
    typeof key === 'object' &&
    key !== null &&
    (key as KeyObject).type === type &&
    (key as KeyObject).asymmetricKeyType === 'ed25519'
  );
}
