/**
 * `mpc-kms parent-proxy` as a child process, over Unix sockets as in the simulator: a forward
 * carries bytes both ways to an allowlisted TCP target (an echo server standing in for KMS); a
 * forward to a target not on the allowlist, or invalid arguments, stop it before it listens;
 * the coordinator link carries frames both ways unchanged, closes when the enclave closes, and
 * a newer coordinator connection replaces an older one; SIGTERM closes everything and exits 0.
 * The allowlist parser's refusals are checked in-process.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parentProxyCommand } from '../cli/parent-proxy.js';
import { ProxyError, parseAllowlist } from '../parent-proxy/index.js';
import { FramedStream, connect, listen, parseAddress } from '../transport/index.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'mpc-kms-proxy-'));
chmodSync(work, 0o700);
const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

/** A TCP server that echoes every byte: the stand-in for KMS behind a forward. */
const echo = createServer((socket) => socket.pipe(socket));
const echoPort = await new Promise<number>((resolve) =>
  echo.listen(0, '127.0.0.1', () => resolve((echo.address() as AddressInfo).port)),
);
after(() => echo.close());

const allowlistFile = join(work, 'allowlist.json');
writeFileSync(
  allowlistFile,
  JSON.stringify({ allowlist: [{ address: '127.0.0.1', port: echoPort }] }),
);

interface Launched {
  readonly child: ChildProcess;
  /** The parsed ready line; undefined if the process exited first. */
  readonly ready: { ready: true; coordinator: string } | undefined;
  readonly exited: Promise<number | null>;
  stderr(): string;
}

/** Starts `mpc-kms parent-proxy ...args` and waits for its ready line or its exit. */
async function launch(args: readonly string[]): Promise<Launched> {
  const child = spawn(process.execPath, [CLI, 'parent-proxy', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  const first = await new Promise<string | undefined>((resolve) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    void exited.then(() => resolve(undefined));
  });
  return {
    child,
    ready: first === undefined ? undefined : JSON.parse(first),
    exited,
    stderr: () => stderr,
  };
}

/** A fresh set of socket paths and the arguments that wire them up. */
function layout(name: string) {
  const sock = (what: string) => join(work, `${name}-${what}.sock`);
  const paths = { enclave: sock('enclave'), coordinator: sock('coord'), kms: sock('kms') };
  const args = [
    '--enclave',
    `unix:${paths.enclave}`,
    '--coordinator-listen',
    `unix:${paths.coordinator}`,
    '--forward',
    `unix:${paths.kms}=127.0.0.1:${echoPort}`,
    '--allowlist',
    allowlistFile,
  ];
  return { paths, args };
}

/** A fake enclave control port: hands out each connection the proxy opens to it. */
async function fakeEnclave(path: string) {
  const pending: Duplex[] = [];
  const waiting: ((stream: Duplex) => void)[] = [];
  const listener = await listen({ kind: 'unix', path }, (stream) => {
    const waiter = waiting.shift();
    if (waiter) waiter(stream);
    else pending.push(stream);
  });
  return {
    listener,
    next: () =>
      new Promise<Duplex>((resolve) => {
        const stream = pending.shift();
        if (stream) resolve(stream);
        else waiting.push(resolve);
      }),
  };
}

const closedEvent = (stream: Duplex) =>
  new Promise<void>((resolve) => (stream.closed ? resolve() : stream.once('close', resolve)));

/** Reads exactly `length` bytes from a raw stream. */
function readBytes(stream: Duplex, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      total += chunk.length;
      if (total >= length) {
        stream.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    stream.on('data', onData);
    stream.once('error', reject);
    stream.once('close', () => reject(new Error(`closed after ${total} of ${length} bytes`)));
  });
}

test('allowlist files are parsed strictly and matched exactly', () => {
  const list = parseAllowlist(
    JSON.stringify({ allowlist: [{ address: 'KMS.us-east-1.amazonaws.com', port: 443 }] }),
  );
  assert.equal(list.isAllowed('kms.us-east-1.amazonaws.com', 443), true);
  assert.equal(list.isAllowed('KMS.US-EAST-1.AMAZONAWS.COM', 443), true);
  assert.equal(list.isAllowed('kms.us-east-1.amazonaws.com', 444), false);
  assert.equal(list.isAllowed('kms.us-east-1.amazonaws.com.', 443), false);
  assert.equal(list.isAllowed('evil.kms.us-east-1.amazonaws.com', 443), false);
  const refused: [string, RegExp][] = [
    ['{', /not JSON/],
    ['[]', /expected an object/],
    ['{}', /"allowlist" must be a list/],
    ['{"allowlist":[],"extra":1}', /unknown key "extra"/],
    ['{"allowlist":[{"address":"a.example"}]}', /exactly "address" and "port"/],
    ['{"allowlist":[{"address":"a.example","port":443,"tls":true}]}', /exactly/],
    ['{"allowlist":[{"address":"a.example","port":"443"}]}', /integer 1..65535/],
    ['{"allowlist":[{"address":"a.example","port":0}]}', /integer 1..65535/],
    ['{"allowlist":[{"address":"a.example","port":65536}]}', /integer 1..65535/],
    ['{"allowlist":[{"address":"*.example","port":443}]}', /host name or IP/],
    ['{"allowlist":[{"address":"a.example:443","port":443}]}', /host name or IP/],
    [
      '{"allowlist":[{"address":"a.example","port":443},{"address":"A.example","port":443}]}',
      /allowlist\[1\]: duplicate entry/,
    ],
  ];
  for (const [text, message] of refused) {
    assert.throws(
      () => parseAllowlist(text),
      (error: unknown) =>
        error instanceof ProxyError &&
        error.code === 'BAD_ALLOWLIST' &&
        message.test(error.message),
      text,
    );
  }
});

test('a forward off the allowlist, or bad arguments, exit 2 before listening', async () => {
  const { paths, args } = layout('refuse');
  const offList = args.map((arg) =>
    arg.startsWith(`unix:${paths.kms}=`) ? `unix:${paths.kms}=127.0.0.1:${echoPort + 1}` : arg,
  );
  const cases: [string, string[], RegExp][] = [
    ['not allowlisted', offList, /target 127\.0\.0\.1:\d+ is not on the allowlist/],
    [
      'missing --enclave',
      args.slice(2),
      /--enclave ADDR is required[^]*usage: mpc-kms parent-proxy/,
    ],
  ];
  await Promise.all(
    cases.map(async ([name, caseArgs, message]) => {
      const run = await launch(caseArgs);
      assert.equal(run.ready, undefined, name);
      assert.equal(await run.exited, 2, name);
      assert.match(run.stderr(), message, name);
    }),
  );
  assert.equal(existsSync(paths.coordinator), false, 'nothing listened');
  assert.equal(existsSync(paths.kms), false, 'nothing listened');
});

test('the argument parser refuses every malformed flag (in-process: no listening starts)', async () => {
  const { args } = layout('args');
  const cases: [string, string[], RegExp][] = [
    ['bad address', ['--enclave', 'vsock:x:1', ...args.slice(2)], /bad address "vsock:x:1"/],
    ['enclave vsock:any', ['--enclave', 'vsock:any:1', ...args.slice(2)], /not an address to/],
    [
      'listen on a CID',
      [...args.slice(0, 2), '--coordinator-listen', 'vsock:3:1', ...args.slice(4)],
      /vsock:any:PORT/,
    ],
    ['bad forward', [...args, '--forward', 'unix:/tmp/x.sock'], /expected LISTEN=HOST:PORT/],
    ['forward port 0', [...args, '--forward', 'unix:/tmp/y.sock=127.0.0.1:0'], /port 1..65535/],
    ['forward v6 unbracketed', [...args, '--forward', 'unix:/tmp/z.sock=::1:443'], /brackets/],
    ['unknown flag', [...args, '--verbose'], /Unknown option '--verbose'/],
    ['positional', [...args, 'extra'], /unexpected argument "extra"/],
    ['no allowlist file', [...args.slice(0, -1), join(work, 'absent.json')], /not readable/],
  ];
  for (const [name, caseArgs, message] of cases) {
    const errors: string[] = [];
    const code = await parentProxyCommand(
      caseArgs,
      () => assert.fail('no ready line'),
      (line) => errors.push(line),
    );
    assert.equal(code, 2, name);
    assert.match(errors.join('\n'), message, name);
  }
});

test('proxy: forward, coordinator link, replacement, enclave close, SIGTERM', async (t) => {
  const { paths, args } = layout('main');
  const enclave = await fakeEnclave(paths.enclave);
  const proxy = await launch(args);
  assert.deepEqual(proxy.ready, { ready: true, coordinator: `unix:${paths.coordinator}` });

  await t.test('a forward carries bytes both ways to the allowlisted target', async () => {
    const kms = await connect(parseAddress(`unix:${paths.kms}`));
    const payload = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) & 0xff));
    const echoed = readBytes(kms, payload.length);
    kms.write(payload);
    assert.deepEqual(await echoed, payload);
    kms.end();
    await closedEvent(kms);
  });

  await t.test('the coordinator link carries frames both ways unchanged', async () => {
    const coordinator = new FramedStream(await connect(parseAddress(proxy.ready!.coordinator)));
    const enclaveSide = new FramedStream(await enclave.next());
    const fromCoordinator = enclaveSide.frames();
    const fromEnclave = coordinator.frames();
    const frames = [new Uint8Array(0), Uint8Array.of(1, 2, 3), new Uint8Array(100_000).fill(9)];
    for (const frame of frames) {
      await coordinator.send(frame);
      assert.deepEqual(Buffer.from((await fromCoordinator.next()).value!), Buffer.from(frame));
      await enclaveSide.send(frame.slice().reverse());
      const back = (await fromEnclave.next()).value!;
      assert.deepEqual(Buffer.from(back), Buffer.from(frame.slice().reverse()));
    }
    // The enclave hangs up: the proxy closes the coordinator's side too.
    await enclaveSide.close();
    assert.deepEqual(await fromEnclave.next(), { value: undefined, done: true });
    await coordinator.closed;
  });

  await t.test('a newer coordinator connection replaces the older one', async () => {
    const older = await connect(parseAddress(proxy.ready!.coordinator));
    const olderEnclave = await enclave.next();
    const newer = await connect(parseAddress(proxy.ready!.coordinator));
    const newerEnclave = await enclave.next();
    await Promise.all([closedEvent(older), closedEvent(olderEnclave)]);
    newer.write('still here');
    assert.equal((await readBytes(newerEnclave, 10)).toString(), 'still here');

    // SIGTERM: both sides of the live link close, and the process exits 0.
    proxy.child.kill('SIGTERM');
    await Promise.all([closedEvent(newer), closedEvent(newerEnclave)]);
    assert.equal(await proxy.exited, 0);
  });

  const events = proxy
    .stderr()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const stopping = events.find((event) => event.event === 'stopping') as {
    stats: { forwards: { accepted: number; bytesToTarget: number; bytesFromTarget: number }[] };
  };
  assert.deepEqual(
    {
      accepted: stopping.stats.forwards[0]!.accepted,
      toTarget: stopping.stats.forwards[0]!.bytesToTarget,
      fromTarget: stopping.stats.forwards[0]!.bytesFromTarget,
    },
    { accepted: 1, toTarget: 300_000, fromTarget: 300_000 },
  );
  assert.ok(events.some((event) => event.event === 'coordinator_replaced'));
  assert.equal(events.at(-1)!.event, 'closed');
  assert.equal(existsSync(paths.coordinator), false, 'socket files removed on close');
  await enclave.listener.close();
});
