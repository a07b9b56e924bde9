/**
 * The one error type of the enclave's Nitro Secure Module client ({@link NitroNsm}). Messages
 * say what failed and never carry request bytes: a request holds the enclave's public key, user
 * data and nonce, which belong in an attestation document, not in a log line.
 */

export type NsmErrorCode =
  /** The client was configured wrongly (helper path not absolute, timeout out of range). */
  | 'NSM_CONFIG_INVALID'
  /** The request was refused before reaching the NSM: a field is not bytes or is too large. */
  | 'NSM_INVALID_REQUEST'
  /** There is no NSM to ask: /dev/nsm is missing (not in an enclave) or the helper is. */
  | 'NSM_UNAVAILABLE'
  /** The NSM answered with an error (`nsmCode` holds its ErrorCode, e.g. "InvalidArgument"). */
  | 'NSM_REFUSED'
  /** The answer is not an Attestation response the NSM API allows. */
  | 'NSM_MALFORMED'
  /** The helper did not finish within the timeout and was killed. */
  | 'NSM_TIMEOUT'
  /** The helper ran but failed: the ioctl failed, or it exited abnormally. */
  | 'NSM_FAILED';

export class NsmError extends Error {
  override readonly name = 'NsmError';
  readonly code: NsmErrorCode;
  /** For NSM_REFUSED: the NSM's own `ErrorCode` variant, as it named it. */
  readonly nsmCode?: string;

  constructor(
    code: NsmErrorCode,
    message: string,
    options?: { cause?: unknown; nsmCode?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options?.nsmCode !== undefined) this.nsmCode = options.nsmCode;
  }

  toJSON(): { code: NsmErrorCode; message: string; nsmCode?: string } {
    return this.nsmCode === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, nsmCode: this.nsmCode };
  }
}
