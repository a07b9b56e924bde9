/**
 * The coordinator's service: what each REST route does once the HTTP layer has validated the
 * request and resolved the caller. It enforces roles and token scopes, evaluates the key's
 * policy (allowed signer sets, rate limits per key and per token) before any ceremony starts,
 * refuses fast with the missing parties when no quorum is healthy, runs ceremonies through the
 * cluster, keeps the metadata store, and writes every decision to the hash-chained audit log.
 * The enclaves check the same policy again, from their own sealed copy.
 *
 * Roles: `admin` creates keys, refreshes them, manages policies and tokens, and reads; `signer`
 * signs and derives with the keys its token is scoped to; `auditor` reads keys, policies, the
 * audit log and attestations. An admin cannot sign: the one who sets policy is not the one who
 * spends it.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { fromHex, toHex } from '../protocol/bytes.js';
import { derivePath } from '../protocol/derive.js';
import type { PresignaturePublic } from '../protocol/ecdsa/presignature.js';
import type { PartyId } from '../protocol/errors.js';
import { groupByName, type Element } from '../protocol/group.js';
import { ProtocolError } from '../protocol/errors.js';
import { decodeKeyPublic, encodeKeyPublic, type EnclavePolicy } from '../enclave/index.js';
import { verifyAttestation } from '../attestation/index.js';
import { canonicalJson, linkHash } from './audit.js';
import { addressesFor, ChainInputError, type ChainAddress } from './chains/index.js';
import { CeremonyError, type Cluster, type KeyInfo, type Signed } from './cluster.js';
import { PresignaturePool } from './presign-pool.js';
import {
  TRANSACTION_SCHEMES,
  normalizeDestination,
  prepareTransaction,
  type PreparedTransaction,
  type SigningOutput,
  type TransactionRequest,
} from './transactions.js';
import type { Metrics } from './metrics.js';
import {
  ServiceError,
  type AttestationView,
  type AuditView,
  type Caller,
  type CoordinatorService,
  type HealthView,
  type KeyView,
  type PolicyView,
  type Role,
  type Scheme,
  type SignatureView,
  type TokenView,
} from './service-types.js';
import type { KeyRecord, MetadataStore, PolicyRecord } from './store/types.js';

export interface ServiceOptions {
  readonly cluster: Cluster;
  readonly store: MetadataStore;
  readonly metrics: Metrics;
  /** Every party the cluster has, ascending: keys are made over the first `parties` of them. */
  readonly parties: readonly PartyId[];
  readonly now?: () => Date;
  /** How enclaves' attestation documents are checked (as the cluster checks its peers). */
  readonly enclavePolicy: EnclavePolicy;
  /** How long a fetched attestation is shown before a fresh one is asked for. */
  readonly attestationTtlMs?: number;
  /** ECDSA presignatures kept ready per key and signer set in use; default 16, 0 for none. */
  readonly presignaturePool?: number;
}

interface Attested {
  readonly document: Uint8Array;
  /** The enclave's acknowledgement key, from the verified document's `public_key`. */
  readonly ackKey: Uint8Array;
  readonly moduleId: string;
  readonly timestamp: number;
  readonly pcrs: Record<string, string>;
  readonly fetchedAt: number;
}

/** Decoded keys kept in memory; beyond this the one decoded first is dropped. */
const MAX_CACHED_KEYS = 10_000;

const NO_POLICY: Omit<PolicyRecord, 'keyId' | 'updatedAt'> = {
  allowedSignerSets: [],
  keyRatePerMinute: null,
  tokenRatePerMinute: null,
  destinations: null,
  dailyValueLimit: null,
};

export class Service implements CoordinatorService {
  readonly #cluster: Cluster;
  readonly #store: MetadataStore;
  readonly #metrics: Metrics;
  readonly #parties: readonly PartyId[];
  readonly #now: () => Date;
  readonly #attestationTtlMs: number;
  readonly #attested = new Map<PartyId, Attested>();
  readonly #enclavePolicy: EnclavePolicy;
  readonly #pool: PresignaturePool;
  /** Decoded keys by id, with the stored encoding they came from (a refresh replaces it). */
  readonly #keyInfos = new Map<string, { readonly keyPublic: string; readonly info: KeyInfo }>();

  constructor(options: ServiceOptions) {
    this.#cluster = options.cluster;
    this.#store = options.store;
    this.#metrics = options.metrics;
    this.#parties = [...options.parties].sort((a, b) => a - b);
    this.#now = options.now ?? (() => new Date());
    this.#attestationTtlMs = options.attestationTtlMs ?? 60_000;
    this.#enclavePolicy = options.enclavePolicy;
    this.#pool = new PresignaturePool({
      target: options.presignaturePool ?? 16,
      presign: (info, signers) =>
        this.#ceremony(info.scheme, 'presign', () => this.#cluster.presign(info, signers)),
      moduleOf: (party) => this.#cluster.peers.attestation(party)?.moduleId ?? null,
      observe: (keyId, signers, available, target) => {
        this.#metrics.presignaturePoolAvailable.set({ key_id: keyId, signers }, available);
        this.#metrics.presignaturePoolTarget.set({ key_id: keyId, signers }, target);
      },
    });
  }

  /** Stops background work (the presignature pool's refills). */
  close(): void {
    this.#pool.close();
  }

  // -------------------------------------------------------------------------------------------
  // Tokens

  async authenticate(token: string, requestId: string): Promise<Caller | null> {
    const record = await this.#store.findTokenByHash(hashToken(token));
    if (!record || record.revokedAt !== null) return null;
    return { tokenId: record.id, role: record.role, keyIds: record.keyIds, requestId };
  }

  /** Makes sure a token with this secret exists (the operator's bootstrap admin token). */
  async ensureToken(token: string, name: string, role: Role): Promise<void> {
    const hash = hashToken(token);
    if (await this.#store.findTokenByHash(hash)) return;
    await this.#store.insertToken({
      id: `tok_${randomUUID()}`,
      name,
      role,
      hash,
      keyIds: null,
      createdAt: this.#iso(),
      revokedAt: null,
    });
  }

  async createToken(
    caller: Caller,
    request: { name: string; role: Role; keyIds?: string[] | null },
  ): Promise<TokenView & { token: string }> {
    this.#require(caller, ['admin'], 'manage tokens');
    const token = `mpck_${randomBytes(32).toString('base64url')}`;
    const record = {
      id: `tok_${randomUUID()}`,
      name: request.name,
      role: request.role,
      hash: hashToken(token),
      keyIds: request.role === 'signer' ? (request.keyIds ?? null) : null,
      createdAt: this.#iso(),
      revokedAt: null,
    };
    await this.#store.insertToken(record);
    await this.#audit(caller, { action: 'token.create', token: record.id, role: record.role });
    const { hash: _hash, ...view } = record;
    return { ...view, token };
  }

  async listTokens(caller: Caller): Promise<TokenView[]> {
    this.#require(caller, ['admin'], 'manage tokens');
    return (await this.#store.listTokens()).map(({ hash: _hash, ...view }) => view);
  }

  async revokeToken(caller: Caller, id: string): Promise<void> {
    this.#require(caller, ['admin'], 'manage tokens');
    if (!(await this.#store.revokeToken(id, this.#iso()))) {
      throw new ServiceError('NOT_FOUND', `no live token ${id}`);
    }
    await this.#audit(caller, { action: 'token.revoke', token: id });
  }

  // -------------------------------------------------------------------------------------------
  // Keys

  async createKey(
    caller: Caller,
    request: { scheme: Scheme; threshold: number; parties: number; policy?: Partial<PolicyView> },
  ): Promise<KeyView> {
    this.#require(caller, ['admin'], 'create keys');
    if (request.threshold > request.parties) {
      throw new ServiceError(
        'UNPROCESSABLE',
        `threshold ${request.threshold} exceeds parties ${request.parties}`,
      );
    }
    if (request.parties > this.#parties.length) {
      throw new ServiceError(
        'UNPROCESSABLE',
        `${request.parties} parties asked, the cluster has ${this.#parties.length}`,
      );
    }
    const parties = this.#parties.slice(0, request.parties);
    const policy = { ...NO_POLICY, ...request.policy };
    checkSignerSets(policy.allowedSignerSets, parties, request.threshold);
    // Key generation needs every party: refuse at once, naming who is missing.
    this.#requireHealthy(parties, parties.length);
    const keyId = `key_${randomUUID()}`;
    const started = performance.now();
    let info: KeyInfo;
    try {
      info = await this.#ceremony(request.scheme, 'dkg', () =>
        this.#cluster.createKey({
          keyId,
          scheme: request.scheme,
          threshold: request.threshold,
          parties,
          allowedSignerSets: policy.allowedSignerSets,
        }),
      );
    } catch (error) {
      await this.#audit(caller, {
        action: 'key.create',
        keyId,
        scheme: request.scheme,
        parties,
        outcome: 'error',
        error: describe(error),
        ms: Math.round(performance.now() - started),
      });
      throw asServiceError(error);
    }
    const record: KeyRecord = {
      id: keyId,
      scheme: request.scheme,
      threshold: request.threshold,
      parties,
      publicKey: toHex(publicKeyBytes(request.scheme, info.key.publicKey)),
      chainCode: toHex(info.key.chainCode),
      epoch: info.key.epoch,
      keyPublic: Buffer.from(encodeKeyPublic(info.key)).toString('base64'),
      createdAt: this.#iso(),
    };
    await this.#store.insertKey(record);
    await this.#store.putPolicy({ keyId, ...policy, updatedAt: this.#iso() });
    await this.#audit(caller, {
      action: 'key.create',
      keyId,
      scheme: request.scheme,
      threshold: request.threshold,
      parties,
      publicKey: record.publicKey,
      outcome: 'ok',
      ms: Math.round(performance.now() - started),
    });
    if (request.scheme === 'ecdsa-secp256k1') {
      // Fill the set a request without "signers" would use, so the first signature is fast.
      const set = policy.allowedSignerSets[0] ?? parties.slice(0, request.threshold);
      this.#pool.want(info, set);
    }
    return view(record);
  }

  async listKeys(caller: Caller): Promise<KeyView[]> {
    this.#require(caller, ['admin', 'auditor', 'signer'], 'read keys');
    const keys = await this.#store.listKeys();
    return keys.filter((k) => inScope(caller, k.id)).map(view);
  }

  async getKey(caller: Caller, id: string): Promise<KeyView> {
    return view(await this.#key(caller, id, ['admin', 'auditor', 'signer'], 'read keys'));
  }

  async derive(
    caller: Caller,
    id: string,
    request: { path: string },
  ): Promise<{ path: string; publicKey: string; chainCode: string; addresses: ChainAddress }> {
    const record = await this.#key(caller, id, ['admin', 'signer'], 'derive');
    const info = this.#keyInfo(record);
    let derived;
    try {
      derived = derivePath(
        groupByName(info.key.group),
        info.key.publicKey,
        info.key.chainCode,
        request.path,
      );
    } catch (error) {
      throw new ServiceError('BAD_REQUEST', error instanceof Error ? error.message : 'bad path');
    }
    const publicKey = publicKeyBytes(record.scheme, derived.publicKey);
    return {
      path: request.path,
      publicKey: toHex(publicKey),
      chainCode: toHex(derived.chainCode),
      addresses: addressesFor(record.scheme, publicKey),
    };
  }

  async sign(
    caller: Caller,
    id: string,
    request: { digest?: string; message?: string; path?: string; signers?: number[] },
  ): Promise<SignatureView> {
    const record = await this.#key(caller, id, ['signer'], 'sign');
    const message = signingInput(record.scheme, request);
    const policy = await this.#policy(id);
    if (policy.destinations !== null || policy.dailyValueLimit !== null) {
      // A bare digest could be any transaction: a key whose policy names destinations or a
      // value limit signs only what the transaction routes can decode and check.
      throw new ServiceError(
        'FORBIDDEN',
        'this key has a transaction policy: sign through /v1/keys/{id}/transactions/…',
        { rule: policy.destinations !== null ? 'destinations' : 'dailyValueLimit' },
      );
    }
    const path = request.path ?? '';
    const publicKey = this.#derived(this.#keyInfo(record), path);
    const output = await this.#signWith(caller, record, policy, {
      message,
      path,
      ...(request.signers ? { signers: request.signers } : {}),
      taproot: false,
      value: 0n,
      audit: {},
    });
    const hex = toHex(publicKeyBytes(record.scheme, publicKey));
    if (output instanceof Uint8Array) {
      return {
        signature: toHex(output),
        r: toHex(output.subarray(0, 32)),
        s: toHex(output.subarray(32)),
        publicKey: hex,
      };
    }
    return {
      signature: toHex(output.compact),
      r: toHex(output.compact.subarray(0, 32)),
      s: toHex(output.compact.subarray(32)),
      recoveryId: output.recoveryId,
      der: toHex(output.der),
      publicKey: hex,
    };
  }

  /**
   * Signs a transaction: decodes it, checks the key's destination and value policy against what
   * it really does, signs its signing digest, and answers with the signed transaction.
   */
  async signTransaction(
    caller: Caller,
    id: string,
    request: TransactionRequest,
  ): Promise<Record<string, unknown>> {
    const record = await this.#key(caller, id, ['signer'], 'sign');
    const wanted = TRANSACTION_SCHEMES[request.chain];
    if (record.scheme !== wanted) {
      throw new ServiceError(
        'UNPROCESSABLE',
        `a ${request.chain} transaction is signed by a ${wanted} key; ${id} is ${record.scheme}`,
      );
    }
    const info = this.#keyInfo(record);
    const path = request.body.path ?? '';
    const derived = this.#derived(info, path);
    let prepared: PreparedTransaction;
    try {
      prepared = prepareTransaction(request, publicKeyBytes(record.scheme, derived));
    } catch (error) {
      if (error instanceof ChainInputError) {
        throw new ServiceError('UNPROCESSABLE', `${error.field}: ${error.message}`);
      }
      throw error;
    }
    const policy = await this.#policy(id);
    await this.#checkTransactionPolicy(record, policy, prepared);
    const output = await this.#signWith(caller, record, policy, {
      message: prepared.message,
      path,
      taproot: prepared.taproot,
      value: prepared.value,
      audit: { chain: request.chain, destinations: prepared.destinations },
    });
    return prepared.finish(output);
  }

  /**
   * The key as the ceremonies take it. Decoding validates every point (for Ed25519, a
   * prime-order check costing about a millisecond each), and the signing material derived from
   * a key is cached by the decoded object: so the decoded key is kept, not redone per request.
   */
  #keyInfo(record: KeyRecord): KeyInfo {
    const hit = this.#keyInfos.get(record.id);
    if (hit && hit.keyPublic === record.keyPublic) return hit.info;
    const info = keyInfo(record);
    if (this.#keyInfos.size >= MAX_CACHED_KEYS) {
      this.#keyInfos.delete(this.#keyInfos.keys().next().value!);
    }
    this.#keyInfos.set(record.id, { keyPublic: record.keyPublic, info });
    return info;
  }

  async #policy(id: string): Promise<PolicyRecord> {
    return (await this.#store.getPolicy(id)) ?? { keyId: id, ...NO_POLICY, updatedAt: '' };
  }

  #derived(info: KeyInfo, path: string) {
    if (!path) return info.key.publicKey;
    try {
      return derivePath(groupByName(info.key.group), info.key.publicKey, info.key.chainCode, path)
        .publicKey;
    } catch (error) {
      throw new ServiceError('BAD_REQUEST', error instanceof Error ? error.message : 'bad path');
    }
  }

  async #checkTransactionPolicy(
    record: KeyRecord,
    policy: PolicyRecord,
    prepared: PreparedTransaction,
  ): Promise<void> {
    const bounded = policy.destinations !== null || policy.dailyValueLimit !== null;
    if (bounded && !prepared.fullyDecoded) {
      throw new ServiceError(
        'FORBIDDEN',
        'the key has a transaction policy, and this transaction has effects it cannot check ' +
          '(outputs not all signed for, or instructions other than transfers)',
        { rule: policy.destinations !== null ? 'destinations' : 'dailyValueLimit' },
      );
    }
    if (policy.destinations !== null) {
      const allowed = new Set(policy.destinations.map(normalizeDestination));
      const refused = prepared.destinations.filter((d) => !allowed.has(normalizeDestination(d)));
      if (refused.length > 0) {
        throw new ServiceError(
          'FORBIDDEN',
          `the key policy does not allow sending to ${refused.join(', ')}`,
          { rule: 'destinations', refused },
        );
      }
    }
    if (policy.dailyValueLimit !== null) {
      const since = new Date(this.#now().getTime() - 86_400_000).toISOString();
      const spent = BigInt(await this.#store.sumValue(record.id, since));
      const limit = BigInt(policy.dailyValueLimit);
      if (spent + prepared.value > limit) {
        throw new ServiceError(
          'FORBIDDEN',
          `the key's daily value limit ${limit} would be exceeded: ${spent} signed in the last 24 hours, this one sends ${prepared.value}`,
          { rule: 'dailyValueLimit', spent: spent.toString(), limit: limit.toString() },
        );
      }
    }
  }

  /**
   * The one signing path: signer set, rates, attestations, the ceremony (ECDSA from the
   * presignature pool when one is ready), then the value record and the audit entry.
   */
  async #signWith(
    caller: Caller,
    record: KeyRecord,
    policy: PolicyRecord,
    request: {
      message: Uint8Array;
      path: string;
      signers?: number[];
      taproot: boolean;
      value: bigint;
      audit: Record<string, unknown>;
    },
  ): Promise<SigningOutput> {
    const info = this.#keyInfo(record);
    const { message, path } = request;
    const signers = this.#chooseSigners(record, policy, request.signers);
    await this.#checkRates(caller, record, policy);
    await this.#ensureAttested(signers);

    const started = performance.now();
    let signed: Signed<SigningOutput>;
    let presignature: string | undefined;
    try {
      if (record.scheme === 'ecdsa-secp256k1') {
        this.#pool.want(info, signers);
        const sign = (pre: PresignaturePublic) => {
          presignature = toHex(pre.id);
          return this.#ceremony(record.scheme, 'sign', () =>
            this.#cluster.signEcdsa(info, pre, { digest: message, ...(path ? { path } : {}) }),
          );
        };
        const inline = async () =>
          sign(
            await this.#ceremony(record.scheme, 'presign', () =>
              this.#cluster.presign(info, signers),
            ),
          );
        const pooled = this.#pool.take(info, signers);
        // A pooled presignature whose halves an enclave lost (it restarted between the
        // pool's check and now) fails the round: one fresh presignature then decides.
        signed = pooled ? await sign(pooled).catch(inline) : await inline();
      } else {
        signed = await this.#ceremony(record.scheme, 'sign', () =>
          this.#cluster.signSchnorr(info, {
            signers,
            message,
            ...(path ? { path } : {}),
            ...(request.taproot ? { taproot: true } : {}),
          }),
        );
      }
    } catch (error) {
      await this.#audit(caller, {
        action: 'sign',
        keyId: record.id,
        epoch: record.epoch,
        signers,
        path,
        ...request.audit,
        messageSha256: sha256Hex(message),
        outcome: 'error',
        error: describe(error),
        ms: Math.round(performance.now() - started),
      });
      throw asServiceError(error);
    }
    await this.#store.recordSignature({
      keyId: record.id,
      tokenId: caller.tokenId,
      at: this.#iso(),
      value: request.value.toString(),
    });
    await this.#audit(caller, {
      action: 'sign',
      keyId: record.id,
      epoch: record.epoch,
      signers,
      path,
      ...request.audit,
      ...(request.taproot ? { taproot: true } : {}),
      ...(request.value > 0n ? { value: request.value.toString() } : {}),
      session: toHex(signed.sessionId),
      ...(presignature ? { presignature } : {}),
      messageSha256: sha256Hex(message),
      outcome: 'ok',
      acks: [...signed.acks].map(([party, signature]) => ({
        party,
        ackKey: this.#attested.get(party) ? toHex(ackKeyOf(this.#attested.get(party)!)) : null,
        signature: toHex(signature),
      })),
      ms: Math.round(performance.now() - started),
    });
    return signed.output;
  }

  async refresh(caller: Caller, id: string): Promise<{ epoch: number }> {
    const record = await this.#key(caller, id, ['admin'], 'refresh keys');
    this.#requireHealthy(record.parties, record.parties.length);
    const started = performance.now();
    let next: KeyInfo;
    try {
      next = await this.#ceremony(record.scheme, 'refresh', () =>
        this.#cluster.refresh(this.#keyInfo(record)),
      );
    } catch (error) {
      await this.#audit(caller, {
        action: 'key.refresh',
        keyId: id,
        outcome: 'error',
        error: describe(error),
      });
      throw asServiceError(error);
    }
    const updated = await this.#store.updateKeyEpoch(
      id,
      record.epoch,
      next.key.epoch,
      Buffer.from(encodeKeyPublic(next.key)).toString('base64'),
    );
    if (!updated) throw new ServiceError('CONFLICT', `key ${id} was refreshed concurrently`);
    await this.#audit(caller, {
      action: 'key.refresh',
      keyId: id,
      epoch: next.key.epoch,
      outcome: 'ok',
      ms: Math.round(performance.now() - started),
    });
    return { epoch: next.key.epoch };
  }

  async getPolicy(caller: Caller, id: string): Promise<PolicyView> {
    await this.#key(caller, id, ['admin', 'auditor'], 'read policies');
    const policy = await this.#store.getPolicy(id);
    return policyView(policy ?? { keyId: id, ...NO_POLICY, updatedAt: '' });
  }

  async putPolicy(caller: Caller, id: string, policy: PolicyView): Promise<PolicyView> {
    const record = await this.#key(caller, id, ['admin'], 'manage policies');
    checkSignerSets(policy.allowedSignerSets, record.parties, record.threshold);
    // The enclaves hold the signer sets sealed with the key: a wider set here would be refused
    // by them at signing time, so the coordinator's copy may only narrow it.
    const stored = await this.#store.getPolicy(id);
    const sealed = stored?.allowedSignerSets ?? [];
    if (sealed.length > 0) {
      const widens =
        policy.allowedSignerSets.length === 0 ||
        policy.allowedSignerSets.some((set) => !sealed.some((s) => sameSet(s, set)));
      if (widens) {
        throw new ServiceError(
          'UNPROCESSABLE',
          'allowedSignerSets may only narrow the sets sealed with the key at creation',
        );
      }
    }
    await this.#store.putPolicy({ keyId: id, ...policy, updatedAt: this.#iso() });
    await this.#audit(caller, {
      action: 'policy.put',
      keyId: id,
      policy: policyView({ keyId: id, ...policy, updatedAt: '' }),
    });
    return policy;
  }

  // -------------------------------------------------------------------------------------------
  // Audit, attestations, health

  async audit(caller: Caller, request: { from?: number; limit?: number }): Promise<AuditView> {
    this.#require(caller, ['admin', 'auditor'], 'read the audit log');
    const from = request.from ?? 1;
    const limit = request.limit ?? 1000;
    const entries = await this.#store.listAudit(from, limit);
    const head = await this.#head();
    return {
      entries: entries.map((e) => ({
        seq: e.seq,
        entry: JSON.parse(e.body) as unknown,
        prevHash: e.prevHash,
        hash: e.hash,
      })),
      head,
    };
  }

  async attestations(caller: Caller): Promise<AttestationView[]> {
    this.#require(caller, ['admin', 'auditor'], 'read attestations');
    await this.#ensureAttested(
      this.#parties.filter((p) => this.#cluster.healthy(p)),
      true,
    );
    return this.#parties.map((party) => {
      const a = this.#attested.get(party);
      return {
        party,
        document: a ? Buffer.from(a.document).toString('base64') : null,
        moduleId: a?.moduleId ?? null,
        timestamp: a?.timestamp ?? null,
        pcrs: a?.pcrs ?? {},
      };
    });
  }

  async health(): Promise<HealthView> {
    const parties = this.#parties.map((id) => ({ id, healthy: this.#cluster.healthy(id) }));
    const healthy = parties.filter((p) => p.healthy).length;
    const keys = await this.#store.listKeys();
    const threshold = keys.length === 0 ? null : Math.max(...keys.map((k) => k.threshold));
    this.#metrics.healthyParties.set(healthy);
    if (threshold !== null) this.#metrics.quorumThreshold.set(threshold);
    const status =
      healthy === parties.length ? 'ok' : healthy >= (threshold ?? 1) ? 'degraded' : 'unavailable';
    return { status, parties, healthy, threshold };
  }

  // -------------------------------------------------------------------------------------------

  #require(caller: Caller, roles: readonly Role[], what: string): void {
    if (!roles.includes(caller.role)) {
      throw new ServiceError('FORBIDDEN', `a ${caller.role} token may not ${what}`, {
        rule: 'role',
      });
    }
  }

  async #key(caller: Caller, id: string, roles: readonly Role[], what: string): Promise<KeyRecord> {
    this.#require(caller, roles, what);
    if (!inScope(caller, id)) {
      throw new ServiceError('FORBIDDEN', `this token is not scoped to key ${id}`, {
        rule: 'tokenScope',
      });
    }
    const record = await this.#store.getKey(id);
    if (!record) throw new ServiceError('NOT_FOUND', `no key ${id}`);
    return record;
  }

  /** Fails fast when fewer than `needed` of `parties` are healthy, naming the missing ones. */
  #requireHealthy(parties: readonly PartyId[], needed: number): PartyId[] {
    const healthy = parties.filter((p) => this.#cluster.healthy(p));
    if (healthy.length < needed) {
      const missing = parties.filter((p) => !healthy.includes(p));
      throw new ServiceError(
        'UNAVAILABLE',
        `quorum unavailable: ${healthy.length} of ${needed} needed parties are healthy; missing ${missing.join(', ')}`,
        { missing, healthy, needed },
      );
    }
    return healthy;
  }

  #chooseSigners(record: KeyRecord, policy: PolicyRecord, asked?: number[]): PartyId[] {
    const allowed = policy.allowedSignerSets;
    if (asked !== undefined) {
      const signers = [...new Set(asked)].sort((a, b) => a - b);
      if (signers.some((p) => !record.parties.includes(p))) {
        throw new ServiceError('UNPROCESSABLE', 'a requested signer does not hold this key');
      }
      if (signers.length < record.threshold) {
        throw new ServiceError(
          'UNPROCESSABLE',
          `${signers.length} signers, the key needs ${record.threshold}`,
        );
      }
      if (allowed.length > 0 && !allowed.some((set) => sameSet(set, signers))) {
        throw new ServiceError('FORBIDDEN', 'the key policy does not allow this signer set', {
          rule: 'allowedSignerSets',
        });
      }
      this.#requireHealthy(signers, signers.length);
      return signers;
    }
    const healthy = this.#requireHealthy(record.parties, record.threshold);
    if (allowed.length > 0) {
      const set = allowed.find((s) => s.every((p) => healthy.includes(p)));
      if (!set) {
        const missing = record.parties.filter((p) => !healthy.includes(p));
        throw new ServiceError('UNAVAILABLE', 'no allowed signer set is fully healthy', {
          missing,
        });
      }
      return [...set];
    }
    return healthy.slice(0, record.threshold);
  }

  async #checkRates(caller: Caller, record: KeyRecord, policy: PolicyRecord): Promise<void> {
    const since = new Date(this.#now().getTime() - 60_000).toISOString();
    if (policy.keyRatePerMinute !== null) {
      const n = await this.#store.countSignatures(record.id, since);
      if (n >= policy.keyRatePerMinute) {
        throw new ServiceError(
          'RATE_LIMITED',
          `key ${record.id}: ${n} signatures in the last minute`,
          {
            rule: 'keyRatePerMinute',
            retryAfterSeconds: 60,
          },
        );
      }
    }
    if (policy.tokenRatePerMinute !== null) {
      const n = await this.#store.countSignatures(record.id, since, caller.tokenId);
      if (n >= policy.tokenRatePerMinute) {
        throw new ServiceError('RATE_LIMITED', `this token: ${n} signatures in the last minute`, {
          rule: 'tokenRatePerMinute',
          retryAfterSeconds: 60,
        });
      }
    }
  }

  /**
   * Fetches an attestation of each party's acknowledgement key when none is known, its enclave
   * restarted (another module id on the channel), or (`refresh`) it is older than the TTL, and
   * records each new one in the audit log, so every acknowledgement logged after it can be
   * checked against an attested key.
   */
  async #ensureAttested(parties: readonly PartyId[], refresh = false): Promise<void> {
    for (const party of parties) {
      const known = this.#attested.get(party);
      const moduleId = this.#cluster.peers.attestation(party)?.moduleId ?? null;
      const stale =
        !known ||
        known.moduleId !== moduleId ||
        (refresh && Date.now() - known.fetchedAt > this.#attestationTtlMs);
      if (!stale) continue;
      const nonce = new Uint8Array(randomBytes(32));
      let document: Uint8Array;
      try {
        document = await this.#cluster.attest(party, nonce);
      } catch (error) {
        if (refresh) continue;
        throw asServiceError(error);
      }
      // Verified like a peer's: the root, the cluster's PCRs, not debug, fresh, our nonce.
      const result = verifyAttestation(document, {
        root: this.#enclavePolicy.root,
        expectedPcrs: this.#enclavePolicy.expectedPcrs,
        nonce,
        maxAgeMs: this.#enclavePolicy.maxDocumentAgeMs,
      });
      if (!result.valid || result.document.publicKey?.length !== 32) {
        const reason = result.valid ? 'no 32-byte acknowledgement key' : result.error.code;
        if (refresh) continue;
        throw new ServiceError('UNAVAILABLE', `party ${party} attestation refused: ${reason}`, {
          missing: [party],
        });
      }
      const pcrs: Record<string, string> = {};
      for (const [index, value] of result.document.pcrs) pcrs[String(index)] = toHex(value);
      const decoded = {
        moduleId: result.document.moduleId,
        timestamp: result.document.timestamp,
        pcrs,
        ackKey: result.document.publicKey,
      };
      const attested: Attested = { ...decoded, document, fetchedAt: Date.now() };
      this.#attested.set(party, attested);
      if (!known || toHex(ackKeyOf(known)) !== toHex(ackKeyOf(attested))) {
        await this.#audit(null, {
          action: 'attestation',
          party,
          moduleId: decoded.moduleId,
          ackKey: toHex(ackKeyOf(attested)),
          nonce: toHex(nonce),
          document: Buffer.from(document).toString('base64'),
        });
      }
    }
  }

  async #ceremony<T>(scheme: Scheme, phase: string, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await run();
      this.#metrics.ceremonyDuration.observe(
        { scheme, phase },
        (performance.now() - started) / 1000,
      );
      return result;
    } catch (error) {
      const reason = error instanceof CeremonyError ? error.code : 'INTERNAL';
      const blamed = error instanceof CeremonyError ? error.blame.join(',') || 'none' : 'none';
      this.#metrics.ceremonyFailures.inc({ reason, blamed });
      throw error;
    }
  }

  async #audit(caller: Caller | null, content: Record<string, unknown>): Promise<void> {
    const entry = {
      ...content,
      at: this.#iso(),
      actor: caller?.tokenId ?? 'coordinator',
      requestId: caller?.requestId ?? null,
    };
    const body = canonicalJson(entry);
    await this.#store.appendAudit(body, (prevHash, seq) => linkHash(prevHash, seq, body));
  }

  async #head(): Promise<{ seq: number; hash: string } | null> {
    // The store lists ascending; walk to the end in pages (the log only grows).
    let from = 1;
    let last: { seq: number; hash: string } | null = null;
    for (;;) {
      const page = await this.#store.listAudit(from, 1000);
      if (page.length === 0) return last;
      const tail = page[page.length - 1]!;
      last = { seq: tail.seq, hash: tail.hash };
      from = tail.seq + 1;
    }
  }

  #iso(): string {
    return this.#now().toISOString();
  }
}

// ---------------------------------------------------------------------------------------------

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function inScope(caller: Caller, keyId: string): boolean {
  return caller.keyIds === null || caller.keyIds.includes(keyId);
}

function keyInfo(record: KeyRecord): KeyInfo {
  return {
    keyId: record.id,
    scheme: record.scheme,
    key: decodeKeyPublic(new Uint8Array(Buffer.from(record.keyPublic, 'base64'))),
  };
}

function view(record: KeyRecord): KeyView {
  return {
    id: record.id,
    scheme: record.scheme,
    threshold: record.threshold,
    parties: record.parties.length,
    partyIds: record.parties,
    publicKey: record.publicKey,
    chainCode: record.chainCode,
    epoch: record.epoch,
    createdAt: record.createdAt,
    addresses: addressesFor(record.scheme, fromHex(record.publicKey)!),
  };
}

function policyView(p: PolicyRecord): PolicyView {
  return {
    allowedSignerSets: p.allowedSignerSets,
    keyRatePerMinute: p.keyRatePerMinute,
    tokenRatePerMinute: p.tokenRatePerMinute,
    destinations: p.destinations,
    dailyValueLimit: p.dailyValueLimit,
  };
}

/** DESIGN.md's formats: 33-byte compressed (ECDSA), 32-byte x-only (BIP340), 32-byte (Ed25519). */
function publicKeyBytes(scheme: Scheme, point: Element): Uint8Array {
  const bytes = point.toBytes();
  return scheme === 'schnorr-secp256k1-bip340' ? bytes.subarray(1) : bytes;
}

function signingInput(scheme: Scheme, request: { digest?: string; message?: string }): Uint8Array {
  if (scheme === 'eddsa-ed25519') {
    if (request.message === undefined) {
      throw new ServiceError('BAD_REQUEST', 'an Ed25519 key signs a "message", not a "digest"');
    }
    return new Uint8Array(Buffer.from(request.message, 'hex'));
  }
  if (request.digest === undefined) {
    throw new ServiceError('BAD_REQUEST', `a ${scheme} key signs a 32-byte "digest"`);
  }
  return new Uint8Array(Buffer.from(request.digest, 'hex'));
}

function checkSignerSets(
  sets: readonly (readonly number[])[],
  parties: readonly number[],
  threshold: number,
): void {
  for (const set of sets) {
    const sorted = [...set].sort((a, b) => a - b);
    const valid =
      sorted.length >= threshold &&
      new Set(sorted).size === sorted.length &&
      sorted.every((p) => parties.includes(p));
    if (!valid) {
      throw new ServiceError(
        'UNPROCESSABLE',
        `allowed signer set [${set.join(', ')}] is not a set of at least ${threshold} of the key's parties [${parties.join(', ')}]`,
      );
    }
  }
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  return x.length === y.length && x.every((p, i) => p === y[i]);
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function describe(error: unknown): Record<string, unknown> {
  if (error instanceof CeremonyError) {
    return { code: error.code, message: error.message, blame: error.blame };
  }
  if (error instanceof ServiceError) return { code: error.code, message: error.message };
  return { code: 'INTERNAL', message: error instanceof Error ? error.name : 'failure' };
}

/** A ceremony's failure as the API reports it. */
function asServiceError(error: unknown): ServiceError {
  if (error instanceof ServiceError) return error;
  if (error instanceof CeremonyError || error instanceof ProtocolError) {
    const details = { reason: error.code, blame: [...error.blame] };
    if (['UNAVAILABLE', 'TIMEOUT', 'MISSING_MESSAGE'].includes(error.code)) {
      return new ServiceError('UNAVAILABLE', `ceremony did not complete: ${error.message}`, {
        ...details,
        missing: [...error.blame],
      });
    }
    if (error.code === 'INVALID_PARAMETERS' && error.blame.includes(0)) {
      // An enclave refused the request by its own sealed copy of the policy.
      return new ServiceError('FORBIDDEN', `refused by the enclaves: ${error.message}`, {
        ...details,
        rule: 'enclavePolicy',
      });
    }
    if (error.code === 'NOT_FOUND') {
      return new ServiceError(
        'CONFLICT',
        `the enclaves no longer hold this: ${error.message}`,
        details,
      );
    }
    return new ServiceError(
      'INTERNAL',
      `ceremony failed: ${error.code}: ${error.message}`,
      details,
    );
  }
  return new ServiceError('INTERNAL', 'unexpected failure');
}

function ackKeyOf(attested: Attested): Uint8Array {
  return attested.ackKey;
}
