/**
 * Transaction signing through the REST API, against real enclave processes: EVM transactions
 * checked by ethers (the sender it recovers, every field), Taproot key-path spends checked by
 * `@noble/curves`' BIP340 against the output key and by `@scure/btc-signer`'s own sighash,
 * Solana messages checked by node:crypto; the destination and daily value policy; chain
 * addresses on keys and derived keys; and the ECDSA presignature pool (filled in the
 * background, drawn one at a time, never one twice).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { base58 } from '@scure/base';
import { Transaction as ScureTransaction } from '@scure/btc-signer';
import { Transaction as EthersTransaction, getAddress } from 'ethers';
import {
  p2trScriptPubKey,
  parseBitcoinTransaction,
  serializeBitcoinTransaction,
  solanaAddress,
  taprootOutputKey,
} from '../coordinator/chains/index.js';
import { createLogger } from '../coordinator/logger.js';
import { startCoordinator, type RunningCoordinator } from '../coordinator/main.js';
import { fromHex, toHex } from '../protocol/bytes.js';
import { startSimCluster, type SimCluster } from './cluster-sim.js';
import { verifyEd25519 } from './verifiers.js';

const ADMIN = `admin-${toHex(randomBytes(16))}`;
const POOL = 3;

let sim: SimCluster;
let coordinator: RunningCoordinator;
let signer: string;

before(async () => {
  sim = await startSimCluster({ parties: 3, roundTimeoutMs: 8000 });
  coordinator = await startCoordinator({
    host: '127.0.0.1',
    port: 0,
    dataDir: mkdtempSync(join(tmpdir(), 'mpc-kms-tx-api-')),
    parents: new Map([...sim.parties].map(([id, p]) => [id, p.coordinatorAddress])),
    identity: sim.coordinatorKey,
    enclavePolicy: { root: sim.root.der, expectedPcrs: sim.pcrs, maxDocumentAgeMs: 300_000 },
    adminToken: ADMIN,
    logger: createLogger({ level: 'silent' }),
    requestTimeoutMs: 30_000,
    presignaturePool: POOL,
  });
  await coordinator.cluster.ready();
  signer = (await call('POST', '/v1/tokens', { body: { name: 'tx', role: 'signer' } })).body
    .token as string;
});

after(async () => {
  await coordinator?.close();
  await sim?.stop();
});

async function call(
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: Record<string, any> }> {
  const response = await fetch(`${coordinator.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${options.token ?? ADMIN}`,
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as Record<string, any> };
}

async function createKey(scheme: string): Promise<Record<string, any>> {
  const created = await call('POST', '/v1/keys', { body: { scheme, threshold: 2, parties: 3 } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body;
}

async function poolAvailable(keyId: string): Promise<number[]> {
  const text = await (
    await fetch(`${coordinator.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })
  ).text();
  return [...text.matchAll(/^presignature_pool_available\{([^}]*)\} (\d+)$/gm)]
    .filter((m) => m[1]!.includes(`key_id="${keyId}"`))
    .map((m) => Number(m[2]));
}

async function waitFor(what: string, condition: () => Promise<boolean>, ms = 240_000) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

let ecdsa: Record<string, any>;

test('an ECDSA key shows its EVM address; its pool fills in the background', async () => {
  ecdsa = await createKey('ecdsa-secp256k1');
  const from = ecdsa.addresses.evm as string;
  assert.equal(getAddress(from), from, 'EIP-55');
  await waitFor('a full pool', async () => (await poolAvailable(ecdsa.id as string))[0] === POOL);
  const derived = await call('POST', `/v1/keys/${ecdsa.id}/derive`, {
    token: signer,
    body: { path: 'm/0/7' },
  });
  assert.equal(derived.status, 200);
  assert.notEqual(derived.body.addresses.evm, from);
});

test('EVM transactions: ethers recovers the key as sender and reads back every field', async () => {
  const eip1559 = {
    type: 2,
    chainId: 11155111,
    nonce: 7,
    to: '0x' + 'ab'.repeat(20),
    value: '1000000000000000000',
    gasLimit: 21000,
    maxFeePerGas: '30000000000',
    maxPriorityFeePerGas: '1500000000',
    data: '0xa9059cbb' + '00'.repeat(32),
    accessList: [{ address: '0x' + 'cd'.repeat(20), storageKeys: ['0x' + '01'.repeat(32)] }],
  };
  const signed = await call('POST', `/v1/keys/${ecdsa.id}/transactions/evm`, {
    token: signer,
    body: eip1559,
  });
  assert.equal(signed.status, 200, JSON.stringify(signed.body));
  const tx = EthersTransaction.from(signed.body.rawTransaction as string);
  assert.equal(tx.from, ecdsa.addresses.evm);
  assert.equal(signed.body.from, ecdsa.addresses.evm);
  assert.equal(tx.hash, signed.body.hash);
  assert.equal(tx.type, 2);
  assert.equal(tx.chainId, 11155111n);
  assert.equal(tx.nonce, 7);
  assert.equal(tx.to, getAddress(eip1559.to));
  assert.equal(tx.value, 10n ** 18n);
  assert.equal(tx.gasLimit, 21000n);
  assert.equal(tx.maxFeePerGas, 30_000_000_000n);
  assert.equal(tx.maxPriorityFeePerGas, 1_500_000_000n);
  assert.equal(tx.data, eip1559.data);
  assert.deepEqual(
    tx.accessList?.map((e) => [e.address.toLowerCase(), e.storageKeys]),
    [['0x' + 'cd'.repeat(20), ['0x' + '01'.repeat(32)]]],
  );

  // Legacy (EIP-155), under a derived path: the sender is the derived key's address.
  const legacy = await call('POST', `/v1/keys/${ecdsa.id}/transactions/evm`, {
    token: signer,
    body: {
      type: 0,
      chainId: 1,
      nonce: '0',
      to: '0x' + '12'.repeat(20),
      value: 5,
      gasLimit: 21000,
      gasPrice: '20000000000',
      data: '0x',
      path: 'm/0/7',
    },
  });
  assert.equal(legacy.status, 200, JSON.stringify(legacy.body));
  const derived = await call('POST', `/v1/keys/${ecdsa.id}/derive`, {
    token: signer,
    body: { path: 'm/0/7' },
  });
  const parsed = EthersTransaction.from(legacy.body.rawTransaction as string);
  assert.equal(parsed.type, 0);
  assert.equal(parsed.chainId, 1n);
  assert.equal(parsed.from, derived.body.addresses.evm);
  assert.equal(parsed.gasPrice, 20_000_000_000n);

  // Refused on their fields, before any ceremony.
  const bad = await call('POST', `/v1/keys/${ecdsa.id}/transactions/evm`, {
    token: signer,
    body: { ...eip1559, to: '0x' + 'aB'.repeat(20) },
  });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message as string, /to/);
  const badPath = await call('POST', `/v1/keys/${ecdsa.id}/transactions/evm`, {
    token: signer,
    body: { ...eip1559, path: "m/0'" },
  });
  assert.equal(badPath.status, 400);
});

test('the pool hands out each presignature once and refills', async () => {
  const audit = await call('GET', '/v1/audit?limit=1000');
  assert.equal(audit.status, 200);
  const spent = (audit.body.entries as { entry: Record<string, any> }[])
    .map((e) => e.entry)
    .filter((e) => e.action === 'sign' && e.outcome === 'ok' && e.keyId === ecdsa.id)
    .map((e) => e.presignature as string);
  assert.equal(spent.length, 2);
  assert.equal(new Set(spent).size, spent.length, 'a presignature was used twice');
  await waitFor(
    'the pool to refill',
    async () => (await poolAvailable(ecdsa.id as string))[0] === POOL,
  );
});

test('destinations and the daily value limit are checked against the decoded transaction', async () => {
  const allowed = '0x' + '5a'.repeat(20);
  const put = await call('PUT', `/v1/keys/${ecdsa.id}/policy`, {
    body: {
      allowedSignerSets: [],
      keyRatePerMinute: null,
      tokenRatePerMinute: null,
      destinations: [getAddress(allowed)],
      // What the earlier tests sent (1 ether and 5 wei) counts: 1000 wei of room are left.
      dailyValueLimit: (10n ** 18n + 5n + 1000n).toString(),
    },
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const tx = (to: string, value: number, nonce: number) => ({
    type: 2,
    chainId: 1,
    nonce,
    to,
    value,
    gasLimit: 21000,
    maxFeePerGas: 2,
    maxPriorityFeePerGas: 1,
    data: '0x',
  });
  const path = `/v1/keys/${ecdsa.id}/transactions/evm`;
  const elsewhere = await call('POST', path, {
    token: signer,
    body: tx('0x' + '66'.repeat(20), 1, 1),
  });
  assert.equal(elsewhere.status, 403);
  assert.equal(elsewhere.body.error.code, 'FORBIDDEN');
  assert.match(elsewhere.body.error.message as string, /0x6666/);
  const first = await call('POST', path, { token: signer, body: tx(allowed, 600, 2) });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const second = await call('POST', path, { token: signer, body: tx(allowed, 600, 3) });
  assert.equal(second.status, 403);
  assert.equal(second.body.error.details.rule, 'dailyValueLimit');
  assert.equal(second.body.error.details.spent, (10n ** 18n + 605n).toString());
  // A bare digest could be anything: not while the key has a transaction policy.
  const digest = await call('POST', `/v1/keys/${ecdsa.id}/sign`, {
    token: signer,
    body: { digest: '11'.repeat(32) },
  });
  assert.equal(digest.status, 403);
  assert.match(digest.body.error.message as string, /transaction policy/);
});

test('Taproot: a key-path spend of the key’s output, checked by noble and scure', async () => {
  const key = await createKey('schnorr-secp256k1-bip340');
  const outputKey = taprootOutputKey(fromHex(key.publicKey as string)!);
  assert.match(key.addresses.bitcoinTaproot as string, /^bc1p[02-9ac-hj-np-z]{58}$/);
  const mine = { value: 50_000n, scriptPubKey: p2trScriptPubKey(outputKey) };
  const other = { value: 20_000n, scriptPubKey: p2trScriptPubKey(new Uint8Array(32).fill(9)) };
  const unsigned = serializeBitcoinTransaction({
    version: 2,
    inputs: [0, 1].map((i) => ({
      txid: new Uint8Array(32).fill(0x10 + i),
      vout: i,
      scriptSig: new Uint8Array(),
      sequence: 0xfffffffd,
      witness: [],
    })),
    outputs: [{ value: 65_000n, scriptPubKey: p2trScriptPubKey(new Uint8Array(32).fill(3)) }],
    locktime: 0,
  });
  const prevouts = [mine, other].map((p) => ({
    value: p.value.toString(),
    scriptPubKey: toHex(p.scriptPubKey),
  }));
  const route = `/v1/keys/${key.id}/transactions/bitcoin-taproot`;
  const signed = await call('POST', route, {
    token: signer,
    body: { transaction: toHex(unsigned), inputIndex: 0, prevouts },
  });
  assert.equal(signed.status, 200, JSON.stringify(signed.body));
  assert.equal(signed.body.outputKey, toHex(outputKey));
  assert.equal(signed.body.address, key.addresses.bitcoinTaproot);

  // scure computes the sighash on its own, from the transaction we got back.
  const back = fromHex(signed.body.transaction as string)!;
  const theirs = ScureTransaction.fromRaw(back, { allowUnknownOutputs: true });
  const sighash = theirs.preimageWitnessV1(
    0,
    [mine, other].map((p) => p.scriptPubKey),
    0,
    [mine.value, other.value],
  );
  assert.equal(toHex(sighash), signed.body.sighash);
  const witness = parseBitcoinTransaction(back).inputs[0]!.witness;
  assert.equal(witness.length, 1);
  assert.ok(schnorr.verify(witness[0]!, sighash, outputKey));
  assert.ok(!schnorr.verify(witness[0]!, sighash, fromHex(key.publicKey as string)!));

  // The other input is not this key's output: refused, naming it.
  const notMine = await call('POST', route, {
    token: signer,
    body: { transaction: toHex(unsigned), inputIndex: 1, prevouts },
  });
  assert.equal(notMine.status, 422);
  assert.match(notMine.body.error.message as string, /prevouts\[1\]/);
  // The wrong kind of key for the chain.
  const wrong = await call('POST', `/v1/keys/${ecdsa.id}/transactions/bitcoin-taproot`, {
    token: signer,
    body: { transaction: toHex(unsigned), inputIndex: 0, prevouts },
  });
  assert.equal(wrong.status, 422);
});

/** A legacy Solana message: `payer` sends `lamports` to `to` through the System Program. */
function transferMessage(payer: Uint8Array, to: Uint8Array, lamports: bigint): Uint8Array {
  const data = new Uint8Array(12);
  new DataView(data.buffer).setUint32(0, 2, true);
  new DataView(data.buffer).setBigUint64(4, lamports, true);
  return Uint8Array.from([
    1,
    0,
    1, // one signer (the payer), no read-only signer, one read-only account (the program)
    3,
    ...payer,
    ...to,
    ...new Uint8Array(32),
    ...randomBytes(32), // recent blockhash
    1,
    2,
    2,
    0,
    1,
    data.length,
    ...data,
  ]);
}

test('Solana: the key signs a transfer message; node:crypto verifies it', async () => {
  const key = await createKey('eddsa-ed25519');
  const publicKey = fromHex(key.publicKey as string)!;
  assert.equal(key.addresses.solana, solanaAddress(publicKey));
  const message = transferMessage(publicKey, new Uint8Array(32).fill(4), 1_000_000n);
  const route = `/v1/keys/${key.id}/transactions/solana`;
  const signed = await call('POST', route, {
    token: signer,
    body: { message: Buffer.from(message).toString('base64') },
  });
  assert.equal(signed.status, 200, JSON.stringify(signed.body));
  const signature = base58.decode(signed.body.signature as string);
  assert.ok(verifyEd25519(publicKey, message, signature));
  assert.equal(signed.body.signerIndex, 0);
  assert.equal(signed.body.complete, true);
  const wire = Buffer.from(signed.body.transaction as string, 'base64');
  assert.deepEqual([...wire.subarray(0, 1)], [1]);
  assert.deepEqual(new Uint8Array(wire.subarray(1, 65)), signature);
  assert.deepEqual(new Uint8Array(wire.subarray(65)), message);

  // A message this key does not sign for.
  const stranger = transferMessage(new Uint8Array(32).fill(8), publicKey, 1n);
  const refused = await call('POST', route, {
    token: signer,
    body: { message: Buffer.from(stranger).toString('base64') },
  });
  assert.equal(refused.status, 422);
});
