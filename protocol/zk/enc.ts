/**
 * Πenc, "Paillier encryption in range" (CGGMP21, Section 6.1, Fig. 14), made non-interactive
 * with Fiat-Shamir. The prover shows that a ciphertext K under its own Paillier key N0 encrypts a
 * plaintext k with |k| ≤ 2^ℓ, up to the slack 2^ε that the proof loses. The range is enforced
 * through the verifier's ring-Pedersen parameters (N̂, s, t), which the prover cannot open to
 * anything else without breaking strong RSA.
 *
 * Presigning uses it on K_i = enc(k_i) in its first round. Without the range, a prover could
 * encrypt k ≫ q so that the multiplicative-to-additive answers of honest parties wrap modulo N0
 * and leak bits of their secrets (the range-proof omissions behind the "Alpha-Rays" key
 * extraction attacks, and Makriyannis–Peled's note on GG18).
 *
 * Pure: no I/O, the random source is a parameter.
 */
import type { Reader, Writer } from '../codec.js';
import type { Rng } from '../random.js';
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
export const ENC_PROOF = 'cggmp21/enc/v1';

/** The public statement of Πenc. */
export interface EncStatement {
  /** N0: the prover's Paillier key, under which K is encrypted. */
  readonly key: PaillierPublicKey;
  /** The ciphertext K = (1 + N0)^k · ρ^N0 mod N0². */
  readonly K: bigint;
  /** (N̂, s, t): the verifier's ring-Pedersen parameters. */
  readonly rp: RingPedersen;
}

/** What the prover knows: k ∈ ±2^ℓ and ρ ∈ Z*_N0 with K = enc_N0(k; ρ). */
export interface EncWitness {
  readonly k: bigint;
  readonly rho: bigint;
}

/** The proof: the first message (S, A, C) and the answers (z1, z2, z3) of Fig. 14. */
export interface EncProof {
  /** s^k · t^μ mod N̂: the commitment to k. */
  readonly S: bigint;
  /** (1 + N0)^α · r^N0 mod N0². */
  readonly A: bigint;
  /** s^α · t^γ mod N̂. */
  readonly C: bigint;
  /** α + e·k, in ±2^(ℓ+ε). */
  readonly z1: bigint;
  /** r · ρ^e mod N0. */
  readonly z2: bigint;
  /** γ + e·μ. */
  readonly z3: bigint;
}

/** |z1| ≤ 2^(ℓ+ε): the range the verifier accepts (Fig. 14, "Verification", range check). */
const Z1_BOUND = pow2(ELL + EPSILON);

/**
 * e = H(context, statement, first message) in [0, q). Every statement value goes in: leaving one
 * out would let a prover pick it after seeing e (the weak Fiat-Shamir / "Frozen Heart" flaw).
 * The parameters ℓ and ε go in too, so a proof for one range never passes for another.
 *
 * Exported so that tests can build proofs that deviate from the prover's algorithm; protocol code
 * calls `verifyEnc`.
 */
export function encChallenge(
  st: EncStatement,
  first: Pick<EncProof, 'S' | 'A' | 'C'>,
  ctx: ProofContext,
): bigint {
  const { S, A, C } = first;
  return new Transcript(ENC_PROOF, ctx)
    .int('ell', BigInt(ELL))
    .int('epsilon', BigInt(EPSILON))
    .int('N0', st.key.N)
    .int('K', st.K)
    .int('Nhat', st.rp.N)
    .int('s', st.rp.s)
    .int('t', st.rp.t)
    .int('S', S)
    .int('A', A)
    .int('C', C)
    .challenge(Q);
}

/**
 * Proves that K encrypts k under N0 (Fig. 14, steps 1–3 with e from the transcript). The witness
 * is not checked: a k out of range yields a proof that the verifier rejects.
 */
export function proveEnc(st: EncStatement, wit: EncWitness, ctx: ProofContext, rng: Rng): EncProof {
  const { key, rp } = st;
  const { k, rho } = wit;
  // Step 1: the masks. α hides k in z1 with statistical slack 2^ε; μ and γ are N̂-times wider so
  // that s^k·t^μ and s^α·t^γ hide k and α statistically in the ring-Pedersen group.
  const alpha = randomSignedBits(ELL + EPSILON, rng);
  const mu = randomSymmetric(pow2(ELL) * rp.N, rng);
  const r = randomUnit(key.N, rng);
  const gamma = randomSymmetric(pow2(ELL + EPSILON) * rp.N, rng);
  const wide = widthOf(pow2(ELL + EPSILON) * rp.N);
  const S = commitRPSecret(rp, k, ELL + 1, mu, wide);
  // (1 + N0)^α · r^N0 is exactly a Paillier encryption of α with randomness r.
  const A = encryptWith(key, alpha, r);
  const C = commitRPSecret(rp, alpha, ELL + EPSILON + 1, gamma, wide);
  // Step 2: the challenge. Step 3: the answers.
  const e = encChallenge(st, { S, A, C }, ctx);
  return {
    S,
    A,
    C,
    z1: alpha + e * k,
    z2: mod(r * modPow(rho, e, key.N), key.N),
    z3: gamma + e * mu,
  };
}

/**
 * Verifies a Πenc proof (Fig. 14, "Verification"). Returns false, never throws, on anything
 * malformed: wrong ranges, non-units, a statement no honest setup produces, or a bad equation.
 */
export function verifyEnc(st: EncStatement, proof: EncProof, ctx: ProofContext): boolean {
  try {
    const { key, K, rp } = st;
    const { S, A, C, z1, z2, z3 } = proof;
    // The moduli must be full-size: with N0 below 2^(ℓ+ε) the range check would be vacuous,
    // since every residue mod N0 would be "in range".
    if (!validateModulus(key.N) || key.N2 !== key.N * key.N) return false;
    if (!validateModulus(rp.N) || !isUnit(rp.s, rp.N) || !isUnit(rp.t, rp.N)) return false;
    // The range check is the point of the proof: it is what bounds k (Fig. 14, z1 ∈ ±2^(ℓ+ε)).
    if (!inSymmetricRange(z1, Z1_BOUND)) return false;
    if (!inSymmetricRange(z3, maskAnswerBound(rp.N))) return false;
    // Units only: with A = 0 and z2 = 0 the Paillier equation holds for every K and z1, so
    // skipping these checks would let anyone "prove" any ciphertext. K must be a ciphertext.
    if (!isCiphertext(key, K) || !isCiphertext(key, A) || !isUnit(z2, key.N)) return false;
    if (!isUnit(S, rp.N) || !isUnit(C, rp.N)) return false;

    const e = encChallenge(st, { S, A, C }, ctx);
    // (1 + N0)^z1 · z2^N0 ≡ A · K^e (mod N0²).
    if (encryptWith(key, z1, z2) !== mod(A * modPow(K, e, key.N2), key.N2)) return false;
    // s^z1 · t^z3 ≡ C · S^e (mod N̂): binds z1 to the committed k, hence the range to k.
    if (commitRP(rp, z1, z3) !== mod(C * modPow(S, e, rp.N), rp.N)) return false;
    return true;
  } catch {
    return false;
  }
}

/** Writes the proof: S, A, C, z1, z2, z3 as signed integers. */
export function writeEncProof(w: Writer, proof: EncProof): void {
  w.int(proof.S).int(proof.A).int(proof.C).int(proof.z1).int(proof.z2).int(proof.z3);
}

/**
 * Reads a proof written by `writeEncProof`, with every field bounded by the statement: residues
 * below their modulus, z1 within ℓ+ε+2 bits, z3 within the honest bound's bit length + 2.
 * Throws a MALFORMED_MESSAGE ProtocolError (through the reader) on anything else.
 */
export function readEncProof(r: Reader, st: EncStatement): EncProof {
  const S = r.residue(st.rp.N, 'enc.S');
  const A = r.residue(st.key.N2, 'enc.A');
  const C = r.residue(st.rp.N, 'enc.C');
  const z1 = r.int(ELL + EPSILON + 2, 'enc.z1');
  const z2 = r.residue(st.key.N, 'enc.z2');
  const z3 = r.int(bitLength(maskAnswerBound(st.rp.N)) + 2, 'enc.z3');
  return { S, A, C, z1, z2, z3 };
}
