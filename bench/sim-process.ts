/**
 * What the `sign_api` benchmark needs around the running system: `mpc-kms sim up` as a child
 * process in a throw-away data directory, a keep-alive HTTP client for the REST API, and readers
 * for the Prometheus text of `GET /metrics` and the pages of `GET /v1/audit`.
 *
 * Nothing here times anything; `sign-api.ts` does. Progress and the child's complaints go to
 * stderr, because stdout carries only the benchmark's JSON lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** First start makes the NSM root, identity and KMS keys, and starts seven processes. */
const READY_TIMEOUT_MS = 180_000;
/** `sim up` stops the coordinator, enclaves, parents and AWS in turn on SIGINT. */
const STOP_TIMEOUT_MS = 60_000;
/** Lines of the child's stderr kept to explain a failed start. */
const STDERR_TAIL = 40;

/** One line on stderr, prefixed so it can be told from the other suites' output. */
export const progress = (line: string): void => {
  process.stderr.write(`sign_api: ${line}\n`);
};

/** A port that was free a moment ago (the kernel's choice), for `sim up --port`. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A running `mpc-kms sim up` and the admin token it was started with. */
export interface RunningSystem {
  readonly url: string;
  readonly port: number;
  readonly adminToken: string;
  /** SIGINT, wait for the child (SIGKILL after a minute), then remove the data directory. */
  stop(): Promise<void>;
}

/**
 * Starts `node dist/cli/main.js sim up --data <fresh dir> --port <free port>` with a random
 * admin token, and resolves once it prints `mpc-kms ready: URL`. On any failure the child is
 * stopped and the directory removed before the error is thrown.
 */
export async function startSystem(): Promise<RunningSystem> {
  const data = mkdtempSync(join(tmpdir(), 'mpc-kms-bench-'));
  const adminToken = `bench_${randomBytes(24).toString('base64url')}`;
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [CLI, 'sim', 'up', '--data', data, '--port', String(port)],
    {
      env: {
        ...process.env,
        MPC_KMS_ADMIN_TOKEN: adminToken,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal ? null : 0)));
  });
  const tail: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    tail.push(line);
    if (tail.length > STDERR_TAIL) tail.shift();
  });

  let stopped: Promise<void> | null = null;
  const stop = () => (stopped ??= stopChild(child, exited, data));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`sim up did not print "mpc-kms ready" in ${READY_TIMEOUT_MS} ms`)),
        READY_TIMEOUT_MS,
      );
      // Keep reading stdout to the end so the child never blocks on a full pipe. The line
      // "admin token: ..." is read and dropped: the token is ours already, and stays off stdout.
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const ready = /^mpc-kms ready: (http:\/\/127\.0\.0\.1:\d+)\/?$/.exec(line.trim());
        if (ready) {
          clearTimeout(timer);
          resolve(ready[1]!);
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`sim up exited (${code}) before it was ready:\n${tail.join('\n')}`));
      });
    });
    return { url, port: Number(new URL(url).port), adminToken, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function stopChild(
  child: ChildProcess,
  exited: Promise<number | null>,
  data: string,
): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGINT');
    const timer = setTimeout(() => {
      progress(`sim up did not stop in ${STOP_TIMEOUT_MS} ms; SIGKILL (check DIR/pids.json)`);
      child.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
  rmSync(data, { recursive: true, force: true });
}

/** An HTTP answer: the status and the body, parsed as JSON when it is JSON, else the text. */
export interface Answer {
  readonly status: number;
  readonly body: unknown;
}

/**
 * The REST API over one keep-alive connection (node:http, `maxSockets: 1`), so that sequential
 * timings measure requests, not TCP handshakes. Each call names its own bearer token.
 */
export class ApiClient {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 1 });
  constructor(readonly port: number) {}

  call(
    method: 'GET' | 'POST',
    path: string,
    token: string | null,
    body?: unknown,
    timeoutMs = 60_000,
  ): Promise<Answer> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: this.port, method, path, headers, agent: this.#agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text === '' ? null : JSON.parse(text);
            } catch {
              // Prometheus text, or an error page: keep the text.
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.setTimeout(timeoutMs, () =>
        req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)),
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Like `call`, but a non-2xx answer is thrown with the API's error code and message. */
  async ok<T>(
    method: 'GET' | 'POST',
    path: string,
    token: string | null,
    body?: unknown,
    timeoutMs?: number,
  ): Promise<T> {
    const answer = await this.call(method, path, token, body, timeoutMs);
    if (answer.status < 200 || answer.status > 299) {
      throw new Error(`${method} ${path}: ${answer.status} ${describeError(answer.body)}`);
    }
    return answer.body as T;
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** `CODE: message` from an API error body, or the start of whatever else came back. */
export function describeError(body: unknown): string {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (error && typeof error.code === 'string') {
    return `${error.code}${typeof error.message === 'string' ? `: ${error.message}` : ''}`;
  }
  return JSON.stringify(body)?.slice(0, 200) ?? String(body);
}

/** One sample of the Prometheus text format: `name{label="value",...} value`. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of `name` in a Prometheus text exposition; `families` says whether it was declared. */
export function samples(text: string, name: string): { declared: boolean; found: Sample[] } {
  const found: Sample[] = [];
  let declared = false;
  for (const line of text.split('\n')) {
    if (line.startsWith(`# TYPE ${name} `) || line.startsWith(`# HELP ${name} `)) declared = true;
    const match = SAMPLE.exec(line);
    if (!match || match[1] !== name) continue;
    declared = true;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) labels[key!] = value!;
    found.push({ name, labels, value: Number(match[3]) });
  }
  return { declared, found };
}

/** Whether two label sets are the same set. */
export function sameLabels(
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>>,
) {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

interface AuditPage {
  entries: { seq: number; entry: unknown }[];
  head: { seq: number } | null;
}

/**
 * The entries of `GET /v1/audit` from sequence number `from` on, page by page (the route answers
 * at most 1000 at a time), and the sequence number to read from next time.
 */
export async function readAudit(
  api: ApiClient,
  token: string,
  from = 1,
): Promise<{ entries: unknown[]; next: number }> {
  const entries: unknown[] = [];
  for (;;) {
    const page = await api.ok<AuditPage>('GET', `/v1/audit?from=${from}&limit=1000`, token);
    for (const e of page.entries) entries.push(e.entry);
    const last = page.entries.at(-1);
    if (last) from = last.seq + 1;
    if (!last || !page.head || last.seq >= page.head.seq) return { entries, next: from };
  }
}
