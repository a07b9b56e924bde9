/** The signature schemes the service offers, and the group and FROST suite of each. */
import type { GroupName } from './group.js';
import { FROST_BIP340, FROST_ED25519, FROST_SECP256K1, type FrostSuite } from './frost/suite.js';

export type FrostScheme = 'eddsa-ed25519' | 'schnorr-secp256k1-bip340' | 'frost-secp256k1';

export const FROST_SCHEMES: Readonly<Record<FrostScheme, FrostSuite>> = {
  'eddsa-ed25519': FROST_ED25519,
  'schnorr-secp256k1-bip340': FROST_BIP340,
  'frost-secp256k1': FROST_SECP256K1,
};

export function groupOfScheme(scheme: FrostScheme): GroupName {
  return FROST_SCHEMES[scheme].group.name;
}
