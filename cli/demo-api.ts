/**
 * What `mpc-kms demo` needs to talk to the REST API and to report what it saw: a small HTTP
 * client that times each call and turns `{"error":{"code","message"}}` answers into errors, a
 * tally of checks, and formatting for hex and durations.
 *
 * The client reads answers as untrusted input: values that the demo computes with (keys,
 * signatures) go through `hexBytes`, which refuses anything but hex of the expected length, so
 * a malformed answer fails a check with a message instead of surfacing later as a confusing
 * verifier result.
 */
import { fromHex } from '../protocol/bytes.js';

/** Key generation for ECDSA makes safe primes; give a slow machine room before giving up. */
const REQUEST_TIMEOUT_MS = 300_000;

/** An HTTP answer other than 2xx, with the API's error code when it sent one. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The REST API at one base URL; each call names its own bearer token (or none). */
export class Api {
  constructor(readonly url: string) {}

  /**
   * Sends one request and answers the parsed JSON body with the time it took (ms, including
   * reading the body). Throws `ApiError` for a non-2xx answer or a body that is not JSON.
   */
  async call<T>(
    method: 'GET' | 'POST',
    path: string,
    token: string | null,
    body?: unknown,
  ): Promise<{ value: T; ms: number }> {
    const started = performance.now();
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(this.url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    const ms = performance.now() - started;
    let value: unknown;
    try {
      value = text === '' ? null : JSON.parse(text);
    } catch {
      throw new ApiError(
        response.status,
        'NOT_JSON',
        `${method} ${path}: ${response.status}, not JSON`,
      );
    }
    if (!response.ok) {
      const error = (value as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      const code = typeof error?.code === 'string' ? error.code : `HTTP_${response.status}`;
      const message = typeof error?.message === 'string' ? `: ${error.message}` : '';
      throw new ApiError(
        response.status,
        code,
        `${method} ${path}: ${response.status} ${code}${message}`,
      );
    }
    return { value: value as T, ms };
  }
}

/** Hex of exactly `length` bytes (any length when omitted), or a thrown error naming `what`. */
export function hexBytes(value: unknown, what: string, length?: number): Uint8Array {
  const bytes = typeof value === 'string' ? fromHex(value) : null;
  if (!bytes || (length !== undefined && bytes.length !== length)) {
    throw new Error(`the answer's ${what} is not ${length ?? 'some'} bytes of hex`);
  }
  return bytes;
}

/** Counts checks and prints each as a `✓`/`✗` line; skipped checks are printed, not counted. */
export class Checks {
  passed = 0;
  failed = 0;
  constructor(private readonly out: (line: string) => void) {}

  /** Records and prints one check; returns `ok`. `why` is printed only when it failed. */
  check(ok: boolean, what: string, why = ''): boolean {
    if (ok) this.passed += 1;
    else this.failed += 1;
    this.out(`    ${ok ? '✓' : '✗'} ${what}${!ok && why ? ` (${why})` : ''}`);
    return ok;
  }

  /** A step that could not run to the end counts as one failed check. */
  error(what: string, error: unknown): void {
    this.failed += 1;
    this.out(`    ✗ ${what}: ${error instanceof Error ? error.message : String(error)}`);
  }

  skip(what: string): void {
    this.out(`    - skipped: ${what}`);
  }
}

/** `123 ms` below a second, `4.2 s` above. */
export function duration(ms: number): string {
  // Compare after rounding, or 999.6 ms would print as "1000 ms".
  return Math.round(ms) < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Long hex shortened to its first `head` and last 8 characters. */
export function short(hex: string, head = 16): string {
  return hex.length <= head + 9 ? hex : `${hex.slice(0, head)}…${hex.slice(-8)}`;
}

/** One indented `label  value  time` line of the walkthrough; values line up in one column. */
export function row(label: string, value: string, ms?: number): string {
  const line = `    ${label.length < 15 ? label.padEnd(16) : `${label}  `}${value}`;
  return ms === undefined ? line : `${line}   ${duration(ms)}`;
}
