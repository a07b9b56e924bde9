/**
 * Chain addresses for the public keys the service holds. The service uses them to tell a caller
 * where a key receives funds and to check spending requests against policy; `mpc-kms demo` shows
 * them too. Pure functions over bytes; every input is checked before use (a wrong length or a
 * point off the curve throws), because an address computed from a malformed key would look just
 * as plausible as a real one and could receive funds nobody can spend.
 *
 * - Ethereum: EIP-55 mixed-case checksum over the last 20 bytes of keccak256(uncompressed key).
 * - Bitcoin Taproot: BIP341 key-path-only output key (the BIP86 construction), encoded per
 *   BIP350 (bech32m, witness version 1).
 * - Solana: base58 of the 32-byte Ed25519 public key.
 *
 * A Taproot output is spent with a signature by the tweaked key Q = P + t·G, not by the key P the
 * service generated, so the service signs Taproot spends with Q. The tweak t is public (a hash of
 * P), so applying it to a shared key reveals nothing; what matters is that the address shown and
 * the key signed with agree, hence one definition of t for both: `taprootTweak` below.
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { base58, bech32, bech32m } from '@scure/base';
import { taprootTweak as protocolTaprootTweak } from '../../protocol/taproot.js';
import type { Scheme } from '../service-types.js';

const { Point } = secp256k1;

function requireBytes(value: Uint8Array, length: number, what: string): void {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new TypeError(`${what} must be ${length} bytes`);
  }
}

function bigIntOf(bytes: Uint8Array): bigint {
  return BigInt('0x' + Buffer.from(bytes).toString('hex'));
}

/**
 * EIP-55 checksum encoding of a 20-byte address: the lowercase hex is hashed with keccak256 (as
 * ASCII text), and each letter is upper-cased when the matching nibble of that hash is 8 or more.
 *
 * @see https://eips.ethereum.org/EIPS/eip-55
 */
export function checksumAddress(address: Uint8Array): string {
  requireBytes(address, 20, 'an Ethereum address');
  const lower = Buffer.from(address).toString('hex');
  const hash = Buffer.from(keccak_256(new TextEncoder().encode(lower))).toString('hex');
  let out = '0x';
  for (let i = 0; i < lower.length; i++) {
    const c = lower[i]!;
    out += parseInt(hash[i]!, 16) >= 8 ? c.toUpperCase() : c;
  }
  return out;
}

/**
 * The Ethereum address of a secp256k1 key given compressed (33 bytes, as the service returns
 * ECDSA keys): keccak256 of the uncompressed point's 64 bytes X‖Y (without the 0x04 prefix),
 * last 20 bytes, EIP-55 checksummed. Throws if the bytes are not a point on the curve.
 *
 * @see https://ethereum.github.io/yellowpaper/paper.pdf (Appendix F: the address function A)
 * @see https://eips.ethereum.org/EIPS/eip-55
 */
export function ethereumAddress(compressedKey: Uint8Array): string {
  requireBytes(compressedKey, 33, 'a compressed secp256k1 key');
  const uncompressed = Point.fromBytes(compressedKey).toBytes(false);
  return checksumAddress(keccak_256(uncompressed.subarray(1)).subarray(12));
}

/**
 * The BIP341 tweak of a key-path-only output (protocol/taproot.ts: the one the signers use),
 * with this file's errors: TypeError for a wrong length, RangeError for bytes that are no key.
 */
export function taprootTweak(xOnly: Uint8Array): bigint {
  requireBytes(xOnly, 32, 'an x-only key');
  try {
    return protocolTaprootTweak(xOnly);
  } catch (error) {
    throw new RangeError(error instanceof Error ? error.message : 'not a Taproot internal key');
  }
}

/**
 * The BIP341 output key for a key-path-only Taproot output: Q = P + t·G with t from
 * `taprootTweak`, where P is the point with even y whose x is the given x-only key (BIP340
 * `lift_x`). Returns x(Q), the 32-byte witness program.
 *
 * @see https://github.com/bitcoin/bips/blob/master/bip-0341.mediawiki ("Constructing and spending Taproot outputs")
 * @see https://github.com/bitcoin/bips/blob/master/bip-0086.mediawiki
 */
export function taprootOutputKey(xOnly: Uint8Array): Uint8Array {
  const t = taprootTweak(xOnly);
  const P = schnorr.utils.lift_x(bigIntOf(xOnly));
  const Q = P.add(Point.BASE.multiply(t));
  // Q = P + t·G is infinity only if t ≡ -log(P), i.e. with negligible probability; refuse it.
  if (Q.equals(Point.ZERO)) throw new RangeError('the tweaked key is the point at infinity');
  return Q.toBytes(true).subarray(1);
}

/**
 * A segwit version 1 address for a 32-byte witness program, encoded with bech32m: the
 * human-readable part (`bc` mainnet, `tb` testnet, `bcrt` regtest), then the witness version
 * as the first 5-bit word and the program regrouped into 5-bit words.
 *
 * @see https://github.com/bitcoin/bips/blob/master/bip-0350.mediawiki
 */
export function witnessV1Address(program: Uint8Array, hrp = 'bc'): string {
  requireBytes(program, 32, 'a version 1 witness program');
  return bech32m.encode(hrp, [1, ...bech32m.toWords(program)]);
}

/**
 * A segwit version 0 address (P2WPKH for a 20-byte program, P2WSH for 32), encoded with bech32
 * (BIP173): version 0 is the one witness version that keeps the original checksum constant;
 * BIP350 moved versions 1 and up to bech32m.
 *
 * @see https://github.com/bitcoin/bips/blob/master/bip-0173.mediawiki
 */
export function witnessV0Address(program: Uint8Array, hrp = 'bc'): string {
  if (!(program instanceof Uint8Array) || (program.length !== 20 && program.length !== 32)) {
    throw new TypeError('a version 0 witness program must be 20 or 32 bytes');
  }
  return bech32.encode(hrp, [0, ...bech32.toWords(program)]);
}

/**
 * The Taproot (P2TR) address `bc1p…` of a BIP340 x-only key used as the internal key of a
 * key-path-only output: the bech32m address of `taprootOutputKey(xOnly)`.
 *
 * @see https://github.com/bitcoin/bips/blob/master/bip-0341.mediawiki
 * @see https://github.com/bitcoin/bips/blob/master/bip-0350.mediawiki
 */
export function taprootAddress(xOnly: Uint8Array, hrp = 'bc'): string {
  return witnessV1Address(taprootOutputKey(xOnly), hrp);
}

/**
 * The Solana address of an Ed25519 public key: the 32 key bytes in base58 (Bitcoin alphabet).
 * The key is not checked to be a curve point: Solana also has valid addresses that are not
 * (program-derived addresses), so only the length is checked.
 *
 * @see https://solana.com/docs/core/accounts (addresses are base58-encoded 32-byte public keys)
 */
export function solanaAddress(key: Uint8Array): string {
  requireBytes(key, 32, 'an Ed25519 public key');
  return base58.encode(key);
}

/** The address of a key, by scheme: each scheme's key belongs to exactly one of the chains here. */
export type ChainAddress = { evm: string } | { bitcoinTaproot: string } | { solana: string };

/**
 * The mainnet address of a key as the service returns it: a 33-byte compressed key for
 * 'ecdsa-secp256k1' (Ethereum and EVM chains share the address), a 32-byte x-only key for
 * 'schnorr-secp256k1-bip340' (a `bc1p…` key-path-only Taproot address), a 32-byte key for
 * 'eddsa-ed25519' (Solana).
 */
export function addressesFor(scheme: Scheme, publicKey: Uint8Array): ChainAddress {
  switch (scheme) {
    case 'ecdsa-secp256k1':
      return { evm: ethereumAddress(publicKey) };
    case 'schnorr-secp256k1-bip340':
      return { bitcoinTaproot: taprootAddress(publicKey) };
    case 'eddsa-ed25519':
      return { solana: solanaAddress(publicKey) };
    default: {
      // A new scheme must choose its chain here rather than fall through to no address.
      const unknown: never = scheme;
      throw new TypeError(`no address for scheme ${String(unknown)}`);
    }
  }
}
