/**
 * The arithmetic choices behind threshold ECDSA, measured side by side: modular exponentiation
 * through OpenSSL against pure BigInt, and safe-prime generation through OpenSSL against a
 * pure-BigInt search (sieve and Miller-Rabin), at a size the pure search finishes.
 */
import { generatePrimeSync, randomBytes } from 'node:crypto';
import { fromBytes, modPow } from '../protocol/bignum/arith.js';
import { emitOther, measure } from './measure.js';

function powBigInt(base: bigint, exp: bigint, m: bigint): bigint {
  let result = 1n;
  base %= m;
  while (exp > 0n) {
    if (exp & 1n) result = (result * base) % m;
    base = (base * base) % m;
    exp >>= 1n;
  }
  return result;
}

function randomOdd(bits: number): bigint {
  const x = fromBytes(randomBytes(bits / 8));
  return x | (1n << BigInt(bits - 1)) | (3n << BigInt(bits - 2)) | 1n;
}

const SMALL_PRIMES = (() => {
  const out: bigint[] = [];
  for (let n = 3; out.length < 2000; n += 2) {
    if (out.every((p) => Number(p) * Number(p) > n || n % Number(p) !== 0)) out.push(BigInt(n));
  }
  return out;
})();

function millerRabin(n: bigint, rounds: number): boolean {
  let d = n - 1n;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  for (let i = 0; i < rounds; i++) {
    const a = 2n + (fromBytes(randomBytes(16)) % (n - 4n));
    let x = powBigInt(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    let composite = true;
    for (let r = 1; r < s; r++) {
      x = (x * x) % n;
      if (x === n - 1n) {
        composite = false;
        break;
      }
    }
    if (composite) return false;
  }
  return true;
}

/** A safe prime p = 2q + 1 by trial division of both, then Miller-Rabin on q and p. */
function pureSafePrime(bits: number): bigint {
  for (;;) {
    const q = randomOdd(bits - 1);
    const p = 2n * q + 1n;
    if (SMALL_PRIMES.some((s) => (q % s === 0n && q !== s) || (p % s === 0n && p !== s))) continue;
    if (millerRabin(q, 1) && millerRabin(p, 1) && millerRabin(q, 40) && millerRabin(p, 40))
      return p;
  }
}

export function benchArith(): void {
  const p = generatePrimeSync(1024, { safe: true, bigint: true });
  const q = generatePrimeSync(1024, { safe: true, bigint: true });
  const N2 = p * p * q * q;
  const base = fromBytes(randomBytes(512)) % N2;
  const exp = fromBytes(randomBytes(256));
  emitOther(
    'modexp',
    { impl: 'openssl', modulusBits: 4096, exponentBits: 2048 },
    30,
    measure(30, 3, () => modPow(base, exp, N2)),
  );
  emitOther(
    'modexp',
    { impl: 'bigint', modulusBits: 4096, exponentBits: 2048 },
    5,
    measure(5, 1, () => powBigInt(base, exp, N2)),
  );
  emitOther(
    'safe-prime',
    { impl: 'openssl', bits: 1024 },
    9,
    measure(9, 0, () => generatePrimeSync(1024, { safe: true, bigint: true })),
  );
  emitOther(
    'safe-prime',
    { impl: 'openssl', bits: 512 },
    9,
    measure(9, 0, () => generatePrimeSync(512, { safe: true, bigint: true })),
  );
  emitOther(
    'safe-prime',
    { impl: 'bigint', bits: 512 },
    3,
    measure(3, 0, () => pureSafePrime(512)),
  );
  emitOther(
    'safe-prime',
    { impl: 'bigint', bits: 1024 },
    3,
    measure(3, 0, () => pureSafePrime(1024)),
  );
}
