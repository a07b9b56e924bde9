/**
 * coordinator/chains/bitcoin-tx.ts and taproot.ts against BIP341's wallet test vectors
 * (test/vectors/bip341-key-path.json): the sighash of every input byte for byte, the tweak, the
 * tweaked key's signature and the witness, cross-checked with @scure/btc-signer's independent
 * sighash; then the parser's and the request schema's refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { Transaction as ScureTransaction } from '@scure/btc-signer';
import { taprootOutputKey, taprootTweak } from '../coordinator/chains/addresses.js';
import {
  bitcoinTxid,
  parseBitcoinTransaction,
  serializeBitcoinTransaction,
} from '../coordinator/chains/bitcoin-tx.js';
import {
  p2trScriptPubKey,
  taprootKeyPathSighash,
  taprootSpendSummary,
  withKeyPathWitness,
} from '../coordinator/chains/taproot.js';
import { taprootSpendRequest } from '../coordinator/chains/taproot-request.js';
import { toHex } from '../protocol/bytes.js';
import { refused } from './chain-refusals.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const N = secp256k1.Point.Fn.ORDER;
const bigOf = (b: Uint8Array) => BigInt('0x' + toHex(b));
const bytes32 = (n: bigint) => hex(n.toString(16).padStart(64, '0'));

interface Vectors {
  scriptPubKey: {
    given: { internalPubkey: string };
    intermediary: { tweak: string; tweakedPubkey: string };
    expected: { scriptPubKey: string; bip350Address: string };
  }[];
  keyPathSpending: {
    given: {
      rawUnsignedTx: string;
      utxosSpent: { scriptPubKey: string; amountSats: number }[];
    };
    inputSpending: {
      given: {
        txinIndex: number;
        internalPrivkey: string;
        merkleRoot: string | null;
        hashType: number;
      };
      intermediary: {
        internalPubkey: string;
        tweak: string;
        tweakedPrivkey: string;
        sigHash: string;
      };
      expected: { witness: string[] };
    }[];
    auxiliary: { fullySignedTx: string };
  }[];
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const vectors = JSON.parse(
  readFileSync(join(root, 'test', 'vectors', 'bip341-key-path.json'), 'utf8'),
) as Vectors;
const spending = vectors.keyPathSpending[0]!;
const unsigned = hex(spending.given.rawUnsignedTx);
const prevouts = spending.given.utxosSpent.map((u) => ({
  value: BigInt(u.amountSats),
  scriptPubKey: hex(u.scriptPubKey),
}));

test('BIP341 vectors: sighash of every input byte for byte', () => {
  const tx = parseBitcoinTransaction(unsigned);
  assert.equal(tx.inputs.length, 9);
  assert.equal(toHex(serializeBitcoinTransaction(tx)), spending.given.rawUnsignedTx);
  for (const input of spending.inputSpending) {
    const { txinIndex, hashType } = input.given;
    const sighash = taprootKeyPathSighash(tx, txinIndex, prevouts, hashType);
    assert.equal(toHex(sighash), input.intermediary.sigHash, `input ${txinIndex}`);
  }
});

test('@scure/btc-signer computes the same sighash for every input and hash type', () => {
  // scure refuses to load the vector's second output (a non-standard script that is not valid
  // script syntax), so the cross-check runs on the same transaction with that output made P2TR.
  const tx = parseBitcoinTransaction(unsigned);
  tx.outputs[1] = { ...tx.outputs[1]!, scriptPubKey: p2trScriptPubKey(new Uint8Array(32).fill(7)) };
  const scure = ScureTransaction.fromRaw(serializeBitcoinTransaction(tx), {
    allowUnknownOutputs: true,
    allowUnknownInputs: true,
  });
  for (const input of spending.inputSpending) {
    for (const hashType of [0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83]) {
      const i = input.given.txinIndex;
      if ((hashType & 3) === 3 && i >= tx.outputs.length) continue;
      const theirs = scure.preimageWitnessV1(
        i,
        prevouts.map((p) => p.scriptPubKey),
        hashType,
        prevouts.map((p) => p.value),
      );
      assert.deepEqual(
        taprootKeyPathSighash(tx, i, prevouts, hashType),
        theirs,
        `${i}/${hashType}`,
      );
    }
  }
});

test('BIP341 vectors: tweak, tweaked key, signature and witness; the signed transaction', () => {
  let tx = parseBitcoinTransaction(unsigned);
  for (const input of spending.inputSpending) {
    const { txinIndex, hashType, internalPrivkey, merkleRoot } = input.given;
    const internalPub = schnorr.getPublicKey(hex(internalPrivkey));
    assert.equal(toHex(internalPub), input.intermediary.internalPubkey);
    // taprootTweak is key-path only (no script tree); vectors with a merkle root commit to one,
    // so their tweak is hash(P ‖ root), computed here from the BIP's definition.
    const tweak =
      merkleRoot === null
        ? taprootTweak(internalPub)
        : bigOf(schnorr.utils.taggedHash('TapTweak', internalPub, hex(merkleRoot)));
    assert.equal(toHex(bytes32(tweak)), input.intermediary.tweak);
    // BIP341 taproot_tweak_seckey: negate the secret when its point has odd y, then add t.
    let secret = bigOf(hex(internalPrivkey));
    if (secp256k1.getPublicKey(hex(internalPrivkey), true)[0] === 3) secret = N - secret;
    const tweaked = bytes32((secret + tweak) % N);
    assert.equal(toHex(tweaked), input.intermediary.tweakedPrivkey);

    const sighash = taprootKeyPathSighash(tx, txinIndex, prevouts, hashType);
    // The vectors sign with all-zero auxiliary randomness.
    const signature = schnorr.sign(sighash, tweaked, new Uint8Array(32));
    const outputKey = schnorr.getPublicKey(tweaked);
    assert.ok(schnorr.verify(signature, sighash, outputKey));
    assert.deepEqual(prevouts[txinIndex]!.scriptPubKey, p2trScriptPubKey(outputKey));
    if (merkleRoot === null) assert.deepEqual(taprootOutputKey(internalPub), outputKey);

    tx = withKeyPathWitness(tx, txinIndex, signature, hashType);
    assert.deepEqual(tx.inputs[txinIndex]!.witness.map(toHex), input.expected.witness);
  }
  // Witnesses do not change the transaction id (BIP141).
  assert.deepEqual(bitcoinTxid(tx), bitcoinTxid(parseBitcoinTransaction(unsigned)));
  // Inputs 2 and 5 are not Taproot; the vectors sign them elsewhere. Take their witness and
  // script from the fully signed transaction, and ours must then be it byte for byte.
  const full = parseBitcoinTransaction(hex(spending.auxiliary.fullySignedTx));
  for (const i of [2, 5]) {
    tx.inputs[i] = {
      ...tx.inputs[i]!,
      scriptSig: full.inputs[i]!.scriptSig,
      witness: full.inputs[i]!.witness,
    };
  }
  assert.equal(toHex(serializeBitcoinTransaction(tx)), spending.auxiliary.fullySignedTx);
});

test('BIP341 scriptPubKey vector without script tree: tweak, output key, 5120 ‖ key', () => {
  const v = vectors.scriptPubKey[0]!;
  const internal = hex(v.given.internalPubkey);
  assert.equal(toHex(bytes32(taprootTweak(internal))), v.intermediary.tweak);
  assert.equal(toHex(taprootOutputKey(internal)), v.intermediary.tweakedPubkey);
  assert.equal(toHex(p2trScriptPubKey(taprootOutputKey(internal))), v.expected.scriptPubKey);
});

test('summary: destinations by address, value by hash type', () => {
  const tx = parseBitcoinTransaction(unsigned);
  // Output 0 is P2PKH and output 1 a non-standard script: neither has an address, so hex.
  const all = taprootSpendSummary(tx, 0, prevouts, 0x00, 'bc');
  assert.equal(all.outputsCommitted, 'all');
  assert.deepEqual(
    all.outputs.map((o) => [o.destination, o.value]),
    [
      ['76a91406afd46bcdfd22ef94ac122aa11f241244a37ecc88ac', 1_000_000_000n],
      ['ac9a87f5594be208f8532db38cff670c450ed2fea8fcdefcc9a663f78bab962b', 3_410_000_000n],
    ],
  );
  assert.equal(all.value, 4_410_000_000n);
  // NONE commits to no output: the value is the signed input's amount.
  const none = taprootSpendSummary(tx, 0, prevouts, 0x02, 'tb');
  assert.deepEqual(none.outputs, []);
  assert.equal(none.value, 420_000_000n);
  // SINGLE: output 1 for input 1; value at least the input's.
  const single = taprootSpendSummary(tx, 1, prevouts, 0x83, 'tb');
  assert.equal(single.outputsCommitted, 'single');
  assert.equal(single.outputs.length, 1);
  assert.equal(single.outputs[0]!.scriptPubKey, single.outputs[0]!.destination);
  assert.equal(single.value, 3_410_000_000n);
});

test('parser refusals: truncated, trailing bytes, non-canonical CompactSize, superfluous witness', () => {
  refused(
    () => parseBitcoinTransaction(unsigned.subarray(0, unsigned.length - 1)),
    'MALFORMED_TRANSACTION',
    'locktime',
  );
  refused(() => parseBitcoinTransaction(unsigned.subarray(0, 50)), 'MALFORMED_TRANSACTION');
  refused(() => parseBitcoinTransaction(new Uint8Array(0)), 'MALFORMED_TRANSACTION', 'version');
  const trailing = new Uint8Array([...unsigned, 0]);
  refused(() => parseBitcoinTransaction(trailing), 'MALFORMED_TRANSACTION', 'transaction');
  // The input count 9 written as 0xfd 0x09 0x00: same number, longer form.
  const padded = new Uint8Array([
    ...unsigned.subarray(0, 4),
    0xfd,
    0x09,
    0x00,
    ...unsigned.subarray(5),
  ]);
  refused(() => parseBitcoinTransaction(padded), 'NON_CANONICAL_ENCODING', 'inputs');
  // A count far beyond the bytes present.
  const huge = new Uint8Array([
    ...unsigned.subarray(0, 4),
    0xfe,
    0x00,
    0x00,
    0x01,
    0x00,
    ...unsigned.subarray(5),
  ]);
  refused(() => parseBitcoinTransaction(huge), 'MALFORMED_TRANSACTION', 'inputs');
  // Marker and flag with every witness empty: Bitcoin Core's "superfluous witness record".
  const tx = parseBitcoinTransaction(unsigned);
  const body = serializeBitcoinTransaction(tx);
  const superfluous = new Uint8Array([
    ...body.subarray(0, 4),
    0x00,
    0x01,
    ...body.subarray(4, body.length - 4),
    ...new Uint8Array(9),
    ...body.subarray(body.length - 4),
  ]);
  refused(() => parseBitcoinTransaction(superfluous), 'NON_CANONICAL_ENCODING', 'flag');
  // Marker with a flag other than 1.
  refused(
    () =>
      parseBitcoinTransaction(
        new Uint8Array([...body.subarray(0, 4), 0x00, 0x02, ...body.subarray(4)]),
      ),
    'MALFORMED_TRANSACTION',
    'flag',
  );
  refused(() => parseBitcoinTransaction(new Uint8Array(400_001)), 'TOO_LARGE');
  // An output above 21 million bitcoin.
  const rich = {
    ...tx,
    outputs: [{ value: 21_000_000n * 100_000_000n + 1n, scriptPubKey: new Uint8Array(0) }],
  };
  refused(
    () => parseBitcoinTransaction(serializeBitcoinTransaction(rich)),
    'MALFORMED_TRANSACTION',
    'outputs[0].value',
  );
  // And a signed round trip keeps the witnesses.
  const signed = hex(spending.auxiliary.fullySignedTx);
  assert.deepEqual(serializeBitcoinTransaction(parseBitcoinTransaction(signed)), signed);
});

test('signing refusals: prevouts count, input index, SINGLE without output, hash type, not P2TR', () => {
  const tx = parseBitcoinTransaction(unsigned);
  refused(() => taprootKeyPathSighash(tx, 0, prevouts.slice(1), 0), 'INVALID_ARGUMENT', 'prevouts');
  refused(() => taprootKeyPathSighash(tx, 9, prevouts, 0), 'INDEX_OUT_OF_RANGE', 'inputIndex');
  refused(() => taprootKeyPathSighash(tx, -1, prevouts, 0), 'INDEX_OUT_OF_RANGE', 'inputIndex');
  refused(() => taprootKeyPathSighash(tx, 3, prevouts, 0x03), 'INDEX_OUT_OF_RANGE', 'hashType');
  refused(() => taprootKeyPathSighash(tx, 3, prevouts, 0x83), 'INDEX_OUT_OF_RANGE', 'hashType');
  refused(() => taprootKeyPathSighash(tx, 0, prevouts, 0x80), 'UNSUPPORTED', 'hashType');
  refused(() => taprootKeyPathSighash(tx, 0, prevouts, 0x04), 'UNSUPPORTED', 'hashType');
  refused(
    () => taprootKeyPathSighash(tx, 2, prevouts, 0),
    'INVALID_ARGUMENT',
    'prevouts[2].scriptPubKey',
  );
  refused(() => withKeyPathWitness(tx, 0, new Uint8Array(65), 0), 'INVALID_ARGUMENT', 'signature');
  refused(
    () => withKeyPathWitness(tx, 9, new Uint8Array(64), 0),
    'INDEX_OUT_OF_RANGE',
    'inputIndex',
  );
  // Hash type 0 adds no byte; others append it.
  assert.equal(withKeyPathWitness(tx, 0, new Uint8Array(64), 0).inputs[0]!.witness[0]!.length, 64);
  assert.equal(
    withKeyPathWitness(tx, 0, new Uint8Array(64), 0x81).inputs[0]!.witness[0]!.at(-1),
    0x81,
  );
});

test('request schema: the vector as a request, and its refusals on the right field', () => {
  const body = {
    transaction: spending.given.rawUnsignedTx,
    inputIndex: 0,
    prevouts: spending.given.utxosSpent.map((u, i) => ({
      value: i % 2 === 0 ? u.amountSats : String(u.amountSats),
      scriptPubKey: u.scriptPubKey,
    })),
    sighashType: 3,
    path: 'm/0/1',
  };
  const parsed = taprootSpendRequest.parse(body);
  assert.equal(parsed.hashType, 3);
  assert.equal(parsed.path, 'm/0/1');
  assert.deepEqual(parsed.prevouts, prevouts);
  assert.equal(
    toHex(taprootKeyPathSighash(parsed.tx, parsed.inputIndex, parsed.prevouts, parsed.hashType)),
    spending.inputSpending[0]!.intermediary.sigHash,
  );
  const { sighashType: _default, ...withoutType } = body;
  assert.equal(taprootSpendRequest.parse(withoutType).hashType, 0);

  const blamed = (bad: unknown, field: string, pattern?: RegExp) => {
    const result = taprootSpendRequest.safeParse(bad);
    assert.equal(result.success, false);
    const issues = result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    assert.ok(
      issues.some((i) => i.startsWith(field + ':') && (pattern === undefined || pattern.test(i))),
      `${field} not blamed: ${issues.join('; ')}`,
    );
  };
  blamed({ ...body, prevouts: body.prevouts.slice(1) }, 'prevouts', /one output per input/);
  blamed({ ...body, inputIndex: 9 }, 'inputIndex');
  blamed({ ...body, inputIndex: 3, sighashType: 3 }, 'sighashType', /SINGLE/);
  blamed({ ...withoutType, inputIndex: 2 }, 'prevouts.2.scriptPubKey', /P2TR/);
  blamed({ ...body, sighashType: 4 }, 'sighashType');
  blamed({ ...body, transaction: spending.given.rawUnsignedTx + '00' }, 'transaction', /trailing/);
  blamed(
    { ...body, transaction: spending.given.rawUnsignedTx.slice(0, -2) },
    'transaction',
    /truncated/,
  );
  blamed({ ...body, transaction: 'abc' }, 'transaction');
  blamed({ ...body, extra: true }, '', /unknown field "extra"/);
  blamed(
    {
      ...body,
      prevouts: [{ ...body.prevouts[0], value: '2100000000000001' }, ...body.prevouts.slice(1)],
    },
    'prevouts.0.value',
  );
  blamed(
    { ...body, prevouts: [{ ...body.prevouts[0], value: 1.5 }, ...body.prevouts.slice(1)] },
    'prevouts.0.value',
  );
  blamed({ ...body, inputIndex: -1 }, 'inputIndex');
});
