/**
 * `Idempotency-Key` on POST: a retried request gets the first request's answer instead of running a
 * second ceremony. A client that lost the answer to "create a key" or "sign" (a timeout, a dropped
 * connection) can send the same request again with the same key and be sure one key was made and
 * one signature spent.
 *
 * The key is scoped to the token that sent it (two callers never see each other's answers) and
 * bound to the request: method, route, path parameters and the validated body. Reusing a key for
 * another request is an error (422), not a replay, so a client bug cannot hand back the signature
 * of another digest. The record is claimed before the request runs, so a concurrent duplicate
 * sees it running and gets 409 rather than starting a second ceremony.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../audit.js';
import { ServiceError } from '../service-types.js';
import type { MetadataStore } from '../store/types.js';
import type { Answer } from './answers.js';

/** The three store methods this layer uses; the rest of the store is the service's. */
export type IdempotencyStore = Pick<
  MetadataStore,
  'claimIdempotency' | 'completeIdempotency' | 'releaseIdempotency'
>;

/** `Idempotency-Key`: 1 to 255 printable ASCII characters (space through tilde). */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;

/**
 * How a route treats the header: `honour` (POST), `refuse` (POST /v1/tokens, whose answer holds
 * a new token in clear, while the store keeps answers and tokens only as hashes), or undefined
 * (GET, PUT, DELETE: idempotent by themselves; the header is ignored).
 */
export type IdempotencyPolicy = 'honour' | 'refuse' | undefined;

/** The `Idempotency-Key` to use; null when absent or ignored. Throws BAD_REQUEST when invalid. */
export function idempotencyKeyOf(
  header: string | undefined,
  policy: IdempotencyPolicy,
): string | null {
  if (header === undefined || policy === undefined) return null;
  if (policy === 'refuse') {
    throw new ServiceError(
      'BAD_REQUEST',
      'Idempotency-Key is not accepted here: the answer holds a secret that is never stored',
    );
  }
  if (!IDEMPOTENCY_KEY_PATTERN.test(header)) {
    throw new ServiceError(
      'BAD_REQUEST',
      'Idempotency-Key must be 1 to 255 printable ASCII characters',
    );
  }
  return header;
}

/**
 * SHA-256 over the canonical JSON (sorted keys, no whitespace) of what identifies the request.
 * The validated body is used, not the raw bytes: `{"digest":"AB…"}` and `{"digest":"ab…"}` with
 * fields in another order ask for the same thing and count as the same request.
 */
export function requestHash(request: {
  readonly method: string;
  readonly route: string;
  readonly params: Readonly<Record<string, string>>;
  readonly body: unknown;
}): string {
  return createHash('sha256')
    .update(canonicalJson({ ...request, body: request.body ?? null }))
    .digest('hex');
}

/**
 * Whether an answer is final and is stored for replays. Not stored (the claim is released, so a
 * retry runs again):
 * - 500 INTERNAL and 503 UNAVAILABLE describe the coordinator's state, not the request. A 503
 *   means the ceremony did not complete (the service reports a key created only after every
 *   party committed it), so a retry after recovery is exactly what the client should do; stored,
 *   the failure would pin that key to the outage. Honest limit: a 500 raised by a bug *after* a
 *   ceremony completed (say, the audit write failed) lets a retry run a second one. Storing 500s
 *   would instead replay a failure whose outcome nobody knows; the audit log shows both.
 * - 429 RATE_LIMITED says "retry after N seconds"; stored, the retry would be refused forever.
 *   (A departure from "every 4xx is final", for that reason.)
 * Every other answer, 2xx and 4xx alike, is final: a policy refusal or an unknown key does not
 * change because the same request is sent again.
 */
export function isFinal(status: number): boolean {
  return status < 500 && status !== 429;
}

/** Longer than the slowest ceremony's deadline (ECDSA key generation: minutes at most). */
export const STALE_CLAIM_MS = 15 * 60 * 1000;

export type Claim = { readonly kind: 'run' } | { readonly kind: 'replay'; readonly answer: Answer };

/**
 * Claims `key` for this request: `run` when the caller now owns it (and must later `settle`), or
 * the stored answer to replay. Throws UNPROCESSABLE when the key was used for another request and
 * CONFLICT while the first request with it is still running.
 */
export async function claim(
  store: IdempotencyStore,
  tokenId: string,
  key: string,
  hash: string,
  now: Date,
): Promise<Claim> {
  const existing = await store.claimIdempotency({
    tokenId,
    key,
    requestHash: hash,
    status: null,
    response: null,
    createdAt: now.toISOString(),
  });
  if (existing === null) return { kind: 'run' };
  // Checked first: a different request must never learn whether the original is still running.
  if (existing.requestHash !== hash) {
    throw new ServiceError('UNPROCESSABLE', 'Idempotency-Key reused with a different request');
  }
  if (existing.status === null || existing.response === null) {
    // A claim older than any request can run belongs to a coordinator that died mid-request
    // (or failed to store its answer): release it so the key is not refused forever. A retry
    // then runs; the enclaves' own refusals (a spent presignature, an epoch already staged)
    // and the audit log keep a repeated ceremony visible and harmless.
    if (now.getTime() - Date.parse(existing.createdAt) > STALE_CLAIM_MS) {
      await store.releaseIdempotency(tokenId, key);
      return claim(store, tokenId, key, hash, now);
    }
    throw new ServiceError(
      'CONFLICT',
      'a request with this Idempotency-Key is still running; retry once it has answered',
    );
  }
  return {
    kind: 'replay',
    answer: {
      status: existing.status,
      // An empty stored response stands for "no body" (a 204).
      body: existing.response === '' ? null : existing.response,
      headers: { 'Idempotent-Replay': 'true' },
    },
  };
}

/**
 * Stores a final answer, or releases the claim of one that is not (see `isFinal`). A store that
 * fails here is logged by the caller and the answer still goes out; the claim then stays
 * "running", so retries get 409 — the safe side: never a second ceremony.
 */
export async function settle(
  store: IdempotencyStore,
  tokenId: string,
  key: string,
  answer: Answer,
): Promise<void> {
  if (isFinal(answer.status)) {
    await store.completeIdempotency(tokenId, key, answer.status, answer.body ?? '');
  } else {
    await store.releaseIdempotency(tokenId, key);
  }
}
