/**
 * `mpc-kms pcrs`: every output format from nitro/measurements/example.json, the example's own
 * labelling, and the refusal (exit 2) of files that are not nitro-cli measurements.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  formatMeasurements,
  MeasurementsError,
  parseMeasurements,
  pcrsCommand,
} from '../cli/pcrs.js';

// Tests run from dist/test/, the example lives in the source tree.
const EXAMPLE = fileURLToPath(new URL('../../nitro/measurements/example.json', import.meta.url));
const exampleText = readFileSync(EXAMPLE, 'utf8');
const example = JSON.parse(exampleText) as { Measurements: Record<string, string> };
const label = (i: number) =>
  createHash('sha384').update(`mpc-kms EXAMPLE PCR${i}: not a measurement`).digest('hex');

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await pcrsCommand(
    args,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('the example is labelled: each register is the SHA-384 of "mpc-kms EXAMPLE PCRi…"', () => {
  for (const i of [0, 1, 2, 8]) assert.equal(example.Measurements[`PCR${i}`], label(i));
});

test('json: the --expected-pcrs file of enclave and coordinator', async () => {
  const { code, out } = await run([EXAMPLE, '--format', 'json']);
  assert.equal(code, 0);
  assert.deepEqual(JSON.parse(out), { 0: label(0), 1: label(1), 2: label(2), 8: label(8) });
  // json is the default.
  assert.equal((await run([EXAMPLE])).out, out);
});

test('tfvars: admitted_pcr0s and, for a signed image, admitted_pcr8', async () => {
  const { code, out } = await run([EXAMPLE, '--format', 'tfvars']);
  assert.equal(code, 0);
  assert.equal(out, `admitted_pcr0s = ["${label(0)}"]\nadmitted_pcr8 = "${label(8)}"`);
  const unsigned = parseMeasurements(JSON.stringify(withoutPcr8()));
  assert.equal(formatMeasurements(unsigned, 'tfvars'), `admitted_pcr0s = ["${label(0)}"]\n`);
});

test('flags: the --pcr arguments of attest verify', async () => {
  const { code, out } = await run([EXAMPLE, '--format', 'flags']);
  assert.equal(code, 0);
  assert.equal(
    out,
    `--pcr 0=${label(0)} --pcr 1=${label(1)} --pcr 2=${label(2)} --pcr 8=${label(8)}`,
  );
  const unsigned = parseMeasurements(JSON.stringify(withoutPcr8()));
  assert.equal(
    formatMeasurements(unsigned, 'flags'),
    `--pcr 0=${label(0)} --pcr 1=${label(1)} --pcr 2=${label(2)}\n`,
  );
});

test('uppercase hex is normalised to lowercase', () => {
  const upper = structuredClone(example);
  upper.Measurements.PCR0 = upper.Measurements.PCR0!.toUpperCase();
  assert.equal(parseMeasurements(JSON.stringify(upper)).pcr0, label(0));
});

test('malformed measurements are refused, naming the field', () => {
  const cases: [string, (m: Record<string, unknown>) => unknown, RegExp][] = [
    ['not JSON', () => '{', /not JSON/],
    ['top level is a list', () => [], /expected an object/],
    ['no Measurements', () => ({}), /missing "Measurements"/],
    ['extra top-level key', (m) => ({ Measurements: m, Other: 1 }), /unknown key "Other"/],
    ['SHA-256', (m) => wrap({ ...m, HashAlgorithm: 'Sha256 { ... }' }), /HashAlgorithm/],
    ['no HashAlgorithm', (m) => wrap(omit(m, 'HashAlgorithm')), /missing "HashAlgorithm"/],
    ['no PCR1', (m) => wrap(omit(m, 'PCR1')), /missing "PCR1"/],
    ['short PCR2', (m) => wrap({ ...m, PCR2: (m.PCR2 as string).slice(2) }), /PCR2: expected 96/],
    ['non-hex PCR0', (m) => wrap({ ...m, PCR0: 'g'.repeat(96) }), /PCR0: expected 96/],
    ['numeric PCR0', (m) => wrap({ ...m, PCR0: 1 }), /PCR0: expected 96/],
    ['debug-mode zeros', (m) => wrap({ ...m, PCR0: '0'.repeat(96) }), /PCR0: all zero/],
    ['bad PCR8', (m) => wrap({ ...m, PCR8: 'ab' }), /PCR8: expected 96/],
    ['unknown PCR3', (m) => wrap({ ...m, PCR3: label(0) }), /unknown key "PCR3"/],
  ];
  for (const [name, make, message] of cases) {
    const value = make(structuredClone(example.Measurements));
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    assert.throws(() => parseMeasurements(text), MeasurementsError, name);
    assert.throws(() => parseMeasurements(text), message, name);
  }
});

test('the command exits 2 on usage errors and refused files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pcrs-'));
  try {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify(wrap({ ...example.Measurements, PCR1: 'zz' })));
    const refused = await run([bad]);
    assert.equal(refused.code, 2);
    assert.match(refused.err, /PCR1: expected 96 hex digits/);
    assert.equal(refused.out, '');
    for (const args of [
      [],
      [EXAMPLE, EXAMPLE],
      [EXAMPLE, '--format', 'yaml'],
      [EXAMPLE, '--unknown'],
      [join(dir, 'absent.json')],
    ]) {
      const result = await run(args);
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.err, /usage: mpc-kms pcrs/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function wrap(m: Record<string, unknown>) {
  return { Measurements: m };
}

function omit(m: Record<string, unknown>, key: string): Record<string, unknown> {
  const copy = { ...m };
  delete copy[key];
  return copy;
}

function withoutPcr8() {
  return wrap(omit(example.Measurements, 'PCR8'));
}
