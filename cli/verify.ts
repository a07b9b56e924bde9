/**
 * Signature checks that share no code with the signing side, for what the REST API returns:
 * node:crypto (OpenSSL) for Ed25519 and ECDSA, @noble/curves' BIP340 verifier for Schnorr, and
 * noble's public-key recovery to check an ECDSA recovery id. `mpc-kms demo` uses them to show
 * that the service's signatures are ordinary signatures any wallet or chain would accept.
 *
 * Every function answers false (or null) instead of throwing on malformed input: a verifier that
 * throws on a bad key could be mistaken for one that was never run.
 */
import { createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';

const { Point, Signature } = secp256k1;
/** n/2: BIP62 and Ethereum (EIP-2) accept only s at most this, so that (r, s) is not malleable. */
const HALF_ORDER = Point.Fn.ORDER >> 1n;

/** How each scheme's signatures are checked, for display. */
export const VERIFIER_NAME = {
  'eddsa-ed25519': 'node:crypto Ed25519 (RFC 8032)',
  'schnorr-secp256k1-bip340': '@noble/curves schnorr.verify (BIP340)',
  'ecdsa-secp256k1': 'node:crypto ECDSA (SHA-256, DER)',
} as const;

const base64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/** A 32-byte coordinate as the big-endian bytes JWK wants. */
function coordinate(value: bigint): Uint8Array {
  return new Uint8Array(Buffer.from(value.toString(16).padStart(64, '0'), 'hex'));
}

/**
 * A node:crypto key for a compressed secp256k1 point. The point is decompressed by noble and
 * handed to OpenSSL as a JWK with both coordinates, so OpenSSL checks x and y itself rather than
 * trusting our compressed encoding.
 */
function secp256k1Key(compressed: Uint8Array): KeyObject {
  const { x, y } = Point.fromBytes(compressed).toAffine();
  return createPublicKey({
    key: {
      kty: 'EC',
      crv: 'secp256k1',
      x: base64url(coordinate(x)),
      y: base64url(coordinate(y)),
    },
    format: 'jwk',
  });
}

/** Ed25519 (RFC 8032, pure) over `message`, with node:crypto. */
export function verifyEd25519(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    const key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: base64url(publicKey) },
      format: 'jwk',
    });
    return nodeVerify(null, message, key, signature);
  } catch {
    return false;
  }
}

/** BIP340 Schnorr over the 32-byte `digest` (BIP340 signs it as the message), x-only key. */
export function verifyBip340(
  xOnlyKey: Uint8Array,
  digest: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    return schnorr.verify(signature, digest, xOnlyKey);
  } catch {
    return false;
  }
}

/**
 * ECDSA over secp256k1 with node:crypto: the DER signature over SHA-256(`message`). node:crypto
 * hashes the message itself, so the signer was given sha256(message) as its digest and this is
 * given the message: a digest computed on one side only would make the check vacuous.
 */
export function verifyEcdsa(
  compressedKey: Uint8Array,
  message: Uint8Array,
  der: Uint8Array,
): boolean {
  try {
    return nodeVerify('sha256', message, secp256k1Key(compressedKey), der);
  } catch {
    return false;
  }
}

/**
 * The compressed key that an ECDSA signature (64-byte r‖s) with recovery id `recoveryId`
 * recovers for `digest`, computed by noble; null when it recovers none.
 */
export function recoverEcdsa(
  signature: Uint8Array,
  recoveryId: number,
  digest: Uint8Array,
): Uint8Array | null {
  try {
    return Signature.fromBytes(signature, 'compact')
      .addRecoveryBit(recoveryId)
      .recoverPublicKey(digest)
      .toBytes(true);
  } catch {
    return null;
  }
}

/** Whether a 64-byte r‖s signature has s ≤ n/2 (the contract promises low-s). */
export function isLowS(signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  const s = BigInt('0x' + Buffer.from(signature.subarray(32)).toString('hex'));
  return s > 0n && s <= HALF_ORDER;
}
