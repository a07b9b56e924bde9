/**
 * A simulated AWS KMS: the subset the sealing path uses, behind the same JSON 1.1 wire protocol,
 * so that the enclave talks to it through the unmodified `KMSClient` and cannot tell the
 * difference in anything it relies on. Operations: CreateKey, DescribeKey, GetKeyPolicy,
 * PutKeyPolicy, Encrypt, Decrypt, GenerateDataKey, GenerateRandom.
 *
 * What it must get right is the attested path (DESIGN.md, "Attestation and sealing"): a request
 * with a `Recipient` carries a Nitro attestation document; KMS verifies it, feeds its PCRs into
 * the key policy as `kms:RecipientAttestation:*` condition keys, and on success returns the
 * plaintext only as `CiphertextForRecipient`, a CMS envelope to the RSA key inside the document.
 * Each request goes through the same steps, in this order:
 *
 *   1. validate every input member at the boundary          ValidationException
 *   2. resolve the key (id or key ARN)                      NotFoundException
 *   3. verify the Recipient's attestation document          ValidationException
 *      (debug-mode enclave: AccessDeniedException)
 *   4. evaluate the key policy, with the verified PCRs      AccessDeniedException
 *   5. do the cryptography                                  InvalidCiphertextException, ...
 *   6. answer: Plaintext, or CiphertextForRecipient and no Plaintext at all
 *
 * The document is verified (3) before anything is read from it (4): PCRs from an unverified
 * document are attacker-chosen strings. Authorization (4) comes before decryption (5), so a
 * caller the policy refuses learns nothing, not even whether a ciphertext is well formed.
 *
 * Where the simulator differs from AWS, on purpose: there is no IAM (the account root in a key
 * policy stands for every principal of the account, see kms-policy.ts), no grants, aliases,
 * key rotation, deletion or asymmetric keys, and the attestation root is the simulated NSM's
 * instead of AWS's. Each unsupported request is refused by name, never ignored.
 *
 * Beside this file: kms-policy.ts (the policy language), kms-keys.ts (the key store and the
 * ciphertext format) and kms-recipient.ts (step 3 and the CiphertextForRecipient answer).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { AwsServiceError, type AwsHandler, type AwsRequestContext } from './json-server.js';
import { InputReader } from './input.js';
import { deliver, readRecipient, type VerifiedRecipient } from './kms-recipient.js';
import { KmsKeyStore, type KmsKey, type KmsTag } from './kms-keys.js';
import {
  KeyPolicyError,
  defaultKeyPolicyText,
  evaluateKeyPolicy,
  parseKeyPolicy,
  type KeyPolicy,
} from './kms-policy.js';

/** Options of {@link SimulatedKms.open}. */
export interface SimulatedKmsOptions {
  /** The service keeps its keys under `<dataDir>/kms/`. */
  readonly dataDir: string;
  /** The region in key ARNs, e.g. `us-east-1`. */
  readonly region: string;
  /** The account that owns new keys. Default: the account of the principal calling CreateKey. */
  readonly account?: string;
  /** Trust anchors (DER) for Recipient attestation documents: the simulated NSMs' roots. */
  readonly attestationRoots: readonly Uint8Array[];
  /** Clock for attestation checks and creation dates. Default: the system clock. */
  readonly now?: () => Date;
  /** Oldest attestation document accepted, by its timestamp. Default: 5 minutes. */
  readonly maxAttestationAgeMs?: number;
}

const DEFAULT_MAX_ATTESTATION_AGE_MS = 5 * 60 * 1000;
const KEY_ID_RULE = { min: 1, max: 2048 };
const CONTEXT_RULE = { maxEntries: 64, key: { min: 1, max: 2048 }, value: { max: 2048 } };
const GRANT_TOKENS_RULE = { max: 10, item: { min: 1, max: 8192 } };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/([0-9a-f-]{36})$/;
const ALIAS = /^(alias\/|arn:aws[a-z-]*:kms:[^:]*:\d{12}:alias\/)/;
const ENUM = /^[A-Z0-9_]{1,64}$/;
const SYMMETRIC_DEFAULT = 'SYMMETRIC_DEFAULT';

function reader(input: Record<string, unknown>, allowed: readonly string[]): InputReader {
  return new InputReader(input, 'ValidationException', allowed);
}

function notFound(message: string): AwsServiceError {
  return new AwsServiceError('NotFoundException', message);
}

function unsupported(what: string): AwsServiceError {
  return new AwsServiceError(
    'UnsupportedOperationException',
    `${what} is not supported by the simulator`,
  );
}

function invalidCiphertext(): AwsServiceError {
  // One message for every cause (bad format, unknown key, altered bytes, other context), so the
  // answer is no oracle for which part of a forged blob was wrong.
  return new AwsServiceError('InvalidCiphertextException', 'The ciphertext is invalid.');
}

/**
 * The simulated KMS service. {@link handlers} plugs into `listenAwsJsonService` with
 * `service: 'kms'`, `targetPrefix: 'TrentService'`.
 *
 * Key material stays inside its {@link KmsKeyStore}; plaintexts and data keys are zeroed once the
 * answer no longer needs them. What zeroing cannot reach, honestly: the base64 strings of the
 * store file and of JSON responses, which JavaScript cannot wipe and which live until collected,
 * and a plain (non-Recipient) answer's Plaintext, which the server encodes after the handler
 * returns.
 */
export class SimulatedKms {
  /** Operation name -> handler, for the JSON server. */
  readonly handlers: Readonly<Record<string, AwsHandler>>;
  readonly #store: KmsKeyStore;
  readonly #region: string;
  readonly #account: string | undefined;
  readonly #roots: readonly Uint8Array[];
  readonly #now: () => Date;
  readonly #maxAttestationAgeMs: number;

  private constructor(options: SimulatedKmsOptions, store: KmsKeyStore) {
    this.#store = store;
    this.#region = options.region;
    this.#account = options.account;
    this.#roots = options.attestationRoots.map((r) => r.slice());
    this.#now = options.now ?? (() => new Date());
    this.#maxAttestationAgeMs = options.maxAttestationAgeMs ?? DEFAULT_MAX_ATTESTATION_AGE_MS;
    const bind =
      (
        op: (input: Record<string, unknown>, context: AwsRequestContext) => Record<string, unknown>,
      ) =>
      async (input: Record<string, unknown>, context: AwsRequestContext) =>
        op.call(this, input, context);
    this.handlers = Object.freeze({
      CreateKey: bind(this.#createKey),
      DescribeKey: bind(this.#describeKey),
      GetKeyPolicy: bind(this.#getKeyPolicy),
      PutKeyPolicy: bind(this.#putKeyPolicy),
      Encrypt: bind(this.#encrypt),
      Decrypt: bind(this.#decrypt),
      GenerateDataKey: bind(this.#generateDataKey),
      GenerateRandom: bind(this.#generateRandom),
    });
  }

  /**
   * Opens the service over `<dataDir>/kms/`, loading every stored key.
   *
   * @throws TypeError for invalid options; KmsStoreError for a corrupt store.
   */
  static open(options: SimulatedKmsOptions): SimulatedKms {
    if (typeof options.dataDir !== 'string' || options.dataDir === '') {
      throw new TypeError('dataDir must be a non-empty path');
    }
    if (typeof options.region !== 'string' || !/^[a-z0-9-]{1,32}$/.test(options.region)) {
      throw new TypeError('region must be a region name such as us-east-1');
    }
    if (options.account !== undefined && !/^\d{12}$/.test(options.account)) {
      throw new TypeError('account must be a 12-digit account id');
    }
    if (
      !Array.isArray(options.attestationRoots) ||
      !options.attestationRoots.every((r) => r instanceof Uint8Array && r.length > 0)
    ) {
      throw new TypeError('attestationRoots must be a list of DER certificates');
    }
    const maxAge = options.maxAttestationAgeMs;
    if (maxAge !== undefined && !(Number.isFinite(maxAge) && maxAge >= 0)) {
      throw new TypeError('maxAttestationAgeMs must be a non-negative number');
    }
    return new SimulatedKms(options, KmsKeyStore.open(join(options.dataDir, 'kms')));
  }

  // -------------------------------------------------------------------------------------------
  // Shared steps

  /** Step 2: a key id or key ARN to a key. */
  #resolveKey(keyId: string): KmsKey {
    if (ALIAS.test(keyId)) {
      throw notFound('Aliases are not supported by the simulator; use the key id or key ARN.');
    }
    const id = UUID.test(keyId) ? keyId : KEY_ARN.exec(keyId)?.[1];
    const key = id === undefined ? undefined : this.#store.get(id);
    // An ARN must match in full: the right key id under another region or account is not it.
    if (!key || (id !== keyId && key.arn !== keyId)) {
      throw notFound(id === undefined ? 'Invalid keyId.' : `Key '${keyId}' does not exist.`);
    }
    return key;
  }

  /** The condition keys every request to a key carries (IAM global keys and kms:CallerAccount). */
  #baseConditions(context: AwsRequestContext): Map<string, string> {
    return new Map([
      ['kms:calleraccount', context.account],
      ['aws:principalarn', context.principal],
      ['aws:principalaccount', context.account],
    ]);
  }

  /** Step 4. Throws AccessDeniedException naming the action, the principal and the rule. */
  #authorize(
    policy: KeyPolicy,
    keyArn: string,
    action: string,
    context: AwsRequestContext,
    conditions: ReadonlyMap<string, string>,
  ): void {
    const decision = evaluateKeyPolicy(policy, {
      action,
      principal: context.principal,
      account: context.account,
      keyArn,
      conditions,
    });
    if (decision.decision === 'deny') {
      throw new AwsServiceError(
        'AccessDeniedException',
        `User: ${context.principal} is not authorized to perform: ${action} on resource: ` +
          `${keyArn} because ${decision.reason}`,
      );
    }
  }

  /** The context's entries as `kms:encryptioncontext:<key>` condition keys, into `into`. */
  #contextConditions(
    r: InputReader,
    context: Readonly<Record<string, string>>,
    into: Map<string, string>,
  ): void {
    for (const [k, v] of Object.entries(context)) {
      const name = `kms:encryptioncontext:${k.toLowerCase()}`;
      // IAM compares condition key names case-insensitively, so "Party" and "party" would be one
      // key with two values. AWS advises against such contexts; the simulator refuses them.
      if (into.has(name)) {
        throw r.error('EncryptionContext keys that differ only in case are not supported.');
      }
      into.set(name, v);
    }
  }

  /** Step 3, with this service's roots, clock and maximum document age. */
  #recipient(r: InputReader, raw: Record<string, unknown> | undefined): VerifiedRecipient | null {
    return readRecipient(r, raw, {
      roots: this.#roots,
      at: this.#now(),
      maxAgeMs: this.#maxAttestationAgeMs,
    });
  }

  /** Grants are not simulated; a grant token would name one that cannot exist. */
  #refuseGrantTokens(r: InputReader): void {
    const tokens = r.optionalStringList('GrantTokens', GRANT_TOKENS_RULE);
    if (tokens !== undefined && tokens.length > 0) {
      throw new AwsServiceError(
        'InvalidGrantTokenException',
        'Grants are not supported by the simulator.',
      );
    }
  }

  #encryptionAlgorithm(r: InputReader): void {
    const algorithm = r.optionalString('EncryptionAlgorithm', { pattern: ENUM });
    if (algorithm !== undefined && algorithm !== SYMMETRIC_DEFAULT) {
      throw new AwsServiceError(
        'InvalidKeyUsageException',
        `EncryptionAlgorithm ${algorithm} is not valid for a symmetric key.`,
      );
    }
  }

  #dryRun(): never {
    throw new AwsServiceError(
      'DryRunOperationException',
      'The request would have succeeded, but the DryRun option is set.',
      412,
    );
  }

  /** The CreateKey / PutKeyPolicy policy, parsed; its errors are MalformedPolicyDocumentException. */
  #parsePolicy(text: string): KeyPolicy {
    try {
      return parseKeyPolicy(text);
    } catch (error) {
      if (error instanceof KeyPolicyError) {
        throw new AwsServiceError('MalformedPolicyDocumentException', error.message);
      }
      throw error;
    }
  }

  /**
   * AWS's policy lockout safety check: a new policy must let the caller change it again, or the
   * key would be unmanageable forever. BypassPolicyLockoutSafetyCheck skips it, as in AWS.
   */
  #lockoutCheck(
    policy: KeyPolicy,
    keyArn: string,
    context: AwsRequestContext,
    bypass: boolean,
  ): void {
    if (bypass) return;
    const decision = evaluateKeyPolicy(policy, {
      action: 'kms:PutKeyPolicy',
      principal: context.principal,
      account: context.account,
      keyArn,
      conditions: this.#baseConditions(context),
    });
    if (decision.decision === 'deny') {
      throw new AwsServiceError(
        'MalformedPolicyDocumentException',
        'The new key policy will not allow you to update the key policy in the future ' +
          `(${decision.reason}).`,
      );
    }
  }

  #metadata(key: KmsKey): Record<string, unknown> {
    return {
      AWSAccountId: key.account,
      KeyId: key.keyId,
      Arn: key.arn,
      CreationDate: key.creationDate,
      Enabled: true,
      Description: key.description,
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeyState: 'Enabled',
      Origin: 'AWS_KMS',
      KeyManager: 'CUSTOMER',
      CustomerMasterKeySpec: SYMMETRIC_DEFAULT,
      KeySpec: SYMMETRIC_DEFAULT,
      EncryptionAlgorithms: [SYMMETRIC_DEFAULT],
      MultiRegion: false,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Operations

  #createKey(input: Record<string, unknown>, context: AwsRequestContext): Record<string, unknown> {
    const r = reader(input, [
      'Policy',
      'Description',
      'KeyUsage',
      'CustomerMasterKeySpec',
      'KeySpec',
      'Origin',
      'CustomKeyStoreId',
      'BypassPolicyLockoutSafetyCheck',
      'Tags',
      'MultiRegion',
      'XksKeyId',
    ]);
    const policyText = r.optionalString('Policy', { min: 1, max: 131072 });
    const description = r.optionalString('Description', { max: 8192 }) ?? '';
    const usage = r.optionalString('KeyUsage', { pattern: ENUM }) ?? 'ENCRYPT_DECRYPT';
    const cmkSpec = r.optionalString('CustomerMasterKeySpec', { pattern: ENUM });
    const keySpec = r.optionalString('KeySpec', { pattern: ENUM });
    const origin = r.optionalString('Origin', { pattern: ENUM }) ?? 'AWS_KMS';
    const bypass = r.optionalBoolean('BypassPolicyLockoutSafetyCheck') ?? false;
    if (cmkSpec !== undefined && keySpec !== undefined) {
      throw r.error('You cannot specify KeySpec and CustomerMasterKeySpec in the same request.');
    }
    const spec = keySpec ?? cmkSpec ?? SYMMETRIC_DEFAULT;
    if (spec !== SYMMETRIC_DEFAULT) throw unsupported(`KeySpec ${spec}`);
    if (usage !== 'ENCRYPT_DECRYPT') throw unsupported(`KeyUsage ${usage}`);
    if (origin !== 'AWS_KMS') throw unsupported(`Origin ${origin}`);
    if (r.optionalString('CustomKeyStoreId', { min: 1, max: 64 }) !== undefined) {
      throw unsupported('CustomKeyStoreId');
    }
    if (r.optionalBoolean('MultiRegion') === true) throw unsupported('MultiRegion');
    if (r.optionalString('XksKeyId', { min: 1, max: 128 }) !== undefined)
      throw unsupported('XksKeyId');
    const tags: KmsTag[] = (r.optionalObjectList('Tags', { max: 50 }) ?? []).map((raw, i) => {
      const t = r.nested(raw, `Tags.${i + 1}`, ['TagKey', 'TagValue']);
      return {
        TagKey: t.string('TagKey', { min: 1, max: 128 }),
        TagValue: t.string('TagValue', { max: 256 }),
      };
    });
    if (new Set(tags.map((t) => t.TagKey)).size !== tags.length) {
      throw new AwsServiceError('TagException', 'Duplicate tag keys.');
    }
    const account = this.#account ?? context.account;
    const policy = this.#parsePolicy(policyText ?? defaultKeyPolicyText(account));
    // The ARN is not known before the key exists; "*" and a wildcard ARN are what a creation-time
    // policy can name, so the check evaluates against a placeholder key ARN of this account.
    this.#lockoutCheck(policy, `arn:aws:kms:${this.#region}:${account}:key/*`, context, bypass);
    const key = this.#store.create({
      region: this.#region,
      account,
      creationDate: this.#now(),
      description,
      tags,
      policy,
    });
    return { KeyMetadata: this.#metadata(key) };
  }

  #describeKey(
    input: Record<string, unknown>,
    context: AwsRequestContext,
  ): Record<string, unknown> {
    const r = reader(input, ['KeyId', 'GrantTokens']);
    const key = this.#resolveKey(r.string('KeyId', KEY_ID_RULE));
    this.#refuseGrantTokens(r);
    this.#authorize(key.policy, key.arn, 'kms:DescribeKey', context, this.#baseConditions(context));
    return { KeyMetadata: this.#metadata(key) };
  }

  #policyName(r: InputReader): void {
    const name = r.optionalString('PolicyName', { min: 1, max: 128, pattern: /^[\w]+$/ });
    if (name !== undefined && name !== 'default') {
      throw r.error('PolicyName must be "default", the only key policy name.');
    }
  }

  #getKeyPolicy(
    input: Record<string, unknown>,
    context: AwsRequestContext,
  ): Record<string, unknown> {
    const r = reader(input, ['KeyId', 'PolicyName']);
    const key = this.#resolveKey(r.string('KeyId', KEY_ID_RULE));
    this.#policyName(r);
    this.#authorize(
      key.policy,
      key.arn,
      'kms:GetKeyPolicy',
      context,
      this.#baseConditions(context),
    );
    return { Policy: key.policy.text, PolicyName: 'default' };
  }

  #putKeyPolicy(
    input: Record<string, unknown>,
    context: AwsRequestContext,
  ): Record<string, unknown> {
    const r = reader(input, ['KeyId', 'Policy', 'PolicyName', 'BypassPolicyLockoutSafetyCheck']);
    const key = this.#resolveKey(r.string('KeyId', KEY_ID_RULE));
    const text = r.string('Policy', { min: 1, max: 131072 });
    this.#policyName(r);
    const bypass = r.optionalBoolean('BypassPolicyLockoutSafetyCheck') ?? false;
    // Authorized by the policy in force, not by the one being installed.
    this.#authorize(
      key.policy,
      key.arn,
      'kms:PutKeyPolicy',
      context,
      this.#baseConditions(context),
    );
    const policy = this.#parsePolicy(text);
    this.#lockoutCheck(policy, key.arn, context, bypass);
    this.#store.setPolicy(key.keyId, policy);
    return {};
  }

  #encrypt(input: Record<string, unknown>, context: AwsRequestContext): Record<string, unknown> {
    const r = reader(input, [
      'KeyId',
      'Plaintext',
      'EncryptionContext',
      'GrantTokens',
      'EncryptionAlgorithm',
      'DryRun',
    ]);
    const key = this.#resolveKey(r.string('KeyId', KEY_ID_RULE));
    const plaintext = r.blob('Plaintext', { min: 1, max: 4096 });
    const encryptionContext = r.optionalStringMap('EncryptionContext', CONTEXT_RULE) ?? {};
    this.#refuseGrantTokens(r);
    this.#encryptionAlgorithm(r);
    const dryRun = r.optionalBoolean('DryRun') ?? false;
    const conditions = this.#baseConditions(context);
    this.#contextConditions(r, encryptionContext, conditions);
    this.#authorize(key.policy, key.arn, 'kms:Encrypt', context, conditions);
    if (dryRun) this.#dryRun();
    try {
      const blob = this.#store.encrypt(key, plaintext, encryptionContext);
      return { CiphertextBlob: blob, KeyId: key.arn, EncryptionAlgorithm: SYMMETRIC_DEFAULT };
    } finally {
      plaintext.fill(0);
    }
  }

  #decrypt(input: Record<string, unknown>, context: AwsRequestContext): Record<string, unknown> {
    const r = reader(input, [
      'CiphertextBlob',
      'EncryptionContext',
      'GrantTokens',
      'KeyId',
      'EncryptionAlgorithm',
      'Recipient',
      'DryRun',
      'DryRunModifiers',
    ]);
    const blob = r.blob('CiphertextBlob', { min: 1, max: 6144 });
    const encryptionContext = r.optionalStringMap('EncryptionContext', CONTEXT_RULE) ?? {};
    const keyId = r.optionalString('KeyId', KEY_ID_RULE);
    this.#refuseGrantTokens(r);
    this.#encryptionAlgorithm(r);
    const dryRun = r.optionalBoolean('DryRun') ?? false;
    const modifiers = r.optionalStringList('DryRunModifiers', {
      max: 1,
      item: { pattern: /^IGNORE_CIPHERTEXT$/ },
    });
    const recipientInput = r.optionalObject('Recipient');

    // The blob names its key; a KeyId, when given, must be that key.
    const requested = keyId === undefined ? undefined : this.#resolveKey(keyId);
    const blobKeyId = KmsKeyStore.blobKeyId(blob);
    const key = blobKeyId === null ? undefined : this.#store.get(blobKeyId);
    if (requested && key && requested.keyId !== key.keyId) {
      throw new AwsServiceError(
        'IncorrectKeyException',
        'The key ID in the request does not identify the key that encrypted the ciphertext.',
      );
    }
    if (!key) throw invalidCiphertext();

    const recipient = this.#recipient(r, recipientInput);
    const conditions = this.#baseConditions(context);
    this.#contextConditions(r, encryptionContext, conditions);
    for (const [k, v] of recipient?.conditions ?? []) conditions.set(k, v);
    this.#authorize(key.policy, key.arn, 'kms:Decrypt', context, conditions);

    if (dryRun && modifiers?.includes('IGNORE_CIPHERTEXT')) this.#dryRun();
    const plaintext = this.#store.decrypt(key, blob, encryptionContext);
    if (plaintext === null) throw invalidCiphertext();
    if (dryRun) {
      plaintext.fill(0);
      this.#dryRun();
    }
    return {
      KeyId: key.arn,
      ...deliver(plaintext, recipient),
      EncryptionAlgorithm: SYMMETRIC_DEFAULT,
    };
  }

  #generateDataKey(
    input: Record<string, unknown>,
    context: AwsRequestContext,
  ): Record<string, unknown> {
    const r = reader(input, [
      'KeyId',
      'EncryptionContext',
      'NumberOfBytes',
      'KeySpec',
      'GrantTokens',
      'Recipient',
      'DryRun',
    ]);
    const key = this.#resolveKey(r.string('KeyId', KEY_ID_RULE));
    const encryptionContext = r.optionalStringMap('EncryptionContext', CONTEXT_RULE) ?? {};
    const numberOfBytes = r.optionalInteger('NumberOfBytes', { min: 1, max: 1024 });
    const keySpec = r.optionalString('KeySpec', { pattern: /^AES_(128|256)$/ });
    this.#refuseGrantTokens(r);
    const dryRun = r.optionalBoolean('DryRun') ?? false;
    const recipientInput = r.optionalObject('Recipient');
    if ((numberOfBytes === undefined) === (keySpec === undefined)) {
      throw r.error('Specify either NumberOfBytes or KeySpec, not both and not neither.');
    }
    const length = numberOfBytes ?? (keySpec === 'AES_128' ? 16 : 32);

    const recipient = this.#recipient(r, recipientInput);
    const conditions = this.#baseConditions(context);
    this.#contextConditions(r, encryptionContext, conditions);
    for (const [k, v] of recipient?.conditions ?? []) conditions.set(k, v);
    this.#authorize(key.policy, key.arn, 'kms:GenerateDataKey', context, conditions);
    if (dryRun) this.#dryRun();

    const dataKey = randomBytes(length);
    const blob = this.#store.encrypt(key, dataKey, encryptionContext);
    return { CiphertextBlob: blob, ...deliver(dataKey, recipient), KeyId: key.arn };
  }

  #generateRandom(
    input: Record<string, unknown>,
    _context: AwsRequestContext,
  ): Record<string, unknown> {
    const r = reader(input, ['NumberOfBytes', 'CustomKeyStoreId', 'Recipient']);
    const length = r.integer('NumberOfBytes', { min: 1, max: 1024 });
    if (r.optionalString('CustomKeyStoreId', { min: 1, max: 64 }) !== undefined) {
      throw unsupported('CustomKeyStoreId');
    }
    // GenerateRandom uses no key, so no key policy applies; in AWS only IAM policies could
    // restrict it, and the simulator has none: any authenticated caller may use it. A Recipient
    // is still verified, so a bad document is refused exactly as elsewhere.
    const recipient = this.#recipient(r, r.optionalObject('Recipient'));
    return deliver(randomBytes(length), recipient);
  }
}
