/**
 * Threshold ECDSA (CGGMP21) end to end on secp256k1: 2-of-3 and 3-of-5 keys with auxiliary info
 * from the fixture safe primes, many signatures over random digests and random signer sets, each
 * checked by node:crypto and @noble/curves (low s, recovery id, DER); HD paths from one
 * presignature pool; single use of presignatures; refresh and epoch binding; parameter refusals;
 * no secret in logs.
 *
 * Presigning is ~0.7 s of modular exponentiation per 2-signer session (~2 s for 3 signers), so
 * the bulk signatures run on two worker threads (test/ecdsa-fixtures.ts) while this thread runs
 * the other tests; their results are verified here. ECDSA_BULK_23 / ECDSA_BULK_35 override the
 * number of bulk signatures per key (defaults fit the file in about 90 s on two cores).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { HDKey } from '@scure/bip32';
import { sha256 } from '@noble/hashes/sha2.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { toHex } from '../protocol/bytes.js';
import { runDkg } from '../protocol/ceremonies.js';
import { derivePath } from '../protocol/derive.js';
import { runEcdsaRefresh, runEcdsaSign, runPresign } from '../protocol/ecdsa-ceremonies.js';
import type { AuxInfo } from '../protocol/ecdsa/aux-info.js';
import { createPresign } from '../protocol/ecdsa/presign/index.js';
import type { Presignature } from '../protocol/ecdsa/presignature.js';
import { createEcdsaSigner } from '../protocol/ecdsa/sign.js';
import type { PartyId } from '../protocol/errors.js';
import { ed25519Group, secp256k1Group } from '../protocol/group.js';
import type { KeyShare } from '../protocol/keyshare.js';
import { bitLength } from '../protocol/bignum/arith.js';
import { MIN_MODULUS_BITS } from '../protocol/paillier/paillier.js';
import type { Rng } from '../protocol/random.js';
import { expectProtocolError } from './network-faults.js';
import { seededRng } from './helpers.js';
import {
  dkgOf,
  keyFor,
  makeKey,
  primePairs,
  randomInt,
  randomMessage,
  randomSubset,
  serializeAux,
  signBatchInWorker,
  verifySignature,
  type BatchOutput,
  type EcdsaKey,
  type KeySpec,
  type SignJob,
} from './ecdsa-fixtures.js';

const group = secp256k1Group;
const KEY_2_OF_3: KeySpec = { t: 2, n: 3, seed: 'ecdsa/2-of-3', firstPair: 0 };
const KEY_3_OF_5: KeySpec = { t: 3, n: 5, seed: 'ecdsa/3-of-5', firstPair: 3 };
/** Fixture pairs 8..10 are the 2-of-3 key's primes after refresh. */
const REFRESH_FIRST_PAIR = 8;

const envCount = (name: string, fallback: number): number => {
  const v = process.env[name];
  return v === undefined ? fallback : Number.parseInt(v, 10);
};
/** Bulk signatures of the 2-of-3 key (about 1 in 40 by all three parties). */
const BULK_2_OF_3 = envCount('ECDSA_BULK_23', 185);
/** Bulk signatures of the 3-of-5 key: signer sets of 3, one of 4 and one of 5. */
const BULK_3_OF_5 = envCount('ECDSA_BULK_35', 6);
const WORKERS_2_OF_3 = 2;

/**
 * Jobs with random messages (digest = sha256(message)), random signer sets, and now and then a
 * random non-hardened path.
 */
function makeJobs(spec: KeySpec, count: number, sizeOf: (i: number, rng: Rng) => number) {
  const rng = seededRng(`${spec.seed}/jobs`);
  const parties = Array.from({ length: spec.n }, (_, i) => i + 1);
  return Array.from({ length: count }, (_, i): SignJob => {
    const signers = randomSubset(rng, parties, sizeOf(i, rng));
    const message = randomMessage(rng);
    const seed = `${spec.seed}/job/${i}`;
    if (randomInt(rng, 5) !== 0) return { signers, message, seed };
    const depth = 1 + randomInt(rng, 3);
    const path = ['m', ...Array.from({ length: depth }, () => randomInt(rng, 2 ** 31))].join('/');
    return { signers, message, seed, path };
  });
}

const JOBS_2_OF_3 = makeJobs(KEY_2_OF_3, BULK_2_OF_3, (_i, rng) =>
  randomInt(rng, 40) === 0 ? 3 : 2,
);
const JOBS_3_OF_5 = makeJobs(KEY_3_OF_5, BULK_3_OF_5, (i) =>
  i === BULK_3_OF_5 - 1 ? 5 : i === BULK_3_OF_5 - 2 ? 4 : 3,
);

interface Setup {
  readonly key: EcdsaKey;
  readonly bulk23: Promise<BatchOutput>[];
  readonly bulk35: Promise<BatchOutput>;
}
let setup: Setup | undefined;

/**
 * Starts the 3-of-5 worker (which runs its own aux ceremony), builds the 2-of-3 key here
 * meanwhile, then hands its aux info to the 2-of-3 workers. Later tests run while they work.
 */
function start(): Setup {
  if (setup) return setup;
  const bulk35 = signBatchInWorker({ key: KEY_3_OF_5, jobs: JOBS_3_OF_5 });
  const key = makeKey(KEY_2_OF_3);
  const auxes = key.auxes.map(serializeAux);
  const bulk23 = Array.from({ length: WORKERS_2_OF_3 }, (_, w) =>
    signBatchInWorker({
      key: KEY_2_OF_3,
      auxes,
      jobs: JOBS_2_OF_3.filter((_, i) => i % WORKERS_2_OF_3 === w),
    }),
  );
  // Awaited by the bulk tests; a failure before then must not become an unhandled rejection.
  for (const p of [bulk35, ...bulk23]) p.catch(() => undefined);
  setup = { key, bulk23, bulk35 };
  return setup;
}

const digestOf = (text: string) => sha256(new TextEncoder().encode(text));

/** Signatures verified by this file (all checks of verifySignature). */
let verified = 0;
function check(...args: Parameters<typeof verifySignature>) {
  verifySignature(...args);
  verified++;
}

function presign(key: EcdsaKey, signers: PartyId[], seed: string) {
  return runPresign(key.shares, key.auxes, signers, { rng: seededRng(seed) });
}

/** Signs `message` (digest sha256(message)) and verifies it fully. */
function signAndVerify(
  key: { shares: KeyShare[] },
  presignatures: Map<PartyId, Presignature>,
  message: Uint8Array,
  seed: string,
  path?: string,
) {
  const digest = sha256(message);
  const sig = runEcdsaSign(key.shares, presignatures, path ? { digest, path } : { digest }, {
    rng: seededRng(seed),
  });
  check(sig, { digest, message, publicKey: keyFor(key.shares[0]!, path) }, seed);
  return sig;
}

test('aux info: every party holds every modulus (≥ 2048 bits, distinct), its own secret key', () => {
  const { key } = start();
  const moduli = key.auxes[0]!.parties;
  assert.deepEqual([...moduli.keys()].sort(), key.parties);
  const Ns = new Set([...moduli.values()].map((a) => a.paillier.N));
  assert.equal(Ns.size, key.parties.length, 'moduli are distinct');
  for (const aux of key.auxes) {
    assert.equal(aux.epoch, 0);
    assert.equal(toHex(aux.keySessionId), toHex(key.shares[0]!.keySessionId));
    const secret = aux.paillierSecret;
    assert.equal(secret.p * secret.q, aux.parties.get(aux.self)!.paillier.N);
    for (const [p, a] of aux.parties) {
      const ref = moduli.get(p)!;
      assert.deepEqual(
        [a.paillier.N, a.rp.N, a.rp.s, a.rp.t],
        [ref.paillier.N, ref.paillier.N, ref.rp.s, ref.rp.t],
        `party ${aux.self}'s view of party ${p}`,
      );
      assert.ok(bitLength(a.paillier.N) >= MIN_MODULUS_BITS);
    }
  }
});

test('HD: one presignature pool signs for the root key and for m/0/7 and m/1/2/3', () => {
  const { key } = start();
  const root = key.shares[0]!;
  const pool = [
    presign(key, [1, 2], 'hd/pool/0'),
    presign(key, [2, 3], 'hd/pool/1'),
    presign(key, [1, 3], 'hd/pool/2'),
  ];
  const paths = ['m/0/7', undefined, 'm/1/2/3'];
  const keys = new Set<string>();
  paths.forEach((path, i) => {
    const message = new TextEncoder().encode(`hd message ${i} ${path ?? 'root'}`);
    const sig = signAndVerify(key, pool[i]!, message, `hd/sign/${i}`, path);
    const expected = path
      ? derivePath(group, root.publicKey, root.chainCode, path).publicKey
      : root.publicKey;
    keys.add(toHex(expected.toBytes()));
    // An independent BIP32 implementation derives the same key.
    const bip32 = new HDKey({ publicKey: root.publicKey.toBytes(), chainCode: root.chainCode });
    assert.equal(toHex(bip32.derive(path ?? 'm').publicKey!), toHex(expected.toBytes()));
    if (path) {
      // The derived-key signature is not a root-key signature.
      assert.ok(
        !secp256k1.verify(sig.compact, sha256(message), root.publicKey.toBytes(), {
          prehash: false,
        }),
      );
    }
  });
  assert.equal(keys.size, 3, 'root, m/0/7 and m/1/2/3 are three different keys');
});

test('digests at the edges: zero and above the group order (verified over the digest)', () => {
  const { key } = start();
  const digests = [new Uint8Array(32), new Uint8Array(32).fill(0xff)];
  digests.forEach((digest, i) => {
    const sig = runEcdsaSign(
      key.shares,
      presign(key, [1, 3], `edge/${i}`),
      { digest },
      { rng: seededRng(`edge/sign/${i}`) },
    );
    check(sig, { digest, publicKey: key.shares[0]!.publicKey }, `edge digest ${i}`);
  });
});

test('a presignature signs once: a second signature with it is NONCE_REUSE', () => {
  const { key } = start();
  const presignatures = presign(key, [2, 3], 'reuse/presign');
  signAndVerify(key, presignatures, new TextEncoder().encode('first'), 'reuse/sign/1');
  for (const p of presignatures.values()) assert.equal(p.used, true);
  for (const text of ['first', 'second']) {
    expectProtocolError(
      () =>
        runEcdsaSign(
          key.shares,
          presignatures,
          { digest: digestOf(text) },
          { rng: seededRng(`reuse/${text}`) },
        ),
      'NONCE_REUSE',
      [],
    );
  }
  // And directly, for each party's own presignature.
  for (const p of presignatures.values()) {
    expectProtocolError(() => p.consume(), 'NONCE_REUSE', []);
  }
});

test('refresh: same key, epoch + 1, new moduli; old presignatures and aux info refused', () => {
  const { key } = start();
  const old = key;
  const oldPresignatures = presign(old, [1, 3], 'refresh/old-presign');
  const { shares, auxes } = runEcdsaRefresh(
    old.shares,
    primePairs(old.parties, REFRESH_FIRST_PAIR),
    { rng: seededRng('refresh/run') },
  );
  const fresh: EcdsaKey = { ...old, shares, auxes };
  assert.equal(shares.length, old.shares.length);
  for (const [i, s] of shares.entries()) {
    const before = old.shares[i]!;
    assert.equal(s.self, before.self);
    assert.equal(s.epoch, before.epoch + 1);
    assert.ok(s.publicKey.equals(before.publicKey), 'public key unchanged');
    assert.equal(toHex(s.chainCode), toHex(before.chainCode), 'chain code unchanged');
    assert.equal(toHex(s.keySessionId), toHex(before.keySessionId));
    assert.notEqual(s.secretShare.reveal(), before.secretShare.reveal(), 'share changed');
  }
  for (const [i, aux] of auxes.entries()) {
    assert.equal(aux.epoch, old.auxes[i]!.epoch + 1);
    assert.equal(aux.self, shares[i]!.self);
    for (const p of old.parties) {
      const before = old.auxes[i]!.parties.get(p)!;
      const after = aux.parties.get(p)!;
      assert.notEqual(after.paillier.N, before.paillier.N, `party ${p}: new modulus`);
      assert.notEqual(after.rp.s, before.rp.s);
      assert.equal(after.paillier.N, auxes[0]!.parties.get(p)!.paillier.N, 'same view');
    }
  }

  // New presignatures sign and verify under the unchanged key.
  signAndVerify(
    fresh,
    presign(fresh, [1, 2], 'refresh/new/0'),
    new TextEncoder().encode('after refresh 0'),
    'refresh/new/sign/0',
  );
  signAndVerify(
    fresh,
    presign(fresh, [2, 3], 'refresh/new/1'),
    new TextEncoder().encode('after refresh 1'),
    'refresh/new/sign/1',
    'm/0/7',
  );

  // An epoch-0 presignature with the epoch-1 shares: refused before it is consumed.
  expectProtocolError(
    () =>
      runEcdsaSign(
        shares,
        oldPresignatures,
        { digest: digestOf('old presignature') },
        { rng: seededRng('refresh/old-sign') },
      ),
    'EPOCH_MISMATCH',
    [],
  );
  for (const p of oldPresignatures.values()) assert.equal(p.used, false, 'not consumed');
  // Old aux info with new shares, and new aux info with old shares: createPresign refuses.
  expectProtocolError(
    () => runPresign(shares, old.auxes, [1, 2], { rng: seededRng('refresh/mix/1') }),
    'EPOCH_MISMATCH',
    [],
  );
  expectProtocolError(
    () => runPresign(old.shares, auxes, [1, 2], { rng: seededRng('refresh/mix/2') }),
    'EPOCH_MISMATCH',
    [],
  );
  expectProtocolError(
    () =>
      createPresign(
        shares[0]!,
        old.auxes[0]!,
        { sessionId: new Uint8Array(32), signers: [1, 2] },
        seededRng('x'),
      ),
    'EPOCH_MISMATCH',
    [],
  );
});

test('parameter refusals: too few signers, a non-holder, duplicates, an Ed25519 share', () => {
  const { key } = start();
  const [share1, share2, share3] = key.shares as [KeyShare, KeyShare, KeyShare];
  const [aux1, , aux3] = key.auxes as [AuxInfo, AuxInfo, AuxInfo];
  const sessionId = new Uint8Array(32).fill(9);
  const rng = seededRng('refusals');
  const refused = (fn: () => unknown) => expectProtocolError(fn, 'INVALID_PARAMETERS', []);

  // Fewer than t signers.
  refused(() => runPresign(key.shares, key.auxes, [1], { rng }));
  refused(() => createPresign(share1, aux1, { sessionId, signers: [1] }, rng));
  // A signer that does not hold the key (createPresign: runPresign has no share to give it).
  refused(() => createPresign(share1, aux1, { sessionId, signers: [1, 4] }, rng));
  refused(() => createPresign(share1, aux1, { sessionId, signers: [1, 2, 7] }, rng));
  // Duplicate signers, including one that would make up the threshold.
  refused(() => runPresign(key.shares, key.auxes, [1, 2, 2], { rng }));
  refused(() => createPresign(share1, aux1, { sessionId, signers: [1, 1] }, rng));
  refused(() => createPresign(share1, aux1, { sessionId, signers: [1, 2, 1] }, rng));
  // A signer set that does not contain the party itself; a session id that is not 32 bytes.
  refused(() => createPresign(share3, aux3, { sessionId, signers: [1, 2] }, rng));
  refused(() =>
    createPresign(share1, aux1, { sessionId: new Uint8Array(31), signers: [1, 2] }, rng),
  );
  // An Ed25519 key share.
  const ed = runDkg(ed25519Group, [1, 2, 3], 2, { rng: seededRng('refusals/ed25519') });
  refused(() => createPresign(ed[0]!, aux1, { sessionId, signers: [1, 2] }, rng));
  refused(() => createPresign(ed[0]!, aux1, { sessionId, signers: [1, 2, 3] }, rng));

  // Signing: a refused request does not consume the presignatures.
  const presignatures = presign(key, [1, 2], 'refusals/presign');
  const digest = digestOf('refusals');
  refused(() =>
    runEcdsaSign(key.shares, presignatures, { digest: digest.subarray(0, 31) }, { rng }),
  );
  refused(() => runEcdsaSign(key.shares, presignatures, { digest, path: "m/0'" }, { rng }));
  const presignatureId = presignatures.get(1)!.public.id;
  refused(() =>
    createEcdsaSigner(share2, presignatures.get(1)!, { sessionId, digest, presignatureId }),
  );
  // A request naming another presignature is refused before the share is spent.
  refused(() =>
    createEcdsaSigner(share1, presignatures.get(1)!, {
      sessionId,
      digest,
      presignatureId: new Uint8Array(32),
    }),
  );
  for (const p of presignatures.values()) assert.equal(p.used, false);
  signAndVerify(key, presignatures, new TextEncoder().encode('refusals'), 'refusals/sign');
});

/**
 * The in-process drivers check their inputs before any machine starts: a signer without a share,
 * or an incomplete or mixed set of presignatures, is INVALID_PARAMETERS, and nothing is spent.
 */
test('drivers: a non-holder in any position, a missing presignature → INVALID_PARAMETERS', async (t) => {
  const { key } = start();
  await t.test('runPresign(signers [4, 1])', () => {
    expectProtocolError(
      () => runPresign(key.shares, key.auxes, [4, 1], { rng: seededRng('driver/presign') }),
      'INVALID_PARAMETERS',
      [],
    );
  });
  await t.test("runEcdsaSign without signer 3's presignature", () => {
    const presignatures = presign(key, [1, 3], 'driver/presign/2');
    presignatures.delete(3);
    expectProtocolError(
      () =>
        runEcdsaSign(
          key.shares,
          presignatures,
          { digest: digestOf('driver') },
          { rng: seededRng('driver/sign') },
        ),
      'INVALID_PARAMETERS',
      [],
    );
  });
});

test('drivers: presignatures of two sessions are refused before either is spent', () => {
  const { key } = start();
  const a = presign(key, [1, 2], 'driver/mix/a');
  const b = presign(key, [1, 2], 'driver/mix/b');
  const mixed = new Map([
    [1, a.get(1)!],
    [2, b.get(2)!],
  ]);
  expectProtocolError(
    () => runEcdsaSign(key.shares, mixed, { digest: digestOf('mix') }, { rng: seededRng('mix') }),
    'INVALID_PARAMETERS',
    [],
  );
  for (const p of mixed.values()) assert.equal(p.used, false);
});

/** Every way a value might be spelled out in a string. */
function spellings(x: bigint): string[] {
  const hex = x.toString(16);
  return [x.toString(10), hex, hex.padStart(64, '0')].filter((s) => s.length >= 16);
}

function assertNoSecret(rendered: string, secrets: bigint[], what: string) {
  for (const x of secrets) {
    for (const s of spellings(x)) {
      assert.ok(!rendered.toLowerCase().includes(s), `${what} shows a secret`);
    }
  }
}

test('no secret in JSON.stringify or util.inspect of AuxInfo and Presignature', () => {
  const { key } = start();
  const aux = key.auxes[0]!;
  const { p, q, phi } = aux.paillierSecret;
  const auxSecrets = [p, q, phi];
  const renderings = (value: unknown): string[] => [
    JSON.stringify(value),
    JSON.stringify({ value }),
    JSON.stringify([value]),
    inspect(value),
    inspect(value, { depth: Infinity, showHidden: true, getters: true }),
    inspect({ nested: { value } }, { depth: Infinity, showHidden: true }),
    String(value),
    `${inspect(new Map([[1, value]]), { depth: Infinity })}`,
  ];
  for (const a of key.auxes) {
    for (const r of renderings(a)) assertNoSecret(r, auxSecrets, 'AuxInfo');
    for (const r of renderings(a.paillierSecret)) assertNoSecret(r, auxSecrets, 'Paillier key');
  }
  // The public parts are still there to read.
  assert.match(JSON.stringify(aux), /"epoch":0/);

  const presignatures = presign(key, [1, 3], 'secrets/presign');
  const rendered = [...presignatures.values()].flatMap(renderings);
  const secrets = [...presignatures.values()].flatMap((pre) => {
    const { k, chi } = pre.consume();
    return [k, chi];
  });
  for (const r of rendered) {
    assertNoSecret(r, secrets, 'Presignature');
    assertNoSecret(r, auxSecrets, 'Presignature');
  }
  // The key share's secret stays out as well.
  for (const s of key.shares) {
    for (const r of renderings(s)) assertNoSecret(r, [s.secretShare.reveal()], 'KeyShare');
  }
});

function bulk(outputs: BatchOutput[], key: KeySpec, jobs: readonly SignJob[]) {
  const shares = dkgOf(key);
  const root = shares[0]!;
  const rs = new Set<bigint>();
  const subsets = new Set<string>();
  let count = 0;
  let presignMs = 0;
  for (const out of outputs) {
    assert.equal(toHex(out.publicKey), toHex(root.publicKey.toBytes()), 'same key in the worker');
    assert.equal(toHex(out.keySessionId), toHex(root.keySessionId));
    for (const { job, digest, signature, presignMs: ms } of out.results) {
      assert.ok(job.signers.length >= key.t);
      check(
        signature,
        { digest, message: job.message, publicKey: keyFor(root, job.path) },
        `${key.t}-of-${key.n} ${job.seed} signers ${job.signers.join(',')} ${job.path ?? 'm'}`,
      );
      rs.add(signature.r);
      subsets.add(job.signers.join(','));
      count++;
      presignMs += ms;
    }
  }
  assert.equal(count, jobs.length, 'every job signed');
  assert.equal(rs.size, count, 'every signature has its own nonce (distinct r)');
  return { count, subsets, presignMs };
}

test(`${BULK_2_OF_3} signatures of the 2-of-3 key, random digests and signer sets`, async (t) => {
  const outputs = await Promise.all(start().bulk23);
  const { count, subsets, presignMs } = bulk(outputs, KEY_2_OF_3, JOBS_2_OF_3);
  if (count >= 40) {
    for (const s of ['1,2', '1,3', '2,3']) assert.ok(subsets.has(s), `signer set ${s} used`);
  }
  t.diagnostic(
    `${count} signatures, signer sets ${[...subsets].sort().join(' ')}, ` +
      `mean presigning ${(presignMs / Math.max(count, 1) / 1000).toFixed(2)} s`,
  );
});

test(`${BULK_3_OF_5} signatures of the 3-of-5 key, random digests and signer sets`, async (t) => {
  const output = await start().bulk35;
  const { count, subsets } = bulk([output], KEY_3_OF_5, JOBS_3_OF_5);
  t.diagnostic(
    `${count} signatures, aux ceremony ${(output.auxMs / 1000).toFixed(1)} s, ` +
      `signer sets ${[...subsets].join(' ')}`,
  );
  if (count >= 3) assert.ok([...subsets].some((s) => s.split(',').length === 3));
});

test('in total, every signature of this file verified', (t) => {
  const expected = 9 + BULK_2_OF_3 + BULK_3_OF_5;
  t.diagnostic(
    `${verified} signatures verified (by node:crypto as well, except the 2 raw edge digests)`,
  );
  assert.equal(verified, expected);
});
