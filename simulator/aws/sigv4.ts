/**
 * Server-side verification of AWS Signature Version 4 (header form), as the simulated KMS and
 * Secrets Manager endpoints need it: the unmodified AWS SDK v3 signs every request with static
 * credentials, and the simulator must refuse a request that was not signed by one of the
 * configured principals, or was altered after signing, exactly as AWS would.
 *
 * The steps follow the SigV4 specification ("Create a canonical request", "Create a string to
 * sign", "Derive a signing key", "Calculate the signature"), run in a fixed order:
 *
 *   1. parse the Authorization header                   MissingAuthenticationTokenException,
 *                                                       IncompleteSignatureException
 *   2. required signed headers, x-amz-date, session token IncompleteSignatureException,
 *                                                       UnrecognizedClientException
 *   3. credential scope: day, region, service, terminator InvalidSignatureException
 *   4. clock: x-amz-date within +-15 minutes of now        InvalidSignatureException
 *   5. access key is one of the configured credentials  UnrecognizedClientException
 *   6. payload hash (x-amz-content-sha256 must match)    InvalidSignatureException
 *   7. recompute the signature, constant-time compare    InvalidSignatureException
 *
 * Deliberately not supported (each refused, never skipped): query-string (presigned) auth,
 * the `Date` header instead of `x-amz-date`, `UNSIGNED-PAYLOAD`, SigV4a. A session token is
 * accepted only for a credential configured with one (temporary credentials, as an instance
 * role's), must then be present and signed, and is compared in constant time.
 *
 * Messages mirror AWS's wording where it is well known; none echo the secret key or signature.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AwsServiceError, type AwsCredential } from './errors.js';

/** What the verifier needs from an HTTP request; everything as it arrived on the wire. */
export interface SigV4Request {
  /** HTTP method, upper case (`POST`). */
  readonly method: string;
  /** The raw request-target path, still percent-encoded, without the query (`/`). */
  readonly path: string;
  /** The raw query string without the leading `?` (empty when there is none). */
  readonly query: string;
  /**
   * Header values by lower-case name. An array holds repeated headers in arrival order (Node's
   * `req.headersDistinct` has this shape); SigV4 joins repeats with a comma.
   */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The exact body bytes. */
  readonly body: Uint8Array;
}

/** The verifier's configuration: who may sign, for which scope, and what time it is. */
export interface SigV4Options {
  /** Signing name of the service (`kms`, `secretsmanager`). */
  readonly service: string;
  /** The only region a credential scope may name. */
  readonly region: string;
  readonly credentials: readonly AwsCredential[];
  /** The verifier's clock, a parameter so tests can move it. */
  readonly now: Date;
}

/** The parts of `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`. */
export interface ParsedAuthorization {
  readonly accessKeyId: string;
  /** `YYYYMMDD` from the credential scope. */
  readonly scopeDate: string;
  readonly scopeRegion: string;
  readonly scopeService: string;
  readonly scopeTerminator: string;
  /** Lower-case names, in the (sorted) order the client listed them. */
  readonly signedHeaders: readonly string[];
  /** 64 lower-case hex characters. */
  readonly signature: string;
}

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
/** AWS accepts a request whose x-amz-date is at most 15 minutes from its own clock. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/** AWS answers a missing token with 403 (see "Common Errors" in any AWS API reference). */
function missingAuthentication(): AwsServiceError {
  return new AwsServiceError(
    'MissingAuthenticationTokenException',
    'Request is missing Authentication Token',
    403,
  );
}

function incomplete(message: string): AwsServiceError {
  return new AwsServiceError('IncompleteSignatureException', message);
}

function invalidSignature(message: string): AwsServiceError {
  return new AwsServiceError('InvalidSignatureException', message);
}

function unrecognizedClient(): AwsServiceError {
  return new AwsServiceError(
    'UnrecognizedClientException',
    'The security token included in the request is invalid.',
  );
}

/**
 * The one value of a header that must not repeat. A repeated Authorization or x-amz-date is
 * ambiguous (which one did the client sign?), so it is refused rather than joined.
 */
function singleHeader(request: SigV4Request, name: string): string | undefined {
  const value = request.headers[name];
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (value.length === 0) return undefined;
  if (value.length > 1) throw incomplete(`The request carries more than one '${name}' header.`);
  return value[0];
}

/**
 * Parses the Authorization header value. Each of Credential, SignedHeaders and Signature must
 * appear exactly once; SignedHeaders must be lower case, sorted and free of duplicates (the
 * canonical request lists them in that order, so any other order cannot have been signed).
 */
export function parseAuthorization(value: string): ParsedAuthorization {
  const prefix = `${SIGV4_ALGORITHM} `;
  if (!value.startsWith(prefix)) {
    throw incomplete(`Authorization header must use the ${SIGV4_ALGORITHM} algorithm.`);
  }
  const fields = new Map<string, string>();
  for (const part of value.slice(prefix.length).split(',')) {
    const trimmed = part.trim();
    const eq = trimmed.indexOf('=');
    if (eq <= 0) throw incomplete(`Authorization header has a malformed component.`);
    const key = trimmed.slice(0, eq);
    if (fields.has(key)) throw incomplete(`Authorization header repeats '${key}'.`);
    fields.set(key, trimmed.slice(eq + 1));
  }
  for (const key of fields.keys()) {
    if (key !== 'Credential' && key !== 'SignedHeaders' && key !== 'Signature') {
      throw incomplete(`Authorization header has an unknown component '${key.slice(0, 32)}'.`);
    }
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw incomplete(
      "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.",
    );
  }

  const scope = credential.split('/');
  if (scope.length !== 5 || scope.some((p) => p.length === 0)) {
    throw incomplete(
      'Authorization Credential must be AccessKeyId/YYYYMMDD/region/service/aws4_request.',
    );
  }
  const [accessKeyId, scopeDate, scopeRegion, scopeService, scopeTerminator] = scope as [
    string,
    string,
    string,
    string,
    string,
  ];
  if (!/^\d{8}$/.test(scopeDate)) throw incomplete('Credential scope date must be YYYYMMDD.');

  const names = signedHeaders.split(';');
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    // RFC 9110 token characters, lower case: the canonical form of a header name.
    if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
      throw incomplete('SignedHeaders must list lower-case header names separated by semicolons.');
    }
    if (i > 0 && !(names[i - 1]! < name)) {
      throw incomplete('SignedHeaders must be sorted and must not repeat a name.');
    }
  }
  if (!/^[0-9a-f]{64}$/.test(signature)) {
    throw incomplete('Signature must be 64 lower-case hexadecimal characters.');
  }
  return {
    accessKeyId,
    scopeDate,
    scopeRegion,
    scopeService,
    scopeTerminator,
    signedHeaders: names,
    signature,
  };
}

/**
 * Parses `YYYYMMDDTHHMMSSZ` (ISO 8601 basic, UTC) strictly; returns undefined for anything else,
 * including impossible dates such as 20240230 (which `Date.UTC` would roll over).
 */
export function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (m === null) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  const roundTrip = date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  return roundTrip === value ? date : undefined;
}

/** Formats a Date as `YYYYMMDDTHHMMSSZ`, the form AWS uses in its clock-skew messages. */
export function formatAmzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

/**
 * RFC 3986 percent-encoding as SigV4 specifies it ("URI-encode every byte except the unreserved
 * characters A-Z a-z 0-9 - _ . ~"), with upper-case hex digits.
 */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * The canonical URI for every service but S3: remove empty, `.` and `..` segments, then
 * URI-encode the (already percent-encoded) wire path once more, keeping `/`. The SDK signs
 * `HttpRequest.path`, which is what it puts on the wire, so the two sides agree.
 */
export function canonicalPath(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  const normalized = `/${segments.join('/')}${trailing}`;
  return uriEncode(normalized).replace(/%2F/g, '/');
}

/**
 * The canonical query string: each name and value decoded from the wire, re-encoded with
 * {@link uriEncode}, then sorted by name and value. A component that does not decode is refused.
 */
export function canonicalQuery(rawQuery: string): string {
  if (rawQuery === '') return '';
  const pairs: [string, string][] = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    let decodedName: string;
    let decodedValue: string;
    try {
      decodedName = decodeURIComponent(name);
      decodedValue = decodeURIComponent(value);
    } catch {
      throw incomplete('The query string is not validly percent-encoded.');
    }
    pairs.push([uriEncode(decodedName), uriEncode(decodedValue)]);
  }
  pairs.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([n, v]) => `${n}=${v}`).join('&');
}

/** A header value in canonical form: repeats joined by commas, whitespace runs collapsed, trimmed. */
function canonicalHeaderValue(value: string | readonly string[]): string {
  const values = typeof value === 'string' ? [value] : value;
  return values
    .map((v) =>
      v
        .replace(/[\r\n]/g, ' ')
        .replace(/[ \t]+/g, ' ')
        .trim(),
    )
    .join(',');
}

/** SigV4 step 1: the canonical request, one field per line. */
export function canonicalRequest(
  request: SigV4Request,
  signedHeaders: readonly string[],
  payloadHash: string,
): string {
  const headerLines = signedHeaders.map((name) => {
    const value = request.headers[name];
    if (value === undefined || (typeof value !== 'string' && value.length === 0)) {
      throw incomplete(`Signed header '${name}' is not present in the request.`);
    }
    return `${name}:${canonicalHeaderValue(value)}\n`;
  });
  return [
    request.method,
    canonicalPath(request.path),
    canonicalQuery(request.query),
    headerLines.join(''),
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
}

/** SigV4 step 2: the string to sign. `scope` is `YYYYMMDD/region/service/aws4_request`. */
export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  const hashed = createHash('sha256').update(canonical, 'utf8').digest('hex');
  return `${SIGV4_ALGORITHM}\n${amzDate}\n${scope}\n${hashed}`;
}

/** SigV4 step 3: kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request"). */
export function deriveSigningKey(
  secretAccessKey: string,
  day: string,
  region: string,
  service: string,
): Buffer {
  let key: Buffer = createHmac('sha256', `AWS4${secretAccessKey}`).update(day, 'utf8').digest();
  for (const part of [region, service, 'aws4_request']) {
    key = createHmac('sha256', key).update(part, 'utf8').digest();
  }
  return key;
}

/**
 * Verifies a SigV4-signed request and returns the configured credential that signed it.
 * Throws {@link AwsServiceError} (MissingAuthenticationTokenException, IncompleteSignatureException,
 * InvalidSignatureException or UnrecognizedClientException) on any failure. Pure: it reads only
 * its arguments, so every refusal is unit-testable with a moved clock.
 */
export function verifySigV4(request: SigV4Request, options: SigV4Options): AwsCredential {
  // 1. Header auth only. A presigned URL is a bearer token that outlives the request it was
  // made for; nothing in this system needs one, so it is refused rather than half-supported.
  if (/(^|&)X-Amz-(Signature|Algorithm|Credential)=/i.test(request.query)) {
    throw incomplete('Query-string authentication is not supported by this endpoint.');
  }
  const authorization = singleHeader(request, 'authorization');
  if (authorization === undefined) throw missingAuthentication();
  const auth = parseAuthorization(authorization);

  // 2. Headers that must be present and covered by the signature. host binds the request to
  // this endpoint; x-amz-date bounds replay; x-amz-target names the operation, so an unsigned
  // target would let anyone on the path turn a signed GetSecretValue into a DeleteSecret.
  const amzDateValue = singleHeader(request, 'x-amz-date');
  if (amzDateValue === undefined) {
    throw incomplete("Authorization header requires existence of a 'X-Amz-Date' header.");
  }
  const signed = new Set(auth.signedHeaders);
  for (const name of ['host', 'x-amz-date']) {
    if (!signed.has(name)) throw incomplete(`'${name}' must be a signed header.`);
  }
  for (const name of Object.keys(request.headers)) {
    if (name.startsWith('x-amz-') && request.headers[name] !== undefined && !signed.has(name)) {
      throw incomplete(`Header '${name}' must be signed.`);
    }
  }
  const amzDate = parseAmzDate(amzDateValue);
  if (amzDate === undefined) {
    throw incomplete("'X-Amz-Date' must be an ISO 8601 basic timestamp (YYYYMMDDTHHMMSSZ).");
  }

  // 3. Credential scope. A signature for another day, region or service is a different key,
  // so it could never match; naming the reason helps whoever misconfigured the client.
  if (auth.scopeDate !== amzDateValue.slice(0, 8)) {
    throw invalidSignature(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.scopeDate}' != '${amzDateValue.slice(0, 8)}', from '${amzDateValue}'.`,
    );
  }
  if (auth.scopeRegion !== options.region) {
    throw invalidSignature(
      `Credential should be scoped to a valid region, not '${auth.scopeRegion.slice(0, 64)}'.`,
    );
  }
  if (auth.scopeService !== options.service) {
    throw invalidSignature(`Credential should be scoped to correct service: '${options.service}'.`);
  }
  if (auth.scopeTerminator !== 'aws4_request') {
    throw invalidSignature("Credential should be scoped with a valid terminator: 'aws4_request'.");
  }

  // 4. Clock. The SDK corrects its own skew from the Date header of this error response.
  const skew = amzDate.getTime() - options.now.getTime();
  if (skew < -MAX_CLOCK_SKEW_MS) {
    const limit = formatAmzDate(new Date(options.now.getTime() - MAX_CLOCK_SKEW_MS));
    throw invalidSignature(
      `Signature expired: ${amzDateValue} is now earlier than ${limit} (${formatAmzDate(options.now)} - 15 min.)`,
    );
  }
  if (skew > MAX_CLOCK_SKEW_MS) {
    const limit = formatAmzDate(new Date(options.now.getTime() + MAX_CLOCK_SKEW_MS));
    throw invalidSignature(
      `Signature not yet current: ${amzDateValue} is still later than ${limit} (${formatAmzDate(options.now)} + 15 min.)`,
    );
  }

  // 5. Access key. Key ids are not secret, so a plain lookup is fine; the secret is compared
  // only through the HMAC below.
  const credential = options.credentials.find((c) => c.accessKeyId === auth.accessKeyId);
  if (credential === undefined) throw unrecognizedClient();
  checkSessionToken(credential, singleHeader(request, 'x-amz-security-token'));

  // 6. Payload. When the client states the body hash it is part of the signature, so it must
  // be the hash of the body that actually arrived; otherwise the body could be swapped.
  const bodyHash = createHash('sha256').update(request.body).digest('hex');
  const declared = singleHeader(request, 'x-amz-content-sha256');
  if (declared !== undefined && declared !== bodyHash) {
    throw invalidSignature(
      'The provided x-amz-content-sha256 header does not match what was computed.',
    );
  }

  // 7. Signature, compared in constant time so response timing reveals nothing about how many
  // leading bytes of a forged signature were right.
  const scope = `${auth.scopeDate}/${auth.scopeRegion}/${auth.scopeService}/aws4_request`;
  const canonical = canonicalRequest(request, auth.signedHeaders, bodyHash);
  const key = deriveSigningKey(
    credential.secretAccessKey,
    auth.scopeDate,
    auth.scopeRegion,
    auth.scopeService,
  );
  const expected = createHmac('sha256', key)
    .update(stringToSign(amzDateValue, scope, canonical), 'utf8')
    .digest();
  const provided = Buffer.from(auth.signature, 'hex');
  if (!timingSafeEqual(expected, provided)) throw invalidSignature(SIGNATURE_MISMATCH);
  return credential;
}

/**
 * Temporary credentials are the triple (key id, secret, token): a key id of a long-term key with
 * a token, or a temporary key id without its token, is no credential at all. The token is
 * already covered by the signature (every x-amz-* header is), so this only checks it is the one
 * issued with the key.
 */
function checkSessionToken(credential: AwsCredential, token: string | undefined): void {
  if (credential.sessionToken === undefined) {
    if (token !== undefined) throw unrecognizedClient();
    return;
  }
  if (token === undefined) throw unrecognizedClient();
  const expected = createHash('sha256').update(credential.sessionToken, 'utf8').digest();
  const given = createHash('sha256').update(token, 'utf8').digest();
  if (!timingSafeEqual(expected, given)) throw unrecognizedClient();
}
