/**
 * The key as a FROST session signs with it: tweaked by an HD path (every share and verification
 * share moves by the same t·G, since the Lagrange coefficients sum to one) and, for BIP340,
 * negated when the resulting key has odd y so that the x-only key is the one signed for.
 *
 * A Taproot key-path spend signs for the output key Q = d·D + t·G, where D is the (derived) key,
 * d = ±1 makes its y even (BIP340's internal key) and t is the BIP341 tweak of x(D). With e = ±1
 * making Q's y even, each share becomes e·(d·(s_i + τ) + t) = e·d·(s_i + τ + d·t) for the path
 * tweak τ: still one sign and one additive tweak, so signers and aggregator need nothing new.
 */
import { derivePath } from '../derive.js';
import type { PartyId } from '../errors.js';
import { groupByName, type Element } from '../group.js';
import type { KeyPublic } from '../keyshare.js';
import { ProtocolError } from '../errors.js';
import { taprootTweak } from '../taproot.js';
import { hasEvenY, type FrostSuite } from './suite.js';

export interface SigningMaterial {
  readonly groupKey: Element;
  readonly verificationShares: ReadonlyMap<bigint, Element>;
  /** Added to every secret share before signing. */
  readonly tweak: bigint;
  /** −1 when every tweaked share must be negated (BIP340 odd-y key), else 1. */
  readonly sign: 1n | -1n;
}

// Keyed by the verification-share map: one per party and epoch, shared by a share and the
// public view taken of it, and replaced by every refresh.
const cache = new WeakMap<object, Map<string, SigningMaterial>>();
const CACHE_PATHS_PER_KEY = 64;

/**
 * Derives the signing material once per key, suite and path and keeps it: the group key gets a
 * precomputed multiplication table, which makes each later signature's final check cheap.
 */
export function signingMaterial(
  suite: FrostSuite,
  key: KeyPublic,
  path: readonly number[] = [],
  taproot = false,
): SigningMaterial {
  if (taproot && !suite.evenY) {
    throw new ProtocolError('INVALID_PARAMETERS', `${suite.id} keys have no Taproot tweak`);
  }
  const cacheKey = `${suite.id}:${path.join('/')}:${taproot ? 'taproot' : ''}`;
  let perKey = cache.get(key.verificationShares);
  const hit = perKey?.get(cacheKey);
  if (hit) return hit;

  const group = groupByName(key.group);
  let groupKey = key.publicKey;
  let tweak = 0n;
  let shift: Element | null = null;
  if (path.length > 0) {
    const d = derivePath(group, key.publicKey, key.chainCode, path);
    groupKey = d.publicKey;
    tweak = d.tweak;
    shift = group.base.multiplyUnsafe(tweak);
  }
  let sign: 1n | -1n = suite.evenY && !hasEvenY(groupKey) ? -1n : 1n;
  if (taproot) {
    // groupKey is D here; sign is d. The output key Q = d·D + t·G decides the final sign e.
    const d = sign;
    const internal = d === 1n ? groupKey : groupKey.negate();
    const t = taprootTweak(internal.toBytes().subarray(1));
    const output = internal.add(group.base.multiplyUnsafe(t));
    if (output.is0())
      throw new ProtocolError('INVALID_PARAMETERS', 'the Taproot output key is zero');
    const e: 1n | -1n = hasEvenY(output) ? 1n : -1n;
    tweak = group.mod(tweak + d * t);
    shift = group.base.multiplyUnsafe(tweak);
    groupKey = key.publicKey.add(shift);
    sign = (e * d) as 1n | -1n;
  }
  const adjust = (P: Element) => {
    const shifted = shift ? P.add(shift) : P;
    return sign === 1n ? shifted : shifted.negate();
  };
  const verificationShares = new Map<bigint, Element>();
  for (const [id, Y] of key.verificationShares as ReadonlyMap<PartyId, Element>) {
    verificationShares.set(BigInt(id), adjust(Y));
  }
  groupKey = sign === 1n ? groupKey : groupKey.negate();
  // A small table (window 4): cheap to build on first use, and it cuts the final check of each
  // signature by more than half.
  groupKey.precompute(4);
  const material: SigningMaterial = { groupKey, verificationShares, tweak, sign };

  if (!perKey) cache.set(key.verificationShares, (perKey = new Map()));
  if (perKey.size >= CACHE_PATHS_PER_KEY) perKey.delete(perKey.keys().next().value!);
  perKey.set(cacheKey, material);
  return material;
}
