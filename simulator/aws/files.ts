/**
 * Crash-safe persistence for the simulated AWS services. Each service keeps its state as small
 * JSON files; a write must leave either the old file or the new one, never a torn mix, even
 * when the process is killed mid-write (the simulator's tests do exactly that with SIGKILL).
 *
 * The recipe is the POSIX one: write a temporary file in the same directory, fsync it, rename it
 * over the target (atomic within one file system), then fsync the directory so the rename itself
 * survives a power loss. Files are created 0600: they hold key material and secret values.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces `path` with `data` atomically (mode 0600). The directory must exist. On failure the
 * temporary file is removed and the error rethrown; the previous content of `path` is intact.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  // 'wx': never follow or reuse an existing file at the temporary name.
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    try {
      let offset = 0;
      while (offset < bytes.length) {
        offset += writeSync(fd, bytes, offset, bytes.length - offset);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (error) {
    try {
      unlinkSync(tmp);
    } catch {
      // Already renamed or never created; the original error is the one worth reporting.
    }
    throw error;
  }
  syncDirectory(dir);
}

/** fsync a directory so a rename in it is durable. Some platforms refuse; that is not fatal. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows cannot open a directory for fsync; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Reads and parses a JSON file. Returns undefined only when the file does not exist; a file
 * that cannot be read or does not parse throws, naming the path, so a corrupt store is reported
 * and never mistaken for an empty one.
 */
export function readJsonFile(path: string): unknown | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`${path} is not valid JSON (corrupt store?)`, { cause: error });
  }
}
