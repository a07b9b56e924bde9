/**
 * The sealing path's pure parts: the share record codec, the sealed blob's layout and header
 * binding, and the epoch decision that recovery after a crash relies on. The end-to-end path
 * through KMS and Secrets Manager is in sealing.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { runDkg } from '../protocol/ceremonies.js';
import { toHex } from '../protocol/bytes.js';
import { sealAuxInfo, type AuxInfo } from '../protocol/ecdsa/aux-info.js';
import type { PartyId } from '../protocol/errors.js';
import { ed25519Group, secp256k1Group } from '../protocol/group.js';
import type { KeyShare } from '../protocol/keyshare.js';
import { PaillierSecretKey, paillierPublicKey } from '../protocol/paillier/paillier.js';
import {
  SealError,
  decideEpoch,
  decodeSealedBlob,
  decodeShareRecord,
  encodeSealedBlob,
  encodeShareRecord,
  expectBinding,
  type StoredShares,
} from '../enclave/index.js';
import { primePair } from './ecdsa-fixtures.js';
import { seededRng } from './helpers.js';

const PARTIES: PartyId[] = [1, 2, 3];

function edShares(seed: string): KeyShare[] {
  return runDkg(ed25519Group, PARTIES, 2, { rng: seededRng(seed) });
}

/**
 * Auxiliary data shaped like the real thing, from the fixture primes. The codec checks
 * factorisation and sizes, not the aux proofs (those were checked when the aux was made).
 */
function fixtureAux(share: KeyShare): AuxInfo {
  const parties = new Map(
    share.parties.map((id) => {
      const { p, q } = primePair(id - 1);
      const N = p * q;
      return [id, { paillier: paillierPublicKey(N), rp: { N, s: 4n, t: 9n } }];
    }),
  );
  const { p, q } = primePair(share.self - 1);
  return sealAuxInfo({
    keySessionId: share.keySessionId,
    epoch: share.epoch,
    self: share.self,
    paillierSecret: new PaillierSecretKey(p, q),
    parties,
  });
}

function assertSameShare(a: KeyShare, b: KeyShare): void {
  assert.equal(a.group, b.group);
  assert.equal(a.self, b.self);
  assert.equal(a.epoch, b.epoch);
  assert.equal(a.threshold, b.threshold);
  assert.deepEqual(a.parties, b.parties);
  assert.equal(toHex(a.keySessionId), toHex(b.keySessionId));
  assert.equal(toHex(a.chainCode), toHex(b.chainCode));
  assert.ok(a.publicKey.equals(b.publicKey));
  for (const id of a.parties) {
    assert.ok(a.verificationShares.get(id)!.equals(b.verificationShares.get(id)!));
  }
  assert.equal(a.secretShare.reveal(), b.secretShare.reveal());
}

test('a record round-trips for every party of an Ed25519 key', () => {
  for (const share of edShares('records/ed')) {
    const bytes = encodeShareRecord({
      keyId: 'key-ed',
      scheme: 'eddsa-ed25519',
      allowedSignerSets: [],
      share,
      aux: null,
    });
    const back = decodeShareRecord(bytes, { keyId: 'key-ed', partyId: share.self, epoch: 0 });
    assert.equal(back.keyId, 'key-ed');
    assert.equal(back.aux, null);
    assertSameShare(back.share, share);
  }
});

test('an ECDSA record carries the Paillier secret and every party ring-Pedersen parameters', () => {
  const shares = runDkg(secp256k1Group, PARTIES, 2, { rng: seededRng('records/ecdsa') });
  const share = shares[1]!;
  const aux = fixtureAux(share);
  const bytes = encodeShareRecord({
    keyId: 'key-ecdsa',
    scheme: 'ecdsa-secp256k1',
    allowedSignerSets: [
      [1, 2],
      [2, 3],
    ],
    share,
    aux,
  });
  const back = decodeShareRecord(bytes, { keyId: 'key-ecdsa', partyId: 2, epoch: 0 });
  assertSameShare(back.share, share);
  assert.equal(back.scheme, 'ecdsa-secp256k1');
  assert.deepEqual(back.allowedSignerSets, [
    [1, 2],
    [2, 3],
  ]);
  assert.equal(back.aux!.paillierSecret.p, aux.paillierSecret.p);
  assert.equal(back.aux!.paillierSecret.q, aux.paillierSecret.q);
  for (const id of PARTIES) {
    assert.deepEqual(back.aux!.parties.get(id)!.rp, aux.parties.get(id)!.rp);
  }
  // The secret never shows when the decoded record is printed or serialised.
  const printed = JSON.stringify(back);
  assert.ok(!printed.includes(share.secretShare.reveal().toString(16)));
  assert.ok(!printed.includes(aux.paillierSecret.p.toString()));
});

test('a record for another key, party or epoch is refused as BLOB_MISMATCH', () => {
  const share = edShares('records/mismatch')[0]!;
  const bytes = encodeShareRecord({
    keyId: 'key-a',
    scheme: 'eddsa-ed25519',
    allowedSignerSets: [],
    share,
    aux: null,
  });
  for (const expected of [
    { keyId: 'key-b', partyId: 1, epoch: 0 },
    { keyId: 'key-a', partyId: 2, epoch: 0 },
    { keyId: 'key-a', partyId: 1, epoch: 1 },
  ]) {
    assert.throws(() => decodeShareRecord(bytes, expected), { code: 'BLOB_MISMATCH' });
  }
});

test('a record whose secret share does not match its verification share is refused', () => {
  const [a, b] = edShares('records/inconsistent');
  // Party 1's public data with party 2's secret: decodes, but s·G ≠ Y_1.
  const forged = { ...a!, secretShare: b!.secretShare };
  const bytes = encodeShareRecord({
    keyId: 'key-x',
    scheme: 'eddsa-ed25519',
    allowedSignerSets: [],
    share: forged,
    aux: null,
  });
  assert.throws(() => decodeShareRecord(bytes, { keyId: 'key-x', partyId: 1, epoch: 0 }), {
    code: 'BLOB_MALFORMED',
    message: /Y_self/,
  });
});

test('a truncated or altered record is refused with a SealError, never another exception', () => {
  const share = edShares('records/fuzz')[2]!;
  const bytes = encodeShareRecord({
    keyId: 'key-f',
    scheme: 'eddsa-ed25519',
    allowedSignerSets: [],
    share,
    aux: null,
  });
  const expected = { keyId: 'key-f', partyId: 3, epoch: 0 };
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(() => decodeShareRecord(bytes.subarray(0, n), expected), SealError);
  }
  fc.assert(
    fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), (at, mask) => {
      const mutated = Uint8Array.from(bytes);
      mutated[at]! ^= mask;
      // Flips in the session id or chain code still decode: the AEAD, not the codec, guards
      // them. What must hold is that nothing but a SealError ever escapes.
      try {
        decodeShareRecord(mutated, expected);
        return true;
      } catch (error) {
        return error instanceof SealError;
      }
    }),
    { numRuns: 300 },
  );
});

test('a sealed blob round-trips and names its binding in a public header', () => {
  const blob = {
    header: { keyId: 'key-1', partyId: 2, epoch: 7, publicKey: new Uint8Array(32).fill(5) },
    kmsCiphertext: new Uint8Array(180).fill(1),
    iv: new Uint8Array(12).fill(2),
    ciphertext: new Uint8Array(400).fill(3),
  };
  const bytes = encodeSealedBlob(blob);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), 'MKSB');
  assert.deepEqual(decodeSealedBlob(bytes), blob);
  expectBinding(blob.header, { keyId: 'key-1', partyId: 2, epoch: 7 });
  assert.throws(() => expectBinding(blob.header, { keyId: 'key-1', partyId: 2, epoch: 6 }), {
    code: 'BLOB_MISMATCH',
  });
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(() => decodeSealedBlob(bytes.subarray(0, n)), { code: 'BLOB_MALFORMED' });
  }
  assert.throws(() => decodeSealedBlob(Uint8Array.from([...bytes, 0])), {
    code: 'BLOB_MALFORMED',
  });
  const badVersion = Uint8Array.from(bytes);
  badVersion[4] = 2;
  assert.throws(() => decodeSealedBlob(badVersion), { code: 'BLOB_MALFORMED' });
});

// ---------------------------------------------------------------------------------------------
// The epoch decision

function stored(
  current: number | null,
  pending: number | null = null,
  previous: number | null = null,
): StoredShares {
  const version = (epoch: number | null, id: string) =>
    epoch === null ? null : { versionId: `${id}-${epoch}`, epoch, blob: new Uint8Array() };
  return {
    current: version(current, 'v'),
    previous: version(previous, 'v'),
    // Equal epochs share a version id: the label sits on that same version.
    pending: version(pending, 'v'),
  };
}

function decide(...parties: StoredShares[]) {
  const decision = decideEpoch(new Map(parties.map((s, i) => [i + 1, s])));
  return {
    epoch: decision.confirmedEpoch,
    actions: [...decision.actions.values()].map((a) => (a.kind === 'none' ? '-' : a.kind)),
  };
}

test('creation: a key exists only once every party has sealed epoch 0', () => {
  assert.deepEqual(decide(stored(null, 0), stored(null, 0), stored(null)), {
    epoch: null,
    actions: ['discard', 'discard', '-'],
  });
  // Secrets Manager makes a first version AWSCURRENT at once: the label proves nothing.
  assert.deepEqual(decide(stored(0, 0), stored(null)), {
    epoch: null,
    actions: ['discard', '-'],
  });
  assert.deepEqual(decide(stored(null, 0), stored(null, 0), stored(null, 0)), {
    epoch: 0,
    actions: ['commit', 'commit', 'commit'],
  });
  assert.deepEqual(decide(stored(0), stored(null, 0), stored(null, 0)), {
    epoch: 0,
    actions: ['-', 'commit', 'commit'],
  });
});

test('refresh: roll back unless every party staged, roll forward once any committed', () => {
  // Two of three staged epoch 1: epoch 0 stays, the staged versions are dropped.
  assert.deepEqual(decide(stored(0, 1), stored(0, 1), stored(0)), {
    epoch: 0,
    actions: ['discard', 'discard', '-'],
  });
  // All staged: commit everywhere.
  assert.deepEqual(decide(stored(0, 1), stored(0, 1), stored(0, 1)), {
    epoch: 1,
    actions: ['commit', 'commit', 'commit'],
  });
  // One committed (its old epoch now AWSPREVIOUS), the others still staged.
  assert.deepEqual(decide(stored(1, null, 0), stored(0, 1), stored(0, 1)), {
    epoch: 1,
    actions: ['-', 'commit', 'commit'],
  });
  // Committed, but the pending label was not yet dropped (same version): finish the commit.
  assert.deepEqual(decide(stored(1, 1, 0), stored(1, null, 0), stored(1, null, 0)), {
    epoch: 1,
    actions: ['commit', '-', '-'],
  });
  // A stale staged epoch below the confirmed one is dropped.
  assert.deepEqual(decide(stored(2, 1, 1), stored(2, null, 1), stored(2, null, 1)), {
    epoch: 2,
    actions: ['discard', '-', '-'],
  });
});
