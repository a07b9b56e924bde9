/**
 * What the REST API sends back: an `Answer` (status, JSON text, headers) and the one way every
 * error becomes one, `{"error":{"code","message","details"?}}` with the status of `STATUS_OF`
 * (DESIGN.md, "Contract" → "REST API").
 *
 * Handlers produce answers rather than write to the response, so the idempotency layer can store
 * an answer and replay it byte for byte, and so an error thrown anywhere takes the same path.
 */
import type { Response } from 'express';
import type { Logger } from 'pino';
import { ServiceError, STATUS_OF } from '../service-types.js';

/** A finished HTTP answer: what is sent, and what a replay sends again byte for byte. */
export interface Answer {
  readonly status: number;
  /** The JSON text of the body; null for no body (204). */
  readonly body: string | null;
  readonly headers?: Readonly<Record<string, string>>;
}

export const json = (status: number, value: unknown): Answer => ({
  status,
  body: JSON.stringify(value),
});

export const noContent = (): Answer => ({ status: 204, body: null });

/** The RFC 6750 challenge of every 401. */
export const REALM = 'Bearer realm="mpc-kms"';

/** A 401 with its RFC 6750 challenge (`error="invalid_token"` and the like). */
export class Unauthenticated extends ServiceError {
  constructor(
    message: string,
    readonly challenge: string,
  ) {
    super('UNAUTHORIZED', message);
  }
}

/** Writes an answer; JSON bodies go out as `application/json; charset=utf-8`. */
export function send(res: Response, answer: Answer): void {
  res.status(answer.status);
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
  if (answer.body === null) res.end();
  else res.type('application/json').send(answer.body);
}

/**
 * Any thrown value as an answer. A `ServiceError`'s message and details are shown to the caller
 * (they are written for it); anything else is a 500 with a generic message, and its name and
 * message go to the log only (not its stack, which may quote paths and values).
 */
export function errorAnswer(error: unknown, options: { limit: number; log: Logger }): Answer {
  const refusal = asServiceError(error, options.limit);
  if (refusal === null) {
    const { name, message } =
      error instanceof Error ? error : { name: typeof error, message: String(error) };
    options.log.error({ error: { name, message } }, 'unexpected error');
    return json(500, { error: { code: 'INTERNAL', message: 'internal error' } });
  }
  const headers: Record<string, string> = {};
  if (refusal instanceof Unauthenticated) headers['WWW-Authenticate'] = refusal.challenge;
  else if (refusal.code === 'UNAUTHORIZED') headers['WWW-Authenticate'] = REALM;
  const retryAfter = refusal.details['retryAfterSeconds'];
  if (refusal.code === 'RATE_LIMITED' && typeof retryAfter === 'number' && retryAfter >= 0) {
    // Retry-After takes whole seconds (RFC 9110 10.2.3); round up so a client never comes early.
    headers['Retry-After'] = String(Math.ceil(retryAfter));
  }
  const hasDetails = Object.keys(refusal.details).length > 0;
  const body = {
    error: {
      code: refusal.code,
      message: refusal.message,
      ...(hasDetails ? { details: refusal.details } : {}),
    },
  };
  return { ...json(STATUS_OF[refusal.code], body), headers };
}

/**
 * A thrown value as a refusal, or null when it is unexpected (a 500). Errors of the JSON body
 * parser arrive as http-errors with a `type`; they become 400 BAD_REQUEST.
 *
 * An oversize body is 400, not 413: DESIGN.md's contract lists 400 for every malformed request
 * and no 413, and callers branch on that list. The message names the limit, so the cause is not
 * lost. Likewise an unsupported charset or Content-Encoding is 400, not 415.
 */
function asServiceError(error: unknown, limit: number): ServiceError | null {
  if (error instanceof ServiceError) return error;
  if (typeof error !== 'object' || error === null) return null;
  switch ((error as { type?: unknown }).type) {
    case 'entity.too.large':
      return new ServiceError('BAD_REQUEST', `request body larger than ${limit} bytes`, {
        limitBytes: limit,
      });
    case 'entity.parse.failed':
      // Not the parser's own message: it quotes the body, which is not ours to repeat.
      return new ServiceError('BAD_REQUEST', 'request body is not valid JSON (an object)');
    case 'charset.unsupported':
      return new ServiceError('BAD_REQUEST', 'request body charset must be utf-8');
    case 'encoding.unsupported':
      return new ServiceError('BAD_REQUEST', 'unsupported Content-Encoding');
    case 'request.aborted':
    case 'request.size.invalid':
      return new ServiceError('BAD_REQUEST', 'request body incomplete');
  }
  return null;
}
