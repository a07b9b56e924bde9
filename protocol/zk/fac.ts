/**
 * Πfac, the no-small-factor proof of CGGMP21 (Fig. 26 of the latest revision, Fig. 28 in the
 * 2021 ones): the owner of a Paillier modulus N0 = p·q shows that p and q are both at most
 * 2^(ℓ+ε)·√N0, hence both at least √N0 / 2^(ℓ+ε) — about 2^256 for a 2048-bit N0. It commits to p
 * and q under the verifier's ring-Pedersen parameters (N̂, s, t), opens p and q masked by α, β
 * in a range the verifier checks, and proves that the committed p times the committed q is N0
 * (the R = s^N0·t^σ equation).
 *
 * A modulus with a small factor is the BitForge key-extraction attack on GG18/GG20 deployments
 * (CVE-2023-33241): the Paillier owner learns a peer's secret share modulo the small factor from
 * each MtA range proof and reassembles it by the Chinese remainder theorem.
 * Πmod alone does not exclude it (a small prime ≡ 3 mod 4 times a large one is Paillier-Blum).
 */
import { ProtocolError } from '../errors.js';
import type { Rng } from '../random.js';
import type { Reader, Writer } from '../codec.js';
import {
  bitLength,
  isUnit,
  inSymmetricRange,
  mod,
  modPow,
  modPowSecret,
  widthOf,
} from '../bignum/arith.js';
import { randomSymmetric } from '../bignum/random.js';
import { MIN_MODULUS_BITS } from '../paillier/paillier.js';
import { commitRP, commitRPSecret, type RingPedersen } from '../paillier/ring-pedersen.js';
import { ELL, EPSILON, Q, pow2 } from './params.js';
import { Transcript, type ProofContext } from './transcript.js';

/** The Fiat-Shamir domain of Πfac; a new version must change it. */
export const FAC_PROOF = 'cggmp21/fac/v1';

/** The public claim: the prover's modulus N0 has no factor below about 2^ℓ. */
export interface FacStatement {
  /** The prover's Paillier modulus. */
  readonly N0: bigint;
  /** The verifier's ring-Pedersen parameters (N̂, s, t), already proven with Πprm. */
  readonly rp: RingPedersen;
}

/** The factorisation N0 = p·q; a `PaillierSecretKey` is structurally a witness. */
export interface FacWitness {
  readonly p: bigint;
  readonly q: bigint;
}

export interface FacProof {
  /** P = s^p·t^μ mod N̂. */
  readonly P: bigint;
  /** Q = s^q·t^ν mod N̂. */
  readonly Q: bigint;
  /** A = s^α·t^x mod N̂. */
  readonly A: bigint;
  /** B = s^β·t^y mod N̂. */
  readonly B: bigint;
  /** T = Q^α·t^r mod N̂. */
  readonly T: bigint;
  /** σ ∈ ±2^ℓ·N0·N̂, the randomness of R = s^N0·t^σ. */
  readonly sigma: bigint;
  /** z1 = α + e·p, z2 = β + e·q ∈ ±2^(ℓ+ε)·√N0: the range check that bounds p and q. */
  readonly z1: bigint;
  readonly z2: bigint;
  /** w1 = x + e·μ, w2 = y + e·ν. */
  readonly w1: bigint;
  readonly w2: bigint;
  /** v = r + e·(σ − ν·p). */
  readonly v: bigint;
}

/** ⌊√n⌋ by Newton's iteration from a starting point above the root. */
function isqrt(n: bigint): bigint {
  if (n < 0n) throw new RangeError('isqrt of a negative number');
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(bitLength(n) / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/**
 * The symmetric bounds of the integer fields, derived from the statement. z1, z2 use the
 * paper's range; σ is the prover's sampling range; w1, w2, v are not range-checked in the paper,
 * so their bounds are the largest an honest proof reaches (|e| < q, |p| < N0). They only serve
 * strict decoding and cap the size of the exponents a verifier can be made to compute.
 */
function bounds(statement: FacStatement) {
  const { N0 } = statement;
  const Nhat = statement.rp.N;
  const z = pow2(ELL + EPSILON) * isqrt(N0);
  const sigma = pow2(ELL) * N0 * Nhat;
  const w = pow2(ELL + EPSILON) * Nhat + (Q - 1n) * pow2(ELL) * Nhat;
  const v = pow2(ELL + EPSILON) * N0 * Nhat + (Q - 1n) * 2n * pow2(ELL) * N0 * Nhat;
  return { z, sigma, w, v };
}

/** The prover's first message, everything the challenge is computed over besides the statement. */
type FacFirstMessage = Pick<FacProof, 'P' | 'Q' | 'A' | 'B' | 'T' | 'sigma'>;

/** e ∈ [0, q), bound to the context, the statement and the whole first message. */
function challenge(statement: FacStatement, proof: FacFirstMessage, ctx: ProofContext): bigint {
  const { N0, rp } = statement;
  return new Transcript(FAC_PROOF, ctx)
    .int('N0', N0)
    .int('Nhat', rp.N)
    .int('s', rp.s)
    .int('t', rp.t)
    .int('P', proof.P)
    .int('Q', proof.Q)
    .int('A', proof.A)
    .int('B', proof.B)
    .int('T', proof.T)
    .int('sigma', proof.sigma)
    .challenge(Q);
}

/**
 * Proves that N0 = p·q has no small factor (Fig. 26/28), against the verifier's ring-Pedersen
 * parameters. Only N0 = p·q is checked: with a small factor the other one is too large for the
 * range check and the proof does not verify.
 */
export function proveFac(
  statement: FacStatement,
  witness: FacWitness,
  ctx: ProofContext,
  rng: Rng,
): FacProof {
  const { N0, rp } = statement;
  const Nhat = rp.N;
  const { p, q } = witness;
  if (p <= 1n || q <= 1n || p * q !== N0) {
    throw new ProtocolError('INVALID_PARAMETERS', 'Πfac witness does not factor N0');
  }
  const sqrtN0 = isqrt(N0);
  // The masks exceed what they hide by 2^ε (α, β over e·p, e·q; x, y, r over e·μ, e·ν, e·σ̂),
  // so the responses are statistically independent of p, q.
  const alpha = randomSymmetric(pow2(ELL + EPSILON) * sqrtN0, rng);
  const beta = randomSymmetric(pow2(ELL + EPSILON) * sqrtN0, rng);
  const mu = randomSymmetric(pow2(ELL) * Nhat, rng);
  const nu = randomSymmetric(pow2(ELL) * Nhat, rng);
  const sigma = randomSymmetric(pow2(ELL) * N0 * Nhat, rng);
  const r = randomSymmetric(pow2(ELL + EPSILON) * N0 * Nhat, rng);
  const x = randomSymmetric(pow2(ELL + EPSILON) * Nhat, rng);
  const y = randomSymmetric(pow2(ELL + EPSILON) * Nhat, rng);

  const factorBits = widthOf(pow2(ELL + EPSILON) * sqrtN0);
  const maskBits = widthOf(pow2(ELL + EPSILON) * Nhat);
  const P = commitRPSecret(rp, p, factorBits, mu, maskBits);
  const Qc = commitRPSecret(rp, q, factorBits, nu, maskBits);
  const A = commitRPSecret(rp, alpha, factorBits, x, maskBits);
  const B = commitRPSecret(rp, beta, factorBits, y, maskBits);
  const T = mod(
    modPowSecret(Qc, alpha, Nhat, factorBits) *
      modPowSecret(rp.t, r, Nhat, widthOf(pow2(ELL + EPSILON) * N0 * Nhat)),
    Nhat,
  );
  const first: FacFirstMessage = { P, Q: Qc, A, B, T, sigma };
  const e = challenge(statement, first, ctx);

  // σ̂ = σ − ν·p makes Q^p·t^σ̂ = s^(pq)·t^σ = R, which ties the committed p and q to N0.
  const sigmaHat = sigma - nu * p;
  return {
    ...first,
    z1: alpha + e * p,
    z2: beta + e * q,
    w1: x + e * mu,
    w2: y + e * nu,
    v: r + e * sigmaHat,
  };
}

/**
 * Verifies Πfac (Fig. 26/28) with the verifier's own ring-Pedersen parameters. Returns false on
 * any malformed or failing proof; never throws.
 */
export function verifyFac(statement: FacStatement, proof: FacProof, ctx: ProofContext): boolean {
  try {
    const { N0, rp } = statement;
    const { N: Nhat, s, t } = rp;
    // The bound on the factors is √N0 / 2^(ℓ+ε): below 2048 bits it no longer exceeds 2^ℓ
    // and the proof says nothing useful.
    if (typeof N0 !== 'bigint' || N0 % 2n === 0n || bitLength(N0) < MIN_MODULUS_BITS) return false;
    if (typeof Nhat !== 'bigint' || Nhat % 2n === 0n || Nhat <= 1n) return false;
    // Commitments must be units of Z_N̂: the soundness argument (extracting p, q from two
    // answers) works in Z*_N̂, and a non-unit would mean the prover knows a factor of N̂.
    for (const v of [s, t, proof.P, proof.Q, proof.A, proof.B, proof.T]) {
      if (typeof v !== 'bigint' || !isUnit(v, Nhat)) return false;
    }
    const bound = bounds(statement);
    const { sigma, z1, z2, w1, w2, v } = proof;
    for (const [value, limit] of [
      [sigma, bound.sigma],
      [z1, bound.z],
      [z2, bound.z],
      [w1, bound.w],
      [w2, bound.w],
      [v, bound.v],
    ] as const) {
      if (typeof value !== 'bigint' || !inSymmetricRange(value, limit)) return false;
    }
    const e = challenge(statement, proof, ctx);

    // s^z1·t^w1 ≡ A·P^e and s^z2·t^w2 ≡ B·Q^e: z1, z2 open the committed p, q under masks.
    if (commitRP(rp, z1, w1) !== mod(proof.A * modPow(proof.P, e, Nhat), Nhat)) return false;
    if (commitRP(rp, z2, w2) !== mod(proof.B * modPow(proof.Q, e, Nhat), Nhat)) return false;
    // Q^z1·t^v ≡ T·R^e with R = s^N0·t^σ: the committed p times the committed q is N0.
    const R = commitRP(rp, N0, sigma);
    const lhs = mod(modPow(proof.Q, z1, Nhat) * modPow(t, v, Nhat), Nhat);
    if (lhs !== mod(proof.T * modPow(R, e, Nhat), Nhat)) return false;
    return true;
  } catch {
    return false;
  }
}

/** Encodes a Πfac proof: P, Q, A, B, T, σ, z1, z2, w1, w2, v. */
export function writeFacProof(w: Writer, proof: FacProof): void {
  w.int(proof.P).int(proof.Q).int(proof.A).int(proof.B).int(proof.T);
  w.int(proof.sigma).int(proof.z1).int(proof.z2).int(proof.w1).int(proof.w2).int(proof.v);
}

/**
 * Decodes a Πfac proof for `statement`: residues in [0, N̂), each integer at most 64 bits longer
 * than its bound. The ranges themselves are the verifier's to check, so that an answer out of
 * range (a modulus with a small factor) is a failed proof, not a malformed message.
 */
export function readFacProof(r: Reader, statement: FacStatement): FacProof {
  const Nhat = statement.rp.N;
  const bound = bounds(statement);
  const signed = (limit: bigint, what: string): bigint => r.int(bitLength(limit) + 64, what);
  // z1, z2 answer for the factors: a prover with a small factor has a cofactor up to N0, so
  // its answers reach 2^(ℓ+ε)·N0; they decode, and the verifier's range check refuses them.
  const answer = (what: string): bigint => r.int(bitLength(statement.N0) + ELL + EPSILON + 2, what);
  return {
    P: r.residue(Nhat, 'Πfac P'),
    Q: r.residue(Nhat, 'Πfac Q'),
    A: r.residue(Nhat, 'Πfac A'),
    B: r.residue(Nhat, 'Πfac B'),
    T: r.residue(Nhat, 'Πfac T'),
    sigma: signed(bound.sigma, 'Πfac sigma'),
    z1: answer('Πfac z1'),
    z2: answer('Πfac z2'),
    w1: signed(bound.w, 'Πfac w1'),
    w2: signed(bound.w, 'Πfac w2'),
    v: signed(bound.v, 'Πfac v'),
  };
}
