/**
 * Echo broadcast: after a broadcast round, each party sends the digest of every broadcast as it
 * received it, and each compares those echoes with its own view. Pairwise channels are
 * authenticated but broadcasts are not signed, so a disagreement between j's echo and this
 * party's view of k's broadcast means either k equivocated or j misreports. Two cases are
 * certain: k contradicting what it sent this party, and j misreporting this party's own
 * broadcast. Otherwise both are named, so the blame set always contains a deviator.
 */
import { equalBytes, u16 } from './bytes.js';
import { encodeWith } from './codec.js';
import type { BodyCodec } from './envelope.js';
import { digest } from './transcript.js';
import { ProtocolError, type PartyId } from './errors.js';

/**
 * Throws EQUIVOCATION when any echo disagrees with `mine`. `parties` orders the digests of
 * `mine` and of every echo.
 */
export function checkEchoes(
  self: PartyId,
  parties: readonly PartyId[],
  mine: readonly Uint8Array[],
  echoes: ReadonlyMap<PartyId, readonly Uint8Array[]>,
): void {
  const certain = new Set<PartyId>();
  const ambiguous = new Set<PartyId>();
  for (const [index, sender] of parties.entries()) {
    for (const [echoer, digests] of echoes) {
      if (equalBytes(digests[index]!, mine[index]!)) continue;
      if (echoer === sender || sender === self) certain.add(echoer);
      else ambiguous.add(sender).add(echoer);
    }
  }
  const blame = certain.size > 0 ? [...certain] : [...ambiguous];
  if (blame.length > 0) {
    throw new ProtocolError(
      'EQUIVOCATION',
      'broadcasts differ between peers (a sender equivocated or an echo misreports)',
      blame,
    );
  }
}

/** The digest of one party's broadcast as a peer received it, bound to the session and sender. */
export function broadcastDigest<M extends { kind: string }>(
  codec: BodyCodec<M>,
  sessionId: Uint8Array,
  sender: PartyId,
  message: M,
): Uint8Array {
  return digest(
    `mpc-kms/${codec.protocol}/broadcast/v1`,
    sessionId,
    u16(sender),
    encodeWith(message, (w, m) => codec.encode(m, w)),
  );
}
