/**
 * The enclave's sealing path: share records, sealed blobs, KMS with an attested recipient, and
 * their storage in Secrets Manager with two-phase epochs.
 */
export { SealError, type SealErrorCode } from './errors.js';
export { CMS_OIDS, openCiphertextForRecipient, parseCiphertextForRecipient } from './cms.js';
export {
  checkKeyId,
  decodeShareRecord,
  encodeShareRecord,
  type RecordBinding,
  type ShareRecord,
} from './share-record.js';
export {
  decodeSealedBlob,
  encodeSealedBlob,
  expectBinding,
  type SealedBlob,
  type SealedHeader,
} from './sealed-blob.js';
export { newRecipient, type Attester, type Recipient } from './recipient.js';
export { ShareSealer, encryptionContext, type SealerOptions } from './sealer.js';
export {
  CURRENT,
  PENDING,
  PREVIOUS,
  SealedShareStore,
  type ShareStoreOptions,
  type StoredShares,
  type StoredVersion,
} from './share-store.js';
export { decideEpoch, type EpochAction, type EpochDecision } from './epochs.js';
export {
  PAYLOAD,
  SCHEMES,
  decodeKeyPublic,
  decodeRequest,
  decodeResponse,
  encodeKeyPublic,
  encodeRequest,
  encodeResponse,
  groupOf,
  type ControlRequest,
  type ControlResponse,
  type Scheme,
} from './control.js';
export { encodeLinkFrame, decodeLinkFrame, type LinkFrame } from './link.js';
export { Peers, type Opened, type PeersOptions } from './peers.js';
export { KeyVault, type VaultOptions } from './vault.js';
export {
  CeremonyRunner,
  DEFAULT_LIMITS,
  auxSessionId,
  type RunnerLimits,
  type RunnerOptions,
} from './runner.js';
export { EnclaveNode, type EnclaveNodeOptions } from './node.js';
export { createAwsClients, type AwsClientOptions, type AwsRoute } from './aws-clients.js';
export {
  ChannelError,
  SecureChannel,
  type ChannelIdentity,
  type EnclavePolicy,
  type PeerCheck,
} from './channel/index.js';
export { ackMessage, newAckKey, type AckKey } from './ack.js';
export { NsmError, type NsmErrorCode } from './nsm-error.js';
export {
  NSM_ERROR_CODES,
  NSM_MAX_NONCE,
  NSM_MAX_PUBLIC_KEY,
  NSM_MAX_USER_DATA,
  NSM_REQUEST_MAX_SIZE,
  NSM_RESPONSE_MAX_SIZE,
  decodeAttestationResponse,
  encodeAttestationRequest,
  type NsmAttestationRequest,
} from './nsm-api.js';
export { NitroNsm, type NitroNsmOptions } from './nsm-device.js';
