/**
 * The shapes the REST API accepts (DESIGN.md, "Contract" → "REST API"): one zod schema per request
 * body, path parameter and query string. Parsing happens once, at the edge, before the service is
 * called; what comes out is typed and normalised (hex lowercased), so the service never sees a
 * string it has to re-check for syntax.
 *
 * Every object is strict: an unknown field is refused rather than ignored, because a caller who
 * misspells `"signers"` as `"signer"` would otherwise sign with a set the policy picked for them.
 * Messages name the field and the rule ("threshold: must be an integer from 1 to 255"); they are
 * shown to the caller as is, so they never echo a value back.
 *
 * What a syntax check cannot know stays with the service: threshold > parties is well-formed but
 * unsatisfiable (422), a key id that matches the pattern may still be unknown (404).
 */
import { z } from 'zod';
import { evmTransactionRequest, solanaSignRequest, taprootSpendRequest } from '../chains/index.js';
// One wording of field errors for every body, the chains' included.
import { need, objectError } from '../chains/request-fields.js';
import { ServiceError } from '../service-types.js';

/** `unknown field "a"`, `unknown fields "a", "b"`: names are quoted as JSON, so never ambiguous. */
function unknown(noun: string, keys: readonly string[] = []): string {
  const names = keys.map((key) => JSON.stringify(key)).join(', ');
  return `unknown ${noun}${keys.length === 1 ? '' : 's'} ${names}`;
}

/** At most this many bytes in a message to sign (Ed25519 signs the message itself). */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** BIP32 non-hardened indices are below 2^31; the top bit marks a hardened child. */
export const HARDENED_OFFSET = 0x8000_0000;
/** BIP32 serialises depth in one byte. */
export const MAX_PATH_DEPTH = 255;
/** Party ids, as the protocol numbers them. */
const MAX_PARTY = 255;

const PARTY_RULE = `an integer from 1 to ${MAX_PARTY}`;
const partyId = z.int(need(PARTY_RULE)).min(1, need(PARTY_RULE)).max(MAX_PARTY, need(PARTY_RULE));

/** Distinct items; `.meta({ uniqueItems: true })` beside it tells OpenAPI readers the same. */
const distinct = (values: readonly unknown[]): boolean => new Set(values).size === values.length;

/** Ids of keys and tokens, in a path or a body: `[A-Za-z0-9._-]{1,128}`. */
export const ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
const ID_RULE = '1 to 128 characters among A-Z a-z 0-9 . _ -';
export const idSchema = z.string(need(ID_RULE)).regex(ID_PATTERN, need(ID_RULE));

export const schemeSchema = z.enum(
  ['ecdsa-secp256k1', 'schnorr-secp256k1-bip340', 'eddsa-ed25519'],
  need('one of "ecdsa-secp256k1", "schnorr-secp256k1-bip340", "eddsa-ed25519"'),
);

/**
 * A non-hardened BIP32 path, `m` then `/index` per level. Hardened levels (`'` or `h`) are refused
 * with their own message: the coordinator derives from the public key and chain code only, and a
 * hardened child needs the private key, which no party holds whole.
 */
export const derivationPathSchema = z
  .string(need('a string such as "m/0/7"'))
  .check((ctx) => {
    const path = ctx.value;
    const fail = (message: string): void => {
      ctx.issues.push({ code: 'custom', message, input: path });
    };
    if (/\/\d+['hH]/.test(path)) {
      fail("must be non-hardened: a hardened level (' or h) needs the whole private key");
      return;
    }
    if (!/^m(\/\d+)*$/.test(path)) {
      fail('must be "m" followed by "/index" levels, e.g. "m/0/7"');
      return;
    }
    const levels = path === 'm' ? [] : path.slice(2).split('/');
    if (levels.length > MAX_PATH_DEPTH) {
      fail(`must have at most ${MAX_PATH_DEPTH} levels`);
      return;
    }
    // Compare as numbers only after bounding the length: "m/99999999999999999999" would lose
    // precision as a Number and wrap into range.
    if (levels.some((level) => level.length > 10 || Number(level) >= HARDENED_OFFSET)) {
      fail(`must have each index below 2^31 (${HARDENED_OFFSET})`);
    }
  })
  .meta({
    // The check above is code; OpenAPI readers get its syntactic half as a pattern.
    pattern: '^m(/[0-9]+)*$',
    description: `Non-hardened BIP32 path: "m", then up to ${MAX_PATH_DEPTH} "/index" levels, each index below 2^31.`,
  });

const DIGEST_RULE = '64 hex characters (a 32-byte digest)';
const MESSAGE_RULE = `hex of even length, at most ${MAX_MESSAGE_BYTES} bytes`;

/** POST /v1/keys/{id}/sign. Exactly one of `digest` (ECDSA, BIP340) and `message` (Ed25519). */
export const signBodySchema = z
  .strictObject(
    {
      digest: z
        .string(need(DIGEST_RULE))
        .regex(/^[0-9a-fA-F]{64}$/, need(DIGEST_RULE))
        .toLowerCase()
        .optional(),
      message: z
        .string(need(MESSAGE_RULE))
        .max(MAX_MESSAGE_BYTES * 2, need(MESSAGE_RULE))
        .regex(/^(?:[0-9a-fA-F]{2})*$/, need(MESSAGE_RULE))
        .toLowerCase()
        .optional(),
      path: derivationPathSchema.optional(),
      signers: z
        .array(partyId, need(`an array of ${PARTY_RULE}`))
        .min(1, need('a non-empty array of party ids'))
        .max(MAX_PARTY, need(`an array of at most ${MAX_PARTY} party ids`))
        .refine(distinct, need('an array of distinct party ids'))
        .meta({ uniqueItems: true })
        .optional(),
    },
    objectError('a JSON object'),
  )
  .refine((body) => (body.digest === undefined) !== (body.message === undefined), {
    error: 'give exactly one of "digest" and "message"',
  });

const RATE_RULE = 'null or an integer from 1 to 1000000';
const rate = z
  .int(need(RATE_RULE))
  .min(1, need(RATE_RULE))
  .max(1_000_000, need(RATE_RULE))
  .nullable();
const DESTINATION_RULE = 'null or an array of at most 10000 strings of 1 to 256 characters';
const VALUE_RULE = 'null or a decimal string of at most 78 digits without leading zeros';

const policyShape = {
  allowedSignerSets: z
    .array(
      z
        .array(partyId, need(`an array of ${PARTY_RULE}`))
        .min(1, need('a non-empty array of party ids'))
        .max(MAX_PARTY, need(`an array of at most ${MAX_PARTY} party ids`))
        .refine(distinct, need('an array of distinct party ids'))
        .meta({ uniqueItems: true }),
      need('an array of signer sets (arrays of party ids)'),
    )
    .max(1024, need('at most 1024 signer sets')),
  keyRatePerMinute: rate,
  tokenRatePerMinute: rate,
  destinations: z
    .array(
      z
        .string(need(DESTINATION_RULE))
        .min(1, need(DESTINATION_RULE))
        .max(256, need(DESTINATION_RULE)),
      need(DESTINATION_RULE),
    )
    .max(10_000, need(DESTINATION_RULE))
    .nullable(),
  // 78 digits hold any 256-bit amount (2^256 ≈ 1.16e77), the widest base unit a chain uses.
  dailyValueLimit: z
    .string(need(VALUE_RULE))
    .regex(/^(?:0|[1-9][0-9]{0,77})$/, need(VALUE_RULE))
    .nullable(),
};

/** PUT /v1/keys/{id}/policy: the whole policy, every field present (null where unlimited). */
export const policyBodySchema = z.strictObject(policyShape, objectError('a JSON object'));

/** POST /v1/keys. threshold > parties is left to the service (422, not 400). */
export const createKeyBodySchema = z.strictObject(
  {
    scheme: schemeSchema,
    threshold: partyId,
    parties: partyId,
    policy: z.strictObject(policyShape, objectError('a JSON object')).partial().optional(),
  },
  objectError('a JSON object'),
);

/** POST /v1/keys/{id}/derive. */
export const deriveBodySchema = z.strictObject(
  { path: derivationPathSchema },
  objectError('a JSON object'),
);

/** POST /v1/keys/{id}/refresh: no parameters; an absent body counts as `{}`. */
export const refreshBodySchema = z.strictObject({}, objectError('an empty JSON object'));

const NAME_RULE = 'a string of 1 to 128 characters without control characters';

/** POST /v1/tokens. */
export const createTokenBodySchema = z.strictObject(
  {
    name: z
      .string(need(NAME_RULE))
      .min(1, need(NAME_RULE))
      .max(128, need(NAME_RULE))
      // Names land in the audit log and in logs: no line breaks or escapes to forge entries with.
      .regex(/^[^\p{Cc}]*$/u, need(NAME_RULE)),
    role: z.enum(['admin', 'signer', 'auditor'], need('one of "admin", "signer", "auditor"')),
    keyIds: z
      .array(idSchema, need('null or an array of key ids'))
      .max(1024, need('an array of at most 1024 key ids'))
      .refine(distinct, need('an array of distinct key ids'))
      .meta({ uniqueItems: true })
      .nullable()
      .optional(),
  },
  objectError('a JSON object'),
);

/** A decimal query value, parsed to a number; a repeated parameter arrives as an array and fails. */
function queryInt(min: number, max: number) {
  const rule = `an integer from ${min} to ${max}`;
  return z
    .string(need(`${rule}, given once`))
    .regex(/^\d{1,15}$/, need(rule))
    .transform(Number)
    .pipe(z.number().min(min, need(rule)).max(max, need(rule)));
}

/** The most audit entries one page returns. */
export const MAX_AUDIT_LIMIT = 1000;

/** GET /v1/audit?from=&limit= */
export const auditQuerySchema = z.strictObject(
  {
    from: queryInt(0, Number.MAX_SAFE_INTEGER).optional(),
    limit: queryInt(1, MAX_AUDIT_LIMIT).optional(),
  },
  {
    error: (issue: { code?: string; keys?: readonly string[] }) =>
      issue.code === 'unrecognized_keys'
        ? unknown('query parameter', issue.keys)
        : 'must be a query string',
  },
);

export type CreateKeyBody = z.output<typeof createKeyBodySchema>;
export type DeriveBody = z.output<typeof deriveBodySchema>;
export type SignBody = z.output<typeof signBodySchema>;
export type PolicyBody = z.output<typeof policyBodySchema>;
export type CreateTokenBody = z.output<typeof createTokenBodySchema>;
export type AuditQuery = z.output<typeof auditQuerySchema>;

/**
 * One line per problem, naming where it is: `signers[2]: must be an integer from 1 to 255`. The
 * issues go to `details` as well, so a client can map them back to its own form fields.
 */
export function describeIssues(
  where: 'body' | 'query' | 'path',
  issues: readonly z.core.$ZodIssue[],
): { message: string; details: { issues: { path: string; message: string }[] } } {
  const listed = issues.map((issue) => {
    let path = '';
    for (const part of issue.path) {
      path +=
        typeof part === 'number' ? `[${part}]` : path === '' ? String(part) : `.${String(part)}`;
    }
    return { path: path === '' ? where : path, message: issue.message };
  });
  const message = listed.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
  return { message, details: { issues: listed } };
}

/** Validates `value`; a failure is a 400 BAD_REQUEST naming each field and rule. */
export function parseInput<T>(
  schema: z.ZodType<T>,
  value: unknown,
  where: 'body' | 'query' | 'path',
  /** Prefixes issue paths, e.g. "id" for a path parameter. */
  name?: string,
): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) =>
    name === undefined ? issue : { ...issue, path: [name, ...issue.path] },
  );
  const { message, details } = describeIssues(where, issues);
  throw new ServiceError('BAD_REQUEST', message, details);
}

/**
 * A transaction route's body: the chain's own schema (coordinator/chains/), whose optional
 * `path` is then held to the same rule as everywhere else.
 */
function withDerivationPath<S extends z.ZodType<{ path?: string | undefined }>>(schema: S): S {
  return schema.check((ctx) => {
    const path = ctx.value.path;
    if (path === undefined) return;
    const result = derivationPathSchema.safeParse(path);
    if (!result.success) {
      ctx.issues.push({
        code: 'custom',
        path: ['path'],
        message: result.error.issues[0]?.message ?? 'is not a derivation path',
        input: path,
      });
    }
  }) as S;
}

/** POST /v1/keys/{id}/transactions/evm. */
export const evmTransactionBodySchema = withDerivationPath(evmTransactionRequest);
/** POST /v1/keys/{id}/transactions/bitcoin-taproot. */
export const taprootSpendBodySchema = withDerivationPath(taprootSpendRequest);
/** POST /v1/keys/{id}/transactions/solana. */
export const solanaMessageBodySchema = withDerivationPath(solanaSignRequest);
