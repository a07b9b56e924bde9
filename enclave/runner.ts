/**
 * The ceremony runner: turns the coordinator's requests into protocol sessions, drives each
 * session's pure state machine with the envelopes its peers send, and answers with the outcome.
 * It knows nothing of sockets or channels: it is handed decrypted, authenticated payloads and a
 * `send` function, so the same runner serves vsock in production and Unix sockets locally.
 *
 * What it guarantees, whatever peers and the coordinator do:
 *   - every request is checked against the enclave's own sealed copy of the key's policy
 *     (parties, threshold, allowed signer sets, scheme, committed epoch) before it takes part;
 *   - a new share or epoch is sealed and staged before "staged" is answered;
 *   - a presignature is durably marked consumed before a signature share made from it leaves;
 *   - each round has a deadline, after which the session aborts blaming the silent parties;
 *   - the number of sessions, the bytes each may receive, and the frames waiting for a session
 *     that has not started yet are all bounded;
 *   - a failure aborts only its session, and is answered as `failed` with code and blame.
 */
import { generatePrime } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, toHex, utf8 } from '../protocol/bytes.js';
import { createDkg, createRefresh, dkgCodec } from '../protocol/dkg/index.js';
import { auxCodec, createAux } from '../protocol/ecdsa/aux.js';
import type { AuxInfo } from '../protocol/ecdsa/aux-info.js';
import { createPresign, presignCodec } from '../protocol/ecdsa/presign/index.js';
import type { Presignature } from '../protocol/ecdsa/presignature.js';
import { createEcdsaSigner, ecdsaSignCodec } from '../protocol/ecdsa/sign.js';
import {
  COORDINATOR,
  decodeEnvelope,
  encodeEnvelope,
  type BodyCodec,
  type Envelope,
} from '../protocol/envelope.js';
import { ProtocolError, type PartyId } from '../protocol/errors.js';
import { createSigner } from '../protocol/frost/session.js';
import { frostCodec } from '../protocol/frost/messages.js';
import { groupByName } from '../protocol/group.js';
import { keyPublic, type KeyShare } from '../protocol/keyshare.js';
import type { Machine, Step } from '../protocol/machine.js';
import type { Rng } from '../protocol/random.js';
import { FROST_SCHEMES } from '../protocol/schemes.js';
import {
  PAYLOAD,
  decodeRequest,
  encodeResponse,
  groupOf,
  type ControlRequest,
  type ControlResponse,
  type Scheme,
} from './control.js';
import { ackMessage, type AckKey } from './ack.js';
import { SealError } from './errors.js';
import type { Attester } from './recipient.js';
import type { ShareRecord } from './share-record.js';
import type { KeyVault } from './vault.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the runner routes any machine
type AnyMachine = Machine<any, { kind: string }, any>;

/** Sends one payload to a party (a peer enclave, or the coordinator as party 0). */
export type Send = (to: PartyId, sessionId: Uint8Array, round: number, payload: Uint8Array) => void;

export interface RunnerLimits {
  /** Sessions running at once; more are refused as BUSY. */
  readonly maxSessions: number;
  /** A round's deadline. */
  readonly roundTimeoutMs: number;
  /** Auxiliary info proves large statements; its rounds get longer. */
  readonly auxRoundTimeoutMs: number;
  /** Bytes one session may receive in all. */
  readonly maxSessionBytes: number;
  /** Frames held for sessions that have not started here yet, over all such sessions. */
  readonly maxOrphanFrames: number;
  /** How long such frames are held. */
  readonly orphanTtlMs: number;
}

export const DEFAULT_LIMITS: RunnerLimits = {
  maxSessions: 64,
  roundTimeoutMs: 30_000,
  auxRoundTimeoutMs: 120_000,
  maxSessionBytes: 64 * 1024 * 1024,
  maxOrphanFrames: 4096,
  orphanTtlMs: 60_000,
};

export interface RunnerOptions {
  readonly self: PartyId;
  readonly vault: KeyVault;
  readonly send: Send;
  readonly rng: Rng;
  readonly limits?: Partial<RunnerLimits>;
  /** A 1024-bit safe prime; default node:crypto's, off the main thread. */
  readonly safePrime?: () => Promise<bigint>;
  /** Structured events for logs and metrics; never secrets. */
  readonly log?: (event: Record<string, unknown>) => void;
  /** The coordinator reports that `peer` restarted: its channel must be renewed. */
  readonly onRekey?: (peer: PartyId) => Promise<void>;
  /** Signs acknowledgements of signing requests; its public key is what `attest` binds. */
  readonly ackKey?: AckKey;
  /** Answers `attest` requests (the NSM). */
  readonly attester?: Attester;
}

interface Session {
  readonly id: string;
  readonly protocol: string;
  readonly startedAt: number;
  readonly sessionId: Uint8Array;
  readonly machine: AnyMachine;
  readonly codec: BodyCodec<{ kind: string }>;
  /** Everyone a broadcast goes to, self included (it is skipped). */
  readonly participants: readonly PartyId[];
  readonly timeoutMs: number;
  readonly finish: (output: unknown) => void;
  readonly fail: (error: unknown) => void;
  bytes: number;
  round: number;
  timer: NodeJS.Timeout | null;
}

/** node:crypto's safe-prime search runs on the libuv pool, so the event loop keeps serving. */
function defaultSafePrime(): Promise<bigint> {
  return new Promise((resolve, reject) =>
    generatePrime(1024, { safe: true, bigint: true }, (error, prime) =>
      error ? reject(error) : resolve(prime),
    ),
  );
}

/** Every party derives the auxiliary-info session of a ceremony from the ceremony's own id. */
export function auxSessionId(sessionId: Uint8Array): Uint8Array {
  return sha256(concat(utf8('mpc-kms/runner/aux-session'), sessionId));
}

export class CeremonyRunner {
  readonly self: PartyId;
  readonly #vault: KeyVault;
  readonly #send: Send;
  readonly #rng: Rng;
  readonly #limits: RunnerLimits;
  readonly #safePrime: () => Promise<bigint>;
  readonly #log: (event: Record<string, unknown>) => void;
  readonly #onRekey: (peer: PartyId) => Promise<void>;
  readonly #ackKey: AckKey | null;
  readonly #attester: Attester | null;
  readonly #sessions = new Map<string, Session>();
  /** Requests in progress (a session may not have started yet), by session id. */
  readonly #requests = new Set<string>();
  readonly #orphans = new Map<string, { at: number; frames: OrphanFrame[] }>();
  #orphanCount = 0;
  /** Sessions that ended here: a late frame for one is refused, not held. */
  readonly #ended = new Set<string>();
  readonly #refused: Record<string, number> = {};

  constructor(options: RunnerOptions) {
    this.self = options.self;
    this.#vault = options.vault;
    this.#send = options.send;
    this.#rng = options.rng;
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#safePrime = options.safePrime ?? defaultSafePrime;
    this.#log = options.log ?? (() => {});
    this.#onRekey = options.onRekey ?? (async () => {});
    this.#ackKey = options.ackKey ?? null;
    this.#attester = options.attester ?? null;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Frames refused by reason (late, unknown session, over budget, mismatched header). */
  get refused(): Readonly<Record<string, number>> {
    return { ...this.#refused };
  }

  /** A control request from the coordinator, arrived in session `sessionId`. */
  onRequest(sessionId: Uint8Array, payload: Uint8Array): void {
    const id = toHex(sessionId);
    let request: ControlRequest;
    try {
      request = decodeRequest(payload, COORDINATOR);
    } catch (error) {
      this.#respond(sessionId, failure(error));
      return;
    }
    if (request.kind === 'abort') {
      this.#abort(id, new ProtocolError('INTERNAL', `aborted: ${request.reason}`));
      this.#respond(sessionId, { kind: 'done' });
      return;
    }
    if (request.kind === 'rekey') {
      // Answered once the new channel is up (or given up on), so the coordinator's next
      // ceremony does not race the handshake.
      void this.#onRekey(request.peer).then(() => this.#respond(sessionId, { kind: 'done' }));
      return;
    }
    if (request.kind === 'attest') {
      this.#attest(sessionId, request.nonce);
      return;
    }
    if (request.kind === 'status') {
      this.#respond(sessionId, {
        kind: 'status',
        party: this.self,
        sessions: this.#sessions.size,
        keys: this.#vault.keyCount,
        presignatures: this.#vault.presignatureCount,
      });
      return;
    }
    if (this.#requests.has(id) || this.#ended.has(id)) {
      this.#respond(sessionId, {
        kind: 'failed',
        code: 'REPLAYED_MESSAGE',
        message: 'a request of this session id was already taken',
        blame: [COORDINATOR],
      });
      return;
    }
    if (this.#requests.size >= this.#limits.maxSessions) {
      this.#respond(sessionId, {
        kind: 'failed',
        code: 'BUSY',
        message: `${this.#limits.maxSessions} sessions already running`,
        blame: [],
      });
      return;
    }
    this.#requests.add(id);
    this.#log({ event: 'request', kind: request.kind, session: id.slice(0, 16) });
    this.#handle(sessionId, request).then(
      (response) => this.#respond(sessionId, response),
      (error: unknown) => {
        this.#log({ event: 'request-failed', kind: request.kind, session: id.slice(0, 16) });
        this.#respond(sessionId, failure(error));
      },
    );
  }

  /**
   * A protocol envelope from `from`, authenticated by the channel, whose record header carried
   * `sessionId` and `round`. The envelope must say the same, or the sender is lying.
   */
  onEnvelope(from: PartyId, sessionId: Uint8Array, round: number, payload: Uint8Array): void {
    const id = toHex(sessionId);
    const session = this.#sessions.get(id);
    if (!session) {
      if (this.#ended.has(id)) return this.#count('late');
      this.#holdOrphan(id, from, round, payload);
      return;
    }
    session.bytes += payload.length;
    if (session.bytes > this.#limits.maxSessionBytes) {
      this.#count('over-budget');
      session.fail(
        new ProtocolError('INVALID_PARAMETERS', 'session exceeded its byte budget', [from]),
      );
      return;
    }
    try {
      const env = decodeEnvelope(session.codec, payload.subarray(1));
      if (env.from !== from || env.round !== round || toHex(env.sessionId) !== id) {
        this.#count('header-mismatch');
        throw new ProtocolError('UNEXPECTED_MESSAGE', 'envelope disagrees with its record', [from]);
      }
      this.#step(session, session.machine.deliver(env));
    } catch (error) {
      session.fail(error);
    }
  }

  /** Ends every session (shutdown). */
  close(): void {
    for (const id of [...this.#sessions.keys()]) {
      this.#abort(id, new ProtocolError('INTERNAL', 'enclave shutting down'));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Requests

  async #handle(sessionId: Uint8Array, request: ControlRequest): Promise<ControlResponse> {
    try {
      switch (request.kind) {
        case 'keygen':
          return await this.#keygen(sessionId, request);
        case 'refresh':
          return await this.#refresh(sessionId, request.keyId, request.epoch);
        case 'commit':
          await this.#vault.commit(request.keyId, request.epoch);
          return { kind: 'done' };
        case 'discard':
          await this.#vault.discard(request.keyId, request.epoch);
          return { kind: 'done' };
        case 'presign':
          return await this.#presign(sessionId, request);
        case 'sign':
          return await this.#sign(sessionId, request);
        default:
          throw new ProtocolError('INVALID_PARAMETERS', `unexpected request ${request.kind}`);
      }
    } finally {
      this.#requests.delete(toHex(sessionId));
      this.#ended.add(toHex(sessionId));
      this.#trimEnded();
    }
  }

  async #keygen(
    sessionId: Uint8Array,
    request: Extract<ControlRequest, { kind: 'keygen' }>,
  ): Promise<ControlResponse> {
    const { keyId, scheme, threshold, parties, allowedSignerSets } = request;
    refuseUnless(parties.includes(this.self), `party ${this.self} is not among the key's parties`);
    refuseUnless(threshold >= 1 && threshold <= parties.length, 'threshold out of range');
    for (const set of allowedSignerSets) {
      refuseUnless(
        set.length >= threshold && set.every((p) => parties.includes(p)),
        'an allowed signer set is not a set of at least t holders',
      );
    }
    // Safe primes take seconds: start them while the DKG runs.
    const primes = scheme === 'ecdsa-secp256k1' ? this.#primes() : null;
    primes?.catch(() => {});
    const group = groupByName(groupOf(scheme));
    const share = await this.#run<KeyShare>(
      sessionId,
      createDkg({ group, sessionId, self: this.self, parties, threshold }, this.#rng),
      dkgCodec(group, 'dkg', threshold, parties.length) as BodyCodec<{ kind: string }>,
      parties,
      this.#limits.roundTimeoutMs,
    );
    const aux = primes ? await this.#aux(sessionId, share, await primes) : null;
    const record: ShareRecord = { keyId, scheme, allowedSignerSets, share, aux };
    await this.#vault.stage(record);
    return { kind: 'staged', keyId, scheme, key: keyPublic(share) };
  }

  async #refresh(sessionId: Uint8Array, keyId: string, epoch: number): Promise<ControlResponse> {
    const record = await this.#committed(keyId, epoch);
    const primes = record.scheme === 'ecdsa-secp256k1' ? this.#primes() : null;
    primes?.catch(() => {});
    const { share } = record;
    const group = groupByName(share.group);
    const next = await this.#run<KeyShare>(
      sessionId,
      createRefresh(share, sessionId, this.#rng),
      dkgCodec(group, 'refresh', share.threshold, share.parties.length) as BodyCodec<{
        kind: string;
      }>,
      share.parties,
      this.#limits.roundTimeoutMs,
    );
    const aux = primes ? await this.#aux(sessionId, next, await primes) : null;
    await this.#vault.stage({ ...record, share: next, aux });
    return { kind: 'staged', keyId, scheme: record.scheme, key: keyPublic(next) };
  }

  async #presign(
    sessionId: Uint8Array,
    request: Extract<ControlRequest, { kind: 'presign' }>,
  ): Promise<ControlResponse> {
    const record = await this.#committed(request.keyId, request.epoch);
    refuseUnless(record.scheme === 'ecdsa-secp256k1' && record.aux !== null, 'not an ECDSA key');
    checkSigners(record, request.signers, this.self);
    const presignature = await this.#run<Presignature>(
      sessionId,
      createPresign(record.share, record.aux!, { sessionId, signers: request.signers }, this.#rng),
      presignCodec(request.signers.length) as BodyCodec<{ kind: string }>,
      request.signers,
      this.#limits.roundTimeoutMs,
    );
    this.#vault.addPresignature(request.keyId, presignature);
    return { kind: 'presigned', presignature: presignature.public };
  }

  async #sign(
    sessionId: Uint8Array,
    request: Extract<ControlRequest, { kind: 'sign' }>,
  ): Promise<ControlResponse> {
    const record = await this.#committed(request.keyId, request.epoch);
    checkSigners(record, request.signers, this.self);
    const participants = [COORDINATOR, ...request.signers];
    const path = request.path === '' ? undefined : request.path;
    refuseUnless(
      !request.taproot || record.scheme === 'schnorr-secp256k1-bip340',
      'only a BIP340 key signs Taproot spends',
    );
    if (record.scheme === 'ecdsa-secp256k1') {
      refuseUnless(request.message.length === 32, 'an ECDSA digest is 32 bytes');
      const presignature = await this.#vault.takePresignature(
        request.keyId,
        request.presignatureId,
      );
      refuseUnless(
        sameSet(presignature.public.signers, request.signers),
        'the presignature was made for another signer set',
      );
      // The ledger holds the id now; creating the signer spends the presignature.
      await this.#run(
        sessionId,
        createEcdsaSigner(record.share, presignature, {
          sessionId,
          digest: request.message,
          presignatureId: request.presignatureId,
          ...(path === undefined ? {} : { path }),
        }),
        ecdsaSignCodec() as BodyCodec<{ kind: string }>,
        participants,
        this.#limits.roundTimeoutMs,
      );
      return this.#acknowledge(sessionId, request);
    }
    if (record.scheme === 'schnorr-secp256k1-bip340') {
      refuseUnless(request.message.length === 32, 'a BIP340 message is a 32-byte digest');
    }
    const suite = FROST_SCHEMES[record.scheme];
    await this.#run(
      sessionId,
      createSigner(
        record.share,
        {
          suite,
          sessionId,
          keySessionId: record.share.keySessionId,
          epoch: record.share.epoch,
          message: request.message,
          signers: request.signers,
          ...(path === undefined ? {} : { path }),
          ...(request.taproot ? { taproot: true } : {}),
        },
        this.#rng,
      ),
      frostCodec(suite.group) as BodyCodec<{ kind: string }>,
      participants,
      this.#limits.roundTimeoutMs,
    );
    return this.#acknowledge(sessionId, request);
  }

  #attest(sessionId: Uint8Array, nonce: Uint8Array): void {
    if (!this.#attester || !this.#ackKey) {
      this.#respond(sessionId, failure(new ProtocolError('INVALID_PARAMETERS', 'no attester')));
      return;
    }
    Promise.resolve(this.#attester.attest({ publicKey: this.#ackKey.publicKey, nonce })).then(
      (document) => this.#respond(sessionId, { kind: 'attested', document }),
      (error: unknown) => this.#respond(sessionId, failure(error)),
    );
  }

  /** The acknowledgement of a signing request served (empty without an acknowledgement key). */
  #acknowledge(
    sessionId: Uint8Array,
    request: Extract<ControlRequest, { kind: 'sign' }>,
  ): ControlResponse {
    if (!this.#ackKey) return { kind: 'done' };
    const message = ackMessage({
      ...request,
      sessionId,
      messageSha256: sha256(request.message),
    });
    return { kind: 'acknowledged', signature: this.#ackKey.sign(message) };
  }

  /** The key at `epoch`, which must be this enclave's committed epoch of it. */
  async #committed(keyId: string, epoch: number): Promise<ShareRecord> {
    const record = await this.#vault.get(keyId, epoch);
    refuseUnless(
      this.#vault.committedEpoch(keyId) === epoch,
      `epoch ${epoch} of key ${keyId} is not committed here`,
      'EPOCH_MISMATCH',
    );
    return record;
  }

  async #aux(sessionId: Uint8Array, share: KeyShare, primes: { p: bigint; q: bigint }) {
    const auxId = auxSessionId(sessionId);
    return this.#run<AuxInfo>(
      auxId,
      createAux(
        {
          sessionId: auxId,
          self: this.self,
          parties: share.parties,
          keySessionId: share.keySessionId,
          epoch: share.epoch,
        },
        primes,
        this.#rng,
      ),
      auxCodec(share.parties.length) as BodyCodec<{ kind: string }>,
      share.parties,
      this.#limits.auxRoundTimeoutMs,
    );
  }

  async #primes(): Promise<{ p: bigint; q: bigint }> {
    const started = performance.now();
    const [p, q] = await Promise.all([this.#safePrime(), this.#safePrime()]);
    this.#log({ event: 'safe-primes', ms: Math.round(performance.now() - started) });
    return { p, q };
  }

  // -------------------------------------------------------------------------------------------
  // Sessions

  /** Runs one machine to its output, over `send` and `onEnvelope`. */
  #run<O>(
    sessionId: Uint8Array,
    machine: AnyMachine,
    codec: BodyCodec<{ kind: string }>,
    participants: readonly PartyId[],
    timeoutMs: number,
  ): Promise<O> {
    const id = toHex(sessionId);
    if (this.#sessions.has(id)) {
      return Promise.reject(new ProtocolError('REPLAYED_MESSAGE', 'session already running'));
    }
    return new Promise<O>((resolve, reject) => {
      const session: Session = {
        id,
        protocol: machine.protocol,
        startedAt: performance.now(),
        sessionId,
        machine,
        codec,
        participants,
        timeoutMs,
        bytes: 0,
        round: 0,
        timer: null,
        finish: (output) => {
          this.#end(session, 'ok');
          resolve(output as O);
        },
        fail: (error) => {
          this.#end(session, error instanceof ProtocolError ? error.code : 'INTERNAL');
          reject(error);
        },
      };
      this.#sessions.set(id, session);
      try {
        this.#step(session, machine.start());
      } catch (error) {
        session.fail(error);
        return;
      }
      // Frames that arrived before this party started the session.
      const held = this.#orphans.get(id);
      if (held) {
        this.#orphans.delete(id);
        this.#orphanCount -= held.frames.length;
        for (const frame of held.frames) {
          if (!this.#sessions.has(id)) break;
          this.onEnvelope(frame.from, sessionId, frame.round, frame.payload);
        }
      }
    });
  }

  #step(session: Session, step: Step<{ kind: string }, unknown>): void {
    for (const env of step.outgoing) this.#sendEnvelope(session, env);
    if (step.output !== undefined || session.machine.done) {
      session.finish(step.output ?? session.machine.output);
      return;
    }
    if (session.machine.round !== session.round) {
      session.round = session.machine.round;
      this.#arm(session);
    }
  }

  #sendEnvelope(session: Session, env: Envelope<{ kind: string }>): void {
    const payload = concat(Uint8Array.of(PAYLOAD.envelope), encodeEnvelope(session.codec, env));
    const receivers =
      env.to === null ? session.participants.filter((p) => p !== this.self) : [env.to];
    for (const to of receivers) this.#send(to, session.sessionId, env.round, payload);
  }

  /** (Re)starts the round's deadline; on expiry the silent parties are blamed. */
  #arm(session: Session): void {
    if (session.timer) clearTimeout(session.timer);
    session.timer = setTimeout(() => {
      const silent = session.machine.waitingFor();
      session.fail(
        new ProtocolError(
          'MISSING_MESSAGE',
          `round ${session.round} timed out after ${session.timeoutMs} ms`,
          silent,
        ),
      );
    }, session.timeoutMs);
    session.timer.unref();
  }

  #end(session: Session, outcome: string): void {
    if (session.timer) clearTimeout(session.timer);
    // Operators (and `sim up`'s progress lines) see each ceremony's protocol and duration.
    this.#log({
      event: 'session-end',
      protocol: session.protocol,
      session: session.id.slice(0, 16),
      ms: Math.round(performance.now() - session.startedAt),
      outcome,
    });
    this.#sessions.delete(session.id);
    this.#ended.add(session.id);
    this.#trimEnded();
  }

  #abort(id: string, error: ProtocolError): void {
    this.#sessions.get(id)?.fail(error);
    // An aux session runs under a derived id: abort it with its parent.
    this.#sessions.get(toHex(auxSessionId(fromHexId(id))))?.fail(error);
  }

  #holdOrphan(id: string, from: PartyId, round: number, payload: Uint8Array): void {
    const now = Date.now();
    for (const [key, entry] of this.#orphans) {
      if (now - entry.at > this.#limits.orphanTtlMs) {
        this.#orphans.delete(key);
        this.#orphanCount -= entry.frames.length;
      }
    }
    if (this.#orphanCount >= this.#limits.maxOrphanFrames) return this.#count('orphans-full');
    let entry = this.#orphans.get(id);
    if (!entry) {
      entry = { at: now, frames: [] };
      this.#orphans.set(id, entry);
    }
    entry.frames.push({ from, round, payload: payload.slice() });
    this.#orphanCount += 1;
  }

  #respond(sessionId: Uint8Array, response: ControlResponse): void {
    this.#send(COORDINATOR, sessionId, 0, encodeResponse(response));
  }

  #count(reason: string): void {
    this.#refused[reason] = (this.#refused[reason] ?? 0) + 1;
  }

  #trimEnded(): void {
    // Enough to recognise late frames of recent sessions; old ids cannot come back (random).
    while (this.#ended.size > 4096) this.#ended.delete(this.#ended.values().next().value!);
  }
}

interface OrphanFrame {
  readonly from: PartyId;
  readonly round: number;
  readonly payload: Uint8Array;
}

function fromHexId(id: string): Uint8Array {
  return Uint8Array.from(Buffer.from(id, 'hex'));
}

function refuseUnless(
  condition: boolean,
  message: string,
  code: 'INVALID_PARAMETERS' | 'EPOCH_MISMATCH' = 'INVALID_PARAMETERS',
): asserts condition {
  if (!condition) throw new ProtocolError(code, message, [COORDINATOR]);
}

/** The request's signers against the key's own policy. */
function checkSigners(record: ShareRecord, signers: readonly PartyId[], self: PartyId): void {
  const { share, allowedSignerSets } = record;
  refuseUnless(signers.includes(self), `party ${self} is not in the signing set`);
  refuseUnless(
    signers.every((p) => share.parties.includes(p)),
    'a signer does not hold this key',
  );
  refuseUnless(
    signers.length >= share.threshold,
    `${signers.length} signers, the key needs ${share.threshold}`,
  );
  if (allowedSignerSets.length > 0) {
    refuseUnless(
      allowedSignerSets.some((set) => sameSet(set, signers)),
      'the key policy does not allow this signer set',
      'INVALID_PARAMETERS',
    );
  }
}

function sameSet(a: readonly PartyId[], b: readonly PartyId[]): boolean {
  return a.length === b.length && a.every((p, i) => p === b[i]);
}

/** A failure as the coordinator hears it: code, a message without secrets, and blame. */
function failure(error: unknown): ControlResponse {
  if (error instanceof ProtocolError) {
    return { kind: 'failed', code: error.code, message: error.message, blame: [...error.blame] };
  }
  if (error instanceof SealError) {
    return { kind: 'failed', code: error.code, message: error.message, blame: [] };
  }
  return {
    kind: 'failed',
    code: 'INTERNAL',
    message: `unexpected failure (${error instanceof Error ? error.name : typeof error})`,
    blame: [],
  };
}

export type { Scheme };
