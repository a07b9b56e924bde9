/**
 * The attestation verifier against three real AWS Nitro Enclaves documents (../shared/vectors/
 * attestation, verified at the times their README gives), mutations of them, synthetic chains
 * built here to reach the X.509 checks real documents never fail, and the CLI end to end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  KeyObject,
  X509Certificate,
  createHash,
  sign as nodeSign,
  webcrypto,
  type webcrypto as WebCrypto,
} from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { Encoder } from 'cbor-x';
import {
  AWS_NITRO_ROOT_G1_DER,
  AWS_NITRO_ROOT_G1_SHA256,
  decodeAttestation,
  sigStructure,
  verifyAttestation,
  verifyChain,
  type AttestationErrorCode,
  type VerifyPolicy,
  type VerifyResult,
} from '../attestation/index.js';
import { concat, fromHex, toHex, utf8 } from '../protocol/bytes.js';
import { vectorPath } from './helpers.js';

// ---------------------------------------------------------------------------------------------
// The real documents and the facts their README states.

interface RealDoc {
  name: string;
  bytes: Uint8Array;
  at: Date;
  debug: boolean;
}

function real(file: string, at: string, debug: boolean): RealDoc {
  const bytes = new Uint8Array(readFileSync(vectorPath('attestation', file)));
  return { name: file, bytes, at: new Date(at), debug };
}

const BETA = real('evervault-beta-valid-attestation-doc.cbor', '2022-10-13T09:00:00Z', false);
const GA = real('evervault-ga-valid-attestation-doc.cbor', '2023-09-18T15:16:05Z', true);
const BETA_DEBUG = real(
  'evervault-beta-debug-mode-attestation-doc.cbor',
  '2022-10-12T14:00:00Z',
  true,
);
const REAL = [BETA, GA, BETA_DEBUG];
const BETA_PCR0 =
  'f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b';

const HOUR = 3_600_000;

/** Verifies a real document at its README time (debug allowed when it is a debug one). */
function verifyReal(doc: RealDoc, bytes = doc.bytes, policy: VerifyPolicy = {}): VerifyResult {
  return verifyAttestation(bytes, { at: doc.at, allowDebug: doc.debug, ...policy });
}

function expectCode(result: VerifyResult, code: AttestationErrorCode, context = ''): void {
  assert.equal(result.valid, false, `expected ${code}, got a valid result ${context}`);
  if (!result.valid) assert.equal(result.error.code, code, `${result.error.message} ${context}`);
}

function expectValid(result: VerifyResult, context = '') {
  if (!result.valid)
    assert.fail(`expected valid ${context}: ${result.error.code} ${result.error.message}`);
  return result;
}

function flip(bytes: Uint8Array, index: number, mask = 0x01): Uint8Array {
  const out = new Uint8Array(bytes);
  out[index]! ^= mask;
  return out;
}

/** Offset of `needle` in `haystack`; fails the test if absent. */
function offsetOf(haystack: Uint8Array, needle: Uint8Array): number {
  const at = Buffer.from(haystack).indexOf(Buffer.from(needle));
  assert.ok(at >= 0, 'needle not found');
  return at;
}

// Re-encoding: cbor-x as the documents are written (Maps stay maps, no typed-array tags).
const encoder = new Encoder({ useRecords: false, tagUint8Array: false, mapsAsObjects: false });
const encode = (value: unknown) => new Uint8Array(encoder.encode(value));

/** A COSE_Sign1 around `payload` with the real document's protected header and signature. */
function wrap(doc: RealDoc, payload: Uint8Array, signature?: Uint8Array): Uint8Array {
  const d = decodeAttestation(doc.bytes);
  return encode([d.protectedHeader, new Map(), payload, signature ?? d.signature]);
}

/** The real payload as a Map, changed by `edit`, re-encoded and wrapped (signature unchanged). */
function withPayload(doc: RealDoc, edit: (payload: Map<string, unknown>) => void): Uint8Array {
  const payload = decodeCbor(decodeAttestation(doc.bytes).payloadBytes) as Map<string, unknown>;
  edit(payload);
  return wrap(doc, encode(payload));
}

const decodeCbor = (bytes: Uint8Array): unknown => encoder.decode(bytes);

// ---------------------------------------------------------------------------------------------
// Real documents verify, and only inside their windows.

test('the pinned root is the README certificate, with its fingerprint, and cabundle[0] of every document', () => {
  const pem = readFileSync(vectorPath('attestation', 'aws-nitro-root-g1.pem'));
  assert.deepEqual(AWS_NITRO_ROOT_G1_DER, new Uint8Array(new X509Certificate(pem).raw));
  assert.equal(
    createHash('sha256').update(AWS_NITRO_ROOT_G1_DER).digest('hex'),
    AWS_NITRO_ROOT_G1_SHA256,
  );
  for (const doc of REAL) {
    assert.deepEqual(decodeAttestation(doc.bytes).document.cabundle[0], AWS_NITRO_ROOT_G1_DER);
  }
});

test('the production document verifies at its README time, with the facts the README gives', () => {
  const r = expectValid(verifyAttestation(BETA.bytes, { at: BETA.at }));
  assert.equal(r.document.moduleId, 'i-020b6af9246d90e92-enc0183d09086c24190');
  assert.equal(r.document.digest, 'SHA384');
  assert.equal(toHex(r.document.pcrs.get(0)!), BETA_PCR0);
  assert.equal(r.document.pcrs.size, 16);
  assert.equal(r.document.nonce?.length, 256);
  assert.equal(r.document.publicKey, null);
  assert.equal(r.document.userData, null);
  assert.equal(r.certificates.length, 5);
  assert.deepEqual(r.certificates[0], {
    subject:
      'CN=i-020b6af9246d90e92-enc0183d09086c24190.us-east-1.aws,OU=AWS,O=Amazon,L=Seattle,ST=Washington,C=US',
    notBefore: '2022-10-13T08:57:59Z',
    notAfter: '2022-10-13T11:58:02Z',
  });
  assert.deepEqual(r.certificates[4], {
    subject: 'CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US',
    notBefore: '2019-10-28T13:28:05Z',
    notAfter: '2049-10-28T14:28:05Z',
  });
});

test('the debug-mode documents are DEBUG_MODE by default and verify with allowDebug', () => {
  for (const doc of [GA, BETA_DEBUG]) {
    expectCode(verifyAttestation(doc.bytes, { at: doc.at }), 'DEBUG_MODE', doc.name);
    const r = expectValid(verifyAttestation(doc.bytes, { at: doc.at, allowDebug: true }), doc.name);
    for (const i of [0, 1, 2]) assert.ok(r.document.pcrs.get(i)!.every((b) => b === 0));
  }
  // The production document is not refused as debug.
  expectValid(verifyAttestation(BETA.bytes, { at: BETA.at, allowDebug: false }));
});

test('the GA document binds its TLS key in user_data; the debug one carries the README strings', () => {
  const ga = expectValid(verifyReal(GA));
  const tls = new X509Certificate(
    readFileSync(vectorPath('attestation', 'evervault-ga-valid-certificate.der')),
  );
  const spki = tls.publicKey.export({ type: 'spki', format: 'der' });
  assert.deepEqual(ga.document.userData, new Uint8Array(spki));
  const debug = expectValid(verifyReal(BETA_DEBUG));
  assert.deepEqual(debug.document.publicKey, utf8('my super secret key'));
  assert.deepEqual(debug.document.userData, utf8('hello, world!'));
  assert.equal(debug.document.nonce, null);
});

test('each document is EXPIRED an hour after its leaf expires and NOT_YET_VALID before it starts', () => {
  for (const doc of REAL) {
    const leaf = expectValid(verifyReal(doc)).certificates[0]!;
    const notAfter = new Date(leaf.notAfter).getTime();
    const notBefore = new Date(leaf.notBefore).getTime();
    expectCode(verifyReal(doc, doc.bytes, { at: new Date(notAfter + HOUR) }), 'EXPIRED', doc.name);
    expectCode(
      verifyReal(doc, doc.bytes, { at: new Date(notBefore - 1000) }),
      'NOT_YET_VALID',
      doc.name,
    );
    // Both ends of the window are inclusive (RFC 5280 §4.1.2.5).
    expectValid(verifyReal(doc, doc.bytes, { at: new Date(notAfter) }), doc.name);
    expectValid(verifyReal(doc, doc.bytes, { at: new Date(notBefore) }), doc.name);
  }
});

test('the COSE_Sign1 tag (18) is accepted, once, at the top only', () => {
  for (const doc of REAL) {
    expectValid(verifyReal(doc, concat(Uint8Array.of(0xd2), doc.bytes)), doc.name);
    // The same tag in its one-byte-argument form is the same tag.
    expectValid(verifyReal(doc, concat(Uint8Array.of(0xd8, 18), doc.bytes)), doc.name);
  }
  expectCode(verifyReal(BETA, concat(Uint8Array.of(0xd2, 0xd2), BETA.bytes)), 'MALFORMED');
  expectCode(verifyReal(BETA, concat(Uint8Array.of(0xd1), BETA.bytes)), 'MALFORMED'); // COSE_Mac0
  expectCode(verifyReal(BETA, concat(Uint8Array.of(0xd9, 0xd9, 0xf7), BETA.bytes)), 'MALFORMED');
});

test('decodeAttestation returns the signed parts, and the Sig_structure is the RFC 9052 encoding', () => {
  const d = decodeAttestation(BETA.bytes);
  assert.equal(toHex(d.protectedHeader), 'a1013822');
  assert.equal(d.signature.length, 96);
  assert.deepEqual(d.signature, BETA.bytes.subarray(BETA.bytes.length - 96));
  const payloadAt = offsetOf(BETA.bytes, d.payloadBytes);
  assert.deepEqual(
    BETA.bytes.subarray(payloadAt, payloadAt + d.payloadBytes.length),
    d.payloadBytes,
  );
  // ["Signature1", h'a1013822', h'', payload]: array(4), text(10), bstr(4), bstr(0), bstr(n).
  const n = d.payloadBytes.length;
  const expected = concat(
    Uint8Array.of(0x84, 0x6a),
    utf8('Signature1'),
    Uint8Array.of(0x44, 0xa1, 0x01, 0x38, 0x22, 0x40, 0x59, n >> 8, n & 0xff),
    d.payloadBytes,
  );
  assert.deepEqual(sigStructure(d.protectedHeader, d.payloadBytes), expected);
  assert.deepEqual(
    sigStructure(Uint8Array.of(0xa0), Uint8Array.of(1, 2)),
    concat(
      Uint8Array.of(0x84, 0x6a),
      utf8('Signature1'),
      Uint8Array.of(0x41, 0xa0, 0x40, 0x42, 1, 2),
    ),
  );
});

test('re-encoding an unchanged document keeps it valid, so the mutations below change only what they say', () => {
  for (const doc of REAL) {
    const same = withPayload(doc, () => {});
    assert.deepEqual(same, doc.bytes, doc.name);
    expectValid(verifyReal(doc, same), doc.name);
  }
});

// ---------------------------------------------------------------------------------------------
// Mutations of real documents.

test('flipping any bit of any of the 96 signature bytes is BAD_SIGNATURE', () => {
  for (const doc of REAL) {
    const start = doc.bytes.length - 96;
    for (let i = start; i < doc.bytes.length; i++) {
      expectCode(
        verifyReal(doc, flip(doc.bytes, i, 1 << i % 8)),
        'BAD_SIGNATURE',
        `${doc.name} byte ${i}`,
      );
    }
  }
});

test('flipping payload bytes is MALFORMED or BAD_SIGNATURE; inside a PCR, user data or a certificate, BAD_SIGNATURE', () => {
  for (const doc of REAL) {
    const d = decodeAttestation(doc.bytes);
    const start = offsetOf(doc.bytes, d.payloadBytes);
    for (let i = start; i < start + d.payloadBytes.length; i += 13) {
      const r = verifyReal(doc, flip(doc.bytes, i, 0x80));
      assert.equal(r.valid, false, `${doc.name} byte ${i}`);
      if (!r.valid)
        assert.ok(
          ['MALFORMED', 'BAD_SIGNATURE'].includes(r.error.code),
          `${doc.name} byte ${i}: ${r.error.code}`,
        );
    }
    // Bytes nothing parses before the signature check: a PCR, user fields, a CA certificate.
    const opaque = [d.document.pcrs.get(3)!, d.document.cabundle[1]!, d.document.cabundle[3]!];
    for (const field of [d.document.nonce, d.document.userData, d.document.publicKey]) {
      if (field) opaque.push(field);
    }
    for (const field of opaque) {
      const at = offsetOf(doc.bytes, field) + (field.length >> 1);
      expectCode(verifyReal(doc, flip(doc.bytes, at)), 'BAD_SIGNATURE', doc.name);
    }
    // The leaf is parsed to get the key: a flip there is MALFORMED (no certificate any more)
    // or BAD_SIGNATURE (a certificate, with another key or an invalid point).
    const leafAt = offsetOf(doc.bytes, d.document.certificate);
    for (let i = 0; i < d.document.certificate.length; i += 17) {
      const r = verifyReal(doc, flip(doc.bytes, leafAt + i));
      assert.ok(
        !r.valid && ['MALFORMED', 'BAD_SIGNATURE'].includes(r.error.code),
        `${doc.name} leaf byte ${i}`,
      );
    }
  }
});

test('a changed protected header is MALFORMED unless it is exactly {1: -35}', () => {
  const d = decodeAttestation(BETA.bytes);
  const variants = [
    encode(new Map([[1, -7]])), // ES256
    encode(new Map([[1, 'ES384']])),
    encode(
      new Map<number, unknown>([
        [1, -35],
        [4, Uint8Array.of(1)],
      ]),
    ),
    encode(new Map()),
    new Uint8Array(0),
    encode([1, -35]),
  ];
  for (const header of variants) {
    expectCode(
      verifyReal(BETA, encode([header, new Map(), d.payloadBytes, d.signature])),
      'MALFORMED',
      toHex(header),
    );
  }
});

test('the COSE envelope must be [bstr, {}, bstr, bstr(96)]', () => {
  const d = decodeAttestation(BETA.bytes);
  const p = d.protectedHeader;
  const variants: unknown[] = [
    [p, new Map(), d.payloadBytes],
    [p, new Map(), d.payloadBytes, d.signature, d.signature],
    [p, new Map([[4, Uint8Array.of(1)]]), d.payloadBytes, d.signature],
    [p, [], d.payloadBytes, d.signature],
    [p, new Map(), d.payloadBytes, d.signature.subarray(0, 95)],
    [p, new Map(), d.payloadBytes, concat(d.signature, Uint8Array.of(0))],
    [p, new Map(), toHex(d.payloadBytes), d.signature],
    [toHex(p), new Map(), d.payloadBytes, d.signature],
    [p, new Map(), null, d.signature],
    new Map([[0, p]]),
    'Signature1',
  ];
  for (const v of variants) expectCode(verifyReal(BETA, encode(v)), 'MALFORMED');
});

test('a flipped certificate inside the signed payload is BAD_SIGNATURE, checked before the chain', () => {
  for (const doc of REAL) {
    for (let c = 0; c < 4; c++) {
      const mutated = withPayload(doc, (payload) => {
        const bundle = (payload.get('cabundle') as Uint8Array[]).map((b) => new Uint8Array(b));
        bundle[c]![bundle[c]!.length >> 1]! ^= 0x01;
        payload.set('cabundle', bundle);
      });
      expectCode(verifyReal(doc, mutated), 'BAD_SIGNATURE', `${doc.name} cabundle[${c}]`);
    }
  }
});

test('truncated documents, and documents with bytes appended, are MALFORMED', () => {
  for (const doc of REAL) {
    for (let n = 0; n < doc.bytes.length; n++) {
      expectCode(verifyReal(doc, doc.bytes.subarray(0, n)), 'MALFORMED', `${doc.name} cut at ${n}`);
    }
    for (const tail of [[0x00], [0xff], [0xf6], [0x84, 0x40, 0xa0, 0x40, 0x40]]) {
      expectCode(verifyReal(doc, concat(doc.bytes, Uint8Array.from(tail))), 'MALFORMED', doc.name);
    }
    expectCode(verifyReal(doc, concat(doc.bytes, doc.bytes)), 'MALFORMED', doc.name);
  }
});

test('each payload field with a wrong type or size is MALFORMED, before the signature is checked', () => {
  const big = (n: number) => new Uint8Array(n).fill(7);
  const wrong: Record<string, unknown[]> = {
    module_id: [42, '', big(8), null, ['a']],
    digest: ['SHA256', 'sha384', big(6), 384],
    timestamp: [0, -1, '1665651482136', big(8), 2n ** 64n - 1n, null],
    pcrs: [
      [],
      new Map(),
      big(48),
      new Map([[32, big(48)]]),
      new Map([[-1, big(48)]]),
      new Map([['0', big(48)]]),
      new Map([[0, big(47)]]),
      new Map([[0, big(0)]]),
      new Map([[0, 'ab'.repeat(24)]]),
      new Map(Array.from({ length: 33 }, (_, i) => [i, big(48)])),
    ],
    certificate: ['MIIC', big(0), big(1025), null, [big(10)]],
    cabundle: [[], big(10), ['MIIC'], [big(10), null], [big(1025)], new Map([[0, big(10)]])],
    public_key: [big(1025), 'key', 0, [big(1)]],
    user_data: [big(1025), 'hello', false, new Map()],
    nonce: [big(1025), 'nonce', 1, true],
  };
  for (const [field, values] of Object.entries(wrong)) {
    for (const value of values) {
      const mutated = withPayload(BETA, (payload) => payload.set(field, value));
      expectCode(verifyReal(BETA, mutated), 'MALFORMED', `${field} = ${String(value)}`);
      assert.throws(() => decodeAttestation(mutated), {
        name: 'AttestationError',
        code: 'MALFORMED',
      } as object);
    }
  }
  for (const field of ['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle']) {
    const mutated = withPayload(BETA, (payload) => payload.delete(field));
    expectCode(verifyReal(BETA, mutated), 'MALFORMED', `without ${field}`);
  }
  for (const [key, value] of [
    ['extra', 1],
    ['Nonce', big(1)],
    [7, big(1)],
  ] as const) {
    const mutated = withPayload(BETA, (payload) =>
      (payload as Map<unknown, unknown>).set(key, value),
    );
    expectCode(verifyReal(BETA, mutated), 'MALFORMED', `unknown key ${String(key)}`);
  }
  // The payload must be a map at all.
  for (const payload of [encode([1, 2]), encode('x'), new Uint8Array(0)]) {
    expectCode(verifyReal(BETA, wrap(BETA, payload)), 'MALFORMED');
  }
});

test('optional fields up to 1024 bytes, empty or absent decode; only the signature then fails', () => {
  for (const field of ['public_key', 'user_data', 'nonce']) {
    for (const value of [new Uint8Array(1024), new Uint8Array(0), null, undefined]) {
      const mutated = withPayload(BETA, (payload) => {
        if (value === undefined) payload.delete(field);
        else payload.set(field, value);
      });
      const label = `${field} = ${value ? `${value.length} bytes` : String(value)}`;
      assert.doesNotThrow(() => decodeAttestation(mutated), label);
      // Setting a field to null that already is null changes nothing.
      if (Buffer.from(mutated).equals(BETA.bytes)) expectValid(verifyReal(BETA, mutated), label);
      else expectCode(verifyReal(BETA, mutated), 'BAD_SIGNATURE', label);
    }
  }
});

test('non-strict CBOR in the payload is MALFORMED: duplicate keys, indefinite lengths, tags, bad UTF-8, floats', () => {
  const payload = decodeAttestation(BETA.bytes).payloadBytes;
  assert.equal(payload[0], 0xa9, 'the payload is a 9-entry map');
  const body = payload.subarray(1);
  const entry = (k: unknown, v: unknown) => concat(encode(k), encode(v));
  const variants: Record<string, Uint8Array> = {
    'duplicate text key': concat(Uint8Array.of(0xaa), body, entry('digest', 'SHA384')),
    'duplicate key, later value': concat(Uint8Array.of(0xaa), body, entry('nonce', null)),
    'indefinite map': concat(Uint8Array.of(0xbf), body, Uint8Array.of(0xff)),
    'map count too high': concat(Uint8Array.of(0xaa), body),
    'map count too low': concat(Uint8Array.of(0xa8), body),
  };
  // Build a pcrs map by hand: {0: h'00…', 0 (as 0x1800): h'00…'} is one key twice.
  const pcr = concat(Uint8Array.of(0x58, 48), new Uint8Array(48));
  const dupPcrs = concat(Uint8Array.of(0xa2, 0x00), pcr, Uint8Array.of(0x18, 0x00), pcr);
  const pcrsAt = offsetOf(payload, concat(Uint8Array.of(0x64), utf8('pcrs')));
  const pcrsValue = decodeAttestation(BETA.bytes).document.pcrs;
  const pcrsLength =
    1 + [...pcrsValue].reduce((n, [i, v]) => n + (i < 24 ? 1 : 2) + 2 + v.length, 0);
  const swapPcrs = (replacement: Uint8Array) =>
    concat(payload.subarray(0, pcrsAt + 5), replacement, payload.subarray(pcrsAt + 5 + pcrsLength));
  assert.deepEqual(swapPcrs(encode(new Map(pcrsValue))), payload, 'pcrs located');
  variants['non-minimal duplicate PCR index'] = swapPcrs(dupPcrs);
  variants['tagged PCR value'] = swapPcrs(concat(Uint8Array.of(0xa1, 0x00, 0xd8, 0x40), pcr));
  variants['indefinite byte string'] = swapPcrs(
    concat(Uint8Array.of(0xa1, 0x00, 0x5f), pcr, Uint8Array.of(0xff)),
  );
  const moduleIdAt = offsetOf(payload, utf8('i-020b6af9246d90e92-enc'));
  const badUtf8 = new Uint8Array(payload);
  badUtf8[moduleIdAt] = 0xff;
  variants['invalid UTF-8 in module_id'] = badUtf8;
  const timestampAt = offsetOf(payload, utf8('timestamp')) + 9;
  assert.equal(payload[timestampAt], 0x1b);
  const asFloat = concat(
    payload.subarray(0, timestampAt),
    Uint8Array.of(0xfb),
    new Uint8Array(new Float64Array([1665651482136]).buffer).reverse(),
    payload.subarray(timestampAt + 9),
  );
  variants['timestamp as a float'] = asFloat;
  for (const [name, bytes] of Object.entries(variants)) {
    expectCode(verifyReal(BETA, wrap(BETA, bytes)), 'MALFORMED', name);
  }
});

test('deeply nested or huge-length CBOR is MALFORMED, quickly and without a stack overflow', () => {
  const deep = new Uint8Array(100_000).fill(0x81);
  expectCode(verifyAttestation(deep), 'MALFORMED');
  expectCode(verifyAttestation(concat(Uint8Array.of(0x84), deep)), 'MALFORMED');
  for (const head of [
    '9bffffffffffffffff',
    '5bffffffffffffffff',
    'bbffffffffffffffff',
    '7a7fffffff',
  ]) {
    expectCode(verifyAttestation(fromHex(head)!), 'MALFORMED', head);
  }
  const nestedPayload = new Uint8Array(64).fill(0xa1);
  expectCode(verifyReal(BETA, wrap(BETA, nestedPayload)), 'MALFORMED');
});

test('anything at all is a {valid: false} result, never a throw', () => {
  for (const input of [
    new Uint8Array(0),
    Uint8Array.of(0x84),
    Uint8Array.of(0xff),
    utf8('hello'),
  ]) {
    expectCode(verifyAttestation(input), 'MALFORMED');
  }
  for (const input of [null, undefined, 'string', [0x84], {}] as unknown[]) {
    expectCode(verifyAttestation(input as Uint8Array), 'MALFORMED', String(input));
  }
  assert.throws(() => verifyAttestation(BETA.bytes, { at: new Date(NaN) }), TypeError);
  assert.throws(() => verifyAttestation(BETA.bytes, { maxAgeMs: -1 }), TypeError);
});

// ---------------------------------------------------------------------------------------------
// Policy.

test('expected PCRs: any matching subset passes; a different value or a missing index is PCR_MISMATCH', () => {
  const d = decodeAttestation(BETA.bytes).document;
  const subset = new Map([0, 1, 2, 8].map((i) => [i, d.pcrs.get(i)!]));
  expectValid(verifyReal(BETA, BETA.bytes, { expectedPcrs: subset }));
  expectValid(verifyReal(BETA, BETA.bytes, { expectedPcrs: new Map(d.pcrs) }));
  expectValid(verifyReal(BETA, BETA.bytes, { expectedPcrs: new Map([[0, fromHex(BETA_PCR0)!]]) }));
  for (const i of [0, 1, 2, 3, 4, 8, 15]) {
    const wrong = new Map(subset).set(i, flip(d.pcrs.get(i)!, 47));
    expectCode(verifyReal(BETA, BETA.bytes, { expectedPcrs: wrong }), 'PCR_MISMATCH', `PCR${i}`);
  }
  const shorter = new Map([[0, d.pcrs.get(0)!.subarray(0, 32)]]);
  expectCode(verifyReal(BETA, BETA.bytes, { expectedPcrs: shorter }), 'PCR_MISMATCH');
  const missing = new Map([[16, new Uint8Array(48)]]);
  expectCode(verifyReal(BETA, BETA.bytes, { expectedPcrs: missing }), 'PCR_MISMATCH');
  // Debug documents: expected zero image PCRs only pass with allowDebug.
  const zeros = new Map([0, 1, 2].map((i) => [i, new Uint8Array(48)]));
  expectValid(verifyAttestation(GA.bytes, { at: GA.at, allowDebug: true, expectedPcrs: zeros }));
  expectCode(verifyAttestation(GA.bytes, { at: GA.at, expectedPcrs: zeros }), 'DEBUG_MODE');
});

test('nonce: the expected one passes; another, or none in the document, is NONCE_MISMATCH', () => {
  const nonce = decodeAttestation(BETA.bytes).document.nonce!;
  expectValid(verifyReal(BETA, BETA.bytes, { nonce }));
  expectCode(verifyReal(BETA, BETA.bytes, { nonce: flip(nonce, 0) }), 'NONCE_MISMATCH');
  expectCode(verifyReal(BETA, BETA.bytes, { nonce: nonce.subarray(0, 32) }), 'NONCE_MISMATCH');
  expectCode(verifyReal(BETA_DEBUG, BETA_DEBUG.bytes, { nonce }), 'NONCE_MISMATCH');
});

test('maxAgeMs: a document older than the limit at the verification time is EXPIRED', () => {
  const { timestamp } = decodeAttestation(BETA.bytes).document;
  const age = BETA.at.getTime() - timestamp;
  assert.ok(age > 0);
  expectValid(verifyReal(BETA, BETA.bytes, { maxAgeMs: age }));
  expectCode(verifyReal(BETA, BETA.bytes, { maxAgeMs: age - 1 }), 'EXPIRED');
  expectCode(verifyReal(BETA, BETA.bytes, { maxAgeMs: 0 }), 'EXPIRED');
});

test('checks run in order: decode, signature, chain, policy', () => {
  const late = new Date(BETA.at.getTime() + 30 * 24 * HOUR);
  const wrongPcr = new Map([[0, new Uint8Array(48)]]);
  // A bad signature wins over an expired chain and a policy failure.
  const badSig = flip(BETA.bytes, BETA.bytes.length - 1);
  expectCode(verifyAttestation(badSig, { at: late, expectedPcrs: wrongPcr }), 'BAD_SIGNATURE');
  // An expired chain wins over the policy.
  expectCode(verifyAttestation(BETA.bytes, { at: late, expectedPcrs: wrongPcr }), 'EXPIRED');
  // A wrong root wins over the policy.
  const other = decodeAttestation(BETA.bytes).document.cabundle[1]!;
  expectCode(
    verifyAttestation(BETA.bytes, { at: BETA.at, root: other, expectedPcrs: wrongPcr }),
    'UNTRUSTED_ROOT',
  );
});

// ---------------------------------------------------------------------------------------------
// The chain, on real certificates.

function realChain(doc: RealDoc) {
  const { certificate, cabundle } = decodeAttestation(doc.bytes).document;
  return { leaf: certificate, bundle: [...cabundle] };
}

function chainError(run: () => unknown): AttestationErrorCode {
  try {
    run();
  } catch (err) {
    assert.equal((err as Error).name, 'AttestationError', String(err));
    return (err as { code: AttestationErrorCode }).code;
  }
  return assert.fail('expected an AttestationError');
}

test('verifyChain accepts each real chain at its time and returns five summaries, leaf first', () => {
  for (const doc of REAL) {
    const { leaf, bundle } = realChain(doc);
    const summaries = verifyChain(leaf, bundle, AWS_NITRO_ROOT_G1_DER, doc.at);
    assert.equal(summaries.length, 5);
    assert.equal(summaries[4]!.subject, 'CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US');
  }
});

test('verifyChain: a flipped signature byte in any CA certificate or the leaf is CHAIN_INVALID', () => {
  for (const doc of REAL) {
    const { leaf, bundle } = realChain(doc);
    // The last bytes of a certificate are the low bytes of the signature's s.
    for (let c = 1; c < bundle.length; c++) {
      const broken = [...bundle];
      broken[c] = flip(bundle[c]!, bundle[c]!.length - 1);
      const code = chainError(() => verifyChain(leaf, broken, AWS_NITRO_ROOT_G1_DER, doc.at));
      assert.equal(code, 'CHAIN_INVALID', `${doc.name} cabundle[${c}]`);
    }
    const brokenLeaf = flip(leaf, leaf.length - 1);
    assert.equal(
      chainError(() => verifyChain(brokenLeaf, bundle, AWS_NITRO_ROOT_G1_DER, doc.at)),
      'CHAIN_INVALID',
    );
  }
});

test('verifyChain: reordered, shortened or re-rooted bundles are refused', () => {
  const { leaf, bundle } = realChain(BETA);
  const run = (b: Uint8Array[], root = AWS_NITRO_ROOT_G1_DER) =>
    chainError(() => verifyChain(leaf, b, root, BETA.at));
  // Leaf-first order (the reverse of AWS's) no longer starts at the root.
  assert.equal(run([...bundle].reverse()), 'UNTRUSTED_ROOT');
  // Swapped intermediates: the root is still first, but the links break.
  assert.equal(run([bundle[0]!, bundle[2]!, bundle[1]!, bundle[3]!]), 'CHAIN_INVALID');
  assert.equal(run([bundle[0]!, bundle[1]!, bundle[3]!, bundle[2]!]), 'CHAIN_INVALID');
  // A dropped intermediate.
  for (const drop of [1, 2, 3])
    assert.equal(run(bundle.filter((_, i) => i !== drop)), 'CHAIN_INVALID');
  // A dropped root, or an empty bundle.
  assert.equal(run(bundle.slice(1)), 'UNTRUSTED_ROOT');
  assert.equal(run([]), 'UNTRUSTED_ROOT');
  // A different trust anchor: another CA of the chain, the TLS certificate, the GA chain's root
  // position filled by an intermediate.
  assert.equal(run(bundle, bundle[1]!), 'UNTRUSTED_ROOT');
  const tls = new Uint8Array(
    readFileSync(vectorPath('attestation', 'evervault-ga-valid-certificate.der')),
  );
  assert.equal(run(bundle, tls), 'UNTRUSTED_ROOT');
  // The instance CA presented as the leaf is a CA, not an enclave key.
  assert.equal(
    chainError(() => verifyChain(bundle[3]!, bundle.slice(0, 3), AWS_NITRO_ROOT_G1_DER, BETA.at)),
    'CHAIN_INVALID',
  );
  // A leaf from another document does not chain through this bundle.
  const gaLeaf = realChain(GA).leaf;
  assert.equal(
    chainError(() => verifyChain(gaLeaf, bundle, AWS_NITRO_ROOT_G1_DER, BETA.at)),
    'CHAIN_INVALID',
  );
  // Bytes that are no certificate, or a certificate with bytes after it.
  assert.equal(
    run([bundle[0]!, Uint8Array.of(0x30, 0x03, 1, 2, 3), bundle[2]!, bundle[3]!]),
    'MALFORMED',
  );
  assert.equal(
    run([bundle[0]!, bundle[1]!, bundle[2]!, concat(bundle[3]!, Uint8Array.of(0))]),
    'MALFORMED',
  );
});

// ---------------------------------------------------------------------------------------------
// Synthetic chains, for the X.509 rules real documents always satisfy.

const subtle = webcrypto.subtle;
const P384 = { name: 'ECDSA', namedCurve: 'P-384' } as const;
type KeyPair = WebCrypto.CryptoKeyPair;

interface CertSpec {
  cn: string;
  issuerCn?: string;
  key: KeyPair;
  issuerKey: KeyPair;
  ca?: boolean | 'absent';
  pathLen?: number;
  /** KeyUsage first byte (bit 0 = 0x80 digitalSignature, 0x04 keyCertSign); null: absent. */
  keyUsage?: number | null;
  criticalExtension?: boolean;
  notBefore?: Date;
  notAfter?: Date;
}

const WINDOW = {
  notBefore: new Date('2030-01-01T00:00:00Z'),
  notAfter: new Date('2030-01-02T00:00:00Z'),
};
const SYNTH_AT = new Date('2030-01-01T12:00:00Z');
let serial = 1;

function name(cn: string): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: [
      new pkijs.AttributeTypeAndValue({
        type: '2.5.4.3',
        value: new asn1js.Utf8String({ value: cn }),
      }),
    ],
  });
}

async function makeCert(spec: CertSpec): Promise<Uint8Array> {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ value: serial++ });
  cert.subject = name(spec.cn);
  cert.issuer = name(spec.issuerCn ?? spec.cn);
  cert.notBefore.value = spec.notBefore ?? WINDOW.notBefore;
  cert.notAfter.value = spec.notAfter ?? WINDOW.notAfter;
  const extensions: pkijs.Extension[] = [];
  if (spec.ca !== 'absent') {
    const bc = new pkijs.BasicConstraints({
      cA: spec.ca ?? false,
      ...(spec.pathLen === undefined ? {} : { pathLenConstraint: spec.pathLen }),
    });
    extensions.push(
      new pkijs.Extension({
        extnID: '2.5.29.19',
        critical: true,
        extnValue: bc.toSchema().toBER(),
      }),
    );
  }
  if (spec.keyUsage !== null) {
    const bits = new asn1js.BitString({
      valueHex: Uint8Array.of(spec.keyUsage ?? 0x80).buffer,
      unusedBits: 1,
    });
    extensions.push(
      new pkijs.Extension({ extnID: '2.5.29.15', critical: true, extnValue: bits.toBER() }),
    );
  }
  if (spec.criticalExtension) {
    extensions.push(
      new pkijs.Extension({
        extnID: '1.3.6.1.4.1.99999.1',
        critical: true,
        extnValue: new asn1js.Null().toBER(),
      }),
    );
  }
  // A non-critical unknown extension is fine everywhere: only critical ones must be understood.
  extensions.push(
    new pkijs.Extension({
      extnID: '1.3.6.1.4.1.99999.2',
      critical: false,
      extnValue: new asn1js.Null().toBER(),
    }),
  );
  cert.extensions = extensions;
  await cert.subjectPublicKeyInfo.importKey(spec.key.publicKey);
  await cert.sign(spec.issuerKey.privateKey, 'SHA-384');
  return new Uint8Array(cert.toSchema(true).toBER());
}

const newKey = () => subtle.generateKey(P384, true, ['sign', 'verify']) as Promise<KeyPair>;

interface Synthetic {
  root: Uint8Array;
  inter: Uint8Array;
  leaf: Uint8Array;
  leafKey: KeyPair;
}

/** root (CA) > inter (CA, pathLen 0) > leaf, every part overridable. */
async function synthetic(
  over: { root?: Partial<CertSpec>; inter?: Partial<CertSpec>; leaf?: Partial<CertSpec> } = {},
): Promise<Synthetic> {
  const [rootKey, interKey, leafKey] = [await newKey(), await newKey(), await newKey()];
  const root = await makeCert({
    cn: 'root',
    key: rootKey,
    issuerKey: rootKey,
    ca: true,
    keyUsage: 0x86,
    ...over.root,
  });
  const inter = await makeCert({
    cn: 'inter',
    issuerCn: 'root',
    key: interKey,
    issuerKey: rootKey,
    ca: true,
    pathLen: 0,
    keyUsage: 0x04,
    ...over.inter,
  });
  const leaf = await makeCert({
    cn: 'leaf',
    issuerCn: 'inter',
    key: leafKey,
    issuerKey: interKey,
    keyUsage: 0xc0,
    ...over.leaf,
  });
  return { root, inter, leaf, leafKey: (over.leaf?.key as KeyPair | undefined) ?? leafKey };
}

/** A document signed by the synthetic leaf: the same shape as an NSM document. */
function signedDocument(s: Synthetic, fields: Record<string, unknown> = {}): Uint8Array {
  const payload = encode(
    new Map<string, unknown>(
      Object.entries({
        module_id: 'i-synthetic-enc0',
        digest: 'SHA384',
        // A bigint: cbor-x writes a JS number above 2^32 as a float64, which is no uint.
        timestamp: BigInt(SYNTH_AT.getTime() - 1000),
        pcrs: new Map([0, 1, 2, 3].map((i) => [i, new Uint8Array(48).fill(i + 1)])),
        certificate: s.leaf,
        cabundle: [s.root, s.inter],
        public_key: null,
        user_data: null,
        nonce: null,
        ...fields,
      }),
    ),
  );
  const protectedHeader = encode(new Map([[1, -35]]));
  const key = KeyObject.from(s.leafKey.privateKey);
  const signature = nodeSign('sha384', sigStructure(protectedHeader, payload), {
    key,
    dsaEncoding: 'ieee-p1363',
  });
  return encode([protectedHeader, new Map(), payload, new Uint8Array(signature)]);
}

const synthVerify = (s: Synthetic, doc = signedDocument(s), policy: VerifyPolicy = {}) =>
  verifyAttestation(doc, { root: s.root, at: SYNTH_AT, ...policy });

test('a synthetic chain verifies under its own root, and not under the pinned AWS root', async () => {
  const s = await synthetic();
  const r = expectValid(synthVerify(s));
  assert.deepEqual(
    r.certificates.map((c) => c.subject),
    ['CN=leaf', 'CN=inter', 'CN=root'],
  );
  expectCode(verifyAttestation(signedDocument(s), { at: SYNTH_AT }), 'UNTRUSTED_ROOT');
  // The same, tagged.
  expectValid(synthVerify(s, concat(Uint8Array.of(0xd2), signedDocument(s))));
});

test('a look-alike root with the AWS root subject is still UNTRUSTED_ROOT', async () => {
  const s = await synthetic({
    root: { cn: 'aws.nitro-enclaves' },
    inter: { issuerCn: 'aws.nitro-enclaves' },
  });
  expectValid(synthVerify(s));
  expectCode(verifyAttestation(signedDocument(s), { at: SYNTH_AT }), 'UNTRUSTED_ROOT');
});

test('X.509 rules: CA flags, key usages, pathLen, critical extensions, issuer names', async () => {
  const cases: [string, Parameters<typeof synthetic>[0]][] = [
    ['leaf is a CA', { leaf: { ca: true } }],
    ['leaf without key usage', { leaf: { keyUsage: null } }],
    ['leaf without digitalSignature', { leaf: { keyUsage: 0x40 } }],
    ['intermediate without basicConstraints', { inter: { ca: 'absent' } }],
    ['intermediate not a CA', { inter: { ca: false } }],
    ['intermediate without key usage', { inter: { keyUsage: null } }],
    ['intermediate without keyCertSign', { inter: { keyUsage: 0x80 } }],
    ['root without keyCertSign', { root: { keyUsage: 0x80 } }],
    ['root pathLen 0 above an intermediate', { root: { pathLen: 0 } }],
    ['unknown critical extension on the leaf', { leaf: { criticalExtension: true } }],
    ['unknown critical extension on the intermediate', { inter: { criticalExtension: true } }],
    ['leaf names another issuer', { leaf: { issuerCn: 'someone-else' } }],
  ];
  for (const [label, over] of cases) {
    expectCode(synthVerify(await synthetic(over)), 'CHAIN_INVALID', label);
  }
  // What real chains do is accepted: a leaf with basicConstraints cA=false or without one,
  // root pathLen 1 above one intermediate.
  expectValid(synthVerify(await synthetic({ leaf: { ca: 'absent' } })));
  expectValid(synthVerify(await synthetic({ root: { pathLen: 1 } })));
});

test('synthetic validity: an expired or not-yet-valid certificate anywhere in the chain', async () => {
  const before = {
    notBefore: new Date('2029-01-01T00:00:00Z'),
    notAfter: new Date('2030-01-01T11:00:00Z'),
  };
  const after = {
    notBefore: new Date('2030-01-01T13:00:00Z'),
    notAfter: new Date('2031-01-01T00:00:00Z'),
  };
  for (const part of ['root', 'inter', 'leaf'] as const) {
    expectCode(synthVerify(await synthetic({ [part]: before })), 'EXPIRED', part);
    expectCode(synthVerify(await synthetic({ [part]: after })), 'NOT_YET_VALID', part);
  }
});

test('a leaf key that is not P-384 cannot sign documents', async () => {
  const p256 = (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as KeyPair;
  const s = await synthetic({ leaf: { key: p256 } });
  // Signed over the right Sig_structure by the leaf's own (P-256) key, padded to 96 bytes so
  // that only the key type is wrong.
  const [header, unprotected, payload, sig64] = decodeCbor(signedDocument(s)) as Uint8Array[];
  assert.equal(sig64!.length, 64);
  const doc = encode([header, unprotected, payload, concat(sig64!, new Uint8Array(32))]);
  expectCode(synthVerify(s, doc), 'BAD_SIGNATURE');
});

test('synthetic documents: policy checks on signed content', async () => {
  const s = await synthetic();
  const nonce = new Uint8Array(1024).fill(9);
  const doc = signedDocument(s, {
    nonce,
    user_data: new Uint8Array(1024),
    public_key: new Uint8Array(1024),
  });
  const r = expectValid(synthVerify(s, doc, { nonce }));
  assert.equal(r.document.nonce?.length, 1024);
  expectCode(synthVerify(s, doc, { nonce: new Uint8Array(1024) }), 'NONCE_MISMATCH');
  const zero = signedDocument(s, { pcrs: new Map([0, 1, 2].map((i) => [i, new Uint8Array(48)])) });
  expectCode(synthVerify(s, zero), 'DEBUG_MODE');
  expectValid(synthVerify(s, zero, { allowDebug: true }));
  // A document that measures no image (no PCR0..2) is treated as debug: fail closed.
  const noImage = signedDocument(s, { pcrs: new Map([[4, new Uint8Array(48).fill(4)]]) });
  expectCode(synthVerify(s, noImage), 'DEBUG_MODE');
  // PCR0 alone zero is not debug mode.
  const onlyPcr0 = signedDocument(s, {
    pcrs: new Map([
      [0, new Uint8Array(48)],
      [1, new Uint8Array(48).fill(1)],
      [2, new Uint8Array(48)],
    ]),
  });
  expectValid(synthVerify(s, onlyPcr0));
  // Small timestamps are still positive integers, encoded in fewer bytes.
  expectValid(synthVerify(s, signedDocument(s, { timestamp: 1 })));
});

// ---------------------------------------------------------------------------------------------
// The CLI, end to end.

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli/main.js', 'attest', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function withTempDir(body: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'attest-cli-'));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('CLI: raw, base64 and hex files give the contract JSON and exit 0', () => {
  withTempDir((dir) => {
    const raw = join(dir, 'doc.cbor');
    const b64 = join(dir, 'doc.b64');
    const hex = join(dir, 'doc.hex');
    writeFileSync(raw, BETA.bytes);
    // Wrapped at 76 columns with a trailing newline, as `base64` writes it.
    writeFileSync(
      b64,
      Buffer.from(BETA.bytes)
        .toString('base64')
        .replace(/(.{76})/g, '$1\n') + '\n',
    );
    writeFileSync(hex, toHex(BETA.bytes).toUpperCase() + '\n');
    for (const file of [raw, b64, hex]) {
      const r = cli('verify', file, '--at', '2022-10-13T09:00:00Z');
      assert.equal(r.status, 0, r.stderr);
      const json = JSON.parse(r.stdout);
      assert.deepEqual(Object.keys(json), [
        'valid',
        'moduleId',
        'timestamp',
        'digest',
        'pcrs',
        'publicKey',
        'userData',
        'nonce',
        'certificates',
      ]);
      assert.equal(json.valid, true);
      assert.equal(json.moduleId, 'i-020b6af9246d90e92-enc0183d09086c24190');
      assert.equal(json.timestamp, decodeAttestation(BETA.bytes).document.timestamp);
      assert.equal(json.digest, 'SHA384');
      assert.equal(json.pcrs['0'], BETA_PCR0);
      assert.deepEqual(
        Object.keys(json.pcrs),
        Array.from({ length: 16 }, (_, i) => String(i)),
      );
      assert.equal(json.publicKey, null);
      assert.equal(json.userData, null);
      assert.equal(json.nonce.length, 512);
      assert.equal(json.certificates.length, 5);
      assert.deepEqual(Object.keys(json.certificates[0]), ['subject', 'notBefore', 'notAfter']);
      assert.equal(r.stdout.trim().split('\n').length, 1, 'one JSON object, one line');
    }
  });
});

test('CLI: policy flags, invalid documents exit 1 with the error object', () => {
  withTempDir((dir) => {
    const file = join(dir, 'doc.cbor');
    writeFileSync(file, BETA.bytes);
    const at = ['--at', '2022-10-13T09:00:00Z'];
    const nonce = toHex(decodeAttestation(BETA.bytes).document.nonce!);
    assert.equal(cli('verify', file, ...at, '--pcr', `0=${BETA_PCR0}`, '--nonce', nonce).status, 0);
    const mismatch = cli('verify', file, ...at, '--pcr', `0=${'00'.repeat(48)}`);
    assert.equal(mismatch.status, 1);
    const json = JSON.parse(mismatch.stdout);
    assert.deepEqual(Object.keys(json), ['valid', 'error']);
    assert.equal(json.valid, false);
    assert.deepEqual(Object.keys(json.error), ['code', 'message']);
    assert.equal(json.error.code, 'PCR_MISMATCH');
    assert.equal(
      JSON.parse(cli('verify', file, ...at, '--nonce', 'abcd').stdout).error.code,
      'NONCE_MISMATCH',
    );
    assert.equal(
      JSON.parse(cli('verify', file, '--at', '2022-10-13T13:00:00Z').stdout).error.code,
      'EXPIRED',
    );
    assert.equal(
      JSON.parse(cli('verify', file, '--at', '2022-10-13T10:50:00+02:00').stdout).error.code,
      'NOT_YET_VALID',
    );
    // Without --at the time is now, years after the leaf expired.
    assert.equal(JSON.parse(cli('verify', file).stdout).error.code, 'EXPIRED');

    const debug = join(dir, 'debug.cbor');
    writeFileSync(debug, GA.bytes);
    const gaAt = ['--at', '2023-09-18T15:16:05Z'];
    const refused = cli('verify', debug, ...gaAt);
    assert.equal(refused.status, 1);
    assert.equal(JSON.parse(refused.stdout).error.code, 'DEBUG_MODE');
    assert.equal(cli('verify', debug, ...gaAt, '--allow-debug').status, 0);

    const rootPem = vectorPath('attestation', 'aws-nitro-root-g1.pem');
    assert.equal(cli('verify', file, ...at, '--root', rootPem).status, 0);
    const otherRoot = vectorPath('attestation', 'evervault-ga-valid-certificate.der');
    assert.equal(
      JSON.parse(cli('verify', file, ...at, '--root', otherRoot).stdout).error.code,
      'UNTRUSTED_ROOT',
    );

    const garbage = join(dir, 'garbage');
    writeFileSync(garbage, 'not an attestation document\n');
    const bad = cli('verify', garbage);
    assert.equal(bad.status, 1);
    assert.equal(JSON.parse(bad.stdout).error.code, 'MALFORMED');
  });
});

test('CLI: --format text prints a readable report', () => {
  withTempDir((dir) => {
    const file = join(dir, 'doc.b64');
    writeFileSync(file, Buffer.from(BETA_DEBUG.bytes).toString('base64'));
    const ok = cli(
      'verify',
      file,
      '--at',
      '2022-10-12T14:00:00Z',
      '--allow-debug',
      '--format',
      'text',
    );
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^attestation document: VALID$/m);
    assert.match(ok.stdout, /^module id +i-03ad7cdb817437eeb-enc0183cc7569b3f6e1$/m);
    assert.match(ok.stdout, /^PCR15 +0{96}$/m);
    assert.match(ok.stdout, /^public key +6d7920737570657220736563726574206b6579 \(19 bytes\)$/m);
    assert.match(ok.stdout, /^nonce +\(none\)$/m);
    assert.match(ok.stdout, /^ {2}CN=aws\.nitro-enclaves,OU=AWS,O=Amazon,C=US$/m);
    const refused = cli('verify', file, '--at', '2022-10-12T14:00:00Z', '--format', 'text');
    assert.equal(refused.status, 1);
    assert.match(refused.stdout, /^attestation document: INVALID\nDEBUG_MODE: /);
  });
});

test('CLI: usage errors exit 2 and print nothing on stdout', () => {
  withTempDir((dir) => {
    const file = join(dir, 'doc.cbor');
    writeFileSync(file, BETA.bytes);
    const usages = [
      [],
      ['verify'],
      ['check', file],
      ['verify', file, 'extra'],
      ['verify', join(dir, 'missing.cbor')],
      ['verify', file, '--at', 'yesterday'],
      ['verify', file, '--at', '2022-10-13'],
      ['verify', file, '--pcr', '0'],
      ['verify', file, '--pcr', '32=00'],
      ['verify', file, '--pcr', '0=zz'],
      ['verify', file, '--pcr', '0=00', '--pcr', '0=11'],
      ['verify', file, '--nonce', 'xyz'],
      ['verify', file, '--root', join(dir, 'missing.pem')],
      ['verify', file, '--root', file],
      ['verify', file, '--format', 'yaml'],
      ['verify', file, '--unknown'],
    ];
    for (const args of usages) {
      const r = cli(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}`);
      assert.equal(r.stdout, '', args.join(' '));
      assert.match(r.stderr, /usage: mpc-kms attest verify FILE/);
    }
  });
});

test('CLI: a synthetic document under a DER --root; the text report escapes control characters', async () => {
  const s = await synthetic();
  const hostile = signedDocument(s, { module_id: 'i-\u001b[2Jcleared\u202etxt.exe' });
  const farFuture = signedDocument(s, { timestamp: BigInt(Number.MAX_SAFE_INTEGER) });
  withTempDir((dir) => {
    const root = join(dir, 'root.der');
    writeFileSync(root, s.root);
    const at = ['--at', SYNTH_AT.toISOString(), '--root', root];
    const doc = join(dir, 'hostile.cbor');
    writeFileSync(doc, hostile);
    const json = cli('verify', doc, ...at);
    assert.equal(json.status, 0, json.stderr);
    assert.equal(JSON.parse(json.stdout).moduleId, 'i-\u001b[2Jcleared\u202etxt.exe');
    const text = cli('verify', doc, ...at, '--format', 'text');
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^module id +i-\\u001b\[2Jcleared\\u202etxt\.exe$/m);
    assert.doesNotMatch(text.stdout, /[\u001b\u202e]/);
    // Without --root the pinned AWS root refuses it.
    assert.equal(
      JSON.parse(cli('verify', doc, '--at', SYNTH_AT.toISOString()).stdout).error.code,
      'UNTRUSTED_ROOT',
    );
    const far = join(dir, 'far.cbor');
    writeFileSync(far, farFuture);
    const farText = cli('verify', far, ...at, '--format', 'text');
    assert.equal(farText.status, 0, farText.stderr);
    assert.match(farText.stdout, /^timestamp +\(9007199254740991 ms\)$/m);
  });
});
