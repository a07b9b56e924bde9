/**
 * The simulated KMS's `CiphertextForRecipient`: CMS EnvelopedData (RFC 5652 §6) written the way
 * AWS KMS writes it when a request carries a `Recipient` with `RSAES_OAEP_SHA_256`.
 *
 * The layout copies the real envelope in ../shared/vectors/attestation byte for byte except for
 * the random fields: BER with indefinite lengths on the ContentInfo, its [0], the EnvelopedData,
 * the EncryptedContentInfo and the encryptedContent (primitive OCTET STRING chunks of 1024 bytes),
 * and definite lengths inside the RecipientInfos SET. Writing it that way, rather than the DER a
 * library would produce, keeps the enclave's parser honest about the input it will really see.
 *
 * The encoder is a few lines of hand-written TLV rather than asn1js: the shape is fixed, and
 * coaxing asn1js into indefinite lengths at exactly these places is harder to read than writing
 * the bytes.
 */
import {
  constants,
  createCipheriv,
  createHash,
  createPublicKey,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { CMS_OIDS } from '../../enclave/index.js';
import { concat } from '../../protocol/bytes.js';

/**
 * KMS's own plaintexts stop at 4096 bytes. The cap is looser so tests can go past that, and tight
 * enough that every envelope written stays inside the enclave parser's 64 KiB bound.
 */
const MAX_PLAINTEXT_BYTES = 32 * 1024;
/** The chunk size of the constructed encryptedContent; the last chunk holds the remainder. */
const CHUNK_BYTES = 1024;
const CEK_BYTES = 32;
const IV_BYTES = 16;

// Identifier octets (X.690 §8.1.2): universal types, and context-specific [n] tags.
const INTEGER = 0x02;
const OCTET_STRING = 0x04;
const NULL = 0x05;
const OBJECT_IDENTIFIER = 0x06;
const SEQUENCE = 0x30;
const SET = 0x31;
const CONTEXT_0_PRIMITIVE = 0x80;
const CONTEXT_0 = 0xa0;
const CONTEXT_1 = 0xa1;

/**
 * Seals `plaintext` to the RSA key in `recipientSpki` (a DER SubjectPublicKeyInfo, as in an
 * attestation document's `public_key`) as KMS does: a fresh 32-byte content-encryption key and
 * 16-byte IV, AES-256-CBC with PKCS#7 padding, the key wrapped with RSAES-OAEP (SHA-256, MGF1 with
 * SHA-256, empty label), and the recipient named by subjectKeyIdentifier = SHA-256(SPKI).
 *
 * KMS's exact subjectKeyIdentifier derivation is undocumented; SHA-256 of the SPKI matches the
 * 32-byte length it uses, and the enclave does not check it either way. An empty plaintext is
 * accepted (it encrypts to one block of padding) though KMS never sends one.
 *
 * @throws {TypeError} when `recipientSpki` is not an RSA key of 2048 to 4096 bits, or the
 *   plaintext exceeds 32 KiB.
 */
export function envelopeForRecipient(plaintext: Uint8Array, recipientSpki: Uint8Array): Uint8Array {
  if (!(plaintext instanceof Uint8Array) || plaintext.length > MAX_PLAINTEXT_BYTES) {
    throw new TypeError(`plaintext must be at most ${MAX_PLAINTEXT_BYTES} bytes`);
  }
  const recipient = rsaRecipient(recipientSpki);
  const subjectKeyIdentifier = createHash('sha256').update(recipientSpki).digest();
  const iv = randomBytes(IV_BYTES);
  const cek = randomBytes(CEK_BYTES);
  try {
    const encryptedKey = publicEncrypt(
      { key: recipient, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      cek,
    );
    const cipher = createCipheriv('aes-256-cbc', cek, iv); // PKCS#7 padding is node's default
    const encryptedContent = concat(cipher.update(plaintext), cipher.final());
    return encodeEnvelope(subjectKeyIdentifier, encryptedKey, iv, encryptedContent);
  } finally {
    // Narrows the time the key is readable; OpenSSL's cipher context keeps its own copy.
    cek.fill(0);
  }
}

/** Refuses what KMS refuses for a Recipient, and what the enclave's opener would not take. */
function rsaRecipient(spki: Uint8Array): KeyObject {
  if (!(spki instanceof Uint8Array)) throw new TypeError('recipientSpki must be bytes');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new TypeError('recipientSpki is not a DER SubjectPublicKeyInfo', { cause });
  }
  // 'rsa-pss' keys are refused too: their SPKI restricts them to signing.
  if (key.asymmetricKeyType !== 'rsa') {
    throw new TypeError(`recipient key is ${key.asymmetricKeyType ?? 'unknown'}, not RSA`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < 2048 || bits > 4096) {
    throw new TypeError(`recipient RSA modulus of ${bits} bits; expected 2048..4096`);
  }
  return key;
}

/**
 * The tree of the real vector (see `openssl asn1parse`), indefinite where KMS is indefinite:
 *
 *   SEQUENCE* { OID envelopedData, [0]* { SEQUENCE* {
 *     INTEGER 2,
 *     SET { SEQUENCE { INTEGER 2, [0] ski, SEQUENCE { OID rsaesOaep, oaepParams }, OCTET STRING } },
 *     SEQUENCE* { OID data, SEQUENCE { OID aes256Cbc, OCTET STRING iv }, [0]* { OCTET STRING... } }
 *   } } }                                                      (* = indefinite length)
 */
function encodeEnvelope(
  subjectKeyIdentifier: Uint8Array,
  encryptedKey: Uint8Array,
  iv: Uint8Array,
  encryptedContent: Uint8Array,
): Uint8Array {
  const sha256 = definite(SEQUENCE, objectIdentifier(CMS_OIDS.sha256), definite(NULL));
  // RFC 4055 §3.1 RSAES-OAEP-params, SHA-256 written out; pSourceFunc left at its empty default.
  const oaepParams = definite(
    SEQUENCE,
    definite(CONTEXT_0, sha256),
    definite(CONTEXT_1, definite(SEQUENCE, objectIdentifier(CMS_OIDS.mgf1), sha256)),
  );
  // RFC 5652 §6.2.1: version 2 because the recipient is named by subjectKeyIdentifier.
  const keyTransRecipient = definite(
    SEQUENCE,
    integer(2),
    definite(CONTEXT_0_PRIMITIVE, subjectKeyIdentifier),
    definite(SEQUENCE, objectIdentifier(CMS_OIDS.rsaesOaep), oaepParams),
    definite(OCTET_STRING, encryptedKey),
  );

  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < encryptedContent.length; offset += CHUNK_BYTES) {
    chunks.push(definite(OCTET_STRING, encryptedContent.subarray(offset, offset + CHUNK_BYTES)));
  }
  const encryptedContentInfo = indefinite(
    SEQUENCE,
    objectIdentifier(CMS_OIDS.data),
    definite(SEQUENCE, objectIdentifier(CMS_OIDS.aes256Cbc), definite(OCTET_STRING, iv)),
    indefinite(CONTEXT_0, ...chunks),
  );

  // RFC 5652 §6.1: version 2 since the (only) recipient is a version-2 KeyTransRecipientInfo.
  const envelopedData = indefinite(
    SEQUENCE,
    integer(2),
    definite(SET, keyTransRecipient),
    encryptedContentInfo,
  );
  return indefinite(
    SEQUENCE,
    objectIdentifier(CMS_OIDS.envelopedData),
    indefinite(CONTEXT_0, envelopedData),
  );
}

/** Tag, definite length (X.690 §8.1.3: short form below 128, else minimal long form), value. */
function definite(tag: number, ...content: Uint8Array[]): Uint8Array {
  const value = concat(...content);
  return concat(Uint8Array.of(tag), lengthOctets(value.length), value);
}

/** Tag, the indefinite-length octet 0x80, value, then end-of-contents `00 00` (X.690 §8.1.3.6). */
function indefinite(tag: number, ...content: Uint8Array[]): Uint8Array {
  return concat(Uint8Array.of(tag, 0x80), ...content, Uint8Array.of(0, 0));
}

function lengthOctets(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const octets: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets.unshift(rest % 256);
  return Uint8Array.of(0x80 | octets.length, ...octets);
}

/** Small non-negative INTEGERs only: all this file writes are CMS version numbers. */
function integer(value: number): Uint8Array {
  return definite(INTEGER, Uint8Array.of(value));
}

/** X.690 §8.19: the first two arcs share one subidentifier; each is base-128, high bit = "more". */
function objectIdentifier(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  const subidentifiers = [arcs[0] * 40 + arcs[1], ...arcs.slice(2)];
  const octets: number[] = [];
  for (const subidentifier of subidentifiers) {
    const base128 = [subidentifier & 0x7f];
    for (let rest = subidentifier >>> 7; rest > 0; rest >>>= 7)
      base128.unshift(0x80 | (rest & 0x7f));
    octets.push(...base128);
  }
  return definite(OBJECT_IDENTIFIER, Uint8Array.from(octets));
}
