/**
 * The parent proxy's configuration errors. Failures of sockets themselves stay TransportErrors
 * (from transport/); these are the reasons the proxy refuses to start at all.
 */

export type ProxyErrorCode =
  /** The allowlist file is unreadable, not JSON, or not in the expected shape. */
  | 'BAD_ALLOWLIST'
  /** A forward names a target that the allowlist does not list. */
  | 'NOT_ALLOWLISTED'
  /** The configuration is inconsistent in some other way (e.g. two listeners on one address). */
  | 'BAD_CONFIG';

/** Why the parent proxy will not start; the message names the offending entry. */
export class ProxyError extends Error {
  override readonly name = 'ProxyError';
  readonly code: ProxyErrorCode;

  constructor(code: ProxyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  toJSON(): { code: ProxyErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}
