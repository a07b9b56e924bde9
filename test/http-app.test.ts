/**
 * The HTTP layer alone (coordinator/http/): a real Express server on a loopback port, driven with
 * `fetch`, in front of a fake service and a test double of the store's idempotency methods. What
 * is checked is only what this layer owns: status codes and the error shape, authentication and
 * its challenge, body and path validation, Idempotency-Key (replay, reuse, concurrency, what is
 * stored), request ids, logs, metrics and the OpenAPI document agreeing with the router.
 *
 * Roles, scopes, policies and ceremonies are the service's and are tested with it (api.test.ts,
 * end to end); the real store's idempotency methods are tested with the store.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { Express } from 'express';
import { createApp } from '../coordinator/http/app.js';
import type { IdempotencyStore } from '../coordinator/http/idempotency.js';
import { openApiDocument } from '../coordinator/http/openapi.js';
import { createLogger } from '../coordinator/logger.js';
import { createMetrics, type Metrics } from '../coordinator/metrics.js';
import {
  STATUS_OF,
  ServiceError,
  type AttestationView,
  type AuditView,
  type Caller,
  type CoordinatorService,
  type HealthView,
  type KeyView,
  type PolicyView,
  type Role,
  type ServiceErrorCode,
  type SignatureView,
  type TokenView,
} from '../coordinator/service-types.js';
import type { IdempotencyRecord } from '../coordinator/store/types.js';
import type { TransactionRequest } from '../coordinator/transactions.js';

// -----------------------------------------------------------------------------------------------
// Doubles

const ADMIN_TOKEN = 'admin-token-0123456789';
const SIGNER_TOKEN = 'signer-token-abcdef';

const KEY: KeyView = {
  id: 'key-1',
  scheme: 'ecdsa-secp256k1',
  threshold: 2,
  parties: 3,
  partyIds: [1, 2, 3],
  publicKey: '02' + '11'.repeat(32),
  chainCode: '22'.repeat(32),
  epoch: 0,
  createdAt: '2025-01-01T00:00:00.000Z',
  addresses: { evm: '0x0000000000000000000000000000000000000001' },
};
const POLICY: PolicyView = {
  allowedSignerSets: [[1, 2]],
  keyRatePerMinute: 10,
  tokenRatePerMinute: null,
  destinations: null,
  dailyValueLimit: '1000',
};
const TOKEN: TokenView = {
  id: 'tok-1',
  name: 'ops',
  role: 'signer',
  keyIds: ['key-1'],
  createdAt: '2025-01-01T00:00:00.000Z',
  revokedAt: null,
};

/** A fake service: canned answers, every call recorded, errors and delays on demand. */
class FakeService implements CoordinatorService {
  readonly calls: { method: string; args: unknown[] }[] = [];
  /** Thrown by the next non-authenticate call (then cleared). */
  failNext: unknown = null;
  /** When set, `sign` waits for it (to hold a request "running"). */
  gate: Promise<void> | null = null;
  healthStatus: HealthView['status'] = 'ok';

  #record(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
    if (this.failNext !== null) {
      const failure = this.failNext;
      this.failNext = null;
      throw failure;
    }
  }

  count(method: string): number {
    return this.calls.filter((call) => call.method === method).length;
  }

  async authenticate(token: string, requestId: string): Promise<Caller | null> {
    const roles: Record<string, [string, Role]> = {
      [ADMIN_TOKEN]: ['tok-admin', 'admin'],
      [SIGNER_TOKEN]: ['tok-signer', 'signer'],
    };
    const found = roles[token];
    return found ? { tokenId: found[0], role: found[1], keyIds: null, requestId } : null;
  }
  async createKey(caller: Caller, request: unknown): Promise<KeyView> {
    this.#record('createKey', caller, request);
    return KEY;
  }
  async listKeys(caller: Caller): Promise<KeyView[]> {
    this.#record('listKeys', caller);
    return [KEY];
  }
  async getKey(caller: Caller, id: string): Promise<KeyView> {
    this.#record('getKey', caller, id);
    return { ...KEY, id };
  }
  async derive(caller: Caller, id: string, request: { path: string }) {
    this.#record('derive', caller, id, request);
    return {
      path: request.path,
      publicKey: '03' + '33'.repeat(32),
      chainCode: '44'.repeat(32),
      addresses: { evm: '0x0000000000000000000000000000000000000002' },
    };
  }
  async sign(caller: Caller, id: string, request: unknown): Promise<SignatureView> {
    this.#record('sign', caller, id, request);
    if (this.gate) await this.gate;
    // A different signature each call, so a replay is visibly the stored one.
    const n = this.count('sign').toString(16).padStart(2, '0');
    return { signature: n.repeat(64), r: n.repeat(32), s: n.repeat(32), publicKey: KEY.publicKey };
  }
  async signTransaction(
    caller: Caller,
    id: string,
    request: TransactionRequest,
  ): Promise<Record<string, unknown>> {
    this.#record('signTransaction', caller, id, request);
    return { chain: request.chain };
  }
  async refresh(caller: Caller, id: string): Promise<{ epoch: number }> {
    this.#record('refresh', caller, id);
    return { epoch: 1 };
  }
  async getPolicy(caller: Caller, id: string): Promise<PolicyView> {
    this.#record('getPolicy', caller, id);
    return POLICY;
  }
  async putPolicy(caller: Caller, id: string, policy: PolicyView): Promise<PolicyView> {
    this.#record('putPolicy', caller, id, policy);
    return policy;
  }
  async audit(caller: Caller, request: { from?: number; limit?: number }): Promise<AuditView> {
    this.#record('audit', caller, request);
    return { entries: [], head: null };
  }
  async attestations(caller: Caller): Promise<AttestationView[]> {
    this.#record('attestations', caller);
    return [{ party: 1, document: 'AAAA', moduleId: 'm-1', timestamp: 1, pcrs: { '0': '00' } }];
  }
  async health(): Promise<HealthView> {
    this.#record('health');
    return {
      status: this.healthStatus,
      parties: [{ id: 1, healthy: this.healthStatus !== 'unavailable' }],
      healthy: this.healthStatus === 'unavailable' ? 0 : 1,
      threshold: 1,
    };
  }
  async createToken(caller: Caller, request: unknown): Promise<TokenView & { token: string }> {
    this.#record('createToken', caller, request);
    return { ...TOKEN, token: 'fresh-secret-token' };
  }
  async listTokens(caller: Caller): Promise<TokenView[]> {
    this.#record('listTokens', caller);
    return [TOKEN];
  }
  async revokeToken(caller: Caller, id: string): Promise<void> {
    this.#record('revokeToken', caller, id);
  }
}

/**
 * TEST DOUBLE of the metadata store's three idempotency methods, in memory, with the documented
 * semantics (claim inserts a running record or returns the one there, unchanged). The real
 * SQLite and PostgreSQL implementations are tested with the store.
 */
class IdempotencyStoreDouble implements IdempotencyStore {
  readonly records = new Map<string, IdempotencyRecord>();
  #id = (tokenId: string, key: string): string => `${tokenId}\u0000${key}`;

  async claimIdempotency(record: IdempotencyRecord): Promise<IdempotencyRecord | null> {
    const existing = this.records.get(this.#id(record.tokenId, record.key));
    if (existing) return existing;
    this.records.set(this.#id(record.tokenId, record.key), record);
    return null;
  }
  async completeIdempotency(tokenId: string, key: string, status: number, response: string) {
    const existing = this.records.get(this.#id(tokenId, key));
    assert.ok(existing && existing.status === null, 'completes a running claim');
    this.records.set(this.#id(tokenId, key), { ...existing, status, response });
  }
  async releaseIdempotency(tokenId: string, key: string): Promise<void> {
    this.records.delete(this.#id(tokenId, key));
  }
}

// -----------------------------------------------------------------------------------------------
// Harness

let service: FakeService;
let store: IdempotencyStoreDouble;
let metrics: Metrics;
let logLines: string[];
let app: Express;
let server: Server;
let base: string;

before(async () => {
  service = new FakeService();
  store = new IdempotencyStoreDouble();
  metrics = createMetrics({ defaultMetrics: false });
  logLines = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  app = createApp({ service, store, metrics, logger: createLogger({ destination }) });
  server = app.listen(0);
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  service.calls.length = 0;
  service.failNext = null;
  service.gate = null;
  service.healthStatus = 'ok';
});

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: any;
}

async function call(
  method: string,
  path: string,
  options: {
    token?: string | null;
    body?: unknown;
    raw?: string;
    contentType?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<Reply> {
  const token = options.token === undefined ? ADMIN_TOKEN : options.token;
  const raw =
    options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const headers: Record<string, string> = { ...options.headers };
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  if (raw !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(raw === undefined ? {} : { body: raw }),
  });
  const text = await response.text();
  let json: unknown = null;
  if (response.headers.get('content-type')?.startsWith('application/json')) json = JSON.parse(text);
  return { status: response.status, headers: response.headers, text, json };
}

/** The contract's error shape, exactly: `{"error":{"code","message","details"?}}`. */
function assertError(reply: Reply, status: number, code: ServiceErrorCode, message?: RegExp) {
  assert.equal(reply.status, status, reply.text);
  assert.deepEqual(Object.keys(reply.json), ['error']);
  assert.equal(reply.json.error.code, code);
  assert.equal(typeof reply.json.error.message, 'string');
  for (const field of Object.keys(reply.json.error)) {
    assert.ok(['code', 'message', 'details'].includes(field), `unexpected field ${field}`);
  }
  if (message) assert.match(reply.json.error.message, message);
}

const DIGEST = 'ab'.repeat(32);

/** One happy-path body per route with a body: the routes' tests and the OpenAPI check share them. */
const HAPPY_BODIES = {
  CreateKeyRequest: [
    { scheme: 'ecdsa-secp256k1', threshold: 2, parties: 3 },
    { scheme: 'eddsa-ed25519', threshold: 1, parties: 1, policy: { keyRatePerMinute: 5 } },
  ],
  DeriveRequest: [{ path: 'm/0/7' }, { path: 'm' }],
  SignRequest: [
    { digest: DIGEST.toUpperCase() },
    { message: 'deadBEEF', path: 'm/1', signers: [1, 3] },
    { message: '' },
  ],
  RefreshRequest: [{}],
  Policy: [POLICY],
  CreateTokenRequest: [
    { name: 'ops', role: 'signer', keyIds: ['key-1'] },
    { name: 'audit team', role: 'auditor', keyIds: null },
    { name: 'root', role: 'admin' },
  ],
  EvmTransactionRequest: [
    {
      type: 2,
      chainId: 1,
      nonce: 0,
      to: '0x' + 'ab'.repeat(20),
      value: '1000000000000000000',
      gasLimit: 21000,
      maxFeePerGas: '30000000000',
      maxPriorityFeePerGas: 1,
      data: '0x',
    },
    {
      type: 0,
      chainId: '5',
      nonce: 3,
      to: '0x' + '12'.repeat(20),
      value: 0,
      gasLimit: 50000,
      gasPrice: 7,
      data: '0xdeadbeef',
      path: 'm/0',
    },
  ],
  TaprootSpendRequest: [
    {
      // One input, one P2TR output: version 2, no witness yet.
      transaction:
        '02000000' +
        '01' +
        '11'.repeat(32) +
        '00000000' +
        '00' +
        'fdffffff' +
        '01' +
        'e803000000000000' +
        '22' +
        '5120' +
        '33'.repeat(32) +
        '00000000',
      inputIndex: 0,
      prevouts: [{ value: 2000, scriptPubKey: '5120' + '44'.repeat(32) }],
    },
  ],
  SolanaMessageRequest: [
    {
      message: Buffer.from([
        1,
        0,
        1,
        2,
        ...new Array<number>(32).fill(7),
        ...new Array<number>(32).fill(0),
        ...new Array<number>(32).fill(9),
        1,
        1,
        1,
        0,
        0,
      ]).toString('base64'),
    },
  ],
} as const;

// -----------------------------------------------------------------------------------------------
// Routes

describe('routes: happy paths', () => {
  test('POST /v1/keys/{id}/transactions/{chain} hands the service the decoded transaction', async () => {
    const chains = [
      ['evm', HAPPY_BODIES.EvmTransactionRequest],
      ['bitcoin-taproot', HAPPY_BODIES.TaprootSpendRequest],
      ['solana', HAPPY_BODIES.SolanaMessageRequest],
    ] as const;
    for (const [chain, bodies] of chains) {
      for (const body of bodies) {
        const reply = await call('POST', `/v1/keys/key-1/transactions/${chain}`, {
          body,
          token: SIGNER_TOKEN,
        });
        assert.equal(reply.status, 200, reply.text);
        assert.deepEqual(reply.json, { chain });
        const request = service.calls.at(-1)!.args[2] as TransactionRequest;
        assert.equal(request.chain, chain);
      }
      const refused = await call('POST', `/v1/keys/key-1/transactions/${chain}`, {
        body: { ...bodies[0], unexpected: true },
        token: SIGNER_TOKEN,
      });
      assert.equal(refused.status, 400, refused.text);
      const badPath = await call('POST', `/v1/keys/key-1/transactions/${chain}`, {
        body: { ...bodies[0], path: "m/0'" },
        token: SIGNER_TOKEN,
      });
      assert.equal(badPath.status, 400, badPath.text);
      assert.match(badPath.text, /path/);
    }
    const evm = service.calls.find((c) => c.method === 'signTransaction')!.args[2] as {
      body: { transaction: { value: bigint; to: Uint8Array } };
    };
    assert.equal(evm.body.transaction.value, 10n ** 18n);
  });

  test('POST /v1/keys answers 201 with the key; the service gets the parsed body', async () => {
    for (const body of HAPPY_BODIES.CreateKeyRequest) {
      const reply = await call('POST', '/v1/keys', { body });
      assert.equal(reply.status, 201, reply.text);
      assert.deepEqual(reply.json, KEY);
      assert.match(reply.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(reply.headers.get('cache-control'), 'no-store');
    }
    assert.deepEqual(service.calls[0]!.args[1], HAPPY_BODIES.CreateKeyRequest[0]);
    assert.deepEqual(service.calls[1]!.args[1], HAPPY_BODIES.CreateKeyRequest[1]);
  });

  test('GET /v1/keys and GET /v1/keys/{id}', async () => {
    const list = await call('GET', '/v1/keys');
    assert.equal(list.status, 200);
    assert.deepEqual(list.json, [KEY]);
    const one = await call('GET', '/v1/keys/key.A_b-9');
    assert.equal(one.status, 200);
    assert.equal(one.json.id, 'key.A_b-9');
    assert.equal(service.calls[1]!.args[1], 'key.A_b-9');
  });

  test('POST /v1/keys/{id}/derive', async () => {
    const reply = await call('POST', '/v1/keys/key-1/derive', { body: { path: 'm/0/7' } });
    assert.equal(reply.status, 200);
    assert.equal(reply.json.path, 'm/0/7');
    assert.deepEqual(service.calls[0]!.args.slice(1), ['key-1', { path: 'm/0/7' }]);
  });

  test('POST /v1/keys/{id}/sign: digest (hex lowercased) or message, path, signers', async () => {
    for (const body of HAPPY_BODIES.SignRequest) {
      const reply = await call('POST', '/v1/keys/key-1/sign', { token: SIGNER_TOKEN, body });
      assert.equal(reply.status, 200, reply.text);
      assert.equal(reply.json.signature.length, 128);
    }
    assert.deepEqual(service.calls[0]!.args[2], { digest: DIGEST });
    assert.deepEqual(service.calls[1]!.args[2], {
      message: 'deadbeef',
      path: 'm/1',
      signers: [1, 3],
    });
    assert.equal((service.calls[0]!.args[0] as Caller).tokenId, 'tok-signer');
  });

  test('POST /v1/keys/{id}/refresh with no body or {}', async () => {
    const bare = await call('POST', '/v1/keys/key-1/refresh');
    assert.equal(bare.status, 200, bare.text);
    assert.deepEqual(bare.json, { epoch: 1 });
    const empty = await call('POST', '/v1/keys/key-1/refresh', { body: {} });
    assert.equal(empty.status, 200);
    assert.equal(service.count('refresh'), 2);
  });

  test('GET and PUT /v1/keys/{id}/policy', async () => {
    const got = await call('GET', '/v1/keys/key-1/policy');
    assert.equal(got.status, 200);
    assert.deepEqual(got.json, POLICY);
    const put = await call('PUT', '/v1/keys/key-1/policy', { body: POLICY });
    assert.equal(put.status, 200);
    assert.deepEqual(service.calls[1]!.args.slice(1), ['key-1', POLICY]);
  });

  test('GET /v1/audit passes from and limit as numbers', async () => {
    const reply = await call('GET', '/v1/audit?from=3&limit=1000');
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reply.json, { entries: [], head: null });
    assert.deepEqual(service.calls[0]!.args[1], { from: 3, limit: 1000 });
    assert.equal((await call('GET', '/v1/audit')).status, 200);
    assert.deepEqual(service.calls[1]!.args[1], {});
  });

  test('GET /v1/attestations', async () => {
    const reply = await call('GET', '/v1/attestations');
    assert.equal(reply.status, 200);
    assert.equal(reply.json[0].party, 1);
  });

  test('POST /v1/tokens (201), GET /v1/tokens, DELETE /v1/tokens/{id} (204, no body)', async () => {
    const created = await call('POST', '/v1/tokens', { body: HAPPY_BODIES.CreateTokenRequest[0] });
    assert.equal(created.status, 201);
    assert.equal(created.json.token, 'fresh-secret-token');
    const list = await call('GET', '/v1/tokens');
    assert.deepEqual(list.json, [TOKEN]);
    const revoked = await call('DELETE', '/v1/tokens/tok-1');
    assert.equal(revoked.status, 204);
    assert.equal(revoked.text, '');
    assert.deepEqual(service.calls[2]!.args.slice(1), ['tok-1']);
  });

  test('GET /healthz needs no token: 200 when ok or degraded, 503 when unavailable', async () => {
    for (const [status, code] of [
      ['ok', 200],
      ['degraded', 200],
      ['unavailable', 503],
    ] as const) {
      service.healthStatus = status;
      const reply = await call('GET', '/healthz', { token: null });
      assert.equal(reply.status, code);
      assert.equal(reply.json.status, status);
    }
  });

  test('GET /metrics needs no token and shows http_requests_total by route pattern', async () => {
    await call('GET', '/v1/keys/key-1');
    const reply = await call('GET', '/metrics', { token: null });
    assert.equal(reply.status, 200);
    assert.match(reply.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(reply.text, /# TYPE http_requests_total counter/);
    assert.match(
      reply.text,
      /http_requests_total\{method="GET",route="\/v1\/keys\/:id",status="200"\} \d+/,
    );
    assert.match(reply.text, /http_request_duration_seconds_bucket/);
    assert.match(reply.text, /# TYPE ceremony_duration_seconds histogram/);
    assert.doesNotMatch(reply.text, /key-1/, 'ids never become labels');
  });

  test('GET /openapi.json needs no token', async () => {
    const reply = await call('GET', '/openapi.json', { token: null });
    assert.equal(reply.status, 200);
    assert.equal(reply.json.openapi, '3.1.0');
    assert.deepEqual(reply.json, JSON.parse(JSON.stringify(openApiDocument)));
  });
});

// -----------------------------------------------------------------------------------------------
// Authentication

describe('authentication', () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ['missing header', {}, /missing Authorization/],
    ['another scheme', { authorization: `Basic ${ADMIN_TOKEN}` }, /must be "Bearer <token>"/],
    ['no token', { authorization: 'Bearer ' }, /must be "Bearer <token>"/],
    ['a space inside', { authorization: 'Bearer a b' }, /must be "Bearer <token>"/],
    ['unknown token', { authorization: 'Bearer nope' }, /unknown or revoked/],
  ];
  for (const [name, headers, message] of cases) {
    test(`401 on ${name}, with WWW-Authenticate: Bearer, before anything runs`, async () => {
      const reply = await call('POST', '/v1/keys', {
        token: null,
        headers,
        body: HAPPY_BODIES.CreateKeyRequest[0],
      });
      assertError(reply, 401, 'UNAUTHORIZED', message);
      assert.match(reply.headers.get('www-authenticate') ?? '', /^Bearer realm="mpc-kms"/);
      assert.equal(service.calls.length, 0);
    });
  }

  test('the scheme name is case-insensitive; an invalid body without a token is still 401', async () => {
    assert.equal(
      (
        await call('GET', '/v1/keys', {
          token: null,
          headers: { authorization: `bearer ${ADMIN_TOKEN}` },
        })
      ).status,
      200,
    );
    const reply = await call('POST', '/v1/keys', { token: null, raw: '{nope' });
    assertError(reply, 401, 'UNAUTHORIZED');
  });
});

// -----------------------------------------------------------------------------------------------
// Validation

describe('validation: 400 BAD_REQUEST with a precise message', () => {
  type Probe = { body?: unknown; raw?: string; contentType?: string };
  const key = HAPPY_BODIES.CreateKeyRequest[0];
  const ed = (fields: object) => ({ body: { scheme: 'eddsa-ed25519', ...fields } });
  const digest = (fields: object) => ({ body: { digest: DIGEST, ...fields } });
  const policy = (fields: object) => ({ body: { ...POLICY, ...fields } });
  const token = (fields: object) => ({ body: { name: 'n', role: 'signer', ...fields } });
  const none: Probe = {};
  /** Per route: [what is wrong, the request, the message expected]. */
  const cases: Record<string, [string, Probe, RegExp][]> = {
    'POST /v1/keys': [
      ['unknown field', { body: { ...key, extra: 1 } }, /^body: unknown field "extra"$/],
      [
        'unknown policy field',
        { body: { ...key, policy: { rate: 1 } } },
        /^policy: unknown field "rate"$/,
      ],
      ['unknown scheme', { body: { ...key, scheme: 'rsa' } }, /^scheme: must be one of/],
      [
        'threshold as a string',
        ed({ threshold: '2', parties: 3 }),
        /^threshold: must be an integer from 1 to 255$/,
      ],
      [
        'threshold 0',
        ed({ threshold: 0, parties: 3 }),
        /^threshold: must be an integer from 1 to 255$/,
      ],
      [
        'parties 256',
        ed({ threshold: 1, parties: 256 }),
        /^parties: must be an integer from 1 to 255$/,
      ],
      [
        'fractional threshold',
        ed({ threshold: 1.5, parties: 3 }),
        /^threshold: must be an integer/,
      ],
      ['a missing field', ed({ threshold: 1 }), /^parties: is required$/],
      ['an array body', { body: [] }, /^body: must be a JSON object$/],
      ['no body', none, /^request body is required/],
      ['invalid JSON', { raw: '{"scheme":' }, /^request body is not valid JSON/],
      ['a bare JSON string (strict)', { raw: '"x"' }, /^request body is not valid JSON/],
      [
        'text/plain',
        { raw: JSON.stringify(key), contentType: 'text/plain' },
        /^Content-Type must be application\/json$/,
      ],
      [
        'a JSON body without Content-Type',
        { raw: JSON.stringify(key), contentType: '' },
        /^Content-Type must be/,
      ],
    ],
    'POST /v1/keys/key-1/sign': [
      [
        'bad hex digest',
        { body: { digest: 'zz'.repeat(32) } },
        /^digest: must be 64 hex characters/,
      ],
      ['short digest', { body: { digest: 'ab'.repeat(31) } }, /^digest: must be 64 hex/],
      ['odd-length message', { body: { message: 'abc' } }, /^message: must be hex of even length/],
      ['message over 64 KiB', { body: { message: 'ab'.repeat(65537) } }, /at most 65536 bytes$/],
      [
        'digest and message',
        digest({ message: 'ab' }),
        /^body: give exactly one of "digest" and "message"$/,
      ],
      ['neither digest nor message', { body: { path: 'm/1' } }, /^body: give exactly one of/],
      [
        'repeated signers',
        digest({ signers: [1, 1] }),
        /^signers: must be an array of distinct party ids$/,
      ],
      ['signer 0', digest({ signers: [0, 1] }), /^signers\[0\]: must be an integer from 1 to 255$/],
      ['no signers', digest({ signers: [] }), /^signers: must be a non-empty array/],
      ['a hardened path', digest({ path: 'm/1h' }), /^path: must be non-hardened/],
    ],
    'POST /v1/keys/key-1/derive': [
      ['a hardened level', { body: { path: "m/0'/1" } }, /^path: must be non-hardened/],
      ['an empty level', { body: { path: 'm//1' } }, /^path: must be "m" followed by/],
      ['no leading m', { body: { path: '0/1' } }, /^path: must be "m" followed by/],
      ['index 2^31', { body: { path: 'm/2147483648' } }, /below 2\^31/],
      ['an index past 2^53', { body: { path: 'm/99999999999999999999' } }, /below 2\^31/],
      [
        'depth 256',
        { body: { path: 'm' + '/1'.repeat(256) } },
        /^path: must have at most 255 levels$/,
      ],
      ['a number', { body: { path: 7 } }, /^path: must be a string/],
    ],
    'POST /v1/keys/key-1/refresh': [
      ['a field', { body: { force: true } }, /^body: unknown field "force"$/],
    ],
    'PUT /v1/keys/key-1/policy': [
      ['a missing field', policy({ destinations: undefined }), /^destinations: is required$/],
      [
        'a leading zero',
        policy({ dailyValueLimit: '01' }),
        /^dailyValueLimit: must be null or a decimal/,
      ],
      [
        'an empty signer set',
        policy({ allowedSignerSets: [[]] }),
        /^allowedSignerSets\[0\]: must be a non-empty/,
      ],
      ['rate 0', policy({ keyRatePerMinute: 0 }), /^keyRatePerMinute: must be null or an integer/],
      ['no body', none, /^request body is required/],
    ],
    'POST /v1/tokens': [
      [
        'unknown role',
        token({ role: 'root' }),
        /^role: must be one of "admin", "signer", "auditor"$/,
      ],
      ['a newline in the name', token({ name: 'a\nb' }), /^name: must be a string of 1 to 128/],
      ['an empty name', token({ name: '' }), /^name: must be a string of 1 to 128/],
      ['a bad key id', token({ keyIds: ['a/b'] }), /^keyIds\[0\]: must be 1 to 128 characters/],
    ],
    'GET /v1/audit?limit=1001': [
      ['limit 1001', none, /^limit: must be an integer from 1 to 1000$/],
    ],
    'GET /v1/audit?limit=0': [['limit 0', none, /^limit: must be an integer from 1 to 1000$/]],
    'GET /v1/audit?from=-1': [['from -1', none, /^from: must be an integer/]],
    'GET /v1/audit?from=1e3': [['from in exponent form', none, /^from: must be an integer/]],
    'GET /v1/audit?limit=1&limit=2': [['limit twice', none, /^limit: .*given once$/]],
    'GET /v1/audit?page=2': [
      ['an unknown parameter', none, /^query: unknown query parameter "page"$/],
    ],
    'GET /v1/keys/a%20b': [['a space in the id', none, /^id: must be 1 to 128 characters/]],
    [`GET /v1/keys/${'k'.repeat(129)}`]: [['a 129-character id', none, /^id: must be 1 to 128/]],
    'DELETE /v1/tokens/a%2Fb': [['a slash in the id', none, /^id: must be 1 to 128/]],
    'GET /v1/keys/%E0%A4%A': [['a malformed %-escape', none, /^malformed request$/]],
  };
  for (const [route, list] of Object.entries(cases)) {
    const [method, path] = route.split(' ') as [string, string];
    for (const [name, request, message] of list) {
      test(`${route.slice(0, 40)}: ${name}`, async () => {
        const reply = await call(method, path, request);
        assertError(reply, 400, 'BAD_REQUEST', message);
        assert.equal(service.calls.length, 0, 'the service never sees an invalid request');
      });
    }
  }

  test('an oversize body is 400 naming the limit (not 413)', async () => {
    const reply = await call('POST', '/v1/keys/key-1/sign', {
      raw: JSON.stringify({ message: 'a'.repeat(300 * 1024) }),
    });
    assertError(reply, 400, 'BAD_REQUEST', /body larger than 262144 bytes/);
    assert.deepEqual(reply.json.error.details, { limitBytes: 262144 });
  });

  test('400 details list each issue with its path', async () => {
    const reply = await call('POST', '/v1/keys', {
      body: { scheme: 'x', threshold: 0, parties: 1, extra: true },
    });
    assertError(reply, 400, 'BAD_REQUEST');
    assert.deepEqual(
      reply.json.error.details.issues.map((issue: { path: string }) => issue.path).sort(),
      ['body', 'scheme', 'threshold'],
    );
  });

  test('a bad Idempotency-Key is 400', async () => {
    for (const key of ['k'.repeat(256), 'tab\there', 'é']) {
      const reply = await call('POST', '/v1/keys/key-1/sign', {
        body: { digest: DIGEST },
        headers: { 'idempotency-key': key },
      });
      assertError(reply, 400, 'BAD_REQUEST', /Idempotency-Key must be 1 to 255 printable ASCII/);
    }
    assert.equal(service.calls.length, 0);
  });

  test('Idempotency-Key on POST /v1/tokens is refused: its answer holds a new token', async () => {
    const reply = await call('POST', '/v1/tokens', {
      body: HAPPY_BODIES.CreateTokenRequest[0],
      headers: { 'idempotency-key': 'k1' },
    });
    assertError(reply, 400, 'BAD_REQUEST', /not accepted here/);
    assert.equal(store.records.size, 0);
  });

  test('threshold > parties passes validation: the service decides (422)', async () => {
    service.failNext = new ServiceError('UNPROCESSABLE', 'threshold 3 exceeds parties 2');
    const reply = await call('POST', '/v1/keys', {
      body: { scheme: 'eddsa-ed25519', threshold: 3, parties: 2 },
    });
    assertError(reply, 422, 'UNPROCESSABLE', /threshold 3 exceeds parties 2/);
  });
});

// -----------------------------------------------------------------------------------------------
// Errors

describe('errors', () => {
  for (const [code, status] of Object.entries(STATUS_OF) as [ServiceErrorCode, number][]) {
    test(`ServiceError ${code} is ${status} with the error shape`, async () => {
      service.failNext = new ServiceError(code, `refused: ${code}`, { rule: 'r1' });
      const reply = await call('GET', '/v1/keys/key-1');
      assertError(reply, status, code, new RegExp(`refused: ${code}`));
      assert.deepEqual(reply.json.error.details, { rule: 'r1' });
    });
  }

  test('no details, no details field', async () => {
    service.failNext = new ServiceError('NOT_FOUND', 'unknown key key-9');
    const reply = await call('GET', '/v1/keys/key-9');
    assert.deepEqual(reply.json, { error: { code: 'NOT_FOUND', message: 'unknown key key-9' } });
  });

  test('429 sets Retry-After from details.retryAfterSeconds', async () => {
    service.failNext = new ServiceError('RATE_LIMITED', 'slow down', { retryAfterSeconds: 1.2 });
    const reply = await call('POST', '/v1/keys/key-1/sign', { body: { digest: DIGEST } });
    assertError(reply, 429, 'RATE_LIMITED');
    assert.equal(reply.headers.get('retry-after'), '2');
  });

  test('unknown routes and methods are 404 NOT_FOUND', async () => {
    for (const [method, path] of [
      ['GET', '/v1/nope'],
      ['DELETE', '/v1/keys'],
      ['GET', '/v1/keys/'],
      ['GET', '/V1/KEYS'],
      ['OPTIONS', '/v1/keys'],
      ['POST', '/healthz'],
    ] as const) {
      const reply = await call(method, path);
      assertError(reply, 404, 'NOT_FOUND', /no route/);
    }
  });

  test('an unexpected throw is 500 INTERNAL with a generic message; the log keeps the cause', async () => {
    service.failNext = new TypeError('db exploded at /var/lib/secret.db');
    const reply = await call('GET', '/v1/keys');
    assert.deepEqual(reply.json, { error: { code: 'INTERNAL', message: 'internal error' } });
    assert.equal(reply.status, 500);
    assert.doesNotMatch(reply.text, /exploded|TypeError|at /);
    const logged = logLines
      .map((line) => JSON.parse(line))
      .filter((line) => line.msg === 'unexpected error')
      .at(-1);
    assert.deepEqual(logged.error, {
      name: 'TypeError',
      message: 'db exploded at /var/lib/secret.db',
    });
  });
});

// -----------------------------------------------------------------------------------------------
// Idempotency

describe('Idempotency-Key', () => {
  let n = 0;
  const fresh = (): Record<string, string> => ({ 'idempotency-key': `key ${++n} ~!` });

  test('a retry replays the stored answer byte for byte; the ceremony ran once', async () => {
    const headers = fresh();
    const first = await call('POST', '/v1/keys/key-1/sign', { body: { digest: DIGEST }, headers });
    const again = await call('POST', '/v1/keys/key-1/sign', {
      // Same request, other spelling: field order and hex case do not matter.
      raw: `{ "digest" : "${DIGEST.toUpperCase()}" }`,
      headers,
    });
    assert.equal(first.status, 200);
    assert.equal(service.count('sign'), 1);
    assert.equal(again.status, 200);
    assert.equal(again.text, first.text);
    assert.equal(again.headers.get('idempotent-replay'), 'true');
    assert.equal(first.headers.get('idempotent-replay'), null);
  });

  test('a replayed 201 stays 201', async () => {
    const headers = fresh();
    const body = HAPPY_BODIES.CreateKeyRequest[0];
    const first = await call('POST', '/v1/keys', { body, headers });
    const again = await call('POST', '/v1/keys', { body, headers });
    assert.equal(first.status, 201);
    assert.equal(again.status, 201);
    assert.equal(again.text, first.text);
    assert.equal(service.count('createKey'), 1);
  });

  test('a refresh without a body replays too', async () => {
    const headers = fresh();
    await call('POST', '/v1/keys/key-1/refresh', { headers });
    const again = await call('POST', '/v1/keys/key-1/refresh', { body: {}, headers });
    assert.equal(again.headers.get('idempotent-replay'), 'true');
    assert.equal(service.count('refresh'), 1);
  });

  test('the same key for another request is 422 (body, path or route differ)', async () => {
    const headers = fresh();
    await call('POST', '/v1/keys/key-1/sign', { body: { digest: DIGEST }, headers });
    for (const [path, body] of [
      ['/v1/keys/key-1/sign', { digest: 'cd'.repeat(32) }],
      ['/v1/keys/key-2/sign', { digest: DIGEST }],
      ['/v1/keys/key-1/derive', { path: 'm/1' }],
    ] as const) {
      const reply = await call('POST', path, { body, headers });
      assertError(reply, 422, 'UNPROCESSABLE', /Idempotency-Key reused with a different request/);
    }
    assert.equal(service.calls.length, 1);
  });

  test('keys are scoped to the token: another token with the same key runs its own request', async () => {
    const headers = fresh();
    await call('POST', '/v1/keys/key-1/sign', { body: { digest: DIGEST }, headers });
    const other = await call('POST', '/v1/keys/key-1/sign', {
      token: SIGNER_TOKEN,
      body: { digest: DIGEST },
      headers,
    });
    assert.equal(other.headers.get('idempotent-replay'), null);
    assert.equal(service.count('sign'), 2);
  });

  test('a duplicate while the first still runs is 409; afterwards it replays', async () => {
    const headers = fresh();
    let open!: () => void;
    service.gate = new Promise<void>((resolve) => (open = resolve));
    const first = call('POST', '/v1/keys/key-1/sign', { body: { digest: DIGEST }, headers });
    while (service.count('sign') === 0) await new Promise((r) => setTimeout(r, 2));
    const duplicate = await call('POST', '/v1/keys/key-1/sign', {
      body: { digest: DIGEST },
      headers,
    });
    assertError(duplicate, 409, 'CONFLICT', /still running/);
    open();
    assert.equal((await first).status, 200);
    const later = await call('POST', '/v1/keys/key-1/sign', { body: { digest: DIGEST }, headers });
    assert.equal(later.headers.get('idempotent-replay'), 'true');
    assert.equal(service.count('sign'), 1);
  });

  test('a final refusal (403) is stored and replayed without running again', async () => {
    const headers = fresh();
    service.failNext = new ServiceError('FORBIDDEN', 'signer set not allowed');
    const first = await call('POST', '/v1/keys/key-1/sign', { body: { digest: DIGEST }, headers });
    const again = await call('POST', '/v1/keys/key-1/sign', { body: { digest: DIGEST }, headers });
    assertError(first, 403, 'FORBIDDEN');
    assertError(again, 403, 'FORBIDDEN');
    assert.equal(again.headers.get('idempotent-replay'), 'true');
    assert.equal(service.count('sign'), 1);
  });

  for (const [code, failure] of [
    ['503 UNAVAILABLE', new ServiceError('UNAVAILABLE', 'no quorum', { missing: [3] })],
    ['429 RATE_LIMITED', new ServiceError('RATE_LIMITED', 'slow down', { retryAfterSeconds: 1 })],
    ['500 INTERNAL', new Error('boom')],
  ] as const) {
    test(`${code} is not stored: the claim is released and a retry runs`, async () => {
      const headers = fresh();
      service.failNext = failure;
      const first = await call('POST', '/v1/keys/key-1/sign', {
        body: { digest: DIGEST },
        headers,
      });
      assert.ok(first.status >= 429);
      const retry = await call('POST', '/v1/keys/key-1/sign', {
        body: { digest: DIGEST },
        headers,
      });
      assert.equal(retry.status, 200);
      assert.equal(retry.headers.get('idempotent-replay'), null);
      assert.equal(service.count('sign'), 2);
    });
  }

  test('PUT ignores the header (it is idempotent by itself)', async () => {
    const headers = fresh();
    await call('PUT', '/v1/keys/key-1/policy', { body: POLICY, headers });
    await call('PUT', '/v1/keys/key-1/policy', { body: POLICY, headers });
    assert.equal(service.count('putPolicy'), 2);
  });

  test('a failing validation claims nothing', async () => {
    const headers = fresh();
    const before = store.records.size;
    await call('POST', '/v1/keys/key-1/sign', { body: { digest: 'x' }, headers });
    assert.equal(store.records.size, before);
  });
});

// -----------------------------------------------------------------------------------------------
// Request ids and logs

describe('request ids and logs', () => {
  test('a well-formed X-Request-Id is echoed and reaches the service; others are replaced', async () => {
    const echoed = await call('GET', '/v1/keys', { headers: { 'x-request-id': 'abc-123' } });
    assert.equal(echoed.headers.get('x-request-id'), 'abc-123');
    assert.equal((service.calls[0]!.args[0] as Caller).requestId, 'abc-123');
    for (const offered of ['has space', 'x'.repeat(65), 'semi;colon']) {
      const reply = await call('GET', '/v1/keys', { headers: { 'x-request-id': offered } });
      assert.match(reply.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    }
    const unrouted = await call('GET', '/nowhere', { token: null });
    assert.match(unrouted.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  test('one line per request with method, route pattern, status, ms and token id; never secrets', async () => {
    logLines.length = 0;
    const message = 'cafe'.repeat(8);
    await call('POST', '/v1/keys/key-1/sign', {
      token: SIGNER_TOKEN,
      body: { message },
      headers: { 'x-request-id': 'log-test-1' },
    });
    await call('GET', '/v1/keys', { token: 'wrong-token-value' });
    // The line is written on 'finish', which may follow the client's read by a tick.
    await new Promise((r) => setTimeout(r, 20));
    const lines = logLines.map((line) => JSON.parse(line));
    const signed = lines.find((l) => l.requestId === 'log-test-1');
    assert.deepEqual(
      { ...signed, time: 0, pid: 0, hostname: '', ms: 0 },
      {
        level: 30,
        time: 0,
        pid: 0,
        hostname: '',
        requestId: 'log-test-1',
        method: 'POST',
        route: '/v1/keys/:id/sign',
        status: 200,
        ms: 0,
        tokenId: 'tok-signer',
        msg: 'request',
      },
    );
    assert.equal(lines.filter((l) => l.msg === 'request').length, 2);
    const all = logLines.join('\n');
    for (const secret of [SIGNER_TOKEN, 'wrong-token-value', message, 'key-1']) {
      assert.ok(!all.includes(secret), `log mentions ${secret}`);
    }
  });

  test('the logger censors tokens, Authorization headers and secret* keys if someone logs them', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const log = createLogger({ destination });
    log.info({
      token: 't1',
      caller: { token: 't2' },
      req: { headers: { authorization: 'Bearer t3' } },
      secretShare: 's1',
      nested: { secrets: ['s2'], kept: 'visible' },
    });
    const text = lines.join('');
    for (const hidden of ['t1', 't2', 't3', 's1', 's2']) assert.ok(!text.includes(`"${hidden}"`));
    assert.ok(!text.includes('Bearer t3'));
    assert.ok(text.includes('visible'));
  });
});

// -----------------------------------------------------------------------------------------------
// OpenAPI

/** Express 5 route patterns (`/v1/keys/:id`) in OpenAPI form (`/v1/keys/{id}`), with methods. */
function registeredRoutes(express: Express): string[] {
  const out: string[] = [];
  const stack = (
    express.router as unknown as {
      stack: { route?: { path: string; methods: Record<string, boolean> } }[];
    }
  ).stack;
  for (const layer of stack) {
    if (!layer.route) continue;
    const path = layer.route.path.replace(/:(\w+)/g, '{$1}');
    for (const [method, on] of Object.entries(layer.route.methods))
      if (on) out.push(`${method} ${path}`);
  }
  return out.sort();
}

/**
 * Just enough JSON Schema 2020-12 to check the document's request schemas against bodies: the
 * keywords zod emits and the document uses. Returns the first failure, or null.
 */
function validate(schema: any, value: unknown, at = '$'): string | null {
  if (schema.$ref) {
    const name = String(schema.$ref).replace('#/components/schemas/', '');
    return validate((openApiDocument.components.schemas as any)[name], value, at);
  }
  const typeOf = (v: unknown): string =>
    v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v;
  if (schema.type !== undefined) {
    const actual = typeOf(value);
    const allowed = [schema.type].flat();
    if (!allowed.includes(actual) && !(actual === 'integer' && allowed.includes('number'))) {
      return `${at}: ${actual} is not ${allowed.join('|')}`;
    }
  }
  if (schema.enum && !schema.enum.includes(value)) return `${at}: not in enum`;
  if (schema.const !== undefined && schema.const !== value) return `${at}: not the const`;
  if (typeof value === 'string') {
    if (schema.pattern && !new RegExp(schema.pattern, 'u').test(value)) return `${at}: pattern`;
    if (schema.minLength !== undefined && value.length < schema.minLength) return `${at}: short`;
    if (schema.maxLength !== undefined && value.length > schema.maxLength) return `${at}: long`;
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) return `${at}: below minimum`;
    if (schema.maximum !== undefined && value > schema.maximum) return `${at}: above maximum`;
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) return `${at}: few items`;
    if (schema.maxItems !== undefined && value.length > schema.maxItems) return `${at}: many items`;
    if (schema.uniqueItems && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) {
      return `${at}: repeated items`;
    }
    for (const [i, item] of value.entries()) {
      const failure = schema.items ? validate(schema.items, item, `${at}[${i}]`) : null;
      if (failure) return failure;
    }
  }
  if (typeOf(value) === 'object') {
    const record = value as Record<string, unknown>;
    for (const name of schema.required ?? [])
      if (!(name in record)) return `${at}.${name}: missing`;
    for (const [name, item] of Object.entries(record)) {
      const sub = schema.properties?.[name];
      if (sub) {
        const failure = validate(sub, item, `${at}.${name}`);
        if (failure) return failure;
      } else if (schema.additionalProperties === false) {
        return `${at}.${name}: not allowed`;
      }
    }
  }
  for (const sub of schema.allOf ?? []) {
    const failure = validate(sub, value, at);
    if (failure) return failure;
  }
  if (schema.anyOf && schema.anyOf.every((sub: unknown) => validate(sub, value, at) !== null)) {
    return `${at}: matches no anyOf`;
  }
  if (schema.oneOf) {
    const matches = schema.oneOf.filter((sub: unknown) => validate(sub, value, at) === null).length;
    if (matches !== 1) return `${at}: matches ${matches} of oneOf`;
  }
  return null;
}

describe('OpenAPI document', () => {
  test("its paths and methods are exactly the router's routes", () => {
    const documented: string[] = [];
    for (const [path, operations] of Object.entries(openApiDocument.paths)) {
      for (const method of Object.keys(operations)) documented.push(`${method} ${path}`);
    }
    const registered = registeredRoutes(app);
    assert.equal(registered.length, 19);
    assert.deepEqual(documented.sort(), registered);
  });

  test('each request body schema accepts the happy-path bodies and refuses an unknown field', () => {
    for (const [name, bodies] of Object.entries(HAPPY_BODIES)) {
      const schema = (openApiDocument.components.schemas as Record<string, unknown>)[name];
      assert.ok(schema, `${name} is documented`);
      for (const body of bodies)
        assert.equal(validate(schema, body), null, `${name}: ${JSON.stringify(body)}`);
      assert.notEqual(validate(schema, { ...bodies[0], unexpected: 1 }), null, `${name} is strict`);
    }
    const sign = openApiDocument.components.schemas.SignRequest;
    assert.notEqual(validate(sign, { digest: DIGEST, message: 'ab' }), null, 'oneOf holds');
    assert.notEqual(validate(sign, {}), null);
    assert.notEqual(validate(sign, { digest: DIGEST, signers: [2, 2] }), null, 'uniqueItems');
    assert.notEqual(
      validate(openApiDocument.components.schemas.DeriveRequest, { path: "m/1'" }),
      null,
    );
  });

  test('every operation with a body names a documented schema; every POST but tokens takes Idempotency-Key', () => {
    for (const [path, operations] of Object.entries(openApiDocument.paths)) {
      for (const [method, operation] of Object.entries(operations) as [string, any][]) {
        const ref = operation.requestBody?.content['application/json'].schema.$ref;
        if (ref) assert.ok(validate({ $ref: ref }, undefined) !== undefined);
        const idempotent = (operation.parameters ?? []).some(
          (p: { $ref?: string }) => p.$ref === '#/components/parameters/Idempotency-Key',
        );
        assert.equal(idempotent, method === 'post' && path !== '/v1/tokens', `${method} ${path}`);
        if (!['/healthz', '/metrics', '/openapi.json'].includes(path)) {
          assert.ok(operation.responses['401'], `${method} ${path} documents 401`);
        }
      }
    }
  });
});
