/**
 * RFC 9591 vector files generated with an independent oracle, @noble/curves' own FROST
 * (ed25519_FROST, secp256k1_FROST, schnorr_FROST), then replayed through `runFrostVectors` and
 * the `vectors frost` CLI, which must agree on every value.
 *
 * The test deals the key itself (plain bigint polynomial evaluation), so it can write the group
 * secret, the polynomial and every share; noble commits with an rng that replays recorded 32-byte
 * randomness (the command then re-derives each nonce as H3(randomness || share), which also checks
 * that noble draws the hiding randomness before the binding randomness), signs and aggregates.
 * noble does not expose binding factors, so those are computed here from RFC 9591 Section 4.4
 * directly. Nothing on the generating side calls this project's protocol code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519, ed25519_FROST } from '@noble/curves/ed25519.js';
import { schnorr, schnorr_FROST, secp256k1, secp256k1_FROST } from '@noble/curves/secp256k1.js';
import { expand_message_xmd } from '@noble/curves/abstract/hash-to-curve.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { runFrostVectors, VectorFileError, type VectorCheck } from '../cli/vectors.js';
import { FROST_BIP340 } from '../protocol/frost/suite.js';
import { seededRng } from './helpers.js';

type NobleFrost = typeof ed25519_FROST;
type NoblePublic = ReturnType<NobleFrost['trustedDealer']>['public'];
type NobleSecret = ReturnType<NobleFrost['trustedDealer']>['secretShares'][string];
type NobleRng = (length?: number) => Uint8Array<ArrayBuffer>;
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** What the generator needs to know about a ciphersuite, written from RFC 9591 Section 6. */
interface Oracle {
  /** `config.name` as the published files spell it. */
  readonly name: string;
  readonly groupName: string;
  readonly hashName: string;
  /** contextString. */
  readonly ctx: string;
  readonly noble: NobleFrost;
  readonly order: bigint;
  readonly littleEndian: boolean;
  /** Taproot: noble's signature is x(R) || z; the files write 0x02 || x(R) || z. */
  readonly taproot: boolean;
  /** SerializeElement(k·G). */
  mulBase(k: bigint): Uint8Array;
  /** The suite's hash (H4 and H5 prefix it with ctx || "msg" / "com"). */
  hash(m: Uint8Array): Uint8Array;
  /** H1(m): the binding factor. */
  H1(m: Uint8Array): bigint;
}

const ED25519_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;
const SECP256K1_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const bigBE = (b: Uint8Array): bigint => BigInt('0x' + (bytesToHex(b) || '0'));
const bigLE = (b: Uint8Array): bigint => bigBE(Uint8Array.from(b).reverse());

function secp256k1Oracle(ctx: string, noble: NobleFrost, taproot: boolean): Oracle {
  return {
    name: 'FROST(secp256k1, SHA-256)',
    groupName: 'secp256k1',
    hashName: 'SHA-256',
    ctx,
    noble,
    order: SECP256K1_ORDER,
    littleEndian: false,
    taproot,
    mulBase: (k) => secp256k1.Point.BASE.multiply(k).toBytes(true),
    hash: sha256,
    // hash_to_field(m, 1) with expand_message_xmd(SHA-256), DST = ctx || "rho", k = 128: one
    // 48-byte uniform string read big-endian and reduced mod n.
    H1: (m) => bigBE(expand_message_xmd(m, utf8ToBytes(ctx + 'rho'), 48, sha256)) % SECP256K1_ORDER,
  };
}

const ED: Oracle = {
  name: 'FROST(Ed25519, SHA-512)',
  groupName: 'ed25519',
  hashName: 'SHA-512',
  ctx: 'FROST-ED25519-SHA512-v1',
  noble: ed25519_FROST,
  order: ED25519_ORDER,
  littleEndian: true,
  taproot: false,
  mulBase: (k) => ed25519.Point.BASE.multiply(k).toBytes(),
  hash: sha512,
  H1: (m) =>
    bigLE(sha512(concatBytes(utf8ToBytes('FROST-ED25519-SHA512-v1rho'), m))) % ED25519_ORDER,
};
const K1 = secp256k1Oracle('FROST-secp256k1-SHA256-v1', secp256k1_FROST, false);
const TR = secp256k1Oracle('FROST-secp256k1-SHA256-TR-v1', schnorr_FROST, true);

function encodeScalar(o: Oracle, k: bigint): Uint8Array {
  const be = hexToBytes(k.toString(16).padStart(64, '0'));
  return o.littleEndian ? be.reverse() : be;
}

function decodeScalar(o: Oracle, bytes: Uint8Array): bigint {
  return o.littleEndian ? bigLE(bytes) : bigBE(bytes);
}

/** noble's identifier: the hex of the scalar encoding. */
function nobleId(o: Oracle, id: bigint): string {
  return bytesToHex(encodeScalar(o, id));
}

/** A derived identifier as a bigint (noble hashes the string with H("id")). */
function derivedId(o: Oracle, name: string): bigint {
  const hex = o.noble.Identifier.derive(name);
  const id = decodeScalar(o, hexToBytes(hex));
  assert.equal(nobleId(o, id), hex);
  assert.ok(id > MAX_SAFE, 'a derived identifier is far beyond 2^53');
  return id;
}

interface Dealing {
  coefficients: bigint[];
  shares: Map<bigint, bigint>;
}

/** A trusted dealer with known coefficients: f(x) = a_0 + a_1·x + ... mod the group order. */
function deal(o: Oracle, seed: string, t: number, participants: readonly bigint[]): Dealing {
  const rng = seededRng(seed);
  const coefficients: bigint[] = [];
  while (coefficients.length < t) {
    const c = bigBE(rng(64)) % o.order;
    if (c !== 0n) coefficients.push(c);
  }
  const f = (x: bigint) => coefficients.reduceRight((acc, c) => (acc * x + c) % o.order, 0n);
  return { coefficients, shares: new Map(participants.map((id) => [id, f(id)])) };
}

/** An rng handing noble exactly these byte strings, in order. */
function replay(chunks: Uint8Array[]): { rng: NobleRng; left: () => number } {
  const queue = [...chunks];
  return {
    left: () => queue.length,
    rng: (length = 32) => {
      const next = queue.shift();
      assert.ok(next, 'noble drew more randomness than was recorded');
      assert.equal(length, next.length, 'noble drew randomness of another length');
      return new Uint8Array(next);
    },
  };
}

interface Spec {
  oracle: Oracle;
  seed: string;
  t: number;
  maxParticipants: number;
  /** Everyone whose share the file lists. */
  participants: bigint[];
  /** The signing set, in the order the file lists it (not necessarily sorted). */
  signers: bigint[];
  message: Uint8Array;
  layout: 'array' | 'map';
  keyField?: 'group_public_key' | 'verifying_key_key';
  dealing?: Dealing;
}

interface Generated {
  file: Json;
  /** `check@participant` for every check the command must report. */
  expected: string[];
  /** Per signer (sorted by identifier): commitments and binding factor, for recomputing R. */
  signing: { id: bigint; hiding: Uint8Array; binding: Uint8Array; rho: bigint }[];
  groupKey: Uint8Array;
  message: Uint8Array;
  /** noble's aggregate output as noble returns it. */
  nobleSig: Uint8Array;
}

const PER_SIGNER = [
  'hiding_nonce',
  'binding_nonce',
  'hiding_nonce_commitment',
  'binding_nonce_commitment',
  'binding_factor_input',
  'binding_factor',
  'sig_share',
];

const hex = bytesToHex;

function generate(spec: Spec): Generated {
  const o = spec.oracle;
  const N = o.noble;
  const { t, participants, signers, message } = spec;
  const { coefficients, shares } = spec.dealing ?? deal(o, spec.seed, t, participants);
  const enc = (k: bigint) => encodeScalar(o, k);
  const id = (x: bigint) => nobleId(o, x);
  const share = (x: bigint) => {
    const s = shares.get(x);
    assert.ok(s !== undefined, `no share dealt for ${x}`);
    return s;
  };
  const groupKey = o.mulBase(coefficients[0]!);

  const pub = {
    signers: { min: t, max: spec.maxParticipants },
    commitments: coefficients.map((c) => o.mulBase(c)),
    verifyingShares: Object.fromEntries(signers.map((x) => [id(x), o.mulBase(share(x))])),
  } as NoblePublic;
  const secret = (x: bigint) => ({ identifier: id(x), signingShare: enc(share(x)) }) as NobleSecret;
  // noble's vss_verify accepts the dealing: the polynomial and shares written below are coherent.
  for (const x of signers) N.validateSecret(secret(x), pub);

  // Round one: noble commits from recorded randomness (hiding first, then binding).
  const rng = seededRng(`${spec.seed}/nonces/${hex(message)}`);
  const rounds = signers.map((x) => {
    const hidingRandomness = Uint8Array.from(rng(32));
    const bindingRandomness = Uint8Array.from(rng(32));
    const source = replay([hidingRandomness, bindingRandomness]);
    const { nonces, commitments } = N.commit(secret(x), source.rng);
    assert.equal(source.left(), 0, 'noble drew less randomness than two 32-byte strings');
    return {
      id: x,
      hidingRandomness,
      bindingRandomness,
      // signShare wipes the nonces it is given, so keep copies for the file.
      hidingNonce: Uint8Array.from(nonces.hiding),
      bindingNonce: Uint8Array.from(nonces.binding),
      nonces,
      commitment: commitments,
    };
  });
  const commitmentList = rounds.map((r) => r.commitment);

  // RFC 9591 Section 4.3/4.4: binding_factor_input = SerializeElement(PK) || H4(msg) ||
  // H5(encode_group_commitment_list(sorted list)) || SerializeScalar(id); binding_factor = H1(it).
  const sorted = [...rounds].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const encodedList = concatBytes(
    ...sorted.flatMap((r) => [enc(r.id), r.commitment.hiding, r.commitment.binding]),
  );
  const prefix = concatBytes(
    groupKey,
    o.hash(concatBytes(utf8ToBytes(o.ctx + 'msg'), message)),
    o.hash(concatBytes(utf8ToBytes(o.ctx + 'com'), encodedList)),
  );
  const bindingInput = new Map(rounds.map((r) => [r.id, concatBytes(prefix, enc(r.id))]));
  const rho = (x: bigint) => o.H1(bindingInput.get(x)!);

  // Round two and aggregation by noble.
  const sigShares = rounds.map((r) =>
    N.signShare(secret(r.id), pub, r.nonces, commitmentList, message),
  );
  const nobleSig = N.aggregate(
    pub,
    commitmentList,
    message,
    Object.fromEntries(rounds.map((r, i) => [id(r.id), sigShares[i]!])),
  );
  assert.ok(N.verify(nobleSig, message, groupKey), 'noble verifies its own signature');
  const sig = o.taproot ? concatBytes(Uint8Array.of(0x02), nobleSig) : nobleSig;

  // Identifiers as the file writes them. Array layout: safe integers as JSON numbers, larger ones
  // as "0x" hex. Map layout: keys are strings, decimal or (for every other large one) "0x" hex.
  const label = (x: bigint): number | string => {
    if (x <= MAX_SAFE) return spec.layout === 'array' ? Number(x) : x.toString();
    if (spec.layout === 'array' || participants.indexOf(x) % 2 === 0) return '0x' + x.toString(16);
    return x.toString();
  };
  const shareFields = (x: bigint) => ({ participant_share: hex(enc(share(x))) });
  const roundOneFields = (r: (typeof rounds)[number]) => ({
    hiding_nonce_randomness: hex(r.hidingRandomness),
    binding_nonce_randomness: hex(r.bindingRandomness),
    hiding_nonce: hex(r.hidingNonce),
    binding_nonce: hex(r.bindingNonce),
    hiding_nonce_commitment: hex(r.commitment.hiding),
    binding_nonce_commitment: hex(r.commitment.binding),
    binding_factor_input: hex(bindingInput.get(r.id)!),
    binding_factor: hex(enc(rho(r.id))),
  });
  const roundTwoFields = (i: number) => ({ sig_share: hex(sigShares[i]!) });

  const file: Json = {
    config: {
      MAX_PARTICIPANTS: String(spec.maxParticipants),
      NUM_PARTICIPANTS: String(signers.length),
      MIN_PARTICIPANTS: String(t),
      name: o.name,
      group: o.groupName,
      hash: o.hashName,
    },
    inputs: {
      participant_list:
        spec.layout === 'array' ? signers.map(label) : signers.map((x) => x.toString()).join(','),
      group_secret_key: hex(enc(coefficients[0]!)),
      [spec.keyField ?? 'group_public_key']: hex(groupKey),
      message: hex(message),
      share_polynomial_coefficients: coefficients.slice(1).map((c) => hex(enc(c))),
    },
    round_one_outputs: {},
    round_two_outputs: {},
    final_output: { sig: hex(sig) },
  };
  if (spec.layout === 'array') {
    file.inputs.participant_shares = participants.map((x) => ({
      identifier: label(x),
      ...shareFields(x),
    }));
    file.round_one_outputs.outputs = rounds.map((r) => ({
      identifier: label(r.id),
      ...roundOneFields(r),
    }));
    file.round_two_outputs.outputs = rounds.map((r, i) => ({
      identifier: label(r.id),
      ...roundTwoFields(i),
    }));
  } else {
    const list = file.inputs.participant_list;
    file.inputs.participants = Object.fromEntries(
      participants.map((x) => [label(x), shareFields(x)]),
    );
    file.round_one_outputs = {
      participant_list: list,
      participants: Object.fromEntries(rounds.map((r) => [label(r.id), roundOneFields(r)])),
    };
    file.round_two_outputs = {
      participant_list: list,
      participants: Object.fromEntries(rounds.map((r, i) => [label(r.id), roundTwoFields(i)])),
    };
  }

  const expected = [
    'group_public_key@',
    ...participants.map((x) => `participant_share@${x}`),
    ...signers.flatMap((x) => PER_SIGNER.map((c) => `${c}@${x}`)),
    'sig@',
  ];
  const signing = sorted.map((r) => ({
    id: r.id,
    hiding: r.commitment.hiding,
    binding: r.commitment.binding,
    rho: rho(r.id),
  }));
  // Through JSON text, as a file on disk would be.
  return {
    file: JSON.parse(JSON.stringify(file)),
    expected,
    signing,
    groupKey,
    message,
    nobleSig,
  };
}

const checkKeys = (checks: VectorCheck[]) =>
  checks.map((c) => `${c.check}@${c.participant ?? ''}`).sort();

function assertAllMatch(gen: Generated, checks: VectorCheck[]) {
  const failed = checks.filter((c) => !c.ok);
  assert.deepEqual(failed, [], 'every value matches the noble-generated file');
  for (const c of checks) assert.equal(c.actual, c.expected);
  assert.equal(checks.length, gen.expected.length);
  assert.deepEqual(checkKeys(checks), [...gen.expected].sort());
}

/** 257 participants; signers 129, 256, 257 (0x81, 0x100, 0x101: multi-byte encodings). */
function smallIdSpec(o: Oracle, layout: Spec['layout']): Spec {
  const participants = Array.from({ length: 257 }, (_, i) => BigInt(i + 1));
  return {
    oracle: o,
    seed: `small/${o.ctx}/${layout}`,
    t: 2,
    maxParticipants: 257,
    participants,
    signers: [129n, 256n, 257n],
    message: utf8ToBytes('test'),
    layout,
    keyField: layout === 'map' && o === ED ? 'verifying_key_key' : 'group_public_key',
  };
}

/** Derived identifiers (far beyond 2^53) and order − 1; t = 3, four of five sign. */
function largeIdSpec(o: Oracle, layout: Spec['layout']): Spec {
  const [alice, bob, carol, dave] = ['alice', 'bob', 'carol', 'dave'].map((n) =>
    derivedId(o, `${n}@example.com`),
  ) as [bigint, bigint, bigint, bigint];
  const top = o.order - 1n;
  return {
    oracle: o,
    seed: `large/${o.ctx}/${layout}`,
    t: 3,
    maxParticipants: 5,
    participants: [alice, bob, carol, dave, top],
    signers: [dave, top, alice, carol],
    message: layout === 'array' ? new Uint8Array(0) : Uint8Array.from({ length: 100 }, (_, i) => i),
    layout,
    keyField: layout === 'map' && o === K1 ? 'verifying_key_key' : 'group_public_key',
  };
}

for (const o of [ED, K1]) {
  for (const layout of ['array', 'map'] as const) {
    test(`${o.name}, ${layout} layout, identifiers 129/256/257 of 257: matches noble`, () => {
      const spec = smallIdSpec(o, layout);
      const gen = generate(spec);
      const { suite, checks } = runFrostVectors(gen.file);
      assert.equal(suite, o.ctx);
      assertAllMatch(gen, checks);
      assert.equal(checks.length, 1 + 257 + 7 * 3 + 1);
    });

    test(`${o.name}, ${layout} layout, derived identifiers beyond 2^53, t = 3: matches noble`, () => {
      const spec = largeIdSpec(o, layout);
      const gen = generate(spec);
      const { suite, checks } = runFrostVectors(gen.file);
      assert.equal(suite, o.ctx);
      assertAllMatch(gen, checks);
      assert.equal(checks.length, 1 + 5 + 7 * 4 + 1);
    });
  }
}

/**
 * The Taproot dealing. Its group key must have even y: BIP340 signs for the even-y key, so with
 * an odd-y key both implementations silently negate the group key and every share, and what the
 * file's group_public_key and binding_factor_input should then hold (the dealt key or its
 * negation) is a convention of the file format, not something noble can arbitrate. With an
 * even-y key the normalisation is the identity and every recorded value is unambiguous. Seeds
 * are tried in order until one deals such a key (about half do).
 */
function taprootDealing(participants: bigint[], t: number): Dealing {
  for (let attempt = 0; ; attempt++) {
    const dealing = deal(TR, `taproot/${attempt}`, t, participants);
    if (TR.mulBase(dealing.coefficients[0]!)[0] === 0x02) return dealing;
  }
}

/** Group commitment R = Σ D_i + ρ_i·E_i, recomputed from the generated values. */
function groupCommitment(gen: Generated) {
  let R = secp256k1.Point.ZERO;
  for (const s of gen.signing) {
    const D = secp256k1.Point.fromBytes(s.hiding);
    const E = secp256k1.Point.fromBytes(s.binding);
    R = R.add(D).add(E.multiply(s.rho));
  }
  return R;
}

/** Taproot files for both parities of R (odd R makes every signer negate its nonces). */
function taprootFiles(): { even: Generated; odd: Generated } {
  const participants = ['alice', 'bob', 'carol', 'dave', 'erin'].map((n) =>
    derivedId(TR, `${n}@example.com`),
  );
  const dealing = taprootDealing(participants, 3);
  const base: Spec = {
    oracle: TR,
    seed: 'taproot',
    t: 3,
    maxParticipants: 5,
    participants,
    signers: [participants[4]!, participants[0]!, participants[2]!],
    message: new Uint8Array(0),
    layout: 'array',
    dealing,
  };
  const found: { even?: Generated; odd?: Generated } = {};
  for (let i = 0; !(found.even && found.odd); i++) {
    assert.ok(i < 64, 'no message gave both parities of R');
    const gen = generate({ ...base, message: utf8ToBytes(`taproot message ${i}`) });
    const R = groupCommitment(gen);
    // noble's BIP340 signature carries x(R).
    assert.equal(hex(gen.nobleSig.subarray(0, 32)), hex(R.toBytes(true).subarray(1)));
    // And it is a valid BIP340 signature under the x-only group key.
    assert.ok(schnorr.verify(gen.nobleSig, gen.message, gen.groupKey.subarray(1)));
    found[R.toBytes(true)[0] === 0x02 ? 'even' : 'odd'] ??= gen;
  }
  return { even: found.even!, odd: found.odd! };
}

test('FROST(secp256k1, SHA-256, TR): generated Taproot files match with --suite TR only', () => {
  const { even, odd } = taprootFiles();
  for (const gen of [even, odd]) {
    const sig = gen.file.final_output.sig as string;
    assert.equal(sig.length, 130);
    assert.ok(sig.startsWith('02'));
    const { suite, checks } = runFrostVectors(gen.file, FROST_BIP340);
    assert.equal(suite, 'FROST-secp256k1-SHA256-TR-v1');
    assertAllMatch(gen, checks);
    assert.equal(checks.length, 1 + 5 + 7 * 3 + 1);
    const sigCheck = checks.find((c) => c.check === 'sig')!;
    assert.equal(sigCheck.actual, sig);

    // Under the file's own name (plain secp256k1) the context string and the challenge differ.
    const plain = runFrostVectors(gen.file).checks;
    assert.ok(
      plain.some((c) => !c.ok),
      'a Taproot file does not pass as plain secp256k1',
    );
    const failedNames = new Set(plain.filter((c) => !c.ok).map((c) => c.check));
    assert.ok(failedNames.has('hiding_nonce') && failedNames.has('sig'));
    // The dealing itself is suite-independent.
    assert.ok(plain.filter((c) => c.check === 'participant_share').every((c) => c.ok));
    assert.ok(plain.find((c) => c.check === 'group_public_key')!.ok);
  }
});

// ---------------------------------------------------------------------------------------------
// The CLI, end to end.

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function cli(...args: string[]): { status: number | null; lines: string[]; stderr: string } {
  const r = spawnSync(process.execPath, ['dist/cli/main.js', 'vectors', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  return { status: r.status, lines, stderr: r.stderr };
}

function withTempDir(body: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'frost-vectors-'));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function writeJson(dir: string, name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value, null, 2));
  return path;
}

/** The single `{"error": ...}` line of a refused run. */
function refusal(run: ReturnType<typeof cli>): string {
  assert.equal(run.status, 2, run.lines.join('\n') + run.stderr);
  assert.equal(run.lines.length, 1, run.lines.join('\n'));
  const parsed = JSON.parse(run.lines[0]!);
  assert.equal(typeof parsed.error, 'string');
  return parsed.error;
}

test('CLI: generated files pass end to end, one JSON object per check', () => {
  withTempDir((dir) => {
    const cases = [
      { gen: generate(smallIdSpec(ED, 'map')), args: [], suite: ED.ctx },
      { gen: generate(largeIdSpec(K1, 'array')), args: [], suite: K1.ctx },
      {
        gen: taprootFiles().odd,
        args: ['--suite', 'FROST-secp256k1-SHA256-TR-v1'],
        suite: TR.ctx,
      },
    ];
    for (const [i, { gen, args, suite }] of cases.entries()) {
      const path = writeJson(dir, `case-${i}.json`, gen.file);
      const run = cli('frost', path, ...args);
      assert.equal(run.status, 0, run.lines.join('\n') + run.stderr);
      const objects = run.lines.map((l) => JSON.parse(l));
      const summary = objects.pop();
      assert.deepEqual(summary, {
        summary: {
          suite,
          checks: gen.expected.length,
          passed: gen.expected.length,
          failed: 0,
        },
      });
      for (const o of objects) {
        assert.equal(typeof o.check, 'string');
        assert.equal(o.ok, true);
        assert.equal(typeof o.expected, 'string');
        assert.equal(o.actual, o.expected);
      }
      assert.deepEqual(checkKeys(objects), [...gen.expected].sort());
    }
  });
});

test('CLI: a corrupted sig_share exits 1 with exactly that check failed', () => {
  const gen = generate(largeIdSpec(ED, 'array'));
  const out = gen.file.round_two_outputs.outputs[1];
  // Ed25519 scalars are little-endian: bump the least significant byte, staying canonical.
  const bytes = hexToBytes(out.sig_share);
  bytes[0] ^= 0x01;
  out.sig_share = hex(bytes);
  withTempDir((dir) => {
    const run = cli('frost', writeJson(dir, 'corrupt.json', gen.file));
    assert.equal(run.status, 1);
    const objects = run.lines.map((l) => JSON.parse(l));
    const summary = objects.pop();
    assert.deepEqual(summary.summary, {
      suite: ED.ctx,
      checks: gen.expected.length,
      passed: gen.expected.length - 1,
      failed: 1,
    });
    const failed = objects.filter((o) => !o.ok);
    assert.equal(failed.length, 1);
    assert.equal(failed[0].check, 'sig_share');
    assert.equal(failed[0].participant, BigInt(out.identifier).toString());
    assert.equal(failed[0].expected, out.sig_share);
  });
});

test('CLI: unusable files and arguments exit 2 with a JSON error', () => {
  const gen = generate(largeIdSpec(K1, 'map'));
  withTempDir((dir) => {
    const good = writeJson(dir, 'good.json', gen.file);

    const p256 = structuredClone(gen.file);
    p256.config.name = 'FROST(P-256, SHA-256)';
    assert.match(
      refusal(cli('frost', writeJson(dir, 'p256.json', p256))),
      /unsupported ciphersuite "FROST\(P-256, SHA-256\)"/,
    );

    assert.match(refusal(cli('frost', good, '--suite', 'nope')), /"nope"/);

    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, '{"config": {"name": "FROST(Ed25519, SHA-512)"}, ');
    refusal(cli('frost', notJson));

    const noInputs = structuredClone(gen.file);
    delete noInputs.inputs;
    assert.match(refusal(cli('frost', writeJson(dir, 'no-inputs.json', noInputs))), /inputs/);

    refusal(cli('frost', join(dir, 'missing.json')));
  });
});

// ---------------------------------------------------------------------------------------------
// Identifiers the command must refuse.

test('identifiers outside [1, order) or not integers are refused with VectorFileError', () => {
  for (const o of [ED, K1]) {
    const arrayFile = generate(largeIdSpec(o, 'array')).file;
    const mapFile = generate(largeIdSpec(o, 'map')).file;
    const bad: unknown[] = [
      0,
      '0',
      '0x0',
      '0x' + o.order.toString(16),
      o.order.toString(),
      '0x' + (o.order + 1n).toString(16),
      '0x' + (2n ** 256n + 1n).toString(16),
      1.5,
      '1.5',
      -1,
      '-1',
      '-0x1',
      2 ** 53, // not a safe integer: JSON cannot carry it exactly
      '',
      '0x',
      'abc',
      null,
      true,
    ];
    const refused = (file: Json, what: string) =>
      assert.throws(
        () => runFrostVectors(file),
        (e: unknown) => e instanceof VectorFileError && /identifier/.test(e.message),
        what,
      );
    for (const value of bad) {
      const what = `${o.name}: ${JSON.stringify(value)}`;
      // Array layout: in the shares, and in round one.
      const a = structuredClone(arrayFile);
      a.inputs.participant_shares[0].identifier = value;
      refused(a, `${what} in participant_shares`);
      const b = structuredClone(arrayFile);
      b.round_one_outputs.outputs[0].identifier = value;
      refused(b, `${what} in round_one_outputs`);
      const c = structuredClone(arrayFile);
      c.round_two_outputs.outputs[0].identifier = value;
      refused(c, `${what} in round_two_outputs`);
      // Map layout: as a key (keys are strings, so 2^53 written as a key is a fine identifier).
      if (value === null || typeof value === 'boolean' || value === 2 ** 53) continue;
      const m = structuredClone(mapFile);
      const [firstKey, entry] = Object.entries(m.inputs.participants)[0]!;
      delete m.inputs.participants[firstKey];
      m.inputs.participants[String(value)] = entry;
      refused(m, `${what} as a participants key`);
    }
  }
});
