/**
 * Solana messages and transactions: the message is what every signer signs (Ed25519 over its
 * bytes, no hashing), the transaction is the signatures followed by that message.
 *
 *   transaction = compact-u16 n ‖ n × signature (64) ‖ message
 *   message     = [0x80 | version] ‖ header (3) ‖ compact-u16 ‖ account keys (32 each) ‖
 *                 recent blockhash (32) ‖ compact-u16 ‖ instructions ‖ [address table lookups]
 *   instruction = program id index (1) ‖ compact-u16 ‖ account indices (1 each) ‖
 *                 compact-u16 ‖ data
 *   lookup      = table account (32) ‖ compact-u16 ‖ writable indices ‖ compact-u16 ‖ readonly
 *
 * A legacy message starts with its header (whose first byte, the signer count, is below 128); a
 * versioned one with 0x80 | version, and only version 0 exists. The parser applies the checks the
 * Solana runtime's `sanitize` applies, and a few more (no duplicate keys), so the message a policy
 * approves is the message the chain runs, not one it would refuse or read another way.
 *
 * @see https://solana.com/docs/core/transactions
 * @see https://docs.anza.xyz/proposals/versioned-transactions
 */
import { base58 } from '@scure/base';
import { concat, toHex } from '../../protocol/bytes.js';
import { ChainInputError } from './errors.js';
import { ByteReader, shortU16 } from './reader.js';

/** IPv6 minimum MTU minus headers: the largest transaction a validator accepts, in bytes. */
export const PACKET_DATA_SIZE = 1232;
/** Account indices are one byte, so a message can name at most 256 accounts. */
const MAX_ACCOUNTS = 256;

export interface SolanaMessageHeader {
  /** Signatures the transaction carries; the first this many keys sign, the first one pays. */
  numRequiredSignatures: number;
  /** Of the signers, how many (the last ones) are read-only. */
  numReadonlySignedAccounts: number;
  /** Of the other static keys, how many (the last ones) are read-only. */
  numReadonlyUnsignedAccounts: number;
}

export interface SolanaInstruction {
  /** Index of the program among the static account keys. */
  programIdIndex: number;
  /** Indices into the message's accounts: static keys, then lookup-table entries. */
  accountIndexes: number[];
  data: Uint8Array;
}

export interface SolanaAddressTableLookup {
  /** The address lookup table account. */
  accountKey: Uint8Array;
  writableIndexes: number[];
  readonlyIndexes: number[];
}

export interface SolanaMessage {
  version: 'legacy' | 0;
  header: SolanaMessageHeader;
  /** The static account keys, 32 bytes each, distinct. */
  accountKeys: Uint8Array[];
  recentBlockhash: Uint8Array;
  instructions: SolanaInstruction[];
  /** Version 0 only; empty for a legacy message. */
  addressTableLookups: SolanaAddressTableLookup[];
}

function indices(r: ByteReader, field: string): number[] {
  const n = r.shortU16(field);
  if (n > r.remaining) throw new ChainInputError('MALFORMED_TRANSACTION', field, 'truncated');
  return Array.from(r.take(n, field));
}

/** Bytes a transaction needs for n signatures, besides the message. */
function signaturesSize(n: number): number {
  return shortU16(n).length + 64 * n;
}

/** Parses a serialized message (legacy or version 0) that spans all of `bytes`. */
export function parseSolanaMessage(bytes: Uint8Array): SolanaMessage {
  if (bytes.length > PACKET_DATA_SIZE) {
    throw new ChainInputError('TOO_LARGE', 'message', `more than ${PACKET_DATA_SIZE} bytes`);
  }
  const r = new ByteReader(bytes);
  let version: SolanaMessage['version'] = 'legacy';
  if ((r.peek() ?? 0) & 0x80) {
    const v = r.byte('version') & 0x7f;
    if (v !== 0) throw new ChainInputError('UNSUPPORTED', 'version', `message version ${v}`);
    version = 0;
  }
  const header: SolanaMessageHeader = {
    numRequiredSignatures: r.byte('header.numRequiredSignatures'),
    numReadonlySignedAccounts: r.byte('header.numReadonlySignedAccounts'),
    numReadonlyUnsignedAccounts: r.byte('header.numReadonlyUnsignedAccounts'),
  };
  const keyCount = r.shortU16('accountKeys');
  if (keyCount * 32 > r.remaining) {
    throw new ChainInputError('MALFORMED_TRANSACTION', 'accountKeys', 'truncated');
  }
  const accountKeys: Uint8Array[] = [];
  for (let i = 0; i < keyCount; i++) accountKeys.push(r.take(32, `accountKeys[${i}]`));
  const recentBlockhash = r.take(32, 'recentBlockhash');

  const instructionCount = r.shortU16('instructions');
  // Each instruction takes at least 3 bytes; bound the count before allocating for it.
  if (instructionCount * 3 > r.remaining) {
    throw new ChainInputError('MALFORMED_TRANSACTION', 'instructions', 'truncated');
  }
  const instructions: SolanaInstruction[] = [];
  for (let i = 0; i < instructionCount; i++) {
    const field = `instructions[${i}]`;
    const programIdIndex = r.byte(`${field}.programIdIndex`);
    const accountIndexes = indices(r, `${field}.accountIndexes`);
    const data = r.take(r.shortU16(`${field}.data`), `${field}.data`);
    instructions.push({ programIdIndex, accountIndexes, data });
  }

  const addressTableLookups: SolanaAddressTableLookup[] = [];
  if (version === 0) {
    const lookupCount = r.shortU16('addressTableLookups');
    if (lookupCount * 34 > r.remaining) {
      throw new ChainInputError('MALFORMED_TRANSACTION', 'addressTableLookups', 'truncated');
    }
    for (let i = 0; i < lookupCount; i++) {
      const field = `addressTableLookups[${i}]`;
      const accountKey = r.take(32, `${field}.accountKey`);
      const writableIndexes = indices(r, `${field}.writableIndexes`);
      const readonlyIndexes = indices(r, `${field}.readonlyIndexes`);
      addressTableLookups.push({ accountKey, writableIndexes, readonlyIndexes });
    }
  }
  r.end('message');

  const message: SolanaMessage = {
    version,
    header,
    accountKeys,
    recentBlockhash,
    instructions,
    addressTableLookups,
  };
  sanitize(message, bytes.length);
  return message;
}

/** The Solana runtime's message checks (`sanitize`), and a refusal of duplicate keys. */
function sanitize(message: SolanaMessage, size: number): void {
  const { header, accountKeys, instructions, addressTableLookups } = message;
  const staticCount = accountKeys.length;
  if (header.numRequiredSignatures < 1) {
    throw new ChainInputError('MALFORMED_TRANSACTION', 'header.numRequiredSignatures', 'no signer');
  }
  // The signers and the read-only unsigned keys are disjoint ranges of the static keys.
  if (header.numRequiredSignatures + header.numReadonlyUnsignedAccounts > staticCount) {
    throw new ChainInputError(
      'MALFORMED_TRANSACTION',
      'header',
      'more signers and read-only keys than keys',
    );
  }
  // The first signer pays the fee, so at least one signer must be writable.
  if (header.numReadonlySignedAccounts >= header.numRequiredSignatures) {
    throw new ChainInputError(
      'MALFORMED_TRANSACTION',
      'header.numReadonlySignedAccounts',
      'no writable signer',
    );
  }
  if (size + signaturesSize(header.numRequiredSignatures) > PACKET_DATA_SIZE) {
    throw new ChainInputError(
      'TOO_LARGE',
      'message',
      `with its signatures, more than ${PACKET_DATA_SIZE} bytes`,
    );
  }
  // Two copies of one key would make "which signer is this key" ambiguous, and the runtime
  // refuses such a transaction anyway (AccountLoadedTwice).
  if (new Set(accountKeys.map(toHex)).size !== staticCount) {
    throw new ChainInputError('MALFORMED_TRANSACTION', 'accountKeys', 'a key appears twice');
  }
  let total = staticCount;
  addressTableLookups.forEach((lookup, i) => {
    const loaded = lookup.writableIndexes.length + lookup.readonlyIndexes.length;
    if (loaded === 0) {
      throw new ChainInputError(
        'MALFORMED_TRANSACTION',
        `addressTableLookups[${i}]`,
        'loads no account',
      );
    }
    total += loaded;
  });
  if (total > MAX_ACCOUNTS) {
    throw new ChainInputError('TOO_LARGE', 'accountKeys', `more than ${MAX_ACCOUNTS} accounts`);
  }
  instructions.forEach((instruction, i) => {
    const field = `instructions[${i}]`;
    // Programs are static keys (never from a lookup table), and never the fee payer.
    if (instruction.programIdIndex >= staticCount || instruction.programIdIndex === 0) {
      throw new ChainInputError(
        'INDEX_OUT_OF_RANGE',
        `${field}.programIdIndex`,
        'not a program key',
      );
    }
    instruction.accountIndexes.forEach((index, j) => {
      if (index >= total) {
        throw new ChainInputError(
          'INDEX_OUT_OF_RANGE',
          `${field}.accountIndexes[${j}]`,
          `not one of ${total} accounts`,
        );
      }
    });
  });
}

/** Which signature slot belongs to `publicKey`: its index among the required signers. */
export function solanaSignerIndex(message: SolanaMessage, publicKey: Uint8Array): number {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new ChainInputError('INVALID_ARGUMENT', 'publicKey', 'must be 32 bytes');
  }
  const wanted = toHex(publicKey);
  for (let i = 0; i < message.header.numRequiredSignatures; i++) {
    if (toHex(message.accountKeys[i]!) === wanted) return i;
  }
  throw new ChainInputError(
    'NOT_A_SIGNER',
    'publicKey',
    "not among the message's required signers",
  );
}

/**
 * The wire transaction: the signatures in signer order, then the message bytes unchanged. One
 * signature per required signer, 64 bytes each; a signature not yet made is 64 zero bytes, as
 * Solana's SDKs leave it for a partially signed transaction.
 */
export function solanaTransaction(
  messageBytes: Uint8Array,
  signatures: readonly Uint8Array[],
): Uint8Array {
  const message = parseSolanaMessage(messageBytes);
  const n = message.header.numRequiredSignatures;
  if (signatures.length !== n) {
    throw new ChainInputError(
      'INVALID_ARGUMENT',
      'signatures',
      `${signatures.length} given for ${n} signers`,
    );
  }
  signatures.forEach((signature, i) => {
    if (!(signature instanceof Uint8Array) || signature.length !== 64) {
      throw new ChainInputError('INVALID_ARGUMENT', `signatures[${i}]`, 'must be 64 bytes');
    }
  });
  return concat(shortU16(n), ...signatures, messageBytes);
}

/** The System Program's id: 32 zero bytes, "11111111111111111111111111111111" in base58. */
export const SYSTEM_PROGRAM_ID = new Uint8Array(32);
/** SystemInstruction::Transfer is variant 2 of the program's bincode enum (u32 LE tag). */
const SYSTEM_TRANSFER = 2;

export interface SolanaTransfer {
  from: string;
  to: string;
  lamports: bigint;
}

/** What a spending policy checks before an Ed25519 signature of a Solana message is made. */
export interface SolanaSummary {
  /** Every System Program transfer, in instruction order. */
  transfers: SolanaTransfer[];
  /** The recipients of those transfers, distinct, in first-seen order. */
  destinations: string[];
  /** Lamports moved by those transfers in total. */
  value: bigint;
  /**
   * Every other instruction, by program id. Their effects are not interpreted (a token
   * transfer, a CreateAccount funding a new account…), so a policy that bounds value or
   * destinations must refuse a message that has any.
   */
  otherInstructions: { index: number; programId: string }[];
}

/**
 * Names an account as the summary shows it: base58 for a static key; for an entry loaded from a
 * lookup table, whose address the message does not contain, `<table>:<index in table>`.
 * Loaded accounts are numbered after the static keys: all tables' writable entries, then all
 * tables' read-only entries, each in table order.
 */
function accountName(message: SolanaMessage, index: number): string {
  const key = message.accountKeys[index];
  if (key !== undefined) return base58.encode(key);
  let rest = index - message.accountKeys.length;
  for (const kind of ['writableIndexes', 'readonlyIndexes'] as const) {
    for (const lookup of message.addressTableLookups) {
      const entries = lookup[kind];
      if (rest < entries.length) return `${base58.encode(lookup.accountKey)}:${entries[rest]}`;
      rest -= entries.length;
    }
  }
  // parseSolanaMessage checked every index; reaching this means the message was built by hand.
  throw new ChainInputError(
    'INDEX_OUT_OF_RANGE',
    'accountIndexes',
    'not an account of the message',
  );
}

function u32At(data: Uint8Array, at: number): number {
  return (data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16) | (data[at + 3]! << 24)) >>> 0;
}

/**
 * System Program transfers, their recipients and total, and the other instructions by program.
 * A System instruction tagged Transfer must be exactly tag (4) ‖ lamports (8, LE) with accounts
 * [from, to, …]; anything else claiming to be a transfer is refused rather than summarised,
 * because the runtime's bincode decoder ignores trailing data and a summary must not under-count.
 */
export function solanaTransferSummary(message: SolanaMessage): SolanaSummary {
  const transfers: SolanaTransfer[] = [];
  const otherInstructions: SolanaSummary['otherInstructions'] = [];
  message.instructions.forEach((instruction, index) => {
    const program = message.accountKeys[instruction.programIdIndex];
    if (program === undefined) {
      throw new ChainInputError(
        'INDEX_OUT_OF_RANGE',
        `instructions[${index}].programIdIndex`,
        'not a key',
      );
    }
    const isSystem = program.every((b) => b === 0);
    const { data, accountIndexes } = instruction;
    if (!isSystem || data.length < 4 || u32At(data, 0) !== SYSTEM_TRANSFER) {
      otherInstructions.push({ index, programId: base58.encode(program) });
      return;
    }
    if (data.length !== 12 || accountIndexes.length < 2) {
      throw new ChainInputError(
        'MALFORMED_TRANSACTION',
        `instructions[${index}]`,
        'a System transfer must carry 12 bytes of data and accounts [from, to]',
      );
    }
    const lamports = (BigInt(u32At(data, 8)) << 32n) | BigInt(u32At(data, 4));
    transfers.push({
      from: accountName(message, accountIndexes[0]!),
      to: accountName(message, accountIndexes[1]!),
      lamports,
    });
  });
  const destinations = [...new Set(transfers.map((t) => t.to))];
  const value = transfers.reduce((sum, t) => sum + t.lamports, 0n);
  return { transfers, destinations, value, otherInstructions };
}
