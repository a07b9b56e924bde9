/**
 * `mpc-kms sim …`: the local simulator's processes. `sim aws` runs the simulated KMS and Secrets
 * Manager (one process, two ports) over a data directory, until SIGINT or SIGTERM.
 *
 *   mpc-kms sim aws --data DIR [--region R] [--host H] [--kms-port P] [--secrets-port P]
 *                   [--credentials FILE] [--nsm-root PEM]...
 *
 * `--credentials` names a JSON list of `{accessKeyId, secretAccessKey, principal, sessionToken?}`
 * (a session token makes it a temporary credential that every request must present); without it
 * the command creates `DIR/aws-credentials.json` once, with one administrator credential, and
 * reuses it after. `--nsm-root` (repeatable) names a simulated NSM root certificate (PEM or DER)
 * that KMS trusts for attested recipients. When both servers listen it prints one JSON line:
 * `{"kms":URL,"secretsManager":URL,"credentials":PATH}`. A SIGINT or SIGTERM closes both servers
 * and exits 0. Invalid arguments exit 2 before anything is written to disk; a store that cannot
 * be opened (a corrupt KMS key file, say) or a port already taken exits 1.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../simulator/aws/files.js';
import type { AwsCredential } from '../simulator/aws/json-server.js';
import { startAwsServices } from '../simulator/aws/services.js';
import { SIM_UP_USAGE, simUpCommand } from './sim-up.js';

export const SIM_USAGE =
  'usage: mpc-kms sim aws --data DIR [--region R] [--host H] [--kms-port P] ' +
  '[--secrets-port P] [--credentials FILE] [--nsm-root PEM]...';

/** Runs `sim <subcommand>`; resolves with the exit code once the services have stopped. */
export async function simCommand(
  args: readonly string[],
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'up') return simUpCommand(rest, out, err);
  if (sub !== 'aws') {
    err(`${SIM_UP_USAGE}\n${SIM_USAGE}`);
    return 2;
  }
  let config: Awaited<ReturnType<typeof parseAwsArgs>>;
  try {
    config = parseAwsArgs(rest);
  } catch (error) {
    err(`mpc-kms sim aws: ${error instanceof Error ? error.message : String(error)}`);
    err(SIM_USAGE);
    return 2;
  }
  const services = await startAwsServices(config);
  // Listen for the signals before announcing readiness: whoever reads the line may stop us.
  const stopped = new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  out(
    JSON.stringify({
      kms: services.kms.url,
      secretsManager: services.secretsManager.url,
      credentials: config.credentialsFile,
    }),
  );
  await stopped;
  await services.close();
  return 0;
}

function parseAwsArgs(args: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      data: { type: 'string' },
      region: { type: 'string', default: 'local-1' },
      host: { type: 'string', default: '127.0.0.1' },
      'kms-port': { type: 'string', default: '0' },
      'secrets-port': { type: 'string', default: '0' },
      credentials: { type: 'string' },
      'nsm-root': { type: 'string', multiple: true, default: [] },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
  if (values.data === undefined) throw new Error('--data DIR is required');
  if (!/^[a-z]{2,}(-[a-z]+)*-\d{1,2}$/.test(values.region)) {
    throw new Error(`--region "${values.region}" is not a region name`);
  }
  const dataDir = resolve(values.data);
  const kmsPort = port(values['kms-port'], '--kms-port');
  const secretsManagerPort = port(values['secrets-port'], '--secrets-port');
  const attestationRoots = values['nsm-root'].map((path) => {
    try {
      return new Uint8Array(new X509Certificate(readFileSync(path)).raw);
    } catch {
      throw new Error(`--nsm-root ${path}: not a readable certificate`);
    }
  });
  const given = values.credentials === undefined ? undefined : resolve(values.credentials);
  const givenCredentials = given === undefined ? undefined : readCredentials(given);

  // Every flag is valid: only now touch the disk, so a mistyped command leaves nothing behind.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const credentialsFile = given ?? join(dataDir, 'aws-credentials.json');
  if (given === undefined && !existsSync(credentialsFile)) {
    writeFileAtomic(credentialsFile, JSON.stringify([newAdminCredential()], null, 2) + '\n');
  }
  return {
    dataDir,
    region: values.region,
    host: values.host,
    kmsPort,
    secretsManagerPort,
    credentials: givenCredentials ?? readCredentials(credentialsFile),
    credentialsFile,
    attestationRoots,
  };
}

function port(text: string, flag: string): number {
  const n = Number(text);
  if (!/^\d{1,5}$/.test(text) || n > 65535) throw new Error(`${flag} must be a port number`);
  return n;
}

function readCredentials(path: string): AwsCredential[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new Error(`credentials ${path}: not a readable JSON file`);
  }
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new Error(`credentials ${path}: expected a non-empty JSON list`);
  }
  return raw.map((entry: unknown, i) => {
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const { accessKeyId, secretAccessKey, principal, sessionToken } = e;
    if (
      typeof accessKeyId !== 'string' ||
      typeof secretAccessKey !== 'string' ||
      typeof principal !== 'string' ||
      (sessionToken !== undefined && typeof sessionToken !== 'string')
    ) {
      throw new Error(
        `credentials ${path}[${i}]: needs accessKeyId, secretAccessKey, principal ` +
          '(and sessionToken, if any, as text)',
      );
    }
    return {
      accessKeyId,
      secretAccessKey,
      principal,
      ...(typeof sessionToken === 'string' ? { sessionToken } : {}),
    };
  });
}

/** A fresh administrator credential, shaped like AWS's (AKIA + 16, 40-character secret). */
function newAdminCredential(): AwsCredential {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const id = [...randomBytes(16)].map((b) => alphabet[b % 32]).join('');
  return {
    accessKeyId: `AKIA${id}`,
    secretAccessKey: randomBytes(30).toString('base64'),
    principal: 'arn:aws:iam::111122223333:role/mpc-kms-admin',
  };
}
