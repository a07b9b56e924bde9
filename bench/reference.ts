/**
 * Reference point for the FROST figures: `@noble/curves`' own RFC 9591 FROST, all parties in one
 * process, no wire encoding, a trusted-dealer key. `npm run bench -- reference`.
 */
import { ed25519_FROST } from '@noble/curves/ed25519.js';
import { schnorr_FROST } from '@noble/curves/secp256k1.js';
import { emitOther, measure, rng } from './measure.js';

type Frost = typeof ed25519_FROST;

function signOnce(frost: Frost, threshold: number, parties: number, message: Uint8Array) {
  const ids = Array.from({ length: parties }, (_, i) => frost.Identifier.fromNumber(i + 1));
  const deal = frost.trustedDealer({ min: threshold, max: parties }, ids);
  const signers = ids.slice(0, threshold);
  return () => {
    const nonces = signers.map((id) => frost.commit(deal.secretShares[id]!));
    const list = nonces.map((n) => n.commitments);
    const shares: Record<string, Uint8Array> = {};
    signers.forEach((id, i) => {
      shares[id] = frost.signShare(
        deal.secretShares[id]!,
        deal.public,
        nonces[i]!.nonces,
        list,
        message,
      );
    });
    return frost.aggregate(deal.public, list, message, shares);
  };
}

export function benchReference(): void {
  const message = rng(32);
  for (const [name, frost] of [
    ['ed25519', ed25519_FROST],
    ['bip340', schnorr_FROST],
  ] as const) {
    for (const [threshold, parties] of [
      [2, 3],
      [3, 5],
    ] as const) {
      const work = signOnce(frost as Frost, threshold, parties, message);
      emitOther(
        'noble-frost-sign',
        { curve: name, parties, threshold },
        100,
        measure(100, 20, work),
      );
    }
  }
}
