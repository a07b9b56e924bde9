/**
 * What a simulated enclave measures into its PCRs: the compiled code the enclave process runs,
 * and nothing else. The coordinator, simulator, parent proxy, tests and benchmarks live in the
 * same installation but not in the enclave image, so they are left out: a change to a test
 * must not change the enclave's measurements, while a change to any file the enclave loads must.
 */
import { lstatSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { measureFiles, type Measurement } from '../attestation/index.js';

/** The compiled folders the enclave process loads (see cli/enclave.ts and its imports). */
export const ENCLAVE_FOLDERS = ['attestation', 'cli', 'enclave', 'protocol', 'transport'] as const;

/**
 * Measures the enclave's part of an installation rooted at `root` (the `dist/` folder). A folder
 * that is absent measures as empty; a symbolic link is refused, as `measureBundle` refuses one.
 */
export function measureEnclaveBundle(root: string): Measurement {
  const files: { path: string; content: Uint8Array }[] = [];
  const walk = (relative: string) => {
    for (const name of readdirSync(join(root, relative)).sort()) {
      const path = `${relative}/${name}`;
      const stat = lstatSync(join(root, path));
      if (stat.isSymbolicLink()) throw new Error(`enclave bundle: ${path} is a symbolic link`);
      if (stat.isDirectory()) walk(path);
      else if (stat.isFile()) files.push({ path, content: readFileSync(join(root, path)) });
    }
  };
  for (const folder of ENCLAVE_FOLDERS) {
    if (lstatSync(join(root, folder), { throwIfNoEntry: false })?.isDirectory()) walk(folder);
  }
  return measureFiles(files);
}
