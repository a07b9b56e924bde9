/**
 * The parent proxy's allowlist: the only TCP endpoints an enclave may reach through its parent.
 * It plays the part of the `allowlist` in AWS's vsock-proxy configuration (YAML there), as JSON
 * so that reading it needs no dependency:
 *
 *   {"allowlist": [{"address": "kms.us-east-1.amazonaws.com", "port": 443}, ...]}
 *
 * The proxy is untrusted by the enclave (TLS to AWS protects what it carries), but it is the
 * operator's guard against a compromised enclave image using its parent as a way out to the
 * internet: a forward to anything not listed refuses to start. Matching is exact (no wildcards,
 * no DNS resolution), with host names compared case-insensitively as DNS does.
 */
import { readFile } from 'node:fs/promises';
import { isHost } from '../transport/index.js';
import { ProxyError } from './errors.js';

/** One permitted endpoint. */
export interface AllowlistEntry {
  readonly address: string;
  readonly port: number;
}

/** A parsed allowlist; build one with {@link parseAllowlist} or {@link loadAllowlist}. */
export class Allowlist {
  readonly entries: readonly AllowlistEntry[];
  private readonly keys: ReadonlySet<string>;

  constructor(entries: readonly AllowlistEntry[]) {
    this.entries = entries.map((entry, i) => checkEntry(entry, `allowlist[${i}]`));
    this.keys = new Set(this.entries.map((entry) => key(entry.address, entry.port)));
  }

  /** True when `host`:`port` is listed exactly (host compared case-insensitively). */
  isAllowed(host: string, port: number): boolean {
    return this.keys.has(key(host, port));
  }
}

/**
 * Parses the JSON text of an allowlist file. Unknown keys, duplicate entries, ports outside
 * 1..65535 and malformed hosts are refused, naming where: a typo must not quietly allow or
 * deny something.
 *
 * @throws ProxyError('BAD_ALLOWLIST')
 */
export function parseAllowlist(text: string, source = 'allowlist'): Allowlist {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ProxyError('BAD_ALLOWLIST', `${source}: not JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(json)) throw new ProxyError('BAD_ALLOWLIST', `${source}: expected an object`);
  const extra = Object.keys(json).filter((name) => name !== 'allowlist');
  if (extra.length > 0) {
    throw new ProxyError('BAD_ALLOWLIST', `${source}: unknown key "${extra[0]}"`);
  }
  const list = json.allowlist;
  if (!Array.isArray(list)) {
    throw new ProxyError('BAD_ALLOWLIST', `${source}: "allowlist" must be a list`);
  }
  const seen = new Set<string>();
  const entries = list.map((item: unknown, i) => {
    const where = `${source}: allowlist[${i}]`;
    if (!isPlainObject(item)) throw new ProxyError('BAD_ALLOWLIST', `${where}: expected an object`);
    const names = Object.keys(item).sort().join(',');
    if (names !== 'address,port') {
      throw new ProxyError('BAD_ALLOWLIST', `${where}: needs exactly "address" and "port"`);
    }
    const entry = checkEntry(item as unknown as AllowlistEntry, where);
    const k = key(entry.address, entry.port);
    if (seen.has(k)) throw new ProxyError('BAD_ALLOWLIST', `${where}: duplicate entry`);
    seen.add(k);
    return entry;
  });
  return new Allowlist(entries);
}

/** Reads and parses an allowlist file. @throws ProxyError('BAD_ALLOWLIST') */
export async function loadAllowlist(path: string): Promise<Allowlist> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ProxyError('BAD_ALLOWLIST', `${path}: not readable (${(error as Error).message})`);
  }
  return parseAllowlist(text, path);
}

function checkEntry(entry: AllowlistEntry, where: string): AllowlistEntry {
  if (typeof entry.address !== 'string' || !isHost(entry.address)) {
    throw new ProxyError('BAD_ALLOWLIST', `${where}: "address" must be a host name or IP address`);
  }
  const port = entry.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ProxyError('BAD_ALLOWLIST', `${where}: "port" must be an integer 1..65535`);
  }
  return { address: entry.address, port };
}

function key(host: string, port: number): string {
  return `${host.toLowerCase()}\n${port}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
