/**
 * Recursive Length Prefix, Ethereum's serialization (Yellow Paper, Appendix B): an item is a byte
 * string or a list of items.
 *
 * - one byte below 0x80: itself;
 * - a string of 0–55 bytes: 0x80 + length, then the bytes;
 * - a longer string: 0xb7 + length of the length, the length big-endian, then the bytes;
 * - a list whose encoded items total 0–55 bytes: 0xc0 + that total, then the items;
 * - a longer list: 0xf7 + length of the length, the length, then the items.
 *
 * The decoder accepts only that one form of each value, as execution clients do since the
 * canonical-RLP rules of the Yellow Paper: a long form used for a short length, a length with
 * leading zero bytes, a single byte below 0x80 wrapped as a one-byte string, and trailing bytes
 * are all refused. Integers are big-endian with no leading zeros (zero is the empty string).
 */
import { ChainInputError } from './errors.js';

export type RlpItem = Uint8Array | readonly RlpItem[];

/** Deep enough for any transaction (access lists nest three levels); shallow enough for the stack. */
const MAX_DEPTH = 16;

function lengthBytes(length: number): Uint8Array {
  const out: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) out.unshift(rest % 256);
  return Uint8Array.from(out);
}

function withPrefix(shortBase: number, longBase: number, payload: Uint8Array): Uint8Array {
  if (payload.length <= 55) {
    const out = new Uint8Array(1 + payload.length);
    out[0] = shortBase + payload.length;
    out.set(payload, 1);
    return out;
  }
  const size = lengthBytes(payload.length);
  const out = new Uint8Array(1 + size.length + payload.length);
  out[0] = longBase + size.length;
  out.set(size, 1);
  out.set(payload, 1 + size.length);
  return out;
}

/** The RLP encoding of a byte string or a (nested) list of them. */
export function rlpEncode(item: RlpItem): Uint8Array {
  if (item instanceof Uint8Array) {
    if (item.length === 1 && item[0]! < 0x80) return item.slice();
    return withPrefix(0x80, 0xb7, item);
  }
  const parts = item.map(rlpEncode);
  const payload = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    payload.set(p, offset);
    offset += p.length;
  }
  return withPrefix(0xc0, 0xf7, payload);
}

/** A non-negative integer as RLP wants it: big-endian, no leading zeros, zero as no bytes. */
export function rlpInt(value: bigint): Uint8Array {
  if (value < 0n) throw new RangeError('RLP integers are non-negative');
  if (value === 0n) return new Uint8Array(0);
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = '0' + hex;
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/**
 * Reads a decoded RLP string as an integer, refusing leading zeros (which would give one number
 * several encodings) and anything wider than `maxBytes` (32 for uint256 fields).
 */
export function rlpDecodeInt(item: RlpItem, field: string, maxBytes = 32): bigint {
  if (!(item instanceof Uint8Array)) {
    throw new ChainInputError('MALFORMED_TRANSACTION', field, 'expected an integer, found a list');
  }
  if (item.length > maxBytes) {
    throw new ChainInputError('TOO_LARGE', field, `integer wider than ${maxBytes} bytes`);
  }
  if (item.length > 0 && item[0] === 0) {
    throw new ChainInputError('NON_CANONICAL_ENCODING', field, 'integer with leading zeros');
  }
  return item.length === 0 ? 0n : BigInt('0x' + Buffer.from(item).toString('hex'));
}

interface Header {
  isList: boolean;
  /** Where the payload starts and how long it is. */
  start: number;
  length: number;
}

function readHeader(bytes: Uint8Array, at: number, field: string): Header {
  const prefix = bytes[at];
  if (prefix === undefined) throw new ChainInputError('MALFORMED_TRANSACTION', field, 'truncated');
  if (prefix < 0x80) return { isList: false, start: at, length: 1 };
  const isList = prefix >= 0xc0;
  const short = prefix - (isList ? 0xc0 : 0x80);
  if (short <= 55) {
    if (!isList && short === 1) {
      const only = bytes[at + 1];
      // Checked here rather than after the bounds check so that the message is the useful one
      // when both apply; `undefined` (truncated) falls through to the bounds check below.
      if (only !== undefined && only < 0x80) {
        throw new ChainInputError(
          'NON_CANONICAL_ENCODING',
          field,
          'a single byte below 0x80 must not be wrapped',
        );
      }
    }
    return { isList, start: at + 1, length: short };
  }
  const sizeOfSize = short - 55;
  const sizeBytes = bytes.subarray(at + 1, at + 1 + sizeOfSize);
  if (sizeBytes.length < sizeOfSize) {
    throw new ChainInputError('MALFORMED_TRANSACTION', field, 'truncated length');
  }
  if (sizeBytes[0] === 0) {
    throw new ChainInputError('NON_CANONICAL_ENCODING', field, 'length with leading zeros');
  }
  // Six bytes already exceed any input we could hold; stop before Number loses precision.
  if (sizeOfSize > 6) throw new ChainInputError('TOO_LARGE', field, 'length too large');
  let length = 0;
  for (const b of sizeBytes) length = length * 256 + b;
  if (length <= 55) {
    throw new ChainInputError('NON_CANONICAL_ENCODING', field, 'long form used for a short length');
  }
  return { isList, start: at + 1 + sizeOfSize, length };
}

function decodeAt(bytes: Uint8Array, at: number, field: string, depth: number): [RlpItem, number] {
  const { isList, start, length } = readHeader(bytes, at, field);
  const end = start + length;
  if (end > bytes.length) throw new ChainInputError('MALFORMED_TRANSACTION', field, 'truncated');
  if (!isList) return [bytes.slice(start, end), end];
  if (depth >= MAX_DEPTH) {
    throw new ChainInputError('TOO_LARGE', field, `lists nested deeper than ${MAX_DEPTH}`);
  }
  const items: RlpItem[] = [];
  let offset = start;
  while (offset < end) {
    // Each item must end inside the list's payload, not merely inside the buffer.
    const [item, next] = decodeAt(
      bytes.subarray(0, end),
      offset,
      `${field}[${items.length}]`,
      depth + 1,
    );
    items.push(item);
    offset = next;
  }
  return [items, end];
}

/**
 * Decodes exactly one RLP item that spans all of `bytes`, refusing every non-canonical form (see
 * the file comment) and trailing bytes.
 */
export function rlpDecode(bytes: Uint8Array, field = 'rlp'): RlpItem {
  const [item, end] = decodeAt(bytes, 0, field, 0);
  if (end !== bytes.length) {
    throw new ChainInputError(
      'MALFORMED_TRANSACTION',
      field,
      `${bytes.length - end} trailing bytes`,
    );
  }
  return item;
}
