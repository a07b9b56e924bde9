/**
 * FROST ciphersuites of RFC 9591 (Section 6) and the BIP340 / Taproot variant. A suite fixes the
 * group, the five hash functions H1..H5, the challenge and the signature encoding; the rounds in
 * `round1.ts`, `round2.ts` and `aggregate.ts` are written once against this interface.
 */
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { hash_to_field } from '@noble/curves/abstract/hash-to-curve.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { concat, utf8 } from '../bytes.js';
import { bytesToBigBE, ed25519Group, secp256k1Group, type Element, type Group } from '../group.js';

export type SuiteId =
  | 'FROST-ED25519-SHA512-v1'
  | 'FROST-secp256k1-SHA256-v1'
  | 'FROST-secp256k1-SHA256-TR-v1';

export interface FrostSuite {
  readonly id: SuiteId;
  readonly group: Group;
  /** BIP340: the group key and the group commitment are used with even y; signatures are x-only. */
  readonly evenY: boolean;
  /** H1: binding factor. */
  H1(m: Uint8Array): bigint;
  /** H3: nonce derivation. */
  H3(m: Uint8Array): bigint;
  /** H4: message hash. */
  H4(m: Uint8Array): Uint8Array;
  /** H5: commitment-list hash. */
  H5(m: Uint8Array): Uint8Array;
  /** The Schnorr challenge c for group commitment R, group key PK and message (H2 in the RFC). */
  challenge(R: Element, PK: Element, msg: Uint8Array): bigint;
  /** The final signature bytes for (R, z). */
  encodeSignature(R: Element, z: bigint): Uint8Array;
  /** Element encoding used in binding-factor inputs and commitment lists. */
  encodeElement(P: Element): Uint8Array;
}

function littleEndianScalar(group: Group, digest: Uint8Array): bigint {
  return group.mod(bytesToBigBE(Uint8Array.from(digest).reverse()));
}

/** RFC 9591 Section 6.1: FROST(Ed25519, SHA-512). */
function ed25519Suite(): FrostSuite {
  const ctx = 'FROST-ED25519-SHA512-v1';
  const group = ed25519Group;
  const tagged = (tag: string, m: Uint8Array) => sha512(concat(utf8(ctx + tag), m));
  return {
    id: ctx,
    group,
    evenY: false,
    H1: (m) => littleEndianScalar(group, tagged('rho', m)),
    H3: (m) => littleEndianScalar(group, tagged('nonce', m)),
    H4: (m) => tagged('msg', m),
    H5: (m) => tagged('com', m),
    // H2 is undecorated SHA-512 so that signatures verify under RFC 8032.
    challenge: (R, PK, msg) =>
      littleEndianScalar(group, sha512(concat(R.toBytes(), PK.toBytes(), msg))),
    encodeSignature: (R, z) => concat(R.toBytes(), group.encodeScalar(z)),
    encodeElement: (P) => P.toBytes(),
  };
}

/** hash_to_field with expand_message_xmd(SHA-256), as RFC 9591 Section 6.4 specifies H1..H3. */
function secp256k1HashToScalar(dst: string, m: Uint8Array): bigint {
  const [[x]] = hash_to_field(m, 1, {
    DST: dst,
    p: secp256k1Group.order,
    m: 1,
    k: 128,
    expand: 'xmd',
    hash: sha256,
  }) as [[bigint]];
  return x;
}

function secp256k1Suites(ctx: SuiteId, bip340: boolean): FrostSuite {
  const group = secp256k1Group;
  const xOnly = (P: Element) => P.toBytes().subarray(1);
  return {
    id: ctx,
    group,
    evenY: bip340,
    H1: (m) => secp256k1HashToScalar(ctx + 'rho', m),
    H3: (m) => secp256k1HashToScalar(ctx + 'nonce', m),
    H4: (m) => sha256(concat(utf8(ctx + 'msg'), m)),
    H5: (m) => sha256(concat(utf8(ctx + 'com'), m)),
    challenge: bip340
      ? // BIP340: e = int(hash_BIP0340/challenge(bytes(R) || bytes(P) || m)) mod n, x-only points.
        (R, PK, msg) =>
          group.mod(
            bytesToBigBE(schnorr.utils.taggedHash('BIP0340/challenge', xOnly(R), xOnly(PK), msg)),
          )
      : (R, PK, msg) => secp256k1HashToScalar(ctx + 'chal', concat(R.toBytes(), PK.toBytes(), msg)),
    encodeSignature: bip340
      ? (R, z) => concat(xOnly(R), group.encodeScalar(z))
      : (R, z) => concat(R.toBytes(), group.encodeScalar(z)),
    encodeElement: (P) => P.toBytes(),
  };
}

export const FROST_ED25519: FrostSuite = Object.freeze(ed25519Suite());
export const FROST_SECP256K1: FrostSuite = Object.freeze(
  secp256k1Suites('FROST-secp256k1-SHA256-v1', false),
);
/**
 * FROST(secp256k1, SHA-256) with BIP340 challenge and even-y handling; the context string is the
 * one the Taproot variant of other RFC 9591 implementations uses, so transcripts interoperate.
 */
export const FROST_BIP340: FrostSuite = Object.freeze(
  secp256k1Suites('FROST-secp256k1-SHA256-TR-v1', true),
);

export const SUITES: readonly FrostSuite[] = [FROST_ED25519, FROST_SECP256K1, FROST_BIP340];

/** Whether a secp256k1 point has an even y coordinate (its compressed prefix is 0x02). */
export function hasEvenY(P: Element): boolean {
  return P.toBytes()[0] === 0x02;
}
