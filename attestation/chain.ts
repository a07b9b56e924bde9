/**
 * The certificate chain of an attestation document: leaf (the enclave's signing certificate),
 * then `cabundle` from the leaf's issuer back up to the root. AWS orders the bundle root first
 * (`cabundle[0]` is the root, `cabundle[n-1]` issued the leaf), so the path walked here is
 * `leaf, cabundle[n-1], …, cabundle[0]`.
 *
 * Real Nitro chains are five certificates: root (30 years) > regional (~20 days, pathLen 2) >
 * zonal (~6 days, pathLen 1) > instance (24 h, pathLen 0) > enclave leaf (~3 h). Every check
 * below holds for them; see the tests over the real documents.
 */
import { X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { equalBytes } from '../protocol/bytes.js';
import { AttestationError, type CertificateSummary } from './types.js';

const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
/** KeyUsage bit numbers (RFC 5280 §4.2.1.3). */
const DIGITAL_SIGNATURE = 0;
const KEY_CERT_SIGN = 5;

/** A certificate parsed twice: by OpenSSL (signatures, names) and by PKI.js (extensions, dates). */
export interface ParsedCertificate {
  readonly der: Uint8Array;
  readonly x509: X509Certificate;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Absent extension: null. */
  readonly basicConstraints: { readonly ca: boolean; readonly pathLen?: number } | null;
  /** The KeyUsage bit string's bytes; absent extension: null. */
  readonly keyUsage: Uint8Array | null;
  /** OIDs of critical extensions this verifier does not process. */
  readonly unhandledCritical: readonly string[];
}

function malformed(message: string): never {
  throw new AttestationError('MALFORMED', message);
}

function chainInvalid(message: string): never {
  throw new AttestationError('CHAIN_INVALID', message);
}

/** One DER value filling `bytes` exactly: trailing bytes would be data no parser looked at. */
function berWhole(bytes: Uint8Array, what: string): asn1js.AsnType {
  const parsed = asn1js.fromBER(bytes);
  if (parsed.offset === -1 || parsed.offset !== bytes.length)
    malformed(`${what} is not one DER value`);
  return parsed.result;
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL } */
function parseBasicConstraints(value: Uint8Array, label: string) {
  const seq = berWhole(value, `${label} basicConstraints`);
  if (!(seq instanceof asn1js.Sequence)) malformed(`${label} basicConstraints is not a SEQUENCE`);
  const items = seq.valueBlock.value;
  let i = 0;
  let ca = false;
  let pathLen: number | undefined;
  if (items[i] instanceof asn1js.Boolean) ca = (items[i++] as asn1js.Boolean).getValue();
  if (items[i] instanceof asn1js.Integer) {
    const n = (items[i++] as asn1js.Integer).toBigInt();
    if (n < 0n || n > 255n) malformed(`${label} pathLenConstraint out of range`);
    pathLen = Number(n);
  }
  if (i !== items.length) malformed(`${label} basicConstraints has unexpected content`);
  return pathLen === undefined ? { ca } : { ca, pathLen };
}

/** KeyUsage ::= BIT STRING */
function parseKeyUsage(value: Uint8Array, label: string): Uint8Array {
  const bits = berWhole(value, `${label} keyUsage`);
  if (!(bits instanceof asn1js.BitString)) malformed(`${label} keyUsage is not a BIT STRING`);
  return new Uint8Array(bits.valueBlock.valueHexView);
}

function hasUsage(keyUsage: Uint8Array, bit: number): boolean {
  return ((keyUsage[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) !== 0;
}

/**
 * Parses a DER certificate with both OpenSSL and PKI.js; any disagreement or leftover byte is
 * MALFORMED, as is a repeated extension (RFC 5280 §4.2: at most one instance of each).
 */
export function parseCertificate(der: Uint8Array, label: string): ParsedCertificate {
  let cert: pkijs.Certificate;
  let x509: X509Certificate;
  try {
    cert = new pkijs.Certificate({ schema: berWhole(der, label) });
    x509 = new X509Certificate(der);
  } catch (err) {
    if (err instanceof AttestationError) throw err;
    return malformed(`${label} is not an X.509 certificate`);
  }
  let basicConstraints: ParsedCertificate['basicConstraints'] = null;
  let keyUsage: Uint8Array | null = null;
  const unhandledCritical: string[] = [];
  const seen = new Set<string>();
  for (const ext of cert.extensions ?? []) {
    if (seen.has(ext.extnID)) malformed(`${label} repeats extension ${ext.extnID}`);
    seen.add(ext.extnID);
    const value = new Uint8Array(ext.extnValue.valueBlock.valueHexView);
    if (ext.extnID === OID_BASIC_CONSTRAINTS)
      basicConstraints = parseBasicConstraints(value, label);
    else if (ext.extnID === OID_KEY_USAGE) keyUsage = parseKeyUsage(value, label);
    else if (ext.critical) unhandledCritical.push(ext.extnID);
  }
  return {
    der,
    x509,
    notBefore: cert.notBefore.value,
    notAfter: cert.notAfter.value,
    basicConstraints,
    keyUsage,
    unhandledCritical,
  };
}

/** RFC 4514 order (most specific first) on one line; OpenSSL has already escaped the values. */
function subjectLine(x509: X509Certificate): string {
  return x509.subject.split('\n').reverse().join(',');
}

function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.000Z$/, 'Z');
}

/** `cert` names `issuer` as its issuer and carries a signature that issuer's key verifies. */
function issuedBy(cert: ParsedCertificate, issuer: ParsedCertificate): boolean {
  try {
    return cert.x509.checkIssued(issuer.x509) && cert.x509.verify(issuer.x509.publicKey);
  } catch {
    return false;
  }
}

/**
 * The X.509 checks of RFC 5280 §6.1 that apply to a fixed path with a pinned anchor.
 * `path[0]` is the leaf, `path[path.length - 1]` the anchor.
 */
function checkPath(path: readonly ParsedCertificate[], at: Date): void {
  const labelOf = (i: number) =>
    i === 0 ? 'leaf certificate' : `cabundle[${path.length - 1 - i}]`;
  path.forEach((cert, i) => {
    const label = labelOf(i);
    if (cert.unhandledCritical.length > 0) {
      // §4.2: a certificate with a critical extension the verifier cannot process must be refused.
      chainInvalid(`${label} has unhandled critical extension ${cert.unhandledCritical[0]}`);
    }
    // The anchor's self-signature is not checked: it is trusted for its exact bytes.
    if (i + 1 < path.length && !issuedBy(cert, path[i + 1]!)) {
      chainInvalid(`${label} is not issued and signed by the next certificate of the bundle`);
    }
    const bc = cert.basicConstraints;
    const ku = cert.keyUsage;
    if (i === 0) {
      // A CA certificate as leaf would let any intermediate's key sign documents directly.
      if (bc?.ca) chainInvalid('leaf certificate is a CA certificate');
      if (!ku || !hasUsage(ku, DIGITAL_SIGNATURE)) {
        chainInvalid('leaf certificate lacks the digitalSignature key usage');
      }
      return;
    }
    if (!bc?.ca) chainInvalid(`${label} is not a CA certificate (basicConstraints cA)`);
    // pathLen counts the CA certificates that may follow this one below it: here i - 1.
    if (bc.pathLen !== undefined && i - 1 > bc.pathLen) {
      chainInvalid(`${label} allows ${bc.pathLen} CA certificates below it, the path has ${i - 1}`);
    }
    if (!ku || !hasUsage(ku, KEY_CERT_SIGN))
      chainInvalid(`${label} lacks the keyCertSign key usage`);
  });
  // Times last, so that a broken chain reads as broken whatever the clock says.
  path.forEach((cert, i) => {
    const label = labelOf(i);
    const subject = subjectLine(cert.x509);
    if (cert.notAfter.getTime() < at.getTime()) {
      throw new AttestationError(
        'EXPIRED',
        `${label} (${subject}) expired at ${isoSeconds(cert.notAfter)}, verifying at ${at.toISOString()}`,
      );
    }
    if (cert.notBefore.getTime() > at.getTime()) {
      throw new AttestationError(
        'NOT_YET_VALID',
        `${label} (${subject}) is valid from ${isoSeconds(cert.notBefore)}, verifying at ${at.toISOString()}`,
      );
    }
  });
}

/**
 * Verifies an already-parsed leaf through `cabundle` (root first) to `root` at time `at`, and
 * returns the summaries leaf first. Throws AttestationError: UNTRUSTED_ROOT when `cabundle[0]`
 * is not byte-for-byte `root`; MALFORMED for an unparseable certificate; CHAIN_INVALID for a
 * broken link, a non-CA issuer, a violated pathLen or key usage, an unhandled critical
 * extension; EXPIRED / NOT_YET_VALID when a certificate is outside its validity at `at`.
 */
export function verifyParsedChain(
  leaf: ParsedCertificate,
  cabundle: readonly Uint8Array[],
  root: Uint8Array,
  at: Date,
): CertificateSummary[] {
  // The anchor is pinned by its exact bytes: no name matching, no search among candidates, so a
  // look-alike root with the same subject and a different key gets nowhere.
  if (cabundle.length === 0 || !equalBytes(cabundle[0]!, root)) {
    throw new AttestationError('UNTRUSTED_ROOT', 'cabundle[0] is not the trusted root certificate');
  }
  const path = [leaf];
  for (let i = cabundle.length - 1; i >= 0; i--) {
    path.push(parseCertificate(cabundle[i]!, `cabundle[${i}]`));
  }
  checkPath(path, at);
  return path.map((cert) => ({
    subject: subjectLine(cert.x509),
    notBefore: isoSeconds(cert.notBefore),
    notAfter: isoSeconds(cert.notAfter),
  }));
}

/**
 * Verifies a leaf certificate through a CA bundle ordered as AWS orders it (`cabundle[0]` the
 * root, the last element the leaf's issuer) to the trust anchor `root` (DER) at time `at`.
 * Returns the certificate summaries, leaf first; throws AttestationError as `verifyParsedChain`.
 */
export function verifyChain(
  leaf: Uint8Array,
  cabundle: readonly Uint8Array[],
  root: Uint8Array,
  at: Date,
): CertificateSummary[] {
  return verifyParsedChain(parseCertificate(leaf, 'leaf certificate'), cabundle, root, at);
}
