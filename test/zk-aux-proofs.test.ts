/**
 * The auxiliary-information proofs of CGGMP21: Πmod (Fig. 16), Πprm (Fig. 17) and Πfac
 * (Fig. 26/28). Each must accept honest proofs, survive its wire format, and reject: proofs bound
 * to another context, every single-field mutation of a proof or of its statement, and proofs of
 * false statements (moduli that are prime, square-factored, three-prime, non-Blum or too small;
 * s outside ⟨t⟩; a modulus with a 256-bit factor).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generatePrimeSync, getDiffieHellman } from 'node:crypto';
import { Reader, Writer } from '../protocol/codec.js';
import { ProtocolError } from '../protocol/errors.js';
import { bitLength, fromBytes, jacobi, mod, modInv, modPow } from '../protocol/bignum/arith.js';
import { randomBelow, randomUnit } from '../protocol/bignum/random.js';
import { PaillierSecretKey } from '../protocol/paillier/paillier.js';
import { generateRingPedersen, type RingPedersen } from '../protocol/paillier/ring-pedersen.js';
import { ELL, EPSILON, Q, STAT_REPETITIONS } from '../protocol/zk/params.js';
import { Transcript, type ProofContext } from '../protocol/zk/transcript.js';
import {
  MOD_PROOF,
  proveMod,
  readModProof,
  verifyMod,
  writeModProof,
  type ModProof,
  type ModRepetition,
  type ModStatement,
  type ModWitness,
} from '../protocol/zk/mod.js';
import {
  provePrm,
  readPrmProof,
  verifyPrm,
  writePrmProof,
  type PrmProof,
} from '../protocol/zk/prm.js';
import {
  proveFac,
  readFacProof,
  verifyFac,
  writeFacProof,
  type FacProof,
  type FacStatement,
} from '../protocol/zk/fac.js';
import type { Rng } from '../protocol/random.js';
import { SAFE_PRIMES, seededRng } from './helpers.js';

// 2048-bit moduli from the fixture's safe primes (never generated here, except the one non-Blum
// prime below, which the fixture cannot provide).
const primes = SAFE_PRIMES;
const [p0, p1, p2, p3, p4, p5] = primes as [bigint, bigint, bigint, bigint, bigint, bigint];
/** The prover's Paillier key. */
const proverKey = new PaillierSecretKey(p0, p1);
const N = proverKey.publicKey.N;
/** The verifier's Paillier key, whose ring-Pedersen parameters Πfac commits under. */
const verifierKey = new PaillierSecretKey(p2, p3);
/** A third valid Paillier-Blum modulus, substituted for N in wrong statements. */
const otherN = p4 * p5;
/** A 2048-bit prime ≡ 3 (mod 4): the RFC 3526 group-14 safe prime, built into Node. */
const PRIME_2048 = fromBytes(getDiffieHellman('modp14').getPrime());
/** The Mersenne prime 2^521 − 1 (≡ 3 mod 4): times p0 it is a Paillier-Blum modulus of 1545 bits. */
const M521 = (1n << 521n) - 1n;

const ctx: ProofContext = {
  sessionId: new Uint8Array(32).fill(7),
  prover: 1,
  verifier: null,
  label: 'aux/test',
};
const facCtx: ProofContext = { ...ctx, verifier: 2 };

/** The same context with one binding changed at a time: none may accept the proof. */
function otherContexts(c: ProofContext): [string, ProofContext][] {
  const session = Uint8Array.from(c.sessionId);
  session[0] ^= 1;
  return [
    ['session id', { ...c, sessionId: session }],
    ['prover', { ...c, prover: c.prover + 1 }],
    ['verifier', { ...c, verifier: c.verifier === null ? 3 : null }],
    ['verifier id', { ...c, verifier: (c.verifier ?? 0) + 5 }],
    ['label', { ...c, label: c.label + '/x' }],
  ];
}

interface Mutation {
  readonly path: string;
  readonly value: unknown;
}

/**
 * Every copy of `value` with exactly one leaf changed: each bigint +1 and −1, each boolean
 * flipped, recursing through arrays (each element) and objects (each property).
 */
function mutations(value: unknown, path: string): Mutation[] {
  if (typeof value === 'bigint') {
    return [
      { path: `${path} + 1`, value: value + 1n },
      { path: `${path} - 1`, value: value - 1n },
    ];
  }
  if (typeof value === 'boolean') return [{ path: `${path} flipped`, value: !value }];
  if (Array.isArray(value)) {
    return value.flatMap((element: unknown, i) =>
      mutations(element, `${path}[${i}]`).map((m) => ({
        path: m.path,
        value: value.map((e: unknown, j) => (j === i ? m.value : e)),
      })),
    );
  }
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, v]) =>
      mutations(v, `${path}.${key}`).map((m) => ({
        path: m.path,
        value: { ...value, [key]: m.value },
      })),
    );
  }
  throw new Error(`${path}: no mutation for ${typeof value}`);
}

function assertAllFail<T>(base: T, path: string, expected: number, accepts: (v: T) => boolean) {
  const all = mutations(base, path);
  assert.equal(all.length, expected, `${path}: mutation count`);
  for (const m of all) assert.equal(accepts(m.value as T), false, `${m.path} was accepted`);
}

function encode<P>(write: (w: Writer, proof: P) => void, proof: P): Uint8Array {
  const w = new Writer();
  write(w, proof);
  return w.finish();
}

function decode<P, S>(read: (r: Reader, s: S) => P, bytes: Uint8Array, statement: S): P {
  const r = new Reader(bytes, 1);
  const proof = read(r, statement);
  r.end();
  return proof;
}

function assertMalformed(f: () => unknown, what: string): void {
  assert.throws(
    f,
    (e: unknown) => e instanceof ProtocolError && e.code === 'MALFORMED_MESSAGE',
    what,
  );
}

/**
 * A false statement must not be provable: the honest prover throws or its proof is refused. The
 * prover may throw more than ProtocolError: on a non-Blum prime its "fourth root" exponent can
 * give 1, which arith.ts's OpenSSL modPow refuses to return (it throws instead).
 */
function assertNotProvable<P>(prove: () => P, verify: (proof: P) => boolean, what: string): void {
  let proof: P;
  try {
    proof = prove();
  } catch (e) {
    assert.ok(e instanceof Error, `${what}: prover failed with ${String(e)}`);
    return;
  }
  assert.equal(verify(proof), false, `${what}: proof accepted`);
}

// ---------------------------------------------------------------------------------------------
// Πmod

const modStatement: ModStatement = { N };
const modProof = proveMod(modStatement, proverKey, ctx, seededRng('mod'));
/** w ± 1, and per repetition x ± 1, a and b flipped, z ± 1. */
const modMutations = 2 + STAT_REPETITIONS * (2 + 1 + 1 + 2);

/**
 * An independent Πmod prover over N = Π primes (each ≡ 3 mod 4, distinct), computing roots
 * prime by prime. For two primes it is an honest prover (and checks that this file derives the
 * challenges as mod.ts does); for one prime it forges a proof that N is Paillier-Blum; for three
 * it runs out of answers, as no prover can answer a challenge none of ±y, ±wy is a square for.
 */
function modByPrimes(modulus: bigint, factors: bigint[], c: ProofContext, rng: Rng): ModProof {
  let w: bigint;
  do w = randomBelow(modulus, rng);
  while (jacobi(w, modulus) !== -1);
  const ys = new Transcript(MOD_PROOF, c)
    .int('N', modulus)
    .int('w', w)
    .challenges(STAT_REPETITIONS, modulus);
  const d = modInv(
    modulus,
    factors.reduce((acc, f) => acc * (f - 1n), 1n),
  );
  const crtAll = (residues: bigint[]): bigint =>
    residues.reduce((acc, r, i) => {
      const m = factors.slice(0, i).reduce((x, f) => x * f, 1n);
      const f = factors[i]!;
      return acc + m * mod((r - acc) * modInv(m, f), f);
    }, 0n);
  const repetitions = ys.map((y): ModRepetition => {
    for (const [a, b] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      let v = b ? (y * w) % modulus : y;
      if (a) v = mod(-v, modulus);
      if (!factors.every((f) => jacobi(v, f) === 1)) continue;
      const roots = factors.map((f) => {
        const r2 = modPow(v, (f + 1n) / 4n, f);
        return modPow(r2, (f + 1n) / 4n, f);
      });
      return { x: crtAll(roots), a, b, z: modPow(y, d, modulus) };
    }
    throw new ProtocolError('INVALID_PARAMETERS', 'no fourth root among ±y, ±wy');
  });
  return { w, repetitions };
}

/** Whether every equation of Fig. 16 holds (all but the compositeness and size checks). */
function modEquationsHold(modulus: bigint, proof: ModProof, c: ProofContext): boolean {
  const ys = new Transcript(MOD_PROOF, c)
    .int('N', modulus)
    .int('w', proof.w)
    .challenges(STAT_REPETITIONS, modulus);
  return proof.repetitions.every((r, i) => {
    let v = r.b ? (ys[i]! * proof.w) % modulus : ys[i]!;
    if (r.a) v = mod(-v, modulus);
    return modPow(r.x, 4n, modulus) === v && modPow(r.z, modulus, modulus) === ys[i];
  });
}

test('Πmod: an honest proof verifies and survives its encoding', () => {
  assert.ok(bitLength(N) >= 2048);
  assert.equal(modProof.repetitions.length, STAT_REPETITIONS);
  assert.equal(verifyMod(modStatement, modProof, ctx), true);
  const decoded = decode(readModProof, encode(writeModProof, modProof), modStatement);
  assert.deepEqual(decoded, modProof);
  assert.equal(verifyMod(modStatement, decoded, ctx), true);
  // A PaillierSecretKey and a bare {p, q} are the same witness.
  const bare: ModWitness = { p: p1, q: p0 };
  assert.equal(verifyMod(modStatement, proveMod(modStatement, bare, ctx, seededRng(2)), ctx), true);
});

test('Πmod: an independent prover agrees with mod.ts on the challenges', () => {
  const proof = modByPrimes(N, [p0, p1], ctx, seededRng('mod-independent'));
  assert.equal(verifyMod(modStatement, proof, ctx), true);
});

test('Πmod: refused under any other session, prover, verifier or label', () => {
  for (const [what, other] of otherContexts(ctx)) {
    assert.equal(verifyMod(modStatement, modProof, other), false, what);
  }
});

test('Πmod: every single-field mutation of the proof is refused', () => {
  assertAllFail(modProof, 'proof', modMutations, (p) => verifyMod(modStatement, p, ctx));
});

test('Πmod: N-th roots that still multiply to the right product are refused one by one', () => {
  // Each pair keeps Π z_i unchanged, so only the per-repetition checks can catch it.
  const inv2 = modInv(2n, N);
  for (const [j, k] of [
    [0, 1],
    [STAT_REPETITIONS / 2, STAT_REPETITIONS - 1],
  ] as const) {
    const repetitions = modProof.repetitions.map((r, i) =>
      i === j ? { ...r, z: (r.z * 2n) % N } : i === k ? { ...r, z: (r.z * inv2) % N } : r,
    );
    assert.equal(verifyMod(modStatement, { ...modProof, repetitions }, ctx), false, `${j},${k}`);
  }
});

test('Πmod: the proof is bound to its statement', () => {
  assertAllFail(modStatement, 'statement', 2, (s) => verifyMod(s, modProof, ctx));
  assert.equal(verifyMod({ N: otherN }, modProof, ctx), false);
  assert.equal(verifyMod({ N: N + 2n }, modProof, ctx), false);
});

test('Πmod: a prime modulus answers every challenge and is still refused', () => {
  const proof = modByPrimes(PRIME_2048, [PRIME_2048], ctx, seededRng('mod-prime'));
  // Without the compositeness check this proof would pass: that check is what refuses it.
  assert.equal(modEquationsHold(PRIME_2048, proof, ctx), true);
  assert.equal(verifyMod({ N: PRIME_2048 }, proof, ctx), false);
});

test('Πmod: a modulus with a square factor is not provable', () => {
  const square = p0 * p0 * p1;
  const verify = (proof: ModProof) => verifyMod({ N: square }, proof, ctx);
  const rng = seededRng('mod-square');
  assertNotProvable(() => proveMod({ N: square }, { p: p0, q: p0 * p1 }, ctx, rng), verify, 'p|pq');
  assertNotProvable(() => proveMod({ N: square }, { p: p0 * p0, q: p1 }, ctx, rng), verify, 'p²|q');
  assertNotProvable(() => proveMod({ N: square }, { p: p1, q: p0 * p0 }, ctx, rng), verify, 'q|p²');
});

test('Πmod: a product of three Blum primes is not provable, even knowing all three', () => {
  const three = p0 * p1 * p2;
  const verify = (proof: ModProof) => verifyMod({ N: three }, proof, ctx);
  const rng = seededRng('mod-three');
  assertNotProvable(() => proveMod({ N: three }, { p: p0, q: p1 * p2 }, ctx, rng), verify, 'p|qr');
  assertNotProvable(() => modByPrimes(three, [p0, p1, p2], ctx, rng), verify, 'by primes');
});

test('Πmod: a modulus with a prime ≡ 1 (mod 4) is not provable', () => {
  const started = performance.now();
  // Generated (the fixture holds only safe primes, all ≡ 3 mod 4); 1030 bits keeps N ≥ 2048.
  const nonBlum = generatePrimeSync(1030, { bigint: true, add: 4n, rem: 1n });
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 5000, `prime generation took ${elapsed} ms`);
  const modulus = nonBlum * p0;
  assert.ok(bitLength(modulus) >= 2048);
  const verify = (proof: ModProof) => verifyMod({ N: modulus }, proof, ctx);
  const rng = seededRng('mod-non-blum');
  assertNotProvable(() => proveMod({ N: modulus }, { p: nonBlum, q: p0 }, ctx, rng), verify, 'pq');
  assertNotProvable(() => proveMod({ N: modulus }, { p: p0, q: nonBlum }, ctx, rng), verify, 'qp');
});

test('Πmod: a valid Paillier-Blum modulus below 2048 bits is refused', () => {
  // M521 and p0 are both ≡ 3 (mod 4): the equations hold, only the size check refuses it.
  const small = M521 * p0;
  assert.ok(bitLength(small) < 2048);
  const proof = proveMod({ N: small }, { p: p0, q: M521 }, ctx, seededRng('mod-small'));
  assert.equal(modEquationsHold(small, proof, ctx), true);
  assert.equal(verifyMod({ N: small }, proof, ctx), false);
});

test('Πmod: the prover refuses a witness that does not factor N', () => {
  assert.throws(() => proveMod(modStatement, { p: p0, q: p2 }, ctx, seededRng(3)), ProtocolError);
});

test('Πmod: decoding is strict and verification never throws', () => {
  const bytes = encode(writeModProof, modProof);
  assertMalformed(() => decode(readModProof, bytes, { N: modProof.w }), 'w ≥ N');
  assertMalformed(
    () => decode(readModProof, bytes.subarray(0, bytes.length - 1), modStatement),
    'cut',
  );
  assertMalformed(
    () => decode(readModProof, Uint8Array.of(...bytes, 0), modStatement),
    'trailing bytes',
  );
  const short = { ...modProof, repetitions: modProof.repetitions.slice(1) };
  assertMalformed(() => decode(readModProof, encode(writeModProof, short), modStatement), 'count');
  assert.equal(verifyMod(modStatement, short, ctx), false);
  // The byte of a_0 follows w, the u16 count and x_0.
  const offset =
    new Writer().int(modProof.w).finish().length +
    2 +
    new Writer().int(modProof.repetitions[0]!.x).finish().length;
  const badBit = Uint8Array.from(bytes);
  assert.ok(badBit[offset]! <= 1);
  badBit[offset] = 2;
  assertMalformed(() => decode(readModProof, badBit, modStatement), 'bit 2');
  for (const junk of [null, {}, { w: 'x' }, { w: modProof.w, repetitions: [1] }]) {
    assert.equal(verifyMod(modStatement, junk as unknown as ModProof, ctx), false);
  }
  assert.equal(verifyMod({ N: 0n }, modProof, ctx), false);
  assert.equal(verifyMod({} as ModStatement, modProof, ctx), false);
});

// ---------------------------------------------------------------------------------------------
// Πprm

const prmSetup = generateRingPedersen(N, proverKey.phi, seededRng('prm-setup'));
const prmStatement: RingPedersen = prmSetup.params;
const prmWitness = { lambda: prmSetup.lambda, phi: proverKey.phi };
const prmProof = provePrm(prmStatement, prmWitness, ctx, seededRng('prm'));

test('Πprm: an honest proof verifies and survives its encoding', () => {
  assert.equal(prmProof.A.length, STAT_REPETITIONS);
  assert.equal(verifyPrm(prmStatement, prmProof, ctx), true);
  const decoded = decode(readPrmProof, encode(writePrmProof, prmProof), prmStatement);
  assert.deepEqual(decoded, prmProof);
  assert.equal(verifyPrm(prmStatement, decoded, ctx), true);
});

test('Πprm: refused under any other session, prover, verifier or label', () => {
  for (const [what, other] of otherContexts(ctx)) {
    assert.equal(verifyPrm(prmStatement, prmProof, other), false, what);
  }
});

test('Πprm: every single-field mutation of the proof is refused', () => {
  assertAllFail(prmProof, 'proof', 2 * 2 * STAT_REPETITIONS, (p) =>
    verifyPrm(prmStatement, p, ctx),
  );
});

test('Πprm: answers that still multiply to the right product are refused one by one', () => {
  const inv2 = modInv(2n, N);
  for (const [j, k] of [
    [0, 1],
    [STAT_REPETITIONS / 2, STAT_REPETITIONS - 1],
  ] as const) {
    const z = prmProof.z.map((v, i) => (i === j ? v + 1n : i === k ? v - 1n : v));
    assert.equal(verifyPrm(prmStatement, { ...prmProof, z }, ctx), false, `z ${j},${k}`);
    const A = prmProof.A.map((v, i) => (i === j ? (v * 2n) % N : i === k ? (v * inv2) % N : v));
    assert.equal(verifyPrm(prmStatement, { ...prmProof, A }, ctx), false, `A ${j},${k}`);
  }
});

test('Πprm: the proof is bound to its statement', () => {
  assertAllFail(prmStatement, 'statement', 6, (s) => verifyPrm(s, prmProof, ctx));
});

test('Πprm: s outside ⟨t⟩, or a wrong λ, is not provable', () => {
  const rng = seededRng('prm-false');
  const wrongLambda = { ...prmWitness, lambda: prmWitness.lambda + 1n };
  assert.equal(verifyPrm(prmStatement, provePrm(prmStatement, wrongLambda, ctx, rng), ctx), false);
  const randomS = { ...prmStatement, s: randomUnit(N, rng) };
  assert.equal(verifyPrm(randomS, provePrm(randomS, prmWitness, ctx, rng), ctx), false);
});

test('Πprm: degenerate or undersized parameters are refused', () => {
  const rng = seededRng('prm-degenerate');
  for (const [s, t] of [
    [1n, 1n],
    [N - 1n, N - 1n],
    [1n, prmStatement.t],
    [prmStatement.s, 1n],
  ] as const) {
    const statement = { N, s, t };
    const proof = provePrm(statement, { lambda: s === 1n ? 0n : 1n, phi: proverKey.phi }, ctx, rng);
    assert.equal(verifyPrm(statement, proof, ctx), false, `s=${s}, t=${t}`);
  }
  // A valid setup over a modulus below 2048 bits.
  const small = M521 * p0;
  const phi = (M521 - 1n) * (p0 - 1n);
  const setup = generateRingPedersen(small, phi, rng);
  const proof = provePrm(setup.params, { lambda: setup.lambda, phi }, ctx, rng);
  assert.equal(
    proof.A.every((A, i) => {
      const lhs = modPow(setup.params.t, proof.z[i]!, small);
      return lhs === A || lhs === (A * setup.params.s) % small;
    }),
    true,
  );
  assert.equal(verifyPrm(setup.params, proof, ctx), false);
});

test('Πprm: decoding is strict and verification never throws', () => {
  const bytes = encode(writePrmProof, prmProof);
  assertMalformed(() => decode(readPrmProof, bytes, { ...prmStatement, N: 3n }), 'A ≥ N');
  const short = { A: prmProof.A.slice(1), z: prmProof.z.slice(1) };
  assertMalformed(() => decode(readPrmProof, encode(writePrmProof, short), prmStatement), 'count');
  assert.equal(verifyPrm(prmStatement, short, ctx), false);
  const negative = { ...prmProof, z: [-1n, ...prmProof.z.slice(1)] };
  assertMalformed(
    () => decode(readPrmProof, encode(writePrmProof, negative), prmStatement),
    'negative z',
  );
  assert.equal(verifyPrm(prmStatement, negative, ctx), false);
  for (const junk of [null, {}, { A: [], z: [] }, { A: prmProof.A, z: 5 }]) {
    assert.equal(verifyPrm(prmStatement, junk as unknown as PrmProof, ctx), false);
  }
});

// ---------------------------------------------------------------------------------------------
// Πfac

const facRp: RingPedersen = generateRingPedersen(
  verifierKey.publicKey.N,
  verifierKey.phi,
  seededRng('fac-setup'),
).params;
const facStatement: FacStatement = { N0: N, rp: facRp };
const facProof = proveFac(facStatement, proverKey, facCtx, seededRng('fac'));

test('Πfac: an honest proof verifies and survives its encoding', () => {
  assert.equal(verifyFac(facStatement, facProof, facCtx), true);
  const decoded = decode(readFacProof, encode(writeFacProof, facProof), facStatement);
  assert.deepEqual(decoded, facProof);
  assert.equal(verifyFac(facStatement, decoded, facCtx), true);
  // The factors may come in either order.
  const swapped = proveFac(facStatement, { p: p1, q: p0 }, facCtx, seededRng(4));
  assert.equal(verifyFac(facStatement, swapped, facCtx), true);
});

test('Πfac: refused under any other session, prover, verifier or label', () => {
  for (const [what, other] of otherContexts(facCtx)) {
    assert.equal(verifyFac(facStatement, facProof, other), false, what);
  }
});

test('Πfac: every single-field mutation of the proof is refused', () => {
  assertAllFail(facProof, 'proof', 22, (p) => verifyFac(facStatement, p, facCtx));
});

test('Πfac: the proof is bound to its statement', () => {
  assertAllFail(facStatement, 'statement', 8, (s) => verifyFac(s, facProof, facCtx));
  assert.equal(verifyFac({ ...facStatement, N0: otherN }, facProof, facCtx), false);
  const otherRp = generateRingPedersen(otherN, (p4 - 1n) * (p5 - 1n), seededRng('fac-other'));
  assert.equal(verifyFac({ ...facStatement, rp: otherRp.params }, facProof, facCtx), false);
});

test('Πfac: a modulus with a 256-bit factor is not provable', () => {
  // N0 = q · P with q the 256-bit secp256k1 group order (a prime) and P a 2048-bit prime: the
  // large factor's response e·P overflows the range 2^(ℓ+ε)·√N0 that bounds both factors.
  const N0 = Q * PRIME_2048;
  assert.ok(bitLength(N0) >= 2048);
  const statement = { N0, rp: facRp };
  const range = 1n << BigInt(ELL + EPSILON);
  const rng = seededRng('fac-small');
  for (const [p, q] of [
    [Q, PRIME_2048],
    [PRIME_2048, Q],
  ] as const) {
    const proof = proveFac(statement, { p, q }, facCtx, rng);
    const large = p === Q ? proof.z2 : proof.z1;
    assert.ok(large * large > range * range * N0, 'the large factor overflows the range');
    assert.equal(verifyFac(statement, proof, facCtx), false);
    // It decodes (an out-of-range answer is a failed proof, not a malformed message) and still
    // fails verification.
    const decoded = decode(readFacProof, encode(writeFacProof, proof), statement);
    assert.equal(verifyFac(statement, decoded, facCtx), false);
  }
});

test('Πfac: a modulus below 2048 bits is refused', () => {
  const small = M521 * p0;
  const statement = { N0: small, rp: facRp };
  const proof = proveFac(statement, { p: p0, q: M521 }, facCtx, seededRng('fac-tiny'));
  assert.equal(verifyFac(statement, proof, facCtx), false);
});

test('Πfac: the prover refuses a witness that does not factor N0', () => {
  assert.throws(
    () => proveFac(facStatement, { p: p0, q: p2 }, facCtx, seededRng(5)),
    ProtocolError,
  );
});

test('Πfac: decoding is strict and verification never throws', () => {
  const bytes = encode(writeFacProof, facProof);
  const smallerRp = { ...facRp, N: facProof.P };
  assertMalformed(() => decode(readFacProof, bytes, { ...facStatement, rp: smallerRp }), 'P');
  // Slightly out of range decodes and fails verification; far out of range does not decode.
  const over = { ...facProof, sigma: (1n << BigInt(ELL)) * N * facRp.N + 1n };
  assert.equal(
    verifyFac(
      facStatement,
      decode(readFacProof, encode(writeFacProof, over), facStatement),
      facCtx,
    ),
    false,
  );
  const huge = { ...facProof, sigma: over.sigma << 65n };
  assertMalformed(() => decode(readFacProof, encode(writeFacProof, huge), facStatement), 'σ');
  // A commitment sharing a factor with N̂ (here N̂'s own prime) is not a unit.
  assert.equal(verifyFac(facStatement, { ...facProof, T: p2 }, facCtx), false);
  for (const junk of [null, {}, { ...facProof, z1: '1' }]) {
    assert.equal(verifyFac(facStatement, junk as unknown as FacProof, facCtx), false);
  }
  assert.equal(verifyFac({ N0: N } as FacStatement, facProof, facCtx), false);
});
