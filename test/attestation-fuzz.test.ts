/**
 * Property tests: whatever bytes arrive, `verifyAttestation` returns a result (never throws),
 * and a result is either valid or carries one of the contract's error codes. Inputs are random
 * byte strings, random CBOR values inside a real COSE envelope, and real documents with random
 * bit flips, truncations, insertions and deletions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Encoder } from 'cbor-x';
import { decodeAttestation, verifyAttestation, type VerifyResult } from '../attestation/index.js';
import { vectorPath } from './helpers.js';

const CODES = new Set([
  'MALFORMED',
  'BAD_SIGNATURE',
  'CHAIN_INVALID',
  'UNTRUSTED_ROOT',
  'EXPIRED',
  'NOT_YET_VALID',
  'PCR_MISMATCH',
  'DEBUG_MODE',
  'NONCE_MISMATCH',
]);

const DOCS = [
  ['evervault-beta-valid-attestation-doc.cbor', '2022-10-13T09:00:00Z'],
  ['evervault-ga-valid-attestation-doc.cbor', '2023-09-18T15:16:05Z'],
  ['evervault-beta-debug-mode-attestation-doc.cbor', '2022-10-12T14:00:00Z'],
].map(([file, at]) => ({
  bytes: new Uint8Array(readFileSync(vectorPath('attestation', file!))),
  at: new Date(at!),
}));

/** Calls the verifier and checks the shape of what comes back; a throw fails the property. */
function wellFormedResult(bytes: Uint8Array, at: Date): VerifyResult {
  const result = verifyAttestation(bytes, { at, allowDebug: true });
  if (result.valid) {
    assert.ok(result.certificates.length >= 1);
  } else {
    assert.ok(CODES.has(result.error.code), result.error.code);
    assert.equal(typeof result.error.message, 'string');
  }
  return result;
}

type Mutation =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    mask: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({
    kind: fc.constant('delete' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 64 }),
  }),
);

function apply(bytes: Uint8Array, m: Mutation): Uint8Array {
  const at = m.at % (bytes.length + 1);
  switch (m.kind) {
    case 'flip': {
      if (bytes.length === 0) return bytes;
      const out = new Uint8Array(bytes);
      out[at % bytes.length]! ^= m.mask;
      return out;
    }
    case 'truncate':
      return bytes.subarray(0, Math.min(at, bytes.length - 1));
    case 'insert':
      return Uint8Array.from([...bytes.subarray(0, at), ...m.bytes, ...bytes.subarray(at)]);
    case 'delete':
      return Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + m.length)]);
  }
}

test('random byte strings are never valid and never throw', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
      assert.equal(wellFormedResult(bytes, DOCS[0]!.at).valid, false);
    }),
    { numRuns: 100 },
  );
});

test('random byte strings behind a COSE_Sign1 prefix are never valid and never throw', () => {
  // 84 44 a1013822 a0 59 …: a real document's first bytes, so the walk goes past the envelope.
  const prefix = DOCS[0]!.bytes.subarray(0, 10);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2048 }), (tail) => {
      assert.equal(
        wellFormedResult(Uint8Array.from([...prefix, ...tail]), DOCS[0]!.at).valid,
        false,
      );
    }),
    { numRuns: 50 },
  );
});

test('random CBOR payloads inside a real envelope are refused and never throw', () => {
  const encoder = new Encoder({ useRecords: false, tagUint8Array: false, mapsAsObjects: false });
  const real = decodeAttestation(DOCS[0]!.bytes);
  fc.assert(
    fc.property(
      fc.anything({ withMap: true, withBigInt: true, withTypedArray: true, maxDepth: 4 }),
      (value) => {
        let payload: Uint8Array;
        try {
          payload = new Uint8Array(encoder.encode(value));
        } catch {
          return; // a value cbor-x cannot encode is not an input
        }
        const doc = new Uint8Array(
          encoder.encode([real.protectedHeader, new Map(), payload, real.signature]),
        );
        assert.equal(wellFormedResult(doc, DOCS[0]!.at).valid, false);
      },
    ),
    { numRuns: 100 },
  );
});

test('real documents with random mutations return a result and never throw', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: DOCS.length - 1 }),
      fc.array(mutation, { minLength: 1, maxLength: 4 }),
      (which, mutations) => {
        const doc = DOCS[which]!;
        const mutated = mutations.reduce(apply, doc.bytes);
        const result = wellFormedResult(mutated, doc.at);
        // Some edits survive (a tag 18 inserted in front, an insertion a deletion undoes), but
        // whatever is accepted must carry exactly the signed payload and signature.
        if (result.valid) {
          const original = decodeAttestation(doc.bytes);
          const accepted = decodeAttestation(mutated);
          assert.deepEqual(accepted.payloadBytes, original.payloadBytes);
          assert.deepEqual(accepted.signature, original.signature);
        }
      },
    ),
    { numRuns: 300 },
  );
});
