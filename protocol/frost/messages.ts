/**
 * FROST signing messages. Round 1: each signer's commitment, to the coordinator. Round 2: the
 * coordinator's signing package (every signer's commitment), to all signers. Round 3: each
 * signer's share, to the coordinator. Commitments go through the coordinator, as in RFC 9591,
 * so a signer cannot show different commitments to different peers.
 */
import type { Reader, Writer } from '../codec.js';
import type { BodyCodec } from '../envelope.js';
import type { PartyId } from '../errors.js';
import type { Element, Group } from '../group.js';

export interface CommitmentMessage {
  readonly kind: 'commitment';
  readonly hiding: Element;
  readonly binding: Element;
}

export interface PackageEntry {
  readonly id: PartyId;
  readonly hiding: Element;
  readonly binding: Element;
}

export interface PackageMessage {
  readonly kind: 'package';
  /** One entry per signer, ascending by id. */
  readonly entries: readonly PackageEntry[];
}

export interface SignatureShareMessage {
  readonly kind: 'share';
  readonly share: bigint;
}

export type FrostMessage = CommitmentMessage | PackageMessage | SignatureShareMessage;

/** More signers than any key can have is refused before anything is decoded. */
const MAX_PACKAGE_ENTRIES = 1024;

export function frostCodec(group: Group): BodyCodec<FrostMessage> {
  return {
    protocol: 'frost',
    kinds: { commitment: 1, package: 2, share: 3 },
    encode(m: FrostMessage, w: Writer) {
      switch (m.kind) {
        case 'commitment':
          w.element(group, m.hiding).element(group, m.binding);
          return;
        case 'package':
          w.u16(m.entries.length);
          for (const e of m.entries) w.u16(e.id).element(group, e.hiding).element(group, e.binding);
          return;
        case 'share':
          w.scalar(group, m.share);
          return;
      }
    },
    decode(kind, r: Reader): FrostMessage {
      switch (kind) {
        case 'commitment':
          return { kind, hiding: r.element(group, 'hiding'), binding: r.element(group, 'binding') };
        case 'package': {
          const count = r.u16('entries');
          if (count === 0 || count > MAX_PACKAGE_ENTRIES) r.fail(`package of ${count} entries`);
          const entries: PackageEntry[] = [];
          for (let i = 0; i < count; i++) {
            const id = r.u16('id');
            if (i > 0 && id <= entries[i - 1]!.id) r.fail('package ids not strictly ascending');
            entries.push({
              id,
              hiding: r.element(group, 'hiding'),
              binding: r.element(group, 'binding'),
            });
          }
          return { kind, entries };
        }
        case 'share':
          return { kind, share: r.scalar(group, 'share') };
      }
    },
  };
}
