/**
 * Πlog*, "knowledge of exponent vs Paillier encryption" (CGGMP21, Appendix C.2, Fig. 25), made
 * non-interactive with Fiat-Shamir. The prover shows that the plaintext x of a ciphertext C under
 * its own Paillier key N0 is the discrete logarithm of X to a base point g (X = x·g), and that
 * |x| ≤ 2^ℓ up to the slack 2^ε.
 *
 * Presigning uses it to tie the group elements a party publishes to the Paillier ciphertexts it
 * sent earlier, e.g. Δ_i = k_i·Γ against K_i in its third round, with g = Γ. Without it a party
 * could publish a Δ_i for another k than the one inside K_i and bias or break the signature
 * without being identified.
 *
 * Pure: no I/O, the random source is a parameter.
 */
import type { Reader, Writer } from '../codec.js';
import type { Rng } from '../random.js';
import { ProtocolError } from '../errors.js';
import { secp256k1Group, type Element } from '../group.js';
import { bitLength, isUnit, inSymmetricRange, mod, modPow, widthOf } from '../bignum/arith.js';
import { randomSignedBits, randomSymmetric, randomUnit } from '../bignum/random.js';
import {
  encryptWith,
  isCiphertext,
  validateModulus,
  type PaillierPublicKey,
} from '../paillier/paillier.js';
import { commitRP, commitRPSecret, type RingPedersen } from '../paillier/ring-pedersen.js';
import { ELL, EPSILON, Q, maskAnswerBound, pow2 } from './params.js';
import { Transcript, type ProofContext } from './transcript.js';

/** Domain-separating name of the proof in its Fiat-Shamir transcript. */
export const LOG_STAR_PROOF = 'cggmp21/log-star/v1';

const group = secp256k1Group;

/** The public statement of Πlog*. */
export interface LogStarStatement {
  /** N0: the prover's Paillier key, under which C is encrypted. */
  readonly key: PaillierPublicKey;
  /** C = (1 + N0)^x · ρ^N0 mod N0². */
  readonly C: bigint;
  /** The base point: any non-identity secp256k1 point (Γ in presigning, not necessarily G). */
  readonly g: Element;
  /** X = x·g. */
  readonly X: Element;
  /** (N̂, s, t): the verifier's ring-Pedersen parameters. */
  readonly rp: RingPedersen;
}

/** What the prover knows: x ∈ ±2^ℓ and ρ ∈ Z*_N0 with C = enc_N0(x; ρ) and X = x·g. */
export interface LogStarWitness {
  readonly x: bigint;
  readonly rho: bigint;
}

/** The proof: the first message (S, A, Y, D) and the answers (z1, z2, z3) of Fig. 25. */
export interface LogStarProof {
  /** s^x · t^μ mod N̂: the commitment to x. */
  readonly S: bigint;
  /** (1 + N0)^α · r^N0 mod N0². */
  readonly A: bigint;
  /** α·g. */
  readonly Y: Element;
  /** s^α · t^γ mod N̂. */
  readonly D: bigint;
  /** α + e·x, in ±2^(ℓ+ε). */
  readonly z1: bigint;
  /** r · ρ^e mod N0. */
  readonly z2: bigint;
  /** γ + e·μ. */
  readonly z3: bigint;
}

/** |z1| ≤ 2^(ℓ+ε): the range the verifier accepts (Fig. 25, "Verification", range check). */
const Z1_BOUND = pow2(ELL + EPSILON);

/**
 * e = H(context, statement, first message) in [0, q). The base g is bound along with X: were it
 * left out, a prover could reuse a proof for X = x·g as one for the same X over another base.
 *
 * Exported so that tests can build proofs that deviate from the prover's algorithm; protocol code
 * calls `verifyLogStar`.
 */
export function logStarChallenge(
  st: LogStarStatement,
  first: Pick<LogStarProof, 'S' | 'A' | 'Y' | 'D'>,
  ctx: ProofContext,
): bigint {
  return new Transcript(LOG_STAR_PROOF, ctx)
    .int('ell', BigInt(ELL))
    .int('epsilon', BigInt(EPSILON))
    .int('N0', st.key.N)
    .int('C', st.C)
    .point('g', st.g)
    .point('X', st.X)
    .int('Nhat', st.rp.N)
    .int('s', st.rp.s)
    .int('t', st.rp.t)
    .int('S', first.S)
    .int('A', first.A)
    .point('Y', first.Y)
    .int('D', first.D)
    .challenge(Q);
}

/**
 * Proves that C encrypts the discrete logarithm of X to the base g (Fig. 25, steps 1–3 with e
 * from the transcript). The witness is not checked: a false or out-of-range witness yields a
 * proof that the verifier rejects. Throws INVALID_PARAMETERS when g is the identity.
 */
export function proveLogStar(
  st: LogStarStatement,
  wit: LogStarWitness,
  ctx: ProofContext,
  rng: Rng,
): LogStarProof {
  const { key, rp, g } = st;
  const { x, rho } = wit;
  if (g.is0()) throw new ProtocolError('INVALID_PARAMETERS', 'Πlog*: the base is the identity');
  // Step 1: the masks. α is redrawn in the 2^-256-likely case α ≡ 0 (mod q), where Y would be
  // the identity, which the wire format refuses; the change to α's distribution is negligible.
  let alpha: bigint;
  do alpha = randomSignedBits(ELL + EPSILON, rng);
  while (group.mod(alpha) === 0n);
  const mu = randomSymmetric(pow2(ELL) * rp.N, rng);
  const r = randomUnit(key.N, rng);
  const gamma = randomSymmetric(pow2(ELL + EPSILON) * rp.N, rng);

  const wide = widthOf(pow2(ELL + EPSILON) * rp.N);
  const S = commitRPSecret(rp, x, ELL + 1, mu, wide);
  const A = encryptWith(key, alpha, r);
  // α is secret: constant-time multiplication, by α reduced into [1, q).
  const Y = g.multiply(group.mod(alpha));
  const D = commitRPSecret(rp, alpha, ELL + EPSILON + 1, gamma, wide);

  // Step 2: the challenge. Step 3: the answers.
  const e = logStarChallenge(st, { S, A, Y, D }, ctx);
  return {
    S,
    A,
    Y,
    D,
    z1: alpha + e * x,
    z2: mod(r * modPow(rho, e, key.N), key.N),
    z3: gamma + e * mu,
  };
}

/**
 * Verifies a Πlog* proof (Fig. 25, "Verification"). Returns false, never throws, on anything
 * malformed: wrong ranges, non-units, a statement no honest setup produces, or a bad equation.
 */
export function verifyLogStar(
  st: LogStarStatement,
  proof: LogStarProof,
  ctx: ProofContext,
): boolean {
  try {
    const { key, C, g, X, rp } = st;
    const { S, A, Y, D, z1, z2, z3 } = proof;
    // With g the identity, X = x·g holds for every x: the proof would bind nothing on the curve.
    if (g.is0()) return false;
    // Full-size moduli: with N0 below 2^(ℓ+ε) the range check would be vacuous.
    if (!validateModulus(key.N) || key.N2 !== key.N * key.N) return false;
    if (!validateModulus(rp.N) || !isUnit(rp.s, rp.N) || !isUnit(rp.t, rp.N)) return false;
    // The range check (Fig. 25): it is what bounds x.
    if (!inSymmetricRange(z1, Z1_BOUND)) return false;
    if (!inSymmetricRange(z3, maskAnswerBound(rp.N))) return false;
    // Units only: with A = 0 and z2 = 0 the Paillier equation would hold for any C.
    if (!isCiphertext(key, C) || !isCiphertext(key, A) || !isUnit(z2, key.N)) return false;
    if (!isUnit(S, rp.N) || !isUnit(D, rp.N)) return false;

    const e = logStarChallenge(st, { S, A, Y, D }, ctx);
    // (1 + N0)^z1 · z2^N0 ≡ A · C^e (mod N0²).
    if (encryptWith(key, z1, z2) !== mod(A * modPow(C, e, key.N2), key.N2)) return false;
    // z1·g = Y + e·X, checked as z1·g − e·X = Y (public scalars: variable time is fine). This
    // ties the plaintext of C to the discrete logarithm of X.
    if (!group.msm([g, X], [z1, -e]).equals(Y)) return false;
    // s^z1 · t^z3 ≡ D · S^e (mod N̂): binds z1 to the committed x, hence the range to x.
    if (commitRP(rp, z1, z3) !== mod(D * modPow(S, e, rp.N), rp.N)) return false;
    return true;
  } catch {
    return false;
  }
}

/** Writes the proof: S, A, Y, D, z1, z2, z3. */
export function writeLogStarProof(w: Writer, proof: LogStarProof): void {
  w.int(proof.S).int(proof.A).element(group, proof.Y).int(proof.D);
  w.int(proof.z1).int(proof.z2).int(proof.z3);
}

/**
 * Reads a proof written by `writeLogStarProof`, with every field bounded by the statement:
 * residues below their modulus, Y a valid secp256k1 point, z1 within ℓ+ε+2 bits, z3 within the
 * honest bound's bit length + 2. Throws a MALFORMED_MESSAGE ProtocolError (through the reader)
 * on anything else.
 */
export function readLogStarProof(r: Reader, st: LogStarStatement): LogStarProof {
  const S = r.residue(st.rp.N, 'log*.S');
  const A = r.residue(st.key.N2, 'log*.A');
  const Y = r.element(group, 'log*.Y');
  const D = r.residue(st.rp.N, 'log*.D');
  const z1 = r.int(ELL + EPSILON + 2, 'log*.z1');
  const z2 = r.residue(st.key.N, 'log*.z2');
  const z3 = r.int(bitLength(maskAnswerBound(st.rp.N)) + 2, 'log*.z3');
  return { S, A, Y, D, z1, z2, z3 };
}
