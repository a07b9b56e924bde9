/**
 * An in-process network: runs several parties of one session to completion, passing every
 * message through its wire encoding as a real transport would. The demonstration, benchmarks and
 * tests use it; a fault rule may rewrite, drop or duplicate any message in flight, so tests can
 * make one party misbehave and check who is blamed.
 */
import { decodeEnvelope, encodeEnvelope, type BodyCodec, type Envelope } from './envelope.js';
import { ProtocolError, type PartyId } from './errors.js';
import type { Machine } from './machine.js';

/** Rewrites the bytes of one message on its way from `env.from` to `to`; [] drops it. */
export type FaultRule<M> = (bytes: Uint8Array, env: Envelope<M>, to: PartyId) => Uint8Array[];

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- routing ignores state and output types
type AnyMachine<M extends { kind: string }> = Machine<any, M, any>;

/**
 * Runs until every party has an output; returns the outputs by party. Throws the first error, or
 * MISSING_MESSAGE naming the silent parties when the ceremony stalls.
 */
export function runLocal<M extends { kind: string }>(
  codec: BodyCodec<M>,
  parties: readonly AnyMachine<M>[],
  fault?: FaultRule<M>,
  faulty: (party: PartyId) => boolean = () => false,
): Map<PartyId, unknown> {
  const byId = new Map(parties.map((m) => [m.self, m]));
  const queue: { to: PartyId; bytes: Uint8Array }[] = [];
  const send = (envelopes: Envelope<M>[]) => {
    for (const env of envelopes) {
      const bytes = encodeEnvelope(codec, env);
      const receivers = env.to === null ? [...byId.keys()].filter((p) => p !== env.from) : [env.to];
      for (const to of receivers) {
        for (const b of fault ? fault(bytes, env, to) : [bytes]) queue.push({ to, bytes: b });
      }
    }
  };
  // A party the fault rule makes misbehave is dishonest: what its own machine concludes means
  // nothing, so its errors stop it rather than end the run.
  const aborted = new Set<PartyId>();
  for (const m of parties) send(m.start().outgoing);
  while (queue.length > 0) {
    const { to, bytes } = queue.shift()!;
    const machine = byId.get(to);
    if (!machine || aborted.has(to)) continue;
    try {
      send(machine.deliver(decodeEnvelope(codec, bytes)).outgoing);
    } catch (err) {
      if (!faulty(to)) throw err;
      aborted.add(to);
    }
  }
  const silent = parties.filter((m) => !aborted.has(m.self)).flatMap((m) => m.waitingFor());
  if (silent.length > 0) {
    throw new ProtocolError('MISSING_MESSAGE', 'ceremony stalled waiting for messages', silent);
  }
  const outputs = new Map<PartyId, unknown>();
  for (const m of parties) if (!aborted.has(m.self)) outputs.set(m.self, m.output);
  return outputs;
}
