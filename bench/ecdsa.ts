/**
 * Threshold-ECDSA benchmarks: auxiliary info (safe-prime generation included, every party's
 * primes made one after another, as the whole work of all parties), presigning and online
 * signing, 2-of-3 and 3-of-5.
 */
import { generatePrimeSync } from 'node:crypto';
import { runDkg } from '../protocol/ceremonies.js';
import { runAux, runEcdsaSign, runPresign } from '../protocol/ecdsa-ceremonies.js';
import { secp256k1Group } from '../protocol/group.js';
import { emit, rng, summarise } from './measure.js';

const shapes = [
  { threshold: 2, parties: 3 },
  { threshold: 3, parties: 5 },
];

function safePrime(): bigint {
  return generatePrimeSync(1024, { safe: true, bigint: true });
}

export function benchEcdsa(): void {
  for (const { threshold, parties } of shapes) {
    const ids = Array.from({ length: parties }, (_, i) => i + 1);
    const shares = runDkg(secp256k1Group, ids, threshold, { rng });
    const auxRuns = 3;
    const auxTimes: number[] = [];
    let auxes: ReturnType<typeof runAux> = [];
    for (let run = 0; run < auxRuns; run++) {
      const start = performance.now();
      const primes = new Map(ids.map((p) => [p, { p: safePrime(), q: safePrime() }]));
      auxes = runAux(shares, primes, { rng });
      auxTimes.push(performance.now() - start);
    }
    emit('ecdsa-secp256k1', 'aux', parties, threshold, auxRuns, summarise(auxTimes));

    const signers = ids.slice(0, threshold);
    const presignRuns = 10;
    const presignTimes: number[] = [];
    const pool: ReturnType<typeof runPresign>[] = [];
    runPresign(shares, auxes, signers, { rng });
    for (let run = 0; run < presignRuns; run++) {
      const start = performance.now();
      pool.push(runPresign(shares, auxes, signers, { rng }));
      presignTimes.push(performance.now() - start);
    }
    emit('ecdsa-secp256k1', 'presign', parties, threshold, presignRuns, summarise(presignTimes));

    const signTimes: number[] = [];
    for (const presignatures of pool) {
      const digest = rng(32);
      const start = performance.now();
      runEcdsaSign(shares, presignatures, { digest }, { rng });
      signTimes.push(performance.now() - start);
    }
    emit('ecdsa-secp256k1', 'sign', parties, threshold, pool.length, summarise(signTimes));
  }
}
