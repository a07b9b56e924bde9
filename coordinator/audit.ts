/**
 * The audit log: an append-only list of entries, each hash-chained to the one before, so that a
 * reviewer holding an export can tell whether any entry was changed, removed or reordered, and
 * where. An entry records who asked what, which parties took part, the outcome, the digest
 * signed and the timings; a signing entry also carries each participating enclave's
 * acknowledgement, an Ed25519 signature made with a key that the enclave's attestation document
 * binds (see `ackMessage`), so the enclaves' own word is in the log, not only the coordinator's.
 *
 * Encoding, fixed so that anyone can recompute it:
 *   body = canonical JSON of the entry (object keys sorted, no whitespace, UTF-8)
 *   hash = SHA-256( "mpc-kms/audit/v1" 0x00 prevHash(hex) 0x00 seq(decimal) 0x00 body )
 * with prevHash = 64 zeros for the first entry.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);
const DOMAIN = 'mpc-kms/audit/v1';

/** JSON with object keys sorted at every level and no whitespace: one text per value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new TypeError('audit entries hold only finite numbers');
    }
    if (typeof value === 'bigint' || typeof value === 'function' || value === undefined) {
      throw new TypeError(`audit entries cannot hold ${typeof value}`);
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The hash that links entry `seq` with body `body` to its predecessor's hash. */
export function linkHash(prevHash: string, seq: number, body: string): string {
  return createHash('sha256').update(`${DOMAIN}\0${prevHash}\0${seq}\0`).update(body).digest('hex');
}

export { ackMessage } from '../enclave/index.js';

/** One exported entry, as `GET /v1/audit` lists it. */
export interface ExportedEntry {
  readonly seq: number;
  readonly entry: unknown;
  readonly prevHash: string;
  readonly hash: string;
}

export type ChainCheck =
  | { readonly valid: true; readonly entries: number; readonly head: string }
  | { readonly valid: false; readonly seq: number; readonly reason: string };

/**
 * Checks an exported chain from its first entry: consecutive sequence numbers, each prevHash the
 * previous entry's hash (the first one's the genesis hash, when the export starts at 1), each
 * hash recomputed from the canonical body. Reports the first broken link.
 */
export function verifyChain(entries: readonly ExportedEntry[]): ChainCheck {
  let prev: ExportedEntry | null = null;
  for (const e of entries) {
    const fail = (reason: string): ChainCheck => ({ valid: false, seq: e.seq, reason });
    if (!Number.isInteger(e.seq) || e.seq < 1) return fail('sequence number is not positive');
    if (prev !== null && e.seq !== prev.seq + 1) return fail(`follows entry ${prev.seq}`);
    if (prev === null && e.seq === 1 && e.prevHash !== GENESIS_HASH) {
      return fail('first entry does not start from the genesis hash');
    }
    if (prev !== null && e.prevHash !== prev.hash)
      return fail("prevHash is not the previous entry's hash");
    let body: string;
    try {
      body = canonicalJson(e.entry);
    } catch {
      return fail('entry is not canonical JSON data');
    }
    if (linkHash(e.prevHash, e.seq, body) !== e.hash) return fail('hash does not match the entry');
    prev = e;
  }
  return { valid: true, entries: entries.length, head: prev?.hash ?? GENESIS_HASH };
}

/** Verifies an enclave's acknowledgement with its raw 32-byte Ed25519 key. */
export function verifyAck(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  const key = createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), publicKey]),
    format: 'der',
    type: 'spki',
  });
  return verify(null, message, key, signature);
}
