/**
 * Paillier encryption over N = pq with p, q safe primes, as CGGMP21 uses it: g = 1 + N, so
 * Enc(m; ρ) = (1 + m·N)·ρ^N mod N². Ciphertexts add under multiplication and scale under
 * exponentiation; decryption uses the factorisation through the Chinese remainder theorem.
 */
import { inspect } from 'node:util';
import { ProtocolError } from '../errors.js';
import type { Rng } from '../random.js';
import { bitLength, crt, gcd, mod, modInv, modPow, modPowSecret } from '../bignum/arith.js';
import { randomUnit } from '../bignum/random.js';

/** Moduli below this are refused: 2048 bits is the security level CGGMP21 is analysed at. */
export const MIN_MODULUS_BITS = 2048;

export interface PaillierPublicKey {
  readonly N: bigint;
  readonly N2: bigint;
}

export function paillierPublicKey(N: bigint): PaillierPublicKey {
  return { N, N2: N * N };
}

/**
 * Checks the cheap structural facts of a peer's modulus: size and oddness. That N is a
 * Paillier-Blum modulus without small factors is what Πmod and Πfac prove.
 */
export function validateModulus(N: bigint): boolean {
  return bitLength(N) >= MIN_MODULUS_BITS && N % 2n === 1n;
}

/** Whether c is a valid ciphertext: a unit of Z_{N²}. */
export function isCiphertext(pk: PaillierPublicKey, c: bigint): boolean {
  return c > 0n && c < pk.N2 && gcd(c, pk.N) === 1n;
}

/** Enc(m; ρ) with explicit randomness ρ ∈ Z*_N; m is taken mod N (negative values wrap). */
export function encryptWith(pk: PaillierPublicKey, m: bigint, rho: bigint): bigint {
  const gm = (1n + mod(m, pk.N) * pk.N) % pk.N2;
  return (gm * modPow(rho, pk.N, pk.N2)) % pk.N2;
}

export function encrypt(pk: PaillierPublicKey, m: bigint, rng: Rng): { c: bigint; rho: bigint } {
  const rho = randomUnit(pk.N, rng);
  return { c: encryptWith(pk, m, rho), rho };
}

/** c1 ⊕ c2: an encryption of m1 + m2. */
export function add(pk: PaillierPublicKey, c1: bigint, c2: bigint): bigint {
  return (c1 * c2) % pk.N2;
}

/** k ⊙ c: an encryption of k·m (k may be negative). */
export function scale(pk: PaillierPublicKey, c: bigint, k: bigint): bigint {
  return modPow(c, k, pk.N2);
}

/** k ⊙ c for a secret k with |k| < 2^bits, constant-time in k (see `modPowSecret`). */
export function scaleSecret(pk: PaillierPublicKey, c: bigint, k: bigint, bits: number): bigint {
  return modPowSecret(c, k, pk.N2, bits);
}

/** The secret key: the factorisation, with what CRT decryption needs precomputed. */
export class PaillierSecretKey {
  readonly publicKey: PaillierPublicKey;
  readonly #p: bigint;
  readonly #q: bigint;
  readonly #pSquared: bigint;
  readonly #qSquared: bigint;
  readonly #hp: bigint;
  readonly #hq: bigint;
  readonly #qInvModP: bigint;

  constructor(p: bigint, q: bigint) {
    if (p === q || p % 2n === 0n || q % 2n === 0n) {
      throw new ProtocolError('INVALID_PARAMETERS', 'Paillier primes must be distinct odd primes');
    }
    const N = p * q;
    if (bitLength(N) < MIN_MODULUS_BITS) {
      throw new ProtocolError(
        'INVALID_PARAMETERS',
        `Paillier modulus below ${MIN_MODULUS_BITS} bits`,
      );
    }
    this.publicKey = paillierPublicKey(N);
    this.#p = p;
    this.#q = q;
    this.#pSquared = p * p;
    this.#qSquared = q * q;
    // h_p = L_p(g^(p-1) mod p²)^-1 mod p with g = 1 + N (and likewise for q).
    const g = 1n + N;
    this.#hp = modInv(lFunction(modPow(g, p - 1n, this.#pSquared), p), p);
    this.#hq = modInv(lFunction(modPow(g, q - 1n, this.#qSquared), q), q);
    this.#qInvModP = modInv(q, p);
  }

  get p(): bigint {
    return this.#p;
  }

  get q(): bigint {
    return this.#q;
  }

  /** φ(N) = (p − 1)(q − 1). */
  get phi(): bigint {
    return (this.#p - 1n) * (this.#q - 1n);
  }

  /** The plaintext in [0, N). */
  decrypt(c: bigint): bigint {
    const mp = mod(lFunction(modPow(c, this.#p - 1n, this.#pSquared), this.#p) * this.#hp, this.#p);
    const mq = mod(lFunction(modPow(c, this.#q - 1n, this.#qSquared), this.#q) * this.#hq, this.#q);
    return crt(mp, this.#p, mq, this.#q, this.#qInvModP);
  }

  /** The plaintext read as a signed value in (−N/2, N/2]. */
  decryptSigned(c: bigint): bigint {
    const m = this.decrypt(c);
    return m > this.publicKey.N / 2n ? m - this.publicKey.N : m;
  }

  /** x^(N^-1 mod φ(N)) mod N: the N-th root that Πmod needs. */
  nthRoot(x: bigint): bigint {
    const N = this.publicKey.N;
    return modPow(x, modInv(N, this.phi), N);
  }

  /** Recovers the randomness ρ of a ciphertext c = (1+N)^m·ρ^N (Πdec-style openings). */
  randomnessOf(c: bigint): bigint {
    const N = this.publicKey.N;
    const m = this.decrypt(c);
    const rhoN =
      (c * modInv((1n + m * N) % this.publicKey.N2, this.publicKey.N2)) % this.publicKey.N2;
    return this.nthRoot(rhoN % N);
  }

  toJSON(): string {
    return '[PaillierSecretKey redacted]';
  }

  [inspect.custom](): string {
    return `PaillierSecretKey { N: ${bitLength(this.publicKey.N)} bits }`;
  }
}

/** L(x) = (x − 1) / n. */
function lFunction(x: bigint, n: bigint): bigint {
  return (x - 1n) / n;
}
