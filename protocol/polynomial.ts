/**
 * Shamir sharing with Feldman commitments over a group's scalar field, and the Lagrange
 * coefficients that turn t Shamir shares into additive shares of the secret.
 */
import type { Element, Group } from './group.js';
import type { Rng } from './random.js';
import { ProtocolError } from './errors.js';

/** Coefficients a_0..a_{t-1}: a random polynomial of degree t-1 with a chosen constant term. */
export function randomPolynomial(
  group: Group,
  constant: bigint,
  threshold: number,
  rng: Rng,
): bigint[] {
  const coefficients = [group.mod(constant)];
  for (let k = 1; k < threshold; k++) coefficients.push(group.randomScalar(rng));
  return coefficients;
}

/** f(x) by Horner's rule. */
export function evaluatePolynomial(group: Group, coefficients: bigint[], x: bigint): bigint {
  let acc = 0n;
  for (let k = coefficients.length - 1; k >= 0; k--) acc = group.mod(acc * x + coefficients[k]!);
  return acc;
}

/** Feldman commitments a_k·G; the coefficients are secret, so multiplication is constant-time. */
export function commitPolynomial(group: Group, coefficients: bigint[]): Element[] {
  return coefficients.map((a) => (a === 0n ? group.identity : group.mulBase(a)));
}

/**
 * Σ_k x^k·C_k by Horner's rule on points: f(x)·G without knowing f. Party identifiers are small,
 * so each step is a cheap variable-time multiplication by a public scalar.
 */
export function evaluateCommitment(group: Group, commitments: Element[], x: bigint): Element {
  let acc = commitments[commitments.length - 1]!;
  for (let k = commitments.length - 2; k >= 0; k--) {
    acc = acc.multiplyUnsafe(group.mod(x)).add(commitments[k]!);
  }
  return acc;
}

/** Element-wise sum of several parties' commitment vectors (all of the same length). */
export function sumCommitments(vectors: Element[][]): Element[] {
  const out = [...vectors[0]!];
  for (const v of vectors.slice(1))
    for (let k = 0; k < out.length; k++) out[k] = out[k]!.add(v[k]!);
  return out;
}

/**
 * λ_i for the signing set `ids`, interpolating at zero: Π_{j≠i} x_j / (x_j − x_i).
 * Identifiers must be distinct and non-zero; anything else is a caller bug, refused loudly.
 */
export function lagrangeCoefficient(group: Group, ids: readonly bigint[], i: bigint): bigint {
  let numerator = 1n;
  let denominator = 1n;
  let found = false;
  for (const j of ids) {
    if (j === i) {
      if (found)
        throw new ProtocolError('INVALID_PARAMETERS', 'duplicate identifier in signer set');
      found = true;
      continue;
    }
    numerator = group.mod(numerator * j);
    denominator = group.mod(denominator * (j - i));
  }
  if (!found) throw new ProtocolError('INVALID_PARAMETERS', 'identifier not in signer set');
  if (denominator === 0n) throw new ProtocolError('INVALID_PARAMETERS', 'identifiers not distinct');
  return group.mod(numerator * group.inv(denominator));
}
