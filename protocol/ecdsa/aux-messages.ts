/**
 * Messages of the auxiliary-info ceremony. Integers are decoded with size bounds here and
 * checked against their moduli in the rounds; proofs travel as length-prefixed blobs that the
 * round parses once it knows the statement (the moduli bound every field).
 */
import type { Reader, Writer } from '../codec.js';
import type { BodyCodec } from '../envelope.js';

/** Moduli above this are refused before any arithmetic is spent on them. */
export const MAX_MODULUS_BITS = 4096;
/** Bound on a serialised proof (Πmod and Πprm are about 40 KiB at 80 repetitions). */
export const MAX_PROOF_BYTES = 256 * 1024;

export interface AuxCommitMessage {
  readonly kind: 'commit';
  /** H(context, sender, N, s, t, u): binds the party to its parameters before it sees others'. */
  readonly commitment: Uint8Array;
}

export interface AuxRevealMessage {
  readonly kind: 'reveal';
  readonly N: bigint;
  readonly s: bigint;
  readonly t: bigint;
  /** The commitment's blinding value. */
  readonly u: Uint8Array;
  readonly modProof: Uint8Array;
  readonly prmProof: Uint8Array;
  /** Echo of every round-1 commitment as received, in party order. */
  readonly digests: readonly Uint8Array[];
}

export interface AuxFacMessage {
  readonly kind: 'fac';
  /** Πfac for the sender's modulus under the receiver's ring-Pedersen parameters. */
  readonly proof: Uint8Array;
}

export type AuxMessage = AuxCommitMessage | AuxRevealMessage | AuxFacMessage;

export function auxCodec(parties: number): BodyCodec<AuxMessage> {
  return {
    protocol: 'aux',
    kinds: { commit: 1, reveal: 2, fac: 3 },
    encode(m: AuxMessage, w: Writer) {
      switch (m.kind) {
        case 'commit':
          w.fixed(m.commitment);
          return;
        case 'reveal':
          w.int(m.N).int(m.s).int(m.t).fixed(m.u).bytes(m.modProof).bytes(m.prmProof);
          w.u16(m.digests.length);
          for (const d of m.digests) w.fixed(d);
          return;
        case 'fac':
          w.bytes(m.proof);
          return;
      }
    },
    decode(kind, r: Reader): AuxMessage {
      switch (kind) {
        case 'commit':
          return { kind, commitment: Uint8Array.from(r.fixed(32, 'commitment')) };
        case 'reveal': {
          const N = r.int(MAX_MODULUS_BITS, 'N');
          const s = r.int(MAX_MODULUS_BITS, 's');
          const t = r.int(MAX_MODULUS_BITS, 't');
          const u = Uint8Array.from(r.fixed(32, 'u'));
          const modProof = Uint8Array.from(r.bytes(MAX_PROOF_BYTES, 'modProof'));
          const prmProof = Uint8Array.from(r.bytes(MAX_PROOF_BYTES, 'prmProof'));
          const count = r.u16('digests');
          if (count !== parties) r.fail(`echo carries ${count} digests, expected ${parties}`);
          const digests: Uint8Array[] = [];
          for (let i = 0; i < count; i++) digests.push(Uint8Array.from(r.fixed(32, 'digest')));
          return { kind, N, s, t, u, modProof, prmProof, digests };
        }
        case 'fac':
          return { kind, proof: Uint8Array.from(r.bytes(MAX_PROOF_BYTES, 'proof')) };
      }
    },
  };
}
