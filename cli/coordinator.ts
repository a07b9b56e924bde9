/**
 * `mpc-kms coordinator`: the REST API in front of the enclaves.
 *
 *   mpc-kms coordinator --data DIR [--host H] [--port P] [--database-url URL]
 *     --party ID=ADDR... --identity-key PEM --trust-root PEM [--expected-pcrs FILE]
 *     [--presign-pool N]
 *
 * `--party` names each party's parent proxy (its coordinator address, e.g. `tcp:10.0.1.5:7000`
 * or `unix:PATH`); `--identity-key` is the coordinator's Ed25519 private key (PEM), whose public
 * half every enclave is configured with; `--trust-root` anchors the enclaves' attestation
 * documents (AWS's Nitro root in production, the simulator's root locally) and
 * `--expected-pcrs` (JSON `{"0": hex, "1": hex, "2": hex}`) is the image they must report.
 * `--presign-pool` (default 16, 0 for none) is how many ECDSA presignatures are kept ready per key
 * and signer set in use (coordinator/presign-pool.ts). `DATABASE_URL` may stand for `--database-url`; `MPC_KMS_ADMIN_TOKEN`, when set, is ensured as
 * an admin token. Prints `{"ready":true,"url":URL}` when serving; logs JSON lines on stderr;
 * SIGINT/SIGTERM stop it with exit 0; bad arguments exit 2.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fromHex } from '../protocol/bytes.js';
import { MAX_PARTY_ID } from '../protocol/envelope.js';
import { createLogger } from '../coordinator/logger.js';
import { startCoordinator, type CoordinatorConfig } from '../coordinator/main.js';
import { parseAddress, type StreamAddress } from '../transport/index.js';

export const COORDINATOR_USAGE =
  'usage: mpc-kms coordinator --data DIR [--host H] [--port P] [--database-url URL] ' +
  '--party ID=ADDR... --identity-key PEM --trust-root PEM [--expected-pcrs FILE] [--presign-pool N]';

export async function coordinatorCommand(
  args: readonly string[],
  out: (line: string) => void,
  err: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let config: CoordinatorConfig;
  try {
    config = parseCoordinatorArgs(args, env);
  } catch (error) {
    err(`mpc-kms coordinator: ${error instanceof Error ? error.message : String(error)}`);
    err(COORDINATOR_USAGE);
    return 2;
  }
  const coordinator = await startCoordinator(config);
  const stopped = new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  out(JSON.stringify({ ready: true, url: coordinator.url }));
  await stopped;
  await coordinator.close();
  return 0;
}

function parseCoordinatorArgs(args: readonly string[], env: NodeJS.ProcessEnv): CoordinatorConfig {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      data: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8080' },
      'database-url': { type: 'string' },
      party: { type: 'string', multiple: true, default: [] },
      'identity-key': { type: 'string' },
      'trust-root': { type: 'string' },
      'expected-pcrs': { type: 'string' },
      'presign-pool': { type: 'string', default: '16' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
  if (!values.data) throw new Error('--data DIR is required');
  if (!values['identity-key']) throw new Error('--identity-key PEM is required');
  if (!values['trust-root']) throw new Error('--trust-root PEM is required');
  const port = Number(values.port);
  if (!/^\d{1,5}$/.test(values.port) || port > 65535) throw new Error('--port must be a port');
  const parents = new Map<number, StreamAddress>();
  for (const spec of values.party) {
    const at = spec.indexOf('=');
    const id = Number(spec.slice(0, at));
    if (at < 1 || !Number.isInteger(id) || id < 1 || id > MAX_PARTY_ID || parents.has(id)) {
      throw new Error(`--party ${spec}: expected ID=ADDR with a new id in 1..${MAX_PARTY_ID}`);
    }
    parents.set(id, parseAddress(spec.slice(at + 1)));
  }
  if (parents.size === 0) throw new Error('at least one --party ID=ADDR is required');
  const root = new Uint8Array(new X509Certificate(readFileSync(values['trust-root'])).raw);
  const expectedPcrs = new Map<number, Uint8Array>();
  if (values['expected-pcrs']) {
    const raw = JSON.parse(readFileSync(values['expected-pcrs'], 'utf8')) as Record<
      string,
      unknown
    >;
    for (const [index, hex] of Object.entries(raw)) {
      const value = typeof hex === 'string' ? fromHex(hex) : null;
      if (!/^\d+$/.test(index) || !value || value.length !== 48) {
        throw new Error(`--expected-pcrs: entry ${index} is not a PCR index and 48-byte hex`);
      }
      expectedPcrs.set(Number(index), value);
    }
  }
  for (const index of [0, 1, 2]) {
    if (!expectedPcrs.has(index)) throw new Error('--expected-pcrs must give PCR0, PCR1 and PCR2');
  }
  const pool = values['presign-pool'];
  if (!/^\d{1,4}$/.test(pool) || Number(pool) > 1000) {
    throw new Error('--presign-pool must be an integer in 0..1000');
  }
  const databaseUrl = values['database-url'] ?? env.DATABASE_URL;
  const adminToken = env.MPC_KMS_ADMIN_TOKEN;
  return {
    host: values.host,
    port,
    dataDir: values.data,
    ...(databaseUrl ? { databaseUrl } : {}),
    parents,
    identity: createPrivateKey(readFileSync(values['identity-key'])),
    enclavePolicy: { root, expectedPcrs, maxDocumentAgeMs: 5 * 60 * 1000 },
    presignaturePool: Number(pool),
    ...(adminToken ? { adminToken } : {}),
    logger: createLogger({ destination: process.stderr }),
  };
}
