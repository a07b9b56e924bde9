/** ECDSA signature values and encodings: low-s normalisation, recovery id, DER. */
import { concat } from '../bytes.js';
import { secp256k1Group, type Element } from '../group.js';
import { toBytes } from '../bignum/arith.js';

const group = secp256k1Group;
const HALF_ORDER = group.order >> 1n;

export interface EcdsaSignature {
  readonly r: bigint;
  /** Always low-s (s ≤ q/2), as Bitcoin and Ethereum require. */
  readonly s: bigint;
  /** 0 or 1: the parity of R's y coordinate after low-s normalisation (2 or 3 if x(R) ≥ q). */
  readonly recoveryId: number;
  /** r ‖ s, 64 bytes. */
  readonly compact: Uint8Array;
  readonly der: Uint8Array;
}

/** The digest as an integer mod q (the digest is 32 bytes, the order's size). */
export function digestToScalar(digest: Uint8Array): bigint {
  return group.mod(BigInt('0x' + Buffer.from(digest).toString('hex')));
}

/** x(R) mod q, and whether x(R) itself was at least q (then the recovery id carries 2). */
export function rOf(R: Element): { r: bigint; overflow: boolean } {
  const x = BigInt('0x' + Buffer.from(R.toBytes().subarray(1)).toString('hex'));
  return { r: group.mod(x), overflow: x >= group.order };
}

/** Checks (r, s) for digest m under public key X, in variable time (all public). */
export function verifyEcdsa(X: Element, m: bigint, r: bigint, s: bigint): boolean {
  if (r <= 0n || r >= group.order || s <= 0n || s >= group.order) return false;
  const w = group.inv(s);
  const P = group.msm([group.base, X], [group.mod(m * w), group.mod(r * w)]);
  return !P.is0() && rOf(P).r === r;
}

function derInteger(x: bigint): Uint8Array {
  let bytes: Uint8Array = Uint8Array.from(toBytes(x));
  if (bytes.length === 0 || bytes[0]! & 0x80) bytes = concat(Uint8Array.of(0), bytes);
  return concat(Uint8Array.of(0x02, bytes.length), bytes);
}

/** Normalises to low s and derives the recovery id from R. */
export function finishSignature(
  R: Element,
  r: bigint,
  s: bigint,
  overflow: boolean,
): EcdsaSignature {
  let parity = R.toBytes()[0] === 0x03 ? 1 : 0;
  if (s > HALF_ORDER) {
    s = group.order - s;
    parity ^= 1;
  }
  const body = concat(derInteger(r), derInteger(s));
  return {
    r,
    s,
    recoveryId: parity | (overflow ? 2 : 0),
    compact: concat(Uint8Array.from(toBytes(r, 32)), Uint8Array.from(toBytes(s, 32))),
    der: concat(Uint8Array.of(0x30, body.length), body),
  };
}
