/**
 * Channels to every party this side talks to, over one link of frames. Both ends use it: an
 * enclave (one link to its parent, channels to its peers and to the coordinator) and the
 * coordinator (one link per parent, a channel to each enclave). It runs the handshakes, holds
 * what is to be sent to a party until its channel is up, seals and opens records, and hands
 * the opened payloads to its owner. What a payload means is the owner's business.
 *
 * Frames from one party are handled strictly in arrival order, one at a time (a handshake step
 * awaits the attester or verifier, and a record must not overtake it). Lower ids initiate: the
 * coordinator (0) always, and between enclaves the one with the lower id, when it first has
 * something to send; a handshake is started again when the channel is older than its limit.
 *
 * A party that restarted has lost its channels, while its peers still hold theirs. When records
 * arrive that it cannot open and it is not the one to initiate, it sends the peer a one-byte
 * handshake request (link body `ff`), at most once a second per peer; the peer answers by
 * starting a new handshake, again at most once a second. The request is unauthenticated on
 * purpose, since it carries nothing: the worst a relay can do with it is cause handshakes, and a
 * relay can stop traffic anyway.
 */
import type { PartyId } from '../protocol/errors.js';
import { SecureChannel, frameType, type ChannelIdentity, type PeerCheck } from './channel/index.js';
import { decodeLinkFrame, encodeLinkFrame } from './link.js';

export interface Opened {
  readonly from: PartyId;
  readonly sessionId: Uint8Array;
  readonly round: number;
  readonly payload: Uint8Array;
}

export interface PeersOptions {
  readonly self: PartyId;
  readonly identity: ChannelIdentity;
  /** How to check a party: the coordinator by its key, enclaves by attestation. */
  readonly checkFor: (peer: PartyId) => PeerCheck;
  readonly random: (length: number) => Uint8Array;
  readonly now: () => number;
  readonly maxChannelAgeMs: number;
  /** Writes one link frame toward `to` (an enclave: to its parent; the coordinator: to i's parent). */
  readonly write: (to: PartyId, frame: Uint8Array) => void;
  readonly onPayload: (opened: Opened) => void;
  /** A channel to `peer` came up (first time or renewed). */
  readonly onEstablished?: (peer: PartyId) => void;
  /** Structured events: handshakes, refusals. Never key material. */
  readonly log?: (event: Record<string, unknown>) => void;
  /** Frames held per party while its channel is not up. */
  readonly maxPending?: number;
}

/** The link body that asks the peer to start a handshake with us. */
const HANDSHAKE_REQUEST = 0xff;
/** Requests sent to one peer: at most one a second. */
const HINT_INTERVAL_MS = 1000;
/** Requests honoured from one peer: at most four a second (a relay could flood them). */
const HONOUR_INTERVAL_MS = 250;
/** A handshake that has not completed by then is given up (and retried when needed). */
const HANDSHAKE_TIMEOUT_MS = 5000;

interface Peer {
  channel: SecureChannel | null;
  /** When we last sent a handshake request to this peer, and last honoured one from it. */
  lastHint: number;
  lastHonoured: number;
  /** Callers waiting for the channel to (re)establish. */
  waiters: (() => void)[];
  /** Payloads waiting for the channel: [sessionId, round, payload]. */
  pending: [Uint8Array, number, Uint8Array][];
  /** Incoming frames are processed one after another. */
  inbox: Promise<void>;
  handshaking: boolean;
}

export class Peers {
  readonly self: PartyId;
  readonly #options: PeersOptions;
  readonly #peers = new Map<PartyId, Peer>();
  readonly #refused: Record<string, number> = {};

  constructor(options: PeersOptions) {
    this.self = options.self;
    this.#options = options;
  }

  /** Refusals by reason, over all channels and the link. */
  get refused(): Readonly<Record<string, number>> {
    const out: Record<string, number> = { ...this.#refused };
    for (const peer of this.#peers.values()) {
      for (const [reason, n] of Object.entries(peer.channel?.counters ?? {})) {
        out[reason] = (out[reason] ?? 0) + n;
      }
    }
    return out;
  }

  /** Whether the channel to `peer` is up. */
  established(peer: PartyId): boolean {
    return this.#peers.get(peer)?.channel?.established ?? false;
  }

  /** The verified attestation of an enclave peer, once its channel is up. */
  attestation(peer: PartyId) {
    return this.#peers.get(peer)?.channel?.peerAttestation ?? null;
  }

  /** Starts the handshake with `peer` now (this side must be the initiator). */
  connect(peer: PartyId): void {
    this.#initiate(peer, this.#peer(peer));
  }

  /**
   * `peer` restarted and lost its keys: anything sealed under the old channel would be lost, so
   * hold what is sent to it until a new handshake completes, and start that handshake (or, when
   * it is the peer's to start, ask for it).
   */
  rekey(peer: PartyId): Promise<void> {
    const state = this.#peer(peer);
    const established = this.#whenEstablished(state);
    if (this.#initiates(peer)) {
      this.#initiate(peer, state);
    } else {
      state.channel = null;
      state.handshaking = true;
      state.lastHint = 0;
      this.#requestHandshake(peer, state);
      this.#giveUpLater(peer, state);
    }
    return established;
  }

  /** Forgets every channel to `peer` (its link went down): the next contact handshakes anew. */
  reset(peer: PartyId): void {
    this.#peers.delete(peer);
  }

  /** Seals a payload for `to`, or holds it until the channel is up. */
  send(to: PartyId, sessionId: Uint8Array, round: number, payload: Uint8Array): void {
    const peer = this.#peer(to);
    const channel = peer.channel;
    if (channel?.established && !peer.handshaking) {
      if (this.#initiates(to) && channel.needsRehandshake()) this.#initiate(to, peer);
      else return this.#write(to, channel.seal({ sessionId, round }, payload));
    }
    if (peer.pending.length >= (this.#options.maxPending ?? 4096)) {
      return this.#count('pending-full');
    }
    peer.pending.push([sessionId, round, payload]);
    if (!peer.handshaking && this.#initiates(to)) this.#initiate(to, peer);
  }

  /** One frame from the link. */
  receive(bytes: Uint8Array): void {
    const frame = decodeLinkFrame(bytes);
    if (!frame || frame.to !== this.self) return this.#count('misrouted');
    const peer = this.#peer(frame.from);
    peer.inbox = peer.inbox.then(() => this.#handle(frame.from, peer, frame.body));
  }

  async #handle(from: PartyId, peer: Peer, body: Uint8Array): Promise<void> {
    if (body.length === 1 && body[0] === HANDSHAKE_REQUEST) {
      const now = this.#options.now();
      if (this.#initiates(from) && now - peer.lastHonoured >= HONOUR_INTERVAL_MS) {
        peer.lastHonoured = now;
        this.#log({ event: 'handshake-requested', peer: from });
        this.#initiate(from, peer);
      }
      return;
    }
    const type = frameType(body);
    if (type === 'record') {
      if (!peer.channel?.established) return this.#cannotOpen(from, peer, 'no-channel');
      let opened;
      try {
        opened = peer.channel.open(body);
      } catch (error) {
        const code = (error as { code?: string }).code ?? 'UNKNOWN';
        this.#log({ event: 'record-refused', peer: from, code });
        // Records of an epoch we do not hold: we restarted, or the peer re-keyed without us.
        if (code === 'WRONG_CHANNEL' || code === 'FORGED') this.#requestHandshake(from, peer);
        return;
      }
      this.#options.onPayload({
        from,
        sessionId: opened.sessionId,
        round: opened.round,
        payload: opened.payload,
      });
      return;
    }
    if (type === 'hello' && !this.#initiates(from)) {
      // A Hello: a new channel, or a new epoch of the live one.
      peer.channel ??= this.#newChannel(from);
      peer.handshaking = true;
    }
    if (!peer.channel) return this.#count('no-channel');
    try {
      const next = await peer.channel.handshake(body);
      if (next) this.#write(from, next);
    } catch (error) {
      peer.handshaking = false;
      this.#log({ event: 'handshake-refused', peer: from, error: describe(error) });
      if (!peer.channel.established) peer.channel = null;
      peer.pending = [];
      return;
    }
    if (peer.channel.established && !peer.channel.handshaking) {
      const renewed = peer.handshaking;
      peer.handshaking = false;
      this.#flush(from, peer);
      if (renewed) {
        this.#log({ event: 'channel-up', peer: from, epoch: peer.channel.epoch });
        this.#options.onEstablished?.(from);
      }
      const waiters = peer.waiters;
      peer.waiters = [];
      for (const done of waiters) done();
    }
  }

  #initiate(to: PartyId, peer: Peer): void {
    peer.channel ??= this.#newChannel(to);
    peer.handshaking = true;
    const channel = peer.channel;
    peer.inbox = peer.inbox.then(async () => {
      try {
        this.#write(to, await channel.begin());
      } catch (error) {
        peer.handshaking = false;
        this.#log({ event: 'handshake-failed', peer: to, error: describe(error) });
      }
    });
    this.#giveUpLater(to, peer);
  }

  /**
   * A handshake the peer never completes (its answer lost, or it refused us) must not hold what
   * we send it forever: after a while stop waiting, release the waiters, and start over if there
   * is still something to send and the start is ours.
   */
  #giveUpLater(to: PartyId, peer: Peer): void {
    const timer = setTimeout(() => {
      if (!peer.handshaking || this.#peers.get(to) !== peer) return;
      peer.handshaking = false;
      this.#log({ event: 'handshake-timeout', peer: to });
      const waiters = peer.waiters;
      peer.waiters = [];
      for (const done of waiters) done();
      if (peer.pending.length > 0 && this.#initiates(to)) this.#initiate(to, peer);
    }, HANDSHAKE_TIMEOUT_MS);
    timer.unref?.();
  }

  #whenEstablished(peer: Peer): Promise<void> {
    return new Promise((done) => peer.waiters.push(done));
  }

  /** A record we cannot open: ask the peer for a handshake if that is theirs to start. */
  #cannotOpen(from: PartyId, peer: Peer, reason: string): void {
    this.#count(reason);
    this.#requestHandshake(from, peer);
  }

  #requestHandshake(from: PartyId, peer: Peer): void {
    if (this.#initiates(from)) {
      if (!peer.handshaking && this.#hintDue(peer)) this.#initiate(from, peer);
      return;
    }
    if (this.#hintDue(peer)) {
      this.#options.write(
        from,
        encodeLinkFrame({ from: this.self, to: from, body: Uint8Array.of(HANDSHAKE_REQUEST) }),
      );
    }
  }

  #hintDue(peer: Peer): boolean {
    const now = this.#options.now();
    if (now - peer.lastHint < HINT_INTERVAL_MS) return false;
    peer.lastHint = now;
    return true;
  }

  #flush(to: PartyId, peer: Peer): void {
    const waiting = peer.pending;
    peer.pending = [];
    for (const [sessionId, round, payload] of waiting) {
      this.#write(to, peer.channel!.seal({ sessionId, round }, payload));
    }
  }

  #newChannel(peer: PartyId): SecureChannel {
    return new SecureChannel({
      self: this.self,
      peer,
      identity: this.#options.identity,
      peerCheck: this.#options.checkFor(peer),
      random: this.#options.random,
      now: this.#options.now,
      maxChannelAgeMs: this.#options.maxChannelAgeMs,
    });
  }

  #initiates(peer: PartyId): boolean {
    return this.self < peer;
  }

  #peer(id: PartyId): Peer {
    let peer = this.#peers.get(id);
    if (!peer) {
      peer = {
        channel: null,
        lastHint: 0,
        lastHonoured: 0,
        waiters: [],
        pending: [],
        inbox: Promise.resolve(),
        handshaking: false,
      };
      this.#peers.set(id, peer);
    }
    return peer;
  }

  #write(to: PartyId, body: Uint8Array): void {
    this.#options.write(to, encodeLinkFrame({ from: this.self, to, body }));
  }

  #count(reason: string): void {
    this.#refused[reason] = (this.#refused[reason] ?? 0) + 1;
  }

  #log(event: Record<string, unknown>): void {
    this.#options.log?.(event);
  }
}

function describe(error: unknown): Record<string, unknown> {
  if (error && typeof error === 'object' && 'code' in error) {
    const e = error as { code: unknown; message?: unknown; attestationCode?: unknown };
    return { code: e.code, message: e.message, attestationCode: e.attestationCode };
  }
  return { name: error instanceof Error ? error.name : typeof error };
}
