/**
 * transport/: the address syntax (what it accepts and what it refuses), the frame decoder at
 * every chunk boundary and at its size limit, framed streams over real Unix and TCP sockets,
 * the vsock stream adapter against a stand-in addon that behaves as the real one does (this
 * machine has AF_VSOCK but no loopback, so no vsock bytes can flow here), and the real addon
 * in a child process: listen, and fail to connect without crashing or hanging.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  FrameDecoder,
  FramedStream,
  MAX_FRAME_BYTES,
  TransportError,
  connect,
  connectVsock,
  formatAddress,
  framePrefix,
  listen,
  listenVsock,
  parseAddress,
  type StreamAddress,
  type VsockAddon,
  type VsockEmit,
  type VsockNativeSocket,
} from '../transport/index.js';
import type { VsockProbeReport } from './vsock-probe.js';

const work = mkdtempSync(join(tmpdir(), 'mpc-kms-transport-'));
chmodSync(work, 0o700);
after(() => rmSync(work, { recursive: true, force: true }));

const encode = (frames: readonly Uint8Array[]): Uint8Array =>
  Buffer.concat(frames.flatMap((frame) => [framePrefix(frame.length), frame]));

const bytes = (length: number, seed: number): Uint8Array =>
  Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 7) & 0xff);

const rejectsWith = async (promise: Promise<unknown>, code: string, message?: RegExp) =>
  assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof TransportError, `expected a TransportError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  });

// ---------------------------------------------------------------------------------------------
// Addresses.

test('parseAddress accepts the three kinds and formats them back', () => {
  const cases: [string, StreamAddress, string?][] = [
    ['vsock:3:8000', { kind: 'vsock', cid: 3, port: 8000 }],
    ['vsock:any:5000', { kind: 'vsock', cid: 0xffffffff, port: 5000 }],
    ['vsock:4294967295:1', { kind: 'vsock', cid: 0xffffffff, port: 1 }, 'vsock:any:1'],
    ['vsock:0:0', { kind: 'vsock', cid: 0, port: 0 }],
    ['vsock:16:4294967294', { kind: 'vsock', cid: 16, port: 4294967294 }],
    ['unix:/run/mpc-kms/enclave.sock', { kind: 'unix', path: '/run/mpc-kms/enclave.sock' }],
    ['unix:rel/a=b.sock', { kind: 'unix', path: 'rel/a=b.sock' }],
    ['unix:/' + 'a'.repeat(106), { kind: 'unix', path: '/' + 'a'.repeat(106) }],
    ['tcp:127.0.0.1:0', { kind: 'tcp', host: '127.0.0.1', port: 0 }],
    [
      'tcp:kms.us-east-1.amazonaws.com:443',
      { kind: 'tcp', host: 'kms.us-east-1.amazonaws.com', port: 443 },
    ],
    ['tcp:localhost:65535', { kind: 'tcp', host: 'localhost', port: 65535 }],
    ['tcp:[::1]:7000', { kind: 'tcp', host: '::1', port: 7000 }],
    ['tcp:[fe80::1:2]:1', { kind: 'tcp', host: 'fe80::1:2', port: 1 }],
  ];
  for (const [text, expected, formatted] of cases) {
    const address = parseAddress(text);
    assert.deepEqual(address, expected, text);
    assert.equal(formatAddress(address), formatted ?? text);
    assert.deepEqual(parseAddress(formatAddress(address)), address);
  }
});

test('parseAddress refuses anything ambiguous or out of range with BAD_ADDRESS', () => {
  const refused = [
    '',
    'vsock',
    'vsock:',
    'vsock:3',
    'vsock:3:',
    'vsock::8000',
    'vsock:3:8000:1',
    'vsock:-1:8000',
    'vsock:+3:8000',
    'vsock:03:8000',
    'vsock:0x3:8000',
    'vsock:3:4294967295',
    'vsock:4294967296:1',
    'vsock:ANY:1',
    'vsock: 3:8000',
    'VSOCK:3:8000',
    'unix:',
    'unix:/tmp/a\0b',
    'unix:/' + 'a'.repeat(107),
    'tcp:',
    'tcp:host',
    'tcp::80',
    'tcp:host:',
    'tcp:host:65536',
    'tcp:host:080',
    'tcp:host:-1',
    'tcp:::1:80',
    'tcp:[::1]80',
    'tcp:[127.0.0.1]:80',
    'tcp:[::1:80',
    'tcp:10.0.0.256:80',
    'tcp:300:80',
    'tcp:-bad.example:80',
    'tcp:bad-.example:80',
    'tcp:under_score.example:80',
    'tcp:a..b:80',
    `tcp:${'a'.repeat(64)}.example:80`,
    'tcp:host :80',
    'http://example.com:80',
    'udp:1.2.3.4:53',
  ];
  for (const text of refused) {
    assert.throws(
      () => parseAddress(text),
      (error: unknown) => error instanceof TransportError && error.code === 'BAD_ADDRESS',
      JSON.stringify(text),
    );
  }
});

// ---------------------------------------------------------------------------------------------
// The frame decoder.

const sample = [bytes(5, 1), new Uint8Array(0), bytes(1, 2), bytes(300, 3), new Uint8Array(0)];

test('frames split at every byte boundary, or one byte at a time, decode the same', () => {
  const wire = encode(sample);
  for (let cut = 0; cut <= wire.length; cut++) {
    const decoder = new FrameDecoder();
    const got = [...decoder.push(wire.subarray(0, cut)), ...decoder.push(wire.subarray(cut))];
    assert.deepEqual(got.map(Buffer.from), sample.map(Buffer.from), `cut at ${cut}`);
    assert.equal(decoder.midFrame, false);
  }
  const decoder = new FrameDecoder();
  const got = [...wire].flatMap((byte) => decoder.push(Uint8Array.of(byte)));
  assert.deepEqual(got.map(Buffer.from), sample.map(Buffer.from));
});

test('many frames in one chunk come out in order, as views into that chunk', () => {
  const frames = Array.from({ length: 500 }, (_, i) => bytes(i % 17, i));
  const wire = encode(frames);
  const got = new FrameDecoder().push(wire);
  assert.deepEqual(got.map(Buffer.from), frames.map(Buffer.from));
  const nonEmpty = got.find((frame) => frame.length > 0)!;
  assert.equal(nonEmpty.buffer, wire.buffer, 'a frame inside one chunk is not copied');
});

test('a zero-length frame is a frame', () => {
  assert.deepEqual(new FrameDecoder().push(framePrefix(0)), [new Uint8Array(0)]);
});

test('MAX_FRAME_BYTES is accepted; one more is refused on its prefix alone', () => {
  const decoder = new FrameDecoder();
  const body = new Uint8Array(MAX_FRAME_BYTES).fill(7);
  assert.deepEqual(decoder.push(framePrefix(MAX_FRAME_BYTES)), []);
  const [frame] = decoder.push(body);
  assert.equal(frame!.length, MAX_FRAME_BYTES);

  // Refused after four bytes, with no body sent: nothing was allocated for it.
  const refusing = new FrameDecoder();
  assert.throws(
    () => refusing.push(framePrefix(MAX_FRAME_BYTES + 1)),
    (error: unknown) => error instanceof TransportError && error.code === 'FRAME_TOO_LARGE',
  );
  // The largest prefix a peer can write is refused the same way.
  assert.throws(() => new FrameDecoder().push(Uint8Array.of(0xff, 0xff, 0xff, 0xff)), /4294967295/);
  // Out of sync for good: a later push is refused too.
  assert.throws(() => refusing.push(framePrefix(0)), TransportError);
});

test('property: any chunking of any frame sequence decodes to the same frames', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      (frames, cutSeeds) => {
        const wire = encode(frames);
        const cuts = [...new Set(cutSeeds.map((seed) => seed % (wire.length + 1)))].sort(
          (a, b) => a - b,
        );
        const decoder = new FrameDecoder();
        const got: Uint8Array[] = [];
        let start = 0;
        for (const cut of [...cuts, wire.length]) {
          got.push(...decoder.push(wire.subarray(start, cut)));
          start = cut;
        }
        assert.deepEqual(got.map(Buffer.from), frames.map(Buffer.from));
        assert.equal(decoder.midFrame, false);
      },
    ),
    { numRuns: 300 },
  );
});

// ---------------------------------------------------------------------------------------------
// Framed streams over real sockets.

/** Listens on `address`, connects to it, and returns both ends and the listener. */
async function socketPair(address: StreamAddress) {
  let accept!: (stream: Duplex) => void;
  const accepted = new Promise<Duplex>((resolve) => (accept = resolve));
  const listener = await listen(address, accept);
  const client = await connect(listener.address, { timeoutMs: 2000 });
  return { listener, client, server: await accepted };
}

async function collect(framed: FramedStream, count: number): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  if (count === 0) return got;
  for await (const frame of framed.frames()) {
    got.push(frame);
    if (got.length === count) break;
  }
  return got;
}

for (const kind of ['unix', 'tcp'] as const) {
  test(`${kind}: 1000 frames each way at once, then a clean close on both ends`, async () => {
    const address: StreamAddress =
      kind === 'unix'
        ? { kind: 'unix', path: join(work, 'roundtrip.sock') }
        : { kind: 'tcp', host: '127.0.0.1', port: 0 };
    const { listener, client, server } = await socketPair(address);
    if (kind === 'tcp') assert.notEqual((listener.address as { port: number }).port, 0);
    const a = new FramedStream(client);
    const b = new FramedStream(server);
    // Sizes from empty to past the 64 KiB write slice, deterministic.
    const frames = (side: number) =>
      Array.from({ length: 1000 }, (_, i) =>
        bytes(i % 100 === 99 ? 70_000 : (i * 37) % 3000, i + side),
      );
    const sendAll = async (framed: FramedStream, list: Uint8Array[]) => {
      for (const frame of list) await framed.send(frame);
    };
    const [, , toB, toA] = await Promise.all([
      sendAll(a, frames(1)),
      sendAll(b, frames(2)),
      collect(b, 1000),
      collect(a, 1000),
    ]);
    assert.deepEqual(toB.map(Buffer.from), frames(1).map(Buffer.from));
    assert.deepEqual(toA.map(Buffer.from), frames(2).map(Buffer.from));
    await a.close();
    await b.closed;
    await listener.close();
    if (kind === 'unix') {
      // The socket file went with the listener, so a new one can take its place.
      const again = await listen(address, (stream) => stream.destroy());
      await again.close();
    }
  });
}

test('a peer announcing MAX_FRAME_BYTES + 1 is cut off with FRAME_TOO_LARGE', async () => {
  const { listener, client, server } = await socketPair({
    kind: 'unix',
    path: join(work, 'big.sock'),
  });
  const framed = new FramedStream(server);
  client.write(framePrefix(MAX_FRAME_BYTES + 1));
  const iterator = framed.frames();
  await rejectsWith(iterator.next(), 'FRAME_TOO_LARGE');
  await framed.closed;
  assert.equal(server.destroyed, true);
  await new Promise((resolve) => client.once('close', resolve));
  await listener.close();
});

test('a stream ending mid-frame ends the frames with CLOSED (truncated frame)', async () => {
  const { listener, client, server } = await socketPair({
    kind: 'unix',
    path: join(work, 'cut.sock'),
  });
  const framed = new FramedStream(server);
  client.end(Buffer.concat([encode([bytes(10, 1)]), framePrefix(100), bytes(40, 2)]));
  const iterator = framed.frames();
  const first = await iterator.next();
  assert.deepEqual(Buffer.from(first.value!), Buffer.from(bytes(10, 1)), 'whole frames first');
  await rejectsWith(iterator.next(), 'CLOSED', /truncated frame.*40 of 100/);
  assert.deepEqual(await iterator.next(), { value: undefined, done: true });
  await listener.close();
});

test('send refuses an oversized frame, and any frame once closed', async () => {
  const { listener, client, server } = await socketPair({
    kind: 'tcp',
    host: '127.0.0.1',
    port: 0,
  });
  const framed = new FramedStream(client);
  await rejectsWith(framed.send(new Uint8Array(MAX_FRAME_BYTES + 1)), 'FRAME_TOO_LARGE');
  const peer = new FramedStream(server);
  const incoming = peer.frames();
  await framed.send(bytes(3, 3));
  assert.deepEqual(Buffer.from((await incoming.next()).value!), Buffer.from(bytes(3, 3)));
  await framed.close();
  await rejectsWith(framed.send(bytes(1, 1)), 'CLOSED');
  // The peer's frames end cleanly: no truncation, no error.
  assert.deepEqual(await incoming.next(), { value: undefined, done: true });
  assert.throws(() => peer.frames(), /has a consumer already/);
  await listener.close();
});

test('unix listen removes a stale socket, but refuses a live one or a regular file', async () => {
  const path = join(work, 'stale.sock');
  const first = await listen({ kind: 'unix', path }, (stream) => stream.destroy());
  await rejectsWith(
    listen({ kind: 'unix', path }, () => undefined),
    'LISTEN_FAILED',
    /listens there/,
  );
  await first.close();
  const file = join(work, 'not-a-socket');
  writeFileSync(file, 'keep me');
  await rejectsWith(
    listen({ kind: 'unix', path: file }, () => undefined),
    'LISTEN_FAILED',
    /not a socket/,
  );
  await rejectsWith(
    listen({ kind: 'unix', path: join(work, 'absent', 'x.sock') }, () => undefined),
    'LISTEN_FAILED',
    /socket directory/,
  );
  await rejectsWith(connect({ kind: 'unix', path: join(work, 'nobody.sock') }), 'CONNECT_FAILED');
  await rejectsWith(connect({ kind: 'tcp', host: '127.0.0.1', port: 0 }), 'CONNECT_FAILED');
});

// ---------------------------------------------------------------------------------------------
// The vsock stream adapter, against a stand-in addon.

/**
 * An in-memory addon with the real one's event order and quirks: events arrive on later turns
 * of the event loop, received data in pieces of at most 8 KiB, `shutdown` is both ways and
 * ends both receive loops, a failed connect reports after a delay. It records misuse the real
 * addon would punish: closing a descriptor while its receive thread still runs, or writing
 * after shutdown.
 */
function fakeAddon(options: { connectDelayMs?: number } = {}) {
  const listeners = new Map<number, FakeSocket>();
  const byFd = new Map<number, FakeSocket>();
  const violations: string[] = [];
  let nextFd = 100;
  const later = (fn: () => void) => setImmediate(fn);

  class FakeSocket implements VsockNativeSocket {
    peer: FakeSocket | undefined;
    receiving = false;
    endQueued = false;
    recvEnded = false;
    shut = false;
    closed = false;
    readonly inbox: [string, ...unknown[]][] = [];

    constructor(
      private readonly emit: VsockEmit,
      fd?: number,
    ) {
      if (fd !== undefined) {
        const accepted = byFd.get(fd)!;
        this.peer = accepted.peer;
        this.peer!.peer = this;
      }
    }
    listen(port: number) {
      if (listeners.has(port)) throw new Error('Bind socket address failed: EADDRINUSE');
      listeners.set(port, this);
    }
    connect(cid: number, port: number) {
      setTimeout(() => {
        const listener = listeners.get(port);
        if (cid !== 7 || listener === undefined) {
          this.emit(null, '_error', new Error('Connect socket failed: ECONNRESET'));
          return;
        }
        const fd = nextFd++;
        const placeholder = Object.create(FakeSocket.prototype) as FakeSocket;
        placeholder.peer = this;
        byFd.set(fd, placeholder);
        listener.emit(null, '_connection', fd);
        this.emit(null, '_connect');
      }, options.connectDelayMs ?? 1);
    }
    setMaxConnectionAttempts() {
      // One attempt is all the fake ever makes.
    }
    startRecv() {
      this.receiving = true;
      for (const [event, ...args] of this.inbox.splice(0)) this.deliver(event, ...args);
    }
    writeBuffer(data: Buffer) {
      if (this.shut || this.closed) {
        violations.push('write after shutdown or close');
        throw new Error("can't write, bad state");
      }
      const copy = Buffer.from(data);
      for (let i = 0; i < copy.length; i += 8192) {
        this.peer!.deliver('_data', copy.subarray(i, i + 8192));
      }
    }
    end() {
      this.shutdown();
    }
    shutdown() {
      if (this.shut) return;
      this.shut = true;
      this.emit(null, '_shutdown');
      this.deliver('end');
      this.peer?.deliver('end');
    }
    close() {
      if (this.closed) return;
      if (this.receiving && !this.recvEnded) violations.push('close while receive thread runs');
      this.closed = true;
      this.emit(null, 'close');
    }
    deliver(event: string, ...args: unknown[]) {
      if (!this.receiving) {
        this.inbox.push([event, ...args]);
        return;
      }
      if (this.endQueued) return;
      if (event === 'end') this.endQueued = true;
      later(() => {
        // The receive thread is gone only once its last event has been handed over.
        if (event === 'end') this.recvEnded = true;
        this.emit(null, event, ...args);
      });
    }
  }
  const addon: VsockAddon = { VsockSocket: FakeSocket };
  return { addon, violations };
}

test('vsock adapter: frames both ways, writes sliced, ends closed in the safe order', async () => {
  const { addon, violations } = fakeAddon();
  let accept!: (stream: Duplex) => void;
  const accepted = new Promise<Duplex>((resolve) => (accept = resolve));
  const listener = await listenVsock(5000, accept, { addon });
  const client = new FramedStream(await connectVsock(7, 5000, { addon }));
  const server = new FramedStream(await accepted);
  const frames = Array.from({ length: 50 }, (_, i) => bytes(i === 10 ? 200_000 : i * 13, i));
  const [, , got] = await Promise.all([
    (async () => {
      for (const frame of frames) await client.send(frame);
    })(),
    server.send(bytes(9, 9)),
    collect(server, frames.length),
    collect(client, 1),
  ]);
  assert.deepEqual(got.map(Buffer.from), frames.map(Buffer.from));
  await client.close();
  await server.closed;
  assert.deepEqual(violations, []);
  await listener.close();
});

test('vsock adapter: connect failures and timeouts are TransportErrors; late threads are reaped', async () => {
  const { addon, violations } = fakeAddon({ connectDelayMs: 50 });
  await rejectsWith(connectVsock(9, 5001, { addon }), 'CONNECT_FAILED', /ECONNRESET/);
  await rejectsWith(connectVsock(0xffffffff, 1, { addon }), 'BAD_ADDRESS');
  const listener = await listenVsock(5001, (stream) => stream.destroy(), { addon });
  await rejectsWith(
    listenVsock(5001, () => undefined, { addon }),
    'LISTEN_FAILED',
    /EADDRINUSE/,
  );
  // Times out before the (slow) connect thread reports; its socket is closed when it does.
  await rejectsWith(connectVsock(7, 5001, { addon, timeoutMs: 10 }), 'CONNECT_TIMEOUT');
  await new Promise((resolve) => setTimeout(resolve, 100));
  await listener.close();
  assert.deepEqual(violations, []);
});

test('vsock adapter: a closed listener turns away what it still accepts', async () => {
  const { addon } = fakeAddon();
  let handed = 0;
  const listener = await listenVsock(5002, () => handed++, { addon });
  await listener.close();
  const stream = await connectVsock(7, 5002, { addon });
  const ended = new Promise((resolve) => stream.once('close', resolve));
  stream.resume();
  await ended;
  assert.equal(handed, 0);
});

// ---------------------------------------------------------------------------------------------
// The real addon, in a child process.

test('vsock (real addon): listen works, a connect with no listener fails in bounded time', (t) => {
  const probe = fileURLToPath(new URL('./vsock-probe.js', import.meta.url));
  const run = spawnSync(process.execPath, [probe], { encoding: 'utf8', timeout: 8000 });
  assert.equal(run.status, 0, `probe failed: ${run.stderr}`);
  const report = JSON.parse(run.stdout) as VsockProbeReport;
  if (report.unavailable !== undefined) {
    t.skip(`vsock not usable here: ${report.unavailable}`);
    return;
  }
  t.diagnostic(JSON.stringify(report));
  // The addon cannot release a listener; its port stays bound until the process exits.
  assert.equal(report.relistenAfterClose, 'LISTEN_FAILED');
  for (const attempt of report.connects!) {
    assert.equal(attempt.outcome, 'TransportError', JSON.stringify(attempt));
    assert.ok(['CONNECT_FAILED', 'CONNECT_TIMEOUT'].includes(attempt.code!), attempt.code);
    assert.ok(attempt.ms < 4000, `CID ${attempt.cid} took ${attempt.ms} ms`);
  }
});
