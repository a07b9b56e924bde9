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
import {
  X509Certificate,
  createHash,
  createPrivateKey,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
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
  loadAuthority,
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
  /**
   * The root CA to issue under, shared by every NSM of one simulated cluster so that peers and
   * the simulated KMS trust one anchor ({@link SimulatedNsm.newRoot}). Default: a new root.
   */
  readonly root?: SimulatedRoot;
}

/** What the enclave asks the NSM to bind into a document (each at most 1024 bytes). */
export interface AttestRequest {
  readonly publicKey?: Uint8Array | null;
  readonly userData?: Uint8Array | null;
  readonly nonce?: Uint8Array | null;
}

/** The two PEM texts a simulated root is persisted as (see {@link SimulatedRoot.toPem}). */
export interface SimulatedRootPem {
  /** The self-signed root certificate, `-----BEGIN CERTIFICATE-----`. */
  readonly certificate: string;
  /** Its P-384 private key, PKCS#8, `-----BEGIN PRIVATE KEY-----`: a secret (file mode 0600). */
  readonly privateKey: string;
}

// The NSM needs a root's key to issue intermediates; nothing else may reach it. These two are
// bound in SimulatedRoot's static block, the only code that can read its private field.
let wrapAuthority: (authority: Authority) => SimulatedRoot;
let authorityOf: (root: SimulatedRoot) => Authority;

/**
 * A simulated root CA: the certificate (public, the trust anchor verifiers pin) and its private
 * key (held in a private field; `JSON.stringify` and `util.inspect` print only the certificate's
 * fingerprint). One root is shared by every {@link SimulatedNsm} of a simulated cluster, so that
 * enclaves with different PCRs and module ids chain to the one anchor their peers and the
 * simulated KMS trust, as every real enclave chains to AWS's root.
 *
 * Make one with {@link SimulatedNsm.newRoot}; persist it with {@link SimulatedRoot.toPem} and load
 * it again with {@link SimulatedRoot.fromPem}.
 */
export class SimulatedRoot {
  readonly #authority: Authority;

  private constructor(authority: Authority) {
    this.#authority = authority;
  }

  static {
    wrapAuthority = (authority) => new SimulatedRoot(authority);
    authorityOf = (root) => root.#authority;
  }

  /**
   * Loads a root persisted by {@link SimulatedRoot.toPem}. The pair must fit together and have
   * the shape this issuer makes: a self-signed P-384 CA certificate whose key is the given one.
   * A mismatched pair would issue chains that no verifier accepts, so it is refused here, where
   * the cause is still visible.
   *
   * @throws AttestationError('MALFORMED') when either text does not parse or they do not match.
   */
  static fromPem(pem: SimulatedRootPem): SimulatedRoot {
    let certificate: X509Certificate;
    let privateKey: KeyObject;
    try {
      certificate = new X509Certificate(pem.certificate);
      privateKey = createPrivateKey({ key: pem.privateKey, format: 'pem' });
    } catch {
      throw new AttestationError('MALFORMED', 'the simulated root PEM does not parse');
    }
    return new SimulatedRoot(loadAuthority(new Uint8Array(certificate.raw), privateKey));
  }

  /** The root certificate, DER: the trust anchor to give a verifier (`policy.root`). */
  get der(): Uint8Array {
    return this.#authority.der.slice();
  }

  /** The root certificate, PEM: the file to pass as `mpc-kms attest verify --root`. */
  get certificatePem(): string {
    return certificatePem(this.#authority.der);
  }

  /**
   * The certificate and the private key as PEM, to persist the root in the simulator's data
   * directory. The private key is a secret: the caller writes it with file mode 0600.
   */
  toPem(): SimulatedRootPem {
    return {
      certificate: certificatePem(this.#authority.der),
      privateKey: this.#authority.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    };
  }

  /** A redacted summary: the certificate's fingerprint, never the key. */
  toJSON(): { rootSha256: string } {
    return { rootSha256: createHash('sha256').update(this.#authority.der).digest('hex') };
  }

  /** What `console.log` and `util.inspect` print: the same redacted summary as `toJSON`. */
  [inspect.custom](): string {
    return `SimulatedRoot { rootSha256: '${this.toJSON().rootSha256}', key: [redacted] }`;
  }
}

/**
 * A simulated NSM with a root CA (its own, or a {@link SimulatedRoot} shared with other NSMs) and
 * its own intermediates. Each {@link SimulatedNsm.attest} call issues a fresh enclave leaf
 * (3 hours) under the instance CA and signs the document with it; the intermediates are
 * re-issued, as AWS rotates them, whenever one would not cover a new leaf's window. The root
 * never changes: it is the trust anchor the simulator hands to verifiers.
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
    root: Authority,
  ) {
    this.moduleId = moduleId;
    this.#pcrs = pcrs;
    this.#clock = clock;
    const ids = splitModuleId(moduleId);
    this.#enclaveId = ids.enclaveId;
    this.#instanceId = ids.instanceId;
    this.#root = root;
    this.#intermediates = [];
    for (const level of INTERMEDIATE_LEVELS) {
      const issuer = this.#intermediates.at(-1) ?? this.#root;
      this.#intermediates.push(
        issueAuthority(level, this.#nameFor(level), issuer, createdAt - CA_BACKDATE_MS),
      );
    }
  }

  /**
   * Makes a new simulated root CA (30 years, starting an hour before `now`), to share among
   * several NSMs through `SimulatedNsmOptions.root`.
   *
   * @throws AttestationError('MALFORMED') when the clock returns an invalid date.
   */
  static newRoot(options: { readonly now?: () => Date } = {}): SimulatedRoot {
    const createdAt = readClock(options.now ?? (() => new Date()));
    return wrapAuthority(issueAuthority(LEVELS.root, rootName(), null, createdAt - CA_BACKDATE_MS));
  }

  /**
   * Creates a simulated NSM: a new regional, zonal and instance CA under the given root, or under
   * a new root CA (30 years) when none is given.
   *
   * @throws AttestationError('MALFORMED') on a PCR index outside 0..15, a PCR value that is not
   * 48 bytes, a module id outside the allowed form, a `root` that is not a SimulatedRoot, or a
   * clock that returns an invalid date.
   */
  static create(options: SimulatedNsmOptions): SimulatedNsm {
    const pcrs = normalizePcrs(options.pcrs);
    const clock = options.now ?? (() => new Date());
    const moduleId = options.moduleId ?? defaultModuleId();
    if (typeof moduleId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/.test(moduleId)) {
      // The id is embedded in the leaf's common name, whose upper bound is 64 characters.
      throw new AttestationError('MALFORMED', 'moduleId must be 1-40 characters of [A-Za-z0-9._-]');
    }
    if (options.root !== undefined && !(options.root instanceof SimulatedRoot)) {
      throw new AttestationError('MALFORMED', 'root must be a SimulatedRoot');
    }
    const createdAt = readClock(clock);
    const root =
      options.root === undefined
        ? issueAuthority(LEVELS.root, rootName(), null, createdAt - CA_BACKDATE_MS)
        : authorityOf(options.root);
    return new SimulatedNsm(moduleId, pcrs, clock, createdAt, root);
  }

  /** The root certificate, DER: the trust anchor to give a verifier (`policy.root`). */
  get rootDer(): Uint8Array {
    return this.#root.der.slice();
  }

  /** The root certificate, PEM: the file to pass as `mpc-kms attest verify --root`. */
  get rootPem(): string {
    return certificatePem(this.#root.der);
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

function certificatePem(der: Uint8Array): string {
  const lines =
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
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
