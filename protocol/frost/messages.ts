/** FROST signing messages: round 1 commitments (broadcast), round 2 shares (to the aggregator). */
import type { Reader, Writer } from '../codec.js';
import type { BodyCodec } from '../envelope.js';
import type { Element, Group } from '../group.js';

export interface CommitmentMessage {
  readonly kind: 'commitment';
  readonly hiding: Element;
  readonly binding: Element;
}

export interface SignatureShareMessage {
  readonly kind: 'share';
  readonly share: bigint;
}

export type FrostMessage = CommitmentMessage | SignatureShareMessage;

export function frostCodec(group: Group): BodyCodec<FrostMessage> {
  return {
    protocol: 'frost',
    kinds: { commitment: 1, share: 2 },
    encode(m: FrostMessage, w: Writer) {
      if (m.kind === 'commitment') w.element(group, m.hiding).element(group, m.binding);
      else w.scalar(group, m.share);
    },
    decode(kind, r: Reader): FrostMessage {
      if (kind === 'commitment') {
        return { kind, hiding: r.element(group, 'hiding'), binding: r.element(group, 'binding') };
      }
      return { kind, share: r.scalar(group, 'share') };
    },
  };
}
