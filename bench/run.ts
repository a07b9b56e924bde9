/**
 * `npm run bench`: one JSON line per measured phase, in the layout of the design contract. All
 * parties run in this process, messages pass through their wire encoding, and the figure is the
 * whole work of all parties (and, for signing, of the aggregator).
 */
import { randomBytes } from 'node:crypto';
import { runDkg, runSign } from '../protocol/ceremonies.js';
import { FROST_SCHEMES, type FrostScheme } from '../protocol/schemes.js';

const rng = (n: number) => new Uint8Array(randomBytes(n));

interface Line {
  scheme: string;
  phase: string;
  parties: number;
  threshold: number;
  runs: number;
  median_ms: number;
  p95_ms: number;
}

function measure(runs: number, warmup: number, work: () => void): { median: number; p95: number } {
  for (let i = 0; i < warmup; i++) work();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    work();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]!;
  return { median: at(0.5), p95: at(0.95) };
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;
const schemes: FrostScheme[] = ['eddsa-ed25519', 'schnorr-secp256k1-bip340'];
const shapes = [
  { threshold: 2, parties: 3 },
  { threshold: 3, parties: 5 },
];
const only = process.argv[2];

for (const scheme of schemes) {
  if (only && !scheme.includes(only)) continue;
  const suite = FROST_SCHEMES[scheme];
  for (const { threshold, parties } of shapes) {
    const ids = Array.from({ length: parties }, (_, i) => i + 1);
    const emit = (phase: string, runs: number, m: { median: number; p95: number }) => {
      const line: Line = {
        scheme,
        phase,
        parties,
        threshold,
        runs,
        median_ms: round(m.median),
        p95_ms: round(m.p95),
      };
      console.log(JSON.stringify(line));
    };
    const dkgRuns = 30;
    emit(
      'dkg',
      dkgRuns,
      measure(dkgRuns, 3, () => runDkg(suite.group, ids, threshold, { rng })),
    );
    const shares = runDkg(suite.group, ids, threshold, { rng });
    const message = rng(32);
    const signers = ids.slice(0, threshold);
    const signRuns = 200;
    emit(
      'sign',
      signRuns,
      measure(signRuns, 10, () => runSign(shares, { suite, message, signers }, { rng })),
    );
  }
}
