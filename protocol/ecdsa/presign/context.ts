/** Proof contexts of presigning: every proof is bound to the session, prover, verifier and step. */
import type { PartyId } from '../../errors.js';
import type { ProofContext } from '../../zk/transcript.js';

export function proofContext(
  state: { sessionId: Uint8Array },
  prover: PartyId,
  verifier: PartyId,
  label: string,
): ProofContext {
  return { sessionId: state.sessionId, prover, verifier, label: `presign/${label}` };
}
