/**
 * Fiat-Shamir for the proofs of CGGMP21. Every value a challenge depends on goes in with a label
 * and a length prefix, and every transcript starts from the proof's name and a context that
 * binds the session id, the prover, the verifier and the round. Ambiguous concatenation (two
 * different statements hashing alike) and proofs replayed across sessions or parties broke other
 * threshold-ECDSA libraries (TSSHOCK, CVE-2022-47930); both are closed here by construction.
 */
import { sha512 } from '@noble/hashes/sha2.js';
import { concat, u16, u32, utf8 } from '../bytes.js';
import type { PartyId } from '../errors.js';
import type { Element } from '../group.js';
import { bitLength, fromBytes, mod } from '../bignum/arith.js';

/** What a proof is bound to, besides its statement. */
export interface ProofContext {
  /** The ceremony's session id (32 bytes). */
  readonly sessionId: Uint8Array;
  readonly prover: PartyId;
  /** The party the proof is for, or null when every party verifies the same proof. */
  readonly verifier: PartyId | null;
  /** Which round and purpose, e.g. "presign/1/enc". */
  readonly label: string;
}

function signedBytes(x: bigint): Uint8Array {
  const negative = x < 0n;
  let hex = (negative ? -x : x).toString(16);
  if (hex.length % 2) hex = '0' + hex;
  return concat(Uint8Array.of(negative ? 1 : 0), Uint8Array.from(Buffer.from(hex, 'hex')));
}

export class Transcript {
  readonly #parts: Uint8Array[] = [];

  constructor(proof: string, context: ProofContext) {
    this.bytes('proof', utf8(proof));
    this.bytes('session', context.sessionId);
    this.bytes('prover', u16(context.prover));
    this.bytes('verifier', context.verifier === null ? new Uint8Array(0) : u16(context.verifier));
    this.bytes('label', utf8(context.label));
  }

  bytes(label: string, value: Uint8Array): this {
    const l = utf8(label);
    this.#parts.push(u32(l.length), l, u32(value.length), value);
    return this;
  }

  int(label: string, value: bigint): this {
    return this.bytes(label, signedBytes(value));
  }

  ints(label: string, values: readonly bigint[]): this {
    this.bytes(label, u32(values.length));
    values.forEach((v, i) => this.int(`${label}[${i}]`, v));
    return this;
  }

  point(label: string, value: Element): this {
    return this.bytes(label, value.toBytes());
  }

  /** `bits` pseudo-random bits (SHA-512 in counter mode over the transcript). */
  #expand(domain: string, bits: number): bigint {
    const seed = concat(...this.#parts);
    const blocks: Uint8Array[] = [];
    for (let i = 0; blocks.length * 512 < bits; i++) {
      blocks.push(sha512(concat(utf8(domain), u32(i), seed)));
    }
    const all = fromBytes(concat(...blocks));
    return all >> BigInt(blocks.length * 512 - bits);
  }

  /** A challenge in [0, q), with 256 extra bits before reduction so its bias is negligible. */
  challenge(q: bigint): bigint {
    return mod(this.#expand('challenge', bitLength(q) + 256), q);
  }

  /** `count` challenges, each in [0, modulus). */
  challenges(count: number, modulus: bigint): bigint[] {
    const width = bitLength(modulus) + 256;
    const all = this.#expand('challenges', width * count);
    const out: bigint[] = [];
    const mask = (1n << BigInt(width)) - 1n;
    for (let i = 0; i < count; i++) out.push(mod((all >> BigInt(width * i)) & mask, modulus));
    return out;
  }

  /** `count` challenge bits. */
  bits(count: number): boolean[] {
    const all = this.#expand('bits', count);
    return Array.from({ length: count }, (_, i) => ((all >> BigInt(i)) & 1n) === 1n);
  }
}
