/**
 * The enclave's keys in memory: each key's share records by epoch, unsealed on first use and
 * kept only here. A new epoch is sealed and staged before anyone hears of it, becomes the one
 * used for signing when the coordinator commits it, and the old epoch's secret share is wiped
 * then (DESIGN.md: "old shares are erased once the new epoch is sealed").
 *
 * Presignatures live here too, in memory only. Before one is spent, its id is written to the
 * key's presignature ledger in Secrets Manager, so that a signature share is released only once
 * its presignature is durably marked consumed.
 */
import { createHash } from 'node:crypto';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  CreateSecretCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { toHex } from '../protocol/bytes.js';
import type { PartyId } from '../protocol/errors.js';
import type { Presignature } from '../protocol/ecdsa/presignature.js';
import { SealError } from './errors.js';
import type { ShareSealer } from './sealer.js';
import type { ShareRecord } from './share-record.js';
import type { SealedShareStore } from './share-store.js';

/** Presignatures held at once per key, so a caller cannot make the enclave hoard memory. */
const MAX_PRESIGNATURES_PER_KEY = 1024;
/** Ids a ledger keeps: the last ones spent (ids are random; old ones are never offered again). */
const LEDGER_WINDOW = 4096;

interface KeyEntry {
  /** Unsealed records by epoch: the committed one, and at most one staged above it. */
  readonly epochs: Map<number, ShareRecord>;
  committed: number | null;
  readonly presignatures: Map<string, Presignature>;
}

export interface VaultOptions {
  readonly self: PartyId;
  readonly sealer: ShareSealer;
  readonly store: SealedShareStore;
  /** The client behind `store`, for the presignature ledger. */
  readonly secrets: SecretsManagerClient;
}

export class KeyVault {
  readonly self: PartyId;
  readonly #sealer: ShareSealer;
  readonly #store: SealedShareStore;
  readonly #secrets: SecretsManagerClient;
  readonly #keys = new Map<string, KeyEntry>();
  /** One unseal at a time per key and epoch: concurrent requests share it. */
  readonly #loading = new Map<string, Promise<ShareRecord>>();

  constructor(options: VaultOptions) {
    this.self = options.self;
    this.#sealer = options.sealer;
    this.#store = options.store;
    this.#secrets = options.secrets;
  }

  get keyCount(): number {
    return this.#keys.size;
  }

  get presignatureCount(): number {
    let n = 0;
    for (const entry of this.#keys.values()) n += entry.presignatures.size;
    return n;
  }

  /**
   * The record of `keyId` at `epoch`: from memory, or unsealed from storage (the committed,
   * previous or staged version of that epoch).
   *
   * @throws SealError('NOT_FOUND') when no version of that epoch is stored.
   */
  async get(keyId: string, epoch: number): Promise<ShareRecord> {
    const cached = this.#keys.get(keyId)?.epochs.get(epoch);
    if (cached) return cached;
    const slot = `${keyId}/${epoch}`;
    let loading = this.#loading.get(slot);
    if (!loading) {
      loading = this.#unseal(keyId, epoch).finally(() => this.#loading.delete(slot));
      this.#loading.set(slot, loading);
    }
    return loading;
  }

  /** Seals a new epoch's record and stages it; from then on it is held here, uncommitted. */
  async stage(record: ShareRecord): Promise<void> {
    const blob = await this.#sealer.seal(record);
    await this.#store.stage(blob);
    this.#entry(record.keyId).epochs.set(record.share.epoch, record);
  }

  /** Commits a staged epoch; the epochs below it are wiped from memory. Idempotent. */
  async commit(keyId: string, epoch: number): Promise<void> {
    await this.#store.commit({ keyId, partyId: this.self, epoch });
    const entry = this.#entry(keyId);
    entry.committed = epoch;
    for (const [e, record] of entry.epochs) {
      if (e < epoch) {
        record.share.secretShare.dispose();
        entry.epochs.delete(e);
      }
    }
    // Presignatures of an older epoch can never be used with the new shares.
    for (const [id, pre] of entry.presignatures) {
      if (pre.public.epoch < epoch) entry.presignatures.delete(id);
    }
  }

  /** Drops a staged epoch that the cluster did not confirm. */
  async discard(keyId: string, epoch: number): Promise<void> {
    await this.#store.discard({ keyId, partyId: this.self, epoch });
    const entry = this.#keys.get(keyId);
    const record = entry?.epochs.get(epoch);
    if (entry && record && entry.committed !== epoch) {
      record.share.secretShare.dispose();
      entry.epochs.delete(epoch);
    }
  }

  /** The epoch of `keyId` committed here, once known (after a commit or an unseal). */
  committedEpoch(keyId: string): number | null {
    return this.#keys.get(keyId)?.committed ?? null;
  }

  addPresignature(keyId: string, presignature: Presignature): void {
    const entry = this.#entry(keyId);
    if (entry.presignatures.size >= MAX_PRESIGNATURES_PER_KEY) {
      // The oldest goes: a coordinator that restarted forgot its pool, and what it forgot must
      // not fill this enclave for good. Dropping one never lets it be used twice.
      const oldest = entry.presignatures.keys().next().value!;
      entry.presignatures.get(oldest)!.consume(); // wipes its secrets; it is never used
      entry.presignatures.delete(oldest);
    }
    entry.presignatures.set(toHex(presignature.public.id), presignature);
  }

  /**
   * Takes a presignature out of memory after writing its id to the key's ledger. Only then may
   * the caller spend it: a crash between the two loses a presignature, never repeats one.
   *
   * @throws SealError('NOT_FOUND') when this enclave holds no presignature of that id.
   */
  async takePresignature(keyId: string, id: Uint8Array): Promise<Presignature> {
    const entry = this.#keys.get(keyId);
    const hex = toHex(id);
    const presignature = entry?.presignatures.get(hex);
    if (!entry || !presignature) {
      throw new SealError('NOT_FOUND', `no presignature ${hex.slice(0, 16)}… for key ${keyId}`);
    }
    entry.presignatures.delete(hex);
    await this.#recordConsumed(keyId, hex);
    return presignature;
  }

  async #unseal(keyId: string, epoch: number): Promise<ShareRecord> {
    const stored = await this.#store.load(keyId, this.self);
    const version = [stored.current, stored.previous, stored.pending].find(
      (v) => v?.epoch === epoch,
    );
    if (!version) {
      throw new SealError('NOT_FOUND', `no sealed share of key ${keyId} at epoch ${epoch}`);
    }
    const record = await this.#sealer.unseal(version.blob, {
      keyId,
      partyId: this.self,
      epoch,
    });
    const entry = this.#entry(keyId);
    entry.epochs.set(epoch, record);
    if (stored.current?.epoch === epoch) entry.committed = epoch;
    return record;
  }

  #entry(keyId: string): KeyEntry {
    let entry = this.#keys.get(keyId);
    if (!entry) {
      entry = { epochs: new Map(), committed: null, presignatures: new Map() };
      this.#keys.set(keyId, entry);
    }
    return entry;
  }

  /**
   * Appends a presignature id to the ledger secret `<share secret>/presignatures`, one version per
   * spend (request token derived from the id, so a retry is one version). The ids are public;
   * what the ledger adds is durability: a record exists before any share made from it does.
   */
  async #recordConsumed(keyId: string, idHex: string): Promise<void> {
    const name = `${this.#store.secretName(keyId, this.self)}/presignatures`;
    try {
      let spent: string[] = [];
      try {
        const current = await this.#secrets.send(new GetSecretValueCommand({ SecretId: name }));
        spent = parseLedger(current.SecretString ?? '[]', name);
      } catch (error) {
        if (!(error instanceof ResourceNotFoundException)) throw error;
        try {
          await this.#secrets.send(new CreateSecretCommand({ Name: name }));
        } catch (e) {
          if (!(e instanceof ResourceExistsException)) throw e;
        }
      }
      if (spent.includes(idHex)) {
        throw new SealError('STORE_INCONSISTENT', `presignature ${idHex.slice(0, 16)}… was spent`);
      }
      spent = [...spent, idHex].slice(-LEDGER_WINDOW);
      await this.#secrets.send(
        new PutSecretValueCommand({
          SecretId: name,
          SecretString: JSON.stringify(spent),
          ClientRequestToken: createHash('sha256').update(name).update(idHex).digest('hex'),
        }),
      );
    } catch (error) {
      if (error instanceof SealError) throw error;
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : 'failure';
      throw new SealError('SERVICE_UNAVAILABLE', `presignature ledger: ${reason}`, {
        cause: error,
      });
    }
  }
}

/** The ledger as stored: a JSON list of 64-hex presignature ids; anything else is refused. */
function parseLedger(text: string, name: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = null;
  }
  if (
    !Array.isArray(value) ||
    value.length > LEDGER_WINDOW ||
    !value.every((id) => typeof id === 'string' && /^[0-9a-f]{64}$/.test(id))
  ) {
    throw new SealError('STORE_INCONSISTENT', `${name} does not hold a presignature ledger`);
  }
  return value as string[];
}
