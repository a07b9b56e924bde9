/**
 * The simulated KMS end to end, as the system will use it: the service runs in a child process
 * (`mpc-kms sim aws`, started by aws-sim.ts) and this process talks to it with the real
 * `KMSClient`, carrying attestation documents from simulated NSMs as `Recipient`. Covered: key
 * administration and its policy checks, Encrypt/Decrypt and their refusals, the attested path
 * (GenerateDataKey and Decrypt with a Recipient; ImageSha384 and PCR8 policies), every way an
 * attestation document can be refused, a SIGKILL restart on the same data directory, and a
 * corrupt store that the process refuses to start on.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DryRunOperationException,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateRandomCommand,
  GetKeyPolicyCommand,
  IncorrectKeyException,
  InvalidCiphertextException,
  KMSClient,
  KMSServiceException,
  MalformedPolicyDocumentException,
  NotFoundException,
  PutKeyPolicyCommand,
  type RecipientInfo,
} from '@aws-sdk/client-kms';
import { SimulatedNsm } from '../attestation/index.js';
import { openCiphertextForRecipient } from '../enclave/index.js';
import { expectAwsSimFailure, startAwsSim, type RunningSim } from './aws-sim.js';

// Not the simulator's default region: this file checks that --region reaches the key ARNs.
const REGION = 'us-east-1';
const ACCOUNT = '111122223333';
const ADMIN = `arn:aws:iam::${ACCOUNT}:user/admin`;
const ENCLAVE = `arn:aws:iam::${ACCOUNT}:role/enclave`;
const CREDENTIALS = [
  { accessKeyId: 'AKIDADMIN00000000001', secretAccessKey: 'admin-secret', principal: ADMIN },
  { accessKeyId: 'AKIDENCLAVE000000001', secretAccessKey: 'enclave-secret', principal: ENCLAVE },
];

const pcr = (byte: number): Uint8Array => new Uint8Array(48).fill(byte);
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const IMAGE = { 0: pcr(0x10), 1: pcr(0x11), 2: pcr(0x12), 8: pcr(0x18) };
const pcrMap = (pcrs: Record<number, Uint8Array>): Map<number, Uint8Array> =>
  new Map(Object.entries(pcrs).map(([i, v]) => [Number(i), v]));

// The enclave we trust, and the NSMs whose documents must be refused.
const good = SimulatedNsm.create({ pcrs: pcrMap(IMAGE) });
const otherImage = SimulatedNsm.create({ pcrs: pcrMap({ ...IMAGE, 0: pcr(0x20) }) });
const unsigned = SimulatedNsm.create({ pcrs: pcrMap({ ...IMAGE, 8: pcr(0) }) });
const debug = SimulatedNsm.create({ pcrs: new Map() });
const past = SimulatedNsm.create({
  pcrs: pcrMap(IMAGE),
  now: () => new Date(Date.now() - 4 * 3600 * 1000),
});
const untrusted = SimulatedNsm.create({ pcrs: pcrMap(IMAGE) });

// One RSA key for every recipient document (RSA generation is the slow part).
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaSpki = new Uint8Array(rsa.publicKey.export({ format: 'der', type: 'spki' }));
const ecSpki = new Uint8Array(
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
    format: 'der',
    type: 'spki',
  }),
);

function recipient(nsm: SimulatedNsm, publicKey: Uint8Array = rsaSpki): RecipientInfo {
  return {
    KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
    AttestationDocument: nsm.attest({ publicKey }),
  };
}

function open(ciphertextForRecipient: Uint8Array | undefined, key: KeyObject = rsa.privateKey) {
  assert.ok(ciphertextForRecipient, 'CiphertextForRecipient is missing');
  return openCiphertextForRecipient(ciphertextForRecipient, key);
}

/** The admin's key policy statement: administration and Encrypt, but never Decrypt. */
const adminStatement = {
  Sid: 'Admin',
  Effect: 'Allow',
  Principal: { AWS: ADMIN },
  Action: ['kms:Describe*', 'kms:GetKeyPolicy', 'kms:PutKeyPolicy', 'kms:Encrypt'],
  Resource: '*',
};

function keyPolicy(condition: object): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Statement: [
        adminStatement,
        {
          Sid: 'EnclaveDescribe',
          Effect: 'Allow',
          Principal: { AWS: ENCLAVE },
          Action: 'kms:DescribeKey',
          Resource: '*',
        },
        {
          Sid: 'AttestedEnclave',
          Effect: 'Allow',
          Principal: { AWS: ENCLAVE },
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: '*',
          Condition: condition,
        },
      ],
    },
    null,
    2,
  );
}

// ---------------------------------------------------------------------------------------------
// The child process

const work = mkdtempSync(join(tmpdir(), 'kms-sim-'));
const dataDir = join(work, 'data');
// The trusted roots as --nsm-root files: the first as PEM, the others as DER (both are accepted).
const roots = [good, otherImage, unsigned, debug, past].map((nsm, i) => {
  const file = join(work, `root-${i}.${i === 0 ? 'pem' : 'der'}`);
  writeFileSync(file, i === 0 ? nsm.rootPem : nsm.rootDer);
  return file;
});
const simOptions = { credentials: CREDENTIALS, nsmRoots: roots, region: REGION };

let sim: RunningSim;
let admin: KMSClient;
let enclave: KMSClient;

async function connect(): Promise<void> {
  sim = await startAwsSim({ ...simOptions, dataDir });
  admin = sim.kms(CREDENTIALS[0]!);
  enclave = sim.kms(CREDENTIALS[1]!);
}

before(connect);

after(async () => {
  admin?.destroy();
  enclave?.destroy();
  await sim?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Awaits a refusal and checks the SDK exception: its name, class and message. */
async function refused(
  promise: Promise<unknown>,
  name: string,
  message?: RegExp,
  cls: abstract new (...args: never[]) => Error = KMSServiceException,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    assert.equal((err as Error).name, name, (err as Error).message);
    if (message) assert.match((err as Error).message, message);
    return true;
  });
}

async function createKey(policy?: string): Promise<{ keyId: string; arn: string }> {
  const out = await admin.send(new CreateKeyCommand({ Description: 'test', Policy: policy }));
  return { keyId: out.KeyMetadata!.KeyId!, arn: out.KeyMetadata!.Arn! };
}

// ---------------------------------------------------------------------------------------------
// Tests

const IMAGE_POLICY = keyPolicy({
  StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': hex(IMAGE[0]) },
});
// Remembered across the restart test.
const persisted: { keyId?: string; ciphertext?: Uint8Array; context?: Record<string, string> } = {};

test('CreateKey, DescribeKey, GetKeyPolicy and PutKeyPolicy', async () => {
  const created = await admin.send(
    new CreateKeyCommand({
      Description: 'party shares',
      Tags: [{ TagKey: 'app', TagValue: 'mpc' }],
    }),
  );
  const m = created.KeyMetadata!;
  assert.match(m.KeyId!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(m.Arn, `arn:aws:kms:${REGION}:${ACCOUNT}:key/${m.KeyId}`);
  assert.equal(m.AWSAccountId, ACCOUNT);
  assert.ok(
    m.CreationDate instanceof Date && Math.abs(m.CreationDate.getTime() - Date.now()) < 60_000,
  );
  assert.equal(m.Enabled, true);
  assert.equal(m.KeyState, 'Enabled');
  assert.equal(m.KeyUsage, 'ENCRYPT_DECRYPT');
  assert.equal(m.KeySpec, 'SYMMETRIC_DEFAULT');
  assert.equal(m.KeyManager, 'CUSTOMER');
  assert.equal(m.Origin, 'AWS_KMS');
  assert.equal(m.Description, 'party shares');
  assert.deepEqual(m.EncryptionAlgorithms, ['SYMMETRIC_DEFAULT']);

  for (const id of [m.KeyId!, m.Arn!]) {
    const described = await admin.send(new DescribeKeyCommand({ KeyId: id }));
    assert.equal(described.KeyMetadata!.Arn, m.Arn);
  }
  // The default policy: the account root may do anything, so in the simulator any principal of
  // the account may (there is no IAM behind the root).
  const initial = await admin.send(new GetKeyPolicyCommand({ KeyId: m.KeyId }));
  assert.equal(initial.PolicyName, 'default');
  assert.match(initial.Policy!, new RegExp(`arn:aws:iam::${ACCOUNT}:root`));
  await enclave.send(new DescribeKeyCommand({ KeyId: m.KeyId }));

  await admin.send(new PutKeyPolicyCommand({ KeyId: m.KeyId, Policy: IMAGE_POLICY }));
  const read = await admin.send(new GetKeyPolicyCommand({ KeyId: m.Arn, PolicyName: 'default' }));
  assert.equal(read.Policy, IMAGE_POLICY);
  // The new policy rules its own administration: the enclave may describe but not read or put.
  await enclave.send(new DescribeKeyCommand({ KeyId: m.KeyId }));
  await refused(
    enclave.send(new GetKeyPolicyCommand({ KeyId: m.KeyId })),
    'AccessDeniedException',
    /User: arn:aws:iam::111122223333:role\/enclave is not authorized to perform: kms:GetKeyPolicy.*no statement allows kms:GetKeyPolicy/,
  );
  await refused(
    enclave.send(new PutKeyPolicyCommand({ KeyId: m.KeyId, Policy: IMAGE_POLICY })),
    'AccessDeniedException',
  );
  // A policy outside the simulator's subset, and one that would lock the admin out.
  await refused(
    admin.send(
      new PutKeyPolicyCommand({
        KeyId: m.KeyId,
        Policy: IMAGE_POLICY.replace('StringEqualsIgnoreCase', 'StringLike'),
      }),
    ),
    'MalformedPolicyDocumentException',
    /operator StringLike is not supported by the simulator/,
    MalformedPolicyDocumentException,
  );
  const lockout = IMAGE_POLICY.replace('"kms:PutKeyPolicy",', '');
  await refused(
    admin.send(new PutKeyPolicyCommand({ KeyId: m.KeyId, Policy: lockout })),
    'MalformedPolicyDocumentException',
    /will not allow you to update the key policy/,
  );
  await refused(
    admin.send(new CreateKeyCommand({ Policy: lockout })),
    'MalformedPolicyDocumentException',
  );
  // Unknown keys and aliases.
  await refused(
    admin.send(new DescribeKeyCommand({ KeyId: '00000000-0000-4000-8000-000000000000' })),
    'NotFoundException',
    undefined,
    NotFoundException,
  );
  await refused(
    admin.send(new DescribeKeyCommand({ KeyId: 'alias/shares' })),
    'NotFoundException',
    /Aliases are not supported/,
  );
  await refused(
    admin.send(new DescribeKeyCommand({ KeyId: m.Arn!.replace(REGION, 'eu-west-1') })),
    'NotFoundException',
  );
  await refused(
    admin.send(new CreateKeyCommand({ KeySpec: 'RSA_2048' })),
    'UnsupportedOperationException',
    /KeySpec RSA_2048 is not supported by the simulator/,
  );
});

test('Encrypt and Decrypt: round trip, context binding, tampering, key mismatch', async () => {
  const key = await createKey();
  const other = await createKey();
  const context = { party: '1', epoch: '7' };
  const plaintext = new TextEncoder().encode('a key share, say');
  const enc = await admin.send(
    new EncryptCommand({ KeyId: key.keyId, Plaintext: plaintext, EncryptionContext: context }),
  );
  assert.equal(enc.KeyId, key.arn);
  assert.equal(enc.EncryptionAlgorithm, 'SYMMETRIC_DEFAULT');
  const blob = enc.CiphertextBlob!;

  // KeyId optional (the blob names its key); context order is irrelevant.
  const dec = await admin.send(
    new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { epoch: '7', party: '1' } }),
  );
  assert.deepEqual(dec.Plaintext, plaintext);
  assert.equal(dec.KeyId, key.arn);
  assert.equal(dec.EncryptionAlgorithm, 'SYMMETRIC_DEFAULT');
  const byArn = await admin.send(
    new DecryptCommand({ CiphertextBlob: blob, KeyId: key.arn, EncryptionContext: context }),
  );
  assert.deepEqual(byArn.Plaintext, plaintext);

  const wrongContexts: Record<string, string>[] = [
    {},
    { party: '2', epoch: '7' },
    { Party: '1', epoch: '7' },
    { ...context, x: '' },
  ];
  for (const wrong of wrongContexts) {
    await refused(
      admin.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: wrong })),
      'InvalidCiphertextException',
      undefined,
      InvalidCiphertextException,
    );
  }
  for (const offset of [0, 5, 20, blob.length - 20, blob.length - 1]) {
    const tampered = blob.slice();
    tampered[offset]! ^= 0x01;
    await refused(
      admin.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: context })),
      'InvalidCiphertextException',
      undefined,
      InvalidCiphertextException,
    );
  }
  await refused(
    admin.send(
      new DecryptCommand({ CiphertextBlob: blob.subarray(0, 40), EncryptionContext: context }),
    ),
    'InvalidCiphertextException',
  );
  await refused(
    admin.send(
      new DecryptCommand({ CiphertextBlob: blob, KeyId: other.keyId, EncryptionContext: context }),
    ),
    'IncorrectKeyException',
    undefined,
    IncorrectKeyException,
  );
  // DryRun authorizes and validates, then stops; grants do not exist in the simulator.
  await refused(
    admin.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: plaintext, DryRun: true })),
    'DryRunOperationException',
    undefined,
    DryRunOperationException,
  );
  await refused(
    admin.send(
      new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context, GrantTokens: ['g'] }),
    ),
    'InvalidGrantTokenException',
  );
  // Boundary validation.
  await refused(
    admin.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: new Uint8Array(4097) })),
    'ValidationException',
    /Plaintext/,
  );
  persisted.keyId = key.keyId;
  persisted.ciphertext = blob;
  persisted.context = context;
});

test('attested GenerateDataKey and Decrypt: the key arrives only as CiphertextForRecipient', async () => {
  const key = await createKey(IMAGE_POLICY);
  const context = { party: '3' };
  const generated = await enclave.send(
    new GenerateDataKeyCommand({
      KeyId: key.keyId,
      KeySpec: 'AES_256',
      EncryptionContext: context,
      Recipient: recipient(good),
    }),
  );
  assert.equal(generated.Plaintext, undefined);
  assert.equal(generated.KeyId, key.arn);
  const dataKey = open(generated.CiphertextForRecipient);
  assert.equal(dataKey.length, 32);

  const decrypted = await enclave.send(
    new DecryptCommand({
      CiphertextBlob: generated.CiphertextBlob,
      EncryptionContext: context,
      Recipient: recipient(good),
    }),
  );
  assert.equal(decrypted.Plaintext, undefined);
  assert.deepEqual(open(decrypted.CiphertextForRecipient), dataKey);

  // Another image (PCR0) is refused by the policy, with the failed condition named.
  await refused(
    enclave.send(
      new DecryptCommand({
        CiphertextBlob: generated.CiphertextBlob,
        EncryptionContext: context,
        Recipient: recipient(otherImage),
      }),
    ),
    'AccessDeniedException',
    /kms:Decrypt.*ImageSha384 is not met \(no value matches\)/,
  );
  await refused(
    enclave.send(
      new GenerateDataKeyCommand({
        KeyId: key.keyId,
        NumberOfBytes: 32,
        Recipient: recipient(otherImage),
      }),
    ),
    'AccessDeniedException',
  );
  // Without a Recipient there are no attestation condition keys: plain Decrypt is refused.
  await refused(
    enclave.send(
      new DecryptCommand({ CiphertextBlob: generated.CiphertextBlob, EncryptionContext: context }),
    ),
    'AccessDeniedException',
    /ImageSha384 is not met \(the key is absent from the request\)/,
  );
  // And the admin, who may Encrypt, may not Decrypt at all.
  await refused(
    admin.send(
      new DecryptCommand({ CiphertextBlob: generated.CiphertextBlob, EncryptionContext: context }),
    ),
    'AccessDeniedException',
    /no statement allows kms:Decrypt/,
  );
  // NumberOfBytes and KeySpec: exactly one.
  await refused(
    enclave.send(
      new GenerateDataKeyCommand({
        KeyId: key.keyId,
        KeySpec: 'AES_128',
        NumberOfBytes: 16,
        Recipient: recipient(good),
      }),
    ),
    'ValidationException',
  );
  const small = await enclave.send(
    new GenerateDataKeyCommand({ KeyId: key.keyId, NumberOfBytes: 7, Recipient: recipient(good) }),
  );
  assert.equal(open(small.CiphertextForRecipient).length, 7);
});

test('a policy pinning PCR8 refuses an unsigned image (PCR8 zero)', async () => {
  const key = await createKey(
    keyPolicy({ StringEquals: { 'kms:RecipientAttestation:PCR8': hex(IMAGE[8]) } }),
  );
  const ok = await enclave.send(
    new GenerateDataKeyCommand({
      KeyId: key.keyId,
      KeySpec: 'AES_256',
      Recipient: recipient(good),
    }),
  );
  assert.equal(open(ok.CiphertextForRecipient).length, 32);
  await refused(
    enclave.send(
      new GenerateDataKeyCommand({
        KeyId: key.keyId,
        KeySpec: 'AES_256',
        Recipient: recipient(unsigned),
      }),
    ),
    'AccessDeniedException',
    /StringEquals kms:RecipientAttestation:PCR8 is not met/,
  );
});

test('attestation documents that must be refused, and why', async () => {
  const key = await createKey(IMAGE_POLICY);
  const gdk = (info: RecipientInfo) =>
    enclave.send(
      new GenerateDataKeyCommand({ KeyId: key.keyId, KeySpec: 'AES_256', Recipient: info }),
    );

  const forged = recipient(good);
  const doc = forged.AttestationDocument!.slice();
  doc[doc.length - 1]! ^= 0x01; // the last byte of the ES384 signature
  await refused(
    gdk({ ...forged, AttestationDocument: doc }),
    'ValidationException',
    /BAD_SIGNATURE/,
  );
  // A leaf 4 hours old has expired (leaves live 3 hours), and so has the document.
  await refused(gdk(recipient(past)), 'ValidationException', /EXPIRED/);
  await refused(gdk(recipient(untrusted)), 'ValidationException', /UNTRUSTED_ROOT/);
  await refused(gdk(recipient(debug)), 'AccessDeniedException', /debug-mode enclave/);
  await refused(gdk(recipient(good, ecSpki)), 'ValidationException', /must be RSA/);
  await refused(
    gdk({
      AttestationDocument: good.attest({ publicKey: null }),
      KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
    }),
    'ValidationException',
    /no public_key/,
  );
  await refused(
    gdk({ ...recipient(good), KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_1' as 'RSAES_OAEP_SHA_256' }),
    'ValidationException',
    /RSAES_OAEP_SHA_256/,
  );
  await refused(
    gdk({
      AttestationDocument: new Uint8Array([1, 2, 3]),
      KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
    }),
    'ValidationException',
    /MALFORMED/,
  );
});

test('GenerateRandom, plain and for a recipient', async () => {
  const plain = await admin.send(new GenerateRandomCommand({ NumberOfBytes: 48 }));
  assert.equal(plain.Plaintext!.length, 48);
  assert.equal(plain.CiphertextForRecipient, undefined);
  const sealed = await enclave.send(
    new GenerateRandomCommand({ NumberOfBytes: 64, Recipient: recipient(good) }),
  );
  assert.equal(sealed.Plaintext, undefined);
  assert.equal(open(sealed.CiphertextForRecipient).length, 64);
  await refused(
    enclave.send(new GenerateRandomCommand({ NumberOfBytes: 16, Recipient: recipient(untrusted) })),
    'ValidationException',
  );
  await refused(
    admin.send(new GenerateRandomCommand({ NumberOfBytes: 1025 })),
    'ValidationException',
  );
});

test('restart after SIGKILL: keys, policies and ciphertexts survive', async () => {
  assert.ok(persisted.keyId && persisted.ciphertext, 'the Encrypt test ran first');
  const files = readdirSync(join(dataDir, 'kms')).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 5);
  for (const file of files) {
    assert.equal(statSync(join(dataDir, 'kms', file)).mode & 0o777, 0o600, file);
  }
  const attested = await createKey(IMAGE_POLICY);
  const generated = await enclave.send(
    new GenerateDataKeyCommand({
      KeyId: attested.keyId,
      KeySpec: 'AES_256',
      Recipient: recipient(good),
    }),
  );
  const dataKey = open(generated.CiphertextForRecipient);

  await sim.kill();
  admin.destroy();
  enclave.destroy();
  await connect();

  const described = await admin.send(new DescribeKeyCommand({ KeyId: attested.keyId }));
  assert.equal(described.KeyMetadata!.Arn, attested.arn);
  const policy = await admin.send(new GetKeyPolicyCommand({ KeyId: attested.keyId }));
  assert.equal(policy.Policy, IMAGE_POLICY);
  const old = await admin.send(
    new DecryptCommand({
      CiphertextBlob: persisted.ciphertext,
      EncryptionContext: persisted.context,
    }),
  );
  assert.equal(new TextDecoder().decode(old.Plaintext), 'a key share, say');
  const again = await enclave.send(
    new DecryptCommand({ CiphertextBlob: generated.CiphertextBlob, Recipient: recipient(good) }),
  );
  assert.deepEqual(open(again.CiphertextForRecipient), dataKey);
  // The policy still holds after the restart.
  await refused(
    enclave.send(new DecryptCommand({ CiphertextBlob: generated.CiphertextBlob })),
    'AccessDeniedException',
  );
});

test('a corrupt key file stops the service instead of being replaced', async () => {
  const badDir = join(work, 'corrupt');
  const kmsDir = join(badDir, 'kms');
  mkdirSync(kmsDir, { recursive: true });
  const file = join(kmsDir, '00000000-0000-4000-8000-000000000000.json');
  writeFileSync(file, '{"format":"mpc-kms-sim/kms-key","version":1,');
  const { code, stderr } = await expectAwsSimFailure({ ...simOptions, dataDir: badDir });
  assert.equal(code, 1, stderr);
  assert.match(stderr, /corrupt KMS store; refusing to start/);
  assert.equal(readFileSync(file, 'utf8').length, 44);
});
