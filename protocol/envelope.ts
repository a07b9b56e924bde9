/**
 * The versioned envelope every protocol message travels in:
 * `v | protocol | round | kind | sessionId(32) | from(u16) | to(u16) | body`.
 * The envelope is decoded once at the boundary into a typed message; the session id, sender,
 * receiver and round it carries are what the router checks and what transports bind into AAD.
 */
import { ProtocolError, type PartyId } from './errors.js';
import { Reader, Writer } from './codec.js';

export const ENVELOPE_VERSION = 1;
/** Address of the coordinator (aggregator), which holds no share. */
export const COORDINATOR: PartyId = 0;
const BROADCAST_WIRE = 0xffff;
export const MAX_PARTY_ID = 0xfffe;

export type ProtocolName = 'dkg' | 'refresh' | 'frost' | 'aux' | 'presign' | 'ecdsa-sign';
const PROTOCOL_CODES: Record<ProtocolName, number> = {
  dkg: 1,
  refresh: 2,
  frost: 3,
  aux: 4,
  presign: 5,
  'ecdsa-sign': 6,
};

export interface Envelope<M> {
  readonly protocol: ProtocolName;
  readonly sessionId: Uint8Array;
  readonly from: PartyId;
  /** null: a broadcast to every participant of the session. */
  readonly to: PartyId | null;
  readonly round: number;
  readonly message: M;
}

/** How one protocol's message bodies are written and read. */
export interface BodyCodec<M extends { kind: string }> {
  readonly protocol: ProtocolName;
  /** Wire code of each kind. */
  readonly kinds: Readonly<Record<M['kind'], number>>;
  encode(message: M, w: Writer): void;
  /** Reads one body of `kind`; the reader blames the sender for anything malformed. */
  decode(kind: M['kind'], r: Reader): M;
}

export function encodeEnvelope<M extends { kind: string }>(
  codec: BodyCodec<M>,
  env: Envelope<M>,
): Uint8Array {
  const w = new Writer()
    .u8(ENVELOPE_VERSION)
    .u8(PROTOCOL_CODES[env.protocol])
    .u8(env.round)
    .u8(codec.kinds[env.message.kind as M['kind']])
    .fixed(env.sessionId)
    .u16(env.from)
    .u16(env.to ?? BROADCAST_WIRE);
  codec.encode(env.message, w);
  return w.finish();
}

/**
 * Decodes and validates an envelope. Errors in the fixed header blame the claimed sender when
 * the header got that far; errors in the body always blame the sender.
 */
export function decodeEnvelope<M extends { kind: string }>(
  codec: BodyCodec<M>,
  bytes: Uint8Array,
): Envelope<M> {
  if (bytes.length < 40) throw new ProtocolError('MALFORMED_MESSAGE', 'envelope truncated');
  const from = (bytes[36]! << 8) | bytes[37]!;
  const r = new Reader(bytes, from);
  if (r.u8('version') !== ENVELOPE_VERSION) r.fail('unknown envelope version');
  if (r.u8('protocol') !== PROTOCOL_CODES[codec.protocol])
    r.fail(`not a ${codec.protocol} message`);
  const round = r.u8('round');
  const kindCode = r.u8('kind');
  const kind = (Object.keys(codec.kinds) as M['kind'][]).find((k) => codec.kinds[k] === kindCode);
  if (kind === undefined) {
    throw new ProtocolError('MALFORMED_MESSAGE', `unknown message kind ${kindCode}`, [from]);
  }
  const sessionId = Uint8Array.from(r.fixed(32, 'sessionId'));
  r.u16('from');
  const toWire = r.u16('to');
  if (from > MAX_PARTY_ID) r.fail(`sender id ${from} out of range`);
  const message = codec.decode(kind, r);
  r.end();
  return {
    protocol: codec.protocol,
    sessionId,
    from,
    to: toWire === BROADCAST_WIRE ? null : toWire,
    round,
    message,
  };
}
