/**
 * The SigV4 verifier (simulator/aws/sigv4.ts) against requests signed by the AWS SDK's own
 * signer (@smithy/signature-v4, the code every SDK v3 client runs), against a request captured
 * from a real `KMSClient` on the wire, and against AWS's published "get-vanilla" example. Then
 * every refusal: each signed header, the body, path, query, clock, scope and key altered in turn,
 * and a property that no single-byte change of the body is accepted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { createServer } from 'node:http';
import fc from 'fast-check';
import { SignatureV4 } from '@smithy/signature-v4';
import { KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { AwsServiceError, type AwsCredential } from '../simulator/aws/errors.js';
import {
  canonicalQuery,
  parseAmzDate,
  uriEncode,
  verifySigV4,
  type SigV4Options,
  type SigV4Request,
} from '../simulator/aws/sigv4.js';

// ---------------------------------------------------------------------------------------------
// Signing with the SDK's signer.

type SourceData = string | ArrayBuffer | ArrayBufferView;

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** The `Checksum` shape the SDK signer wants (a hash, or an HMAC when given a key), on node:crypto. */
class NodeSha256 {
  private readonly state: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.state =
      secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: SourceData): void {
    this.state.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.state.digest());
  }
  reset(): void {
    throw new Error('not used by the signer');
  }
}

const PARTY: AwsCredential = {
  accessKeyId: 'AKIAPARTY1EXAMPLE',
  secretAccessKey: 'party-one-secret-key/with+symbols=',
  principal: 'arn:aws:iam::111122223333:role/mpc-kms-party-1',
};
const OTHER: AwsCredential = {
  accessKeyId: 'AKIAOTHEREXAMPLE',
  secretAccessKey: 'another-secret',
  principal: 'arn:aws:iam::111122223333:role/other',
};
const SIGNED_AT = new Date('2026-03-14T15:09:26Z');
const OPTIONS: SigV4Options = {
  service: 'kms',
  region: 'eu-west-1',
  credentials: [OTHER, PARTY],
  now: SIGNED_AT,
};

interface SignOptions {
  readonly path?: string;
  readonly query?: Record<string, string | string[]>;
  readonly body?: string;
  readonly credential?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  readonly applyChecksum?: boolean;
  readonly region?: string;
  readonly service?: string;
}

/** Signs a KMS-shaped request with the SDK signer and returns it as the verifier sees it. */
async function sdkSigned(opts: SignOptions = {}): Promise<SigV4Request> {
  const body = opts.body ?? '{"KeyId":"alias/mpc","Plaintext":"AQID"}';
  const signer = new SignatureV4({
    service: opts.service ?? 'kms',
    region: opts.region ?? 'eu-west-1',
    credentials: opts.credential ?? PARTY,
    sha256: NodeSha256,
    applyChecksum: opts.applyChecksum ?? true,
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 4566,
      path: opts.path ?? '/',
      query: opts.query ?? {},
      headers: {
        host: '127.0.0.1:4566',
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'TrentService.Encrypt',
        'content-length': String(Buffer.byteLength(body)),
        'user-agent': 'aws-sdk-js/3 test',
      },
      body,
    },
    { signingDate: SIGNED_AT },
  );
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) headers[name.toLowerCase()] = value;
  const query = Object.entries(opts.query ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${uriEncode(k)}=${uriEncode(x)}`))
    .join('&');
  return {
    method: signed.method,
    path: signed.path,
    query,
    headers,
    body: new Uint8Array(Buffer.from(body, 'utf8')),
  };
}

function withHeader(
  request: SigV4Request,
  name: string,
  value: string | readonly string[] | undefined,
): SigV4Request {
  return { ...request, headers: { ...request.headers, [name]: value } };
}

/** Asserts that verification fails with exactly this AWS error type (and optional message part). */
function refuses(
  request: SigV4Request,
  type: string,
  options: SigV4Options = OPTIONS,
  messagePart?: string,
): void {
  assert.throws(
    () => verifySigV4(request, options),
    (error: unknown) => {
      assert.ok(error instanceof AwsServiceError, `expected AwsServiceError, got ${String(error)}`);
      assert.equal(error.type, type, error.message);
      if (messagePart !== undefined) assert.match(error.message, new RegExp(messagePart));
      return true;
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Accepted requests.

test('a request signed by the SDK signer verifies and names its credential', async () => {
  const request = await sdkSigned();
  assert.ok(request.headers['x-amz-content-sha256'], 'the SDK signer states the body hash');
  assert.equal(verifySigV4(request, OPTIONS), PARTY);
});

test('a request without x-amz-content-sha256 verifies over the body hash', async () => {
  const request = await sdkSigned({ applyChecksum: false });
  assert.equal(request.headers['x-amz-content-sha256'], undefined);
  assert.equal(verifySigV4(request, OPTIONS), PARTY);
});

test('clock skew up to 15 minutes either way is accepted', async () => {
  const request = await sdkSigned();
  for (const minutes of [-15, -14, 14, 15]) {
    const now = new Date(SIGNED_AT.getTime() + minutes * 60_000);
    assert.equal(verifySigV4(request, { ...OPTIONS, now }), PARTY);
  }
});

test('unsigned headers outside x-amz-* may be added or changed (proxies do)', async () => {
  const request = await sdkSigned();
  assert.equal(verifySigV4(withHeader(request, 'user-agent', 'other'), OPTIONS), PARTY);
  assert.equal(verifySigV4(withHeader(request, 'accept', '*/*'), OPTIONS), PARTY);
});

test('paths and query strings canonicalize as the SDK signs them', async () => {
  const request = await sdkSigned({
    path: '/a/./b/../c%20d/',
    query: { b: ['2', '1'], a: "it's (x)*", 'Z~': '' },
  });
  assert.equal(verifySigV4(request, OPTIONS), PARTY);
});

test('property: any query map, in any order and either percent-encoding, verifies', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.string({ maxLength: 8 }), {
        maxKeys: 4,
      }),
      fc.boolean(),
      async (query, reverse) => {
        // X-Amz-* names would be read as presigned auth; not this property's subject.
        fc.pre(Object.keys(query).every((k) => !/^x-amz-/i.test(k)));
        const request = await sdkSigned({ query });
        // The wire may use encodeURIComponent (which leaves !'()* alone) and any order.
        const parts = Object.entries(query).map(
          ([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`,
        );
        if (reverse) parts.reverse();
        assert.equal(verifySigV4({ ...request, query: parts.join('&') }, OPTIONS), PARTY);
      },
    ),
    { numRuns: 100 },
  );
});

test('a request captured from a real KMSClient on the wire verifies', async () => {
  // A tiny server records exactly what the SDK sent; the verifier then judges it offline.
  let captured: SigV4Request | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const [path = '', query = ''] = (req.url ?? '').split('?');
      captured = {
        method: req.method ?? '',
        path,
        query,
        headers: req.headersDistinct,
        body: new Uint8Array(Buffer.concat(chunks)),
      };
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end('{"Keys":[]}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const client = new KMSClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'eu-west-1',
    credentials: PARTY,
    maxAttempts: 1,
  });
  try {
    await client.send(new ListKeysCommand({ Limit: 10 }));
  } finally {
    client.destroy();
    server.close();
  }
  assert.ok(captured);
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(String(captured.headers['authorization']));
  // What the SDK signs (see the report to the KMS author): all of these, x-amz-target included.
  assert.deepEqual(signedHeaders?.[1]?.split(';'), [
    'amz-sdk-invocation-id',
    'amz-sdk-request',
    'content-length',
    'content-type',
    'host',
    'x-amz-content-sha256',
    'x-amz-date',
    'x-amz-target',
    'x-amz-user-agent',
  ]);
  assert.equal(verifySigV4(captured, { ...OPTIONS, now: new Date() }), PARTY);
});

test("AWS's published get-vanilla example verifies", () => {
  // From the AWS SigV4 test suite: GET / on example.amazonaws.com, signed by AKIDEXAMPLE.
  const request: SigV4Request = {
    method: 'GET',
    path: '/',
    query: '',
    headers: {
      host: 'example.amazonaws.com',
      'x-amz-date': '20150830T123600Z',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ' +
        'SignedHeaders=host;x-amz-date, ' +
        'Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    },
    body: new Uint8Array(),
  };
  const example: AwsCredential = {
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
    principal: 'arn:aws:iam::123456789012:user/example',
  };
  const options: SigV4Options = {
    service: 'service',
    region: 'us-east-1',
    credentials: [example],
    now: new Date('2015-08-30T12:36:00Z'),
  };
  assert.equal(verifySigV4(request, options), example);
});

// ---------------------------------------------------------------------------------------------
// Refusals.

test('altering any signed header is refused', async () => {
  const request = await sdkSigned();
  const signed = /SignedHeaders=([^,]+)/.exec(String(request.headers['authorization']))![1]!;
  for (const name of signed.split(';')) {
    const original = String(request.headers[name]);
    // Same length and day where it matters, so the failure is the signature itself.
    const altered =
      name === 'x-amz-date'
        ? original.replace(/\d(?=Z$)/, (d) => String((Number(d) + 1) % 10))
        : name === 'x-amz-content-sha256'
          ? createHash('sha256').update('other').digest('hex')
          : `${original}x`;
    refuses(withHeader(request, name, altered), 'InvalidSignatureException', OPTIONS);
  }
});

test('removing a signed header is refused', async () => {
  const request = await sdkSigned();
  refuses(withHeader(request, 'content-type', undefined), 'IncompleteSignatureException');
  refuses(withHeader(request, 'host', undefined), 'IncompleteSignatureException');
});

test('altering the body, path, query or method is refused', async () => {
  const request = await sdkSigned();
  const body = new Uint8Array(Buffer.from('{"KeyId":"alias/evil","Plaintext":"AQID"}'));
  refuses({ ...request, body }, 'InvalidSignatureException', OPTIONS, 'x-amz-content-sha256');
  refuses({ ...request, path: '/other' }, 'InvalidSignatureException');
  refuses({ ...request, query: 'a=1' }, 'InvalidSignatureException');
  refuses({ ...request, method: 'PUT' }, 'InvalidSignatureException');

  // Without a stated body hash, the body reaches the signature through the canonical request.
  const bare = await sdkSigned({ applyChecksum: false });
  refuses({ ...bare, body }, 'InvalidSignatureException', OPTIONS, 'signature we calculated');
});

test('a signature older or newer than 15 minutes is refused', async () => {
  const request = await sdkSigned();
  const later = new Date(SIGNED_AT.getTime() + 16 * 60_000);
  const earlier = new Date(SIGNED_AT.getTime() - 16 * 60_000);
  refuses(request, 'InvalidSignatureException', { ...OPTIONS, now: later }, 'Signature expired');
  refuses(
    request,
    'InvalidSignatureException',
    { ...OPTIONS, now: earlier },
    'Signature not yet current',
  );
});

test('another region, service or scope day is refused', async () => {
  const request = await sdkSigned();
  refuses(request, 'InvalidSignatureException', { ...OPTIONS, region: 'us-east-1' }, 'region');
  refuses(
    request,
    'InvalidSignatureException',
    { ...OPTIONS, service: 'secretsmanager' },
    'service',
  );
  refuses(await sdkSigned({ region: 'us-east-1' }), 'InvalidSignatureException', OPTIONS, 'region');
  refuses(await sdkSigned({ service: 'sts' }), 'InvalidSignatureException', OPTIONS, 'service');
  // A scope day that differs from x-amz-date's.
  const auth = String(request.headers['authorization']).replace('/20260314/', '/20260313/');
  refuses(withHeader(request, 'authorization', auth), 'InvalidSignatureException', OPTIONS, 'Date');
});

test('a wrong secret key is refused; an unknown access key is unrecognized', async () => {
  const wrongSecret = await sdkSigned({
    credential: { accessKeyId: PARTY.accessKeyId, secretAccessKey: 'not-the-secret' },
  });
  refuses(wrongSecret, 'InvalidSignatureException', OPTIONS, 'signature we calculated');
  const unknown = await sdkSigned({
    credential: { accessKeyId: 'AKIAUNKNOWN', secretAccessKey: PARTY.secretAccessKey },
  });
  refuses(unknown, 'UnrecognizedClientException');
});

test('a session token is refused for a long-term key and required for a temporary one', async () => {
  const withToken = await sdkSigned({ credential: { ...PARTY, sessionToken: 'token' } });
  assert.ok(withToken.headers['x-amz-security-token']);
  refuses(withToken, 'UnrecognizedClientException');

  const temporary: AwsCredential = { ...PARTY, sessionToken: 'FwoGZXIvYXdzEJr//session+token=' };
  const options: SigV4Options = { ...OPTIONS, credentials: [OTHER, temporary] };
  const good = await sdkSigned({ credential: temporary });
  assert.equal(verifySigV4(good, options), temporary);
  const withoutToken = await sdkSigned({ credential: PARTY });
  refuses(withoutToken, 'UnrecognizedClientException', options);
  const otherToken = await sdkSigned({ credential: { ...temporary, sessionToken: 'not-it' } });
  refuses(otherToken, 'UnrecognizedClientException', options);
  // A token swapped after signing (the header is also covered by the signature).
  const swapped = withHeader(good, 'x-amz-security-token', 'not-it');
  refuses(swapped, 'UnrecognizedClientException', options);
});

test('missing or garbled authorization is refused with the matching type', async () => {
  const request = await sdkSigned();
  const auth = String(request.headers['authorization']);
  refuses(withHeader(request, 'authorization', undefined), 'MissingAuthenticationTokenException');
  assert.throws(
    () => verifySigV4(withHeader(request, 'authorization', undefined), OPTIONS),
    (e: unknown) => e instanceof AwsServiceError && e.status === 403,
  );
  const garbled = [
    'Bearer abc',
    auth.replace('AWS4-HMAC-SHA256', 'AWS4-ECDSA-P256-SHA256'),
    auth.replace(/, Signature=[0-9a-f]+/, ''),
    auth.replace(/Signature=[0-9a-f]+/, 'Signature=xyz'),
    auth.replace(/SignedHeaders=[^,]+/, 'SignedHeaders=x-amz-date;host'), // unsorted
    auth.replace(/SignedHeaders=[^,]+/, 'SignedHeaders=content-type;x-amz-date'), // no host
    auth.replace(/Credential=[^,]+/, 'Credential=AKIAPARTY1EXAMPLE/20260314/eu-west-1/kms'),
    `${auth}, Signature=${'0'.repeat(64)}`,
  ];
  for (const value of garbled) {
    refuses(withHeader(request, 'authorization', value), 'IncompleteSignatureException');
  }
  refuses(withHeader(request, 'x-amz-date', undefined), 'IncompleteSignatureException');
  refuses(
    withHeader(request, 'x-amz-date', '2026-03-14T15:09:26Z'),
    'IncompleteSignatureException',
  );
  refuses(withHeader(request, 'authorization', [auth, auth]), 'IncompleteSignatureException');
  refuses({ ...request, query: 'X-Amz-Signature=00' }, 'IncompleteSignatureException');
});

test('an unsigned x-amz-* header is refused (x-amz-target must be covered)', async () => {
  const request = await sdkSigned();
  const auth = String(request.headers['authorization']).replace(';x-amz-target', '');
  refuses(
    withHeader(request, 'authorization', auth),
    'IncompleteSignatureException',
    OPTIONS,
    'x-amz-target',
  );
  refuses(withHeader(request, 'x-amz-extra', '1'), 'IncompleteSignatureException');
});

test('property: every single-byte mutation of the body is refused', async () => {
  for (const applyChecksum of [true, false]) {
    const request = await sdkSigned({ applyChecksum });
    fc.assert(
      fc.property(
        fc.nat({ max: request.body.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (index, delta) => {
          const body = Uint8Array.from(request.body);
          body[index] = (body[index]! + delta) & 0xff;
          refuses({ ...request, body }, 'InvalidSignatureException');
        },
      ),
      { numRuns: 300 },
    );
  }
});

test('helpers: strict x-amz-date parsing and query canonicalization', () => {
  assert.equal(parseAmzDate('20260314T150926Z')?.toISOString(), '2026-03-14T15:09:26.000Z');
  for (const bad of [
    '20260230T000000Z',
    '20260314T150926',
    '20260314T246000Z',
    ' 20260314T150926Z',
  ]) {
    assert.equal(parseAmzDate(bad), undefined, bad);
  }
  assert.equal(canonicalQuery('b=2&a=%7e&a=1&c'), 'a=1&a=~&b=2&c=');
  assert.equal(canonicalQuery("x=it's"), 'x=it%27s');
  assert.throws(() => canonicalQuery('a=%zz'), AwsServiceError);
});
