/**
 * Shared setup of the threshold-ECDSA tests: keys with auxiliary info built from the fixture safe
 * primes, an independent verifier of every property a finished ECDSA signature must have
 * (node:crypto, @noble/curves, low s, recovery id, strict DER), and a worker-thread runner that
 * presigns and signs batches on the other core. Presigning costs about 0.7 s of modular
 * exponentiation per 2-signer session, so the bulk of the signatures is produced by workers while
 * the main thread runs the other tests; every signature is verified on the main thread.
 *
 * When this module is loaded as a worker (workerData.role === WORKER_ROLE) it runs one batch.
 */
import assert from 'node:assert/strict';
import { createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../protocol/bytes.js';
import { runDkg } from '../protocol/ceremonies.js';
import { derivePath } from '../protocol/derive.js';
import { runAux, runEcdsaSign, runPresign, type PrimePairs } from '../protocol/ecdsa-ceremonies.js';
import { sealAuxInfo, type AuxInfo } from '../protocol/ecdsa/aux-info.js';
import type { EcdsaSignature } from '../protocol/ecdsa/signature.js';
import type { PartyId } from '../protocol/errors.js';
import { secp256k1Group, type Element } from '../protocol/group.js';
import type { KeyShare } from '../protocol/keyshare.js';
import { PaillierSecretKey, paillierPublicKey } from '../protocol/paillier/paillier.js';
import type { Rng } from '../protocol/random.js';
import { SAFE_PRIMES, seededRng } from './helpers.js';

const group = secp256k1Group;
export const ORDER = group.order;
export const HALF_ORDER = ORDER >> 1n;

// ---------------------------------------------------------------------------------------------
// Keys

export { SAFE_PRIMES };

/** Fixture pair `index` (0..11) as the primes of one party. */
export function primePair(index: number): { p: bigint; q: bigint } {
  const p = SAFE_PRIMES[2 * index];
  const q = SAFE_PRIMES[2 * index + 1];
  assert.ok(p !== undefined && q !== undefined, `no fixture prime pair ${index}`);
  return { p, q };
}

/** Party j of `parties` gets fixture pair firstPair + (its position). */
export function primePairs(parties: readonly PartyId[], firstPair: number): PrimePairs {
  return new Map(parties.map((p, i) => [p, primePair(firstPair + i)]));
}

export interface KeySpec {
  readonly t: number;
  readonly n: number;
  /** Seed of the DKG's random source: the same seed gives the same key in every thread. */
  readonly seed: string;
  /** Fixture prime pairs firstPair .. firstPair + n − 1 go to parties 1..n. */
  readonly firstPair: number;
}

export interface EcdsaKey {
  readonly spec: KeySpec;
  readonly parties: readonly PartyId[];
  readonly shares: KeyShare[];
  readonly auxes: AuxInfo[];
}

export function partiesOf(n: number): PartyId[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** The DKG of a spec: deterministic, cheap (no Paillier arithmetic). */
export function dkgOf(spec: KeySpec): KeyShare[] {
  return runDkg(group, partiesOf(spec.n), spec.t, { rng: seededRng(`${spec.seed}/dkg`) });
}

/** DKG and auxiliary info (the expensive part: Πmod, Πprm, Πfac between every pair). */
export function makeKey(spec: KeySpec): EcdsaKey {
  const shares = dkgOf(spec);
  const parties = partiesOf(spec.n);
  const auxes = runAux(shares, primePairs(parties, spec.firstPair), {
    rng: seededRng(`${spec.seed}/aux`),
  });
  return { spec, parties, shares, auxes };
}

/** Auxiliary info as plain data, for a worker thread (structured clone keeps bigints). */
export interface SerializedAux {
  readonly keySessionId: Uint8Array;
  readonly epoch: number;
  readonly self: PartyId;
  readonly p: bigint;
  readonly q: bigint;
  readonly parties: [PartyId, { N: bigint; s: bigint; t: bigint }][];
}

export function serializeAux(aux: AuxInfo): SerializedAux {
  return {
    keySessionId: Uint8Array.from(aux.keySessionId),
    epoch: aux.epoch,
    self: aux.self,
    p: aux.paillierSecret.p,
    q: aux.paillierSecret.q,
    parties: [...aux.parties].map(([id, a]) => [id, { N: a.rp.N, s: a.rp.s, t: a.rp.t }]),
  };
}

export function deserializeAux(s: SerializedAux): AuxInfo {
  return sealAuxInfo({
    keySessionId: s.keySessionId,
    epoch: s.epoch,
    self: s.self,
    paillierSecret: new PaillierSecretKey(s.p, s.q),
    parties: new Map(
      s.parties.map(([id, rp]) => [id, { paillier: paillierPublicKey(rp.N), rp: { ...rp } }]),
    ),
  });
}

// ---------------------------------------------------------------------------------------------
// Random choices

/** A uniform integer in [0, n) from the seeded source (bias ≤ n / 2^48: irrelevant here). */
export function randomInt(rng: Rng, n: number): number {
  const b = rng(6);
  let x = 0;
  for (const byte of b) x = x * 256 + byte;
  return x % n;
}

/** A uniformly random `size`-subset of `items`, ascending. */
export function randomSubset<T>(rng: Rng, items: readonly T[], size: number): T[] {
  const pool = [...items];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  const chosen = new Set(pool.slice(0, size));
  return items.filter((x) => chosen.has(x));
}

/** A random message of 0..127 bytes. */
export function randomMessage(rng: Rng): Uint8Array {
  return rng(randomInt(rng, 128));
}

// ---------------------------------------------------------------------------------------------
// Independent verification

const SPKI_SECP256K1_UNCOMPRESSED = Buffer.from(
  '3056301006072a8648ce3d020106052b8104000a034200',
  'hex',
);
const keyObjects = new Map<string, KeyObject>();

/** A node:crypto public key (OpenSSL) for a secp256k1 point, from its SPKI encoding. */
export function nodePublicKey(publicKey: Element): KeyObject {
  const compressed = publicKey.toBytes();
  const id = toHex(compressed);
  let key = keyObjects.get(id);
  if (!key) {
    const uncompressed = secp256k1.Point.fromBytes(compressed).toBytes(false);
    key = createPublicKey({
      key: Buffer.concat([SPKI_SECP256K1_UNCOMPRESSED, uncompressed]),
      format: 'der',
      type: 'spki',
    });
    keyObjects.set(id, key);
  }
  return key;
}

function bigFromBytes(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt('0x' + Buffer.from(bytes).toString('hex'));
}

/** Strict DER: SEQUENCE of two minimal positive INTEGERs, nothing else. */
export function parseDer(der: Uint8Array): { r: bigint; s: bigint } {
  assert.equal(der[0], 0x30, 'DER: not a SEQUENCE');
  assert.equal(der[1], der.length - 2, 'DER: SEQUENCE length');
  let offset = 2;
  const integer = (): bigint => {
    assert.equal(der[offset], 0x02, 'DER: not an INTEGER');
    const length = der[offset + 1]!;
    assert.ok(length >= 1 && length <= 33, `DER: INTEGER of ${length} bytes`);
    const body = der.subarray(offset + 2, offset + 2 + length);
    assert.equal(body.length, length, 'DER: truncated INTEGER');
    assert.equal(body[0]! & 0x80, 0, 'DER: negative INTEGER');
    if (length > 1) assert.ok(body[0] !== 0 || body[1]! & 0x80, 'DER: non-minimal INTEGER');
    offset += 2 + length;
    return bigFromBytes(body);
  };
  const r = integer();
  const s = integer();
  assert.equal(offset, der.length, 'DER: trailing bytes');
  return { r, s };
}

/** What a signature is checked against. */
export interface Signed {
  readonly digest: Uint8Array;
  /** When present, digest = sha256(message) and node:crypto verifies over the message. */
  readonly message?: Uint8Array;
  /** The key it must verify under (the derived key for a path). */
  readonly publicKey: Element;
}

/**
 * Every check an ECDSA consumer may apply: node:crypto (OpenSSL) verifies the DER signature
 * over sha256(message); noble verifies the compact and the DER form over the digest with low-s
 * enforced; s ≤ q/2; the recovery id recovers exactly the key; DER and compact carry (r, s);
 * and the signature does not verify for another digest.
 */
export function verifySignature(sig: EcdsaSignature, signed: Signed, what = 'signature'): void {
  const { digest, message, publicKey } = signed;
  const pub = publicKey.toBytes();
  assert.equal(digest.length, 32, `${what}: digest length`);
  assert.ok(sig.r > 0n && sig.r < ORDER, `${what}: r out of range`);
  assert.ok(sig.s > 0n && sig.s <= HALF_ORDER, `${what}: s is not low (s ≤ q/2)`);
  assert.equal(sig.compact.length, 64, `${what}: compact length`);
  assert.equal(bigFromBytes(sig.compact.subarray(0, 32)), sig.r, `${what}: compact r`);
  assert.equal(bigFromBytes(sig.compact.subarray(32)), sig.s, `${what}: compact s`);
  assert.deepEqual(parseDer(sig.der), { r: sig.r, s: sig.s }, `${what}: DER`);
  const nobleDer = secp256k1.Signature.fromBytes(sig.der, 'der');
  assert.deepEqual({ r: nobleDer.r, s: nobleDer.s }, { r: sig.r, s: sig.s }, `${what}: noble DER`);

  if (message !== undefined) {
    assert.deepEqual(digest, sha256(message), `${what}: digest is not sha256(message)`);
    assert.ok(
      nodeVerify('sha256', message, nodePublicKey(publicKey), sig.der),
      `${what}: node:crypto rejects the DER signature`,
    );
  }
  assert.ok(
    secp256k1.verify(sig.compact, digest, pub, { prehash: false }),
    `${what}: noble rejects the compact signature`,
  );
  assert.ok(
    secp256k1.verify(sig.der, digest, pub, { prehash: false, format: 'der' }),
    `${what}: noble rejects the DER signature`,
  );
  assert.ok(
    Number.isInteger(sig.recoveryId) && sig.recoveryId >= 0 && sig.recoveryId <= 3,
    `${what}: recovery id ${sig.recoveryId}`,
  );
  const recovered = secp256k1.Signature.fromBytes(sig.compact)
    .addRecoveryBit(sig.recoveryId)
    .recoverPublicKey(digest);
  assert.equal(toHex(recovered.toBytes(true)), toHex(pub), `${what}: recovery id recovers`);

  const other = Uint8Array.from(digest);
  other[31] ^= 1;
  assert.ok(
    !secp256k1.verify(sig.compact, other, pub, { prehash: false }),
    `${what}: verifies for another digest`,
  );
}

/** The key a signature under `path` must verify with. */
export function keyFor(share: KeyShare, path?: string): Element {
  return path
    ? derivePath(group, share.publicKey, share.chainCode, path).publicKey
    : share.publicKey;
}

// ---------------------------------------------------------------------------------------------
// Batches on worker threads

export const WORKER_ROLE = 'mpc-kms/test/ecdsa-sign-batch';

export interface SignJob {
  readonly signers: PartyId[];
  readonly message: Uint8Array;
  readonly path?: string;
  /** Seed of the presigning and signing randomness. */
  readonly seed: string;
}

export interface BatchInput {
  readonly role: typeof WORKER_ROLE;
  readonly key: KeySpec;
  /** The key's auxiliary info; when absent, the worker runs the aux ceremony itself. */
  readonly auxes?: SerializedAux[];
  readonly jobs: SignJob[];
}

export interface SignResult {
  readonly job: SignJob;
  readonly digest: Uint8Array;
  readonly signature: EcdsaSignature;
  readonly presignMs: number;
}

export interface BatchOutput {
  readonly publicKey: Uint8Array;
  readonly keySessionId: Uint8Array;
  readonly auxMs: number;
  readonly results: SignResult[];
}

/** Presigns and signs every job of a batch (in the calling thread). */
export function signBatch(input: BatchInput): BatchOutput {
  const shares = dkgOf(input.key);
  const started = performance.now();
  const auxes = input.auxes ? input.auxes.map(deserializeAux) : makeKey(input.key).auxes;
  const auxMs = performance.now() - started;
  const results: SignResult[] = input.jobs.map((job) => {
    const t0 = performance.now();
    const presignatures = runPresign(shares, auxes, job.signers, {
      rng: seededRng(`${job.seed}/presign`),
    });
    const presignMs = performance.now() - t0;
    const digest = sha256(job.message);
    const signature = runEcdsaSign(
      shares,
      presignatures,
      job.path ? { digest, path: job.path } : { digest },
      { rng: seededRng(`${job.seed}/sign`) },
    );
    return { job, digest, signature, presignMs };
  });
  return {
    publicKey: shares[0]!.publicKey.toBytes(),
    keySessionId: Uint8Array.from(shares[0]!.keySessionId),
    auxMs,
    results,
  };
}

/** Runs `signBatch` on a worker thread. */
export function signBatchInWorker(input: Omit<BatchInput, 'role'>): Promise<BatchOutput> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), {
      workerData: { ...input, role: WORKER_ROLE } satisfies BatchInput,
    });
    let output: BatchOutput | undefined;
    worker.once('message', (m: BatchOutput) => (output = m));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (output) resolve(output);
      else reject(new Error(`signing worker exited with code ${code} and no output`));
    });
  });
}

if (!isMainThread && (workerData as Partial<BatchInput> | null)?.role === WORKER_ROLE) {
  parentPort!.postMessage(signBatch(workerData as BatchInput));
}
