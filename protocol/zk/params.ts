/**
 * Security parameters of the CGGMP21 proofs (Section 2 / Table of parameters of the paper): with
 * q the secp256k1 order, ℓ = |q|, ℓ' = 5ℓ for the masks of the affine operations, slack ε = 2ℓ,
 * and m = 80 repetitions for the proofs whose challenges are bits or residues.
 */
export const ELL = 256;
export const ELL_PRIME = 5 * ELL;
export const EPSILON = 2 * ELL;
export const STAT_REPETITIONS = 80;
/** The order q of secp256k1, the range the challenges are drawn from. */
export const Q = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

export const pow2 = (bits: number): bigint => 1n << BigInt(bits);

/**
 * The largest |γ + e·μ| an honest prover sends when γ is drawn from ±2^(ℓ+ε)·N̂ and μ from
 * ±2^ℓ·N̂ (with e < q ≤ 2^ℓ): below 2^(ℓ+ε+1)·N̂. The paper leaves these answers unbounded;
 * bounding them refuses nothing honest and keeps huge exponents (a DoS) from the verifier.
 */
export function maskAnswerBound(Nhat: bigint): bigint {
  return pow2(ELL + EPSILON + 1) * Nhat;
}
