/**
 * `npm run bench -- sign_api`: signing through the REST API of the whole local system, as a
 * caller sees it. Unlike the other suites, nothing runs in this process but the client: the
 * benchmark starts `mpc-kms sim up` (coordinator, three enclave signers, their parents and the
 * simulated AWS, each its own process), makes one 2-of-3 key per scheme and a signer token
 * scoped to them, then
 *
 * 1. `sign_api`: N sequential `POST /v1/keys/{id}/sign` per scheme over one keep-alive
 *    connection, each timed end to end (request written to body read) with `performance.now()`;
 *    the contract's line `{"scheme","phase":"sign_api","parties","threshold","runs","median_ms",
 *    "p95_ms"}`;
 * 2. `sign_api_load`: autocannon against the BIP340 and the ECDSA sign routes at 1, 2, 4, 8 and
 *    16 connections, a fixed time each, every request with a fresh digest; one line per run;
 * 3. `presignature_reuse`: after the ECDSA load, whether any presignature id appears twice among
 *    the successful ECDSA sign entries of the audit log (when the entries name one).
 *
 * Every returned signature is checked against the key's public key with a verifier that shares
 * no code with the signers (node:crypto for Ed25519, @noble/curves for BIP340 and ECDSA). A
 * benchmark that timed failing requests measures nothing, so any failed or invalid answer in the
 * latency runs withholds that scheme's line and makes the suite fail; under load, non-2xx answers
 * are counted and reported (503 from a drained presignature pool is information, not a crash),
 * and invalid signatures make the suite fail.
 *
 * ECDSA presignatures: when the coordinator exposes the gauges
 * `presignature_pool_available` and `presignature_pool_target` (labels include
 * `key_id`), the benchmark waits until the pool is full before it measures, so the figure is a
 * warm pool's, and keeps N below the pool size. Without them it says so on stderr and measures
 * signing with presigning inline.
 */
import { createPublicKey, randomBytes, verify as nodeVerify } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import autocannon from 'autocannon';
import { emit, summarise } from './measure.js';
import {
  ApiClient,
  describeError,
  progress,
  readAudit,
  sameLabels,
  samples,
  startSystem,
  type RunningSystem,
} from './sim-process.js';

const SCHEMES = ['eddsa-ed25519', 'schnorr-secp256k1-bip340', 'ecdsa-secp256k1'] as const;
type Scheme = (typeof SCHEMES)[number];
const PARTIES = 3;
const THRESHOLD = 2;

const POOL_AVAILABLE = 'presignature_pool_available';
const POOL_TARGET = 'presignature_pool_target';
/** Presignatures left unused at the end of the latency run, so that none of it waits on a refill. */
const poolMargin = (size: number) => Math.max(2, Math.ceil(size / 10));

/** The suite's settings, read once from the environment by `signApiConfig`. */
export interface SignApiConfig {
  /** `MPC_KMS_BENCH_SIGN_RUNS`; null: 30, and for ECDSA at most the warm pool less a margin. */
  readonly signRuns: number | null;
  /** `MPC_KMS_BENCH_LOAD_SECONDS` (default 10); 0 skips the load runs. */
  readonly loadSeconds: number;
  /** Concurrencies of the load runs. */
  readonly connections: readonly number[];
  /** How long to wait for a full presignature pool before measuring anyway. */
  readonly poolWaitMs: number;
}

export function signApiConfig(env: NodeJS.ProcessEnv): SignApiConfig {
  const int = (name: string, fallback: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d{1,6}$/.test(raw) || Number(raw) < min) {
      throw new Error(`${name} must be an integer of at least ${min}, not ${JSON.stringify(raw)}`);
    }
    return Number(raw);
  };
  const runs = int('MPC_KMS_BENCH_SIGN_RUNS', 0, 1);
  return {
    signRuns: runs === 0 ? null : runs,
    loadSeconds: int('MPC_KMS_BENCH_LOAD_SECONDS', 10, 0),
    connections: [1, 2, 4, 8, 16],
    poolWaitMs: 300_000,
  };
}

interface Key {
  readonly id: string;
  readonly scheme: Scheme;
  readonly publicKey: Uint8Array;
}

/** One signing request with a fresh random digest (or message, for Ed25519) and its checker. */
function signRequest(key: Key): { body: object; check: (answer: unknown) => string | null } {
  const input = randomBytes(32);
  const hex = input.toString('hex');
  const body = key.scheme === 'eddsa-ed25519' ? { message: hex } : { digest: hex };
  return { body, check: (answer) => checkSignature(key, input, answer) };
}

/** Null when `answer.signature` verifies for `input` under the key; otherwise why not. */
function checkSignature(key: Key, input: Uint8Array, answer: unknown): string | null {
  const hex = (answer as { signature?: unknown } | null)?.signature;
  if (typeof hex !== 'string' || !/^[0-9a-f]{128}$/.test(hex)) return 'no 64-byte signature';
  const signature = new Uint8Array(Buffer.from(hex, 'hex'));
  try {
    switch (key.scheme) {
      case 'eddsa-ed25519': {
        const publicKey = createPublicKey({
          key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(key.publicKey).toString('base64url') },
          format: 'jwk',
        });
        return nodeVerify(null, input, publicKey, signature) ? null : 'Ed25519 does not verify';
      }
      case 'schnorr-secp256k1-bip340':
        return schnorr.verify(signature, input, key.publicKey) ? null : 'BIP340 does not verify';
      case 'ecdsa-secp256k1':
        // The digest is signed as is (prehash: false); noble also refuses a high s (lowS).
        return secp256k1.verify(signature, input, key.publicKey, { prehash: false, lowS: true })
          ? null
          : 'ECDSA does not verify (or s is high)';
    }
  } catch (error) {
    return `verifier threw: ${error instanceof Error ? error.message : String(error)}`;
  }
}

interface PoolState {
  readonly available: number;
  readonly target: number;
}

/** The pool gauges for one key; `undefined` when the coordinator has no such metric at all. */
async function poolState(api: ApiClient, keyId: string): Promise<PoolState | null | undefined> {
  const text = (await api.call('GET', '/metrics', null)).body;
  if (typeof text !== 'string') return undefined;
  const available = samples(text, POOL_AVAILABLE);
  if (!available.declared) return undefined;
  const mine = available.found.find((s) => s.labels.key_id === keyId);
  if (!mine) return null;
  const target = samples(text, POOL_TARGET).found.find((s) => sameLabels(s.labels, mine.labels));
  return target ? { available: mine.value, target: target.value } : null;
}

/**
 * Polls `/metrics` every second until the key's pool holds its target, or `waitMs` passes.
 * Answers the last state seen, or `undefined` when the pool metrics do not exist.
 */
async function waitForPool(
  api: ApiClient,
  keyId: string,
  waitMs: number,
): Promise<PoolState | undefined> {
  const deadline = performance.now() + waitMs;
  let last: PoolState | null | undefined;
  let reported = -1;
  for (;;) {
    last = await poolState(api, keyId);
    if (last === undefined) {
      progress(`no ${POOL_AVAILABLE} in /metrics (no presignature pool): measuring ECDSA anyway`);
      return undefined;
    }
    if (last && last.available >= last.target) {
      progress(`presignature pool warm: ${last.available}/${last.target}`);
      return last;
    }
    if (performance.now() > deadline) {
      progress(
        `presignature pool not warm after ${waitMs / 1000} s ` +
          `(${last ? `${last.available}/${last.target}` : 'no series for the key'}): measuring anyway`,
      );
      return last ?? undefined;
    }
    if (last && last.available !== reported && last.available % 5 === 0) {
      progress(`presignature pool ${last.available}/${last.target}…`);
      reported = last.available;
    }
    await sleep(1000);
  }
}

/** Phase `sign_api`: `runs` sequential signatures; throws nothing, answers the failures. */
async function latency(api: ApiClient, token: string, key: Key, runs: number): Promise<number> {
  const path = `/v1/keys/${key.id}/sign`;
  // One untimed request first: it opens the keep-alive connection and warms the code paths.
  const warm = signRequest(key);
  const first = await api.call('POST', path, token, warm.body);
  if (first.status !== 200 || warm.check(first.body) !== null) {
    progress(`${key.scheme}: warm-up failed: ${first.status} ${describeError(first.body)}`);
  }
  const times: number[] = [];
  let failures = 0;
  for (let i = 0; i < runs; i++) {
    const { body, check } = signRequest(key);
    const started = performance.now();
    const answer = await api.call('POST', path, token, body);
    const ms = performance.now() - started;
    const why = answer.status === 200 ? check(answer.body) : describeError(answer.body);
    if (why !== null) {
      failures += 1;
      progress(`${key.scheme}: request ${i + 1} failed: ${answer.status} ${why}`);
    } else {
      times.push(ms);
    }
  }
  if (failures === 0) emit(key.scheme, 'sign_api', PARTIES, THRESHOLD, runs, summarise(times));
  else progress(`${key.scheme}: ${failures} of ${runs} failed; no sign_api line for it`);
  return failures;
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** Counts the audit log's sign entries (any outcome) for one key as they are appended. */
class SignEntries {
  #next = 1;
  count = 0;
  constructor(
    private readonly api: ApiClient,
    private readonly adminToken: string,
    private readonly keyId: string,
  ) {}

  async update(): Promise<number> {
    const { entries, next } = await readAudit(this.api, this.adminToken, this.#next);
    this.#next = next;
    for (const e of entries as Record<string, unknown>[]) {
      if (e?.action === 'sign' && e.keyId === this.keyId) this.count += 1;
    }
    return this.count;
  }
}

/** The longest wait for the signers to finish what a load run left in flight. */
const DRAIN_TIMEOUT_MS = 180_000;

/**
 * Waits until the requests a load run left in flight have run their ceremonies. autocannon stops
 * at the deadline and drops its connections, but the coordinator carries on with each request
 * it accepted (a dropped client does not cancel a ceremony), which would slow the next run.
 * Every ceremony ends in one audit entry, so wait until the key has `expected` more sign entries,
 * or until their count has not moved for `quietMs` (requests refused before any ceremony leave
 * no entry), or the timeout.
 */
async function drain(entries: SignEntries, expected: number, quietMs: number): Promise<void> {
  const started = performance.now();
  let last = entries.count;
  let lastChange = started;
  while (entries.count < expected) {
    await sleep(500);
    const now = performance.now();
    if ((await entries.update()) !== last) {
      last = entries.count;
      lastChange = now;
    } else if (now - lastChange > quietMs || now - started > DRAIN_TIMEOUT_MS) {
      progress(`drain: ${expected - entries.count} requests left no audit entry; going on`);
      return;
    }
  }
  const waited = performance.now() - started;
  if (waited > 1000) progress(`drain: ${(waited / 1000).toFixed(1)} s for requests in flight`);
}

/** Phase `sign_api_load`: one autocannon run; answers the number of invalid signatures. */
async function load(
  url: string,
  token: string,
  key: Key,
  connections: number,
  seconds: number,
  entries: SignEntries,
): Promise<number> {
  let invalid = 0;
  const before = await entries.update();
  const result = await autocannon({
    url,
    connections,
    pipelining: 1,
    duration: seconds,
    // An ECDSA signature waits for presigning when the pool is empty; give it room rather than
    // count a slow answer as a connection error.
    timeout: 120,
    // Latency percentiles over 2xx answers only: a fast 503 is not a fast signature.
    excludeErrorStats: true,
    requests: [
      {
        method: 'POST',
        path: `/v1/keys/${key.id}/sign`,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        // With pipelining 1, the context is this connection's and holds the request in flight.
        setupRequest: (request, context) => {
          const next = signRequest(key);
          (context as { check?: (answer: unknown) => string | null }).check = next.check;
          return { ...request, body: JSON.stringify(next.body) };
        },
        onResponse: (status, body, context) => {
          if (status < 200 || status > 299) return;
          const check = (context as { check?: (answer: unknown) => string | null }).check;
          let parsed: unknown = null;
          try {
            parsed = JSON.parse(body);
          } catch {
            // counted as invalid below
          }
          const why = check ? check(parsed) : 'no request for this answer';
          if (why !== null) {
            invalid += 1;
            if (invalid <= 3) progress(`${key.scheme} load: invalid answer: ${why}`);
          }
        },
      },
    ],
  });
  const statuses = Object.entries(result.statusCodeStats ?? {})
    .map(([code, { count }]) => `${code}×${count ?? 0}`)
    .join(' ');
  progress(
    `${key.scheme} load, ${connections} connections: ${result.requests.sent} sent, ` +
      `answers ${statuses || 'none'}, ${result.errors} errors`,
  );
  // No 2xx answer, no latency: null rather than autocannon's empty-histogram zeros.
  const ok = result['2xx'] > 0;
  console.log(
    JSON.stringify({
      scheme: key.scheme,
      phase: 'sign_api_load',
      parties: PARTIES,
      threshold: THRESHOLD,
      connections,
      seconds: round(result.duration),
      requests: result.requests.total,
      per_second: round(result.requests.total / result.duration),
      errors: result.errors,
      non2xx: result.non2xx,
      invalid_signatures: invalid,
      p50_ms: ok ? result.latency.p50 : null,
      p97_5_ms: ok ? result.latency.p97_5 : null,
    }),
  );
  const quietMs = Math.max(5_000, 3 * (ok ? result.latency.p97_5 : seconds * 1000));
  await drain(entries, before + result.requests.sent, quietMs);
  return invalid;
}

/**
 * Phase `presignature_reuse`: among the audit log's successful ECDSA sign entries for the key,
 * how many name a presignature that an earlier entry already used. Two signatures from one
 * presignature reveal the key (the nonce k is shared), so any reuse fails the suite. Answers
 * the reuses, or 0 with a note when the entries carry no `presignature` field.
 */
async function presignatureReuse(api: ApiClient, adminToken: string, keyId: string) {
  const entries = (await readAudit(api, adminToken)).entries as Record<string, unknown>[];
  const signs = entries.filter(
    (e) => e?.action === 'sign' && e.keyId === keyId && e.outcome === 'ok',
  );
  const named = signs.filter((e) => e.presignature !== undefined && e.presignature !== null);
  if (named.length === 0) {
    progress(`none of ${signs.length} ECDSA sign entries names a presignature: reuse not checked`);
    return 0;
  }
  const seen = new Set<string>();
  let reused = 0;
  for (const e of named) {
    const id = JSON.stringify(e.presignature);
    if (seen.has(id)) reused += 1;
    seen.add(id);
  }
  if (named.length < signs.length) {
    progress(`${signs.length - named.length} ECDSA sign entries name no presignature`);
  }
  console.log(JSON.stringify({ phase: 'presignature_reuse', checked: named.length, reused }));
  return reused;
}

/** The whole suite; the system is stopped and its directory removed however it ends. */
export async function benchSignApi(config: SignApiConfig): Promise<void> {
  const started = performance.now();
  progress('starting mpc-kms sim up');
  let system: RunningSystem | null = null;
  let api: ApiClient | null = null;
  try {
    system = await startSystem();
    api = new ApiClient(system.port);
    progress(`ready at ${system.url}`);
    const problems = await measureAll(system, api, config);
    if (problems.length > 0) throw new Error(`sign_api failed: ${problems.join('; ')}`);
  } finally {
    api?.close();
    if (system) {
      progress('stopping the system');
      await system.stop();
    }
    progress(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
}

async function measureAll(
  system: RunningSystem,
  api: ApiClient,
  config: SignApiConfig,
): Promise<string[]> {
  const keys = new Map<Scheme, Key>();
  for (const scheme of SCHEMES) {
    const t0 = performance.now();
    const made = await api.ok<{ id: string; publicKey: string }>(
      'POST',
      '/v1/keys',
      system.adminToken,
      { scheme, threshold: THRESHOLD, parties: PARTIES },
      600_000,
    );
    keys.set(scheme, {
      id: made.id,
      scheme,
      publicKey: new Uint8Array(Buffer.from(made.publicKey, 'hex')),
    });
    progress(`${scheme} key ${made.id} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const { token } = await api.ok<{ token: string }>('POST', '/v1/tokens', system.adminToken, {
    name: 'bench sign_api',
    role: 'signer',
    keyIds: [...keys.values()].map((k) => k.id),
  });
  const ecdsa = keys.get('ecdsa-secp256k1')!;
  const problems: string[] = [];

  // A full pool first, so that its refill does not run beside the FROST measurements.
  const pool = await waitForPool(api, ecdsa.id, config.poolWaitMs);
  for (const key of keys.values()) {
    let runs = config.signRuns ?? 30;
    if (key.scheme === 'ecdsa-secp256k1' && pool) {
      const now = (await poolState(api, key.id)) ?? pool;
      // The pool refills as soon as it drops below a quarter of its target
      // (coordinator/presign-pool.ts), and a refill competes with the rounds measured: stay above.
      const lowWater = Math.ceil(now.target / 4);
      const cap = Math.max(1, now.available - lowWater - poolMargin(now.available));
      if (runs > cap) progress(`ECDSA runs ${runs} -> ${cap} (pool ${now.available}, less margin)`);
      runs = Math.min(runs, cap);
    }
    progress(`${key.scheme}: ${runs} sequential signatures`);
    const failures = await latency(api, token, key, runs);
    if (failures > 0) problems.push(`${key.scheme}: ${failures} of ${runs} sign requests failed`);
  }

  if (config.loadSeconds > 0) {
    // BIP340 before ECDSA: the ECDSA load drains the pool, whose refill would slow the FROST runs.
    for (const key of [keys.get('schnorr-secp256k1-bip340')!, ecdsa]) {
      if (key === ecdsa && pool) await waitForPool(api, ecdsa.id, config.poolWaitMs);
      const entries = new SignEntries(api, system.adminToken, key.id);
      for (const connections of config.connections) {
        if (key === ecdsa && pool) {
          const now = await poolState(api, ecdsa.id);
          if (now)
            progress(`pool before ${connections} connections: ${now.available}/${now.target}`);
        }
        progress(`${key.scheme}: load, ${connections} connections, ${config.loadSeconds} s`);
        const invalid = await load(
          system.url,
          token,
          key,
          connections,
          config.loadSeconds,
          entries,
        );
        if (invalid > 0) problems.push(`${key.scheme} load: ${invalid} invalid signatures`);
      }
    }
  }
  const reused = await presignatureReuse(api, system.adminToken, ecdsa.id);
  if (reused > 0) problems.push(`${reused} ECDSA signatures reused a presignature`);
  return problems;
}
