/**
 * `mpc-kms enclave`: the signer process that runs inside a Nitro Enclave (or, in the simulator,
 * as a local process standing in for one).
 *
 *   mpc-kms enclave --party N --listen ADDR
 *     --kms-endpoint URL --kms-via ADDR --secrets-endpoint URL --secrets-via ADDR
 *     --region R --credentials FILE --kms-key-id ID --coordinator-key PEM
 *     --nsm simulated --nsm-root-cert PEM --nsm-root-key PEM [--bundle DIR]
 *     [--trust-root PEM] [--expected-pcrs FILE] [--max-channel-age-s S] [--round-timeout-ms MS]
 *
 * ADDR is a transport address (`vsock:CID:PORT`, `unix:PATH`). `--kms-via` / `--secrets-via` are
 * where the parent proxy's forwards listen (production: `vsock:3:8000`, `vsock:3:8001`); the
 * endpoints are what the SDK signs for (production: `https://kms.<region>.amazonaws.com`).
 * `--nsm simulated` measures the enclave's code under `--bundle` (default: the installed code;
 * see enclave/bundle.ts) into PCR0-2 and issues
 * documents under the given simulated root, which is then also the default trust root for peers;
 * peers must report the same PCRs unless `--expected-pcrs` (JSON `{"0": hex, ...}`) says
 * otherwise. When listening it prints `{"ready":true,"party":N,"listen":ADDR,"pcr0":HEX}`; it
 * logs JSON lines on stderr, never a secret; SIGINT/SIGTERM stop it with exit 0; bad arguments
 * exit 2.
 */
import { createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AWS_NITRO_ROOT_G1_DER, SimulatedNsm, SimulatedRoot } from '../attestation/index.js';
import { measureEnclaveBundle } from '../enclave/bundle.js';
import { fromHex, toHex } from '../protocol/bytes.js';
import { MAX_PARTY_ID } from '../protocol/envelope.js';
import { startEnclave, type EnclaveConfig } from '../enclave/main.js';
import { formatAddress, parseAddress } from '../transport/index.js';

export const ENCLAVE_USAGE =
  'usage: mpc-kms enclave --party N --listen ADDR --kms-endpoint URL --kms-via ADDR ' +
  '--secrets-endpoint URL --secrets-via ADDR --region R --credentials FILE --kms-key-id ID ' +
  '--coordinator-key PEM --nsm simulated --nsm-root-cert PEM --nsm-root-key PEM [--bundle DIR] ' +
  '[--trust-root PEM] [--expected-pcrs FILE] [--max-channel-age-s S] [--round-timeout-ms MS]';

/** The installed code: what a simulated enclave measures by default (dist/, above cli/). */
const INSTALLED_BUNDLE = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export async function enclaveCommand(
  args: readonly string[],
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  let config: EnclaveConfig;
  let pcr0: Uint8Array;
  try {
    ({ config, pcr0 } = parseEnclaveArgs(args, err));
  } catch (error) {
    err(`mpc-kms enclave: ${error instanceof Error ? error.message : String(error)}`);
    err(ENCLAVE_USAGE);
    return 2;
  }
  const enclave = await startEnclave(config);
  const stopped = new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  out(
    JSON.stringify({
      ready: true,
      party: config.party,
      listen: formatAddress(enclave.listener.address),
      pcr0: toHex(pcr0),
    }),
  );
  await stopped;
  await enclave.close();
  // A vsock listener's accept thread keeps the loop alive (transport/vsock.ts): leave anyway.
  setTimeout(() => process.exit(), 200).unref();
  return 0;
}

function parseEnclaveArgs(
  args: readonly string[],
  err: (line: string) => void,
): { config: EnclaveConfig; pcr0: Uint8Array } {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      party: { type: 'string' },
      listen: { type: 'string' },
      'kms-endpoint': { type: 'string' },
      'kms-via': { type: 'string' },
      'secrets-endpoint': { type: 'string' },
      'secrets-via': { type: 'string' },
      region: { type: 'string' },
      credentials: { type: 'string' },
      'kms-key-id': { type: 'string' },
      'coordinator-key': { type: 'string' },
      nsm: { type: 'string' },
      'nsm-root-cert': { type: 'string' },
      'nsm-root-key': { type: 'string' },
      bundle: { type: 'string' },
      'trust-root': { type: 'string' },
      'expected-pcrs': { type: 'string' },
      'max-channel-age-s': { type: 'string', default: '7200' },
      'round-timeout-ms': { type: 'string', default: '30000' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
  const need = (name: keyof typeof values): string => {
    const value = values[name];
    if (typeof value !== 'string' || value === '') throw new Error(`--${name} is required`);
    return value;
  };
  const party = integer(need('party'), '--party', 1, MAX_PARTY_ID);
  if (need('nsm') !== 'simulated') {
    // The Nitro NSM is reached by ioctl on /dev/nsm, which Node cannot issue without a native
    // binding; until one is part of the image, only the simulated NSM can be selected.
    throw new Error('--nsm: only "simulated" is available in this build');
  }
  const root = SimulatedRoot.fromPem({
    certificate: readFileSync(need('nsm-root-cert'), 'utf8'),
    privateKey: readFileSync(need('nsm-root-key'), 'utf8'),
  });
  const measurement = measureEnclaveBundle(values.bundle ?? INSTALLED_BUNDLE);
  const attester = SimulatedNsm.create({ pcrs: measurement, root });
  const own = new Map([
    [0, measurement.pcr0],
    [1, measurement.pcr1],
    [2, measurement.pcr2],
  ]);
  const trustRoot =
    values['trust-root'] !== undefined
      ? new Uint8Array(new X509Certificate(readFileSync(values['trust-root'])).raw)
      : root.der;
  if (toHex(trustRoot) === toHex(AWS_NITRO_ROOT_G1_DER)) {
    err(JSON.stringify({ event: 'trust-root', root: 'aws-nitro-g1' }));
  }
  const credentials = readCredentials(need('credentials'));
  const roundTimeoutMs = integer(values['round-timeout-ms'], '--round-timeout-ms', 100, 3_600_000);
  return {
    pcr0: measurement.pcr0,
    config: {
      party,
      listen: parseAddress(need('listen')),
      attester,
      peerPolicy: {
        root: trustRoot,
        expectedPcrs: values['expected-pcrs'] ? readPcrs(values['expected-pcrs']) : own,
        maxDocumentAgeMs: 5 * 60 * 1000,
      },
      coordinatorKey: createPublicKey(readFileSync(need('coordinator-key'))),
      region: need('region'),
      credentials,
      kms: { endpoint: need('kms-endpoint'), via: parseAddress(need('kms-via')) },
      secretsManager: {
        endpoint: need('secrets-endpoint'),
        via: parseAddress(need('secrets-via')),
      },
      kmsKeyId: need('kms-key-id'),
      maxChannelAgeMs: 1000 * integer(values['max-channel-age-s'], '--max-channel-age-s', 1, 86400),
      limits: { roundTimeoutMs, auxRoundTimeoutMs: Math.max(roundTimeoutMs, 120_000) },
      log: (event) => err(JSON.stringify({ time: new Date().toISOString(), party, ...event })),
    },
  };
}

function integer(text: string, flag: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) {
    throw new Error(`${flag} must be an integer in ${min}..${max}`);
  }
  return n;
}

function readCredentials(path: string): { accessKeyId: string; secretAccessKey: string } {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  if (typeof raw.accessKeyId !== 'string' || typeof raw.secretAccessKey !== 'string') {
    throw new Error(`--credentials ${path}: needs accessKeyId and secretAccessKey`);
  }
  return { accessKeyId: raw.accessKeyId, secretAccessKey: raw.secretAccessKey };
}

function readPcrs(path: string): Map<number, Uint8Array> {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  const out = new Map<number, Uint8Array>();
  for (const [index, hex] of Object.entries(raw)) {
    const i = Number(index);
    const value = typeof hex === 'string' ? fromHex(hex) : null;
    if (!/^\d+$/.test(index) || i > 31 || !value || value.length !== 48) {
      throw new Error(`--expected-pcrs ${path}: entry ${index} is not a PCR index and 48-byte hex`);
    }
    out.set(i, value);
  }
  return out;
}
