/**
 * Seals and unseals share records with KMS, as DESIGN.md's "Attestation and sealing" describes.
 *
 * Seal: GenerateDataKey under the party's KMS key, with this enclave as the attested recipient;
 * open the data key from `CiphertextForRecipient`; encrypt the record with AES-256-GCM under it;
 * keep the KMS ciphertext blob beside the AEAD ciphertext. Unseal: check the blob's header is the
 * one asked for; Decrypt the KMS blob, again as the attested recipient; open; decrypt; decode.
 *
 * Both requests carry an encryption context naming the key, party and epoch, so KMS itself binds
 * the data key to them (and a key policy may condition on them); the AEAD's additional data binds
 * the same fields plus the public key. The plaintext data key never leaves this process: KMS is
 * never asked for it without a Recipient, and an answer that carries it anyway is refused.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import {
  DecryptCommand,
  GenerateDataKeyCommand,
  KMSServiceException,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { equalBytes, wipe } from '../protocol/bytes.js';
import { SealError } from './errors.js';
import { newRecipient, type Attester } from './recipient.js';
import {
  IV_BYTES,
  TAG_BYTES,
  decodeSealedBlob,
  encodeSealedBlob,
  expectBinding,
  headerAad,
  type SealedHeader,
} from './sealed-blob.js';
import {
  decodeShareRecord,
  encodeShareRecord,
  type RecordBinding,
  type ShareRecord,
} from './share-record.js';

const DATA_KEY_BYTES = 32;

export interface SealerOptions {
  readonly kms: KMSClient;
  /** This party's KMS key: id or ARN. Its policy admits only the expected enclave image. */
  readonly kmsKeyId: string;
  readonly attester: Attester;
}

export class ShareSealer {
  readonly #kms: KMSClient;
  readonly #kmsKeyId: string;
  readonly #attester: Attester;

  constructor(options: SealerOptions) {
    this.#kms = options.kms;
    this.#kmsKeyId = options.kmsKeyId;
    this.#attester = options.attester;
  }

  /** Seals a record; the result is safe to hand to the untrusted parent for storage. */
  async seal(record: ShareRecord): Promise<Uint8Array> {
    const header: SealedHeader = {
      keyId: record.keyId,
      partyId: record.share.self,
      epoch: record.share.epoch,
      publicKey: record.share.publicKey.toBytes(),
    };
    const aad = headerAad(header);
    const recipient = await newRecipient(this.#attester);
    const answer = await this.#call('GenerateDataKey', () =>
      this.#kms.send(
        new GenerateDataKeyCommand({
          KeyId: this.#kmsKeyId,
          KeySpec: 'AES_256',
          EncryptionContext: encryptionContext(header),
          Recipient: recipient.info,
        }),
      ),
    );
    refusePlaintext('GenerateDataKey', answer.Plaintext);
    if (!answer.CiphertextBlob || !answer.CiphertextForRecipient) {
      throw new SealError('KMS_REFUSED', 'GenerateDataKey answered without a data key for us');
    }
    const dataKey = openDataKey(recipient.open(answer.CiphertextForRecipient));
    const plaintext = encodeShareRecord(record);
    try {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', dataKey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad);
      const ciphertext = Buffer.concat([
        cipher.update(plaintext),
        cipher.final(),
        cipher.getAuthTag(),
      ]);
      return encodeSealedBlob({
        header,
        kmsCiphertext: answer.CiphertextBlob,
        iv,
        ciphertext,
      });
    } finally {
      wipe(dataKey, plaintext);
    }
  }

  /**
   * Opens a sealed blob for exactly the key, party and epoch asked for.
   *
   * @throws SealError: BLOB_MALFORMED, BLOB_MISMATCH (another key, party or epoch), BLOB_TAMPERED
   * (the AEAD refuses), KMS_REFUSED (policy, attestation, ciphertext), SERVICE_UNAVAILABLE, and the
   * CMS_* codes when KMS's answer cannot be opened.
   */
  async unseal(bytes: Uint8Array, expected: RecordBinding): Promise<ShareRecord> {
    const blob = decodeSealedBlob(bytes);
    expectBinding(blob.header, expected);
    const recipient = await newRecipient(this.#attester);
    const answer = await this.#call('Decrypt', () =>
      this.#kms.send(
        new DecryptCommand({
          KeyId: this.#kmsKeyId,
          CiphertextBlob: blob.kmsCiphertext,
          EncryptionContext: encryptionContext(blob.header),
          Recipient: recipient.info,
        }),
      ),
    );
    refusePlaintext('Decrypt', answer.Plaintext);
    if (!answer.CiphertextForRecipient) {
      throw new SealError('KMS_REFUSED', 'Decrypt answered without a data key for us');
    }
    const dataKey = openDataKey(recipient.open(answer.CiphertextForRecipient));
    let plaintext: Uint8Array;
    try {
      const body = blob.ciphertext.subarray(0, blob.ciphertext.length - TAG_BYTES);
      const tag = blob.ciphertext.subarray(blob.ciphertext.length - TAG_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', dataKey, blob.iv, {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(headerAad(blob.header));
      decipher.setAuthTag(tag);
      plaintext = Buffer.concat([decipher.update(body), decipher.final()]);
    } catch {
      throw new SealError('BLOB_TAMPERED', 'sealed blob failed authentication');
    } finally {
      wipe(dataKey);
    }
    try {
      const record = decodeShareRecord(plaintext, expected);
      if (!equalBytes(record.share.publicKey.toBytes(), blob.header.publicKey)) {
        // Unreachable unless the sealer itself wrote a wrong header: the AAD covers it.
        throw new SealError('BLOB_MISMATCH', "sealed blob's public key differs from its record's");
      }
      return record;
    } finally {
      wipe(plaintext);
    }
  }

  /** Runs one KMS call, turning the SDK's failures into SealErrors that name the operation. */
  async #call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw kmsFailure(operation, error);
    }
  }
}

/**
 * The encryption context of a data key. KMS authenticates it with the key (a Decrypt with a
 * different context fails) and exposes it to policies as `kms:EncryptionContext:*`.
 */
export function encryptionContext(header: SealedHeader): Record<string, string> {
  return {
    'mpc-kms:key': header.keyId,
    'mpc-kms:party': String(header.partyId),
    'mpc-kms:epoch': String(header.epoch),
  };
}

function refusePlaintext(operation: string, plaintext: Uint8Array | undefined): void {
  if (plaintext !== undefined && plaintext.length > 0) {
    wipe(plaintext);
    // A data key that crossed the parent in the clear may be known outside: never use it.
    throw new SealError('KMS_REFUSED', `${operation} returned the plaintext data key; refused`);
  }
}

function openDataKey(key: Uint8Array): Uint8Array {
  if (key.length !== DATA_KEY_BYTES) {
    wipe(key);
    throw new SealError('CMS_UNSUPPORTED', `data key is ${key.length} bytes, expected 32`);
  }
  return key;
}

function kmsFailure(operation: string, error: unknown): SealError {
  if (error instanceof SealError) return error;
  if (error instanceof KMSServiceException) {
    const code = error.$fault === 'server' ? 'SERVICE_UNAVAILABLE' : 'KMS_REFUSED';
    return new SealError(code, `KMS ${operation}: ${error.name}: ${error.message}`, {
      cause: error,
    });
  }
  const reason = error instanceof Error ? error.message : 'unknown failure';
  return new SealError('SERVICE_UNAVAILABLE', `KMS ${operation} failed: ${reason}`, {
    cause: error,
  });
}
