/**
 * FROST round one (RFC 9591 Section 5.1): each signer draws a hiding and a binding nonce and
 * publishes their commitments. The nonces are held in a `SigningNonces` object that signs once.
 */
import { inspect } from 'node:util';
import { concat } from '../bytes.js';
import { ProtocolError } from '../errors.js';
import type { Element } from '../group.js';
import type { Rng } from '../random.js';
import { SecretScalar } from '../secret.js';
import type { FrostSuite } from './suite.js';

/** A signer's public commitment pair (D_i, E_i) = (d_i·G, e_i·G). */
export interface NonceCommitment {
  readonly id: bigint;
  readonly hiding: Element;
  readonly binding: Element;
}

/**
 * RFC 9591 Section 4.1 nonce_generate: H3(random_bytes || SerializeScalar(secret)). Mixing in the
 * secret share keeps nonces unpredictable even when the random source is weak.
 */
export function nonceGenerate(suite: FrostSuite, secret: bigint, randomness: Uint8Array): bigint {
  if (randomness.length !== 32) {
    throw new ProtocolError('INVALID_PARAMETERS', 'nonce randomness must be 32 bytes');
  }
  return suite.H3(concat(randomness, suite.group.encodeScalar(secret)));
}

/**
 * A nonce pair usable for exactly one signature share. `consume` hands the scalars out once and
 * wipes them; a second call is refused, because two shares under one nonce reveal the key share.
 */
export class SigningNonces {
  readonly commitment: NonceCommitment;
  readonly #hiding: SecretScalar;
  readonly #binding: SecretScalar;
  #used = false;

  constructor(suite: FrostSuite, id: bigint, hiding: bigint, binding: bigint) {
    if (hiding === 0n || binding === 0n) {
      throw new ProtocolError('INVALID_PARAMETERS', 'a signing nonce is zero');
    }
    const { group } = suite;
    this.#hiding = new SecretScalar(group, hiding);
    this.#binding = new SecretScalar(group, binding);
    this.commitment = { id, hiding: group.mulBase(hiding), binding: group.mulBase(binding) };
  }

  get used(): boolean {
    return this.#used;
  }

  consume(): { hiding: bigint; binding: bigint } {
    if (this.#used) throw new ProtocolError('NONCE_REUSE', 'signing nonces already used');
    this.#used = true;
    const out = { hiding: this.#hiding.reveal(), binding: this.#binding.reveal() };
    this.#hiding.dispose();
    this.#binding.dispose();
    return out;
  }

  /** Discards the nonces without signing (an aborted session). */
  dispose(): void {
    this.#used = true;
    this.#hiding.dispose();
    this.#binding.dispose();
  }

  toJSON(): string {
    return '[SigningNonces redacted]';
  }

  [inspect.custom](): string {
    return `SigningNonces { id: ${this.commitment.id}, used: ${this.#used} }`;
  }
}

/**
 * RFC 9591 commit(sk_i) with the 32-byte randomness for each nonce given explicitly; `commit`
 * draws it from the injected source. Test vectors call this directly.
 */
export function commitWithRandomness(
  suite: FrostSuite,
  id: bigint,
  secretShare: bigint,
  hidingRandomness: Uint8Array,
  bindingRandomness: Uint8Array,
): SigningNonces {
  const hiding = nonceGenerate(suite, secretShare, hidingRandomness);
  const binding = nonceGenerate(suite, secretShare, bindingRandomness);
  return new SigningNonces(suite, id, hiding, binding);
}

export function commit(
  suite: FrostSuite,
  id: bigint,
  secretShare: bigint,
  rng: Rng,
): SigningNonces {
  return commitWithRandomness(suite, id, secretShare, rng(32), rng(32));
}
