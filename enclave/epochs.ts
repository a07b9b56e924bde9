/**
 * Which epoch of a key is confirmed, decided from what every party has stored.
 *
 * Shares of different epochs do not combine, so an epoch is usable only when every party holds
 * its share of it. The rule is therefore: an epoch is confirmed when every party has it sealed
 * and stored (committed, previous or staged), and the confirmed epoch is the highest such one.
 * This reads "confirmed sealed by a quorum" as "by all n parties": were a refresh committed with
 * only t parties holding the new epoch, the others' old shares would be useless, and the key would
 * survive no further loss — a refresh must never cost fault tolerance.
 *
 * The same rule serves creation (epoch 0: a key exists only when every party has sealed its
 * share; Secrets Manager makes a secret's first version AWSCURRENT at once, so for epoch 0 the
 * labels alone say nothing, the rule does) and recovery after a crash: whatever the point of failure, every party still holds the
 * old epoch until the new one is committed, and commits only happen after every party staged,
 * so the rule always finds an epoch all parties can unseal, and rolls forward or back uniformly.
 */
import type { PartyId } from '../protocol/errors.js';
import type { StoredShares } from './share-store.js';

/** What to do with one party's stored versions to settle on the confirmed epoch. */
export type EpochAction =
  /** The confirmed epoch is staged here: commit it. */
  | { readonly kind: 'commit'; readonly epoch: number }
  /** A staged epoch other than the confirmed one: drop it. */
  | { readonly kind: 'discard'; readonly epoch: number }
  | { readonly kind: 'none' };

export interface EpochDecision {
  /** The highest epoch every party holds; null when some party holds none (no key). */
  readonly confirmedEpoch: number | null;
  readonly actions: ReadonlyMap<PartyId, EpochAction>;
}

/** The epochs a party can still unseal, from its stored versions. */
function heldEpochs(stored: StoredShares): Set<number> {
  const held = new Set<number>();
  for (const version of [stored.current, stored.previous, stored.pending]) {
    if (version !== null) held.add(version.epoch);
  }
  return held;
}

/**
 * Decides the confirmed epoch of one key from every party's stored versions.
 *
 * @param stored every party of the key, each with what its secret holds.
 */
export function decideEpoch(stored: ReadonlyMap<PartyId, StoredShares>): EpochDecision {
  const helds = [...stored.values()].map(heldEpochs);
  const common =
    helds.length === 0 ? [] : [...helds[0]!].filter((e) => helds.every((h) => h.has(e)));
  const confirmedEpoch = common.length === 0 ? null : Math.max(...common);

  const actions = new Map<PartyId, EpochAction>();
  for (const [party, { pending }] of stored) {
    let action: EpochAction = { kind: 'none' };
    if (pending !== null) {
      // Staged and confirmed: commit (or finish a commit that crashed before dropping the
      // label). Staged and not confirmed: drop the label, whatever else the version carries.
      action = {
        kind: pending.epoch === confirmedEpoch ? 'commit' : 'discard',
        epoch: pending.epoch,
      };
    }
    actions.set(party, action);
  }
  return { confirmedEpoch, actions };
}
