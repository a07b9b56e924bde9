/**
 * The one error type that protocol code throws. Every check that can fail because of another
 * party's input names that party in `blame`, so a ceremony can abort with identifiable fault.
 */

/** A participant's identifier inside a ceremony: a small positive integer, used as the scalar x. */
export type PartyId = number;

/** Why a protocol step refused to go on. */
export type ProtocolErrorCode =
  /** A message that does not decode: wrong length, non-canonical scalar, point off the curve. */
  | 'MALFORMED_MESSAGE'
  /** A well-formed message that does not belong here: other session, round, kind or receiver. */
  | 'UNEXPECTED_MESSAGE'
  /** A second message for a round already answered by that party, or one from an earlier round. */
  | 'REPLAYED_MESSAGE'
  /**
   * Values that must fit together do not, though every proof passed (presigning's δ and S
   * checks). Naming the culprit needs CGGMP21's identification phase, which is not run.
   */
  | 'INCONSISTENT'
  /** A ceremony stalled: these parties never sent a message it needs. */
  | 'MISSING_MESSAGE'
  /** A party sent different broadcasts to different peers (caught by the echo round). */
  | 'EQUIVOCATION'
  /** A Schnorr proof of knowledge of a constant term does not verify. */
  | 'INVALID_PROOF'
  /** A private share does not match the sender's Feldman commitments. */
  | 'INVALID_SHARE'
  /** A revealed value does not open the commitment made earlier (the chain-code contribution). */
  | 'INVALID_OPENING'
  /** A FROST signature share does not verify against the signer's verification share. */
  | 'INVALID_SIGNATURE_SHARE'
  /** A signing nonce pair was asked to sign a second time. */
  | 'NONCE_REUSE'
  /** A state was used at a step it is not in (a round run twice, or out of order). */
  | 'WRONG_STEP'
  /** Shares of different epochs, keys or groups were combined. */
  | 'EPOCH_MISMATCH'
  /** Parameters that no honest run could have: threshold out of range, duplicate ids, etc. */
  | 'INVALID_PARAMETERS'
  /** A failure inside a round that no check above anticipated: a bug, reported typed. */
  | 'INTERNAL';

/** A typed protocol failure; `blame` lists the parties whose input caused it (empty when local). */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;
  readonly blame: readonly PartyId[];

  constructor(code: ProtocolErrorCode, message: string, blame: readonly PartyId[] = []) {
    super(message);
    this.code = code;
    this.blame = [...new Set(blame)].sort((a, b) => a - b);
  }

  toJSON(): { code: ProtocolErrorCode; message: string; blame: PartyId[] } {
    return { code: this.code, message: this.message, blame: [...this.blame] };
  }
}

/** Fails closed with a typed error; used for checks that guard security properties. */
export function check(
  condition: boolean,
  code: ProtocolErrorCode,
  message: string,
  blame: readonly PartyId[] = [],
): asserts condition {
  if (!condition) throw new ProtocolError(code, message, blame);
}
