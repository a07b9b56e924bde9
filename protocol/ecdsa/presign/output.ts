/**
 * Presigning output (CGGMP21 Fig. 8, output), on every peer's δ_j, Δ_j, S_j and Πlog*: check
 * the echo of Γ, every proof, then the two consistency equations
 *   δ·G = Σ Δ_j   (with δ = Σ δ_j = k·γ)   and   Σ S_j = δ·X   (Σ χ_j = k·x),
 * and output R = δ⁻¹·Γ = k⁻¹·G with this party's (k_i, χ_i). The second equation is what lets
 * the coordinator check each signature share later: σ_j·Γ = m·Δ_j + r·S_j.
 */
import { decodeWith } from '../../codec.js';
import { checkEchoes } from '../../echo.js';
import { ProtocolError, type PartyId } from '../../errors.js';
import { secp256k1Group, type Element } from '../../group.js';
import type { Inbox, RoundResult } from '../../machine.js';
import { readLogStarProof, verifyLogStar } from '../../zk/log-star.js';
import { Presignature } from '../presignature.js';
import { proofContext } from './context.js';
import type { DeltaMessage, DeltaProofMessage, PresignMessage } from './messages.js';
import { expectStep, type AwaitingDelta, type PresignState } from './state.js';

const group = secp256k1Group;

export function output(
  current: PresignState,
  inbox: Inbox<PresignMessage>,
): RoundResult<PresignState, PresignMessage, Presignature> {
  const state = expectStep<AwaitingDelta>(current, 'delta');
  const { self, aux, mine } = state;
  const deltas = new Map<PartyId, DeltaMessage>([
    [
      self,
      {
        kind: 'delta',
        delta: state.delta,
        Delta: state.Delta,
        S: state.S,
        digests: state.round2Digests,
      },
    ],
  ]);
  for (const [from, messages] of inbox) deltas.set(from, messages.get('delta') as DeltaMessage);
  checkEchoes(
    self,
    state.signers,
    state.round2Digests,
    new Map([...deltas].filter(([p]) => p !== self).map(([p, m]) => [p, m.digests])),
  );
  for (const [from, messages] of inbox) {
    const m = deltas.get(from)!;
    const statement = {
      key: aux.parties.get(from)!.paillier,
      C: state.Ks.get(from)!,
      g: state.Gamma,
      X: m.Delta,
      rp: mine.rp,
    };
    const proof = decodeWith((messages.get('delta-proof') as DeltaProofMessage).proof, from, (r) =>
      readLogStarProof(r, statement),
    );
    if (!verifyLogStar(statement, proof, proofContext(state, from, self, 'log-star/delta'))) {
      throw new ProtocolError('INVALID_PROOF', 'Πlog* for Δ does not verify', [from]);
    }
  }

  let delta = 0n;
  let sumDelta: Element = group.identity;
  let sumS: Element = group.identity;
  let publicKey: Element = group.identity;
  for (const p of state.signers) {
    const m = deltas.get(p)!;
    delta += m.delta;
    sumDelta = sumDelta.add(m.Delta);
    sumS = sumS.add(m.S);
    publicKey = publicKey.add(state.X.get(p)!);
  }
  delta = group.mod(delta);
  // Without the paper's identification phase these failures name no one: every proof passed,
  // so a party lied in a value no proof covers (δ_j or S_j). The ceremony aborts.
  if (delta === 0n || !group.base.multiplyUnsafe(delta).equals(sumDelta)) {
    throw new ProtocolError('INCONSISTENT', 'δ·G does not equal Σ Δ_j');
  }
  if (!publicKey.multiplyUnsafe(delta).equals(sumS)) {
    throw new ProtocolError('INCONSISTENT', 'Σ S_j does not equal δ·X');
  }
  const R = state.Gamma.multiplyUnsafe(group.inv(delta));
  const presignature = new Presignature(
    {
      id: state.sessionId,
      keySessionId: state.share.keySessionId,
      epoch: state.share.epoch,
      signers: state.signers,
      R,
      Gamma: state.Gamma,
      Delta: new Map(state.signers.map((p) => [p, deltas.get(p)!.Delta])),
      S: new Map(state.signers.map((p) => [p, deltas.get(p)!.S])),
    },
    self,
    state.k,
    state.chi,
  );
  return { output: presignature, outgoing: [] };
}
