/**
 * The enclave as a KMS recipient. For every seal and unseal it makes a fresh RSA-2048 key pair,
 * has the NSM bind the public half into an attestation document, and hands KMS that document as
 * the `Recipient`. KMS checks the document's PCRs against the key policy and answers with the
 * data key encrypted to that public key (`CiphertextForRecipient`), so the plaintext key exists
 * only here. A fresh pair per request means a document captured by the parent is worthless
 * later: its private half died with the request that made it.
 */
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { RecipientInfo } from '@aws-sdk/client-kms';
import { openCiphertextForRecipient } from './cms.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/** RSA-2048 is what KMS pairs with RSAES_OAEP_SHA_256 for enclave recipients. */
const RECIPIENT_MODULUS_BITS = 2048;

/**
 * The NSM seen from the enclave: something that issues an attestation document binding a public
 * key and, optionally, user data and a nonce (the peer channel's handshake binds all three; the
 * sealing path only a public key). The simulator's `SimulatedNsm` is one; the Nitro device is the
 * other. An absent or null field is encoded as CBOR null, as the NSM does.
 */
export interface Attester {
  attest(request: {
    publicKey?: Uint8Array | null;
    userData?: Uint8Array | null;
    nonce?: Uint8Array | null;
  }): Uint8Array | Promise<Uint8Array>;
}

/** One request's recipient: the document to send, and the key that opens the answer. */
export interface Recipient {
  /** `Recipient` for a KMS request. */
  readonly info: RecipientInfo;
  /** Opens a `CiphertextForRecipient`; the caller wipes the returned plaintext. */
  open(ciphertextForRecipient: Uint8Array): Uint8Array;
}

/**
 * Makes a fresh recipient. The private key stays in a closure; JavaScript cannot wipe a
 * KeyObject, so it is dropped with the closure when the request is done.
 */
export async function newRecipient(attester: Attester): Promise<Recipient> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: RECIPIENT_MODULUS_BITS,
  });
  const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
  const document = await attester.attest({ publicKey: spki });
  const key: KeyObject = privateKey;
  return {
    info: { AttestationDocument: document, KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' },
    open: (ciphertextForRecipient) => openCiphertextForRecipient(ciphertextForRecipient, key),
  };
}
