/**
 * Sealed blobs in Secrets Manager: one secret per key and party, one version per epoch.
 *
 * A new epoch is written in two phases so that a crash at any point loses nothing:
 *
 *   stage   PutSecretValue with only the label MPCKMS_PENDING. AWSCURRENT still marks the old
 *           epoch, which every party can still unseal.
 *   commit  once every party has staged (the cluster's decision, see epochs.ts): move AWSCURRENT
 *           to the staged version (Secrets Manager gives the old one AWSPREVIOUS), then drop the
 *           pending label.
 *   discard a refresh that did not reach every party: drop the pending label; the old epoch stays.
 *
 * A key's first epoch goes through the same phases, so a key is "created" only when every
 * party's share is sealed and stored (a secret's first version is AWSCURRENT at once, as Secrets
 * Manager always does; the epoch decision, not the label, says whether the key exists). Every step is idempotent: a retried stage (same bytes, same
 * request token) is a no-op, and commit or discard after a crash mid-way finishes the job.
 *
 * The store trusts nothing it reads: every version's header must name this secret's key and party
 * (a parent that swaps blobs between secrets is caught here), and the enclave still checks the
 * AEAD when it unseals.
 */
import { createHash } from 'node:crypto';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerServiceException,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { PartyId } from '../protocol/errors.js';
import { SealError } from './errors.js';
import { decodeSealedBlob, type SealedHeader } from './sealed-blob.js';
import { checkKeyId, type RecordBinding } from './share-record.js';

export const CURRENT = 'AWSCURRENT';
export const PREVIOUS = 'AWSPREVIOUS';
export const PENDING = 'MPCKMS_PENDING';

/** One stored version of a party's sealed share. */
export interface StoredVersion {
  readonly versionId: string;
  readonly epoch: number;
  readonly blob: Uint8Array;
}

/** What a party's secret holds: the committed epoch, the one before it, a staged one. */
export interface StoredShares {
  readonly current: StoredVersion | null;
  readonly previous: StoredVersion | null;
  readonly pending: StoredVersion | null;
}

export interface ShareStoreOptions {
  readonly client: SecretsManagerClient;
  /** Secret names are `<prefix>/<key id>/party-<n>`. Default `mpc-kms/keys`. */
  readonly prefix?: string;
}

export class SealedShareStore {
  readonly #client: SecretsManagerClient;
  readonly #prefix: string;

  constructor(options: ShareStoreOptions) {
    this.#client = options.client;
    this.#prefix = options.prefix ?? 'mpc-kms/keys';
    if (!/^[A-Za-z0-9/_+=.@-]{1,256}$/.test(this.#prefix)) {
      throw new TypeError('secret name prefix has characters Secrets Manager refuses');
    }
  }

  secretName(keyId: string, partyId: PartyId): string {
    checkKeyId(keyId);
    return `${this.#prefix}/${keyId}/party-${partyId}`;
  }

  /**
   * Stages a sealed blob as its epoch's pending version. Refuses an epoch not above the
   * committed one: staging never overwrites or shadows what is committed.
   */
  async stage(blob: Uint8Array): Promise<void> {
    const { header } = decodeSealedBlob(blob);
    const name = this.secretName(header.keyId, header.partyId);
    await this.#call('CreateSecret', async () => {
      try {
        await this.#client.send(
          new CreateSecretCommand({
            Name: name,
            Description: `mpc-kms sealed share: key ${header.keyId}, party ${header.partyId}`,
          }),
        );
      } catch (error) {
        if (!(error instanceof ResourceExistsException)) throw error;
      }
    });
    const stored = await this.load(header.keyId, header.partyId);
    if (stored.current !== null && header.epoch <= stored.current.epoch) {
      throw new SealError(
        'STORE_INCONSISTENT',
        `refusing to stage epoch ${header.epoch}: epoch ${stored.current.epoch} is committed`,
      );
    }
    await this.#call('PutSecretValue', () =>
      this.#client.send(
        new PutSecretValueCommand({
          SecretId: name,
          SecretBinary: blob,
          // Derived from the bytes: a retry of the same blob is recognised, not duplicated.
          ClientRequestToken: requestToken(name, blob),
          VersionStages: [PENDING],
        }),
      ),
    );
  }

  /** Makes the staged version of `binding.epoch` the committed one. Idempotent. */
  async commit(binding: RecordBinding): Promise<void> {
    const name = this.secretName(binding.keyId, binding.partyId);
    const stored = await this.load(binding.keyId, binding.partyId);
    const { current, pending } = stored;
    if (current?.epoch !== binding.epoch) {
      if (pending?.epoch !== binding.epoch) {
        throw new SealError(
          'NOT_FOUND',
          `no staged version of epoch ${binding.epoch} for key ${binding.keyId}, party ${binding.partyId}`,
        );
      }
      await this.#moveLabel(name, CURRENT, pending.versionId, current?.versionId);
    }
    // A crash between the two moves leaves the pending label on the committed version.
    if (pending !== null && pending.epoch <= binding.epoch) {
      await this.#moveLabel(name, PENDING, undefined, pending.versionId);
    }
  }

  /**
   * Drops the pending label of `binding.epoch`, if staged; the committed epoch stays. A secret's
   * first version is AWSCURRENT from the start (Secrets Manager's rule, which no request can
   * undo), so an abandoned creation leaves an orphan that the epoch decision ignores: the key
   * exists only when every party holds its share. Idempotent.
   */
  async discard(binding: RecordBinding): Promise<void> {
    const name = this.secretName(binding.keyId, binding.partyId);
    const { pending } = await this.load(binding.keyId, binding.partyId);
    if (pending === null || pending.epoch !== binding.epoch) return;
    await this.#moveLabel(name, PENDING, undefined, pending.versionId);
  }

  /** Reads a party's versions; all null when nothing was ever stored for it. */
  async load(keyId: string, partyId: PartyId): Promise<StoredShares> {
    const name = this.secretName(keyId, partyId);
    const described = await this.#call('DescribeSecret', async () => {
      try {
        return await this.#client.send(new DescribeSecretCommand({ SecretId: name }));
      } catch (error) {
        if (error instanceof ResourceNotFoundException) return null;
        throw error;
      }
    });
    const stages = described?.VersionIdsToStages ?? {};
    const holder = (label: string) =>
      Object.entries(stages).find(([, labels]) => labels.includes(label))?.[0];
    const read = async (label: string): Promise<StoredVersion | null> => {
      const versionId = holder(label);
      if (versionId === undefined) return null;
      const answer = await this.#call('GetSecretValue', () =>
        this.#client.send(new GetSecretValueCommand({ SecretId: name, VersionId: versionId })),
      );
      if (!answer.SecretBinary) {
        throw new SealError('STORE_INCONSISTENT', `${name} version ${versionId} holds no blob`);
      }
      const blob = new Uint8Array(answer.SecretBinary);
      checkOwner(decodeSealedBlob(blob).header, keyId, partyId, name);
      return { versionId, epoch: decodeSealedBlob(blob).header.epoch, blob };
    };
    return {
      current: await read(CURRENT),
      previous: await read(PREVIOUS),
      pending: await read(PENDING),
    };
  }

  async #moveLabel(
    name: string,
    label: string,
    moveTo: string | undefined,
    removeFrom: string | undefined,
  ): Promise<void> {
    await this.#call('UpdateSecretVersionStage', () =>
      this.#client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: label,
          MoveToVersionId: moveTo,
          RemoveFromVersionId: removeFrom,
        }),
      ),
    );
  }

  /** Runs one Secrets Manager call, turning the SDK's failures into SealErrors. */
  async #call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof SealError) throw error;
      if (error instanceof ResourceNotFoundException) {
        throw new SealError('NOT_FOUND', `Secrets Manager ${operation}: ${error.message}`);
      }
      const refused = error instanceof SecretsManagerServiceException && error.$fault === 'client';
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : 'unknown failure';
      throw new SealError(
        refused ? 'STORE_REFUSED' : 'SERVICE_UNAVAILABLE',
        `Secrets Manager ${operation}: ${reason}`,
        { cause: error },
      );
    }
  }
}

function checkOwner(header: SealedHeader, keyId: string, partyId: PartyId, name: string): void {
  if (header.keyId !== keyId || header.partyId !== partyId) {
    throw new SealError(
      'BLOB_MISMATCH',
      `${name} holds a blob of key ${header.keyId}, party ${header.partyId}`,
    );
  }
}

/** 64 hex characters: within Secrets Manager's 32-64 character token bounds. */
function requestToken(name: string, blob: Uint8Array): string {
  return createHash('sha256').update(name).update('\0').update(blob).digest('hex');
}
