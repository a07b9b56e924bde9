/**
 * Bitcoin transactions on the wire, parsed strictly and serialized back byte for byte.
 *
 *   version (4, LE) ‖ [marker 0x00 ‖ flag 0x01] ‖ CompactSize n ‖ n × input ‖ CompactSize m ‖
 *   m × output ‖ [n × witness] ‖ locktime (4, LE)
 *   input   = txid (32, internal byte order) ‖ vout (4) ‖ CompactSize ‖ scriptSig ‖ sequence (4)
 *   output  = value (8, LE, satoshis) ‖ CompactSize ‖ scriptPubKey
 *   witness = CompactSize k ‖ k × (CompactSize ‖ item)
 *
 * The marker and flag are BIP144's; without them the transaction has no witnesses. "Strict" means
 * one reading per byte string: a CompactSize in its shortest form only, no trailing bytes, a
 * witness section only when some input has a witness (Bitcoin Core refuses a superfluous one),
 * at least one input and one output, and no output value above the 21 million coin supply. Those
 * are the same rules Bitcoin Core's deserializer and CheckTransaction apply, so a transaction
 * accepted here is not one a node would read differently.
 *
 * @see https://github.com/bitcoin/bips/blob/master/bip-0144.mediawiki
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concat } from '../../protocol/bytes.js';
import { ChainInputError } from './errors.js';
import { ByteReader, compactSize, u32le, u64le } from './reader.js';

/** 21 million bitcoin in satoshis: Bitcoin Core's MAX_MONEY. */
export const MAX_MONEY = 21_000_000n * 100_000_000n;
/**
 * The largest serialized transaction accepted: a standard transaction weighs at most 400,000
 * weight units (MAX_STANDARD_TX_WEIGHT), so its bytes are fewer than that.
 */
export const MAX_TRANSACTION_BYTES = 400_000;

/** The smallest possible input (36-byte outpoint, empty script, sequence) and output, in bytes. */
const MIN_INPUT_BYTES = 41;
const MIN_OUTPUT_BYTES = 9;

export interface BitcoinInput {
  /** The spent transaction's id in internal byte order (reversed from how explorers show it). */
  txid: Uint8Array;
  vout: number;
  scriptSig: Uint8Array;
  sequence: number;
  /** Witness stack items; empty for an input without witness. */
  witness: Uint8Array[];
}

export interface BitcoinOutput {
  /** Satoshis. */
  value: bigint;
  scriptPubKey: Uint8Array;
}

export interface BitcoinTransaction {
  /** Read as unsigned 32 bits; it is hashed and serialized as the same 4 bytes either way. */
  version: number;
  inputs: BitcoinInput[];
  outputs: BitcoinOutput[];
  locktime: number;
}

/** Reads a count, refusing one that the remaining bytes could not possibly hold. */
function count(r: ByteReader, field: string, minBytesEach: number): number {
  const n = r.compactSize(field);
  if (n * minBytesEach > r.remaining) {
    throw new ChainInputError('MALFORMED_TRANSACTION', field, `count ${n} exceeds the bytes left`);
  }
  return n;
}

function readInput(r: ByteReader, field: string): BitcoinInput {
  const txid = r.take(32, `${field}.txid`);
  const vout = r.u32le(`${field}.vout`);
  const scriptSig = r.take(r.compactSize(`${field}.scriptSig`), `${field}.scriptSig`);
  const sequence = r.u32le(`${field}.sequence`);
  return { txid, vout, scriptSig, sequence, witness: [] };
}

function readOutput(r: ByteReader, field: string): BitcoinOutput {
  const value = r.u64le(`${field}.value`);
  // Values are signed 64-bit on the wire; a negative one reads here as ≥ 2^63 and fails too.
  if (value > MAX_MONEY) {
    throw new ChainInputError(
      'MALFORMED_TRANSACTION',
      `${field}.value`,
      'above 21 million bitcoin',
    );
  }
  const scriptPubKey = r.take(r.compactSize(`${field}.scriptPubKey`), `${field}.scriptPubKey`);
  return { value, scriptPubKey };
}

/** Parses one serialized transaction that spans all of `bytes` (see the file comment). */
export function parseBitcoinTransaction(bytes: Uint8Array): BitcoinTransaction {
  if (bytes.length > MAX_TRANSACTION_BYTES) {
    throw new ChainInputError(
      'TOO_LARGE',
      'transaction',
      `more than ${MAX_TRANSACTION_BYTES} bytes`,
    );
  }
  const r = new ByteReader(bytes);
  const version = r.u32le('version');
  // BIP144: a zero where the input count would be is the marker (a transaction has ≥ 1 input).
  let segwit = false;
  if (r.peek() === 0x00) {
    if (r.peek(1) !== 0x01) {
      throw new ChainInputError('MALFORMED_TRANSACTION', 'flag', 'segwit marker without flag 0x01');
    }
    r.take(2, 'flag');
    segwit = true;
  }
  const inputCount = count(r, 'inputs', MIN_INPUT_BYTES);
  if (inputCount === 0) throw new ChainInputError('MALFORMED_TRANSACTION', 'inputs', 'no inputs');
  const inputs: BitcoinInput[] = [];
  for (let i = 0; i < inputCount; i++) inputs.push(readInput(r, `inputs[${i}]`));
  const outputCount = count(r, 'outputs', MIN_OUTPUT_BYTES);
  if (outputCount === 0)
    throw new ChainInputError('MALFORMED_TRANSACTION', 'outputs', 'no outputs');
  const outputs: BitcoinOutput[] = [];
  for (let i = 0; i < outputCount; i++) outputs.push(readOutput(r, `outputs[${i}]`));
  if (segwit) {
    for (const [i, input] of inputs.entries()) {
      const field = `inputs[${i}].witness`;
      const items = count(r, field, 1);
      for (let j = 0; j < items; j++) {
        input.witness.push(r.take(r.compactSize(`${field}[${j}]`), `${field}[${j}]`));
      }
    }
    // Bitcoin Core: "Superfluous witness record". Without this, one transaction would have two
    // serializations (with and without an all-empty witness section).
    if (inputs.every((input) => input.witness.length === 0)) {
      throw new ChainInputError('NON_CANONICAL_ENCODING', 'flag', 'segwit marker but no witness');
    }
  }
  const locktime = r.u32le('locktime');
  r.end('transaction');
  return { version, inputs, outputs, locktime };
}

function inputBytes(input: BitcoinInput): Uint8Array {
  return concat(
    input.txid,
    u32le(input.vout),
    compactSize(input.scriptSig.length),
    input.scriptSig,
    u32le(input.sequence),
  );
}

/** An output as every sighash algorithm hashes it: value ‖ CompactSize ‖ scriptPubKey. */
export function outputBytes(output: BitcoinOutput): Uint8Array {
  return concat(u64le(output.value), compactSize(output.scriptPubKey.length), output.scriptPubKey);
}

function serialize(tx: BitcoinTransaction, withWitness: boolean): Uint8Array {
  const parts: Uint8Array[] = [u32le(tx.version)];
  if (withWitness) parts.push(Uint8Array.of(0x00, 0x01));
  parts.push(compactSize(tx.inputs.length), ...tx.inputs.map(inputBytes));
  parts.push(compactSize(tx.outputs.length), ...tx.outputs.map(outputBytes));
  if (withWitness) {
    for (const input of tx.inputs) {
      parts.push(compactSize(input.witness.length));
      for (const item of input.witness) parts.push(compactSize(item.length), item);
    }
  }
  parts.push(u32le(tx.locktime));
  return concat(...parts);
}

/** The wire form: with BIP144 marker, flag and witnesses when any input has a witness. */
export function serializeBitcoinTransaction(tx: BitcoinTransaction): Uint8Array {
  return serialize(
    tx,
    tx.inputs.some((input) => input.witness.length > 0),
  );
}

/**
 * The transaction id, in internal byte order: double SHA-256 of the serialization without
 * witnesses (BIP141), so signing does not change it. Explorers show it byte-reversed.
 */
export function bitcoinTxid(tx: BitcoinTransaction): Uint8Array {
  return sha256(sha256(serialize(tx, false)));
}
