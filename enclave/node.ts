/**
 * One enclave signer, wired: the link to its parent (the only connection an enclave has), the
 * attested channels to its peers and the coordinator over that link, and the ceremony runner
 * behind them. Control requests are taken only from the coordinator's channel, and protocol
 * envelopes only through a channel whose peer proved the expected enclave image.
 */
import { COORDINATOR } from '../protocol/envelope.js';
import type { PartyId } from '../protocol/errors.js';
import type { Rng } from '../protocol/random.js';
import type { FramedStream } from '../transport/index.js';
import type { Attester } from './recipient.js';
import type { EnclavePolicy } from './channel/index.js';
import type { KeyObject } from 'node:crypto';
import { newAckKey } from './ack.js';
import { PAYLOAD } from './control.js';
import { Peers, type Opened } from './peers.js';
import { CeremonyRunner, type RunnerLimits } from './runner.js';
import type { KeyVault } from './vault.js';

export interface EnclaveNodeOptions {
  readonly self: PartyId;
  readonly attester: Attester;
  /** What a peer enclave must prove: trust root, expected PCRs, document age. */
  readonly peerPolicy: EnclavePolicy;
  /** The coordinator's Ed25519 identity key. */
  readonly coordinatorKey: KeyObject;
  readonly vault: KeyVault;
  readonly rng: Rng;
  readonly now?: () => number;
  readonly maxChannelAgeMs: number;
  readonly limits?: Partial<RunnerLimits>;
  readonly safePrime?: () => Promise<bigint>;
  readonly log?: (event: Record<string, unknown>) => void;
}

export class EnclaveNode {
  readonly self: PartyId;
  readonly peers: Peers;
  readonly runner: CeremonyRunner;
  #link: FramedStream | null = null;
  #dropped = 0;
  readonly #log: (event: Record<string, unknown>) => void;

  constructor(options: EnclaveNodeOptions) {
    this.self = options.self;
    this.#log = options.log ?? (() => {});
    this.peers = new Peers({
      self: options.self,
      identity: { kind: 'enclave', attester: options.attester },
      checkFor: (peer) =>
        peer === COORDINATOR
          ? { kind: 'coordinator', publicKey: options.coordinatorKey }
          : { kind: 'enclave', ...options.peerPolicy },
      random: options.rng,
      now: options.now ?? Date.now,
      maxChannelAgeMs: options.maxChannelAgeMs,
      write: (_to, frame) => this.#write(frame),
      onPayload: (opened) => this.#dispatch(opened),
      log: this.#log,
    });
    this.runner = new CeremonyRunner({
      self: options.self,
      vault: options.vault,
      rng: options.rng,
      send: (to, sessionId, round, payload) => this.peers.send(to, sessionId, round, payload),
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.safePrime ? { safePrime: options.safePrime } : {}),
      log: this.#log,
      onRekey: (peer) => this.peers.rekey(peer),
      ackKey: newAckKey(),
      attester: options.attester,
    });
  }

  /** Frames that could not be written because no parent was connected. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Takes the parent's connection. A new one replaces the old: the parent restarted, or the
   * coordinator reconnected through it. Channels are end to end, so they outlive the link.
   */
  attach(link: FramedStream): void {
    const previous = this.#link;
    this.#link = link;
    previous?.close();
    this.#log({ event: 'link-attached' });
    void (async () => {
      try {
        for await (const frame of link.frames()) this.peers.receive(frame);
      } catch (error) {
        this.#log({ event: 'link-failed', error: error instanceof Error ? error.message : '?' });
      } finally {
        if (this.#link === link) this.#link = null;
        this.#log({ event: 'link-closed' });
      }
    })();
  }

  close(): void {
    this.runner.close();
    this.#link?.close();
    this.#link = null;
  }

  #write(frame: Uint8Array): void {
    const link = this.#link;
    if (!link) {
      this.#dropped += 1;
      return;
    }
    link.send(frame).catch(() => {
      this.#dropped += 1;
    });
  }

  #dispatch({ from, sessionId, round, payload }: Opened): void {
    switch (payload[0]) {
      case PAYLOAD.request:
        // Only the coordinator asks; a peer enclave that tries is ignored (and counted).
        if (from === COORDINATOR && round === 0) this.runner.onRequest(sessionId, payload);
        else this.#log({ event: 'request-refused', from });
        return;
      case PAYLOAD.envelope:
        this.runner.onEnvelope(from, sessionId, round, payload);
        return;
      default:
        this.#log({ event: 'payload-refused', from, type: payload[0] ?? null });
    }
  }
}
