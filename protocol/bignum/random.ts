/** Uniform sampling of large integers from an injected byte source. */
import type { Rng } from '../random.js';
import { bitLength, fromBytes, gcd } from './arith.js';

/** Uniform in [0, n): rejection sampling on the bit length of n. */
export function randomBelow(n: bigint, rng: Rng): bigint {
  if (n <= 0n) throw new RangeError('bound must be positive');
  const bits = bitLength(n);
  const bytes = Math.ceil(bits / 8);
  const excess = BigInt(bytes * 8 - bits);
  for (;;) {
    const candidate = fromBytes(rng(bytes)) >> excess;
    if (candidate < n) return candidate;
  }
}

/** Uniform in Z*_n: below n and coprime to it. */
export function randomUnit(n: bigint, rng: Rng): bigint {
  for (;;) {
    const x = randomBelow(n, rng);
    if (x !== 0n && gcd(x, n) === 1n) return x;
  }
}

/** Uniform in the symmetric interval [-bound, bound]. */
export function randomSymmetric(bound: bigint, rng: Rng): bigint {
  return randomBelow(2n * bound + 1n, rng) - bound;
}

/** Uniform in [-2^bits, 2^bits]. */
export function randomSignedBits(bits: number, rng: Rng): bigint {
  return randomSymmetric(1n << BigInt(bits), rng);
}
