/**
 * The Nitro Secure Module as the enclave's {@link Attester}. Node cannot issue the ioctl that
 * /dev/nsm requires, so each request runs the small C helper built from nitro/nsm/nsm-ioctl.c:
 * CBOR request on its stdin, CBOR response on its stdout, failures as exit codes. The helper is
 * spawned asynchronously (the event loop keeps serving peers while the NSM works), one at a
 * time, and killed at a timeout.
 *
 * Why one at a time: the driver serialises requests under a mutex anyway (Linux
 * drivers/misc/nsm.c), so concurrent helpers would only queue inside the kernel, where a
 * timeout can no longer tell a slow NSM from a long queue. Queued here, each helper's timeout
 * measures its own request.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import {
  NSM_RESPONSE_MAX_SIZE,
  decodeAttestationResponse,
  encodeAttestationRequest,
  type NsmAttestationRequest,
} from './nsm-api.js';
import { NsmError } from './nsm-error.js';
import type { Attester } from './recipient.js';

/** An attestation takes milliseconds; the driver itself gives up after two minutes. */
const DEFAULT_TIMEOUT_MS = 15_000;
const MAX_TIMEOUT_MS = 120_000;

/** Enough for the helper's one-line messages; the rest is dropped. */
const MAX_STDERR_BYTES = 1024;

/** The helper's exit codes (nitro/nsm/nsm-ioctl.c). */
const EXIT = {
  answered: 0,
  usage: 2,
  noDevice: 3,
  ioctlFailed: 4,
  badRequest: 5,
  outputFailed: 6,
} as const;

/** Options of {@link NitroNsm.create}. */
export interface NitroNsmOptions {
  /** Absolute path of the compiled nsm-ioctl helper (nitro/nsm/nsm-ioctl.c). */
  readonly helperPath: string;
  /** How long one helper run may take before it is killed. Default 15 000 ms; at most 120 000. */
  readonly timeoutMs?: number;
  /**
   * The helper's whole environment. Default: empty. The helper needs none, and an empty one
   * keeps an inherited LD_PRELOAD or similar from reaching the process that talks to the NSM.
   * Tests pass their device double here.
   */
  readonly env?: Readonly<Record<string, string>>;
}

/** One helper run: its answer, and when the process is really gone (the queue waits for it). */
interface HelperRun {
  readonly output: Promise<Uint8Array>;
  readonly exited: Promise<void>;
}

/**
 * Printable ASCII of the helper's stderr, first line, bounded. The helper never writes payload
 * bytes there; this only keeps a broken helper from putting control characters into logs.
 */
function helperMessage(stderr: readonly Buffer[]): string {
  const text = Buffer.concat(stderr).toString('latin1').split('\n')[0] ?? '';
  const clean = text.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
  return clean === '' ? 'no message' : clean;
}

function runHelper(
  helperPath: string,
  env: Readonly<Record<string, string>>,
  timeoutMs: number,
  input: Uint8Array,
): HelperRun {
  let settleOutput!: { resolve: (b: Uint8Array) => void; reject: (e: NsmError) => void };
  const output = new Promise<Uint8Array>((resolve, reject) => {
    settleOutput = { resolve, reject };
  });
  let markExited!: () => void;
  const exited = new Promise<void>((resolve) => (markExited = resolve));

  let settled = false;
  const settle = (result: Uint8Array | NsmError): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (result instanceof NsmError) settleOutput.reject(result);
    else settleOutput.resolve(result);
  };

  const child = spawn(helperPath, [], { env: { ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let stdoutBytes = 0;
  let stderrBytes = 0;
  let overflow = false;

  // SIGKILL, not SIGTERM: the helper holds nothing worth a clean shutdown. A helper inside the
  // ioctl dies only when the driver returns; `exited` waits for that, the caller does not.
  const timer = setTimeout(() => {
    child.kill('SIGKILL');
    settle(new NsmError('NSM_TIMEOUT', `the NSM helper did not answer within ${timeoutMs} ms`));
  }, timeoutMs);

  child.stdout.on('data', (chunk: Buffer) => {
    stdoutBytes += chunk.length;
    if (stdoutBytes > NSM_RESPONSE_MAX_SIZE) {
      overflow = true;
      child.kill('SIGKILL');
      return;
    }
    stdout.push(chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderrBytes < MAX_STDERR_BYTES) {
      stderr.push(chunk.subarray(0, MAX_STDERR_BYTES - stderrBytes));
    }
    stderrBytes += chunk.length;
  });
  // EPIPE when the helper exits before reading: its exit code says why, so this is not the error.
  child.stdin.on('error', () => {});
  child.stdin.end(input);

  child.on('error', (err: NodeJS.ErrnoException) => {
    const missing = err.code === 'ENOENT' || err.code === 'EACCES';
    settle(
      new NsmError(
        missing ? 'NSM_UNAVAILABLE' : 'NSM_FAILED',
        `the NSM helper could not be run (${err.code ?? 'unknown error'})`,
        { cause: err },
      ),
    );
    // A process that never started has no 'close' to wait for on every Node version.
    if (child.pid === undefined) markExited();
  });

  child.on('close', (code, signal) => {
    markExited();
    if (overflow) {
      return settle(new NsmError('NSM_MALFORMED', 'the NSM helper wrote more than a response'));
    }
    if (signal !== null) {
      return settle(new NsmError('NSM_FAILED', `the NSM helper was killed by ${signal}`));
    }
    const why = helperMessage(stderr);
    switch (code) {
      case EXIT.answered:
        return settle(new Uint8Array(Buffer.concat(stdout)));
      case EXIT.noDevice:
        return settle(new NsmError('NSM_UNAVAILABLE', `no NSM device: ${why}`));
      case EXIT.ioctlFailed:
        return settle(new NsmError('NSM_FAILED', `the NSM request failed: ${why}`));
      case EXIT.badRequest:
      case EXIT.usage:
      case EXIT.outputFailed:
      default:
        return settle(new NsmError('NSM_FAILED', `the NSM helper exited with ${code}: ${why}`));
    }
  });

  return { output, exited };
}

/**
 * The enclave's NSM client. Build with {@link NitroNsm.create}; pass it wherever an
 * {@link Attester} is wanted (the peer channel's identity, the sealing path's recipient).
 */
export class NitroNsm implements Attester {
  readonly #helperPath: string;
  readonly #timeoutMs: number;
  readonly #env: Readonly<Record<string, string>>;
  /** Settles when the previous helper process has exited; each request waits for it. */
  #idle: Promise<void> = Promise.resolve();

  private constructor(helperPath: string, timeoutMs: number, env: Record<string, string>) {
    this.#helperPath = helperPath;
    this.#timeoutMs = timeoutMs;
    this.#env = env;
  }

  /**
   * Checks the options and that the helper is an executable file, so that a misbuilt image
   * fails when the enclave starts rather than at its first handshake. It does not touch the
   * NSM: whether /dev/nsm exists shows at the first {@link attest}.
   *
   * @throws NsmError('NSM_CONFIG_INVALID') for a relative path, a bad timeout or environment;
   * NsmError('NSM_UNAVAILABLE') when the helper is missing or not executable.
   */
  static async create(options: NitroNsmOptions): Promise<NitroNsm> {
    const { helperPath, timeoutMs = DEFAULT_TIMEOUT_MS, env = {} } = options;
    // Absolute, so that spawn never searches PATH for the program that speaks for the enclave.
    if (typeof helperPath !== 'string' || !isAbsolute(helperPath)) {
      throw new NsmError('NSM_CONFIG_INVALID', 'helperPath must be an absolute path');
    }
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
      throw new NsmError('NSM_CONFIG_INVALID', `timeoutMs must be 1 to ${MAX_TIMEOUT_MS}`);
    }
    const copy: Record<string, string> = {};
    for (const [key, value] of Object.entries(env)) {
      if (typeof value !== 'string') {
        throw new NsmError('NSM_CONFIG_INVALID', `env.${key} must be a string`);
      }
      copy[key] = value;
    }
    try {
      if (!(await stat(helperPath)).isFile()) throw new Error('not a regular file');
      await access(helperPath, constants.X_OK);
    } catch (err) {
      throw new NsmError('NSM_UNAVAILABLE', `the NSM helper ${helperPath} is not executable`, {
        cause: err,
      });
    }
    return new NitroNsm(helperPath, timeoutMs, copy);
  }

  /**
   * Asks the NSM for an attestation document binding the given fields (absent or null ones are
   * sent as null and come back null). Requests run one after another in call order.
   *
   * @returns the document, untagged COSE_Sign1 bytes, not yet verified.
   * @throws NsmError: NSM_INVALID_REQUEST (before anything runs), NSM_UNAVAILABLE,
   * NSM_REFUSED (with `nsmCode`), NSM_MALFORMED, NSM_TIMEOUT or NSM_FAILED.
   */
  async attest(request: NsmAttestationRequest): Promise<Uint8Array> {
    // Encoded now, not when its turn comes: refusals are immediate and the arrays are copied.
    const encoded = encodeAttestationRequest(request);

    const previous = this.#idle;
    let release!: () => void;
    this.#idle = new Promise<void>((resolve) => (release = resolve));
    await previous;
    let run: HelperRun;
    try {
      run = runHelper(this.#helperPath, this.#env, this.#timeoutMs, encoded);
    } catch (err) {
      // spawn threw before any process existed: nothing to wait for.
      release();
      throw new NsmError('NSM_FAILED', 'the NSM helper could not be run', { cause: err });
    }
    // The next request waits for this process to be gone, even after a timeout rejected ours.
    void run.exited.then(release);
    return decodeAttestationResponse(await run.output);
  }
}
