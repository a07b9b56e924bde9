/**
 * Πmod, the Paillier-Blum modulus proof of CGGMP21 (Fig. 16): the prover shows that its Paillier
 * modulus N is a product of two primes p ≡ q ≡ 3 (mod 4) with gcd(N, φ(N)) = 1, without revealing
 * them. Each of the m repetitions answers a random y ∈ Z_N with
 *
 *   - an N-th root z of y, which exists for every y only when gcd(N, φ(N)) = 1 (so N has no
 *     square factor and Paillier decryption is well defined), and
 *   - a fourth root x of one of ±y, ±w·y for a fixed w of Jacobi symbol −1; one of the four is
 *     always a fourth power exactly when N has two prime factors, both ≡ 3 (mod 4).
 *
 * A modulus that fails either property makes each repetition fail with probability at least 1/2,
 * so m = 80 repetitions give soundness error 2^-80. Unproven Paillier moduli are what the BitForge
 * key-extraction attack (CVE-2023-33241) exploited in GG18/GG20 deployments: a modulus made of
 * many small primes leaks a peer's secret share through the MtA range proofs computed against
 * it. Πmod refuses any modulus with more than two prime factors; Πfac (fac.ts) then refuses
 * two-prime moduli with a small factor.
 */
import { ProtocolError } from '../errors.js';
import type { Rng } from '../random.js';
import type { Reader, Writer } from '../codec.js';
import { bitLength, crt, jacobi, mod, modInv, modPow } from '../bignum/arith.js';
import { randomBelow } from '../bignum/random.js';
import { MIN_MODULUS_BITS } from '../paillier/paillier.js';
import { STAT_REPETITIONS } from './params.js';
import { Transcript, type ProofContext } from './transcript.js';

/** The Fiat-Shamir domain of Πmod; a new version must change it. */
export const MOD_PROOF = 'cggmp21/mod/v1';

/** The public claim: N is a Paillier-Blum modulus. */
export interface ModStatement {
  readonly N: bigint;
}

/**
 * The factorisation N = p·q. A `PaillierSecretKey` is structurally a witness and can be passed
 * as is.
 */
export interface ModWitness {
  readonly p: bigint;
  readonly q: bigint;
}

/** One repetition: x^4 ≡ (−1)^a·w^b·y and z^N ≡ y (mod N) for the i-th challenge y. */
export interface ModRepetition {
  readonly x: bigint;
  readonly a: boolean;
  readonly b: boolean;
  readonly z: bigint;
}

export interface ModProof {
  /** A non-residue of Jacobi symbol −1 modulo N (the prover's first message). */
  readonly w: bigint;
  /** Exactly STAT_REPETITIONS answers. */
  readonly repetitions: readonly ModRepetition[];
}

// Miller-Rabin bases. Only "N is composite" is ever concluded from them, and no base makes a
// prime look composite, so every prime N is refused whatever the bases; more bases only lower
// the (already negligible) chance that an honest composite N is a strong pseudoprime to all.
const MR_BASES = [2n, 3n, 5n, 7n, 11n, 13n];

/**
 * Whether N passes Miller-Rabin to every base in MR_BASES (N odd, N > 13). Any failure to
 * compute counts as passing a base, so errors push towards "prime", i.e. towards refusing N.
 */
function isProbablePrime(N: bigint): boolean {
  let d = N - 1n;
  let r = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    r++;
  }
  for (const base of MR_BASES) {
    let x: bigint;
    try {
      x = modPow(base, d, N);
    } catch {
      // arith.ts's modPow currently throws instead of returning 1 or N − 1 (OpenSSL refuses
      // such a Diffie-Hellman secret); both results mean "this base passes".
      continue;
    }
    if (x === 1n || x === N - 1n) continue;
    let witness = true;
    for (let i = 1; i < r && witness; i++) {
      x = (x * x) % N;
      if (x === N - 1n) witness = false;
    }
    if (witness) return false;
  }
  return true;
}

/** (−1)^a·w^b·y mod N: the value whose fourth root a repetition exhibits. */
function target(y: bigint, w: bigint, a: boolean, b: boolean, N: bigint): bigint {
  let v = b ? (y * w) % N : y;
  if (a) v = mod(-v, N);
  return v;
}

/** The m challenges y_1..y_m ∈ Z_N, bound to the context, N and the first message w. */
function challenges(N: bigint, w: bigint, ctx: ProofContext): bigint[] {
  return new Transcript(MOD_PROOF, ctx).int('N', N).int('w', w).challenges(STAT_REPETITIONS, N);
}

/**
 * Proves that N = p·q is a Paillier-Blum modulus (Fig. 16). The witness is not checked beyond
 * N = p·q: the verifier is what guards the claim, and a modulus that is not Paillier-Blum either
 * makes this throw (no residue, no N-th root) or yields a proof that does not verify.
 */
export function proveMod(
  statement: ModStatement,
  witness: ModWitness,
  ctx: ProofContext,
  rng: Rng,
): ModProof {
  const { N } = statement;
  const { p, q } = witness;
  if (p <= 1n || q <= 1n || p * q !== N || N % 2n === 0n) {
    throw new ProtocolError('INVALID_PARAMETERS', 'Πmod witness does not factor N');
  }
  let w: bigint;
  do w = randomBelow(N, rng);
  while (jacobi(w, N) !== -1);
  const ys = challenges(N, w, ctx);

  let qInvModP: bigint;
  let d: bigint;
  try {
    qInvModP = modInv(q, p);
    // z = y^(N^-1 mod φ(N)); the inverse exists only when gcd(N, φ(N)) = 1.
    d = modInv(N, (p - 1n) * (q - 1n));
  } catch {
    throw new ProtocolError('INVALID_PARAMETERS', 'Πmod: gcd(N, φ(N)) ≠ 1 or p, q not coprime');
  }
  const dp = d % (p - 1n);
  const dq = d % (q - 1n);
  // For a Blum prime p and a quadratic residue c, c^((p+1)/4) is the square root of c that is
  // itself a residue, so applying it twice gives a fourth root: one exponent ((p+1)/4)² reduced
  // mod p − 1 (c^(p−1) = 1 for a unit c).
  const fourthRootExp = (prime: bigint): bigint => {
    const e = (prime + 1n) / 4n;
    return (e * e) % (prime - 1n);
  };
  const ep = fourthRootExp(p);
  const eq = fourthRootExp(q);
  // Legendre symbols of −1 and w modulo each prime, computed once; the symbol of a product is
  // the product of the symbols, so each repetition needs only those of y.
  const minusOne = [jacobi(-1n, p), jacobi(-1n, q)] as const;
  const wSym = [jacobi(w, p), jacobi(w, q)] as const;

  const repetitions = ys.map((y): ModRepetition => {
    const ySym = [jacobi(y, p), jacobi(y, q)] as const;
    // Exactly one of ±y, ±w·y is a square modulo both Blum primes: (−1|p) = (−1|q) = −1 flips
    // both symbols, and Jacobi(w, N) = −1 makes w flip exactly one of them.
    for (const [a, b] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const sp = ySym[0] * (a ? minusOne[0] : 1) * (b ? wSym[0] : 1);
      const sq = ySym[1] * (a ? minusOne[1] : 1) * (b ? wSym[1] : 1);
      if (sp !== 1 || sq !== 1) continue;
      const c = target(y, w, a, b, N);
      const x = crt(modPow(c, ep, p), p, modPow(c, eq, q), q, qInvModP);
      const z = crt(modPow(y, dp, p), p, modPow(y, dq, q), q, qInvModP);
      return { x, a, b, z };
    }
    throw new ProtocolError('INVALID_PARAMETERS', 'Πmod: none of ±y, ±wy is a square mod N');
  });
  return { w, repetitions };
}

/**
 * Verifies Πmod (Fig. 16). Returns false on any malformed or failing proof; never throws. Checks
 * are ordered cheapest first; the outcome is the conjunction of all of them.
 */
export function verifyMod(statement: ModStatement, proof: ModProof, ctx: ProofContext): boolean {
  try {
    const { N } = statement;
    const { w, repetitions } = proof;
    // An even N, or one below the analysed size, is refused before anything else; the size
    // bound is what Paillier's semantic security and Πfac's factor bound rest on.
    if (typeof N !== 'bigint' || N % 2n === 0n || bitLength(N) < MIN_MODULUS_BITS) return false;
    // Fewer repetitions would silently lower soundness to 2^-k.
    if (!Array.isArray(repetitions as unknown) || repetitions.length !== STAT_REPETITIONS) {
      return false;
    }
    // w must be a unit of Jacobi symbol −1: with w a square (or ±1) the four candidates ±y, ±wy
    // cover fewer cosets of the squares and a modulus with more prime factors could pass.
    if (typeof w !== 'bigint' || w <= 0n || w >= N || jacobi(w, N) !== -1) return false;
    for (const r of repetitions) {
      if (typeof r.a !== 'boolean' || typeof r.b !== 'boolean') return false;
      if (typeof r.x !== 'bigint' || r.x < 0n || r.x >= N) return false;
      if (typeof r.z !== 'bigint' || r.z < 0n || r.z >= N) return false;
    }
    const ys = challenges(N, w, ctx);

    // Fourth roots: two squarings each (no exponentiation needed), cheap next to the N-th
    // powers, so a wrong x, a or b is caught before any of those.
    for (let i = 0; i < STAT_REPETITIONS; i++) {
      const r = repetitions[i]!;
      const x2 = (r.x * r.x) % N;
      if ((x2 * x2) % N !== target(ys[i]!, w, r.a, r.b, N)) return false;
    }

    // (Π z_i)^N ≡ Π y_i is implied by the m equations below, so it accepts nothing they
    // reject; it costs one exponentiation and rejects a proof with one corrupted z_i (a
    // transmission error, a naive forgery) without the other m − 1.
    let zProduct = 1n;
    let yProduct = 1n;
    for (let i = 0; i < STAT_REPETITIONS; i++) {
      zProduct = (zProduct * repetitions[i]!.z) % N;
      yProduct = (yProduct * ys[i]!) % N;
    }
    if (modPow(zProduct, N, N) !== yProduct) return false;

    // A prime N ≡ 3 (mod 4) answers every challenge (−1 is a non-residue and gcd(N, N − 1) = 1),
    // so the equations alone do not show that N is composite; the paper requires checking it.
    if (isProbablePrime(N)) return false;

    // N-th roots: every y has one only when gcd(N, φ(N)) = 1, which rules out square factors.
    for (let i = 0; i < STAT_REPETITIONS; i++) {
      if (modPow(repetitions[i]!.z, N, N) !== ys[i]) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** Encodes a Πmod proof: w, then a u16 count and per repetition x, a, b, z. */
export function writeModProof(w: Writer, proof: ModProof): void {
  w.int(proof.w).u16(proof.repetitions.length);
  for (const r of proof.repetitions)
    w.int(r.x)
      .u8(r.a ? 1 : 0)
      .u8(r.b ? 1 : 0)
      .int(r.z);
}

/** Decodes a Πmod proof for `statement`: every residue in [0, N), exactly m repetitions. */
export function readModProof(r: Reader, statement: ModStatement): ModProof {
  const { N } = statement;
  const bit = (what: string): boolean => {
    const v = r.u8(what);
    if (v > 1) r.fail(`${what}: not a bit`);
    return v === 1;
  };
  const w = r.residue(N, 'Πmod w');
  const count = r.u16('Πmod count');
  if (count !== STAT_REPETITIONS) r.fail(`Πmod: expected ${STAT_REPETITIONS} repetitions`);
  const repetitions: ModRepetition[] = [];
  for (let i = 0; i < count; i++) {
    const x = r.residue(N, `Πmod x[${i}]`);
    const a = bit(`Πmod a[${i}]`);
    const b = bit(`Πmod b[${i}]`);
    const z = r.residue(N, `Πmod z[${i}]`);
    repetitions.push({ x, a, b, z });
  }
  return { w, repetitions };
}
