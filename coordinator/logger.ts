/**
 * The coordinator's structured logger: pino, one JSON object per line.
 *
 * The HTTP layer never hands a body, a bearer token or a value to sign to the logger; this file is
 * the second line of defence for the day someone logs a whole object by mistake. Two mechanisms,
 * because pino's `redact` takes exact paths (with `*` standing for one whole segment) and cannot
 * express "any key that starts with secret":
 * - `redact` censors the fixed paths: the Authorization header wherever a request is logged, and
 *   `token` at the top level or one to two levels down;
 * - a log formatter censors every key beginning with "secret" (secret, secretKey, secrets, ...)
 *   up to a few levels deep.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** pino level: trace, debug, info (default), warn, error, fatal, silent. */
  readonly level?: string;
  /** Where lines go; default stdout. Tests pass a stream that collects them. */
  readonly destination?: NodeJS.WritableStream;
}

/** What a censored value is replaced with. */
export const REDACTED = '[redacted]';

/** Exact paths (fast-redact syntax) censored in every line. */
export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.headers.authorization',
  'authorization',
  '*.authorization',
  'token',
  '*.token',
  '*.*.token',
];

const SECRET_KEY = /^secret/i;
/** Deep enough for `{ err: { cause: { secretKey } } }`; log objects are shallow by design. */
const SECRET_SCAN_DEPTH = 4;

/** A copy of `value` with every key matching /^secret/i censored; the input is never mutated. */
function censorSecretKeys(value: unknown, depth: number): unknown {
  if (depth === 0 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => censorSecretKeys(item, depth - 1));
  // Errors, buffers and the like go to pino's serialisers unchanged: copying them would lose
  // their class and non-enumerable fields (an Error's message and stack).
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? REDACTED : censorSecretKeys(item, depth - 1);
  }
  return out;
}

/** A pino logger with the redaction above. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      redact: { paths: [...REDACT_PATHS], censor: REDACTED },
      formatters: {
        log: (object) => censorSecretKeys(object, SECRET_SCAN_DEPTH) as Record<string, unknown>,
      },
    },
    (options.destination ?? process.stdout) as DestinationStream,
  );
}
