/**
 * The simulated Secrets Manager, run in its own process (`mpc-kms sim aws`, started by
 * aws-sim.ts, as the real system runs services) and driven only through the unmodified
 * `SecretsManagerClient`: every operation, the staging-label rules (AWSCURRENT/AWSPREVIOUS
 * moves, custom labels such as MPCKMS_PENDING), idempotent retries, binary round trips,
 * authentication failures (keys, region, clock skew), SDK-typed errors, and persistence across a
 * SIGKILL. A few raw HTTP requests check the framework's refusals the SDK never makes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidParameterException,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import {
  ACCOUNT,
  REGION,
  startAwsSim,
  type ClientCredential,
  type RunningSim,
  type SimClientOptions,
  type SimCredential,
} from './aws-sim.js';

const PARTY: SimCredential = {
  accessKeyId: 'AKIASMTESTPARTY00001',
  secretAccessKey: 'sm-test-party-secret-0123456789',
  principal: `arn:aws:iam::${ACCOUNT}:role/mpc-kms-party-1`,
};
const OUTSIDER: SimCredential = {
  accessKeyId: 'AKIASMTESTOUTSIDER01',
  secretAccessKey: 'sm-test-outsider-secret-98765',
  principal: 'arn:aws:iam::444455556666:role/outsider',
};

// ---------------------------------------------------------------------------------------------
// The service process.

const dataDir = mkdtempSync(join(tmpdir(), 'mpc-kms-sm-'));
let sim: RunningSim;

/** Starts (or restarts) the simulator on `dataDir`; Secrets Manager needs no NSM roots. */
function startSim(): Promise<RunningSim> {
  return startAwsSim({ credentials: [PARTY, OUTSIDER], nsmRoots: [], dataDir });
}

const clients: SecretsManagerClient[] = [];
/** A real SDK client against the running service; `maxAttempts: 1` so errors surface at once. */
function client(
  credential: ClientCredential = PARTY,
  options?: SimClientOptions,
): SecretsManagerClient {
  const c = sim.secrets(credential, options);
  clients.push(c);
  return c;
}

before(async () => {
  sim = await startSim();
});

after(async () => {
  for (const c of clients) c.destroy();
  await sim?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Awaits a rejection and returns the SDK's error for inspection. */
async function rejection(promise: Promise<unknown>): Promise<SecretsManagerServiceException> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Error);
    return error as SecretsManagerServiceException;
  }
  assert.fail('expected the call to fail');
}

function uniqueName(prefix: string): string {
  return `${prefix}/${randomUUID()}`;
}

/** The version ids of each stage, as DescribeSecret reports them. */
async function stagesOf(sm: SecretsManagerClient, id: string): Promise<Record<string, string[]>> {
  const described = await sm.send(new DescribeSecretCommand({ SecretId: id }));
  return described.VersionIdsToStages ?? {};
}

// ---------------------------------------------------------------------------------------------
// CreateSecret, GetSecretValue, DescribeSecret.

test('CreateSecret with a string value creates an AWSCURRENT version; Get and Describe show it', async () => {
  const sm = client();
  const name = uniqueName('mpc-kms/create');
  const token = randomUUID();
  const before = Date.now();
  const created = await sm.send(
    new CreateSecretCommand({
      Name: name,
      SecretString: '{"share":"s1"}',
      ClientRequestToken: token,
      Description: 'party 1 share',
      KmsKeyId: 'alias/mpc-kms-seal',
      Tags: [{ Key: 'party', Value: '1' }],
    }),
  );
  assert.equal(created.Name, name);
  assert.equal(created.VersionId, token);
  assert.match(
    created.ARN!,
    new RegExp(`^arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-[A-Za-z0-9]{6}$`),
  );

  const value = await sm.send(new GetSecretValueCommand({ SecretId: name }));
  assert.equal(value.SecretString, '{"share":"s1"}');
  assert.equal(value.SecretBinary, undefined);
  assert.equal(value.ARN, created.ARN);
  assert.deepEqual(value.VersionStages, ['AWSCURRENT']);
  assert.ok(value.CreatedDate instanceof Date);
  assert.ok(Math.abs(value.CreatedDate.getTime() - before) < 60_000);

  // The full ARN works wherever a name does.
  const byArn = await sm.send(new GetSecretValueCommand({ SecretId: created.ARN }));
  assert.equal(byArn.VersionId, token);

  const described = await sm.send(new DescribeSecretCommand({ SecretId: created.ARN }));
  assert.equal(described.Name, name);
  assert.equal(described.Description, 'party 1 share');
  assert.equal(described.KmsKeyId, 'alias/mpc-kms-seal');
  assert.deepEqual(described.Tags, [{ Key: 'party', Value: '1' }]);
  assert.deepEqual(described.VersionIdsToStages, { [token]: ['AWSCURRENT'] });
  assert.ok(described.CreatedDate instanceof Date && described.LastChangedDate instanceof Date);
});

test('CreateSecret without a value has no version until PutSecretValue makes one current', async () => {
  const sm = client();
  const name = uniqueName('empty');
  const created = await sm.send(new CreateSecretCommand({ Name: name }));
  assert.equal(created.VersionId, undefined);
  assert.deepEqual(await stagesOf(sm, name), {});
  const missing = await rejection(sm.send(new GetSecretValueCommand({ SecretId: name })));
  assert.equal(missing.name, 'ResourceNotFoundException');

  // The first version is always AWSCURRENT, even when asked only for a custom label.
  const token = randomUUID();
  const put = await sm.send(
    new PutSecretValueCommand({
      SecretId: name,
      SecretString: 'first',
      ClientRequestToken: token,
      VersionStages: ['MPCKMS_PENDING'],
    }),
  );
  assert.deepEqual(put.VersionStages, ['MPCKMS_PENDING', 'AWSCURRENT']);
});

test('an existing name is ResourceExistsException; a retry of the same create succeeds', async () => {
  const sm = client();
  const name = uniqueName('exists');
  const token = randomUUID();
  const first = await sm.send(
    new CreateSecretCommand({ Name: name, SecretString: 'v', ClientRequestToken: token }),
  );
  const retry = await sm.send(
    new CreateSecretCommand({ Name: name, SecretString: 'v', ClientRequestToken: token }),
  );
  assert.deepEqual([retry.ARN, retry.VersionId], [first.ARN, first.VersionId]);
  const clash = await rejection(
    sm.send(new CreateSecretCommand({ Name: name, SecretString: 'other' })),
  );
  assert.ok(clash instanceof ResourceExistsException);
});

test('SDK errors are the SDK typed exception classes', async () => {
  const sm = client();
  const missing = await rejection(
    sm.send(new GetSecretValueCommand({ SecretId: uniqueName('missing') })),
  );
  assert.ok(missing instanceof ResourceNotFoundException);
  assert.ok(missing instanceof SecretsManagerServiceException);
  assert.equal(missing.$metadata.httpStatusCode, 400);
  assert.match(missing.$metadata.requestId ?? '', /^[0-9a-f-]{36}$/);
  assert.equal(missing.$fault, 'client');

  const invalid = await rejection(sm.send(new CreateSecretCommand({ Name: 'bad name!' })));
  assert.ok(invalid instanceof InvalidParameterException);
  assert.match(invalid.message, /Name/);
});

test('input validation: names, both values, sizes, tokens', async () => {
  const sm = client();
  const expectInvalid = async (p: Promise<unknown>, type = 'InvalidParameterException') =>
    assert.equal((await rejection(p)).name, type);
  await expectInvalid(sm.send(new CreateSecretCommand({ Name: 'x'.repeat(513) })));
  await expectInvalid(sm.send(new CreateSecretCommand({ Name: '' })));
  await expectInvalid(
    sm.send(
      new CreateSecretCommand({
        Name: uniqueName('both'),
        SecretString: 's',
        SecretBinary: new Uint8Array([1]),
      }),
    ),
  );
  await expectInvalid(
    sm.send(new CreateSecretCommand({ Name: uniqueName('big'), SecretString: 'é'.repeat(40000) })),
  );
  await expectInvalid(
    sm.send(
      new CreateSecretCommand({ Name: uniqueName('big'), SecretBinary: new Uint8Array(65537) }),
    ),
  );
  const name = uniqueName('tokens');
  await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'a' }));
  await expectInvalid(
    sm.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'b', ClientRequestToken: 'short' }),
    ),
  );
  await expectInvalid(
    sm.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: randomUUID() })),
  );
  await expectInvalid(
    sm.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: 'b',
        VersionStages: ['A', 'A'],
      }),
    ),
  );
  // The largest allowed values are accepted.
  await sm.send(
    new PutSecretValueCommand({ SecretId: name, SecretBinary: new Uint8Array(65536).fill(7) }),
  );
});

// ---------------------------------------------------------------------------------------------
// PutSecretValue and staging labels.

test('PutSecretValue moves AWSCURRENT and hands AWSPREVIOUS to the former current', async () => {
  const sm = client();
  const name = uniqueName('rotate');
  const v1 = (await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'one' })))
    .VersionId!;
  const put2 = await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'two' }));
  assert.deepEqual(put2.VersionStages, ['AWSCURRENT']);
  const v2 = put2.VersionId!;
  assert.deepEqual(await stagesOf(sm, name), { [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT'] });

  const v3 = (await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'three' })))
    .VersionId!;
  // v1 lost AWSPREVIOUS to v2 and is now deprecated: hidden from Describe.
  assert.deepEqual(await stagesOf(sm, name), { [v2]: ['AWSPREVIOUS'], [v3]: ['AWSCURRENT'] });

  const previous = await sm.send(
    new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' }),
  );
  assert.equal(previous.SecretString, 'two');
  const old = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionId: v1 }));
  assert.equal(old.SecretString, 'one');
  assert.deepEqual(old.VersionStages, []);
});

test('custom labels (MPCKMS_PENDING) move between versions without touching AWSCURRENT', async () => {
  const sm = client();
  const name = uniqueName('pending');
  const current = (await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'epoch-1' })))
    .VersionId!;
  const p1 = await sm.send(
    new PutSecretValueCommand({
      SecretId: name,
      SecretString: 'epoch-2-attempt-1',
      VersionStages: ['MPCKMS_PENDING'],
    }),
  );
  assert.deepEqual(p1.VersionStages, ['MPCKMS_PENDING']);
  const p2 = await sm.send(
    new PutSecretValueCommand({
      SecretId: name,
      SecretString: 'epoch-2-attempt-2',
      VersionStages: ['MPCKMS_PENDING', 'MPCKMS_EPOCH_2'],
    }),
  );
  assert.deepEqual(await stagesOf(sm, name), {
    [current]: ['AWSCURRENT'],
    [p2.VersionId!]: ['MPCKMS_PENDING', 'MPCKMS_EPOCH_2'],
  });
  const pending = await sm.send(
    new GetSecretValueCommand({ SecretId: name, VersionStage: 'MPCKMS_PENDING' }),
  );
  assert.equal(pending.SecretString, 'epoch-2-attempt-2');
  const current2 = await sm.send(new GetSecretValueCommand({ SecretId: name }));
  assert.equal(current2.SecretString, 'epoch-1');
});

test('PutSecretValue is idempotent per ClientRequestToken', async () => {
  const sm = client();
  const name = uniqueName('idem');
  await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'base' }));
  const token = randomUUID();
  const bytes = randomBytes(48);
  const first = await sm.send(
    new PutSecretValueCommand({ SecretId: name, SecretBinary: bytes, ClientRequestToken: token }),
  );
  const again = await sm.send(
    new PutSecretValueCommand({ SecretId: name, SecretBinary: bytes, ClientRequestToken: token }),
  );
  assert.deepEqual(again, { ...again, VersionId: first.VersionId, VersionStages: ['AWSCURRENT'] });
  // The retry created nothing: still exactly two versions, base now AWSPREVIOUS.
  const listed = await sm.send(
    new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }),
  );
  assert.equal(listed.Versions?.length, 2);

  const changed = await rejection(
    sm.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretBinary: randomBytes(48),
        ClientRequestToken: token,
      }),
    ),
  );
  assert.ok(changed instanceof ResourceExistsException);
  // A string with the same token is a different value too.
  const kind = await rejection(
    sm.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: bytes.toString('latin1'),
        ClientRequestToken: token,
      }),
    ),
  );
  assert.equal(kind.name, 'ResourceExistsException');
});

test('SecretBinary round-trips arbitrary bytes exactly', async () => {
  const sm = client();
  const name = uniqueName('binary');
  const samples = [
    new Uint8Array([0]),
    new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0x0a, 0x0d]),
    Uint8Array.from({ length: 256 }, (_, i) => i),
    new Uint8Array(randomBytes(4099)),
  ];
  await sm.send(new CreateSecretCommand({ Name: name, SecretBinary: samples[0] }));
  for (const sample of samples) {
    const put = await sm.send(new PutSecretValueCommand({ SecretId: name, SecretBinary: sample }));
    const got = await sm.send(
      new GetSecretValueCommand({ SecretId: name, VersionId: put.VersionId }),
    );
    assert.equal(got.SecretString, undefined);
    assert.deepEqual(Buffer.from(got.SecretBinary!), Buffer.from(sample));
  }
});

// ---------------------------------------------------------------------------------------------
// GetSecretValue selection, ListSecretVersionIds, UpdateSecretVersionStage.

test('GetSecretValue: VersionId and VersionStage must agree; unknown ones are not found', async () => {
  const sm = client();
  const name = uniqueName('select');
  const v1 = (await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'a' }))).VersionId!;
  const v2 = (await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'b' })))
    .VersionId!;
  const both = await sm.send(
    new GetSecretValueCommand({ SecretId: name, VersionId: v2, VersionStage: 'AWSCURRENT' }),
  );
  assert.equal(both.SecretString, 'b');
  for (const input of [
    { VersionId: v1, VersionStage: 'AWSCURRENT' },
    { VersionId: randomUUID() },
    { VersionStage: 'NOPE' },
  ]) {
    const e = await rejection(sm.send(new GetSecretValueCommand({ SecretId: name, ...input })));
    assert.ok(e instanceof ResourceNotFoundException, JSON.stringify(input));
  }
  // A well-formed ARN whose random suffix is wrong names no secret.
  const arn = (await sm.send(new DescribeSecretCommand({ SecretId: name }))).ARN!;
  const wrongSuffix = arn.replace(/-[A-Za-z0-9]{6}$/, (s) =>
    s === '-AAAAAA' ? '-BBBBBB' : '-AAAAAA',
  );
  const e = await rejection(sm.send(new GetSecretValueCommand({ SecretId: wrongSuffix })));
  assert.ok(e instanceof ResourceNotFoundException);
});

test('ListSecretVersionIds pages newest first and hides deprecated versions by default', async () => {
  const sm = client();
  const name = uniqueName('list');
  const ids = [
    (await sm.send(new CreateSecretCommand({ Name: name, SecretString: '0' }))).VersionId!,
  ];
  for (let i = 1; i < 5; i++) {
    ids.push(
      (await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: String(i) })))
        .VersionId!,
    );
  }
  const labelled = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name }));
  assert.deepEqual(
    labelled.Versions?.map((v) => [v.VersionId, v.VersionStages]),
    [
      [ids[4], ['AWSCURRENT']],
      [ids[3], ['AWSPREVIOUS']],
    ],
  );
  assert.equal(labelled.NextToken, undefined);
  assert.ok(labelled.Versions?.every((v) => v.CreatedDate instanceof Date));

  const seen: string[] = [];
  let token: string | undefined;
  do {
    const page = await sm.send(
      new ListSecretVersionIdsCommand({
        SecretId: name,
        IncludeDeprecated: true,
        MaxResults: 2,
        NextToken: token,
      }),
    );
    assert.ok((page.Versions?.length ?? 0) <= 2);
    seen.push(...(page.Versions ?? []).map((v) => v.VersionId!));
    token = page.NextToken;
  } while (token !== undefined);
  assert.deepEqual(seen, [...ids].reverse());

  const bad = await rejection(
    sm.send(new ListSecretVersionIdsCommand({ SecretId: name, NextToken: 'bm9wZQ' })),
  );
  assert.equal(bad.name, 'InvalidNextTokenException');
});

test('UpdateSecretVersionStage follows AWS rules for moving and removing labels', async () => {
  const sm = client();
  const name = uniqueName('stages');
  const v1 = (await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'a' }))).VersionId!;
  const v2 = (
    await sm.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: 'b',
        VersionStages: ['MPCKMS_PENDING'],
      }),
    )
  ).VersionId!;
  const update = (input: {
    VersionStage: string;
    MoveToVersionId?: string;
    RemoveFromVersionId?: string;
  }) => sm.send(new UpdateSecretVersionStageCommand({ SecretId: name, ...input }));
  const invalid = async (p: Promise<unknown>) =>
    assert.ok((await rejection(p)) instanceof InvalidParameterException);

  // Promoting without naming the current holder is refused: a stale view cannot win.
  await invalid(update({ VersionStage: 'AWSCURRENT', MoveToVersionId: v2 }));
  await invalid(
    update({ VersionStage: 'AWSCURRENT', MoveToVersionId: v2, RemoveFromVersionId: v2 }),
  );
  const moved = await update({
    VersionStage: 'AWSCURRENT',
    MoveToVersionId: v2,
    RemoveFromVersionId: v1,
  });
  assert.equal(moved.Name, name);
  assert.deepEqual(await stagesOf(sm, name), {
    [v1]: ['AWSPREVIOUS'],
    [v2]: ['MPCKMS_PENDING', 'AWSCURRENT'],
  });

  // Removing a label needs its holder; removing AWSCURRENT outright is refused.
  await invalid(update({ VersionStage: 'MPCKMS_PENDING', RemoveFromVersionId: v1 }));
  await invalid(update({ VersionStage: 'AWSCURRENT', RemoveFromVersionId: v2 }));
  await invalid(update({ VersionStage: 'MPCKMS_PENDING' }));
  await update({ VersionStage: 'MPCKMS_PENDING', RemoveFromVersionId: v2 });
  assert.deepEqual(await stagesOf(sm, name), { [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT'] });

  // Rolling back: AWSCURRENT returns to v1, whose AWSPREVIOUS goes to v2.
  await update({ VersionStage: 'AWSCURRENT', MoveToVersionId: v1, RemoveFromVersionId: v2 });
  assert.deepEqual(await stagesOf(sm, name), { [v1]: ['AWSCURRENT'], [v2]: ['AWSPREVIOUS'] });

  // A new label needs no RemoveFromVersionId; moving it onto its own holder is a no-op.
  await update({ VersionStage: 'MPCKMS_EPOCH_7', MoveToVersionId: v2 });
  await update({ VersionStage: 'MPCKMS_EPOCH_7', MoveToVersionId: v2 });
  assert.deepEqual((await stagesOf(sm, name))[v2], ['AWSPREVIOUS', 'MPCKMS_EPOCH_7']);

  const unknown = await rejection(update({ VersionStage: 'X', MoveToVersionId: randomUUID() }));
  assert.ok(unknown instanceof ResourceNotFoundException);
});

// ---------------------------------------------------------------------------------------------
// Authentication and the framework's refusals.

/** The SDK's request at the `build` step: serialized, not yet signed. */
interface RawRequest {
  headers: Record<string, string>;
  body: string | Uint8Array;
}

function bodyText(request: RawRequest): string {
  return typeof request.body === 'string' ? request.body : new TextDecoder().decode(request.body);
}

/** Replaces the body before signing, keeping Content-Length truthful. */
function setBody(request: RawRequest, text: string): void {
  request.body = new Uint8Array(Buffer.from(text, 'utf8'));
  for (const name of Object.keys(request.headers)) {
    if (name.toLowerCase() === 'content-length') {
      request.headers[name] = String(request.body.length);
    }
  }
}

test('a wrong secret key, an unknown key and a wrong region are refused by SigV4', async () => {
  const wrongSecret = client({ accessKeyId: PARTY.accessKeyId, secretAccessKey: 'wrong-secret' });
  const e1 = await rejection(wrongSecret.send(new DescribeSecretCommand({ SecretId: 'x' })));
  assert.equal(e1.name, 'InvalidSignatureException');
  assert.equal(e1.$metadata.httpStatusCode, 400);
  const unknown = client({ accessKeyId: 'AKIANOBODY', secretAccessKey: PARTY.secretAccessKey });
  const e2 = await rejection(unknown.send(new DescribeSecretCommand({ SecretId: 'x' })));
  assert.equal(e2.name, 'UnrecognizedClientException');
  const otherRegion = client(PARTY, { region: 'eu-west-1' });
  const e3 = await rejection(otherRegion.send(new DescribeSecretCommand({ SecretId: 'x' })));
  assert.equal(e3.name, 'InvalidSignatureException');
});

test('a client clock more than 15 minutes off is refused; a smaller skew is accepted', async () => {
  const minutes = (n: number) => n * 60_000;
  const ahead = client(PARTY, { systemClockOffset: minutes(20) });
  const e1 = await rejection(ahead.send(new DescribeSecretCommand({ SecretId: 'x' })));
  assert.equal(e1.name, 'InvalidSignatureException');
  assert.match(e1.message, /Signature not yet current/);
  const behind = client(PARTY, { systemClockOffset: -minutes(20) });
  const e2 = await rejection(behind.send(new DescribeSecretCommand({ SecretId: 'x' })));
  assert.equal(e2.name, 'InvalidSignatureException');
  assert.match(e2.message, /Signature expired/);
  // Ten minutes off still authenticates: the request reaches the operation, which finds nothing.
  const close = client(PARTY, { systemClockOffset: -minutes(10) });
  const e3 = await rejection(
    close.send(new DescribeSecretCommand({ SecretId: uniqueName('skew') })),
  );
  assert.ok(e3 instanceof ResourceNotFoundException);
});

test("secrets are per account: another account's principal cannot see them", async () => {
  const sm = client();
  const name = uniqueName('account');
  const { ARN } = await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'mine' }));
  const outsider = client(OUTSIDER);
  const byName = await rejection(outsider.send(new GetSecretValueCommand({ SecretId: name })));
  assert.ok(byName instanceof ResourceNotFoundException);
  const byArn = await rejection(outsider.send(new GetSecretValueCommand({ SecretId: ARN })));
  assert.equal(byArn.name, 'AccessDeniedException');
});

test('raw requests: unsigned, unknown operation, bad JSON, wrong method, oversized body', async () => {
  const post = (headers: Record<string, string>, body: string | Uint8Array, method = 'POST') =>
    fetch(sim.secretsManagerUrl, { method, headers, ...(method === 'GET' ? {} : { body }) });

  const unsigned = await post(
    {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'secretsmanager.ListSecrets',
    },
    '{}',
  );
  assert.equal(unsigned.status, 403);
  assert.equal(unsigned.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
  assert.ok(unsigned.headers.get('x-amzn-requestid'));
  assert.deepEqual(await unsigned.json(), {
    __type: 'MissingAuthenticationTokenException',
    message: 'Request is missing Authentication Token',
  });

  const get = await post({}, '', 'GET');
  assert.equal(get.status, 405);
  await get.arrayBuffer();
  const elsewhere = await fetch(`${sim.secretsManagerUrl}/admin`, { method: 'POST', body: '{}' });
  assert.equal(elsewhere.status, 404);
  await elsewhere.arrayBuffer();

  const huge = await post(
    { 'content-type': 'application/x-amz-json-1.1' },
    new Uint8Array(2 * 1024 * 1024),
  );
  assert.equal(huge.status, 413);
  await huge.arrayBuffer();

  // Signed requests reach the operation and JSON checks: sign them with the SDK's middleware
  // by intercepting the body the SDK would send.
  const sm = client();
  sm.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as RawRequest;
      if (request.headers['x-amz-target'] === 'secretsmanager.ListSecretVersionIds') {
        request.headers['x-amz-target'] = 'secretsmanager.DeleteSecret';
      }
      if (bodyText(request) === '{"SecretId":"malformed-json"}') setBody(request, '{"SecretId":');
      return next(args);
    },
    { step: 'build', name: 'tamperBeforeSigning' },
  );
  const unknownOp = await rejection(sm.send(new ListSecretVersionIdsCommand({ SecretId: 'x' })));
  assert.equal(unknownOp.name, 'UnknownOperationException');
  const badJson = await rejection(
    sm.send(new DescribeSecretCommand({ SecretId: 'malformed-json' })),
  );
  assert.equal(badJson.name, 'SerializationException');
});

test('an unknown member is refused, naming it', async () => {
  const sm = client();
  sm.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as RawRequest;
      setBody(request, JSON.stringify({ ...JSON.parse(bodyText(request)), Surprise: 1 }));
      return next(args);
    },
    { step: 'build', name: 'addMember' },
  );
  const e = await rejection(sm.send(new DescribeSecretCommand({ SecretId: 'x' })));
  assert.ok(e instanceof InvalidParameterException);
  assert.match(e.message, /Surprise/);
});

// ---------------------------------------------------------------------------------------------
// Persistence.

test('everything survives SIGKILL and restart on the same data directory', async () => {
  const sm = client();
  const name = uniqueName('durable');
  const bytes = new Uint8Array(randomBytes(1000));
  const created = await sm.send(new CreateSecretCommand({ Name: name, SecretBinary: bytes }));
  const pending = await sm.send(
    new PutSecretValueCommand({
      SecretId: name,
      SecretString: 'next',
      VersionStages: ['MPCKMS_PENDING'],
    }),
  );
  const stagesBefore = await stagesOf(sm, name);
  const describedBefore = await sm.send(new DescribeSecretCommand({ SecretId: name }));

  await sim.kill();
  sim = await startSim();
  const sm2 = client();

  const current = await sm2.send(new GetSecretValueCommand({ SecretId: created.ARN }));
  assert.deepEqual(Buffer.from(current.SecretBinary!), Buffer.from(bytes));
  assert.equal(current.VersionId, created.VersionId);
  const next = await sm2.send(
    new GetSecretValueCommand({ SecretId: name, VersionStage: 'MPCKMS_PENDING' }),
  );
  assert.equal(next.VersionId, pending.VersionId);
  assert.equal(next.SecretString, 'next');
  assert.deepEqual(await stagesOf(sm2, name), stagesBefore);
  const describedAfter = await sm2.send(new DescribeSecretCommand({ SecretId: name }));
  assert.deepEqual(
    { ...describedAfter, $metadata: undefined },
    { ...describedBefore, $metadata: undefined },
  );
  // And the idempotency record survived too.
  const retry = await sm2.send(
    new PutSecretValueCommand({
      SecretId: name,
      SecretString: 'next',
      VersionStages: ['MPCKMS_PENDING'],
      ClientRequestToken: pending.VersionId,
    }),
  );
  assert.equal(retry.VersionId, pending.VersionId);
});

test('a corrupt store file is reported as InternalFailure, never read as absent', async () => {
  const sm = client();
  const name = uniqueName('corrupt');
  await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'keep me' }));
  const dir = join(dataDir, 'secretsmanager');
  const before = new Set(readdirSync(dir));
  const name2 = uniqueName('corrupt2');
  await sm.send(new CreateSecretCommand({ Name: name2, SecretString: 'victim' }));
  const file = readdirSync(dir).find((f) => !before.has(f));
  assert.ok(file);
  // Store files hold secret values: owner-only, and no temporary files left behind.
  assert.equal(statSync(join(dir, file)).mode & 0o777, 0o600);
  assert.ok(readdirSync(dir).every((f) => /^[0-9a-f]{64}\.json$/.test(f)));
  writeFileSync(join(dir, file), '{"format":1,"arn":');

  const e = await rejection(sm.send(new GetSecretValueCommand({ SecretId: name2 })));
  assert.equal(e.name, 'InternalFailure');
  assert.equal(e.$metadata.httpStatusCode, 500);
  assert.doesNotMatch(e.message, /victim|secretsmanager\//);
  // Creating it again must not overwrite the damaged file.
  const again = await rejection(
    sm.send(new CreateSecretCommand({ Name: name2, SecretString: 'new' })),
  );
  assert.equal(again.name, 'InternalFailure');
  // Other secrets are unaffected.
  const fine = await sm.send(new GetSecretValueCommand({ SecretId: name }));
  assert.equal(fine.SecretString, 'keep me');
});
