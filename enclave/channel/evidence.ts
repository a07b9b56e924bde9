/**
 * Checking a peer enclave's attestation document inside the handshake. `verifyAttestation`
 * decides whether the document is genuine and current (signature, chain to the configured root at
 * the channel's clock, expected PCRs, no debug mode, our challenge as nonce, age); this module adds
 * the two bindings that make it evidence for *this* handshake:
 *
 * - `public_key` must be exactly the ephemeral X25519 key in the message. Otherwise a relay could
 *   keep a genuine document and substitute its own key: it would then hold the channel's keys.
 * - `user_data` must be the transcript binding (handshake.ts). Otherwise a document made for one
 *   pair of ids, or one epoch, could be spliced into another handshake with the same challenge.
 */
import { verifyAttestation } from '../../attestation/index.js';
import { equalBytes } from '../../protocol/bytes.js';
import { ChannelError } from './errors.js';
import { EPHEMERAL_BYTES } from './handshake.js';

/** What a channel requires of a peer enclave's documents. */
export interface EnclavePolicy {
  /** The trust anchor, DER: AWS's Nitro root in production, the simulator's shared root. */
  readonly root: Uint8Array;
  /** PCRs the peer must report; must name at least PCR0, PCR1 and PCR2. */
  readonly expectedPcrs: ReadonlyMap<number, Uint8Array>;
  /** The oldest document accepted, by its timestamp against the channel's clock. */
  readonly maxDocumentAgeMs: number;
}

/** What the channel keeps of a verified peer document. */
export interface PeerAttestation {
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  readonly moduleId: string;
  /** The document's timestamp, ms since the epoch. */
  readonly timestamp: number;
}

/**
 * Verifies `document` as the evidence of a handshake message that carried `ephemeral`, under our
 * challenge `nonce`, with `binding` as the expected `user_data`.
 *
 * @throws ChannelError('ATTESTATION_REFUSED') with `attestationCode` naming the failed check.
 */
export function verifyEnclaveEvidence(
  document: Uint8Array,
  policy: EnclavePolicy,
  expected: { nonce: Uint8Array; ephemeral: Uint8Array; binding: Uint8Array; at: number },
): PeerAttestation {
  const result = verifyAttestation(document, {
    root: policy.root,
    at: new Date(expected.at),
    expectedPcrs: policy.expectedPcrs,
    // A debug-mode enclave can be read and changed by its host: its key would be the host's.
    allowDebug: false,
    // Our fresh challenge: a document recorded from an earlier handshake carries another one.
    nonce: expected.nonce,
    // A document is a claim about the enclave when it was made; an old one says little now.
    maxAgeMs: policy.maxDocumentAgeMs,
  });
  if (!result.valid) {
    throw new ChannelError(
      'ATTESTATION_REFUSED',
      `peer attestation refused: ${result.error.message}`,
      { attestationCode: result.error.code },
    );
  }
  const { publicKey, userData } = result.document;
  if (
    publicKey === null ||
    publicKey.length !== EPHEMERAL_BYTES ||
    !equalBytes(publicKey, expected.ephemeral)
  ) {
    throw new ChannelError(
      'ATTESTATION_REFUSED',
      "the document's public_key is not the ephemeral key of the message",
      { attestationCode: 'PUBLIC_KEY_MISMATCH' },
    );
  }
  if (userData === null || !equalBytes(userData, expected.binding)) {
    throw new ChannelError(
      'ATTESTATION_REFUSED',
      "the document's user_data does not bind this handshake",
      { attestationCode: 'USER_DATA_MISMATCH' },
    );
  }
  return {
    pcrs: result.document.pcrs,
    moduleId: result.document.moduleId,
    timestamp: result.document.timestamp,
  };
}
