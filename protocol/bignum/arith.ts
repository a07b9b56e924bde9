/**
 * Arithmetic on large integers for Paillier, ring-Pedersen and the zero-knowledge proofs. Every
 * proof and every Paillier operation goes through this module, so its speed is the speed of
 * threshold ECDSA.
 *
 * Modular exponentiation is the hot path. Pure BigInt square-and-multiply costs about 52 ms for
 * a 2048-bit exponent modulo a 4096-bit N²; OpenSSL does it in about 7.5 ms. Node reaches
 * OpenSSL's modexp without a native addon through a Diffie-Hellman object whose "prime" is the
 * modulus: `computeSecret(base)` returns base^privateKey mod modulus, computed with OpenSSL's
 * constant-time Montgomery exponentiation, which also suits secret exponents. Building the
 * object runs parameter checks, so one is kept per modulus.
 */
import { createDiffieHellman, type DiffieHellman } from 'node:crypto';

export function bitLength(n: bigint): number {
  if (n < 0n) n = -n;
  return n === 0n ? 0 : n.toString(2).length;
}

export function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

/** Big-endian unsigned bytes, left-padded to `length` when given. */
export function toBytes(n: bigint, length?: number): Buffer {
  if (n < 0n) throw new RangeError('toBytes takes a non-negative integer');
  let hex = n.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  const raw = Buffer.from(hex, 'hex');
  if (length === undefined || raw.length === length) return raw;
  if (raw.length > length) throw new RangeError('integer does not fit');
  return Buffer.concat([Buffer.alloc(length - raw.length), raw]);
}

export function fromBytes(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  return BigInt(
    '0x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex'),
  );
}

export function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** a^-1 mod m by the extended Euclidean algorithm; throws when gcd(a, m) != 1. */
export function modInv(a: bigint, m: bigint): bigint {
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new RangeError('not invertible');
  return mod(oldS, m);
}

/** The Jacobi symbol (a/n) for odd n > 0. */
export function jacobi(a: bigint, n: bigint): -1 | 0 | 1 {
  if (n <= 0n || n % 2n === 0n) throw new RangeError('Jacobi symbol needs an odd positive n');
  a = mod(a, n);
  let result: 1 | -1 = 1;
  while (a !== 0n) {
    while (a % 2n === 0n) {
      a /= 2n;
      const r = n % 8n;
      if (r === 3n || r === 5n) result = result === 1 ? -1 : 1;
    }
    [a, n] = [n, a];
    if (a % 4n === 3n && n % 4n === 3n) result = result === 1 ? -1 : 1;
    a %= n;
  }
  return n === 1n ? result : 0;
}

// One OpenSSL exponentiation context per modulus, kept for the moduli in use (a party's own
// N and N², and those of its peers); the bound keeps a long-running signer's memory flat.
const contexts = new Map<bigint, DiffieHellman>();
const MAX_CONTEXTS = 256;

function context(modulus: bigint): DiffieHellman {
  let dh = contexts.get(modulus);
  if (dh) {
    // Refresh its place in the insertion order (least recently used goes first).
    contexts.delete(modulus);
    contexts.set(modulus, dh);
    return dh;
  }
  dh = createDiffieHellman(toBytes(modulus), Buffer.from([2]));
  if (contexts.size >= MAX_CONTEXTS) contexts.delete(contexts.keys().next().value!);
  contexts.set(modulus, dh);
  return dh;
}

function powBigInt(base: bigint, exp: bigint, m: bigint): bigint {
  let result = 1n;
  base = mod(base, m);
  while (exp > 0n) {
    if (exp & 1n) result = (result * base) % m;
    base = (base * base) % m;
    exp >>= 1n;
  }
  return result;
}

/**
 * base^exp mod m for an odd modulus m > 1. A negative exponent inverts the base first (which
 * must then be a unit). Constant-time in the exponent for the sizes that go to OpenSSL.
 */
export function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  if (m <= 1n) throw new RangeError('modulus must exceed 1');
  if (exp < 0n) return modPow(modInv(base, m), -exp, m);
  base = mod(base, m);
  if (exp === 0n) return 1n;
  // OpenSSL refuses "public keys" outside (1, m - 1), and small or even moduli gain nothing.
  if (base <= 1n || base === m - 1n || m % 2n === 0n || bitLength(m) < 512) {
    return powBigInt(base, exp, m);
  }
  const dh = context(m);
  dh.setPrivateKey(toBytes(exp));
  try {
    return fromBytes(dh.computeSecret(toBytes(base)));
  } catch {
    // OpenSSL 3 refuses a Diffie-Hellman "shared secret" of 1 or m − 1 (a degenerate key
    // agreement); as an exponentiation those are ordinary results, computed here instead.
    return powBigInt(base, exp, m);
  }
}

// base^(−3·2^bits) mod m per (modulus, base, width): long-lived bases (ring-Pedersen s and t)
// hit the cache; fresh ciphertexts fill and leave it.
const corrections = new Map<string, bigint>();
const MAX_CORRECTIONS = 1024;

/**
 * base^exp mod m for a SECRET exponent with |exp| < 2^bits. `modPow` would branch on the sign
 * and hand OpenSSL a minimal-length exponent, leaking the sign and the bit length; here the
 * exponent is shifted to exp + 3·2^bits, which always has exactly bits + 2 bits, and the shift
 * is undone by multiplying with base^(−3·2^bits), a value that depends only on public data.
 * The base must be a unit mod m.
 */
export function modPowSecret(base: bigint, exp: bigint, m: bigint, bits: number): bigint {
  const offset = 3n << BigInt(bits);
  const shifted = exp + offset;
  if (shifted < 1n << BigInt(bits + 1) || shifted >= 1n << BigInt(bits + 2)) {
    // Outside the width the caller promised: only a witness that is not a witness gets here
    // (its proof will be refused), so there is no secret whose timing matters.
    return modPow(base, exp, m);
  }
  const key = `${m.toString(36)}:${base.toString(36)}:${bits}`;
  let correction = corrections.get(key);
  if (correction === undefined) {
    correction = modPow(base, -offset, m);
    if (corrections.size >= MAX_CORRECTIONS) corrections.delete(corrections.keys().next().value!);
    corrections.set(key, correction);
  }
  return (modPow(base, shifted, m) * correction) % m;
}

/** The width to pass to `modPowSecret` for a value drawn from [−bound, bound]. */
export function widthOf(bound: bigint): number {
  return bitLength(bound) + 1;
}

/** Π bases[i]^exps[i] mod m (one exponentiation each; kept as one call for readability). */
export function modPowProduct(bases: bigint[], exps: bigint[], m: bigint): bigint {
  let acc = 1n;
  for (let i = 0; i < bases.length; i++) acc = (acc * modPow(bases[i]!, exps[i]!, m)) % m;
  return acc;
}

/** Combines residues a mod p and b mod q (p, q coprime) with precomputed qInvModP = q^-1 mod p. */
export function crt(a: bigint, p: bigint, b: bigint, q: bigint, qInvModP: bigint): bigint {
  const h = mod((a - b) * qInvModP, p);
  return b + h * q;
}

/** Whether x is in the symmetric interval [-bound, bound]. */
export function inSymmetricRange(x: bigint, bound: bigint): boolean {
  return x >= -bound && x <= bound;
}

/** Whether x is a unit of Z_n given as a residue: 0 < x < n and gcd(x, n) = 1. */
export function isUnit(x: bigint, n: bigint): boolean {
  return x > 0n && x < n && gcd(x, n) === 1n;
}
