import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { runDkg, runSign } from '../protocol/ceremonies.js';
import { derivePath } from '../protocol/derive.js';
import { ProtocolError } from '../protocol/errors.js';
import type { Group } from '../protocol/group.js';
import { keyPublic, type KeyShare } from '../protocol/keyshare.js';
import { frostCodec, type FrostMessage } from '../protocol/frost/messages.js';
import { signingMaterial } from '../protocol/frost/material.js';
import { commit } from '../protocol/frost/round1.js';
import { sign, signingPackage } from '../protocol/frost/round2.js';
import { aggregate } from '../protocol/frost/aggregate.js';
import { createAggregator, createSigner, type SignRequest } from '../protocol/frost/session.js';
import {
  FROST_BIP340,
  FROST_ED25519,
  FROST_SECP256K1,
  type FrostSuite,
} from '../protocol/frost/suite.js';
import {
  HEADER_LENGTH,
  chain,
  drop,
  duplicate,
  expectProtocolError,
  overwrite,
  patchBytes,
  range,
  rewriteMessage,
  thrown,
} from './network-faults.js';
import { verifyIndependently } from './verifiers.js';
import { seededRng } from './helpers.js';

const SUITES: readonly FrostSuite[] = [FROST_ED25519, FROST_SECP256K1, FROST_BIP340];
const utf8 = (s: string) => new TextEncoder().encode(s);

const keys = new Map<string, KeyShare[]>();
/** One DKG per group, threshold and size, shared by the tests of this file. */
function keyFor(group: Group, t: number, n: number): KeyShare[] {
  const id = `${group.name}/${t}/${n}`;
  let shares = keys.get(id);
  if (!shares)
    keys.set(id, (shares = runDkg(group, range(n), t, { rng: seededRng(`frost-key/${id}`) })));
  return shares;
}

function flipByte(bytes: Uint8Array, index: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[index]! ^= 0x01;
  return out;
}

test('the independent verifiers reject tampered signatures, other messages and other keys', () => {
  for (const suite of SUITES) {
    const shares = keyFor(suite.group, 2, 3);
    const other = keyFor(suite.group, 3, 3)[0]!.publicKey;
    const message = utf8('verifier self-test');
    const signature = runSign(
      shares,
      { suite, message, signers: [1, 3] },
      { rng: seededRng(`vt/${suite.id}`) },
    );
    const pk = shares[0]!.publicKey;
    assert.ok(verifyIndependently(suite, pk, message, signature), suite.id);
    assert.ok(!verifyIndependently(suite, pk, utf8('verifier self-tesT'), signature), suite.id);
    assert.ok(!verifyIndependently(suite, other, message, signature), suite.id);
    for (const index of [0, 5, signature.length - 32, signature.length - 1]) {
      assert.ok(
        !verifyIndependently(suite, pk, message, flipByte(signature, index)),
        `${suite.id} byte ${index}`,
      );
    }
  }
});

for (const suite of SUITES) {
  const { group } = suite;
  const codec = frostCodec(group);

  test(`${suite.id}: random t-of-n keys and signing sets produce signatures that verify independently`, () => {
    // Signing sets of one signer are left to their own test below (they never complete).
    const scenario = fc.integer({ min: 2, max: 7 }).chain((n) =>
      fc.integer({ min: 1, max: n }).chain((t) =>
        fc.record({
          n: fc.constant(n),
          t: fc.constant(t),
          signers: fc.shuffledSubarray(range(n), { minLength: Math.max(t, 2) }),
          message: fc.uint8Array({ maxLength: 80 }),
          seed: fc.nat(),
        }),
      ),
    );
    fc.assert(
      fc.property(scenario, ({ n, t, signers, message, seed }) => {
        const shares = keyFor(group, t, n);
        const signature = runSign(shares, { suite, message, signers }, { rng: seededRng(seed) });
        assert.equal(signature.length, suite.evenY ? 64 : group.elementLength + 32);
        assert.ok(
          verifyIndependently(suite, shares[0]!.publicKey, message, signature),
          `${t}-of-${n} signed by ${signers}`,
        );
      }),
      { numRuns: 25, seed: 0x5117 },
    );
  });

  test(`${suite.id}: a single signer of a 1-of-n key signs`, () => {
    const shares = keyFor(group, 1, 3);
    const message = utf8('one signer');
    let signature: Uint8Array | undefined;
    const e = thrown(() => {
      signature = runSign(shares, { suite, message, signers: [2] }, { rng: seededRng('single') });
    });
    assert.equal(
      e,
      undefined,
      `signing with one signer failed: ${String((e as Error)?.stack ?? e)}`,
    );
    assert.ok(verifyIndependently(suite, shares[0]!.publicKey, message, signature!));
  });

  test(`${suite.id}: signing under m/0/7 verifies against the derived key only`, () => {
    const shares = keyFor(group, 2, 3);
    const { publicKey, chainCode } = shares[0]!;
    const message = utf8('derived');
    const signature = runSign(
      shares,
      { suite, message, signers: [3, 1], path: 'm/0/7' },
      { rng: seededRng('path') },
    );
    const derived = derivePath(group, publicKey, chainCode, 'm/0/7').publicKey;
    assert.ok(verifyIndependently(suite, derived, message, signature));
    assert.ok(
      !verifyIndependently(suite, publicKey, message, signature),
      'verifies under the root key',
    );
    const sibling = derivePath(group, publicKey, chainCode, 'm/0/8').publicKey;
    assert.ok(!verifyIndependently(suite, sibling, message, signature), 'verifies under m/0/8');
    // The root path is the root key.
    const root = runSign(
      shares,
      { suite, message, signers: [1, 2], path: 'm' },
      { rng: seededRng('root') },
    );
    assert.ok(verifyIndependently(suite, publicKey, message, root));
  });

  test(`${suite.id}: a bad signature share is blamed on its signer (INVALID_SIGNATURE_SHARE [3])`, () => {
    const shares = keyFor(group, 3, 5);
    const add = (k: bigint) => (m: FrostMessage) =>
      m.kind === 'share' ? { ...m, share: group.mod(m.share + k) } : m;
    const one = rewriteMessage(codec, { from: 3, to: 0, kind: 'share' }, add(1n));
    expectProtocolError(
      () =>
        runSign(
          shares,
          { suite, message: utf8('bad share'), signers: [1, 3, 4] },
          { rng: seededRng('bad'), fault: one },
        ),
      'INVALID_SIGNATURE_SHARE',
      [3],
    );
    const twoBad = chain(
      rewriteMessage(codec, { from: 3, to: 0, kind: 'share' }, add(group.order - 1n)),
      rewriteMessage(codec, { from: 4, to: 0, kind: 'share' }, add(5n)),
    );
    expectProtocolError(
      () =>
        runSign(
          shares,
          { suite, message: utf8('bad shares'), signers: [1, 3, 4] },
          { rng: seededRng('bad2'), fault: twoBad },
        ),
      'INVALID_SIGNATURE_SHARE',
      [3, 4],
    );
  });

  test(`${suite.id}: a signing package altered on its way is caught and blamed`, () => {
    const shares = keyFor(group, 3, 3);
    const other = group.mulBase(0xbadn);
    const message = utf8('forged');
    const run = (fault: ReturnType<typeof rewriteMessage<FrostMessage>>) => () =>
      runSign(shares, { suite, message, signers: [1, 2, 3] }, { rng: seededRng('f'), fault });
    // Signer 2's commitment altered before the coordinator: signer 2 finds its own commitment
    // changed in the package and refuses to sign, blaming the coordinator.
    expectProtocolError(
      run(
        rewriteMessage(codec, { from: 2, to: 0, kind: 'commitment' }, (m) =>
          m.kind === 'commitment' ? { ...m, hiding: other } : m,
        ),
      ),
      'UNEXPECTED_MESSAGE',
      [0],
    );
    // A package to signer 1 in which signer 2's commitment differs: signer 1 signs another
    // package than the coordinator aggregates, so its share fails and it is named.
    expectProtocolError(
      run(
        rewriteMessage(codec, { from: 0, to: 1, kind: 'package' }, (m) =>
          m.kind === 'package'
            ? { ...m, entries: m.entries.map((e) => (e.id === 2 ? { ...e, hiding: other } : e)) }
            : m,
        ),
      ),
      'INVALID_SIGNATURE_SHARE',
      [1],
    );
    // A package to signer 3 that leaves a signer out.
    expectProtocolError(
      run(
        rewriteMessage(codec, { from: 0, to: 3, kind: 'package' }, (m) =>
          m.kind === 'package' ? { ...m, entries: m.entries.filter((e) => e.id !== 1) } : m,
        ),
      ),
      'UNEXPECTED_MESSAGE',
      [0],
    );
  });

  test(`${suite.id}: an invalid commitment point is MALFORMED_MESSAGE [2]`, () => {
    const shares = keyFor(group, 2, 3);
    const bad = new Uint8Array(group.elementLength).fill(0xff);
    for (const offset of [HEADER_LENGTH, HEADER_LENGTH + group.elementLength]) {
      const fault = patchBytes<FrostMessage>({ from: 2, to: 0, kind: 'commitment' }, (b) =>
        overwrite(b, offset, bad),
      );
      expectProtocolError(
        () =>
          runSign(
            shares,
            { suite, message: utf8('bad point'), signers: [1, 2] },
            { rng: seededRng('bp'), fault },
          ),
        'MALFORMED_MESSAGE',
        [2],
      );
    }
    // The same in a package: the coordinator is blamed.
    const fault = patchBytes<FrostMessage>({ from: 0, to: 1, kind: 'package' }, (b) =>
      overwrite(b, HEADER_LENGTH + 2 + 2, bad),
    );
    expectProtocolError(
      () =>
        runSign(
          shares,
          { suite, message: utf8('bad point'), signers: [1, 2] },
          { rng: seededRng('bp'), fault },
        ),
      'MALFORMED_MESSAGE',
      [0],
    );
  });

  test(`${suite.id}: signing nonces sign once (NONCE_REUSE)`, () => {
    const shares = keyFor(group, 2, 3);
    const material = signingMaterial(suite, keyPublic(shares[0]!), []);
    const rng = seededRng(`nonces/${suite.id}`);
    const secret = (s: KeyShare) => group.mod(material.sign * s.secretShare.reveal());
    const n1 = commit(suite, 1n, secret(shares[0]!), rng);
    const n2 = commit(suite, 2n, secret(shares[1]!), rng);
    const message = utf8('nonce reuse');
    const pkg = signingPackage(suite, message, [n2.commitment, n1.commitment]);
    const key = (s: KeyShare) => ({
      id: BigInt(s.self),
      secretShare: secret(s),
      groupKey: material.groupKey,
    });
    const z1 = sign(suite, n1, key(shares[0]!), pkg);
    const z2 = sign(suite, n2, key(shares[1]!), pkg);
    assert.ok(n1.used && n2.used);
    const signature = aggregate(
      suite,
      material,
      pkg,
      new Map([
        [1n, z1],
        [2n, z2],
      ]),
    );
    assert.ok(verifyIndependently(suite, shares[0]!.publicKey, message, signature));
    // Same package again, and another message with the same commitments.
    expectProtocolError(() => sign(suite, n1, key(shares[0]!), pkg), 'NONCE_REUSE', []);
    const pkg2 = signingPackage(suite, utf8('another message'), [n1.commitment, n2.commitment]);
    expectProtocolError(() => sign(suite, n1, key(shares[0]!), pkg2), 'NONCE_REUSE', []);
    expectProtocolError(() => n2.consume(), 'NONCE_REUSE', []);
    // Disposed (aborted) nonces do not sign either.
    const n3 = commit(suite, 1n, secret(shares[0]!), rng);
    n3.dispose();
    const pkg3 = signingPackage(suite, message, [n3.commitment, n2.commitment]);
    expectProtocolError(() => sign(suite, n3, key(shares[0]!), pkg3), 'NONCE_REUSE', []);
  });

  test(`${suite.id}: invalid signing requests are refused with INVALID_PARAMETERS`, () => {
    const shares = keyFor(group, 3, 5);
    const message = utf8('params');
    const sign_ =
      (signers: number[], extra: Partial<SignRequest> = {}) =>
      () =>
        runSign(shares, { suite, message, signers, ...extra }, { rng: seededRng('p') });
    expectProtocolError(sign_([1, 2]), 'INVALID_PARAMETERS', []);
    expectProtocolError(sign_([1, 2, 9]), 'INVALID_PARAMETERS', []);
    expectProtocolError(sign_([1, 2, 0]), 'INVALID_PARAMETERS', []);
    expectProtocolError(sign_([1, 2, 2]), 'INVALID_PARAMETERS', []);
    expectProtocolError(sign_([1, 2, 3, 3]), 'INVALID_PARAMETERS', []);
    expectProtocolError(sign_([1, 2, 3], { path: "m/0'" }), 'INVALID_PARAMETERS', []);
    expectProtocolError(sign_([1, 2, 3], { path: 'm/2147483648' }), 'INVALID_PARAMETERS', []);
    const wrongGroup = suite.group.name === 'ed25519' ? FROST_SECP256K1 : FROST_ED25519;
    expectProtocolError(sign_([1, 2, 3], { suite: wrongGroup }), 'INVALID_PARAMETERS', []);

    const request: SignRequest = {
      suite,
      sessionId: seededRng('sid')(32),
      keySessionId: shares[0]!.keySessionId,
      epoch: 0,
      message,
      signers: [1, 2, 3],
    };
    const rng = seededRng('p2');
    // A share outside the signing set, and a short session id, for signer and aggregator.
    expectProtocolError(() => createSigner(shares[3]!, request, rng), 'INVALID_PARAMETERS', []);
    const shortSid = { ...request, sessionId: request.sessionId.subarray(0, 31) };
    expectProtocolError(() => createSigner(shares[0]!, shortSid, rng), 'INVALID_PARAMETERS', []);
    expectProtocolError(
      () => createAggregator(keyPublic(shares[0]!), shortSid),
      'INVALID_PARAMETERS',
      [],
    );
    for (const signers of [
      [1, 2],
      [1, 2, 6],
      [1, 1, 2],
    ]) {
      expectProtocolError(
        () => createAggregator(keyPublic(shares[0]!), { ...request, signers }),
        'INVALID_PARAMETERS',
        [],
      );
      expectProtocolError(
        () => createSigner(shares[0]!, { ...request, signers }, rng),
        'INVALID_PARAMETERS',
        [],
      );
    }
    // A request for another key is refused as another epoch of another key.
    const otherKey = { ...request, keySessionId: seededRng('other key')(32) };
    expectProtocolError(() => createSigner(shares[0]!, otherKey, rng), 'EPOCH_MISMATCH', []);
  });

  test(`${suite.id}: a commitment or package delivered twice is REPLAYED_MESSAGE`, () => {
    const shares = keyFor(group, 2, 3);
    const run = (fault: ReturnType<typeof duplicate<FrostMessage>>) => () =>
      runSign(
        shares,
        { suite, message: utf8('dup'), signers: [1, 2, 3] },
        { rng: seededRng('dup'), fault },
      );
    expectProtocolError(
      run(duplicate({ from: 2, to: 0, kind: 'commitment' })),
      'REPLAYED_MESSAGE',
      [2],
    );
    expectProtocolError(run(duplicate({ from: 0, to: 3, kind: 'package' })), 'REPLAYED_MESSAGE', [
      0,
    ]);
  });

  test(`${suite.id}: a share arriving after the signature is done is REPLAYED_MESSAGE [2]`, () => {
    // With two signers the coordinator finishes on the first copy of the last share; the second
    // copy is a replay of a closed round.
    const shares = keyFor(group, 2, 3);
    expectProtocolError(
      () =>
        runSign(
          shares,
          { suite, message: utf8('late'), signers: [1, 2] },
          { rng: seededRng('late'), fault: duplicate({ from: 2, to: 0, kind: 'share' }) },
        ),
      'REPLAYED_MESSAGE',
      [2],
    );
  });

  test(`${suite.id}: a signature share delivered twice is refused (REPLAYED_MESSAGE [1])`, () => {
    const shares = keyFor(group, 2, 3);
    expectProtocolError(
      () =>
        runSign(
          shares,
          { suite, message: utf8('dup share'), signers: [1, 2, 3] },
          {
            rng: seededRng('dups'),
            fault: duplicate({ from: 1, to: 0, kind: 'share' }),
          },
        ),
      'REPLAYED_MESSAGE',
      [1],
    );
  });

  test(`${suite.id}: a dropped signature share ends signing with a ProtocolError`, () => {
    const shares = keyFor(group, 2, 3);
    const e = thrown(() =>
      runSign(
        shares,
        { suite, message: utf8('drop'), signers: [1, 2] },
        { rng: seededRng('drop'), fault: drop({ from: 2, to: 0 }) },
      ),
    );
    assert.ok(
      e instanceof ProtocolError,
      `expected a ProtocolError, got ${String((e as Error)?.stack ?? e)}`,
    );
  });
}
