/**
 * The enclave signer process, assembled from its configuration: the NSM, the AWS clients that
 * reach KMS and Secrets Manager through the parent's forwards, the sealer, the store, the vault,
 * the attested channels and the ceremony runner, listening for its parent on one address (a
 * vsock port in production, a Unix socket in the simulator).
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { PartyId } from '../protocol/errors.js';
import { FramedStream, listen, type Listener, type StreamAddress } from '../transport/index.js';
import type { EnclavePolicy } from './channel/index.js';
import { createAwsClients, type AwsClientOptions, type AwsRoute } from './aws-clients.js';
import { EnclaveNode } from './node.js';
import type { Attester } from './recipient.js';
import type { RunnerLimits } from './runner.js';
import { ShareSealer } from './sealer.js';
import { SealedShareStore } from './share-store.js';
import { KeyVault } from './vault.js';

export interface EnclaveConfig {
  readonly party: PartyId;
  /** Where the parent connects: vsock:any:PORT, or unix:PATH in the simulator. */
  readonly listen: StreamAddress;
  readonly attester: Attester;
  readonly peerPolicy: EnclavePolicy;
  readonly coordinatorKey: KeyObject;
  readonly region: string;
  readonly credentials: AwsClientOptions['credentials'];
  readonly kms: AwsRoute;
  readonly secretsManager: AwsRoute;
  /** This party's KMS key (id or ARN). */
  readonly kmsKeyId: string;
  readonly maxChannelAgeMs: number;
  readonly limits?: Partial<RunnerLimits>;
  readonly log?: (event: Record<string, unknown>) => void;
}

export interface RunningEnclave {
  readonly node: EnclaveNode;
  readonly listener: Listener;
  close(): Promise<void>;
}

export async function startEnclave(config: EnclaveConfig): Promise<RunningEnclave> {
  const clients = createAwsClients({
    region: config.region,
    credentials: config.credentials,
    kms: config.kms,
    secretsManager: config.secretsManager,
  });
  const sealer = new ShareSealer({
    kms: clients.kms,
    kmsKeyId: config.kmsKeyId,
    attester: config.attester,
  });
  const store = new SealedShareStore({ client: clients.secretsManager });
  const vault = new KeyVault({
    self: config.party,
    sealer,
    store,
    secrets: clients.secretsManager,
  });
  const node = new EnclaveNode({
    self: config.party,
    attester: config.attester,
    peerPolicy: config.peerPolicy,
    coordinatorKey: config.coordinatorKey,
    vault,
    rng: (n) => new Uint8Array(randomBytes(n)),
    maxChannelAgeMs: config.maxChannelAgeMs,
    ...(config.limits ? { limits: config.limits } : {}),
    ...(config.log ? { log: config.log } : {}),
  });
  const listener = await listen(config.listen, (stream: Duplex) => {
    node.attach(new FramedStream(stream));
  });
  return {
    node,
    listener,
    close: async () => {
      node.close();
      await listener.close();
      clients.kms.destroy();
      clients.secretsManager.destroy();
    },
  };
}
