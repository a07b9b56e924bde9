/** Shared test helpers: a deterministic random source and the path to ../shared/vectors. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, u32, utf8 } from '../protocol/bytes.js';
import type { Rng } from '../protocol/random.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function vectorPath(...parts: string[]): string {
  return join(root, '..', 'shared', 'vectors', ...parts);
}

/** A reproducible byte stream (SHA-256 in counter mode over a seed): tests only. */
export function seededRng(seed: string | number): Rng {
  const seedBytes = utf8(String(seed));
  let counter = 0;
  return (length: number) => {
    const out = new Uint8Array(length);
    for (let offset = 0; offset < length; offset += 32) {
      const block = sha256(concat(seedBytes, u32(counter++)));
      out.set(block.subarray(0, Math.min(32, length - offset)), offset);
    }
    return out;
  };
}

/**
 * The 24 public safe primes of 1024 bits in test/fixtures (pairs give 2048-bit Paillier-Blum
 * moduli), so tests do not spend seconds generating primes.
 */
export const SAFE_PRIMES: readonly bigint[] = (
  JSON.parse(readFileSync(join(root, 'test', 'fixtures', 'safe-primes-1024.json'), 'utf8')) as {
    primes: string[];
  }
).primes.map(BigInt);
