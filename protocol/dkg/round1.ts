/**
 * DKG / refresh round 1: draw a random polynomial (constant term random for a DKG, zero for a
 * refresh), broadcast its Feldman commitments, and in a DKG a proof of knowledge of the constant
 * term and a hash commitment to a 32-byte chain-code contribution.
 */
import { u16 } from '../bytes.js';
import type { Outgoing } from '../machine.js';
import { proveKnowledge } from '../pok.js';
import { commitPolynomial, randomPolynomial } from '../polynomial.js';
import type { Rng } from '../random.js';
import { digest } from '../transcript.js';
import type { CommitMessage, DkgMessage } from './messages.js';
import type { AwaitingCommits, DkgState } from './state.js';

export const CHAIN_CODE_TAG = 'mpc-kms/dkg/chain-code/v1';

export function round1(
  base: Omit<AwaitingCommits, 'step' | 'coefficients' | 'own' | 'chainCode'>,
  rng: Rng,
): { state: DkgState; outgoing: Outgoing<DkgMessage>[] } {
  const { group, self, threshold } = base.params;
  const isDkg = base.mode === 'dkg';
  const constant = isDkg ? group.randomScalar(rng) : 0n;
  const coefficients = randomPolynomial(group, constant, threshold, rng);
  const commitments = commitPolynomial(group, coefficients);
  let own: CommitMessage;
  let chainCode: Uint8Array | null = null;
  if (isDkg) {
    chainCode = rng(32);
    own = {
      kind: 'commit',
      commitments,
      proof: proveKnowledge(group, base.context, self, constant, commitments[0]!, rng),
      chainCommitment: digest(CHAIN_CODE_TAG, base.context, u16(self), chainCode),
    };
  } else {
    // The zero constant term is implied, not sent: a refresh must not move the public key.
    own = { kind: 'commit', commitments: commitments.slice(1), proof: null, chainCommitment: null };
  }
  const state: AwaitingCommits = { ...base, step: 'commits', coefficients, own, chainCode };
  return { state, outgoing: [{ to: null, message: own }] };
}
