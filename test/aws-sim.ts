/**
 * Runs `mpc-kms sim aws` as a child process, exactly as the simulator does, and hands the test
 * real SDK clients pointed at it. This is the only way tests start the simulated AWS services:
 * they reach KMS and Secrets Manager over HTTP, as an enclave reaches AWS through its parent.
 * Each test file gets its own data directory and credentials: an administrator and one IAM role
 * per party, as the Terraform deployment has.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export const REGION = 'local-1';
export const ACCOUNT = '111122223333';
const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface SimCredential {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly principal: string;
}

/** The administrator and parties 1..n, each with its own key pair. */
export function simCredentials(parties: number): {
  admin: SimCredential;
  party: (id: number) => SimCredential;
  all: SimCredential[];
} {
  const make = (name: string, index: number): SimCredential => ({
    accessKeyId: `AKIASIM${String(index).padStart(13, '0')}`,
    secretAccessKey: `sim-secret-${name}-${'x'.repeat(24)}`,
    principal: `arn:aws:iam::${ACCOUNT}:role/mpc-kms-${name}`,
  });
  const admin = make('admin', 0);
  const partyList = Array.from({ length: parties }, (_, i) => make(`party-${i + 1}`, i + 1));
  return { admin, party: (id) => partyList[id - 1]!, all: [admin, ...partyList] };
}

// ---------------------------------------------------------------------------------------------
// The process.

/** The one JSON line `sim aws` prints once both services listen. */
export interface SimReadyLine {
  readonly kms: string;
  readonly secretsManager: string;
  readonly credentials: string;
}

/** An `mpc-kms` process, as it stands once it has printed its first line or exited. */
export interface CliLaunch {
  readonly child: ChildProcess;
  /** The ready line; undefined when the process exited without printing one. */
  readonly ready: SimReadyLine | undefined;
  /** The exit code once the process and its pipes have closed; null after a signal. */
  readonly exited: Promise<number | null>;
  /** Everything the process has written to stderr so far. */
  stderr(): string;
}

/**
 * Runs `node dist/cli/main.js ...args` and waits for its first stdout line or its exit. Tests
 * of the CLI itself use this directly; everything else goes through {@link startAwsSim}.
 *
 * @throws Error when the first line is not a ready line (the process is killed first).
 */
export async function launchCli(args: readonly string[]): Promise<CliLaunch> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  // 'close', not 'exit': it waits for the pipes, so stderr is complete when it resolves.
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const first = await new Promise<string | undefined>((resolve) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    void exited.then(() => resolve(undefined));
  });
  let ready: SimReadyLine | undefined;
  if (first !== undefined) {
    ready = parseReadyLine(first);
    if (ready === undefined) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`unexpected first line from mpc-kms: ${first}\n${stderr}`);
    }
  }
  return { child, ready, exited, stderr: () => stderr };
}

function parseReadyLine(line: string): SimReadyLine | undefined {
  try {
    const r = JSON.parse(line) as Partial<Record<keyof SimReadyLine, unknown>>;
    if (
      typeof r.kms === 'string' &&
      typeof r.secretsManager === 'string' &&
      typeof r.credentials === 'string'
    ) {
      return { kms: r.kms, secretsManager: r.secretsManager, credentials: r.credentials };
    }
  } catch {
    // Not JSON: reported by the caller with the line itself.
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The simulated services, with clients.

/** What a test may vary in one SDK client. */
export interface SimClientOptions {
  /** The region the client signs for; default the simulator's (another must be refused). */
  readonly region?: string;
  /** How far the client's clock runs ahead of the real one, in ms (negative: behind). */
  readonly systemClockOffset?: number;
}

/** The keys a client signs with; the principal stays on the simulator's side. */
export type ClientCredential = Pick<SimCredential, 'accessKeyId' | 'secretAccessKey'>;

export interface RunningSim {
  readonly dataDir: string;
  readonly region: string;
  readonly kmsUrl: string;
  readonly secretsManagerUrl: string;
  readonly child: ChildProcess;
  /** A KMS client with `maxAttempts: 1`, so that errors surface at once. The caller destroys it. */
  kms(credential: ClientCredential, options?: SimClientOptions): KMSClient;
  /** A Secrets Manager client, likewise. */
  secrets(credential: ClientCredential, options?: SimClientOptions): SecretsManagerClient;
  /** SIGKILL: what a crash of the simulator's process looks like. */
  kill(): Promise<void>;
  /** SIGTERM and wait for a clean exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface SimOptions {
  readonly credentials: readonly SimCredential[];
  /** Certificate files (PEM or DER) of the simulated NSM roots KMS trusts for recipients. */
  readonly nsmRoots: readonly string[];
  /** Reuse a data directory (restart); default a new temporary one. */
  readonly dataDir?: string;
  /** Default {@link REGION}. */
  readonly region?: string;
}

/** Writes the credentials file into the data directory and returns the `sim aws` arguments. */
function awsSimArgs(options: SimOptions, dataDir: string): string[] {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const credentialsFile = join(dataDir, 'test-credentials.json');
  writeFileSync(credentialsFile, JSON.stringify(options.credentials), { mode: 0o600 });
  const args = ['sim', 'aws', '--data', dataDir, '--region', options.region ?? REGION];
  args.push('--credentials', credentialsFile);
  for (const root of options.nsmRoots) args.push('--nsm-root', root);
  return args;
}

/** Starts `mpc-kms sim aws` and waits for its ready line. */
export async function startAwsSim(options: SimOptions): Promise<RunningSim> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'mpc-kms-aws-'));
  const region = options.region ?? REGION;
  const { child, ready, exited, stderr } = await launchCli(awsSimArgs(options, dataDir));
  if (ready === undefined) throw new Error(`sim aws exited ${await exited}: ${stderr()}`);

  const clientConfig = (
    credential: ClientCredential,
    endpoint: string,
    client: SimClientOptions = {},
  ) => ({
    endpoint,
    region: client.region ?? region,
    credentials: {
      accessKeyId: credential.accessKeyId,
      secretAccessKey: credential.secretAccessKey,
    },
    maxAttempts: 1,
    ...(client.systemClockOffset === undefined
      ? {}
      : { systemClockOffset: client.systemClockOffset }),
  });
  return {
    dataDir,
    region,
    kmsUrl: ready.kms,
    secretsManagerUrl: ready.secretsManager,
    child,
    kms: (c, o) => new KMSClient(clientConfig(c, ready.kms, o)),
    secrets: (c, o) => new SecretsManagerClient(clientConfig(c, ready.secretsManager, o)),
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/**
 * Runs `mpc-kms sim aws` where it must refuse to start (a corrupt store, say) and returns how it
 * exited. A process that starts anyway is killed and reported as a failure.
 */
export async function expectAwsSimFailure(
  options: SimOptions & { readonly dataDir: string },
): Promise<{ code: number | null; stderr: string }> {
  const { child, ready, exited, stderr } = await launchCli(awsSimArgs(options, options.dataDir));
  if (ready !== undefined) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`sim aws started on ${options.dataDir}, but should have refused`);
  }
  return { code: await exited, stderr: stderr() };
}
