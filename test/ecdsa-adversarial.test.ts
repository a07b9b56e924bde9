/**
 * Threshold ECDSA against a malicious party: every deviation in the auxiliary-info ceremony,
 * presigning and signing ends the ceremony with the exact ProtocolError code and blame.
 *
 * The misbehaving party is always marked `faulty` (its own machine's verdicts are ignored, as a
 * deployment would treat a dishonest peer's), so the errors asserted are the honest parties'.
 * Where the adversary must send well-formed values no honest machine would produce (a modulus
 * it cannot prove, a second ciphertext with a valid proof), the test computes them and
 * substitutes them in flight with rewriteMessage.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generatePrimeSync } from 'node:crypto';
import { u16 } from '../protocol/bytes.js';
import { encodeWith } from '../protocol/codec.js';
import { runAux, runEcdsaSign, runPresign } from '../protocol/ecdsa-ceremonies.js';
import { auxCodec, createAux, type AuxMessage } from '../protocol/ecdsa/aux.js';
import type { AuxRevealMessage } from '../protocol/ecdsa/aux-messages.js';
import { presignCodec, type PresignMessage } from '../protocol/ecdsa/presign/index.js';
import { ecdsaSignCodec, type SigmaMessage } from '../protocol/ecdsa/sign.js';
import type { PartyId } from '../protocol/errors.js';
import { secp256k1Group } from '../protocol/group.js';
import type { FaultRule } from '../protocol/local.js';
import {
  bitLength,
  crt,
  gcd,
  jacobi,
  mod,
  modInv,
  modPow,
  toBytes,
} from '../protocol/bignum/arith.js';
import { randomBelow } from '../protocol/bignum/random.js';
import {
  encrypt,
  MIN_MODULUS_BITS,
  PaillierSecretKey,
  validateModulus,
  type PaillierPublicKey,
} from '../protocol/paillier/paillier.js';
import { generateRingPedersen } from '../protocol/paillier/ring-pedersen.js';
import type { Rng } from '../protocol/random.js';
import { digest, encodeParties } from '../protocol/transcript.js';
import { proveEnc, writeEncProof } from '../protocol/zk/enc.js';
import { MOD_PROOF, proveMod, writeModProof, type ModProof } from '../protocol/zk/mod.js';
import { STAT_REPETITIONS } from '../protocol/zk/params.js';
import { provePrm, writePrmProof } from '../protocol/zk/prm.js';
import { Transcript, type ProofContext } from '../protocol/zk/transcript.js';
import {
  chain,
  drop,
  duplicate,
  expectEquivocation,
  expectProtocolError,
  rewriteMessage,
} from './network-faults.js';
import { seededRng } from './helpers.js';
import {
  dkgOf,
  makeKey,
  primePair,
  primePairs,
  verifySignature,
  type EcdsaKey,
  type KeySpec,
} from './ecdsa-fixtures.js';

const group = secp256k1Group;
const KEY: KeySpec = { t: 2, n: 3, seed: 'ecdsa-adversarial/2-of-3', firstPair: 0 };
const PARTIES: readonly PartyId[] = [1, 2, 3];

let cachedKey: EcdsaKey | undefined;
/** The key with honest auxiliary info, built once (the aux ceremony is the costly part). */
const honestKey = (): EcdsaKey => (cachedKey ??= makeKey(KEY));

/** A copy of `bytes` with byte `index` (negative: from the end) XORed with `mask`. */
function flip(bytes: Uint8Array, index: number, mask = 0x01): Uint8Array {
  const out = Uint8Array.from(bytes);
  const i = index < 0 ? out.length + index : index;
  out[i]! ^= mask;
  return out;
}

/** A valid ciphertext of the same plaintext: c·ρ^N mod N² for a fresh unit ρ. */
function rerandomize(pk: PaillierPublicKey, c: bigint, seed: string): bigint {
  const { c: zero } = encrypt(pk, 0n, seededRng(seed));
  return (c * zero) % pk.N2;
}

// =============================================================================================
// Auxiliary info

/** The misbehaving party of the aux tests. */
const AUX_BAD: PartyId = 3;
/** A fixed session id, so that forged proofs and commitments can be bound to it. */
const AUX_SESSION = new Uint8Array(32).fill(0xa5);
const auxCodec3 = auxCodec(PARTIES.length);

function runAuxWith(
  fault: FaultRule<AuxMessage> | undefined,
  options: { primes?: { p: bigint; q: bigint }; seed?: string; faulty?: boolean } = {},
) {
  const shares = dkgOf(KEY);
  const primes = new Map(primePairs(PARTIES, KEY.firstPair));
  if (options.primes) primes.set(AUX_BAD, options.primes);
  return runAux(shares, primes, {
    rng: seededRng(`aux-adversarial/${options.seed ?? 'run'}`),
    sessionId: AUX_SESSION,
    ...(fault ? { fault } : {}),
    ...(options.faulty === false ? {} : { faulty: (p: PartyId) => p === AUX_BAD }),
  });
}

/** Everything a party reveals in round 2 about its modulus, with the proofs as sent. */
interface Parameters {
  readonly N: bigint;
  readonly s: bigint;
  readonly t: bigint;
  readonly u: Uint8Array;
  readonly modProof: Uint8Array;
  readonly prmProof: Uint8Array;
}

function auxProofContext(label: string): ProofContext {
  return { sessionId: AUX_SESSION, prover: AUX_BAD, verifier: null, label: `aux/${label}` };
}

/** The round-1 commitment H(context, i, N, s, t, u) of protocol/ecdsa/aux.ts. */
function auxCommitment(params: Parameters): Uint8Array {
  const share = dkgOf(KEY)[0]!;
  const context = digest(
    'mpc-kms/aux/context/v1',
    AUX_SESSION,
    share.keySessionId,
    u16(share.epoch),
    encodeParties(PARTIES),
  );
  return digest(
    'mpc-kms/aux/commit/v1',
    context,
    u16(AUX_BAD),
    toBytes(params.N),
    toBytes(params.s),
    toBytes(params.t),
    params.u,
  );
}

/**
 * The bad party commits to and reveals `params` instead of its own (consistently, to everyone:
 * the commitment opens and the echo agrees), so only the checks on the parameters can refuse.
 */
function substituteParameters(params: Parameters): FaultRule<AuxMessage> {
  const commitment = auxCommitment(params);
  const index = PARTIES.indexOf(AUX_BAD);
  return chain(
    rewriteMessage(auxCodec3, { from: AUX_BAD, kind: 'commit' }, (m) => ({ ...m, commitment })),
    rewriteMessage(auxCodec3, { from: AUX_BAD, kind: 'reveal' }, (m) => ({
      ...(m as AuxRevealMessage),
      ...params,
      digests: (m as AuxRevealMessage).digests.map((d, i) => (i === index ? commitment : d)),
    })),
  );
}

/** Ring-Pedersen parameters and Πprm over N = p·q, and Πmod from `mod`. */
function parametersFor(
  p: bigint,
  q: bigint,
  rng: Rng,
  proveModFor: (N: bigint, ctx: ProofContext) => ModProof,
): Parameters {
  const N = p * q;
  const phi = (p - 1n) * (q - 1n);
  const { params: rp, lambda } = generateRingPedersen(N, phi, rng);
  const prm = provePrm(rp, { lambda, phi }, auxProofContext('prm'), rng);
  return {
    N,
    s: rp.s,
    t: rp.t,
    u: rng(32),
    modProof: encodeWith(proveModFor(N, auxProofContext('mod')), writeModProof),
    prmProof: encodeWith(prm, writePrmProof),
  };
}

/** x^e mod m in plain BigInt (the library's modPow refuses some results near 1 and m − 1). */
function powBig(x: bigint, e: bigint, m: bigint): bigint {
  let result = 1n;
  let base = mod(x, m);
  for (; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * base) % m;
    base = (base * base) % m;
  }
  return result;
}

/** A square root of a mod an odd prime p (Tonelli–Shanks), or null for a non-residue. */
function sqrtModPrime(a: bigint, p: bigint): bigint | null {
  a = mod(a, p);
  if (a === 0n) return 0n;
  if (jacobi(a, p) !== 1) return null;
  let q = p - 1n;
  let s = 0;
  while ((q & 1n) === 0n) {
    q >>= 1n;
    s++;
  }
  let z = 2n;
  while (jacobi(z, p) !== -1) z++;
  let m = s;
  let c = powBig(z, q, p);
  let t = powBig(a, q, p);
  let r = powBig(a, (q + 1n) / 2n, p);
  while (t !== 1n) {
    let i = 0;
    for (let t2 = t; t2 !== 1n; t2 = (t2 * t2) % p) i++;
    const b = powBig(c, 1n << BigInt(m - i - 1), p);
    m = i;
    c = (b * b) % p;
    t = (t * c) % p;
    r = (r * b) % p;
  }
  return r;
}

/** A fourth root of c mod p if one exists. */
function fourthRootModPrime(c: bigint, p: bigint): bigint | null {
  const r = sqrtModPrime(c, p);
  if (r === null) return null;
  return sqrtModPrime(r, p) ?? sqrtModPrime(p - r, p);
}

/**
 * The best Πmod a prover holding the factors of a non-Blum N can give: honest N-th roots z, and
 * for each challenge a fourth root of whichever of ±y, ±w·y has one, when any has (no valid
 * proof exists: for p ≡ 1 mod 4 most challenges have none).
 */
function cheatingModProof(
  p: bigint,
  q: bigint,
  rng: Rng,
): (N: bigint, ctx: ProofContext) => ModProof & { answered: number } {
  return (N, ctx) => {
    let w: bigint;
    do w = randomBelow(N, rng);
    while (jacobi(w, N) !== -1);
    const ys = new Transcript(MOD_PROOF, ctx)
      .int('N', N)
      .int('w', w)
      .challenges(STAT_REPETITIONS, N);
    const d = modInv(N, (p - 1n) * (q - 1n));
    const qInvModP = modInv(q, p);
    let answered = 0;
    const repetitions = ys.map((y) => {
      const z = modPow(y, d, N);
      for (const [a, b] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        let c = b ? (y * w) % N : y;
        if (a) c = mod(-c, N);
        const xp = fourthRootModPrime(c, p);
        const xq = fourthRootModPrime(c, q);
        if (xp !== null && xq !== null) {
          answered++;
          return { x: crt(xp, p, xq, q, qInvModP), a, b, z };
        }
      }
      return { x: 1n, a: false, b: false, z };
    });
    return { w, repetitions, answered };
  };
}

const prime = (bits: number, rem: bigint) =>
  generatePrimeSync(bits, { bigint: true, add: 4n, rem, safe: false });

test('aux: a modulus that is not Paillier-Blum (p ≡ q ≡ 1 mod 4) fails Πmod → INVALID_PROOF', (t) => {
  // OpenSSL does not always set the top two bits with `add`: draw until N has 2048 bits.
  let p: bigint;
  let q: bigint;
  do {
    p = prime(1024, 1n);
    q = prime(1024, 1n);
  } while (p === q || !validateModulus(p * q) || gcd(p * q, (p - 1n) * (q - 1n)) !== 1n);
  // The honest prover refuses to prove it at all.
  const rng = seededRng('aux/non-blum');
  expectProtocolError(
    () => proveMod({ N: p * q }, { p, q }, auxProofContext('mod'), rng),
    'INVALID_PARAMETERS',
    [],
  );
  let answered = -1;
  const cheat = cheatingModProof(p, q, rng);
  const params = parametersFor(p, q, rng, (N, ctx) => {
    const proof = cheat(N, ctx);
    answered = proof.answered;
    return proof;
  });
  // It answers the challenges that have a fourth root (typically 5 to 30 of 80), never all.
  t.diagnostic(`the cheating prover answered ${answered} of ${STAT_REPETITIONS} challenges`);
  assert.ok(answered > 0 && answered < STAT_REPETITIONS);
  const e = expectProtocolError(() => runAuxWith(substituteParameters(params)), 'INVALID_PROOF', [
    AUX_BAD,
  ]);
  assert.match(e.message, /Πmod/);
});

test('aux: a modulus with a 256-bit factor passes Πmod but not Πfac → INVALID_PROOF', () => {
  let p: bigint;
  let q: bigint;
  do {
    p = prime(256, 3n);
    q = prime(1792, 3n);
  } while (bitLength(p * q) < MIN_MODULUS_BITS);
  // An honest machine with these primes proves Πmod and Πprm (both valid: N is Paillier-Blum),
  // then Πfac. Its response for the 1792-bit factor overflows the range ±2^(ℓ+ε)·√N0 that
  // bounds both factors, so every receiver's Πfac check fails.
  const e = expectProtocolError(
    () => runAuxWith(undefined, { primes: { p, q }, seed: 'small-factor' }),
    'INVALID_PROOF',
    [AUX_BAD],
  );
  assert.match(e.message, /Πfac/);
});

test('aux: a modulus below 2048 bits is refused (validateModulus, locally and from a peer)', () => {
  // Locally: the key and the machine refuse small primes.
  const small = [prime(1000, 3n), prime(1000, 3n)] as const;
  expectProtocolError(() => new PaillierSecretKey(small[0], small[1]), 'INVALID_PARAMETERS', []);
  const share = dkgOf(KEY)[0]!;
  expectProtocolError(
    () =>
      createAux(
        {
          sessionId: AUX_SESSION,
          self: 1,
          parties: PARTIES,
          keySessionId: share.keySessionId,
          epoch: 0,
        },
        { p: small[0], q: small[1] },
        seededRng('aux/small/local'),
      ),
    'INVALID_PARAMETERS',
    [],
  );
  // validateModulus: size and parity.
  const { p: p0, q: q0 } = primePair(0);
  assert.equal(validateModulus(p0 * q0), true);
  assert.equal(validateModulus(small[0] * small[1]), false);
  assert.equal(validateModulus((1n << 2047n) - 1n), false, '2047 bits');
  assert.equal(validateModulus((1n << 2047n) + 1n), true, '2048 bits, odd');
  assert.equal(validateModulus(1n << 2047n), false, 'even');
  assert.equal(validateModulus(p0 * q0 * 2n), false, 'even');

  // From a peer: a 1024-bit Blum modulus, committed, revealed and proven honestly otherwise.
  const p = prime(512, 3n);
  const q = prime(512, 3n);
  const rng = seededRng('aux/small/peer');
  const params = parametersFor(p, q, rng, (N, ctx) => proveMod({ N }, { p, q }, ctx, rng));
  const e = expectProtocolError(() => runAuxWith(substituteParameters(params)), 'INVALID_PROOF', [
    AUX_BAD,
  ]);
  assert.match(e.message, /below 2048 bits/);
  // Swapping a 1024-bit N into the reveal alone does not open the commitment.
  expectProtocolError(
    () =>
      runAuxWith(
        rewriteMessage(auxCodec3, { from: AUX_BAD, kind: 'reveal' }, (m) => ({
          ...(m as AuxRevealMessage),
          N: p * q,
        })),
      ),
    'INVALID_OPENING',
    [AUX_BAD],
  );
});

test('aux: tampered Πprm, Πmod and Πfac proofs are refused, blaming the prover', () => {
  const reveal = (change: (m: AuxRevealMessage) => AuxRevealMessage) =>
    rewriteMessage(auxCodec3, { from: AUX_BAD, kind: 'reveal' }, (m) =>
      change(m as AuxRevealMessage),
    );
  // The last byte of Πprm (low byte of z_80): well-formed, does not verify.
  let e = expectProtocolError(
    () => runAuxWith(reveal((m) => ({ ...m, prmProof: flip(m.prmProof, -1) }))),
    'INVALID_PROOF',
    [AUX_BAD],
  );
  assert.match(e.message, /Πprm/);
  // The first byte of Πprm (its repetition count): does not decode.
  expectProtocolError(
    () => runAuxWith(reveal((m) => ({ ...m, prmProof: flip(m.prmProof, 0) }))),
    'MALFORMED_MESSAGE',
    [AUX_BAD],
  );
  // The last byte of Πmod (low byte of the last z).
  e = expectProtocolError(
    () => runAuxWith(reveal((m) => ({ ...m, modProof: flip(m.modProof, -1) }))),
    'INVALID_PROOF',
    [AUX_BAD],
  );
  assert.match(e.message, /Πmod/);
  // The last byte of the Πfac that the bad party sends to party 1 only.
  e = expectProtocolError(
    () =>
      runAuxWith(
        rewriteMessage(auxCodec3, { from: AUX_BAD, to: 1, kind: 'fac' }, (m) => ({
          ...m,
          proof: flip((m as { proof: Uint8Array }).proof, -1),
        })),
      ),
    'INVALID_PROOF',
    [AUX_BAD],
  );
  assert.match(e.message, /Πfac/);
});

test('aux: a reveal that does not open its commitment → INVALID_OPENING', () => {
  for (const change of [
    (m: AuxRevealMessage) => ({ ...m, u: flip(m.u, 0) }),
    (m: AuxRevealMessage) => ({ ...m, t: m.s, s: m.t }),
  ]) {
    expectProtocolError(
      () =>
        runAuxWith(
          rewriteMessage(auxCodec3, { from: AUX_BAD, kind: 'reveal' }, (m) =>
            change(m as AuxRevealMessage),
          ),
        ),
      'INVALID_OPENING',
      [AUX_BAD],
    );
  }
});

test('aux: a different commitment to one peer → EQUIVOCATION naming the sender', () => {
  const equivocate = rewriteMessage(auxCodec3, { from: AUX_BAD, to: 1, kind: 'commit' }, (m) => ({
    ...m,
    commitment: flip((m as { commitment: Uint8Array }).commitment, 5),
  }));
  // Party 1 saw another commitment than party 2. Party 2, which runs first here, cannot tell
  // whether the sender or party 1's echo lies and names both ([1, 3]); party 1 is certain, since
  // the sender's own echo contradicts what it sent party 1.
  expectEquivocation(() => runAuxWith(equivocate), AUX_BAD, [1]);
  // The victim's own verdict, with party 2's silenced: exactly the sender.
  expectProtocolError(
    () =>
      runAux(dkgOf(KEY), primePairs(PARTIES, KEY.firstPair), {
        rng: seededRng('aux-adversarial/victim'),
        sessionId: AUX_SESSION,
        fault: equivocate,
        faulty: (p) => p === AUX_BAD || p === 2,
      }),
    'EQUIVOCATION',
    [AUX_BAD],
  );
});

// =============================================================================================
// Presigning

/** The misbehaving signer and the honest one. */
const BAD: PartyId = 1;
const HONEST: PartyId = 2;
const SIGNERS: PartyId[] = [BAD, HONEST];
const PRESIGN_SESSION = new Uint8Array(32).fill(0x5c);
const faultyBad = (p: PartyId) => p === BAD;

function presignWith(
  fault: FaultRule<PresignMessage>,
  signers: PartyId[] = SIGNERS,
  seed = 'presign',
) {
  const key = honestKey();
  return runPresign(key.shares, key.auxes, signers, {
    rng: seededRng(`presign-adversarial/${seed}`),
    sessionId: PRESIGN_SESSION,
    fault,
    faulty: faultyBad,
  });
}

/** Rewrites the selected message of the bad signer (to every receiver unless `to` is given). */
function fromBad<K extends PresignMessage['kind']>(
  kind: K,
  change: (m: Extract<PresignMessage, { kind: K }>, to: PartyId) => PresignMessage,
  to?: PartyId,
  signers: number = SIGNERS.length,
): FaultRule<PresignMessage> {
  return rewriteMessage(
    presignCodec(signers),
    { from: BAD, kind, ...(to === undefined ? {} : { to }) },
    (m, receiver) => change(m as Extract<PresignMessage, { kind: K }>, receiver),
  );
}

const paillierOf = (p: PartyId) => honestKey().auxes[0]!.parties.get(p)!.paillier;
const rpOf = (p: PartyId) => honestKey().auxes[0]!.parties.get(p)!.rp;

test('presign: with an identity rewrite of every message the run succeeds (control)', () => {
  const identity = (kind: PresignMessage['kind']) => fromBad(kind, (m) => m);
  const all = chain(
    ...(['ciphertexts', 'enc', 'gamma', 'mta', 'delta', 'delta-proof'] as const).map(identity),
  );
  const presignatures = presignWith(all, SIGNERS, 'control');
  assert.deepEqual([...presignatures.keys()], SIGNERS);
});

test('presign: a tampered Πenc → INVALID_PROOF, or MALFORMED_MESSAGE if it no longer parses', () => {
  const e = expectProtocolError(
    () => presignWith(fromBad('enc', (m) => ({ ...m, proof: flip(m.proof, -1) }))),
    'INVALID_PROOF',
    [BAD],
  );
  assert.match(e.message, /Πenc/);
  // The sign byte of S: a negative residue does not decode.
  expectProtocolError(
    () => presignWith(fromBad('enc', (m) => ({ ...m, proof: flip(m.proof, 0) }))),
    'MALFORMED_MESSAGE',
    [BAD],
  );
});

test('presign: K replaced for one receiver by another valid ciphertext → INVALID_PROOF (Πenc)', () => {
  const e = expectProtocolError(
    () =>
      presignWith(
        fromBad(
          'ciphertexts',
          (m) => ({ ...m, K: rerandomize(paillierOf(BAD), m.K, 'K') }),
          HONEST,
        ),
      ),
    'INVALID_PROOF',
    [BAD],
  );
  assert.match(e.message, /Πenc/);
});

/**
 * The bad signer shows `victim` a different K (an encryption of another k) with a valid Πenc
 * for it: every proof passes and only the echo of round 1 catches the equivocation.
 */
function equivocateK(victim: PartyId, signers: PartyId[]): FaultRule<PresignMessage> {
  const rng = seededRng(`presign/equivocate/${victim}`);
  const key = paillierOf(BAD);
  const k = group.randomScalar(rng);
  const { c: K, rho } = encrypt(key, k, rng);
  const proof = proveEnc(
    { key, K, rp: rpOf(victim) },
    { k, rho },
    { sessionId: PRESIGN_SESSION, prover: BAD, verifier: victim, label: 'presign/enc' },
    rng,
  );
  return chain(
    fromBad('ciphertexts', (m) => ({ ...m, K }), victim, signers.length),
    fromBad(
      'enc',
      (m) => ({ ...m, proof: encodeWith(proof, writeEncProof) }),
      victim,
      signers.length,
    ),
  );
}

test('presign: K equivocation with a valid Πenc → EQUIVOCATION blaming the sender', () => {
  expectProtocolError(
    () => presignWith(equivocateK(HONEST, SIGNERS), SIGNERS, 'equivocate/2'),
    'EQUIVOCATION',
    [BAD],
  );
  // With three signers the victim is certain; the other honest party names sender and victim.
  expectEquivocation(() => presignWith(equivocateK(3, [1, 2, 3]), [1, 2, 3], 'equivocate/3'), BAD, [
    3,
  ]);
});

test('presign: a tampered MtA (another valid D, D̂ or F) → INVALID_PROOF (Πaff-g)', () => {
  const cases: [string, FaultRule<PresignMessage>, RegExp][] = [
    [
      'D',
      fromBad('mta', (m, to) => ({ ...m, D: rerandomize(paillierOf(to), m.D, 'D') })),
      /Πaff-g for γ/,
    ],
    [
      'DHat',
      fromBad('mta', (m, to) => ({ ...m, DHat: rerandomize(paillierOf(to), m.DHat, 'DHat') })),
      /Πaff-g for x/,
    ],
    [
      'F',
      fromBad('mta', (m) => ({ ...m, F: rerandomize(paillierOf(BAD), m.F, 'F') })),
      /Πaff-g for γ/,
    ],
    ['affG', fromBad('mta', (m) => ({ ...m, affG: flip(m.affG, -1) })), /Πaff-g for γ/],
  ];
  for (const [name, fault, message] of cases) {
    const e = expectProtocolError(
      () => presignWith(fault, SIGNERS, `mta/${name}`),
      'INVALID_PROOF',
      [BAD],
    );
    assert.match(e.message, message, name);
  }
});

test('presign: Γ replaced for everyone → INVALID_PROOF; a tampered Πlog*(Γ) → INVALID_PROOF', () => {
  let e = expectProtocolError(
    () => presignWith(fromBad('gamma', (m) => ({ ...m, Gamma: m.Gamma.add(group.base) }))),
    'INVALID_PROOF',
    [BAD],
  );
  assert.match(e.message, /Πaff-g for γ|Πlog\* for Γ/);
  e = expectProtocolError(
    () => presignWith(fromBad('mta', (m) => ({ ...m, logStar: flip(m.logStar, -1) }))),
    'INVALID_PROOF',
    [BAD],
  );
  assert.match(e.message, /Πlog\* for Γ/);
});

test('presign: a lying δ_i or S_i (no proof covers them) → INCONSISTENT with empty blame', () => {
  expectProtocolError(
    () => presignWith(fromBad('delta', (m) => ({ ...m, delta: group.mod(m.delta + 1n) }))),
    'INCONSISTENT',
    [],
  );
  expectProtocolError(
    () => presignWith(fromBad('delta', (m) => ({ ...m, S: m.S.add(group.base) }))),
    'INCONSISTENT',
    [],
  );
});

test('presign: an altered Δ_i → INVALID_PROOF (Πlog*)', () => {
  const e = expectProtocolError(
    () => presignWith(fromBad('delta', (m) => ({ ...m, Delta: m.Delta.add(group.base) }))),
    'INVALID_PROOF',
    [BAD],
  );
  assert.match(e.message, /Πlog\* for Δ/);
});

test('presign: a "ciphertext" ≥ N², not positive, or sharing a factor with N → MALFORMED_MESSAGE', () => {
  const { p } = primePair(KEY.firstPair + PARTIES.indexOf(BAD));
  const mine = paillierOf(BAD);
  const theirs = paillierOf(HONEST);
  assert.equal(mine.N % p, 0n, "the bad party's modulus");
  const cases: [string, FaultRule<PresignMessage>][] = [
    ['K = N²', fromBad('ciphertexts', (m) => ({ ...m, K: mine.N2 }))],
    ['K = N² + K', fromBad('ciphertexts', (m) => ({ ...m, K: mine.N2 + m.K }))],
    ['K = 0', fromBad('ciphertexts', (m) => ({ ...m, K: 0n }))],
    ['K = −K', fromBad('ciphertexts', (m) => ({ ...m, K: -m.K }))],
    ['K = p·K mod N²', fromBad('ciphertexts', (m) => ({ ...m, K: (p * m.K) % mine.N2 }))],
    ['G = N', fromBad('ciphertexts', (m) => ({ ...m, G: mine.N }))],
    ['D = N̂²', fromBad('mta', (m) => ({ ...m, D: theirs.N2 }))],
    ['D̂ = N̂', fromBad('mta', (m) => ({ ...m, DHat: theirs.N }))],
    ['F = p·F mod N²', fromBad('mta', (m) => ({ ...m, F: (p * m.F) % mine.N2 }))],
  ];
  for (const [name, fault] of cases) {
    const e = expectProtocolError(
      () => presignWith(fault, SIGNERS, `malformed/${name}`),
      'MALFORMED_MESSAGE',
      [BAD],
    );
    assert.match(e.message, /not a ciphertext|not ciphertexts/, name);
  }
});

// =============================================================================================
// Signing

const signCodec = ecdsaSignCodec();

function signWith(
  signers: PartyId[],
  seed: string,
  fault: FaultRule<SigmaMessage>,
  bad: readonly PartyId[],
  path?: string,
) {
  const key = honestKey();
  const presignatures = runPresign(key.shares, key.auxes, signers, {
    rng: seededRng(`sign-adversarial/${seed}/presign`),
  });
  const digest = new Uint8Array(32).fill(signers.length);
  return runEcdsaSign(key.shares, presignatures, path ? { digest, path } : { digest }, {
    rng: seededRng(`sign-adversarial/${seed}`),
    fault,
    faulty: (p) => bad.includes(p),
  });
}

const plusOne = (from: PartyId) =>
  rewriteMessage(signCodec, { from, kind: 'sigma' }, (m) => ({
    ...m,
    sigma: group.mod(m.sigma + 1n),
  }));

test('sign: σ_i + 1 on its way to the coordinator → INVALID_SIGNATURE_SHARE [i]', () => {
  expectProtocolError(
    () => signWith([1, 2], 'plus-one/1', plusOne(1), [1]),
    'INVALID_SIGNATURE_SHARE',
    [1],
  );
  // Under a derived key (the coordinator's check uses m + r·t).
  expectProtocolError(
    () => signWith([1, 3], 'plus-one/3', plusOne(3), [3], 'm/0/7'),
    'INVALID_SIGNATURE_SHARE',
    [3],
  );
  // Two bad shares out of three are both named.
  expectProtocolError(
    () => signWith([1, 2, 3], 'plus-one/12', chain(plusOne(1), plusOne(2)), [1, 2]),
    'INVALID_SIGNATURE_SHARE',
    [1, 2],
  );
});

test('sign: a dropped σ → MISSING_MESSAGE [i]; a duplicated one is refused', () => {
  expectProtocolError(
    () => signWith([1, 2], 'drop', drop({ from: 2, kind: 'sigma' }), [2]),
    'MISSING_MESSAGE',
    [2],
  );
  expectProtocolError(
    () => signWith([2, 3], 'duplicate', duplicate({ from: 2, kind: 'sigma' }), []),
    'REPLAYED_MESSAGE',
    [2],
  );
});

test('sign: with no fault the same presignature path signs (control)', () => {
  const key = honestKey();
  const presignatures = runPresign(key.shares, key.auxes, [2, 3], {
    rng: seededRng('sign-adversarial/control'),
  });
  const digest = new Uint8Array(32).fill(7);
  const sig = runEcdsaSign(key.shares, presignatures, { digest }, { rng: seededRng('c') });
  verifySignature(sig, { digest, publicKey: key.shares[0]!.publicKey }, 'control');
});
