/**
 * Presigning round 3 (CGGMP21 Fig. 8, round 3), on every peer's Γ_j and affine operations:
 * check the echo of round 1 and every Πaff-g and Πlog*, decrypt the MtA shares, and compute
 *   Γ = Σ Γ_j,  Δ_i = k_i·Γ,
 *   δ_i = k_i·γ_i + Σ_j (α_{i,j} − β_{i,j}),   χ_i = k_i·x_i + Σ_j (α̂_{i,j} − β̂_{i,j})  (mod q),
 * broadcast δ_i, Δ_i and S_i = χ_i·Γ, and prove Δ_i against K_i (Πlog* with base Γ) to each peer.
 */
import { decodeWith, encodeWith } from '../../codec.js';
import { broadcastDigest, checkEchoes } from '../../echo.js';
import { ProtocolError, type PartyId } from '../../errors.js';
import { secp256k1Group } from '../../group.js';
import type { Inbox, Outgoing, RoundResult } from '../../machine.js';
import type { Rng } from '../../random.js';
import { isCiphertext } from '../../paillier/paillier.js';
import { readAffGProof, verifyAffG } from '../../zk/aff-g.js';
import {
  proveLogStar,
  readLogStarProof,
  verifyLogStar,
  writeLogStarProof,
} from '../../zk/log-star.js';
import type { Presignature } from '../presignature.js';
import { proofContext } from './context.js';
import type { GammaMessage, MtaMessage, PresignMessage } from './messages.js';
import { expectStep, type AwaitingMta, type PresignState } from './state.js';

const group = secp256k1Group;

function withoutRound2(state: AwaitingMta) {
  const { betas: _betas, Gs: _Gs, round1Digests: _digests, step: _step, ...rest } = state;
  return rest;
}

export function round3(
  current: PresignState,
  inbox: Inbox<PresignMessage>,
  rng: Rng,
): RoundResult<PresignState, PresignMessage, Presignature> {
  const state = expectStep<AwaitingMta>(current, 'mta');
  const { self, aux, mine } = state;
  const gammas = new Map<PartyId, GammaMessage>([
    [self, { kind: 'gamma', Gamma: state.Gamma, digests: state.round1Digests }],
  ]);
  for (const [from, messages] of inbox) gammas.set(from, messages.get('gamma') as GammaMessage);
  checkEchoes(
    self,
    state.signers,
    state.round1Digests,
    new Map([...gammas].filter(([p]) => p !== self).map(([p, m]) => [p, m.digests])),
  );

  let delta = group.mod(state.k * state.gamma);
  let chi = group.mod(state.k * state.x);
  for (const [from, messages] of inbox) {
    const m = messages.get('mta') as MtaMessage;
    const theirs = aux.parties.get(from)!;
    const blame = [from];
    if (
      !isCiphertext(mine.paillier, m.D) ||
      !isCiphertext(mine.paillier, m.DHat) ||
      !isCiphertext(theirs.paillier, m.F) ||
      !isCiphertext(theirs.paillier, m.FHat)
    ) {
      throw new ProtocolError('MALFORMED_MESSAGE', 'MtA values are not ciphertexts', blame);
    }
    const Gamma = gammas.get(from)!.Gamma;
    const statementFor = (D: bigint, F: bigint, point: typeof Gamma) => ({
      key0: mine.paillier,
      key1: theirs.paillier,
      rp: mine.rp,
      C: state.K,
      D,
      Y: F,
      X: point,
    });
    const checks: [string, boolean][] = [
      [
        'Πaff-g for γ',
        verifyAffG(
          statementFor(m.D, m.F, Gamma),
          decodeWith(m.affG, from, (r) => readAffGProof(r, statementFor(m.D, m.F, Gamma))),
          proofContext(state, from, self, 'aff-g/gamma'),
        ),
      ],
      [
        'Πaff-g for x',
        verifyAffG(
          statementFor(m.DHat, m.FHat, state.X.get(from)!),
          decodeWith(m.affGHat, from, (r) =>
            readAffGProof(r, statementFor(m.DHat, m.FHat, state.X.get(from)!)),
          ),
          proofContext(state, from, self, 'aff-g/x'),
        ),
      ],
      [
        'Πlog* for Γ',
        (() => {
          const st = {
            key: theirs.paillier,
            C: state.Gs.get(from)!,
            g: group.base,
            X: Gamma,
            rp: mine.rp,
          };
          return verifyLogStar(
            st,
            decodeWith(m.logStar, from, (r) => readLogStarProof(r, st)),
            proofContext(state, from, self, 'log-star/gamma'),
          );
        })(),
      ],
    ];
    for (const [name, ok] of checks) {
      if (!ok) throw new ProtocolError('INVALID_PROOF', `${name} does not verify`, blame);
    }
    const { beta, betaHat } = state.betas.get(from)!;
    const secret = aux.paillierSecret;
    delta = group.mod(delta + secret.decryptSigned(m.D) - beta);
    chi = group.mod(chi + secret.decryptSigned(m.DHat) - betaHat);
  }

  let Gamma = state.Gamma;
  for (const [from, m] of gammas) if (from !== self) Gamma = Gamma.add(m.Gamma);
  if (Gamma.is0()) throw new ProtocolError('INVALID_PARAMETERS', 'Γ is the identity');
  const Delta = Gamma.multiply(state.k);
  const S = Gamma.multiply(chi);
  const round2Digests = state.signers.map((p) =>
    broadcastDigest(state.codec, state.sessionId, p, gammas.get(p)!),
  );
  const outgoing: Outgoing<PresignMessage>[] = [
    { to: null, message: { kind: 'delta', delta, Delta, S, digests: round2Digests } },
  ];
  for (const j of state.peers) {
    const statement = {
      key: mine.paillier,
      C: state.K,
      g: Gamma,
      X: Delta,
      rp: aux.parties.get(j)!.rp,
    };
    const proof = proveLogStar(
      statement,
      { x: state.k, rho: state.rhoK },
      proofContext(state, self, j, 'log-star/delta'),
      rng,
    );
    outgoing.push({
      to: j,
      message: { kind: 'delta-proof', proof: encodeWith(proof, writeLogStarProof) },
    });
  }
  return {
    state: {
      // The MtA masks β and the other peers' G_j are not needed past this round: not carried.
      ...withoutRound2(state),
      step: 'delta',
      round2Digests,
      Gamma,
      delta,
      chi,
      Delta,
      S,
    },
    outgoing,
  };
}
