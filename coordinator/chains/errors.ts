/**
 * The one error type the chain codecs throw on purpose. Transactions and messages arrive from
 * callers who want something signed, so every parser here treats its input as hostile: anything
 * it cannot read exactly one way is refused with a `ChainInputError` naming the field, rather than
 * repaired. A lenient parser is how "what the policy saw" and "what the chain executes" drift
 * apart — the classic example being a second, differently-parsed reading of the same bytes.
 *
 * Zod request schemas do not throw this: they report ordinary zod issues (with the message of a
 * `ChainInputError` when a parser inside them refused), so the HTTP layer maps both the same way.
 */

/** Why a chain input was refused. */
export type ChainInputErrorCode =
  /** The bytes do not parse: truncated, trailing bytes, a length that points past the end. */
  | 'MALFORMED_TRANSACTION'
  /**
   * The bytes parse, but not in the one minimal form the format allows (a padded length, a
   * wrapped single byte, an integer with leading zeros). Refused because two encodings of one
   * value can give two hashes, and a signer should never be the first to meet the second one.
   */
  | 'NON_CANONICAL_ENCODING'
  /** Over a size or count limit: the chain's own, or one set here to bound memory and time. */
  | 'TOO_LARGE'
  /** An index that points at nothing: an input, an output, an account key. */
  | 'INDEX_OUT_OF_RANGE'
  /** Well-formed, but a version or variant this service does not sign. */
  | 'UNSUPPORTED'
  /** An argument from the caller that cannot be right: a bad length, a high-s signature. */
  | 'INVALID_ARGUMENT'
  /** A Solana key that is not among the message's required signers. */
  | 'NOT_A_SIGNER';

/** A refusal by a chain codec, with a stable code and the field it concerns. */
export class ChainInputError extends Error {
  override readonly name = 'ChainInputError';
  readonly code: ChainInputErrorCode;
  /** Where the problem is, as a path into the input: `inputs[2].witness`, `accountKeys`. */
  readonly field: string;

  constructor(code: ChainInputErrorCode, field: string, message: string) {
    super(`${field}: ${message}`);
    this.code = code;
    this.field = field;
  }
}
