/**
 * The simulated AWS side of one deployment: KMS and Secrets Manager, each on its own loopback
 * port, sharing one data directory, one region and one set of credentials. This is what
 * `mpc-kms sim aws` runs as its own process; enclaves reach it only over HTTP through the real
 * SDK clients, as they reach AWS through their parent's proxy in production.
 */
import { listenAwsJsonService, type AwsCredential, type RunningService } from './json-server.js';
import { SimulatedKms } from './kms.js';
import { secretsManagerHandlers } from './secrets-manager.js';

export interface AwsServicesOptions {
  /** KMS keys under `<dataDir>/kms/`, secrets under `<dataDir>/secretsmanager/`. */
  readonly dataDir: string;
  readonly region: string;
  readonly credentials: readonly AwsCredential[];
  /** DER roots of the simulated NSMs whose attestation documents KMS accepts as recipients. */
  readonly attestationRoots: readonly Uint8Array[];
  readonly host?: string;
  /** 0 (the default) picks a free port. */
  readonly kmsPort?: number;
  readonly secretsManagerPort?: number;
}

export interface RunningAwsServices {
  readonly kms: RunningService;
  readonly secretsManager: RunningService;
  close(): Promise<void>;
}

/** Opens both stores (failing loudly on a corrupt one) and starts both servers. */
export async function startAwsServices(options: AwsServicesOptions): Promise<RunningAwsServices> {
  const kmsService = SimulatedKms.open({
    dataDir: options.dataDir,
    region: options.region,
    attestationRoots: options.attestationRoots,
  });
  const common = {
    region: options.region,
    credentials: options.credentials,
    host: options.host ?? '127.0.0.1',
  };
  const kms = await listenAwsJsonService({
    ...common,
    service: 'kms',
    targetPrefix: 'TrentService',
    handlers: kmsService.handlers,
    port: options.kmsPort ?? 0,
  });
  let secretsManager: RunningService;
  try {
    secretsManager = await listenAwsJsonService({
      ...common,
      service: 'secretsmanager',
      targetPrefix: 'secretsmanager',
      handlers: secretsManagerHandlers({ dataDir: options.dataDir, region: options.region }),
      port: options.secretsManagerPort ?? 0,
    });
  } catch (error) {
    await kms.close();
    throw error;
  }
  return {
    kms,
    secretsManager,
    close: async () => {
      await Promise.all([kms.close(), secretsManager.close()]);
    },
  };
}
