/**
 * An HTTP server speaking the AWS JSON 1.1 protocol (the wire format of KMS and Secrets Manager)
 * well enough that the unmodified AWS SDK v3 clients, pointed at it with `endpoint`, work. Each
 * simulated service supplies only a table of operation handlers; this module owns everything on
 * the wire:
 *
 *   1. route: `POST /` only                               404 / 405
 *   2. body: read at most `maxBodyBytes`                  413
 *   3. authenticate: SigV4 over the exact bytes received  (see sigv4.ts)
 *   4. operation: `x-amz-target: <prefix>.<Operation>`    UnknownOperationException
 *   5. decode: content type, JSON object                  SerializationException
 *   6. handler(input, context)                            AwsServiceError -> its type and status
 *   7. encode: Uint8Array -> base64, Date -> epoch seconds
 *
 * Authentication comes before the body is parsed, so unauthenticated input never reaches a JSON
 * parser or a handler. Every failure becomes an AWS error response; an unexpected exception
 * becomes `500 InternalFailure` with a generic message (no stack, no secret), and never takes
 * the process down.
 *
 * Wire facts this relies on (checked against @smithy/core and @aws-sdk/core 3.1164): the SDK reads
 * the error code from the body's `__type` first, then `code`, then the `x-amzn-ErrorType` header,
 * keeping the part after `#` and before `:`; blobs are base64 strings; timestamps are epoch
 * seconds as JSON numbers; the request id comes from `x-amzn-RequestId`.
 */
import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import { AwsServiceError, type AwsCredential } from './errors.js';
import { verifySigV4 } from './sigv4.js';

export { AwsServiceError, type AwsCredential } from './errors.js';

/** Who is calling and where: what a handler may use to scope or authorize its work. */
export interface AwsRequestContext {
  /** The IAM ARN of the credential that signed the request. */
  readonly principal: string;
  readonly accessKeyId: string;
  /** The 12-digit account id from the principal ARN. */
  readonly account: string;
  readonly region: string;
  /** The id sent back in `x-amzn-RequestId`; also useful in logs and ARNs. */
  readonly requestId: string;
}

/**
 * One operation. `input` is the request's JSON object as received (validate it with
 * `InputReader` from input.ts); the result is encoded as JSON with `Uint8Array` values as
 * base64 and `Date` values as epoch seconds. Throw {@link AwsServiceError} to answer an error.
 */
export type AwsHandler = (
  input: Record<string, unknown>,
  context: AwsRequestContext,
) => Promise<Record<string, unknown>>;

export interface AwsJsonServiceOptions {
  /** SigV4 signing name: `kms` | `secretsmanager`. */
  readonly service: string;
  /** X-Amz-Target prefix: `TrentService` | `secretsmanager`. */
  readonly targetPrefix: string;
  readonly region: string;
  readonly credentials: readonly AwsCredential[];
  /** Operation name (e.g. `GetSecretValue`) -> handler. */
  readonly handlers: Readonly<Record<string, AwsHandler>>;
  /** Clock for signature freshness; defaults to the system clock. */
  readonly now?: () => Date;
  /** Largest accepted request body; default 1 MiB. */
  readonly maxBodyBytes?: number;
  /**
   * Called with any exception that was not an {@link AwsServiceError} (the caller saw only
   * `InternalFailure`). Default: one line on stderr naming the request id and the error's name
   * and message. The hook may log more; it must not throw.
   */
  readonly onInternalError?: (error: unknown, requestId: string) => void;
}

/** A listening service; `close()` stops accepting and ends idle keep-alive connections. */
export interface RunningService {
  /** `http://HOST:PORT`, ready to pass as the SDK's `endpoint`. */
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const CONTENT_TYPE = 'application/x-amz-json-1.1';

/** The account id of an IAM or STS principal ARN, or a TypeError for a malformed one. */
function accountOf(principal: string): string {
  const m = /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):[^\s]+$/.exec(principal);
  if (m === null) throw new TypeError(`credential principal is not an IAM ARN: ${principal}`);
  return m[1]!;
}

/** Configuration errors are programming errors: refuse them once, at construction. */
function checkOptions(options: AwsJsonServiceOptions): void {
  for (const name of ['service', 'targetPrefix', 'region'] as const) {
    if (typeof options[name] !== 'string' || options[name].length === 0) {
      throw new TypeError(`${name} must be a non-empty string`);
    }
  }
  const seen = new Set<string>();
  for (const c of options.credentials) {
    if (!c.accessKeyId || !c.secretAccessKey) {
      throw new TypeError('each credential needs an accessKeyId and a secretAccessKey');
    }
    if (seen.has(c.accessKeyId)) throw new TypeError(`duplicate access key id ${c.accessKeyId}`);
    seen.add(c.accessKeyId);
    accountOf(c.principal);
  }
  for (const [operation, handler] of Object.entries(options.handlers)) {
    if (typeof handler !== 'function')
      throw new TypeError(`handler ${operation} is not a function`);
  }
  const max = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(max) || max <= 0) {
    throw new TypeError('maxBodyBytes must be a positive integer');
  }
}

/**
 * JSON-ready copy of a handler result: `Uint8Array` -> base64 (AWS blob), `Date` -> epoch
 * seconds (AWS JSON timestamp, fractional milliseconds kept as the SDK accepts them).
 */
export function toWireValue(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Date) return value.getTime() / 1000;
  if (Array.isArray(value)) return value.map(toWireValue);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) out[k] = toWireValue(v);
    }
    return out;
  }
  return value;
}

/** Thrown by the body reader when the limit is passed; turned into a 413. */
class BodyTooLarge extends Error {}

/** Reads the whole body, refusing early (by Content-Length) or as soon as the limit is passed. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(new BodyTooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        // Stop buffering; the response closes the connection so the rest is never read.
        req.pause();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks, size));
      }
    });
    req.on('error', (error) => {
      if (!done) {
        done = true;
        reject(error);
      }
    });
  });
}

function send(
  res: ServerResponse,
  status: number,
  requestId: string,
  body: unknown,
  extra: OutgoingHttpHeaders = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  res.writeHead(status, {
    'content-type': CONTENT_TYPE,
    'content-length': payload.length,
    'x-amzn-RequestId': requestId,
    ...extra,
  });
  res.end(payload);
}

function sendError(
  res: ServerResponse,
  requestId: string,
  error: AwsServiceError,
  extra: OutgoingHttpHeaders = {},
): void {
  send(
    res,
    error.status,
    requestId,
    { __type: error.type, message: error.message },
    { 'x-amzn-ErrorType': error.type, ...extra },
  );
}

/**
 * Builds the request listener for one service. Usable with any `http.Server`; see
 * {@link listenAwsJsonService} for the common case.
 */
export function createAwsJsonHandler(
  options: AwsJsonServiceOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  checkOptions(options);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const now = options.now ?? (() => new Date());
  const onInternalError =
    options.onInternalError ??
    ((error: unknown, requestId: string) => {
      const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      process.stderr.write(`[${options.service}] ${requestId} internal failure: ${what}\n`);
    });

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string) {
    // 1. Route. AWS JSON services take every operation as POST to the root path.
    const [path = '', query = ''] = splitTarget(req.url ?? '');
    if (path !== '/') {
      throw new AwsServiceError('UnknownOperationException', 'Not found.', 404);
    }
    if (req.method !== 'POST') {
      throw new AwsServiceError('UnknownOperationException', 'Only POST is supported.', 405);
    }

    // 2. Body, bounded.
    const body = await readBody(req, maxBodyBytes);

    // 3. Authenticate over exactly the bytes received.
    const credential = verifySigV4(
      { method: req.method, path, query, headers: req.headersDistinct, body },
      {
        service: options.service,
        region: options.region,
        credentials: options.credentials,
        now: now(),
      },
    );

    // 4. Operation. Only own properties: `constructor` or `__proto__` are not operations.
    const target = req.headers['x-amz-target'];
    const prefix = `${options.targetPrefix}.`;
    const operation =
      typeof target === 'string' && target.startsWith(prefix) ? target.slice(prefix.length) : '';
    if (!Object.hasOwn(options.handlers, operation)) {
      throw new AwsServiceError('UnknownOperationException', 'The requested operation is unknown.');
    }
    const handler = options.handlers[operation]!;

    // 5. Decode.
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (contentType !== CONTENT_TYPE) {
      throw new AwsServiceError('SerializationException', `Content-Type must be ${CONTENT_TYPE}.`);
    }
    let input: unknown;
    try {
      input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      throw new AwsServiceError('SerializationException', 'The request body is not valid JSON.');
    }
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      throw new AwsServiceError(
        'SerializationException',
        'The request body must be a JSON object.',
      );
    }

    // 6-7. Run and encode.
    const output = await handler(input as Record<string, unknown>, {
      principal: credential.principal,
      accessKeyId: credential.accessKeyId,
      account: accountOf(credential.principal),
      region: options.region,
      requestId,
    });
    send(res, 200, requestId, toWireValue(output));
  }

  return (req, res) => {
    const requestId = randomUUID();
    handle(req, res, requestId).catch((error: unknown) => {
      try {
        if (error instanceof BodyTooLarge) {
          // The unread remainder would otherwise be parsed as the next request on this socket.
          sendError(
            res,
            requestId,
            new AwsServiceError(
              'RequestEntityTooLargeException',
              `Request body exceeds ${maxBodyBytes} bytes.`,
              413,
            ),
            { connection: 'close' },
          );
        } else if (error instanceof AwsServiceError) {
          sendError(res, requestId, error, error.status === 405 ? { allow: 'POST' } : {});
        } else {
          onInternalError(error, requestId);
          sendError(
            res,
            requestId,
            new AwsServiceError('InternalFailure', 'An internal error occurred.', 500),
          );
        }
      } catch {
        // Writing the error failed (the socket is gone); nothing is left to tell the caller.
        res.destroy();
      }
    });
  };
}

/** Splits a request target into raw path and raw query (both still percent-encoded). */
function splitTarget(url: string): [string, string] {
  const q = url.indexOf('?');
  return q < 0 ? [url, ''] : [url.slice(0, q), url.slice(q + 1)];
}

/**
 * Starts one service on `host` (default 127.0.0.1) and `port` (default 0: any free port) and
 * resolves once it is listening.
 */
export async function listenAwsJsonService(
  options: AwsJsonServiceOptions & { readonly host?: string; readonly port?: number },
): Promise<RunningService> {
  const server = createServer(createAwsJsonHandler(options));
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') {
    throw new Error('server is not listening on a TCP port');
  }
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${hostPart}:${address.port}`,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // The SDK keeps connections alive; without this, close() waits for them to time out.
        server.closeIdleConnections();
      }),
  };
}
