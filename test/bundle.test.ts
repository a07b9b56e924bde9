/**
 * Reproducibility of what the project controls: the enclave bundle (simulator/bundle.ts), built
 * twice from one compiled tree into two folders, measures the same (enclave/bundle.ts); the same
 * as the installed dist/ it came from; and a one-byte change to one enclave file changes PCR0 and
 * PCR2 (image and application) but not PCR1 (the runtime), as on Nitro. The EIF's own PCRs need
 * nitro-cli and cannot be checked here (nitro/README.md).
 */
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import {
  appendFileSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENCLAVE_FOLDERS, measureEnclaveBundle } from '../enclave/bundle.js';
import { assembleEnclaveBundle } from '../simulator/bundle.js';
import { toHex } from '../protocol/bytes.js';
import type { Measurement } from '../attestation/index.js';

const DIST = fileURLToPath(new URL('..', import.meta.url));
const PROJECT = fileURLToPath(new URL('../..', import.meta.url));
const EPOCH = 1_700_000_000;

const hexes = (m: Measurement) => ({
  pcr0: toHex(m.pcr0),
  pcr1: toHex(m.pcr1),
  pcr2: toHex(m.pcr2),
});

function withTwoBundles(body: (a: string, b: string) => void): void {
  const root = mkdtempSync(join(tmpdir(), 'bundle-'));
  try {
    const a = join(root, 'a');
    const b = join(root, 'b');
    assembleEnclaveBundle({ dist: DIST, project: PROJECT, out: a, epoch: EPOCH });
    assembleEnclaveBundle({ dist: DIST, project: PROJECT, out: b, epoch: EPOCH });
    body(a, b);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Every entry below `dir` as "path mode mtime size", in byte order. */
function listing(dir: string, relative = ''): string[] {
  const lines: string[] = [];
  for (const name of readdirSync(join(dir, relative)).sort()) {
    const path = relative === '' ? name : `${relative}/${name}`;
    const stat = lstatSync(join(dir, path));
    const mode = (stat.mode & 0o7777).toString(8);
    lines.push(
      `${path} ${mode} ${Math.floor(stat.mtimeMs / 1000)} ${stat.isFile() ? stat.size : '-'}`,
    );
    if (stat.isDirectory()) lines.push(...listing(dir, path));
  }
  return lines;
}

test('two builds of one tree give identical files, modes, times and simulated PCRs', () => {
  withTwoBundles((a, b) => {
    assert.deepEqual(listing(a), listing(b));
    assert.deepEqual(
      readdirSync(join(a, 'dist')).sort(),
      [...ENCLAVE_FOLDERS].sort(),
      'only the enclave folders are in the bundle',
    );
    for (const line of listing(a)) {
      const [path, mode, mtime] = line.split(' ');
      assert.equal(Number(mtime), EPOCH, path);
      assert.ok(mode === '644' || mode === '755', `${path} mode ${mode}`);
    }
    const pa = hexes(measureEnclaveBundle(join(a, 'dist')));
    assert.deepEqual(pa, hexes(measureEnclaveBundle(join(b, 'dist'))));
    // The bundle measures as the installed code does: what the simulator runs is what ships.
    assert.deepEqual(pa, hexes(measureEnclaveBundle(DIST)));
  });
});

test('a changed enclave file changes PCR0 and PCR2 but not PCR1; a touch changes nothing', () => {
  withTwoBundles((a, b) => {
    const before = hexes(measureEnclaveBundle(join(b, 'dist')));
    const file = join(b, 'dist', 'enclave', 'bundle.js');
    // Times are not measured: a touch alone leaves every register as it was.
    utimesSync(file, EPOCH + 60, EPOCH + 60);
    assert.deepEqual(hexes(measureEnclaveBundle(join(b, 'dist'))), before);

    appendFileSync(file, '\n');
    const after = hexes(measureEnclaveBundle(join(b, 'dist')));
    assert.notEqual(after.pcr0, before.pcr0);
    assert.notEqual(after.pcr2, before.pcr2);
    assert.equal(after.pcr1, before.pcr1);
    assert.deepEqual(hexes(measureEnclaveBundle(join(a, 'dist'))), before);
  });
});

test('the bundle runs `mpc-kms enclave` without the folders it leaves out', () => {
  // Inside dist/ so that Node finds the project's node_modules by walking up, as the image's
  // /app/node_modules is found; coordinator/, simulator/ and parent-proxy/ are absent, so a
  // static import of any of them from cli/main.js would fail here before the usage check.
  const out = mkdtempSync(join(DIST, '.bundle-run-'));
  try {
    assembleEnclaveBundle({ dist: DIST, project: PROJECT, out });
    const run = spawnSync(process.execPath, [join(out, 'dist', 'cli', 'main.js'), 'enclave'], {
      encoding: 'utf8',
    });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /--party is required/);
    assert.match(run.stderr, /usage: mpc-kms enclave/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('assembly refuses a non-empty output folder and an incomplete build', () => {
  const root = mkdtempSync(join(tmpdir(), 'bundle-'));
  try {
    writeFileSync(join(root, 'stale.js'), '');
    assert.throws(
      () => assembleEnclaveBundle({ dist: DIST, project: PROJECT, out: root }),
      /is not empty/,
    );
    const partial = join(root, 'partial-dist');
    assembleEnclaveBundle({ dist: DIST, project: PROJECT, out: join(root, 'full') });
    // A dist/ without protocol/ (the build stopped early) must not produce a smaller image.
    assert.throws(
      () =>
        assembleEnclaveBundle({
          dist: join(root, 'full', 'dist', 'protocol'),
          project: PROJECT,
          out: partial,
        }),
      /is missing; run the build first/,
    );
    assert.equal(
      readFileSync(join(root, 'full', 'package.json'), 'utf8'),
      readFileSync(join(PROJECT, 'package.json'), 'utf8'),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
