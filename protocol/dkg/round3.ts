/**
 * DKG / refresh round 3, on receiving every peer's echo and private share: catch equivocation,
 * check the chain-code openings and every share against its sender's commitments, then compute
 * this party's share and everyone's verification share.
 */
import { equalBytes, u16 } from '../bytes.js';
import { ProtocolError, type PartyId } from '../errors.js';
import type { Element } from '../group.js';
import type { KeyShare } from '../keyshare.js';
import { sealKeyShareObject } from '../keyshare.js';
import type { Inbox, RoundResult } from '../machine.js';
import { evaluateCommitment, sumCommitments } from '../polynomial.js';
import { SecretScalar } from '../secret.js';
import { digest } from '../transcript.js';
import type { CommitMessage, DkgMessage, EchoMessage, ShareMessage } from './messages.js';
import { CHAIN_CODE_TAG } from './round1.js';
import { checkEchoes } from '../echo.js';
import { expectStep, type AwaitingShares, type DkgState } from './state.js';

/** The polynomial commitments with the constant term made explicit (zero for a refresh). */
function fullCommitments(state: AwaitingShares, m: CommitMessage): Element[] {
  return state.mode === 'dkg'
    ? [...m.commitments]
    : [state.params.group.identity, ...m.commitments];
}

export function round3(
  current: DkgState,
  inbox: Inbox<DkgMessage>,
): RoundResult<DkgState, DkgMessage, KeyShare> {
  const state = expectStep<AwaitingShares>(current, 'shares');
  const { group, self, threshold } = state.params;
  const echoes = new Map<PartyId, EchoMessage>();
  const shares = new Map<PartyId, bigint>([[self, state.ownShare]]);
  for (const [from, messages] of inbox) {
    echoes.set(from, messages.get('echo') as EchoMessage);
    shares.set(from, (messages.get('share') as ShareMessage).share);
  }

  checkEchoes(
    self,
    state.parties,
    state.digests,
    new Map([...echoes].map(([from, echo]) => [from, echo.digests])),
  );

  let chainCode: Uint8Array;
  if (state.mode === 'dkg') {
    const contributions: Uint8Array[] = [];
    const badOpenings: PartyId[] = [];
    for (const p of state.parties) {
      const opened = p === self ? state.chainCode! : echoes.get(p)!.chainCode!;
      const expected = digest(CHAIN_CODE_TAG, state.context, u16(p), opened);
      if (!equalBytes(expected, state.commits.get(p)!.chainCommitment!)) badOpenings.push(p);
      contributions.push(opened);
    }
    if (badOpenings.length > 0) {
      throw new ProtocolError('INVALID_OPENING', 'chain-code opening does not match', badOpenings);
    }
    chainCode = digest('mpc-kms/dkg/joint-chain-code/v1', state.context, ...contributions);
  } else {
    chainCode = Uint8Array.from(state.previous!.chainCode);
  }

  // Feldman check, optimistic: the sum of received shares against the sum of commitments costs
  // one evaluation; only if it fails is each sender checked alone to name the culprits.
  const x = BigInt(self);
  const vectors = state.parties.map((p) => fullCommitments(state, state.commits.get(p)!));
  const joint = sumCommitments(vectors);
  let sum = 0n;
  for (const s of shares.values()) sum += s;
  sum = group.mod(sum);
  if (!group.base.multiplyUnsafe(sum).equals(evaluateCommitment(group, joint, x))) {
    const culprits = state.parties.filter((p, i) => {
      const expected = evaluateCommitment(group, vectors[i]!, x);
      return !group.base.multiplyUnsafe(shares.get(p)!).equals(expected);
    });
    throw new ProtocolError('INVALID_SHARE', 'share does not match its commitments', culprits);
  }

  let secret: bigint;
  let publicKey: Element;
  const verificationShares = new Map<PartyId, Element>();
  if (state.mode === 'dkg') {
    secret = sum;
    publicKey = joint[0]!;
    if (publicKey.is0())
      throw new ProtocolError('INVALID_SHARE', 'joint public key is the identity');
    for (const p of state.parties)
      verificationShares.set(p, evaluateCommitment(group, joint, BigInt(p)));
  } else {
    const previous = state.previous!;
    secret = group.mod(previous.secretShare.reveal() + sum);
    publicKey = previous.publicKey;
    for (const p of state.parties) {
      const delta = evaluateCommitment(group, joint, BigInt(p));
      verificationShares.set(p, previous.verificationShares.get(p)!.add(delta));
    }
  }
  const secretShare = new SecretScalar(group, secret);
  if (!group.mulBase(secret).equals(verificationShares.get(self)!)) {
    // Unreachable if the checks above passed; kept so a bug can never output a wrong share.
    throw new ProtocolError('INVALID_SHARE', 'own share does not match own verification share');
  }
  const output = sealKeyShareObject({
    group: group.name,
    keySessionId: state.previous ? state.previous.keySessionId : state.params.sessionId,
    self,
    parties: state.parties,
    threshold,
    epoch: state.previous ? state.previous.epoch + 1 : 0,
    secretShare,
    publicKey,
    verificationShares,
    chainCode,
  });
  return { output, outgoing: [] };
}
