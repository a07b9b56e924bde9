/**
 * The enclave signer end to end, as real processes over real sockets: `mpc-kms sim aws`, and per
 * party a `mpc-kms parent-proxy` and a `mpc-kms enclave`, with the test process as coordinator.
 * Party 2's parent is replaced by an interposer that can drop, duplicate, reorder, replay and
 * alter frames; party 4's enclave was built from another bundle, so its PCRs are not the
 * cluster's. Every signature is checked by a verifier that shares no code with the signers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { derivePath } from '../protocol/derive.js';
import { groupByName } from '../protocol/group.js';
import { FROST_SCHEMES } from '../protocol/schemes.js';
import { CeremonyError, type Cluster, type KeyInfo } from '../coordinator/cluster.js';
import { startSimCluster, type SimCluster } from './cluster-sim.js';
import { isRecord, startInterposer, type Interposer } from './interposer.js';
import { verifyIndependently } from './verifiers.js';

let sim: SimCluster;
let cluster: Cluster;
let evil: Interposer;
const HONEST = [1, 2, 3];

before(async () => {
  const otherBundle = mkdtempSync(join(tmpdir(), 'mpc-kms-other-bundle-'));
  writeFileSync(join(otherBundle, 'main.js'), 'a different enclave image\n');
  sim = await startSimCluster({
    parties: 4,
    roundTimeoutMs: 3000,
    bundleFor: (id) => (id === 4 ? otherBundle : undefined),
  });
  evil = await startInterposer(sim.parties.get(2)!.dir, sim.parties.get(2)!.coordinatorAddress);
  cluster = await sim.connect(new Map([[2, evil.address]]));
  await cluster.ready(HONEST);
});

after(async () => {
  cluster?.close();
  await evil?.close();
  await sim?.stop();
});

function assertVerifies(info: KeyInfo, message: Uint8Array, signature: Uint8Array, path?: string) {
  const group = groupByName(info.key.group);
  const key = path
    ? derivePath(group, info.key.publicKey, info.key.chainCode, path).publicKey
    : info.key.publicKey;
  if (info.scheme === 'ecdsa-secp256k1') throw new TypeError('not a FROST key');
  assert.ok(verifyIndependently(FROST_SCHEMES[info.scheme], key, message, signature));
}

async function rejectsWith(promise: Promise<unknown>, codes: string[], blamed?: number) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CeremonyError, String(error));
    assert.ok(codes.includes(error.code), `code ${error.code}: ${error.message}`);
    if (blamed !== undefined) assert.ok(error.blame.includes(blamed), `blame ${error.blame}`);
    return true;
  });
}

function alive(): void {
  for (const [id, party] of sim.parties) {
    assert.equal(party.enclave.child.exitCode, null, `enclave ${id} exited`);
    assert.equal(party.proxy.child.exitCode, null, `parent ${id} exited`);
  }
}

let edKey: KeyInfo;

test('Ed25519 and BIP340 keys are made by three enclaves and sign, on the root and a derived path', async () => {
  edKey = await cluster.createKey({
    keyId: 'ed-1',
    scheme: 'eddsa-ed25519',
    threshold: 2,
    parties: HONEST,
  });
  const message = new Uint8Array(randomBytes(40));
  assertVerifies(edKey, message, await schnorr(edKey, { signers: [1, 3], message }));
  const derived = await schnorr(edKey, { signers: [2, 3], message, path: 'm/0/7' });
  assertVerifies(edKey, message, derived, 'm/0/7');

  const taproot = await cluster.createKey({
    keyId: 'bip340-1',
    scheme: 'schnorr-secp256k1-bip340',
    threshold: 2,
    parties: HONEST,
  });
  const digest = new Uint8Array(randomBytes(32));
  assertVerifies(taproot, digest, await schnorr(taproot, { signers: [1, 2], message: digest }));
  alive();
});

test('threshold ECDSA: aux info, presigning and one-round signing across enclaves; refresh keeps the key', async () => {
  const key = await cluster.createKey({
    keyId: 'ecdsa-1',
    scheme: 'ecdsa-secp256k1',
    threshold: 2,
    parties: HONEST,
  });
  const digest = new Uint8Array(randomBytes(32));
  const pre = await cluster.presign(key, [1, 3]);
  const signature = await ecdsa(key, pre, { digest });
  assert.ok(
    secp256k1.verify(signature.compact, digest, key.key.publicKey.toBytes(), { prehash: false }),
  );

  // The same presignature again: the enclaves spent it, and refuse.
  await rejectsWith(cluster.signEcdsa(key, pre, { digest }), ['NOT_FOUND']);

  const refreshed = await cluster.refresh(key);
  assert.equal(refreshed.key.epoch, 1);
  const pre2 = await cluster.presign(refreshed, [2, 3]);
  const again = await ecdsa(refreshed, pre2, { digest, path: 'm/1' });
  const child = derivePath(groupByName('secp256k1'), key.key.publicKey, key.key.chainCode, 'm/1');
  assert.ok(secp256k1.verify(again.compact, digest, child.publicKey.toBytes(), { prehash: false }));
  alive();
});

test("the enclaves enforce the key's own policy: signer sets, threshold, epoch", async () => {
  const key = await cluster.createKey({
    keyId: 'policy-1',
    scheme: 'eddsa-ed25519',
    threshold: 2,
    parties: HONEST,
    allowedSignerSets: [[1, 2]],
  });
  const message = new Uint8Array([1, 2, 3]);
  assertVerifies(key, message, await schnorr(key, { signers: [1, 2], message }));
  await rejectsWith(
    cluster.signSchnorr(key, { signers: [1, 3], message }),
    ['INVALID_PARAMETERS'],
    0,
  );
  // Below the threshold: the coordinator refuses before asking anyone.
  await rejectsWith(cluster.signSchnorr(key, { signers: [1], message }), ['INVALID_PARAMETERS']);
  const stale = { ...key, key: { ...key.key, epoch: 5 } };
  await rejectsWith(cluster.signSchnorr(stale, { signers: [1, 2], message }), [
    'NOT_FOUND',
    'EPOCH_MISMATCH',
  ]);
});

test('an enclave built from another bundle is refused at the handshake and can take no part', async () => {
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(cluster.healthy(4), false);
  assert.match(sim.parties.get(4)!.enclave.stderr() + '', /link-attached/);
  await rejectsWith(
    cluster.createKey({
      keyId: 'with-4',
      scheme: 'eddsa-ed25519',
      threshold: 2,
      parties: [1, 2, 4],
    }),
    ['UNAVAILABLE'],
    4,
  );
});

test('a parent that duplicates every frame changes nothing: the copies are refused as replays', async () => {
  evil.setRule((frame) => [frame, frame]);
  try {
    const message = new Uint8Array(randomBytes(16));
    assertVerifies(edKey, message, await schnorr(edKey, { signers: [1, 2], message }));
  } finally {
    evil.setRule(null);
  }
  assert.ok((cluster.peers.refused['REPLAYED'] ?? 0) > 0, JSON.stringify(cluster.peers.refused));
  await waitFor(() => /"code":"REPLAYED"/.test(sim.parties.get(2)!.enclave.stderr()));
});

test('a parent that flips bits, drops or reorders frames makes the ceremony fail with blame; the next one succeeds', async () => {
  const message = new Uint8Array(randomBytes(16));
  // Bit flips in the enclave's records: the coordinator refuses them as forged.
  evil.setRule((frame, direction) => {
    if (direction !== 'to-coordinator' || !isRecord(frame)) return [frame];
    const bad = frame.slice();
    bad[bad.length - 3]! ^= 0x10;
    return [bad];
  });
  await rejectsWith(
    cluster.signSchnorr(edKey, { signers: [1, 2], message }),
    ['TIMEOUT', 'MISSING_MESSAGE'],
    2,
  );
  assert.ok((cluster.peers.refused['FORGED'] ?? 0) > 0);

  // Everything the coordinator sends party 2 dropped: it never takes part.
  evil.setRule((frame, direction) =>
    direction === 'to-enclave' && isRecord(frame) ? [] : [frame],
  );
  await rejectsWith(
    cluster.signSchnorr(edKey, { signers: [1, 2], message }),
    ['TIMEOUT', 'MISSING_MESSAGE'],
    2,
  );

  // Two frames from party 1 to party 2 swapped: the later is taken, the earlier refused.
  let held: Uint8Array | null = null;
  let swapped = false;
  evil.setRule((frame, direction) => {
    if (swapped || direction !== 'to-enclave' || !isRecord(frame) || frame[1] !== 1) {
      return [frame];
    }
    if (held === null) {
      held = frame;
      return [];
    }
    swapped = true;
    return [frame, held];
  });
  const outcome = await cluster
    .createKey({ keyId: 'reordered', scheme: 'eddsa-ed25519', threshold: 2, parties: HONEST })
    .then(
      () => 'created',
      (error: unknown) => (error instanceof CeremonyError ? error.code : String(error)),
    );
  assert.ok(['created', 'TIMEOUT', 'MISSING_MESSAGE'].includes(outcome), outcome);
  await waitFor(() => /"code":"REORDERED"/.test(sim.parties.get(2)!.enclave.stderr()));

  // Healed: the same channels carry the next ceremony.
  evil.setRule(null);
  assertVerifies(edKey, message, await schnorr(edKey, { signers: [1, 2], message }));
  alive();
});

test('a replayed request is refused by the channel: no second signature share', async () => {
  const message = new Uint8Array(randomBytes(16));
  const before = evil.seen['to-enclave'].length;
  await schnorr(edKey, { signers: [1, 2], message });
  const request = evil.seen['to-enclave'].slice(before).find(isRecord)!;
  const countBefore = count(sim.parties.get(2)!.enclave.stderr(), /"code":"REPLAYED"/g);
  await evil.inject(request, 'to-enclave');
  await waitFor(
    () => count(sim.parties.get(2)!.enclave.stderr(), /"code":"REPLAYED"/g) > countBefore,
  );
  // A frame claiming another party's routing, from party 2's parent, is not relayed.
  const spoofed = request.slice();
  spoofed[1] = 3; // from = 3
  spoofed[3] = 1; // to = 1
  const spoofedBefore = cluster.relayStats.spoofed;
  await evil.inject(spoofed, 'to-coordinator');
  await waitFor(() => cluster.relayStats.spoofed > spoofedBefore);
  alive();
});

test('an enclave killed mid-ceremony: the others time out and blame it; restarted, it unseals and signs', async () => {
  const key = await cluster.createKey({
    keyId: 'ecdsa-kill',
    scheme: 'ecdsa-secp256k1',
    threshold: 2,
    parties: HONEST,
  });
  const presigning = cluster.presign(key, [1, 3]);
  setTimeout(() => void sim.parties.get(3)!.enclave.kill('SIGKILL'), 150);
  await rejectsWith(presigning, ['TIMEOUT', 'MISSING_MESSAGE', 'UNAVAILABLE'], 3);
  assert.equal(sim.parties.get(1)!.enclave.child.exitCode, null);

  await sim.restartEnclave(3);
  assert.ok(await cluster.reconnect(3));
  await cluster.ready([3]);
  // Party 3 unseals its share from Secrets Manager through KMS, and presigns with party 1 over
  // a renewed peer channel.
  const pre = await cluster.presign(key, [1, 3]);
  const digest = new Uint8Array(randomBytes(32));
  const signature = await ecdsa(key, pre, { digest });
  assert.ok(
    secp256k1.verify(signature.compact, digest, key.key.publicKey.toBytes(), { prehash: false }),
  );
  alive();
});

/** A FROST signature; every signer's acknowledgement must verify against its attested key. */
async function schnorr(info: KeyInfo, request: Parameters<Cluster['signSchnorr']>[1]) {
  const signed = await cluster.signSchnorr(info, request);
  assert.deepEqual([...signed.acks.keys()].sort(), [...request.signers].sort());
  return signed.output;
}

async function ecdsa(
  info: KeyInfo,
  pre: Parameters<Cluster['signEcdsa']>[1],
  request: Parameters<Cluster['signEcdsa']>[2],
) {
  const signed = await cluster.signEcdsa(info, pre, request);
  assert.equal(signed.acks.size, pre.signers.length);
  return signed.output;
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

function count(text: string, pattern: RegExp): number {
  return text.match(pattern)?.length ?? 0;
}
