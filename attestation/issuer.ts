/**
 * A simulated Nitro Secure Module (NSM): issues attestation documents with the exact shape of
 * AWS's, signed by a private certificate chain instead of AWS's, so that the simulator exercises
 * the same verifier as production with nothing but the trust anchor swapped (`--root`).
 *
 * What "the exact shape" means was read off real documents (../shared/vectors/attestation):
 *
 * - The document is an untagged COSE_Sign1 (RFC 9052 Section 4.2): a 4-array of the protected
 *   header `{1: -35}` (ES384) as a byte string, an empty unprotected map, the payload as a byte
 *   string, and a 96-byte raw r‖s signature. Every item uses the shortest CBOR head, as the NSM's
 *   encoder does, so the bytes begin `84 44 a1 01 38 22 a0 59`.
 * - The payload is a 9-entry map in the NSM's order: module_id, digest ("SHA384"), timestamp (ms,
 *   an unsigned integer), pcrs (16 entries, 0..15, 48 bytes each, unused ones zero), certificate,
 *   cabundle (root first, the leaf's issuer last), public_key, user_data, nonce. The last three
 *   are always present, `null` when the caller gave nothing.
 * - The chain is root -> regional -> zonal -> instance -> enclave leaf, all P-384 keys with
 *   ecdsa-with-SHA384 signatures, with AWS's names (attribute order and string types), serial
 *   shapes, lifetimes and extensions per level (see {@link LEVELS}).
 *
 * The names say "sim" and "mpc-kms" where AWS's say "aws" and "Amazon", so that a person reading a
 * certificate summary can never take a simulated document for a genuine one; a verifier cannot
 * either, since it pins the root's bytes.
 */
import { createHash, randomBytes, sign } from 'node:crypto';
import { inspect } from 'node:util';
import { cbor } from './cbor-writer.js';
import {
  CA_BACKDATE_MS,
  INTERMEDIATE_LEVELS,
  LEAF_BACKDATE_MS,
  LEAF_LIFETIME_MS,
  LEVELS,
  SECOND,
  issueAuthority,
  issueCertificate,
  newKeyPair,
  type Authority,
  type LevelProfile,
  type Rdn,
} from './certificates.js';
import type { Measurement } from './measure.js';
import { AttestationError } from './types.js';

/** Largest `public_key`, `user_data` or `nonce` the NSM accepts (AWS's CDDL: 1024 bytes). */
export const MAX_USER_FIELD_BYTES = 1024;

const PCR_COUNT = 16;
const PCR_BYTES = 48;

// Stand-ins for AWS's "Amazon", "AWS", "us-east-1", "WA"/"Washington", "Seattle".
const ORGANIZATION = 'mpc-kms';
const UNIT = 'simulated-nsm';
const REGION = 'local-1';
const STATE = 'Simulated';
const LOCALITY = 'Local';
const DOMAIN = 'sim.nitro-enclaves';

/** The PCRs a simulated enclave reports: a full map, or the measurement of its bundle. */
export type SimulatedPcrs = ReadonlyMap<number, Uint8Array> | Measurement;

/** Options of {@link SimulatedNsm.create}. */
export interface SimulatedNsmOptions {
  /**
   * PCR values: indices 0..15, 48 bytes each. A {@link Measurement} sets PCR0..2; indices left
   * out read as 48 zero bytes, as unused PCRs do on Nitro. All-zero PCR0..2 is debug mode.
   */
  readonly pcrs: SimulatedPcrs;
  /**
   * The module id, 1 to 40 characters of [A-Za-z0-9._-]. Default: a fresh id of AWS's form
   * `i-<17 hex>-enc<16 hex>` (instance id, enclave id).
   */
  readonly moduleId?: string;
  /** The clock for certificate windows and document timestamps. Default: the system clock. */
  readonly now?: () => Date;
}

/** What the enclave asks the NSM to bind into a document (each at most 1024 bytes). */
export interface AttestRequest {
  readonly publicKey?: Uint8Array | null;
  readonly userData?: Uint8Array | null;
  readonly nonce?: Uint8Array | null;
}

/**
 * A simulated NSM with its own root CA and intermediates. Each {@link SimulatedNsm.attest} call
 * issues a fresh enclave leaf (3 hours) under the instance CA and signs the document with it; the
 * intermediates are re-issued, as AWS rotates them, whenever one would not cover a new leaf's
 * window. The root never changes: it is the trust anchor the simulator hands to verifiers.
 *
 * Private keys live only in private fields: there is no accessor, and `JSON.stringify` and
 * `util.inspect` print a redacted summary. (JavaScript offers no way to wipe a KeyObject; a leaf's
 * key is dropped as soon as its document is signed and left to the garbage collector.)
 */
export class SimulatedNsm {
  /** The `module_id` every document carries. */
  readonly moduleId: string;
  readonly #pcrs: readonly Uint8Array[];
  readonly #clock: () => Date;
  readonly #enclaveId: Uint8Array;
  readonly #instanceId: string;
  readonly #root: Authority;
  readonly #intermediates: Authority[];
  /** Leaves issued so far: keeps leaf serials unique when two are issued in one second. */
  #leafCount = 0;

  private constructor(
    moduleId: string,
    pcrs: readonly Uint8Array[],
    clock: () => Date,
    createdAt: number,
  ) {
    this.moduleId = moduleId;
    this.#pcrs = pcrs;
    this.#clock = clock;
    const ids = splitModuleId(moduleId);
    this.#enclaveId = ids.enclaveId;
    this.#instanceId = ids.instanceId;
    this.#root = issueAuthority(LEVELS.root, rootName(), null, createdAt - CA_BACKDATE_MS);
    this.#intermediates = [];
    for (const level of INTERMEDIATE_LEVELS) {
      const issuer = this.#intermediates.at(-1) ?? this.#root;
      this.#intermediates.push(
        issueAuthority(level, this.#nameFor(level), issuer, createdAt - CA_BACKDATE_MS),
      );
    }
  }

  /**
   * Creates a simulated NSM: a new root CA (30 years) and a new regional, zonal and instance CA.
   *
   * @throws AttestationError('MALFORMED') on a PCR index outside 0..15, a PCR value that is not
   * 48 bytes, a module id outside the allowed form, or a clock that returns an invalid date.
   */
  static create(options: SimulatedNsmOptions): SimulatedNsm {
    const pcrs = normalizePcrs(options.pcrs);
    const clock = options.now ?? (() => new Date());
    const moduleId = options.moduleId ?? defaultModuleId();
    if (typeof moduleId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/.test(moduleId)) {
      // The id is embedded in the leaf's common name, whose upper bound is 64 characters.
      throw new AttestationError('MALFORMED', 'moduleId must be 1-40 characters of [A-Za-z0-9._-]');
    }
    return new SimulatedNsm(moduleId, pcrs, clock, readClock(clock));
  }

  /** The root certificate, DER: the trust anchor to give a verifier (`policy.root`). */
  get rootDer(): Uint8Array {
    return this.#root.der.slice();
  }

  /** The root certificate, PEM: the file to pass as `mpc-kms attest verify --root`. */
  get rootPem(): string {
    const lines =
      Buffer.from(this.#root.der)
        .toString('base64')
        .match(/.{1,64}/g) ?? [];
    return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
  }

  /** The 16 PCRs every document reports (copies), e.g. to build a verifier's `expectedPcrs`. */
  get pcrs(): ReadonlyMap<number, Uint8Array> {
    return new Map(this.#pcrs.map((value, index) => [index, value.slice()]));
  }

  /**
   * Issues an attestation document binding the given fields, timestamped by the clock, with a
   * fresh leaf certificate. Absent fields are encoded as `null`, as the NSM does.
   *
   * @returns the document: untagged COSE_Sign1, raw CBOR.
   * @throws AttestationError('MALFORMED') when a field is not bytes or exceeds 1024 bytes;
   * AttestationError('NOT_YET_VALID' | 'EXPIRED') when the clock lies outside the root's window.
   */
  attest(request: AttestRequest = {}): Uint8Array {
    const publicKey = userField('publicKey', request.publicKey);
    const userData = userField('userData', request.userData);
    const nonce = userField('nonce', request.nonce);

    const timestamp = readClock(this.#clock);
    // Certificate times have whole seconds; the document's timestamp keeps its milliseconds.
    const issuedAt = Math.floor(timestamp / SECOND) * SECOND;
    const leafNotBefore = issuedAt - LEAF_BACKDATE_MS;
    const leafNotAfter = issuedAt + LEAF_LIFETIME_MS;
    this.#coverWindow(leafNotBefore, leafNotAfter, issuedAt);

    const instance = this.#intermediates.at(-1)!;
    const { privateKey: leafKey, publicKey: leafPublic } = newKeyPair();
    const leafDer = issueCertificate({
      level: LEVELS.leaf,
      serial: this.#leafSerial(issuedAt),
      issuer: instance,
      subject: this.#leafName(),
      notBefore: leafNotBefore,
      notAfter: leafNotAfter,
      subjectPublicKey: leafPublic,
    });

    const payload = cbor.map([
      [cbor.text('module_id'), cbor.text(this.moduleId)],
      [cbor.text('digest'), cbor.text('SHA384')],
      [cbor.text('timestamp'), cbor.uint(timestamp)],
      [cbor.text('pcrs'), cbor.map(this.#pcrs.map((v, i) => [cbor.uint(i), cbor.bytes(v)]))],
      [cbor.text('certificate'), cbor.bytes(leafDer)],
      [
        cbor.text('cabundle'),
        cbor.array([this.#root, ...this.#intermediates].map((a) => cbor.bytes(a.der))),
      ],
      [cbor.text('public_key'), cbor.optionalBytes(publicKey)],
      [cbor.text('user_data'), cbor.optionalBytes(userData)],
      [cbor.text('nonce'), cbor.optionalBytes(nonce)],
    ]);

    // RFC 9052 Section 4.4: the signature covers ["Signature1", protected, external_aad, payload]
    // with an empty external_aad. COSE wants ECDSA as fixed-width r‖s (RFC 9053 Section 2.1).
    const protectedHeader = cbor.map([[cbor.uint(1), cbor.negative(-35)]]);
    const toBeSigned = cbor.array([
      cbor.text('Signature1'),
      cbor.bytes(protectedHeader),
      cbor.bytes(new Uint8Array(0)),
      cbor.bytes(payload),
    ]);
    const signature = sign('sha384', toBeSigned, { key: leafKey, dsaEncoding: 'ieee-p1363' });

    return cbor.array([
      cbor.bytes(protectedHeader),
      cbor.map([]),
      cbor.bytes(payload),
      cbor.bytes(new Uint8Array(signature)),
    ]);
  }

  /** A redacted summary: the module id and the root's fingerprint, never a key. */
  toJSON(): { moduleId: string; rootSha256: string } {
    return {
      moduleId: this.moduleId,
      rootSha256: createHash('sha256').update(this.#root.der).digest('hex'),
    };
  }

  /** What `console.log` and `util.inspect` print: the same redacted summary as `toJSON`. */
  [inspect.custom](): string {
    const { moduleId, rootSha256 } = this.toJSON();
    return `SimulatedNsm { moduleId: ${JSON.stringify(moduleId)}, rootSha256: '${rootSha256}', keys: [redacted] }`;
  }

  /**
   * Makes every intermediate cover [from, to], re-issuing the first one that does not and all
   * below it (a new issuer key invalidates its children). The root cannot be re-issued: it is
   * what verifiers pin, so a clock outside its window is an error.
   */
  #coverWindow(from: number, to: number, issuedAt: number): void {
    if (from < this.#root.notBefore) {
      throw new AttestationError('NOT_YET_VALID', 'the clock is before the simulated root CA');
    }
    if (to > this.#root.notAfter) {
      throw new AttestationError('EXPIRED', 'the simulated root CA expires before a new leaf');
    }
    const stale = this.#intermediates.findIndex((a) => from < a.notBefore || to > a.notAfter);
    if (stale === -1) return;
    for (let i = stale; i < INTERMEDIATE_LEVELS.length; i++) {
      const level = INTERMEDIATE_LEVELS[i]!;
      const issuer = i === 0 ? this.#root : this.#intermediates[i - 1]!;
      this.#intermediates[i] = issueAuthority(
        level,
        this.#nameFor(level),
        issuer,
        issuedAt - CA_BACKDATE_MS,
      );
    }
  }

  /**
   * AWS's leaf serial is the 8-byte enclave id followed by the issue time in seconds as a 64-bit
   * integer. This one is the same, with the leaf count added to the high half of the time so that
   * two leaves issued in one second differ (the first leaf's serial has exactly AWS's layout).
   */
  #leafSerial(issuedAt: number): Uint8Array {
    const serial = new Uint8Array(16);
    serial.set(this.#enclaveId, 0);
    const tail = (BigInt(this.#leafCount++) << 32n) + BigInt(issuedAt / SECOND);
    new DataView(serial.buffer).setBigUint64(8, tail);
    return serial;
  }

  /** Names per level, in AWS's attribute order (the zonal CA's order really is reversed). */
  #nameFor(level: LevelProfile): readonly Rdn[] {
    const id = randomBytes(8).toString('hex');
    switch (level.label) {
      case 'regional':
        return [
          ['C', 'US'],
          ['O', ORGANIZATION],
          ['OU', UNIT],
          ['CN', `${id}.${REGION}.${DOMAIN}`],
        ];
      case 'zonal':
        return [
          ['CN', `${id}.zonal.${REGION}.${DOMAIN}`],
          ['OU', UNIT],
          ['O', ORGANIZATION],
          ['C', 'US'],
          ['ST', STATE],
          ['L', LOCALITY],
        ];
      case 'instance':
        return [...localityPrefix(), ['CN', `${this.#instanceId}.${REGION}.${DOMAIN}`]];
      default:
        throw new Error(`no name for the ${level.label} level`);
    }
  }

  /** The leaf's name: AWS's is `<module_id>.<region>.aws` under the instance's attributes. */
  #leafName(): readonly Rdn[] {
    return [...localityPrefix(), ['CN', `${this.moduleId}.${REGION}.sim`]];
  }
}

function rootName(): readonly Rdn[] {
  return [
    ['C', 'US'],
    ['O', ORGANIZATION],
    ['OU', UNIT],
    ['CN', DOMAIN],
  ];
}

/** The attributes the instance CA and the leaf share before their common names. */
function localityPrefix(): Rdn[] {
  return [
    ['C', 'US'],
    ['ST', STATE],
    ['L', LOCALITY],
    ['O', ORGANIZATION],
    ['OU', UNIT],
  ];
}

function defaultModuleId(): string {
  const instance = randomBytes(9).toString('hex').slice(0, 17);
  const enclave = randomBytes(8);
  // Keep the serial a 16-byte positive INTEGER, as AWS's enclave ids (0x01…) make it.
  enclave[0] = enclave[0]! & 0x7f || 0x01;
  return `i-${instance}-enc${enclave.toString('hex')}`;
}

/**
 * The enclave id (leaf serial prefix) and instance id (instance CA name) inside a module id of
 * AWS's form; for any other module id, both are derived from its hash so they stay stable.
 */
function splitModuleId(moduleId: string): { enclaveId: Uint8Array; instanceId: string } {
  const match = /^(i-[0-9a-f]{17})-enc([0-9a-f]{16})$/.exec(moduleId);
  if (match) {
    return { instanceId: match[1]!, enclaveId: new Uint8Array(Buffer.from(match[2]!, 'hex')) };
  }
  const digest = createHash('sha384').update(moduleId).digest();
  const enclaveId = new Uint8Array(digest.subarray(0, 8));
  enclaveId[0] = enclaveId[0]! & 0x7f || 0x01;
  return { enclaveId, instanceId: `i-${digest.subarray(8, 17).toString('hex').slice(0, 17)}` };
}

function normalizePcrs(input: SimulatedPcrs): readonly Uint8Array[] {
  let entries: [unknown, unknown][];
  if (typeof input === 'object' && input !== null && 'pcr0' in input) {
    entries = [
      [0, input.pcr0],
      [1, input.pcr1],
      [2, input.pcr2],
    ];
  } else if (input instanceof Map) {
    entries = [...input.entries()];
  } else {
    throw new AttestationError('MALFORMED', 'pcrs must be a Map or a measurement');
  }
  const pcrs = Array.from({ length: PCR_COUNT }, () => new Uint8Array(PCR_BYTES));
  for (const [index, value] of entries) {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= PCR_COUNT) {
      throw new AttestationError('MALFORMED', `pcrs: index ${String(index)} is outside 0..15`);
    }
    if (!(value instanceof Uint8Array) || value.length !== PCR_BYTES) {
      throw new AttestationError('MALFORMED', `pcrs: PCR${index} must be 48 bytes`);
    }
    pcrs[index] = value.slice();
  }
  return pcrs;
}

function userField(name: string, value: Uint8Array | null | undefined): Uint8Array | null {
  if (value === undefined || value === null) return null;
  if (!(value instanceof Uint8Array)) {
    throw new AttestationError('MALFORMED', `${name} must be bytes`);
  }
  if (value.length > MAX_USER_FIELD_BYTES) {
    throw new AttestationError(
      'MALFORMED',
      `${name} is ${value.length} bytes; the NSM accepts at most ${MAX_USER_FIELD_BYTES}`,
    );
  }
  return value.slice();
}

function readClock(clock: () => Date): number {
  const date = clock();
  const ms = date instanceof Date ? date.getTime() : NaN;
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new AttestationError('MALFORMED', 'the clock returned an invalid date');
  }
  return ms;
}
