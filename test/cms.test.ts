/**
 * KMS's `CiphertextForRecipient` (CMS EnvelopedData): the real envelope from
 * aws-nitro-enclaves-sdk-c parsed byte for byte, the simulator's writer checked against its
 * layout and round-tripped through the enclave's opener, and every departure from the KMS
 * profile refused with the right code. Variants are built with a small BER builder local to this
 * file, independent of the writer, which first proves itself by rebuilding the vector exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  constants,
  createHash,
  generateKeyPairSync,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import fc from 'fast-check';
import * as asn1js from 'asn1js';
import {
  openCiphertextForRecipient,
  parseCiphertextForRecipient,
  type EnvelopedForRecipient,
} from '../enclave/cms.js';
import { SealError, type SealErrorCode } from '../enclave/errors.js';
import { envelopeForRecipient } from '../simulator/aws/cms-writer.js';
import { vectorPath } from './helpers.js';

const VECTOR = new Uint8Array(
  readFileSync(vectorPath('attestation', 'sdk-c-cms-ciphertext-for-recipient.ber')),
);

// Two keys for the whole file: RSA generation costs 50-200 ms each.
const KEY_A = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KEY_B = generateKeyPairSync('rsa', { modulusLength: 2048 });
const SPKI_A = new Uint8Array(KEY_A.publicKey.export({ type: 'spki', format: 'der' }));

// ---- A test-local BER builder -----------------------------------------------------------------

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function cat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** Tag, definite length, value. */
function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const value = cat(...parts);
  const n = value.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return cat(Uint8Array.of(tag, ...length), value);
}

/** Tag, indefinite length, value, end-of-contents. */
function indef(tag: number, ...parts: Uint8Array[]): Uint8Array {
  return cat(Uint8Array.of(tag, 0x80), ...parts, Uint8Array.of(0, 0));
}

const int = (n: number): Uint8Array => tlv(0x02, Uint8Array.of(n));

// Encoded OBJECT IDENTIFIERs, written out so they check the writer's encoder independently.
const OID = {
  envelopedData: hex('06092a864886f70d010703'),
  signedData: hex('06092a864886f70d010702'),
  data: hex('06092a864886f70d010701'),
  rsaEncryption: hex('06092a864886f70d010101'),
  rsaesOaep: hex('06092a864886f70d010107'),
  mgf1: hex('06092a864886f70d010108'),
  pSpecified: hex('06092a864886f70d010109'),
  sha1: hex('06052b0e03021a'),
  sha256: hex('0609608648016503040201'),
  aes128Cbc: hex('0609608648016503040102'),
  aes256Cbc: hex('060960864801650304012a'),
};
const NULL = hex('0500');

const sha256Alg = tlv(0x30, OID.sha256, NULL);
const mgf1Alg = (hash: Uint8Array): Uint8Array => tlv(0x30, OID.mgf1, hash);
/** RSAES-OAEP AlgorithmIdentifier from its (already tagged) parameter fields. */
const oaep = (...fields: Uint8Array[]): Uint8Array =>
  tlv(0x30, OID.rsaesOaep, tlv(0x30, ...fields));
const KMS_OAEP = oaep(tlv(0xa0, sha256Alg), tlv(0xa1, mgf1Alg(sha256Alg)));
const aesCbc = (oid: Uint8Array, iv: Uint8Array): Uint8Array => tlv(0x30, oid, tlv(0x04, iv));

/** The vector's fields, sliced at offsets read off `openssl asn1parse`, not from the parser. */
const VECTOR_FIELDS: EnvelopedForRecipient = {
  subjectKeyIdentifier: VECTOR.slice(33, 65),
  encryptedKey: VECTOR.slice(131, 387),
  iv: VECTOR.slice(415, 431),
  encryptedContent: VECTOR.slice(435, 483),
};

interface RecipientParts {
  version?: Uint8Array;
  rid?: Uint8Array;
  algorithm?: Uint8Array;
  encryptedKey?: Uint8Array;
  extra?: Uint8Array[];
}

function recipient(fields: EnvelopedForRecipient, parts: RecipientParts = {}): Uint8Array {
  return tlv(
    0x30,
    parts.version ?? int(2),
    parts.rid ?? tlv(0x80, fields.subjectKeyIdentifier),
    parts.algorithm ?? KMS_OAEP,
    parts.encryptedKey ?? tlv(0x04, fields.encryptedKey),
    ...(parts.extra ?? []),
  );
}

/** `[0]` constructed, indefinite, primitive OCTET STRING chunks: how KMS writes the content. */
function chunked(content: Uint8Array, size = 1024): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < content.length; i += size)
    chunks.push(tlv(0x04, content.subarray(i, i + size)));
  return indef(0xa0, ...chunks);
}

interface EnvelopeParts {
  contentType?: Uint8Array;
  version?: Uint8Array;
  originatorInfo?: Uint8Array;
  recipients?: Uint8Array[];
  dataType?: Uint8Array;
  contentAlgorithm?: Uint8Array;
  content?: Uint8Array;
  afterContent?: Uint8Array[];
  afterEnveloped?: Uint8Array[];
}

/** The KMS layout around `fields`, with any part replaced. */
function envelope(fields: EnvelopedForRecipient, parts: EnvelopeParts = {}): Uint8Array {
  const enveloped = indef(
    0x30,
    parts.version ?? int(2),
    ...(parts.originatorInfo === undefined ? [] : [parts.originatorInfo]),
    tlv(0x31, ...(parts.recipients ?? [recipient(fields)])),
    indef(
      0x30,
      parts.dataType ?? OID.data,
      parts.contentAlgorithm ?? aesCbc(OID.aes256Cbc, fields.iv),
      parts.content ?? chunked(fields.encryptedContent),
    ),
    ...(parts.afterContent ?? []),
  );
  return indef(
    0x30,
    parts.contentType ?? OID.envelopedData,
    indef(0xa0, enveloped),
    ...(parts.afterEnveloped ?? []),
  );
}

/** The SealError `fn` throws; anything else thrown, or nothing, fails the test. */
function refusal(fn: () => unknown): SealError {
  try {
    fn();
  } catch (error) {
    if (error instanceof SealError) return error;
    throw error;
  }
  assert.fail('expected a SealError');
}

function assertRefused(fn: () => unknown, code: SealErrorCode): void {
  const error = refusal(fn);
  assert.equal(error.code, code, error.message);
}

/** The sizes of the encryptedContent chunks, read with asn1js along the KMS layout. */
function chunkSizes(ber: Uint8Array): number[] {
  const children = (b: asn1js.AsnType): asn1js.AsnType[] =>
    (b as asn1js.Constructed).valueBlock.value;
  const root = asn1js.fromBER(ber).result;
  const enveloped = children(children(root)[1])[0];
  const content = children(children(enveloped)[2])[2];
  return children(content).map((c) => (c as asn1js.OctetString).valueBlock.valueHexView.length);
}

/** `bytes` with `mask` XORed into position `index`. */
function flipped(bytes: Uint8Array, index: number, mask: number): Uint8Array {
  const out = bytes.slice();
  out[index] ^= mask;
  return out;
}

// ---- The real envelope ------------------------------------------------------------------------

test('the aws-nitro-enclaves-sdk-c envelope parses to its fields byte for byte', () => {
  const parsed = parseCiphertextForRecipient(VECTOR);
  assert.equal(
    toHex(parsed.subjectKeyIdentifier),
    '7087b55df94ba3255cdf3c01840a2aa3ec93620625d601cf56f97bde7a3d2eb1',
  );
  assert.deepEqual(parsed.subjectKeyIdentifier, VECTOR.subarray(33, 65));
  assert.equal(toHex(parsed.iv), '688c6d5f7f31b0fecedf09f2e7c99ac9');
  assert.equal(parsed.encryptedKey.length, 256);
  assert.equal(toHex(parsed.encryptedKey.subarray(0, 4)), 'a0614593');
  assert.deepEqual(parsed.encryptedKey, VECTOR.subarray(131, 387));
  assert.equal(parsed.encryptedContent.length, 48);
  assert.equal(toHex(parsed.encryptedContent.subarray(0, 4)), '70e5caaf');
  assert.deepEqual(parsed.encryptedContent, VECTOR.subarray(435, 483));
});

test('parsing reads a view at an offset and returns copies, not views of the input', () => {
  const padded = new Uint8Array(VECTOR.length + 7);
  padded.set(VECTOR, 3);
  const input = padded.subarray(3, 3 + VECTOR.length);
  const parsed = parseCiphertextForRecipient(input);
  assert.deepEqual(parsed, parseCiphertextForRecipient(VECTOR));
  input.fill(0);
  assert.equal(toHex(parsed.iv), '688c6d5f7f31b0fecedf09f2e7c99ac9');
});

test('the test builder rebuilds the vector exactly', () => {
  assert.deepEqual(envelope(VECTOR_FIELDS), VECTOR);
});

// ---- Writer and opener ------------------------------------------------------------------------

test("the writer's envelope equals the vector outside its random fields", () => {
  const written = envelopeForRecipient(new Uint8Array(32).fill(0x42), SPKI_A);
  assert.equal(written.length, VECTOR.length);
  assert.equal(toHex(written.subarray(0, 6)), '308006092a86');
  // SKI, encryptedKey, IV and ciphertext differ; every other byte is KMS's layout.
  const random = [
    [33, 65],
    [131, 387],
    [415, 431],
    [435, 483],
  ];
  for (let i = 0; i < VECTOR.length; i++) {
    if (random.some(([from, to]) => i >= from && i < to)) continue;
    assert.equal(written[i], VECTOR[i], `byte ${i}`);
  }
  const parsed = parseCiphertextForRecipient(written);
  const ski = createHash('sha256').update(SPKI_A).digest();
  assert.deepEqual(parsed.subjectKeyIdentifier, new Uint8Array(ski));
  assert.deepEqual(envelope(parsed), written);
});

test('writer to opener round trip, chunked in 1024-byte pieces', () => {
  // 0 bytes: KMS never sends an empty plaintext, but it is a well-formed envelope (one block of
  // padding) and both sides accept it rather than special-case it.
  for (const length of [0, 1, 15, 16, 17, 32, 1024, 1500, 4096]) {
    const plaintext = new Uint8Array(randomBytes(length));
    const written = envelopeForRecipient(plaintext, SPKI_A);
    assert.deepEqual(openCiphertextForRecipient(written, KEY_A.privateKey), plaintext, `${length}`);
    const padded = (Math.floor(length / 16) + 1) * 16;
    const expected = Array.from({ length: Math.ceil(padded / 1024) }, (_, i) =>
      Math.min(1024, padded - i * 1024),
    );
    assert.deepEqual(chunkSizes(written), expected, `chunks of ${length}`);
  }
});

test('each envelope uses a fresh content key and IV', () => {
  const plaintext = new Uint8Array(32);
  const one = parseCiphertextForRecipient(envelopeForRecipient(plaintext, SPKI_A));
  const two = parseCiphertextForRecipient(envelopeForRecipient(plaintext, SPKI_A));
  assert.notDeepEqual(one.iv, two.iv);
  assert.notDeepEqual(one.encryptedKey, two.encryptedKey);
  assert.notDeepEqual(one.encryptedContent, two.encryptedContent);
});

test('the writer refuses keys that are not RSA 2048..4096 and oversized plaintexts', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
  for (const spki of [
    new Uint8Array(ec.export({ type: 'spki', format: 'der' })),
    new Uint8Array(small.export({ type: 'spki', format: 'der' })),
    hex('3000'),
  ]) {
    assert.throws(() => envelopeForRecipient(new Uint8Array(32), spki), TypeError);
  }
  assert.throws(() => envelopeForRecipient(new Uint8Array(32 * 1024 + 1), SPKI_A), TypeError);
});

test('the opener refuses a key that is not an RSA private key', () => {
  const written = envelopeForRecipient(new Uint8Array(32), SPKI_A);
  assert.throws(() => openCiphertextForRecipient(written, KEY_A.publicKey), TypeError);
});

test('every decryption failure is CMS_DECRYPT_FAILED with one message', () => {
  const plaintext = new Uint8Array(randomBytes(32));
  const written = envelopeForRecipient(plaintext, SPKI_A);
  const fields = parseCiphertextForRecipient(written);
  const messages = new Set<string>();
  const expectFailure = (ber: Uint8Array, key = KEY_A.privateKey): void => {
    const error = refusal(() => openCiphertextForRecipient(ber, key));
    assert.equal(error.code, 'CMS_DECRYPT_FAILED', error.message);
    messages.add(error.message);
  };

  // Another key: OAEP decoding fails (a false accept needs a 256-bit hash match).
  expectFailure(written, KEY_B.privateKey);
  // A changed encryptedKey: the same, under the right key.
  expectFailure(envelope({ ...fields, encryptedKey: flipped(fields.encryptedKey, 100, 0x01) }));

  // Bad pads, made deterministically. CBC XORs the previous ciphertext block (the IV for the
  // first) into each plaintext block, so XORing a mask into byte i of the penultimate block XORs
  // it into byte i of the final, padded block. A random flip would leave a valid pad about once
  // in 256 runs; these never do.
  const badPad = (length: number, position: number, mask: number): Uint8Array => {
    const f = parseCiphertextForRecipient(
      envelopeForRecipient(new Uint8Array(randomBytes(length)), SPKI_A),
    );
    const n = f.encryptedContent.length;
    return n === 16
      ? envelope({ ...f, iv: flipped(f.iv, position, mask) })
      : envelope({ ...f, encryptedContent: flipped(f.encryptedContent, n - 32 + position, mask) });
  };
  expectFailure(badPad(5, 15, 0x20)); // pad byte 0x0b becomes 0x2b: above 16
  expectFailure(badPad(5, 15, 0x0b)); // pad byte becomes 0: no such pad
  expectFailure(badPad(5, 14, 0x01)); // pad byte intact, one padding byte wrong
  expectFailure(badPad(5, 5, 0x01)); // the first padding byte wrong
  expectFailure(badPad(32, 15, 0x20)); // a whole block of 0x10 whose last byte becomes 0x30
  expectFailure(badPad(32, 0, 0x01)); // the same block, first byte wrong

  // RSA-OAEP opens, but to a 16-byte (AES-128) key where the profile says AES-256.
  const shortKey = publicEncrypt(
    { key: KEY_A.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    randomBytes(16),
  );
  expectFailure(envelope({ ...fields, encryptedKey: new Uint8Array(shortKey) }));

  assert.equal(messages.size, 1, [...messages].join(' | '));
});

test('CBC has no integrity: a flipped IV byte opens to a plaintext flipped in that byte', () => {
  // Recorded so nobody mistakes this envelope for authenticated encryption: its integrity comes
  // from TLS to KMS ending inside the enclave.
  const plaintext = new Uint8Array(randomBytes(32));
  const fields = parseCiphertextForRecipient(envelopeForRecipient(plaintext, SPKI_A));
  const opened = openCiphertextForRecipient(
    envelope({ ...fields, iv: flipped(fields.iv, 0, 0x01) }),
    KEY_A.privateKey,
  );
  assert.deepEqual(opened, flipped(plaintext, 0, 0x01));
});

// ---- Adversarial structure --------------------------------------------------------------------

test('every truncation of the vector is CMS_MALFORMED', () => {
  for (let length = 0; length < VECTOR.length; length++) {
    assertRefused(() => parseCiphertextForRecipient(VECTOR.subarray(0, length)), 'CMS_MALFORMED');
  }
});

test('trailing bytes, oversized input, deep nesting and non-bytes are CMS_MALFORMED', () => {
  for (const tail of [hex('00'), hex('0000'), hex('0500'), VECTOR]) {
    assertRefused(() => parseCiphertextForRecipient(cat(VECTOR, tail)), 'CMS_MALFORMED');
  }
  const huge = envelope({ ...VECTOR_FIELDS, encryptedContent: new Uint8Array(64 * 1024) });
  assertRefused(() => parseCiphertextForRecipient(huge), 'CMS_MALFORMED');
  const deep = new Uint8Array(60_000);
  for (let i = 0; i < deep.length; i += 2) deep.set([0x30, 0x80], i);
  assertRefused(() => parseCiphertextForRecipient(deep), 'CMS_MALFORMED');
  assertRefused(
    () => parseCiphertextForRecipient('30 80' as unknown as Uint8Array),
    'CMS_MALFORMED',
  );
});

const F = VECTOR_FIELDS;
const OAEP_PARAMS_SHA256 = [tlv(0xa0, sha256Alg), tlv(0xa1, mgf1Alg(sha256Alg))];

/** Variants the profile accepts: they must parse to the vector's fields. */
const ACCEPTED: [string, Uint8Array][] = [
  ['the content as one primitive [0]', envelope(F, { content: tlv(0x80, F.encryptedContent) })],
  ['the content in 16-byte chunks', envelope(F, { content: chunked(F.encryptedContent, 16) })],
  [
    'the empty OAEP label written out',
    envelope(F, {
      recipients: [
        recipient(F, {
          algorithm: oaep(...OAEP_PARAMS_SHA256, tlv(0xa2, tlv(0x30, OID.pSpecified, tlv(0x04)))),
        }),
      ],
    }),
  ],
  [
    'SHA-256 with absent parameters',
    envelope(F, {
      recipients: [
        recipient(F, {
          algorithm: oaep(
            tlv(0xa0, tlv(0x30, OID.sha256)),
            tlv(0xa1, mgf1Alg(tlv(0x30, OID.sha256))),
          ),
        }),
      ],
    }),
  ],
];

test('accepted variants of the profile parse to the same fields', () => {
  for (const [name, ber] of ACCEPTED) {
    assert.deepEqual(parseCiphertextForRecipient(ber), VECTOR_FIELDS, name);
  }
});

const withAlgorithm = (algorithm: Uint8Array): Uint8Array =>
  envelope(F, { recipients: [recipient(F, { algorithm })] });
const issuerAndSerial = tlv(0x30, tlv(0x30), int(1)); // empty Name, serial 1

/** Variants outside the profile and the code each must get. */
const REFUSED: [string, Uint8Array, SealErrorCode][] = [
  [
    'signedData instead of envelopedData',
    envelope(F, { contentType: OID.signedData }),
    'CMS_UNSUPPORTED',
  ],
  ['EnvelopedData version 0', envelope(F, { version: int(0) }), 'CMS_UNSUPPORTED'],
  [
    'EnvelopedData version as non-minimal 00 02',
    envelope(F, { version: tlv(0x02, hex('0002')) }),
    'CMS_UNSUPPORTED',
  ],
  ['originatorInfo present', envelope(F, { originatorInfo: hex('a000') }), 'CMS_UNSUPPORTED'],
  [
    'unprotectedAttrs present',
    envelope(F, { afterContent: [tlv(0xa1, tlv(0x30, OID.data, tlv(0x31, NULL)))] }),
    'CMS_UNSUPPORTED',
  ],
  // UnprotectedAttributes ::= SET SIZE (1..MAX); pkijs reads an empty [1] as no attributes at all.
  ['an empty unprotectedAttrs', envelope(F, { afterContent: [hex('a100')] }), 'CMS_MALFORMED'],
  [
    'an element after the EncryptedContentInfo',
    envelope(F, { afterContent: [int(7)] }),
    'CMS_MALFORMED',
  ],
  [
    'an element after the ContentInfo content',
    envelope(F, { afterEnveloped: [int(7)] }),
    'CMS_MALFORMED',
  ],
  ['two recipients', envelope(F, { recipients: [recipient(F), recipient(F)] }), 'CMS_UNSUPPORTED'],
  ['no recipients', envelope(F, { recipients: [] }), 'CMS_MALFORMED'],
  [
    'a KEKRecipientInfo',
    envelope(F, {
      recipients: [
        tlv(
          0xa2,
          int(4),
          tlv(0x30, tlv(0x04, hex('01'))),
          tlv(0x30, OID.aes256Cbc),
          tlv(0x04, new Uint8Array(40)),
        ),
      ],
    }),
    'CMS_UNSUPPORTED',
  ],
  [
    'issuerAndSerialNumber recipient (version 0)',
    envelope(F, { recipients: [recipient(F, { version: int(0), rid: issuerAndSerial })] }),
    'CMS_UNSUPPORTED',
  ],
  [
    'issuerAndSerialNumber recipient (version 2)',
    envelope(F, { recipients: [recipient(F, { rid: issuerAndSerial })] }),
    'CMS_UNSUPPORTED',
  ],
  [
    'KeyTransRecipientInfo version 0',
    envelope(F, { recipients: [recipient(F, { version: int(0) })] }),
    'CMS_UNSUPPORTED',
  ],
  [
    'an element after the encryptedKey',
    envelope(F, { recipients: [recipient(F, { extra: [int(7)] })] }),
    'CMS_MALFORMED',
  ],
  ['RSAES-PKCS1-v1_5', withAlgorithm(tlv(0x30, OID.rsaEncryption, NULL)), 'CMS_UNSUPPORTED'],
  ['OAEP without parameters', withAlgorithm(tlv(0x30, OID.rsaesOaep)), 'CMS_UNSUPPORTED'],
  ['OAEP with default (SHA-1) parameters', withAlgorithm(oaep()), 'CMS_UNSUPPORTED'],
  [
    'OAEP with SHA-1 written out',
    withAlgorithm(
      oaep(tlv(0xa0, tlv(0x30, OID.sha1, NULL)), tlv(0xa1, mgf1Alg(tlv(0x30, OID.sha1, NULL)))),
    ),
    'CMS_UNSUPPORTED',
  ],
  [
    'OAEP SHA-256 with default (SHA-1) MGF1',
    withAlgorithm(oaep(tlv(0xa0, sha256Alg))),
    'CMS_UNSUPPORTED',
  ],
  [
    'OAEP SHA-256 with MGF1-SHA-1',
    withAlgorithm(oaep(tlv(0xa0, sha256Alg), tlv(0xa1, mgf1Alg(tlv(0x30, OID.sha1, NULL))))),
    'CMS_UNSUPPORTED',
  ],
  [
    'OAEP SHA-256 whose NULL has content',
    withAlgorithm(
      oaep(tlv(0xa0, tlv(0x30, OID.sha256, hex('050100'))), tlv(0xa1, mgf1Alg(sha256Alg))),
    ),
    'CMS_UNSUPPORTED',
  ],
  [
    'a non-empty OAEP label',
    withAlgorithm(
      oaep(...OAEP_PARAMS_SHA256, tlv(0xa2, tlv(0x30, OID.pSpecified, tlv(0x04, hex('6b6d73'))))),
    ),
    'CMS_UNSUPPORTED',
  ],
  [
    'OAEP parameters out of order',
    withAlgorithm(oaep(tlv(0xa1, mgf1Alg(sha256Alg)), tlv(0xa0, sha256Alg))),
    'CMS_MALFORMED',
  ],
  [
    'an extra OAEP parameter',
    withAlgorithm(oaep(...OAEP_PARAMS_SHA256, tlv(0xa3, NULL))),
    'CMS_MALFORMED',
  ],
  [
    'an element after the OAEP parameters',
    withAlgorithm(tlv(0x30, OID.rsaesOaep, tlv(0x30, ...OAEP_PARAMS_SHA256), NULL)),
    'CMS_MALFORMED',
  ],
  [
    'a 128-byte (RSA-1024) encryptedKey',
    envelope(F, {
      recipients: [recipient(F, { encryptedKey: tlv(0x04, F.encryptedKey.subarray(0, 128)) })],
    }),
    'CMS_UNSUPPORTED',
  ],
  ['content type other than id-data', envelope(F, { dataType: OID.signedData }), 'CMS_UNSUPPORTED'],
  [
    'aes-128-cbc',
    envelope(F, { contentAlgorithm: aesCbc(OID.aes128Cbc, F.iv) }),
    'CMS_UNSUPPORTED',
  ],
  [
    'an 8-byte IV',
    envelope(F, { contentAlgorithm: aesCbc(OID.aes256Cbc, F.iv.subarray(0, 8)) }),
    'CMS_MALFORMED',
  ],
  ['no IV', envelope(F, { contentAlgorithm: tlv(0x30, OID.aes256Cbc) }), 'CMS_MALFORMED'],
  [
    'a constructed IV',
    envelope(F, { contentAlgorithm: tlv(0x30, OID.aes256Cbc, indef(0x24, tlv(0x04, F.iv))) }),
    'CMS_MALFORMED',
  ],
  [
    'a constructed encryptedKey',
    envelope(F, {
      recipients: [recipient(F, { encryptedKey: indef(0x24, tlv(0x04, F.encryptedKey)) })],
    }),
    'CMS_MALFORMED',
  ],
  [
    'a constructed subjectKeyIdentifier',
    envelope(F, {
      recipients: [recipient(F, { rid: indef(0xa0, tlv(0x04, F.subjectKeyIdentifier)) })],
    }),
    'CMS_MALFORMED',
  ],
  [
    'an element after the IV',
    envelope(F, { contentAlgorithm: tlv(0x30, OID.aes256Cbc, tlv(0x04, F.iv), NULL) }),
    'CMS_MALFORMED',
  ],
  [
    'content of 47 bytes',
    envelope(F, { content: chunked(F.encryptedContent.subarray(0, 47)) }),
    'CMS_MALFORMED',
  ],
  ['empty content', envelope(F, { content: indef(0xa0) }), 'CMS_MALFORMED'],
  ['absent (detached) content', envelope(F, { content: new Uint8Array(0) }), 'CMS_MALFORMED'],
  [
    'a constructed chunk inside the content',
    envelope(F, { content: indef(0xa0, indef(0x24, tlv(0x04, F.encryptedContent))) }),
    'CMS_MALFORMED',
  ],
];

test('each departure from the KMS profile gets its code', () => {
  for (const [name, ber, code] of REFUSED) {
    const error = refusal(() => parseCiphertextForRecipient(ber));
    assert.equal(error.code, code, `${name}: ${error.message}`);
  }
});

test('property: a mutated vector parses within the profile or throws a SealError', () => {
  const mutation = fc.record({
    index: fc.nat({ max: VECTOR.length - 1 }),
    value: fc.integer({ min: 0, max: 255 }),
  });
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
      const ber = VECTOR.slice();
      for (const { index, value } of mutations) ber[index] = value;
      let parsed: EnvelopedForRecipient;
      try {
        parsed = parseCiphertextForRecipient(ber);
      } catch (error) {
        if (!(error instanceof SealError)) throw error;
        assert.ok(error.code === 'CMS_MALFORMED' || error.code === 'CMS_UNSUPPORTED', error.code);
        return;
      }
      assert.equal(parsed.iv.length, 16);
      assert.ok(parsed.encryptedKey.length >= 256 && parsed.encryptedKey.length <= 512);
      assert.ok(parsed.encryptedContent.length > 0 && parsed.encryptedContent.length % 16 === 0);
    }),
    { numRuns: 1000 },
  );
});

test('property: opening a mutated envelope gives the plaintext, other bytes or a SealError', () => {
  const plaintext = new Uint8Array(32).fill(0x5a);
  const written = envelopeForRecipient(plaintext, SPKI_A);
  fc.assert(
    fc.property(
      fc.nat({ max: written.length - 1 }),
      fc.integer({ min: 1, max: 255 }),
      (index, mask) => {
        try {
          const opened = openCiphertextForRecipient(
            flipped(written, index, mask),
            KEY_A.privateKey,
          );
          // Only the IV and content are malleable; the rest either fails or changes nothing.
          assert.ok(opened instanceof Uint8Array);
        } catch (error) {
          if (!(error instanceof SealError)) throw error;
        }
      },
    ),
    { numRuns: 300 },
  );
});
