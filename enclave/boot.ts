/**
 * The enclave's deployment settings and AWS credentials, fetched from its parent at boot.
 *
 * `nitro-cli run-enclave` passes nothing into an enclave, and the image (hence PCR0) must be the
 * same for every party and region. So what differs per deployment (party id, region, endpoints,
 * KMS key, the coordinator's identity key) comes from the parent over one stream, and so do the
 * instance role's temporary credentials, which expire and are fetched again.
 *
 * The parent is untrusted, and nothing here lets it widen what the enclave trusts: the trust
 * root and the peers' expected measurements are fixed by the image's own arguments, never by
 * this document. What a lying parent can do with it is deny service (wrong endpoints, wrong
 * party), which it can anyway by not relaying. A wrong party id or KMS key gains it nothing:
 * each party's KMS key admits only that party's role and only this image.
 *
 * Wire: one connection per request; the enclave sends one frame `{"get":"config"}` or
 * `{"get":"credentials"}` and the parent answers one frame `{"config":{…}}`,
 * `{"credentials":{…}}` or `{"error":{"code","message"}}`, all UTF-8 JSON.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import type { PartyId } from '../protocol/errors.js';
import { MAX_PARTY_ID } from '../protocol/envelope.js';
import {
  FramedStream,
  connect,
  formatAddress,
  parseAddress,
  type StreamAddress,
} from '../transport/index.js';
import type { AwsRoute } from './aws-clients.js';

/** Neither document has any reason to be larger; a bigger answer is refused unread. */
export const MAX_BOOT_FRAME_BYTES = 64 * 1024;
const BOOT_TIMEOUT_MS = 10_000;

export type BootErrorCode = 'BOOT_INVALID' | 'BOOT_UNAVAILABLE' | 'BOOT_REFUSED';

export class BootError extends Error {
  override readonly name = 'BootError';
  readonly code: BootErrorCode;
  constructor(code: BootErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** What one enclave needs to know about its deployment. */
export interface BootConfig {
  readonly party: PartyId;
  /** Where the parent connects to it: vsock:any:PORT (production) or unix:PATH. */
  readonly listen: StreamAddress;
  readonly region: string;
  readonly kms: AwsRoute;
  readonly secretsManager: AwsRoute;
  /** This party's KMS key (id or ARN). */
  readonly kmsKeyId: string;
  /** The coordinator's Ed25519 identity key, which signs every channel transcript. */
  readonly coordinatorKey: KeyObject;
  readonly maxChannelAgeMs: number;
  readonly roundTimeoutMs: number;
}

export const DEFAULT_MAX_CHANNEL_AGE_S = 7200;
export const DEFAULT_ROUND_TIMEOUT_MS = 30_000;

const CONFIG_KEYS = new Set([
  'party',
  'listen',
  'region',
  'kms',
  'secretsManager',
  'kmsKeyId',
  'coordinatorKey',
  'maxChannelAgeS',
  'roundTimeoutMs',
]);

function invalid(message: string): never {
  throw new BootError('BOOT_INVALID', message);
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalid(`${where} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

function text(value: unknown, where: string, pattern: RegExp, max = 2048): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    invalid(`${where} must be a non-empty string of at most ${max} characters`);
  }
  if (!pattern.test(value)) invalid(`${where} is not in the expected form`);
  return value;
}

function integer(value: unknown, where: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    invalid(`${where} must be an integer in ${min}..${max}`);
  }
  return value;
}

function address(value: unknown, where: string): StreamAddress {
  const raw = text(value, where, /^(vsock|unix|tcp):/, 512);
  try {
    return parseAddress(raw);
  } catch (error) {
    invalid(`${where}: ${error instanceof Error ? error.message : 'not a transport address'}`);
  }
}

function route(value: unknown, where: string): AwsRoute {
  const r = record(value, where);
  for (const key of Object.keys(r)) {
    if (key !== 'endpoint' && key !== 'via') invalid(`${where}.${key} is not a known setting`);
  }
  const endpoint = text(r.endpoint, `${where}.endpoint`, /^https?:\/\/[^\s/?#]+\/?$/, 512);
  return { endpoint, via: address(r.via, `${where}.via`) };
}

function coordinatorKey(value: unknown): KeyObject {
  const pem = text(value, 'coordinatorKey', /^-----BEGIN PUBLIC KEY-----/, 4096);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    invalid('coordinatorKey is not a PEM public key');
  }
  if (key.asymmetricKeyType !== 'ed25519') invalid('coordinatorKey must be an Ed25519 key');
  return key;
}

/**
 * Validates a deployment document (parsed JSON): every field typed and in range, no unknown
 * field (a misspelt optional setting would otherwise be silently ignored).
 *
 * @throws BootError 'BOOT_INVALID' naming the field.
 */
export function parseBootConfig(value: unknown): BootConfig {
  const r = record(value, 'the enclave configuration');
  for (const key of Object.keys(r)) {
    if (!CONFIG_KEYS.has(key)) invalid(`${key} is not a known setting`);
  }
  return {
    party: integer(r.party, 'party', 1, MAX_PARTY_ID),
    listen: address(r.listen, 'listen'),
    region: text(r.region, 'region', /^[a-z0-9-]{1,32}$/, 32),
    kms: route(r.kms, 'kms'),
    secretsManager: route(r.secretsManager, 'secretsManager'),
    kmsKeyId: text(r.kmsKeyId, 'kmsKeyId', /^[A-Za-z0-9:/_.-]+$/, 2048),
    coordinatorKey: coordinatorKey(r.coordinatorKey),
    maxChannelAgeMs:
      1000 * integer(r.maxChannelAgeS ?? DEFAULT_MAX_CHANNEL_AGE_S, 'maxChannelAgeS', 1, 86_400),
    roundTimeoutMs: integer(
      r.roundTimeoutMs ?? DEFAULT_ROUND_TIMEOUT_MS,
      'roundTimeoutMs',
      100,
      3_600_000,
    ),
  };
}

/** The document form of a configuration: what a parent serves and a test writes. */
export function bootConfigDocument(config: BootConfig): Record<string, unknown> {
  return {
    party: config.party,
    listen: formatAddress(config.listen),
    region: config.region,
    kms: { endpoint: config.kms.endpoint, via: formatAddress(config.kms.via) },
    secretsManager: {
      endpoint: config.secretsManager.endpoint,
      via: formatAddress(config.secretsManager.via),
    },
    kmsKeyId: config.kmsKeyId,
    coordinatorKey: config.coordinatorKey.export({ type: 'spki', format: 'pem' }),
    maxChannelAgeS: config.maxChannelAgeMs / 1000,
    roundTimeoutMs: config.roundTimeoutMs,
  };
}

/**
 * Validates credentials as the SDK takes them. `expiration` (RFC 3339) tells the SDK when to
 * ask again; long-term keys have none.
 *
 * @throws BootError 'BOOT_INVALID' naming the field, never its value.
 */
export function parseCredentials(value: unknown): AwsCredentialIdentity {
  const r = record(value, 'the credentials');
  for (const key of Object.keys(r)) {
    if (!['accessKeyId', 'secretAccessKey', 'sessionToken', 'expiration'].includes(key)) {
      invalid(`credentials.${key} is not a known field`);
    }
  }
  const accessKeyId = text(r.accessKeyId, 'credentials.accessKeyId', /^[A-Z0-9]{16,128}$/, 128);
  const secretAccessKey = text(r.secretAccessKey, 'credentials.secretAccessKey', /^\S+$/, 256);
  const sessionToken =
    r.sessionToken === undefined
      ? undefined
      : text(r.sessionToken, 'credentials.sessionToken', /^\S+$/, 8192);
  let expiration: Date | undefined;
  if (r.expiration !== undefined) {
    const when = text(r.expiration, 'credentials.expiration', /^\d{4}-\d\d-\d\dT/, 64);
    expiration = new Date(when);
    if (Number.isNaN(expiration.getTime())) invalid('credentials.expiration is not a time');
  }
  return {
    accessKeyId,
    secretAccessKey,
    ...(sessionToken !== undefined ? { sessionToken } : {}),
    ...(expiration !== undefined ? { expiration } : {}),
  };
}

export type BootRequest = 'config' | 'credentials';

/** Parses one request frame, as the parent's boot server receives it. */
export function parseBootRequest(frame: Uint8Array): BootRequest {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(frame));
  } catch {
    invalid('the request is not UTF-8 JSON');
  }
  const r = record(value, 'the request');
  if (Object.keys(r).length !== 1 || (r.get !== 'config' && r.get !== 'credentials')) {
    invalid('the request must be {"get":"config"} or {"get":"credentials"}');
  }
  return r.get;
}

/** Asks the parent once. */
async function ask(parent: StreamAddress, what: BootRequest): Promise<unknown> {
  let stream;
  try {
    stream = await connect(parent, { timeoutMs: BOOT_TIMEOUT_MS });
  } catch (error) {
    throw new BootError(
      'BOOT_UNAVAILABLE',
      `parent at ${formatAddress(parent)} unreachable: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const framed = new FramedStream(stream, { maxFrameBytes: MAX_BOOT_FRAME_BYTES });
  const timer = setTimeout(() => framed.destroy(), BOOT_TIMEOUT_MS);
  try {
    await framed.send(new TextEncoder().encode(JSON.stringify({ get: what })));
    const next = await framed.frames().next();
    if (next.done) throw new BootError('BOOT_UNAVAILABLE', `the parent closed without a ${what}`);
    let answer: unknown;
    try {
      answer = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(next.value));
    } catch {
      invalid(`the parent's ${what} answer is not UTF-8 JSON`);
    }
    const r = record(answer, `the parent's ${what} answer`);
    if (r.error !== undefined) {
      const e = record(r.error, 'error');
      const code = typeof e.code === 'string' ? e.code.slice(0, 64) : 'UNKNOWN';
      throw new BootError('BOOT_REFUSED', `the parent refused the ${what} request (${code})`);
    }
    if (Object.keys(r).length !== 1 || !(what in r)) {
      invalid(`the parent's answer must be {"${what}":…}`);
    }
    return r[what];
  } catch (error) {
    if (error instanceof BootError) throw error;
    throw new BootError(
      'BOOT_UNAVAILABLE',
      `the ${what} request failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  } finally {
    clearTimeout(timer);
    framed.destroy();
  }
}

/** Fetches and validates the deployment document. */
export async function fetchBootConfig(parent: StreamAddress): Promise<BootConfig> {
  return parseBootConfig(await ask(parent, 'config'));
}

/**
 * A credential provider for the SDK clients. The SDK calls it again when the credentials it
 * returned are within a few minutes of their `expiration`.
 */
export function parentCredentials(parent: StreamAddress): () => Promise<AwsCredentialIdentity> {
  return async () => parseCredentials(await ask(parent, 'credentials'));
}
