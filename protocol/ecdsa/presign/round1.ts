/**
 * Presigning round 1 (CGGMP21 Fig. 8, round 1): draw k_i and γ_i, encrypt them under this
 * party's Paillier key, broadcast K_i and G_i, and prove to each peer, under the peer's
 * ring-Pedersen parameters, that K_i encrypts a value in range (Πenc).
 */
import { encodeWith } from '../../codec.js';
import { secp256k1Group } from '../../group.js';
import type { Outgoing } from '../../machine.js';
import type { Rng } from '../../random.js';
import { encrypt } from '../../paillier/paillier.js';
import { proveEnc, writeEncProof } from '../../zk/enc.js';
import { proofContext } from './context.js';
import type { PresignMessage } from './messages.js';
import type { AwaitingCiphertexts, Common } from './state.js';

export function round1(
  base: Omit<Common, 'k' | 'gamma' | 'K' | 'G' | 'rhoK' | 'nuG'>,
  rng: Rng,
): { state: AwaitingCiphertexts; outgoing: Outgoing<PresignMessage>[] } {
  const pk = base.mine.paillier;
  const k = secp256k1Group.randomScalar(rng);
  const gamma = secp256k1Group.randomScalar(rng);
  const { c: K, rho: rhoK } = encrypt(pk, k, rng);
  const { c: G, rho: nuG } = encrypt(pk, gamma, rng);
  const outgoing: Outgoing<PresignMessage>[] = [
    { to: null, message: { kind: 'ciphertexts', K, G } },
  ];
  for (const j of base.peers) {
    const statement = { key: pk, K, rp: base.aux.parties.get(j)!.rp };
    const proof = proveEnc(
      statement,
      { k, rho: rhoK },
      proofContext(base, base.self, j, 'enc'),
      rng,
    );
    outgoing.push({ to: j, message: { kind: 'enc', proof: encodeWith(proof, writeEncProof) } });
  }
  return { state: { ...base, step: 'ciphertexts', k, gamma, K, G, rhoK, nuG }, outgoing };
}
