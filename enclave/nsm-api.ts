/**
 * The NSM API's Attestation request and response, as CBOR bytes. Pure: no process, no device.
 *
 * The shapes are those of aws/aws-nitro-enclaves-nsm-api. src/api/mod.rs declares
 * `enum Request { ..., Attestation { user_data: Option<ByteBuf>, nonce: Option<ByteBuf>,
 * public_key: Option<ByteBuf> }, ... }` and `enum Response { ..., Attestation { document:
 * Vec<u8> (serde_bytes) }, ..., Error(ErrorCode) }` with `ErrorCode` a unit-variant enum;
 * src/driver/mod.rs encodes requests with serde_cbor (`serde_cbor::to_vec(&request)`). serde's
 * default, externally tagged enums then give, in CBOR:
 *
 *   request:  {"Attestation": {"user_data": bytes / null, "nonce": bytes / null,
 *                              "public_key": bytes / null}}       (fields in declaration order)
 *   answer:   {"Attestation": {"document": bytes}}
 *   refusal:  {"Error": "InvalidArgument"}                        (a unit variant is its name)
 *
 * Field limits are from the same repository's docs/attestation_process.md, section 3.2.2.2:
 * public_key 1..1024 bytes, user_data and nonce 0..512. Its CDDL in section 2.2 says 0..1024
 * for all three (aws-nitro-enclaves-nsm-api issue #52 notes the conflict) and the hypervisor
 * checks neither, so this client keeps to the stricter set: a document within it passes every
 * verifier that follows either rule.
 */
import { cbor, decodeStrict } from '../attestation/index.js';
import { NsmError } from './nsm-error.js';

/** Largest raw request the driver takes (Linux include/uapi/linux/nsm.h NSM_REQUEST_MAX_SIZE). */
export const NSM_REQUEST_MAX_SIZE = 0x1000;
/** Largest raw response the driver returns (NSM_RESPONSE_MAX_SIZE). */
export const NSM_RESPONSE_MAX_SIZE = 0x3000;
/** Largest `user_data` and `nonce` (docs/attestation_process.md 3.2.2.2). */
export const NSM_MAX_USER_DATA = 512;
export const NSM_MAX_NONCE = 512;
/** Largest `public_key`; it must also not be empty (same section). */
export const NSM_MAX_PUBLIC_KEY = 1024;

/** What the enclave asks the NSM to bind; absent and null are the same: CBOR null. */
export interface NsmAttestationRequest {
  readonly publicKey?: Uint8Array | null;
  readonly userData?: Uint8Array | null;
  readonly nonce?: Uint8Array | null;
}

/**
 * The NSM's ErrorCode variants (src/api/mod.rs). A refusal naming another variant is still
 * reported as NSM_REFUSED, since a newer NSM may add codes; only its form is checked.
 */
export const NSM_ERROR_CODES = [
  'Success',
  'InvalidArgument',
  'InvalidIndex',
  'InvalidResponse',
  'ReadOnlyIndex',
  'InvalidOperation',
  'BufferTooSmall',
  'InputTooLarge',
  'InternalError',
] as const;

/** A variant name as serde writes one: an identifier, short. Anything else is garbage. */
const VARIANT_NAME = /^[A-Z][A-Za-z0-9]{0,63}$/;

function field(
  name: string,
  value: Uint8Array | null | undefined,
  min: number,
  max: number,
): Uint8Array | null {
  if (value === undefined || value === null) return null;
  if (!(value instanceof Uint8Array)) {
    throw new NsmError('NSM_INVALID_REQUEST', `${name} must be a Uint8Array or null`);
  }
  if (value.length < min || value.length > max) {
    throw new NsmError(
      'NSM_INVALID_REQUEST',
      `${name} is ${value.length} bytes; the NSM accepts ${min} to ${max}`,
    );
  }
  return value;
}

/**
 * Encodes an Attestation request. The bytes are a copy: a caller that changes its arrays after
 * this returns cannot change what the NSM signs.
 *
 * @throws NsmError('NSM_INVALID_REQUEST') when a field is not bytes or out of its size range.
 */
export function encodeAttestationRequest(request: NsmAttestationRequest): Uint8Array {
  if (typeof request !== 'object' || request === null) {
    throw new NsmError('NSM_INVALID_REQUEST', 'the attestation request must be an object');
  }
  const userData = field('userData', request.userData, 0, NSM_MAX_USER_DATA);
  const nonce = field('nonce', request.nonce, 0, NSM_MAX_NONCE);
  const publicKey = field('publicKey', request.publicKey, 1, NSM_MAX_PUBLIC_KEY);
  const bytes = cbor.map([
    [
      cbor.text('Attestation'),
      cbor.map([
        [cbor.text('user_data'), cbor.optionalBytes(userData)],
        [cbor.text('nonce'), cbor.optionalBytes(nonce)],
        [cbor.text('public_key'), cbor.optionalBytes(publicKey)],
      ]),
    ],
  ]);
  // Cannot happen within the field limits (about 2.1 KiB at most); kept as the driver's rule.
  if (bytes.length > NSM_REQUEST_MAX_SIZE) {
    throw new NsmError('NSM_INVALID_REQUEST', 'the encoded request exceeds the driver limit');
  }
  return bytes;
}

function malformed(message: string, cause?: unknown): never {
  throw new NsmError('NSM_MALFORMED', message, { cause });
}

/** The single entry of a one-entry map with a text key, or MALFORMED. */
function onlyEntry(value: unknown, what: string): [string, unknown] {
  if (!(value instanceof Map) || value.size !== 1) malformed(`${what} is not a one-entry map`);
  const [key, inner] = [...value.entries()][0]!;
  if (typeof key !== 'string') malformed(`${what} has a non-text key`);
  return [key, inner];
}

/**
 * Decodes the NSM's answer to an Attestation request and returns the document (a copy). The
 * CBOR is read by the project's strict decoder, so duplicate keys, indefinite lengths, tags and
 * trailing bytes are refused rather than interpreted. The document itself is not verified here:
 * that is the relying party's job (attestation/verify.ts).
 *
 * @throws NsmError('NSM_REFUSED') with `nsmCode` when the NSM answered `{"Error": code}`;
 * NsmError('NSM_MALFORMED') for anything but `{"Attestation": {"document": bytes}}`.
 */
export function decodeAttestationResponse(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 0) malformed('the NSM response is empty');
  if (bytes.length > NSM_RESPONSE_MAX_SIZE) malformed('the NSM response exceeds the driver limit');
  let decoded: unknown;
  try {
    decoded = decodeStrict(bytes);
  } catch (err) {
    malformed('the NSM response is not well-formed CBOR', err);
  }
  const [variant, body] = onlyEntry(decoded, 'the NSM response');
  if (variant === 'Error') {
    if (typeof body !== 'string' || !VARIANT_NAME.test(body)) {
      malformed('the NSM error response does not name an error code');
    }
    throw new NsmError('NSM_REFUSED', `the NSM refused the attestation request: ${body}`, {
      nsmCode: body,
    });
  }
  // Naming another variant (DescribeNSM, GetRandom...) is not an answer to Attestation.
  if (variant !== 'Attestation') malformed('the NSM response is not an Attestation response');
  const [name, document] = onlyEntry(body, 'the Attestation response');
  if (name !== 'document') malformed('the Attestation response has no document');
  if (!(document instanceof Uint8Array)) malformed('the attestation document is not bytes');
  if (document.length === 0 || document.length > NSM_RESPONSE_MAX_SIZE) {
    malformed('the attestation document is empty or too large');
  }
  return new Uint8Array(document);
}
