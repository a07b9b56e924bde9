/**
 * Key policies of the simulated KMS, pure: what parses and what is refused (every unsupported
 * element by name), and IAM's evaluation rules: explicit deny wins, conditions AND across keys
 * and OR across values, case-insensitive key names and actions, the account root, absent keys,
 * wildcards. A property test checks that evaluation of any policy built from the supported
 * pieces never throws and always returns a decision.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  KeyPolicyError,
  MAX_KEY_POLICY_BYTES,
  defaultKeyPolicyText,
  evaluateKeyPolicy,
  parseKeyPolicy,
  wildcardMatch,
  type KeyPolicyRequest,
} from '../simulator/aws/kms-policy.js';

const ACCOUNT = '111122223333';
const ADMIN = `arn:aws:iam::${ACCOUNT}:user/admin`;
const ENCLAVE = `arn:aws:iam::${ACCOUNT}:role/enclave`;
const OTHER = 'arn:aws:iam::444455556666:role/intruder';
const KEY_ARN = `arn:aws:kms:us-east-1:${ACCOUNT}:key/0d9b7c3e-4a51-4c1f-9a7e-2f6b8d1e5c00`;
const PCR0 = 'ab'.repeat(48);
const PCR8 = 'cd'.repeat(48);

function policy(...statements: object[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

function request(overrides: Partial<KeyPolicyRequest> = {}): KeyPolicyRequest {
  return {
    action: 'kms:Decrypt',
    principal: ENCLAVE,
    account: ACCOUNT,
    keyArn: KEY_ARN,
    conditions: new Map(),
    ...overrides,
  };
}

function refused(json: string, pattern: RegExp, code: 'MALFORMED' | 'UNSUPPORTED'): void {
  assert.throws(
    () => parseKeyPolicy(json),
    (err: unknown) => {
      assert.ok(err instanceof KeyPolicyError, `expected KeyPolicyError, got ${String(err)}`);
      assert.equal(err.code, code);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

const allowDecrypt = {
  Sid: 'EnclaveDecrypt',
  Effect: 'Allow',
  Principal: { AWS: ENCLAVE },
  Action: 'kms:Decrypt',
  Resource: '*',
};

test('parse: accepts the AWS default policy and a typical enclave policy', () => {
  const p = parseKeyPolicy(defaultKeyPolicyText(ACCOUNT));
  assert.equal(p.statements.length, 1);
  assert.equal(p.statements[0]!.label, 'statement "Enable IAM User Permissions"');
  const q = parseKeyPolicy(
    JSON.stringify({
      Version: '2008-10-17',
      Id: 'x',
      Statement: {
        ...allowDecrypt,
        Action: ['kms:Decrypt', 'KMS:GenerateDataKey'],
        Condition: {
          StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': PCR0 },
          StringEquals: { 'KMS:RecipientAttestation:PCR8': [PCR8, PCR0] },
        },
      },
    }),
  );
  const s = q.statements[0]!;
  assert.deepEqual(s.actions, ['kms:decrypt', 'kms:generatedatakey']);
  assert.deepEqual(
    s.conditions.map((c) => c.key),
    ['kms:recipientattestation:imagesha384', 'kms:recipientattestation:pcr8'],
  );
});

test('parse: refuses each unsupported element by name', () => {
  refused(
    policy({ ...allowDecrypt, NotAction: 'kms:Encrypt' }),
    /element NotAction is not supported by the simulator/,
    'UNSUPPORTED',
  );
  refused(
    policy({ ...allowDecrypt, NotPrincipal: { AWS: ADMIN } }),
    /element NotPrincipal is not supported/,
    'UNSUPPORTED',
  );
  refused(
    policy({ ...allowDecrypt, NotResource: '*' }),
    /element NotResource is not supported/,
    'UNSUPPORTED',
  );
  refused(
    policy({ ...allowDecrypt, Condition: { StringLike: { 'kms:CallerAccount': '1*' } } }),
    /operator StringLike is not supported by the simulator/,
    'UNSUPPORTED',
  );
  refused(
    policy({
      ...allowDecrypt,
      Condition: { StringEqualsIfExists: { 'kms:CallerAccount': ACCOUNT } },
    }),
    /operator StringEqualsIfExists is not supported/,
    'UNSUPPORTED',
  );
  refused(
    policy({
      ...allowDecrypt,
      Condition: { 'ForAnyValue:StringEquals': { 'kms:CallerAccount': ACCOUNT } },
    }),
    /set operator ForAnyValue:StringEquals is not supported/,
    'UNSUPPORTED',
  );
  refused(
    policy({ ...allowDecrypt, Condition: { Bool: { 'aws:SecureTransport': 'true' } } }),
    /operator Bool is not supported/,
    'UNSUPPORTED',
  );
  refused(
    policy({ ...allowDecrypt, Condition: { StringEquals: { 'aws:SourceIp': '10.0.0.1' } } }),
    /condition key aws:SourceIp is not supported/,
    'UNSUPPORTED',
  );
  refused(
    policy({
      ...allowDecrypt,
      Condition: { StringEquals: { 'kms:RecipientAttestation:PCR32': PCR0 } },
    }),
    /condition key kms:RecipientAttestation:PCR32 is not supported/,
    'UNSUPPORTED',
  );
  refused(
    policy({ ...allowDecrypt, Principal: { Service: 'ec2.amazonaws.com' } }),
    /principal type Service is not supported/,
    'UNSUPPORTED',
  );
  refused(
    policy({
      ...allowDecrypt,
      Condition: { StringEquals: { 'aws:PrincipalArn': '${aws:username}' } },
    }),
    /a policy variable \(\$\{\.\.\.\}\) is not supported by the simulator/,
    'UNSUPPORTED',
  );
});

test('parse: refuses malformed documents with a precise message', () => {
  refused('{', /not valid JSON/, 'MALFORMED');
  refused('[]', /must be a JSON object/, 'MALFORMED');
  refused(
    JSON.stringify({ Version: '2012-10-18', Statement: allowDecrypt }),
    /Version must be/,
    'MALFORMED',
  );
  refused(JSON.stringify({ Statement: allowDecrypt }), /Version must be/, 'MALFORMED');
  refused(JSON.stringify({ Version: '2012-10-17', Statement: [] }), /no Statement/, 'MALFORMED');
  refused(JSON.stringify({ Version: '2012-10-17' }), /no Statement/, 'MALFORMED');
  refused(
    JSON.stringify({ Version: '2012-10-17', Statement: allowDecrypt, Extra: 1 }),
    /unknown top-level element Extra/,
    'MALFORMED',
  );
  refused(
    policy({ ...allowDecrypt, Effect: 'allow' }),
    /statement "EnclaveDecrypt": Effect must be/,
    'MALFORMED',
  );
  refused(policy({ ...allowDecrypt, Principal: undefined }), /needs a Principal/, 'MALFORMED');
  refused(
    policy({ ...allowDecrypt, Principal: { AWS: 'bob' } }),
    /"bob" is not an account id/,
    'MALFORMED',
  );
  refused(
    policy({ ...allowDecrypt, Action: [] }),
    /Action must be a string or a non-empty array/,
    'MALFORMED',
  );
  refused(
    policy({ ...allowDecrypt, Action: 'decrypt' }),
    /"decrypt" is not an action/,
    'MALFORMED',
  );
  refused(policy({ ...allowDecrypt, Resource: undefined }), /needs a Resource/, 'MALFORMED');
  refused(
    policy({ ...allowDecrypt, Sid: undefined, Resource: 'key' }),
    /statement #1: Resource "key"/,
    'MALFORMED',
  );
  refused(policy({ ...allowDecrypt, Effects: 'Allow' }), /unknown element Effects/, 'MALFORMED');
  refused(
    policy({ ...allowDecrypt, Condition: { StringEquals: { 'kms:CallerAccount': 111122223333 } } }),
    /StringEquals kms:CallerAccount must be a string/,
    'MALFORMED',
  );
  refused(
    policy({ ...allowDecrypt, Condition: { StringEquals: {} } }),
    /must map condition keys/,
    'MALFORMED',
  );
  // A duplicated member is read differently by different parsers: refuse it.
  refused(
    `{"Version":"2012-10-17","Statement":{"Sid":"a","Effect":"Deny","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}`,
    /member "Effect" appears twice/,
    'MALFORMED',
  );
  const big = policy({ ...allowDecrypt, Sid: 'x'.repeat(MAX_KEY_POLICY_BYTES) });
  refused(big, /at most 32768/, 'MALFORMED');
});

test('evaluate: an explicit deny beats any allow, whatever the order', () => {
  const deny = {
    Sid: 'DenyOutsiders',
    Effect: 'Deny',
    Principal: '*',
    Action: 'kms:*',
    Resource: '*',
    Condition: { StringNotEquals: { 'kms:CallerAccount': ACCOUNT } },
  };
  const allowAll = {
    Sid: 'Everyone',
    Effect: 'Allow',
    Principal: '*',
    Action: 'kms:*',
    Resource: '*',
  };
  const mine = new Map([['kms:calleraccount', ACCOUNT]]);
  const theirs = new Map([['kms:calleraccount', '444455556666']]);
  for (const p of [policy(allowAll, deny), policy(deny, allowAll)].map(parseKeyPolicy)) {
    assert.deepEqual(evaluateKeyPolicy(p, request({ conditions: mine })), {
      decision: 'allow',
      statement: 'statement "Everyone"',
    });
    const outsider = request({ principal: OTHER, account: '444455556666', conditions: theirs });
    assert.deepEqual(evaluateKeyPolicy(p, outsider), {
      decision: 'deny',
      reason: 'explicit deny in statement "DenyOutsiders"',
    });
  }
});

test('evaluate: conditions are AND across keys and operators, OR across values', () => {
  const p = parseKeyPolicy(
    policy({
      ...allowDecrypt,
      Condition: {
        StringEquals: {
          'kms:RecipientAttestation:ImageSha384': [PCR0, 'ef'.repeat(48)],
          'kms:EncryptionContext:party': '1',
        },
        StringEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR8': PCR8 },
      },
    }),
  );
  const all = new Map([
    ['kms:recipientattestation:imagesha384', PCR0],
    ['kms:recipientattestation:pcr8', PCR8],
    ['kms:encryptioncontext:party', '1'],
  ]);
  assert.equal(evaluateKeyPolicy(p, request({ conditions: all })).decision, 'allow');
  // The second allowed image (OR over values).
  const second = new Map(all).set('kms:recipientattestation:imagesha384', 'ef'.repeat(48));
  assert.equal(evaluateKeyPolicy(p, request({ conditions: second })).decision, 'allow');
  // Any one key wrong or absent refuses (AND).
  for (const key of all.keys()) {
    const wrong = new Map(all).set(key, '00');
    const d = evaluateKeyPolicy(p, request({ conditions: wrong }));
    assert.equal(d.decision, 'deny');
    const absent = new Map(all);
    absent.delete(key);
    const e = evaluateKeyPolicy(p, request({ conditions: absent }));
    assert.equal(e.decision, 'deny');
    assert.ok(e.decision === 'deny' && /absent from the request/.test(e.reason), String(key));
  }
});

test('evaluate: key names and actions are case-insensitive; IgnoreCase folds hex values', () => {
  const exact = parseKeyPolicy(
    policy({
      ...allowDecrypt,
      Action: 'KMS:DECRYPT',
      Condition: { StringEquals: { 'KMS:RECIPIENTATTESTATION:IMAGESHA384': PCR0 } },
    }),
  );
  const folded = parseKeyPolicy(
    policy({
      ...allowDecrypt,
      Condition: {
        StringEqualsIgnoreCase: { 'kms:recipientattestation:imagesha384': PCR0.toUpperCase() },
      },
    }),
  );
  const lower = new Map([['kms:recipientattestation:imagesha384', PCR0]]);
  const upper = new Map([['kms:recipientattestation:imagesha384', PCR0.toUpperCase()]]);
  // Request keys in any case are normalised too.
  const mixedKey = new Map([['kms:RecipientAttestation:ImageSha384', PCR0]]);
  assert.equal(
    evaluateKeyPolicy(exact, request({ action: 'kms:decrypt', conditions: lower })).decision,
    'allow',
  );
  assert.equal(evaluateKeyPolicy(exact, request({ conditions: mixedKey })).decision, 'allow');
  // StringEquals compares values exactly: upper-case hex is another value.
  assert.equal(evaluateKeyPolicy(exact, request({ conditions: upper })).decision, 'deny');
  assert.equal(evaluateKeyPolicy(folded, request({ conditions: lower })).decision, 'allow');
  assert.equal(evaluateKeyPolicy(folded, request({ conditions: upper })).decision, 'allow');
});

test('evaluate: a negated operator holds when the key is absent, as in IAM', () => {
  const p = parseKeyPolicy(
    policy(
      { Sid: 'All', Effect: 'Allow', Principal: { AWS: ENCLAVE }, Action: 'kms:*', Resource: '*' },
      {
        Sid: 'OnlyThisImage',
        Effect: 'Deny',
        Principal: '*',
        Action: 'kms:Decrypt',
        Resource: '*',
        Condition: { StringNotEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': PCR0 } },
      },
    ),
  );
  const ok = new Map([['kms:recipientattestation:imagesha384', PCR0]]);
  const bad = new Map([['kms:recipientattestation:imagesha384', '00'.repeat(48)]]);
  assert.equal(evaluateKeyPolicy(p, request({ conditions: ok })).decision, 'allow');
  assert.deepEqual(evaluateKeyPolicy(p, request({ conditions: bad })), {
    decision: 'deny',
    reason: 'explicit deny in statement "OnlyThisImage"',
  });
  // No attestation at all: the deny applies (absent key satisfies StringNotEquals).
  assert.equal(evaluateKeyPolicy(p, request()).decision, 'deny');
  // Other actions are untouched.
  assert.equal(evaluateKeyPolicy(p, request({ action: 'kms:Encrypt' })).decision, 'allow');
});

test('evaluate: the account root and the bare account id stand for every principal of it', () => {
  for (const principal of [`arn:aws:iam::${ACCOUNT}:root`, ACCOUNT]) {
    const p = parseKeyPolicy(
      policy({ Effect: 'Allow', Principal: { AWS: [principal] }, Action: 'kms:*', Resource: '*' }),
    );
    assert.equal(evaluateKeyPolicy(p, request({ principal: ADMIN })).decision, 'allow');
    assert.equal(evaluateKeyPolicy(p, request({ principal: ENCLAVE })).decision, 'allow');
    const d = evaluateKeyPolicy(p, request({ principal: OTHER, account: '444455556666' }));
    assert.deepEqual(d, { decision: 'deny', reason: 'no statement allows kms:Decrypt' });
  }
  // A named role is exactly that role.
  const p = parseKeyPolicy(policy(allowDecrypt));
  assert.equal(evaluateKeyPolicy(p, request({ principal: ADMIN })).decision, 'deny');
});

test('evaluate: wildcard actions and resources', () => {
  const p = parseKeyPolicy(
    policy({
      Sid: 'Gen',
      Effect: 'Allow',
      Principal: '*',
      Action: ['kms:Generate*', 'kms:Describe?ey'],
      Resource: `arn:aws:kms:us-east-1:${ACCOUNT}:key/*`,
    }),
  );
  assert.equal(evaluateKeyPolicy(p, request({ action: 'kms:GenerateDataKey' })).decision, 'allow');
  assert.equal(evaluateKeyPolicy(p, request({ action: 'kms:GenerateRandom' })).decision, 'allow');
  assert.equal(evaluateKeyPolicy(p, request({ action: 'kms:DescribeKey' })).decision, 'allow');
  assert.equal(evaluateKeyPolicy(p, request({ action: 'kms:Decrypt' })).decision, 'deny');
  const elsewhere = KEY_ARN.replace('us-east-1', 'eu-west-1');
  assert.equal(
    evaluateKeyPolicy(p, request({ action: 'kms:GenerateDataKey', keyArn: elsewhere })).decision,
    'deny',
  );
  assert.ok(wildcardMatch('a*b?c', 'axxbyc'));
  assert.ok(!wildcardMatch('a*b?c', 'axxbc'));
  assert.ok(wildcardMatch('*', ''));
  assert.ok(!wildcardMatch('?', ''));
});

test('evaluate: an implicit deny names the action and the condition that failed', () => {
  const p = parseKeyPolicy(
    policy({
      ...allowDecrypt,
      Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': PCR0 } },
    }),
  );
  assert.deepEqual(evaluateKeyPolicy(p, request()), {
    decision: 'deny',
    reason:
      'no statement allows kms:Decrypt; statement "EnclaveDecrypt" allows it only when ' +
      'StringEqualsIgnoreCase kms:RecipientAttestation:ImageSha384 is not met ' +
      '(the key is absent from the request)',
  });
});

// ---------------------------------------------------------------------------------------------
// Property: any policy assembled from the supported pieces parses, and evaluating it on any
// well-formed request returns a decision without throwing.

const principalArb = fc.constantFrom(
  '*',
  ENCLAVE,
  ADMIN,
  OTHER,
  ACCOUNT,
  `arn:aws:iam::${ACCOUNT}:root`,
);
const actionArb = fc.constantFrom(
  '*',
  'kms:*',
  'kms:Decrypt',
  'KMS:generate*',
  'kms:?ncrypt',
  'kms:Describe*',
);
const keyArb = fc.constantFrom(
  'kms:RecipientAttestation:ImageSha384',
  'kms:RecipientAttestation:PCR0',
  'kms:RecipientAttestation:PCR8',
  'kms:EncryptionContext:party',
  'kms:CallerAccount',
  'aws:PrincipalArn',
);
const valueArb = fc.constantFrom(PCR0, PCR0.toUpperCase(), PCR8, ACCOUNT, '1', '', ENCLAVE);
const operatorArb = fc.constantFrom(
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
);
const oneOrMany = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof(arb, fc.array(arb, { minLength: 1, maxLength: 3 }));
const conditionArb = fc.dictionary(
  operatorArb,
  fc.dictionary(keyArb, oneOrMany(valueArb), { minKeys: 1, maxKeys: 3 }),
  {
    maxKeys: 3,
  },
);
const statementArb = fc.record(
  {
    Sid: fc.string({ maxLength: 8 }),
    Effect: fc.constantFrom('Allow', 'Deny'),
    Principal: fc.oneof(fc.constant('*'), fc.record({ AWS: oneOrMany(principalArb) })),
    Action: oneOrMany(actionArb),
    Resource: oneOrMany(fc.constantFrom('*', KEY_ARN, `arn:aws:kms:*:${ACCOUNT}:key/*`)),
    Condition: conditionArb,
  },
  { requiredKeys: ['Effect', 'Principal', 'Action', 'Resource'] },
);
const requestArb = fc.record({
  action: fc.constantFrom('kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:PutKeyPolicy'),
  principal: fc.constantFrom(ENCLAVE, ADMIN, OTHER),
  conditions: fc.dictionary(
    keyArb.map((k) => k.toLowerCase()),
    valueArb,
  ),
});

test('property: policies built from supported pieces parse, and evaluation never throws', () => {
  fc.assert(
    fc.property(
      fc.array(statementArb, { minLength: 1, maxLength: 4 }),
      requestArb,
      (statements, req) => {
        const p = parseKeyPolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }));
        const decision = evaluateKeyPolicy(p, {
          action: req.action,
          principal: req.principal,
          account: req.principal === OTHER ? '444455556666' : ACCOUNT,
          keyArn: KEY_ARN,
          conditions: new Map(Object.entries(req.conditions)),
        });
        assert.ok(decision.decision === 'allow' || decision.decision === 'deny');
        // An explicit deny can only come from a Deny statement, an allow only from an Allow one.
        if (decision.decision === 'allow') {
          assert.ok(statements.some((s) => s.Effect === 'Allow'));
        } else if (decision.reason.startsWith('explicit deny')) {
          assert.ok(statements.some((s) => s.Effect === 'Deny'));
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('property: a Deny statement identical to an Allow always wins', () => {
  fc.assert(
    fc.property(statementArb, requestArb, (statement, req) => {
      const allow = { ...statement, Effect: 'Allow', Sid: 'A' };
      const deny = { ...statement, Effect: 'Deny', Sid: 'D' };
      const p = parseKeyPolicy(JSON.stringify({ Version: '2012-10-17', Statement: [allow, deny] }));
      const decision = evaluateKeyPolicy(p, {
        action: req.action,
        principal: req.principal,
        account: req.principal === OTHER ? '444455556666' : ACCOUNT,
        keyArn: KEY_ARN,
        conditions: new Map(Object.entries(req.conditions)),
      });
      assert.equal(decision.decision, 'deny');
    }),
    { numRuns: 300 },
  );
});
