/**
 * The one error type of `transport/`. Every failure to parse an address, listen, connect, move
 * bytes or decode a frame becomes a `TransportError` whose code a caller can branch on (retry a
 * refused connect, drop a peer that sent an oversized frame) without matching message text.
 * Messages name addresses and sizes, never payload bytes: frames carry protocol traffic.
 */

export type TransportErrorCode =
  /** An address string does not parse, or names something this operation cannot use. */
  | 'BAD_ADDRESS'
  /** Listening failed: address in use, a live socket file in the way, no such directory. */
  | 'LISTEN_FAILED'
  /** The peer could not be reached (refused, reset, no route, no such CID). */
  | 'CONNECT_FAILED'
  /** The peer did not answer within the caller's `timeoutMs`. */
  | 'CONNECT_TIMEOUT'
  /** A frame's length prefix (or a frame handed to `send`) exceeds the frame limit. */
  | 'FRAME_TOO_LARGE'
  /** The stream closed: by us, by the peer, or in the middle of a frame. */
  | 'CLOSED'
  /** The operating system reported an error on an established stream. */
  | 'IO_ERROR'
  /** The vsock addon is not installed, does not load here, or AF_VSOCK is missing. */
  | 'VSOCK_UNAVAILABLE';

/** A transport failure with a code to act on; `cause` keeps the underlying system error. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  readonly code: TransportErrorCode;

  constructor(code: TransportErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  toJSON(): { code: TransportErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/**
 * Wraps whatever a stream emitted as a `TransportError`, keeping one that already is. Node's
 * socket errors carry `code` strings such as ECONNRESET; they stay reachable through `cause`.
 */
export function asTransportError(
  error: unknown,
  code: TransportErrorCode,
  context: string,
): TransportError {
  if (error instanceof TransportError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new TransportError(code, `${context}: ${detail}`, { cause: error });
}
