/**
 * Pedersen DKG with Feldman commitments, proofs of knowledge, an echo round and a joint chain
 * code; and the refresh that re-randomises shares with a zero-sharing under the same rounds.
 *
 *   round 1  broadcast  commit: C_0..C_{t-1}, PoK(a_0), H(chain-code contribution)
 *   round 2  broadcast  echo:   digest of every round-1 broadcast, chain-code opening
 *            direct     share:  f_i(j) to each peer j
 *   output              KeyShare (secret share, public key, verification shares, chain code)
 */
import { ProtocolError } from '../errors.js';
import { groupByName } from '../group.js';
import type { KeyShare } from '../keyshare.js';
import { Machine, type Round } from '../machine.js';
import type { Rng } from '../random.js';
import { dkgCodec, type DkgMessage } from './messages.js';
import { sessionContext, validateParams, type DkgMode, type DkgParams } from './params.js';
import { round1 } from './round1.js';
import { round2 } from './round2.js';
import { round3 } from './round3.js';
import type { DkgState } from './state.js';

export type { DkgMessage, CommitMessage, EchoMessage, ShareMessage } from './messages.js';
export { dkgCodec } from './messages.js';
export type { DkgParams, DkgMode } from './params.js';

export type DkgMachine = Machine<DkgState, DkgMessage, KeyShare>;

function rounds(): Round<DkgState, DkgMessage, KeyShare>[] {
  const peers = (s: DkgState) => s.parties.filter((p) => p !== s.params.self);
  return [
    { expect: (s) => ({ from: peers(s), broadcast: ['commit'], direct: [] }), run: round2 },
    { expect: (s) => ({ from: peers(s), broadcast: ['echo'], direct: ['share'] }), run: round3 },
  ];
}

function create(mode: DkgMode, params: DkgParams, previous: KeyShare | null, rng: Rng): DkgMachine {
  const parties = validateParams(params);
  const context = sessionContext(
    mode,
    params,
    parties,
    previous ? { publicKey: previous.publicKey.toBytes(), epoch: previous.epoch } : undefined,
  );
  const codec = dkgCodec(params.group, mode, params.threshold, parties.length);
  const { state, outgoing } = round1({ mode, params, parties, context, codec, previous }, rng);
  return new Machine({
    protocol: mode,
    self: params.self,
    sessionId: params.sessionId,
    rounds: rounds(),
    state,
    outgoing,
  });
}

/** Starts a party's side of a DKG; `start()` gives its round-1 broadcast. */
export function createDkg(params: DkgParams, rng: Rng): DkgMachine {
  return create('dkg', params, null, rng);
}

/**
 * Starts a party's side of a refresh of `share`: every holder of the key takes part, and the
 * output is the same key with new shares in epoch + 1.
 */
export function createRefresh(share: KeyShare, sessionId: Uint8Array, rng: Rng): DkgMachine {
  if (share.secretShare.disposed) {
    throw new ProtocolError('WRONG_STEP', 'cannot refresh a disposed share');
  }
  const params: DkgParams = {
    group: groupByName(share.group),
    sessionId,
    self: share.self,
    parties: share.parties,
    threshold: share.threshold,
  };
  return create('refresh', params, share, rng);
}
