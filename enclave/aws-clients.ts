/**
 * The enclave's AWS clients. An enclave has no network interface: its only way out is a stream
 * to its parent (vsock in production, a Unix socket in the simulator), where the parent proxy
 * forwards each connection to one allowlisted AWS endpoint. So the real SDK clients get an HTTP
 * agent whose every connection is such a stream. In production the endpoint is `https://`, and
 * TLS runs inside the enclave over that stream: the parent relays ciphertext it cannot read.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import type { Duplex } from 'node:stream';
import { KMSClient } from '@aws-sdk/client-kms';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { connect, type StreamAddress } from '../transport/index.js';

export interface AwsRoute {
  /** The endpoint URL the SDK signs for, e.g. https://kms.us-east-1.amazonaws.com. */
  readonly endpoint: string;
  /** Where the parent proxy's forward for that endpoint listens. */
  readonly via: StreamAddress;
}

export interface AwsClientOptions {
  readonly region: string;
  /** Fixed credentials, or a provider the SDK asks again before they expire. */
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  readonly kms: AwsRoute;
  readonly secretsManager: AwsRoute;
  /** SDK attempts per call (the SDK retries throttling and transient failures). */
  readonly maxAttempts?: number;
}

type Oncreate = (error: Error | null, socket?: Duplex) => void;

/** An agent that dials `via` for every connection, whatever host the request names. */
function agentFor(route: AwsRoute): HttpAgent {
  const url = new URL(route.endpoint);
  const secure = url.protocol === 'https:';
  const Base = secure ? HttpsAgent : HttpAgent;
  const agent = new Base({ keepAlive: true, maxSockets: 8 });
  // Node's agent accepts an asynchronous createConnection through its callback.
  (agent as unknown as { createConnection: unknown }).createConnection = (
    _options: unknown,
    oncreate: Oncreate,
  ) => {
    connect(route.via).then(
      (stream) => {
        if (!secure) return oncreate(null, stream);
        const tls = tlsConnect({ socket: stream, servername: url.hostname });
        tls.once('secureConnect', () => oncreate(null, tls));
        tls.once('error', (error) => oncreate(error));
      },
      (error: Error) => oncreate(error),
    );
    return undefined;
  };
  return agent;
}

export function createAwsClients(options: AwsClientOptions): {
  kms: KMSClient;
  secretsManager: SecretsManagerClient;
} {
  const common = {
    region: options.region,
    credentials: options.credentials,
    maxAttempts: options.maxAttempts ?? 3,
  };
  const handler = (route: AwsRoute) => {
    const agent = agentFor(route);
    return { httpAgent: agent, httpsAgent: agent };
  };
  return {
    kms: new KMSClient({
      ...common,
      endpoint: options.kms.endpoint,
      requestHandler: handler(options.kms),
    }),
    secretsManager: new SecretsManagerClient({
      ...common,
      endpoint: options.secretsManager.endpoint,
      requestHandler: handler(options.secretsManager),
    }),
  };
}
