/**
 * The prime-order groups the protocols run over, behind one interface so that Shamir sharing,
 * the DKG, refresh and FROST are written once. Arithmetic comes from `@noble/curves`; this file
 * only fixes encodings and the validation every decoded element and scalar must pass.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { _splitEndoScalar } from '@noble/curves/abstract/weierstrass.js';
import { framed } from './transcript.js';
import type { Rng } from './random.js';

export type GroupName = 'ed25519' | 'secp256k1';

/** The subset of a noble point that protocol code uses. */
export interface Element {
  add(other: Element): Element;
  subtract(other: Element): Element;
  negate(): Element;
  double(): Element;
  equals(other: Element): boolean;
  is0(): boolean;
  /** Constant-time multiplication: for secret scalars. */
  multiply(scalar: bigint): Element;
  /** Variable-time multiplication: for public scalars only. Accepts 0. */
  multiplyUnsafe(scalar: bigint): Element;
  toBytes(): Uint8Array;
  precompute(windowSize?: number, isLazy?: boolean): Element;
}

export interface Group {
  readonly name: GroupName;
  readonly order: bigint;
  readonly scalarLength: number;
  readonly elementLength: number;
  readonly base: Element;
  readonly identity: Element;
  /** Canonical scalar encoding (little-endian for ed25519, big-endian for secp256k1). */
  encodeScalar(k: bigint): Uint8Array;
  /** Returns null unless `bytes` is a canonical encoding of a scalar below the order. */
  decodeScalar(bytes: Uint8Array): bigint | null;
  encodeElement(p: Element): Uint8Array;
  /**
   * Returns null unless `bytes` is the canonical encoding of a point on the curve, in the
   * prime-order subgroup, other than the identity. Small-order and identity points are refused
   * because they would let a party contribute nothing to, or leak bits of, a joint value.
   */
  decodeElement(bytes: Uint8Array): Element | null;
  /** `a·G` for a possibly secret scalar, in constant time. */
  mulBase(a: bigint): Element;
  /** Σ scalars[i]·points[i] in variable time: public scalars only. */
  msm(points: Element[], scalars: bigint[]): Element;
  mod(a: bigint): bigint;
  inv(a: bigint): bigint;
  /** A uniformly random non-zero scalar from the injected source. */
  randomScalar(rng: Rng): bigint;
  /** A scalar from SHA-512 over a domain tag and length-prefixed parts (wide reduction). */
  hashToScalar(tag: string, ...parts: Uint8Array[]): bigint;
}

function mod(a: bigint, n: bigint): bigint {
  const r = a % n;
  return r < 0n ? r + n : r;
}

function bytesToBigBE(b: Uint8Array): bigint {
  let n = 0n;
  for (const byte of b) n = (n << 8n) | BigInt(byte);
  return n;
}

function bigToBytesBE(n: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** Width-w non-adjacent form, least significant digit first: digits are 0 or odd in (-2^(w-1), 2^(w-1)). */
function wnaf(k: bigint, w: number): Int8Array {
  const digits = new Int8Array(258);
  const full = 1n << BigInt(w);
  const half = full >> 1n;
  let i = 0;
  while (k > 0n) {
    if (k & 1n) {
      let d = k & (full - 1n);
      if (d >= half) d -= full;
      digits[i] = Number(d);
      k -= d;
    }
    k >>= 1n;
    i++;
  }
  return digits.subarray(0, i);
}

/**
 * Variable-time Σ k_i·P_i by Straus's method with interleaved wNAF: one chain of doublings
 * shared by every point, so t points cost little more than one multiplication. For public
 * scalars only (binding factors, challenges): its running time depends on them.
 */
function straus(identity: Element, points: Element[], scalars: bigint[]): Element {
  const w = 5;
  const nafs = scalars.map((k) => wnaf(k, w));
  // Odd multiples P, 3P, ..., (2^(w-1) - 1)P for each point.
  const tables = points.map((P) => {
    const table = [P];
    const twice = P.double();
    for (let j = 1; j < 1 << (w - 2); j++) table.push(table[j - 1]!.add(twice));
    return table;
  });
  let acc = identity;
  const top = Math.max(...nafs.map((n) => n.length));
  for (let bit = top - 1; bit >= 0; bit--) {
    acc = acc.double();
    for (let i = 0; i < nafs.length; i++) {
      const d = nafs[i]![bit] ?? 0;
      if (d > 0) acc = acc.add(tables[i]![(d - 1) >> 1]!);
      else if (d < 0) acc = acc.subtract(tables[i]![(-d - 1) >> 1]!);
    }
  }
  return acc;
}

/**
 * secp256k1's GLV endomorphism ψ(x, y) = (β·x, y) acts as multiplication by λ, a cube root of
 * unity mod n. Splitting k = k1 + k2·λ with |k1|, |k2| ≈ 2^128 halves the doubling chain of a
 * multi-scalar multiplication. β and the reduced lattice basis are the curve's published values.
 */
const SECP256K1_BETA = 0x7ae96a2b657c07106e64479eac3434e99cf0497512f58995c1396c28719501een;
const SECP256K1_BASIS: [[bigint, bigint], [bigint, bigint]] = [
  [0x3086d221a7d46bcde86c90e49284eb15n, -0xe4437ed6010e88286f547fa90abfe4c3n],
  [0x114ca50f7a8e2f3f657c1108d9d44cfd8n, 0x3086d221a7d46bcde86c90e49284eb15n],
];

function secp256k1Split(points: Element[], scalars: bigint[]): [Element[], bigint[]] {
  const Point = secp256k1.Point;
  const { p, n } = { p: Point.Fp.ORDER, n: Point.Fn.ORDER };
  const outPoints: Element[] = [];
  const outScalars: bigint[] = [];
  for (const [i, P] of points.entries()) {
    const { k1neg, k1, k2neg, k2 } = _splitEndoScalar(scalars[i]!, SECP256K1_BASIS, n);
    const q = P as unknown as { X: bigint; Y: bigint; Z: bigint };
    const psi = new Point((q.X * SECP256K1_BETA) % p, q.Y, q.Z) as unknown as Element;
    outPoints.push(k1neg ? P.negate() : P, k2neg ? psi.negate() : psi);
    outScalars.push(k1, k2);
  }
  return [outPoints, outScalars];
}

interface Spec {
  name: GroupName;
  order: bigint;
  elementLength: number;
  littleEndian: boolean;
  base: Element;
  identity: Element;
  fromBytes(bytes: Uint8Array): Element;
  /** Rewrites a multi-scalar product into an equivalent one with shorter scalars, if the curve can. */
  split?: (points: Element[], scalars: bigint[]) => [Element[], bigint[]];
  /** Whether a decoded point is in the prime-order subgroup. */
  torsionFree(p: Element): boolean;
  /** noble's point constructor, which its multi-scalar routine takes; typed loosely on purpose. */
  pointCons: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function makeGroup(spec: Spec): Group {
  const { order, littleEndian, elementLength } = spec;
  const encodeScalar = (k: bigint): Uint8Array => {
    const be = bigToBytesBE(mod(k, order), 32);
    return littleEndian ? be.reverse() : be;
  };
  const decodeScalar = (bytes: Uint8Array): bigint | null => {
    if (bytes.length !== 32) return null;
    const n = bytesToBigBE(littleEndian ? Uint8Array.from(bytes).reverse() : bytes);
    return n < order ? n : null;
  };
  const decodeElement = (bytes: Uint8Array): Element | null => {
    if (bytes.length !== elementLength) return null;
    let p: Element;
    try {
      p = spec.fromBytes(bytes);
    } catch {
      return null;
    }
    if (p.is0() || !spec.torsionFree(p)) return null;
    return p;
  };
  const group: Group = {
    name: spec.name,
    order,
    scalarLength: 32,
    elementLength,
    base: spec.base,
    identity: spec.identity,
    encodeScalar,
    decodeScalar,
    encodeElement: (p) => p.toBytes(),
    decodeElement,
    mulBase: (a) => spec.base.multiply(mod(a, order)),
    msm: (points, scalars) => {
      if (points.length === 1) return points[0]!.multiplyUnsafe(mod(scalars[0]!, order));
      const reduced = scalars.map((s) => mod(s, order));
      if (spec.split) return straus(spec.identity, ...spec.split(points, reduced));
      return straus(spec.identity, points, reduced);
    },
    mod: (a) => mod(a, order),
    inv: (a) => {
      // Callers never pass zero: identifiers and Lagrange denominators are differences of
      // distinct non-zero ids.
      return spec.pointCons.Fn.inv(mod(a, order)) as bigint;
    },
    randomScalar: (rng) => {
      // 64 bytes reduced mod the order: the bias is below 2^-250.
      for (;;) {
        const k = mod(bytesToBigBE(rng(64)), order);
        if (k !== 0n) return k;
      }
    },
    hashToScalar: (tag, ...parts) => mod(bytesToBigBE(sha512(framed(tag, parts))), order),
  };
  return Object.freeze(group);
}

export const ed25519Group: Group = makeGroup({
  name: 'ed25519',
  order: ed25519.Point.Fn.ORDER,
  elementLength: 32,
  littleEndian: true,
  base: ed25519.Point.BASE as unknown as Element,
  identity: ed25519.Point.ZERO as unknown as Element,
  // Strict RFC 8032 decoding: the y coordinate must be below p.
  fromBytes: (b) => ed25519.Point.fromBytes(b, false) as unknown as Element,
  torsionFree: (p) => (p as unknown as { isTorsionFree(): boolean }).isTorsionFree(),
  pointCons: ed25519.Point,
});

export const secp256k1Group: Group = makeGroup({
  name: 'secp256k1',
  order: secp256k1.Point.Fn.ORDER,
  elementLength: 33,
  littleEndian: false,
  base: secp256k1.Point.BASE as unknown as Element,
  identity: secp256k1.Point.ZERO as unknown as Element,
  fromBytes: (b) => {
    // Only the 33-byte compressed form: one encoding per point keeps transcripts unambiguous.
    if (b[0] !== 0x02 && b[0] !== 0x03) throw new Error('not compressed');
    return secp256k1.Point.fromBytes(b) as unknown as Element;
  },
  split: secp256k1Split,
  // secp256k1 has cofactor 1: every point on the curve is in the prime-order group.
  torsionFree: () => true,
  pointCons: secp256k1.Point,
});

export function groupByName(name: GroupName): Group {
  return name === 'ed25519' ? ed25519Group : secp256k1Group;
}

/** Big-endian bytes to bigint; exported for codecs that read raw integers. */
export { bytesToBigBE, bigToBytesBE };
