/**
 * `mpc-kms sim aws` as a command: the arguments it refuses (exit 2, a message on stderr, nothing
 * written to disk), the administrator credential it creates when given none (once, owner-only,
 * reused on restart, and accepted by the services), a clean exit on SIGTERM and SIGINT, and a
 * port already taken (exit 1, not a hang). The services themselves are tested through the SDK in
 * kms-sim.test.ts and secrets-manager-sim.test.ts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GenerateRandomCommand, KMSClient } from '@aws-sdk/client-kms';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { REGION, launchCli, type SimReadyLine } from './aws-sim.js';

const work = mkdtempSync(join(tmpdir(), 'mpc-kms-sim-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));

const file = (name: string, content: string): string => {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
};

test('invalid arguments exit 2 with a message and the usage on stderr, touching no disk', async () => {
  const data = join(work, 'never-created');
  const credential = { accessKeyId: 'AKIA0', secretAccessKey: 's', principal: 'p' };
  const cases: [string, string[], RegExp][] = [
    // Both subcommands' usage lines: `sim up` first, then `sim aws`.
    ['no subcommand', ['sim'], /^usage: mpc-kms sim up[^\n]*\nusage: mpc-kms sim aws/],
    [
      'unknown subcommand',
      ['sim', 'gcp', '--data', data],
      /^usage: mpc-kms sim up[^\n]*\nusage: mpc-kms sim aws/,
    ],
    ['missing --data', ['sim', 'aws'], /--data DIR is required/],
    ['--data without a value', ['sim', 'aws', '--data'], /argument missing/],
    ['unknown flag', ['sim', 'aws', '--data', data, '--port', '1'], /Unknown option '--port'/],
    ['positional', ['sim', 'aws', '--data', data, 'extra'], /unexpected argument "extra"/],
    ['bad region', ['sim', 'aws', '--data', data, '--region', 'Mars'], /--region "Mars"/],
    ['port too large', ['sim', 'aws', '--data', data, '--kms-port', '65536'], /--kms-port must/],
    ['port not a number', ['sim', 'aws', '--data', data, '--secrets-port', '8x'], /--secrets-port/],
    ['negative port', ['sim', 'aws', '--data', data, '--kms-port=-1'], /--kms-port must/],
    [
      'missing --nsm-root',
      ['sim', 'aws', '--data', data, '--nsm-root', join(work, 'absent.pem')],
      /--nsm-root .*absent\.pem: not a readable certificate/,
    ],
    [
      '--nsm-root not a certificate',
      ['sim', 'aws', '--data', data, '--nsm-root', file('junk.pem', '-----BEGIN JUNK-----\n')],
      /junk\.pem: not a readable certificate/,
    ],
    [
      'credentials not JSON',
      ['sim', 'aws', '--data', data, '--credentials', file('c1.json', '[{')],
      /c1\.json: not a readable JSON file/,
    ],
    [
      'credentials missing',
      ['sim', 'aws', '--data', data, '--credentials', join(work, 'absent.json')],
      /absent\.json: not a readable JSON file/,
    ],
    [
      'credentials not a list',
      ['sim', 'aws', '--data', data, '--credentials', file('c2.json', JSON.stringify(credential))],
      /c2\.json: expected a non-empty JSON list/,
    ],
    [
      'credentials empty',
      ['sim', 'aws', '--data', data, '--credentials', file('c3.json', '[]')],
      /c3\.json: expected a non-empty JSON list/,
    ],
    [
      'credential without a principal',
      [
        'sim',
        'aws',
        '--data',
        data,
        '--credentials',
        file('c4.json', JSON.stringify([credential, { ...credential, principal: 7 }])),
      ],
      /c4\.json\[1\]: needs accessKeyId, secretAccessKey, principal/,
    ],
  ];
  // Each case is its own process; run them side by side.
  await Promise.all(
    cases.map(async ([name, args, message]) => {
      const launch = await launchCli(args);
      assert.equal(launch.ready, undefined, name);
      assert.equal(await launch.exited, 2, `${name}: ${launch.stderr()}`);
      assert.match(launch.stderr(), message, name);
      assert.match(launch.stderr(), /usage: mpc-kms sim aws --data DIR/, name);
    }),
  );
  assert.equal(existsSync(data), false, 'a refused command created its data directory');
});

test('without --credentials: DIR/aws-credentials.json is created once (0600) and reused', async () => {
  const data = join(work, 'data');
  const expected = join(data, 'aws-credentials.json');
  const readKeys = (): { accessKeyId: string; secretAccessKey: string; principal: string }[] =>
    JSON.parse(readFileSync(expected, 'utf8'));

  const first = await launchCli(['sim', 'aws', '--data', data]);
  const ready = first.ready;
  assert.ok(ready, first.stderr());
  assert.equal(ready.credentials, expected);
  assert.match(ready.kms, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(ready.secretsManager, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(ready.kms, ready.secretsManager);
  assert.equal(statSync(data).mode & 0o777, 0o700);
  assert.equal(statSync(expected).mode & 0o777, 0o600);
  const created = readKeys();
  assert.equal(created.length, 1);
  const admin = created[0]!;
  assert.match(admin.accessKeyId, /^AKIA[A-Z2-7]{16}$/);
  assert.equal(admin.secretAccessKey.length, 40);
  assert.match(admin.principal, /^arn:aws:iam::\d{12}:role\//);

  // The created credential is the one both services accept.
  await acceptedBy(ready, admin);

  // A second process on a taken port fails with exit 1 instead of hanging on the port it got.
  const taken = new URL(ready.secretsManager).port;
  const clash = await launchCli([
    'sim',
    'aws',
    '--data',
    join(work, 'other'),
    '--secrets-port',
    taken,
  ]);
  assert.equal(clash.ready, undefined);
  assert.equal(await clash.exited, 1, clash.stderr());
  assert.match(clash.stderr(), /^mpc-kms: .*EADDRINUSE/m);

  first.child.kill('SIGTERM');
  assert.equal(await first.exited, 0, first.stderr());
  assert.equal(first.stderr(), '');

  // Restart on the same directory: the same file, byte for byte, hence the same access key.
  const before = readFileSync(expected, 'utf8');
  const second = await launchCli(['sim', 'aws', '--data', data]);
  assert.ok(second.ready, second.stderr());
  assert.equal(second.ready.credentials, expected);
  assert.equal(readFileSync(expected, 'utf8'), before);
  assert.equal(readKeys()[0]!.accessKeyId, admin.accessKeyId);
  await acceptedBy(second.ready, admin);
  second.child.kill('SIGINT');
  assert.equal(await second.exited, 0, second.stderr());
});

test('with --credentials no aws-credentials.json is created', async () => {
  const data = join(work, 'given');
  const credentials = file(
    'given.json',
    JSON.stringify([
      {
        accessKeyId: 'AKIAGIVEN00000000001',
        secretAccessKey: 'given-secret',
        principal: 'arn:aws:iam::111122223333:role/given',
      },
    ]),
  );
  const launch = await launchCli(['sim', 'aws', '--data', data, '--credentials', credentials]);
  assert.ok(launch.ready, launch.stderr());
  assert.equal(launch.ready.credentials, credentials);
  assert.equal(existsSync(join(data, 'aws-credentials.json')), false);
  launch.child.kill('SIGTERM');
  assert.equal(await launch.exited, 0, launch.stderr());
});

/** Both services authenticate `credential`: a KMS call succeeds, Secrets Manager answers. */
async function acceptedBy(
  ready: SimReadyLine,
  credential: { accessKeyId: string; secretAccessKey: string },
): Promise<void> {
  const config = { region: REGION, credentials: credential, maxAttempts: 1 };
  const kms = new KMSClient({ ...config, endpoint: ready.kms });
  const secrets = new SecretsManagerClient({ ...config, endpoint: ready.secretsManager });
  try {
    const random = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 8 }));
    assert.equal(random.Plaintext?.length, 8);
    // Authenticated: the refusal is about the secret, not the signature.
    await assert.rejects(
      secrets.send(new DescribeSecretCommand({ SecretId: 'none' })),
      (e: Error) => e.name === 'ResourceNotFoundException',
    );
  } finally {
    kms.destroy();
    secrets.destroy();
  }
}
