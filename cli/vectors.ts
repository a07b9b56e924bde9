/**
 * `mpc-kms vectors frost FILE`: replays an RFC 9591 test-vector file through the same FROST code
 * the signers run, comparing every intermediate value byte for byte.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { concat, fromHex, toHex } from '../protocol/bytes.js';
import {
  FROST_ED25519,
  FROST_SECP256K1,
  SUITES,
  hasEvenY,
  combineShares,
  bindingFactorInputs,
  nonceGenerate,
  SigningNonces,
  sign,
  signingContext,
  signingPackage,
  type FrostSuite,
} from '../protocol/frost/index.js';
import { evaluatePolynomial } from '../protocol/polynomial.js';
import type { Element } from '../protocol/group.js';

/** One comparison; `participant` is set for per-signer values. */
export interface VectorCheck {
  check: string;
  participant?: string;
  ok: boolean;
  expected: string;
  actual: string;
}

/** Refusal of a file that is not a vector file this project can run. */
export class VectorFileError extends Error {
  override readonly name = 'VectorFileError';
}

/** The ciphersuites a vector file may name, by the `config.name` the RFC's files use. */
const SUITES_BY_NAME: Record<string, FrostSuite> = {
  'FROST(Ed25519, SHA-512)': FROST_ED25519,
  'FROST(secp256k1, SHA-256)': FROST_SECP256K1,
};

type Json = Record<string, unknown>;

function obj(value: unknown, where: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new VectorFileError(`${where}: expected an object`);
  }
  return value as Json;
}

function arr(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new VectorFileError(`${where}: expected an array`);
  return value;
}

function hex(value: unknown, where: string): Uint8Array {
  const bytes = typeof value === 'string' ? fromHex(value) : null;
  if (!bytes) throw new VectorFileError(`${where}: expected a hex string`);
  return bytes;
}

/** Nonce randomness is exactly 32 bytes (RFC 9591 §4.1 random_bytes(32)). */
function hex32(value: unknown, where: string): Uint8Array {
  const bytes = hex(value, where);
  if (bytes.length !== 32) throw new VectorFileError(`${where}: expected 32 bytes`);
  return bytes;
}

/** Identifiers: a safe JSON integer, or a decimal / 0x-hex string for ones beyond 2^53. */
function identifier(value: unknown, suite: FrostSuite, where: string): bigint {
  let id: bigint | null = null;
  if (typeof value === 'number' && Number.isSafeInteger(value)) id = BigInt(value);
  if (typeof value === 'string' && /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(value)) id = BigInt(value);
  if (id === null || id <= 0n || id >= suite.group.order) {
    throw new VectorFileError(`${where}: identifier must be an integer in [1, order)`);
  }
  return id;
}

function scalar(suite: FrostSuite, value: unknown, where: string): bigint {
  const k = suite.group.decodeScalar(hex(value, where));
  if (k === null) throw new VectorFileError(`${where}: not a canonical scalar`);
  return k;
}

function element(suite: FrostSuite, value: unknown, where: string): Element {
  const p = suite.group.decodeElement(hex(value, where));
  if (!p) throw new VectorFileError(`${where}: not a valid group element`);
  return p;
}

/**
 * The per-participant entries of a section, in either layout the published files use: an array
 * of objects with an `identifier`, or a `participants` object keyed by identifier.
 */
function participantEntries(suite: FrostSuite, section: Json, arrayKey: string, where: string) {
  let raw: { rawId: unknown; o: Json; at: string }[];
  const list = section[arrayKey];
  if (Array.isArray(list)) {
    raw = list.map((entry, i) => {
      const at = `${where}.${arrayKey}[${i}]`;
      const o = obj(entry, at);
      return { rawId: o.identifier, o, at };
    });
  } else if (section.participants !== undefined) {
    raw = Object.entries(obj(section.participants, `${where}.participants`)).map(([k, v]) => {
      const at = `${where}.participants.${k}`;
      return { rawId: k as unknown, o: obj(v, at), at };
    });
  } else {
    throw new VectorFileError(`${where}: expected "${arrayKey}" or "participants"`);
  }
  const seen = new Set<bigint>();
  return raw.map(({ rawId, o, at }) => {
    const id = identifier(rawId, suite, `${at}.identifier`);
    if (seen.has(id)) throw new VectorFileError(`${at}: identifier ${id} appears twice`);
    seen.add(id);
    return { id, o, at };
  });
}

/** Runs every check of a parsed vector file. Throws VectorFileError for unusable files. */
export function runFrostVectors(
  file: unknown,
  override?: FrostSuite,
): { suite: string; checks: VectorCheck[] } {
  const root = obj(file, 'file');
  const config = obj(root.config, 'config');
  const name = String(config.name);
  const suite = override ?? SUITES_BY_NAME[name];
  if (!suite) {
    throw new VectorFileError(
      `unsupported ciphersuite "${name}"; supported: ${Object.keys(SUITES_BY_NAME).join(', ')}`,
    );
  }
  const { group } = suite;
  const inputs = obj(root.inputs, 'inputs');
  const checks: VectorCheck[] = [];
  const compare = (checkName: string, expected: Uint8Array, actual: Uint8Array, who?: bigint) => {
    const e = toHex(expected);
    const a = toHex(actual);
    checks.push({
      check: checkName,
      ...(who === undefined ? {} : { participant: who.toString() }),
      ok: e === a,
      expected: e,
      actual: a,
    });
  };

  const groupSecret = scalar(suite, inputs.group_secret_key, 'inputs.group_secret_key');
  const keyField = inputs.group_public_key ?? inputs.verifying_key_key;
  const groupKeyBytes = hex(keyField, 'inputs.group_public_key');
  const fileKey = element(suite, keyField, 'inputs.group_public_key');
  compare('group_public_key', groupKeyBytes, group.encodeElement(group.mulBase(groupSecret)));
  // BIP340 signs for the even-y key: with an odd-y file key every share is negated.
  const negate = suite.evenY && !hasEvenY(fileKey);
  const groupKey = negate ? fileKey.negate() : fileKey;
  const message = hex(inputs.message, 'inputs.message');

  const coefficients = [
    groupSecret,
    ...arr(inputs.share_polynomial_coefficients ?? [], 'share_polynomial_coefficients').map(
      (c, i) => scalar(suite, c, `share_polynomial_coefficients[${i}]`),
    ),
  ];
  const shares = new Map<bigint, bigint>();
  for (const { id, o: p, at: where } of participantEntries(
    suite,
    inputs,
    'participant_shares',
    'inputs',
  )) {
    const share = scalar(suite, p.participant_share, `${where}.participant_share`);
    compare(
      'participant_share',
      group.encodeScalar(share),
      group.encodeScalar(evaluatePolynomial(group, coefficients, id)),
      id,
    );
    const signingShare = negate ? group.mod(-share) : share;
    shares.set(id, signingShare);
  }

  // Round one: nonces from the recorded randomness, then commitments and binding factors.
  const roundOne = obj(root.round_one_outputs, 'round_one_outputs');
  const nonces = new Map<bigint, SigningNonces>();
  const expectedBinding = new Map<bigint, { input: Uint8Array; factor: Uint8Array }>();
  for (const { id, o, at: where } of participantEntries(
    suite,
    roundOne,
    'outputs',
    'round_one_outputs',
  )) {
    const share = shares.get(id);
    if (share === undefined) throw new VectorFileError(`${where}: no share for identifier ${id}`);
    const hiding = nonceGenerate(
      suite,
      share,
      hex32(o.hiding_nonce_randomness, `${where}.hiding_nonce_randomness`),
    );
    const binding = nonceGenerate(
      suite,
      share,
      hex32(o.binding_nonce_randomness, `${where}.binding_nonce_randomness`),
    );
    compare(
      'hiding_nonce',
      hex(o.hiding_nonce, `${where}.hiding_nonce`),
      group.encodeScalar(hiding),
      id,
    );
    compare(
      'binding_nonce',
      hex(o.binding_nonce, `${where}.binding_nonce`),
      group.encodeScalar(binding),
      id,
    );
    const n = new SigningNonces(suite, id, hiding, binding);
    compare(
      'hiding_nonce_commitment',
      hex(o.hiding_nonce_commitment, `${where}.hiding_nonce_commitment`),
      suite.encodeElement(n.commitment.hiding),
      id,
    );
    compare(
      'binding_nonce_commitment',
      hex(o.binding_nonce_commitment, `${where}.binding_nonce_commitment`),
      suite.encodeElement(n.commitment.binding),
      id,
    );
    nonces.set(id, n);
    expectedBinding.set(id, {
      input: hex(o.binding_factor_input, `${where}.binding_factor_input`),
      factor: hex(o.binding_factor, `${where}.binding_factor`),
    });
  }

  const pkg = signingPackage(
    suite,
    message,
    [...nonces.values()].map((n) => n.commitment),
  );
  const ctx = signingContext(suite, groupKey, pkg);
  const inputsComputed = bindingFactorInputs(suite, groupKey, pkg);
  for (const [i, id] of ctx.ids.entries()) {
    const expected = expectedBinding.get(id)!;
    compare('binding_factor_input', expected.input, inputsComputed[i]!, id);
    compare('binding_factor', expected.factor, group.encodeScalar(ctx.rhos[i]!), id);
  }

  // Round two: each signer's share, then the aggregate.
  const computedShares = new Map<bigint, bigint>();
  for (const id of ctx.ids) {
    const key = { id, secretShare: shares.get(id)!, groupKey };
    computedShares.set(id, sign(suite, nonces.get(id)!, key, pkg, ctx));
  }
  const roundTwo = obj(root.round_two_outputs, 'round_two_outputs');
  const roundTwoEntries = participantEntries(suite, roundTwo, 'outputs', 'round_two_outputs');
  const listed = roundTwoEntries.map((e) => e.id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (listed.join() !== ctx.ids.join()) {
    throw new VectorFileError('round_two_outputs must list exactly the signers of round one');
  }
  for (const { id, o, at: where } of roundTwoEntries) {
    const computed = computedShares.get(id);
    if (computed === undefined) throw new VectorFileError(`${where}: ${id} did not commit`);
    compare('sig_share', hex(o.sig_share, `${where}.sig_share`), group.encodeScalar(computed), id);
  }
  // Combined without the aggregator's check: a file whose values do not make a valid signature
  // must show up as a failed comparison, not as an error.
  const { signature } = combineShares(suite, ctx, computedShares);
  const expectedSig = hex(obj(root.final_output, 'final_output').sig, 'final_output.sig');
  if (suite.evenY && expectedSig.length === 65) {
    // Taproot vector files write R as its even-y compressed point; BIP340 writes x(R) alone.
    compare('sig', expectedSig, concat(Uint8Array.of(0x02), signature));
  } else {
    compare('sig', expectedSig, signature);
  }
  return { suite: suite.id, checks };
}

const USAGE = `usage: mpc-kms vectors frost FILE [--suite ${SUITES.map((x) => x.id).join('|')}]`;

/**
 * CLI entry: prints one JSON line per check and a summary line; returns the exit code (0 all
 * match, 1 a mismatch, 2 an unusable file or bad arguments). `--suite` names the ciphersuite
 * when the file's `config.name` does not: Taproot vector files carry the plain secp256k1 name.
 */
export function vectorsCommand(args: string[], out: (line: string) => void): number {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { suite: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    out(JSON.stringify({ error: `${err instanceof Error ? err.message : String(err)}; ${USAGE}` }));
    return 2;
  }
  const [family, path] = parsed.positionals;
  if (family !== 'frost' || !path || parsed.positionals.length !== 2) {
    out(JSON.stringify({ error: USAGE }));
    return 2;
  }
  const override = parsed.values.suite;
  const suite = override === undefined ? undefined : SUITES.find((x) => x.id === override);
  if (override !== undefined && !suite) {
    out(JSON.stringify({ error: `unsupported ciphersuite "${override}"; ${USAGE}` }));
    return 2;
  }
  let result: { suite: string; checks: VectorCheck[] };
  try {
    result = runFrostVectors(JSON.parse(readFileSync(path, 'utf8')), suite);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    out(JSON.stringify({ error: message }));
    return 2;
  }
  for (const c of result.checks) out(JSON.stringify(c));
  const failed = result.checks.filter((c) => !c.ok).length;
  out(
    JSON.stringify({
      summary: {
        suite: result.suite,
        checks: result.checks.length,
        passed: result.checks.length - failed,
        failed,
      },
    }),
  );
  return failed === 0 ? 0 : 1;
}
