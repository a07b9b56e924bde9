/**
 * A party's share of a threshold key: the output of a DKG, replaced by each refresh. It holds
 * the secret share and all the public data a signer or verifier needs; never the whole key.
 */
import { inspect } from 'node:util';
import { toHex } from './bytes.js';
import { ProtocolError, type PartyId } from './errors.js';
import type { Element, GroupName } from './group.js';
import type { SecretScalar } from './secret.js';

/** Everything about a threshold key that is public: what an aggregator or verifier holds. */
export interface KeyPublic {
  readonly group: GroupName;
  /** The DKG session that created the key: its identity across refreshes. */
  readonly keySessionId: Uint8Array;
  /** Every participant holding a share, ascending. */
  readonly parties: readonly PartyId[];
  readonly threshold: number;
  /** 0 after the DKG, incremented by each refresh. */
  readonly epoch: number;
  readonly publicKey: Element;
  /** Y_j = s_j·G for every participant j, in this epoch. */
  readonly verificationShares: ReadonlyMap<PartyId, Element>;
  /** Joint BIP32 chain code, fixed by the DKG. */
  readonly chainCode: Uint8Array;
}

/** One party's share of a key, with the key's public data. */
export interface KeyShare extends KeyPublic {
  readonly self: PartyId;
  readonly secretShare: SecretScalar;
}

/** The public part of a share, as handed to an aggregator. */
export function keyPublic(share: KeyShare): KeyPublic {
  const { self: _self, secretShare: _secret, ...pub } = share;
  return pub;
}

/** The public part of a key share, safe to log or send. */
export function describeKeyShare(share: KeyShare): Record<string, unknown> {
  return {
    group: share.group,
    self: share.self,
    parties: share.parties,
    threshold: share.threshold,
    epoch: share.epoch,
    publicKey: toHex(share.publicKey.toBytes()),
    chainCode: toHex(share.chainCode),
  };
}

/** Wraps a freshly built key share so that printing it never shows the secret. */
export function sealKeyShareObject(share: KeyShare): KeyShare {
  Object.defineProperty(share, inspect.custom, {
    value: () => `KeyShare ${JSON.stringify(describeKeyShare(share))}`,
  });
  Object.defineProperty(share, 'toJSON', { value: () => describeKeyShare(share) });
  return Object.freeze(share);
}

/** Refuses to combine shares that do not belong to one key in one epoch. */
export function assertSameEpoch(a: KeyPublic, b: { epoch: number; keySessionId: Uint8Array }) {
  if (a.epoch !== b.epoch || toHex(a.keySessionId) !== toHex(b.keySessionId)) {
    throw new ProtocolError(
      'EPOCH_MISMATCH',
      `share is for epoch ${a.epoch}, session wants epoch ${b.epoch} of this key`,
    );
  }
}
