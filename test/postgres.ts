/**
 * A real PostgreSQL server for tests, started as a child process in a throw-away directory, so
 * the store's PostgreSQL half is tested against the database it will run on, not a mock.
 *
 * Steps: find the server binaries (PATH, then the usual Debian/Ubuntu and RHEL places); `initdb`
 * a temporary cluster whose superuser is `mpckms`, with trust authentication (it only listens on
 * 127.0.0.1 and a private socket directory, and lives for one test run); start `postgres` on a
 * free port; wait until it accepts connections; create a database.
 *
 * PostgreSQL refuses to run as root (initdb and postgres both check the effective uid). When the
 * tests run as root, as in CI containers, the binaries are spawned with the uid and gid of the
 * `postgres` system user (Node's spawn does setgid/setuid in the child, dropping supplementary
 * groups), and the temporary directory is chowned to that user first. Spawning directly instead
 * of through `runuser`/`su` keeps the child's pid the postmaster's, so stop() can signal it.
 *
 * Returns null when PostgreSQL is not installed, so the caller can skip; any other failure
 * throws with the server's log, since CI installs PostgreSQL and must not skip silently.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { accessSync, chownSync, constants, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/** A running test server. */
export interface PostgresServer {
  /** URL of an empty database created at start. */
  readonly url: string;
  /** Creates another empty database and returns its URL: one fresh database per test. */
  createDatabase(): Promise<string>;
  /** Stops the server (fast shutdown, then harder) and removes its files. Safe to call twice. */
  stop(): Promise<void>;
}

/** The test cluster's superuser; also the user in every URL handed out. */
const SUPERUSER = 'mpckms';
const READY_TIMEOUT_MS = 30_000;
const LOG_TAIL = 16_384;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Subdirectories of `root` whose name is a version number, newest first. */
function versionDirs(root: string, prefix: string): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(prefix) && /^\d+(\.\d+)?$/.test(n.slice(prefix.length)))
    .sort((a, b) => Number(b.slice(prefix.length)) - Number(a.slice(prefix.length)))
    .map((n) => join(root, n));
}

/**
 * The directory holding `initdb` and `postgres`, or null. Debian and Ubuntu install the server
 * binaries under /usr/lib/postgresql/<major>/bin, outside PATH; RHEL under /usr/pgsql-<major>.
 */
export function findPostgresBin(): string | null {
  const candidates = [
    ...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''),
    ...versionDirs('/usr/lib/postgresql', '').map((d) => join(d, 'bin')),
    ...versionDirs('/usr', 'pgsql-').map((d) => join(d, 'bin')),
    '/usr/local/pgsql/bin',
  ];
  for (const dir of candidates) {
    if (isExecutable(join(dir, 'initdb')) && isExecutable(join(dir, 'postgres'))) return dir;
  }
  return null;
}

interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

/** Who the server runs as: ourselves, or a system user when we are root. */
function serverUser(): RunAs | null {
  if (process.getuid?.() !== 0) return null;
  // `nobody` as a fallback for images that ship the binaries without creating `postgres`.
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      if (uid !== 0) return { uid, gid };
    } catch {
      // no such user; try the next
    }
  }
  throw new Error('running as root, and there is no postgres (or nobody) user to run PostgreSQL');
}

/** The child's environment: no PG* variables of ours leaking in, messages in plain C locale. */
function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  return { ...env, LC_ALL: 'C', LANG: 'C' };
}

/** Keeps the last LOG_TAIL characters of a child's output, for error messages. */
function captureTail(child: ChildProcess): () => string {
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-LOG_TAIL);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => tail;
}

function spawnAs(bin: string, args: string[], user: RunAs | null): ChildProcess {
  return spawn(bin, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: serverEnv(),
    ...(user ?? {}),
  });
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves when the child has exited, or false after `ms`. */
function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/** Runs a command to completion; rejects with its output when it fails. */
async function runToEnd(bin: string, args: string[], user: RunAs | null): Promise<void> {
  const child = spawnAs(bin, args, user);
  const output = captureTail(child);
  const code = await new Promise<number | string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c, signal) => resolve(c ?? signal ?? 'unknown'));
  });
  if (code !== 0) throw new Error(`${bin} ${args.join(' ')} failed (${code}):\n${output()}`);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}

function urlFor(port: number, database: string): string {
  return `postgresql://${SUPERUSER}@127.0.0.1:${port}/${database}`;
}

/** Polls until the server accepts a connection; fails early if the postmaster exits. */
async function waitReady(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exited(child)) throw new Error(`postgres exited during start-up:\n${log()}`);
    const client = new pg.Client({ connectionString: urlFor(port, 'postgres') });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.end();
      return;
    } catch {
      await client.end().catch(() => {});
    }
    if (Date.now() > deadline) throw new Error(`postgres did not accept connections:\n${log()}`);
    await sleep(50);
  }
}

/**
 * Stops a postmaster: SIGINT is PostgreSQL's "fast" shutdown (ends sessions, checkpoints);
 * SIGQUIT its "immediate" one; SIGKILL if even that hangs. Root may signal the `postgres` user's
 * process, and the child's pid is the postmaster's since it was spawned without a wrapper.
 */
async function shutdown(child: ChildProcess): Promise<void> {
  for (const [signal, ms] of [
    ['SIGINT', 10_000],
    ['SIGQUIT', 5_000],
    ['SIGKILL', 5_000],
  ] as const) {
    if (exited(child)) return;
    child.kill(signal);
    if (await waitExit(child, ms)) return;
  }
}

/**
 * Starts a PostgreSQL server for this test run; null when PostgreSQL is not installed.
 * The caller must `stop()` it (a process exit hook kills it too, as a last resort).
 */
export async function startPostgres(): Promise<PostgresServer | null> {
  const bin = findPostgresBin();
  if (bin === null) return null;
  const user = serverUser();
  // One private directory for the cluster and the Unix socket (0700 from mkdtemp).
  const base = mkdtempSync(join(tmpdir(), 'mpckms-pg-'));
  if (user !== null) chownSync(base, user.uid, user.gid);
  const data = join(base, 'data');
  try {
    // --no-sync: the cluster is thrown away after the run, so waiting for fsync buys nothing.
    await runToEnd(
      join(bin, 'initdb'),
      ['-D', data, '-A', 'trust', '-U', SUPERUSER, '-E', 'UTF8', '--locale=C', '--no-sync'],
      user,
    );
    // A free port can be taken by someone else before postgres binds it: retry on that only.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const child = spawnAs(
        join(bin, 'postgres'),
        [
          '-D',
          data,
          '-p',
          String(port),
          '-k',
          base,
          '-c',
          'listen_addresses=127.0.0.1',
          // Test data only: skip the fsyncs that production relies on.
          '-c',
          'fsync=off',
        ],
        user,
      );
      const log = captureTail(child);
      try {
        await waitReady(port, child, log);
      } catch (error) {
        await shutdown(child);
        if (attempt < 5 && /could not bind|already in use/i.test(log())) continue;
        throw error;
      }
      try {
        return await running(child, port, base);
      } catch (error) {
        await shutdown(child);
        throw error;
      }
    }
  } catch (error) {
    rmSync(base, { recursive: true, force: true });
    throw error;
  }
}

async function running(child: ChildProcess, port: number, base: string): Promise<PostgresServer> {
  // Last resort if the test process exits without stop(): never leave a postmaster behind.
  const onExit = (): void => {
    child.kill('SIGQUIT');
  };
  process.once('exit', onExit);
  let databases = 0;
  const createDatabase = async (): Promise<string> => {
    const name = `mpckms_${++databases}`;
    const admin = new pg.Client({ connectionString: urlFor(port, 'postgres') });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
    return urlFor(port, name);
  };
  let url: string;
  try {
    url = await createDatabase();
  } catch (error) {
    process.off('exit', onExit);
    throw error;
  }
  let stopped = false;
  return {
    url,
    createDatabase,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off('exit', onExit);
      await shutdown(child);
      rmSync(base, { recursive: true, force: true });
    },
  };
}
