/**
 * Auxiliary information of threshold ECDSA (CGGMP21 §3, "auxiliary info"): every party's
 * Paillier modulus, proven a Paillier-Blum modulus without small factors, with ring-Pedersen
 * parameters over it; and this party's own Paillier secret key. Produced with each key and
 * replaced by each refresh, so it is bound to the key and the epoch.
 */
import { inspect } from 'node:util';
import type { PartyId } from '../errors.js';
import { ProtocolError } from '../errors.js';
import { toHex } from '../bytes.js';
import type { PaillierPublicKey, PaillierSecretKey } from '../paillier/paillier.js';
import type { RingPedersen } from '../paillier/ring-pedersen.js';

/** A party's public auxiliary data: its Paillier key and ring-Pedersen parameters (same N). */
export interface PartyAux {
  readonly paillier: PaillierPublicKey;
  readonly rp: RingPedersen;
}

export interface AuxInfo {
  readonly keySessionId: Uint8Array;
  readonly epoch: number;
  readonly self: PartyId;
  readonly paillierSecret: PaillierSecretKey;
  /** Every party's public auxiliary data, this party's included. */
  readonly parties: ReadonlyMap<PartyId, PartyAux>;
}

/** Refuses auxiliary data of another key or epoch than the share it is used with. */
export function assertAuxMatches(
  aux: AuxInfo,
  share: { keySessionId: Uint8Array; epoch: number; self: PartyId },
): void {
  if (
    aux.epoch !== share.epoch ||
    aux.self !== share.self ||
    toHex(aux.keySessionId) !== toHex(share.keySessionId)
  ) {
    throw new ProtocolError(
      'EPOCH_MISMATCH',
      `auxiliary info is for epoch ${aux.epoch}, the share for epoch ${share.epoch}`,
    );
  }
}

/** Freezes aux info and keeps its secret key out of logs and JSON. */
export function sealAuxInfo(aux: AuxInfo): AuxInfo {
  const describe = () => ({
    epoch: aux.epoch,
    self: aux.self,
    parties: [...aux.parties.keys()],
  });
  Object.defineProperty(aux, inspect.custom, {
    value: () => `AuxInfo ${JSON.stringify(describe())}`,
  });
  Object.defineProperty(aux, 'toJSON', { value: describe });
  return Object.freeze(aux);
}
