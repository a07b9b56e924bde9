/**
 * Πaff-g, "Paillier affine operation with group commitment in range" (CGGMP21, Section 6.2,
 * Fig. 15), made non-interactive with Fiat-Shamir. The prover shows that it computed
 * D = x ⊙ C ⊕ enc_N0(y) on a ciphertext C under the verifier's key N0, where x is the discrete
 * logarithm of X = x·G, |x| ≤ 2^ℓ, and y is the plaintext of Y under the prover's own key N1,
 * |y| ≤ 2^ℓ' (both up to the slack 2^ε).
 *
 * Presigning uses it for both multiplicative-to-additive conversions in its second round. Without
 * the ranges a prover could pick x or y so large that the verifier's decryption of D wraps modulo
 * N0, and the verifier's later behaviour would leak bits of its nonce share; without the link to
 * X, the prover could use a different x than the one its Γ_i or public share commits to.
 *
 * Pure: no I/O, the random source is a parameter.
 */
import type { Reader, Writer } from '../codec.js';
import type { Rng } from '../random.js';
import { secp256k1Group, type Element } from '../group.js';
import {
  bitLength,
  isUnit,
  inSymmetricRange,
  mod,
  modPow,
  modPowSecret,
  widthOf,
} from '../bignum/arith.js';
import { randomSignedBits, randomSymmetric, randomUnit } from '../bignum/random.js';
import {
  encryptWith,
  isCiphertext,
  validateModulus,
  type PaillierPublicKey,
} from '../paillier/paillier.js';
import { commitRP, commitRPSecret, type RingPedersen } from '../paillier/ring-pedersen.js';
import { ELL, ELL_PRIME, EPSILON, Q, maskAnswerBound, pow2 } from './params.js';
import { Transcript, type ProofContext } from './transcript.js';

/** Domain-separating name of the proof in its Fiat-Shamir transcript. */
export const AFF_G_PROOF = 'cggmp21/aff-g/v1';

const group = secp256k1Group;

/** The public statement of Πaff-g. */
export interface AffGStatement {
  /** N0: the key C and D are under (the verifier's Paillier key in presigning). */
  readonly key0: PaillierPublicKey;
  /** N1: the prover's own Paillier key, under which Y encrypts y. */
  readonly key1: PaillierPublicKey;
  /** (N̂, s, t): the verifier's ring-Pedersen parameters. */
  readonly rp: RingPedersen;
  /** The ciphertext the affine operation is applied to, in Z*_{N0²}. */
  readonly C: bigint;
  /** D = C^x · (1 + N0)^y · ρ^N0 mod N0². */
  readonly D: bigint;
  /** Y = (1 + N1)^y · ρ_y^N1 mod N1². */
  readonly Y: bigint;
  /** X = x·G on secp256k1. */
  readonly X: Element;
}

/** What the prover knows: x ∈ ±2^ℓ, y ∈ ±2^ℓ', ρ ∈ Z*_N0, ρ_y ∈ Z*_N1. */
export interface AffGWitness {
  readonly x: bigint;
  readonly y: bigint;
  readonly rho: bigint;
  readonly rhoY: bigint;
}

/** The proof: the first message (A, B_x, B_y, E, S, F, T) and the answers of Fig. 15. */
export interface AffGProof {
  /** C^α · (1 + N0)^β · r^N0 mod N0². */
  readonly A: bigint;
  /** α·G. */
  readonly Bx: Element;
  /** (1 + N1)^β · r_y^N1 mod N1². */
  readonly By: bigint;
  /** s^α · t^γ mod N̂. */
  readonly E: bigint;
  /** s^x · t^m mod N̂: the commitment to x. */
  readonly S: bigint;
  /** s^β · t^δ mod N̂. */
  readonly F: bigint;
  /** s^y · t^μ mod N̂: the commitment to y. */
  readonly T: bigint;
  /** α + e·x, in ±2^(ℓ+ε). */
  readonly z1: bigint;
  /** β + e·y, in ±2^(ℓ'+ε). */
  readonly z2: bigint;
  /** γ + e·m. */
  readonly z3: bigint;
  /** δ + e·μ. */
  readonly z4: bigint;
  /** r · ρ^e mod N0. */
  readonly w: bigint;
  /** r_y · ρ_y^e mod N1. */
  readonly wY: bigint;
}

/** The ranges the verifier accepts (Fig. 15, "Verification", range checks). */
const Z1_BOUND = pow2(ELL + EPSILON);
const Z2_BOUND = pow2(ELL_PRIME + EPSILON);

/**
 * e = H(context, statement, first message) in [0, q). Every public value is bound, including
 * both Paillier keys and the verifier's ring-Pedersen parameters: an unbound value could be
 * chosen after e (weak Fiat-Shamir, the "Frozen Heart" class of forgeries).
 *
 * Exported so that tests can build proofs that deviate from the prover's algorithm; protocol code
 * calls `verifyAffG`.
 */
export function affGChallenge(
  st: AffGStatement,
  first: Pick<AffGProof, 'A' | 'Bx' | 'By' | 'E' | 'S' | 'F' | 'T'>,
  ctx: ProofContext,
): bigint {
  return new Transcript(AFF_G_PROOF, ctx)
    .int('ell', BigInt(ELL))
    .int('ell-prime', BigInt(ELL_PRIME))
    .int('epsilon', BigInt(EPSILON))
    .int('N0', st.key0.N)
    .int('N1', st.key1.N)
    .int('Nhat', st.rp.N)
    .int('s', st.rp.s)
    .int('t', st.rp.t)
    .int('C', st.C)
    .int('D', st.D)
    .int('Y', st.Y)
    .point('X', st.X)
    .int('A', first.A)
    .point('Bx', first.Bx)
    .int('By', first.By)
    .int('E', first.E)
    .int('S', first.S)
    .int('F', first.F)
    .int('T', first.T)
    .challenge(Q);
}

/**
 * Proves the affine relation (Fig. 15, steps 1–3 with e from the transcript). The witness is not
 * checked: a witness out of range or not matching the statement yields a proof the verifier
 * rejects.
 */
export function proveAffG(
  st: AffGStatement,
  wit: AffGWitness,
  ctx: ProofContext,
  rng: Rng,
): AffGProof {
  const { key0, key1, rp } = st;
  const { x, y, rho, rhoY } = wit;
  const Nhat = rp.N;
  // Step 1: the masks. α is redrawn in the 2^-256-likely case α ≡ 0 (mod q), where B_x would be
  // the identity, which the wire format refuses; the change to α's distribution is negligible.
  let alpha: bigint;
  do alpha = randomSignedBits(ELL + EPSILON, rng);
  while (group.mod(alpha) === 0n);
  const beta = randomSignedBits(ELL_PRIME + EPSILON, rng);
  const r = randomUnit(key0.N, rng);
  const rY = randomUnit(key1.N, rng);
  const gamma = randomSymmetric(pow2(ELL + EPSILON) * Nhat, rng);
  const m = randomSymmetric(pow2(ELL) * Nhat, rng);
  const delta = randomSymmetric(pow2(ELL + EPSILON) * Nhat, rng);
  const mu = randomSymmetric(pow2(ELL) * Nhat, rng);

  // A = C^α · (1 + N0)^β · r^N0: the affine operation applied to the masks.
  const A = mod(
    modPowSecret(st.C, alpha, key0.N2, ELL + EPSILON + 1) * encryptWith(key0, beta, r),
    key0.N2,
  );
  // α is secret: constant-time multiplication (mulBase reduces a negative α into [0, q)).
  const Bx = group.mulBase(alpha);
  const By = encryptWith(key1, beta, rY);
  const wide = widthOf(pow2(ELL_PRIME + EPSILON) * Nhat);
  const E = commitRPSecret(rp, alpha, ELL + EPSILON + 1, gamma, wide);
  const S = commitRPSecret(rp, x, ELL + 1, m, wide);
  const F = commitRPSecret(rp, beta, ELL_PRIME + EPSILON + 1, delta, wide);
  const T = commitRPSecret(rp, y, ELL_PRIME + 1, mu, wide);

  // Step 2: the challenge. Step 3: the answers.
  const e = affGChallenge(st, { A, Bx, By, E, S, F, T }, ctx);
  return {
    A,
    Bx,
    By,
    E,
    S,
    F,
    T,
    z1: alpha + e * x,
    z2: beta + e * y,
    z3: gamma + e * m,
    z4: delta + e * mu,
    w: mod(r * modPow(rho, e, key0.N), key0.N),
    wY: mod(rY * modPow(rhoY, e, key1.N), key1.N),
  };
}

/**
 * Verifies a Πaff-g proof (Fig. 15, "Verification"). Returns false, never throws, on anything
 * malformed: wrong ranges, non-units, a statement no honest setup produces, or a bad equation.
 */
export function verifyAffG(st: AffGStatement, proof: AffGProof, ctx: ProofContext): boolean {
  try {
    const { key0, key1, rp, C, D, Y, X } = st;
    const { A, Bx, By, E, S, F, T, z1, z2, z3, z4, w, wY } = proof;
    // Full-size moduli: below 2^(ℓ'+ε) the range checks would not prevent wrap-around mod N0.
    if (!validateModulus(key0.N) || key0.N2 !== key0.N * key0.N) return false;
    if (!validateModulus(key1.N) || key1.N2 !== key1.N * key1.N) return false;
    if (!validateModulus(rp.N) || !isUnit(rp.s, rp.N) || !isUnit(rp.t, rp.N)) return false;
    // The range checks carry the proof's meaning (Fig. 15): they bound x and y.
    if (!inSymmetricRange(z1, Z1_BOUND) || !inSymmetricRange(z2, Z2_BOUND)) return false;
    const bound = maskAnswerBound(rp.N);
    if (!inSymmetricRange(z3, bound) || !inSymmetricRange(z4, bound)) return false;
    // Unit checks: a zero or non-invertible A, B_y, w or w_y makes an equation hold trivially
    // (both sides 0 or sharing a factor) regardless of the statement.
    if (!isCiphertext(key0, C) || !isCiphertext(key0, D) || !isCiphertext(key0, A)) return false;
    if (!isCiphertext(key1, Y) || !isCiphertext(key1, By)) return false;
    if (!isUnit(w, key0.N) || !isUnit(wY, key1.N)) return false;
    for (const v of [E, S, F, T]) if (!isUnit(v, rp.N)) return false;

    const e = affGChallenge(st, { A, Bx, By, E, S, F, T }, ctx);
    // C^z1 · (1 + N0)^z2 · w^N0 ≡ A · D^e (mod N0²).
    const lhs0 = mod(modPow(C, z1, key0.N2) * encryptWith(key0, z2, w), key0.N2);
    if (lhs0 !== mod(A * modPow(D, e, key0.N2), key0.N2)) return false;
    // z1·G = B_x + e·X, checked as z1·G − e·X = B_x (public scalars: variable time is fine).
    // This ties the x inside D to the x of X.
    if (!group.msm([group.base, X], [z1, -e]).equals(Bx)) return false;
    // (1 + N1)^z2 · w_y^N1 ≡ B_y · Y^e (mod N1²): the y inside D is the plaintext of Y.
    if (encryptWith(key1, z2, wY) !== mod(By * modPow(Y, e, key1.N2), key1.N2)) return false;
    // s^z1 · t^z3 ≡ E · S^e and s^z2 · t^z4 ≡ F · T^e (mod N̂): bind z1, z2 to committed x, y.
    if (commitRP(rp, z1, z3) !== mod(E * modPow(S, e, rp.N), rp.N)) return false;
    if (commitRP(rp, z2, z4) !== mod(F * modPow(T, e, rp.N), rp.N)) return false;
    return true;
  } catch {
    return false;
  }
}

/** Writes the proof: A, B_x, B_y, E, S, F, T, z1, z2, z3, z4, w, w_y. */
export function writeAffGProof(wr: Writer, proof: AffGProof): void {
  wr.int(proof.A).element(group, proof.Bx).int(proof.By);
  wr.int(proof.E).int(proof.S).int(proof.F).int(proof.T);
  wr.int(proof.z1).int(proof.z2).int(proof.z3).int(proof.z4);
  wr.int(proof.w).int(proof.wY);
}

/**
 * Reads a proof written by `writeAffGProof`, with every field bounded by the statement: residues
 * below their modulus, B_x a valid secp256k1 point, z1 and z2 within their range + 2 bits, z3
 * and z4 within the honest bound's bit length + 2. Throws a MALFORMED_MESSAGE ProtocolError
 * (through the reader) on anything else.
 */
export function readAffGProof(r: Reader, st: AffGStatement): AffGProof {
  const Nhat = st.rp.N;
  const zBits = bitLength(maskAnswerBound(Nhat)) + 2;
  const A = r.residue(st.key0.N2, 'aff-g.A');
  const Bx = r.element(group, 'aff-g.Bx');
  const By = r.residue(st.key1.N2, 'aff-g.By');
  const E = r.residue(Nhat, 'aff-g.E');
  const S = r.residue(Nhat, 'aff-g.S');
  const F = r.residue(Nhat, 'aff-g.F');
  const T = r.residue(Nhat, 'aff-g.T');
  const z1 = r.int(ELL + EPSILON + 2, 'aff-g.z1');
  const z2 = r.int(ELL_PRIME + EPSILON + 2, 'aff-g.z2');
  const z3 = r.int(zBits, 'aff-g.z3');
  const z4 = r.int(zBits, 'aff-g.z4');
  const w = r.residue(st.key0.N, 'aff-g.w');
  const wY = r.residue(st.key1.N, 'aff-g.wY');
  return { A, Bx, By, E, S, F, T, z1, z2, z3, z4, w, wY };
}
