/**
 * The one error type of the peer channel (DESIGN.md, "Attestation and sealing": peer channels).
 * Every refusal, at the handshake or of a record, is a `ChannelError` with a code the caller can
 * act on: a handshake refusal means "no channel with this peer", a record refusal means "drop
 * this frame" (and is counted by the channel, see `SecureChannel.counters`).
 */
import type { AttestationErrorCode } from '../../attestation/index.js';

export type ChannelErrorCode =
  /** A handshake message that is well formed but does not belong here: ids, role, epoch, kind. */
  | 'HANDSHAKE_REFUSED'
  /** The peer's attestation document failed verification; see `attestationCode`. */
  | 'ATTESTATION_REFUSED'
  /** The coordinator's Ed25519 signature over the handshake transcript does not verify. */
  | 'BAD_SIGNATURE'
  /** A record (or a seal) before the handshake completed, or after `close()`. */
  | 'NOT_ESTABLISHED'
  /** A record shorter than its header and authentication tag. */
  | 'TRUNCATED'
  /** Bytes that do not decode: wrong version or type byte, lengths, trailing bytes. */
  | 'MALFORMED'
  /** A record for another pair of parties, or of an epoch this channel does not (or no longer) hold. */
  | 'WRONG_CHANNEL'
  /** A record whose sequence number was already accepted. */
  | 'REPLAYED'
  /** A record that skips ahead: an earlier one was dropped or is delivered late. */
  | 'REORDERED'
  /** A record the AEAD refuses: altered, or sealed under other keys. */
  | 'FORGED'
  /** A failure no check anticipated (a throwing attester, a broken random source): a bug. */
  | 'INTERNAL';

/**
 * Why an attestation document was refused: the verifier's own code (PCR_MISMATCH, EXPIRED,
 * NONCE_MISMATCH, DEBUG_MODE, UNTRUSTED_ROOT, ...), or one of the channel's bindings on top of it.
 */
export type AttestationRefusal =
  | AttestationErrorCode
  /** The document's `public_key` is not the ephemeral key the message carries. */
  | 'PUBLIC_KEY_MISMATCH'
  /** The document's `user_data` is not the hash of this handshake's transcript. */
  | 'USER_DATA_MISMATCH';

/** The reasons a record is refused, each counted by the channel. */
export const RECORD_REFUSALS = [
  'NOT_ESTABLISHED',
  'TRUNCATED',
  'MALFORMED',
  'WRONG_CHANNEL',
  'REPLAYED',
  'REORDERED',
  'FORGED',
] as const satisfies readonly ChannelErrorCode[];

export type RecordRefusal = (typeof RECORD_REFUSALS)[number];

/** A typed channel failure. Messages name what was refused, never a key. */
export class ChannelError extends Error {
  override readonly name = 'ChannelError';
  readonly code: ChannelErrorCode;
  /** Set when `code` is ATTESTATION_REFUSED: which check of the peer's document failed. */
  readonly attestationCode?: AttestationRefusal;

  constructor(
    code: ChannelErrorCode,
    message: string,
    options: { attestationCode?: AttestationRefusal; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.attestationCode !== undefined) this.attestationCode = options.attestationCode;
  }

  toJSON(): { code: ChannelErrorCode; message: string; attestationCode?: AttestationRefusal } {
    return this.attestationCode === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, attestationCode: this.attestationCode };
  }
}
