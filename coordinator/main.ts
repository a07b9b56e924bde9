/**
 * The coordinator process, assembled: the metadata store (SQLite by default, PostgreSQL with a
 * URL), metrics and logs, the cluster of enclaves behind their parents, the service, and the
 * REST API on one HTTP port. Parties whose link is down are retried in the background, so the
 * cluster heals when an enclave or parent comes back.
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { PartyId } from '../protocol/errors.js';
import type { EnclavePolicy } from '../enclave/index.js';
import type { StreamAddress } from '../transport/index.js';
import { Cluster } from './cluster.js';
import { createApp } from './http/app.js';
import type { Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { Service } from './service.js';
import { openStore } from './store/index.js';
import type { MetadataStore } from './store/types.js';

export interface CoordinatorConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** PostgreSQL URL; absent: SQLite under `dataDir`. */
  readonly databaseUrl?: string;
  readonly parents: ReadonlyMap<PartyId, StreamAddress>;
  readonly identity: KeyObject;
  readonly enclavePolicy: EnclavePolicy;
  /** Ensured as an admin token at start (the operator's bootstrap token). */
  readonly adminToken?: string;
  readonly logger: Logger;
  readonly requestTimeoutMs?: number;
  /** ECDSA presignatures kept ready per key and signer set (Service option); default 16. */
  readonly presignaturePool?: number;
}

export interface RunningCoordinator {
  readonly url: string;
  readonly server: Server;
  readonly cluster: Cluster;
  readonly store: MetadataStore;
  readonly service: Service;
  close(): Promise<void>;
}

const RECONNECT_INTERVAL_MS = 2000;

export async function startCoordinator(config: CoordinatorConfig): Promise<RunningCoordinator> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const store = await openStore({
    dataDir: config.dataDir,
    ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
  });
  const metrics = createMetrics();
  const cluster = await Cluster.connect({
    parents: config.parents,
    identity: config.identity,
    enclavePolicy: config.enclavePolicy,
    ...(config.requestTimeoutMs ? { requestTimeoutMs: config.requestTimeoutMs } : {}),
    log: (event) => config.logger.info(event, 'cluster'),
  });
  const service = new Service({
    cluster,
    store,
    metrics,
    parties: [...config.parents.keys()],
    enclavePolicy: config.enclavePolicy,
    ...(config.presignaturePool !== undefined ? { presignaturePool: config.presignaturePool } : {}),
  });
  if (config.adminToken) await service.ensureToken(config.adminToken, 'bootstrap admin', 'admin');

  // Reconnect parties whose link dropped. A link that is up but whose handshake was refused
  // (an enclave with other PCRs) is not retried: that needs an operator, not a loop.
  const reconnecting = new Set<PartyId>();
  const heal = setInterval(() => {
    for (const party of config.parents.keys()) {
      if (cluster.linked(party) || reconnecting.has(party)) continue;
      reconnecting.add(party);
      void cluster.reconnect(party).finally(() => reconnecting.delete(party));
    }
    void service.health().catch(() => {});
  }, RECONNECT_INTERVAL_MS);
  heal.unref();

  const app = createApp({ service, store, metrics, logger: config.logger });
  const server = createServer(app);
  // Longer than a load balancer's idle timeout (AWS ALB: 60 s), so the balancer, not the
  // coordinator, closes idle connections: otherwise a request can race the close and fail.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${config.host}:${port}`,
    server,
    cluster,
    store,
    service,
    close: async () => {
      clearInterval(heal);
      service.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
      cluster.close();
      await store.close();
    },
  };
}
