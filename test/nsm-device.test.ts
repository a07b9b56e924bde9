/**
 * The enclave's NSM client (enclave/nsm-device.ts) end to end: the real C helper
 * (nitro/nsm/nsm-ioctl.c) is compiled and run, and only the kernel device is replaced, by an
 * LD_PRELOAD library (test/fixtures/nsm-shim.c) that forwards /dev/nsm's ioctl to a Unix socket
 * served here. The server plays the NSM: it decodes each request as the NSM would and answers
 * with a SimulatedNsm document, an NSM error, or garbage, so every path from the CBOR on the
 * helper's stdin to the verifier's verdict is the production one.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Decoder } from 'cbor-x';
import { SimulatedNsm, cbor, verifyAttestation } from '../attestation/index.js';
import { NSM_RESPONSE_MAX_SIZE, NitroNsm, NsmError, type NsmErrorCode } from '../enclave/index.js';

const execFileAsync = promisify(execFile);

const PROJECT = fileURLToPath(new URL('../..', import.meta.url));
const HELPER_SOURCE = join(PROJECT, 'nitro', 'nsm', 'nsm-ioctl.c');
const SHIM_SOURCE = join(PROJECT, 'test', 'fixtures', 'nsm-shim.c');
const CFLAGS = ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror'];

const pcr = (fill: number): Uint8Array => new Uint8Array(48).fill(fill);
const PCRS = new Map([
  [0, pcr(1)],
  [1, pcr(2)],
  [2, pcr(3)],
]);
const NSM = SimulatedNsm.create({ pcrs: PCRS, moduleId: 'nsm-device-test' });

const bytes = (length: number, fill: number): Uint8Array => new Uint8Array(length).fill(fill);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const text = (s: string): string => Buffer.from(s).toString('hex');

let dir = '';
let helper = '';
let shim = '';
let sockets = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mpc-kms-nsm-'));
  helper = join(dir, 'nsm-ioctl');
  shim = join(dir, 'nsm-shim.so');
  await Promise.all([
    execFileAsync('gcc', [...CFLAGS, '-o', helper, HELPER_SOURCE]),
    execFileAsync('gcc', [...CFLAGS, '-fPIC', '-shared', '-o', shim, SHIM_SOURCE, '-ldl']),
  ]);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// The device double

/** What the device does with one raw request: answer bytes, or never answer. */
type Behaviour = (request: Uint8Array) => Uint8Array | 'hang' | Promise<Uint8Array | 'hang'>;

interface Device {
  readonly path: string;
  /** Every raw request, in arrival order. */
  readonly requests: Uint8Array[];
  /** Most helper connections (open /dev/nsm) at once. */
  readonly maxOpen: number;
  behaviour: Behaviour;
  close(): Promise<void>;
}

async function startDevice(behaviour: Behaviour): Promise<Device> {
  const path = join(dir, `nsm-${sockets++}.sock`);
  const connections = new Set<Socket>();
  let open = 0;
  const device = {
    path,
    requests: [] as Uint8Array[],
    maxOpen: 0,
    behaviour,
    close: async (): Promise<void> => {
      for (const socket of connections) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((socket) => {
    connections.add(socket);
    device.maxOpen = Math.max(device.maxOpen, ++open);
    socket.on('close', () => {
      connections.delete(socket);
      open--;
    });
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (pending.length < 4 || pending.length < 4 + pending.readUInt32BE(0)) return;
      const request = new Uint8Array(pending.subarray(4, 4 + pending.readUInt32BE(0)));
      pending = Buffer.alloc(0);
      device.requests.push(request);
      void Promise.resolve(device.behaviour(request)).then((answer) => {
        if (answer === 'hang' || socket.destroyed) return;
        const header = Buffer.alloc(4);
        header.writeUInt32BE(answer.length);
        socket.write(Buffer.concat([header, answer]));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return device;
}

const strictDecoder = new Decoder({ mapsAsObjects: false, useRecords: false });

/** The NSM's reading of an Attestation request: exactly three fields, each bytes or null. */
function readRequest(request: Uint8Array): {
  publicKey: Uint8Array | null;
  userData: Uint8Array | null;
  nonce: Uint8Array | null;
} | null {
  const outer: unknown = strictDecoder.decode(request);
  if (!(outer instanceof Map) || outer.size !== 1) return null;
  const inner: unknown = outer.get('Attestation');
  if (!(inner instanceof Map) || inner.size !== 3) return null;
  const get = (key: string): Uint8Array | null | undefined => {
    const value: unknown = inner.get(key);
    if (value === null) return null;
    return value instanceof Uint8Array ? new Uint8Array(value) : undefined;
  };
  const [publicKey, userData, nonce] = [get('public_key'), get('user_data'), get('nonce')];
  if (publicKey === undefined || userData === undefined || nonce === undefined) return null;
  return { publicKey, userData, nonce };
}

const answerDocument = (document: Uint8Array): Uint8Array =>
  cbor.map([[cbor.text('Attestation'), cbor.map([[cbor.text('document'), cbor.bytes(document)]])]]);
const answerError = (code: string): Uint8Array => cbor.map([[cbor.text('Error'), cbor.text(code)]]);

/** An honest NSM: binds what it was asked to bind, refuses what it cannot read. */
const honest: Behaviour = (request) => {
  const fields = readRequest(request);
  return fields === null ? answerError('InvalidArgument') : answerDocument(NSM.attest(fields));
};

function deviceEnv(device: Device | null): Record<string, string> {
  return device === null
    ? { LD_PRELOAD: shim }
    : { LD_PRELOAD: shim, MPC_KMS_NSM_SHIM: device.path };
}

async function client(device: Device | null, timeoutMs?: number): Promise<NitroNsm> {
  return NitroNsm.create({
    helperPath: helper,
    env: deviceEnv(device),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
}

async function rejectsWith(
  promise: Promise<unknown>,
  code: NsmErrorCode,
  extra?: (err: NsmError) => void,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof NsmError, `expected NsmError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    extra?.(err);
    return true;
  });
}

function verifyBound(
  document: Uint8Array,
  expected: { publicKey: Uint8Array | null; userData: Uint8Array | null; nonce: Uint8Array | null },
): void {
  const result = verifyAttestation(document, {
    root: NSM.rootDer,
    expectedPcrs: PCRS,
    ...(expected.nonce === null ? {} : { nonce: expected.nonce }),
  });
  assert.ok(result.valid, result.valid ? '' : `${result.error.code}: ${result.error.message}`);
  assert.deepEqual(result.document.publicKey, expected.publicKey);
  assert.deepEqual(result.document.userData, expected.userData);
  assert.deepEqual(result.document.nonce, expected.nonce);
}

/** Runs the helper directly: exit code, stdout and stderr. */
async function runHelper(
  args: string[],
  input: Uint8Array,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const child = spawn(helper, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => stdout.push(c));
  child.stderr.on('data', (c: Buffer) => stderr.push(c));
  child.stdin.on('error', () => {});
  child.stdin.end(input);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString() };
}

// ---------------------------------------------------------------------------------------------
// Documents through the real helper

test('the request is the NSM API encoding and the document binds exactly what was asked', async () => {
  const device = await startDevice(honest);
  try {
    const nsm = await client(device);
    const asked = { publicKey: Uint8Array.of(3), userData: Uint8Array.of(1, 2), nonce: null };
    const document = await nsm.attest(asked);
    // serde_cbor of Request::Attestation { user_data, nonce, public_key }, written out by hand.
    const expected = [
      ['a1', '6b', text('Attestation')], // {"Attestation":
      ['a3', '69', text('user_data'), '42', '0102'], //  {"user_data": h'0102',
      ['65', text('nonce'), 'f6'], //   "nonce": null,
      ['6a', text('public_key'), '41', '03'], //   "public_key": h'03'}}
    ]
      .flat()
      .join('');
    assert.equal(device.requests.length, 1);
    assert.equal(hex(device.requests[0]!), expected);
    verifyBound(document, asked);
  } finally {
    await device.close();
  }
});

test('absent fields are sent as null and come back null; the largest fields fit', async () => {
  const device = await startDevice(honest);
  try {
    const nsm = await client(device);
    verifyBound(await nsm.attest({}), { publicKey: null, userData: null, nonce: null });
    const largest = {
      publicKey: bytes(1024, 0xa),
      userData: bytes(512, 0xb),
      nonce: bytes(512, 0xc),
    };
    verifyBound(await nsm.attest(largest), largest);
    const empty = { publicKey: null, userData: new Uint8Array(0), nonce: new Uint8Array(0) };
    verifyBound(await nsm.attest(empty), empty);
  } finally {
    await device.close();
  }
});

test('concurrent calls reach the device one at a time, in call order, each bound to its own', async () => {
  const device = await startDevice(async (request) => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    return honest(request);
  });
  try {
    const nsm = await client(device);
    const asks = Array.from({ length: 6 }, (_, i) => ({
      publicKey: bytes(65, 0x40 + i),
      userData: bytes(32, 0x10 + i),
      nonce: bytes(16, 0x20 + i),
    }));
    const documents = await Promise.all(asks.map((ask) => nsm.attest(ask)));
    assert.equal(device.maxOpen, 1);
    assert.deepEqual(
      device.requests.map((r) => readRequest(r)?.nonce),
      asks.map((a) => a.nonce),
    );
    documents.forEach((document, i) => verifyBound(document, asks[i]!));
  } finally {
    await device.close();
  }
});

test('a caller changing its arrays after calling cannot change what is sent', async () => {
  const device = await startDevice(honest);
  try {
    const nsm = await client(device);
    const first = nsm.attest({ nonce: bytes(8, 1) });
    const nonce = bytes(8, 2);
    const second = nsm.attest({ nonce });
    nonce.fill(9); // while the request waits behind the first
    await first;
    verifyBound(await second, { publicKey: null, userData: null, nonce: bytes(8, 2) });
  } finally {
    await device.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Refusals and failures

test('no device: NSM_UNAVAILABLE, with or without the shim', async () => {
  await rejectsWith((await client(null)).attest({}), 'NSM_UNAVAILABLE');
  if (!existsSync('/dev/nsm')) {
    const bare = await NitroNsm.create({ helperPath: helper });
    await rejectsWith(bare.attest({}), 'NSM_UNAVAILABLE', (err) => {
      assert.match(err.message, /\/dev\/nsm/);
    });
  }
});

test('the NSM refusing: NSM_REFUSED with its error code, and no request bytes in the message', async () => {
  const device = await startDevice(() => answerError('InvalidArgument'));
  try {
    const nsm = await client(device);
    const userData = bytes(40, 0x5a);
    await rejectsWith(nsm.attest({ userData }), 'NSM_REFUSED', (err) => {
      assert.equal(err.nsmCode, 'InvalidArgument');
      assert.deepEqual(err.toJSON(), {
        code: 'NSM_REFUSED',
        message: err.message,
        nsmCode: 'InvalidArgument',
      });
      assert.ok(!err.message.includes(hex(userData).slice(0, 16)));
    });
    device.behaviour = () => answerError('InputTooLarge');
    await rejectsWith(nsm.attest({}), 'NSM_REFUSED', (err) => {
      assert.equal(err.nsmCode, 'InputTooLarge');
    });
  } finally {
    await device.close();
  }
});

test('answers that are not an Attestation response: NSM_MALFORMED', async () => {
  const device = await startDevice(honest);
  const document = NSM.attest({});
  const doc = cbor.bytes(Uint8Array.of(1, 2, 3));
  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['not CBOR', Uint8Array.of(0xff, 0x00, 0x13)],
    ['truncated', answerDocument(document).subarray(0, 100)],
    ['trailing bytes', Buffer.concat([answerDocument(document), Uint8Array.of(0)])],
    ['a bare document', document],
    ['another variant', cbor.map([[cbor.text('DescribeNSM'), cbor.map([])]])],
    ['a unit variant', cbor.text('LockPCRs')],
    [
      'document as text',
      cbor.map([[cbor.text('Attestation'), cbor.map([[cbor.text('document'), cbor.text('x')]])]]),
    ],
    ['empty document', answerDocument(new Uint8Array(0))],
    [
      'an extra field',
      cbor.map([
        [
          cbor.text('Attestation'),
          cbor.map([
            [cbor.text('document'), doc],
            [cbor.text('extra'), cbor.uint(1)],
          ]),
        ],
      ]),
    ],
    [
      'a duplicate key',
      Buffer.concat([
        Uint8Array.of(0xa2),
        cbor.text('Error'),
        cbor.text('InternalError'),
        cbor.text('Error'),
        cbor.text('InvalidArgument'),
      ]),
    ],
    [
      'two variants',
      cbor.map([
        [cbor.text('Error'), cbor.text('InternalError')],
        [cbor.text('Attestation'), cbor.map([[cbor.text('document'), doc]])],
      ]),
    ],
    ['an error code that is a number', cbor.map([[cbor.text('Error'), cbor.uint(1)]])],
    [
      'an error code that is not a name',
      cbor.map([[cbor.text('Error'), cbor.text('no such\ncode')]]),
    ],
    ['indefinite length', Uint8Array.of(0xbf, 0x65, ...Buffer.from('Error'), 0x61, 0x41, 0xff)],
    // Longer than the driver's buffer: cut to 0x3000 as the driver cuts it, so never complete.
    ['oversize', answerDocument(bytes(NSM_RESPONSE_MAX_SIZE, 7))],
  ];
  try {
    const nsm = await client(device);
    for (const [name, answer] of cases) {
      device.behaviour = () => answer;
      await rejectsWith(nsm.attest({}), 'NSM_MALFORMED', (err) => {
        assert.ok(!/[^\x20-\x7e]/.test(err.message), `${name}: printable message`);
      });
    }
  } finally {
    await device.close();
  }
});

test('a response of exactly the driver maximum is read whole', async () => {
  // 1 (map) + 12 ("Attestation") + 1 (map) + 9 ("document") + 3 (bytes header) = 26 bytes.
  const document = bytes(NSM_RESPONSE_MAX_SIZE - 26, 0x42);
  const answer = answerDocument(document);
  assert.equal(answer.length, NSM_RESPONSE_MAX_SIZE);
  const device = await startDevice(() => answer);
  try {
    assert.deepEqual(await (await client(device)).attest({}), document);
  } finally {
    await device.close();
  }
});

test('fields out of range are refused before any helper runs', async () => {
  const device = await startDevice(honest);
  try {
    const nsm = await client(device);
    const refused = [
      { userData: bytes(513, 1) },
      { nonce: bytes(513, 1) },
      { publicKey: bytes(1025, 1) },
      { publicKey: new Uint8Array(0) },
      { userData: 'text' as unknown as Uint8Array },
      { nonce: [1, 2, 3] as unknown as Uint8Array },
    ];
    for (const request of refused) {
      await rejectsWith(nsm.attest(request), 'NSM_INVALID_REQUEST');
    }
    await rejectsWith(nsm.attest(null as never), 'NSM_INVALID_REQUEST');
    assert.equal(device.requests.length, 0);
    assert.equal(device.maxOpen, 0);
  } finally {
    await device.close();
  }
});

test('a missing helper, a relative path or a bad timeout is refused with a clear code', async () => {
  await rejectsWith(NitroNsm.create({ helperPath: join(dir, 'absent') }), 'NSM_UNAVAILABLE');
  await rejectsWith(NitroNsm.create({ helperPath: dir }), 'NSM_UNAVAILABLE');
  await rejectsWith(NitroNsm.create({ helperPath: 'nsm-ioctl' }), 'NSM_CONFIG_INVALID');
  await rejectsWith(NitroNsm.create({ helperPath: helper, timeoutMs: 0 }), 'NSM_CONFIG_INVALID');
  await rejectsWith(NitroNsm.create({ helperPath: helper, timeoutMs: 1.5 }), 'NSM_CONFIG_INVALID');

  // A helper that disappears after the enclave started.
  const doomed = join(dir, 'nsm-ioctl-doomed');
  await copyFile(helper, doomed);
  const nsm = await NitroNsm.create({ helperPath: doomed, env: deviceEnv(null) });
  await rm(doomed);
  await rejectsWith(nsm.attest({}), 'NSM_UNAVAILABLE');
});

test('a device that never answers: NSM_TIMEOUT, and the next request still goes through', async () => {
  let calls = 0;
  const device = await startDevice((request) => (calls++ === 0 ? 'hang' : honest(request)));
  try {
    // Generous enough that the second, honest request fits even on a loaded CI machine.
    const nsm = await client(device, 2000);
    const started = Date.now();
    await rejectsWith(nsm.attest({ nonce: bytes(4, 1) }), 'NSM_TIMEOUT');
    assert.ok(Date.now() - started < 10_000);
    verifyBound(await nsm.attest({ nonce: bytes(4, 2) }), {
      publicKey: null,
      userData: null,
      nonce: bytes(4, 2),
    });
  } finally {
    await device.close();
  }
});

test('a device that hangs up mid-request: NSM_FAILED (the ioctl failed)', async () => {
  const device = await startDevice(() => 'hang');
  device.behaviour = () => {
    void device.close();
    return 'hang';
  };
  const nsm = await client(device);
  await rejectsWith(nsm.attest({}), 'NSM_FAILED', (err) => {
    assert.match(err.message, /ioctl/);
  });
});

// ---------------------------------------------------------------------------------------------
// The helper on its own

test('the helper: refuses an oversize or empty request and arguments, passes 4096 bytes', async () => {
  const device = await startDevice(() => answerError('InvalidArgument'));
  try {
    const env = deviceEnv(device);
    const oversize = await runHelper([], bytes(0x1001, 0xa1), env);
    assert.equal(oversize.code, 5);
    assert.equal(oversize.stdout.length, 0);
    assert.match(oversize.stderr, /larger than 4096/);
    assert.equal((await runHelper([], new Uint8Array(0), env)).code, 5);
    assert.equal((await runHelper(['extra'], bytes(1, 0), env)).code, 2);
    assert.equal(device.requests.length, 0);

    const exact = await runHelper([], bytes(0x1000, 0xa1), env);
    assert.equal(exact.code, 0);
    assert.deepEqual(new Uint8Array(exact.stdout), answerError('InvalidArgument'));
    assert.equal(device.requests.length, 1);
    assert.equal(device.requests[0]!.length, 0x1000);

    const absent = await runHelper([], bytes(1, 0), deviceEnv(null));
    assert.equal(absent.code, 3);
    assert.match(absent.stderr, /\/dev\/nsm/);
  } finally {
    await device.close();
  }
});
