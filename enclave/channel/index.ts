/**
 * The attested peer channel (DESIGN.md, "Attestation and sealing": peer channels): a three-message
 * handshake in which enclaves attest fresh X25519 keys (and the coordinator signs with its
 * identity key), then ChaCha20-Poly1305 records with their header as AAD. Pure: the caller moves
 * the bytes and injects randomness and time.
 */
export { SecureChannel } from './channel.js';
export type { ChannelIdentity, PeerCheck, SecureChannelOptions } from './options.js';
export type { OpenedRecord } from './record-layer.js';
export {
  ChannelError,
  RECORD_REFUSALS,
  type AttestationRefusal,
  type ChannelErrorCode,
  type RecordRefusal,
} from './errors.js';
export type { EnclavePolicy, PeerAttestation } from './evidence.js';
export { CHANNEL_VERSION, MAX_EVIDENCE_BYTES, frameType, type FrameType } from './handshake.js';
export type { RandomSource } from './keys.js';
export { RECORD_HEADER_BYTES, TAG_BYTES } from './records.js';
