/**
 * A malicious parent, for tests: a Unix socket that the coordinator connects to instead of a
 * parent proxy's, relaying frames to the real one through a fault rule that may drop, duplicate,
 * reorder, replay or alter any of them, in either direction. It sees exactly what a parent
 * instance sees: routing pairs and ciphertext.
 */
import { join } from 'node:path';
import {
  FramedStream,
  connect,
  listen,
  type Listener,
  type StreamAddress,
} from '../transport/index.js';
import { decodeLinkFrame } from '../enclave/index.js';

export type Direction = 'to-enclave' | 'to-coordinator';

/** Returns the frames to pass on in place of `frame` ([] drops it). */
export type FaultRule = (frame: Uint8Array, direction: Direction) => Uint8Array[];

export interface Interposer {
  readonly address: StreamAddress;
  /** Frames seen so far, by direction, as received (before the rule). */
  readonly seen: Record<Direction, Uint8Array[]>;
  setRule(rule: FaultRule | null): void;
  /** Sends a frame as if the parent had relayed it (a replay of a recorded one, say). */
  inject(frame: Uint8Array, direction: Direction): Promise<void>;
  close(): Promise<void>;
}

export async function startInterposer(dir: string, upstream: StreamAddress): Promise<Interposer> {
  let rule: FaultRule | null = null;
  const seen: Record<Direction, Uint8Array[]> = { 'to-enclave': [], 'to-coordinator': [] };
  let sides: { coordinator: FramedStream; parent: FramedStream } | null = null;
  const address: StreamAddress = { kind: 'unix', path: join(dir, 'evil.sock') };

  const pump = async (from: FramedStream, to: FramedStream, direction: Direction) => {
    try {
      for await (const frame of from.frames()) {
        const copy = frame.slice();
        seen[direction].push(copy);
        for (const out of rule ? rule(copy, direction) : [copy]) await to.send(out);
      }
    } catch {
      // one side closed
    } finally {
      to.close();
      from.close();
    }
  };

  const listener: Listener = await listen(address, (stream) => {
    void (async () => {
      const coordinator = new FramedStream(stream);
      const parent = new FramedStream(await connect(upstream));
      sides = { coordinator, parent };
      void pump(coordinator, parent, 'to-enclave');
      void pump(parent, coordinator, 'to-coordinator');
    })();
  });

  return {
    address,
    seen,
    setRule: (next) => {
      rule = next;
    },
    inject: async (frame, direction) => {
      if (!sides) throw new Error('no connection through the interposer yet');
      await (direction === 'to-enclave' ? sides.parent : sides.coordinator).send(frame);
    },
    close: async () => {
      sides?.coordinator.close();
      sides?.parent.close();
      await listener.close();
    },
  };
}

/** Whether a link frame carries a channel record (type byte 4) rather than a handshake. */
export function isRecord(frame: Uint8Array): boolean {
  const link = decodeLinkFrame(frame);
  return link !== null && link.body[0] === 4;
}
