/**
 * CBOR (RFC 8949), just the items an attestation document holds. Written out rather than taken
 * from cbor-x because the NSM's bytes are fixed: cbor-x writes a millisecond timestamp as a
 * float64, a Uint8Array as a tagged typed array and a Map with a tag, none of which AWS does.
 * (Decoding goes through ./cbor.ts, which does use cbor-x.)
 */

function cborHead(major: number, value: number): Uint8Array {
  const type = major << 5;
  if (value < 24) return Uint8Array.of(type | value);
  if (value < 0x100) return Uint8Array.of(type | 24, value);
  if (value < 0x10000) return Uint8Array.of(type | 25, value >> 8, value & 0xff);
  const out = new Uint8Array(value < 0x100000000 ? 5 : 9);
  const view = new DataView(out.buffer);
  if (out.length === 5) {
    out[0] = type | 26;
    view.setUint32(1, value);
  } else {
    out[0] = type | 27;
    view.setBigUint64(1, BigInt(value));
  }
  return out;
}

export const cbor = {
  uint: (n: number): Uint8Array => cborHead(0, n),
  negative: (n: number): Uint8Array => cborHead(1, -1 - n),
  bytes: (b: Uint8Array): Uint8Array => join([cborHead(2, b.length), b]),
  optionalBytes: (b: Uint8Array | null): Uint8Array =>
    b === null ? Uint8Array.of(0xf6) : cbor.bytes(b),
  text: (s: string): Uint8Array => {
    const b = new TextEncoder().encode(s);
    return join([cborHead(3, b.length), b]);
  },
  array: (items: readonly Uint8Array[]): Uint8Array => join([cborHead(4, items.length), ...items]),
  map: (entries: readonly (readonly [Uint8Array, Uint8Array])[]): Uint8Array =>
    join([cborHead(5, entries.length), ...entries.flat()]),
};

function join(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}
