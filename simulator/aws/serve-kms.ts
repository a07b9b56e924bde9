/**
 * Runs the simulated KMS as its own process, as the real system does (the enclave reaches KMS
 * over the network, never in-process):
 *
 *   node dist/simulator/aws/serve-kms.js CONFIG.json
 *
 * CONFIG.json: `{ "dataDir", "region", "host"?, "port"?, "account"?, "maxAttestationAgeMs"?,
 * "credentials": [{ "accessKeyId", "secretAccessKey", "principal" }],
 * "attestationRoots": ["root.pem" | "root.der", ...] }` (relative paths are relative to the
 * config file). Once listening it prints one line, `{"url":"http://127.0.0.1:PORT"}`, on stdout,
 * and stops on SIGTERM or SIGINT. A proper CLI will wrap this; it is kept tiny on purpose.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { listenAwsJsonService, type AwsCredential, type RunningService } from './json-server.js';
import { SimulatedKms } from './kms.js';

/** The parsed configuration of {@link serveKms}. */
export interface KmsServeConfig {
  readonly dataDir: string;
  readonly region: string;
  readonly host?: string;
  readonly port?: number;
  readonly account?: string;
  readonly maxAttestationAgeMs?: number;
  readonly credentials: readonly AwsCredential[];
  /** Root certificates, DER. */
  readonly attestationRoots: readonly Uint8Array[];
}

/** A certificate file, PEM or DER, as DER (X509Certificate parses both and checks the DER). */
function readCertificate(path: string): Uint8Array {
  return new Uint8Array(new X509Certificate(readFileSync(path)).raw);
}

/**
 * Parses a config file's JSON; paths are resolved against `baseDir`.
 *
 * @throws TypeError naming the first invalid member.
 */
export function parseKmsServeConfig(raw: unknown, baseDir: string): KmsServeConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new TypeError('config must be a JSON object');
  }
  const c = raw as Record<string, unknown>;
  const str = (name: string): string => {
    if (typeof c[name] !== 'string' || c[name] === '')
      throw new TypeError(`config.${name}: string`);
    return c[name];
  };
  const optional = <T>(name: string, check: (v: unknown) => v is T): T | undefined => {
    if (c[name] === undefined) return undefined;
    if (!check(c[name])) throw new TypeError(`config.${name} is invalid`);
    return c[name];
  };
  const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  const isString = (v: unknown): v is string => typeof v === 'string';
  const credentials = c['credentials'];
  if (!Array.isArray(credentials) || credentials.length === 0) {
    throw new TypeError('config.credentials: a non-empty list');
  }
  const roots = c['attestationRoots'];
  if (!Array.isArray(roots) || !roots.every(isString)) {
    throw new TypeError('config.attestationRoots: a list of certificate paths');
  }
  return {
    dataDir: resolve(baseDir, str('dataDir')),
    region: str('region'),
    host: optional('host', isString),
    port: optional('port', isNumber),
    account: optional('account', isString),
    maxAttestationAgeMs: optional('maxAttestationAgeMs', isNumber),
    credentials: credentials.map((x: unknown, i) => {
      const e = (x ?? {}) as Record<string, unknown>;
      if (![e['accessKeyId'], e['secretAccessKey'], e['principal']].every(isString)) {
        throw new TypeError(`config.credentials[${i}]: accessKeyId, secretAccessKey, principal`);
      }
      return {
        accessKeyId: e['accessKeyId'] as string,
        secretAccessKey: e['secretAccessKey'] as string,
        principal: e['principal'] as string,
      };
    }),
    attestationRoots: roots.map((p) => readCertificate(resolve(baseDir, p))),
  };
}

/** Opens the KMS store and listens. */
export async function serveKms(config: KmsServeConfig): Promise<RunningService> {
  const kms = SimulatedKms.open({
    dataDir: config.dataDir,
    region: config.region,
    account: config.account,
    attestationRoots: config.attestationRoots,
    maxAttestationAgeMs: config.maxAttestationAgeMs,
  });
  return listenAwsJsonService({
    service: 'kms',
    targetPrefix: 'TrentService',
    region: config.region,
    credentials: config.credentials,
    handlers: kms.handlers,
    host: config.host,
    port: config.port,
  });
}

async function main(argv: readonly string[]): Promise<void> {
  const path = argv[0];
  if (path === undefined) throw new TypeError('usage: serve-kms CONFIG.json');
  const raw: unknown = JSON.parse(readFileSync(path, 'utf8'));
  const service = await serveKms(parseKmsServeConfig(raw, dirname(resolve(path))));
  process.stdout.write(`${JSON.stringify({ url: service.url })}\n`);
  const stop = (): void => {
    service.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`serve-kms: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
