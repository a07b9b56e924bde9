/**
 * Length-prefixed frames over any byte stream: a 4-byte big-endian length, then that many bytes.
 * Every link in the system (enclave to parent over vsock, parent to coordinator over TCP, the
 * simulator's Unix sockets) carries opaque frames this way; what is inside (sealed protocol
 * envelopes, attestation handshakes) is decided above this layer.
 *
 * The decoder refuses a length prefix above the limit as soon as the four prefix bytes arrive,
 * before buffering or allocating anything for the body: the parent instance is untrusted, and
 * a prefix of 0xFFFFFFFF must cost us four bytes, not 4 GiB. A frame is returned as a view into
 * the received chunk when it lies inside one (the usual case), and copied once when it spans
 * several.
 */
import type { Duplex } from 'node:stream';
import { TransportError, asTransportError } from './errors.js';

/** The largest frame either side sends or accepts: 4 MiB, well above any protocol message. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;

const PREFIX_BYTES = 4;
/** Frames up to this size are sent as one buffer with their prefix (one write, one syscall). */
const COALESCE_BYTES = 64 * 1024;

/**
 * An incremental frame parser. Feed it chunks as they arrive, in any sizes; it returns the
 * frames each chunk completes. Pure: no streams, so the property tests drive it directly.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  /** Unconsumed chunks; bytes before `offset` in the first one are already consumed. */
  private chunks: Uint8Array[] = [];
  private offset = 0;
  private buffered = 0;
  /** The body length announced by the current prefix, or -1 while the prefix is incomplete. */
  private bodyLength = -1;
  private failed = false;

  constructor(maxFrameBytes: number = MAX_FRAME_BYTES) {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 0 || maxFrameBytes > 0xffffffff) {
      throw new RangeError('maxFrameBytes must be an integer in 0..2^32-1');
    }
    this.maxFrameBytes = maxFrameBytes;
  }

  /**
   * Adds one chunk and returns every frame now complete, in order.
   *
   * @throws TransportError('FRAME_TOO_LARGE') when a prefix exceeds the limit; the decoder is
   *   then poisoned and throws again on any later push (the stream is out of sync for good).
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failed) throw new TransportError('CLOSED', 'frame decoder already failed');
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Uint8Array[] = [];
    for (;;) {
      if (this.bodyLength < 0) {
        if (this.buffered < PREFIX_BYTES) break;
        const length = this.readPrefix();
        if (length > this.maxFrameBytes) {
          this.failed = true;
          this.chunks = [];
          this.buffered = 0;
          throw new TransportError(
            'FRAME_TOO_LARGE',
            `peer announced a ${length}-byte frame; the limit is ${this.maxFrameBytes}`,
          );
        }
        this.bodyLength = length;
      }
      if (this.buffered < this.bodyLength) break;
      frames.push(this.take(this.bodyLength));
      this.bodyLength = -1;
    }
    return frames;
  }

  /** True when bytes of an unfinished frame (or of its prefix) are buffered. */
  get midFrame(): boolean {
    return this.buffered > 0 || this.bodyLength >= 0;
  }

  /** A description of the unfinished frame, for the "truncated frame" error. */
  describePartial(): string {
    return this.bodyLength >= 0
      ? `${this.buffered} of ${this.bodyLength} body bytes`
      : `${this.buffered} of ${PREFIX_BYTES} prefix bytes`;
  }

  private readPrefix(): number {
    let value = 0;
    for (let i = 0; i < PREFIX_BYTES; i++) {
      const chunk = this.chunks[0]!;
      value = value * 256 + chunk[this.offset]!;
      this.advance(1);
    }
    return value;
  }

  private take(length: number): Uint8Array {
    if (length === 0) return new Uint8Array(0);
    const first = this.chunks[0]!;
    if (first.length - this.offset >= length) {
      // The common case: the whole frame sits in one chunk; hand out a view, no copy.
      const frame = first.subarray(this.offset, this.offset + length);
      this.advance(length);
      return frame;
    }
    // A Buffer, like the views above when the stream delivers Buffers, so callers see one type.
    const frame = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      const chunk = this.chunks[0]!;
      const n = Math.min(chunk.length - this.offset, length - filled);
      frame.set(chunk.subarray(this.offset, this.offset + n), filled);
      filled += n;
      this.advance(n);
    }
    return frame;
  }

  private advance(n: number): void {
    this.offset += n;
    this.buffered -= n;
    if (this.offset === this.chunks[0]!.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }
}

/** The 4-byte big-endian prefix for a frame of `length` bytes. */
export function framePrefix(length: number): Uint8Array {
  const prefix = new Uint8Array(PREFIX_BYTES);
  new DataView(prefix.buffer).setUint32(0, length, false);
  return prefix;
}

/** Tuning for {@link FramedStream}; the defaults suit every link in the system. */
export interface FramedStreamOptions {
  /** Refuse frames above this many bytes, both ways. Default and ceiling: MAX_FRAME_BYTES. */
  readonly maxFrameBytes?: number;
  /**
   * Stop reading from the stream while this many bytes of decoded frames wait for the consumer
   * (default 8 MiB), so a fast sender cannot fill our memory while we are busy.
   */
  readonly maxQueuedBytes?: number;
}

type Terminal = { kind: 'done' } | { kind: 'error'; error: TransportError };

/**
 * A Duplex carrying frames. Reading is by async iteration over {@link FramedStream.frames}
 * (one consumer); writing is {@link FramedStream.send}, which resolves once the stream has
 * taken the frame (for sockets: handed it to the kernel), so awaiting each send is the
 * backpressure. Errors surface through `frames()` and `send()`; `closed` only says "gone".
 */
export class FramedStream {
  /** Resolves (never rejects) once the underlying stream has closed, for whatever reason. */
  readonly closed: Promise<void>;
  private readonly stream: Duplex;
  private readonly maxFrameBytes: number;
  private readonly maxQueuedBytes: number;
  private readonly decoder: FrameDecoder;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private pausedByUs = false;
  private terminal: Terminal | undefined;
  private waiter: ((result: IteratorResult<Uint8Array>) => void) | undefined;
  private waiterReject: ((error: unknown) => void) | undefined;
  private iterating = false;
  private closing = false;
  private sendTail: Promise<void> = Promise.resolve();

  constructor(stream: Duplex, options: FramedStreamOptions = {}) {
    const max = options.maxFrameBytes ?? MAX_FRAME_BYTES;
    if (!Number.isInteger(max) || max < 0 || max > MAX_FRAME_BYTES) {
      throw new RangeError(`maxFrameBytes must be an integer in 0..${MAX_FRAME_BYTES}`);
    }
    this.stream = stream;
    this.maxFrameBytes = max;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 8 * 1024 * 1024;
    this.decoder = new FrameDecoder(max);
    this.closed = new Promise((resolve) => {
      if (stream.closed) resolve();
      else stream.once('close', () => resolve());
    });
    stream.on('data', (chunk: unknown) => this.onChunk(chunk));
    stream.on('end', () => this.onEnd());
    stream.on('error', (error) => this.finish(asTransportError(error, 'IO_ERROR', 'stream error')));
    stream.on('close', () => this.onClose());
    if (stream.closed || stream.destroyed) queueMicrotask(() => this.onClose());
  }

  /**
   * Sends one frame. Frames go out in call order even when sends are not awaited.
   *
   * @throws TransportError('FRAME_TOO_LARGE') for a frame above the limit (nothing is sent);
   *   TransportError('CLOSED') once the stream is closed or closing.
   */
  send(frame: Uint8Array): Promise<void> {
    if (!(frame instanceof Uint8Array)) {
      return Promise.reject(new TypeError('a frame must be a Uint8Array'));
    }
    if (frame.length > this.maxFrameBytes) {
      return Promise.reject(
        new TransportError(
          'FRAME_TOO_LARGE',
          `refusing to send a ${frame.length}-byte frame; the limit is ${this.maxFrameBytes}`,
        ),
      );
    }
    if (this.closing) return Promise.reject(new TransportError('CLOSED', 'framed stream closing'));
    const sent = this.sendTail.then(() => this.writeFrame(frame));
    // The chain must survive a failed send so later sends report their own outcome.
    this.sendTail = sent.catch(() => undefined);
    return sent;
  }

  /**
   * The received frames, in order, for one consumer (a second call throws). The iteration ends
   * when the peer ends the stream cleanly or we close it; it throws TransportError with code
   * FRAME_TOO_LARGE, CLOSED ('truncated frame') or IO_ERROR otherwise, after yielding every
   * frame that arrived whole before the failure. Leaving the loop early does not close the
   * stream (we may still want to send); call {@link FramedStream.close}.
   */
  frames(): AsyncIterableIterator<Uint8Array> {
    if (this.iterating) throw new Error('FramedStream.frames() has a consumer already');
    this.iterating = true;
    const iterator: AsyncIterableIterator<Uint8Array> = {
      next: () => this.next(),
      return: async () => ({ value: undefined, done: true }),
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /**
   * Sends what is queued, ends our side and closes the stream; resolves once it has closed.
   * Frames still arriving from the peer are dropped.
   */
  async close(): Promise<void> {
    this.closing = true;
    await this.sendTail;
    // end() flushes what the stream buffered, then the stream is torn down both ways.
    if (!this.stream.destroyed) this.stream.end(() => this.stream.destroy());
    await this.closed;
  }

  /** Closes the stream at once, dropping queued sends; `error` (if any) ends `frames()` with it. */
  destroy(error?: Error): void {
    this.closing = true;
    if (error !== undefined) this.finish(asTransportError(error, 'CLOSED', 'destroyed'));
    this.stream.destroy(error);
  }

  private writeFrame(frame: Uint8Array): Promise<void> {
    const stream = this.stream;
    if (stream.destroyed || stream.writableEnded) {
      return Promise.reject(new TransportError('CLOSED', 'cannot send: stream closed'));
    }
    return new Promise((resolve, reject) => {
      const done = (error?: Error | null) => {
        if (error) reject(asTransportError(error, 'CLOSED', 'send failed'));
        else resolve();
      };
      const prefix = framePrefix(frame.length);
      if (frame.length <= COALESCE_BYTES) {
        const whole = new Uint8Array(PREFIX_BYTES + frame.length);
        whole.set(prefix, 0);
        whole.set(frame, PREFIX_BYTES);
        stream.write(whole, done);
      } else {
        // A large frame goes as two writes; copying 4 MiB to save one syscall is not worth it.
        stream.write(prefix);
        stream.write(frame, done);
      }
    });
  }

  private onChunk(chunk: unknown): void {
    if (this.terminal !== undefined) return;
    if (!(chunk instanceof Uint8Array)) {
      this.fail(new TransportError('IO_ERROR', 'stream delivered text; frames need bytes'));
      return;
    }
    let frames: Uint8Array[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      this.fail(asTransportError(error, 'IO_ERROR', 'frame decoding failed'));
      return;
    }
    for (const frame of frames) {
      if (this.waiter !== undefined && this.queue.length === 0) {
        this.deliver({ value: frame, done: false });
      } else {
        this.queue.push(frame);
        this.queuedBytes += frame.length + PREFIX_BYTES;
      }
    }
    if (this.queuedBytes >= this.maxQueuedBytes && !this.pausedByUs) {
      this.pausedByUs = true;
      this.stream.pause();
    }
  }

  private onEnd(): void {
    if (this.decoder.midFrame) {
      this.fail(
        new TransportError(
          'CLOSED',
          `truncated frame: stream ended with ${this.decoder.describePartial()}`,
        ),
      );
    } else {
      this.finish(undefined);
    }
  }

  private onClose(): void {
    // A close without 'end' is a teardown: ours (clean), or an abort that left bytes behind.
    if (this.decoder.midFrame && !this.closing) {
      this.finish(
        new TransportError(
          'CLOSED',
          `truncated frame: stream closed with ${this.decoder.describePartial()}`,
        ),
      );
    } else {
      this.finish(undefined);
    }
  }

  /** Records a failure and tears the stream down (a peer out of sync cannot be resynced). */
  private fail(error: TransportError): void {
    this.finish(error);
    this.stream.destroy();
  }

  /** Records how the frame sequence ends; the first outcome wins. */
  private finish(error: TransportError | undefined): void {
    if (this.terminal !== undefined) return;
    this.terminal = error === undefined ? { kind: 'done' } : { kind: 'error', error };
    if (this.waiter !== undefined && this.queue.length === 0) this.settleWaiter();
  }

  private next(): Promise<IteratorResult<Uint8Array>> {
    if (this.waiter !== undefined) {
      return Promise.reject(new Error('FramedStream: next() called before the last one settled'));
    }
    const frame = this.queue.shift();
    if (frame !== undefined) {
      this.queuedBytes -= frame.length + PREFIX_BYTES;
      if (this.pausedByUs && this.queuedBytes < this.maxQueuedBytes / 2) {
        this.pausedByUs = false;
        this.stream.resume();
      }
      return Promise.resolve({ value: frame, done: false });
    }
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.waiterReject = reject;
      if (this.terminal !== undefined) this.settleWaiter();
    });
  }

  private deliver(result: IteratorResult<Uint8Array>): void {
    const resolve = this.waiter!;
    this.waiter = undefined;
    this.waiterReject = undefined;
    resolve(result);
  }

  private settleWaiter(): void {
    const terminal = this.terminal!;
    if (terminal.kind === 'error') {
      const reject = this.waiterReject!;
      this.waiter = undefined;
      this.waiterReject = undefined;
      // Report the failure once; later calls see a finished iteration.
      this.terminal = { kind: 'done' };
      reject(terminal.error);
    } else {
      this.deliver({ value: undefined, done: true });
    }
  }
}
