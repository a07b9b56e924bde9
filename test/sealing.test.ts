/**
 * Sealing end to end: the enclave side (this process, with a simulated NSM) seals and unseals
 * shares through the real `@aws-sdk/client-kms` and `@aws-sdk/client-secrets-manager` against
 * `mpc-kms sim aws` running in a child process. Each party has its own KMS key whose policy
 * admits Decrypt and GenerateDataKey only for that party's role and only for a recipient whose
 * attestation document shows the expected enclave image.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateKeyCommand,
  DecryptCommand,
  GenerateDataKeyCommand,
  PutKeyPolicyCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SimulatedNsm, measureFiles } from '../attestation/index.js';
import { toHex } from '../protocol/bytes.js';
import { runDkg, runRefresh, runSign } from '../protocol/ceremonies.js';
import { FROST_SCHEMES } from '../protocol/schemes.js';
import { sealAuxInfo } from '../protocol/ecdsa/aux-info.js';
import type { PartyId } from '../protocol/errors.js';
import { ed25519Group, secp256k1Group } from '../protocol/group.js';
import type { KeyShare } from '../protocol/keyshare.js';
import { PaillierSecretKey, paillierPublicKey } from '../protocol/paillier/paillier.js';
import {
  SealError,
  SealedShareStore,
  ShareSealer,
  decideEpoch,
  type ShareRecord,
  type StoredShares,
} from '../enclave/index.js';
import { simCredentials, startAwsSim, type RunningSim } from './aws-sim.js';
import { primePair } from './ecdsa-fixtures.js';
import { seededRng } from './helpers.js';
import { verifyEd25519 } from './verifiers.js';

const PARTIES: PartyId[] = [1, 2, 3];
const creds = simCredentials(PARTIES.length);
const workDir = mkdtempSync(join(tmpdir(), 'mpc-kms-sealing-'));

// The enclave image that was built, and one with a changed application file.
const image = measureFiles([{ path: 'enclave/main.js', content: Buffer.from('signer v1') }]);
const changedImage = measureFiles([{ path: 'enclave/main.js', content: Buffer.from('signer v2') }]);
const SIGNING_CERT_PCR8 = new Uint8Array(48).fill(0x8e);
const goodNsm = SimulatedNsm.create({ pcrs: image });
const changedNsm = SimulatedNsm.create({ pcrs: changedImage });
const signedNsm = SimulatedNsm.create({
  pcrs: new Map([
    [0, image.pcr0],
    [1, image.pcr1],
    [2, image.pcr2],
    [8, SIGNING_CERT_PCR8],
  ]),
});

let sim: RunningSim;
const kmsKeys = new Map<PartyId, string>();

function rootFile(nsm: SimulatedNsm, name: string): string {
  const path = join(workDir, `${name}.pem`);
  writeFileSync(path, nsm.rootPem);
  return path;
}
const roots = [
  rootFile(goodNsm, 'good'),
  rootFile(changedNsm, 'changed'),
  rootFile(signedNsm, 'signed'),
];

/** The key policy a platform team deploys: the party's role, only from the measured image. */
function enclavePolicy(party: PartyId, extra: Record<string, string> = {}): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'KeyAdministration',
        Effect: 'Allow',
        Principal: { AWS: creds.admin.principal },
        Action: ['kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:PutKeyPolicy'],
        Resource: '*',
      },
      {
        Sid: 'EnclaveOnly',
        Effect: 'Allow',
        Principal: { AWS: creds.party(party).principal },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: '*',
        Condition: {
          StringEqualsIgnoreCase: {
            'kms:RecipientAttestation:ImageSha384': toHex(image.pcr0),
            ...extra,
          },
        },
      },
    ],
  });
}

before(async () => {
  sim = await startAwsSim({ credentials: creds.all, nsmRoots: roots, dataDir: workDir });
  const admin = sim.kms(creds.admin);
  for (const party of PARTIES) {
    const created = await admin.send(
      new CreateKeyCommand({ Description: `party ${party}`, Policy: enclavePolicy(party) }),
    );
    kmsKeys.set(party, created.KeyMetadata!.Arn!);
  }
});

after(async () => {
  await sim?.stop();
});

/** What one party's enclave holds: its sealer and store, with its own clients. */
function enclave(
  party: PartyId,
  nsm: SimulatedNsm = goodNsm,
  options: { prefix?: string; secrets?: SecretsManagerClient; kms?: KMSClient } = {},
) {
  const sealer = new ShareSealer({
    kms: options.kms ?? sim.kms(creds.party(party)),
    kmsKeyId: kmsKeys.get(party)!,
    attester: nsm,
  });
  const store = new SealedShareStore({
    client: options.secrets ?? sim.secrets(creds.party(party)),
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
  });
  return { sealer, store };
}

function record(keyId: string, share: KeyShare): ShareRecord {
  return { keyId, scheme: 'eddsa-ed25519', allowedSignerSets: [], share, aux: null };
}

/** Seals every party's share, stages it, and commits once all are staged: a key's creation. */
async function sealAll(keyId: string, shares: readonly KeyShare[], prefix?: string) {
  const blobs = new Map<PartyId, Uint8Array>();
  for (const share of shares) {
    const { sealer, store } = enclave(share.self, goodNsm, prefix ? { prefix } : {});
    const blob = await sealer.seal(record(keyId, share));
    await store.stage(blob);
    blobs.set(share.self, blob);
  }
  for (const share of shares) {
    const { store } = enclave(share.self, goodNsm, prefix ? { prefix } : {});
    await store.commit({ keyId, partyId: share.self, epoch: share.epoch });
  }
  return blobs;
}

function sameShare(a: KeyShare, b: KeyShare): boolean {
  return (
    a.self === b.self &&
    a.epoch === b.epoch &&
    toHex(a.keySessionId) === toHex(b.keySessionId) &&
    toHex(a.chainCode) === toHex(b.chainCode) &&
    a.publicKey.equals(b.publicKey) &&
    a.secretShare.reveal() === b.secretShare.reveal()
  );
}

test('shares sealed through KMS and stored in Secrets Manager unseal after a restart and sign', async () => {
  const shares = runDkg(ed25519Group, PARTIES, 2, { rng: seededRng('sealing/ed') });
  await sealAll('key-ed', shares);

  // A restart: new clients, nothing in memory but what storage and KMS give back.
  const unsealed: KeyShare[] = [];
  for (const party of PARTIES) {
    const { sealer, store } = enclave(party);
    const stored = await store.load('key-ed', party);
    assert.equal(stored.current?.epoch, 0);
    assert.equal(stored.pending, null);
    const back = await sealer.unseal(stored.current!.blob, {
      keyId: 'key-ed',
      partyId: party,
      epoch: 0,
    });
    assert.ok(sameShare(back.share, shares[party - 1]!));
    unsealed.push(back.share);
  }
  const message = new TextEncoder().encode('sealed and back');
  const signature = runSign(
    unsealed,
    { suite: FROST_SCHEMES['eddsa-ed25519'], signers: [1, 3], message },
    { rng: seededRng('sealing/ed/sign') },
  );
  assert.ok(verifyEd25519(unsealed[0]!.publicKey.toBytes(), message, signature));
});

test('an ECDSA record keeps its Paillier secret through KMS', async () => {
  const share = runDkg(secp256k1Group, PARTIES, 2, { rng: seededRng('sealing/ecdsa') })[0]!;
  const parties = new Map(
    PARTIES.map((id) => {
      const { p, q } = primePair(id - 1);
      return [id, { paillier: paillierPublicKey(p * q), rp: { N: p * q, s: 4n, t: 9n } }];
    }),
  );
  const aux = sealAuxInfo({
    keySessionId: share.keySessionId,
    epoch: 0,
    self: 1,
    paillierSecret: new PaillierSecretKey(primePair(0).p, primePair(0).q),
    parties,
  });
  const { sealer } = enclave(1);
  const blob = await sealer.seal({
    keyId: 'key-ecdsa',
    scheme: 'ecdsa-secp256k1',
    allowedSignerSets: [
      [1, 2],
      [2, 3],
    ],
    share,
    aux,
  });
  const back = await sealer.unseal(blob, { keyId: 'key-ecdsa', partyId: 1, epoch: 0 });
  assert.ok(sameShare(back.share, share));
  assert.equal(back.aux!.paillierSecret.p, primePair(0).p);
  assert.equal(back.aux!.paillierSecret.q, primePair(0).q);
});

test('an enclave built from a changed bundle is refused by the key policy', async () => {
  assert.notEqual(toHex(image.pcr0), toHex(changedImage.pcr0));
  const share = runDkg(ed25519Group, PARTIES, 2, { rng: seededRng('sealing/changed') })[1]!;
  const blob = await enclave(2).sealer.seal(record('key-changed', share));

  const intruder = enclave(2, changedNsm).sealer;
  await assert.rejects(
    intruder.unseal(blob, { keyId: 'key-changed', partyId: 2, epoch: 0 }),
    (error: unknown) =>
      error instanceof SealError &&
      error.code === 'KMS_REFUSED' &&
      /AccessDeniedException/.test(error.message),
  );
  await assert.rejects(intruder.seal(record('key-changed', share)), { code: 'KMS_REFUSED' });
});

test('plain Decrypt without a Recipient is refused, even for the party role', async () => {
  const share = runDkg(ed25519Group, PARTIES, 2, { rng: seededRng('sealing/plain') })[0]!;
  const { sealer } = enclave(1);
  const blob = await sealer.seal(record('key-plain', share));
  // The KMS ciphertext sits after the header; reuse the blob decoder to find it.
  const { decodeSealedBlob, encryptionContext } = await import('../enclave/index.js');
  const { kmsCiphertext, header } = decodeSealedBlob(blob);
  const party = sim.kms(creds.party(1));
  await assert.rejects(
    party.send(
      new DecryptCommand({
        CiphertextBlob: kmsCiphertext,
        EncryptionContext: encryptionContext(header),
      }),
    ),
    { name: 'AccessDeniedException' },
  );
  await assert.rejects(
    party.send(new GenerateDataKeyCommand({ KeyId: kmsKeys.get(1)!, KeySpec: 'AES_256' })),
    { name: 'AccessDeniedException' },
  );
  // Another party's role cannot use party 1's key, attested or not.
  const other = new ShareSealer({
    kms: sim.kms(creds.party(2)),
    kmsKeyId: kmsKeys.get(1)!,
    attester: goodNsm,
  });
  await assert.rejects(other.unseal(blob, { keyId: 'key-plain', partyId: 1, epoch: 0 }), {
    code: 'KMS_REFUSED',
  });
});

test('a policy that pins PCR8 refuses an unsigned image and admits the signed one', async () => {
  const admin = sim.kms(creds.admin);
  const share = runDkg(ed25519Group, PARTIES, 2, { rng: seededRng('sealing/pcr8') })[2]!;
  await admin.send(
    new PutKeyPolicyCommand({
      KeyId: kmsKeys.get(3)!,
      PolicyName: 'default',
      Policy: enclavePolicy(3, { 'kms:RecipientAttestation:PCR8': toHex(SIGNING_CERT_PCR8) }),
    }),
  );
  try {
    await assert.rejects(
      enclave(3).sealer.seal(record('key-pcr8', share)),
      (error: unknown) => error instanceof SealError && /AccessDeniedException/.test(error.message),
    );
    const signed = enclave(3, signedNsm).sealer;
    const blob = await signed.seal(record('key-pcr8', share));
    const back = await signed.unseal(blob, { keyId: 'key-pcr8', partyId: 3, epoch: 0 });
    assert.ok(sameShare(back.share, share));
  } finally {
    await admin.send(
      new PutKeyPolicyCommand({
        KeyId: kmsKeys.get(3)!,
        PolicyName: 'default',
        Policy: enclavePolicy(3),
      }),
    );
  }
});

test('a blob for another key, party or epoch, or a tampered one, is refused and nothing is overwritten', async () => {
  const shares = runDkg(ed25519Group, PARTIES, 2, { rng: seededRng('sealing/tamper') });
  const blobs = await sealAll('key-tamper', shares);
  const { sealer, store } = enclave(1);
  const blob = blobs.get(1)!;
  const storedBefore = await store.load('key-tamper', 1);

  for (const expected of [
    { keyId: 'key-other', partyId: 1, epoch: 0 },
    { keyId: 'key-tamper', partyId: 2, epoch: 0 },
    { keyId: 'key-tamper', partyId: 1, epoch: 1 },
  ]) {
    await assert.rejects(sealer.unseal(blob, expected), { code: 'BLOB_MISMATCH' });
  }
  const binding = { keyId: 'key-tamper', partyId: 1, epoch: 0 };
  const flipped = Uint8Array.from(blob);
  flipped[flipped.length - 20]! ^= 0x01; // inside the AEAD ciphertext
  await assert.rejects(sealer.unseal(flipped, binding), { code: 'BLOB_TAMPERED' });
  const tag = Uint8Array.from(blob);
  tag[tag.length - 1]! ^= 0x80; // the GCM tag
  await assert.rejects(sealer.unseal(tag, binding), { code: 'BLOB_TAMPERED' });
  // The header's public key is authenticated too: edit it and the AEAD refuses.
  const headerEdit = Uint8Array.from(blob);
  const keyAt = 4 + 1 + 4 + 'key-tamper'.length + 2 + 4 + 4;
  headerEdit[keyAt]! ^= 0x01;
  await assert.rejects(sealer.unseal(headerEdit, binding), { code: 'BLOB_TAMPERED' });

  // Staging an epoch at or below the committed one is refused; the committed blob stays.
  await assert.rejects(store.stage(blobs.get(1)!), { code: 'STORE_INCONSISTENT' });
  const storedAfter = await store.load('key-tamper', 1);
  assert.deepEqual(storedAfter.current, storedBefore.current);
  assert.equal(toHex(storedAfter.current!.blob), toHex(blob));

  // A parent that moves party 2's blob into party 1's secret is caught when the store reads it.
  const parent = sim.secrets(creds.party(1));
  await parent.send(
    new PutSecretValueCommand({
      SecretId: store.secretName('key-tamper', 1),
      SecretBinary: blobs.get(2)!,
      ClientRequestToken: 'swap-0000000000000000000000000000000000',
      VersionStages: ['AWSCURRENT'],
    }),
  );
  await assert.rejects(store.load('key-tamper', 1), { code: 'BLOB_MISMATCH' });
});

// ---------------------------------------------------------------------------------------------
// Crashes

class Crash extends Error {}

/** The store wraps transport failures in SealErrors; a crash is one whatever its wrapping. */
function isCrash(error: unknown): boolean {
  return error instanceof Crash || (error instanceof SealError && error.cause instanceof Crash);
}

/**
 * A Secrets Manager client for `party` that lets `budget.left` requests through, then "crashes"
 * right after the next one reached the server: the request took effect, the process died before
 * it could act on the answer. Counting is shared across parties, as a coordinator-driven run is
 * one sequence of requests.
 */
function crashingSecrets(party: PartyId, budget: { left: number; puts: number }) {
  const client = sim.secrets(creds.party(party));
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (budget.left <= 0) throw new Crash('crashed before the request');
      const out = await next(args);
      budget.left -= 1;
      if (context.commandName === 'PutSecretValueCommand') budget.puts += 1;
      if (budget.left === 0) throw new Crash('crashed after the request');
      return out;
    },
    { step: 'initialize', name: 'crashInjection' },
  );
  return client;
}

/** What a restarted cluster does first: read every party's versions, decide, settle. */
async function recover(keyId: string, prefix: string): Promise<number | null> {
  const stores = new Map(PARTIES.map((p) => [p, enclave(p, goodNsm, { prefix }).store]));
  const stored = new Map<PartyId, StoredShares>();
  for (const [party, store] of stores) stored.set(party, await store.load(keyId, party));
  const decision = decideEpoch(stored);
  for (const [party, action] of decision.actions) {
    const binding = { keyId, partyId: party, epoch: action.kind === 'none' ? 0 : action.epoch };
    if (action.kind === 'commit') await stores.get(party)!.commit(binding);
    if (action.kind === 'discard') await stores.get(party)!.discard(binding);
  }
  return decision.confirmedEpoch;
}

/** Stages then commits each party's blob with crash-injecting clients. */
async function stageAndCommit(
  keyId: string,
  prefix: string,
  blobs: ReadonlyMap<PartyId, Uint8Array>,
  epoch: number,
  budget: { left: number; puts: number },
): Promise<void> {
  const stores = new Map(
    PARTIES.map((p) => [
      p,
      enclave(p, goodNsm, { prefix, secrets: crashingSecrets(p, budget) }).store,
    ]),
  );
  for (const party of PARTIES) await stores.get(party)!.stage(blobs.get(party)!);
  for (const party of PARTIES) await stores.get(party)!.commit({ keyId, partyId: party, epoch });
}

test('a crash after any request of a key creation or refresh leaves the latest confirmed epoch unsealable', async (t) => {
  const keyId = 'key-crash';
  const epoch0 = runDkg(ed25519Group, PARTIES, 2, { rng: seededRng('sealing/crash') });
  const epoch1 = runRefresh(epoch0, { rng: seededRng('sealing/crash/refresh') });
  const sealed0 = new Map<PartyId, Uint8Array>();
  const sealed1 = new Map<PartyId, Uint8Array>();
  for (const party of PARTIES) {
    const { sealer } = enclave(party);
    sealed0.set(party, await sealer.seal(record(keyId, epoch0[party - 1]!)));
    sealed1.set(party, await sealer.seal(record(keyId, epoch1[party - 1]!)));
  }
  // The blobs recovery must end up with unseal to the right shares (checked once here; below,
  // stored bytes are compared with these).
  for (const party of PARTIES) {
    const { sealer } = enclave(party);
    const back = await sealer.unseal(sealed1.get(party)!, { keyId, partyId: party, epoch: 1 });
    assert.ok(sameShare(back.share, epoch1[party - 1]!));
  }

  const settle = async (prefix: string, expected: number | null) => {
    assert.equal(await recover(keyId, prefix), expected, `${prefix}: confirmed epoch`);
    // Recovery is itself idempotent: a second run (after a crash in the first) changes nothing.
    assert.equal(await recover(keyId, prefix), expected);
    for (const party of PARTIES) {
      const stored = await enclave(party, goodNsm, { prefix }).store.load(keyId, party);
      assert.equal(stored.pending, null, `${prefix}: party ${party} left a pending version`);
      // No key: a party may keep an orphan first version (AWSCURRENT from birth), never used.
      if (expected === null) continue;
      const blobs = expected === 0 ? sealed0 : sealed1;
      assert.equal(stored.current?.epoch, expected, `${prefix}: party ${party}`);
      assert.equal(toHex(stored.current!.blob), toHex(blobs.get(party)!));
    }
  };

  // Creation: every crash point until the run completes without one.
  let crashes = 0;
  for (let k = 0; ; k++) {
    const prefix = `crash/create/${k}`;
    const budget = { left: k, puts: 0 };
    try {
      await stageAndCommit(keyId, prefix, sealed0, 0, budget);
      break;
    } catch (error) {
      if (!isCrash(error)) throw error;
      crashes += 1;
      // The key exists exactly when every party's epoch-0 blob reached storage.
      await settle(prefix, budget.puts === PARTIES.length ? 0 : null);
    }
  }
  assert.ok(crashes >= 20, `creation has ${crashes} crash points`);
  t.diagnostic(`key creation: ${crashes} crash points`);

  // Refresh from a committed epoch 0.
  crashes = 0;
  for (let k = 0; ; k++) {
    const prefix = `crash/refresh/${k}`;
    await stageAndCommit(keyId, prefix, sealed0, 0, { left: Infinity, puts: 0 });
    const budget = { left: k, puts: 0 };
    try {
      await stageAndCommit(keyId, prefix, sealed1, 1, budget);
      break;
    } catch (error) {
      if (!isCrash(error)) throw error;
      crashes += 1;
      await settle(prefix, budget.puts === PARTIES.length ? 1 : 0);
    }
  }
  assert.ok(crashes >= 20, `refresh has ${crashes} crash points`);
  t.diagnostic(`refresh: ${crashes} crash points`);
});

test('the simulator killed with SIGKILL restarts on its data and every key still unseals', async () => {
  const shares = runDkg(ed25519Group, PARTIES, 2, { rng: seededRng('sealing/kill') });
  await sealAll('key-kill', shares);
  await sim.kill();
  sim = await startAwsSim({ credentials: creds.all, nsmRoots: roots, dataDir: workDir });
  for (const party of PARTIES) {
    const { sealer, store } = enclave(party);
    const stored = await store.load('key-kill', party);
    const back = await sealer.unseal(stored.current!.blob, {
      keyId: 'key-kill',
      partyId: party,
      epoch: 0,
    });
    assert.ok(sameShare(back.share, shares[party - 1]!));
  }
});
