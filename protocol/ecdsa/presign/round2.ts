/**
 * Presigning round 2 (CGGMP21 Fig. 8, round 2), on every peer's K_j, G_j and Πenc: check the
 * proofs, then for each peer j compute the two affine operations of the multiplicative-to-
 * additive conversions, D_{j,i} = γ_i ⊙ K_j ⊕ enc_j(β) and D̂_{j,i} = x_i ⊙ K_j ⊕ enc_j(β̂), with
 * F = enc_i(β), F̂ = enc_i(β̂), and prove them (Πaff-g) and Γ_i against G_i (Πlog*) under j's
 * ring-Pedersen parameters. The peer decrypts k_j·γ_i + β; this party keeps −β.
 */
import { decodeWith, encodeWith } from '../../codec.js';
import { broadcastDigest } from '../../echo.js';
import { ProtocolError, type PartyId } from '../../errors.js';
import { secp256k1Group } from '../../group.js';
import type { Inbox, Outgoing, RoundResult } from '../../machine.js';
import type { Rng } from '../../random.js';
import { randomSignedBits } from '../../bignum/random.js';
import { add, encrypt, isCiphertext, scaleSecret } from '../../paillier/paillier.js';
import { proveAffG, writeAffGProof } from '../../zk/aff-g.js';
import { readEncProof, verifyEnc } from '../../zk/enc.js';
import { proveLogStar, writeLogStarProof } from '../../zk/log-star.js';
import { ELL, ELL_PRIME } from '../../zk/params.js';
import type { Presignature } from '../presignature.js';
import { proofContext } from './context.js';
import type { CiphertextsMessage, EncProofMessage, PresignMessage } from './messages.js';
import { expectStep, type AwaitingCiphertexts, type PresignState } from './state.js';

export function round2(
  current: PresignState,
  inbox: Inbox<PresignMessage>,
  rng: Rng,
): RoundResult<PresignState, PresignMessage, Presignature> {
  const state = expectStep<AwaitingCiphertexts>(current, 'ciphertexts');
  const { self, aux, mine } = state;
  const Ks = new Map<PartyId, bigint>([[self, state.K]]);
  const Gs = new Map<PartyId, bigint>([[self, state.G]]);
  const own: CiphertextsMessage = { kind: 'ciphertexts', K: state.K, G: state.G };
  const received = new Map<PartyId, CiphertextsMessage>([[self, own]]);
  for (const [from, messages] of inbox) {
    const m = messages.get('ciphertexts') as CiphertextsMessage;
    const theirs = aux.parties.get(from)!.paillier;
    if (!isCiphertext(theirs, m.K) || !isCiphertext(theirs, m.G)) {
      throw new ProtocolError('MALFORMED_MESSAGE', 'K or G is not a ciphertext of the sender', [
        from,
      ]);
    }
    const statement = { key: theirs, K: m.K, rp: mine.rp };
    const proof = decodeWith((messages.get('enc') as EncProofMessage).proof, from, (r) =>
      readEncProof(r, statement),
    );
    if (!verifyEnc(statement, proof, proofContext(state, from, self, 'enc'))) {
      throw new ProtocolError('INVALID_PROOF', 'Πenc: K is not an encryption in range', [from]);
    }
    Ks.set(from, m.K);
    Gs.set(from, m.G);
    received.set(from, m);
  }
  const round1Digests = state.signers.map((p) =>
    broadcastDigest(state.codec, state.sessionId, p, received.get(p)!),
  );

  const Gamma = secp256k1Group.mulBase(state.gamma);
  const outgoing: Outgoing<PresignMessage>[] = [
    { to: null, message: { kind: 'gamma', Gamma, digests: round1Digests } },
  ];
  const betas = new Map<PartyId, { beta: bigint; betaHat: bigint }>();
  const X = state.X.get(self)!;
  for (const j of state.peers) {
    const theirs = aux.parties.get(j)!;
    const Kj = Ks.get(j)!;
    const affine = (x: bigint) => {
      const beta = randomSignedBits(ELL_PRIME, rng);
      const { c: enc, rho } = encrypt(theirs.paillier, beta, rng);
      const D = add(theirs.paillier, scaleSecret(theirs.paillier, Kj, x, ELL + 1), enc);
      const { c: F, rho: rhoY } = encrypt(mine.paillier, beta, rng);
      return { beta, D, F, witness: { x, y: beta, rho, rhoY } };
    };
    const g = affine(state.gamma);
    const h = affine(state.x);
    const statementFor = (D: bigint, F: bigint, point: typeof Gamma) => ({
      key0: theirs.paillier,
      key1: mine.paillier,
      rp: theirs.rp,
      C: Kj,
      D,
      Y: F,
      X: point,
    });
    const affG = proveAffG(
      statementFor(g.D, g.F, Gamma),
      g.witness,
      proofContext(state, self, j, 'aff-g/gamma'),
      rng,
    );
    const affGHat = proveAffG(
      statementFor(h.D, h.F, X),
      h.witness,
      proofContext(state, self, j, 'aff-g/x'),
      rng,
    );
    const logStar = proveLogStar(
      { key: mine.paillier, C: state.G, g: secp256k1Group.base, X: Gamma, rp: theirs.rp },
      { x: state.gamma, rho: state.nuG },
      proofContext(state, self, j, 'log-star/gamma'),
      rng,
    );
    betas.set(j, { beta: g.beta, betaHat: h.beta });
    outgoing.push({
      to: j,
      message: {
        kind: 'mta',
        D: g.D,
        F: g.F,
        DHat: h.D,
        FHat: h.F,
        affG: encodeWith(affG, writeAffGProof),
        affGHat: encodeWith(affGHat, writeAffGProof),
        logStar: encodeWith(logStar, writeLogStarProof),
      },
    });
  }
  return {
    state: { ...state, step: 'mta', Ks, Gs, round1Digests, Gamma, betas },
    outgoing,
  };
}
