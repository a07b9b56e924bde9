/**
 * Schnorr proof of knowledge of a discrete logarithm, made non-interactive by Fiat-Shamir with
 * the challenge bound to the session context and the prover's id. In the DKG it proves that each
 * party knows the constant term of its polynomial, which stops a rogue-key attack (a party
 * choosing its commitment as a function of the others' to control the joint key), and the
 * binding to session and prover stops a proof being replayed from another session or party.
 */
import { u16 } from './bytes.js';
import type { PartyId } from './errors.js';
import type { Element, Group } from './group.js';
import type { Rng } from './random.js';

export interface SchnorrProof {
  readonly R: Element;
  readonly z: bigint;
}

function challenge(group: Group, context: Uint8Array, prover: PartyId, X: Element, R: Element) {
  return group.hashToScalar(
    'mpc-kms/pok/v1',
    context,
    u16(prover),
    group.encodeElement(X),
    group.encodeElement(R),
  );
}

/** Proves knowledge of x with X = x·G. */
export function proveKnowledge(
  group: Group,
  context: Uint8Array,
  prover: PartyId,
  x: bigint,
  X: Element,
  rng: Rng,
): SchnorrProof {
  const k = group.randomScalar(rng);
  const R = group.mulBase(k);
  const c = challenge(group, context, prover, X, R);
  return { R, z: group.mod(k + c * x) };
}

/** Checks z·G = R + c·X, in variable time (everything here is public). */
export function verifyKnowledge(
  group: Group,
  context: Uint8Array,
  prover: PartyId,
  X: Element,
  proof: SchnorrProof,
): boolean {
  const c = challenge(group, context, prover, X, proof.R);
  return group.msm([group.base, X], [proof.z, group.order - c]).equals(proof.R);
}
