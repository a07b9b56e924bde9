/**
 * Signature verifiers that share no code with the protocol: node:crypto for Ed25519, noble's
 * BIP340 `schnorr.verify`, and for FROST(secp256k1, SHA-256) the RFC 9591 check z·G = R + c·PK
 * written here on noble's secp256k1 points, with c = hash_to_field(R || PK || msg) under the
 * DST "FROST-secp256k1-SHA256-v1chal" (RFC 9591 Section 6.4, H2).
 */
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { schnorr, secp256k1, secp256k1_hasher } from '@noble/curves/secp256k1.js';
import type { FrostSuite } from '../protocol/frost/suite.js';
import type { Element } from '../protocol/group.js';

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function verifyEd25519(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  const key = createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, publicKey]),
    format: 'der',
    type: 'spki',
  });
  return cryptoVerify(null, message, key, signature);
}

export function verifyBip340(
  xOnlyKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  return schnorr.verify(signature, message, xOnlyKey);
}

/** RFC 9591 FROST(secp256k1, SHA-256) signature: 33-byte compressed R || 32-byte big-endian z. */
export function verifyFrostSecp256k1(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (signature.length !== 65 || publicKey.length !== 33) return false;
  const { Point } = secp256k1;
  let R, PK;
  try {
    R = Point.fromBytes(signature.subarray(0, 33));
    PK = Point.fromBytes(publicKey);
  } catch {
    return false;
  }
  const z = BigInt('0x' + Buffer.from(signature.subarray(33)).toString('hex'));
  if (z >= Point.Fn.ORDER) return false;
  const c = secp256k1_hasher.hashToScalar(
    Buffer.concat([signature.subarray(0, 33), publicKey, message]),
    { DST: 'FROST-secp256k1-SHA256-v1chal' },
  );
  return Point.BASE.multiplyUnsafe(z).equals(R.add(PK.multiplyUnsafe(c)));
}

/** Verifies `signature` by the suite's standard, given the (possibly derived) group key. */
export function verifyIndependently(
  suite: FrostSuite,
  publicKey: Element,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  const pk = publicKey.toBytes();
  switch (suite.id) {
    case 'FROST-ED25519-SHA512-v1':
      return verifyEd25519(pk, message, signature);
    case 'FROST-secp256k1-SHA256-TR-v1':
      return verifyBip340(pk.subarray(1), message, signature);
    case 'FROST-secp256k1-SHA256-v1':
      return verifyFrostSecp256k1(pk, message, signature);
  }
}
