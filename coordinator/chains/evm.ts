/**
 * Ethereum (and EVM-chain) transactions: the two envelopes the service signs, the digest the
 * signer sees, and the raw transaction a node accepts once the signature is in.
 *
 * - Legacy with EIP-155 replay protection: the signed payload is
 *   rlp([nonce, gasPrice, gasLimit, to, value, data, chainId, 0, 0]) and the signature goes in as
 *   v = chainId·2 + 35 + recoveryId, so a signature for one chain is invalid on every other.
 * - EIP-1559 (type 2): 0x02 ‖ rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gasLimit,
 *   to, value, data, accessList]), signed with yParity = recoveryId (EIP-2718 typed envelope).
 *
 * Type 1 (EIP-2930) and blob (type 3) transactions are not offered: nothing here needs them, and
 * each envelope the service signs is one more a policy must understand. Contract creation (an
 * empty `to`) is out of scope as well: its effect cannot be summarised as "value to address".
 *
 * @see https://eips.ethereum.org/EIPS/eip-155
 * @see https://eips.ethereum.org/EIPS/eip-1559
 * @see https://eips.ethereum.org/EIPS/eip-2718
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { concat } from '../../protocol/bytes.js';
import { checksumAddress } from './addresses.js';
import { ChainInputError } from './errors.js';
import { rlpEncode, rlpInt, type RlpItem } from './rlp.js';

const ORDER = secp256k1.Point.Fn.ORDER;
const HALF_ORDER = ORDER >> 1n;

export const UINT256_LIMIT = 1n << 256n;
export const UINT64_LIMIT = 1n << 64n;
/**
 * EIP-2681 caps the nonce at 2^64 − 1 exclusive: an account whose nonce reached 2^64 − 1 could
 * never send again, so no valid transaction carries it.
 */
export const NONCE_LIMIT = UINT64_LIMIT - 1n;

export interface AccessListEntry {
  /** 20 bytes. */
  address: Uint8Array;
  /** 32 bytes each. */
  storageKeys: Uint8Array[];
}

interface EvmFields {
  /** At least 1: EIP-155 gives chain id 0 no replay protection. Below 2^64. */
  chainId: bigint;
  /** Below 2^64 − 1 (EIP-2681). */
  nonce: bigint;
  /** Below 2^64: execution clients hold gas as a 64-bit integer. */
  gasLimit: bigint;
  /** The recipient, 20 bytes. Required: contract creation is not offered. */
  to: Uint8Array;
  /** Wei, below 2^256. */
  value: bigint;
  /** Calldata. */
  data: Uint8Array;
}

/** A legacy transaction signed with EIP-155 replay protection. */
export interface LegacyTx extends EvmFields {
  type: 0;
  gasPrice: bigint;
}

/** An EIP-1559 fee-market transaction (EIP-2718 type 2). */
export interface Eip1559Tx extends EvmFields {
  type: 2;
  maxPriorityFeePerGas: bigint;
  maxFeePerGas: bigint;
  accessList: AccessListEntry[];
}

export type EvmTransaction = LegacyTx | Eip1559Tx;

/** An ECDSA signature as the signer returns it: low-s, with the parity of R's y. */
export interface EvmSignature {
  r: bigint;
  s: bigint;
  recoveryId: 0 | 1;
}

function checkUint(value: bigint, limit: bigint, field: string, minimum = 0n): void {
  if (typeof value !== 'bigint' || value < minimum || value >= limit) {
    throw new ChainInputError(
      'INVALID_ARGUMENT',
      field,
      `must be an integer in [${minimum}, ${limit})`,
    );
  }
}

function checkBytes(value: Uint8Array, length: number, field: string): void {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new ChainInputError('INVALID_ARGUMENT', field, `must be ${length} bytes`);
  }
}

/**
 * Checks a transaction built in code as strictly as the request schema checks one from JSON, so
 * that nothing reaches the digest that a node would decode differently or refuse.
 */
function checkTransaction(tx: EvmTransaction): void {
  if (tx.type !== 0 && tx.type !== 2) {
    throw new ChainInputError('UNSUPPORTED', 'type', 'only types 0 and 2 are signed');
  }
  checkUint(tx.chainId, UINT64_LIMIT, 'chainId', 1n);
  checkUint(tx.nonce, NONCE_LIMIT, 'nonce');
  checkUint(tx.gasLimit, UINT64_LIMIT, 'gasLimit');
  checkUint(tx.value, UINT256_LIMIT, 'value');
  checkBytes(tx.to, 20, 'to');
  if (!(tx.data instanceof Uint8Array)) {
    throw new ChainInputError('INVALID_ARGUMENT', 'data', 'must be bytes');
  }
  if (tx.type === 0) {
    checkUint(tx.gasPrice, UINT256_LIMIT, 'gasPrice');
    return;
  }
  checkUint(tx.maxFeePerGas, UINT256_LIMIT, 'maxFeePerGas');
  checkUint(tx.maxPriorityFeePerGas, UINT256_LIMIT, 'maxPriorityFeePerGas');
  // EIP-1559 makes a block invalid if it includes such a transaction; refuse to sign one.
  if (tx.maxPriorityFeePerGas > tx.maxFeePerGas) {
    throw new ChainInputError('INVALID_ARGUMENT', 'maxPriorityFeePerGas', 'exceeds maxFeePerGas');
  }
  tx.accessList.forEach((entry, i) => {
    checkBytes(entry.address, 20, `accessList[${i}].address`);
    entry.storageKeys.forEach((key, j) =>
      checkBytes(key, 32, `accessList[${i}].storageKeys[${j}]`),
    );
  });
}

/** The nine fields of a type 2 transaction, in EIP-1559 order, the access list as nested lists. */
function eip1559Fields(tx: Eip1559Tx): RlpItem[] {
  return [
    rlpInt(tx.chainId),
    rlpInt(tx.nonce),
    rlpInt(tx.maxPriorityFeePerGas),
    rlpInt(tx.maxFeePerGas),
    rlpInt(tx.gasLimit),
    tx.to,
    rlpInt(tx.value),
    tx.data,
    tx.accessList.map((entry) => [entry.address, entry.storageKeys]),
  ];
}

function legacyFields(tx: LegacyTx): RlpItem[] {
  return [
    rlpInt(tx.nonce),
    rlpInt(tx.gasPrice),
    rlpInt(tx.gasLimit),
    tx.to,
    rlpInt(tx.value),
    tx.data,
  ];
}

/** The bytes whose keccak256 is signed. */
export function evmSigningPayload(tx: EvmTransaction): Uint8Array {
  checkTransaction(tx);
  if (tx.type === 2) return concat(Uint8Array.of(0x02), rlpEncode(eip1559Fields(tx)));
  // EIP-155: "hash nine rlp encoded elements (nonce, gasprice, startgas, to, value, data,
  // chainid, 0, 0)".
  return rlpEncode([...legacyFields(tx), rlpInt(tx.chainId), rlpInt(0n), rlpInt(0n)]);
}

/** The 32-byte digest the ECDSA signer signs for this transaction. */
export function evmSigningDigest(tx: EvmTransaction): Uint8Array {
  return keccak_256(evmSigningPayload(tx));
}

/**
 * The raw signed transaction (what `eth_sendRawTransaction` takes) and its hash.
 *
 * A high-s signature is refused rather than normalised: since EIP-2 (Homestead) nodes reject
 * s > n/2, and the signer is supposed to output low-s, so a high s means something upstream is
 * wrong; flipping it here would also flip the recovery id and hide that.
 */
export function evmSignedTransaction(
  tx: EvmTransaction,
  sig: EvmSignature,
): { raw: Uint8Array; hash: Uint8Array } {
  checkTransaction(tx);
  checkUint(sig.r, ORDER, 'signature.r', 1n);
  checkUint(sig.s, ORDER, 'signature.s', 1n);
  if (sig.s > HALF_ORDER) {
    throw new ChainInputError(
      'INVALID_ARGUMENT',
      'signature.s',
      'high s (above n/2), refused per EIP-2',
    );
  }
  if (sig.recoveryId !== 0 && sig.recoveryId !== 1) {
    throw new ChainInputError('INVALID_ARGUMENT', 'signature.recoveryId', 'must be 0 or 1');
  }
  const rs = [rlpInt(sig.r), rlpInt(sig.s)];
  const raw =
    tx.type === 2
      ? concat(
          Uint8Array.of(0x02),
          rlpEncode([...eip1559Fields(tx), rlpInt(BigInt(sig.recoveryId)), ...rs]),
        )
      : rlpEncode([
          ...legacyFields(tx),
          rlpInt(tx.chainId * 2n + 35n + BigInt(sig.recoveryId)),
          ...rs,
        ]);
  return { raw, hash: keccak_256(raw) };
}

/**
 * What a spending policy looks at: the recipient (EIP-55) and the ether sent directly. Calldata is
 * not interpreted, so a token transfer shows its token contract as `to` and a value of 0; a policy
 * that must bound token movements has to refuse non-empty `data` or decode it itself.
 */
export function evmTransactionSummary(tx: EvmTransaction): { to: string; value: bigint } {
  checkTransaction(tx);
  return { to: checksumAddress(tx.to), value: tx.value };
}
