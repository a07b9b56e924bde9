/**
 * The attestation document payload: the CBOR map the NSM signs, checked field by field against
 * AWS's schema (aws-nitro-enclaves-nsm-api, "Attestation document specification"):
 *
 *   module_id: text, digest: "SHA384", timestamp: uint (ms), pcrs: { + 0..31 => bytes 32/48/64 },
 *   certificate: bytes 1..1024, cabundle: [ + bytes 1..1024 ],
 *   ? public_key, ? user_data, ? nonce: bytes 0..1024 (or null, as the NSM writes absent ones).
 */
import { decodeSign1 } from './cose.js';
import { decodeStrict } from './cbor.js';
import { AttestationError, type AttestationDocument } from './types.js';

/** AWS's CDDL allows 1024 bytes here (one prose passage says 512; real documents carry 1024). */
const MAX_USER_FIELD_BYTES = 1024;
const MAX_CERTIFICATE_BYTES = 1024;
const PCR_LENGTHS = new Set([32, 48, 64]);
const MAX_PCR_INDEX = 31;

const REQUIRED = ['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle'] as const;
const OPTIONAL = ['public_key', 'user_data', 'nonce'] as const;
const KNOWN = new Set<string>([...REQUIRED, ...OPTIONAL]);

function malformed(message: string): never {
  throw new AttestationError('MALFORMED', message);
}

/** A byte string, copied so the document never aliases the caller's buffer. */
function bytesField(value: unknown, field: string, min: number, max: number): Uint8Array {
  if (!(value instanceof Uint8Array)) malformed(`${field} must be a byte string`);
  if (value.length < min || value.length > max) {
    malformed(`${field} must be ${min}..${max} bytes, got ${value.length}`);
  }
  return new Uint8Array(value);
}

/** Absent or null (the NSM writes null); CBOR `undefined` is neither and is refused. */
function optionalField(payload: Map<unknown, unknown>, field: string): Uint8Array | null {
  if (!payload.has(field) || payload.get(field) === null) return null;
  return bytesField(payload.get(field), field, 0, MAX_USER_FIELD_BYTES);
}

/** cbor-x returns a number up to 32 bits and a bigint for 64-bit encodings; floats never get here. */
function timestampField(value: unknown): number {
  const ms =
    typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms <= 0) {
    malformed('timestamp must be a positive integer (milliseconds)');
  }
  return ms;
}

function pcrsField(value: unknown): Map<number, Uint8Array> {
  if (!(value instanceof Map)) malformed('pcrs must be a map');
  if (value.size === 0 || value.size > MAX_PCR_INDEX + 1) malformed('pcrs must hold 1..32 entries');
  const pcrs = new Map<number, Uint8Array>();
  for (const [index, pcr] of value as Map<unknown, unknown>) {
    if (
      typeof index !== 'number' ||
      !Number.isInteger(index) ||
      index < 0 ||
      index > MAX_PCR_INDEX
    ) {
      malformed('pcrs keys must be integers 0..31');
    }
    if (!(pcr instanceof Uint8Array) || !PCR_LENGTHS.has(pcr.length)) {
      malformed(`PCR${index} must be a 32, 48 or 64-byte string`);
    }
    pcrs.set(index, new Uint8Array(pcr));
  }
  return pcrs;
}

function cabundleField(value: unknown): Uint8Array[] {
  if (!Array.isArray(value) || value.length === 0) malformed('cabundle must be a non-empty array');
  return value.map((cert, i) => bytesField(cert, `cabundle[${i}]`, 1, MAX_CERTIFICATE_BYTES));
}

/**
 * Decodes and type-checks the payload of a COSE_Sign1 attestation document. Throws MALFORMED on
 * any unknown key, missing required field, wrong type or size.
 */
export function parseDocument(payloadBytes: Uint8Array): AttestationDocument {
  const payload = decodeStrict(payloadBytes);
  if (!(payload instanceof Map)) malformed('payload must be a map');
  for (const key of payload.keys()) {
    // Unknown fields are refused rather than ignored: a field this verifier skips is a field an
    // application might trust without it having been checked.
    if (typeof key !== 'string' || !KNOWN.has(key)) {
      // Quoted and cut: the name is attacker-chosen and ends up in logs and terminals.
      const shown = typeof key === 'string' ? JSON.stringify(key.slice(0, 64)) : String(key);
      malformed(`unknown payload field ${shown}`);
    }
  }
  for (const key of REQUIRED) if (!payload.has(key)) malformed(`payload lacks ${key}`);

  const moduleId = payload.get('module_id');
  if (typeof moduleId !== 'string' || moduleId.length === 0) {
    malformed('module_id must be non-empty text');
  }
  if (payload.get('digest') !== 'SHA384') malformed('digest must be "SHA384"');
  return {
    moduleId,
    digest: 'SHA384',
    timestamp: timestampField(payload.get('timestamp')),
    pcrs: pcrsField(payload.get('pcrs')),
    certificate: bytesField(payload.get('certificate'), 'certificate', 1, MAX_CERTIFICATE_BYTES),
    cabundle: cabundleField(payload.get('cabundle')),
    publicKey: optionalField(payload, 'public_key'),
    userData: optionalField(payload, 'user_data'),
    nonce: optionalField(payload, 'nonce'),
  };
}

/** A decoded attestation document with the COSE parts its signature covers. */
export interface DecodedAttestation {
  readonly document: AttestationDocument;
  /** The serialized protected header, as signed (for a real document: `a1 01 38 22`). */
  readonly protectedHeader: Uint8Array;
  readonly payloadBytes: Uint8Array;
  /** ES384 r‖s, 96 bytes. */
  readonly signature: Uint8Array;
}

/**
 * Decodes an attestation document (COSE_Sign1, untagged or tag 18) strictly, without checking
 * its signature or chain. Throws AttestationError('MALFORMED') for anything but a well-formed
 * document. Use `verifyAttestation` to decide whether to trust one.
 */
export function decodeAttestation(bytes: Uint8Array): DecodedAttestation {
  if (!(bytes instanceof Uint8Array)) malformed('attestation document must be bytes');
  const sign1 = decodeSign1(bytes);
  return { document: parseDocument(sign1.payloadBytes), ...sign1 };
}
