/**
 * The parent proxy: the process on the (untrusted) EC2 parent instance that gives its enclave
 * the two ways out it needs, and nothing else.
 *
 * 1. Forwards, as AWS's vsock-proxy does: the enclave connects to a local endpoint (vsock in
 *    production, a Unix socket in the simulator) and each connection is piped to a fresh TCP
 *    connection to one allowlisted host, such as KMS. The enclave speaks TLS end to end through
 *    it.
 * 2. The coordinator link: the coordinator connects here over TCP and is piped to the enclave's
 *    control port. What flows is end-to-end encrypted frames between enclaves and the
 *    coordinator's requests, all authenticated above this layer.
 *
 * The proxy never parses what it relays and never logs payload bytes: it is a dumb pipe with
 * counters. That is also why it may be untrusted: it can delay or drop traffic, not read or
 * forge it.
 */
import { createConnection } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  VMADDR_CID_ANY,
  checkAddress,
  connect,
  formatAddress,
  listen,
  type Listener,
  type StreamAddress,
} from '../transport/index.js';
import type { Allowlist } from './allowlist.js';
import { ProxyError } from './errors.js';

/** One forward: connections accepted on `listen` are piped to TCP `target`. */
export interface ForwardConfig {
  /** `vsock:any:8000` in production, a Unix socket in the simulator. */
  readonly listen: StreamAddress;
  readonly target: { readonly host: string; readonly port: number };
}

/** Everything {@link startParentProxy} needs, parsed and typed at the edge (the CLI). */
export interface ParentProxyConfig {
  /** The enclave's control port: `vsock:CID:PORT` in production, a Unix socket in the simulator. */
  readonly enclave: StreamAddress;
  /** Where the coordinator connects: TCP in production; Unix or TCP in the simulator. */
  readonly coordinatorListen: StreamAddress;
  readonly forwards: readonly ForwardConfig[];
  /** Every forward's target must be on it, or the proxy refuses to start. */
  readonly allowlist: Allowlist;
  /** Receives structured events (JSON-ready objects, never payload bytes). */
  readonly log?: (event: Record<string, unknown>) => void;
  /** How long to wait for the enclave's control port per coordinator connection; default 5 s. */
  readonly enclaveConnectTimeoutMs?: number;
}

/** Counters for one forward since start. */
export interface ForwardStats {
  readonly listen: string;
  readonly target: string;
  /** Connections from the enclave that were taken on. */
  readonly accepted: number;
  /** Connections turned away because the proxy was closing. */
  readonly refused: number;
  /** Accepted connections whose target could not be reached. */
  readonly failed: number;
  readonly active: number;
  readonly bytesToTarget: number;
  readonly bytesFromTarget: number;
}

/** Counters for the coordinator link since start. */
export interface CoordinatorStats {
  readonly listen: string;
  readonly enclave: string;
  readonly accepted: number;
  readonly refused: number;
  /** Links dropped because a newer coordinator connection arrived. */
  readonly replaced: number;
  /** Coordinator connections closed because the enclave's control port did not answer. */
  readonly failed: number;
  readonly active: number;
  readonly bytesToEnclave: number;
  readonly bytesFromEnclave: number;
}

/** A snapshot of every counter. */
export interface ProxyStats {
  readonly forwards: readonly ForwardStats[];
  readonly coordinator: CoordinatorStats;
}

/** A running proxy. */
export interface ParentProxy {
  /** Where the coordinator connects (for tcp port 0: the port picked). */
  readonly coordinatorAddress: StreamAddress;
  /** Where each forward listens, in configuration order. */
  readonly forwardAddresses: readonly StreamAddress[];
  stats(): ProxyStats;
  /** Stops listening and closes every relayed connection; resolves once they are closed. */
  close(): Promise<void>;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Checks the configuration, then listens for the coordinator and on every forward.
 *
 * @throws ProxyError('NOT_ALLOWLISTED') before listening on anything, if any forward's target
 *   is not on the allowlist; TransportError('BAD_ADDRESS' | 'LISTEN_FAILED' | ...) when an
 *   address is malformed or cannot be listened on (whatever was already listening is closed).
 */
export async function startParentProxy(config: ParentProxyConfig): Promise<ParentProxy> {
  const log = config.log ?? (() => undefined);
  checkConfig(config);

  let closing = false;
  const live = new Set<Promise<void>>();
  const streams = new Set<Duplex>();
  const listeners: Listener[] = [];
  const track = (stream: Duplex) => {
    streams.add(stream);
    stream.once('close', () => streams.delete(stream));
  };
  let nextConnection = 1;

  const forwardStats: Mutable<ForwardStats>[] = config.forwards.map((forward) => ({
    listen: formatAddress(forward.listen),
    target: `${forward.target.host}:${forward.target.port}`,
    accepted: 0,
    refused: 0,
    failed: 0,
    active: 0,
    bytesToTarget: 0,
    bytesFromTarget: 0,
  }));
  const coordinator: Mutable<CoordinatorStats> = {
    listen: formatAddress(config.coordinatorListen),
    enclave: formatAddress(config.enclave),
    accepted: 0,
    refused: 0,
    replaced: 0,
    failed: 0,
    active: 0,
    bytesToEnclave: 0,
    bytesFromEnclave: 0,
  };

  const onForward = (index: number, enclaveSide: Duplex) => {
    const stats = forwardStats[index]!;
    const { host, port } = config.forwards[index]!.target;
    if (closing) {
      stats.refused++;
      enclaveSide.destroy();
      return;
    }
    const id = nextConnection++;
    stats.accepted++;
    stats.active++;
    track(enclaveSide);
    log({ event: 'forward_open', forward: index, connection: id, target: stats.target });
    // Straight to TCP: the target is a host name on the allowlist, resolved by this machine.
    const targetSide = createConnection({ host, port, noDelay: true });
    track(targetSide);
    let reached = false;
    targetSide.once('connect', () => (reached = true));
    const bytes = { toTarget: 0, fromTarget: 0 };
    const done = relay(enclaveSide, targetSide, (toRight, n) => {
      if (toRight) {
        bytes.toTarget += n;
        stats.bytesToTarget += n;
      } else {
        bytes.fromTarget += n;
        stats.bytesFromTarget += n;
      }
    }).then((error) => {
      stats.active--;
      if (!reached) stats.failed++;
      log({
        event: reached ? 'forward_closed' : 'forward_target_unreachable',
        forward: index,
        connection: id,
        bytesToTarget: bytes.toTarget,
        bytesFromTarget: bytes.fromTarget,
        ...(error ? { error: error.message } : {}),
      });
    });
    keep(live, done);
  };

  // One coordinator link at a time, and a new connection replaces the old one. A coordinator
  // that restarts or loses its network reconnects while its old connection may linger on our
  // side for minutes with no FIN ever arriving; refusing the newcomer would lock it out until
  // TCP keepalive gives up. Replacing costs no security: whoever can reach this port can cut
  // the link either way, and everything on it is authenticated end to end.
  let current: { coordinatorSide: Duplex; enclaveSide?: Duplex } | undefined;
  const onCoordinator = (coordinatorSide: Duplex) => {
    if (closing) {
      coordinator.refused++;
      coordinatorSide.destroy();
      return;
    }
    const id = nextConnection++;
    coordinator.accepted++;
    track(coordinatorSide);
    if (current !== undefined) {
      coordinator.replaced++;
      log({ event: 'coordinator_replaced', connection: id });
      current.coordinatorSide.destroy();
      current.enclaveSide?.destroy();
    }
    const link: { coordinatorSide: Duplex; enclaveSide?: Duplex } = { coordinatorSide };
    current = link;
    coordinator.active++;
    log({ event: 'coordinator_open', connection: id });
    // Until the enclave answers, nothing reads the coordinator's bytes: they wait in the kernel.
    coordinatorSide.on('error', () => undefined);
    const done = connect(config.enclave, { timeoutMs: config.enclaveConnectTimeoutMs ?? 5000 })
      .then(async (enclaveSide) => {
        track(enclaveSide);
        if (current !== link || coordinatorSide.destroyed || closing) {
          enclaveSide.destroy();
          return { reached: true, error: undefined };
        }
        link.enclaveSide = enclaveSide;
        const bytes = { toEnclave: 0, fromEnclave: 0 };
        const error = await relay(coordinatorSide, enclaveSide, (toRight, n) => {
          if (toRight) {
            bytes.toEnclave += n;
            coordinator.bytesToEnclave += n;
          } else {
            bytes.fromEnclave += n;
            coordinator.bytesFromEnclave += n;
          }
        });
        return { reached: true, error, bytes };
      })
      .catch((error: Error) => {
        coordinator.failed++;
        coordinatorSide.destroy();
        return { reached: false, error, bytes: undefined };
      })
      .then(({ reached, error, bytes }) => {
        coordinator.active--;
        if (current === link) current = undefined;
        log({
          event: reached ? 'coordinator_closed' : 'enclave_unreachable',
          connection: id,
          ...(bytes
            ? { bytesToEnclave: bytes.toEnclave, bytesFromEnclave: bytes.fromEnclave }
            : {}),
          ...(error ? { error: error.message } : {}),
        });
      });
    keep(live, done);
  };

  const closeAll = async () => {
    closing = true;
    await Promise.all(listeners.map((listener) => listener.close()));
    for (const stream of streams) stream.destroy();
    await Promise.all([...live]);
  };

  try {
    for (const [index, forward] of config.forwards.entries()) {
      const listener = await listen(forward.listen, (stream) => onForward(index, stream), {
        onError: (error) => log({ event: 'accept_error', forward: index, error: error.message }),
      });
      listeners.push(listener);
      log({
        event: 'listening',
        role: 'forward',
        forward: index,
        listen: formatAddress(listener.address),
        target: forwardStats[index]!.target,
      });
    }
    const coordinatorListener = await listen(config.coordinatorListen, onCoordinator, {
      onError: (error) => log({ event: 'accept_error', role: 'coordinator', error: error.message }),
    });
    listeners.push(coordinatorListener);
    coordinator.listen = formatAddress(coordinatorListener.address);
    log({
      event: 'listening',
      role: 'coordinator',
      listen: coordinator.listen,
      enclave: coordinator.enclave,
    });
  } catch (error) {
    await closeAll();
    throw error;
  }

  let closed: Promise<void> | undefined;
  return {
    coordinatorAddress: listeners[listeners.length - 1]!.address,
    forwardAddresses: listeners.slice(0, -1).map((listener) => listener.address),
    stats: () => ({
      forwards: forwardStats.map((stats) => ({ ...stats })),
      coordinator: { ...coordinator },
    }),
    close: () => {
      closed ??= closeAll().then(() => log({ event: 'closed' }));
      return closed;
    },
  };
}

/** Refuses a configuration before anything listens. */
function checkConfig(config: ParentProxyConfig): void {
  checkAddress(config.enclave);
  checkAddress(config.coordinatorListen);
  // Caught here rather than on the first coordinator connection, hours after deployment.
  const enclave = config.enclave;
  if (
    (enclave.kind === 'vsock' && enclave.cid === VMADDR_CID_ANY) ||
    (enclave.kind === 'tcp' && enclave.port === 0)
  ) {
    throw new ProxyError(
      'BAD_CONFIG',
      `enclave ${formatAddress(enclave)}: not an address to connect to`,
    );
  }
  // The vsock addon can only bind VMADDR_CID_ANY; refuse before any listener starts.
  const checkListen = (address: StreamAddress, what: string) => {
    if (address.kind === 'vsock' && address.cid !== VMADDR_CID_ANY) {
      throw new ProxyError('BAD_CONFIG', `${what} ${formatAddress(address)}: use vsock:any:PORT`);
    }
  };
  checkListen(config.coordinatorListen, 'coordinator listen address');
  const seen = new Set<string>([formatAddress(config.coordinatorListen)]);
  config.forwards.forEach((forward, index) => {
    checkAddress(forward.listen);
    checkListen(forward.listen, `forward ${index}`);
    const shown = formatAddress(forward.listen);
    const { host, port } = forward.target;
    if (!config.allowlist.isAllowed(host, port)) {
      throw new ProxyError(
        'NOT_ALLOWLISTED',
        `forward ${index} (${shown}): target ${host}:${port} is not on the allowlist`,
      );
    }
    if (seen.has(shown)) {
      throw new ProxyError('BAD_CONFIG', `forward ${index}: ${shown} is already used`);
    }
    seen.add(shown);
  });
}

/**
 * Pipes `left` and `right` into each other until both are closed, and resolves with the first
 * error either reported (undefined for a clean end). When one side ends or closes, what it sent
 * is flushed to the other, which is then closed too: a relay is never left half open, since
 * neither vsock (through the addon) nor the protocols above have a use for that.
 */
function relay(
  left: Duplex,
  right: Duplex,
  count: (leftToRight: boolean, bytes: number) => void,
): Promise<Error | undefined> {
  let firstError: Error | undefined;
  const shut = (stream: Duplex) => stream.end(() => stream.destroy());
  const wire = (from: Duplex, to: Duplex, leftToRight: boolean) => {
    from.on('data', (chunk: Buffer) => count(leftToRight, chunk.length));
    from.pipe(to, { end: false });
    from.once('end', () => shut(to));
    from.once('close', () => shut(to));
    from.on('error', (error) => {
      firstError ??= error;
      to.destroy();
    });
  };
  wire(left, right, true);
  wire(right, left, false);
  const closed = (stream: Duplex) =>
    new Promise<void>((resolve) => (stream.closed ? resolve() : stream.once('close', resolve)));
  return Promise.all([closed(left), closed(right)]).then(() => firstError);
}

function keep(set: Set<Promise<void>>, promise: Promise<void>): void {
  set.add(promise);
  void promise.finally(() => set.delete(promise));
}
