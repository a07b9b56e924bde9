/**
 * `mpc-kms parent-proxy`: the process on an enclave's parent instance (see parent-proxy/).
 *
 *   mpc-kms parent-proxy --enclave ADDR --coordinator-listen ADDR
 *                        [--forward LISTEN=HOST:PORT]... --allowlist FILE
 *                        [--boot-listen ADDR --boot-config FILE [--aws-credentials FILE]]
 *
 * ADDR and LISTEN are transport addresses (`vsock:CID:PORT`, `unix:PATH`, `tcp:HOST:PORT`);
 * in production `--enclave vsock:16:5000 --coordinator-listen tcp:0.0.0.0:7000
 * --forward vsock:any:8000=kms.us-east-1.amazonaws.com:443`. Once everything listens it prints
 * one line on stdout, `{"ready":true,"coordinator":"<address>","boot"?:"<address>"}`, and from
 * then on JSON event lines on stderr. SIGINT or SIGTERM closes every connection and exits 0 (a
 * second signal kills at once). Invalid arguments, an invalid allowlist or a forward to a target
 * not on it exit 2 before listening on anything; an address that cannot be listened on exits 1.
 *
 * `--boot-listen` serves the enclave's boot channel (parent-proxy/boot-server.ts; production
 * `vsock:any:9000`): the deployment document `--boot-config` (validated here with the
 * enclave's own parser: an invalid one exits 2) and AWS credentials, from `--aws-credentials`
 * (JSON `{accessKeyId, secretAccessKey, sessionToken?}`) or else the SDK's default chain, which
 * on EC2 is the instance role through IMDSv2.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { parseBootConfig, parseCredentials, type BootConfig } from '../enclave/boot.js';
import {
  Allowlist,
  ProxyError,
  loadAllowlist,
  startBootServer,
  startParentProxy,
  type BootServer,
  type ForwardConfig,
} from '../parent-proxy/index.js';
import {
  TransportError,
  formatAddress,
  parseAddress,
  type StreamAddress,
} from '../transport/index.js';

export const PARENT_PROXY_USAGE =
  'usage: mpc-kms parent-proxy --enclave ADDR --coordinator-listen ADDR ' +
  '[--forward LISTEN=HOST:PORT]... --allowlist FILE ' +
  '[--boot-listen ADDR --boot-config FILE [--aws-credentials FILE]]';

/** Runs the proxy until a signal; resolves with the exit code. */
export async function parentProxyCommand(
  args: readonly string[],
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  let parsed: ReturnType<typeof parseProxyArgs>;
  let allowlist: Allowlist;
  try {
    parsed = parseProxyArgs(args);
    allowlist = await loadAllowlist(parsed.allowlistFile);
  } catch (error) {
    err(`mpc-kms parent-proxy: ${error instanceof Error ? error.message : String(error)}`);
    err(PARENT_PROXY_USAGE);
    return 2;
  }
  // The clock is read here, at the edge; the proxy itself only reports events.
  const log = (event: Record<string, unknown>) =>
    err(JSON.stringify({ time: new Date().toISOString(), ...event }));
  let proxy: Awaited<ReturnType<typeof startParentProxy>>;
  let boot: BootServer | undefined;
  try {
    proxy = await startParentProxy({ ...parsed, allowlist, log });
    if (parsed.boot) {
      boot = await startBootServer({ ...parsed.boot, log }).catch(async (error: unknown) => {
        await proxy.close();
        throw error;
      });
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    err(`mpc-kms parent-proxy: ${message}`);
    // A refused configuration is a usage error; a port that cannot be had is a runtime one.
    if (error instanceof ProxyError) return 2;
    if (error instanceof TransportError && error.code === 'BAD_ADDRESS') return 2;
    return 1;
  }
  // Listen for the signals before announcing readiness: whoever reads the line may stop us.
  const stopped = new Promise<string>((done) => {
    process.once('SIGINT', () => done('SIGINT'));
    process.once('SIGTERM', () => done('SIGTERM'));
  });
  out(
    JSON.stringify({
      ready: true,
      coordinator: formatAddress(proxy.coordinatorAddress),
      ...(boot ? { boot: formatAddress(boot.listener.address) } : {}),
    }),
  );
  const signal = await stopped;
  log({ event: 'stopping', signal, stats: proxy.stats() });
  await Promise.all([proxy.close(), boot?.close()]);
  // A vsock listener's accept thread cannot be stopped and keeps the event loop alive (see
  // transport/vsock.ts), so leave explicitly if we are still here shortly after returning. The
  // timer is unref'd: without vsock the process ends on its own first.
  setTimeout(() => process.exit(), 200).unref();
  return 0;
}

interface ParsedProxyArgs {
  readonly enclave: StreamAddress;
  readonly coordinatorListen: StreamAddress;
  readonly forwards: ForwardConfig[];
  readonly allowlistFile: string;
  readonly boot?: {
    readonly listen: StreamAddress;
    readonly config: BootConfig;
    readonly credentials: () => Promise<AwsCredentialIdentity>;
  };
}

function parseProxyArgs(args: readonly string[]): ParsedProxyArgs {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      enclave: { type: 'string' },
      'coordinator-listen': { type: 'string' },
      forward: { type: 'string', multiple: true, default: [] },
      allowlist: { type: 'string' },
      'boot-listen': { type: 'string' },
      'boot-config': { type: 'string' },
      'aws-credentials': { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
  if (values.enclave === undefined) throw new Error('--enclave ADDR is required');
  if (values['coordinator-listen'] === undefined) {
    throw new Error('--coordinator-listen ADDR is required');
  }
  if (values.allowlist === undefined) throw new Error('--allowlist FILE is required');
  const bootListen = values['boot-listen'];
  if ((bootListen === undefined) !== (values['boot-config'] === undefined)) {
    throw new Error('--boot-listen and --boot-config go together');
  }
  if (bootListen === undefined && values['aws-credentials'] !== undefined) {
    throw new Error('--aws-credentials is served only with --boot-listen');
  }
  return {
    enclave: parseAddress(values.enclave),
    coordinatorListen: parseAddress(values['coordinator-listen']),
    forwards: values.forward.map(parseForward),
    allowlistFile: values.allowlist,
    ...(bootListen !== undefined
      ? {
          boot: {
            listen: parseAddress(bootListen),
            config: parseBootConfig(readJson(values['boot-config']!, '--boot-config')),
            credentials: credentialSource(values['aws-credentials']),
          },
        }
      : {}),
  };
}

function readJson(path: string, flag: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new Error(`${flag} ${path}: not a readable JSON file`);
  }
}

/** A file read once (the simulator, a test), or the SDK's default chain (EC2: the instance role). */
function credentialSource(file: string | undefined): () => Promise<AwsCredentialIdentity> {
  if (file !== undefined) {
    const fixed = parseCredentials(readJson(file, '--aws-credentials'));
    return () => Promise.resolve(fixed);
  }
  let chain: (() => Promise<AwsCredentialIdentity>) | undefined;
  return async () => {
    if (chain === undefined) {
      // Loaded on first use: the chain pulls in the SDK's IMDS, SSO and INI providers.
      const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
      chain = defaultProvider();
    }
    return chain();
  };
}

/** `LISTEN=HOST:PORT`, split at the last `=` (a Unix socket path may itself contain one). */
function parseForward(text: string): ForwardConfig {
  const eq = text.lastIndexOf('=');
  if (eq < 0) throw new Error(`--forward "${text}": expected LISTEN=HOST:PORT`);
  const listen = parseAddress(text.slice(0, eq));
  const target = parseAddress(`tcp:${text.slice(eq + 1)}`);
  if (target.kind !== 'tcp' || target.port === 0) {
    throw new Error(`--forward "${text}": the target needs a port 1..65535`);
  }
  return { listen, target: { host: target.host, port: target.port } };
}
