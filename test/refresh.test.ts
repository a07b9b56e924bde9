import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDkg, runRefresh, runSign } from '../protocol/ceremonies.js';
import { dkgCodec, type CommitMessage, type DkgMessage } from '../protocol/dkg/index.js';
import { toHex } from '../protocol/bytes.js';
import { ed25519Group, secp256k1Group, type Group } from '../protocol/group.js';
import { keyPublic, type KeyShare } from '../protocol/keyshare.js';
import { lagrangeCoefficient } from '../protocol/polynomial.js';
import { createAggregator, createSigner, type SignRequest } from '../protocol/frost/session.js';
import {
  FROST_BIP340,
  FROST_ED25519,
  FROST_SECP256K1,
  type FrostSuite,
} from '../protocol/frost/suite.js';
import type { FaultRule } from '../protocol/local.js';
import {
  expectEquivocation,
  expectProtocolError,
  range,
  rewriteMessage,
} from './network-faults.js';
import { verifyIndependently } from './verifiers.js';
import { seededRng } from './helpers.js';

const SUITES_OF: Record<string, FrostSuite[]> = {
  ed25519: [FROST_ED25519],
  secp256k1: [FROST_SECP256K1, FROST_BIP340],
};

function secretOf(group: Group, shares: readonly KeyShare[]): bigint {
  const ids = shares.map((s) => BigInt(s.self));
  let x = 0n;
  for (const s of shares)
    x = group.mod(x + lagrangeCoefficient(group, ids, BigInt(s.self)) * s.secretShare.reveal());
  return x;
}

function signAndVerify(
  suite: FrostSuite,
  shares: readonly KeyShare[],
  signers: number[],
  seed: string,
) {
  const message = new TextEncoder().encode(`refresh test ${seed}`);
  const signature = runSign(shares, { suite, message, signers }, { rng: seededRng(seed) });
  assert.ok(
    verifyIndependently(suite, shares[0]!.publicKey, message, signature),
    `${suite.id}: signature of ${signers} in epoch ${shares[0]!.epoch} does not verify`,
  );
}

for (const group of [ed25519Group, secp256k1Group]) {
  for (const [t, n] of [
    [2, 3],
    [3, 5],
  ] as const) {
    const label = `${group.name} ${t}-of-${n}`;
    const parties = range(n);
    const epoch0 = runDkg(group, parties, t, { rng: seededRng(`refresh/${label}`) });
    const refreshCodec = dkgCodec(group, 'refresh', t, n);

    test(`${label} refresh keeps the key and chain code, moves every share, and the new shares sign`, () => {
      const epoch1 = runRefresh(epoch0, { rng: seededRng(`refresh/1/${label}`) });
      const epoch2 = runRefresh(epoch1, { rng: seededRng(`refresh/2/${label}`) });
      for (const [epoch, shares] of [epoch0, epoch1, epoch2].entries()) {
        assert.equal(shares.length, n);
        for (const [i, s] of shares.entries()) {
          assert.ok(s, `epoch ${epoch}: party ${parties[i]} has no share`);
          assert.equal(s.epoch, epoch);
          assert.equal(s.self, parties[i]);
          assert.equal(s.threshold, t);
          assert.ok(s.publicKey.equals(epoch0[0]!.publicKey), `epoch ${epoch}: public key moved`);
          assert.equal(toHex(s.chainCode), toHex(epoch0[0]!.chainCode));
          assert.equal(toHex(s.keySessionId), toHex(epoch0[0]!.keySessionId));
          assert.ok(
            group.mulBase(s.secretShare.reveal()).equals(s.verificationShares.get(s.self)!),
          );
          for (const p of parties) {
            assert.ok(s.verificationShares.get(p)!.equals(shares[0]!.verificationShares.get(p)!));
          }
        }
        // Any t shares of this epoch still rebuild the same secret.
        assert.ok(group.mulBase(secretOf(group, shares.slice(0, t))).equals(epoch0[0]!.publicKey));
        assert.ok(group.mulBase(secretOf(group, shares.slice(n - t))).equals(epoch0[0]!.publicKey));
      }
      for (const [a, b] of [
        [epoch0, epoch1],
        [epoch1, epoch2],
        [epoch0, epoch2],
      ] as const) {
        for (let i = 0; i < n; i++) {
          assert.notEqual(
            toHex(a[i]!.secretShare.toBytes()),
            toHex(b[i]!.secretShare.toBytes()),
            `share ${i + 1} unchanged`,
          );
          assert.ok(
            !a[i]!.verificationShares.get(i + 1)!.equals(b[i]!.verificationShares.get(i + 1)!),
          );
        }
      }
      for (const suite of SUITES_OF[group.name]!) {
        signAndVerify(suite, epoch1, parties.slice(0, t), `${label}/${suite.id}/1`);
        signAndVerify(suite, epoch2, parties.slice(n - t), `${label}/${suite.id}/2`);
        signAndVerify(suite, epoch2, parties, `${label}/${suite.id}/2all`);
      }
    });

    test(`${label} shares of different epochs do not combine`, () => {
      const epoch1 = runRefresh(epoch0, { rng: seededRng(`refresh/mix/${label}`) });
      const suite = SUITES_OF[group.name]![0]!;
      const signers = parties.slice(0, t);
      // A request for epoch 1 handed to an epoch-0 share, or to an aggregator holding epoch 0.
      const request: SignRequest = {
        suite,
        sessionId: seededRng('mix sid')(32),
        keySessionId: epoch1[0]!.keySessionId,
        epoch: epoch1[0]!.epoch,
        message: new Uint8Array([1, 2, 3]),
        signers,
      };
      expectProtocolError(
        () => createSigner(epoch0[0]!, request, seededRng('mix')),
        'EPOCH_MISMATCH',
        [],
      );
      expectProtocolError(
        () => createAggregator(keyPublic(epoch0[0]!), request),
        'EPOCH_MISMATCH',
        [],
      );
      createSigner(epoch1[0]!, request, seededRng('mix')); // the right epoch is accepted
      // A signing set assembled from both epochs.
      expectProtocolError(
        () =>
          runSign(
            [epoch1[0]!, ...epoch0.slice(1)],
            { suite, message: request.message, signers },
            { rng: seededRng('mix2') },
          ),
        'EPOCH_MISMATCH',
        [],
      );
      // Relabel party 1's old share as epoch 1: the math does not add up, and the aggregator
      // names the party whose share is from the wrong epoch.
      for (const s of SUITES_OF[group.name]!) {
        const old = epoch0[0]!;
        const relabelled: KeyShare = {
          ...old,
          epoch: epoch1[0]!.epoch,
          verificationShares: epoch1[0]!.verificationShares,
        };
        expectProtocolError(
          () =>
            runSign(
              [relabelled, ...epoch1.slice(1)],
              { suite: s, message: request.message, signers },
              { rng: seededRng('mix3') },
            ),
          'INVALID_SIGNATURE_SHARE',
          [1],
        );
      }
    });

    test(`${label} refresh: a bad refresh share is blamed on its sender (INVALID_SHARE [2])`, () => {
      const fault = rewriteMessage(refreshCodec, { from: 2, to: 1, kind: 'share' }, (m) =>
        m.kind === 'share' ? { ...m, share: group.mod(m.share + 1n) } : m,
      );
      expectProtocolError(
        () => runRefresh(epoch0, { rng: seededRng('bad refresh'), fault }),
        'INVALID_SHARE',
        [2],
      );
    });

    test(`${label} refresh: a contribution that would move the key (non-zero constant term) is refused`, () => {
      // Party 2 adds the same c to every share it sends: a polynomial with constant term c,
      // which the zero constant implied by the refresh commitments does not allow.
      const fault = rewriteMessage(refreshCodec, { from: 2, kind: 'share' }, (m) =>
        m.kind === 'share' ? { ...m, share: group.mod(m.share + 42n) } : m,
      );
      expectProtocolError(
        () => runRefresh(epoch0, { rng: seededRng('move key'), fault }),
        'INVALID_SHARE',
        [2],
      );
    });

    test(`${label} refresh: equivocating commitments are caught (EQUIVOCATION naming 3)`, () => {
      const fault: FaultRule<DkgMessage> = rewriteMessage(
        refreshCodec,
        { from: 3, to: 1, kind: 'commit' },
        (m) => {
          const c = m as CommitMessage;
          return { ...c, commitments: c.commitments.map((C) => C.add(group.base)) };
        },
      );
      // Party 1 sees 3's own echo contradict what it received and is certain; another party
      // sees only that 1 and 3 disagree about 3's broadcast.
      expectEquivocation(
        () => runRefresh(epoch0, { rng: seededRng('equivocate'), fault, faulty: (p) => p === 3 }),
        3,
        [1],
      );
    });
  }
}
