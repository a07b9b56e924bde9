/**
 * A whole cluster of real processes for end-to-end tests: `mpc-kms sim aws`, and per party a
 * `mpc-kms parent-proxy` and a `mpc-kms enclave`, wired as in production except that vsock is a
 * Unix socket. The coordinator is the test process itself (`Cluster`), connected to each
 * parent's coordinator socket, or to an interposer a test puts in front of one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { SimulatedNsm, type SimulatedRoot } from '../attestation/index.js';
import { measureEnclaveBundle } from '../enclave/bundle.js';
import { toHex } from '../protocol/bytes.js';
import type { PartyId } from '../protocol/errors.js';
import { Cluster } from '../coordinator/cluster.js';
import type { StreamAddress } from '../transport/index.js';
import { simCredentials, startAwsSim, type RunningSim, type SimCredential } from './aws-sim.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
/** The installed code the simulated enclaves measure by default. */
export const BUNDLE = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface ProcessHandle {
  readonly child: ChildProcess;
  readonly ready: Record<string, unknown>;
  readonly exited: Promise<number | null>;
  stderr(): string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `mpc-kms ...args` and waits for its JSON ready line. */
export async function startProcess(args: readonly string[]): Promise<ProcessHandle> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19));
  });
  const exited = new Promise<number | null>((r) => child.once('close', r));
  const first = await new Promise<string | undefined>((r) => {
    createInterface({ input: child.stdout! }).once('line', r);
    void exited.then(() => r(undefined));
  });
  if (first === undefined) throw new Error(`mpc-kms ${args[0]} exited:\n${stderr}`);
  return {
    child,
    ready: JSON.parse(first) as Record<string, unknown>,
    exited,
    stderr: () => stderr,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface PartyProcesses {
  proxy: ProcessHandle;
  enclave: ProcessHandle;
  readonly dir: string;
  readonly coordinatorAddress: StreamAddress;
  readonly enclaveArgs: string[];
}

export interface SimCluster {
  readonly dir: string;
  readonly aws: RunningSim;
  readonly parties: Map<PartyId, PartyProcesses>;
  readonly coordinatorKey: KeyObject;
  readonly root: SimulatedRoot;
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  readonly creds: ReturnType<typeof simCredentials>;
  connect(overrides?: ReadonlyMap<PartyId, StreamAddress>): Promise<Cluster>;
  /** Starts party `id`'s enclave again with its original arguments (after a kill). */
  restartEnclave(id: PartyId): Promise<void>;
  stop(): Promise<void>;
}

export interface SimClusterOptions {
  readonly parties: number;
  /** Per-party bundle directory (default: the installed code): a different one changes PCRs. */
  readonly bundleFor?: (id: PartyId) => string | undefined;
  readonly roundTimeoutMs?: number;
  /**
   * Boot as on Nitro: each enclave gets `--boot` only, and its parent serves the deployment
   * document and temporary (session-token) credentials over the boot channel.
   */
  readonly boot?: boolean;
}

export async function startSimCluster(options: SimClusterOptions): Promise<SimCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'mpc-kms-cluster-'));
  const creds = simCredentials(options.parties);
  const root = SimulatedNsm.newRoot();
  const rootPem = root.toPem();
  writeFileSync(join(dir, 'nsm-root.pem'), rootPem.certificate);
  writeFileSync(join(dir, 'nsm-root.key'), rootPem.privateKey, { mode: 0o600 });
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(
    join(dir, 'coordinator.pub.pem'),
    publicKey.export({ type: 'spki', format: 'pem' }),
  );

  // Booted parties use temporary credentials, as an instance role's are.
  const sessionTokens = new Map<string, string>(
    options.boot
      ? creds.all
          .filter((c) => c !== creds.admin)
          .map((c) => [c.accessKeyId, randomBytes(48).toString('base64')])
      : [],
  );
  const aws = await startAwsSim({
    credentials: creds.all.map((c) => {
      const sessionToken = sessionTokens.get(c.accessKeyId);
      return sessionToken === undefined ? c : { ...c, sessionToken };
    }),
    nsmRoots: [join(dir, 'nsm-root.pem')],
    dataDir: join(dir, 'aws'),
  });
  const kmsPort = Number(new URL(aws.kmsUrl).port);
  const smPort = Number(new URL(aws.secretsManagerUrl).port);
  const allowlist = join(dir, 'allowlist.json');
  writeFileSync(
    allowlist,
    JSON.stringify({
      allowlist: [
        { address: '127.0.0.1', port: kmsPort },
        { address: '127.0.0.1', port: smPort },
      ],
    }),
  );

  const measurement = measureEnclaveBundle(BUNDLE);
  const pcrs = new Map([
    [0, measurement.pcr0],
    [1, measurement.pcr1],
    [2, measurement.pcr2],
  ]);
  const admin = aws.kms(creds.admin);
  const parties = new Map<PartyId, PartyProcesses>();
  for (let id = 1; id <= options.parties; id++) {
    const partyDir = join(dir, `p${id}`);
    mkdirSync(partyDir);
    const created = await admin.send(
      new CreateKeyCommand({
        Description: `mpc-kms party ${id}`,
        Policy: JSON.stringify(enclaveKeyPolicy(creds.admin, creds.party(id), measurement.pcr0)),
      }),
    );
    const credentialsFile = join(partyDir, 'aws-credentials.json');
    const party = creds.party(id);
    const sessionToken = sessionTokens.get(party.accessKeyId);
    writeFileSync(
      credentialsFile,
      JSON.stringify({
        accessKeyId: party.accessKeyId,
        secretAccessKey: party.secretAccessKey,
        ...(sessionToken !== undefined
          ? { sessionToken, expiration: new Date(Date.now() + 3600_000).toISOString() }
          : {}),
      }),
      { mode: 0o600 },
    );
    const sock = (name: string) => `unix:${join(partyDir, name)}`;
    const deployment = {
      party: id,
      listen: sock('enclave.sock'),
      region: 'local-1',
      kms: { endpoint: 'http://kms.local-1.sim', via: sock('kms.sock') },
      secretsManager: { endpoint: 'http://secretsmanager.local-1.sim', via: sock('secrets.sock') },
      kmsKeyId: created.KeyMetadata!.Arn!,
      coordinatorKey: publicKey.export({ type: 'spki', format: 'pem' }),
      roundTimeoutMs: options.roundTimeoutMs ?? 8000,
    };
    const bootArgs: string[] = [];
    if (options.boot) {
      writeFileSync(join(partyDir, 'enclave.json'), JSON.stringify(deployment));
      bootArgs.push(
        '--boot-listen',
        sock('boot.sock'),
        '--boot-config',
        join(partyDir, 'enclave.json'),
        '--aws-credentials',
        credentialsFile,
      );
    }
    const proxy = await startProcess([
      'parent-proxy',
      '--enclave',
      sock('enclave.sock'),
      '--coordinator-listen',
      sock('coordinator.sock'),
      '--forward',
      `${sock('kms.sock')}=127.0.0.1:${kmsPort}`,
      '--forward',
      `${sock('secrets.sock')}=127.0.0.1:${smPort}`,
      '--allowlist',
      allowlist,
      ...bootArgs,
    ]);
    const nsmArgs = [
      '--nsm',
      'simulated',
      '--nsm-root-cert',
      join(dir, 'nsm-root.pem'),
      '--nsm-root-key',
      join(dir, 'nsm-root.key'),
    ];
    const enclaveArgs = options.boot
      ? ['enclave', '--boot', sock('boot.sock'), ...nsmArgs]
      : [
          'enclave',
          '--party',
          String(id),
          '--listen',
          deployment.listen,
          '--kms-endpoint',
          deployment.kms.endpoint,
          '--kms-via',
          deployment.kms.via,
          '--secrets-endpoint',
          deployment.secretsManager.endpoint,
          '--secrets-via',
          deployment.secretsManager.via,
          '--region',
          deployment.region,
          '--credentials',
          credentialsFile,
          '--kms-key-id',
          deployment.kmsKeyId,
          '--coordinator-key',
          join(dir, 'coordinator.pub.pem'),
          ...nsmArgs,
          '--round-timeout-ms',
          String(deployment.roundTimeoutMs),
        ];
    const bundle = options.bundleFor?.(id);
    if (bundle) enclaveArgs.push('--bundle', bundle);
    const enclave = await startProcess(enclaveArgs);
    parties.set(id, {
      proxy,
      enclave,
      dir: partyDir,
      coordinatorAddress: { kind: 'unix', path: join(partyDir, 'coordinator.sock') },
      enclaveArgs,
    });
  }

  return {
    dir,
    aws,
    parties,
    coordinatorKey: privateKey,
    root,
    pcrs,
    creds,
    connect: async (overrides) => {
      const parents = new Map(
        [...parties].map(([id, p]) => [id, overrides?.get(id) ?? p.coordinatorAddress]),
      );
      return Cluster.connect({
        parents,
        identity: privateKey,
        enclavePolicy: { root: root.der, expectedPcrs: pcrs, maxDocumentAgeMs: 5 * 60 * 1000 },
        requestTimeoutMs: 15_000,
      });
    },
    restartEnclave: async (id) => {
      const party = parties.get(id)!;
      party.enclave = await startProcess(party.enclaveArgs);
    },
    stop: async () => {
      await Promise.all([...parties.values()].flatMap((p) => [p.enclave.kill(), p.proxy.kill()]));
      await aws.stop();
    },
  };
}

/** The policy a platform team deploys on a party's KMS key: that role, that image. */
export function enclaveKeyPolicy(
  admin: SimCredential,
  party: SimCredential,
  pcr0: Uint8Array,
): Record<string, unknown> {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'KeyAdministration',
        Effect: 'Allow',
        Principal: { AWS: admin.principal },
        Action: ['kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:PutKeyPolicy'],
        Resource: '*',
      },
      {
        Sid: 'EnclaveOnly',
        Effect: 'Allow',
        Principal: { AWS: party.principal },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: '*',
        Condition: {
          StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': toHex(pcr0) },
        },
      },
    ],
  };
}
