/**
 * coordinator/chains/evm.ts and rlp.ts: signing digests and raw transactions checked against an
 * independent implementation (ethers v6 parses what we build and recovers the sender), EIP-155's
 * published example byte for byte, the request schema's refusals, and RLP's canonical decoding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { Transaction } from 'ethers';
import fc from 'fast-check';
import { ethereumAddress, checksumAddress } from '../coordinator/chains/addresses.js';
import { ChainInputError } from '../coordinator/chains/errors.js';
import {
  evmSignedTransaction,
  evmSigningDigest,
  evmSigningPayload,
  evmTransactionSummary,
  type EvmTransaction,
} from '../coordinator/chains/evm.js';
import { evmTransactionRequest } from '../coordinator/chains/evm-request.js';
import { rlpDecode, rlpDecodeInt, rlpEncode, type RlpItem } from '../coordinator/chains/rlp.js';
import { toHex } from '../protocol/bytes.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/^0x/, ''), 'hex'));
const ORDER = secp256k1.Point.Fn.ORDER;

/** Signs like the service's ECDSA signer: low-s, with the recovery id. */
function sign(digest: Uint8Array, secret: Uint8Array) {
  const recovered = secp256k1.sign(digest, secret, { prehash: false, format: 'recovered' });
  const sig = secp256k1.Signature.fromBytes(recovered, 'recovered');
  return { r: sig.r, s: sig.s, recoveryId: sig.recovery as 0 | 1 };
}

/** Builds and signs `tx`, parses it back with ethers, and checks every field and the sender. */
function roundTrip(tx: EvmTransaction, secret = secp256k1.utils.randomSecretKey()): Transaction {
  const digest = evmSigningDigest(tx);
  const { raw, hash } = evmSignedTransaction(tx, sign(digest, secret));
  const parsed = Transaction.from('0x' + toHex(raw));
  assert.equal(parsed.from, ethereumAddress(secp256k1.getPublicKey(secret, true)));
  assert.equal(parsed.type, tx.type);
  assert.equal(parsed.chainId, tx.chainId);
  assert.equal(BigInt(parsed.nonce), tx.nonce);
  assert.equal(parsed.to, checksumAddress(tx.to));
  assert.equal(parsed.value, tx.value);
  assert.equal(parsed.gasLimit, tx.gasLimit);
  assert.equal(parsed.data, '0x' + toHex(tx.data));
  assert.equal(parsed.hash, '0x' + toHex(hash));
  assert.equal(parsed.unsignedHash, '0x' + toHex(digest));
  if (tx.type === 0) {
    assert.equal(parsed.gasPrice, tx.gasPrice);
  } else {
    assert.equal(parsed.maxFeePerGas, tx.maxFeePerGas);
    assert.equal(parsed.maxPriorityFeePerGas, tx.maxPriorityFeePerGas);
    assert.deepEqual(
      parsed.accessList,
      tx.accessList.map((e) => ({
        address: checksumAddress(e.address),
        storageKeys: e.storageKeys.map((k) => '0x' + toHex(k)),
      })),
    );
  }
  return parsed;
}

const to = hex('d8da6bf26964af9d7eed9e03e53415d37aa96045');

test('EIP-155 example: signing payload and hash byte for byte, then the signed transaction', () => {
  // https://eips.ethereum.org/EIPS/eip-155, "Example".
  const tx: EvmTransaction = {
    type: 0,
    chainId: 1n,
    nonce: 9n,
    gasPrice: 20_000_000_000n,
    gasLimit: 21_000n,
    to: new Uint8Array(20).fill(0x35),
    value: 10n ** 18n,
    data: new Uint8Array(0),
  };
  assert.equal(
    toHex(evmSigningPayload(tx)),
    'ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080',
  );
  assert.equal(
    toHex(evmSigningDigest(tx)),
    'daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53',
  );
  // The EIP's signature, as it publishes it (v = 37, so recovery id 0).
  const { raw } = evmSignedTransaction(tx, {
    r: 18515461264373351373200002665853028612451056578545711640558177340181847433846n,
    s: 46948507304638947509940763649030358759909902576025900602547168820602576006531n,
    recoveryId: 0,
  });
  assert.equal(
    toHex(raw),
    'f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83',
  );
  // And signed here with the EIP's key: ethers recovers the EIP's sender.
  const parsed = roundTrip(tx, new Uint8Array(32).fill(0x46));
  assert.equal(parsed.from, '0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F');
});

test('legacy: empty and non-empty data, other chains, values near 2^256', () => {
  const max = (1n << 256n) - 1n;
  for (const [chainId, data, value, gasPrice] of [
    [1n, '', 0n, 1n],
    [137n, 'a9059cbb' + '00'.repeat(64), 12345n, 30_000_000_000n],
    [(1n << 64n) - 1n, 'ff'.repeat(300), max, max],
  ] as const) {
    roundTrip({
      type: 0,
      chainId,
      nonce: 0n,
      gasPrice,
      gasLimit: 100_000n,
      to,
      value,
      data: hex(data),
    });
  }
});

test('type 2: access lists, empty and non-empty data, big values', () => {
  const max = (1n << 256n) - 1n;
  roundTrip({
    type: 2,
    chainId: 1n,
    nonce: 7n,
    maxPriorityFeePerGas: 2_000_000_000n,
    maxFeePerGas: 40_000_000_000n,
    gasLimit: 21_000n,
    to,
    value: 10n ** 17n,
    data: new Uint8Array(0),
    accessList: [],
  });
  roundTrip({
    type: 2,
    chainId: 8453n,
    nonce: BigInt(Number.MAX_SAFE_INTEGER),
    maxPriorityFeePerGas: max,
    maxFeePerGas: max,
    gasLimit: (1n << 64n) - 1n,
    to,
    value: max,
    data: hex('deadbeef'.repeat(40)),
    accessList: [
      { address: hex('00'.repeat(20)), storageKeys: [] },
      {
        address: to,
        storageKeys: [hex('00'.repeat(32)), hex('01'.repeat(32)), hex('ff'.repeat(32))],
      },
    ],
  });
});

test('the largest nonce (2^64 - 2, EIP-2681) encodes as 8 bytes in both envelopes', () => {
  // ethers cannot hold it (its nonces are numbers), so read the raw transaction back with RLP.
  const nonce = (1n << 64n) - 2n;
  const secret = secp256k1.utils.randomSecretKey();
  for (const tx of [
    {
      type: 0,
      chainId: 1n,
      nonce,
      gasPrice: 1n,
      gasLimit: 1n,
      to,
      value: 0n,
      data: new Uint8Array(0),
    },
    {
      type: 2,
      chainId: 1n,
      nonce,
      maxPriorityFeePerGas: 1n,
      maxFeePerGas: 1n,
      gasLimit: 1n,
      to,
      value: 0n,
      data: new Uint8Array(0),
      accessList: [],
    },
  ] satisfies EvmTransaction[]) {
    const digest = evmSigningDigest(tx);
    const sig = sign(digest, secret);
    const { raw } = evmSignedTransaction(tx, sig);
    const fields = rlpDecode(tx.type === 2 ? raw.subarray(1) : raw) as RlpItem[];
    assert.equal(fields.length, tx.type === 2 ? 12 : 9);
    assert.equal(rlpDecodeInt(fields[tx.type === 2 ? 1 : 0]!, 'nonce', 8), nonce);
    assert.equal(rlpDecodeInt(fields[fields.length - 1]!, 's'), sig.s);
    assert.equal(rlpDecodeInt(fields[fields.length - 2]!, 'r'), sig.r);
    const v = rlpDecodeInt(fields[fields.length - 3]!, 'v');
    assert.equal(v, tx.type === 2 ? BigInt(sig.recoveryId) : 37n + BigInt(sig.recoveryId));
  }
});

test('property: random transactions of both types parse back in ethers with the right sender', () => {
  const uint = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });
  const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
  const common = {
    chainId: fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }),
    // ethers holds nonces as JavaScript numbers; larger ones are checked by RLP below.
    nonce: fc.bigInt({ min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER) }),
    gasLimit: uint(64),
    to: bytes(20),
    value: uint(256),
    data: fc.uint8Array({ maxLength: 200 }),
  };
  const legacy = fc.record({ type: fc.constant(0 as const), ...common, gasPrice: uint(256) });
  const eip1559 = fc
    .record({
      type: fc.constant(2 as const),
      ...common,
      a: uint(256),
      b: uint(256),
      accessList: fc.array(
        fc.record({ address: bytes(20), storageKeys: fc.array(bytes(32), { maxLength: 3 }) }),
        { maxLength: 3 },
      ),
    })
    .map(({ a, b, ...rest }) => ({
      ...rest,
      maxPriorityFeePerGas: a < b ? a : b,
      maxFeePerGas: a < b ? b : a,
    }));
  fc.assert(
    fc.property(fc.oneof(legacy, eip1559), (tx) => {
      roundTrip(tx);
    }),
    { numRuns: 40 },
  );
});

test('signature checks: high s, r or s out of range, bad recovery id', () => {
  const tx: EvmTransaction = {
    type: 2,
    chainId: 1n,
    nonce: 0n,
    maxPriorityFeePerGas: 1n,
    maxFeePerGas: 2n,
    gasLimit: 21_000n,
    to,
    value: 1n,
    data: new Uint8Array(0),
    accessList: [],
  };
  const good = sign(evmSigningDigest(tx), secp256k1.utils.randomSecretKey());
  const refused = (sig: typeof good, field: string) =>
    assert.throws(
      () => evmSignedTransaction(tx, sig),
      (e: unknown) => e instanceof ChainInputError && e.field === field,
    );
  refused({ ...good, s: ORDER - good.s }, 'signature.s');
  refused({ ...good, s: 0n }, 'signature.s');
  refused({ ...good, r: ORDER }, 'signature.r');
  refused({ ...good, recoveryId: 2 as 0 }, 'signature.recoveryId');
  assert.throws(() => evmSigningDigest({ ...tx, to: new Uint8Array(19) }), ChainInputError);
  assert.throws(() => evmSigningDigest({ ...tx, chainId: 0n }), ChainInputError);
  assert.throws(() => evmSigningDigest({ ...tx, nonce: (1n << 64n) - 1n }), ChainInputError);
  assert.throws(() => evmSigningDigest({ ...tx, maxPriorityFeePerGas: 3n }), ChainInputError);
  assert.deepEqual(evmTransactionSummary(tx), {
    to: '0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045',
    value: 1n,
  });
});

const type2Body = {
  type: 2,
  chainId: 1,
  nonce: '12',
  to: '0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045',
  value: '1000000000000000000',
  gasLimit: 21000,
  maxFeePerGas: '30000000000',
  maxPriorityFeePerGas: 1000000000,
  data: '0x',
};

test('request schema: type 2 and legacy bodies parse to the transaction', () => {
  const parsed = evmTransactionRequest.parse({
    ...type2Body,
    accessList: [{ address: type2Body.to.toLowerCase(), storageKeys: ['0x' + '11'.repeat(32)] }],
    path: 'm/0/7',
  });
  assert.equal(parsed.path, 'm/0/7');
  assert.deepEqual(parsed.transaction, {
    type: 2,
    chainId: 1n,
    nonce: 12n,
    to,
    value: 10n ** 18n,
    gasLimit: 21000n,
    maxFeePerGas: 30_000_000_000n,
    maxPriorityFeePerGas: 1_000_000_000n,
    data: new Uint8Array(0),
    accessList: [{ address: to, storageKeys: [hex('11'.repeat(32))] }],
  });
  const legacy = evmTransactionRequest.parse({
    type: 0,
    chainId: '56',
    nonce: 0,
    to: type2Body.to.toUpperCase().replace('0X', '0x'),
    value: '0',
    gasLimit: '21000',
    gasPrice: '5000000000',
    data: '0xA9059CBB',
  });
  assert.equal(legacy.path, undefined);
  assert.deepEqual(legacy.transaction, {
    type: 0,
    chainId: 56n,
    nonce: 0n,
    to,
    value: 0n,
    gasLimit: 21000n,
    gasPrice: 5_000_000_000n,
    data: hex('a9059cbb'),
  });
  // What the schema outputs is signable as is.
  roundTrip(legacy.transaction);
  // 2^256 - 1 as a string (78 digits) is the largest value.
  const max = ((1n << 256n) - 1n).toString();
  assert.equal(
    evmTransactionRequest.parse({ ...type2Body, value: max }).transaction.value,
    BigInt(max),
  );
});

test('request schema refusals name the field', () => {
  const refusal = (body: unknown): string[] => {
    const result = evmTransactionRequest.safeParse(body);
    assert.equal(result.success, false, JSON.stringify(body));
    return result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  const oneOn = (body: unknown, field: string, pattern?: RegExp) => {
    const issues = refusal(body);
    assert.ok(
      issues.some((i) => i.startsWith(field + ':') && (pattern === undefined || pattern.test(i))),
      `${field} not blamed: ${issues.join('; ')}`,
    );
  };
  // EIP-55: one letter's case flipped breaks the checksum.
  oneOn(
    { ...type2Body, to: '0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96044'.replace('dA', 'Da') },
    'to',
    /checksum/,
  );
  oneOn({ ...type2Body, value: -1 }, 'value');
  oneOn({ ...type2Body, value: '-1' }, 'value');
  oneOn({ ...type2Body, value: 1.5 }, 'value');
  oneOn({ ...type2Body, value: 2 ** 53 }, 'value');
  oneOn({ ...type2Body, value: '01' }, 'value');
  oneOn({ ...type2Body, value: '1e18' }, 'value');
  oneOn({ ...type2Body, value: (1n << 256n).toString() }, 'value');
  oneOn({ ...type2Body, nonce: ((1n << 64n) - 1n).toString() }, 'nonce');
  oneOn({ ...type2Body, chainId: 0 }, 'chainId');
  oneOn({ ...type2Body, gasLimit: (1n << 64n).toString() }, 'gasLimit');
  oneOn({ ...type2Body, data: '0xabc' }, 'data');
  oneOn({ ...type2Body, data: 'abcd' }, 'data');
  oneOn({ ...type2Body, data: '0x' + '00'.repeat(128 * 1024 + 1) }, 'data');
  oneOn({ ...type2Body, to: '0x' + '11'.repeat(19) }, 'to');
  oneOn({ ...type2Body, extra: 1 }, '', /unknown field "extra"/);
  oneOn(
    { ...type2Body, maxPriorityFeePerGas: '30000000001' },
    'maxPriorityFeePerGas',
    /maxFeePerGas/,
  );
  oneOn({ ...type2Body, type: 1 }, 'type');
  oneOn({ ...type2Body, type: undefined }, 'type');
  oneOn({ ...type2Body, gasPrice: 1 }, '', /unknown field "gasPrice"/);
  const { gasLimit: _omitted, ...missing } = type2Body;
  oneOn(missing, 'gasLimit', /is required/);
  oneOn(
    {
      ...type2Body,
      accessList: [{ address: type2Body.to, storageKeys: ['0x' + '11'.repeat(31)] }],
    },
    'accessList.0.storageKeys.0',
  );
  oneOn(
    {
      ...type2Body,
      accessList: Array.from({ length: 257 }, () => ({ address: type2Body.to, storageKeys: [] })),
    },
    'accessList',
  );
  oneOn('not an object', '');
});

test('RLP: canonical decoding round-trips, and every non-canonical form is refused', () => {
  // Yellow Paper examples: "dog", ["cat", "dog"], empty string, empty list, 1024, set of three.
  const utf8 = (s: string) => new TextEncoder().encode(s);
  assert.equal(toHex(rlpEncode(utf8('dog'))), '83646f67');
  assert.equal(toHex(rlpEncode([utf8('cat'), utf8('dog')])), 'c88363617483646f67');
  assert.equal(toHex(rlpEncode(new Uint8Array(0))), '80');
  assert.equal(toHex(rlpEncode([])), 'c0');
  assert.equal(toHex(rlpEncode(hex('0400'))), '820400');
  assert.equal(toHex(rlpEncode([[], [[]], [[], [[]]]])), 'c7c0c1c0c3c0c1c0');
  assert.equal(
    toHex(rlpEncode(utf8('Lorem ipsum dolor sit amet, consectetur adipisicing elit'))).slice(0, 4),
    'b838',
  );

  const refused = (encoded: string, code: string) =>
    assert.throws(
      () => rlpDecode(hex(encoded)),
      (e: unknown) => e instanceof ChainInputError && e.code === code,
      encoded,
    );
  refused('8100', 'NON_CANONICAL_ENCODING'); // 0x00 must be itself, not wrapped
  refused('817f', 'NON_CANONICAL_ENCODING');
  refused('b80100', 'NON_CANONICAL_ENCODING'); // long form for a 1-byte string
  refused('f800', 'NON_CANONICAL_ENCODING'); // long form for an empty list
  refused('b90038' + '00'.repeat(56), 'NON_CANONICAL_ENCODING'); // length with a leading zero
  refused('8300', 'MALFORMED_TRANSACTION'); // truncated
  refused('c2820000', 'MALFORMED_TRANSACTION'); // item runs past the end of its list
  refused('80' + '00', 'MALFORMED_TRANSACTION'); // trailing bytes
  refused('', 'MALFORMED_TRANSACTION');
  refused('c1'.repeat(17) + 'c0', 'MALFORMED_TRANSACTION'); // lengths do not add up
  assert.throws(
    () => rlpDecode(rlpEncode(nested(40))),
    (e: unknown) => e instanceof ChainInputError && e.code === 'TOO_LARGE',
  );
  assert.throws(
    () => rlpDecodeInt(hex('0001'), 'n'),
    (e: unknown) => e instanceof ChainInputError && e.code === 'NON_CANONICAL_ENCODING',
  );
  assert.equal(rlpDecodeInt(new Uint8Array(0), 'n'), 0n);
  assert.equal(rlpDecodeInt(hex('0400'), 'n'), 1024n);
  assert.throws(() => rlpDecodeInt(new Uint8Array(33).fill(1), 'n'), ChainInputError);
  assert.throws(() => rlpDecodeInt([], 'n'), ChainInputError);

  // A signed transaction from here decodes canonically into its 12 fields.
  const fields = rlpDecode(
    evmSigningPayload({
      type: 0,
      chainId: 1n,
      nonce: 0n,
      gasPrice: 1n,
      gasLimit: 1n,
      to,
      value: 0n,
      data: new Uint8Array(0),
    }),
  );
  assert.ok(Array.isArray(fields) && fields.length === 9);
});

/** `depth` lists, each holding the next, the innermost empty. */
function nested(depth: number): RlpItem {
  let item: RlpItem = [];
  for (let i = 0; i < depth; i++) item = [item];
  return item;
}

test('property: RLP encode → decode round-trips for random nested items', () => {
  const { tree } = fc.letrec<{ tree: RlpItem; node: RlpItem }>((tie) => ({
    tree: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      tie('node'),
      fc.array(tie('tree'), { maxLength: 4 }),
    ),
    node: fc.uint8Array({ maxLength: 80 }),
  }));
  fc.assert(
    fc.property(tree, (item) => {
      const encoded = rlpEncode(item);
      assert.deepEqual(rlpDecode(encoded), item);
      assert.deepEqual(rlpEncode(rlpDecode(encoded)), encoded);
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }), (n) => {
      let hexed = n === 0n ? '' : n.toString(16);
      if (hexed.length % 2) hexed = '0' + hexed;
      assert.equal(rlpDecodeInt(rlpDecode(rlpEncode(hex(hexed))), 'n'), n);
    }),
    { numRuns: 200 },
  );
});
