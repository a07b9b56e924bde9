/**
 * Binary codecs for protocol messages. Every field is fixed-length or length-prefixed, so an
 * encoding has one parse; every scalar must be canonical and every element a valid, non-identity
 * point of the prime-order group. Decoding failures name the sender.
 */
import { concat, u16, u32 } from './bytes.js';
import { ProtocolError, type PartyId } from './errors.js';
import type { Element, Group } from './group.js';

export class Writer {
  readonly #parts: Uint8Array[] = [];

  u8(n: number): this {
    this.#parts.push(Uint8Array.of(n & 0xff));
    return this;
  }
  u16(n: number): this {
    this.#parts.push(u16(n));
    return this;
  }
  /** A 32-bit unsigned integer, big-endian (epochs, counts). */
  u32(n: number): this {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
      throw new ProtocolError('INVALID_PARAMETERS', `${n} is not a 32-bit unsigned integer`);
    }
    this.#parts.push(u32(n));
    return this;
  }
  fixed(bytes: Uint8Array): this {
    this.#parts.push(bytes);
    return this;
  }
  /** u32 length prefix, then the bytes. */
  bytes(bytes: Uint8Array): this {
    this.#parts.push(u32(bytes.length), bytes);
    return this;
  }
  scalar(group: Group, k: bigint): this {
    return this.fixed(group.encodeScalar(k));
  }
  element(group: Group, p: Element): this {
    return this.fixed(group.encodeElement(p));
  }
  /** A signed integer: sign byte (0 or 1), u16 magnitude length, big-endian magnitude. */
  int(x: bigint): this {
    const negative = x < 0n;
    let hex = (negative ? -x : x).toString(16);
    if (hex === '0') hex = '';
    if (hex.length % 2) hex = '0' + hex;
    const magnitude = Uint8Array.from(Buffer.from(hex, 'hex'));
    this.u8(negative ? 1 : 0).u16(magnitude.length);
    this.#parts.push(magnitude);
    return this;
  }
  /** u16 count, then the elements. */
  elements(group: Group, list: readonly Element[]): this {
    this.u16(list.length);
    for (const p of list) this.element(group, p);
    return this;
  }
  finish(): Uint8Array {
    return concat(...this.#parts);
  }
}

export class Reader {
  readonly #bytes: Uint8Array;
  readonly #sender: PartyId[];
  #offset = 0;

  /** `sender` is blamed for anything that does not decode. */
  constructor(bytes: Uint8Array, sender: PartyId | null) {
    // A Node Buffer's slice() is a view, not a copy: read through a plain Uint8Array view of
    // the same memory, so that the copies decoders take really are copies (and survive the
    // caller wiping the input).
    this.#bytes =
      Object.getPrototypeOf(bytes) === Uint8Array.prototype
        ? bytes
        : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#sender = sender === null ? [] : [sender];
  }

  fail(what: string): never {
    throw new ProtocolError('MALFORMED_MESSAGE', what, this.#sender);
  }

  fixed(length: number, what = 'field'): Uint8Array {
    if (this.#offset + length > this.#bytes.length) this.fail(`${what}: message truncated`);
    const out = this.#bytes.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return out;
  }
  u8(what = 'u8'): number {
    return this.fixed(1, what)[0]!;
  }
  u16(what = 'u16'): number {
    const b = this.fixed(2, what);
    return (b[0]! << 8) | b[1]!;
  }
  u32(what = 'u32'): number {
    const b = this.fixed(4, what);
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  }
  bytes(maxLength: number, what = 'bytes'): Uint8Array {
    const b = this.fixed(4, what);
    const length = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    if (length > maxLength) this.fail(`${what}: ${length} bytes exceeds ${maxLength}`);
    return this.fixed(length, what);
  }
  /**
   * A signed integer written by `Writer.int`, refused when its magnitude exceeds `maxBits` bits
   * or is not minimally encoded (so each value has one encoding), or when it is a negative zero.
   */
  int(maxBits: number, what = 'integer'): bigint {
    const sign = this.u8(what);
    if (sign > 1) this.fail(`${what}: bad sign byte`);
    const length = this.u16(what);
    if (length > Math.ceil(maxBits / 8)) this.fail(`${what}: longer than ${maxBits} bits`);
    const magnitude = this.fixed(length, what);
    if (length > 0 && magnitude[0] === 0) this.fail(`${what}: not minimally encoded`);
    if (length === 0 && sign === 1) this.fail(`${what}: negative zero`);
    const value = length === 0 ? 0n : BigInt('0x' + Buffer.from(magnitude).toString('hex'));
    if (value.toString(2).length > maxBits && value !== 0n)
      this.fail(`${what}: longer than ${maxBits} bits`);
    return sign === 1 ? -value : value;
  }
  /** A non-negative integer below `bound` (exclusive), e.g. a residue mod N. */
  residue(bound: bigint, what = 'residue'): bigint {
    const x = this.int(bound.toString(2).length, what);
    if (x < 0n || x >= bound) this.fail(`${what}: out of range`);
    return x;
  }
  scalar(group: Group, what = 'scalar'): bigint {
    const k = group.decodeScalar(this.fixed(group.scalarLength, what));
    if (k === null) this.fail(`${what}: not a canonical scalar below the group order`);
    return k;
  }
  element(group: Group, what = 'element'): Element {
    const p = group.decodeElement(this.fixed(group.elementLength, what));
    if (!p) this.fail(`${what}: not a valid non-identity point of the group`);
    return p;
  }
  elements(group: Group, expected: number, what = 'elements'): Element[] {
    const count = this.u16(what);
    if (count !== expected) this.fail(`${what}: expected ${expected}, got ${count}`);
    const out: Element[] = [];
    for (let i = 0; i < count; i++) out.push(this.element(group, `${what}[${i}]`));
    return out;
  }
  /** Refuses trailing bytes: a message has exactly one encoding. */
  end(): void {
    if (this.#offset !== this.#bytes.length) this.fail('trailing bytes after message');
  }
}

/** Encodes one value with its writer function (proof blobs inside messages). */
export function encodeWith<T>(value: T, write: (w: Writer, value: T) => void): Uint8Array {
  const w = new Writer();
  write(w, value);
  return w.finish();
}

/**
 * Decodes a blob completely with its reader function; anything malformed or trailing is
 * blamed on `sender`.
 */
export function decodeWith<T>(bytes: Uint8Array, sender: PartyId, read: (r: Reader) => T): T {
  const r = new Reader(bytes, sender);
  const value = read(r);
  r.end();
  return value;
}
