/**
 * `mpc-kms attest verify FILE …`: a reviewer's check of one attestation document against the
 * pinned AWS Nitro root (or a given root), a time, expected PCRs and a nonce. Prints one JSON
 * object (DESIGN.md "Contract") or, with `--format text`, a readable report. Exit codes: 0 valid,
 * 1 invalid, 2 usage.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fromHex, toHex } from '../protocol/bytes.js';
import { verifyAttestation, type VerifyPolicy, type VerifyResult } from '../attestation/index.js';

const USAGE =
  'usage: mpc-kms attest verify FILE [--root PEM] [--at RFC3339] [--pcr I=HEX]... ' +
  '[--nonce HEX] [--allow-debug] [--format json|text]';

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * The document's bytes from FILE, which holds raw CBOR, hex or base64. Text forms are tried only
 * when the file is all printable ASCII: a COSE_Sign1 starts with 0x84 or 0xd2, so raw CBOR is
 * never mistaken for text. Hex first, since every hex string is also in the base64 alphabet.
 */
function readDocumentBytes(file: Uint8Array): Uint8Array {
  const printable = file.every(
    (b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d,
  );
  if (printable) {
    const text = Buffer.from(file).toString('latin1').replace(/\s+/g, '');
    const hex = text.length > 0 ? fromHex(text) : null;
    if (hex) return hex;
    if (text.length > 0 && text.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
      return new Uint8Array(Buffer.from(text, 'base64'));
    }
  }
  return file;
}

function hexArg(value: string, what: string): Uint8Array {
  const bytes = fromHex(value);
  if (!bytes || bytes.length === 0)
    throw new Error(`${what} must be non-empty hex, got "${value}"`);
  return bytes;
}

function parsePolicy(values: {
  root?: string;
  at?: string;
  pcr?: string[];
  nonce?: string;
  'allow-debug'?: boolean;
}): VerifyPolicy {
  let root: Uint8Array | undefined;
  if (values.root !== undefined) {
    try {
      // X509Certificate reads PEM or DER; what is pinned is the certificate's DER.
      root = new Uint8Array(new X509Certificate(readFileSync(values.root)).raw);
    } catch (err) {
      throw new Error(`--root ${values.root}: not a readable certificate (${String(err)})`);
    }
  }
  let at: Date | undefined;
  if (values.at !== undefined) {
    at = new Date(values.at);
    if (!RFC3339.test(values.at) || Number.isNaN(at.getTime())) {
      throw new Error(`--at must be an RFC 3339 time such as 2022-10-13T09:00:00Z`);
    }
  }
  const expectedPcrs = new Map<number, Uint8Array>();
  for (const entry of values.pcr ?? []) {
    const match = /^(\d{1,2})=(.*)$/.exec(entry);
    const index = match ? Number(match[1]) : NaN;
    if (!match || index > 31) throw new Error(`--pcr must be I=HEX with I in 0..31`);
    if (expectedPcrs.has(index)) throw new Error(`--pcr ${index} given twice`);
    expectedPcrs.set(index, hexArg(match[2]!, `--pcr ${index}`));
  }
  return {
    ...(root ? { root } : {}),
    ...(at ? { at } : {}),
    ...(expectedPcrs.size > 0 ? { expectedPcrs } : {}),
    ...(values.nonce !== undefined ? { nonce: hexArg(values.nonce, '--nonce') } : {}),
    allowDebug: values['allow-debug'] === true,
  };
}

const hexOrNull = (bytes: Uint8Array | null) => (bytes ? toHex(bytes) : null);

/** The contract's JSON shape (DESIGN.md), field order included. */
function resultJson(result: VerifyResult): object {
  if (!result.valid) return { valid: false, error: result.error };
  const d = result.document;
  const pcrs: Record<string, string> = {};
  for (const index of [...d.pcrs.keys()].sort((a, b) => a - b))
    pcrs[index] = toHex(d.pcrs.get(index)!);
  return {
    valid: true,
    moduleId: d.moduleId,
    timestamp: d.timestamp,
    digest: d.digest,
    pcrs,
    publicKey: hexOrNull(d.publicKey),
    userData: hexOrNull(d.userData),
    nonce: hexOrNull(d.nonce),
    certificates: result.certificates,
  };
}

/**
 * Escapes control and bidirectional-override characters: module ids and subjects come from the
 * document, and a terminal would otherwise obey escape sequences hidden in them.
 */
function printable(text: string): string {
  return text.replace(
    /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function textReport(result: VerifyResult): string[] {
  if (!result.valid) {
    return [
      'attestation document: INVALID',
      `${result.error.code}: ${printable(result.error.message)}`,
    ];
  }
  const d = result.document;
  const field = (name: string, value: string) => `${name.padEnd(12)}${value}`;
  const bytes = (b: Uint8Array | null) => (b ? `${toHex(b)} (${b.length} bytes)` : '(none)');
  // Any positive safe integer decodes, but Date stops at year 275760.
  const time = new Date(d.timestamp);
  const when = Number.isNaN(time.getTime()) ? '' : `${time.toISOString()} `;
  return [
    'attestation document: VALID',
    field('module id', printable(d.moduleId)),
    field('timestamp', `${when}(${d.timestamp} ms)`),
    field('digest', d.digest),
    ...[...d.pcrs.keys()].sort((a, b) => a - b).map((i) => field(`PCR${i}`, toHex(d.pcrs.get(i)!))),
    field('public key', bytes(d.publicKey)),
    field('user data', bytes(d.userData)),
    field('nonce', bytes(d.nonce)),
    'certificates (leaf first):',
    ...result.certificates.map(
      (c) => `  ${printable(c.subject)}\n    valid ${c.notBefore} .. ${c.notAfter}`,
    ),
  ];
}

/** Runs `attest …`; returns the exit code. */
export function attestCommand(
  args: string[],
  out: (line: string) => void,
  err: (line: string) => void,
): number {
  try {
    const parsed = parseArgs({
      args,
      options: {
        root: { type: 'string' },
        at: { type: 'string' },
        pcr: { type: 'string', multiple: true },
        nonce: { type: 'string' },
        'allow-debug': { type: 'boolean' },
        format: { type: 'string', default: 'json' },
      },
      allowPositionals: true,
      strict: true,
    });
    const [sub, path, ...extra] = parsed.positionals;
    if (sub !== 'verify' || !path || extra.length > 0) throw new Error('expected: verify FILE');
    const format = parsed.values.format;
    if (format !== 'json' && format !== 'text') throw new Error('--format must be json or text');
    const policy = parsePolicy(parsed.values);
    let file: Uint8Array;
    try {
      file = new Uint8Array(readFileSync(path));
    } catch (e) {
      throw new Error(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const result = verifyAttestation(readDocumentBytes(file), policy);
    if (format === 'json') out(JSON.stringify(resultJson(result)));
    else for (const line of textReport(result)) out(line);
    return result.valid ? 0 : 1;
  } catch (e) {
    // Only argument and file problems reach here: verifyAttestation reports, never throws.
    const message = e instanceof Error ? e.message : String(e);
    err(`mpc-kms attest: ${message}\n${USAGE}`);
    return 2;
  }
}
