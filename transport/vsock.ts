/**
 * vsock as Node streams, over the prebuilt `node-vsock-linux-x64-gnu` addon (NAPI-RS, Rust).
 * Node has no AF_VSOCK of its own, and an enclave has no other way out: this file is the only
 * place that touches the addon, so its quirks stay here. What the addon does, read from its
 * source (wei-rong-1/node-vsock 0.0.5, src/socket.rs) and checked on a Linux guest:
 *
 * - Every blocking call but `send` runs on a thread of its own: an accept loop per listener, one
 *   thread per connect, one receive loop per connected socket. They report through a callback,
 *   `emit(null, event, ...args)`: `_connection(fd)`, `_connect`, `_data(Buffer of <= 8 KiB)`,
 *   `end`, `_error(Error)`; `shutdown()` and `close()` report `_shutdown` and `close` at once.
 * - `writeBuffer` is a blocking send(2) loop on the JavaScript thread. While the peer's receive
 *   buffer is full, the whole event loop waits. {@link VsockStream} therefore writes in 64 KiB
 *   slices and yields to the event loop between them; a peer that stops reading still stalls us
 *   for one slice at a time. Our own peers never stop: the addon's receive thread drains the
 *   socket whatever JavaScript is doing. The flip side is that reading cannot be paused: bytes
 *   pile up in the Readable's buffer if the consumer is slow (frames bound what one message
 *   costs, not what a flood costs).
 * - The addon can only shut a socket down both ways, so a `VsockStream` is never half open:
 *   ending our side ends the peer's too.
 * - A failed connect is reported only after a one-second sleep (the addon backs off 2^i seconds
 *   after every attempt, the last one included). We allow one attempt; callers retry.
 * - The accept loop never ends: `shutdown` on a listener fails (ENOTCONN), and `close` leaves
 *   accept(2) blocked on the old file with the port still bound; the first connection after it
 *   would send the loop spinning on a closed (or, worse, reused) descriptor. So a listener is
 *   closed logically: it refuses what it accepts from then on, its descriptor stays open, its
 *   port stays bound, and its thread keeps the process alive until the process exits.
 * - Closing a connected socket while its receive thread still sits in recv(2) would let a
 *   reused descriptor number be read by that thread. We shut it down, wait for the thread's
 *   last event, and only then close.
 * - A socket object that is garbage-collected shuts down and closes its descriptor (Rust Drop),
 *   so every native socket stays referenced until we have closed it ourselves.
 */
import { createRequire } from 'node:module';
import { Duplex } from 'node:stream';
import { VMADDR_CID_ANY } from './address.js';
import { TransportError } from './errors.js';

/** The callback the addon reports through (NAPI-RS "callee handled": error first). */
export type VsockEmit = (error: Error | null, event: string, ...args: unknown[]) => void;

/** One native socket of the addon; see the file comment for what each method really does. */
export interface VsockNativeSocket {
  listen(port: number): void;
  connect(cid: number, port: number): void;
  startRecv(): void;
  writeBuffer(data: Buffer): void;
  end(): void;
  shutdown(): void;
  close(): void;
  setMaxConnectionAttempts(attempts: number): void;
}

/** The addon's module shape. Tests pass a stand-in through {@link VsockOptions.addon}. */
export interface VsockAddon {
  VsockSocket: new (emit: VsockEmit, fd?: number) => VsockNativeSocket;
}

/** Options shared by {@link listenVsock} and {@link connectVsock}. */
export interface VsockOptions {
  /** The addon to use; default: `node-vsock-linux-x64-gnu`, loaded on first use. */
  readonly addon?: VsockAddon;
  /** connect only: give up after this many milliseconds (the kernel's own limit is 2 s). */
  readonly timeoutMs?: number;
  /** listen only: told about accept(2) failures, which the addon retries on its own. */
  readonly onAcceptError?: (error: TransportError) => void;
}

/** A vsock listener. */
export interface VsockListener {
  readonly port: number;
  /**
   * Stops handing out connections. The port stays bound and the accept thread keeps the process
   * alive until it exits (see the file comment): a process that listened on vsock must end
   * with `process.exit`.
   */
  close(): Promise<void>;
}

/** Bytes handed to one blocking send(2) before the event loop gets a turn. */
const WRITE_SLICE_BYTES = 64 * 1024;
const ADDON_NAME = 'node-vsock-linux-x64-gnu';

let loaded: VsockAddon | undefined;
let loadFailure: string | undefined;
/** Native listeners are never released (see the file comment); this keeps them from GC. */
const retainedListeners = new Set<VsockNativeSocket>();

/**
 * Loads the addon once.
 *
 * @throws TransportError('VSOCK_UNAVAILABLE') when it is not installed (it is an optional
 *   dependency, Linux x64 glibc only) or does not load on this machine.
 */
export function loadVsockAddon(): VsockAddon {
  if (loaded !== undefined) return loaded;
  if (loadFailure === undefined) {
    try {
      const module = createRequire(import.meta.url)(ADDON_NAME) as Partial<VsockAddon>;
      if (typeof module.VsockSocket !== 'function') throw new Error('no VsockSocket export');
      loaded = module as VsockAddon;
      return loaded;
    } catch (error) {
      loadFailure = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    }
  }
  throw new TransportError('VSOCK_UNAVAILABLE', `vsock addon ${ADDON_NAME}: ${loadFailure}`);
}

/**
 * Listens on vsock `port` on every CID (the addon always binds VMADDR_CID_ANY) and hands each
 * accepted connection to `onConnection` as a Duplex.
 *
 * @throws TransportError('VSOCK_UNAVAILABLE') without the addon or AF_VSOCK;
 *   TransportError('LISTEN_FAILED') when the port is taken or not ours to bind.
 */
export async function listenVsock(
  port: number,
  onConnection: (stream: Duplex) => void,
  options: VsockOptions = {},
): Promise<VsockListener> {
  checkPort(port);
  const addon = options.addon ?? loadVsockAddon();
  let closed = false;
  const native = createNative(addon, (error, event, ...args) => {
    if (event === '_connection' && typeof args[0] === 'number') {
      const stream = new VsockStream(addon, args[0]);
      if (closed) stream.destroy();
      else onConnection(stream);
    } else if (error != null || event === '_error') {
      options.onAcceptError?.(addonError('IO_ERROR', 'vsock accept', error ?? args[0]));
    }
  });
  try {
    native.listen(port);
  } catch (error) {
    // A socket that never listened has no thread on it: closing it is safe.
    closeQuietly(native);
    throw addonError('LISTEN_FAILED', `vsock listen on port ${port}`, error);
  }
  retainedListeners.add(native);
  return {
    port,
    close: async () => {
      closed = true;
    },
  };
}

/**
 * Connects to `cid`:`port` (the parent instance is CID 3), one attempt.
 *
 * @throws TransportError('CONNECT_FAILED') (no listener, no such CID: reported about a second
 *   late, see the file comment), TransportError('CONNECT_TIMEOUT') (options.timeoutMs, or the
 *   kernel's own 2 s), TransportError('VSOCK_UNAVAILABLE'), TransportError('BAD_ADDRESS').
 */
export function connectVsock(
  cid: number,
  port: number,
  options: VsockOptions = {},
): Promise<Duplex> {
  if (!Number.isInteger(cid) || cid < 0 || cid >= VMADDR_CID_ANY) {
    return Promise.reject(
      new TransportError('BAD_ADDRESS', `cannot connect to vsock CID ${cid}: need 0..4294967294`),
    );
  }
  try {
    checkPort(port);
    const addon = options.addon ?? loadVsockAddon();
    const stream = new VsockStream(addon);
    return stream.connectTo(cid, port, options.timeoutMs);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * One connected vsock socket as a Duplex (not half-open: see the file comment). Writes block
 * the event loop per 64 KiB slice; reads cannot be paused.
 */
class VsockStream extends Duplex {
  private readonly native: VsockNativeSocket;
  private receiving = false;
  private connecting: { resolve: () => void; reject: (e: TransportError) => void } | undefined;
  /** The connect thread is still running though nobody waits for it any more. */
  private connectAbandoned = false;
  private nativeClosed = false;
  /** What error messages call this socket: its peer once known. */
  private label: string;

  /** With `fd`: an accepted connection, receiving at once. Without: ready for connectTo. */
  constructor(addon: VsockAddon, fd?: number) {
    super({ allowHalfOpen: false });
    this.label = fd === undefined ? 'vsock' : `vsock (accepted fd ${fd})`;
    this.native = createNative(
      addon,
      (error, event, ...args) => this.onNative(error, event, args),
      fd,
    );
    if (fd !== undefined) this.startReceiving();
  }

  connectTo(cid: number, port: number, timeoutMs: number | undefined): Promise<Duplex> {
    const target = `vsock:${cid}:${port}`;
    this.label = target;
    return new Promise<Duplex>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      this.connecting = {
        resolve: () => {
          clearTimeout(timer);
          resolve(this);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      try {
        // Retrying is the caller's business: each addon retry sleeps 2^i seconds first.
        this.native.setMaxConnectionAttempts(1);
        this.native.connect(cid, port);
      } catch (error) {
        this.connecting = undefined;
        // No connect thread was started, so the descriptor is ours to close now.
        this.destroy();
        reject(addonError('CONNECT_FAILED', `vsock connect to ${target}`, error));
        return;
      }
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          const pending = this.connecting;
          if (pending === undefined) return;
          this.connecting = undefined;
          // The connect thread still owns the descriptor; it is closed when the thread reports.
          this.connectAbandoned = true;
          this.destroy();
          pending.reject(
            new TransportError(
              'CONNECT_TIMEOUT',
              `vsock connect to ${target}: no answer in ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
      }
    });
  }

  override _read(): void {
    // Nothing to do: the addon's receive thread pushes whether or not we ask.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (e?: Error | null) => void) {
    let offset = 0;
    const step = () => {
      if (this.destroyed) {
        callback(new TransportError('CLOSED', `${this.label}: closed while writing`));
        return;
      }
      const end = Math.min(chunk.length, offset + WRITE_SLICE_BYTES);
      try {
        this.native.writeBuffer(chunk.subarray(offset, end));
      } catch (error) {
        const code = /EPIPE|ECONNRESET|ENOTCONN|bad state/.test(String(error))
          ? 'CLOSED'
          : 'IO_ERROR';
        callback(addonError(code, `${this.label}: send`, error));
        return;
      }
      offset = end;
      if (offset < chunk.length) setImmediate(step);
      else callback();
    };
    step();
  }

  override _final(callback: (e?: Error | null) => void): void {
    // The addon shuts both directions; our receive thread then reports 'end'.
    try {
      this.native.shutdown();
    } catch {
      // ENOTCONN: the peer is gone already, which is what ending wanted.
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (e?: Error | null) => void): void {
    if (this.connecting !== undefined) {
      const pending = this.connecting;
      this.connecting = undefined;
      this.connectAbandoned = true;
      pending.reject(new TransportError('CLOSED', `${this.label}: destroyed while connecting`));
    } else if (this.receiving) {
      // Wake the receive thread (recv returns 0); its last event closes the descriptor.
      try {
        this.native.shutdown();
      } catch {
        // Already disconnected: the thread is returning on its own.
      }
    } else if (!this.connectAbandoned) {
      this.closeNative();
    }
    callback(error);
  }

  private startReceiving(): void {
    this.receiving = true;
    this.native.startRecv();
  }

  private onNative(error: Error | null, event: string, args: unknown[]): void {
    switch (event) {
      case '_data':
        if (!this.destroyed && Buffer.isBuffer(args[0])) this.push(args[0]);
        return;
      case '_connect':
        return this.onConnected();
      case 'end':
        this.receiving = false;
        if (this.destroyed) this.closeNative();
        else this.push(null);
        return;
      case '_error':
        return this.onNativeError(addonError('IO_ERROR', this.label, error ?? args[0]));
      case '_shutdown':
      case 'close':
        return;
      default:
        if (error != null) this.onNativeError(addonError('IO_ERROR', this.label, error));
    }
  }

  private onConnected(): void {
    if (this.connectAbandoned) {
      this.connectAbandoned = false;
      this.closeNative();
      return;
    }
    const pending = this.connecting;
    this.connecting = undefined;
    this.startReceiving();
    pending?.resolve();
  }

  /** An `_error` comes from whichever thread runs: the connect thread, or the receive loop. */
  private onNativeError(error: TransportError): void {
    if (this.connectAbandoned) {
      this.connectAbandoned = false;
      this.closeNative();
    } else if (this.connecting !== undefined) {
      const pending = this.connecting;
      this.connecting = undefined;
      this.closeNative();
      const timedOut = /ETIMEDOUT/.test(error.message);
      pending.reject(
        new TransportError(timedOut ? 'CONNECT_TIMEOUT' : 'CONNECT_FAILED', error.message),
      );
      this.destroy();
    } else {
      // The receive loop has ended: the descriptor is ours to close.
      this.receiving = false;
      if (this.destroyed) this.closeNative();
      else this.destroy(error);
    }
  }

  private closeNative(): void {
    if (this.nativeClosed) return;
    this.nativeClosed = true;
    closeQuietly(this.native);
  }
}

function createNative(addon: VsockAddon, emit: VsockEmit, fd?: number): VsockNativeSocket {
  try {
    return new addon.VsockSocket(emit, fd);
  } catch (error) {
    // socket(AF_VSOCK) fails with EAFNOSUPPORT where the kernel has no vsock.
    throw addonError('VSOCK_UNAVAILABLE', 'vsock socket', error);
  }
}

function closeQuietly(native: VsockNativeSocket): void {
  try {
    native.close();
  } catch {
    // close(2) reported an error for a descriptor we are done with; nothing to recover.
  }
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port >= 0xffffffff) {
    throw new TransportError('BAD_ADDRESS', `vsock port ${port}: need 0..4294967294`);
  }
}

/** The addon reports errors as Error objects or bare strings with nix's errno names inside. */
function addonError(code: TransportError['code'], context: string, error: unknown): TransportError {
  const detail = error instanceof Error ? error.message : String(error);
  return new TransportError(code, `${context}: ${detail}`, { cause: error });
}
