/**
 * The error and identity types shared by the simulated AWS services. They live in their own
 * module so the SigV4 verifier, the JSON server and the service handlers can all import them
 * without an import cycle; `json-server.ts` re-exports both, and that is where callers take them.
 */

/**
 * An error the simulated service reports to its caller as an AWS error response:
 * HTTP `status`, header `x-amzn-ErrorType: <type>`, body `{"__type": type, "message": message}`.
 * The AWS SDK maps `type` to its own exception class (e.g. `ResourceNotFoundException`), so the
 * type must be a name from the service's model or from AWS's common errors.
 *
 * The message goes to the caller verbatim: it must never contain a secret value.
 */
export class AwsServiceError extends Error {
  override readonly name = 'AwsServiceError';

  constructor(
    /** The AWS error code, e.g. `AccessDeniedException`. */
    readonly type: string,
    message: string,
    /** HTTP status; AWS JSON services use 400 for nearly every client error. */
    readonly status = 400,
  ) {
    super(message);
  }
}

/** A static credential the simulator accepts, and the IAM principal it authenticates as. */
export interface AwsCredential {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** IAM ARN, e.g. `arn:aws:iam::111122223333:role/mpc-kms-party-1`. */
  readonly principal: string;
  /** Present for temporary credentials (an instance role's): requests must then carry it. */
  readonly sessionToken?: string;
}
