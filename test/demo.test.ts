/**
 * `mpc-kms demo` as a user runs it: a child process that starts its own system (no --url),
 * walks through the REST API and stops it. The walkthrough checks itself; this test holds it to
 * exit 0, a verification line per scheme, well-formed addresses, and a removed temporary
 * directory. Usage errors and an unreachable system are checked without starting anything.
 *
 * The full run takes 30-60 s (ECDSA key generation and refresh make safe primes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { checksumAddress } from '../coordinator/chains/addresses.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

function run(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'demo', ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('mpc-kms demo starts its own system, every check passes, and it cleans up', async () => {
  const { code, stdout, stderr } = await run([]);
  assert.equal(code, 0, `exit ${code}\n${stdout}\n${stderr}`);
  for (const line of [
    '✓ verified by node:crypto Ed25519 (RFC 8032)',
    '✓ verified by node:crypto Ed25519 (RFC 8032) under the m/0/7 key',
    '✓ verified by @noble/curves schnorr.verify (BIP340)',
    '✓ verified by @noble/curves schnorr.verify (BIP340) under the m/0/7 key',
    '✓ verified by node:crypto ECDSA (SHA-256, DER), low-s',
    '✓ verified by node:crypto ECDSA (SHA-256, DER) under the m/0/7 key, low-s',
    '✓ the admin token may not sign: 403 FORBIDDEN',
    '✓ epoch 1, public key unchanged (GET /v1/keys/{id})',
    '✓ hash chain intact from the genesis hash to the head (verifyChain)',
    '✓ party 3: document verifies (COSE signature, chain to the NSM root, PCR0-2)',
  ]) {
    assert.ok(stdout.includes(line), `missing "${line}"\n${stdout}`);
  }
  assert.match(stdout, /✓ recovery id [01] recovers the key/);
  assert.match(stdout, /✓ mpc-kms audit verify: \d+ entries, \d+ enclave acknowledgements verify/);
  assert.match(stdout, /\nall \d+ checks passed/);
  assert.doesNotMatch(stdout, /✗|skipped/);

  // Addresses as a wallet would show them.
  assert.match(stdout, /Solana +[1-9A-HJ-NP-Za-km-z]{32,44} \(root\)/);
  assert.match(stdout, /Taproot +bc1p[02-9ac-hj-np-z]{58} \(m\/0\/7\)/);
  const ethereum = /Ethereum +(0x[0-9a-fA-F]{40}) /.exec(stdout)?.[1];
  assert.ok(ethereum, stdout);
  const bytes = new Uint8Array(Buffer.from(ethereum.slice(2), 'hex'));
  assert.equal(checksumAddress(bytes), ethereum, 'EIP-55 checksummed');

  const dir = /starting a local system \(3 enclaves\) in (\S+)/.exec(stdout)?.[1];
  assert.ok(dir, stdout);
  assert.equal(existsSync(dir), false, `${dir} was left behind`);
});

test('mpc-kms demo: usage errors exit 2', async () => {
  const noToken = { ...process.env };
  delete noToken.MPC_KMS_ADMIN_TOKEN;
  for (const [args, message] of [
    [['--token', 't'], '--token and --data go with --url'],
    [['--data', 'd'], '--token and --data go with --url'],
    [['--url', 'http://127.0.0.1:1'], '--url needs --token TOKEN or MPC_KMS_ADMIN_TOKEN'],
    [['--url', 'ftp://127.0.0.1', '--token', 't'], '--url must be an http or https URL'],
    [['--url', 'not a url', '--token', 't'], 'Invalid URL'],
    [['--bogus'], "Unknown option '--bogus'"],
    [['extra'], 'unexpected argument "extra"'],
  ] as const) {
    const { code, stderr } = await run(args, noToken);
    assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
    assert.ok(stderr.includes(message), `${args.join(' ')}: ${stderr}`);
    assert.ok(stderr.includes('usage: mpc-kms demo'), stderr);
  }
});

test('mpc-kms demo --url: an unreachable system fails (exit 1), and missing trust is said', async () => {
  // A port that was free a moment ago: nothing answers there.
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  const { code, stdout } = await run([
    '--url',
    `http://127.0.0.1:${port}`,
    '--token',
    't',
    '--data',
    '/nonexistent/mpc-kms',
  ]);
  assert.equal(code, 1, stdout);
  assert.match(stdout, /not found: \/nonexistent\/mpc-kms\/nsm\/root\.pem/);
  assert.match(stdout, /✗ the walkthrough stopped: /);
  assert.match(stdout, /1 of 1 checks FAILED/);
});
