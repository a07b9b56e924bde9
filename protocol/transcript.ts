/**
 * Domain-separated hashing for transcripts, commitments and Fiat-Shamir challenges. Every input
 * is length-prefixed and tagged, so two different part lists never hash the same (the ambiguity
 * behind TSSHOCK-style attacks on other threshold libraries).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, u16, u32, utf8 } from './bytes.js';
import type { PartyId } from './errors.js';

export function framed(tag: string, parts: readonly Uint8Array[]): Uint8Array {
  const tagBytes = utf8(tag);
  const pieces: Uint8Array[] = [u32(tagBytes.length), tagBytes];
  for (const p of parts) pieces.push(u32(p.length), p);
  return concat(...pieces);
}

/** SHA-256 over a tagged, framed list of parts. */
export function digest(tag: string, ...parts: Uint8Array[]): Uint8Array {
  return sha256(framed(tag, parts));
}

/** A party list as bytes, for binding into transcripts. */
export function encodeParties(parties: readonly PartyId[]): Uint8Array {
  return concat(...parties.map(u16));
}
