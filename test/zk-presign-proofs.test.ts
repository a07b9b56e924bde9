/**
 * The presigning proofs of CGGMP21: Πenc (Fig. 14), Πaff-g (Fig. 15) and Πlog* (Fig. 25).
 * Each must accept honest proofs, survive its wire format, and reject: proofs bound to another
 * context, every single-field mutation of a proof, every mutated statement value, proofs of false
 * statements (out-of-range witnesses, ciphertexts that do not match, wrong group elements),
 * degenerate forgeries that only the unit checks stop, and moduli below 2048 bits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reader, Writer } from '../protocol/codec.js';
import { ProtocolError } from '../protocol/errors.js';
import { secp256k1Group, type Element } from '../protocol/group.js';
import { randomSignedBits, randomSymmetric, randomUnit } from '../protocol/bignum/random.js';
import { mod, modPow } from '../protocol/bignum/arith.js';
import {
  PaillierSecretKey,
  encryptWith,
  paillierPublicKey,
  type PaillierPublicKey,
} from '../protocol/paillier/paillier.js';
import {
  commitRP,
  generateRingPedersen,
  type RingPedersen,
} from '../protocol/paillier/ring-pedersen.js';
import { ELL, ELL_PRIME, EPSILON, pow2 } from '../protocol/zk/params.js';
import type { ProofContext } from '../protocol/zk/transcript.js';
import {
  encChallenge,
  proveEnc,
  readEncProof,
  verifyEnc,
  writeEncProof,
  type EncProof,
  type EncStatement,
} from '../protocol/zk/enc.js';
import {
  affGChallenge,
  proveAffG,
  readAffGProof,
  verifyAffG,
  writeAffGProof,
  type AffGProof,
  type AffGStatement,
} from '../protocol/zk/aff-g.js';
import {
  logStarChallenge,
  proveLogStar,
  readLogStarProof,
  verifyLogStar,
  writeLogStarProof,
  type LogStarProof,
  type LogStarStatement,
} from '../protocol/zk/log-star.js';
import { SAFE_PRIMES, seededRng } from './helpers.js';

const G = secp256k1Group;
const rng = seededRng('zk-presign-proofs');

// 2048-bit moduli from the fixture's safe primes (never generated in tests).
const primes = SAFE_PRIMES;
const keyAt = (i: number) => new PaillierSecretKey(primes[2 * i]!, primes[2 * i + 1]!);
/** The prover's Paillier key (N0 of Πenc and Πlog*, N1 of Πaff-g). */
const proverKey = keyAt(0);
/** The verifier's Paillier key (N0 of Πaff-g). */
const verifierKey = keyAt(1);
/** A third party's key, substituted for the others in mutated statements. */
const otherKey = keyAt(2);
/** The verifier's ring-Pedersen parameters (φ(N̂) kept for the tests), and another valid set. */
const rpKey = keyAt(3);
const rp: RingPedersen = generateRingPedersen(rpKey.publicKey.N, rpKey.phi, rng).params;
const otherRp: RingPedersen = (() => {
  const k = keyAt(4);
  return generateRingPedersen(k.publicKey.N, k.phi, rng).params;
})();
/** Undersized parameters: a 1024-bit prime as "modulus" (the algebra still works over it). */
const smallKey = paillierPublicKey(primes[20]!);
const smallRp = generateRingPedersen(primes[21]!, primes[21]! - 1n, rng).params;

/** The parameters a proof runs under. */
interface Params {
  /** The prover's own Paillier key. */
  readonly prover: PaillierPublicKey;
  /** The verifier's Paillier key (only Πaff-g uses it). */
  readonly verifier: PaillierPublicKey;
  /** The verifier's ring-Pedersen parameters. */
  readonly rp: RingPedersen;
}
const params: Params = { prover: proverKey.publicKey, verifier: verifierKey.publicKey, rp };

const ctx: ProofContext = {
  sessionId: new Uint8Array(32).fill(7),
  prover: 1,
  verifier: 2,
  label: 'presign/test',
};

/** Contexts differing from `ctx` in exactly one field. */
const otherContexts: [string, ProofContext][] = [
  ['session id', { ...ctx, sessionId: Uint8Array.from(ctx.sessionId, (b, i) => (i ? b : b ^ 1)) }],
  ['prover', { ...ctx, prover: 3 }],
  ['verifier', { ...ctx, verifier: 3 }],
  ['verifier (broadcast)', { ...ctx, verifier: null }],
  ['label', { ...ctx, label: 'presign/other' }],
];

const isElement = (v: unknown): v is Element =>
  typeof v === 'object' && v !== null && 'toBytes' in v && 'add' in v;

/** Another valid point: P + G (P = −G never happens for the points in these tests). */
function otherPoint(p: Element): Element {
  const q = p.add(G.base);
  assert.ok(G.decodeElement(G.encodeElement(q)), 'replacement point is valid');
  return q;
}

/**
 * Every single-field mutation of a flat proof object: each bigint ±1, each point replaced by
 * another valid point. Unknown field types throw, so a field added later is never skipped.
 */
function proofMutations<P extends object>(proof: P): [string, P][] {
  const out: [string, P][] = [];
  for (const [k, v] of Object.entries(proof)) {
    if (typeof v === 'bigint') {
      out.push([`${k} + 1`, { ...proof, [k]: v + 1n }], [`${k} − 1`, { ...proof, [k]: v - 1n }]);
    } else if (isElement(v)) {
      out.push([`${k} → other point`, { ...proof, [k]: otherPoint(v) }]);
    } else {
      throw new Error(`proof field ${k} has no mutation rule`);
    }
  }
  return out;
}

/**
 * Every single-value mutation of a statement, recursing into the Paillier keys and ring-Pedersen
 * parameters: bigints ±1 (a key's N also +2, still odd, with N² kept consistent), points
 * replaced, keys and ring-Pedersen parameters swapped for other valid ones.
 */
function statementMutations<S extends object>(st: S): [string, S][] {
  const out: [string, S][] = [];
  for (const [k, v] of Object.entries(st)) {
    const set = (label: string, value: unknown) => out.push([label, { ...st, [k]: value }]);
    if (typeof v === 'bigint') {
      set(`${k} + 1`, v + 1n);
      set(`${k} − 1`, v - 1n);
    } else if (isElement(v)) {
      set(`${k} → other point`, otherPoint(v));
    } else if (typeof v === 'object' && v !== null && 'N2' in v) {
      const key = v as PaillierPublicKey;
      set(`${k}.N + 1`, { ...key, N: key.N + 1n });
      set(`${k}.N + 2`, paillierPublicKey(key.N + 2n));
      set(`${k}.N2 + 1`, { ...key, N2: key.N2 + 1n });
      set(`${k} → another key`, otherKey.publicKey);
    } else if (typeof v === 'object' && v !== null && 's' in v) {
      const p = v as RingPedersen;
      for (const f of ['N', 's', 't'] as const) {
        set(`${k}.${f} + 1`, { ...p, [f]: p[f] + 1n });
        set(`${k}.${f} − 1`, { ...p, [f]: p[f] - 1n });
      }
      set(`${k}.N + 2`, { ...p, N: p.N + 2n });
      set(`${k}.s ↔ t`, { ...p, s: p.t, t: p.s });
      set(`${k} → other parameters`, otherRp);
    } else {
      throw new Error(`statement field ${k} has no mutation rule`);
    }
  }
  return out;
}

interface Suite<S, P> {
  name: string;
  /** How many fields the proof has: the mutation walker must reach each one. */
  fields: number;
  /** Which of the parameters the statement depends on. */
  uses: readonly (keyof Params)[];
  /** The proof's ring-Pedersen answers (z3, z4), bounded by the verifier beyond the paper. */
  rpAnswers: readonly (keyof P & string)[];
  /** An honest statement and proof under the given parameters. */
  honest: (p: Params) => { st: S; proof: P };
  /**
   * A proof of a false statement that satisfies every equation of the verifier because the
   * Paillier mask and its randomness are zero: only the unit checks stop it.
   */
  zeroForgery: () => { st: S; proof: P };
  verify: (st: S, proof: P, c: ProofContext) => boolean;
  write: (w: Writer, proof: P) => void;
  read: (r: Reader, st: S) => P;
}

function encode<P>(suite: Suite<unknown, P>, proof: P): Uint8Array {
  const w = new Writer();
  suite.write(w, proof);
  return w.finish();
}

function roundTrip<S, P>(suite: Suite<S, P>, st: S, proof: P): P {
  const r = new Reader(encode(suite as Suite<unknown, P>, proof), ctx.prover);
  const back = suite.read(r, st);
  r.end();
  return back;
}

function time<T>(f: () => T): [T, number] {
  const start = performance.now();
  const out = f();
  return [out, performance.now() - start];
}

/** The shared battery: honest, round trip, contexts, every proof field, every statement value. */
function battery<S extends object, P extends object>(suite: Suite<S, P>): void {
  const [{ st, proof }, proveMs] = time(() => suite.honest(params));

  test(`${suite.name}: honest proof verifies and round-trips the wire format`, (t) => {
    const [ok, ms] = time(() => suite.verify(st, proof, ctx));
    t.diagnostic(`prove ${proveMs.toFixed(1)} ms, verify ${ms.toFixed(1)} ms (2048-bit moduli)`);
    assert.equal(ok, true);
    assert.equal(suite.verify(st, roundTrip(suite, st, proof), ctx), true);
  });

  test(`${suite.name}: the reader refuses truncated and trailing bytes`, () => {
    const bytes = encode(suite as Suite<unknown, P>, proof);
    assert.throws(
      () => suite.read(new Reader(bytes.subarray(0, bytes.length - 1), 1), st),
      ProtocolError,
    );
    const r = new Reader(Uint8Array.of(...bytes, 0), 1);
    suite.read(r, st);
    assert.throws(() => r.end(), ProtocolError);
  });

  test(`${suite.name}: a proof bound to another context fails`, () => {
    for (const [what, c] of otherContexts) {
      assert.equal(suite.verify(st, proof, c), false, what);
    }
  });

  test(`${suite.name}: every mutated proof field fails`, () => {
    const mutations = proofMutations(proof);
    const fields = new Set(mutations.map(([what]) => what.split(' ')[0]));
    assert.equal(fields.size, suite.fields, 'every field is mutated');
    for (const [what, mutated] of mutations) {
      assert.equal(suite.verify(st, mutated, ctx), false, what);
    }
  });

  test(`${suite.name}: every mutated statement value fails`, () => {
    for (const [what, mutated] of statementMutations(st)) {
      assert.equal(suite.verify(mutated, proof, ctx), false, what);
    }
  });

  test(`${suite.name}: other valid parameters work, moduli below 2048 bits are refused`, () => {
    for (const which of suite.uses) {
      const other = which === 'rp' ? otherRp : otherKey.publicKey;
      const good = suite.honest({ ...params, [which]: other });
      assert.equal(suite.verify(good.st, good.proof, ctx), true, `other ${which}`);
      const small = suite.honest({ ...params, [which]: which === 'rp' ? smallRp : smallKey });
      assert.equal(suite.verify(small.st, small.proof, ctx), false, `small ${which}`);
    }
  });

  test(`${suite.name}: the zero-mask forgery (A = 0 and zero Paillier randomness) fails`, () => {
    const forged = suite.zeroForgery();
    assert.equal(suite.verify(forged.st, forged.proof, ctx), false);
  });

  test(`${suite.name}: ring-Pedersen answers shifted by a multiple of φ(N̂) are refused`, () => {
    // t^φ(N̂) = 1, so the shift leaves every equation true: only the honest bound refuses it, in
    // the verifier, and (past its 2 bits of slack) in the reader.
    for (const f of suite.rpAnswers) {
      const z = proof[f] as bigint;
      for (const extra of [2, 5]) {
        const shift = rpKey.phi * pow2(ELL + EPSILON + extra);
        assert.equal(modPow(rp.t, z + shift, rp.N), modPow(rp.t, z, rp.N));
        const shifted = { ...proof, [f]: z + shift };
        assert.equal(suite.verify(st, shifted, ctx), false, f);
        if (extra === 5) {
          const r = new Reader(encode(suite as Suite<unknown, P>, shifted), 1);
          assert.throws(() => suite.read(r, st), ProtocolError);
        }
      }
    }
  });

  test(`${suite.name}: verification never throws on malformed input`, () => {
    const junk: unknown[] = [{}, null, undefined, 0n, 'proof'];
    for (const j of junk) assert.equal(suite.verify(st, j as P, ctx), false);
    for (const k of Object.keys(proof)) {
      for (const v of [undefined, null, 'x', 1, -1n, 0n, {}]) {
        assert.equal(suite.verify(st, { ...proof, [k]: v } as P, ctx), false, `${k} = ${v}`);
      }
    }
    assert.equal(suite.verify({} as S, proof, ctx), false);
  });
}

/** A ring-Pedersen commitment with an honest-width mask, for the forgeries. */
function rpMask(bits: number): bigint {
  return randomSymmetric(pow2(bits) * rp.N, rng);
}

// ---------------------------------------------------------------------------------------------
// Πenc: K = enc_N0(k) under the prover's key.

function encInstance(
  k: bigint,
  opts: { p?: Params; encrypted?: bigint } = {},
): { st: EncStatement; rho: bigint } {
  const p = opts.p ?? params;
  const rho = randomUnit(p.prover.N, rng);
  return {
    st: { key: p.prover, K: encryptWith(p.prover, opts.encrypted ?? k, rho), rp: p.rp },
    rho,
  };
}

battery<EncStatement, EncProof>({
  name: 'Πenc',
  fields: 6,
  uses: ['prover', 'rp'],
  rpAnswers: ['z3'],
  honest: (p) => {
    const k = G.randomScalar(rng);
    const { st, rho } = encInstance(k, { p });
    return { st, proof: proveEnc(st, { k, rho }, ctx, rng) };
  },
  zeroForgery: () => {
    // K encrypts a value far out of range; the forger commits to a small k in S instead.
    const N0 = params.prover;
    const st: EncStatement = { key: N0, K: encryptWith(N0, pow2(1500), 7n), rp };
    const k = 5n;
    const alpha = randomSignedBits(ELL + EPSILON - 1, rng);
    const [mu, gamma] = [rpMask(ELL), rpMask(ELL + EPSILON)];
    const first = { S: commitRP(rp, k, mu), A: 0n, C: commitRP(rp, alpha, gamma) };
    const e = encChallenge(st, first, ctx);
    const proof = { ...first, z1: alpha + e * k, z2: 0n, z3: gamma + e * mu };
    // Both sides of the Paillier equation are 0, whatever K is.
    assert.equal(encryptWith(N0, proof.z1, proof.z2), mod(proof.A * st.K, N0.N2));
    return { st, proof };
  },
  verify: verifyEnc,
  write: writeEncProof,
  read: readEncProof,
});

test('Πenc: negative k in range verifies', () => {
  const k = -randomSignedBits(ELL - 1, rng) - 1n;
  const { st, rho } = encInstance(k);
  assert.equal(verifyEnc(st, proveEnc(st, { k, rho }, ctx, rng), ctx), true);
});

test('Πenc: k out of range is rejected by the verifier and by the reader', () => {
  for (const k of [pow2(ELL + EPSILON + 10), -pow2(ELL + EPSILON + 10)]) {
    const { st, rho } = encInstance(k);
    const proof = proveEnc(st, { k, rho }, ctx, rng);
    assert.equal(verifyEnc(st, proof, ctx), false);
    const w = new Writer();
    writeEncProof(w, proof);
    assert.throws(() => readEncProof(new Reader(w.finish(), 1), st), ProtocolError);
  }
});

test('Πenc: a ciphertext that does not encrypt the witness fails', () => {
  const k = G.randomScalar(rng);
  const { st, rho } = encInstance(k, { encrypted: k + 1n });
  assert.equal(verifyEnc(st, proveEnc(st, { k, rho }, ctx, rng), ctx), false);
  // Right plaintext, wrong randomness.
  const honest = encInstance(k);
  const wrongRho = mod(honest.rho + 1n, params.prover.N);
  const proof = proveEnc(honest.st, { k, rho: wrongRho }, ctx, rng);
  assert.equal(verifyEnc(honest.st, proof, ctx), false);
});

// ---------------------------------------------------------------------------------------------
// Πaff-g: D = C^x · (1 + N0)^y · ρ^N0 under the verifier's key, Y = enc_N1(y), X = x·G.

function affInstance(opts: { x: bigint; y: bigint; p?: Params; xInD?: bigint; yInY?: bigint }): {
  st: AffGStatement;
  rho: bigint;
  rhoY: bigint;
} {
  const { x, y } = opts;
  const p = opts.p ?? params;
  const [N0, N1] = [p.verifier, p.prover];
  const C = encryptWith(N0, G.randomScalar(rng), randomUnit(N0.N, rng));
  const rho = randomUnit(N0.N, rng);
  const rhoY = randomUnit(N1.N, rng);
  const D = mod(modPow(C, opts.xInD ?? x, N0.N2) * encryptWith(N0, y, rho), N0.N2);
  const Y = encryptWith(N1, opts.yInY ?? y, rhoY);
  return { st: { key0: N0, key1: N1, rp: p.rp, C, D, Y, X: G.mulBase(x) }, rho, rhoY };
}

function affProve(opts: Parameters<typeof affInstance>[0]): {
  st: AffGStatement;
  proof: AffGProof;
} {
  const { st, rho, rhoY } = affInstance(opts);
  return { st, proof: proveAffG(st, { x: opts.x, y: opts.y, rho, rhoY }, ctx, rng) };
}

battery<AffGStatement, AffGProof>({
  name: 'Πaff-g',
  fields: 13,
  uses: ['prover', 'verifier', 'rp'],
  rpAnswers: ['z3', 'z4'],
  honest: (p) => affProve({ x: G.randomScalar(rng), y: randomSignedBits(ELL_PRIME, rng), p }),
  zeroForgery: () => {
    // D is an unrelated ciphertext: no x, y, ρ make it C^x·(1 + N0)^y·ρ^N0 that the forger
    // knows. Everything else (X, Y, the commitments) is honest.
    const { st: base, rhoY } = affInstance({ x: 3n, y: 4n });
    const st = { ...base, D: encryptWith(base.key0, pow2(1500), 11n) };
    const [x, y] = [3n, 4n];
    const alpha = randomSignedBits(ELL + EPSILON - 1, rng);
    const beta = randomSignedBits(ELL_PRIME + EPSILON - 1, rng);
    const rY = randomUnit(st.key1.N, rng);
    const [gamma, m, delta, mu] = [
      rpMask(ELL + EPSILON),
      rpMask(ELL),
      rpMask(ELL + EPSILON),
      rpMask(ELL),
    ];
    const first = {
      A: 0n,
      Bx: G.mulBase(alpha),
      By: encryptWith(st.key1, beta, rY),
      E: commitRP(rp, alpha, gamma),
      S: commitRP(rp, x, m),
      F: commitRP(rp, beta, delta),
      T: commitRP(rp, y, mu),
    };
    const e = affGChallenge(st, first, ctx);
    const proof: AffGProof = {
      ...first,
      z1: alpha + e * x,
      z2: beta + e * y,
      z3: gamma + e * m,
      z4: delta + e * mu,
      w: 0n,
      wY: mod(rY * modPow(rhoY, e, st.key1.N), st.key1.N),
    };
    return { st, proof };
  },
  verify: verifyAffG,
  write: writeAffGProof,
  read: readAffGProof,
});

test('Πaff-g: negative x and y in range verify (x·G reduced mod q)', () => {
  const { st, proof } = affProve({ x: -G.randomScalar(rng), y: -pow2(ELL_PRIME) + 1n });
  assert.equal(verifyAffG(st, proof, ctx), true);
});

test('Πaff-g: D computed with another x than X commits to fails', () => {
  const x = G.randomScalar(rng);
  const { st, proof } = affProve({ x, y: 12345n, xInD: x + 1n });
  assert.equal(verifyAffG(st, proof, ctx), false);
});

test('Πaff-g: Y encrypting another y than D holds fails', () => {
  const { st, proof } = affProve({ x: G.randomScalar(rng), y: 777n, yInY: 778n });
  assert.equal(verifyAffG(st, proof, ctx), false);
});

test('Πaff-g: X ≠ x·G fails', () => {
  const x = G.randomScalar(rng);
  const { st, rho, rhoY } = affInstance({ x, y: 5n });
  const bad = { ...st, X: G.mulBase(x + 1n) };
  assert.equal(verifyAffG(bad, proveAffG(bad, { x, y: 5n, rho, rhoY }, ctx, rng), ctx), false);
});

test('Πaff-g: x or y out of range is rejected', () => {
  const cases = [
    { x: pow2(ELL + EPSILON + 10), y: 1n },
    { x: -pow2(ELL + EPSILON + 10), y: 1n },
    { x: 3n, y: pow2(ELL_PRIME + EPSILON + 10) },
    { x: 3n, y: -pow2(ELL_PRIME + EPSILON + 10) },
  ];
  for (const c of cases) {
    const { st, proof } = affProve(c);
    assert.equal(verifyAffG(st, proof, ctx), false, `x=${c.x} y=${c.y}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Πlog*: C = enc_N0(x), X = x·g for a base g that is not the generator.

const base = G.mulBase(G.randomScalar(rng));

function logInstance(
  x: bigint,
  opts: { p?: Params; encrypted?: bigint; dlog?: bigint; g?: Element } = {},
): { st: LogStarStatement; rho: bigint } {
  const p = opts.p ?? params;
  const g = opts.g ?? base;
  const rho = randomUnit(p.prover.N, rng);
  const C = encryptWith(p.prover, opts.encrypted ?? x, rho);
  const X = g.multiply(G.mod(opts.dlog ?? x));
  return { st: { key: p.prover, C, g, X, rp: p.rp }, rho };
}

battery<LogStarStatement, LogStarProof>({
  name: 'Πlog*',
  fields: 7,
  uses: ['prover', 'rp'],
  rpAnswers: ['z3'],
  honest: (p) => {
    const x = G.randomScalar(rng);
    const { st, rho } = logInstance(x, { p });
    return { st, proof: proveLogStar(st, { x, rho }, ctx, rng) };
  },
  zeroForgery: () => {
    // C encrypts something unrelated to X's discrete logarithm x.
    const x = G.randomScalar(rng);
    const { st: honest } = logInstance(x);
    const st = { ...honest, C: encryptWith(honest.key, pow2(1500), 13n) };
    const alpha = randomSignedBits(ELL + EPSILON - 1, rng);
    const [mu, gamma] = [rpMask(ELL), rpMask(ELL + EPSILON)];
    const first = {
      S: commitRP(rp, x, mu),
      A: 0n,
      Y: st.g.multiply(G.mod(alpha)),
      D: commitRP(rp, alpha, gamma),
    };
    const e = logStarChallenge(st, first, ctx);
    return { st, proof: { ...first, z1: alpha + e * x, z2: 0n, z3: gamma + e * mu } };
  },
  verify: verifyLogStar,
  write: writeLogStarProof,
  read: readLogStarProof,
});

test('Πlog*: the generator as base and a negative x verify', () => {
  const x = -G.randomScalar(rng);
  const { st, rho } = logInstance(x, { g: G.base });
  assert.equal(verifyLogStar(st, proveLogStar(st, { x, rho }, ctx, rng), ctx), true);
});

test('Πlog*: X ≠ x·g fails', () => {
  const x = G.randomScalar(rng);
  const { st, rho } = logInstance(x, { dlog: x + 1n });
  assert.equal(verifyLogStar(st, proveLogStar(st, { x, rho }, ctx, rng), ctx), false);
});

test('Πlog*: C encrypting another x fails', () => {
  const x = G.randomScalar(rng);
  const { st, rho } = logInstance(x, { encrypted: x + 1n });
  assert.equal(verifyLogStar(st, proveLogStar(st, { x, rho }, ctx, rng), ctx), false);
});

test('Πlog*: x out of range is rejected', () => {
  for (const x of [pow2(ELL + EPSILON + 10), -pow2(ELL + EPSILON + 10)]) {
    const { st, rho } = logInstance(x);
    assert.equal(verifyLogStar(st, proveLogStar(st, { x, rho }, ctx, rng), ctx), false);
  }
});

test('Πlog*: the identity as base is refused by prover and verifier', () => {
  const x = G.randomScalar(rng);
  const { st, rho } = logInstance(x);
  const proof = proveLogStar(st, { x, rho }, ctx, rng);
  const degenerate = { ...st, g: G.identity, X: G.identity };
  assert.equal(verifyLogStar(degenerate, proof, ctx), false);
  assert.throws(() => proveLogStar(degenerate, { x, rho }, ctx, rng), ProtocolError);
});
