/**
 * The simulated AWS Secrets Manager: the operations mpc-kms uses to keep sealed key shares,
 * with AWS's member names, validation bounds, staging-label semantics and error codes, served
 * through json-server.ts so the unmodified `SecretsManagerClient` talks to it.
 *
 *   CreateSecret, PutSecretValue, GetSecretValue, DescribeSecret, ListSecretVersionIds,
 *   UpdateSecretVersionStage
 *
 * Access model: any principal that passes SigV4 with a configured credential may use every
 * operation on the secrets of its own account (the account in its principal ARN). There are no
 * IAM or resource policies; a full ARN naming another account is refused with
 * AccessDeniedException, as AWS does when no resource policy grants access. Deletion, rotation,
 * replication and tagging operations are not implemented (UnknownOperationException).
 *
 * Deliberate differences from AWS, each for boundedness: deprecated versions beyond 100 are
 * pruned oldest first regardless of age (AWS also keeps every version from the last 24 hours);
 * the number of secrets is capped (`maxSecrets`); partial ARNs are not resolved.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { AwsServiceError, type AwsHandler, type AwsRequestContext } from './json-server.js';
import { InputReader } from './input.js';
import {
  AWSCURRENT,
  SecretFiles,
  attachStage,
  pruneVersions,
  removeStage,
  versionWithStage,
  type SecretRecord,
  type SecretValue,
  type SecretVersion,
} from './secrets-store.js';

export interface SecretsManagerOptions {
  /** State lives in `<dataDir>/secretsmanager/`. */
  readonly dataDir: string;
  /** Region in every ARN; must match the server's region. */
  readonly region: string;
  /** Clock for CreatedDate / LastChangedDate; defaults to the system clock. */
  readonly now?: () => Date;
  /** Most secrets in the store (all accounts); default 10,000. */
  readonly maxSecrets?: number;
}

/** AWS's version quota per secret; also the pruning threshold. */
export const MAX_VERSIONS_PER_SECRET = 100;
/** AWS's quota of staging labels attached to one version. */
export const MAX_STAGES_PER_VERSION = 20;
/** SecretString and SecretBinary are each at most 64 KiB. */
export const MAX_SECRET_VALUE_BYTES = 65536;

const ERROR = 'InvalidParameterException';

/** The SecretsManager operation name -> handler table, for `listenAwsJsonService`. */
export function secretsManagerHandlers(options: SecretsManagerOptions): Record<string, AwsHandler> {
  const files = new SecretFiles(options.dataDir);
  const now = options.now ?? (() => new Date());
  const maxSecrets = options.maxSecrets ?? 10_000;

  // Member constraints from the Secrets Manager API model.
  const NAME = { min: 1, max: 512, pattern: /^[A-Za-z0-9/_+=.@-]+$/ };
  const SECRET_ID = { min: 1, max: 2048 };
  const TOKEN = { min: 32, max: 64 };
  const VERSION_ID = { min: 32, max: 64 };
  const STAGE = { min: 1, max: 256 };

  /** Loads the secret a SecretId (name or full ARN) names in the caller's account. */
  function resolve(secretId: string, context: AwsRequestContext): SecretRecord {
    const notFound = () =>
      new AwsServiceError(
        'ResourceNotFoundException',
        "Secrets Manager can't find the specified secret.",
      );
    if (secretId.startsWith('arn:')) {
      const m = /^arn:aws:secretsmanager:([^:]+):(\d{12}):secret:(.+)-[A-Za-z0-9]{6}$/.exec(
        secretId,
      );
      if (m === null || m[1] !== options.region) throw notFound();
      if (m[2] !== context.account) {
        throw new AwsServiceError(
          'AccessDeniedException',
          'Access to a secret in another account requires a resource policy; this simulator has none.',
        );
      }
      const record = files.load(context.account, m[3]!);
      // The suffix distinguishes a secret from a deleted namesake: it must match exactly.
      if (record === undefined || record.arn !== secretId) throw notFound();
      return record;
    }
    if (!NAME.pattern.test(secretId) || secretId.length > NAME.max) throw notFound();
    const record = files.load(context.account, secretId);
    if (record === undefined) throw notFound();
    return record;
  }

  /** SecretString xor SecretBinary, within the size bound; undefined when neither is given. */
  function readValue(r: InputReader): SecretValue | undefined {
    const text = r.optionalString('SecretString', { max: MAX_SECRET_VALUE_BYTES });
    const bytes = r.optionalBlob('SecretBinary', { max: MAX_SECRET_VALUE_BYTES });
    if (text !== undefined && bytes !== undefined) {
      throw r.error(
        "You can't specify both a binary secret value and a string secret value in the same secret.",
      );
    }
    if (text !== undefined) {
      if (Buffer.byteLength(text, 'utf8') > MAX_SECRET_VALUE_BYTES) {
        throw r.error(`SecretString must be at most ${MAX_SECRET_VALUE_BYTES} bytes.`);
      }
      return { kind: 'string', text };
    }
    return bytes === undefined ? undefined : { kind: 'binary', bytes };
  }

  function sameValue(a: SecretValue, b: SecretValue): boolean {
    if (a.kind === 'string' && b.kind === 'string') return a.text === b.text;
    if (a.kind === 'binary' && b.kind === 'binary') return Buffer.from(a.bytes).equals(b.bytes);
    return false;
  }

  function valueMembers(value: SecretValue): Record<string, unknown> {
    return value.kind === 'string' ? { SecretString: value.text } : { SecretBinary: value.bytes };
  }

  /** The list of staging labels in a request: bounded, no duplicates. */
  function readStages(r: InputReader, name: string): string[] | undefined {
    const stages = r.optionalStringList(name, { min: 1, max: MAX_STAGES_PER_VERSION, item: STAGE });
    if (stages !== undefined && new Set(stages).size !== stages.length) {
      throw r.error(`${name} must not list a staging label twice.`);
    }
    return stages;
  }

  /**
   * Keeps the store bounded after a version is added: prune deprecated versions, and refuse
   * (before saving) when labelled versions alone exceed the quota.
   */
  function boundVersions(record: SecretRecord): void {
    pruneVersions(record, MAX_VERSIONS_PER_SECRET);
    if (record.versions.length > MAX_VERSIONS_PER_SECRET) {
      throw new AwsServiceError(
        'LimitExceededException',
        `A secret can have at most ${MAX_VERSIONS_PER_SECRET} versions with staging labels.`,
      );
    }
  }

  /** `-` plus six random alphanumerics, as AWS appends to every secret ARN. */
  function arnSuffix(): string {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    let suffix = '';
    for (let i = 0; i < 6; i++) suffix += alphabet[randomInt(alphabet.length)];
    return suffix;
  }

  const handlers: Record<string, AwsHandler> = {
    async CreateSecret(input, context) {
      const r = new InputReader(input, ERROR, [
        'Name',
        'ClientRequestToken',
        'Description',
        'KmsKeyId',
        'SecretBinary',
        'SecretString',
        'Tags',
      ]);
      const name = r.string('Name', NAME);
      const token = r.optionalString('ClientRequestToken', TOKEN);
      const description = r.optionalString('Description', { max: 2048 });
      const kmsKeyId = r.optionalString('KmsKeyId', { max: 2048 });
      const value = readValue(r);
      const tags = (r.optionalObjectList('Tags', { max: 50 }) ?? []).map((tag, i) => {
        const t = r.nested(tag, `Tags.${i + 1}.member`, ['Key', 'Value']);
        return {
          Key: t.string('Key', { min: 1, max: 128 }),
          Value: t.string('Value', { max: 256 }),
        };
      });

      const existing = files.load(context.account, name);
      if (existing !== undefined) {
        // A retry of this very call (the SDK reuses its generated token) succeeds unchanged.
        const version = existing.versions.find((v) => v.versionId === token);
        if (version !== undefined && value !== undefined && sameValue(version.value, value)) {
          return { ARN: existing.arn, Name: existing.name, VersionId: version.versionId };
        }
        throw new AwsServiceError(
          'ResourceExistsException',
          `The operation failed because the secret ${name} already exists.`,
        );
      }
      if (files.count() >= maxSecrets) {
        throw new AwsServiceError(
          'LimitExceededException',
          `The store holds ${maxSecrets} secrets.`,
        );
      }

      const at = now().getTime();
      const versions: SecretVersion[] =
        value === undefined
          ? []
          : [{ versionId: token ?? randomUUID(), createdDate: at, stages: [AWSCURRENT], value }];
      const record: SecretRecord = {
        arn: `arn:aws:secretsmanager:${options.region}:${context.account}:secret:${name}-${arnSuffix()}`,
        name,
        account: context.account,
        ...(description === undefined ? {} : { description }),
        ...(kmsKeyId === undefined ? {} : { kmsKeyId }),
        tags,
        createdDate: at,
        lastChangedDate: at,
        versions,
      };
      files.save(record);
      return { ARN: record.arn, Name: record.name, VersionId: versions[0]?.versionId };
    },

    async PutSecretValue(input, context) {
      const r = new InputReader(input, ERROR, [
        'SecretId',
        'ClientRequestToken',
        'SecretBinary',
        'SecretString',
        'VersionStages',
        'RotationToken',
      ]);
      const secretId = r.string('SecretId', SECRET_ID);
      const token = r.string('ClientRequestToken', TOKEN);
      const value = readValue(r);
      if (value === undefined)
        throw r.error('You must provide either SecretString or SecretBinary.');
      const requested = readStages(r, 'VersionStages');
      r.optionalString('RotationToken', { min: 1, max: 256 }); // accepted; rotation is not simulated

      const record = resolve(secretId, context);
      const existing = record.versions.find((v) => v.versionId === token);
      if (existing !== undefined) {
        // Idempotent retry: same token and same value is a successful no-op.
        if (sameValue(existing.value, value)) {
          return {
            ARN: record.arn,
            Name: record.name,
            VersionId: existing.versionId,
            VersionStages: existing.stages,
          };
        }
        throw new AwsServiceError(
          'ResourceExistsException',
          "You can't modify an existing version, you can only create a new version.",
        );
      }

      const version: SecretVersion = {
        versionId: token,
        createdDate: now().getTime(),
        stages: [],
        value,
      };
      // The first version of a secret is always current (PutSecretValue's documentation).
      const stages = new Set(requested ?? [AWSCURRENT]);
      if (record.versions.length === 0) stages.add(AWSCURRENT);
      record.versions.push(version);
      for (const stage of stages) attachStage(record, stage, version);
      boundVersions(record);
      record.lastChangedDate = version.createdDate;
      files.save(record);
      return {
        ARN: record.arn,
        Name: record.name,
        VersionId: version.versionId,
        VersionStages: version.stages,
      };
    },

    async GetSecretValue(input, context) {
      const r = new InputReader(input, ERROR, ['SecretId', 'VersionId', 'VersionStage']);
      const secretId = r.string('SecretId', SECRET_ID);
      const versionId = r.optionalString('VersionId', VERSION_ID);
      const stage = r.optionalString('VersionStage', STAGE);
      const record = resolve(secretId, context);

      let version: SecretVersion | undefined;
      if (versionId !== undefined) {
        version = record.versions.find((v) => v.versionId === versionId);
        // When both are given they must name the same version.
        if (version !== undefined && stage !== undefined && !version.stages.includes(stage)) {
          version = undefined;
        }
      } else {
        version = versionWithStage(record, stage ?? AWSCURRENT);
      }
      if (version === undefined) {
        const what =
          versionId === undefined
            ? `staging label: ${stage ?? AWSCURRENT}`
            : `VersionId: ${versionId}${stage === undefined ? '' : ` and staging label: ${stage}`}`;
        throw new AwsServiceError(
          'ResourceNotFoundException',
          `Secrets Manager can't find the specified secret value for ${what}`,
        );
      }
      return {
        ARN: record.arn,
        Name: record.name,
        VersionId: version.versionId,
        ...valueMembers(version.value),
        VersionStages: version.stages,
        CreatedDate: new Date(version.createdDate),
      };
    },

    async DescribeSecret(input, context) {
      const r = new InputReader(input, ERROR, ['SecretId']);
      const record = resolve(r.string('SecretId', SECRET_ID), context);
      // Only labelled versions appear here; deprecated ones are listed by ListSecretVersionIds.
      const versionIdsToStages: Record<string, string[]> = {};
      for (const v of record.versions) {
        if (v.stages.length > 0) versionIdsToStages[v.versionId] = v.stages;
      }
      return {
        ARN: record.arn,
        Name: record.name,
        Description: record.description,
        KmsKeyId: record.kmsKeyId,
        Tags: record.tags.length > 0 ? record.tags : undefined,
        VersionIdsToStages: versionIdsToStages,
        CreatedDate: new Date(record.createdDate),
        LastChangedDate: new Date(record.lastChangedDate),
      };
    },

    async ListSecretVersionIds(input, context) {
      const r = new InputReader(input, ERROR, [
        'SecretId',
        'MaxResults',
        'NextToken',
        'IncludeDeprecated',
      ]);
      const record = resolve(r.string('SecretId', SECRET_ID), context);
      const maxResults = r.optionalInteger('MaxResults', { min: 1, max: 100 }) ?? 100;
      const nextToken = r.optionalString('NextToken', { min: 1, max: 4096 });
      const includeDeprecated = r.optionalBoolean('IncludeDeprecated') ?? false;

      // Newest first. The token is the id of the first version of the next page, opaque to
      // the caller; a version pruned between pages makes it invalid, as AWS's tokens can be.
      const listed = record.versions
        .filter((v) => includeDeprecated || v.stages.length > 0)
        .reverse();
      let start = 0;
      if (nextToken !== undefined) {
        const id = Buffer.from(nextToken, 'base64url').toString('utf8');
        start = listed.findIndex((v) => v.versionId === id);
        if (start < 0) {
          throw new AwsServiceError('InvalidNextTokenException', 'The NextToken value is invalid.');
        }
      }
      const page = listed.slice(start, start + maxResults);
      const next = listed[start + maxResults];
      return {
        ARN: record.arn,
        Name: record.name,
        Versions: page.map((v) => ({
          VersionId: v.versionId,
          VersionStages: v.stages,
          CreatedDate: new Date(v.createdDate),
        })),
        NextToken:
          next === undefined
            ? undefined
            : Buffer.from(next.versionId, 'utf8').toString('base64url'),
      };
    },

    async UpdateSecretVersionStage(input, context) {
      const r = new InputReader(input, ERROR, [
        'SecretId',
        'VersionStage',
        'MoveToVersionId',
        'RemoveFromVersionId',
      ]);
      const record = resolve(r.string('SecretId', SECRET_ID), context);
      const stage = r.string('VersionStage', STAGE);
      const moveTo = r.optionalString('MoveToVersionId', VERSION_ID);
      const removeFrom = r.optionalString('RemoveFromVersionId', VERSION_ID);

      const find = (id: string) => {
        const v = record.versions.find((x) => x.versionId === id);
        if (v === undefined) {
          throw new AwsServiceError(
            'ResourceNotFoundException',
            `Secrets Manager can't find the specified secret version: ${id}`,
          );
        }
        return v;
      };
      const target = moveTo === undefined ? undefined : find(moveTo);
      const source = removeFrom === undefined ? undefined : find(removeFrom);
      const holder = versionWithStage(record, stage);

      // The caller must name where the label is now, so a stale view of the labels cannot
      // silently take AWSCURRENT away from a version someone else just promoted.
      if (holder !== undefined && holder !== target && source !== holder) {
        throw r.error(
          `The parameter RemoveFromVersionId must be ${holder.versionId}: staging label ${stage} is currently attached to that version.`,
        );
      }
      if (source !== undefined && holder !== source) {
        throw r.error(`Staging label ${stage} is not attached to version ${source.versionId}.`);
      }
      if (target === undefined) {
        if (source === undefined) {
          throw r.error('Specify MoveToVersionId, RemoveFromVersionId or both.');
        }
        if (stage === AWSCURRENT) {
          // A secret with versions always has a current one; AWSCURRENT can only be moved.
          throw r.error(
            `You can't remove the staging label ${AWSCURRENT}; move it to another version instead.`,
          );
        }
        removeStage(source, stage);
      } else {
        if (holder !== target && target.stages.length >= MAX_STAGES_PER_VERSION) {
          throw new AwsServiceError(
            'LimitExceededException',
            `A version can have at most ${MAX_STAGES_PER_VERSION} staging labels.`,
          );
        }
        attachStage(record, stage, target);
      }
      record.lastChangedDate = now().getTime();
      files.save(record);
      return { ARN: record.arn, Name: record.name };
    },
  };
  return handlers;
}
