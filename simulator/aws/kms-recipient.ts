/**
 * The `Recipient` of an attested KMS request: verifying its attestation document, turning the
 * verified PCRs into key policy condition keys, and answering with `CiphertextForRecipient`.
 *
 * AWS KMS documents the contract this follows (Developer Guide, "Cryptographic attestation
 * support in AWS KMS" and "Condition keys for Nitro Enclaves"): the Recipient names
 * `RSAES_OAEP_SHA_256` and a signed Nitro attestation document; KMS trusts the public key in it
 * only because the document's signature chains to the Nitro root; the document's PCR0 becomes
 * `kms:RecipientAttestation:ImageSha384` and each PCR n becomes `kms:RecipientAttestation:PCR<n>`;
 * and the response carries the plaintext only encrypted to that key, with `Plaintext` empty.
 *
 * The simulator trusts the roots it is configured with (simulated NSMs) instead of AWS's.
 */
import { createPublicKey } from 'node:crypto';
import { verifyAttestation, type AttestationDocument } from '../../attestation/index.js';
import { envelopeForRecipient } from './cms-writer.js';
import { AwsServiceError } from './json-server.js';
import type { InputReader } from './input.js';

/** The only key encryption algorithm KMS accepts for a Recipient. */
export const KEY_ENCRYPTION_ALGORITHM = 'RSAES_OAEP_SHA_256';
// RSA sizes accepted for the recipient key; the Nitro Enclaves SDK uses 2048.
const MIN_RECIPIENT_BITS = 2048;
const MAX_RECIPIENT_BITS = 4096;
/** Upper bound of `AttestationDocument` (the SDK model's limit). */
const MAX_DOCUMENT_BYTES = 262144;

/** What a document is verified against. */
export interface RecipientTrust {
  /** Trust anchors, DER; the document is valid if it verifies under any one. */
  readonly roots: readonly Uint8Array[];
  /** Verification time for certificates and the document's age. */
  readonly at: Date;
  /** Oldest document accepted (its timestamp against `at`). */
  readonly maxAgeMs: number;
}

/** A Recipient whose attestation document verified: its RSA key and its condition keys. */
export interface VerifiedRecipient {
  /** SubjectPublicKeyInfo DER of an RSA key, 2048..4096 bits. */
  readonly publicKey: Uint8Array;
  /** `kms:recipientattestation:imagesha384` and `...:pcr<n>` -> lowercase hex. */
  readonly conditions: ReadonlyMap<string, string>;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Verifies against each root in turn; returns the document, or the most telling failure. */
function verifyUnderAnyRoot(
  document: Uint8Array,
  trust: RecipientTrust,
): AttestationDocument | { code: string; message: string } {
  let failure: { code: string; message: string } = {
    code: 'UNTRUSTED_ROOT',
    message: 'no attestation root is configured',
  };
  for (const root of trust.roots) {
    const result = verifyAttestation(document, {
      root,
      at: trust.at,
      maxAgeMs: trust.maxAgeMs,
      allowDebug: false,
    });
    if (result.valid) return result.document;
    // UNTRUSTED_ROOT only says "not this root"; any other code is about the document itself
    // (a bad signature fails under every root alike), and is the one worth reporting.
    if (failure.code === 'UNTRUSTED_ROOT') failure = result.error;
  }
  return failure;
}

/** Refuses a public key KMS could not encrypt to with RSAES_OAEP_SHA_256. */
function checkRecipientKey(r: InputReader, spki: Uint8Array | null): Uint8Array {
  if (spki === null) throw r.error('The attestation document carries no public_key.');
  let type: string | undefined;
  let bits: number | undefined;
  try {
    const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    type = key.asymmetricKeyType;
    bits = key.asymmetricKeyDetails?.modulusLength;
  } catch {
    throw r.error('The attestation document public_key is not a SubjectPublicKeyInfo.');
  }
  // 'rsa' only: an RSASSA-PSS key ('rsa-pss') is restricted to signatures by its own OID.
  if (
    type !== 'rsa' ||
    bits === undefined ||
    bits < MIN_RECIPIENT_BITS ||
    bits > MAX_RECIPIENT_BITS
  ) {
    throw r.error(
      `The attestation document public_key must be RSA of ${MIN_RECIPIENT_BITS} to ` +
        `${MAX_RECIPIENT_BITS} bits for ${KEY_ENCRYPTION_ALGORITHM}.`,
    );
  }
  return spki.slice();
}

/**
 * Reads and verifies the optional `Recipient` member of a request (null when absent). Order
 * matters: the document is verified before anything is read from it, since the PCRs of an
 * unverified document are whatever the caller wrote; the key is checked after, and only then
 * are the PCRs turned into condition keys.
 *
 * @throws AwsServiceError ValidationException for a malformed Recipient, an unsupported
 *   algorithm, a document that does not verify (the message names the attestation error code:
 *   BAD_SIGNATURE, EXPIRED, UNTRUSTED_ROOT, ...) or an unusable public key;
 *   AccessDeniedException for a debug-mode enclave, whose zero PCRs can satisfy no policy.
 */
export function readRecipient(
  r: InputReader,
  raw: Record<string, unknown> | undefined,
  trust: RecipientTrust,
): VerifiedRecipient | null {
  if (raw === undefined) return null;
  const rr = r.nested(raw, 'Recipient', ['KeyEncryptionAlgorithm', 'AttestationDocument']);
  const algorithm = rr.string('KeyEncryptionAlgorithm', { pattern: /^[A-Z0-9_]{1,64}$/ });
  if (algorithm !== KEY_ENCRYPTION_ALGORITHM) {
    throw r.error(`Recipient.KeyEncryptionAlgorithm must be ${KEY_ENCRYPTION_ALGORITHM}.`);
  }
  const bytes = rr.blob('AttestationDocument', { min: 1, max: MAX_DOCUMENT_BYTES });

  const verified = verifyUnderAnyRoot(bytes, trust);
  if ('code' in verified) {
    if (verified.code === 'DEBUG_MODE') {
      throw new AwsServiceError(
        'AccessDeniedException',
        `The attestation document is from a debug-mode enclave (${verified.message}); ` +
          'its measurements cannot satisfy a key policy.',
      );
    }
    throw r.error(
      `Recipient.AttestationDocument is not valid: ${verified.code}: ${verified.message}`,
    );
  }
  const publicKey = checkRecipientKey(r, verified.publicKey);

  // Values are lowercase hex, as AWS compares them; policies commonly use StringEqualsIgnoreCase.
  const conditions = new Map<string, string>();
  const pcr0 = verified.pcrs.get(0);
  if (pcr0) conditions.set('kms:recipientattestation:imagesha384', hex(pcr0));
  for (const [index, value] of verified.pcrs) {
    conditions.set(`kms:recipientattestation:pcr${index}`, hex(value));
  }
  return { publicKey, conditions };
}

/**
 * The plaintext member of an answer: `Plaintext` without a Recipient; with one,
 * `CiphertextForRecipient` only (no `Plaintext` member at all), after which `plaintext` is zeroed.
 */
export function deliver(
  plaintext: Buffer,
  recipient: VerifiedRecipient | null,
): Record<string, Uint8Array> {
  if (recipient === null) return { Plaintext: plaintext };
  try {
    return { CiphertextForRecipient: envelopeForRecipient(plaintext, recipient.publicKey) };
  } finally {
    plaintext.fill(0);
  }
}
