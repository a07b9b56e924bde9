/**
 * One way to listen and connect, whatever the address kind, so the enclave, the parent proxy and
 * the coordinator are written once and run over vsock in production and over Unix sockets in
 * the simulator. Everything here yields plain Node Duplex streams; framing is layered on top by
 * the caller (framing.ts).
 */
import { lstat, stat, unlink, chmod } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { checkAddress, formatAddress, type StreamAddress } from './address.js';
import { TransportError, asTransportError } from './errors.js';
import { connectVsock, listenVsock } from './vsock.js';

/** A listening endpoint. */
export interface Listener {
  /** Where it listens; for `tcp` port 0, the port the system picked. */
  readonly address: StreamAddress;
  /**
   * Stops accepting (a Unix socket file is removed). Connections already handed out are the
   * caller's to close. A vsock listener keeps its port and thread until the process exits
   * (see vsock.ts).
   */
  close(): Promise<void>;
}

/** Options for {@link listen}. */
export interface ListenOptions {
  /** Told about errors while accepting (e.g. EMFILE); listening goes on. Default: ignored. */
  readonly onError?: (error: TransportError) => void;
}

/** Options for {@link connect}. */
export interface ConnectOptions {
  /** Give up (TransportError 'CONNECT_TIMEOUT') if not connected within this many ms. */
  readonly timeoutMs?: number;
}

/**
 * Listens on `address` and hands every accepted connection to `onConnection`.
 *
 * A Unix socket needs its directory to exist (we do not create directories: where secrets'
 * sockets live is the deployment's decision). A socket file left by a dead process is removed;
 * anything else at the path, or a socket someone still listens on, is refused. The new socket
 * file gets mode 0600. Between bind(2) and that chmod it briefly has the umask's mode, so the
 * directory itself should be private (0700); that is the protection that holds.
 *
 * @throws TransportError 'BAD_ADDRESS', 'LISTEN_FAILED' or 'VSOCK_UNAVAILABLE'.
 */
export async function listen(
  address: StreamAddress,
  onConnection: (stream: Duplex) => void,
  options: ListenOptions = {},
): Promise<Listener> {
  checkAddress(address);
  switch (address.kind) {
    case 'vsock': {
      if (address.cid !== 0xffffffff) {
        // The addon binds VMADDR_CID_ANY whatever we ask; say so rather than widen silently.
        throw new TransportError(
          'BAD_ADDRESS',
          `cannot listen on ${formatAddress(address)}: vsock listeners take vsock:any:PORT`,
        );
      }
      const listener = await listenVsock(address.port, onConnection, {
        onAcceptError: options.onError,
      });
      return { address, close: () => listener.close() };
    }
    case 'unix':
      await clearStaleSocket(address.path);
      return listenNet(address, onConnection, options);
    case 'tcp':
      return listenNet(address, onConnection, options);
  }
}

/**
 * Connects to `address`. TCP connections have Nagle's algorithm off: frames are small and
 * latency-bound.
 *
 * @throws TransportError 'BAD_ADDRESS', 'CONNECT_FAILED', 'CONNECT_TIMEOUT' or
 *   'VSOCK_UNAVAILABLE'.
 */
export async function connect(
  address: StreamAddress,
  options: ConnectOptions = {},
): Promise<Duplex> {
  checkAddress(address);
  const { timeoutMs } = options;
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0)) {
    throw new RangeError('timeoutMs must be a positive integer');
  }
  if (address.kind === 'vsock') return connectVsock(address.cid, address.port, { timeoutMs });
  const shown = formatAddress(address);
  const socket =
    address.kind === 'unix'
      ? createConnection({ path: address.path })
      : createConnection({ host: address.host, port: address.port, noDelay: true });
  return new Promise<Duplex>((resolvePromise, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onError = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(asTransportError(error, 'CONNECT_FAILED', `connect to ${shown}`));
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolvePromise(socket);
    });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        socket.off('error', onError);
        // An error from the aborted attempt would otherwise have no listener and crash us.
        socket.on('error', () => undefined);
        socket.destroy();
        reject(
          new TransportError(
            'CONNECT_TIMEOUT',
            `connect to ${shown}: no answer in ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
    }
  });
}

async function listenNet(
  address: Extract<StreamAddress, { kind: 'unix' | 'tcp' }>,
  onConnection: (stream: Duplex) => void,
  options: ListenOptions,
): Promise<Listener> {
  const shown = formatAddress(address);
  const server: Server = createServer({ noDelay: address.kind === 'tcp' }, (socket: Socket) =>
    onConnection(socket),
  );
  await new Promise<void>((resolvePromise, reject) => {
    const onError = (error: Error) =>
      reject(asTransportError(error, 'LISTEN_FAILED', `listen on ${shown}`));
    server.once('error', onError);
    const ready = () => {
      server.off('error', onError);
      resolvePromise();
    };
    if (address.kind === 'unix') server.listen({ path: address.path }, ready);
    else server.listen({ host: address.host, port: address.port }, ready);
  });
  // Accept errors arrive as server 'error' events; without a listener they would crash us.
  server.on('error', (error) =>
    options.onError?.(asTransportError(error, 'IO_ERROR', `accept on ${shown}`)),
  );
  let actual: StreamAddress = address;
  if (address.kind === 'unix') {
    try {
      await chmod(address.path, 0o600);
    } catch (error) {
      server.close();
      throw asTransportError(error, 'LISTEN_FAILED', `chmod 0600 ${address.path}`);
    }
  } else {
    const bound = server.address();
    if (bound !== null && typeof bound === 'object') actual = { ...address, port: bound.port };
  }
  return {
    address: actual,
    close: async () => {
      // The listening handle closes (and libuv unlinks a Unix socket file) synchronously here;
      // server.close's callback would wait for every handed-out connection, which are not ours.
      if (server.listening) server.close();
    },
  };
}

/** Makes way for a Unix listener at `path`, removing only a socket nobody listens on. */
async function clearStaleSocket(path: string): Promise<void> {
  const dir = dirname(resolve(path));
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
  } catch (error) {
    throw asTransportError(error, 'LISTEN_FAILED', `socket directory ${dir}`);
  }
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw asTransportError(error, 'LISTEN_FAILED', `inspect ${path}`);
  }
  if (!isSocket) {
    throw new TransportError(
      'LISTEN_FAILED',
      `${path} exists and is not a socket; not removing it`,
    );
  }
  // A socket file outlives its process. Only one that refuses connections is stale: removing a
  // live one would silently steal another instance's clients.
  const live = await new Promise<boolean>((resolvePromise) => {
    const probe = createConnection({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolvePromise(true);
    });
    probe.once('error', () => resolvePromise(false));
  });
  if (live) throw new TransportError('LISTEN_FAILED', `${path}: another process listens there`);
  await unlink(path).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw asTransportError(error, 'LISTEN_FAILED', `remove stale socket ${path}`);
    }
  });
}
