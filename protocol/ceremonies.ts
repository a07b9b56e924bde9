/**
 * Whole ceremonies run in one process over `runLocal`: the in-process demonstration, benchmarks
 * and tests drive the same party machines a deployment drives over its transports.
 */
import { createDkg, createRefresh, dkgCodec, type DkgMessage } from './dkg/index.js';
import type { PartyId } from './errors.js';
import {
  createAggregator,
  createSigner,
  type AggregatorOutput,
  type SignRequest,
} from './frost/session.js';
import { frostCodec, type FrostMessage } from './frost/messages.js';
import { groupByName, type Group } from './group.js';
import { keyPublic, type KeyShare } from './keyshare.js';
import { runLocal, type FaultRule } from './local.js';
import type { Rng } from './random.js';
import { COORDINATOR } from './envelope.js';

export interface LocalOptions<M> {
  rng: Rng;
  /** 32-byte session id; drawn from `rng` when absent. */
  sessionId?: Uint8Array;
  fault?: FaultRule<M>;
  /** Parties the fault rule makes misbehave: their own verdicts are not reported. */
  faulty?: (party: PartyId) => boolean;
}

/** Runs a t-of-n DKG among `parties` and returns every party's share, in party order. */
export function runDkg(
  group: Group,
  parties: readonly PartyId[],
  threshold: number,
  options: LocalOptions<DkgMessage>,
): KeyShare[] {
  const sessionId = options.sessionId ?? options.rng(32);
  const machines = parties.map((self) =>
    createDkg({ group, sessionId, self, parties, threshold }, options.rng),
  );
  const outputs = runLocal(
    dkgCodec(group, 'dkg', threshold, parties.length),
    machines,
    options.fault,
    options.faulty,
  );
  return [...parties].sort((a, b) => a - b).map((p) => outputs.get(p) as KeyShare);
}

/** Refreshes every share of one key; returns the new shares (epoch + 1), in party order. */
export function runRefresh(
  shares: readonly KeyShare[],
  options: LocalOptions<DkgMessage>,
): KeyShare[] {
  const first = shares[0]!;
  const group = groupByName(first.group);
  const sessionId = options.sessionId ?? options.rng(32);
  const machines = shares.map((s) => createRefresh(s, sessionId, options.rng));
  const codec = dkgCodec(group, 'refresh', first.threshold, first.parties.length);
  const outputs = runLocal(codec, machines, options.fault, options.faulty);
  return [...first.parties].map((p) => outputs.get(p) as KeyShare);
}

/** Runs one FROST signature among the shares of `request.signers`; returns the signature. */
export function runSign(
  shares: readonly KeyShare[],
  request: Omit<SignRequest, 'sessionId' | 'keySessionId' | 'epoch'> &
    Partial<Pick<SignRequest, 'sessionId' | 'keySessionId' | 'epoch'>>,
  options: LocalOptions<FrostMessage>,
): Uint8Array {
  const key = keyPublic(shares[0]!);
  const full: SignRequest = {
    keySessionId: key.keySessionId,
    epoch: key.epoch,
    sessionId: options.sessionId ?? options.rng(32),
    ...request,
  };
  const signers = shares.filter((s) => full.signers.includes(s.self));
  const machines = [
    ...signers.map((s) => createSigner(s, full, options.rng)),
    createAggregator(key, full),
  ];
  const outputs = runLocal(frostCodec(full.suite.group), machines, options.fault, options.faulty);
  return (outputs.get(COORDINATOR) as AggregatorOutput).signature;
}
