/**
 * The X.509 certificates of the simulated NSM's chain (root -> regional -> zonal -> instance ->
 * enclave leaf), built with asn1js and signed with node:crypto: P-384 keys, ecdsa-with-SHA384
 * signatures, and per level the serial shapes, lifetimes and extensions read off AWS's
 * certificates (see {@link LEVELS}). Which names each level carries is the issuer's choice
 * (./issuer.ts); this module encodes them.
 */
import {
  X509Certificate,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  sign,
  type KeyObject,
} from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { AttestationError } from './types.js';

export const SECOND = 1000;
const HOUR = 3600 * SECOND;
const DAY = 24 * HOUR;

/** A real enclave leaf lives 3 hours and its notBefore lies 3 seconds before its issue time. */
export const LEAF_LIFETIME_MS = 3 * HOUR;
export const LEAF_BACKDATE_MS = 3 * SECOND;
/**
 * CA certificates start an hour before they are issued, so that a leaf issued in the same second
 * still lies inside its issuer's window and a verifier whose clock is a little behind still accepts
 * the chain.
 */
export const CA_BACKDATE_MS = HOUR;

// Object identifiers (RFC 5280, RFC 5480, RFC 5758).
const OID_ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3';
const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const OID_SECP384R1 = '1.3.132.0.34';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_SUBJECT_KEY_ID = '2.5.29.14';
const OID_AUTHORITY_KEY_ID = '2.5.29.35';
const OID_CRL_DISTRIBUTION_POINTS = '2.5.29.31';

const ATTRIBUTE_OIDS = {
  C: '2.5.4.6',
  ST: '2.5.4.8',
  L: '2.5.4.7',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  CN: '2.5.4.3',
} as const;

type AttributeType = keyof typeof ATTRIBUTE_OIDS;
/** One relative distinguished name: AWS's names put exactly one attribute in each. */
export type Rdn = readonly [AttributeType, string];

// KeyUsage bit numbers (RFC 5280 Section 4.2.1.3).
const DIGITAL_SIGNATURE = 0;
const NON_REPUDIATION = 1;
const KEY_CERT_SIGN = 5;
const CRL_SIGN = 6;

/** RFC 2606 reserves ".invalid": the CRL location is there for shape and never resolves. */
const CRL_HOST = 'crl.sim.nitro-enclaves.invalid';

/** How one level of the chain is issued: everything here was read off AWS's certificates. */
export interface LevelProfile {
  readonly label: 'root' | 'regional' | 'zonal' | 'instance' | 'leaf';
  /** Lifetime: real root 30 years, regional about 20 days, zonal about 6, instance 24 h. */
  readonly lifetime: { readonly years: number } | { readonly ms: number };
  /** Random serial length before DER's sign byte (the leaf's serial is built instead). */
  readonly serialBytes: number;
  /** basicConstraints, always critical: cA and pathLenConstraint (null: absent). */
  readonly ca: boolean;
  readonly pathLen: number | null;
  /** keyUsage bits and criticality: critical on CAs, not on the leaf. */
  readonly keyUsage: readonly number[];
  readonly keyUsageCritical: boolean;
  /** subjectKeyIdentifier (and authorityKeyIdentifier unless self-signed). */
  readonly keyIdentifiers: boolean;
  /** cRLDistributionPoints with one URI. */
  readonly crl: boolean;
}

/**
 * The five levels of AWS's chain. Extension order follows AWS's: basicConstraints,
 * authorityKeyIdentifier, subjectKeyIdentifier, keyUsage, cRLDistributionPoints. The instance CA
 * and the leaf carry no key identifiers, as in every real document.
 */
export const LEVELS = {
  root: {
    label: 'root',
    lifetime: { years: 30 },
    serialBytes: 16,
    ca: true,
    pathLen: null,
    keyUsage: [DIGITAL_SIGNATURE, KEY_CERT_SIGN, CRL_SIGN],
    keyUsageCritical: true,
    keyIdentifiers: true,
    crl: false,
  },
  regional: {
    label: 'regional',
    lifetime: { ms: 20 * DAY },
    serialBytes: 16,
    ca: true,
    pathLen: 2,
    keyUsage: [DIGITAL_SIGNATURE, KEY_CERT_SIGN, CRL_SIGN],
    keyUsageCritical: true,
    keyIdentifiers: true,
    crl: true,
  },
  zonal: {
    label: 'zonal',
    lifetime: { ms: 6 * DAY },
    serialBytes: 16,
    ca: true,
    pathLen: 1,
    keyUsage: [DIGITAL_SIGNATURE, KEY_CERT_SIGN, CRL_SIGN],
    keyUsageCritical: true,
    keyIdentifiers: true,
    crl: true,
  },
  instance: {
    label: 'instance',
    lifetime: { ms: DAY },
    serialBytes: 20,
    ca: true,
    pathLen: 0,
    keyUsage: [KEY_CERT_SIGN],
    keyUsageCritical: true,
    keyIdentifiers: false,
    crl: false,
  },
  leaf: {
    label: 'leaf',
    lifetime: { ms: LEAF_LIFETIME_MS },
    serialBytes: 16,
    ca: false,
    pathLen: null,
    keyUsage: [DIGITAL_SIGNATURE, NON_REPUDIATION],
    keyUsageCritical: false,
    keyIdentifiers: false,
    crl: false,
  },
} as const satisfies Record<string, LevelProfile>;

/** The intermediates in chain order: each is issued by the one before, the first by the root. */
export const INTERMEDIATE_LEVELS = [LEVELS.regional, LEVELS.zonal, LEVELS.instance] as const;

/** A CA the simulator holds: its certificate and, privately, its key. */
export interface Authority {
  readonly subject: readonly Rdn[];
  readonly privateKey: KeyObject;
  /** SHA-1 of the subjectPublicKey bits (RFC 5280 Section 4.2.1.2, method 1), as AWS's. */
  readonly keyId: Uint8Array;
  readonly der: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
}

export function newKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-384' });
}

/** The uncompressed point 04‖x‖y: the subjectPublicKey bits and the key-identifier input. */
function publicPoint(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  const x = Buffer.from(jwk.x!, 'base64url');
  const y = Buffer.from(jwk.y!, 'base64url');
  return new Uint8Array(Buffer.concat([Uint8Array.of(0x04), x, y]));
}

function keyIdentifier(point: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha1').update(point).digest());
}

export function issueAuthority(
  level: LevelProfile,
  subject: readonly Rdn[],
  issuer: Authority | null,
  notBefore: number,
): Authority {
  const { privateKey, publicKey } = newKeyPair();
  const keyId = keyIdentifier(publicPoint(publicKey));
  const start = new Date(Math.floor(notBefore / SECOND) * SECOND);
  const end = new Date(start);
  if ('years' in level.lifetime) end.setUTCFullYear(end.getUTCFullYear() + level.lifetime.years);
  else end.setTime(end.getTime() + level.lifetime.ms);
  const der = issueCertificate({
    level,
    serial: randomSerial(level.serialBytes),
    // A self-signed root is its own issuer: its name, its key, its key id.
    issuer: issuer ?? { subject, privateKey, keyId },
    subject,
    notBefore: start.getTime(),
    notAfter: end.getTime(),
    subjectPublicKey: publicKey,
    selfSigned: issuer === null,
  });
  return { subject, privateKey, keyId, der, notBefore: start.getTime(), notAfter: end.getTime() };
}

/**
 * Rebuilds the {@link Authority} of a root CA that {@link issueAuthority} made, from its
 * certificate and private key (a persisted simulated root). Checks that the pair belongs together
 * and that the certificate is a self-signed P-384 CA whose name re-encodes to the same bytes, so
 * that the intermediates issued under it name it exactly as its own certificate does.
 *
 * @throws AttestationError('MALFORMED') on any mismatch.
 */
export function loadAuthority(der: Uint8Array, privateKey: KeyObject): Authority {
  const refuse = (why: string): never => {
    throw new AttestationError('MALFORMED', `simulated root: ${why}`);
  };
  if (
    privateKey.type !== 'private' ||
    privateKey.asymmetricKeyDetails?.namedCurve !== 'secp384r1'
  ) {
    refuse('the private key is not a P-384 key');
  }
  let x509: X509Certificate;
  let cert: pkijs.Certificate;
  try {
    x509 = new X509Certificate(der);
    const parsed = asn1js.fromBER(der);
    if (parsed.offset !== der.length) throw new Error('trailing bytes');
    cert = new pkijs.Certificate({ schema: parsed.result });
  } catch {
    return refuse('the certificate does not parse');
  }
  if (!x509.checkPrivateKey(privateKey)) refuse('the private key does not match the certificate');
  if (!x509.ca || !x509.checkIssued(x509) || !x509.verify(x509.publicKey)) {
    refuse('the certificate is not a self-signed CA');
  }
  const oidToType = new Map<string, AttributeType>(
    Object.entries(ATTRIBUTE_OIDS).map(([type, oid]) => [oid, type as AttributeType]),
  );
  const subject: Rdn[] = cert.subject.typesAndValues.map((attribute) => {
    const type = oidToType.get(attribute.type);
    const value: unknown = (attribute.value as { valueBlock?: { value?: unknown } }).valueBlock
      ?.value;
    if (type === undefined || typeof value !== 'string') refuse('unexpected subject attribute');
    return [type!, value as string];
  });
  const encoded = new Uint8Array(encodeName(subject).toBER());
  const original = new Uint8Array(cert.subject.toSchema().toBER());
  if (Buffer.compare(encoded, original) !== 0) refuse('the subject is not in the issued form');
  return {
    subject,
    privateKey,
    keyId: keyIdentifier(publicPoint(createPublicKey(privateKey))),
    der: der.slice(),
    notBefore: cert.notBefore.value.getTime(),
    notAfter: cert.notAfter.value.getTime(),
  };
}

export interface CertificateRequest {
  readonly level: LevelProfile;
  readonly serial: Uint8Array;
  readonly issuer: Pick<Authority, 'subject' | 'privateKey' | 'keyId'>;
  readonly subject: readonly Rdn[];
  readonly notBefore: number;
  readonly notAfter: number;
  readonly subjectPublicKey: KeyObject;
  readonly selfSigned?: boolean;
}

/** Builds and signs an X.509 v3 certificate (RFC 5280 Section 4.1) with AWS's level profile. */
export function issueCertificate(req: CertificateRequest): Uint8Array {
  const point = publicPoint(req.subjectPublicKey);
  const signatureAlgorithm = new asn1js.Sequence({
    // RFC 5758 Section 3.2: ecdsa-with-SHA384 has no parameters, not even NULL.
    value: [new asn1js.ObjectIdentifier({ value: OID_ECDSA_WITH_SHA384 })],
  });
  const tbs = new asn1js.Sequence({
    value: [
      new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 0 },
        value: [new asn1js.Integer({ value: 2 })], // v3
      }),
      positiveInteger(req.serial),
      signatureAlgorithm,
      encodeName(req.issuer.subject),
      new asn1js.Sequence({ value: [x509Time(req.notBefore), x509Time(req.notAfter)] }),
      encodeName(req.subject),
      new asn1js.Sequence({
        value: [
          new asn1js.Sequence({
            value: [
              new asn1js.ObjectIdentifier({ value: OID_EC_PUBLIC_KEY }),
              new asn1js.ObjectIdentifier({ value: OID_SECP384R1 }),
            ],
          }),
          new asn1js.BitString({ valueHex: point }),
        ],
      }),
      new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 3 },
        value: [new asn1js.Sequence({ value: extensionsFor(req, keyIdentifier(point)) })],
      }),
    ],
  });
  const tbsDer = new Uint8Array(tbs.toBER());
  // X.509 carries ECDSA signatures as DER Ecdsa-Sig-Value, unlike COSE's raw r‖s.
  const signature = sign('sha384', tbsDer, { key: req.issuer.privateKey, dsaEncoding: 'der' });
  const certificate = new asn1js.Sequence({
    value: [tbs, signatureAlgorithm, new asn1js.BitString({ valueHex: new Uint8Array(signature) })],
  });
  return new Uint8Array(certificate.toBER());
}

function extensionsFor(req: CertificateRequest, subjectKeyId: Uint8Array): asn1js.Sequence[] {
  const { level } = req;
  const out: asn1js.Sequence[] = [];
  const basic: asn1js.AsnType[] = [];
  // DER omits cA when FALSE (its DEFAULT): AWS's leaf carries an empty SEQUENCE, 30 00.
  if (level.ca) basic.push(new asn1js.Boolean({ value: true }));
  if (level.pathLen !== null) basic.push(new asn1js.Integer({ value: level.pathLen }));
  out.push(extension(OID_BASIC_CONSTRAINTS, true, new asn1js.Sequence({ value: basic })));
  if (level.keyIdentifiers && !req.selfSigned) {
    const keyIdentifierField = new asn1js.Primitive({
      idBlock: { tagClass: 3, tagNumber: 0 },
      valueHex: req.issuer.keyId,
    });
    out.push(
      extension(OID_AUTHORITY_KEY_ID, false, new asn1js.Sequence({ value: [keyIdentifierField] })),
    );
  }
  if (level.keyIdentifiers) {
    out.push(
      extension(OID_SUBJECT_KEY_ID, false, new asn1js.OctetString({ valueHex: subjectKeyId })),
    );
  }
  out.push(extension(OID_KEY_USAGE, level.keyUsageCritical, namedBits(level.keyUsage)));
  if (level.crl) {
    const uri = new asn1js.Primitive({
      idBlock: { tagClass: 3, tagNumber: 6 }, // GeneralName uniformResourceIdentifier
      valueHex: new TextEncoder().encode(`http://${CRL_HOST}/crl/${randomUUID()}.crl`),
    });
    const fullName = new asn1js.Constructed({
      idBlock: { tagClass: 3, tagNumber: 0 },
      value: [uri],
    });
    const distributionPointName = new asn1js.Constructed({
      idBlock: { tagClass: 3, tagNumber: 0 },
      value: [fullName],
    });
    const distributionPoint = new asn1js.Sequence({ value: [distributionPointName] });
    out.push(
      extension(
        OID_CRL_DISTRIBUTION_POINTS,
        false,
        new asn1js.Sequence({ value: [distributionPoint] }),
      ),
    );
  }
  return out;
}

function extension(oid: string, critical: boolean, value: asn1js.AsnType): asn1js.Sequence {
  const fields: asn1js.AsnType[] = [new asn1js.ObjectIdentifier({ value: oid })];
  // `critical` is DEFAULT FALSE, so DER writes it only when true.
  if (critical) fields.push(new asn1js.Boolean({ value: true }));
  fields.push(new asn1js.OctetString({ valueHex: value.toBER() }));
  return new asn1js.Sequence({ value: fields });
}

/**
 * A DER named-bit BIT STRING (X.690 Section 11.2.2): trailing zero bits are dropped, so AWS's CA
 * usage {digitalSignature, keyCertSign, cRLSign} is 03 02 01 86 and the leaf's is 03 02 06 c0.
 */
function namedBits(bits: readonly number[]): asn1js.BitString {
  const highest = Math.max(...bits);
  const bytes = new Uint8Array((highest >> 3) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return new asn1js.BitString({ valueHex: bytes, unusedBits: 7 - (highest & 7) });
}

/** One attribute per RDN; countryName is a PrintableString, the rest UTF8String, as AWS's. */
function encodeName(rdns: readonly Rdn[]): asn1js.Sequence {
  return new asn1js.Sequence({
    value: rdns.map(
      ([type, value]) =>
        new asn1js.Set({
          value: [
            new asn1js.Sequence({
              value: [
                new asn1js.ObjectIdentifier({ value: ATTRIBUTE_OIDS[type] }),
                type === 'C'
                  ? new asn1js.PrintableString({ value })
                  : new asn1js.Utf8String({ value }),
              ],
            }),
          ],
        }),
    ),
  });
}

/** RFC 5280 Section 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
function x509Time(ms: number): asn1js.UTCTime | asn1js.GeneralizedTime {
  const valueDate = new Date(ms);
  return valueDate.getUTCFullYear() < 2050
    ? new asn1js.UTCTime({ valueDate })
    : new asn1js.GeneralizedTime({ valueDate });
}

function randomSerial(length: number): Uint8Array {
  const serial = new Uint8Array(randomBytes(length));
  // RFC 5280 Section 4.1.2.2: serials are positive; zero is the one value randomness must avoid.
  if (serial.every((b) => b === 0)) serial[length - 1] = 1;
  return serial;
}

/** A DER INTEGER read as unsigned: minimal length, with a 00 byte where the top bit is set. */
function positiveInteger(magnitude: Uint8Array): asn1js.Integer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  const valueHex = trimmed[0]! & 0x80 ? new Uint8Array([0, ...trimmed]) : new Uint8Array(trimmed);
  return new asn1js.Integer({ valueHex });
}
