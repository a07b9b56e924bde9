/**
 * The coordinator's Prometheus metrics, served as text on `GET /metrics` (DESIGN.md contract).
 *
 * Each `createMetrics()` owns its own `Registry` rather than prom-client's global one: two
 * coordinators in one process (the tests, the simulator) then never collide on a metric name, and
 * what one exposes is exactly what it registered.
 *
 * Label values are bounded on purpose. `route` is the route pattern (`/v1/keys/:id`), never the
 * URL, so a scan of random paths cannot grow the series without limit; `key` on the presignature
 * pool is a key id, of which there are as many as the operator created.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The phases a ceremony is timed in (the same names as the benchmarks' `phase`). */
export const CEREMONY_PHASES = ['dkg', 'aux', 'presign', 'sign', 'refresh'] as const;
export type CeremonyPhase = (typeof CEREMONY_PHASES)[number];

/** Handles the HTTP layer and the service observe; `registry` renders them all. */
export interface Metrics {
  readonly registry: Registry;
  /** `http_requests_total{method,route,status}`; route is the pattern, or "unmatched". */
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  /** `http_request_duration_seconds{method,route}`, from the first byte in to the last byte out. */
  readonly httpDuration: Histogram<'method' | 'route'>;
  /** `ceremony_duration_seconds{scheme,phase}`; phase is one of `CEREMONY_PHASES`. */
  readonly ceremonyDuration: Histogram<'scheme' | 'phase'>;
  /**
   * `ceremony_failures_total{reason,blamed}`: reason is an error code (TIMEOUT, BAD_SHARE, ...);
   * blamed is the culprit party id, or "none" when no party is to blame (keep it bounded).
   */
  readonly ceremonyFailures: Counter<'reason' | 'blamed'>;
  /** ECDSA presignatures ready, by key and signer set. */
  readonly presignaturePoolAvailable: Gauge<'key_id' | 'signers'>;
  /** The size the pool refills each (key, signer set) to. */
  readonly presignaturePoolTarget: Gauge<'key_id' | 'signers'>;
  /** `healthy_parties`: enclaves whose channel is up and attested. */
  readonly healthyParties: Gauge;
  /** `quorum_threshold`: the parties a signature needs (the largest threshold among the keys). */
  readonly quorumThreshold: Gauge;
}

export interface MetricsOptions {
  /**
   * Register prom-client's default process and Node.js metrics (`process_cpu_seconds_total`,
   * `nodejs_heap_size_used_bytes`, ...). Default true. They keep their standard, unprefixed names
   * so the usual dashboards and alerts for Node processes apply unchanged.
   */
  readonly defaultMetrics?: boolean;
}

/**
 * HTTP handlers answer in milliseconds; a slow sign waits for an enclave round trip or a fresh
 * presignature, so the upper buckets reach tens of seconds.
 */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/**
 * Ceremonies span four orders of magnitude: a FROST sign takes milliseconds, an ECDSA key
 * generation with safe primes and aux info can take minutes.
 */
const CEREMONY_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** A fresh registry holding every coordinator metric. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  return {
    registry,
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: HTTP_BUCKETS,
      registers: [registry],
    }),
    ceremonyDuration: new Histogram({
      name: 'ceremony_duration_seconds',
      help: 'Duration of a ceremony phase (dkg, aux, presign, sign, refresh), by scheme.',
      labelNames: ['scheme', 'phase'],
      buckets: CEREMONY_BUCKETS,
      registers: [registry],
    }),
    ceremonyFailures: new Counter({
      name: 'ceremony_failures_total',
      help: 'Ceremonies that aborted, by reason and blamed party ("none" when no party is blamed).',
      labelNames: ['reason', 'blamed'],
      registers: [registry],
    }),
    presignaturePoolAvailable: new Gauge({
      name: 'presignature_pool_available',
      help: 'ECDSA presignatures ready to use, by key and signer set.',
      labelNames: ['key_id', 'signers'],
      registers: [registry],
    }),
    presignaturePoolTarget: new Gauge({
      name: 'presignature_pool_target',
      help: 'The number of presignatures the pool keeps ready, by key and signer set.',
      labelNames: ['key_id', 'signers'],
      registers: [registry],
    }),
    healthyParties: new Gauge({
      name: 'healthy_parties',
      help: 'Enclave signers whose attested channel is up.',
      registers: [registry],
    }),
    quorumThreshold: new Gauge({
      name: 'quorum_threshold',
      help: 'Parties a signature needs: the largest threshold among the keys.',
      registers: [registry],
    }),
  };
}
