/**
 * The simulated NSM and the bundle measurement, checked without the verifier: documents are taken
 * apart with cbor-x, node:crypto and PKI.js and compared, level by level, with the real AWS
 * documents in ../shared/vectors/attestation, so a verifier that accepts AWS's documents has no
 * structural reason to treat simulated ones differently.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash, verify } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import * as asn1js from 'asn1js';
import { Decoder, encode } from 'cbor-x';
import * as pkijs from 'pkijs';
import { MAX_USER_FIELD_BYTES, SimulatedNsm, SimulatedRoot } from '../attestation/issuer.js';
import type { AttestRequest } from '../attestation/issuer.js';
import { measureBundle, measureFiles } from '../attestation/measure.js';
import type { BundleFile, Measurement, RuntimeIdentity } from '../attestation/measure.js';
import { AttestationError } from '../attestation/types.js';
import { verifyAttestation } from '../attestation/verify.js';
import { vectorPath } from './helpers.js';

// ---------------------------------------------------------------------------------------------
// Helpers

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const isCode =
  (code: string) =>
  (e: unknown): boolean =>
    e instanceof AttestationError && e.code === code;

const decoder = new Decoder({ mapsAsObjects: false, useRecords: false });

interface Decoded {
  raw: Uint8Array;
  protectedHeader: Uint8Array;
  unprotected: unknown;
  payloadBytes: Uint8Array;
  signature: Uint8Array;
  payload: Map<string, unknown>;
  leaf: Uint8Array;
  cabundle: Uint8Array[];
}

function decodeDocument(raw: Uint8Array): Decoded {
  const cose = decoder.decode(raw) as unknown[];
  assert.ok(Array.isArray(cose) && cose.length === 4);
  const [protectedHeader, unprotected, payloadBytes, signature] = cose as [
    Uint8Array,
    unknown,
    Uint8Array,
    Uint8Array,
  ];
  const payload = decoder.decode(payloadBytes) as Map<string, unknown>;
  assert.ok(payload instanceof Map);
  return {
    raw,
    protectedHeader,
    unprotected,
    payloadBytes,
    signature,
    payload,
    leaf: payload.get('certificate') as Uint8Array,
    cabundle: payload.get('cabundle') as Uint8Array[],
  };
}

function realDocument(name: string): Decoded {
  return decodeDocument(new Uint8Array(readFileSync(vectorPath('attestation', name))));
}

const REAL_PRODUCTION = 'evervault-beta-valid-attestation-doc.cbor';
const REAL_DEBUG = 'evervault-beta-debug-mode-attestation-doc.cbor';

/**
 * The CBOR structure of a payload as a token list: major types, container sizes, integer head
 * widths, null, and the text of map keys, leaving out the values that legitimately differ
 * (ids, certificates, byte contents and lengths).
 */
function cborShape(buf: Uint8Array): string[] {
  const out: string[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const item = (pos: number, isKey: boolean): number => {
    const initial = buf[pos]!;
    const major = initial >> 5;
    const info = initial & 31;
    let length = info;
    let head = 1;
    if (info === 24) [length, head] = [buf[pos + 1]!, 2];
    else if (info === 25) [length, head] = [view.getUint16(pos + 1), 3];
    else if (info === 26) [length, head] = [view.getUint32(pos + 1), 5];
    else if (info === 27) [length, head] = [Number(view.getBigUint64(pos + 1)), 9];
    let p = pos + head;
    switch (major) {
      case 0:
        out.push(`uint/${head}`);
        return p;
      case 1:
        out.push(`nint/${head}`);
        return p;
      case 2:
        out.push('bstr');
        return p + length;
      case 3:
        out.push(isKey ? `key:${Buffer.from(buf.subarray(p, p + length)).toString()}` : 'tstr');
        return p + length;
      case 4:
        out.push(`array(${length})`);
        for (let i = 0; i < length; i++) p = item(p, false);
        return p;
      case 5:
        out.push(`map(${length})`);
        for (let i = 0; i < length; i++) p = item(item(p, true), false);
        return p;
      case 7:
        assert.equal(initial, 0xf6, 'the only simple value in a document is null');
        out.push('null');
        return p;
      default:
        assert.fail(`unexpected CBOR major type ${major}`);
    }
  };
  assert.equal(item(0, false), buf.length, 'no trailing bytes');
  return out;
}

/** RFC 9052 Section 4.4 Sig_structure, built with cbor-x (independently of the issuer). */
function coseSignatureValid(doc: Decoded): boolean {
  const toBeSigned = encode([
    'Signature1',
    Buffer.from(doc.protectedHeader),
    Buffer.alloc(0),
    Buffer.from(doc.payloadBytes),
  ]);
  const key = new X509Certificate(doc.leaf).publicKey;
  return verify('sha384', toBeSigned, { key, dsaEncoding: 'ieee-p1363' }, doc.signature);
}

/** Root first, leaf last: the order in which each certificate signs the next. */
function chainOf(doc: Decoded): X509Certificate[] {
  return [...doc.cabundle, doc.leaf].map((der) => new X509Certificate(der));
}

function assertChainLinks(chain: X509Certificate[]): void {
  const root = chain[0]!;
  assert.ok(root.verify(root.publicKey), 'root is self-signed');
  assert.equal(root.issuer, root.subject);
  for (let i = 1; i < chain.length; i++) {
    const [parent, child] = [chain[i - 1]!, chain[i]!];
    assert.ok(child.verify(parent.publicKey), `certificate ${i} is signed by certificate ${i - 1}`);
    assert.ok(child.checkIssued(parent), `certificate ${i} names certificate ${i - 1} as issuer`);
    assert.equal(child.issuer, parent.subject);
  }
}

const validity = (c: X509Certificate): [number, number] => [
  Date.parse(c.validFrom),
  Date.parse(c.validTo),
];

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** Everything about one certificate that must match AWS's at the same level. */
interface CertificateProfile {
  version: number;
  /** Per RDN: attribute count, attribute OID, string type. */
  subject: string[];
  issuer: string[];
  /** extnID, "!" when critical, in order. */
  extensions: string[];
  basicConstraints: string;
  keyUsage: string;
  signatureAlgorithm: string;
  publicKeyAlgorithm: string;
}

function nameShape(name: pkijs.RelativeDistinguishedNames): string[] {
  // PKI.js flattens RDNs into one list, so read the SET structure from the encoding.
  const parsed = asn1js.fromBER(name.toSchema().toBER());
  const sets = (parsed.result as asn1js.Sequence).valueBlock.value as asn1js.Set[];
  return sets.map((set) => {
    const attributes = set.valueBlock.value as asn1js.Sequence[];
    const [oid, value] = attributes[0]!.valueBlock.value as [
      asn1js.ObjectIdentifier,
      asn1js.BaseBlock,
    ];
    return `${attributes.length}:${oid.valueBlock.toString()}:${value.constructor.name}`;
  });
}

function profileOf(der: Uint8Array): CertificateProfile {
  const cert = pkijs.Certificate.fromBER(der);
  const extensions = cert.extensions ?? [];
  const valueOf = (oid: string): string => {
    const ext = extensions.find((e) => e.extnID === oid);
    return ext ? hex(ext.extnValue.valueBlock.valueHexView) : 'absent';
  };
  const spki = cert.subjectPublicKeyInfo.algorithm;
  return {
    version: cert.version,
    subject: nameShape(cert.subject),
    issuer: nameShape(cert.issuer),
    extensions: extensions.map((e) => `${e.extnID}${e.critical ? '!' : ''}`),
    basicConstraints: valueOf('2.5.29.19'),
    keyUsage: valueOf('2.5.29.15'),
    signatureAlgorithm: `${cert.signatureAlgorithm.algorithmId}:${cert.signatureAlgorithm.algorithmParams === undefined ? 'no-params' : 'params'}|${cert.signature.algorithmId}:${cert.signature.algorithmParams === undefined ? 'no-params' : 'params'}`,
    publicKeyAlgorithm: `${spki.algorithmId}:${(spki.algorithmParams as asn1js.ObjectIdentifier).valueBlock.toString()}`,
  };
}

function extensionValue(der: Uint8Array, oid: string): Uint8Array | null {
  const ext = pkijs.Certificate.fromBER(der).extensions?.find((e) => e.extnID === oid);
  return ext ? ext.extnValue.valueBlock.valueHexView : null;
}

function serialOf(der: Uint8Array): Uint8Array {
  return pkijs.Certificate.fromBER(der).serialNumber.valueBlock.valueHexView;
}

/** RFC 5280 Section 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
function keyIdOf(cert: X509Certificate): string {
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha1')
    .update(spki.subarray(spki.length - 97))
    .digest('hex');
}

const fixedRuntime: RuntimeIdentity = { version: 'v20.19.0', platform: 'linux', arch: 'x64' };

const sampleFiles: BundleFile[] = [
  { path: 'main.js', content: bytes('export const answer = 42;\n') },
  { path: 'lib/a.js', content: bytes('console.log("a");\n') },
  { path: 'lib/deep/b.bin', content: Uint8Array.of(0, 1, 2, 3, 255) },
  { path: '.hidden', content: bytes('also measured') },
];

const measurement: Measurement = measureFiles(sampleFiles, { runtime: fixedRuntime });

/** A clock that tests can move; starts at a millisecond-precise instant. */
function movableClock(start = Date.parse('2025-06-01T12:00:00.123Z')): {
  now: () => Date;
  set: (ms: number) => void;
  start: number;
} {
  let current = start;
  return { now: () => new Date(current), set: (ms) => void (current = ms), start };
}

// One simulator shared by the read-only tests (key generation is the slow part).
const clock = movableClock();
const nsm = SimulatedNsm.create({ pcrs: measurement, now: clock.now });

// ---------------------------------------------------------------------------------------------
// COSE and CBOR structure

test('document bytes begin like AWS documents: untagged COSE_Sign1, {1: -35}, empty map', () => {
  const raw = nsm.attest({ nonce: new Uint8Array(32) });
  const real = realDocument(REAL_PRODUCTION).raw;
  assert.equal(hex(raw.subarray(0, 8)), '8444a1013822a059');
  assert.equal(hex(raw.subarray(0, 8)), hex(real.subarray(0, 8)));
  const doc = decodeDocument(raw);
  assert.equal(hex(doc.protectedHeader), 'a1013822');
  assert.ok(doc.unprotected instanceof Map && doc.unprotected.size === 0);
  assert.equal(doc.signature.length, 96);
  // The signature item is 58 60 followed by 96 bytes and ends the document.
  assert.equal(hex(raw.subarray(raw.length - 98, raw.length - 96)), '5860');
});

test('payload CBOR shape equals the real debug-mode document (public_key, user_data, no nonce)', () => {
  const real = realDocument(REAL_DEBUG);
  const sim = decodeDocument(
    nsm.attest({ publicKey: bytes('my super secret key'), userData: bytes('hello, world!') }),
  );
  assert.deepEqual(cborShape(sim.payloadBytes), cborShape(real.payloadBytes));
  assert.deepEqual(cborShape(sim.raw), cborShape(real.raw));
});

test('payload CBOR shape equals the real production document (nonce only)', () => {
  const real = realDocument(REAL_PRODUCTION);
  const sim = decodeDocument(nsm.attest({ nonce: new Uint8Array(256).fill(7) }));
  const shape = cborShape(sim.payloadBytes);
  assert.deepEqual(shape, cborShape(real.payloadBytes));
  // Spelled out: 9 keys in the NSM's order, an 8-byte timestamp head, 16 PCRs, 4-entry bundle.
  assert.deepEqual(
    shape.filter((t) => t.startsWith('key:')),
    [
      'key:module_id',
      'key:digest',
      'key:timestamp',
      'key:pcrs',
      'key:certificate',
      'key:cabundle',
      'key:public_key',
      'key:user_data',
      'key:nonce',
    ],
  );
  assert.ok(shape.includes('uint/9') && shape.includes('map(16)') && shape.includes('array(4)'));
});

test('payload fields: types, sizes, PCRs from the measurement and zero elsewhere', () => {
  const doc = decodeDocument(nsm.attest());
  const p = doc.payload;
  assert.equal(p.size, 9);
  assert.equal(p.get('module_id'), nsm.moduleId);
  assert.match(nsm.moduleId, /^i-[0-9a-f]{17}-enc[0-9a-f]{16}$/);
  assert.match(
    realDocument(REAL_PRODUCTION).payload.get('module_id') as string,
    /^i-[0-9a-f]{17}-enc[0-9a-f]{16}$/,
  );
  assert.equal(p.get('digest'), 'SHA384');
  assert.equal(Number(p.get('timestamp')), clock.start, 'timestamp keeps its milliseconds');
  const pcrs = p.get('pcrs') as Map<number, Uint8Array>;
  assert.deepEqual([...pcrs.keys()], [...Array(16).keys()]);
  for (const [index, value] of pcrs) assert.equal(value.length, 48, `PCR${index}`);
  assert.equal(hex(pcrs.get(0)!), hex(measurement.pcr0));
  assert.equal(hex(pcrs.get(1)!), hex(measurement.pcr1));
  assert.equal(hex(pcrs.get(2)!), hex(measurement.pcr2));
  for (let i = 3; i < 16; i++) assert.equal(hex(pcrs.get(i)!), '00'.repeat(48), `PCR${i}`);
  assert.deepEqual([...nsm.pcrs.values()].map(hex), [...pcrs.values()].map(hex));
  assert.equal(p.get('public_key'), null);
  assert.equal(p.get('user_data'), null);
  assert.equal(p.get('nonce'), null);
  assert.equal(doc.cabundle.length, 4, 'root, regional, zonal, instance as in AWS documents');
  assert.equal(hex(doc.cabundle[0]!), hex(nsm.rootDer));
});

test('PCRs given as a Map: set indices kept, others zero; bad indices and sizes refused', () => {
  const pcr3 = new Uint8Array(48).fill(3);
  const sim = SimulatedNsm.create({ pcrs: new Map([[3, pcr3]]), moduleId: 'signer-1' });
  const pcrs = decodeDocument(sim.attest()).payload.get('pcrs') as Map<number, Uint8Array>;
  assert.equal(hex(pcrs.get(3)!), hex(pcr3));
  assert.equal(hex(pcrs.get(0)!), '00'.repeat(48), 'all-zero PCR0..2: a debug-mode document');
  assert.throws(() => SimulatedNsm.create({ pcrs: new Map([[16, pcr3]]) }), isCode('MALFORMED'));
  assert.throws(() => SimulatedNsm.create({ pcrs: new Map([[-1, pcr3]]) }), isCode('MALFORMED'));
  assert.throws(
    () => SimulatedNsm.create({ pcrs: new Map([[0, new Uint8Array(32)]]) }),
    isCode('MALFORMED'),
  );
  assert.throws(
    () => SimulatedNsm.create({ pcrs: { ...measurement, pcr1: new Uint8Array(47) } }),
    isCode('MALFORMED'),
  );
});

test('public_key, user_data and nonce round-trip; 1024 bytes accepted, 1025 refused', () => {
  const request: AttestRequest = {
    publicKey: new Uint8Array(MAX_USER_FIELD_BYTES).fill(1),
    userData: bytes('user data'),
    nonce: new Uint8Array(0),
  };
  const p = decodeDocument(nsm.attest(request)).payload;
  assert.equal(MAX_USER_FIELD_BYTES, 1024);
  assert.equal(hex(p.get('public_key') as Uint8Array), hex(request.publicKey!));
  assert.equal(hex(p.get('user_data') as Uint8Array), hex(request.userData!));
  assert.equal(
    (p.get('nonce') as Uint8Array).length,
    0,
    'an empty nonce is a byte string, not null',
  );
  for (const field of ['publicKey', 'userData', 'nonce'] as const) {
    const ok = nsm.attest({ [field]: new Uint8Array(1024) });
    assert.ok(ok.length > 1024);
    assert.throws(() => nsm.attest({ [field]: new Uint8Array(1025) }), isCode('MALFORMED'));
    assert.throws(
      () => nsm.attest({ [field]: 'not bytes' as unknown as Uint8Array }),
      isCode('MALFORMED'),
    );
  }
});

test('the caller cannot change a document after the fact by mutating its inputs', () => {
  const nonce = new Uint8Array(16).fill(9);
  const raw = nsm.attest({ nonce });
  nonce.fill(0);
  assert.equal(hex(decodeDocument(raw).payload.get('nonce') as Uint8Array), '09'.repeat(16));
});

// ---------------------------------------------------------------------------------------------
// Signatures and chain

test('the COSE signature verifies with the leaf key (and this check accepts a real document)', () => {
  assert.ok(coseSignatureValid(realDocument(REAL_PRODUCTION)), 'the helper itself is right');
  const doc = decodeDocument(nsm.attest({ userData: bytes('bound') }));
  assert.ok(coseSignatureValid(doc));
  const tampered = doc.payloadBytes.slice();
  tampered[tampered.length - 1]! ^= 1;
  assert.equal(coseSignatureValid({ ...doc, payloadBytes: tampered }), false);
  // Signed by the leaf, not by any CA of the bundle.
  const instance = new X509Certificate(doc.cabundle[3]!);
  const toBeSigned = encode([
    'Signature1',
    Buffer.from(doc.protectedHeader),
    Buffer.alloc(0),
    Buffer.from(doc.payloadBytes),
  ]);
  assert.equal(
    verify(
      'sha384',
      toBeSigned,
      { key: instance.publicKey, dsaEncoding: 'ieee-p1363' },
      doc.signature,
    ),
    false,
  );
});

test('each certificate is signed by the one above it, names link, and the root is the anchor', () => {
  assertChainLinks(chainOf(realDocument(REAL_PRODUCTION)));
  const doc = decodeDocument(nsm.attest());
  const chain = chainOf(doc);
  assertChainLinks(chain);
  assert.equal(hex(new Uint8Array(new X509Certificate(nsm.rootPem).raw)), hex(nsm.rootDer));
  for (const cert of chain) {
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'secp384r1');
  }
  const leaf = chain[4]!;
  assert.equal(leaf.ca, false);
  assert.ok(chain.slice(0, 4).every((c) => c.ca));
  assert.ok(leaf.subject.includes(`CN=${nsm.moduleId}.`), 'leaf CN starts with the module id');
});

test('validity windows: leaf 3 h + 3 s like AWS, instance 24 h, zonal 6 d, regional 20 d, root 30 y', () => {
  const realChain = chainOf(realDocument(REAL_PRODUCTION));
  const [realFrom, realTo] = validity(realChain[4]!);
  assert.equal(realTo - realFrom, 3 * HOUR + 3000);
  assert.equal(validity(realChain[3]!)[1] - validity(realChain[3]!)[0], DAY);

  const doc = decodeDocument(nsm.attest());
  const chain = chainOf(doc);
  const timestamp = Number(doc.payload.get('timestamp'));
  const [leafFrom, leafTo] = validity(chain[4]!);
  assert.equal(leafTo - leafFrom, 3 * HOUR + 3000);
  assert.equal(leafFrom, Math.floor(timestamp / 1000) * 1000 - 3000);
  const lifetimes = chain.map((c) => validity(c)[1] - validity(c)[0]);
  assert.equal(lifetimes[3], DAY);
  assert.equal(lifetimes[2], 6 * DAY);
  assert.equal(lifetimes[1], 20 * DAY);
  const [rootFrom, rootTo] = validity(chain[0]!);
  const thirtyYears = new Date(rootFrom);
  thirtyYears.setUTCFullYear(thirtyYears.getUTCFullYear() + 30);
  assert.equal(rootTo, thirtyYears.getTime());
  for (const cert of chain) {
    const [from, to] = validity(cert);
    assert.ok(from <= timestamp && timestamp <= to, `${cert.subject} covers the timestamp`);
  }
});

test('certificate profiles match the real chain level by level (names, extensions, usages)', () => {
  const real = realDocument(REAL_PRODUCTION);
  const sim = decodeDocument(nsm.attest());
  const realDers = [...real.cabundle, real.leaf];
  const simDers = [...sim.cabundle, sim.leaf];
  const levels = ['root', 'regional', 'zonal', 'instance', 'leaf'];
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(profileOf(simDers[i]!), profileOf(realDers[i]!), `${levels[i]} profile`);
  }
  // The values themselves, as read off AWS's certificates.
  const keyUsages = simDers.map((d) => hex(extensionValue(d, '2.5.29.15')!));
  assert.deepEqual(keyUsages, ['03020186', '03020186', '03020186', '03020204', '030206c0']);
  const basic = simDers.map((d) => hex(extensionValue(d, '2.5.29.19')!));
  assert.deepEqual(basic, [
    '30030101ff',
    '30060101ff020102',
    '30060101ff020101',
    '30060101ff020100',
    '3000',
  ]);
  for (const der of simDers) {
    // ecdsa-with-SHA384 without parameters, in the TBS and in the outer certificate.
    const matches = hex(der).split('300a06082a8648ce3d040303').length - 1;
    assert.equal(matches, 2);
  }
});

test('key identifiers follow AWS: SHA-1 of the key, AKI = issuer SKI, none on instance and leaf', () => {
  for (const doc of [realDocument(REAL_PRODUCTION), decodeDocument(nsm.attest())]) {
    const ders = [...doc.cabundle, doc.leaf];
    const certs = ders.map((d) => new X509Certificate(d));
    for (let i = 0; i < 3; i++) {
      assert.equal(hex(extensionValue(ders[i]!, '2.5.29.14')!), `0414${keyIdOf(certs[i]!)}`);
    }
    for (let i = 1; i < 3; i++) {
      assert.equal(
        hex(extensionValue(ders[i]!, '2.5.29.35')!),
        `30168014${keyIdOf(certs[i - 1]!)}`,
      );
    }
    assert.equal(extensionValue(ders[3]!, '2.5.29.14'), null);
    assert.equal(extensionValue(ders[4]!, '2.5.29.35'), null);
  }
});

test('leaf serial: 8-byte enclave id then the issue time in seconds, as AWS', () => {
  const real = realDocument(REAL_PRODUCTION);
  const check = (doc: Decoded, count: number): void => {
    const serial = serialOf(doc.leaf);
    assert.equal(serial.length, 16);
    const moduleId = doc.payload.get('module_id') as string;
    assert.equal(hex(serial.subarray(0, 8)), moduleId.slice(-16));
    const view = new DataView(serial.buffer, serial.byteOffset, 16);
    assert.equal(view.getUint32(8), count);
    const [, notAfter] = validity(new X509Certificate(doc.leaf));
    assert.equal(view.getUint32(12) * 1000, notAfter - 3 * HOUR);
  };
  check(real, 0);
  const fresh = SimulatedNsm.create({ pcrs: measurement, now: clock.now });
  check(decodeDocument(fresh.attest()), 0);
  check(decodeDocument(fresh.attest()), 1);
});

test('every document gets a fresh leaf; the CAs are reused while they cover the leaf', () => {
  const a = decodeDocument(nsm.attest());
  const b = decodeDocument(nsm.attest());
  assert.notEqual(hex(a.leaf), hex(b.leaf));
  assert.notEqual(keyIdOf(new X509Certificate(a.leaf)), keyIdOf(new X509Certificate(b.leaf)));
  assert.notEqual(hex(serialOf(a.leaf)), hex(serialOf(b.leaf)));
  assert.deepEqual(a.cabundle.map(hex), b.cabundle.map(hex));
});

test('intermediates rotate as the clock moves; the root never changes; outside the root fails', () => {
  const c = movableClock();
  const sim = SimulatedNsm.create({ pcrs: measurement, now: c.now });
  const first = decodeDocument(sim.attest());
  const changed = (doc: Decoded): boolean[] =>
    doc.cabundle.map((d, i) => hex(d) !== hex(first.cabundle[i]!));

  c.set(c.start + 22 * HOUR); // the instance CA (24 h, started 1 h early) cannot cover 3 more hours
  const day = decodeDocument(sim.attest());
  assert.deepEqual(changed(day), [false, false, false, true]);
  c.set(c.start + 7 * DAY);
  const week = decodeDocument(sim.attest());
  assert.deepEqual(changed(week), [false, false, true, true]);
  c.set(c.start + 21 * DAY);
  const month = decodeDocument(sim.attest());
  assert.deepEqual(changed(month), [false, true, true, true]);
  for (const doc of [day, week, month]) {
    assertChainLinks(chainOf(doc));
    assert.ok(coseSignatureValid(doc));
    const timestamp = Number(doc.payload.get('timestamp'));
    for (const cert of chainOf(doc)) {
      const [from, to] = validity(cert);
      assert.ok(from <= timestamp && timestamp <= to);
    }
  }

  c.set(c.start - 2 * HOUR);
  assert.throws(() => sim.attest(), isCode('NOT_YET_VALID'));
  c.set(c.start + 31 * 365 * DAY);
  assert.throws(() => sim.attest(), isCode('EXPIRED'));
  c.set(Number.NaN);
  assert.throws(() => sim.attest(), isCode('MALFORMED'));
});

test('module ids: AWS-like default, custom ids accepted, malformed ones refused', () => {
  const custom = SimulatedNsm.create({ pcrs: measurement, moduleId: 'enclave-signer.1' });
  const doc = decodeDocument(custom.attest());
  assert.equal(doc.payload.get('module_id'), 'enclave-signer.1');
  assertChainLinks(chainOf(doc));
  assert.equal(serialOf(doc.leaf).length, 16);
  for (const bad of ['', 'a'.repeat(41), 'has space', '-leading-dash', 'ünïcode']) {
    assert.throws(
      () => SimulatedNsm.create({ pcrs: measurement, moduleId: bad }),
      isCode('MALFORMED'),
    );
  }
});

test('private keys never leave the object: no accessor, redacted JSON and inspect', () => {
  assert.deepEqual(Object.keys(nsm), ['moduleId']);
  assert.deepEqual(
    Object.getOwnPropertyNames(SimulatedNsm.prototype).sort(),
    ['attest', 'constructor', 'pcrs', 'rootDer', 'rootPem', 'toJSON'].sort(),
  );
  const json = JSON.parse(JSON.stringify(nsm)) as Record<string, unknown>;
  assert.deepEqual(Object.keys(json).sort(), ['moduleId', 'rootSha256']);
  assert.equal(json['rootSha256'], createHash('sha256').update(nsm.rootDer).digest('hex'));
  const printed = inspect(nsm, { showHidden: true, depth: 10 });
  assert.match(printed, /redacted/);
  assert.doesNotMatch(printed, /KeyObject|PRIVATE|privateKey/);
  // The getters hand out copies: mutating one does not touch the anchor.
  const root = nsm.rootDer;
  root[0] = 0;
  assert.notEqual(nsm.rootDer[0], 0);
});

// ---------------------------------------------------------------------------------------------
// Round trip through the verifier: simulated documents pass it exactly as AWS's do, and only
// under the simulator's root.

test('round trip: verifies under the simulated root with expected PCRs; UNTRUSTED_ROOT under AWS', () => {
  const nonce = new Uint8Array(32).fill(5);
  const publicKey = new Uint8Array(1024).fill(6);
  const raw = nsm.attest({ nonce, publicKey });
  const at = clock.now();
  const expectedPcrs = new Map([
    [0, measurement.pcr0],
    [1, measurement.pcr1],
    [2, measurement.pcr2],
  ]);
  const result = verifyAttestation(raw, { root: nsm.rootDer, expectedPcrs, nonce, at });
  assert.ok(result.valid, JSON.stringify(result));
  assert.equal(result.document.moduleId, nsm.moduleId);
  assert.equal(result.document.timestamp, clock.start);
  assert.equal(hex(result.document.publicKey!), hex(publicKey));
  assert.equal(result.document.userData, null);
  assert.equal(result.certificates.length, 5);
  // Every PCR the simulator reports is what the verifier reads.
  assert.ok(verifyAttestation(raw, { root: nsm.rootDer, expectedPcrs: nsm.pcrs, at }).valid);

  const underAws = verifyAttestation(raw, { at });
  assert.equal(underAws.valid, false);
  assert.equal(!underAws.valid && underAws.error.code, 'UNTRUSTED_ROOT');
  const otherRoot = SimulatedNsm.create({ pcrs: measurement }).rootDer;
  const underOther = verifyAttestation(raw, { root: otherRoot, at });
  assert.equal(!underOther.valid && underOther.error.code, 'UNTRUSTED_ROOT');
});

test('round trip: the verifier refuses changed code, a debug document and an expired leaf', () => {
  const at = clock.now();
  const root = nsm.rootDer;
  const changed = measureFiles(
    sampleFiles.map((f) =>
      f.path === 'main.js' ? { ...f, content: bytes('export const answer = 43;\n') } : f,
    ),
    { runtime: fixedRuntime },
  );
  const changedNsm = SimulatedNsm.create({ pcrs: changed, now: clock.now });
  const mismatch = verifyAttestation(changedNsm.attest(), {
    root: changedNsm.rootDer,
    expectedPcrs: new Map([[2, measurement.pcr2]]),
    at,
  });
  assert.equal(!mismatch.valid && mismatch.error.code, 'PCR_MISMATCH');

  const debugNsm = SimulatedNsm.create({ pcrs: new Map(), now: clock.now });
  const debugDoc = debugNsm.attest();
  const debug = verifyAttestation(debugDoc, { root: debugNsm.rootDer, at });
  assert.equal(!debug.valid && debug.error.code, 'DEBUG_MODE');
  assert.ok(verifyAttestation(debugDoc, { root: debugNsm.rootDer, at, allowDebug: true }).valid);

  const raw = nsm.attest();
  const late = verifyAttestation(raw, { root, at: new Date(clock.start + 3 * HOUR + 1000) });
  assert.equal(!late.valid && late.error.code, 'EXPIRED');
  const early = verifyAttestation(raw, { root, at: new Date(clock.start - 5000) });
  assert.equal(!early.valid && early.error.code, 'NOT_YET_VALID');
});

// ---------------------------------------------------------------------------------------------
// A shared root: the simulator's enclaves (different code, different module ids) chain to one
// anchor, as every real enclave chains to AWS's.

test('shared root: two NSMs with different PCRs and module ids both verify under the one root', () => {
  const root = SimulatedNsm.newRoot({ now: clock.now });
  const other = measureFiles([{ path: 'main.js', content: bytes('other code') }], {
    runtime: fixedRuntime,
  });
  const a = SimulatedNsm.create({ pcrs: measurement, now: clock.now, root, moduleId: 'signer-a' });
  const b = SimulatedNsm.create({ pcrs: other, now: clock.now, root, moduleId: 'signer-b' });
  assert.equal(hex(a.rootDer), hex(root.der));
  assert.equal(hex(b.rootDer), hex(root.der));
  assert.equal(a.rootPem, root.certificatePem);
  const at = clock.now();
  const docA = a.attest({ nonce: new Uint8Array(32).fill(1) });
  const docB = b.attest({ nonce: new Uint8Array(32).fill(2) });
  const resultA = verifyAttestation(docA, { root: root.der, expectedPcrs: a.pcrs, at });
  const resultB = verifyAttestation(docB, { root: root.der, expectedPcrs: b.pcrs, at });
  assert.ok(resultA.valid && resultB.valid, JSON.stringify([resultA, resultB]));
  assert.equal(resultA.document.moduleId, 'signer-a');
  assert.equal(resultB.document.moduleId, 'signer-b');
  // One anchor, two chains: the intermediates (and their keys) are each NSM's own.
  const [chainA, chainB] = [decodeDocument(docA), decodeDocument(docB)];
  assert.equal(hex(chainA.cabundle[0]!), hex(chainB.cabundle[0]!));
  for (let i = 1; i < 4; i++) assert.notEqual(hex(chainA.cabundle[i]!), hex(chainB.cabundle[i]!));
  // The shared root does not blur the measurements: each document still carries its own code.
  const crossed = verifyAttestation(docB, { root: root.der, expectedPcrs: a.pcrs, at });
  assert.equal(!crossed.valid && crossed.error.code, 'PCR_MISMATCH');
});

test('shared root: the PEM round trip gives the same root, and NSMs under it still verify', () => {
  const root = SimulatedNsm.newRoot({ now: clock.now });
  const pem = root.toPem();
  assert.match(pem.certificate, /^-----BEGIN CERTIFICATE-----\n/);
  assert.match(pem.privateKey, /^-----BEGIN PRIVATE KEY-----\n/);
  const loaded = SimulatedRoot.fromPem(pem);
  assert.equal(hex(loaded.der), hex(root.der));
  assert.deepEqual(loaded.toPem(), pem);
  const nsmUnderLoaded = SimulatedNsm.create({ pcrs: measurement, now: clock.now, root: loaded });
  const result = verifyAttestation(nsmUnderLoaded.attest(), { root: root.der, at: clock.now() });
  assert.ok(result.valid, JSON.stringify(result));

  // The key never shows: not in JSON, not in inspect, not as an own property.
  assert.deepEqual(Object.keys(root), []);
  assert.deepEqual(JSON.parse(JSON.stringify(root)), {
    rootSha256: createHash('sha256').update(root.der).digest('hex'),
  });
  const printed = inspect(root, { showHidden: true, depth: 10 });
  assert.match(printed, /redacted/);
  assert.doesNotMatch(printed, /KeyObject|PRIVATE|privateKey/);

  // A pair that does not belong together, or text that is not PEM, is refused.
  const stranger = SimulatedNsm.newRoot({ now: clock.now }).toPem();
  assert.throws(
    () => SimulatedRoot.fromPem({ certificate: pem.certificate, privateKey: stranger.privateKey }),
    isCode('MALFORMED'),
  );
  assert.throws(
    () => SimulatedRoot.fromPem({ certificate: 'not a certificate', privateKey: pem.privateKey }),
    isCode('MALFORMED'),
  );
  assert.throws(
    () =>
      SimulatedNsm.create({
        pcrs: measurement,
        root: { der: root.der } as unknown as SimulatedRoot,
      }),
    isCode('MALFORMED'),
  );
});

test('shared root: a document from an NSM with a different root is UNTRUSTED_ROOT', () => {
  const root = SimulatedNsm.newRoot({ now: clock.now });
  const stranger = SimulatedNsm.create({ pcrs: measurement, now: clock.now });
  const result = verifyAttestation(stranger.attest(), {
    root: root.der,
    expectedPcrs: stranger.pcrs,
    at: clock.now(),
  });
  assert.equal(!result.valid && result.error.code, 'UNTRUSTED_ROOT');
});

// ---------------------------------------------------------------------------------------------
// Measurement

function writeBundle(files: readonly BundleFile[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'mpc-kms-bundle-'));
  for (const f of files) {
    const target = join(dir, ...f.path.split('/'));
    mkdirSync(join(target, '..'), { recursive: true });
    writeFileSync(target, f.content);
  }
  return dir;
}

test('measureBundle is deterministic and equals measureFiles over the same files', (t) => {
  const dir = writeBundle(sampleFiles);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = measureBundle(dir, { runtime: fixedRuntime });
  const b = measureBundle(dir, { runtime: fixedRuntime });
  assert.deepEqual(a, b);
  assert.deepEqual(a, measurement);
  assert.deepEqual(
    measureFiles([...sampleFiles].reverse(), { runtime: fixedRuntime }),
    measurement,
  );
  for (const v of [a.pcr0, a.pcr1, a.pcr2]) assert.equal(v.length, 48);
  // Without an explicit runtime PCR1 measures this process.
  const current = { version: process.version, platform: process.platform, arch: process.arch };
  assert.deepEqual(measureBundle(dir), measureFiles(sampleFiles, { runtime: current }));
});

test('measurement format is pinned (a format change must be deliberate)', () => {
  assert.deepEqual(
    {
      pcr0: hex(measurement.pcr0),
      pcr1: hex(measurement.pcr1),
      pcr2: hex(measurement.pcr2),
    },
    PINNED_MEASUREMENT,
  );
});

test('changing one byte of one file changes PCR0 and PCR2, not PCR1', (t) => {
  const dir = writeBundle(sampleFiles);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const before = measureBundle(dir, { runtime: fixedRuntime });
  const content = readFileSync(join(dir, 'lib', 'deep', 'b.bin'));
  content[2]! ^= 0x01;
  writeFileSync(join(dir, 'lib', 'deep', 'b.bin'), content);
  const after = measureBundle(dir, { runtime: fixedRuntime });
  assert.notEqual(hex(after.pcr0), hex(before.pcr0));
  assert.notEqual(hex(after.pcr2), hex(before.pcr2));
  assert.equal(hex(after.pcr1), hex(before.pcr1));
});

test('the runtime changes PCR1 and PCR0, not PCR2; renames and empty directories are seen', () => {
  const otherRuntime = measureFiles(sampleFiles, {
    runtime: { ...fixedRuntime, version: 'v22.0.0' },
  });
  assert.notEqual(hex(otherRuntime.pcr1), hex(measurement.pcr1));
  assert.notEqual(hex(otherRuntime.pcr0), hex(measurement.pcr0));
  assert.equal(hex(otherRuntime.pcr2), hex(measurement.pcr2));

  const renamed = sampleFiles.map((f) => (f.path === 'main.js' ? { ...f, path: 'main.mjs' } : f));
  const r = measureFiles(renamed, { runtime: fixedRuntime });
  assert.notEqual(hex(r.pcr2), hex(measurement.pcr2));

  // An empty directory is part of the image (PCR0) but holds no application code (PCR2).
  const withDir = measureFiles(sampleFiles, { runtime: fixedRuntime, directories: ['empty'] });
  assert.notEqual(hex(withDir.pcr0), hex(measurement.pcr0));
  assert.equal(hex(withDir.pcr2), hex(measurement.pcr2));
});

test('an empty directory on disk measures as measureFiles with that directory', (t) => {
  const dir = writeBundle(sampleFiles);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'empty', 'nested'), { recursive: true });
  assert.deepEqual(
    measureBundle(dir, { runtime: fixedRuntime }),
    measureFiles(sampleFiles, { runtime: fixedRuntime, directories: ['empty/nested'] }),
  );
});

test('length prefixes keep neighbouring bundles apart', () => {
  const m = (files: BundleFile[]): string =>
    hex(measureFiles(files, { runtime: fixedRuntime }).pcr0);
  const seen = new Set([
    m([{ path: 'ab', content: bytes('c') }]),
    m([{ path: 'a', content: bytes('bc') }]),
    m([{ path: 'a/b', content: bytes('c') }]),
    m([
      { path: 'a', content: bytes('') },
      { path: 'b', content: bytes('c') },
    ]),
    m([
      { path: 'a', content: bytes('c') },
      { path: 'b', content: bytes('') },
    ]),
    m([]),
  ]);
  assert.equal(seen.size, 6);
});

test('symbolic links are refused, inside the bundle and as its root', (t) => {
  const dir = writeBundle(sampleFiles);
  const link = `${dir}-link`;
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(link, { force: true });
  });
  symlinkSync(dir, link);
  assert.throws(() => measureBundle(link), isCode('MALFORMED'));
  symlinkSync('main.js', join(dir, 'alias.js'));
  assert.throws(() => measureBundle(dir), isCode('MALFORMED'));
});

test('ambiguous or escaping paths are refused', () => {
  const file = (path: string): BundleFile => ({ path, content: bytes('x') });
  const bad = [
    '',
    '/etc/passwd',
    'a/../b',
    '../a',
    './a',
    'a//b',
    'a/',
    'a\\b',
    'a\0b',
    'a\uD800b',
  ];
  for (const path of bad) {
    assert.throws(() => measureFiles([file(path)]), isCode('MALFORMED'), JSON.stringify(path));
  }
  assert.throws(() => measureFiles([file('a'), file('a')]), isCode('MALFORMED'), 'duplicate');
  assert.throws(() => measureFiles([file('a'), file('a/b')]), isCode('MALFORMED'), 'file and dir');
  assert.throws(() => measureFiles([file('a')], { directories: ['a'] }), isCode('MALFORMED'));
});

/**
 * measureFiles(sampleFiles, fixedRuntime), cross-checked against an independent Python
 * re-implementation of the format documented in attestation/measure.ts.
 */
const PINNED_MEASUREMENT = {
  pcr0: 'fe31df50ad274127a8443a06904254a76b4b23ede06569329c705f9559901195d0294382b83d26c9e957102b41c9f0be',
  pcr1: '608fe88daafa0557a1397bf328c0f01f3439112c300484dce7e1e1b3f54da04aa5087fe7bd7ef4d1dd8ce7403175812e',
  pcr2: 'd735519707f462fe1954048993483cdb2bee8ba4bdfcc3ec104301447fbc40fc18172edc3ea6de90242d13bc6a3c8736',
};
