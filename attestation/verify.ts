/**
 * `verifyAttestation`: the one decision whether an attestation document is trusted. The checks
 * run in a fixed order, each with its own error code:
 *
 *   1. decode: strict CBOR, COSE_Sign1 shape, payload schema          MALFORMED
 *   2. signature: ES384 over the Sig_structure with the leaf's key      BAD_SIGNATURE
 *   3. chain: leaf > cabundle > pinned root, extensions, validity       CHAIN_INVALID,
 *                                                                       UNTRUSTED_ROOT,
 *                                                                       EXPIRED, NOT_YET_VALID
 *   4. policy: debug mode, expected PCRs, nonce, age                   DEBUG_MODE, PCR_MISMATCH,
 *                                                                       NONCE_MISMATCH, EXPIRED
 *
 * Signature before chain: nothing from the chain is worth reporting about a document whose
 * signature fails, and the CA certificates in a forged document are attacker-chosen input that
 * need not be parsed at all (the leaf must be: its key checks the signature).
 */
import { equalBytes } from '../protocol/bytes.js';
import { verifyParsedChain, parseCertificate } from './chain.js';
import { verifySign1 } from './cose.js';
import { decodeAttestation } from './document.js';
import { AWS_NITRO_ROOT_G1_DER } from './root.js';
import {
  AttestationError,
  type AttestationDocument,
  type VerifyPolicy,
  type VerifyResult,
} from './types.js';

/** PCR0 (enclave image), PCR1 (kernel and boot ramfs), PCR2 (application). */
const IMAGE_PCRS = [0, 1, 2] as const;

/**
 * Refuses a policy that cannot mean what its author intended. These are programming errors, so
 * they throw (TypeError) rather than turning every document into a quiet `valid: false`.
 */
function checkPolicy(policy: VerifyPolicy): void {
  if (policy.root !== undefined && !(policy.root instanceof Uint8Array)) {
    throw new TypeError('policy.root must be the DER of a certificate');
  }
  if (
    policy.at !== undefined &&
    !(policy.at instanceof Date && !Number.isNaN(policy.at.getTime()))
  ) {
    throw new TypeError('policy.at must be a valid Date');
  }
  if (policy.nonce !== undefined && !(policy.nonce instanceof Uint8Array)) {
    throw new TypeError('policy.nonce must be bytes');
  }
  if (
    policy.maxAgeMs !== undefined &&
    !(Number.isFinite(policy.maxAgeMs) && policy.maxAgeMs >= 0)
  ) {
    throw new TypeError('policy.maxAgeMs must be a non-negative number');
  }
  for (const [index, value] of policy.expectedPcrs ?? []) {
    if (!Number.isInteger(index) || index < 0 || index > 31 || !(value instanceof Uint8Array)) {
      throw new TypeError('policy.expectedPcrs must map indices 0..31 to bytes');
    }
  }
}

function isZero(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0);
}

/** Step 4. The document is authentic by now; this decides whether it is the one wanted. */
function applyPolicy(document: AttestationDocument, policy: VerifyPolicy, at: Date): void {
  // A debug-mode enclave can be inspected and altered by its host, so its measurements attest
  // nothing; the NSM signals it by zero image PCRs. A document without PCR0..2 measures no image
  // at all and is treated the same way. Checked before expected PCRs: a debug enclave would fail
  // those too, and naming the cause is more use to an operator.
  if (
    !policy.allowDebug &&
    IMAGE_PCRS.every((i) => isZero(document.pcrs.get(i) ?? new Uint8Array()))
  ) {
    throw new AttestationError(
      'DEBUG_MODE',
      'PCR0, PCR1 and PCR2 are all zero: a debug-mode enclave',
    );
  }
  for (const [index, expected] of policy.expectedPcrs ?? []) {
    const actual = document.pcrs.get(index);
    // Constant time over the value: lengths are public (fixed by the digest).
    if (!actual || !equalBytes(actual, expected)) {
      throw new AttestationError(
        'PCR_MISMATCH',
        actual ? `PCR${index} differs from the expected value` : `document has no PCR${index}`,
      );
    }
  }
  if (policy.nonce !== undefined) {
    // Without this, a document captured earlier (or from another session) could be replayed.
    if (!document.nonce || !equalBytes(document.nonce, policy.nonce)) {
      throw new AttestationError(
        'NONCE_MISMATCH',
        document.nonce
          ? 'document nonce differs from the expected one'
          : 'document carries no nonce',
      );
    }
  }
  if (policy.maxAgeMs !== undefined && at.getTime() - document.timestamp > policy.maxAgeMs) {
    throw new AttestationError(
      'EXPIRED',
      `document is ${at.getTime() - document.timestamp} ms old, more than ${policy.maxAgeMs} ms`,
    );
  }
}

/**
 * Verifies a Nitro Enclaves attestation document (COSE_Sign1 bytes, untagged or tag 18) against
 * a policy; by default, the pinned AWS root, the current time, no debug enclaves.
 *
 * Never throws for any `bytes`: every failure is `{ valid: false, error: { code, message } }`
 * (an unexpected internal error reports MALFORMED, failing closed). It throws TypeError only for
 * an invalid `policy`, which is a programming error.
 */
export function verifyAttestation(bytes: Uint8Array, policy: VerifyPolicy = {}): VerifyResult {
  checkPolicy(policy);
  const at = policy.at ?? new Date();
  try {
    const decoded = decodeAttestation(bytes);
    const leaf = parseCertificate(decoded.document.certificate, 'leaf certificate');
    verifySign1(decoded, leaf.x509);
    const certificates = verifyParsedChain(
      leaf,
      decoded.document.cabundle,
      policy.root ?? AWS_NITRO_ROOT_G1_DER,
      at,
    );
    applyPolicy(decoded.document, policy, at);
    return { valid: true, document: decoded.document, certificates };
  } catch (err) {
    if (err instanceof AttestationError) return { valid: false, error: err.toJSON() };
    const message = err instanceof Error ? err.message : String(err);
    return { valid: false, error: { code: 'MALFORMED', message: `unexpected: ${message}` } };
  }
}
