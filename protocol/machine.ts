/**
 * A pure step machine that turns a list of round functions into a party that consumes envelopes
 * one at a time and emits envelopes. It owns the routing rules, so protocol rounds only ever see
 * a complete, well-addressed inbox: wrong session or receiver, unknown senders, unexpected kinds,
 * duplicates and replays of earlier rounds are refused here with the sender blamed; messages of
 * a later round are buffered until their round comes.
 */
import { equalBytes } from './bytes.js';
import { ProtocolError, type PartyId } from './errors.js';
import type { Envelope, ProtocolName } from './envelope.js';

/** A message a round sends; `to: null` is a broadcast to every other participant. */
export interface Outgoing<M> {
  readonly to: PartyId | null;
  readonly message: M;
}

/** What a round expects: from each sender, one message of each kind, delivered as stated. */
export interface Expectation<K extends string> {
  readonly from: readonly PartyId[];
  readonly broadcast: readonly K[];
  readonly direct: readonly K[];
}

/** The messages of one round, by sender and kind; complete when handed to a round. */
export type Inbox<M extends { kind: string }> = ReadonlyMap<PartyId, ReadonlyMap<M['kind'], M>>;

export type RoundResult<S, M, O> =
  | { readonly state: S; readonly outgoing: Outgoing<M>[] }
  | { readonly output: O; readonly outgoing: Outgoing<M>[] };

export interface Round<S, M extends { kind: string }, O> {
  expect(state: S): Expectation<M['kind']>;
  run(state: S, inbox: Inbox<M>): RoundResult<S, M, O>;
}

export interface Step<M, O> {
  readonly outgoing: Envelope<M>[];
  /** Set once, when the party's part of the protocol is done. */
  readonly output?: O;
}

/** Bound on buffered early messages, so a peer cannot make a party hold unbounded memory. */
const MAX_BUFFERED = 4096;

/**
 * Runs a round so that nothing but a ProtocolError leaves it: a peer's input must never surface
 * as an untyped exception (or crash the process) even if a check was missed.
 */
function runRound<S, M extends { kind: string }, O>(
  round: Round<S, M, O>,
  state: S,
  inbox: Inbox<M>,
): RoundResult<S, M, O> {
  try {
    return round.run(state, inbox);
  } catch (err) {
    if (err instanceof ProtocolError) throw err;
    // Only the error's class name: an arithmetic library's message may quote the value it
    // refused, and inside a round that value can be secret.
    throw new ProtocolError(
      'INTERNAL',
      `round failed unexpectedly (${err instanceof Error ? err.name : typeof err})`,
    );
  }
}

export class Machine<S, M extends { kind: string }, O> {
  readonly protocol: ProtocolName;
  readonly self: PartyId;
  readonly sessionId: Uint8Array;
  readonly #rounds: readonly Round<S, M, O>[];
  #state: S | undefined;
  #roundIndex = 0;
  #inbox = new Map<PartyId, Map<M['kind'], M>>();
  #early: Envelope<M>[] = [];
  #output: O | undefined;
  #done = false;
  readonly #initial: Outgoing<M>[];

  constructor(options: {
    protocol: ProtocolName;
    self: PartyId;
    sessionId: Uint8Array;
    rounds: readonly Round<S, M, O>[];
    state: S;
    outgoing: Outgoing<M>[];
  }) {
    this.protocol = options.protocol;
    this.self = options.self;
    this.sessionId = options.sessionId;
    this.#rounds = options.rounds;
    this.#state = options.state;
    this.#initial = options.outgoing;
  }

  /**
   * The messages the party sends before it has received anything (round 1). A party with
   * nothing to receive in its first rounds runs them at once, so it may already be done.
   */
  start(): Step<M, O> {
    const outgoing = this.#wrap(this.#initial, 1);
    const step = this.#advance();
    outgoing.push(...step.outgoing);
    return step.output === undefined ? { outgoing } : { outgoing, output: step.output };
  }

  get done(): boolean {
    return this.#done;
  }

  get output(): O | undefined {
    return this.#output;
  }

  /** The round number whose messages the party waits for. */
  get round(): number {
    return this.#roundIndex + 1;
  }

  /**
   * The senders from whom a message of the current round is still missing. A transport that
   * gives up waiting (a timeout lives there, not here) blames these parties.
   */
  waitingFor(): PartyId[] {
    if (this.#done) return [];
    const expect = this.#rounds[this.#roundIndex]!.expect(this.#state as S);
    const perSender = expect.broadcast.length + expect.direct.length;
    return expect.from.filter((p) => (this.#inbox.get(p)?.size ?? 0) < perSender);
  }

  /** Takes one decoded envelope; returns what to send and, at the end, the output. */
  deliver(env: Envelope<M>): Step<M, O> {
    const from = [env.from];
    if (env.protocol !== this.protocol || !equalBytes(env.sessionId, this.sessionId)) {
      throw new ProtocolError('UNEXPECTED_MESSAGE', 'message of another session', from);
    }
    if (env.to !== null && env.to !== this.self) {
      throw new ProtocolError('UNEXPECTED_MESSAGE', `message addressed to ${env.to}`, from);
    }
    if (env.round < this.round) {
      throw new ProtocolError('REPLAYED_MESSAGE', `round ${env.round} message replayed`, from);
    }
    if (this.#done || env.round > this.#rounds.length) {
      throw new ProtocolError('UNEXPECTED_MESSAGE', `no round ${env.round} to receive`, from);
    }
    if (env.round > this.round) {
      const duplicate = this.#early.some(
        (e) => e.from === env.from && e.round === env.round && e.message.kind === env.message.kind,
      );
      if (duplicate) {
        throw new ProtocolError('REPLAYED_MESSAGE', 'duplicate message for a later round', from);
      }
      if (this.#early.length >= MAX_BUFFERED) {
        throw new ProtocolError('UNEXPECTED_MESSAGE', 'too many early messages', from);
      }
      this.#early.push(env);
      return { outgoing: [] };
    }
    return this.#accept(env);
  }

  #accept(env: Envelope<M>): Step<M, O> {
    const state = this.#state as S;
    const round = this.#rounds[this.#roundIndex]!;
    const expect = round.expect(state);
    const from = [env.from];
    const kind = env.message.kind as M['kind'];
    if (!expect.from.includes(env.from)) {
      throw new ProtocolError(
        'UNEXPECTED_MESSAGE',
        `party ${env.from} is not a sender in this round`,
        from,
      );
    }
    const isBroadcast = expect.broadcast.includes(kind);
    if (!isBroadcast && !expect.direct.includes(kind)) {
      throw new ProtocolError(
        'UNEXPECTED_MESSAGE',
        `unexpected ${kind} in round ${env.round}`,
        from,
      );
    }
    if (isBroadcast !== (env.to === null)) {
      throw new ProtocolError('UNEXPECTED_MESSAGE', `${kind} sent on the wrong channel`, from);
    }
    let bySender = this.#inbox.get(env.from);
    if (!bySender) this.#inbox.set(env.from, (bySender = new Map()));
    if (bySender.has(kind)) {
      throw new ProtocolError('REPLAYED_MESSAGE', `second ${kind} from ${env.from}`, from);
    }
    bySender.set(kind, env.message);
    if (this.waitingFor().length > 0) return { outgoing: [] };
    return this.#complete();
  }

  /** Runs the current round on its complete inbox, then any rounds that need no input. */
  #complete(): Step<M, O> {
    const inbox = this.#inbox;
    this.#inbox = new Map();
    const result = runRound(this.#rounds[this.#roundIndex]!, this.#state as S, inbox);
    this.#roundIndex++;
    const outgoing = this.#wrap(result.outgoing, this.round);
    if ('output' in result) {
      this.#state = undefined;
      this.#output = result.output;
      this.#done = true;
      this.#early = [];
      return { outgoing, output: result.output };
    }
    this.#state = result.state;
    const step = this.#advance();
    outgoing.push(...step.outgoing);
    return step.output === undefined ? { outgoing } : { outgoing, output: step.output };
  }

  /**
   * Moves past rounds that expect nobody, then replays messages that arrived early for the
   * round now open, in arrival order.
   */
  #advance(): Step<M, O> {
    if (this.#done) return { outgoing: [] };
    if (this.#roundIndex >= this.#rounds.length) {
      throw new ProtocolError('INTERNAL', 'protocol ran out of rounds without an output');
    }
    if (this.waitingFor().length === 0) return this.#complete();
    const early = this.#early.filter((e) => e.round === this.round);
    this.#early = this.#early.filter((e) => e.round !== this.round);
    const outgoing: Envelope<M>[] = [];
    let output: O | undefined;
    for (const e of early) {
      // Through `deliver`, so that a message left over once its round has closed is judged
      // against the round now open.
      const step = this.deliver(e);
      outgoing.push(...step.outgoing);
      if (step.output !== undefined) output = step.output;
    }
    return output === undefined ? { outgoing } : { outgoing, output };
  }

  #wrap(outgoing: Outgoing<M>[], round: number): Envelope<M>[] {
    return outgoing.map((o) => ({
      protocol: this.protocol,
      sessionId: this.sessionId,
      from: this.self,
      to: o.to,
      round,
      message: o.message,
    }));
  }
}
