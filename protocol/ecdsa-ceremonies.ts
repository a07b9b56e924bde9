/**
 * Threshold-ECDSA ceremonies run in one process over `runLocal`, as the demonstration, benchmarks
 * and tests drive them: auxiliary info, presigning, signing and refresh.
 */
import { equalBytes } from './bytes.js';
import { ProtocolError } from './errors.js';
import { runLocal } from './local.js';
import { runRefresh, type LocalOptions } from './ceremonies.js';
import { COORDINATOR } from './envelope.js';
import type { PartyId } from './errors.js';
import { keyPublic, type KeyShare } from './keyshare.js';
import type { AuxInfo } from './ecdsa/aux-info.js';
import { auxCodec, createAux, type AuxMessage } from './ecdsa/aux.js';
import { createPresign, presignCodec, type PresignMessage } from './ecdsa/presign/index.js';
import type { Presignature } from './ecdsa/presignature.js';
import {
  createEcdsaAggregator,
  createEcdsaSigner,
  ecdsaSignCodec,
  type EcdsaSignRequest,
  type SigmaMessage,
} from './ecdsa/sign.js';
import type { EcdsaSignature } from './ecdsa/signature.js';
import type { DkgMessage } from './dkg/index.js';

/** A pair of safe primes per party, e.g. from `node:crypto` generatePrime({ safe: true }). */
export type PrimePairs = ReadonlyMap<PartyId, { p: bigint; q: bigint }>;

/** Runs the auxiliary-info ceremony for every share of one key. */
export function runAux(
  shares: readonly KeyShare[],
  primes: PrimePairs,
  options: LocalOptions<AuxMessage>,
): AuxInfo[] {
  const first = shares[0]!;
  const sessionId = options.sessionId ?? options.rng(32);
  const missing = shares.filter((s) => !primes.has(s.self)).map((s) => s.self);
  if (missing.length > 0) {
    throw new ProtocolError('INVALID_PARAMETERS', `no primes for parties ${missing.join(', ')}`);
  }
  const machines = shares.map((s) =>
    createAux(
      {
        sessionId,
        self: s.self,
        parties: first.parties,
        keySessionId: first.keySessionId,
        epoch: first.epoch,
      },
      primes.get(s.self)!,
      options.rng,
    ),
  );
  const outputs = runLocal(auxCodec(first.parties.length), machines, options.fault, options.faulty);
  return shares.map((s) => outputs.get(s.self) as AuxInfo);
}

/** Runs presigning among `signers`; returns each signer's presignature, by party. */
export function runPresign(
  shares: readonly KeyShare[],
  auxes: readonly AuxInfo[],
  signers: readonly PartyId[],
  options: LocalOptions<PresignMessage>,
): Map<PartyId, Presignature> {
  const sessionId = options.sessionId ?? options.rng(32);
  const inputs = signers.map((p) => ({
    share: shares.find((s) => s.self === p),
    aux: auxes.find((a) => a.self === p),
  }));
  if (inputs.some((i) => !i.share || !i.aux)) {
    throw new ProtocolError('INVALID_PARAMETERS', 'a signer has no share or auxiliary info here');
  }
  const machines = inputs.map((i) =>
    createPresign(i.share!, i.aux!, { sessionId, signers }, options.rng),
  );
  const outputs = runLocal(presignCodec(signers.length), machines, options.fault, options.faulty);
  return new Map(signers.map((p) => [p, outputs.get(p) as Presignature]));
}

/** Signs a digest with one presignature per signer. */
export function runEcdsaSign(
  shares: readonly KeyShare[],
  presignatures: ReadonlyMap<PartyId, Presignature>,
  request: Omit<EcdsaSignRequest, 'sessionId' | 'presignatureId'> & {
    sessionId?: Uint8Array;
    presignatureId?: Uint8Array;
  },
  options: LocalOptions<SigmaMessage>,
): EcdsaSignature {
  const pub = [...presignatures.values()][0]!.public;
  const full: EcdsaSignRequest = {
    sessionId: options.sessionId ?? options.rng(32),
    presignatureId: pub.id,
    ...request,
  };
  // Every input checked before any signer spends its presignature.
  const complete = pub.signers.every((p) => {
    const pre = presignatures.get(p);
    return (
      pre && equalBytes(pre.public.id, full.presignatureId) && shares.some((s) => s.self === p)
    );
  });
  if (!complete || presignatures.size !== pub.signers.length) {
    throw new ProtocolError(
      'INVALID_PARAMETERS',
      'presignatures of one session, with shares, for every signer',
    );
  }
  const machines = [
    ...pub.signers.map((p) =>
      createEcdsaSigner(shares.find((s) => s.self === p)!, presignatures.get(p)!, full),
    ),
    createEcdsaAggregator(keyPublic(shares[0]!), pub, full),
  ];
  const outputs = runLocal(ecdsaSignCodec(), machines, options.fault, options.faulty);
  return outputs.get(COORDINATOR) as EcdsaSignature;
}

/**
 * CGGMP21 key refresh: new shares by a Feldman zero-sharing (epoch + 1) and fresh auxiliary
 * info (new Paillier moduli and ring-Pedersen parameters) bound to the new epoch.
 */
export function runEcdsaRefresh(
  shares: readonly KeyShare[],
  primes: PrimePairs,
  options: LocalOptions<DkgMessage> & { auxRng?: LocalOptions<AuxMessage>['rng'] },
): { shares: KeyShare[]; auxes: AuxInfo[] } {
  const refreshed = runRefresh(shares, options);
  const auxes = runAux(refreshed, primes, { rng: options.auxRng ?? options.rng });
  return { shares: refreshed, auxes };
}
