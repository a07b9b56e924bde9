import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runFrostVectors, VectorFileError } from '../cli/vectors.js';
import { vectorPath } from './helpers.js';

for (const file of ['frost-ed25519-sha512.json', 'frost-secp256k1-sha256.json']) {
  test(`RFC 9591 vectors ${file} match byte for byte`, () => {
    const data = JSON.parse(readFileSync(vectorPath('frost', file), 'utf8'));
    const { checks } = runFrostVectors(data);
    // Group key, 3 shares, and for each of the 2 signers: 2 nonces, 2 commitments, the binding
    // factor input and factor, the signature share; then the signature.
    assert.equal(checks.length, 1 + 3 + 2 * 7 + 1);
    for (const c of checks) assert.equal(c.actual, c.expected, `${c.check} ${c.participant ?? ''}`);
  });

  test(`a corrupted ${file} fails the right check`, () => {
    const data = JSON.parse(readFileSync(vectorPath('frost', file), 'utf8'));
    const out = data.round_two_outputs.outputs[0];
    out.sig_share = out.sig_share.replace(/^../, (b: string) => (b === '00' ? '01' : '00'));
    const failed = runFrostVectors(data).checks.filter((c) => !c.ok);
    assert.deepEqual(
      failed.map((c) => c.check),
      ['sig_share'],
    );
  });
}

test('an unsupported ciphersuite is refused by name', () => {
  const data = JSON.parse(readFileSync(vectorPath('frost', 'frost-ed25519-sha512.json'), 'utf8'));
  data.config.name = 'FROST(P-256, SHA-256)';
  assert.throws(
    () => runFrostVectors(data),
    (e: unknown) => {
      return (
        e instanceof VectorFileError &&
        /unsupported ciphersuite "FROST\(P-256, SHA-256\)"/.test(e.message)
      );
    },
  );
});

test('a file whose values are wrong reports failed checks, not an error', () => {
  const data = JSON.parse(readFileSync(vectorPath('frost', 'frost-secp256k1-sha256.json'), 'utf8'));
  data.inputs.participant_shares[0].participant_share =
    data.inputs.participant_shares[1].participant_share;
  const failed = runFrostVectors(data).checks.filter((c) => !c.ok);
  assert.ok(failed.some((c) => c.check === 'participant_share' && c.participant === '1'));
  assert.ok(failed.some((c) => c.check === 'sig'));
});

test('incomplete or ambiguous files are refused as unusable', () => {
  const load = () =>
    JSON.parse(readFileSync(vectorPath('frost', 'frost-ed25519-sha512.json'), 'utf8'));
  const missingShare = load();
  missingShare.round_two_outputs.outputs.pop();
  const duplicate = load();
  duplicate.round_one_outputs.outputs[1].identifier =
    duplicate.round_one_outputs.outputs[0].identifier;
  const shortRandomness = load();
  shortRandomness.round_one_outputs.outputs[0].hiding_nonce_randomness = 'abcd';
  for (const [name, file] of Object.entries({ missingShare, duplicate, shortRandomness })) {
    assert.throws(() => runFrostVectors(file), VectorFileError, name);
  }
});
