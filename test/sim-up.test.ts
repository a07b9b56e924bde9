/**
 * `mpc-kms sim up` exactly as a user starts it: a child process, driven only through HTTP. Keys
 * of every scheme sign and verify independently, derivation equals BIP32, refresh keeps the
 * key; a restart on the same data directory reloads every key; a process killed with SIGKILL
 * is restarted by the supervisor (meanwhile 2-of-3 keys sign and 3-of-3 keys answer 503); a
 * shutdown leaves no process behind; and an enclave bundle changed after the key policies were
 * made cannot unseal, until `--upgrade` admits it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { HDKey } from '@scure/bip32';
import { ENCLAVE_FOLDERS } from '../enclave/bundle.js';
import { BUNDLE } from './cluster-sim.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const DATA = mkdtempSync(join(tmpdir(), 'mpc-kms-simup-'));
let running: { child: ChildProcess; url: string; token: string; stderr: () => string } | null =
  null;

after(async () => {
  if (running) await stop();
});

async function start(extra: string[] = []) {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'sim',
      'up',
      '--parties',
      '3',
      '--threshold',
      '2',
      '--port',
      '0',
      '--data',
      DATA,
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  let token = '';
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (line.startsWith('admin token: ')) token = line.slice('admin token: '.length);
      if (line.startsWith('mpc-kms ready: ')) resolve(line.slice('mpc-kms ready: '.length));
    });
    child.once('exit', (code) => reject(new Error(`sim up exited ${code}: ${stderr}`)));
  });
  running = { child, url, token, stderr: () => stderr };
  return running;
}

async function stop(): Promise<void> {
  const child = running!.child;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  running = null;
  // No orphan: every process the simulator started is gone.
  for (const [name, pid] of Object.entries(pids())) {
    if (pid !== null) assert.equal(alive(pid), false, `${name} (${pid}) outlived sim up`);
  }
}

function pids(): Record<string, number | null> {
  return JSON.parse(readFileSync(join(DATA, 'pids.json'), 'utf8')) as Record<string, number | null>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function call(method: string, path: string, body?: unknown, token = running!.token) {
  const response = await fetch(`${running!.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, checked by field
  return { status: response.status, body: (text ? JSON.parse(text) : null) as any };
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const health = async () => (await call('GET', '/healthz')).body.status as string;

interface Keys {
  ed: { id: string; publicKey: string };
  bip: { id: string; publicKey: string };
  ecdsa: { id: string; publicKey: string; chainCode: string };
  ed3: { id: string; publicKey: string };
  signer: string;
}
let keys: Keys;

/** Signs with every key and checks each signature with an independent verifier. */
async function signAll(k: Keys): Promise<void> {
  const message = randomBytes(40);
  const digest = createHash('sha256').update(message).digest();
  const ed = await call(
    'POST',
    `/v1/keys/${k.ed.id}/sign`,
    { message: message.toString('hex') },
    k.signer,
  );
  assert.equal(ed.status, 200, JSON.stringify(ed.body));
  const edKey = createPublicKey({
    key: Buffer.concat([
      Buffer.from('302a300506032b6570032100', 'hex'),
      Buffer.from(k.ed.publicKey, 'hex'),
    ]),
    format: 'der',
    type: 'spki',
  });
  assert.ok(verify(null, message, edKey, Buffer.from(ed.body.signature, 'hex')));

  const bip = await call(
    'POST',
    `/v1/keys/${k.bip.id}/sign`,
    { digest: digest.toString('hex') },
    k.signer,
  );
  assert.ok(
    schnorr.verify(
      Buffer.from(bip.body.signature, 'hex'),
      digest,
      Buffer.from(k.bip.publicKey, 'hex'),
    ),
  );

  const ec = await call(
    'POST',
    `/v1/keys/${k.ecdsa.id}/sign`,
    { digest: digest.toString('hex') },
    k.signer,
  );
  assert.equal(ec.status, 200, JSON.stringify(ec.body));
  assert.ok(
    secp256k1.verify(
      Buffer.from(ec.body.signature, 'hex'),
      digest,
      Buffer.from(k.ecdsa.publicKey, 'hex'),
      { prehash: false },
    ),
  );
}

test('sim up: keys of every scheme sign, derive as BIP32 and refresh', async () => {
  await start();
  assert.equal(await health(), 'ok');
  const create = async (scheme: string, threshold = 2) => {
    const r = await call('POST', '/v1/keys', { scheme, threshold, parties: 3 });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body;
  };
  const ed = await create('eddsa-ed25519');
  const bip = await create('schnorr-secp256k1-bip340');
  const ecdsa = await create('ecdsa-secp256k1');
  const ed3 = await create('eddsa-ed25519', 3);
  const signer = (
    await call('POST', '/v1/tokens', {
      name: 'test',
      role: 'signer',
      keyIds: [ed.id, bip.id, ecdsa.id, ed3.id],
    })
  ).body.token as string;
  keys = { ed, bip, ecdsa, ed3, signer };
  await signAll(keys);

  const derived = await call('POST', `/v1/keys/${ecdsa.id}/derive`, { path: 'm/0/7' }, signer);
  const hd = new HDKey({
    publicKey: Buffer.from(ecdsa.publicKey, 'hex'),
    chainCode: Buffer.from(ecdsa.chainCode, 'hex'),
  });
  assert.equal(derived.body.publicKey, Buffer.from(hd.derive('m/0/7').publicKey!).toString('hex'));

  const refreshed = await call('POST', `/v1/keys/${ed.id}/refresh`, {});
  assert.equal(refreshed.body.epoch, 1);
  assert.equal((await call('GET', `/v1/keys/${ed.id}`)).body.publicKey, ed.publicKey);
  await signAll(keys);
  await stop();
});

test('a restart on the same data directory reloads every key: the enclaves unseal and sign', async () => {
  await start();
  await signAll(keys);
});

test('an enclave killed with SIGKILL: 2-of-3 keys still sign, 3-of-3 answers 503, then the supervisor heals it', async () => {
  const victim = pids()['enclave 3']!;
  process.kill(victim, 'SIGKILL');
  await waitFor(async () => (await health()) !== 'ok', 5000);
  const refused = await call(
    'POST',
    `/v1/keys/${keys.ed3.id}/sign`,
    { message: '01' },
    keys.signer,
  );
  assert.equal(refused.status, 503, JSON.stringify(refused.body));
  assert.deepEqual(refused.body.error.details.missing, [3]);
  const signed = await call('POST', `/v1/keys/${keys.ed.id}/sign`, { message: '01' }, keys.signer);
  assert.equal(signed.status, 200, JSON.stringify(signed.body));
  await waitFor(async () => (await health()) === 'ok');
  assert.notEqual(pids()['enclave 3'], victim);
  const healed = await call('POST', `/v1/keys/${keys.ed3.id}/sign`, { message: '01' }, keys.signer);
  assert.equal(healed.status, 200, JSON.stringify(healed.body));
  await stop();
});

test('a changed enclave bundle cannot unseal the shares until --upgrade admits its measurement', async () => {
  const changed = mkdtempSync(join(tmpdir(), 'mpc-kms-changed-bundle-'));
  for (const folder of ENCLAVE_FOLDERS)
    cpSync(join(BUNDLE, folder), join(changed, folder), { recursive: true });
  appendFileSync(join(changed, 'enclave', 'runner.js'), '\n// a change to the enclave image\n');

  const sim = await start(['--bundle', changed]);
  assert.match(sim.stderr(), /bundle changed/);
  const refused = await call('POST', `/v1/keys/${keys.ed.id}/sign`, { message: '01' }, keys.signer);
  assert.notEqual(refused.status, 200);
  assert.match(JSON.stringify(refused.body), /KMS_REFUSED|AccessDenied/);
  await stop();

  await start(['--bundle', changed, '--upgrade']);
  await signAll(keys);
  await stop();
});
