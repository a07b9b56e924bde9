/**
 * Non-hardened (public) child-key derivation, so one threshold key can serve many addresses
 * without a new DKG. Only public data goes in: the group key and the chain code. Each step
 * yields an additive tweak t with child = parent + t·G, so signers holding Shamir shares x_i of
 * the parent secret x sign for the child by using x_i + t (t is public and the shares of x + t
 * are then x_i + t, since Lagrange coefficients sum to one). Hardened derivation needs the
 * secret itself and is deliberately not offered.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { bytesToBigBE } from './group.js';
import type { Element, Group } from './group.js';
import { concat, u32, utf8 } from './bytes.js';
import { ProtocolError, check } from './errors.js';

/** Result of deriving along a path: child key, child chain code, and the total additive tweak t such that child = parent + t·G. */
export interface Derivation {
  readonly path: readonly number[];
  readonly publicKey: Element;
  readonly chainCode: Uint8Array;
  readonly tweak: bigint;
}

/** First hardened index in BIP32; everything at or above it is refused here. */
const HARDENED = 0x80000000;
/** BIP32 serialises depth in one byte, so no path is deeper than 255 levels. */
const MAX_DEPTH = 255;
const ED25519_TAG = utf8('mpc-kms/ed25519/derive/v1');

function fail(message: string): never {
  throw new ProtocolError('INVALID_PARAMETERS', message);
}

function checkIndex(index: number): void {
  check(
    Number.isInteger(index) && index >= 0 && index < HARDENED,
    'INVALID_PARAMETERS',
    `derivation index ${String(index)} is not an integer in [0, 2^31): only non-hardened derivation is supported`,
  );
}

/**
 * Parses a non-hardened BIP32 path such as `"m"`, `"m/0/7"` or `"m/2147483647"` into indices.
 * Refuses hardened segments (`0'`, `0h`), indices of 2^31 or more, leading zeros (`01`, so each
 * path has one spelling), empty segments, more than 255 levels, and anything else, with
 * `ProtocolError('INVALID_PARAMETERS')`.
 */
export function parsePath(path: string): number[] {
  const segments = path.split('/');
  if (segments[0] !== 'm') fail(`derivation path ${JSON.stringify(path)} must start with "m"`);
  const rest = segments.slice(1);
  if (rest.length > MAX_DEPTH)
    fail(`derivation path has ${rest.length} levels; at most ${MAX_DEPTH}`);
  return rest.map((seg, i) => {
    const where = `segment ${i + 1} (${JSON.stringify(seg)}) of derivation path ${JSON.stringify(path)}`;
    if (seg === '') fail(`${where} is empty`);
    if (/^\d+['hH]$/.test(seg))
      fail(`${where} is hardened; only non-hardened derivation is supported`);
    if (/^0\d+$/.test(seg)) fail(`${where} has a leading zero`);
    if (!/^(0|[1-9]\d*)$/.test(seg)) fail(`${where} is not a decimal index`);
    const index = Number(seg);
    if (index >= HARDENED)
      fail(`${where} is 2^31 or more; only non-hardened indices are supported`);
    return index;
  });
}

/**
 * One derivation step. On secp256k1 this is exactly BIP32 CKDpub: I = HMAC-SHA512(c, serP(K) ||
 * ser32(i)), IL = parse256(I[0..32]), child K + IL·G, child chain code I[32..64]. BIP32 says to
 * skip to the next index when IL ≥ n or the child is the point at infinity (probability ~2^-127);
 * we refuse with INVALID_PARAMETERS instead, so a path always names the key it appears to name.
 *
 * On ed25519 (no standard for additive non-hardened derivation exists; SLIP-0010 is hardened
 * only) we use the same shape, domain-separated:
 * I = HMAC-SHA512(key = c, data = utf8("mpc-kms/ed25519/derive/v1") || A || ser32(i)), where A is
 * the 32-byte point encoding and ser32 is big-endian; IL = I[0..32] as a little-endian integer
 * mod L (the group order); refused if IL = 0 or the child is the identity; child A' = A + IL·B;
 * chain code I[32..64]. A' is a valid Ed25519 public key whose secret scalar is s + IL mod L
 * for the parent's scalar s. That scalar is not the clamped hash of any seed, so child keys can
 * only be used by signers that hold scalars (as FROST does), not via RFC 8032 seed signing.
 */
export function deriveChild(
  group: Group,
  publicKey: Element,
  chainCode: Uint8Array,
  index: number,
): { publicKey: Element; chainCode: Uint8Array; tweak: bigint } {
  check(
    chainCode instanceof Uint8Array && chainCode.length === 32,
    'INVALID_PARAMETERS',
    `chain code must be 32 bytes, got ${chainCode?.length}`,
  );
  checkIndex(index);
  check(!publicKey.is0(), 'INVALID_PARAMETERS', 'cannot derive from the identity element');
  const secp = group.name === 'secp256k1';
  const data = secp
    ? concat(group.encodeElement(publicKey), u32(index))
    : concat(ED25519_TAG, group.encodeElement(publicKey), u32(index));
  const I = hmac(sha512, chainCode, data);
  const IR = I.slice(32, 64);
  let il: bigint;
  if (secp) {
    il = bytesToBigBE(I.subarray(0, 32));
    check(
      il < group.order,
      'INVALID_PARAMETERS',
      `index ${index} gives IL >= n (BIP32: use the next index)`,
    );
  } else {
    il = group.mod(bytesToBigBE(I.slice(0, 32).reverse()));
    check(il !== 0n, 'INVALID_PARAMETERS', `index ${index} gives a zero tweak; use another index`);
  }
  // IL is public (anyone with the parent public key and chain code computes it), so the
  // variable-time multiplication leaks nothing.
  const child = publicKey.add(group.base.multiplyUnsafe(il));
  check(
    !child.is0(),
    'INVALID_PARAMETERS',
    `index ${index} gives the identity (BIP32: use the next index)`,
  );
  return { publicKey: child, chainCode: IR, tweak: il };
}

/**
 * Derives along a path (a string for {@link parsePath} or the indices themselves), returning the
 * child key, its chain code and the total tweak t = Σ IL mod order, so child = parent + t·G.
 * The empty path `"m"` returns the parent with tweak 0.
 */
export function derivePath(
  group: Group,
  publicKey: Element,
  chainCode: Uint8Array,
  path: string | readonly number[],
): Derivation {
  const indices = typeof path === 'string' ? parsePath(path) : [...path];
  check(
    indices.length <= MAX_DEPTH,
    'INVALID_PARAMETERS',
    `derivation path has ${indices.length} levels; at most ${MAX_DEPTH}`,
  );
  indices.forEach(checkIndex);
  check(
    chainCode instanceof Uint8Array && chainCode.length === 32,
    'INVALID_PARAMETERS',
    `chain code must be 32 bytes, got ${chainCode?.length}`,
  );
  let key = publicKey;
  let cc: Uint8Array = Uint8Array.from(chainCode);
  let tweak = 0n;
  for (const index of indices) {
    const step = deriveChild(group, key, cc, index);
    key = step.publicKey;
    cc = step.chainCode;
    tweak = group.mod(tweak + step.tweak);
  }
  return Object.freeze({ path: Object.freeze(indices), publicKey: key, chainCode: cc, tweak });
}
