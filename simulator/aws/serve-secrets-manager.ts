/**
 * A minimal process entry that runs the simulated Secrets Manager, so tests (and, until the
 * simulator's CLI exists, people) can start it as its own process, as the real system does.
 *
 *   node dist/simulator/aws/serve-secrets-manager.js '<json config>'
 *
 * Config: `{ "dataDir": string, "region": string, "port"?: number, "host"?: string,
 * "credentials": [{ "accessKeyId", "secretAccessKey", "principal" }] }`. When listening it
 * prints one line, `{"url":"http://127.0.0.1:PORT"}`, on stdout; SIGTERM or SIGINT closes it.
 * It will be replaced by a proper CLI; keep it small.
 */
import { listenAwsJsonService, type AwsCredential } from './json-server.js';
import { secretsManagerHandlers } from './secrets-manager.js';

interface ServeConfig {
  readonly dataDir: string;
  readonly region: string;
  readonly host?: string;
  readonly port?: number;
  readonly credentials: readonly AwsCredential[];
}

/** Parses the one argument into a typed config, or exits with a usage message. */
function parseConfig(text: string | undefined): ServeConfig {
  const fail = (why: string): never => {
    process.stderr.write(`serve-secrets-manager: ${why}\n`);
    process.exit(2);
  };
  if (text === undefined) return fail('usage: serve-secrets-manager <json config>');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return fail('config is not JSON');
  }
  const c = raw as Partial<Record<keyof ServeConfig, unknown>>;
  if (typeof c.dataDir !== 'string' || typeof c.region !== 'string') {
    return fail('config needs dataDir and region strings');
  }
  if (c.port !== undefined && !Number.isInteger(c.port)) return fail('port must be an integer');
  if (c.host !== undefined && typeof c.host !== 'string') return fail('host must be a string');
  const credentials = Array.isArray(c.credentials) ? c.credentials : fail('credentials missing');
  for (const k of credentials as unknown[]) {
    const o = k as Record<string, unknown>;
    if (
      typeof o?.['accessKeyId'] !== 'string' ||
      typeof o['secretAccessKey'] !== 'string' ||
      typeof o['principal'] !== 'string'
    ) {
      fail('each credential needs accessKeyId, secretAccessKey and principal');
    }
  }
  return {
    dataDir: c.dataDir,
    region: c.region,
    ...(c.host === undefined ? {} : { host: c.host as string }),
    ...(c.port === undefined ? {} : { port: c.port as number }),
    credentials: credentials as AwsCredential[],
  };
}

const config = parseConfig(process.argv[2]);
const service = await listenAwsJsonService({
  service: 'secretsmanager',
  targetPrefix: 'secretsmanager',
  region: config.region,
  credentials: config.credentials,
  handlers: secretsManagerHandlers({ dataDir: config.dataDir, region: config.region }),
  ...(config.host === undefined ? {} : { host: config.host }),
  ...(config.port === undefined ? {} : { port: config.port }),
});
process.stdout.write(`${JSON.stringify({ url: service.url })}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void service.close().then(() => process.exit(0));
  });
}
