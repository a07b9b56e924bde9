/**
 * Spending a Taproot output by its key path (BIP341): the message a BIP340 signature commits to,
 * the witness that carries the signature, and what a spending policy needs to know about it.
 *
 * Only key-path spends without annex are produced (ext_flag 0, annex absent): the service holds
 * one key per output and no scripts. The signature is by the tweaked output key (see
 * `taprootTweak` in addresses.ts), which is the signer's concern, not this file's.
 *
 * @see https://github.com/bitcoin/bips/blob/master/bip-0341.mediawiki ("Common signature message", "Taproot key path spending signature validation")
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, toHex } from '../../protocol/bytes.js';
import { witnessV0Address, witnessV1Address } from './addresses.js';
import { outputBytes, type BitcoinOutput, type BitcoinTransaction } from './bitcoin-tx.js';
import { ChainInputError } from './errors.js';
import { compactSize, u32le, u64le } from './reader.js';

/**
 * The hash types BIP341 allows: 0x00 (SIGHASH_DEFAULT, like ALL but the signature stays 64
 * bytes), ALL, NONE, SINGLE, and each of the last three with ANYONECANPAY (0x80). Any other
 * value makes the signature invalid, so it is refused before signing.
 */
export const TAPROOT_HASH_TYPES = [0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83] as const;
export type TaprootHashType = (typeof TAPROOT_HASH_TYPES)[number];

const SIGHASH_NONE = 0x02;
const SIGHASH_SINGLE = 0x03;
const SIGHASH_ANYONECANPAY = 0x80;

/** The spent output of each input: amount and script, which BIP341 signatures commit to. */
export type Prevout = BitcoinOutput;

export function isTaprootHashType(value: number): value is TaprootHashType {
  return (TAPROOT_HASH_TYPES as readonly number[]).includes(value);
}

/** OP_1 OP_PUSHBYTES_32 <x(Q)>: the scriptPubKey of a Taproot output. */
export function p2trScriptPubKey(outputKey: Uint8Array): Uint8Array {
  if (!(outputKey instanceof Uint8Array) || outputKey.length !== 32) {
    throw new TypeError('a Taproot output key must be 32 bytes');
  }
  return concat(Uint8Array.of(0x51, 0x20), outputKey);
}

/** Whether a scriptPubKey is a Taproot output: OP_1 followed by a 32-byte push. */
export function isP2trScript(script: Uint8Array): boolean {
  return script.length === 34 && script[0] === 0x51 && script[1] === 0x20;
}

/**
 * Refuses arguments BIP341 signing cannot use: an input index that is not an input, prevouts that
 * do not match the inputs one for one, a hash type outside the list, SIGHASH_SINGLE without an
 * output of the same index ("fail" in BIP341), and a spent output that is not a Taproot output.
 */
function checkSpend(
  tx: BitcoinTransaction,
  inputIndex: number,
  prevouts: readonly Prevout[],
  hashType: number,
): void {
  if (!Number.isInteger(inputIndex) || inputIndex < 0 || inputIndex >= tx.inputs.length) {
    throw new ChainInputError(
      'INDEX_OUT_OF_RANGE',
      'inputIndex',
      `not one of the ${tx.inputs.length} inputs`,
    );
  }
  if (prevouts.length !== tx.inputs.length) {
    throw new ChainInputError(
      'INVALID_ARGUMENT',
      'prevouts',
      `${prevouts.length} given for ${tx.inputs.length} inputs`,
    );
  }
  if (!isTaprootHashType(hashType)) {
    throw new ChainInputError('UNSUPPORTED', 'hashType', 'not a BIP341 hash type');
  }
  if ((hashType & 3) === SIGHASH_SINGLE && inputIndex >= tx.outputs.length) {
    throw new ChainInputError(
      'INDEX_OUT_OF_RANGE',
      'hashType',
      'SIGHASH_SINGLE needs an output with the index of the input signed',
    );
  }
  if (!isP2trScript(prevouts[inputIndex]!.scriptPubKey)) {
    throw new ChainInputError(
      'INVALID_ARGUMENT',
      `prevouts[${inputIndex}].scriptPubKey`,
      'the spent output is not a Taproot (P2TR) output',
    );
  }
}

/** A script as BIP341 hashes it in sha_scriptpubkeys and the input data: with its CompactSize. */
function scriptWithLength(script: Uint8Array): Uint8Array {
  return concat(compactSize(script.length), script);
}

/**
 * SigMsg(hash_type, ext_flag = 0) of BIP341, field by field in the order the BIP lists them.
 */
function sigMsg(
  tx: BitcoinTransaction,
  inputIndex: number,
  prevouts: readonly Prevout[],
  hashType: TaprootHashType,
): Uint8Array {
  const anyoneCanPay = (hashType & SIGHASH_ANYONECANPAY) !== 0;
  const outputType = hashType & 3;
  const parts: Uint8Array[] = [
    // Control: hash_type (1). Transaction data: nVersion (4), nLockTime (4).
    Uint8Array.of(hashType),
    u32le(tx.version),
    u32le(tx.locktime),
  ];
  if (!anyoneCanPay) {
    // sha_prevouts, sha_amounts, sha_scriptpubkeys, sha_sequences. Committing to every spent
    // amount and script is what lets an offline signer trust the amounts it is shown (the
    // segwit v0 fee attack: a signer lied to about other inputs' values).
    parts.push(
      sha256(concat(...tx.inputs.map((input) => concat(input.txid, u32le(input.vout))))),
      sha256(concat(...prevouts.map((prevout) => u64le(prevout.value)))),
      sha256(concat(...prevouts.map((prevout) => scriptWithLength(prevout.scriptPubKey)))),
      sha256(concat(...tx.inputs.map((input) => u32le(input.sequence)))),
    );
  }
  // sha_outputs, unless NONE or SINGLE.
  if (outputType !== SIGHASH_NONE && outputType !== SIGHASH_SINGLE) {
    parts.push(sha256(concat(...tx.outputs.map(outputBytes))));
  }
  // spend_type = (ext_flag · 2) + annex_present = 0.
  parts.push(Uint8Array.of(0));
  if (anyoneCanPay) {
    // This input only: outpoint, amount, scriptPubKey, nSequence.
    const input = tx.inputs[inputIndex]!;
    const prevout = prevouts[inputIndex]!;
    parts.push(
      input.txid,
      u32le(input.vout),
      u64le(prevout.value),
      scriptWithLength(prevout.scriptPubKey),
      u32le(input.sequence),
    );
  } else {
    parts.push(u32le(inputIndex));
  }
  // sha_single_output (no annex, so no sha_annex before it).
  if (outputType === SIGHASH_SINGLE) parts.push(sha256(outputBytes(tx.outputs[inputIndex]!)));
  return concat(...parts);
}

/**
 * The 32-byte message a BIP340 signature for a key-path spend of input `inputIndex` signs:
 * hash_TapSighash(0x00 ‖ SigMsg(hash_type, 0)). The leading 0x00 is the sighash epoch, which
 * leaves room for future versions of the algorithm. `prevouts` lists the output each input spends,
 * in input order.
 */
export function taprootKeyPathSighash(
  tx: BitcoinTransaction,
  inputIndex: number,
  prevouts: readonly Prevout[],
  hashType: number,
): Uint8Array {
  checkSpend(tx, inputIndex, prevouts, hashType);
  const message = sigMsg(tx, inputIndex, prevouts, hashType as TaprootHashType);
  return schnorr.utils.taggedHash('TapSighash', concat(Uint8Array.of(0x00), message));
}

/**
 * A copy of `tx` whose input `inputIndex` carries the key-path witness: the 64-byte signature,
 * followed by the hash type byte unless it is SIGHASH_DEFAULT (BIP341: a 65-byte signature with
 * hash type 0x00 is invalid, so 0x00 is never appended). Other inputs are shared, not copied.
 */
export function withKeyPathWitness(
  tx: BitcoinTransaction,
  inputIndex: number,
  signature: Uint8Array,
  hashType: number,
): BitcoinTransaction {
  if (!Number.isInteger(inputIndex) || inputIndex < 0 || inputIndex >= tx.inputs.length) {
    throw new ChainInputError(
      'INDEX_OUT_OF_RANGE',
      'inputIndex',
      `not one of the ${tx.inputs.length} inputs`,
    );
  }
  if (!(signature instanceof Uint8Array) || signature.length !== 64) {
    throw new ChainInputError('INVALID_ARGUMENT', 'signature', 'must be 64 bytes (BIP340)');
  }
  if (!isTaprootHashType(hashType)) {
    throw new ChainInputError('UNSUPPORTED', 'hashType', 'not a BIP341 hash type');
  }
  const item = hashType === 0 ? signature.slice() : concat(signature, Uint8Array.of(hashType));
  const inputs = tx.inputs.map((input, i) =>
    i === inputIndex ? { ...input, witness: [item] } : input,
  );
  return { ...tx, inputs };
}

/** One output as a policy sees it. */
export interface BitcoinDestination {
  /** The address when the script is P2TR, P2WPKH or P2WSH; otherwise the script in hex. */
  destination: string;
  scriptPubKey: string;
  value: bigint;
}

/** What a spending policy checks before a Taproot key-path signature is made. */
export interface TaprootSpendSummary {
  /** Which outputs the signature fixes: all of them, the one at the input's index, or none. */
  outputsCommitted: 'all' | 'single' | 'none';
  /** The committed outputs (change included: a summary cannot tell change from payment). */
  outputs: BitcoinDestination[];
  /**
   * The most this signature can move: the committed outputs' total, or, when outputs are not all
   * committed (NONE, SINGLE), at least the signed input's amount, since whoever completes the
   * transaction may send that anywhere.
   */
  value: bigint;
}

/** The address of a script when it is a segwit v0 or v1 program of standard length. */
function addressOf(script: Uint8Array, hrp: string): string | undefined {
  if (isP2trScript(script)) return witnessV1Address(script.subarray(2), hrp);
  if (script.length === 22 && script[0] === 0x00 && script[1] === 0x14) {
    return witnessV0Address(script.subarray(2), hrp);
  }
  if (script.length === 34 && script[0] === 0x00 && script[1] === 0x20) {
    return witnessV0Address(script.subarray(2), hrp);
  }
  return undefined;
}

/**
 * Destinations and value of a key-path spend, for the policy check. Outputs are named by address
 * when they are P2TR (bech32m), P2WPKH or P2WSH (bech32), under the human-readable part `hrp`
 * ('bc' mainnet, 'tb' testnet, 'bcrt' regtest); any other script by its hex. The arguments are
 * checked exactly as for `taprootKeyPathSighash`, so a summary exists only for a signable spend.
 */
export function taprootSpendSummary(
  tx: BitcoinTransaction,
  inputIndex: number,
  prevouts: readonly Prevout[],
  hashType: number,
  hrp: string,
): TaprootSpendSummary {
  checkSpend(tx, inputIndex, prevouts, hashType);
  const outputType = hashType & 3;
  const outputsCommitted =
    outputType === SIGHASH_NONE ? 'none' : outputType === SIGHASH_SINGLE ? 'single' : 'all';
  const committed =
    outputsCommitted === 'all'
      ? tx.outputs
      : outputsCommitted === 'single'
        ? [tx.outputs[inputIndex]!]
        : [];
  const outputs = committed.map((output) => {
    const scriptPubKey = toHex(output.scriptPubKey);
    return {
      destination: addressOf(output.scriptPubKey, hrp) ?? scriptPubKey,
      scriptPubKey,
      value: output.value,
    };
  });
  let value = outputs.reduce((sum, output) => sum + output.value, 0n);
  const spent = prevouts[inputIndex]!.value;
  if (outputsCommitted !== 'all' && spent > value) value = spent;
  return { outputsCommitted, outputs, value };
}
