/** The states a presigning party moves through, and what it carries from round to round. */
import type { BodyCodec } from '../../envelope.js';
import { ProtocolError, type PartyId } from '../../errors.js';
import type { Element } from '../../group.js';
import type { KeyShare } from '../../keyshare.js';
import type { AuxInfo, PartyAux } from '../aux-info.js';
import type { PresignMessage } from './messages.js';

export interface Common {
  readonly sessionId: Uint8Array;
  readonly self: PartyId;
  /** The signing set, ascending. */
  readonly signers: readonly PartyId[];
  readonly peers: readonly PartyId[];
  readonly share: KeyShare;
  readonly aux: AuxInfo;
  readonly mine: PartyAux;
  readonly codec: BodyCodec<PresignMessage>;
  /** x_i = λ_i·s_i: this party's additive share of the key for this signing set. */
  readonly x: bigint;
  /** X_j = λ_j·Y_j for every signer. */
  readonly X: ReadonlyMap<PartyId, Element>;
  readonly k: bigint;
  readonly gamma: bigint;
  /** K_i = enc_i(k_i; ρ_i), G_i = enc_i(γ_i; ν_i). */
  readonly K: bigint;
  readonly G: bigint;
  readonly rhoK: bigint;
  readonly nuG: bigint;
}

/** After round 1: waiting for every peer's K_j, G_j and Πenc. */
export interface AwaitingCiphertexts extends Common {
  readonly step: 'ciphertexts';
}

/** After round 2: waiting for every peer's Γ_j and affine operations. */
export interface AwaitingMta extends Common {
  readonly step: 'mta';
  readonly Ks: ReadonlyMap<PartyId, bigint>;
  readonly Gs: ReadonlyMap<PartyId, bigint>;
  readonly round1Digests: readonly Uint8Array[];
  readonly Gamma: Element;
  /** β_{i,j} and β̂_{i,j}: this party's masks, whose negatives are its MtA shares. */
  readonly betas: ReadonlyMap<PartyId, { beta: bigint; betaHat: bigint }>;
}

/** After round 3: waiting for every peer's δ_j, Δ_j, S_j and Πlog*. */
export interface AwaitingDelta extends Common {
  readonly step: 'delta';
  readonly Ks: ReadonlyMap<PartyId, bigint>;
  readonly round2Digests: readonly Uint8Array[];
  readonly Gamma: Element;
  readonly delta: bigint;
  readonly chi: bigint;
  readonly Delta: Element;
  readonly S: Element;
}

export type PresignState = AwaitingCiphertexts | AwaitingMta | AwaitingDelta;

export function expectStep<S extends PresignState>(state: PresignState, step: S['step']): S {
  if (state.step !== step) {
    throw new ProtocolError('WRONG_STEP', `presigning is at ${state.step}, not ${step}`);
  }
  return state as S;
}
