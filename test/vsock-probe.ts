/**
 * Run as a child process by transport.test.ts, never as a test itself: a vsock listener's
 * accept thread keeps the process alive for good (see transport/vsock.ts), so the real addon is
 * exercised in a process that reports one JSON line on stdout and then exits explicitly.
 *
 * It listens on a free vsock port, checks that the port stays bound after the listener's
 * logical close, and connects to CIDs 2 (the host) and 3 (the parent by convention) on a port
 * with no listener, timing how each attempt fails.
 */
import { connectVsock, listenVsock, TransportError } from '../transport/index.js';

export interface VsockProbeReport {
  /** Why vsock cannot be exercised here; absent when it can. */
  readonly unavailable?: string;
  readonly listenPort?: number;
  /** The error code of a second listen on the port after close (the port stays bound). */
  readonly relistenAfterClose?: string;
  readonly connects?: readonly {
    readonly cid: number;
    readonly outcome: 'connected' | 'TransportError' | 'other';
    readonly code?: string;
    readonly message?: string;
    readonly ms: number;
  }[];
}

async function probe(): Promise<VsockProbeReport> {
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = 40000 + Math.floor(Math.random() * 20000);
    try {
      const listener = await listenVsock(port, (stream) => stream.destroy());
      await listener.close();
      break;
    } catch (error) {
      if (!(error instanceof TransportError)) throw error;
      if (error.code === 'LISTEN_FAILED' && /EADDRINUSE/.test(error.message) && attempt < 5) {
        continue;
      }
      return { unavailable: `${error.code}: ${error.message}` };
    }
  }
  let relistenAfterClose = 'none';
  try {
    await listenVsock(port, () => undefined);
  } catch (error) {
    relistenAfterClose = error instanceof TransportError ? error.code : 'other';
  }
  const connects = await Promise.all(
    [2, 3].map(async (cid) => {
      const started = Date.now();
      try {
        const stream = await connectVsock(cid, port + 1, { timeoutMs: 2500 });
        stream.destroy();
        return { cid, outcome: 'connected' as const, ms: Date.now() - started };
      } catch (error) {
        const ms = Date.now() - started;
        if (!(error instanceof TransportError)) {
          return { cid, outcome: 'other' as const, message: String(error), ms };
        }
        const { code, message } = error;
        return { cid, outcome: 'TransportError' as const, code, message, ms };
      }
    }),
  );
  return { listenPort: port, relistenAfterClose, connects };
}

probe().then(
  (report) => {
    process.stdout.write(JSON.stringify(report) + '\n');
    process.exit(0);
  },
  (error: unknown) => {
    process.stderr.write(`vsock probe crashed: ${String(error)}\n`);
    process.exit(1);
  },
);
