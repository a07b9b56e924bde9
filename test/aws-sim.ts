/**
 * Runs `mpc-kms sim aws` as a child process, exactly as the simulator does, and hands the test
 * real SDK clients pointed at it. Each test file gets its own data directory and credentials:
 * an administrator and one IAM role per party, as the Terraform deployment has.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
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

export interface RunningSim {
  readonly dataDir: string;
  readonly kmsUrl: string;
  readonly secretsManagerUrl: string;
  readonly child: ChildProcess;
  kms(credential: SimCredential): KMSClient;
  secrets(credential: SimCredential): SecretsManagerClient;
  /** SIGKILL: what a crash of the simulator's process looks like. */
  kill(): Promise<void>;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<number | null>;
}

export interface SimOptions {
  readonly credentials: readonly SimCredential[];
  /** PEM files of the simulated NSM roots KMS trusts for recipients. */
  readonly nsmRoots: readonly string[];
  /** Reuse a data directory (restart); default a new temporary one. */
  readonly dataDir?: string;
}

/** Starts `mpc-kms sim aws` and waits for its ready line. */
export async function startAwsSim(options: SimOptions): Promise<RunningSim> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'mpc-kms-aws-'));
  const credentialsFile = join(dataDir, 'test-credentials.json');
  writeFileSync(credentialsFile, JSON.stringify(options.credentials), { mode: 0o600 });
  const args = [CLI, 'sim', 'aws', '--data', dataDir, '--region', REGION];
  args.push('--credentials', credentialsFile);
  for (const root of options.nsmRoots) args.push('--nsm-root', root);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  const ready = await new Promise<{ kms: string; secretsManager: string }>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      try {
        resolve(JSON.parse(line) as { kms: string; secretsManager: string });
      } catch {
        reject(new Error(`unexpected first line from sim aws: ${line}`));
      }
    });
    void exited.then((code) => reject(new Error(`sim aws exited ${code}: ${stderr}`)));
  });

  const clientConfig = (credential: SimCredential, endpoint: string) => ({
    endpoint,
    region: REGION,
    credentials: {
      accessKeyId: credential.accessKeyId,
      secretAccessKey: credential.secretAccessKey,
    },
    maxAttempts: 1,
  });
  return {
    dataDir,
    kmsUrl: ready.kms,
    secretsManagerUrl: ready.secretsManager,
    child,
    kms: (c) => new KMSClient(clientConfig(c, ready.kms)),
    secrets: (c) => new SecretsManagerClient(clientConfig(c, ready.secretsManager)),
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
