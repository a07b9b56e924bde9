/**
 * `mpc-kms sim up`: the whole system on one machine, as separate processes wired as in
 * production except that vsock is a Unix socket and AWS is simulated:
 *
 *   sim aws (KMS + Secrets Manager) ← parent-proxy ×N ↔ enclave ×N ← coordinator (REST)
 *
 * First start on a data directory: a simulated NSM root, the coordinator's identity key, AWS
 * credentials (an administrator and one role per party), and one KMS key per party whose policy
 * admits only that party's role from an enclave whose PCR0 is the measurement of the enclave
 * bundle that was built. Later starts reuse all of it, so every key reloads: each enclave unseals
 * its shares through the simulated KMS on first use. If the bundle changed since, its PCR0 no
 * longer matches the key policies and KMS refuses to unseal; `--upgrade` adds the new
 * measurement to the policies (the documented upgrade path: add the new image, roll, remove the
 * old one).
 *
 * A supervisor restarts any process that dies (after a short backoff), and the coordinator
 * reconnects, so the cluster heals. SIGINT/SIGTERM stop every process, the coordinator first,
 * and wait for each to exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  CreateKeyCommand,
  GetKeyPolicyCommand,
  KMSClient,
  PutKeyPolicyCommand,
} from '@aws-sdk/client-kms';
import { SimulatedNsm } from '../attestation/index.js';
import { toHex } from '../protocol/bytes.js';
import { measureEnclaveBundle } from '../enclave/bundle.js';
import { writeFileAtomic } from './aws/files.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
/** The installed code: what the enclaves measure (enclave/bundle.ts). */
export const INSTALLED_BUNDLE = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REGION = 'local-1';
const ACCOUNT = '111122223333';
const STATE_VERSION = 1;

export interface SimUpOptions {
  readonly parties: number;
  readonly threshold: number;
  readonly port: number;
  readonly dataDir: string;
  /** The admin API token; default: the one stored in the data directory, or a new one. */
  readonly adminToken?: string;
  /** The enclave bundle to measure and run (default: the installed code). */
  readonly bundle?: string;
  /** Add the current bundle's PCR0 to the KMS key policies when it changed. */
  readonly upgrade?: boolean;
  /** The coordinator's `--presign-pool`; default its own (16). */
  readonly presignaturePool?: number;
  /** Human progress lines (a terminal); JSON events only otherwise. */
  readonly progress: (line: string) => void;
}

/** What the first start decides, kept in `DIR/sim.json`. */
interface SimState {
  readonly version: number;
  readonly parties: number;
  readonly threshold: number;
  readonly kmsPort: number;
  readonly secretsPort: number;
  readonly kmsKeys: Record<string, string>;
  /** PCR0 values the key policies admit. */
  readonly admittedPcr0: string[];
}

interface Credential {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly principal: string;
}

export interface RunningSim {
  readonly url: string;
  readonly adminToken: string;
  readonly pids: () => Record<string, number | null>;
  stop(): Promise<void>;
}

/** A child process the supervisor keeps alive. */
class Supervised {
  child: ChildProcess | null = null;
  #stopping = false;
  #restarts = 0;
  readonly #onLine: (line: string, stream: 'stdout' | 'stderr') => void;

  constructor(
    readonly name: string,
    readonly args: readonly string[],
    readonly env: NodeJS.ProcessEnv,
    onLine: (line: string, stream: 'stdout' | 'stderr') => void,
    readonly onExit: (name: string, code: number | null, signal: string | null) => void,
    readonly onStart: () => void = () => {},
  ) {
    this.#onLine = onLine;
  }

  /** Starts the process and resolves with its first stdout line (its ready line). */
  start(): Promise<string> {
    const child = spawn(process.execPath, [CLI, ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // The SDK's notice that its 2027 releases will need Node 22 would repeat in every child.
      env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...this.env },
    });
    this.child = child;
    this.onStart();
    const stderr = createInterface({ input: child.stderr! });
    stderr.on('line', (line) => this.#onLine(line, 'stderr'));
    const stdout = createInterface({ input: child.stdout! });
    const ready = new Promise<string>((resolveReady, reject) => {
      stdout.once('line', resolveReady);
      child.once('exit', (code) => reject(new Error(`${this.name} exited (${code}) before ready`)));
    });
    stdout.on('line', (line) => this.#onLine(line, 'stdout'));
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.#stopping) return;
      this.onExit(this.name, code, signal);
      // Back off a little more each time, up to 10 s, so a crash loop does not spin.
      const delay = Math.min(10_000, 1000 * 2 ** Math.min(this.#restarts, 4));
      this.#restarts += 1;
      setTimeout(() => {
        if (!this.#stopping) this.start().catch(() => {});
      }, delay).unref();
    });
    return ready;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

export async function simUp(options: SimUpOptions): Promise<RunningSim> {
  const dir = resolve(options.dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const bundle = options.bundle ?? INSTALLED_BUNDLE;
  const statePath = join(dir, 'sim.json');
  const fresh = !existsSync(statePath);
  const say = options.progress;

  // --- Long-lived secrets of this deployment, made once.
  const rootCert = join(dir, 'nsm', 'root.pem');
  const rootKey = join(dir, 'nsm', 'root.key');
  if (!existsSync(rootCert)) {
    mkdirSync(join(dir, 'nsm'), { recursive: true, mode: 0o700 });
    const pem = SimulatedNsm.newRoot().toPem();
    writeFileAtomic(rootKey, pem.privateKey);
    writeFileAtomic(rootCert, pem.certificate);
  }
  const identityKey = join(dir, 'coordinator', 'identity.pem');
  const identityPub = join(dir, 'coordinator', 'identity.pub.pem');
  if (!existsSync(identityKey)) {
    mkdirSync(join(dir, 'coordinator'), { recursive: true, mode: 0o700 });
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    writeFileAtomic(identityKey, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    writeFileAtomic(identityPub, publicKey.export({ type: 'spki', format: 'pem' }) as string);
  }
  const credentialsPath = join(dir, 'aws-credentials.json');
  if (!existsSync(credentialsPath)) {
    const make = (name: string): Credential => ({
      accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      principal: `arn:aws:iam::${ACCOUNT}:role/mpc-kms-${name}`,
    });
    const all = [make('admin'), ...Array.from({ length: 64 }, (_, i) => make(`party-${i + 1}`))];
    writeFileAtomic(credentialsPath, JSON.stringify(all, null, 2));
  }
  const credentials = JSON.parse(readFileSync(credentialsPath, 'utf8')) as Credential[];
  const tokenPath = join(dir, 'admin-token');
  let adminToken = options.adminToken;
  if (!adminToken) {
    if (!existsSync(tokenPath))
      writeFileAtomic(tokenPath, `mpck_${randomBytes(32).toString('base64url')}\n`);
    adminToken = readFileSync(tokenPath, 'utf8').trim();
  }

  let state: SimState = fresh
    ? {
        version: STATE_VERSION,
        parties: options.parties,
        threshold: options.threshold,
        kmsPort: await freePort(),
        secretsPort: await freePort(),
        kmsKeys: {},
        admittedPcr0: [],
      }
    : (JSON.parse(readFileSync(statePath, 'utf8')) as SimState);
  if (!fresh && state.parties !== options.parties) {
    throw new Error(
      `${dir} holds a ${state.parties}-party cluster; start it with --parties ${state.parties}`,
    );
  }

  const measured = Date.now();
  const measurement = measureEnclaveBundle(bundle);
  const pcr0 = toHex(measurement.pcr0);
  say(`enclave bundle measured: PCR0 ${pcr0.slice(0, 16)}… (${Date.now() - measured} ms)`);
  const pcrsPath = join(dir, 'pcrs.json');
  writeFileAtomic(
    pcrsPath,
    JSON.stringify({
      0: toHex(measurement.pcr0),
      1: toHex(measurement.pcr1),
      2: toHex(measurement.pcr2),
    }),
  );

  // Short socket paths: a Unix socket path has at most 107 bytes.
  const sockets = socketDir(dir);
  const processes: Supervised[] = [];
  let stopping = false;
  const onExit = (name: string, code: number | null, signal: string | null) => {
    if (!stopping) say(`${name} exited (${signal ?? code}); restarting`);
  };
  const relay = (name: string) => (line: string, stream: 'stdout' | 'stderr') => {
    if (stream === 'stderr') progressFrom(name, line, say);
  };
  // Every process's pid, for operators and tests (`kill -9` one enclave, check for orphans).
  const writePids = () =>
    writeFileAtomic(
      join(dir, 'pids.json'),
      JSON.stringify(Object.fromEntries(processes.map((p) => [p.name, p.child?.pid ?? null]))),
    );
  const supervise = (name: string, args: string[], env: NodeJS.ProcessEnv = process.env) => {
    const p = new Supervised(name, args, env, relay(name), onExit, writePids);
    processes.push(p);
    return p;
  };

  const stopAll = async () => {
    stopping = true;
    // The coordinator first (no new ceremonies), then enclaves, parents, AWS.
    for (const p of [...processes].reverse()) await p.stop();
  };

  try {
    const aws = supervise('sim aws', [
      'sim',
      'aws',
      '--data',
      join(dir, 'aws'),
      '--region',
      REGION,
      '--kms-port',
      String(state.kmsPort),
      '--secrets-port',
      String(state.secretsPort),
      '--credentials',
      credentialsPath,
      '--nsm-root',
      rootCert,
    ]);
    await aws.start();
    // The SDK's notice that its 2027 releases need Node 22 is not this command's news to print.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const kms = new KMSClient({
      endpoint: `http://127.0.0.1:${state.kmsPort}`,
      region: REGION,
      credentials: credentials[0]!,
      maxAttempts: 2,
    });
    state = await ensureKeyPolicies(kms, state, credentials, pcr0, fresh || !!options.upgrade, say);
    if (!state.admittedPcr0.includes(pcr0)) {
      say(
        `WARNING: the enclave bundle changed (PCR0 ${pcr0.slice(0, 16)}…); the KMS key policies ` +
          'admit only the measured image, so the enclaves cannot unseal existing shares. ' +
          'Start with --upgrade to admit the new image.',
      );
    }
    kms.destroy();
    writeFileAtomic(statePath, JSON.stringify(state, null, 2));

    const allowlist = join(dir, 'allowlist.json');
    writeFileAtomic(
      allowlist,
      JSON.stringify({
        allowlist: [
          { address: '127.0.0.1', port: state.kmsPort },
          { address: '127.0.0.1', port: state.secretsPort },
        ],
      }),
    );
    const parents: string[] = [];
    const enclaves: Promise<string>[] = [];
    for (let id = 1; id <= state.parties; id++) {
      const partyDir = join(dir, `party-${id}`);
      mkdirSync(partyDir, { recursive: true, mode: 0o700 });
      const sock = (name: string) => `unix:${join(sockets, `p${id}-${name}.sock`)}`;
      const credentialsFile = join(partyDir, 'aws-credentials.json');
      const c = credentials[id]!;
      writeFileAtomic(
        credentialsFile,
        JSON.stringify({ accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey }),
      );
      await supervise(`parent ${id}`, [
        'parent-proxy',
        '--enclave',
        sock('enclave'),
        '--coordinator-listen',
        sock('coordinator'),
        '--forward',
        `${sock('kms')}=127.0.0.1:${state.kmsPort}`,
        '--forward',
        `${sock('secrets')}=127.0.0.1:${state.secretsPort}`,
        '--allowlist',
        allowlist,
      ]).start();
      parents.push(`${id}=${sock('coordinator')}`);
      enclaves.push(
        supervise(`enclave ${id}`, [
          'enclave',
          '--party',
          String(id),
          '--listen',
          sock('enclave'),
          '--kms-endpoint',
          `http://kms.${REGION}.sim`,
          '--kms-via',
          sock('kms'),
          '--secrets-endpoint',
          `http://secretsmanager.${REGION}.sim`,
          '--secrets-via',
          sock('secrets'),
          '--region',
          REGION,
          '--credentials',
          credentialsFile,
          '--kms-key-id',
          state.kmsKeys[String(id)]!,
          '--coordinator-key',
          identityPub,
          '--nsm',
          'simulated',
          '--nsm-root-cert',
          rootCert,
          '--nsm-root-key',
          rootKey,
          '--bundle',
          bundle,
        ]).start(),
      );
    }
    await Promise.all(enclaves);
    say(`${state.parties} enclaves and their parents are up`);
    const coordinator = supervise(
      'coordinator',
      [
        'coordinator',
        '--data',
        join(dir, 'coordinator'),
        '--port',
        String(options.port),
        '--identity-key',
        identityKey,
        '--trust-root',
        rootCert,
        '--expected-pcrs',
        pcrsPath,
        ...(options.presignaturePool !== undefined
          ? ['--presign-pool', String(options.presignaturePool)]
          : []),
        ...parents.flatMap((p) => ['--party', p]),
      ],
      { ...process.env, MPC_KMS_ADMIN_TOKEN: adminToken },
    );
    const ready = JSON.parse(await coordinator.start()) as { url: string };
    await waitHealthy(ready.url, 30_000);
    return {
      url: ready.url,
      adminToken,
      pids: () => Object.fromEntries(processes.map((p) => [p.name, p.child?.pid ?? null])),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * Creates each party's KMS key on the first start; on an upgrade, adds the current PCR0 to every
 * key policy. The policy admits Decrypt and GenerateDataKey for the party's role only, and only
 * for a recipient whose attested image is one of the admitted measurements.
 */
async function ensureKeyPolicies(
  kms: KMSClient,
  state: SimState,
  credentials: readonly Credential[],
  pcr0: string,
  admit: boolean,
  say: (line: string) => void,
): Promise<SimState> {
  const admitted =
    admit && !state.admittedPcr0.includes(pcr0)
      ? [...state.admittedPcr0, pcr0]
      : [...state.admittedPcr0];
  const kmsKeys = { ...state.kmsKeys };
  for (let id = 1; id <= state.parties; id++) {
    const policy = JSON.stringify(
      keyPolicy(credentials[0]!.principal, credentials[id]!.principal, admitted),
    );
    const existing = kmsKeys[String(id)];
    if (!existing) {
      const created = await kms.send(
        new CreateKeyCommand({ Description: `mpc-kms party ${id}`, Policy: policy }),
      );
      kmsKeys[String(id)] = created.KeyMetadata!.Arn!;
    } else if (admitted.length !== state.admittedPcr0.length) {
      await kms.send(new GetKeyPolicyCommand({ KeyId: existing, PolicyName: 'default' }));
      await kms.send(
        new PutKeyPolicyCommand({ KeyId: existing, PolicyName: 'default', Policy: policy }),
      );
      say(`party ${id}: key policy now admits PCR0 ${pcr0.slice(0, 16)}…`);
    }
  }
  return { ...state, kmsKeys, admittedPcr0: admitted };
}

function keyPolicy(admin: string, party: string, pcr0s: readonly string[]) {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'KeyAdministration',
        Effect: 'Allow',
        Principal: { AWS: admin },
        Action: ['kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:PutKeyPolicy'],
        Resource: '*',
      },
      {
        Sid: 'EnclaveImageOnly',
        Effect: 'Allow',
        Principal: { AWS: party },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: '*',
        Condition: {
          StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': [...pcr0s] },
        },
      },
    ],
  };
}

/** Turns enclave and coordinator events into progress lines (ceremony steps with timings). */
function progressFrom(name: string, line: string, say: (line: string) => void): void {
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(line) as Record<string, unknown>;
  } catch {
    say(`${name}: ${line}`);
    return;
  }
  // One enclave speaks for all: they run the same steps at the same time.
  if (name !== 'enclave 1') return;
  if (event.event === 'request' && (event.kind === 'keygen' || event.kind === 'refresh')) {
    say(`${event.kind}: started`);
  } else if (event.event === 'safe-primes') {
    say(`  safe primes (2 × 1024 bits)  ${seconds(event.ms)}`);
  } else if (event.event === 'session-end') {
    const label: Record<string, string> = {
      dkg: 'DKG',
      refresh: 'refresh',
      aux: 'aux info (Paillier, ring-Pedersen, proofs)',
      presign: 'presigning',
    };
    const what = label[String(event.protocol)];
    if (what)
      say(
        `  ${what.padEnd(28)} ${seconds(event.ms)}${event.outcome === 'ok' ? '' : ` (${String(event.outcome)})`}`,
      );
  }
}

function seconds(ms: unknown): string {
  return `${(Number(ms) / 1000).toFixed(2)} s`;
}

function socketDir(dir: string): string {
  const candidate = join(dir, 'sock');
  // 107 bytes minus the longest name we put there ("/p64-coordinator.sock").
  if (candidate.length <= 80) {
    mkdirSync(candidate, { recursive: true, mode: 0o700 });
    return candidate;
  }
  const short = join(tmpdir(), `mpc-kms-${toHex(randomBytes(6))}`);
  mkdirSync(short, { recursive: true, mode: 0o700 });
  return short;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

async function waitHealthy(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(`${url}/healthz`);
      const body = (await response.json()) as { status?: string };
      if (body.status === 'ok') return;
    } catch {
      // not serving yet
    }
    if (Date.now() > deadline) throw new Error('the cluster did not become healthy in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}
