/**
 * A forward-only cursor over untrusted bytes, shared by the Bitcoin and Solana parsers. Every read
 * checks the bytes are there first and names the field it was reading when they are not, so a
 * truncated input fails with "inputs[3].scriptSig: truncated" instead of an out-of-bounds read
 * that JavaScript would silently turn into `undefined`.
 *
 * The variable-length integers of both chains are here too, each with its canonical-form rule:
 * a value has exactly one encoding, or it is refused.
 */
import { ChainInputError } from './errors.js';

export class ByteReader {
  private offset = 0;

  constructor(private readonly bytes: Uint8Array) {}

  /** Bytes not read yet. */
  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  private need(length: number, field: string): void {
    if (length > this.remaining) {
      throw new ChainInputError('MALFORMED_TRANSACTION', field, 'truncated');
    }
  }

  /** The next byte, without consuming it; undefined at the end. */
  peek(ahead = 0): number | undefined {
    return this.bytes[this.offset + ahead];
  }

  byte(field: string): number {
    this.need(1, field);
    return this.bytes[this.offset++]!;
  }

  /** A copy, so that callers may keep it after the input buffer is reused. */
  take(length: number, field: string): Uint8Array {
    this.need(length, field);
    const out = this.bytes.slice(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  u32le(field: string): number {
    this.need(4, field);
    const b = this.bytes;
    const o = this.offset;
    this.offset += 4;
    // `>>> 0` keeps the top bit as magnitude instead of sign.
    return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
  }

  u64le(field: string): bigint {
    const low = BigInt(this.u32le(field));
    const high = BigInt(this.u32le(field));
    return (high << 32n) | low;
  }

  /**
   * Bitcoin's CompactSize: one byte below 0xfd, else a marker (0xfd, 0xfe, 0xff) and a 2-, 4- or
   * 8-byte little-endian value. Bitcoin Core's ReadCompactSize refuses a value that would have fit
   * a shorter form ("non-canonical ReadCompactSize()") and anything above MAX_SIZE (0x02000000);
   * both are refused here, so every length has one encoding.
   */
  compactSize(field: string): number {
    const first = this.byte(field);
    let value: number;
    let minimum: number;
    if (first < 0xfd) return first;
    if (first === 0xfd) {
      value = this.byte(field) | (this.byte(field) << 8);
      minimum = 0xfd;
    } else if (first === 0xfe) {
      value = this.u32le(field);
      minimum = 0x1_0000;
    } else {
      const wide = this.u64le(field);
      if (wide > 0x0200_0000n) {
        throw new ChainInputError('TOO_LARGE', field, 'CompactSize above 0x02000000');
      }
      value = Number(wide);
      minimum = 0x1_0000_0000;
    }
    if (value < minimum) {
      throw new ChainInputError(
        'NON_CANONICAL_ENCODING',
        field,
        'CompactSize not in its shortest form',
      );
    }
    if (value > 0x0200_0000) {
      throw new ChainInputError('TOO_LARGE', field, 'CompactSize above 0x02000000');
    }
    return value;
  }

  /**
   * Solana's compact-u16 ("shortvec"): 7 bits per byte, low bits first, the top bit set on every
   * byte but the last, at most 3 bytes and at most 0xffff. The Solana SDK refuses an encoding with
   * a zero final byte after the first (an alias of a shorter one) and a value that overflows 16
   * bits; so does this.
   */
  shortU16(field: string): number {
    let value = 0;
    for (let i = 0; i < 3; i++) {
      const b = this.byte(field);
      if (i > 0 && b === 0) {
        throw new ChainInputError(
          'NON_CANONICAL_ENCODING',
          field,
          'compact-u16 with a zero final byte',
        );
      }
      value |= (b & 0x7f) << (7 * i);
      if ((b & 0x80) === 0) {
        if (value > 0xffff)
          throw new ChainInputError('TOO_LARGE', field, 'compact-u16 above 0xffff');
        return value;
      }
    }
    throw new ChainInputError('MALFORMED_TRANSACTION', field, 'compact-u16 longer than 3 bytes');
  }

  /** Refuses anything left over: a trailing byte could be read differently by another parser. */
  end(field: string): void {
    if (this.remaining !== 0) {
      throw new ChainInputError('MALFORMED_TRANSACTION', field, `${this.remaining} trailing bytes`);
    }
  }
}

/** CompactSize encoding, the inverse of `ByteReader.compactSize`. */
export function compactSize(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`CompactSize value out of range: ${value}`);
  }
  if (value < 0xfd) return Uint8Array.of(value);
  if (value <= 0xffff) return Uint8Array.of(0xfd, value & 0xff, value >>> 8);
  return Uint8Array.of(0xfe, ...u32le(value));
}

/** compact-u16 encoding, the inverse of `ByteReader.shortU16`. */
export function shortU16(value: number): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new RangeError(`compact-u16 value out of range: ${value}`);
  }
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  out.push(rest);
  return Uint8Array.from(out);
}

export function u32le(value: number): Uint8Array {
  return Uint8Array.of(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24);
}

export function u64le(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  let rest = value;
  for (let i = 0; i < 8; i++) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}
