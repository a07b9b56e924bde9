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
    this.#bytes = bytes;
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
  bytes(maxLength: number, what = 'bytes'): Uint8Array {
    const b = this.fixed(4, what);
    const length = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    if (length > maxLength) this.fail(`${what}: ${length} bytes exceeds ${maxLength}`);
    return this.fixed(length, what);
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
