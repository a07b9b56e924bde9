/**
 * The COSE_Sign1 envelope of an attestation document (RFC 9052 §4.2) and its ES384 signature
 * (RFC 9053 §2.1: ECDSA over P-384 with SHA-384, the signature being r‖s, 48 bytes each).
 */
import { verify, type X509Certificate } from 'node:crypto';
import { Encoder } from 'cbor-x';
import { decodeStrict } from './cbor.js';
import { AttestationError } from './types.js';

/** COSE algorithm identifier for ES384 (RFC 9053 Table 1); the NSM sends the integer, not a name. */
const ES384 = -35;
/** Header label `alg` (RFC 9052 Table 3). */
const ALG = 1;
/** r‖s, each a 48-byte P-384 scalar. */
const ES384_SIGNATURE_BYTES = 96;

/** The four parts of a COSE_Sign1 message, as the bytes the signature covers. */
export interface Sign1 {
  /** The serialized protected header (a bstr's contents), exactly as signed. */
  readonly protectedHeader: Uint8Array;
  /** The serialized payload (a bstr's contents), exactly as signed. */
  readonly payloadBytes: Uint8Array;
  /** ES384 r‖s. */
  readonly signature: Uint8Array;
}

/**
 * Without `tagUint8Array: false`, cbor-x on Node tags every plain Uint8Array with 64 (RFC 8746
 * typed array), which would change the signed bytes.
 */
const encoder = new Encoder({ useRecords: false, tagUint8Array: false });

function malformed(message: string): never {
  throw new AttestationError('MALFORMED', message);
}

/**
 * Splits a COSE_Sign1 message (untagged, as the NSM emits it, or with tag 18) and checks its
 * shape: `[protected: bstr, unprotected: {}, payload: bstr, signature: bstr(96)]`, the protected
 * header being exactly `{1: -35}`. Throws MALFORMED otherwise.
 */
export function decodeSign1(bytes: Uint8Array): Sign1 {
  const top = decodeStrict(bytes, { allowSign1Tag: true });
  if (!Array.isArray(top) || top.length !== 4) malformed('COSE_Sign1 must be a 4-element array');
  const [protectedHeader, unprotected, payloadBytes, signature] = top as unknown[];
  if (!(protectedHeader instanceof Uint8Array)) malformed('COSE protected header must be a bstr');
  if (!(unprotected instanceof Map) || unprotected.size !== 0) {
    // Anything unprotected is unsigned: an algorithm or key id there could be swapped freely.
    malformed('COSE unprotected header must be an empty map');
  }
  if (!(payloadBytes instanceof Uint8Array)) malformed('COSE payload must be a bstr');
  if (!(signature instanceof Uint8Array) || signature.length !== ES384_SIGNATURE_BYTES) {
    malformed(`COSE signature must be a ${ES384_SIGNATURE_BYTES}-byte bstr`);
  }
  const header = decodeStrict(protectedHeader);
  // Exactly one entry: a `crit` or any other label would be a header this verifier ignores.
  if (!(header instanceof Map) || header.size !== 1 || header.get(ALG) !== ES384) {
    malformed('COSE protected header must be exactly {1: -35} (ES384)');
  }
  return {
    protectedHeader: new Uint8Array(protectedHeader),
    payloadBytes: new Uint8Array(payloadBytes),
    signature: new Uint8Array(signature),
  };
}

/**
 * The bytes an ES384 COSE_Sign1 signature covers (RFC 9052 §4.4):
 * `["Signature1", protected, external_aad = h'', payload]`, CBOR-encoded.
 */
export function sigStructure(protectedHeader: Uint8Array, payloadBytes: Uint8Array): Uint8Array {
  return new Uint8Array(
    encoder.encode(['Signature1', protectedHeader, new Uint8Array(0), payloadBytes]),
  );
}

/**
 * Verifies the signature with the leaf certificate's key, which must be a P-384 key: ES384 is
 * fixed by the protected header, and accepting another curve would let a certificate for a
 * weaker key sign documents. Throws BAD_SIGNATURE, also when the leaf's key cannot be read
 * (an invalid curve point): such a document cannot be authenticated.
 */
export function verifySign1(sign1: Sign1, leaf: X509Certificate): void {
  let ok = false;
  try {
    const key = leaf.publicKey;
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
      throw new AttestationError('BAD_SIGNATURE', 'leaf certificate key is not a P-384 key');
    }
    ok = verify(
      'sha384',
      sigStructure(sign1.protectedHeader, sign1.payloadBytes),
      { key, dsaEncoding: 'ieee-p1363' },
      sign1.signature,
    );
  } catch (err) {
    if (err instanceof AttestationError) throw err;
  }
  if (!ok)
    throw new AttestationError('BAD_SIGNATURE', 'COSE_Sign1 ES384 signature does not verify');
}
