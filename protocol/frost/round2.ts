/**
 * FROST round two (RFC 9591 Sections 4.3-4.6 and 5.2): binding factors, the group commitment,
 * the challenge and each signer's share z_i = d_i + e_i·ρ_i + λ_i·s_i·c.
 */
import { concat } from '../bytes.js';
import { ProtocolError } from '../errors.js';
import type { Element } from '../group.js';
import { lagrangeCoefficient } from '../polynomial.js';
import type { NonceCommitment, SigningNonces } from './round1.js';
import { hasEvenY, type FrostSuite } from './suite.js';

/** What every signer and the aggregator must agree on for one signature. */
export interface SigningPackage {
  readonly message: Uint8Array;
  /** One commitment per signer, sorted by identifier, identifiers distinct. */
  readonly commitments: readonly NonceCommitment[];
}

/** Sorts and checks a commitment list: distinct, non-zero identifiers below the order. */
export function signingPackage(
  suite: FrostSuite,
  message: Uint8Array,
  commitments: readonly NonceCommitment[],
): SigningPackage {
  const sorted = [...commitments].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (let i = 0; i < sorted.length; i++) {
    const id = sorted[i]!.id;
    if (id <= 0n || id >= suite.group.order) {
      throw new ProtocolError('INVALID_PARAMETERS', `identifier ${id} out of range`);
    }
    if (i > 0 && sorted[i - 1]!.id === id) {
      throw new ProtocolError('INVALID_PARAMETERS', `identifier ${id} appears twice`);
    }
  }
  return { message, commitments: sorted };
}

/** RFC 9591 Section 4.3 encode_group_commitment_list. */
export function encodeCommitmentList(suite: FrostSuite, list: readonly NonceCommitment[]) {
  const { group } = suite;
  return concat(
    ...list.flatMap((c) => [
      group.encodeScalar(c.id),
      suite.encodeElement(c.hiding),
      suite.encodeElement(c.binding),
    ]),
  );
}

/** RFC 9591 Section 4.4: the input of H1 for each signer, in commitment-list order. */
export function bindingFactorInputs(
  suite: FrostSuite,
  groupKey: Element,
  pkg: SigningPackage,
): Uint8Array[] {
  const prefix = concat(
    suite.encodeElement(groupKey),
    suite.H4(pkg.message),
    suite.H5(encodeCommitmentList(suite, pkg.commitments)),
  );
  return pkg.commitments.map((c) => concat(prefix, suite.group.encodeScalar(c.id)));
}

/** Binding factors ρ_i, in commitment-list order. */
export function bindingFactors(
  suite: FrostSuite,
  groupKey: Element,
  pkg: SigningPackage,
): bigint[] {
  return bindingFactorInputs(suite, groupKey, pkg).map((input) => suite.H1(input));
}

/**
 * RFC 9591 Section 4.5: R = Σ D_i + ρ_i·E_i. The hiding commitments are only added; the binding
 * ones go through one multi-scalar multiplication, which shares its doublings across signers.
 */
export function groupCommitment(
  suite: FrostSuite,
  pkg: SigningPackage,
  rhos: readonly bigint[],
): Element {
  let hiding = suite.group.identity;
  for (const c of pkg.commitments) hiding = hiding.add(c.hiding);
  const binding = suite.group.msm(
    pkg.commitments.map((c) => c.binding),
    [...rhos],
  );
  return hiding.add(binding);
}

/** The values every participant derives from a signing package. */
export interface SigningContext {
  readonly ids: bigint[];
  readonly rhos: bigint[];
  /** The group commitment as computed, before any even-y adjustment. */
  readonly R: Element;
  /** −1 when BIP340 requires the nonces to be negated (R has odd y), else 1. */
  readonly nonceSign: 1n | -1n;
  readonly challenge: bigint;
}

export function signingContext(
  suite: FrostSuite,
  groupKey: Element,
  pkg: SigningPackage,
): SigningContext {
  const rhos = bindingFactors(suite, groupKey, pkg);
  const R = groupCommitment(suite, pkg, rhos);
  if (R.is0()) throw new ProtocolError('INVALID_PARAMETERS', 'group commitment is the identity');
  const nonceSign = suite.evenY && !hasEvenY(R) ? -1n : 1n;
  const effectiveR = nonceSign === 1n ? R : R.negate();
  return {
    ids: pkg.commitments.map((c) => c.id),
    rhos,
    R,
    nonceSign,
    challenge: suite.challenge(effectiveR, groupKey, pkg.message),
  };
}

/** The key material a signer signs with: already tweaked and, for BIP340, even-y normalised. */
export interface SignerKey {
  readonly id: bigint;
  readonly secretShare: bigint;
  readonly groupKey: Element;
}

/**
 * RFC 9591 Section 5.2 sign. The signer's own commitment must be in the package exactly as it
 * made it: otherwise a coordinator could make it sign with a commitment it never chose.
 */
export function sign(
  suite: FrostSuite,
  nonces: SigningNonces,
  key: SignerKey,
  pkg: SigningPackage,
  ctx: SigningContext = signingContext(suite, key.groupKey, pkg),
): bigint {
  const { group } = suite;
  const index = ctx.ids.indexOf(key.id);
  const own = pkg.commitments[index];
  if (
    !own ||
    !own.hiding.equals(nonces.commitment.hiding) ||
    !own.binding.equals(nonces.commitment.binding)
  ) {
    throw new ProtocolError('INVALID_PARAMETERS', "signing package lacks this signer's commitment");
  }
  const { hiding, binding } = nonces.consume();
  const lambda = lagrangeCoefficient(group, ctx.ids, key.id);
  const d = ctx.nonceSign * hiding;
  const e = ctx.nonceSign * binding;
  return group.mod(d + e * ctx.rhos[index]! + lambda * key.secretShare * ctx.challenge);
}
