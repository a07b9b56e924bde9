/**
 * `mpc-kms enclave`: the signer process that runs inside a Nitro Enclave (or, in the simulator,
 * as a local process standing in for one).
 *
 * Two kinds of setting, from two places:
 * - What the enclave trusts, from its own arguments (in production the image's ENTRYPOINT, so
 *   PCR0 covers them): `--nsm`, `--trust-root`, `--expected-pcrs`. Peers must report the same
 *   PCR0-2 as this enclave's own attestation unless `--expected-pcrs` (JSON `{"0": hex, ...}`)
 *   says otherwise; the trust root is the pinned AWS Nitro root under `--nsm nitro` and the
 *   simulated root under `--nsm simulated`.
 * - Where it is deployed (party, listen address, region, endpoints, KMS key, coordinator key,
 *   credentials): either `--boot ADDR`, the parent's boot channel (enclave/boot.ts; production:
 *   `vsock:3:9000`), or the flags below, which build the same document.
 *
 *   mpc-kms enclave --boot ADDR                     NSM options
 *   mpc-kms enclave --party N --listen ADDR
 *     --kms-endpoint URL --kms-via ADDR --secrets-endpoint URL --secrets-via ADDR
 *     --region R --credentials FILE --kms-key-id ID --coordinator-key PEM
 *     [--max-channel-age-s S] [--round-timeout-ms MS]  NSM options
 *   NSM options: --nsm nitro [--nsm-helper PATH] | --nsm simulated --nsm-root-cert PEM
 *     --nsm-root-key PEM [--bundle DIR];  [--trust-root PEM] [--expected-pcrs FILE]
 *
 * ADDR is a transport address (`vsock:CID:PORT`, `unix:PATH`). `--kms-via` / `--secrets-via` are
 * where the parent's forwards listen (production: `vsock:3:8000`, `vsock:3:8001`); the
 * endpoints are what the SDK signs for (production: `https://kms.<region>.amazonaws.com`).
 * `--nsm nitro` reaches /dev/nsm through the `nsm-ioctl` helper (nitro/nsm/); `--nsm simulated`
 * measures the enclave's code under `--bundle` (default: the installed code; see
 * enclave/bundle.ts) into PCR0-2 and issues documents under the given simulated root.
 *
 * Before listening the enclave attests once to itself and verifies that document against its
 * trust root: an NSM that does not work, or a root that does not match it, stops it here. When
 * listening it prints `{"ready":true,"party":N,"listen":ADDR,"pcr0":HEX}`; it logs JSON lines
 * on stderr, never a secret; SIGINT/SIGTERM stop it with exit 0; bad arguments or an invalid
 * boot document exit 2; a parent that cannot be reached at boot exits 1.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  AWS_NITRO_ROOT_G1_DER,
  SimulatedNsm,
  SimulatedRoot,
  verifyAttestation,
} from '../attestation/index.js';
import {
  BootError,
  DEFAULT_MAX_CHANNEL_AGE_S,
  DEFAULT_ROUND_TIMEOUT_MS,
  fetchBootConfig,
  parentCredentials,
  parseBootConfig,
  parseCredentials,
  type BootConfig,
} from '../enclave/boot.js';
import { measureEnclaveBundle } from '../enclave/bundle.js';
import type { Attester } from '../enclave/recipient.js';
import { fromHex, toHex } from '../protocol/bytes.js';
import { startEnclave, type EnclaveConfig } from '../enclave/main.js';
import { formatAddress, parseAddress } from '../transport/index.js';

export const ENCLAVE_USAGE =
  'usage: mpc-kms enclave (--boot ADDR | --party N --listen ADDR --kms-endpoint URL ' +
  '--kms-via ADDR --secrets-endpoint URL --secrets-via ADDR --region R --credentials FILE ' +
  '--kms-key-id ID --coordinator-key PEM [--max-channel-age-s S] [--round-timeout-ms MS]) ' +
  '(--nsm nitro [--nsm-helper PATH] | --nsm simulated --nsm-root-cert PEM --nsm-root-key PEM ' +
  '[--bundle DIR]) [--trust-root PEM] [--expected-pcrs FILE]';

/** The installed code: what a simulated enclave measures by default (dist/, above cli/). */
const INSTALLED_BUNDLE = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the image puts the NSM helper (nitro/Dockerfile). */
const DEFAULT_NSM_HELPER = '/app/bin/nsm-ioctl';

export async function enclaveCommand(
  args: readonly string[],
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  let parsed: ParsedEnclaveArgs;
  try {
    parsed = parseEnclaveArgs(args);
  } catch (error) {
    err(`mpc-kms enclave: ${error instanceof Error ? error.message : String(error)}`);
    err(ENCLAVE_USAGE);
    return 2;
  }
  let config: EnclaveConfig;
  let pcr0: Uint8Array;
  try {
    const deployment = await parsed.deployment();
    const trust = await parsed.trust();
    pcr0 = trust.own.get(0)!;
    config = {
      party: deployment.config.party,
      listen: deployment.config.listen,
      attester: trust.attester,
      peerPolicy: {
        root: trust.root,
        expectedPcrs: parsed.expectedPcrs ?? trust.own,
        maxDocumentAgeMs: 5 * 60 * 1000,
      },
      coordinatorKey: deployment.config.coordinatorKey,
      region: deployment.config.region,
      credentials: deployment.credentials,
      kms: deployment.config.kms,
      secretsManager: deployment.config.secretsManager,
      kmsKeyId: deployment.config.kmsKeyId,
      maxChannelAgeMs: deployment.config.maxChannelAgeMs,
      limits: {
        roundTimeoutMs: deployment.config.roundTimeoutMs,
        auxRoundTimeoutMs: Math.max(deployment.config.roundTimeoutMs, 120_000),
      },
      log: (event) =>
        err(
          JSON.stringify({
            time: new Date().toISOString(),
            party: deployment.config.party,
            ...event,
          }),
        ),
    };
  } catch (error) {
    err(`mpc-kms enclave: ${error instanceof Error ? error.message : String(error)}`);
    return error instanceof BootError && error.code === 'BOOT_INVALID' ? 2 : 1;
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

interface Deployment {
  readonly config: BootConfig;
  readonly credentials: EnclaveConfig['credentials'];
}

interface Trust {
  readonly attester: Attester;
  readonly root: Uint8Array;
  /** PCR0-2 as this enclave's own attestation reports them. */
  readonly own: ReadonlyMap<number, Uint8Array>;
}

interface ParsedEnclaveArgs {
  deployment(): Promise<Deployment>;
  trust(): Promise<Trust>;
  readonly expectedPcrs: ReadonlyMap<number, Uint8Array> | undefined;
}

const DEPLOYMENT_FLAGS = [
  'party',
  'listen',
  'kms-endpoint',
  'kms-via',
  'secrets-endpoint',
  'secrets-via',
  'region',
  'credentials',
  'kms-key-id',
  'coordinator-key',
  'max-channel-age-s',
  'round-timeout-ms',
] as const;

function parseEnclaveArgs(args: readonly string[]): ParsedEnclaveArgs {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      boot: { type: 'string' },
      ...Object.fromEntries(DEPLOYMENT_FLAGS.map((name) => [name, { type: 'string' as const }])),
      nsm: { type: 'string' },
      'nsm-helper': { type: 'string' },
      'nsm-root-cert': { type: 'string' },
      'nsm-root-key': { type: 'string' },
      bundle: { type: 'string' },
      'trust-root': { type: 'string' },
      'expected-pcrs': { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
  const flag = (name: string): string | undefined => {
    const value = (values as Record<string, string | undefined>)[name];
    if (value === '') throw new Error(`--${name} must not be empty`);
    return value;
  };
  const need = (name: string): string => {
    const value = flag(name);
    if (value === undefined) throw new Error(`--${name} is required`);
    return value;
  };

  let deployment: () => Promise<Deployment>;
  const boot = flag('boot');
  if (boot !== undefined) {
    const given = DEPLOYMENT_FLAGS.filter((name) => flag(name) !== undefined);
    if (given.length > 0) {
      throw new Error(`--boot takes the deployment from the parent; drop --${given[0]}`);
    }
    const parent = parseAddress(boot);
    deployment = async () => ({
      config: await fetchWithRetry(() => fetchBootConfig(parent)),
      credentials: parentCredentials(parent),
    });
  } else {
    const config = parseBootConfig({
      party: integer(need('party'), '--party'),
      listen: need('listen'),
      region: need('region'),
      kms: { endpoint: need('kms-endpoint'), via: need('kms-via') },
      secretsManager: { endpoint: need('secrets-endpoint'), via: need('secrets-via') },
      kmsKeyId: need('kms-key-id'),
      coordinatorKey: readFileSync(need('coordinator-key'), 'utf8'),
      maxChannelAgeS: integer(
        flag('max-channel-age-s') ?? String(DEFAULT_MAX_CHANNEL_AGE_S),
        '--max-channel-age-s',
      ),
      roundTimeoutMs: integer(
        flag('round-timeout-ms') ?? String(DEFAULT_ROUND_TIMEOUT_MS),
        '--round-timeout-ms',
      ),
    });
    const credentials = parseCredentials(readJson(need('credentials'), '--credentials'));
    deployment = () => Promise.resolve({ config, credentials });
  }

  const trustRootFlag = flag('trust-root');
  const givenRoot =
    trustRootFlag === undefined
      ? undefined
      : new Uint8Array(new X509Certificate(readFileSync(trustRootFlag)).raw);
  let trust: () => Promise<Trust>;
  const nsm = need('nsm');
  if (nsm === 'simulated') {
    const root = SimulatedRoot.fromPem({
      certificate: readFileSync(need('nsm-root-cert'), 'utf8'),
      privateKey: readFileSync(need('nsm-root-key'), 'utf8'),
    });
    const measurement = measureEnclaveBundle(flag('bundle') ?? INSTALLED_BUNDLE);
    const attester = SimulatedNsm.create({ pcrs: measurement, root });
    trust = () => selfCheck(attester, givenRoot ?? root.der);
  } else if (nsm === 'nitro') {
    for (const name of ['nsm-root-cert', 'nsm-root-key', 'bundle']) {
      if (flag(name) !== undefined) throw new Error(`--${name} is for --nsm simulated only`);
    }
    const helperPath = flag('nsm-helper') ?? DEFAULT_NSM_HELPER;
    trust = async () => {
      const { NitroNsm } = await import('../enclave/nsm-device.js');
      return selfCheck(await NitroNsm.create({ helperPath }), givenRoot ?? AWS_NITRO_ROOT_G1_DER);
    };
  } else {
    throw new Error('--nsm must be "nitro" or "simulated"');
  }
  const expected = flag('expected-pcrs');
  return {
    deployment,
    trust,
    expectedPcrs: expected === undefined ? undefined : readPcrs(expected),
  };
}

/** The parent's proxy may start after the enclave: wait for it for a minute, then give up. */
async function fetchWithRetry<T>(fetch: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch();
    } catch (error) {
      if (!(error instanceof BootError) || error.code !== 'BOOT_UNAVAILABLE' || attempt >= 30) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

/**
 * Attests once with a fresh nonce and verifies the document as a peer would. Its PCR0-2 are
 * what this enclave expects of its peers by default: every party runs the same image.
 */
async function selfCheck(attester: Attester, root: Uint8Array): Promise<Trust> {
  const nonce = new Uint8Array(randomBytes(32));
  const document = await attester.attest({ nonce });
  const result = verifyAttestation(document, { root, nonce, maxAgeMs: 5 * 60 * 1000 });
  if (!result.valid) {
    throw new Error(
      `own attestation does not verify (${result.error.code}): ${result.error.message}`,
    );
  }
  const own = new Map<number, Uint8Array>();
  for (const index of [0, 1, 2]) {
    const value = result.document.pcrs.get(index);
    if (value === undefined) throw new Error(`own attestation lacks PCR${index}`);
    own.set(index, value);
  }
  return { attester, root, own };
}

function integer(text: string, flag: string): number {
  if (!/^\d{1,10}$/.test(text)) throw new Error(`${flag} must be a decimal integer`);
  return Number(text);
}

function readJson(path: string, flag: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new Error(`${flag} ${path}: not a readable JSON file`);
  }
}

function readPcrs(path: string): Map<number, Uint8Array> {
  const raw = readJson(path, '--expected-pcrs') as Record<string, unknown>;
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
