/**
 * The enclave signer end to end, as real processes over real sockets: `mpc-kms sim aws`, three
 * `mpc-kms parent-proxy` and three `mpc-kms enclave` processes, with the test process as the
 * coordinator. Keys of every scheme are made, signed with, and the signatures checked by
 * verifiers that share no code with the signers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Cluster } from '../coordinator/cluster.js';
import { startSimCluster, type SimCluster } from './cluster-sim.js';
import { verifyEd25519 } from './verifiers.js';

let sim: SimCluster;
let cluster: Cluster;

before(async () => {
  sim = await startSimCluster({ parties: 3 });
  cluster = await sim.connect();
  await cluster.ready();
});

after(async () => {
  cluster?.close();
  await sim?.stop();
});

test('a 2-of-3 Ed25519 key is made by three enclaves and signs', async () => {
  const info = await cluster.createKey({
    keyId: 'ed-1',
    scheme: 'eddsa-ed25519',
    threshold: 2,
    parties: [1, 2, 3],
  });
  assert.equal(info.key.epoch, 0);
  const message = new Uint8Array(randomBytes(40));
  const signature = await cluster.signSchnorr(info, { signers: [1, 3], message });
  assert.ok(verifyEd25519(info.key.publicKey.toBytes(), message, signature));
});
