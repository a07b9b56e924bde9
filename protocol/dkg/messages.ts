/**
 * DKG and refresh messages and their codec. Round 1 is a broadcast of Feldman commitments (with,
 * in a DKG, a proof of knowledge of the constant term and a commitment to a chain-code
 * contribution); round 2 is an echo broadcast (with the chain-code opening) plus one private
 * share to each peer.
 */
import type { Reader, Writer } from '../codec.js';
import type { BodyCodec } from '../envelope.js';
import type { Element, Group } from '../group.js';
import type { SchnorrProof } from '../pok.js';
import type { DkgMode } from './params.js';

export interface CommitMessage {
  readonly kind: 'commit';
  /** DKG: C_0..C_{t-1}. Refresh: C_1..C_{t-1}, the constant term being zero by construction. */
  readonly commitments: readonly Element[];
  /** DKG only. */
  readonly proof: SchnorrProof | null;
  /** DKG only: H(context, id, chain-code contribution). */
  readonly chainCommitment: Uint8Array | null;
}

export interface EchoMessage {
  readonly kind: 'echo';
  /** The digest of each party's round-1 broadcast as this sender received it, in party order. */
  readonly digests: readonly Uint8Array[];
  /** DKG only: the chain-code contribution committed in round 1. */
  readonly chainCode: Uint8Array | null;
}

export interface ShareMessage {
  readonly kind: 'share';
  /** f_sender(receiver): secret, sent only over the pairwise encrypted channel. */
  readonly share: bigint;
}

export type DkgMessage = CommitMessage | EchoMessage | ShareMessage;

export function dkgCodec(
  group: Group,
  mode: DkgMode,
  threshold: number,
  parties: number,
): BodyCodec<DkgMessage> {
  const isDkg = mode === 'dkg';
  const commitmentCount = isDkg ? threshold : threshold - 1;
  return {
    protocol: mode,
    kinds: { commit: 1, echo: 2, share: 3 },
    encode(m: DkgMessage, w: Writer) {
      switch (m.kind) {
        case 'commit':
          w.elements(group, m.commitments);
          if (isDkg) {
            w.element(group, m.proof!.R).scalar(group, m.proof!.z).fixed(m.chainCommitment!);
          }
          return;
        case 'echo':
          w.u16(m.digests.length);
          for (const d of m.digests) w.fixed(d);
          if (isDkg) w.fixed(m.chainCode!);
          return;
        case 'share':
          w.scalar(group, m.share);
          return;
      }
    },
    decode(kind, r: Reader): DkgMessage {
      switch (kind) {
        case 'commit': {
          const commitments = r.elements(group, commitmentCount, 'commitments');
          if (!isDkg) return { kind, commitments, proof: null, chainCommitment: null };
          const R = r.element(group, 'proof.R');
          const z = r.scalar(group, 'proof.z');
          const chainCommitment = Uint8Array.from(r.fixed(32, 'chainCommitment'));
          return { kind, commitments, proof: { R, z }, chainCommitment };
        }
        case 'echo': {
          const count = r.u16('digests');
          if (count !== parties) r.fail(`echo carries ${count} digests, expected ${parties}`);
          const digests: Uint8Array[] = [];
          for (let i = 0; i < count; i++) digests.push(Uint8Array.from(r.fixed(32, 'digest')));
          const chainCode = isDkg ? Uint8Array.from(r.fixed(32, 'chainCode')) : null;
          return { kind, digests, chainCode };
        }
        case 'share':
          return { kind, share: r.scalar(group, 'share') };
      }
    },
  };
}
