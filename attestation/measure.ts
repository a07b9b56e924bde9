/**
 * Measurement of an enclave bundle into PCR0, PCR1 and PCR2 for the simulated NSM.
 *
 * On Nitro the three registers are fixed when the enclave image (EIF) is built: PCR0 covers the
 * whole image, PCR1 the kernel and boot ramdisk, PCR2 the application. A change of application
 * code therefore changes PCR0 and PCR2 but not PCR1, and a KMS key policy or a peer that pins the
 * PCRs refuses the changed enclave. The simulator needs the same property without an EIF, so it
 * measures the directory the enclave's code is loaded from:
 *
 * - PCR2 (application) = SHA-384 over the application files: for each file, in path order, its
 *   relative path and the SHA-384 of its content.
 * - PCR1 (the simulated "kernel") = SHA-384 over the runtime identity: Node's version, platform
 *   and architecture, the things that would be baked into the image below the application.
 * - PCR0 (image) = SHA-384 over PCR1, PCR2 and the listing of every entry (directories included,
 *   with each file's size), so the image changes when anything in it does.
 *
 * Every hash input starts with its own domain tag and every variable-length field is prefixed by
 * its 8-byte length, so no two different bundles produce the same input (a file "ab" holding "c"
 * never reads as a file "a" holding "bc", and a PCR2 input never reads as a PCR0 input). Paths are
 * sorted by their UTF-8 bytes, not by locale or UTF-16 order, so the result is the same on every
 * machine. The values are not EIF measurements: they cannot be compared with `nitro-cli`'s.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AttestationError } from './types.js';

/** The three boot-time registers of a Nitro enclave, 48 bytes each (SHA-384). */
export interface Measurement {
  readonly pcr0: Uint8Array;
  readonly pcr1: Uint8Array;
  readonly pcr2: Uint8Array;
}

/** What PCR1 measures: the runtime the bundle's code runs on. */
export interface RuntimeIdentity {
  /** `process.version`, e.g. "v20.19.0". */
  readonly version: string;
  /** `process.platform`, e.g. "linux". */
  readonly platform: string;
  /** `process.arch`, e.g. "x64". */
  readonly arch: string;
}

/** One application file: a relative POSIX path ("lib/main.js") and its bytes. */
export interface BundleFile {
  readonly path: string;
  readonly content: Uint8Array;
}

/** Options shared by {@link measureBundle} and {@link measureFiles}. */
export interface MeasureOptions {
  /** The runtime PCR1 measures. Default: the running process ({@link currentRuntime}). */
  readonly runtime?: RuntimeIdentity;
}

/** Options of {@link measureFiles}. */
export interface MeasureFilesOptions extends MeasureOptions {
  /**
   * Directories to list beyond those that hold a file, so an in-memory bundle can express the
   * empty directories a real one may contain. Parents of files are always listed.
   */
  readonly directories?: readonly string[];
}

// Domain tags: each hash gets its own, so an input built for one register can never be replayed
// as the input of another.
const TAG_PCR0 = 'mpc-kms/measure/v1/pcr0-image';
const TAG_PCR1 = 'mpc-kms/measure/v1/pcr1-runtime';
const TAG_PCR2 = 'mpc-kms/measure/v1/pcr2-application';

// Entry kinds in the PCR0 listing.
const KIND_DIRECTORY = 0x64; // 'd'
const KIND_FILE = 0x66; // 'f'

/** The runtime identity of the running process: what PCR1 measures by default. */
export function currentRuntime(): RuntimeIdentity {
  return { version: process.version, platform: process.platform, arch: process.arch };
}

/**
 * Measures the enclave bundle rooted at `dir`: every regular file and directory below it, hidden
 * ones included (nothing is skipped, or an unmeasured file could change behaviour). Symbolic links
 * are refused, the root included, because a link's target lies outside what was measured and may
 * change after measurement; sockets, FIFOs and devices are refused because they are not content.
 * File names that are not valid UTF-8 are refused rather than decoded lossily into a name that
 * another file could also have.
 *
 * @throws AttestationError('MALFORMED') on any refused entry; file-system errors (a missing or
 * unreadable path) propagate unchanged.
 */
export function measureBundle(dir: string, options: MeasureOptions = {}): Measurement {
  const files: BundleFile[] = [];
  const directories: string[] = [];
  const rootStat = lstatSync(dir);
  if (rootStat.isSymbolicLink()) refuse(`bundle root ${dir} is a symbolic link`);
  if (!rootStat.isDirectory()) refuse(`bundle root ${dir} is not a directory`);
  walk(dir, '', files, directories);
  return measureFiles(files, { ...options, directories });
}

/**
 * Measures an in-memory bundle. Gives the same PCRs as {@link measureBundle} over a directory
 * holding the same files (and, through `options.directories`, the same empty directories).
 *
 * Paths are relative POSIX paths: no leading "/", no "\\", no empty, "." or ".." segments, no NUL,
 * no lone UTF-16 surrogates; each path appears once and is not also a directory of another path.
 *
 * @throws AttestationError('MALFORMED') when a path breaks those rules.
 */
export function measureFiles(
  files: readonly BundleFile[],
  options: MeasureFilesOptions = {},
): Measurement {
  const runtime = options.runtime ?? currentRuntime();

  // Collect files and every directory (explicit or implied by a file's path) keyed by path, so a
  // path used both as a file and as a directory is caught.
  const fileByPath = new Map<string, Uint8Array>();
  const dirs = new Set<string>();
  for (const file of files) {
    checkPath(file.path);
    if (!(file.content instanceof Uint8Array)) refuse(`content of ${file.path} is not bytes`);
    if (fileByPath.has(file.path)) refuse(`duplicate path ${file.path}`);
    fileByPath.set(file.path, file.content);
    addParents(file.path, dirs);
  }
  for (const d of options.directories ?? []) {
    checkPath(d);
    dirs.add(d);
    addParents(d, dirs);
  }
  for (const d of dirs) {
    if (fileByPath.has(d)) refuse(`${d} is both a file and a directory`);
  }

  const sortedFiles = sortByBytes([...fileByPath.keys()]);
  const sortedEntries = sortByBytes([...fileByPath.keys(), ...dirs]);

  const pcr2 = createHash('sha384');
  pcr2.update(lengthPrefixed(utf8(TAG_PCR2)));
  pcr2.update(u64(sortedFiles.length));
  for (const path of sortedFiles) {
    const content = fileByPath.get(path)!;
    pcr2.update(lengthPrefixed(utf8(path)));
    // The content hash has a fixed length, so it needs no prefix.
    pcr2.update(createHash('sha384').update(content).digest());
  }
  const pcr2Value = new Uint8Array(pcr2.digest());

  const pcr1 = createHash('sha384');
  pcr1.update(lengthPrefixed(utf8(TAG_PCR1)));
  pcr1.update(lengthPrefixed(utf8(runtime.version)));
  pcr1.update(lengthPrefixed(utf8(runtime.platform)));
  pcr1.update(lengthPrefixed(utf8(runtime.arch)));
  const pcr1Value = new Uint8Array(pcr1.digest());

  const pcr0 = createHash('sha384');
  pcr0.update(lengthPrefixed(utf8(TAG_PCR0)));
  pcr0.update(pcr1Value);
  pcr0.update(pcr2Value);
  pcr0.update(u64(sortedEntries.length));
  for (const path of sortedEntries) {
    const content = fileByPath.get(path);
    if (content === undefined) {
      pcr0.update(Uint8Array.of(KIND_DIRECTORY));
      pcr0.update(lengthPrefixed(utf8(path)));
    } else {
      pcr0.update(Uint8Array.of(KIND_FILE));
      pcr0.update(lengthPrefixed(utf8(path)));
      pcr0.update(u64(content.length));
    }
  }
  const pcr0Value = new Uint8Array(pcr0.digest());

  return { pcr0: pcr0Value, pcr1: pcr1Value, pcr2: pcr2Value };
}

/** Depth-first walk collecting files and directories by relative POSIX path. */
function walk(absolute: string, relative: string, files: BundleFile[], dirs: string[]): void {
  // Names as raw bytes: a string listing would silently replace invalid UTF-8 with U+FFFD.
  const names = readdirSync(absolute, { encoding: 'buffer' });
  for (const raw of names) {
    const name = decodeName(raw, absolute);
    const childAbsolute = join(absolute, name);
    const childRelative = relative === '' ? name : `${relative}/${name}`;
    const stat = lstatSync(childAbsolute);
    if (stat.isSymbolicLink()) refuse(`${childRelative} is a symbolic link`);
    if (stat.isDirectory()) {
      dirs.push(childRelative);
      walk(childAbsolute, childRelative, files, dirs);
    } else if (stat.isFile()) {
      files.push({ path: childRelative, content: new Uint8Array(readFileSync(childAbsolute)) });
    } else {
      refuse(`${childRelative} is neither a regular file nor a directory`);
    }
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decodeName(raw: Buffer, parent: string): string {
  try {
    return strictUtf8.decode(raw);
  } catch {
    return refuse(`a file name in ${parent} is not valid UTF-8`);
  }
}

// A lone surrogate would be encoded as U+FFFD, colliding with a name that really holds U+FFFD.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkPath(path: string): void {
  if (typeof path !== 'string' || path.length === 0) refuse('empty or non-string path');
  if (path.startsWith('/')) refuse(`path ${path} is absolute`);
  if (path.includes('\\')) refuse(`path ${path} contains a backslash`);
  if (path.includes('\0')) refuse(`path ${JSON.stringify(path)} contains NUL`);
  if (LONE_SURROGATE.test(path)) refuse(`path ${JSON.stringify(path)} is not valid Unicode`);
  for (const segment of path.split('/')) {
    // Each of these would let two spellings name one file, or name one outside the bundle.
    if (segment === '' || segment === '.' || segment === '..') {
      refuse(`path ${path} has an empty, "." or ".." segment`);
    }
  }
}

function addParents(path: string, dirs: Set<string>): void {
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    dirs.add(path.slice(0, i));
  }
}

function sortByBytes(paths: string[]): string[] {
  return paths
    .map((p) => ({ p, bytes: Buffer.from(p, 'utf8') }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map((e) => e.p);
}

function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

function u64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

function lengthPrefixed(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + bytes.length);
  out.set(u64(bytes.length), 0);
  out.set(bytes, 8);
  return out;
}

function refuse(message: string): never {
  throw new AttestationError('MALFORMED', `enclave bundle: ${message}`);
}
