/**
 * The coordinator's side of the enclaves: one link to each parent proxy, an authenticated
 * channel to each enclave over it, the relay of peer-to-peer frames between parents, and the
 * ceremonies a caller asks for (create a key, presign, sign, refresh). The REST API sits on top
 * of this; nothing here speaks HTTP.
 *
 * The coordinator holds no share and cannot read a peer-to-peer frame: it sees routing pairs
 * and ciphertext. It runs the aggregator's side of signing (FROST and ECDSA), which needs only
 * public data. A key is reported created only after every party has sealed and staged its share
 * and then committed it; a failure at any party discards what the others staged.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { equalBytes, toHex } from '../protocol/bytes.js';
import type { EcdsaSignature } from '../protocol/ecdsa/signature.js';
import { createEcdsaAggregator, ecdsaSignCodec } from '../protocol/ecdsa/sign.js';
import type { PresignaturePublic } from '../protocol/ecdsa/presignature.js';
import {
  COORDINATOR,
  decodeEnvelope,
  encodeEnvelope,
  type BodyCodec,
} from '../protocol/envelope.js';
import { ProtocolError, type PartyId } from '../protocol/errors.js';
import { createAggregator, type AggregatorOutput } from '../protocol/frost/session.js';
import { frostCodec } from '../protocol/frost/messages.js';
import type { KeyPublic } from '../protocol/keyshare.js';
import type { Machine, Step } from '../protocol/machine.js';
import { FROST_SCHEMES } from '../protocol/schemes.js';
import {
  PAYLOAD,
  decodeResponse,
  encodeRequest,
  type ControlRequest,
  type ControlResponse,
  type EnclavePolicy,
  type Scheme,
  Peers,
} from '../enclave/index.js';
import { decodeLinkFrame } from '../enclave/index.js';
import { connect, FramedStream, type StreamAddress } from '../transport/index.js';

/** A signing ceremony's result, with each signer's acknowledgement (see enclave/ack.ts). */
export interface Signed<O> {
  readonly output: O;
  readonly sessionId: Uint8Array;
  readonly acks: ReadonlyMap<PartyId, Uint8Array>;
}

/** A key as the coordinator knows it: public data only. */
export interface KeyInfo {
  readonly keyId: string;
  readonly scheme: Scheme;
  readonly key: KeyPublic;
}

export interface ClusterOptions {
  /** Each party's parent proxy, where the coordinator connects. */
  readonly parents: ReadonlyMap<PartyId, StreamAddress>;
  /** The coordinator's Ed25519 identity (private) key; enclaves know its public half. */
  readonly identity: KeyObject;
  readonly enclavePolicy: EnclavePolicy;
  readonly maxChannelAgeMs?: number;
  /** Deadline of an ordinary request (sign, presign, commit). */
  readonly requestTimeoutMs?: number;
  /** Deadline of key generation and refresh (ECDSA includes safe primes and aux info). */
  readonly keygenTimeoutMs?: number;
  readonly log?: (event: Record<string, unknown>) => void;
}

/** A ceremony failure as the caller sees it: what failed, and who is to blame. */
export class CeremonyError extends Error {
  override readonly name = 'CeremonyError';
  constructor(
    readonly code: string,
    message: string,
    readonly blame: readonly PartyId[],
  ) {
    super(message);
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- routing ignores state types
type AnyMachine = Machine<any, { kind: string }, any>;

interface Waiter {
  readonly parties: Set<PartyId>;
  readonly answers: Map<PartyId, ControlResponse>;
  readonly resolve: (answers: Map<PartyId, ControlResponse>) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface AggregatorSession {
  readonly machine: AnyMachine;
  readonly codec: BodyCodec<{ kind: string }>;
  readonly signers: readonly PartyId[];
  readonly resolve: (output: unknown) => void;
  readonly reject: (error: Error) => void;
}

export class Cluster {
  readonly peers: Peers;
  readonly #options: ClusterOptions;
  readonly #links = new Map<PartyId, FramedStream>();
  readonly #waiters = new Map<string, Waiter>();
  readonly #aggregators = new Map<string, AggregatorSession>();
  readonly #relayed = { frames: 0, spoofed: 0, unroutable: 0 };
  readonly #log: (event: Record<string, unknown>) => void;
  #closed = false;
  /** Each enclave's module id (from its attestation), to notice a restart. */
  readonly #moduleIds = new Map<PartyId, string | null>();
  /** Renewal of channels after a restart; ceremonies wait for it. */
  #rekeying: Promise<void> = Promise.resolve();

  private constructor(options: ClusterOptions) {
    this.#options = options;
    this.#log = options.log ?? (() => {});
    this.peers = new Peers({
      self: COORDINATOR,
      identity: { kind: 'coordinator', privateKey: options.identity },
      checkFor: () => ({ kind: 'enclave', ...options.enclavePolicy }),
      random: (n) => new Uint8Array(randomBytes(n)),
      now: Date.now,
      maxChannelAgeMs: options.maxChannelAgeMs ?? 2 * 60 * 60 * 1000,
      write: (to, frame) => this.#writeTo(to, frame),
      onPayload: (opened) => this.#dispatch(opened.from, opened.sessionId, opened.payload),
      onEstablished: (party) => this.#onEstablished(party),
      log: this.#log,
    });
  }

  /**
   * A channel to `party` came up. If its attestation names another enclave than before, the
   * enclave restarted and lost its channel keys: tell every other enclave to renew its channel
   * to it before the next ceremony, or their first frames to it would be sealed under keys it no
   * longer has.
   */
  #onEstablished(party: PartyId): void {
    const moduleId = this.peers.attestation(party)?.moduleId ?? null;
    const before = this.#moduleIds.get(party);
    this.#moduleIds.set(party, moduleId);
    // The first sight of a party counts too: it may have restarted while no coordinator ran,
    // and nothing else would tell its peers that their channels to it are stale.
    if (before === moduleId) return;
    this.#log({ event: before === undefined ? 'enclave-seen' : 'enclave-restarted', party });
    const others = this.parties.filter((p) => p !== party && this.healthy(p));
    if (others.length === 0) return;
    this.#rekeying = this.#rekeying.then(() =>
      this.#askQuietly(others, { kind: 'rekey', peer: party }, 5000),
    );
  }

  /** Connects to every parent that answers; the others are retried by {@link reconnect}. */
  static async connect(options: ClusterOptions): Promise<Cluster> {
    const cluster = new Cluster(options);
    await Promise.all([...options.parents.keys()].map((party) => cluster.reconnect(party)));
    return cluster;
  }

  get parties(): PartyId[] {
    return [...this.#options.parents.keys()].sort((a, b) => a - b);
  }

  /** Frames relayed between parents, and frames refused (a parent spoofing `from`, no route). */
  get relayStats(): Readonly<{ frames: number; spoofed: number; unroutable: number }> {
    return { ...this.#relayed };
  }

  /** Whether the link to party `id`'s parent is up (its channel may still be handshaking). */
  linked(id: PartyId): boolean {
    return this.#links.has(id);
  }

  /** Whether party `id` has a live link and an established, attested channel. */
  healthy(id: PartyId): boolean {
    return this.#links.has(id) && this.peers.established(id);
  }

  /** (Re)connects to one parent and starts the channel handshake with its enclave. */
  async reconnect(party: PartyId): Promise<boolean> {
    const address = this.#options.parents.get(party);
    if (!address || this.#closed) return false;
    let stream;
    try {
      stream = await connect(address, { timeoutMs: 5000 });
    } catch {
      this.#log({ event: 'parent-unreachable', party });
      return false;
    }
    const link = new FramedStream(stream);
    this.#links.get(party)?.close();
    this.#links.set(party, link);
    this.peers.reset(party);
    void (async () => {
      try {
        for await (const frame of link.frames()) this.#fromParent(party, frame);
      } catch {
        // the link failed; the loop ends
      } finally {
        if (this.#links.get(party) === link) this.#links.delete(party);
        this.#log({ event: 'parent-disconnected', party });
      }
    })();
    this.peers.connect(party);
    return true;
  }

  /** Waits until every listed party's channel is up, or the deadline passes. */
  async ready(parties: readonly PartyId[] = this.parties, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (parties.some((p) => !this.healthy(p))) {
      if (Date.now() > deadline) {
        const missing = parties.filter((p) => !this.healthy(p));
        throw new CeremonyError('UNAVAILABLE', `no channel to parties ${missing}`, missing);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.#closed = true;
    for (const link of this.#links.values()) link.close();
    this.#links.clear();
    for (const waiter of this.#waiters.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(new CeremonyError('UNAVAILABLE', 'coordinator closed', []));
    }
    this.#waiters.clear();
  }

  // -------------------------------------------------------------------------------------------
  // Ceremonies

  /**
   * Creates a key: every party runs the DKG (and for ECDSA the auxiliary info), seals and stages
   * its share; only when all have staged is the epoch committed everywhere.
   */
  async createKey(request: {
    keyId: string;
    scheme: Scheme;
    threshold: number;
    parties: readonly PartyId[];
    allowedSignerSets?: readonly (readonly PartyId[])[];
  }): Promise<KeyInfo> {
    const parties = [...request.parties].sort((a, b) => a - b);
    const keygen: ControlRequest = {
      kind: 'keygen',
      keyId: request.keyId,
      scheme: request.scheme,
      threshold: request.threshold,
      parties,
      allowedSignerSets: (request.allowedSignerSets ?? []).map((s) => [...s].sort((a, b) => a - b)),
    };
    const info = await this.#stageEverywhere(keygen, parties, request.keyId, 0);
    return info;
  }

  /** Refreshes a key's shares (a new epoch, same public key), committed only when all staged. */
  async refresh(info: KeyInfo): Promise<KeyInfo> {
    const next = await this.#stageEverywhere(
      { kind: 'refresh', keyId: info.keyId, epoch: info.key.epoch },
      info.key.parties,
      info.keyId,
      info.key.epoch + 1,
    );
    if (!equalBytes(next.key.publicKey.toBytes(), info.key.publicKey.toBytes())) {
      throw new CeremonyError('INCONSISTENT', 'refresh changed the public key', []);
    }
    return next;
  }

  /** Presigns for `signers`; every signer keeps its part, the coordinator the public part. */
  async presign(info: KeyInfo, signers: readonly PartyId[]): Promise<PresignaturePublic> {
    const set = [...signers].sort((a, b) => a - b);
    const answers = await this.#ask(
      set,
      newSessionId(),
      { kind: 'presign', keyId: info.keyId, epoch: info.key.epoch, signers: set },
      this.#options.requestTimeoutMs ?? 60_000,
    );
    const publics = set.map(
      (p) => answers.get(p) as Extract<ControlResponse, { kind: 'presigned' }>,
    );
    const first = publics[0]!.presignature;
    for (const [i, { presignature }] of publics.entries()) {
      if (!equalBytes(presignature.id, first.id) || !presignature.R.equals(first.R)) {
        throw new CeremonyError('INCONSISTENT', 'signers disagree on the presignature', [set[i]!]);
      }
    }
    return first;
  }

  /**
   * Signs with a FROST key (Ed25519 or BIP340): the coordinator aggregates and checks. With
   * `taproot` (BIP340 only) the signature is for the BIP341 key-path output key.
   */
  async signSchnorr(
    info: KeyInfo,
    request: { signers: readonly PartyId[]; message: Uint8Array; path?: string; taproot?: boolean },
  ): Promise<Signed<Uint8Array>> {
    if (info.scheme === 'ecdsa-secp256k1') throw new TypeError('signSchnorr is for FROST keys');
    const signers = [...request.signers].sort((a, b) => a - b);
    const sessionId = newSessionId();
    const suite = FROST_SCHEMES[info.scheme];
    const machine = refuseLocally(() =>
      createAggregator(info.key, {
        suite,
        sessionId,
        keySessionId: info.key.keySessionId,
        epoch: info.key.epoch,
        message: request.message,
        signers,
        ...(request.path ? { path: request.path } : {}),
        ...(request.taproot ? { taproot: true } : {}),
      }),
    );
    const signed = await this.#aggregate<AggregatorOutput>(
      sessionId,
      machine,
      frostCodec(suite.group) as BodyCodec<{ kind: string }>,
      signers,
      {
        kind: 'sign',
        keyId: info.keyId,
        epoch: info.key.epoch,
        signers,
        message: request.message,
        path: request.path ?? '',
        presignatureId: new Uint8Array(),
        taproot: request.taproot === true,
      },
    );
    return { ...signed, output: signed.output.signature };
  }

  /** Signs a 32-byte digest with an ECDSA key, spending the given presignature. */
  async signEcdsa(
    info: KeyInfo,
    presignature: PresignaturePublic,
    request: { digest: Uint8Array; path?: string },
  ): Promise<Signed<EcdsaSignature>> {
    const sessionId = newSessionId();
    const signers = [...presignature.signers];
    const machine = refuseLocally(() =>
      createEcdsaAggregator(info.key, presignature, {
        sessionId,
        digest: request.digest,
        presignatureId: presignature.id,
        ...(request.path ? { path: request.path } : {}),
      }),
    );
    return this.#aggregate<EcdsaSignature>(
      sessionId,
      machine,
      ecdsaSignCodec() as BodyCodec<{ kind: string }>,
      signers,
      {
        kind: 'sign',
        keyId: info.keyId,
        epoch: info.key.epoch,
        signers,
        message: request.digest,
        path: request.path ?? '',
        presignatureId: presignature.id,
        taproot: false,
      },
    );
  }

  /** An enclave's attestation document binding its acknowledgement key to `nonce`. */
  async attest(party: PartyId, nonce: Uint8Array): Promise<Uint8Array> {
    const answers = await this.#ask([party], newSessionId(), { kind: 'attest', nonce }, 10_000);
    const answer = answers.get(party);
    if (answer?.kind !== 'attested') {
      throw new CeremonyError('INCONSISTENT', `party ${party} did not attest`, [party]);
    }
    return answer.document;
  }

  /** Asks every party for its status (liveness through the authenticated channel). */
  async status(parties: readonly PartyId[] = this.parties) {
    return this.#ask(parties, newSessionId(), { kind: 'status' }, 5000);
  }

  // -------------------------------------------------------------------------------------------

  async #stageEverywhere(
    request: ControlRequest,
    parties: readonly PartyId[],
    keyId: string,
    epoch: number,
  ): Promise<KeyInfo> {
    const sessionId = newSessionId();
    let answers: Map<PartyId, ControlResponse>;
    try {
      answers = await this.#ask(
        parties,
        sessionId,
        request,
        this.#options.keygenTimeoutMs ?? 300_000,
      );
    } catch (error) {
      // Whoever staged drops it; the epoch before (if any) stays the committed one. Not waited
      // for: a party that does not answer settles by the epoch rule when it next loads the key.
      void this.#askQuietly(parties, { kind: 'discard', keyId, epoch });
      throw error;
    }
    const staged = parties.map(
      (p) => answers.get(p) as Extract<ControlResponse, { kind: 'staged' }>,
    );
    const first = staged[0]!;
    for (const [i, s] of staged.entries()) {
      if (!sameKey(s.key, first.key) || s.key.epoch !== epoch) {
        void this.#askQuietly(parties, { kind: 'discard', keyId, epoch });
        throw new CeremonyError('INCONSISTENT', 'parties disagree on the new key', [parties[i]!]);
      }
    }
    await this.#ask(parties, newSessionId(), { kind: 'commit', keyId, epoch }, 60_000);
    return { keyId, scheme: first.scheme, key: first.key };
  }

  async #askQuietly(
    parties: readonly PartyId[],
    request: ControlRequest,
    timeoutMs = 10_000,
  ): Promise<void> {
    await this.#ask(parties, newSessionId(), request, timeoutMs).catch(() => {});
  }

  /** Runs the aggregator's machine while the signers run theirs. */
  #aggregate<O>(
    sessionId: Uint8Array,
    machine: AnyMachine,
    codec: BodyCodec<{ kind: string }>,
    signers: readonly PartyId[],
    request: ControlRequest,
  ): Promise<Signed<O>> {
    const id = toHex(sessionId);
    const output = new Promise<O>((resolve, reject) => {
      this.#aggregators.set(id, {
        machine,
        codec,
        signers,
        resolve: (o) => resolve(o as O),
        reject,
      });
    });
    const asked = this.#ask(signers, sessionId, request, this.#options.requestTimeoutMs ?? 60_000);
    try {
      this.#step(id, machine.start());
    } catch (error) {
      this.#aggregators.get(id)?.reject(asError(error));
    }
    return Promise.all([output, asked])
      .then(([o, answers]) => ({ output: o, sessionId, acks: acknowledgements(answers) }))
      .catch(async (error: unknown) => {
        this.#aggregators.delete(id);
        // Stops the signers still waiting; their answers are not needed.
        void this.#askQuietly(signers, { kind: 'abort', reason: 'ceremony failed' });
        throw asError(error);
      })
      .finally(() => this.#aggregators.delete(id));
  }

  #step(id: string, step: Step<{ kind: string }, unknown>): void {
    const session = this.#aggregators.get(id);
    if (!session) return;
    for (const env of step.outgoing) {
      const payload = concatBytes(PAYLOAD.envelope, encodeEnvelope(session.codec, env));
      const receivers = env.to === null ? session.signers : [env.to];
      for (const to of receivers) this.peers.send(to, env.sessionId, env.round, payload);
    }
    if (step.output !== undefined) session.resolve(step.output);
  }

  /** Sends one request to each party and collects every answer; a `failed` rejects. */
  async #ask(
    parties: readonly PartyId[],
    sessionId: Uint8Array,
    request: ControlRequest,
    timeoutMs: number,
  ): Promise<Map<PartyId, ControlResponse>> {
    if (request.kind !== 'rekey') await this.#rekeying;
    return this.#askNow(parties, sessionId, request, timeoutMs);
  }

  #askNow(
    parties: readonly PartyId[],
    sessionId: Uint8Array,
    request: ControlRequest,
    timeoutMs: number,
  ): Promise<Map<PartyId, ControlResponse>> {
    if (parties.length === 0) return Promise.resolve(new Map());
    const unavailable = parties.filter((p) => !this.healthy(p));
    if (unavailable.length > 0) {
      return Promise.reject(
        new CeremonyError('UNAVAILABLE', `parties ${unavailable} are not reachable`, unavailable),
      );
    }
    const id = toHex(sessionId);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(id);
        const silent = parties.filter((p) => !waiter.answers.has(p));
        reject(new CeremonyError('TIMEOUT', `no answer from parties ${silent}`, silent));
      }, timeoutMs);
      const waiter: Waiter = {
        parties: new Set(parties),
        answers: new Map(),
        resolve,
        reject,
        timer,
      };
      this.#waiters.set(id, waiter);
      const payload = encodeRequest(request);
      for (const p of parties) this.peers.send(p, sessionId, 0, payload);
    });
  }

  #dispatch(from: PartyId, sessionId: Uint8Array, payload: Uint8Array): void {
    const id = toHex(sessionId);
    if (payload[0] === PAYLOAD.response) {
      const waiter = this.#waiters.get(id);
      if (!waiter || !waiter.parties.has(from)) return;
      let response: ControlResponse;
      try {
        response = decodeResponse(payload, from);
      } catch (error) {
        response = {
          kind: 'failed',
          code: 'MALFORMED_MESSAGE',
          message: 'bad response',
          blame: [from],
        };
        void error;
      }
      if (response.kind === 'failed') {
        clearTimeout(waiter.timer);
        this.#waiters.delete(id);
        // A party that fails names whom it blames; if it names no one, the fault is its own.
        // A signer that gave up waiting for the coordinator's package blames the coordinator,
        // but the coordinator held it back for want of other signers' messages: blame those.
        const aggregator = this.#aggregators.get(id);
        const named = response.blame.length > 0 ? response.blame : [from];
        const starved = response.code === 'MISSING_MESSAGE' && aggregator !== undefined;
        const blame = named.flatMap((p) =>
          p === COORDINATOR && starved ? aggregator.machine.waitingFor() : [p],
        );
        waiter.reject(
          new CeremonyError(response.code, `party ${from}: ${response.message}`, blame),
        );
        return;
      }
      waiter.answers.set(from, response);
      if (waiter.answers.size === waiter.parties.size) {
        clearTimeout(waiter.timer);
        this.#waiters.delete(id);
        waiter.resolve(waiter.answers);
      }
      return;
    }
    if (payload[0] === PAYLOAD.envelope) {
      const session = this.#aggregators.get(id);
      if (!session) return;
      try {
        const env = decodeEnvelope(session.codec, payload.subarray(1));
        if (env.from !== from) {
          throw new ProtocolError('UNEXPECTED_MESSAGE', 'envelope sender differs', [from]);
        }
        this.#step(id, session.machine.deliver(env));
      } catch (error) {
        session.reject(asError(error));
      }
    }
  }

  /** A frame from party `party`'s parent: ours, or one to relay to another parent. */
  #fromParent(party: PartyId, bytes: Uint8Array): void {
    const frame = decodeLinkFrame(bytes);
    if (!frame || frame.from !== party) {
      this.#relayed.spoofed += 1;
      return;
    }
    if (frame.to === COORDINATOR) {
      this.peers.receive(bytes);
      return;
    }
    const target = this.#links.get(frame.to);
    if (!target) {
      this.#relayed.unroutable += 1;
      return;
    }
    this.#relayed.frames += 1;
    target.send(bytes).catch(() => {});
  }

  #writeTo(to: PartyId, frame: Uint8Array): void {
    this.#links
      .get(to)
      ?.send(frame)
      .catch(() => {});
  }
}

function acknowledgements(answers: Map<PartyId, ControlResponse>): Map<PartyId, Uint8Array> {
  const acks = new Map<PartyId, Uint8Array>();
  for (const [party, answer] of answers) {
    if (answer.kind === 'acknowledged') acks.set(party, answer.signature);
  }
  return acks;
}

function newSessionId(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

function concatBytes(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + body.length);
  out[0] = type;
  out.set(body, 1);
  return out;
}

function sameKey(a: KeyPublic, b: KeyPublic): boolean {
  return (
    a.epoch === b.epoch &&
    a.threshold === b.threshold &&
    a.publicKey.equals(b.publicKey) &&
    equalBytes(a.keySessionId, b.keySessionId) &&
    equalBytes(a.chainCode, b.chainCode) &&
    a.parties.length === b.parties.length &&
    a.parties.every(
      (p, i) =>
        p === b.parties[i] && a.verificationShares.get(p)!.equals(b.verificationShares.get(p)!),
    )
  );
}

/** Runs the coordinator's own checks of a request; their refusal is a CeremonyError too. */
function refuseLocally<T>(make: () => T): T {
  try {
    return make();
  } catch (error) {
    throw asError(error);
  }
}

function asError(error: unknown): Error {
  if (error instanceof CeremonyError) return error;
  if (error instanceof ProtocolError) {
    return new CeremonyError(error.code, error.message, error.blame);
  }
  return error instanceof Error ? error : new Error(String(error));
}
