/**
 * DKG / refresh round 2, on receiving every peer's commitments: verify each proof of knowledge,
 * then send an echo of what was received (so equivocation shows in round 3), the chain-code
 * opening, and to each peer its private share f_self(peer).
 */
import { u16 } from '../bytes.js';
import { Writer } from '../codec.js';
import { ProtocolError, type PartyId } from '../errors.js';
import type { Inbox, Outgoing, RoundResult } from '../machine.js';
import { verifyKnowledge } from '../pok.js';
import { evaluatePolynomial } from '../polynomial.js';
import { digest } from '../transcript.js';
import type { CommitMessage, DkgMessage } from './messages.js';
import { expectStep, type AwaitingCommits, type DkgState } from './state.js';
import type { KeyShare } from '../keyshare.js';

/** The digest of one party's round-1 broadcast, bound to the session context and its sender. */
export function broadcastDigest(state: AwaitingCommits, sender: PartyId, m: CommitMessage) {
  const w = new Writer();
  state.codec.encode(m, w);
  return digest('mpc-kms/dkg/broadcast/v1', state.context, u16(sender), w.finish());
}

export function round2(
  current: DkgState,
  inbox: Inbox<DkgMessage>,
): RoundResult<DkgState, DkgMessage, KeyShare> {
  const state = expectStep<AwaitingCommits>(current, 'commits');
  const { group, self } = state.params;
  const commits = new Map<PartyId, CommitMessage>([[self, state.own]]);
  for (const [from, messages] of inbox) commits.set(from, messages.get('commit') as CommitMessage);

  if (state.mode === 'dkg') {
    const badProofs = [...commits].filter(
      ([from, m]) =>
        from !== self && !verifyKnowledge(group, state.context, from, m.commitments[0]!, m.proof!),
    );
    if (badProofs.length > 0) {
      throw new ProtocolError(
        'INVALID_PROOF',
        'proof of knowledge of the constant term does not verify',
        badProofs.map(([from]) => from),
      );
    }
  }

  const digests = state.parties.map((p) => broadcastDigest(state, p, commits.get(p)!));
  const outgoing: Outgoing<DkgMessage>[] = [
    { to: null, message: { kind: 'echo', digests, chainCode: state.chainCode } },
  ];
  let ownShare = 0n;
  for (const p of state.parties) {
    const share = evaluatePolynomial(group, state.coefficients, BigInt(p));
    if (p === self) ownShare = share;
    else outgoing.push({ to: p, message: { kind: 'share', share } });
  }
  // Best effort: the coefficients are not needed again; drop them from the live state.
  state.coefficients.fill(0n);
  return {
    state: {
      mode: state.mode,
      params: state.params,
      parties: state.parties,
      context: state.context,
      codec: state.codec,
      previous: state.previous,
      step: 'shares',
      ownShare,
      commits,
      digests,
      chainCode: state.chainCode,
    },
    outgoing,
  };
}
