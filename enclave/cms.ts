/**
 * Opening AWS KMS's `CiphertextForRecipient` inside the enclave.
 *
 * When the enclave calls KMS `Decrypt` or `GenerateDataKey` with a `Recipient` (its attestation
 * document, whose `public_key` is an RSA SubjectPublicKeyInfo, and `RSAES_OAEP_SHA_256`), KMS
 * does not return the plaintext: it returns CMS EnvelopedData (RFC 5652 §6) in BER with
 * indefinite lengths, addressed to that key. The profile KMS writes, and the only one accepted
 * here, is:
 *
 *   ContentInfo { envelopedData, [0] EnvelopedData {
 *     version 2, no originatorInfo, no unprotectedAttrs,
 *     recipientInfos: exactly one KeyTransRecipientInfo {
 *       version 2, rid [0] subjectKeyIdentifier,
 *       keyEncryptionAlgorithm RSAES-OAEP { SHA-256, MGF1-SHA-256, empty label },
 *       encryptedKey (one RSA block, 2048..4096-bit modulus) },
 *     encryptedContentInfo { id-data, aes-256-cbc with a 16-byte IV,
 *       [0] encryptedContent (primitive, or constructed from primitive chunks) } } }
 *
 * Everything else is refused, because every option we accept is one more code path an attacker
 * who can shape these bytes may exercise. pkijs does the typed decoding, but its schema matcher
 * silently ignores elements after the ones it expects, so each container's element count is
 * checked here as well, and the OAEP parameters are read by hand (see {@link readOaepParams}).
 *
 * CMS EnvelopedData carries no integrity protection: a changed IV or content block opens to a
 * changed plaintext, and padding failures are observable as failures. What keeps a host from
 * running a padding oracle is that these bytes arrive over TLS to KMS terminated inside the
 * enclave, not anything in this file; the single error for every decryption failure only avoids
 * telling an attacker which step failed.
 */
import { KeyObject, constants, createDecipheriv, privateDecrypt } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { SealError } from './errors.js';

/** The fields of KMS's EnvelopedData the enclave needs to open it; copies, not views of the input. */
export interface EnvelopedForRecipient {
  /** How KMS names the recipient key (32 bytes from KMS); not checked against our key. */
  readonly subjectKeyIdentifier: Uint8Array;
  /** The content-encryption key, RSA-OAEP encrypted to the recipient. */
  readonly encryptedKey: Uint8Array;
  /** The AES-256-CBC initialisation vector (16 bytes). */
  readonly iv: Uint8Array;
  /** The AES-256-CBC ciphertext, chunks concatenated; a non-empty multiple of 16 bytes. */
  readonly encryptedContent: Uint8Array;
}

/**
 * Larger than any envelope KMS sends (its plaintexts stop at 4096 bytes; with a 4096-bit key the
 * whole structure is under 5 KiB), small enough that hostile input costs little to refuse.
 */
const MAX_INPUT_BYTES = 64 * 1024;

/**
 * asn1js's resource limits. The profile nests 11 levels deep; 4096 nodes allow a 4 KiB content
 * chunked into pieces as small as a single AES block. Embedded parsing (guessing that an OCTET
 * STRING holds more ASN.1) is off: our OCTET STRINGs hold ciphertext, never structure.
 */
const BER_LIMITS = { maxDepth: 16, maxNodes: 4096, parseEmbedded: false } as const;

/** The object identifiers of KMS's profile (the simulated KMS writes with the same table). */
export const CMS_OIDS = {
  envelopedData: '1.2.840.113549.1.7.3',
  data: '1.2.840.113549.1.7.1',
  rsaesOaep: '1.2.840.113549.1.1.7',
  mgf1: '1.2.840.113549.1.1.8',
  pSpecified: '1.2.840.113549.1.1.9',
  sha256: '2.16.840.1.101.3.4.2.1',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
} as const;

/** asn1js's tag class numbering (1 universal, 2 application, 3 context-specific, 4 private). */
const CONTEXT_SPECIFIC = 3;
const AES_BLOCK = 16;
const CEK_BYTES = 32;
/** RSA moduli of 2048 to 4096 bits give OAEP ciphertexts of 256 to 512 bytes. */
const MIN_ENCRYPTED_KEY = 256;
const MAX_ENCRYPTED_KEY = 512;

/**
 * Parses a `CiphertextForRecipient` and checks it against the KMS profile (see the file header).
 * Pure: no key is needed and nothing is decrypted.
 *
 * @throws {SealError} `CMS_MALFORMED` when the bytes are not BER, have trailing bytes, exceed
 *   64 KiB or do not have the EnvelopedData shape; `CMS_UNSUPPORTED` when they do but use a
 *   content type, version, recipient kind or algorithm outside the profile.
 */
export function parseCiphertextForRecipient(ber: Uint8Array): EnvelopedForRecipient {
  if (!(ber instanceof Uint8Array)) throw malformed('CiphertextForRecipient must be bytes');
  if (ber.length === 0 || ber.length > MAX_INPUT_BYTES) {
    throw malformed(
      `CiphertextForRecipient of ${ber.length} bytes; expected 1..${MAX_INPUT_BYTES}`,
    );
  }
  try {
    return readProfile(decodeBer(ber));
  } catch (error) {
    if (error instanceof SealError) throw error;
    // pkijs throws plain Errors when a schema does not match, and hostile input can reach other
    // throws inside it; none of them may escape as anything but "malformed".
    throw malformed('CiphertextForRecipient does not have the EnvelopedData shape', error);
  }
}

/**
 * Opens a `CiphertextForRecipient` with the enclave's RSA private key and returns the plaintext
 * (for `GenerateDataKey`, the 32-byte data key). The caller owns the result and should zero it
 * when done.
 *
 * The subjectKeyIdentifier is not compared with `privateKey`: AWS does not document how KMS
 * derives it from the attestation document's public key, and a wrong key fails OAEP decoding
 * anyway, so the check would add a way to be wrong without adding safety.
 *
 * @throws {SealError} as {@link parseCiphertextForRecipient}, and `CMS_DECRYPT_FAILED` (one
 *   message for every cause) when RSA-OAEP, the key length, AES or the padding fails.
 * @throws {TypeError} when `privateKey` is not an RSA private key object.
 */
export function openCiphertextForRecipient(ber: Uint8Array, privateKey: KeyObject): Uint8Array {
  if (
    !(privateKey instanceof KeyObject) ||
    privateKey.type !== 'private' ||
    privateKey.asymmetricKeyType !== 'rsa'
  ) {
    throw new TypeError('openCiphertextForRecipient needs an RSA private KeyObject');
  }
  const envelope = parseCiphertextForRecipient(ber);

  // Zeroing narrows the time a secret is readable; it cannot promise no copy survives (OpenSSL's
  // cipher context and the engine's own buffers are out of our reach).
  let cek: Buffer | undefined;
  let padded: Buffer | undefined;
  try {
    // RFC 8017 §7.1.2 (RSAES-OAEP-DECRYPT) with SHA-256 for both the label hash and MGF1: node
    // uses the OAEP hash for MGF1 unless told otherwise, which is what the profile demands.
    cek = privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      envelope.encryptedKey,
    );
    if (cek.length !== CEK_BYTES) throw decryptFailed();

    // Padding is removed by hand so that a bad pad is found without an early exit (RFC 5652
    // §6.3); with the content a whole number of blocks, final() releases nothing more.
    const decipher = createDecipheriv('aes-256-cbc', cek, envelope.iv).setAutoPadding(false);
    padded = decipher.update(envelope.encryptedContent);
    if (decipher.final().length !== 0) throw decryptFailed();
    const length = unpaddedLength(padded);
    if (length < 0) throw decryptFailed();
    return new Uint8Array(padded.subarray(0, length)); // a copy, so zeroing `padded` is safe
  } catch (error) {
    if (error instanceof SealError) throw error;
    // No cause: OpenSSL's messages differ between OAEP and other failures.
    throw decryptFailed();
  } finally {
    cek?.fill(0);
    padded?.fill(0);
  }
}

type Block = asn1js.AsnType;

function decodeBer(ber: Uint8Array): Block {
  const { offset, result } = asn1js.fromBER(ber, BER_LIMITS);
  if (offset === -1) throw malformed('CiphertextForRecipient is not valid BER');
  // A second object after the first would be ignored by everything below; refuse it instead.
  if (offset !== ber.length) throw malformed('trailing bytes after the ContentInfo');
  return result;
}

/** Walks the profile top-down; every step maps to a clause of RFC 5652, 4055 or 3565. */
function readProfile(root: Block): EnvelopedForRecipient {
  // RFC 5652 §3: ContentInfo ::= SEQUENCE { contentType, content [0] EXPLICIT ANY }.
  const contentInfo = new pkijs.ContentInfo({ schema: root });
  const [, explicitContent] = elements(root, 2, 2, 'ContentInfo');
  elements(explicitContent, 1, 1, 'ContentInfo content');
  if (contentInfo.contentType !== CMS_OIDS.envelopedData) {
    throw unsupported(`content type ${contentInfo.contentType} is not envelopedData`);
  }

  // RFC 5652 §6.1: EnvelopedData. Version 2 is what §6.1 assigns to a lone version-2 KTRI.
  const envelopedBlock = contentInfo.content as Block;
  const enveloped = new pkijs.EnvelopedData({ schema: envelopedBlock });
  if (enveloped.originatorInfo !== undefined) throw unsupported('originatorInfo is present');
  if (enveloped.unprotectedAttrs !== undefined) throw unsupported('unprotectedAttrs are present');
  const [versionBlock, recipientSet, encryptedContentBlock] = elements(
    envelopedBlock,
    3,
    3,
    'EnvelopedData',
  );
  if (smallInteger(versionBlock) !== 2) throw unsupported('EnvelopedData version is not 2');

  // RecipientInfos ::= SET SIZE (1..MAX); KMS addresses exactly one key.
  if (enveloped.recipientInfos.length === 0) throw malformed('recipientInfos is empty');
  if (enveloped.recipientInfos.length > 1) {
    throw unsupported(`${enveloped.recipientInfos.length} recipients; KMS writes exactly one`);
  }
  const recipient = enveloped.recipientInfos[0];
  if (recipient.variant !== 1 || !(recipient.value instanceof pkijs.KeyTransRecipientInfo)) {
    throw unsupported('the recipient is not a KeyTransRecipientInfo');
  }
  const recipientBlock = elements(recipientSet, 1, 1, 'recipientInfos')[0];
  const { subjectKeyIdentifier, encryptedKey } = readKeyTransRecipient(
    recipient.value,
    recipientBlock,
  );

  const { iv, encryptedContent } = readEncryptedContentInfo(
    enveloped.encryptedContentInfo,
    encryptedContentBlock,
  );
  return { subjectKeyIdentifier, encryptedKey, iv, encryptedContent };
}

/** RFC 5652 §6.2.1 KeyTransRecipientInfo, with RFC 3560's RSAES-OAEP as the algorithm. */
function readKeyTransRecipient(
  ktri: pkijs.KeyTransRecipientInfo,
  block: Block,
): Pick<EnvelopedForRecipient, 'subjectKeyIdentifier' | 'encryptedKey'> {
  const [versionBlock, , algorithmBlock] = elements(block, 4, 4, 'KeyTransRecipientInfo');
  // issuerAndSerialNumber names a certificate; an attestation key has none, so KMS uses [0].
  if (!(ktri.rid instanceof asn1js.OctetString)) {
    throw unsupported('the recipient is named by issuerAndSerialNumber, not subjectKeyIdentifier');
  }
  if (smallInteger(versionBlock) !== 2) throw unsupported('KeyTransRecipientInfo version is not 2');

  const algorithm = readAlgorithm(algorithmBlock, 'keyEncryptionAlgorithm');
  if (algorithm.oid !== CMS_OIDS.rsaesOaep) {
    throw unsupported(`key encryption ${algorithm.oid} is not RSAES-OAEP`);
  }
  readOaepParams(algorithm.params);

  // The schema admits only a primitive OCTET STRING here, so the value is the whole key.
  const encryptedKey = ktri.encryptedKey.valueBlock.valueHexView;
  if (encryptedKey.length < MIN_ENCRYPTED_KEY || encryptedKey.length > MAX_ENCRYPTED_KEY) {
    throw unsupported(
      `encryptedKey of ${encryptedKey.length} bytes; expected an RSA 2048..4096 block`,
    );
  }
  return {
    subjectKeyIdentifier: ktri.rid.valueBlock.valueHexView.slice(),
    encryptedKey: encryptedKey.slice(),
  };
}

/**
 * RFC 4055 §3.1 RSAES-OAEP-params, read by hand: pkijs's reader fills an absent pSourceFunc with
 * a 20-byte label (SHA-1 of the empty string, where RFC 4055 means the empty string itself), so an
 * absent label could not be told from a present one. Absent hash or mask fields default to SHA-1,
 * which KMS never uses, so both must be present and name SHA-256.
 */
function readOaepParams(params: Block | undefined): void {
  if (params === undefined) throw unsupported('RSAES-OAEP without parameters means SHA-1');
  if (!(params instanceof asn1js.Sequence)) throw malformed('RSAES-OAEP-params is not a SEQUENCE');
  const fields = new Map<number, Block>();
  let previousTag = -1;
  for (const field of elements(params, 0, 3, 'RSAES-OAEP-params')) {
    const { tagClass, tagNumber, isConstructed } = field.idBlock;
    // DER and BER alike put [0], [1], [2] in order, each at most once.
    if (
      tagClass !== CONTEXT_SPECIFIC ||
      !isConstructed ||
      tagNumber > 2 ||
      tagNumber <= previousTag
    ) {
      throw malformed('RSAES-OAEP-params has an unknown or out-of-order field');
    }
    previousTag = tagNumber;
    fields.set(tagNumber, elements(field, 1, 1, 'RSAES-OAEP-params field')[0]);
  }

  const hash = fields.get(0);
  if (hash === undefined || !isSha256(hash)) throw unsupported('the OAEP hash is not SHA-256');
  const mask = fields.get(1);
  const mgf = mask === undefined ? undefined : readAlgorithm(mask, 'maskGenAlgorithm');
  if (mgf?.oid !== CMS_OIDS.mgf1 || mgf.params === undefined || !isSha256(mgf.params)) {
    throw unsupported('the OAEP mask is not MGF1 with SHA-256');
  }
  const source = fields.get(2);
  if (source !== undefined) {
    // pSpecified with an empty OCTET STRING is the default written out; a non-empty label would
    // have to be fed to OAEP decoding, and KMS never sets one.
    const label = readAlgorithm(source, 'pSourceAlgorithm');
    if (label.oid !== CMS_OIDS.pSpecified || !isPrimitiveOctetString(label.params)) {
      throw unsupported('the OAEP label source is not pSpecified');
    }
    if (label.params.valueBlock.valueHexView.length !== 0) {
      throw unsupported('the OAEP label is not empty');
    }
  }
}

/** RFC 5652 §6.1 EncryptedContentInfo with RFC 3565 §2.3's AES-CBC parameters. */
function readEncryptedContentInfo(
  info: pkijs.EncryptedContentInfo,
  block: Block,
): Pick<EnvelopedForRecipient, 'iv' | 'encryptedContent'> {
  // pkijs's schema already requires the [0] content, so "detached" content is malformed here.
  const [, algorithmBlock, contentBlock] = elements(block, 3, 3, 'EncryptedContentInfo');
  if (info.contentType !== CMS_OIDS.data)
    throw unsupported(`content type ${info.contentType} is not data`);

  const algorithm = readAlgorithm(algorithmBlock, 'contentEncryptionAlgorithm');
  if (algorithm.oid !== CMS_OIDS.aes256Cbc) {
    throw unsupported(`content encryption ${algorithm.oid} is not aes-256-cbc`);
  }
  // AES-IV ::= OCTET STRING (SIZE(16)): any other size is not an AES-CBC parameter at all.
  if (!isPrimitiveOctetString(algorithm.params))
    throw malformed('the AES-CBC IV is not a primitive OCTET STRING');
  const iv = algorithm.params.valueBlock.valueHexView;
  if (iv.length !== AES_BLOCK) throw malformed(`the AES-CBC IV is ${iv.length} bytes, not 16`);

  const encryptedContent = concatenateChunks(contentBlock);
  if (encryptedContent.length === 0 || encryptedContent.length % AES_BLOCK !== 0) {
    throw malformed(
      `encryptedContent of ${encryptedContent.length} bytes is not a non-empty multiple of 16`,
    );
  }
  return { iv: iv.slice(), encryptedContent };
}

/**
 * The bytes of `[0] IMPLICIT OCTET STRING`: its value if primitive, else the concatenated values of
 * its chunks (X.690 §8.7.3), each required to be a primitive OCTET STRING. KMS writes the
 * constructed form with indefinite length.
 */
function concatenateChunks(block: Block): Uint8Array {
  if (!block.idBlock.isConstructed) {
    return (block as asn1js.Primitive).valueBlock.valueHexView.slice();
  }
  const chunks = elements(block, 0, Number.MAX_SAFE_INTEGER, 'encryptedContent');
  let length = 0;
  for (const chunk of chunks) {
    if (!isPrimitiveOctetString(chunk)) {
      throw malformed('an encryptedContent chunk is not a primitive OCTET STRING');
    }
    length += chunk.valueBlock.valueHexView.length;
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks as asn1js.OctetString[]) {
    out.set(chunk.valueBlock.valueHexView, offset);
    offset += chunk.valueBlock.valueHexView.length;
  }
  return out;
}

/** An AlgorithmIdentifier (RFC 5280 §4.1.1.2): OID and optional parameters, nothing after. */
function readAlgorithm(block: Block, what: string): { oid: string; params: Block | undefined } {
  const algorithm = new pkijs.AlgorithmIdentifier({ schema: block });
  elements(block, 1, 2, what);
  return { oid: algorithm.algorithmId, params: algorithm.algorithmParams as Block | undefined };
}

/** RFC 4055 §2.1: SHA-256's parameters may be absent or NULL, and readers must take both. */
function isSha256(block: Block): boolean {
  const { oid, params } = readAlgorithm(block, 'hashAlgorithm');
  if (oid !== CMS_OIDS.sha256) return false;
  // asn1js accepts a NULL with content (with a warning); a real NULL has none.
  return params === undefined || (params instanceof asn1js.Null && params.lenBlock.length === 0);
}

/**
 * The elements of a constructed block, refusing counts outside [min, max]: pkijs's schema matcher
 * stops at the last element it expects and ignores any that follow, so extra elements would pass
 * unseen without this.
 */
function elements(block: Block, min: number, max: number, what: string): Block[] {
  if (!(block instanceof asn1js.Constructed) || !block.idBlock.isConstructed) {
    throw malformed(`${what} is not a constructed value`);
  }
  const value = block.valueBlock.value;
  if (value.length < min || value.length > max) {
    throw malformed(`${what} has ${value.length} elements; expected ${min}..${max}`);
  }
  return value;
}

/**
 * A one-byte INTEGER's value, or -1. Versions are tiny; asn1js reads the non-minimal `00 02` as 2
 * too, which X.690 §8.3.2 forbids in BER as well, so the encoding length is checked, not the value.
 */
function smallInteger(block: Block): number {
  if (!(block instanceof asn1js.Integer)) return -1;
  const bytes = block.valueBlock.valueHexView;
  return bytes.length === 1 && bytes[0] < 0x80 ? bytes[0] : -1;
}

function isPrimitiveOctetString(block: Block | undefined): block is asn1js.OctetString {
  return block instanceof asn1js.OctetString && !block.idBlock.isConstructed;
}

/**
 * The PKCS#7 pad length check of RFC 5652 §6.3 without an early exit: every one of the last 16
 * bytes is inspected whatever the pad byte says. JavaScript promises no constant-time execution;
 * this only avoids the obvious data-dependent branches. Returns the unpadded length, or -1.
 */
function unpaddedLength(padded: Uint8Array): number {
  const pad = padded[padded.length - 1];
  // Non-zero when pad is 0 or above 16: the sign bit of (pad - 1) or of (16 - pad).
  let bad = ((pad - 1) >>> 31) | ((AES_BLOCK - pad) >>> 31);
  for (let i = 1; i <= AES_BLOCK; i++) {
    const inPad = -((i - pad - 1) >>> 31); // all ones when i <= pad, else 0
    bad |= (padded[padded.length - i] ^ pad) & inPad;
  }
  return bad === 0 ? padded.length - pad : -1;
}

function malformed(message: string, cause?: unknown): SealError {
  return new SealError('CMS_MALFORMED', message, cause === undefined ? undefined : { cause });
}

function unsupported(message: string): SealError {
  return new SealError('CMS_UNSUPPORTED', message);
}

/** One message for RSA, key-length, AES and padding failures: none may be told apart. */
function decryptFailed(): SealError {
  return new SealError('CMS_DECRYPT_FAILED', 'the recipient key could not open the envelope');
}
