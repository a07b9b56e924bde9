/**
 * Assembles the enclave bundle: the files the enclave image holds above Node and its production
 * `node_modules`, laid out the same way on every machine. nitro/Dockerfile runs this in its build
 * stage and copies the result into the image, and `test/bundle.test.ts` runs it twice to show that
 * what the project controls is reproducible.
 *
 *   OUT/package.json, OUT/package-lock.json
 *   OUT/dist/<folder>/…   for each folder of ENCLAVE_FOLDERS (enclave/bundle.ts)
 *
 * Determinism: files are copied in byte order of their paths; every file gets mode 0644 and every
 * directory 0755 whatever the source's umask gave them; every entry's access and modification
 * time is set to one given epoch (SOURCE_DATE_EPOCH in the Dockerfile). Symbolic links and special
 * files are refused rather than followed, as measureEnclaveBundle refuses them. Owners are not set
 * here (that needs root); the Dockerfile sets them with `COPY --chown`.
 */
import { chmodSync, copyFileSync, lstatSync, mkdirSync, readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { ENCLAVE_FOLDERS } from '../enclave/bundle.js';

/** Where {@link assembleEnclaveBundle} reads from and writes to. */
export interface AssembleOptions {
  /** The compiled tree (the project's `dist/`). */
  readonly dist: string;
  /** The folder holding `package.json` and `package-lock.json`. */
  readonly project: string;
  /** The output folder: created if absent, refused if it holds anything. */
  readonly out: string;
  /** Seconds since 1970 written as every entry's time. Default 0. */
  readonly epoch?: number;
}

/** What was copied, as relative POSIX paths in the order written. */
export interface AssembledBundle {
  readonly files: readonly string[];
}

/** Copies the enclave's part of `dist` and the package files into `out`. */
export function assembleEnclaveBundle(options: AssembleOptions): AssembledBundle {
  const epoch = options.epoch ?? 0;
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new Error(`bundle: bad epoch ${epoch}`);
  mkdirSync(options.out, { recursive: true });
  if (readdirSync(options.out).length > 0) {
    // Stale files from an earlier build would be measured into the image without being built.
    throw new Error(`bundle: ${options.out} is not empty`);
  }
  const files: string[] = [];
  const directories: string[] = [''];
  const copyFile = (from: string, relative: string) => {
    const stat = lstatSync(from);
    if (!stat.isFile()) throw new Error(`bundle: ${from} is not a regular file`);
    copyFileSync(from, join(options.out, relative));
    chmodSync(join(options.out, relative), 0o644);
    files.push(relative);
  };
  const makeDirectory = (relative: string) => {
    mkdirSync(join(options.out, relative));
    directories.push(relative);
  };
  const walk = (from: string, relative: string) => {
    makeDirectory(relative);
    for (const name of byBytes(readdirSync(from))) {
      const source = join(from, name);
      const target = `${relative}/${name}`;
      const stat = lstatSync(source);
      if (stat.isDirectory()) walk(source, target);
      else if (stat.isFile()) copyFile(source, target);
      else throw new Error(`bundle: ${source} is neither a regular file nor a directory`);
    }
  };

  copyFile(join(options.project, 'package.json'), 'package.json');
  copyFile(join(options.project, 'package-lock.json'), 'package-lock.json');
  makeDirectory('dist');
  for (const folder of ENCLAVE_FOLDERS) {
    const source = join(options.dist, folder);
    // A missing folder is an incomplete build, not an empty folder: refuse it.
    if (!lstatSync(source, { throwIfNoEntry: false })?.isDirectory()) {
      throw new Error(`bundle: ${source} is missing; run the build first`);
    }
    walk(source, `dist/${folder}`);
  }

  // Times last, deepest first, so no later write inside a directory moves its time again.
  for (const relative of files) utimesSync(join(options.out, relative), epoch, epoch);
  for (const relative of [...directories].reverse()) {
    const path = relative === '' ? options.out : join(options.out, relative);
    chmodSync(path, 0o755);
    utimesSync(path, epoch, epoch);
  }
  return { files };
}

function byBytes(names: string[]): string[] {
  return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}
