/**
 * `mpc-kms sim up`: the whole local system (see simulator/up.ts). What `npm start` runs.
 *
 *   mpc-kms sim up [--parties N] [--threshold T] [--port P] [--data DIR] [--bundle DIR] [--upgrade]
 *                  [--presign-pool N]
 *
 * Defaults: 3 parties, threshold 2 (what `mpc-kms demo` uses for its keys), port 8080, data in
 * `./.mpc-kms`, 16 ECDSA presignatures kept ready per key and signer set (`--presign-pool`). Prints `admin token: …` (from MPC_KMS_ADMIN_TOKEN, or the one kept in the data
 * directory, made on the first start) and then `mpc-kms ready: http://127.0.0.1:P`; on a
 * terminal it also prints progress (processes, ceremonies with timings), and is quiet otherwise.
 * SIGINT/SIGTERM stop every process and exit 0.
 */
import { parseArgs } from 'node:util';
import { simUp } from '../simulator/up.js';

export const SIM_UP_USAGE =
  'usage: mpc-kms sim up [--parties N] [--threshold T] [--port P] [--data DIR] [--bundle DIR] ' +
  '[--upgrade] [--presign-pool N]';

export async function simUpCommand(
  args: readonly string[],
  out: (line: string) => void,
  err: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let options: {
    parties: number;
    threshold: number;
    port: number;
    data: string;
    bundle?: string;
    upgrade: boolean;
    presignaturePool: number;
  };
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: {
        parties: { type: 'string', default: '3' },
        threshold: { type: 'string', default: '2' },
        port: { type: 'string', default: '8080' },
        data: { type: 'string', default: '.mpc-kms' },
        bundle: { type: 'string' },
        upgrade: { type: 'boolean', default: false },
        'presign-pool': { type: 'string', default: '16' },
      },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
    const int = (text: string, flag: string, min: number, max: number) => {
      const n = Number(text);
      if (!/^\d+$/.test(text) || n < min || n > max)
        throw new Error(`${flag} must be in ${min}..${max}`);
      return n;
    };
    const parties = int(values.parties, '--parties', 1, 64);
    const threshold = int(values.threshold, '--threshold', 1, parties);
    options = {
      parties,
      threshold,
      port: int(values.port, '--port', 0, 65535),
      data: values.data,
      ...(values.bundle ? { bundle: values.bundle } : {}),
      upgrade: values.upgrade,
      presignaturePool: int(values['presign-pool'], '--presign-pool', 0, 1000),
    };
  } catch (error) {
    err(`mpc-kms sim up: ${error instanceof Error ? error.message : String(error)}`);
    err(SIM_UP_USAGE);
    return 2;
  }
  const tty = process.stdout.isTTY === true;
  const started = Date.now();
  const progress = (line: string) => {
    if (line.startsWith('WARNING')) err(line);
    else if (tty) out(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
  };
  const stopped = new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  let sim;
  try {
    sim = await simUp({
      parties: options.parties,
      threshold: options.threshold,
      port: options.port,
      dataDir: options.data,
      ...(env.MPC_KMS_ADMIN_TOKEN ? { adminToken: env.MPC_KMS_ADMIN_TOKEN } : {}),
      ...(options.bundle ? { bundle: options.bundle } : {}),
      upgrade: options.upgrade,
      presignaturePool: options.presignaturePool,
      progress,
    });
  } catch (error) {
    err(`mpc-kms sim up: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  out(`admin token: ${sim.adminToken}`);
  out(`mpc-kms ready: ${sim.url}`);
  if (tty) out('stop with Ctrl-C; try `npx mpc-kms demo` in another terminal');
  await stopped;
  if (tty) out('stopping…');
  await sim.stop();
  return 0;
}
