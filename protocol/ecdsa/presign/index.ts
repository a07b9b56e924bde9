/**
 * Presigning of CGGMP21 (Fig. 8) for a t-of-n key: the signing set converts its Shamir shares to
 * additive shares x_i = λ_i·s_i, then runs three rounds whose every message carries the proofs
 * that keep a malicious peer from learning anything or steering R:
 *
 *   round 1  broadcast K_i, G_i             direct Πenc(K_i)
 *   round 2  broadcast Γ_i, echo            direct D, F, D̂, F̂, Πaff-g ×2, Πlog*(G_i, Γ_i)
 *   round 3  broadcast δ_i, Δ_i, S_i, echo  direct Πlog*(K_i, Δ_i)
 *   output   Presignature (R, k_i, χ_i), bound to key, epoch and signer set
 */
import { ProtocolError, type PartyId } from '../../errors.js';
import { secp256k1Group, type Element } from '../../group.js';
import type { KeyShare } from '../../keyshare.js';
import { Machine, type Round } from '../../machine.js';
import { lagrangeCoefficient } from '../../polynomial.js';
import type { Rng } from '../../random.js';
import { assertAuxMatches, type AuxInfo } from '../aux-info.js';
import type { Presignature } from '../presignature.js';
import { presignCodec, type PresignMessage } from './messages.js';
import { output } from './output.js';
import { round1 } from './round1.js';
import { round2 } from './round2.js';
import { round3 } from './round3.js';
import type { PresignState } from './state.js';

export { presignCodec, type PresignMessage } from './messages.js';

export type PresignMachine = Machine<PresignState, PresignMessage, Presignature>;

export interface PresignRequest {
  readonly sessionId: Uint8Array;
  readonly signers: readonly PartyId[];
}

/** Starts a signer's side of presigning; `start()` gives its round-1 messages. */
export function createPresign(
  share: KeyShare,
  aux: AuxInfo,
  request: PresignRequest,
  rng: Rng,
): PresignMachine {
  const fail = (m: string): never => {
    throw new ProtocolError('INVALID_PARAMETERS', m);
  };
  if (share.group !== 'secp256k1') fail('ECDSA keys are secp256k1 keys');
  assertAuxMatches(aux, share);
  if (request.sessionId.length !== 32) fail('session id must be 32 bytes');
  const signers = [...request.signers].sort((a, b) => a - b);
  if (new Set(signers).size !== signers.length) fail('a signer appears twice');
  if (signers.some((p) => !share.parties.includes(p))) fail('a signer does not hold this key');
  if (signers.length < share.threshold)
    fail(`${signers.length} signers for a threshold of ${share.threshold}`);
  if (!signers.includes(share.self)) fail(`party ${share.self} is not in the signing set`);
  if (signers.some((p) => !aux.parties.has(p))) fail('auxiliary info lacks a signer');

  const group = secp256k1Group;
  const ids = signers.map(BigInt);
  const X = new Map<PartyId, Element>();
  for (const p of signers) {
    const lambda = lagrangeCoefficient(group, ids, BigInt(p));
    X.set(p, share.verificationShares.get(p)!.multiplyUnsafe(lambda));
  }
  const x = group.mod(
    lagrangeCoefficient(group, ids, BigInt(share.self)) * share.secretShare.reveal(),
  );
  const codec = presignCodec(signers.length);
  const peers = signers.filter((p) => p !== share.self);
  const { state, outgoing } = round1(
    {
      sessionId: request.sessionId,
      self: share.self,
      signers,
      peers,
      share,
      aux,
      mine: aux.parties.get(share.self)!,
      codec,
      x,
      X,
    },
    rng,
  );
  const rounds: Round<PresignState, PresignMessage, Presignature>[] = [
    {
      expect: () => ({ from: peers, broadcast: ['ciphertexts'], direct: ['enc'] }),
      run: (s, i) => round2(s, i, rng),
    },
    {
      expect: () => ({ from: peers, broadcast: ['gamma'], direct: ['mta'] }),
      run: (s, i) => round3(s, i, rng),
    },
    { expect: () => ({ from: peers, broadcast: ['delta'], direct: ['delta-proof'] }), run: output },
  ];
  return new Machine({
    protocol: 'presign',
    self: share.self,
    sessionId: request.sessionId,
    rounds,
    state,
    outgoing,
  });
}
