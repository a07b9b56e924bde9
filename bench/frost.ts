/** FROST benchmarks: DKG and signing for Ed25519 and BIP340, 2-of-3 and 3-of-5. */
import { runDkg, runSign } from '../protocol/ceremonies.js';
import { FROST_SCHEMES, type FrostScheme } from '../protocol/schemes.js';
import { emit, measure, rng } from './measure.js';

const schemes: FrostScheme[] = ['eddsa-ed25519', 'schnorr-secp256k1-bip340'];
const shapes = [
  { threshold: 2, parties: 3 },
  { threshold: 3, parties: 5 },
];

export function benchFrost(): void {
  for (const scheme of schemes) {
    const suite = FROST_SCHEMES[scheme];
    for (const { threshold, parties } of shapes) {
      const ids = Array.from({ length: parties }, (_, i) => i + 1);
      const dkgRuns = 30;
      emit(
        scheme,
        'dkg',
        parties,
        threshold,
        dkgRuns,
        measure(dkgRuns, 3, () => runDkg(suite.group, ids, threshold, { rng })),
      );
      const shares = runDkg(suite.group, ids, threshold, { rng });
      const message = rng(32);
      const signers = ids.slice(0, threshold);
      const signRuns = 200;
      emit(
        scheme,
        'sign',
        parties,
        threshold,
        signRuns,
        measure(signRuns, 10, () => runSign(shares, { suite, message, signers }, { rng })),
      );
    }
  }
}
