/** Shared test helpers: a deterministic random source and the path to ../shared/vectors. */
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
