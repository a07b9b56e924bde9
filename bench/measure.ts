/** Timing helpers shared by the benchmarks: medians and 95th percentiles, one JSON line each. */
import { randomBytes } from 'node:crypto';

export const rng = (n: number) => new Uint8Array(randomBytes(n));

export interface Timing {
  median: number;
  p95: number;
}

/** Runs `work` after `warmup` untimed runs; `work` may prepare untimed state and return the timed part. */
export function measure(runs: number, warmup: number, work: () => void): Timing {
  for (let i = 0; i < warmup; i++) work();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    work();
    times.push(performance.now() - start);
  }
  return summarise(times);
}

export function summarise(times: number[]): Timing {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { median: at(0.5), p95: at(0.95) };
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** One line of the design contract's benchmark format. */
export function emit(
  scheme: string,
  phase: string,
  parties: number,
  threshold: number,
  runs: number,
  t: Timing,
): void {
  console.log(
    JSON.stringify({
      scheme,
      phase,
      parties,
      threshold,
      runs,
      median_ms: round(t.median),
      p95_ms: round(t.p95),
    }),
  );
}

/** A line for a measurement outside the phases of the contract (arithmetic choices). */
export function emitOther(
  name: string,
  fields: Record<string, unknown>,
  runs: number,
  t: Timing,
): void {
  console.log(
    JSON.stringify({
      bench: name,
      ...fields,
      runs,
      median_ms: round(t.median),
      p95_ms: round(t.p95),
    }),
  );
}
