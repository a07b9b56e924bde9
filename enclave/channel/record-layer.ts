/**
 * The record state of one channel end: the keys and sequence numbers of the current epoch, the
 * receive side of the previous epoch while the peer may still have frames in flight, and the
 * refusal counters. The handshake (channel.ts) installs epochs; this module decides, record by
 * record, whether one is accepted (records.ts has the byte layout and the AEAD).
 *
 * The rule every path here keeps: a refused record changes nothing but its counter. State (the
 * last accepted sequence number, which epochs are open) moves only after a record has
 * authenticated and passed every check, so injected garbage cannot desynchronise the stream.
 */
import { wipe } from '../../protocol/bytes.js';
import type { PartyId } from '../../protocol/errors.js';
import { ChannelError, RECORD_REFUSALS, type RecordRefusal } from './errors.js';
import type { PeerAttestation } from './evidence.js';
import {
  MAX_SEQUENCE,
  RECORD_HEADER_BYTES,
  SESSION_ID_BYTES,
  TAG_BYTES,
  decodeRecordHeader,
  openRecord,
  sealRecord,
} from './records.js';

/** A record opened by `SecureChannel.open`. */
export interface OpenedRecord {
  /** Authenticated, but not checked: which sessions are acceptable is the caller's to decide. */
  readonly sessionId: Uint8Array;
  readonly sender: PartyId;
  readonly receiver: PartyId;
  readonly round: number;
  readonly payload: Uint8Array;
}

/**
 * One direction of one epoch: its key, the highest sequence number sent or accepted, and (receive
 * side) which of the WINDOW numbers below it were accepted, bit i standing for `sequence - i`.
 */
export interface Direction {
  readonly key: Uint8Array;
  sequence: bigint;
  seen?: bigint;
}

/** How far back a late frame can still be told from a replayed one. */
const WINDOW = 64n;

/** What a completed handshake installs. */
export interface EpochKeys {
  readonly epoch: number;
  readonly send: Direction;
  readonly receive: Direction;
  /** When the peer's evidence was made (its document's timestamp) or the handshake completed. */
  readonly establishedAt: number;
  readonly peerAttestation: PeerAttestation | null;
}

function reject(code: RecordRefusal, message: string): never {
  throw new ChannelError(code, message);
}

export class RecordLayer {
  readonly #self: PartyId;
  readonly #peer: PartyId;
  #current: EpochKeys | null = null;
  /** The receive direction of the epoch before, until the peer's first record of the current. */
  #previous: { readonly epoch: number; readonly receive: Direction } | null = null;
  readonly #counters: Record<RecordRefusal, number>;
  #gaps = 0;

  constructor(self: PartyId, peer: PartyId) {
    this.#self = self;
    this.#peer = peer;
    this.#counters = Object.fromEntries(RECORD_REFUSALS.map((r) => [r, 0])) as Record<
      RecordRefusal,
      number
    >;
  }

  get current(): EpochKeys | null {
    return this.#current;
  }

  /** Frames skipped over by an accepted one: dropped or withheld on the way. */
  get gaps(): number {
    return this.#gaps;
  }

  get counters(): Readonly<Record<RecordRefusal, number>> {
    return Object.freeze({ ...this.#counters });
  }

  /**
   * Makes `next` current. The old epoch's send key goes at once (nothing more is sealed under
   * it); its receive side stays for frames the peer sealed before it switched.
   */
  install(next: EpochKeys): void {
    const old = this.#current;
    if (old !== null) {
      if (this.#previous !== null) wipe(this.#previous.receive.key);
      this.#previous = { epoch: old.epoch, receive: old.receive };
      wipe(old.send.key);
    }
    this.#current = next;
  }

  /** Wipes every key; afterwards nothing is sealed or opened. */
  clear(): void {
    if (this.#current !== null) wipe(this.#current.send.key, this.#current.receive.key);
    if (this.#previous !== null) wipe(this.#previous.receive.key);
    this.#current = null;
    this.#previous = null;
  }

  seal(header: { sessionId: Uint8Array; round: number }, payload: Uint8Array): Uint8Array {
    const current = this.#current;
    if (current === null) throw new ChannelError('NOT_ESTABLISHED', 'no channel to seal on');
    const { sessionId, round } = header;
    if (!(sessionId instanceof Uint8Array) || sessionId.length !== SESSION_ID_BYTES) {
      throw new ChannelError('MALFORMED', `the session id must be ${SESSION_ID_BYTES} bytes`);
    }
    if (!Number.isInteger(round) || round < 0 || round > 0xff) {
      throw new ChannelError('MALFORMED', 'the round must be an integer in 0..255');
    }
    if (!(payload instanceof Uint8Array)) {
      throw new ChannelError('MALFORMED', 'the payload must be bytes');
    }
    // Never reuse a nonce under one key: the sequence is the nonce, and it only grows.
    const sequence = current.send.sequence + 1n;
    if (sequence > MAX_SEQUENCE) {
      throw new ChannelError('NOT_ESTABLISHED', 'the sequence space is exhausted: re-handshake');
    }
    const record = sealRecord(
      current.send.key,
      {
        epoch: current.epoch,
        sequence,
        sessionId,
        sender: this.#self,
        receiver: this.#peer,
        round,
      },
      payload,
    );
    current.send.sequence = sequence;
    return record;
  }

  /** Opens a record, or counts and throws its refusal. */
  open(record: Uint8Array): OpenedRecord {
    try {
      return this.#open(record);
    } catch (err) {
      if (
        err instanceof ChannelError &&
        (RECORD_REFUSALS as readonly string[]).includes(err.code)
      ) {
        this.#counters[err.code as RecordRefusal]++;
      }
      throw err;
    }
  }

  #open(record: Uint8Array): OpenedRecord {
    if (!(record instanceof Uint8Array)) reject('MALFORMED', 'a record must be bytes');
    if (record.length < RECORD_HEADER_BYTES + TAG_BYTES) {
      reject('TRUNCATED', `a record of ${record.length} bytes`);
    }
    const header = decodeRecordHeader(record);
    if (header === null) reject('MALFORMED', 'not a record of this channel version');
    const current = this.#current;
    // Before Finish is verified nothing from the peer is authenticated, so nothing is accepted.
    if (current === null) reject('NOT_ESTABLISHED', 'a record before the handshake');
    // Another pair's record, relayed here by mistake or on purpose, is not ours to open; one of
    // our own reflected back names us as the sender.
    if (header.sender !== this.#peer || header.receiver !== this.#self) {
      reject(
        'WRONG_CHANNEL',
        `a record from ${header.sender} to ${header.receiver}; this channel is ${this.#peer} -> ${this.#self}`,
      );
    }
    let direction: Direction;
    let ofPrevious = false;
    if (header.epoch === current.epoch) {
      direction = current.receive;
    } else if (this.#previous !== null && header.epoch === this.#previous.epoch) {
      // In flight when we switched: the peer sealed it before it had the new keys.
      direction = this.#previous.receive;
      ofPrevious = true;
    } else {
      // An old epoch after the peer has moved on (a held-back or replayed frame), or one never
      // negotiated.
      reject('WRONG_CHANNEL', `epoch ${header.epoch}; this channel is at ${current.epoch}`);
    }
    // Authenticate before looking at the sequence number: a forgery is counted as one, and
    // whatever number it claims is never stored.
    const payload = openRecord(direction.key, header, record);
    if (payload === null) reject('FORGED', 'the record does not authenticate');
    // Sequence numbers only grow. A number at or below the highest accepted is refused: as a
    // replay when that record was accepted, as a reordering when it was skipped earlier (it comes
    // late, after a later one). A number above the highest is accepted even when it skips some:
    // the skipped frames were dropped or held back by a relay, which can always withhold frames;
    // the protocol above notices the missing message and blames its sender on the round's
    // deadline. Refusing the skip instead would make one dropped frame kill the channel for good.
    const seen = direction.seen ?? 0n;
    if (header.sequence <= direction.sequence) {
      wipe(payload);
      const back = direction.sequence - header.sequence;
      if (back < WINDOW && ((seen >> back) & 1n) === 0n) {
        reject('REORDERED', `sequence ${header.sequence} arrived after ${direction.sequence}`);
      }
      reject('REPLAYED', `sequence ${header.sequence} was already accepted`);
    }
    const skipped = header.sequence - direction.sequence - 1n;
    if (skipped > 0n) this.#gaps += Number(skipped > 1_000_000n ? 1_000_000n : skipped);
    const shift = header.sequence - direction.sequence;
    direction.seen = ((shift >= WINDOW ? 0n : seen << shift) | 1n) & ((1n << WINDOW) - 1n);
    direction.sequence = header.sequence;
    if (!ofPrevious && this.#previous !== null) {
      // The peer has switched: nothing of the old epoch can still be in flight from it.
      wipe(this.#previous.receive.key);
      this.#previous = null;
    }
    return {
      sessionId: header.sessionId,
      sender: header.sender,
      receiver: header.receiver,
      round: header.round,
      payload,
    };
  }
}
