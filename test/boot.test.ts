/**
 * The enclave's boot channel: the deployment document and credentials an enclave takes from its
 * parent (enclave/boot.ts, parent-proxy/boot-server.ts), refused when malformed, and a whole
 * cluster booted that way, with temporary credentials, making a key and signing.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, verify as verifySignature } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import {
  BootError,
  bootConfigDocument,
  fetchBootConfig,
  parentCredentials,
  parseBootConfig,
  parseBootRequest,
  parseCredentials,
} from '../enclave/boot.js';
import { startBootServer } from '../parent-proxy/index.js';
import { FramedStream, listen, type Listener, type StreamAddress } from '../transport/index.js';
import { startProcess, startSimCluster } from './cluster-sim.js';

const PROJECT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { publicKey: coordinatorPublic } = generateKeyPairSync('ed25519');
const DOCUMENT = {
  party: 2,
  listen: 'vsock:any:5000',
  region: 'eu-west-1',
  kms: { endpoint: 'https://kms.eu-west-1.amazonaws.com', via: 'vsock:3:8000' },
  secretsManager: {
    endpoint: 'https://secretsmanager.eu-west-1.amazonaws.com',
    via: 'vsock:3:8001',
  },
  kmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  coordinatorKey: coordinatorPublic.export({ type: 'spki', format: 'pem' }),
};
const TEMPORARY = {
  accessKeyId: 'ASIAEXAMPLE0000000001',
  secretAccessKey: 'temporary/secret+key',
  sessionToken: 'IQoJb3JpZ2luX2VjEJr//session=',
  expiration: '2026-11-26T18:00:00.000Z',
};

function bootRefusal(field: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof BootError, String(error));
    assert.equal(error.code, 'BOOT_INVALID');
    assert.match(error.message, field);
    return true;
  };
}

test('a deployment document is read strictly, and written back the same', () => {
  const config = parseBootConfig(DOCUMENT);
  assert.equal(config.party, 2);
  assert.deepEqual(config.listen, { kind: 'vsock', cid: 0xffffffff, port: 5000 });
  assert.equal(config.maxChannelAgeMs, 7200_000);
  assert.equal(config.roundTimeoutMs, 30_000);
  assert.deepEqual(parseBootConfig(bootConfigDocument(config)), config);

  const broken: [Record<string, unknown>, RegExp][] = [
    [{ ...DOCUMENT, party: 0 }, /party/],
    [{ ...DOCUMENT, party: '2' }, /party/],
    [{ ...DOCUMENT, listen: 'udp:1' }, /listen/],
    [{ ...DOCUMENT, listen: 'vsock:any:port' }, /listen/],
    [{ ...DOCUMENT, region: 'EU WEST' }, /region/],
    [{ ...DOCUMENT, kms: { endpoint: 'ftp://kms', via: 'vsock:3:8000' } }, /kms.endpoint/],
    [{ ...DOCUMENT, kms: { endpoint: 'https://kms/path?x', via: 'vsock:3:8000' } }, /kms/],
    [{ ...DOCUMENT, kms: { ...DOCUMENT.kms, extra: 1 } }, /kms.extra/],
    [{ ...DOCUMENT, secretsManager: null }, /secretsManager/],
    [{ ...DOCUMENT, kmsKeyId: 'key id with spaces' }, /kmsKeyId/],
    [{ ...DOCUMENT, coordinatorKey: 'not a key' }, /coordinatorKey/],
    [
      {
        ...DOCUMENT,
        coordinatorKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
          type: 'spki',
          format: 'pem',
        }),
      },
      /Ed25519/,
    ],
    [{ ...DOCUMENT, maxChannelAgeS: 0 }, /maxChannelAgeS/],
    [{ ...DOCUMENT, roundTimeoutMs: 1.5 }, /roundTimeoutMs/],
    // A trust setting is not the parent's to give: an unknown field, not a quiet no-op.
    [{ ...DOCUMENT, expectedPcrs: { 0: '00' } }, /expectedPcrs is not a known setting/],
    [{ ...DOCUMENT, trustRoot: 'x' }, /trustRoot/],
  ];
  for (const [document, field] of broken) {
    assert.throws(() => parseBootConfig(document), bootRefusal(field), JSON.stringify(document));
  }
  assert.throws(() => parseBootConfig([]), bootRefusal(/object/));
  const { party: _party, ...withoutParty } = DOCUMENT;
  assert.throws(() => parseBootConfig(withoutParty), bootRefusal(/party/));
});

test('the example boot document in nitro/ is one the enclave accepts', () => {
  const example = JSON.parse(
    readFileSync(join(PROJECT, 'nitro', 'enclave-config.example.json'), 'utf8'),
  ) as unknown;
  const config = parseBootConfig(example);
  assert.deepEqual(config.listen, { kind: 'vsock', cid: 0xffffffff, port: 5000 });
  assert.deepEqual(config.kms.via, { kind: 'vsock', cid: 3, port: 8000 });
});

test('credentials are checked without ever echoing a value', () => {
  const parsed = parseCredentials(TEMPORARY);
  assert.equal(parsed.sessionToken, TEMPORARY.sessionToken);
  assert.equal(parsed.expiration?.toISOString(), TEMPORARY.expiration);
  assert.deepEqual(
    parseCredentials({ accessKeyId: 'AKIAEXAMPLE000000001', secretAccessKey: 's' }),
    { accessKeyId: 'AKIAEXAMPLE000000001', secretAccessKey: 's' },
  );
  const secret = 'do-not-print-me';
  for (const bad of [
    { ...TEMPORARY, secretAccessKey: `${secret} with space` },
    { ...TEMPORARY, accessKeyId: 'lowercase' },
    { ...TEMPORARY, expiration: 'tomorrow' },
    { ...TEMPORARY, expiration: '2026-13-45T99:00:00Z' },
    { ...TEMPORARY, sessionToken: 7 },
    { ...TEMPORARY, role: 'admin' },
  ]) {
    assert.throws(
      () => parseCredentials(bad),
      (error: unknown) =>
        error instanceof BootError &&
        error.code === 'BOOT_INVALID' &&
        !error.message.includes(secret),
    );
  }
  assert.equal(parseBootRequest(new TextEncoder().encode('{"get":"config"}')), 'config');
  for (const bad of ['{"get":"secrets"}', '{"get":"config","x":1}', 'get config', '\u00ff']) {
    assert.throws(() => parseBootRequest(new TextEncoder().encode(bad)), BootError);
  }
});

/** Listeners of fake parents, closed when the file's tests end. */
const fakes: Listener[] = [];
after(() => Promise.all(fakes.map((f) => f.close())));

/** A parent that answers every request with `reply` (or closes, for undefined). */
async function fakeParent(dir: string, reply: Uint8Array | undefined): Promise<StreamAddress> {
  const address: StreamAddress = { kind: 'unix', path: join(dir, `fake-${fakes.length}.sock`) };
  const listener = await listen(address, (stream) => {
    const framed = new FramedStream(stream);
    void framed
      .frames()
      .next()
      .then(async () => {
        if (reply !== undefined) await framed.send(reply);
        await framed.close();
      });
  });
  fakes.push(listener);
  return address;
}

test('the parent serves the document and credentials; a lying parent is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mpc-kms-boot-'));
  const address: StreamAddress = { kind: 'unix', path: join(dir, 'boot.sock') };
  const events: Record<string, unknown>[] = [];
  let calls = 0;
  const server = await startBootServer({
    listen: address,
    config: parseBootConfig(DOCUMENT),
    credentials: async () => {
      calls += 1;
      return parseCredentials(TEMPORARY);
    },
    log: (event) => events.push(event),
  });
  try {
    assert.deepEqual(await fetchBootConfig(address), parseBootConfig(DOCUMENT));
    const credentials = await parentCredentials(address)();
    assert.equal(credentials.accessKeyId, TEMPORARY.accessKeyId);
    assert.equal(credentials.sessionToken, TEMPORARY.sessionToken);
    assert.equal(calls, 1);
    // The log says what was served, never the credentials themselves.
    const logged = JSON.stringify(events);
    assert.ok(logged.includes('boot-credentials-served'));
    assert.ok(!logged.includes(TEMPORARY.secretAccessKey) && !logged.includes('IQoJ'));

    const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
    const liars: [Uint8Array | undefined, string][] = [
      [encode({ config: { ...DOCUMENT, party: -1 } }), 'BOOT_INVALID'],
      [encode({ config: DOCUMENT, extra: true }), 'BOOT_INVALID'],
      [encode({ credentials: TEMPORARY }), 'BOOT_INVALID'],
      [new TextEncoder().encode('not json'), 'BOOT_INVALID'],
      [encode({ error: { code: 'NOPE' } }), 'BOOT_REFUSED'],
      [undefined, 'BOOT_UNAVAILABLE'],
      // Larger than any boot frame: refused on its length prefix.
      [new Uint8Array(128 * 1024).fill(0x20), 'BOOT_UNAVAILABLE'],
    ];
    for (const [reply, code] of liars) {
      await assert.rejects(fetchBootConfig(await fakeParent(dir, reply)), (error: unknown) => {
        assert.ok(error instanceof BootError, String(error));
        assert.equal(error.code, code);
        return true;
      });
    }
    await assert.rejects(
      fetchBootConfig({ kind: 'unix', path: join(dir, 'nobody.sock') }),
      (error: unknown) => error instanceof BootError && error.code === 'BOOT_UNAVAILABLE',
    );
  } finally {
    await server.close();
  }
});

test('an enclave whose parent serves an invalid document exits 2; a parent given one, too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mpc-kms-boot-'));
  const parent = await fakeParent(
    dir,
    new TextEncoder().encode(JSON.stringify({ config: { ...DOCUMENT, party: 0 } })),
  );
  const enclave = await startProcess([
    'enclave',
    '--boot',
    `unix:${parent.kind === 'unix' ? parent.path : ''}`,
    '--nsm',
    'nitro',
  ]).catch((error: unknown) => error as Error);
  assert.ok(enclave instanceof Error, 'the enclave must not become ready');
  assert.match(enclave.message, /party must be an integer/);

  const bad = join(dir, 'enclave.json');
  writeFileSync(bad, JSON.stringify({ ...DOCUMENT, expectedPcrs: {} }));
  writeFileSync(join(dir, 'allowlist.json'), JSON.stringify({ allowlist: [] }));
  const proxy = await startProcess([
    'parent-proxy',
    '--enclave',
    `unix:${join(dir, 'e.sock')}`,
    '--coordinator-listen',
    `unix:${join(dir, 'c.sock')}`,
    '--allowlist',
    join(dir, 'allowlist.json'),
    '--boot-listen',
    `unix:${join(dir, 'b.sock')}`,
    '--boot-config',
    bad,
  ]).catch((error: unknown) => error as Error);
  assert.ok(proxy instanceof Error, 'the parent must not start');
  assert.match(proxy.message, /expectedPcrs is not a known setting/);
});

test('a cluster booted from its parents, on temporary credentials, makes a key and signs', async (t) => {
  const sim = await startSimCluster({ parties: 2, boot: true });
  t.after(() => sim.stop());
  for (const [id, party] of sim.parties) {
    assert.equal(party.enclave.ready.party, id);
    assert.deepEqual(party.enclaveArgs.slice(0, 2), ['enclave', '--boot']);
  }
  const cluster = await sim.connect();
  try {
    await cluster.ready([1, 2]);
    const key = await cluster.createKey({
      keyId: 'booted',
      scheme: 'eddsa-ed25519',
      threshold: 2,
      parties: [1, 2],
    });
    const message = new TextEncoder().encode('signed by enclaves that booted from their parents');
    const signed = await cluster.signSchnorr(key, { signers: [1, 2], message });
    const publicKey = key.key.publicKey.toBytes();
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), publicKey]);
    assert.ok(
      verifySignature(
        null,
        message,
        { key: spki, format: 'der', type: 'spki' },
        Buffer.from(signed.output),
      ),
    );
  } finally {
    cluster.close();
  }
  // Every sealing call went out with the session token: the simulator refuses any without it.
  for (const party of sim.parties.values()) {
    assert.ok(party.proxy.stderr().includes('boot-credentials-served'));
  }
});

test('the image boots this way: its entry point takes the boot channel and the Nitro NSM', () => {
  const dockerfile = readFileSync(join(PROJECT, 'nitro', 'Dockerfile'), 'utf8');
  const entry = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile);
  assert.ok(entry, 'an exec-form ENTRYPOINT');
  const argv = JSON.parse(entry[1]!) as string[];
  assert.deepEqual(argv.slice(0, 3), ['node', 'dist/cli/main.js', 'enclave']);
  const flags = new Map<string, string>();
  for (let i = 3; i < argv.length; i += 2) flags.set(argv[i]!, argv[i + 1]!);
  assert.deepEqual(Object.fromEntries(flags), {
    '--boot': 'vsock:3:9000',
    '--nsm': 'nitro',
    '--nsm-helper': '/app/bin/nsm-ioctl',
  });
  // No trust setting is left to a flag the parent could influence, and the base is pinned.
  assert.match(dockerfile, /^ARG NODE_IMAGE=node:[\w.-]+@sha256:[0-9a-f]{64}$/m);
  const unit = readFileSync(
    join(PROJECT, 'nitro', 'systemd', 'mpc-kms-parent-proxy.service'),
    'utf8',
  );
  assert.match(unit, /--boot-listen vsock:any:9000 --boot-config \/etc\/mpc-kms\/enclave\.json/);
});
