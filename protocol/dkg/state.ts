/** The states a DKG or refresh party moves through; each round accepts only its own step. */
import type { BodyCodec } from '../envelope.js';
import { ProtocolError, type PartyId } from '../errors.js';
import type { KeyShare } from '../keyshare.js';
import type { CommitMessage, DkgMessage } from './messages.js';
import type { DkgMode, DkgParams } from './params.js';

interface Common {
  readonly mode: DkgMode;
  readonly params: DkgParams;
  /** Sorted participants. */
  readonly parties: readonly PartyId[];
  readonly context: Uint8Array;
  readonly codec: BodyCodec<DkgMessage>;
  /** Refresh: the share being refreshed. */
  readonly previous: KeyShare | null;
}

/** After round 1 was sent: waiting for every peer's commitments. */
export interface AwaitingCommits extends Common {
  readonly step: 'commits';
  /** Secret polynomial coefficients; dropped once the shares are out. */
  readonly coefficients: bigint[];
  readonly own: CommitMessage;
  /** DKG: this party's chain-code contribution, revealed in round 2. */
  readonly chainCode: Uint8Array | null;
}

/** After round 2 was sent: waiting for every peer's echo and private share. */
export interface AwaitingShares extends Common {
  readonly step: 'shares';
  readonly ownShare: bigint;
  readonly commits: ReadonlyMap<PartyId, CommitMessage>;
  /** This party's view of everyone's round-1 broadcast, in party order. */
  readonly digests: readonly Uint8Array[];
  readonly chainCode: Uint8Array | null;
}

export type DkgState = AwaitingCommits | AwaitingShares;

export function expectStep<S extends DkgState>(state: DkgState, step: S['step']): S {
  if (state.step !== step) {
    throw new ProtocolError('WRONG_STEP', `DKG is at step ${state.step}, not ${step}`);
  }
  return state as S;
}
