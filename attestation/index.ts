/**
 * Nitro Enclaves attestation: strict decoding and verification of attestation documents against
 * the pinned AWS root. Other folders import only from here.
 */
export {
  AttestationError,
  type AttestationErrorCode,
  type AttestationDocument,
  type CertificateSummary,
  type VerifyPolicy,
  type VerifyResult,
} from './types.js';
export { verifyAttestation } from './verify.js';
export { decodeAttestation, type DecodedAttestation } from './document.js';
export { sigStructure } from './cose.js';
export { verifyChain } from './chain.js';
export { AWS_NITRO_ROOT_G1_DER, AWS_NITRO_ROOT_G1_PEM, AWS_NITRO_ROOT_G1_SHA256 } from './root.js';
export {
  SimulatedNsm,
  SimulatedRoot,
  type SimulatedNsmOptions,
  type SimulatedRootPem,
  type AttestRequest,
} from './issuer.js';
export { decodeStrict, type ScanOptions } from './cbor.js';
export { cbor } from './cbor-writer.js';
export { measureBundle, measureFiles, type Measurement } from './measure.js';
