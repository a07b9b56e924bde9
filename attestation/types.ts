/**
 * Nitro Enclaves attestation documents: the decoded, verified form and the typed error every
 * failure becomes. DESIGN.md's codes are the contract reviewers and the CLI rely on.
 */

export type AttestationErrorCode =
  | 'MALFORMED'
  | 'BAD_SIGNATURE'
  | 'CHAIN_INVALID'
  | 'UNTRUSTED_ROOT'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'PCR_MISMATCH'
  | 'DEBUG_MODE'
  | 'NONCE_MISMATCH';

/** The one error type the attestation module throws or reports. */
export class AttestationError extends Error {
  override readonly name = 'AttestationError';
  readonly code: AttestationErrorCode;

  constructor(code: AttestationErrorCode, message: string) {
    super(message);
    this.code = code;
  }

  toJSON(): { code: AttestationErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** The payload of an attestation document, decoded and type-checked. */
export interface AttestationDocument {
  readonly moduleId: string;
  readonly digest: 'SHA384';
  /** Milliseconds since the Unix epoch, as the NSM stamps it. */
  readonly timestamp: number;
  /** PCR index -> value (32, 48 or 64 bytes; 48 on Nitro). */
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  /** The leaf certificate, DER. */
  readonly certificate: Uint8Array;
  /** The CA bundle, DER, root first as AWS documents it. */
  readonly cabundle: readonly Uint8Array[];
  readonly publicKey: Uint8Array | null;
  readonly userData: Uint8Array | null;
  readonly nonce: Uint8Array | null;
}

/** What a verifier requires of a document beyond a valid signature and chain. */
export interface VerifyPolicy {
  /** The trust anchor, DER. Default: the pinned AWS Nitro Enclaves Root G1. */
  readonly root?: Uint8Array;
  /** Verification time. Default: now. */
  readonly at?: Date;
  /** Expected PCR values for any subset of indices. */
  readonly expectedPcrs?: ReadonlyMap<number, Uint8Array>;
  /** Accept debug-mode documents (PCR0, PCR1 and PCR2 all zero). Default: false. */
  readonly allowDebug?: boolean;
  /** The nonce the document must carry. */
  readonly nonce?: Uint8Array;
  /** Refuse documents whose timestamp is older than this at the verification time (EXPIRED). */
  readonly maxAgeMs?: number;
}

export interface CertificateSummary {
  readonly subject: string;
  readonly notBefore: string;
  readonly notAfter: string;
}

export type VerifyResult =
  | {
      readonly valid: true;
      readonly document: AttestationDocument;
      /** Leaf first, then up the chain to the root. */
      readonly certificates: readonly CertificateSummary[];
    }
  | { readonly valid: false; readonly error: { code: AttestationErrorCode; message: string } };
