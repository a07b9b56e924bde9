/**
 * Acknowledgements: an enclave's signed statement that it took part in one signing request.
 * Each enclave makes an Ed25519 key at start, which its attestation documents bind (`public_key`,
 * see the `attest` request), and signs `ackMessage` of every signing request it serves. The
 * coordinator puts the signatures in the audit log, so a reviewer can check that the enclaves,
 * not only the coordinator, saw each request exactly as logged.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { Writer } from '../protocol/codec.js';
import type { PartyId } from '../protocol/errors.js';

/** The 32-byte digest an acknowledgement signs. */
export function ackMessage(request: {
  keyId: string;
  epoch: number;
  signers: readonly PartyId[];
  sessionId: Uint8Array;
  path: string;
  /** SHA-256 of the message or digest signed: what the audit log records of it. */
  messageSha256: Uint8Array;
}): Uint8Array {
  const w = new Writer().fixed(new TextEncoder().encode('mpc-kms/ack/v1\0'));
  w.bytes(new TextEncoder().encode(request.keyId)).u32(request.epoch).u16(request.signers.length);
  for (const p of request.signers) w.u16(p);
  w.fixed(request.sessionId).bytes(new TextEncoder().encode(request.path));
  w.fixed(request.messageSha256);
  return sha256(w.finish());
}

/** An enclave's acknowledgement key: the private half never leaves the process. */
export interface AckKey {
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

export function newAckKey(): AckKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const key: KeyObject = privateKey;
  return {
    publicKey: new Uint8Array(spki.subarray(spki.length - 32)),
    sign: (message) => new Uint8Array(sign(null, message, key)),
  };
}
