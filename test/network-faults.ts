/**
 * Test helpers for a misbehaving network or party: fault rules for `runLocal` that rewrite,
 * patch, drop or replay messages in flight, and an assertion on the exact ProtocolError a
 * ceremony ends with.
 */
import assert from 'node:assert/strict';
import {
  decodeEnvelope,
  encodeEnvelope,
  type BodyCodec,
  type Envelope,
} from '../protocol/envelope.js';
import { ProtocolError, type PartyId, type ProtocolErrorCode } from '../protocol/errors.js';
import type { FaultRule } from '../protocol/local.js';

/** Bytes before the body: version, protocol, round, kind, session id (32), from, to. */
export const HEADER_LENGTH = 40;
/** Offsets of the header fields. */
export const OFFSET = {
  version: 0,
  protocol: 1,
  round: 2,
  kind: 3,
  sessionId: 4,
  from: 36,
  to: 38,
};

/** Which deliveries a rule applies to: every field given must match. */
export interface Selector {
  from?: PartyId;
  /** The receiver of this copy (for a broadcast, one of several). */
  to?: PartyId;
  round?: number;
  kind?: string;
}

export function matches<M extends { kind: string }>(sel: Selector, env: Envelope<M>, to: PartyId) {
  return (
    (sel.from === undefined || sel.from === env.from) &&
    (sel.to === undefined || sel.to === to) &&
    (sel.round === undefined || sel.round === env.round) &&
    (sel.kind === undefined || sel.kind === env.message.kind)
  );
}

/**
 * Decodes the selected deliveries, lets `change` rewrite the envelope (message, session id, …)
 * and re-encodes it; other deliveries pass unchanged.
 */
export function rewrite<M extends { kind: string }>(
  codec: BodyCodec<M>,
  sel: Selector,
  change: (env: Envelope<M>, to: PartyId) => Envelope<M>,
): FaultRule<M> {
  return (bytes, env, to) => {
    if (!matches(sel, env, to)) return [bytes];
    const decoded = decodeEnvelope(codec, bytes);
    return [encodeEnvelope(codec, change(decoded, to))];
  };
}

/** Rewrites only the message of the selected deliveries. */
export function rewriteMessage<M extends { kind: string }>(
  codec: BodyCodec<M>,
  sel: Selector,
  change: (message: M, to: PartyId) => M,
): FaultRule<M> {
  return rewrite(codec, sel, (env, to) => ({ ...env, message: change(env.message, to) }));
}

/** Applies `edit` to a copy of the raw bytes of the selected deliveries. */
export function patchBytes<M extends { kind: string }>(
  sel: Selector,
  edit: (bytes: Uint8Array) => Uint8Array,
): FaultRule<M> {
  return (bytes, env, to) => (matches(sel, env, to) ? [edit(Uint8Array.from(bytes))] : [bytes]);
}

/** A copy of `bytes` with `replacement` written at `offset`. */
export function overwrite(bytes: Uint8Array, offset: number, replacement: Uint8Array): Uint8Array {
  assert.ok(offset + replacement.length <= bytes.length, 'patch beyond the end of the message');
  const out = Uint8Array.from(bytes);
  out.set(replacement, offset);
  return out;
}

/** Drops the selected deliveries. */
export function drop<M extends { kind: string }>(sel: Selector): FaultRule<M> {
  return (bytes, env, to) => (matches(sel, env, to) ? [] : [bytes]);
}

/** Delivers each selected message twice in a row. */
export function duplicate<M extends { kind: string }>(sel: Selector): FaultRule<M> {
  return (bytes, env, to) => (matches(sel, env, to) ? [bytes, bytes] : [bytes]);
}

/**
 * Records the first delivery matching `record` and delivers it again just before the first
 * delivery matching `trigger` (on the same link), so it arrives after the protocol moved on.
 */
export function replayBefore<M extends { kind: string }>(
  record: Selector,
  trigger: Selector,
): FaultRule<M> {
  let saved: Uint8Array | undefined;
  let replayed = false;
  return (bytes, env, to) => {
    if (!saved && matches(record, env, to)) saved = Uint8Array.from(bytes);
    if (saved && !replayed && matches(trigger, env, to)) {
      replayed = true;
      return [saved, bytes];
    }
    return [bytes];
  };
}

/** Runs several rules in turn on every copy. */
export function chain<M extends { kind: string }>(...rules: FaultRule<M>[]): FaultRule<M> {
  return (bytes, env, to) => {
    let copies = [bytes];
    for (const rule of rules) copies = copies.flatMap((b) => rule(b, env, to));
    return copies;
  };
}

/** What `fn` threw, or undefined if it returned. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** Asserts that `fn` throws a ProtocolError with exactly this code and blame. */
export function expectProtocolError(
  fn: () => unknown,
  code: ProtocolErrorCode,
  blame: readonly PartyId[],
): ProtocolError {
  const e = thrown(fn);
  assert.ok(
    e !== undefined,
    `expected ProtocolError ${code} ${JSON.stringify(blame)}, nothing was thrown`,
  );
  assert.ok(
    e instanceof ProtocolError,
    `expected ProtocolError ${code}, got ${String((e as Error)?.stack ?? e)}`,
  );
  assert.deepEqual(
    { code: e.code, blame: [...e.blame] },
    { code, blame: [...blame] },
    `unexpected ${e.code} ${JSON.stringify(e.blame)}: ${e.message}`,
  );
  return e;
}

/** 1..n */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** Every k-element subset of `items`, in lexicographic order. */
export function subsets<T>(items: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (items.length < k) return [];
  const [first, ...rest] = items;
  return [...subsets(rest, k - 1).map((s) => [first!, ...s]), ...subsets(rest, k)];
}

/**
 * An equivocation by `culprit` is reported either with certainty (blame [culprit]) or, by a
 * party that cannot tell who lied, together with the peer whose echo disagreed.
 */
export function expectEquivocation(run: () => unknown, culprit: number, witnesses: number[]) {
  const e = thrown(run);
  assert.ok(e instanceof ProtocolError, `not a ProtocolError: ${String(e)}`);
  assert.equal(e.code, 'EQUIVOCATION', e.message);
  const allowed = [[culprit], ...witnesses.map((w) => [culprit, w].sort((a, b) => a - b))];
  assert.ok(
    allowed.some((b) => JSON.stringify(b) === JSON.stringify([...e.blame])),
    `blame ${JSON.stringify(e.blame)} not among ${JSON.stringify(allowed)}`,
  );
}
