/**
 * The one error type of the sealing path. Every failure to seal, unseal or store a share becomes
 * a `SealError` with a code a caller can act on; messages name what was refused, never a secret.
 */

export type SealErrorCode =
  /** The CMS `CiphertextForRecipient` does not parse as KMS's EnvelopedData shape. */
  | 'CMS_MALFORMED'
  /** It parses, but uses an algorithm, version or structure this enclave does not accept. */
  | 'CMS_UNSUPPORTED'
  /** The recipient key could not open it (wrong key, corrupted key or content). */
  | 'CMS_DECRYPT_FAILED'
  /** A sealed blob does not parse (bad magic, version, length or field). */
  | 'BLOB_MALFORMED'
  /** A sealed blob is well formed but bound to another key, party or epoch than asked for. */
  | 'BLOB_MISMATCH'
  /** The AEAD refused the blob: it was altered, or sealed under another data key. */
  | 'BLOB_TAMPERED'
  /** KMS refused the request (policy, attestation, unknown key, bad ciphertext). */
  | 'KMS_REFUSED'
  /** KMS or Secrets Manager could not be reached or answered with a server error. */
  | 'SERVICE_UNAVAILABLE'
  /** Secrets Manager refused a request (credentials, parameters, staging-label rules). */
  | 'STORE_REFUSED'
  /** Secrets Manager holds no sealed share where one was expected. */
  | 'NOT_FOUND'
  /** Stored versions contradict each other (e.g. two pending epochs). */
  | 'STORE_INCONSISTENT';

export class SealError extends Error {
  override readonly name = 'SealError';
  readonly code: SealErrorCode;

  constructor(code: SealErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  toJSON(): { code: SealErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}
