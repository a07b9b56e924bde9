/**
 * The BIP341 key-path tweak: a Taproot output with no script tree commits to the internal key P
 * (x-only, even y) as Q = P + t·G with t = H_TapTweak(x(P)). Signing for Q with a threshold key
 * is signing with the shares moved by the public t (protocol/frost/material.ts), so the address
 * the service shows and the key the signers sign with must agree on this one definition.
 *
 * @see BIP341, "Constructing and spending Taproot outputs" (taproot_tweak_pubkey)
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToBigBE } from './group.js';
import { ProtocolError } from './errors.js';

const ORDER = schnorr.Point.Fn.ORDER;

/** t for the key-path-only output of the x-only key `xOnly` (32 bytes, a valid x). */
export function taprootTweak(xOnly: Uint8Array): bigint {
  if (!(xOnly instanceof Uint8Array) || xOnly.length !== 32) {
    throw new ProtocolError('INVALID_PARAMETERS', 'a Taproot internal key is 32 bytes');
  }
  try {
    // lift_x refuses an x that is not below p or has no point on the curve.
    schnorr.utils.lift_x(bytesToBigBE(xOnly));
  } catch {
    throw new ProtocolError('INVALID_PARAMETERS', 'the Taproot internal key is not on the curve');
  }
  const t = bytesToBigBE(schnorr.utils.taggedHash('TapTweak', xOnly));
  // taproot_tweak_pubkey: "if t >= SECP256K1_ORDER: raise ValueError".
  if (t >= ORDER) throw new ProtocolError('INVALID_PARAMETERS', 'TapTweak is not below the order');
  return t;
}
