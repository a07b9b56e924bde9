/**
 * A presignature (CGGMP21 Fig. 8 output): the point R = k⁻¹·G of one future signature, this
 * party's additive shares k_i of k and χ_i of k·x, and the public values that let the
 * coordinator check each signature share. It is bound to the key, epoch and signer set, and it
 * signs exactly once: two signatures from one presignature reveal the key.
 *
 * Rule for the enclave that holds presignatures: record a presignature as consumed durably
 * (sealed state) before releasing the signature share made from it, so that no crash or replay
 * can make it sign twice.
 */
import { inspect } from 'node:util';
import { ProtocolError, type PartyId } from '../errors.js';
import type { Element } from '../group.js';
import { secp256k1Group } from '../group.js';
import { SecretScalar } from '../secret.js';

/** What every signer and the coordinator may know about a presignature. */
export interface PresignaturePublic {
  /** The presigning session: the presignature's identity. */
  readonly id: Uint8Array;
  readonly keySessionId: Uint8Array;
  readonly epoch: number;
  readonly signers: readonly PartyId[];
  readonly R: Element;
  /** Γ = Σ Γ_j, and for each signer Δ_j = k_j·Γ and S_j = χ_j·Γ: σ_j·Γ = m·Δ_j + r·S_j. */
  readonly Gamma: Element;
  readonly Delta: ReadonlyMap<PartyId, Element>;
  readonly S: ReadonlyMap<PartyId, Element>;
}

export class Presignature {
  readonly public: PresignaturePublic;
  readonly self: PartyId;
  readonly #k: SecretScalar;
  readonly #chi: SecretScalar;
  #used = false;

  constructor(pub: PresignaturePublic, self: PartyId, k: bigint, chi: bigint) {
    this.public = pub;
    this.self = self;
    this.#k = new SecretScalar(secp256k1Group, k);
    this.#chi = new SecretScalar(secp256k1Group, chi);
  }

  get used(): boolean {
    return this.#used;
  }

  /** Hands out (k_i, χ_i) once and wipes them; a second call is refused. */
  consume(): { k: bigint; chi: bigint } {
    if (this.#used) throw new ProtocolError('NONCE_REUSE', 'presignature already used');
    this.#used = true;
    const out = { k: this.#k.reveal(), chi: this.#chi.reveal() };
    this.#k.dispose();
    this.#chi.dispose();
    return out;
  }

  toJSON(): string {
    return '[Presignature redacted]';
  }

  [inspect.custom](): string {
    return `Presignature { signers: [${this.public.signers.join(', ')}], used: ${this.#used} }`;
  }
}
