/**
 * coordinator/chains/addresses.ts against published vectors, byte for byte: EIP-55's own examples and
 * well-known private key → address pairs for Ethereum; BIP86's and BIP341's key-path vectors for
 * the Taproot output key and address; BIP350's version 1 example for bech32m; Solana program
 * ids for base58. Then the refusals: wrong lengths and points off the curve.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bech32m } from '@scure/base';
import fc from 'fast-check';
import {
  addressesFor,
  checksumAddress,
  ethereumAddress,
  solanaAddress,
  taprootAddress,
  taprootOutputKey,
  taprootTweak,
  witnessV0Address,
  witnessV1Address,
} from '../coordinator/chains/addresses.js';
import { toHex } from '../protocol/bytes.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

test('EIP-55: the examples of the EIP re-encode to themselves', () => {
  // https://eips.ethereum.org/EIPS/eip-55, "Test Cases" (the mixed-case ones).
  for (const address of [
    '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
    '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359',
    '0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB',
    '0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb',
  ]) {
    assert.equal(checksumAddress(hex(address.slice(2).toLowerCase())), address);
  }
});

test('Ethereum: known private key → address pairs, from the compressed public key', () => {
  // Private keys 1 and 2 (public keys G and 2G, compressed), the addresses every test chain
  // funds; and EIP-155's example key 0x46…46.
  assert.equal(
    ethereumAddress(hex('0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798')),
    '0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf',
  );
  assert.equal(
    ethereumAddress(hex('02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5')),
    '0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF',
  );
  const eip155 = secp256k1.getPublicKey(new Uint8Array(32).fill(0x46), true);
  assert.equal(ethereumAddress(eip155), '0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F');
});

test('Taproot: BIP86 and BIP341 key-path vectors (output key and bech32m address)', () => {
  const vectors = [
    // BIP86, m/86'/0'/0'/0/0 and m/86'/0'/0'/0/1 of "abandon … about".
    {
      internal: 'cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115',
      output: 'a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c',
      address: 'bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr',
    },
    {
      internal: '83dfe85a3151d2517290da461fe2815591ef69f2b18a2ce63f01697a8b313145',
      output: 'a82f29944d65b86ae6b5e5cc75e294ead6c59391a1edc5e016e3498c67fc7bbb',
      address: 'bc1p4qhjn9zdvkux4e44uhx8tc55attvtyu358kutcqkudyccelu0was9fqzwh',
    },
    // BIP341 wallet-test-vectors.json, scriptPubKey[0] (no script tree).
    {
      internal: 'd6889cb081036e0faefa3a35157ad71086b123b2b144b649798b494c300a961d',
      output: '53a1f6e454df1aa2776a2814a721372d6258050de330b3c6d10ee8f4e0dda343',
      address: 'bc1p2wsldez5mud2yam29q22wgfh9439spgduvct83k3pm50fcxa5dps59h4z5',
    },
  ];
  for (const v of vectors) {
    assert.equal(toHex(taprootOutputKey(hex(v.internal))), v.output);
    assert.equal(taprootAddress(hex(v.internal)), v.address);
  }
});

test('bech32m: BIP350 version 1 example, and other networks round-trip', () => {
  // BIP350 "Test vectors for v0-v16 native segregated witness addresses": program = x(G).
  const gx = hex('79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798');
  assert.equal(
    witnessV1Address(gx),
    'bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0',
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (program) => {
      const address = witnessV1Address(program, 'tb');
      const { prefix, words } = bech32m.decode(address as `${string}1${string}`);
      assert.equal(prefix, 'tb');
      assert.equal(words[0], 1);
      assert.deepEqual(bech32m.fromWords(words.slice(1)), program);
    }),
    { numRuns: 50 },
  );
});

test('Solana: base58 of the 32 key bytes', () => {
  // The system program id is 32 zero bytes; the SPL Token program id is a published constant.
  assert.equal(solanaAddress(new Uint8Array(32)), '11111111111111111111111111111111');
  assert.equal(
    solanaAddress(hex('06ddf6e1d765a193d9cbe146ceeb79ac1cb485ed5f5b37913a8cf5857eff00a9')),
    'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA',
  );
  // The Ed25519 key of the all-zero secret (RFC 8032 key generation, computed by noble).
  const key = ed25519.getPublicKey(new Uint8Array(32));
  assert.equal(toHex(key), '3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29');
  assert.equal(solanaAddress(key), '4zvwRjXUKGfvwnParsHAS3HuSVzV5cA4McphgmoCtajS');
});

test('refusals: wrong lengths, points off the curve', () => {
  assert.throws(() => checksumAddress(new Uint8Array(19)), TypeError);
  assert.throws(() => ethereumAddress(new Uint8Array(32)), TypeError);
  // A 33-byte string with prefix 0x05 is no compressed point.
  assert.throws(() => ethereumAddress(new Uint8Array(33).fill(5)));
  assert.throws(() => taprootOutputKey(new Uint8Array(33)), TypeError);
  // x = 5: 5³ + 7 = 132 is not a square mod p, so no point has this x.
  const five = new Uint8Array(32);
  five[31] = 5;
  assert.throws(() => taprootOutputKey(five));
  // x = p is not a field element.
  assert.throws(() =>
    taprootOutputKey(hex('fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f')),
  );
  assert.throws(() => witnessV1Address(new Uint8Array(20)), TypeError);
  assert.throws(() => solanaAddress(new Uint8Array(31)), TypeError);
});

test('taprootTweak: the BIP341 vector tweak, and the one tweak taprootOutputKey uses', () => {
  // BIP341 wallet-test-vectors.json, scriptPubKey[0]: internal key, tweak, tweaked key.
  const internal = hex('d6889cb081036e0faefa3a35157ad71086b123b2b144b649798b494c300a961d');
  const t = taprootTweak(internal);
  assert.equal(
    t.toString(16).padStart(64, '0'),
    'b86e7be8f39bab32a6f2c0443abbc210f0edac0e2c53d501b36b64437d9c6c70',
  );
  // Q = P + t·G, computed here from the tweak, equals what taprootOutputKey returns.
  const P = secp256k1.Point.fromBytes(new Uint8Array([0x02, ...internal]));
  const Q = P.add(secp256k1.Point.BASE.multiply(t));
  assert.equal(toHex(Q.toBytes(true).subarray(1)), toHex(taprootOutputKey(internal)));
  assert.throws(() => taprootTweak(new Uint8Array(31)), TypeError);
  const five = new Uint8Array(32);
  five[31] = 5;
  assert.throws(() => taprootTweak(five));
});

test('bech32 version 0: BIP173 P2WPKH and P2WSH examples', () => {
  assert.equal(
    witnessV0Address(hex('751e76e8199196d454941c45d1b3a323f1433bd6')),
    'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4',
  );
  assert.equal(
    witnessV0Address(hex('1863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262'), 'tb'),
    'tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7',
  );
  assert.throws(() => witnessV0Address(new Uint8Array(21)), TypeError);
});

test('addressesFor: one chain per scheme, from the key as the service returns it', () => {
  assert.deepEqual(
    addressesFor(
      'ecdsa-secp256k1',
      hex('0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798'),
    ),
    { evm: '0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf' },
  );
  assert.deepEqual(
    addressesFor(
      'schnorr-secp256k1-bip340',
      hex('cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115'),
    ),
    { bitcoinTaproot: 'bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr' },
  );
  assert.deepEqual(addressesFor('eddsa-ed25519', new Uint8Array(32)), {
    solana: '11111111111111111111111111111111',
  });
  // Each scheme's key length only: a 32-byte key is no ECDSA key, a 33-byte one no x-only key.
  assert.throws(() => addressesFor('ecdsa-secp256k1', new Uint8Array(32)), TypeError);
  assert.throws(() => addressesFor('schnorr-secp256k1-bip340', new Uint8Array(33)), TypeError);
  assert.throws(() => addressesFor('eddsa-ed25519', new Uint8Array(33)), TypeError);
});
