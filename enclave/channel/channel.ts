/**
 * `SecureChannel`: one end of an authenticated, encrypted channel between two parties of the
 * cluster (DESIGN.md, "Attestation and sealing": peer channels). Messages between enclaves travel
 * through relays that are not trusted — the parent instances and the coordinator — so everything
 * is authenticated end to end: the handshake (handshake.ts) proves to each side that the other is
 * an enclave running the expected code (or the coordinator holding its identity key) and that it
 * holds the ephemeral key the record keys come from; records (records.ts for the bytes,
 * record-layer.ts for what is accepted) are AEAD-sealed with their header as AAD. Configuration
 * is checked once, in options.ts.
 *
 * Roles: the lower party id initiates. The coordinator is party 0, so it always initiates; it is
 * not an enclave and proves itself with a static Ed25519 key every enclave is configured with,
 * while still checking the enclave's attestation.
 *
 * The class is pure: no sockets, no timers. Randomness and the clock are injected; the caller
 * moves the bytes (`begin`/`handshake` produce and consume handshake messages, `seal`/`open`
 * records) and decides when to act on `needsRehandshake()`.
 *
 * Epochs. Each completed handshake starts an epoch (1, 2, …: the responder picks max(the Hello's
 * minEpoch, its own + 1), so epochs only grow on both sides, across restarts of either). A
 * re-handshake runs over the live channel and the old keys keep working until the new ones are in
 * place. After the switch, records of the previous epoch are still accepted — frames the peer sent
 * before it switched — until the first record of the new epoch arrives from that peer; from then
 * on they are refused as WRONG_CHANNEL.
 *
 * Refusals. A refused handshake message or record never changes state: an attacker who injects
 * garbage can make us drop that garbage, nothing more (no desynchronised sequence numbers, no
 * abandoned handshake). Each refused record is counted by reason in `counters`.
 */
import { inspect } from 'node:util';
import { wipe } from '../../protocol/bytes.js';
import type { PartyId } from '../../protocol/errors.js';
import { ChannelError, type RecordRefusal } from './errors.js';
import { verifyEnclaveEvidence, type EnclavePolicy, type PeerAttestation } from './evidence.js';
import {
  MAX_EPOCH,
  MAX_EVIDENCE_BYTES,
  NONCE_BYTES,
  decodeFinish,
  decodeHello,
  decodeReply,
  encodeFinish,
  encodeFinishPrefix,
  encodeHello,
  encodeReply,
  encodeReplyPrefix,
  finishBinding,
  frameType,
  replyBinding,
  transcriptHash,
  type EvidenceKind,
  type Hello,
} from './handshake.js';
import {
  deriveRecordKeys,
  draw,
  newEphemeral,
  sharedSecret,
  signAsCoordinator,
  verifyCoordinator,
  type RandomSource,
} from './keys.js';
import {
  checkOptions,
  type ChannelIdentity,
  type PeerCheck,
  type SecureChannelOptions,
} from './options.js';
import { RecordLayer, type OpenedRecord } from './record-layer.js';

/** The initiator between Hello and Reply. */
interface PendingHello {
  readonly bytes: Uint8Array;
  readonly hello: Hello;
}

/** The responder between Reply and Finish. */
interface PendingReply {
  readonly hello: Uint8Array;
  readonly reply: Uint8Array;
  readonly epoch: number;
  readonly nonce: Uint8Array;
  readonly secret: Uint8Array;
}

function refuse(message: string): never {
  throw new ChannelError('HANDSHAKE_REFUSED', message);
}

/** Anything that is not a ChannelError is a bug somewhere below: report it typed, fail closed. */
function asChannelError(err: unknown): ChannelError {
  if (err instanceof ChannelError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ChannelError('INTERNAL', `unexpected: ${message}`, { cause: err });
}

/**
 * One end of a peer channel. See the module comment for the protocol; in short:
 *
 * ```ts
 * const hello = await initiator.begin();
 * const reply = await responder.handshake(hello);     // Reply
 * const finish = await initiator.handshake(reply!);   // Finish; initiator established
 * await responder.handshake(finish!);                 // null; responder established
 * const record = initiator.seal({ sessionId, round }, payload);
 * const { payload } = responder.open(record);
 * ```
 *
 * Keys live only in private fields; `JSON.stringify` and `util.inspect` print a summary.
 */
export class SecureChannel {
  readonly self: PartyId;
  readonly peer: PartyId;
  /** The lower id initiates: the initiator calls `begin`, the responder only answers. */
  readonly role: 'initiator' | 'responder';
  readonly #identity: ChannelIdentity;
  readonly #peerCheck: PeerCheck;
  readonly #random: RandomSource;
  readonly #now: () => number;
  readonly #maxChannelAgeMs: number;
  #pendingHello: PendingHello | null = null;
  #pendingReply: PendingReply | null = null;
  readonly #records: RecordLayer;
  /** Handshake steps may await the attester; they run one at a time, in call order. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  /** @throws TypeError on options that no correct configuration has (programming errors). */
  constructor(options: SecureChannelOptions) {
    const { identity, peerCheck } = checkOptions(options);
    this.self = options.self;
    this.peer = options.peer;
    this.role = options.self < options.peer ? 'initiator' : 'responder';
    this.#identity = identity;
    this.#peerCheck = peerCheck;
    this.#random = options.random;
    this.#now = options.now;
    this.#maxChannelAgeMs = options.maxChannelAgeMs;
    this.#records = new RecordLayer(options.self, options.peer);
  }

  /** True once a handshake has completed (on this side) and until `close()`. */
  get established(): boolean {
    return this.#records.current !== null;
  }

  /** The current epoch: 0 before the first handshake completes. */
  get epoch(): number {
    return this.#records.current?.epoch ?? 0;
  }

  /** True while a handshake this side took part in awaits the peer's next message. */
  get handshaking(): boolean {
    return this.#pendingHello !== null || this.#pendingReply !== null;
  }

  /** Refused records so far, by reason (a snapshot). */
  get counters(): Readonly<Record<RecordRefusal, number>> {
    return this.#records.counters;
  }

  /** Frames the peer sent that never arrived here (skipped over by a later one). */
  get gaps(): number {
    return this.#records.gaps;
  }

  /** What the peer enclave's document of the current epoch showed; null for the coordinator. */
  get peerAttestation(): PeerAttestation | null {
    const attestation = this.#records.current?.peerAttestation;
    if (!attestation) return null;
    return {
      pcrs: new Map([...attestation.pcrs].map(([i, v]) => [i, v.slice()])),
      moduleId: attestation.moduleId,
      timestamp: attestation.timestamp,
    };
  }

  /**
   * True when the current epoch is older than `maxChannelAgeMs`: the peer's evidence is stale and
   * the initiator should `begin()` again (once; a lost re-handshake is the caller's timeout to
   * handle). The responder cannot begin; for it this is for monitoring.
   */
  needsRehandshake(): boolean {
    const current = this.#records.current;
    if (current === null) return false;
    return this.#clock() - current.establishedAt >= this.#maxChannelAgeMs;
  }

  /**
   * Initiator only: starts a handshake and returns the Hello to send. Used for the first
   * handshake and every re-handshake; a Hello still unanswered is abandoned (its Reply, should it
   * come, is then refused).
   *
   * @throws ChannelError('HANDSHAKE_REFUSED') on the responder or when epochs are exhausted.
   */
  begin(): Promise<Uint8Array> {
    return this.#serial(async () => {
      this.#checkOpen();
      if (this.role !== 'initiator') {
        refuse(`party ${this.self} answers party ${this.peer}'s Hello; it never begins`);
      }
      const minEpoch = this.epoch + 1;
      if (minEpoch > MAX_EPOCH) refuse('the epoch space is exhausted: make a new channel');
      const hello: Hello = {
        initiator: this.self,
        responder: this.peer,
        minEpoch,
        nonce: draw(this.#random, NONCE_BYTES),
      };
      const bytes = encodeHello(hello);
      this.#pendingHello = { bytes, hello };
      return bytes.slice();
    });
  }

  /**
   * Consumes a handshake message (Hello, Reply or Finish) and returns the next one to send, or
   * null when there is none (the responder after Finish). Calls run one at a time, in order.
   *
   * @throws ChannelError: MALFORMED (does not decode), HANDSHAKE_REFUSED (wrong ids, role, epoch
   * or evidence kind), ATTESTATION_REFUSED (with `attestationCode`), BAD_SIGNATURE (coordinator),
   * INTERNAL (the attester or the random source failed). A refused message changes no state.
   */
  handshake(message: Uint8Array): Promise<Uint8Array | null> {
    return this.#serial(async () => {
      this.#checkOpen();
      switch (frameType(message)) {
        case 'hello':
          return this.#onHello(message.slice());
        case 'reply':
          return this.#onReply(message.slice());
        case 'finish':
          this.#onFinish(message.slice());
          return null;
        default:
          throw new ChannelError('MALFORMED', 'not a handshake message');
      }
    });
  }

  /**
   * Seals a payload to the peer under the current epoch's keys.
   *
   * @throws ChannelError('NOT_ESTABLISHED') before the handshake or after `close()`;
   * ChannelError('MALFORMED') when the session id is not 32 bytes or the round not a u8.
   */
  seal(header: { sessionId: Uint8Array; round: number }, payload: Uint8Array): Uint8Array {
    try {
      return this.#records.seal(header, payload);
    } catch (err) {
      throw asChannelError(err);
    }
  }

  /**
   * Opens a record from the peer. Checks, in order: length (TRUNCATED), version and type
   * (MALFORMED), a channel to open it on (NOT_ESTABLISHED), sender and receiver are this pair
   * and the epoch is current or the still-accepted previous one (WRONG_CHANNEL), the AEAD tag
   * (FORGED), then the sequence number: not above the last accepted (REPLAYED), exactly one more
   * (else REORDERED). Each refusal is counted and changes nothing else.
   *
   * @throws ChannelError with one of the codes above.
   */
  open(record: Uint8Array): OpenedRecord {
    try {
      return this.#records.open(record);
    } catch (err) {
      throw asChannelError(err);
    }
  }

  /** Wipes every key and pending secret; the channel refuses everything afterwards. */
  close(): void {
    this.#closed = true;
    this.#dropPendingReply();
    this.#pendingHello = null;
    this.#records.clear();
  }

  /** A redacted summary: ids, role, epoch and counters, never a key. */
  toJSON(): {
    self: PartyId;
    peer: PartyId;
    role: 'initiator' | 'responder';
    epoch: number;
    established: boolean;
    counters: Readonly<Record<RecordRefusal, number>>;
  } {
    return {
      self: this.self,
      peer: this.peer,
      role: this.role,
      epoch: this.epoch,
      established: this.established,
      counters: this.counters,
    };
  }

  /** What `console.log` and `util.inspect` print: the same summary as `toJSON`. */
  [inspect.custom](): string {
    const { self, peer, role, epoch, established } = this.toJSON();
    return `SecureChannel { self: ${self}, peer: ${peer}, role: '${role}', epoch: ${epoch}, established: ${established}, keys: [redacted] }`;
  }

  // -------------------------------------------------------------------------------------------
  // Handshake steps

  /** Responder, message 1 -> 2: answer a Hello with a Reply carrying our attestation. */
  async #onHello(bytes: Uint8Array): Promise<Uint8Array> {
    if (this.role !== 'responder') {
      // A Hello sent to the lower id is a reflection or a misrouted frame.
      refuse(`party ${this.self} initiates towards party ${this.peer}; it does not answer a Hello`);
    }
    const hello = decodeHello(bytes);
    // Ids first: a Hello meant for another responder, or from a party this channel is not for,
    // must not cost an attestation, and swapped ids would invert who checks whom.
    if (hello.responder !== this.self || hello.initiator !== this.peer) {
      refuse(
        `a Hello from ${hello.initiator} to ${hello.responder}; this channel is ${this.peer} -> ${this.self}`,
      );
    }
    const epoch = Math.max(hello.minEpoch, this.epoch + 1);
    if (epoch > MAX_EPOCH) refuse('the epoch space is exhausted: make a new channel');
    const nonce = draw(this.#random, NONCE_BYTES);
    const ephemeral = newEphemeral(this.#random);
    let kept = false;
    try {
      const fields = {
        initiator: this.peer,
        responder: this.self,
        epoch,
        nonce,
        ephemeral: ephemeral.publicKey,
      };
      const document = await this.#attest({
        publicKey: ephemeral.publicKey,
        userData: replyBinding(bytes, encodeReplyPrefix(fields)),
        // The initiator's challenge: proves to it that this document is fresh.
        nonce: hello.nonce,
      });
      this.#checkOpen();
      const reply = encodeReply({ ...fields, evidence: document });
      // A newer Hello supersedes an unfinished handshake; its secret goes now.
      this.#dropPendingReply();
      this.#pendingReply = { hello: bytes, reply, epoch, nonce, secret: ephemeral.secret };
      kept = true;
      return reply.slice();
    } finally {
      if (!kept) wipe(ephemeral.secret);
    }
  }

  /** Initiator, message 2 -> 3: check the responder's Reply, send Finish, switch keys. */
  async #onReply(bytes: Uint8Array): Promise<Uint8Array> {
    if (this.role !== 'initiator') refuse('a responder does not accept a Reply');
    const pending = this.#pendingHello;
    if (pending === null) refuse('a Reply, but no Hello is outstanding');
    const reply = decodeReply(bytes);
    if (reply.initiator !== this.self || reply.responder !== this.peer) {
      refuse(
        `a Reply for ${reply.initiator} -> ${reply.responder}; this channel is ${this.self} -> ${this.peer}`,
      );
    }
    // Epochs only grow: a Reply cannot move us back onto an epoch (and keys) we have left.
    if (reply.epoch < pending.hello.minEpoch) {
      refuse(`the Reply's epoch ${reply.epoch} is below ${pending.hello.minEpoch}`);
    }
    const peerAttestation = verifyEnclaveEvidence(reply.evidence, this.#enclavePolicy(), {
      nonce: pending.hello.nonce,
      ephemeral: reply.ephemeral,
      binding: replyBinding(pending.bytes, encodeReplyPrefix(reply)),
      at: this.#clock(),
    });

    const ephemeral = newEphemeral(this.#random);
    let shared: Uint8Array | null = null;
    try {
      shared = sharedSecret(ephemeral.secret, reply.ephemeral);
      const kind: EvidenceKind =
        this.#identity.kind === 'coordinator' ? 'coordinator' : 'attestation';
      const fields = {
        initiator: this.self,
        responder: this.peer,
        epoch: reply.epoch,
        ephemeral: ephemeral.publicKey,
        kind,
      };
      const binding = finishBinding(pending.bytes, bytes, encodeFinishPrefix(fields));
      const evidence =
        this.#identity.kind === 'coordinator'
          ? signAsCoordinator(this.#identity.privateKey, binding)
          : await this.#attest({
              publicKey: ephemeral.publicKey,
              userData: binding,
              // The responder's challenge.
              nonce: reply.nonce,
            });
      this.#checkOpen();
      const finish = encodeFinish({ ...fields, evidence });
      const keys = deriveRecordKeys(shared, transcriptHash(pending.bytes, bytes, finish), {
        initiator: this.self,
        responder: this.peer,
        epoch: reply.epoch,
      });
      // The initiator switches now: the responder, on an ordered path, reads Finish before any
      // record sealed after it. Its own frames of the old epoch remain acceptable meanwhile.
      this.#records.install({
        epoch: reply.epoch,
        send: { key: keys.initiatorToResponder, sequence: 0n },
        receive: { key: keys.responderToInitiator, sequence: 0n },
        establishedAt: Math.min(peerAttestation.timestamp, this.#clock()),
        peerAttestation,
      });
      this.#pendingHello = null;
      return finish.slice();
    } finally {
      wipe(ephemeral.secret);
      if (shared !== null) wipe(shared);
    }
  }

  /** Responder, message 3: check the initiator's Finish, switch keys. */
  #onFinish(bytes: Uint8Array): void {
    if (this.role !== 'responder') refuse('an initiator does not accept a Finish');
    const pending = this.#pendingReply;
    if (pending === null) refuse('a Finish, but no Reply is outstanding');
    const finish = decodeFinish(bytes);
    if (finish.initiator !== this.peer || finish.responder !== this.self) {
      refuse(
        `a Finish for ${finish.initiator} -> ${finish.responder}; this channel is ${this.peer} -> ${this.self}`,
      );
    }
    if (finish.epoch !== pending.epoch) {
      refuse(`the Finish names epoch ${finish.epoch}, the Reply ${pending.epoch}`);
    }
    const binding = finishBinding(pending.hello, pending.reply, encodeFinishPrefix(finish));
    const check = this.#peerCheck;
    let peerAttestation: PeerAttestation | null = null;
    if (check.kind === 'coordinator') {
      // Party 0 is the coordinator: an enclave, however well attested, cannot speak as it.
      if (finish.kind !== 'coordinator') {
        refuse('party 0 must prove itself with the coordinator key, not a document');
      }
      if (!verifyCoordinator(check.publicKey, binding, finish.evidence)) {
        throw new ChannelError('BAD_SIGNATURE', "the coordinator's Finish signature is invalid");
      }
    } else {
      // And only party 0 may use the coordinator kind: an enclave peer must attest.
      if (finish.kind !== 'attestation') {
        refuse(`party ${this.peer} is an enclave and must attest; only party 0 signs`);
      }
      peerAttestation = verifyEnclaveEvidence(finish.evidence, check, {
        nonce: pending.nonce,
        ephemeral: finish.ephemeral,
        binding,
        at: this.#clock(),
      });
    }
    const shared = sharedSecret(pending.secret, finish.ephemeral);
    try {
      const keys = deriveRecordKeys(shared, transcriptHash(pending.hello, pending.reply, bytes), {
        initiator: this.peer,
        responder: this.self,
        epoch: pending.epoch,
      });
      const completedAt = this.#clock();
      this.#records.install({
        epoch: pending.epoch,
        send: { key: keys.responderToInitiator, sequence: 0n },
        receive: { key: keys.initiatorToResponder, sequence: 0n },
        establishedAt:
          peerAttestation === null ? completedAt : Math.min(peerAttestation.timestamp, completedAt),
        peerAttestation,
      });
      this.#dropPendingReply();
    } finally {
      wipe(shared);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Helpers

  #dropPendingReply(): void {
    if (this.#pendingReply !== null) wipe(this.#pendingReply.secret);
    this.#pendingReply = null;
  }

  async #attest(request: {
    publicKey: Uint8Array;
    userData: Uint8Array;
    nonce: Uint8Array;
  }): Promise<Uint8Array> {
    if (this.#identity.kind !== 'enclave') {
      throw new ChannelError('INTERNAL', 'the coordinator has no attester');
    }
    let document: unknown;
    try {
      document = await this.#identity.attester.attest(request);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new ChannelError('INTERNAL', `the attester failed: ${message}`, { cause: err });
    }
    if (
      !(document instanceof Uint8Array) ||
      document.length === 0 ||
      document.length > MAX_EVIDENCE_BYTES
    ) {
      throw new ChannelError('INTERNAL', 'the attester returned no usable document');
    }
    return document;
  }

  #enclavePolicy(): EnclavePolicy {
    if (this.#peerCheck.kind !== 'enclave') {
      throw new ChannelError('INTERNAL', 'the peer is not configured as an enclave');
    }
    return this.#peerCheck;
  }

  #clock(): number {
    const now = this.#now();
    if (!Number.isSafeInteger(now) || now < 0) {
      throw new ChannelError('INTERNAL', 'the clock returned an invalid time');
    }
    return now;
  }

  #checkOpen(): void {
    if (this.#closed) throw new ChannelError('NOT_ESTABLISHED', 'the channel is closed');
  }

  /** Runs handshake steps one at a time, so no step sees another's half-made state. */
  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(async () => {
      try {
        return await task();
      } catch (err) {
        throw asChannelError(err);
      }
    });
    this.#queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}
