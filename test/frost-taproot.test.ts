/**
 * FROST(BIP340) signing for a Taproot key-path output: the signers sign for
 * Q = lift_x(x(D)) + H_TapTweak(x(D))·G of the (derived) key D, and the signature verifies, by
 * `@noble/curves`' BIP340, against x(Q) as BIP86 and any wallet derive it — whatever the
 * parities of D and Q, which is what the sign bookkeeping in protocol/frost/material.ts is for.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { taprootOutputKey, taprootTweak } from '../coordinator/chains/addresses.js';
import { runDkg, runSign } from '../protocol/ceremonies.js';
import { derivePath } from '../protocol/derive.js';
import { ProtocolError } from '../protocol/errors.js';
import { FROST_BIP340, FROST_ED25519, hasEvenY } from '../protocol/frost/suite.js';
import { secp256k1Group, ed25519Group } from '../protocol/group.js';
import { seededRng } from './helpers.js';

const xOnly = (point: { toBytes(): Uint8Array }) => point.toBytes().subarray(1);

test('Taproot key-path signatures verify against the output key, for every parity', () => {
  const seen = new Set<string>();
  for (let k = 0; k < 16 && seen.size < 4; k++) {
    const shares = runDkg(secp256k1Group, [1, 2, 3], 2, { rng: seededRng(`taproot-key-${k}`) });
    const { publicKey, chainCode } = shares[0]!;
    for (const path of ['', 'm/0/7']) {
      const D = path ? derivePath(secp256k1Group, publicKey, chainCode, path).publicKey : publicKey;
      const outputKey = taprootOutputKey(xOnly(D));
      const message = seededRng(`sighash-${k}-${path}`)(32);
      const signature = runSign(
        shares,
        { suite: FROST_BIP340, message, signers: [1, 3], ...(path ? { path } : {}), taproot: true },
        { rng: seededRng(`taproot-sign-${k}-${path}`) },
      );
      assert.ok(schnorr.verify(signature, message, outputKey), `key ${k} path "${path}"`);
      // Not a signature by the untweaked key.
      assert.ok(!schnorr.verify(signature, message, xOnly(D)));
      // Q's parity before BIP340 drops it: lift_x(x(D)) + t·G.
      const internal = schnorr.utils.lift_x(BigInt('0x' + Buffer.from(xOnly(D)).toString('hex')));
      const Q = internal.add(schnorr.Point.BASE.multiply(taprootTweak(xOnly(D))));
      seen.add(`D ${hasEvenY(D) ? 'even' : 'odd'}, Q ${Q.toBytes(true)[0] === 2 ? 'even' : 'odd'}`);
    }
  }
  assert.equal(seen.size, 4, [...seen].join('; '));
});

test('only a BIP340 key has a Taproot tweak', () => {
  const shares = runDkg(ed25519Group, [1, 2], 2, { rng: seededRng('ed-taproot') });
  assert.throws(
    () =>
      runSign(
        shares,
        { suite: FROST_ED25519, message: new Uint8Array(8), signers: [1, 2], taproot: true },
        { rng: seededRng('ed-taproot-sign') },
      ),
    (error: unknown) => error instanceof ProtocolError && error.code === 'INVALID_PARAMETERS',
  );
});
