/**
 * `mpc-kms vectors frost FILE`: replays an RFC 9591 test-vector file through the same FROST code
 * the signers run, comparing every intermediate value byte for byte.
 */
import { readFileSync } from 'node:fs';
import { fromHex, toHex } from '../protocol/bytes.js';
import {
  FROST_ED25519,
  FROST_SECP256K1,
  aggregate,
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

/** Runs every check of a parsed vector file. Throws VectorFileError for unusable files. */
export function runFrostVectors(file: unknown): { suite: string; checks: VectorCheck[] } {
  const root = obj(file, 'file');
  const config = obj(root.config, 'config');
  const name = String(config.name);
  const suite = SUITES_BY_NAME[name];
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
  const groupKeyBytes = hex(inputs.group_public_key, 'inputs.group_public_key');
  const groupKey = element(suite, inputs.group_public_key, 'inputs.group_public_key');
  compare('group_public_key', groupKeyBytes, group.encodeElement(group.mulBase(groupSecret)));
  const message = hex(inputs.message, 'inputs.message');

  const coefficients = [
    groupSecret,
    ...arr(inputs.share_polynomial_coefficients ?? [], 'share_polynomial_coefficients').map(
      (c, i) => scalar(suite, c, `share_polynomial_coefficients[${i}]`),
    ),
  ];
  const shares = new Map<bigint, bigint>();
  const verificationShares = new Map<bigint, Element>();
  for (const [i, entry] of arr(inputs.participant_shares, 'participant_shares').entries()) {
    const where = `participant_shares[${i}]`;
    const p = obj(entry, where);
    const id = identifier(p.identifier, suite, `${where}.identifier`);
    const share = scalar(suite, p.participant_share, `${where}.participant_share`);
    compare(
      'participant_share',
      group.encodeScalar(share),
      group.encodeScalar(evaluatePolynomial(group, coefficients, id)),
      id,
    );
    shares.set(id, share);
    verificationShares.set(id, group.mulBase(share));
  }

  // Round one: nonces from the recorded randomness, then commitments and binding factors.
  const roundOne = arr(obj(root.round_one_outputs, 'round_one_outputs').outputs, 'outputs');
  const nonces = new Map<bigint, SigningNonces>();
  const expectedBinding = new Map<bigint, { input: Uint8Array; factor: Uint8Array }>();
  for (const [i, entry] of roundOne.entries()) {
    const where = `round_one_outputs.outputs[${i}]`;
    const o = obj(entry, where);
    const id = identifier(o.identifier, suite, `${where}.identifier`);
    const share = shares.get(id);
    if (share === undefined) throw new VectorFileError(`${where}: no share for identifier ${id}`);
    const hiding = nonceGenerate(
      suite,
      share,
      hex(o.hiding_nonce_randomness, `${where}.hiding_nonce_randomness`),
    );
    const binding = nonceGenerate(
      suite,
      share,
      hex(o.binding_nonce_randomness, `${where}.binding_nonce_randomness`),
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
  const roundTwo = arr(obj(root.round_two_outputs, 'round_two_outputs').outputs, 'outputs');
  for (const [i, entry] of roundTwo.entries()) {
    const where = `round_two_outputs.outputs[${i}]`;
    const o = obj(entry, where);
    const id = identifier(o.identifier, suite, `${where}.identifier`);
    const computed = computedShares.get(id);
    if (computed === undefined) throw new VectorFileError(`${where}: ${id} did not commit`);
    compare('sig_share', hex(o.sig_share, `${where}.sig_share`), group.encodeScalar(computed), id);
  }
  const signature = aggregate(suite, { groupKey, verificationShares }, pkg, computedShares, ctx);
  compare('sig', hex(obj(root.final_output, 'final_output').sig, 'final_output.sig'), signature);
  return { suite: name, checks };
}

/** CLI entry: prints one JSON line per check and a summary line; returns the exit code. */
export function vectorsCommand(args: string[], out: (line: string) => void): number {
  const [family, path] = args;
  if (family !== 'frost' || !path || args.length !== 2) {
    out(JSON.stringify({ error: 'usage: mpc-kms vectors frost FILE' }));
    return 2;
  }
  let result: { suite: string; checks: VectorCheck[] };
  try {
    result = runFrostVectors(JSON.parse(readFileSync(path, 'utf8')));
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
