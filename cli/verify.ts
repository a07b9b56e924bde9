/**
 * Signature checks that do not use the signing code: node:crypto for Ed25519, @noble/curves'
 * BIP340 verifier, and for FROST(secp256k1) the Schnorr equation z·G = R + c·PK evaluated with
 * noble's points and the RFC 9591 challenge computed here from its definition.
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { hash_to_field } from '@noble/curves/abstract/hash-to-curve.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { FrostScheme } from '../protocol/schemes.js';

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const SECP256K1_SPKI_PREFIX = Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex');

/**
 * ECDSA over secp256k1 with `node:crypto`: the DER signature over SHA-256(message), for a
 * 33-byte compressed public key. node:crypto takes the message, not the digest, so callers sign
 * sha256(message) and verify with the message.
 */
export function verifyEcdsaWithNode(
  publicKey: Uint8Array,
  message: Uint8Array,
  der: Uint8Array,
): boolean {
  try {
    const key = createPublicKey({
      key: Buffer.concat([SECP256K1_SPKI_PREFIX, publicKey]),
      format: 'der',
      type: 'spki',
    });
    return nodeVerify('sha256', message, key, der);
  } catch {
    return false;
  }
}

/** The name of the verifier used for a scheme, for display. */
export const VERIFIER_NAME: Record<FrostScheme, string> = {
  'eddsa-ed25519': 'node:crypto Ed25519 (RFC 8032)',
  'schnorr-secp256k1-bip340': '@noble/curves schnorr (BIP340)',
  'frost-secp256k1': 'Schnorr equation on @noble/curves secp256k1',
};

/**
 * `publicKey` is the key as the scheme publishes it: 32 bytes for Ed25519, 32-byte x-only for
 * BIP340, 33-byte compressed for FROST(secp256k1).
 */
export function verifySignature(
  scheme: FrostScheme,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    switch (scheme) {
      case 'eddsa-ed25519': {
        const key = createPublicKey({
          key: Buffer.concat([ED25519_SPKI_PREFIX, publicKey]),
          format: 'der',
          type: 'spki',
        });
        return nodeVerify(null, message, key, signature);
      }
      case 'schnorr-secp256k1-bip340':
        return schnorr.verify(signature, message, publicKey);
      case 'frost-secp256k1': {
        if (signature.length !== 65) return false;
        const { Point } = secp256k1;
        const R = Point.fromBytes(signature.subarray(0, 33));
        const z = BigInt('0x' + Buffer.from(signature.subarray(33)).toString('hex'));
        if (z >= Point.Fn.ORDER) return false;
        const PK = Point.fromBytes(publicKey);
        const input = new Uint8Array([...signature.subarray(0, 33), ...publicKey, ...message]);
        const [[c]] = hash_to_field(input, 1, {
          DST: 'FROST-secp256k1-SHA256-v1chal',
          p: Point.Fn.ORDER,
          m: 1,
          k: 128,
          expand: 'xmd',
          hash: sha256,
        }) as [[bigint]];
        const lhs = z === 0n ? Point.ZERO : Point.BASE.multiply(z);
        return lhs.equals(R.add(PK.multiply(c)));
      }
    }
  } catch {
    return false;
  }
}
