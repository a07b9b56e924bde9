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
  /** Structured events: handshakes, refusals. Never key material. */
  readonly log?: (event: Record<string, unknown>) => void;
  /** Frames held per party while its channel is not up. */
  readonly maxPending?: number;
}

interface Peer {
  channel: SecureChannel | null;
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
    const type = frameType(body);
    if (type === 'record') {
      if (!peer.channel) return this.#count('no-channel');
      let opened;
      try {
        opened = peer.channel.open(body);
      } catch {
        return; // counted by the channel
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
      if (peer.handshaking) this.#log({ event: 'channel-up', peer: from });
      peer.handshaking = false;
      this.#flush(from, peer);
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
      peer = { channel: null, pending: [], inbox: Promise.resolve(), handshaking: false };
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
