/**
 * KMS key policies for the simulated KMS: real JSON policy documents, parsed once into a typed
 * form and evaluated with IAM's rules. Pure: no clock, no files, no randomness.
 *
 * Why a real policy language rather than a flag such as "enclave only": the production system is
 * secured by exactly such documents (DESIGN.md, "Attestation and sealing": Decrypt only when
 * `kms:RecipientAttestation:ImageSha384` / `PCRn` equal the expected measurements). The simulator
 * should refuse what AWS refuses for the same document, so that a policy tested here means the
 * same thing when Terraform installs it in an account.
 *
 * The subset is deliberately small and everything outside it is refused with a precise message
 * instead of being half-understood: a policy evaluator that ignores an element it does not know
 * can grant what the author meant to deny. Supported:
 *
 * - `Version` "2012-10-17" or "2008-10-17"; optional `Id`; `Statement` (one object or a list).
 * - Per statement: `Sid`, `Effect` (Allow | Deny), `Principal` ("*" or `{"AWS": ...}`), `Action`,
 *   `Resource`, `Condition` with StringEquals, StringNotEquals, StringEqualsIgnoreCase and
 *   StringNotEqualsIgnoreCase.
 * - Condition keys the simulated KMS supplies (AWS KMS Developer Guide, "Condition keys for Nitro
 *   Enclaves" and "AWS KMS condition keys"): `kms:RecipientAttestation:ImageSha384` (PCR0),
 *   `kms:RecipientAttestation:PCR<n>` (AWS concatenates the PCR index to the key name),
 *   `kms:EncryptionContext:<context-key>`, `kms:CallerAccount`, and the global keys
 *   `aws:PrincipalArn` and `aws:PrincipalAccount`.
 *
 * Refused: NotAction, NotPrincipal, NotResource, every other operator (StringLike, Bool, ...),
 * `...IfExists`, the `ForAnyValue:` / `ForAllValues:` set qualifiers, policy variables, other
 * principal types (Service, Federated, CanonicalUser), condition keys the simulator never supplies
 * (a condition on them would silently behave differently from AWS), and JSON objects with a
 * duplicated member name (two readers of one document must not see two different policies).
 */

/** The largest key policy AWS KMS accepts: 32 KiB. */
export const MAX_KEY_POLICY_BYTES = 32 * 1024;

/** Thrown by {@link parseKeyPolicy}; the KMS service reports it as MalformedPolicyDocumentException. */
export class KeyPolicyError extends Error {
  override readonly name = 'KeyPolicyError';
  /** MALFORMED: not a valid policy at all. UNSUPPORTED: valid IAM, outside the simulator's subset. */
  readonly code: 'MALFORMED' | 'UNSUPPORTED';

  constructor(code: 'MALFORMED' | 'UNSUPPORTED', message: string) {
    super(message);
    this.code = code;
  }
}

/** The condition operators the simulator implements (IAM "String condition operators"). */
export type ConditionOperator =
  | 'StringEquals'
  | 'StringNotEquals'
  | 'StringEqualsIgnoreCase'
  | 'StringNotEqualsIgnoreCase';

const OPERATORS: readonly ConditionOperator[] = [
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
];

/** One `operator: { key: values }` test of a statement. */
export interface ConditionClause {
  readonly operator: ConditionOperator;
  /** The key as the policy spells it, for messages. */
  readonly keyName: string;
  /** The key lowercased: IAM condition key names are case-insensitive. */
  readonly key: string;
  /** Any one of these may match (OR); at least one. */
  readonly values: readonly string[];
}

/** One statement, normalised: every list is a list, every pattern is ready to match. */
export interface KeyPolicyStatement {
  /** `statement "Sid"`, or `statement #N` (1-based) without a Sid: how messages name it. */
  readonly label: string;
  readonly sid: string | null;
  readonly effect: 'Allow' | 'Deny';
  /** "*", a 12-digit account id, or an IAM/STS ARN. */
  readonly principals: readonly string[];
  /** Lowercased action patterns (`kms:decrypt`, `kms:generate*`, `*`). */
  readonly actions: readonly string[];
  /** "*" (in a key policy: this key) or ARN patterns. */
  readonly resources: readonly string[];
  /** All must hold (AND). */
  readonly conditions: readonly ConditionClause[];
}

declare const parsedPolicy: unique symbol;

/** A key policy that {@link parseKeyPolicy} accepted; nothing else can produce one. */
export interface KeyPolicy {
  readonly [parsedPolicy]: true;
  readonly version: '2012-10-17' | '2008-10-17';
  readonly id: string | null;
  readonly statements: readonly KeyPolicyStatement[];
  /** The document exactly as given: GetKeyPolicy returns it verbatim. */
  readonly text: string;
}

/** What {@link evaluateKeyPolicy} decides about. */
export interface KeyPolicyRequest {
  /** `kms:Decrypt`, `kms:PutKeyPolicy`, ... */
  readonly action: string;
  /** The caller's IAM ARN, as authenticated by SigV4. */
  readonly principal: string;
  /** The caller's 12-digit account. */
  readonly account: string;
  /** The ARN of the key the request uses. */
  readonly keyArn: string;
  /** Condition key -> value; keys lowercased (IAM compares key names case-insensitively). */
  readonly conditions: ReadonlyMap<string, string>;
}

export type KeyPolicyDecision =
  | { readonly decision: 'allow'; /** The statement that allowed it. */ readonly statement: string }
  | {
      readonly decision: 'deny';
      /** Which statement or rule refused; no secrets. */ readonly reason: string;
    };

// ---------------------------------------------------------------------------------------------
// Parsing

const ACCOUNT_ID = /^\d{12}$/;
// IAM users, roles and the account root; STS assumed roles. The partition may be aws, aws-cn, ...
const PRINCIPAL_ARN = /^arn:aws[a-z-]*:(iam|sts)::\d{12}:[\x21-\x7e]+$/;
const ACTION_PATTERN = /^(\*|[A-Za-z0-9*?-]+:[A-Za-z0-9*?]+)$/;
const PCR_KEY = /^kms:recipientattestation:pcr(\d{1,2})$/;
const CONTEXT_KEY_PREFIX = 'kms:encryptioncontext:';
const FIXED_KEYS = new Set([
  'kms:recipientattestation:imagesha384',
  'kms:calleraccount',
  'aws:principalarn',
  'aws:principalaccount',
]);
const POLICY_VARIABLE = 'a policy variable (${...})';
const STATEMENT_ELEMENTS = new Set([
  'Sid',
  'Effect',
  'Principal',
  'Action',
  'Resource',
  'Condition',
]);

function malformed(message: string): KeyPolicyError {
  return new KeyPolicyError('MALFORMED', message);
}

function unsupported(message: string): KeyPolicyError {
  return new KeyPolicyError('UNSUPPORTED', `${message} is not supported by the simulator`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string, or a non-empty list of strings, as a list. */
function stringList(value: unknown, where: string): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) {
    return value as string[];
  }
  throw malformed(`${where} must be a string or a non-empty array of strings`);
}

/**
 * Refuses a JSON text in which one object names a member twice. `JSON.parse` silently keeps the
 * last one, while a person (or another parser) reading the same text may take the first: a policy
 * reviewed as `"Effect": "Deny"` must not be enforced as `"Allow"`. The text has already parsed,
 * so this lexer only needs to track strings, nesting and commas.
 */
function refuseDuplicateMembers(text: string): void {
  const stack: { keys: Set<string> | null; expectKey: boolean }[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') stack.push({ keys: new Set(), expectKey: true });
    else if (c === '[') stack.push({ keys: null, expectKey: false });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      const top = stack.at(-1);
      if (top?.keys) top.expectKey = true;
    } else if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      const top = stack.at(-1);
      if (top?.keys && top.expectKey) {
        const name = JSON.parse(text.slice(start, i + 1)) as string;
        if (top.keys.has(name)) throw malformed(`member "${name}" appears twice in one object`);
        top.keys.add(name);
        top.expectKey = false;
      }
    }
  }
}

function parsePrincipal(value: unknown, label: string): string[] {
  if (value === undefined) throw malformed(`${label}: a key policy statement needs a Principal`);
  if (value === '*') return ['*'];
  if (!isRecord(value)) throw malformed(`${label}: Principal must be "*" or an object`);
  for (const type of Object.keys(value)) {
    if (type !== 'AWS') throw unsupported(`${label}: principal type ${type}`);
  }
  if (!('AWS' in value)) throw malformed(`${label}: Principal names no principal`);
  const principals = stringList(value['AWS'], `${label}: Principal.AWS`);
  for (const principal of principals) {
    if (principal !== '*' && !ACCOUNT_ID.test(principal) && !PRINCIPAL_ARN.test(principal)) {
      throw malformed(`${label}: "${principal}" is not an account id, an IAM ARN or "*"`);
    }
  }
  return principals;
}

function parseActions(value: unknown, label: string): string[] {
  if (value === undefined) throw malformed(`${label}: a statement needs an Action`);
  return stringList(value, `${label}: Action`).map((action) => {
    if (!ACTION_PATTERN.test(action)) {
      throw malformed(`${label}: "${action}" is not an action such as kms:Decrypt or kms:*`);
    }
    // IAM matches action names case-insensitively ("KMS:decrypt" is kms:Decrypt).
    return action.toLowerCase();
  });
}

function parseResources(value: unknown, label: string, variables: boolean): string[] {
  if (value === undefined) throw malformed(`${label}: a statement needs a Resource`);
  return stringList(value, `${label}: Resource`).map((resource) => {
    if (resource !== '*' && !resource.startsWith('arn:')) {
      throw malformed(`${label}: Resource "${resource}" is neither "*" nor an ARN`);
    }
    if (variables && resource.includes('${')) throw unsupported(`${label}: ${POLICY_VARIABLE}`);
    return resource;
  });
}

/** Lowercases and checks a condition key against the keys the simulated KMS supplies. */
function conditionKey(name: string, label: string): string {
  const key = name.toLowerCase();
  if (FIXED_KEYS.has(key)) return key;
  if (key.startsWith(CONTEXT_KEY_PREFIX) && key.length > CONTEXT_KEY_PREFIX.length) return key;
  const pcr = PCR_KEY.exec(key);
  if (pcr && Number(pcr[1]) <= 31 && String(Number(pcr[1])) === pcr[1]) return key;
  throw unsupported(`${label}: condition key ${name}`);
}

function parseConditions(value: unknown, label: string, variables: boolean): ConditionClause[] {
  if (value === undefined) return [];
  if (!isRecord(value)) throw malformed(`${label}: Condition must be an object`);
  const clauses: ConditionClause[] = [];
  for (const [operatorName, block] of Object.entries(value)) {
    if (/^(ForAnyValue|ForAllValues):/i.test(operatorName)) {
      throw unsupported(`${label}: set operator ${operatorName}`);
    }
    if (/IfExists$/i.test(operatorName)) throw unsupported(`${label}: operator ${operatorName}`);
    const operator = OPERATORS.find((o) => o.toLowerCase() === operatorName.toLowerCase());
    if (!operator) throw unsupported(`${label}: operator ${operatorName}`);
    if (!isRecord(block) || Object.keys(block).length === 0) {
      throw malformed(`${label}: ${operatorName} must map condition keys to values`);
    }
    for (const [keyName, raw] of Object.entries(block)) {
      const key = conditionKey(keyName, label);
      const values = stringList(raw, `${label}: ${operatorName} ${keyName}`);
      if (variables && values.some((v) => v.includes('${'))) {
        throw unsupported(`${label}: ${POLICY_VARIABLE}`);
      }
      clauses.push({ operator, keyName, key, values });
    }
  }
  return clauses;
}

function parseStatement(raw: unknown, index: number, version: string): KeyPolicyStatement {
  if (!isRecord(raw)) throw malformed(`statement #${index + 1} must be an object`);
  const sid = raw['Sid'];
  if (sid !== undefined && typeof sid !== 'string') {
    throw malformed(`statement #${index + 1}: Sid must be a string`);
  }
  const label = sid !== undefined && sid !== '' ? `statement "${sid}"` : `statement #${index + 1}`;
  for (const element of Object.keys(raw)) {
    if (element === 'NotAction' || element === 'NotPrincipal' || element === 'NotResource') {
      throw unsupported(`${label}: element ${element}`);
    }
    if (!STATEMENT_ELEMENTS.has(element)) throw malformed(`${label}: unknown element ${element}`);
  }
  const effect = raw['Effect'];
  if (effect !== 'Allow' && effect !== 'Deny') {
    throw malformed(`${label}: Effect must be "Allow" or "Deny"`);
  }
  // Policy variables (${aws:username}) exist only in version 2012-10-17; in 2008-10-17 the same
  // characters are literal text, which the matcher handles as such.
  const variables = version === '2012-10-17';
  return {
    label,
    sid: sid === undefined || sid === '' ? null : sid,
    effect,
    principals: parsePrincipal(raw['Principal'], label),
    actions: parseActions(raw['Action'], label),
    resources: parseResources(raw['Resource'], label, variables),
    conditions: parseConditions(raw['Condition'], label, variables),
  };
}

/**
 * Parses and validates a key policy document.
 *
 * @throws KeyPolicyError MALFORMED for anything that is not a valid key policy (bad JSON, wrong
 *   types, missing Principal/Action/Resource, more than 32 KiB), UNSUPPORTED for valid IAM the
 *   simulator does not implement, each with a message naming the statement and element.
 */
export function parseKeyPolicy(json: string): KeyPolicy {
  if (typeof json !== 'string') throw malformed('the policy must be a JSON string');
  const size = Buffer.byteLength(json, 'utf8');
  if (size > MAX_KEY_POLICY_BYTES) {
    throw malformed(`the policy is ${size} bytes; a key policy is at most ${MAX_KEY_POLICY_BYTES}`);
  }
  let document: unknown;
  try {
    document = JSON.parse(json);
  } catch {
    throw malformed('the policy is not valid JSON');
  }
  refuseDuplicateMembers(json);
  if (!isRecord(document)) throw malformed('the policy must be a JSON object');
  for (const element of Object.keys(document)) {
    if (element !== 'Version' && element !== 'Id' && element !== 'Statement') {
      throw malformed(`unknown top-level element ${element}`);
    }
  }
  const version = document['Version'];
  if (version !== '2012-10-17' && version !== '2008-10-17') {
    throw malformed('Version must be "2012-10-17" or "2008-10-17"');
  }
  const id = document['Id'];
  if (id !== undefined && typeof id !== 'string') throw malformed('Id must be a string');
  const rawStatements = document['Statement'];
  const list = Array.isArray(rawStatements) ? rawStatements : [rawStatements];
  if (rawStatements === undefined || list.length === 0) {
    throw malformed('the policy has no Statement');
  }
  const statements = list.map((raw, index) => parseStatement(raw, index, version));
  return { version, id: id ?? null, statements, text: json } as unknown as KeyPolicy;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/**
 * Wildcard match with IAM's `*` (any run, possibly empty) and `?` (one character). Greedy with
 * one backtrack point, so linear in practice and free of regular-expression blow-ups.
 */
export function wildcardMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = t;
    } else if (star !== -1) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/**
 * Whether a statement's Principal covers the caller. `arn:aws:iam::ACCOUNT:root` and the bare
 * account id name the account: in AWS that delegates the decision to the account's IAM
 * policies. The simulator has no IAM, so it stands in for "every principal of that account".
 */
function principalMatches(statement: KeyPolicyStatement, request: KeyPolicyRequest): boolean {
  return statement.principals.some((p) => {
    if (p === '*' || p === request.principal) return true;
    const account = ACCOUNT_ID.test(p) ? p : /^arn:aws[a-z-]*:iam::(\d{12}):root$/.exec(p)?.[1];
    return account !== undefined && account === request.account;
  });
}

function actionMatches(statement: KeyPolicyStatement, action: string): boolean {
  return statement.actions.some((pattern) => wildcardMatch(pattern, action));
}

function resourceMatches(statement: KeyPolicyStatement, keyArn: string): boolean {
  // In a key policy "*" means "this KMS key"; an ARN must name it (wildcards allowed).
  return statement.resources.some((r) => r === '*' || wildcardMatch(r, keyArn));
}

/** The first clause that fails, with why; null when all hold. */
function failedCondition(
  statement: KeyPolicyStatement,
  conditions: ReadonlyMap<string, string>,
): string | null {
  for (const clause of statement.conditions) {
    const actual = conditions.get(clause.key);
    const ignoreCase = clause.operator.endsWith('IgnoreCase');
    const fold = (s: string): string => (ignoreCase ? s.toLowerCase() : s);
    const negated = clause.operator.startsWith('StringNot');
    let holds: boolean;
    if (actual === undefined) {
      // IAM: a key absent from the request fails a positive operator and satisfies a negated one.
      holds = negated;
    } else {
      const equal = clause.values.some((v) => fold(v) === fold(actual));
      holds = negated ? !equal : equal;
    }
    if (!holds) {
      const why = actual === undefined ? 'the key is absent from the request' : 'no value matches';
      return `${clause.operator} ${clause.keyName} is not met (${why})`;
    }
  }
  return null;
}

function normaliseConditions(conditions: ReadonlyMap<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of conditions) {
    const lower = key.toLowerCase();
    if (out.has(lower)) throw new TypeError(`condition key ${key} given twice (case-insensitive)`);
    out.set(lower, value);
  }
  return out;
}

/**
 * Decides a request with IAM's rules: an explicit Deny that matches wins; otherwise a matching
 * Allow allows; otherwise the request is implicitly denied. A statement matches when its
 * principal, action, resource and every condition match (AND across keys and operators; OR across
 * the values given for one key).
 *
 * A denial's reason names the statement that denied, or for an implicit deny the action and, when
 * an Allow statement failed only on its conditions, the first condition it failed: exactly what an
 * operator needs to fix a policy, and never a key or plaintext.
 */
export function evaluateKeyPolicy(policy: KeyPolicy, request: KeyPolicyRequest): KeyPolicyDecision {
  const action = request.action.toLowerCase();
  const conditions = normaliseConditions(request.conditions);
  let allowedBy: string | null = null;
  let nearMiss: string | null = null;
  for (const statement of policy.statements) {
    if (
      !principalMatches(statement, request) ||
      !actionMatches(statement, action) ||
      !resourceMatches(statement, request.keyArn)
    ) {
      continue;
    }
    const failed = failedCondition(statement, conditions);
    if (failed !== null) {
      if (statement.effect === 'Allow' && nearMiss === null) {
        nearMiss = `${statement.label} allows it only when ${failed}`;
      }
      continue;
    }
    if (statement.effect === 'Deny') {
      return { decision: 'deny', reason: `explicit deny in ${statement.label}` };
    }
    allowedBy ??= statement.label;
  }
  if (allowedBy !== null) return { decision: 'allow', statement: allowedBy };
  const base = `no statement allows ${request.action}`;
  return { decision: 'deny', reason: nearMiss ? `${base}; ${nearMiss}` : base };
}

/** The key policy AWS installs when CreateKey gets none: the account (root) may do anything. */
export function defaultKeyPolicyText(account: string): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${account}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    },
    null,
    2,
  );
}
