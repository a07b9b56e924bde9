/**
 * Strict CBOR (RFC 8949) for attestation documents. cbor-x does the decoding, but it is a
 * lenient, general-purpose decoder: it merges duplicate map keys (last one wins), reads
 * indefinite-length items, turns tags into typed arrays or class instances, and replaces invalid
 * UTF-8. A document that two parsers could read differently is a parser-differential attack
 * waiting to happen, so every item passes through `scan` first, which accepts only the profile
 * attestation documents use and throws MALFORMED for anything else.
 */
import { Decoder } from 'cbor-x';
import { AttestationError } from './types.js';

/** Deepest nesting the documents need is 3 (payload map > pcrs map > value); 8 leaves room. */
const MAX_DEPTH = 8;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Maps stay Maps (integer keys survive as numbers, `__proto__` is just a key) and the record
 * extension stays off. `scan` has already refused every tag, so cbor-x's tag handlers never run.
 */
const decoder = new Decoder({ mapsAsObjects: false, useRecords: false });

function malformed(message: string): never {
  throw new AttestationError('MALFORMED', message);
}

/** What `scan` accepts beyond the plain profile. */
export interface ScanOptions {
  /** Accept one COSE_Sign1 tag (18) on the top-level item (RFC 9052 §4.2). */
  readonly allowSign1Tag?: boolean;
}

/**
 * Walks one CBOR item that must fill `bytes` exactly and throws MALFORMED unless it is
 * well-formed and within the profile: definite lengths only; no tags (except an optional 18 on
 * the top item); no floats, no simple values but false, true, null and undefined; map keys are
 * integers or text, each at most once; text is valid UTF-8; nesting at most 8 deep. Returns
 * the offset of the top-level item, past any tag.
 */
export function scan(bytes: Uint8Array, options: ScanOptions = {}): number {
  let pos = 0;
  let topItem = 0;

  /** Reads an initial byte and its argument (RFC 8949 §3). */
  const head = (): { major: number; value: bigint } => {
    if (pos >= bytes.length) malformed('CBOR ends inside an item');
    const initial = bytes[pos++]!;
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (info < 24) return { major, value: BigInt(info) };
    if (info === 31) malformed('indefinite-length CBOR items are not accepted');
    if (info > 27) malformed(`reserved CBOR additional information ${info}`);
    const size = 1 << (info - 24);
    if (pos + size > bytes.length) malformed('CBOR ends inside an item header');
    let value = 0n;
    for (let i = 0; i < size; i++) value = (value << 8n) | BigInt(bytes[pos++]!);
    return { major, value };
  };

  /** A length or count, bounded by what is left: each element needs at least one byte. */
  const count = (value: bigint, perElement: number): number => {
    if (value * BigInt(perElement) > BigInt(bytes.length - pos)) {
      malformed('CBOR length runs past the end of the input');
    }
    return Number(value);
  };

  /** Skips one item; returns a key identity for integer and text items, null for others. */
  const item = (depth: number): string | null => {
    const start = pos;
    const { major, value } = head();
    switch (major) {
      case 0:
        return `u${value}`;
      case 1:
        return `n${value}`;
      case 2:
        pos += count(value, 1);
        return null;
      case 3: {
        const length = count(value, 1);
        let text: string;
        try {
          text = utf8.decode(bytes.subarray(pos, pos + length));
        } catch {
          malformed('CBOR text string is not valid UTF-8');
        }
        pos += length;
        return `t${text}`;
      }
      case 4: {
        if (depth >= MAX_DEPTH) malformed('CBOR nested too deeply');
        const n = count(value, 1);
        for (let i = 0; i < n; i++) item(depth + 1);
        return null;
      }
      case 5: {
        if (depth >= MAX_DEPTH) malformed('CBOR nested too deeply');
        const n = count(value, 2);
        // Identities, not raw bytes: 0x01 and 0x1801 are the same key to cbor-x's Map.
        const keys = new Set<string>();
        for (let i = 0; i < n; i++) {
          const key = item(depth + 1);
          if (key === null) malformed('CBOR map key is neither an integer nor text');
          if (keys.has(key)) malformed('CBOR map has a duplicate key');
          keys.add(key);
          item(depth + 1);
        }
        return null;
      }
      case 6:
        if (start === 0 && options.allowSign1Tag && value === 18n) {
          topItem = pos;
          item(depth);
          return null;
        }
        return malformed(`CBOR tag ${value} is not accepted here`);
      default: {
        // Major type 7: false, true, null and undefined only. No field is a float, and refusing
        // them here is what lets the schema treat every number cbor-x returns as an integer.
        const info = bytes[start]! & 0x1f;
        if (info >= 20 && info <= 23) return null;
        return malformed(
          'CBOR floats and simple values other than false/true/null are not accepted',
        );
      }
    }
  };

  item(0);
  if (pos !== bytes.length) malformed(`${bytes.length - pos} bytes follow the CBOR item`);
  return topItem;
}

/**
 * Scans, then decodes with cbor-x. Maps come back as `Map`, byte strings as `Uint8Array`
 * (Node Buffers), integers beyond 32 bits possibly as `bigint`.
 */
export function decodeStrict(bytes: Uint8Array, options: ScanOptions = {}): unknown {
  const start = scan(bytes, options);
  try {
    return decoder.decode(bytes.subarray(start));
  } catch (err) {
    // The scan accepts only what cbor-x reads; reaching here is a cbor-x surprise, still fail closed.
    return malformed(`CBOR decoding failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}
