/**
 * FROST aggregation (RFC 9591 Sections 5.3 and 5.4). The aggregator sums the shares and checks
 * the result as a signature; only when that check fails does it verify each share to find the
 * culprits. A wrong share therefore never yields a published signature, and the common path
 * costs one verification instead of t.
 */
import { ProtocolError } from '../errors.js';
import type { Element } from '../group.js';
import { lagrangeCoefficient } from '../polynomial.js';
import { signingContext, type SigningContext, type SigningPackage } from './round2.js';
import type { FrostSuite } from './suite.js';

/** The public side of a key as a signing session sees it (tweaked and normalised like shares). */
export interface GroupPublic {
  readonly groupKey: Element;
  /** Y_i = s_i·G for every participant. */
  readonly verificationShares: ReadonlyMap<bigint, Element>;
}

/** RFC 9591 Section 5.4 verify_signature_share: z_i·G = R_i + (c·λ_i)·Y_i. */
export function verifySignatureShare(
  suite: FrostSuite,
  pub: GroupPublic,
  pkg: SigningPackage,
  ctx: SigningContext,
  id: bigint,
  share: bigint,
): boolean {
  const { group } = suite;
  const index = ctx.ids.indexOf(id);
  const Y = pub.verificationShares.get(id);
  if (index < 0 || !Y) return false;
  const c = pkg.commitments[index]!;
  let Ri = c.hiding.add(c.binding.multiplyUnsafe(ctx.rhos[index]!));
  if (ctx.nonceSign === -1n) Ri = Ri.negate();
  const lambda = lagrangeCoefficient(group, ctx.ids, id);
  const lhs = group.base.multiplyUnsafe(share);
  const rhs = Ri.add(Y.multiplyUnsafe(group.mod(ctx.challenge * lambda)));
  return lhs.equals(rhs);
}

/** Checks a finished signature (R, z) against the group key: z·G = R + c·PK. */
function verifiesAsSignature(
  suite: FrostSuite,
  pub: GroupPublic,
  R: Element,
  ctx: SigningContext,
  z: bigint,
) {
  const { group } = suite;
  const lhs = group.base.multiplyUnsafe(z);
  return lhs.equals(R.add(pub.groupKey.multiplyUnsafe(ctx.challenge)));
}

/**
 * RFC 9591 Section 5.3 aggregate without the check: (R, z = Σ z_i) in the suite's encoding.
 * Only for replaying vectors; a coordinator calls `aggregate`, which checks.
 */
export function combineShares(
  suite: FrostSuite,
  ctx: SigningContext,
  shares: ReadonlyMap<bigint, bigint>,
): { R: Element; z: bigint; signature: Uint8Array } {
  const missing = ctx.ids.filter((id) => !shares.has(id));
  if (missing.length > 0 || shares.size !== ctx.ids.length) {
    throw new ProtocolError('INVALID_PARAMETERS', 'shares do not match the signing package');
  }
  let z = 0n;
  for (const id of ctx.ids) z += shares.get(id)!;
  z = suite.group.mod(z);
  const R = ctx.nonceSign === 1n ? ctx.R : ctx.R.negate();
  return { R, z, signature: suite.encodeSignature(R, z) };
}

/**
 * Sums the signature shares of every signer in the package into the final signature bytes.
 * Throws INVALID_SIGNATURE_SHARE naming each signer whose share does not verify.
 */
export function aggregate(
  suite: FrostSuite,
  pub: GroupPublic,
  pkg: SigningPackage,
  shares: ReadonlyMap<bigint, bigint>,
  ctx: SigningContext = signingContext(suite, pub.groupKey, pkg),
): Uint8Array {
  const { R, z, signature } = combineShares(suite, ctx, shares);
  if (verifiesAsSignature(suite, pub, R, ctx, z)) return signature;
  const culprits = ctx.ids.filter(
    (id) => !verifySignatureShare(suite, pub, pkg, ctx, id, shares.get(id)!),
  );
  throw new ProtocolError(
    'INVALID_SIGNATURE_SHARE',
    `signature shares from ${culprits.join(', ') || 'an unknown signer'} do not verify`,
    culprits.map(Number),
  );
}
