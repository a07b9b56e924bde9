/**
 * The OpenAPI 3.1 description of the REST API, served at `GET /openapi.json`.
 *
 * Request bodies are generated from the zod schemas that app.ts validates with (zod 4's
 * `toJSONSchema`, input side), so what the document promises is what the server checks. Two
 * rules live in code rather than in the schemas and are added here by hand: "exactly one of
 * digest and message" (as a `oneOf`) and the syntax of a derivation path (as a pattern).
 * Responses are written out from the view types of service-types.ts.
 *
 * The route list is kept by hand, beside app.ts's; test/http-app.test.ts walks Express's router
 * and fails when the two differ.
 */
import { z } from 'zod';
import {
  MAX_AUDIT_LIMIT,
  createKeyBodySchema,
  createTokenBodySchema,
  deriveBodySchema,
  policyBodySchema,
  refreshBodySchema,
  signBodySchema,
  evmTransactionBodySchema,
  solanaMessageBodySchema,
  taprootSpendBodySchema,
} from './schemas.js';

type Json = Record<string, unknown>;

/** A request schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), without `$schema`. */
function requestSchema(schema: z.ZodType): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input' }) as Json;
  return rest;
}

const hex = (description: string, bytes?: number): Json => ({
  type: 'string',
  pattern: bytes === undefined ? '^([0-9a-f]{2})*$' : `^[0-9a-f]{${bytes * 2}}$`,
  description,
});
const nullable = (schema: Json): Json => ({ anyOf: [schema, { type: 'null' }] });
const object = (properties: Record<string, Json>, optional: readonly string[] = []): Json => ({
  type: 'object',
  properties,
  required: Object.keys(properties).filter((name) => !optional.includes(name)),
});
const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const isoTime: Json = { type: 'string', format: 'date-time' };

const ERROR_CODES = [
  'BAD_REQUEST',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'UNPROCESSABLE',
  'RATE_LIMITED',
  'UNAVAILABLE',
  'INTERNAL',
];

const schemas: Record<string, Json> = {
  Error: {
    ...object({
      error: object(
        {
          code: { type: 'string', enum: ERROR_CODES },
          message: { type: 'string', description: 'For people; never holds a secret.' },
          details: {
            type: 'object',
            description:
              'Machine-readable context: `issues` for a 400, the refusing policy rule, the ' +
              'missing parties, `retryAfterSeconds` for a 429.',
          },
        },
        ['details'],
      ),
    }),
  },

  CreateKeyRequest: {
    ...requestSchema(createKeyBodySchema),
    description: 'threshold > parties is well-formed but unsatisfiable: 422, not 400.',
  },
  DeriveRequest: requestSchema(deriveBodySchema),
  SignRequest: {
    ...requestSchema(signBodySchema),
    description:
      '`digest` (32 bytes) for ECDSA and BIP340 keys, `message` for Ed25519: exactly one.',
    oneOf: [{ required: ['digest'] }, { required: ['message'] }],
  },
  EvmTransactionRequest: {
    ...requestSchema(evmTransactionBodySchema),
    description:
      'type 2 (EIP-1559) or type 0 (legacy, EIP-155). Integers as JSON numbers (safe integers) ' +
      'or decimal strings; data as 0x-hex; to as a 0x address (a mixed-case one must carry a ' +
      'valid EIP-55 checksum).',
  },
  TaprootSpendRequest: {
    ...requestSchema(taprootSpendBodySchema),
    description:
      'One input of an unsigned transaction (hex), spent by key path from this key’s BIP86 ' +
      'output; prevouts lists every input’s spent output (BIP341 signs them all).',
  },
  SolanaMessageRequest: {
    ...requestSchema(solanaMessageBodySchema),
    description: 'A serialized Solana message (legacy or v0), base64; the key must be a signer.',
  },
  RefreshRequest: requestSchema(refreshBodySchema),
  Policy: requestSchema(policyBodySchema),
  CreateTokenRequest: requestSchema(createTokenBodySchema),

  Key: object({
    id: { type: 'string' },
    scheme: {
      type: 'string',
      enum: ['ecdsa-secp256k1', 'schnorr-secp256k1-bip340', 'eddsa-ed25519'],
    },
    threshold: { type: 'integer' },
    parties: { type: 'integer' },
    partyIds: { type: 'array', items: { type: 'integer' } },
    publicKey: hex('33-byte compressed (ECDSA), 32-byte x-only (BIP340) or 32-byte (Ed25519).'),
    chainCode: hex('BIP32 chain code.', 32),
    epoch: { type: 'integer', description: 'Incremented by each refresh.' },
    createdAt: isoTime,
    addresses: ref('Addresses'),
  }),
  Addresses: {
    type: 'object',
    description:
      'The key’s address on the chain its scheme serves: evm (EIP-55) for ECDSA, ' +
      'bitcoinTaproot (BIP86 output, bech32m) for BIP340, solana (base58) for Ed25519.',
    properties: {
      evm: { type: 'string' },
      bitcoinTaproot: { type: 'string' },
      solana: { type: 'string' },
    },
    minProperties: 1,
    maxProperties: 1,
  },
  EvmTransactionSigned: object({
    rawTransaction: { type: 'string', description: '0x-hex, ready for eth_sendRawTransaction.' },
    hash: { type: 'string', description: '0x-hex transaction hash.' },
    from: { type: 'string', description: 'The sender (EIP-55): the (derived) key’s address.' },
  }),
  TaprootSpendSigned: object({
    transaction: hex('The transaction with this input’s witness filled in.'),
    txid: hex('Its id, in the byte order explorers show.', 32),
    inputIndex: { type: 'integer' },
    sighash: hex('The BIP341 signature hash that was signed.', 32),
    signature: hex('The BIP340 signature by the output key.', 64),
    outputKey: hex('The tweaked output key (x-only).', 32),
    address: { type: 'string', description: 'The output key’s bech32m address.' },
  }),
  SolanaMessageSigned: object({
    signature: { type: 'string', description: 'base58, as Solana shows signatures.' },
    signatureHex: hex('The same signature in hex.', 64),
    signerIndex: { type: 'integer', description: 'This key’s place among the signers.' },
    signer: { type: 'string', description: 'The signing key, base58.' },
    transaction: {
      type: 'string',
      description: 'base64 wire transaction; other signers’ slots are zero-filled.',
    },
    complete: { type: 'boolean', description: 'True when this key is the only signer.' },
  }),
  KeyList: { type: 'array', items: ref('Key') },
  Derived: object({
    path: { type: 'string' },
    publicKey: hex('The child public key.'),
    chainCode: hex('The child chain code.', 32),
    addresses: ref('Addresses'),
  }),
  Signature: object(
    {
      signature: hex('64 bytes: r‖s (ECDSA, low-s), or the BIP340 / Ed25519 signature.', 64),
      r: hex('The first half of the signature.'),
      s: hex('The second half of the signature.'),
      recoveryId: { type: 'integer', minimum: 0, maximum: 3, description: 'ECDSA only.' },
      der: hex('ECDSA only: the DER encoding.'),
      publicKey: hex('The (derived) public key that verifies the signature.'),
    },
    ['recoveryId', 'der'],
  ),
  Refreshed: object({ epoch: { type: 'integer' } }),
  AuditPage: object({
    entries: {
      type: 'array',
      items: object({
        seq: { type: 'integer' },
        entry: { description: 'The entry content, as hashed (canonical JSON).' },
        prevHash: hex('SHA-256 of the previous entry (64 zeros for the first).', 32),
        hash: hex('SHA-256 linking this entry to the previous one.', 32),
      }),
    },
    head: nullable(object({ seq: { type: 'integer' }, hash: hex('Last hash of the log.', 32) })),
  }),
  AttestationList: {
    type: 'array',
    items: object({
      party: { type: 'integer' },
      document: nullable({ type: 'string', contentEncoding: 'base64' }),
      moduleId: nullable({ type: 'string' }),
      timestamp: nullable({ type: 'integer', description: 'Milliseconds since the epoch.' }),
      pcrs: { type: 'object', additionalProperties: { type: 'string' } },
    }),
  },
  Token: object({
    id: { type: 'string' },
    name: { type: 'string' },
    role: { type: 'string', enum: ['admin', 'signer', 'auditor'] },
    keyIds: nullable({ type: 'array', items: { type: 'string' } }),
    createdAt: isoTime,
    revokedAt: nullable(isoTime),
  }),
  TokenCreated: {
    allOf: [
      ref('Token'),
      object({ token: { type: 'string', description: 'The bearer token, shown this once.' } }),
    ],
  },
  TokenList: { type: 'array', items: ref('Token') },
  Health: object({
    status: { type: 'string', enum: ['ok', 'degraded', 'unavailable'] },
    parties: {
      type: 'array',
      items: object({ id: { type: 'integer' }, healthy: { type: 'boolean' } }),
    },
    healthy: { type: 'integer' },
    threshold: nullable({ type: 'integer' }),
  }),
};

const requestIdHeader = { $ref: '#/components/headers/X-Request-Id' };
/** On answers an Idempotency-Key can replay. */
const replayed = { 'Idempotent-Replay': { $ref: '#/components/headers/Idempotent-Replay' } };

/** A response whose body is JSON of schema `name`. */
function jsonResponse(description: string, name: string, headers: Json = {}): Json {
  return {
    description,
    headers: { 'X-Request-Id': requestIdHeader, ...headers },
    content: { 'application/json': { schema: ref(name) } },
  };
}

/** The error answers an operation can give, by status. */
function errors(...statuses: number[]): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const status of statuses) out[String(status)] = { $ref: `#/components/responses/${status}` };
  return out;
}

const ERRORS_READ = [401, 403, 500];
const ERRORS_KEY_READ = [400, 401, 403, 404, 500];
const ERRORS_CEREMONY = [400, 401, 403, 404, 409, 422, 429, 500, 503];

const errorResponses: Record<string, Json> = {
  '400': jsonResponse('Malformed: bad JSON, unknown field, wrong type or syntax.', 'Error'),
  '401': jsonResponse('No bearer token, or an unknown or revoked one.', 'Error', {
    'WWW-Authenticate': { schema: { type: 'string' }, description: 'Bearer challenge.' },
  }),
  '403': jsonResponse('The role, token scope or key policy refuses.', 'Error'),
  '404': jsonResponse('Unknown key or token.', 'Error'),
  '409': jsonResponse(
    'Conflict, e.g. a request with this Idempotency-Key is still running.',
    'Error',
  ),
  '422': jsonResponse(
    'Well-formed but unsatisfiable (threshold > parties; Idempotency-Key reused).',
    'Error',
  ),
  '429': jsonResponse('Rate limited by the key policy.', 'Error', {
    'Retry-After': { schema: { type: 'integer' }, description: 'Seconds to wait.' },
  }),
  '500': jsonResponse('Unexpected error (generic message; details are logged).', 'Error'),
  '503': jsonResponse('No healthy quorum of signers.', 'Error'),
};

const keyId = { $ref: '#/components/parameters/KeyId' };
const idempotencyKey = { $ref: '#/components/parameters/Idempotency-Key' };

function body(name: string, required = true): Json {
  return { required, content: { 'application/json': { schema: ref(name) } } };
}

/** The OpenAPI 3.1 document. Built once at load; a plain JSON-serialisable object. */
export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'mpc-kms coordinator',
    version: '1',
    description:
      'Threshold key management: keys exist only as t-of-n shares held by attested enclave ' +
      'signers. Errors are `{"error":{"code","message"}}`. POST requests (but POST /v1/tokens) ' +
      'take an optional Idempotency-Key; a retry with the same key and request replays the ' +
      'first answer with `Idempotent-Replay: true` instead of running a second ceremony.',
  },
  security: [{ bearer: [] }],
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', description: 'An API token.' },
    },
    parameters: {
      KeyId: {
        name: 'id',
        in: 'path',
        required: true,
        schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' },
      },
      TokenId: {
        name: 'id',
        in: 'path',
        required: true,
        schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' },
      },
      'Idempotency-Key': {
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        description:
          'Scoped to the token. Same key and same request: the stored answer is replayed. Same ' +
          'key, other request: 422. Still running: 409. 429, 500 and 503 are not stored.',
        schema: { type: 'string', pattern: '^[\\x20-\\x7e]{1,255}$' },
      },
    },
    headers: {
      'X-Request-Id': {
        schema: { type: 'string' },
        description:
          "The request's X-Request-Id when it is 1 to 64 of [A-Za-z0-9-], else a fresh UUID.",
      },
      'Idempotent-Replay': {
        schema: { type: 'string', enum: ['true'] },
        description: 'Present when the answer is a stored one, replayed.',
      },
    },
    schemas,
    responses: errorResponses,
  },
  paths: {
    '/v1/keys': {
      post: {
        operationId: 'createKey',
        summary: 'Create a key by distributed key generation (admin).',
        parameters: [idempotencyKey],
        requestBody: body('CreateKeyRequest'),
        responses: {
          '201': jsonResponse('The new key.', 'Key', replayed),
          ...errors(...ERRORS_CEREMONY),
        },
      },
      get: {
        operationId: 'listKeys',
        summary: 'The keys the token may see (never a share).',
        responses: { '200': jsonResponse('The keys.', 'KeyList'), ...errors(...ERRORS_READ) },
      },
    },
    '/v1/keys/{id}': {
      get: {
        operationId: 'getKey',
        parameters: [keyId],
        responses: { '200': jsonResponse('The key.', 'Key'), ...errors(...ERRORS_KEY_READ) },
      },
    },
    '/v1/keys/{id}/derive': {
      post: {
        operationId: 'derive',
        summary: 'Derive a non-hardened child public key.',
        parameters: [keyId, idempotencyKey],
        requestBody: body('DeriveRequest'),
        responses: {
          '200': jsonResponse('The child key.', 'Derived', replayed),
          ...errors(400, 401, 403, 404, 409, 422, 500),
        },
      },
    },
    '/v1/keys/{id}/sign': {
      post: {
        operationId: 'sign',
        summary: 'Sign a digest (ECDSA, BIP340) or a message (Ed25519) with a quorum.',
        parameters: [keyId, idempotencyKey],
        requestBody: body('SignRequest'),
        responses: {
          '200': jsonResponse('The signature.', 'Signature', replayed),
          ...errors(...ERRORS_CEREMONY),
        },
      },
    },
    ...Object.fromEntries(
      (
        [
          [
            'evm',
            'signEvmTransaction',
            'EvmTransactionRequest',
            'EvmTransactionSigned',
            'an EVM transaction (ECDSA key)',
          ],
          [
            'bitcoin-taproot',
            'signTaprootSpend',
            'TaprootSpendRequest',
            'TaprootSpendSigned',
            'a Bitcoin Taproot key-path spend (BIP340 key)',
          ],
          [
            'solana',
            'signSolanaMessage',
            'SolanaMessageRequest',
            'SolanaMessageSigned',
            'a Solana message (Ed25519 key)',
          ],
        ] as const
      ).map(([chain, operationId, request, answer, what]) => [
        `/v1/keys/{id}/transactions/${chain}`,
        {
          post: {
            operationId,
            summary: `Decode, check against the key policy (destinations, daily value) and sign ${what}.`,
            parameters: [keyId, idempotencyKey],
            requestBody: body(request),
            responses: {
              '200': jsonResponse('The signed transaction.', answer, replayed),
              ...errors(...ERRORS_CEREMONY),
            },
          },
        },
      ]),
    ),
    '/v1/keys/{id}/refresh': {
      post: {
        operationId: 'refresh',
        summary: 'Refresh the shares; the public key is unchanged, the epoch moves on (admin).',
        parameters: [keyId, idempotencyKey],
        requestBody: body('RefreshRequest', false),
        responses: {
          '200': jsonResponse('The new epoch.', 'Refreshed', replayed),
          ...errors(...ERRORS_CEREMONY),
        },
      },
    },
    '/v1/keys/{id}/policy': {
      get: {
        operationId: 'getPolicy',
        parameters: [keyId],
        responses: { '200': jsonResponse('The policy.', 'Policy'), ...errors(...ERRORS_KEY_READ) },
      },
      put: {
        operationId: 'putPolicy',
        summary: 'Replace the signing policy (admin); every field is required.',
        parameters: [keyId],
        requestBody: body('Policy'),
        responses: {
          '200': jsonResponse('The stored policy.', 'Policy'),
          ...errors(400, 401, 403, 404, 409, 422, 500, 503),
        },
      },
    },
    '/v1/audit': {
      get: {
        operationId: 'audit',
        summary: 'A page of the hash-chained audit log and the head of the whole log.',
        parameters: [
          { name: 'from', in: 'query', schema: { type: 'integer', minimum: 0 } },
          {
            name: 'limit',
            in: 'query',
            schema: { type: 'integer', minimum: 1, maximum: MAX_AUDIT_LIMIT },
          },
        ],
        responses: {
          '200': jsonResponse('The entries.', 'AuditPage'),
          ...errors(400, ...ERRORS_READ),
        },
      },
    },
    '/v1/attestations': {
      get: {
        operationId: 'attestations',
        summary: "Each enclave's current attestation document and PCRs.",
        responses: {
          '200': jsonResponse('The attestations.', 'AttestationList'),
          ...errors(...ERRORS_READ),
        },
      },
    },
    '/v1/tokens': {
      post: {
        operationId: 'createToken',
        summary: 'Create an API token (admin); the token is shown once. No Idempotency-Key.',
        requestBody: body('CreateTokenRequest'),
        responses: {
          '201': jsonResponse('The token record and the token.', 'TokenCreated'),
          ...errors(400, 401, 403, 404, 500),
        },
      },
      get: {
        operationId: 'listTokens',
        responses: { '200': jsonResponse('The tokens.', 'TokenList'), ...errors(...ERRORS_READ) },
      },
    },
    '/v1/tokens/{id}': {
      delete: {
        operationId: 'revokeToken',
        parameters: [{ $ref: '#/components/parameters/TokenId' }],
        responses: {
          '204': { description: 'Revoked.', headers: { 'X-Request-Id': requestIdHeader } },
          ...errors(400, 401, 403, 404, 409, 500),
        },
      },
    },
    '/healthz': {
      get: {
        operationId: 'health',
        summary: 'Liveness and quorum. No token.',
        security: [],
        responses: {
          '200': jsonResponse('ok or degraded: a quorum of signers is healthy.', 'Health'),
          '503': jsonResponse('unavailable: no quorum.', 'Health'),
        },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics',
        summary: 'Prometheus metrics. No token.',
        security: [],
        responses: {
          '200': {
            description: 'Prometheus text exposition format.',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openapi',
        summary: 'This document. No token.',
        security: [],
        responses: {
          '200': {
            description: 'OpenAPI 3.1.',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
        },
      },
    },
  },
} as const;
