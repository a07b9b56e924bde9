/**
 * Presigning messages (CGGMP21 Fig. 8). Broadcast values are echoed in the next round so that no
 * party can show different K_i, G_i or Γ_i to different peers. Ciphertexts are decoded with size
 * bounds here and checked against the right modulus in the rounds; proofs travel as blobs parsed
 * once their statement is known.
 */
import type { Reader, Writer } from '../../codec.js';
import type { BodyCodec } from '../../envelope.js';
import type { Element } from '../../group.js';
import { secp256k1Group } from '../../group.js';
import { MAX_MODULUS_BITS, MAX_PROOF_BYTES } from '../aux-messages.js';

/** A ciphertext lives below N² for N of at most MAX_MODULUS_BITS bits. */
const MAX_CIPHERTEXT_BITS = 2 * MAX_MODULUS_BITS;
const group = secp256k1Group;

/** Round 1, broadcast: K_i = enc_i(k_i), G_i = enc_i(γ_i). */
export interface CiphertextsMessage {
  readonly kind: 'ciphertexts';
  readonly K: bigint;
  readonly G: bigint;
}

/** Round 1, to each peer j: Πenc that K_i encrypts a value in range, under j's parameters. */
export interface EncProofMessage {
  readonly kind: 'enc';
  readonly proof: Uint8Array;
}

/** Round 2, broadcast: Γ_i = γ_i·G and the echo of every round-1 broadcast. */
export interface GammaMessage {
  readonly kind: 'gamma';
  readonly Gamma: Element;
  readonly digests: readonly Uint8Array[];
}

/** Round 2, to each peer j: the two affine operations on K_j and their proofs. */
export interface MtaMessage {
  readonly kind: 'mta';
  /** D_{j,i} = γ_i ⊙ K_j ⊕ enc_j(β_{i,j}); F_{j,i} = enc_i(β_{i,j}). */
  readonly D: bigint;
  readonly F: bigint;
  /** The same with x_i in place of γ_i. */
  readonly DHat: bigint;
  readonly FHat: bigint;
  /** Πaff-g for (D, F, Γ_i), Πaff-g for (D̂, F̂, X_i), Πlog* for (G_i, Γ_i). */
  readonly affG: Uint8Array;
  readonly affGHat: Uint8Array;
  readonly logStar: Uint8Array;
}

/** Round 3, broadcast: δ_i, Δ_i = k_i·Γ, S_i = χ_i·Γ and the echo of every Γ_j. */
export interface DeltaMessage {
  readonly kind: 'delta';
  readonly delta: bigint;
  readonly Delta: Element;
  readonly S: Element;
  readonly digests: readonly Uint8Array[];
}

/** Round 3, to each peer j: Πlog* that Δ_i = k_i·Γ for the k_i inside K_i. */
export interface DeltaProofMessage {
  readonly kind: 'delta-proof';
  readonly proof: Uint8Array;
}

export type PresignMessage =
  | CiphertextsMessage
  | EncProofMessage
  | GammaMessage
  | MtaMessage
  | DeltaMessage
  | DeltaProofMessage;

function writeDigests(w: Writer, digests: readonly Uint8Array[]) {
  w.u16(digests.length);
  for (const d of digests) w.fixed(d);
}

function readDigests(r: Reader, expected: number): Uint8Array[] {
  const count = r.u16('digests');
  if (count !== expected) r.fail(`echo carries ${count} digests, expected ${expected}`);
  return Array.from({ length: count }, () => Uint8Array.from(r.fixed(32, 'digest')));
}

export function presignCodec(signers: number): BodyCodec<PresignMessage> {
  return {
    protocol: 'presign',
    kinds: { ciphertexts: 1, enc: 2, gamma: 3, mta: 4, delta: 5, 'delta-proof': 6 },
    encode(m: PresignMessage, w: Writer) {
      switch (m.kind) {
        case 'ciphertexts':
          w.int(m.K).int(m.G);
          return;
        case 'enc':
        case 'delta-proof':
          w.bytes(m.proof);
          return;
        case 'gamma':
          w.element(group, m.Gamma);
          writeDigests(w, m.digests);
          return;
        case 'mta':
          w.int(m.D).int(m.F).int(m.DHat).int(m.FHat);
          w.bytes(m.affG).bytes(m.affGHat).bytes(m.logStar);
          return;
        case 'delta':
          w.scalar(group, m.delta).element(group, m.Delta).element(group, m.S);
          writeDigests(w, m.digests);
          return;
      }
    },
    decode(kind, r: Reader): PresignMessage {
      const int = (what: string) => r.int(MAX_CIPHERTEXT_BITS, what);
      const blob = (what: string) => Uint8Array.from(r.bytes(MAX_PROOF_BYTES, what));
      switch (kind) {
        case 'ciphertexts':
          return { kind, K: int('K'), G: int('G') };
        case 'enc':
          return { kind, proof: blob('proof') };
        case 'delta-proof':
          return { kind, proof: blob('proof') };
        case 'gamma':
          return { kind, Gamma: r.element(group, 'Gamma'), digests: readDigests(r, signers) };
        case 'mta':
          return {
            kind,
            D: int('D'),
            F: int('F'),
            DHat: int('DHat'),
            FHat: int('FHat'),
            affG: blob('affG'),
            affGHat: blob('affGHat'),
            logStar: blob('logStar'),
          };
        case 'delta':
          return {
            kind,
            delta: r.scalar(group, 'delta'),
            Delta: r.element(group, 'Delta'),
            S: r.element(group, 'S'),
            digests: readDigests(r, signers),
          };
      }
    },
  };
}
