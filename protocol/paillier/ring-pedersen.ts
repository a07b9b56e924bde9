/**
 * Ring-Pedersen parameters (N, s, t): t a random square mod N and s = t^λ. Commitments
 * s^x·t^y mod N hide x and bind the committer to it under the strong RSA assumption; the proofs
 * of CGGMP21 use the verifier's parameters to bound the prover's secrets.
 */
import type { Rng } from '../random.js';
import { modPow, modPowSecret, mod } from '../bignum/arith.js';
import { randomBelow, randomUnit } from '../bignum/random.js';

export interface RingPedersen {
  readonly N: bigint;
  readonly s: bigint;
  readonly t: bigint;
}

/** s^x · t^y mod N (x, y may be negative). */
export function commitRP(rp: RingPedersen, x: bigint, y: bigint): bigint {
  return mod(modPow(rp.s, x, rp.N) * modPow(rp.t, y, rp.N), rp.N);
}

/**
 * s^x · t^y mod N for secret x and y with |x| < 2^xBits and |y| < 2^yBits: the prover's side,
 * constant-time in the exponents (see `modPowSecret`).
 */
export function commitRPSecret(
  rp: RingPedersen,
  x: bigint,
  xBits: number,
  y: bigint,
  yBits: number,
): bigint {
  return mod(modPowSecret(rp.s, x, rp.N, xBits) * modPowSecret(rp.t, y, rp.N, yBits), rp.N);
}

/** Fresh parameters over N = pq with φ(N) known; λ is the trapdoor Πprm proves knowledge of. */
export function generateRingPedersen(
  N: bigint,
  phi: bigint,
  rng: Rng,
): { params: RingPedersen; lambda: bigint } {
  const r = randomUnit(N, rng);
  const t = (r * r) % N;
  const lambda = randomBelow(phi, rng);
  const s = modPow(t, lambda, N);
  return { params: { N, s, t }, lambda };
}
