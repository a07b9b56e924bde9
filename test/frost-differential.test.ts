/**
 * Differential test against @noble/curves' own RFC 9591 FROST (ed25519_FROST, secp256k1_FROST,
 * and schnorr_FROST for the BIP340 / Taproot variant): the same shares and the same nonce
 * randomness must give the same nonces, commitments, signature shares and signatures, byte for
 * byte. Both sides derive each nonce as H3(random_bytes(32) || SerializeScalar(sk_i)) and draw
 * the hiding randomness before the binding randomness, so noble is handed an rng that replays
 * exactly the 32-byte strings our `commitWithRandomness` (or `runSign`'s rng) received.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ed25519_FROST } from '@noble/curves/ed25519.js';
import { schnorr_FROST, secp256k1_FROST } from '@noble/curves/secp256k1.js';
import { runDkg, runSign } from '../protocol/ceremonies.js';
import { toHex } from '../protocol/bytes.js';
import type { Group } from '../protocol/group.js';
import { keyPublic, type KeyShare } from '../protocol/keyshare.js';
import { SecretScalar } from '../protocol/secret.js';
import { signingMaterial } from '../protocol/frost/material.js';
import {
  commitWithRandomness,
  nonceGenerate,
  type SigningNonces,
} from '../protocol/frost/round1.js';
import { sign, signingContext, signingPackage } from '../protocol/frost/round2.js';
import { aggregate } from '../protocol/frost/aggregate.js';
import {
  FROST_BIP340,
  FROST_ED25519,
  FROST_SECP256K1,
  type FrostSuite,
} from '../protocol/frost/suite.js';
import type { Rng } from '../protocol/random.js';
import { range } from './network-faults.js';
import { verifyIndependently } from './verifiers.js';
import { seededRng } from './helpers.js';

type NobleFrost = typeof ed25519_FROST;
type NoblePublic = ReturnType<NobleFrost['trustedDealer']>['public'];
type NobleSecret = ReturnType<NobleFrost['trustedDealer']>['secretShares'][string];
/** noble's randomness source: an optional length (32 when absent). */
type NobleRng = (length?: number) => Uint8Array<ArrayBuffer>;

function toNobleRng(rng: Rng): NobleRng {
  return (length = 32) => new Uint8Array(rng(length));
}

const PAIRS: readonly { suite: FrostSuite; noble: NobleFrost }[] = [
  { suite: FROST_ED25519, noble: ed25519_FROST },
  { suite: FROST_SECP256K1, noble: secp256k1_FROST },
  { suite: FROST_BIP340, noble: schnorr_FROST },
];

/** An rng that hands out exactly these byte strings, in order, and checks the lengths asked. */
function replay(chunks: Uint8Array[]): NobleRng {
  const queue = [...chunks];
  return (length = 32) => {
    const next = queue.shift();
    assert.ok(next, 'noble drew more randomness than was recorded');
    assert.equal(length, next.length, 'noble drew randomness of another length');
    return new Uint8Array(next);
  };
}

/** Wraps an rng and keeps every output. */
function recording(rng: Rng): { rng: Rng; drawn: Uint8Array[] } {
  const drawn: Uint8Array[] = [];
  return {
    drawn,
    rng: (length) => {
      const out = rng(length);
      drawn.push(Uint8Array.from(out));
      return out;
    },
  };
}

function nobleId(noble: NobleFrost, party: number): string {
  return noble.Identifier.fromNumber(party);
}

function toNoblePublic(noble: NobleFrost, shares: readonly KeyShare[]): NoblePublic {
  const first = shares[0]!;
  const verifyingShares: Record<string, Uint8Array> = {};
  for (const [p, Y] of first.verificationShares) verifyingShares[nobleId(noble, p)] = Y.toBytes();
  // noble signs and aggregates with commitments[0] (the group key) only.
  return {
    signers: { min: first.threshold, max: first.parties.length },
    commitments: [first.publicKey.toBytes()],
    verifyingShares,
  } as NoblePublic;
}

function toNobleSecret(noble: NobleFrost, share: KeyShare): NobleSecret {
  return {
    identifier: nobleId(noble, share.self),
    signingShare: share.secretShare.toBytes(),
  } as NobleSecret;
}

/** Our KeyShares for a noble trusted-dealer package (identifiers 1..n). */
function fromNobleDealer(
  group: Group,
  noble: NobleFrost,
  t: number,
  n: number,
  rng: Rng,
): KeyShare[] {
  const deal = noble.trustedDealer({ min: t, max: n }, undefined, undefined, toNobleRng(rng));
  const publicKey = group.decodeElement(deal.public.commitments[0]!)!;
  assert.ok(publicKey);
  const parties = range(n);
  const verificationShares = new Map(
    parties.map(
      (p) => [p, group.decodeElement(deal.public.verifyingShares[nobleId(noble, p)]!)!] as const,
    ),
  );
  const keySessionId = rng(32);
  const chainCode = rng(32);
  return parties.map((self) => {
    const secret = group.decodeScalar(deal.secretShares[nobleId(noble, self)]!.signingShare);
    assert.ok(secret !== null);
    return {
      group: group.name,
      keySessionId,
      parties,
      threshold: t,
      epoch: 0,
      publicKey,
      verificationShares,
      chainCode,
      self,
      secretShare: new SecretScalar(group, secret),
    };
  });
}

/**
 * One signature computed step by step by both implementations from the same randomness,
 * comparing every intermediate value.
 */
function compareStepByStep(
  suite: FrostSuite,
  noble: NobleFrost,
  shares: readonly KeyShare[],
  signers: readonly number[],
  message: Uint8Array,
  rng: Rng,
): void {
  const { group } = suite;
  const pub = toNoblePublic(noble, shares);
  const material = signingMaterial(suite, keyPublic(shares[0]!), []);
  const bySelf = new Map(shares.map((s) => [s.self, s]));
  const ours = new Map<number, SigningNonces>();
  const nobleNonces = new Map<number, { hiding: Uint8Array; binding: Uint8Array }>();
  const commitmentList: ReturnType<NobleFrost['commit']>['commitments'][] = [];
  for (const p of signers) {
    const share = bySelf.get(p)!;
    const raw = share.secretShare.reveal();
    const hidingRandomness = rng(32);
    const bindingRandomness = rng(32);
    // noble mixes the share as held (before any BIP340 negation) into the nonce; so do we here.
    const nonces = commitWithRandomness(suite, BigInt(p), raw, hidingRandomness, bindingRandomness);
    const theirs = noble.commit(
      toNobleSecret(noble, share),
      replay([hidingRandomness, bindingRandomness]),
    );
    assert.equal(
      toHex(group.encodeScalar(nonceGenerate(suite, raw, hidingRandomness))),
      toHex(theirs.nonces.hiding),
      `hiding nonce of ${p}`,
    );
    assert.equal(
      toHex(group.encodeScalar(nonceGenerate(suite, raw, bindingRandomness))),
      toHex(theirs.nonces.binding),
      `binding nonce of ${p}`,
    );
    assert.equal(
      toHex(nonces.commitment.hiding.toBytes()),
      toHex(theirs.commitments.hiding),
      `hiding commitment of ${p}`,
    );
    assert.equal(
      toHex(nonces.commitment.binding.toBytes()),
      toHex(theirs.commitments.binding),
      `binding commitment of ${p}`,
    );
    assert.equal(theirs.commitments.identifier, toHex(group.encodeScalar(BigInt(p))));
    ours.set(p, nonces);
    nobleNonces.set(p, theirs.nonces);
    commitmentList.push(theirs.commitments);
  }

  const pkg = signingPackage(
    suite,
    message,
    [...ours.values()].map((n) => n.commitment),
  );
  const ctx = signingContext(suite, material.groupKey, pkg);
  const shareMap = new Map<bigint, bigint>();
  const nobleShares: Record<string, Uint8Array> = {};
  for (const p of signers) {
    const share = bySelf.get(p)!;
    const key = {
      id: BigInt(p),
      secretShare: group.mod(material.sign * share.secretShare.reveal()),
      groupKey: material.groupKey,
    };
    const z = sign(suite, ours.get(p)!, key, pkg, ctx);
    const n = nobleNonces.get(p)!;
    const theirs = noble.signShare(
      toNobleSecret(noble, share),
      pub,
      { hiding: Uint8Array.from(n.hiding), binding: Uint8Array.from(n.binding) },
      commitmentList,
      message,
    );
    assert.equal(toHex(group.encodeScalar(z)), toHex(theirs), `signature share of ${p}`);
    assert.ok(
      noble.verifyShare(pub, commitmentList, message, nobleId(noble, p), theirs),
      `noble rejects share of ${p}`,
    );
    shareMap.set(BigInt(p), z);
    nobleShares[nobleId(noble, p)] = theirs;
  }
  const signature = aggregate(suite, material, pkg, shareMap, ctx);
  const theirs = noble.aggregate(pub, commitmentList, message, nobleShares);
  assert.equal(toHex(signature), toHex(theirs), 'signature');
  assert.ok(verifyIndependently(suite, shares[0]!.publicKey, message, signature));
  const pk = shares[0]!.publicKey.toBytes();
  assert.ok(noble.verify(signature, message, suite.evenY ? pk.subarray(1) : pk), 'noble.verify');
}

for (const { suite, noble } of PAIRS) {
  const { group } = suite;
  const scenario = (n: number, t: number) =>
    fc.record({
      signers: fc.shuffledSubarray(range(n), { minLength: t }),
      message: fc.uint8Array({ maxLength: 100 }),
      seed: fc.nat(),
    });

  for (const [t, n] of [
    [2, 3],
    [3, 5],
  ] as const) {
    const dkgShares = runDkg(group, range(n), t, {
      rng: seededRng(`diff/dkg/${suite.id}/${t}/${n}`),
    });
    const dealerShares = fromNobleDealer(
      group,
      noble,
      t,
      n,
      seededRng(`diff/dealer/${suite.id}/${t}/${n}`),
    );

    // Keys whose group key has even y (for BIP340 the odd-y keys above take the other branch).
    let even: KeyShare[][] | undefined;
    const evenKeys = (): KeyShare[][] => {
      const find = (make: (attempt: number) => KeyShare[]): KeyShare[] => {
        for (let attempt = 0; attempt < 64; attempt++) {
          const shares = make(attempt);
          if (signingMaterial(suite, keyPublic(shares[0]!), []).sign === 1n) return shares;
        }
        assert.fail('no key with an even-y group key found');
      };
      return (even ??= [
        find((a) =>
          a === 0
            ? dkgShares
            : runDkg(group, range(n), t, { rng: seededRng(`diff/dkg/even/${a}`) }),
        ),
        find((a) =>
          a === 0
            ? dealerShares
            : fromNobleDealer(group, noble, t, n, seededRng(`diff/dealer/even/${a}`)),
        ),
      ]);
    };

    test(`${suite.id} ${t}-of-${n}: nonces, commitments, shares and signatures equal noble's (DKG and dealer keys)`, () => {
      const keys = [dkgShares, dealerShares];
      if (suite.evenY) {
        keys.push(...evenKeys().filter((k) => !keys.includes(k)));
        const parities = new Set(
          keys.map((k) => signingMaterial(suite, keyPublic(k[0]!), []).sign),
        );
        assert.equal(parities.size, 2, 'BIP340 keys of both parities are compared');
      }
      fc.assert(
        fc.property(scenario(n, t), ({ signers, message, seed }) => {
          const sorted = [...signers].sort((a, b) => a - b);
          for (const [k, shares] of keys.entries()) {
            compareStepByStep(suite, noble, shares, sorted, message, seededRng(`${k}/${seed}`));
          }
        }),
        { numRuns: 4, seed: 0xd1ff + t },
      );
    });

    test(`${suite.id} ${t}-of-${n}: runSign's signature equals noble's from the same randomness`, () => {
      // runSign draws the session id, then for each signer in party order its hiding and binding
      // randomness. For BIP340 our signer mixes the even-y-normalised share into the nonce (noble
      // mixes the share as held), so the nonces agree only for keys whose group key has even y:
      // such keys are searched for here; keys with odd y are compared step by step above.
      const keys = evenKeys();
      for (let i = 0; i < 4; i++) {
        const shares = keys[i % 2]!;
        // Windows of t..n consecutive parties, starting at various offsets.
        const size = t + (i % (n - t + 1));
        const start = (i * 2) % (n - size + 1);
        const signers = range(n).slice(start, start + size);
        const message = new TextEncoder().encode(`end to end ${i}`);
        const { rng, drawn } = recording(seededRng(`e2e/${suite.id}/${i}`));
        const signature = runSign(shares, { suite, message, signers }, { rng });
        assert.equal(
          drawn.length,
          1 + 2 * signers.length,
          'runSign drew randomness in an unexpected pattern',
        );
        const pub = toNoblePublic(noble, shares);
        const commitments = signers.map((p, k) =>
          noble.commit(
            toNobleSecret(noble, shares[p - 1]!),
            replay([drawn[1 + 2 * k]!, drawn[2 + 2 * k]!]),
          ),
        );
        const list = commitments.map((c) => c.commitments);
        const sigShares: Record<string, Uint8Array> = {};
        for (const [k, p] of signers.entries()) {
          sigShares[nobleId(noble, p)] = noble.signShare(
            toNobleSecret(noble, shares[p - 1]!),
            pub,
            commitments[k]!.nonces,
            list,
            message,
          );
        }
        assert.equal(
          toHex(signature),
          toHex(noble.aggregate(pub, list, message, sigShares)),
          `signers ${signers}`,
        );
      }
    });
  }
}
