/**
 * `mpc-kms pcrs FILE [--format tfvars|json|flags]`: turns the measurements `nitro-cli
 * build-enclave` prints (saved by nitro/build-eif.sh) into the forms the rest of the system reads:
 *
 * - `tfvars`: `admitted_pcr0s = ["…"]`, plus `admitted_pcr8 = "…"` for a signed image (Terraform syntax);
 * - `json`: `{"0":"…","1":"…","2":"…"}` (and `"8"`), the `--expected-pcrs` file of
 *   `mpc-kms enclave` and `mpc-kms coordinator`;
 * - `flags`: `--pcr 0=… --pcr 1=… --pcr 2=…` (and `--pcr 8=…`) for `mpc-kms attest verify`.
 *
 * The input is read strictly: a typo or a file of another tool must not turn into a key policy
 * that admits the wrong image. Exit 0 on success, 2 on a usage error or a refused file.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export const PCRS_USAGE = 'usage: mpc-kms pcrs FILE [--format tfvars|json|flags]';

/** The registers nitro-cli reports for an image, lowercase hex (96 digits, SHA-384). */
export interface ImageMeasurements {
  readonly pcr0: string;
  readonly pcr1: string;
  readonly pcr2: string;
  /** Only for an image signed at build time: the hash of the signing certificate. */
  readonly pcr8?: string;
}

/** Refusal of a measurements file; the message says which field and why. */
export class MeasurementsError extends Error {
  override readonly name = 'MeasurementsError';
}

export const PCR_FORMATS = ['tfvars', 'json', 'flags'] as const;
export type PcrFormat = (typeof PCR_FORMATS)[number];

const PCR_HEX = /^[0-9a-fA-F]{96}$/;
// nitro-cli prints the algorithm with Rust's Debug formatting, "Sha384 { ... }".
const HASH_ALGORITHM = /^Sha384( \{ \.\.\. \})?$/;

/**
 * Parses the JSON nitro-cli prints after `build-enclave` (or `describe-eif`'s `Measurements`
 * member on its own line): `{"Measurements":{"HashAlgorithm":"Sha384 { ... }","PCR0":…,"PCR1":…,
 * "PCR2":…,"PCR8"?:…}}`. Unknown keys are refused, as is an all-zero register: that is what a
 * debug-mode enclave reports, and admitting it would admit every debug enclave.
 *
 * @throws MeasurementsError
 */
export function parseMeasurements(text: string, source = 'measurements'): ImageMeasurements {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new MeasurementsError(`${source}: not JSON (${(error as Error).message})`);
  }
  const top = plainObject(json, source);
  onlyKeys(top, ['Measurements'], [], source);
  const where = `${source}: Measurements`;
  const m = plainObject(top.Measurements, where);
  onlyKeys(m, ['HashAlgorithm', 'PCR0', 'PCR1', 'PCR2'], ['PCR8'], where);
  if (typeof m.HashAlgorithm !== 'string' || !HASH_ALGORITHM.test(m.HashAlgorithm)) {
    throw new MeasurementsError(
      `${where}.HashAlgorithm: expected "Sha384 { ... }", got ${JSON.stringify(m.HashAlgorithm)}`,
    );
  }
  const register = (name: string): string => {
    const value = m[name];
    if (typeof value !== 'string' || !PCR_HEX.test(value)) {
      throw new MeasurementsError(`${where}.${name}: expected 96 hex digits (SHA-384)`);
    }
    if (/^0+$/.test(value)) {
      throw new MeasurementsError(`${where}.${name}: all zero, the value of a debug-mode enclave`);
    }
    return value.toLowerCase();
  };
  const out = { pcr0: register('PCR0'), pcr1: register('PCR1'), pcr2: register('PCR2') };
  return 'PCR8' in m ? { ...out, pcr8: register('PCR8') } : out;
}

/** Renders parsed measurements in one of {@link PCR_FORMATS}; the result ends with a newline. */
export function formatMeasurements(m: ImageMeasurements, format: PcrFormat): string {
  const registers: [string, string][] = [
    ['0', m.pcr0],
    ['1', m.pcr1],
    ['2', m.pcr2],
  ];
  if (m.pcr8 !== undefined) registers.push(['8', m.pcr8]);
  switch (format) {
    case 'tfvars':
      // Only PCR0 goes into the key policy (kms:RecipientAttestation:ImageSha384); PCR8, when the
      // image is signed, pins the signer so an upgrade need not change the policy's PCR8 line.
      return (
        `admitted_pcr0s = ["${m.pcr0}"]\n` +
        (m.pcr8 !== undefined ? `admitted_pcr8 = "${m.pcr8}"\n` : '')
      );
    case 'json':
      return JSON.stringify(Object.fromEntries(registers)) + '\n';
    case 'flags':
      return registers.map(([i, hex]) => `--pcr ${i}=${hex}`).join(' ') + '\n';
  }
}

export async function pcrsCommand(
  args: readonly string[],
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  let text: string;
  let format: PcrFormat;
  let file: string;
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { format: { type: 'string', default: 'json' } },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length !== 1) throw new Error('expected exactly one FILE');
    file = positionals[0]!;
    if (!(PCR_FORMATS as readonly string[]).includes(values.format)) {
      throw new Error(`--format must be one of ${PCR_FORMATS.join(', ')}`);
    }
    format = values.format as PcrFormat;
    text = readFileSync(file, 'utf8');
  } catch (error) {
    err(`mpc-kms pcrs: ${error instanceof Error ? error.message : String(error)}`);
    err(PCRS_USAGE);
    return 2;
  }
  let measurements: ImageMeasurements;
  try {
    measurements = parseMeasurements(text, file);
  } catch (error) {
    err(`mpc-kms pcrs: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  out(formatMeasurements(measurements, format).trimEnd());
  return 0;
}

function plainObject(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MeasurementsError(`${where}: expected an object`);
  }
  return value as Record<string, unknown>;
}

function onlyKeys(
  o: Record<string, unknown>,
  required: readonly string[],
  optional: readonly string[],
  where: string,
): void {
  for (const name of required) {
    if (!(name in o)) throw new MeasurementsError(`${where}: missing "${name}"`);
  }
  for (const name of Object.keys(o)) {
    if (!required.includes(name) && !optional.includes(name)) {
      throw new MeasurementsError(`${where}: unknown key "${name}"`);
    }
  }
}
