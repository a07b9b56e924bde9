import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { runDkg, runRefresh } from '../protocol/ceremonies.js';
import { createDkg } from '../protocol/dkg/index.js';
import { toHex } from '../protocol/bytes.js';
import { ed25519Group, secp256k1Group, type Group } from '../protocol/group.js';
import type { KeyShare } from '../protocol/keyshare.js';
import { lagrangeCoefficient } from '../protocol/polynomial.js';
import { expectProtocolError, range, subsets } from './network-faults.js';
import { seededRng } from './helpers.js';

const GROUPS: readonly Group[] = [ed25519Group, secp256k1Group];
const CONFIGS: readonly [number, number][] = [
  [1, 1],
  [1, 3],
  [2, 3],
  [3, 3],
  [3, 5],
  [4, 7],
  [7, 7],
];

/** Σ λ_i·s_i over the given shares: the secret if there are at least t of them. */
function interpolate(group: Group, shares: readonly KeyShare[]): bigint {
  const ids = shares.map((s) => BigInt(s.self));
  let x = 0n;
  for (const s of shares) {
    x = group.mod(x + lagrangeCoefficient(group, ids, BigInt(s.self)) * s.secretShare.reveal());
  }
  return x;
}

function assertConsistent(group: Group, shares: readonly KeyShare[], parties: number[], t: number) {
  const sorted = [...parties].sort((a, b) => a - b);
  assert.equal(shares.length, parties.length);
  const first = shares[0]!;
  for (const [i, s] of shares.entries()) {
    assert.ok(s, `party ${sorted[i]} has no share`);
    assert.equal(s.self, sorted[i]);
    assert.equal(s.group, group.name);
    assert.equal(s.threshold, t);
    assert.equal(s.epoch, 0);
    assert.deepEqual([...s.parties], sorted);
    assert.equal(toHex(s.keySessionId), toHex(first.keySessionId));
    assert.ok(s.publicKey.equals(first.publicKey), `party ${s.self} disagrees on the public key`);
    assert.ok(!s.publicKey.is0());
    assert.equal(s.chainCode.length, 32);
    assert.equal(toHex(s.chainCode), toHex(first.chainCode));
    assert.deepEqual(
      [...s.verificationShares.keys()].sort((a, b) => a - b),
      sorted,
    );
    for (const p of sorted) {
      assert.ok(
        s.verificationShares.get(p)!.equals(first.verificationShares.get(p)!),
        `parties ${s.self} and ${first.self} disagree on Y_${p}`,
      );
    }
    assert.ok(
      group.mulBase(s.secretShare.reveal()).equals(s.verificationShares.get(s.self)!),
      `party ${s.self}: secret share does not match its verification share`,
    );
  }
  // Distinct parties hold distinct shares unless the polynomial is constant (t = 1).
  const distinct = new Set(shares.map((s) => toHex(s.secretShare.toBytes())));
  assert.equal(distinct.size, t === 1 ? 1 : shares.length);
}

for (const group of GROUPS) {
  for (const [t, n] of CONFIGS) {
    test(`${group.name} ${t}-of-${n} DKG: shares agree and any ${t} of them (not ${t - 1}) rebuild the key`, () => {
      const parties = range(n);
      const shares = runDkg(group, parties, t, { rng: seededRng(`dkg/${group.name}/${t}/${n}`) });
      assertConsistent(group, shares, parties, t);
      const { publicKey } = shares[0]!;
      for (const subset of subsets(shares, t)) {
        const x = interpolate(group, subset);
        assert.ok(
          group.mulBase(x).equals(publicKey),
          `shares ${subset.map((s) => s.self)} miss the key`,
        );
        // The public side interpolates the same way: Σ λ_i·Y_i = PK.
        const ids = subset.map((s) => BigInt(s.self));
        const Y = group.msm(
          subset.map((s) => s.verificationShares.get(s.self)!),
          subset.map((s) => lagrangeCoefficient(group, ids, BigInt(s.self))),
        );
        assert.ok(Y.equals(publicKey));
      }
      if (t > 1) {
        for (const subset of subsets(shares, t - 1)) {
          const x = interpolate(group, subset);
          assert.ok(
            !group.mulBase(x).equals(publicKey),
            `${t - 1} shares ${subset.map((s) => s.self)} rebuilt the key`,
          );
        }
      }
    });
  }

  test(`${group.name} DKG with non-contiguous, unsorted party ids`, () => {
    const parties = [500, 2, 9, 0xfffe];
    const shares = runDkg(group, parties, 3, { rng: seededRng(`dkg/ids/${group.name}`) });
    assertConsistent(group, shares, parties, 3);
    for (const subset of subsets(shares, 3)) {
      assert.ok(group.mulBase(interpolate(group, subset)).equals(shares[0]!.publicKey));
    }
  });

  test(`${group.name} DKG: two sessions give independent keys and chain codes; the session id is the key id`, () => {
    const sessionId = seededRng('sid')(32);
    const a = runDkg(group, [1, 2, 3], 2, { rng: seededRng('a'), sessionId });
    const b = runDkg(group, [1, 2, 3], 2, { rng: seededRng('b') });
    assert.equal(toHex(a[0]!.keySessionId), toHex(sessionId));
    assert.ok(!a[0]!.publicKey.equals(b[0]!.publicKey));
    assert.notEqual(toHex(a[0]!.chainCode), toHex(b[0]!.chainCode));
  });

  test(`${group.name} DKG refuses invalid parameters with INVALID_PARAMETERS`, () => {
    const rng = seededRng('params');
    const sessionId = rng(32);
    const base = { group, sessionId, self: 1, parties: [1, 2, 3], threshold: 2 };
    const cases: [string, typeof base][] = [
      ['threshold 0', { ...base, threshold: 0 }],
      ['threshold > n', { ...base, threshold: 4 }],
      ['negative threshold', { ...base, threshold: -1 }],
      ['fractional threshold', { ...base, threshold: 1.5 }],
      ['duplicate party ids', { ...base, parties: [1, 2, 2] }],
      ['duplicate party ids, unsorted', { ...base, parties: [3, 1, 3] }],
      ['self not a participant', { ...base, self: 4 }],
      ['party id 0', { ...base, parties: [0, 1, 2] }],
      ['party id beyond u16 range', { ...base, parties: [1, 2, 0x10000] }],
      ['party id 0xffff (the broadcast address)', { ...base, parties: [1, 2, 0xffff] }],
      ['31-byte session id', { ...base, sessionId: sessionId.subarray(0, 31) }],
      ['33-byte session id', { ...base, sessionId: new Uint8Array(33) }],
    ];
    for (const [name, params] of cases) {
      const e = expectProtocolError(() => createDkg(params, rng), 'INVALID_PARAMETERS', []);
      assert.ok(e.message.length > 0, name);
    }
    // and through the ceremony helper
    expectProtocolError(() => runDkg(group, [1, 2, 3], 0, { rng }), 'INVALID_PARAMETERS', []);
    expectProtocolError(() => runDkg(group, [1, 2, 3], 4, { rng }), 'INVALID_PARAMETERS', []);
    expectProtocolError(
      () => runDkg(group, [1, 2, 3], 2, { rng, sessionId: new Uint8Array(31) }),
      'INVALID_PARAMETERS',
      [],
    );
  });

  test(`${group.name} KeyShare never prints or serialises its secret share`, () => {
    const shares = runDkg(group, [1, 2, 3], 2, { rng: seededRng(`print/${group.name}`) });
    const refreshed = runRefresh(shares, { rng: seededRng(`print/refresh/${group.name}`) });
    for (const share of [...shares, ...refreshed]) {
      const secretBytes = share.secretShare.toBytes();
      const secretHex = toHex(secretBytes);
      const secretValue = share.secretShare.reveal();
      const renderings = [
        JSON.stringify(share),
        JSON.stringify({ share }),
        JSON.stringify([share]),
        JSON.stringify({ secretShare: share.secretShare, self: share.self }),
        JSON.stringify(share.secretShare),
        inspect(share),
        inspect(share, { depth: Infinity, showHidden: true }),
        inspect({ nested: { list: [share] } }, { depth: Infinity }),
        inspect({ ...share }, { depth: Infinity }),
        inspect(share.secretShare),
        String(share.secretShare),
        `${share.secretShare}`,
      ];
      for (const text of renderings) {
        assert.ok(!text.toLowerCase().includes(secretHex), `secret hex leaked in: ${text}`);
        assert.ok(!text.includes(secretValue.toString()), `secret value leaked in: ${text}`);
        assert.ok(!text.includes(secretValue.toString(16)), `secret value leaked in: ${text}`);
      }
      // What is printed is the public part.
      const json = JSON.parse(JSON.stringify(share));
      assert.equal(json.publicKey, toHex(share.publicKey.toBytes()));
      assert.equal(json.self, share.self);
      assert.equal(json.epoch, share.epoch);
    }
  });
}
