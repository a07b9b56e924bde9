/**
 * What the REST API asks of the coordinator, and how a refusal is expressed. The HTTP layer
 * (coordinator/http/) validates and authenticates, then calls one of these methods; the service
 * (coordinator/service.ts) enforces roles, scopes and policy, runs ceremonies, and writes the
 * audit log. Every refusal is a `ServiceError` whose code maps to one HTTP status of DESIGN.md's
 * contract.
 */
import type { ChainAddress } from './chains/index.js';
import type { Role } from './store/types.js';
import type { TransactionRequest } from './transactions.js';

export type { Role };

/** Who is calling: resolved from the bearer token before any method runs. */
export interface Caller {
  readonly tokenId: string;
  readonly role: Role;
  /** Signer tokens: the key ids they may use; null: every key. */
  readonly keyIds: readonly string[] | null;
  /** The request id, for logs and the audit log. */
  readonly requestId: string;
}

export type ServiceErrorCode =
  | 'BAD_REQUEST' // 400
  | 'UNAUTHORIZED' // 401
  | 'FORBIDDEN' // 403
  | 'NOT_FOUND' // 404
  | 'CONFLICT' // 409
  | 'UNPROCESSABLE' // 422
  | 'RATE_LIMITED' // 429
  | 'UNAVAILABLE' // 503
  | 'INTERNAL'; // 500

export const STATUS_OF: Readonly<Record<ServiceErrorCode, number>> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UNPROCESSABLE: 422,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

/**
 * A refusal. `message` is shown to the caller (never a secret); `details` too (e.g. the policy
 * rule that refused, the missing parties, a Retry-After in seconds).
 */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

export type Scheme = 'ecdsa-secp256k1' | 'schnorr-secp256k1-bip340' | 'eddsa-ed25519';

/** A key as the API shows it (DESIGN.md: never a share). */
export interface KeyView {
  readonly id: string;
  readonly scheme: Scheme;
  readonly threshold: number;
  readonly parties: number;
  readonly partyIds: readonly number[];
  readonly publicKey: string;
  readonly chainCode: string;
  readonly epoch: number;
  readonly createdAt: string;
  /** The root key's address on the chain its scheme serves (EVM, Bitcoin Taproot, Solana). */
  readonly addresses: ChainAddress;
}

export interface PolicyView {
  readonly allowedSignerSets: readonly (readonly number[])[];
  readonly keyRatePerMinute: number | null;
  readonly tokenRatePerMinute: number | null;
  readonly destinations: readonly string[] | null;
  readonly dailyValueLimit: string | null;
}

export interface SignatureView {
  readonly signature: string;
  readonly r: string;
  readonly s: string;
  readonly recoveryId?: number;
  readonly der?: string;
  readonly publicKey: string;
}

export interface TokenView {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly keyIds: readonly string[] | null;
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

export interface HealthView {
  /** "ok" when every party is healthy, "degraded" when a quorum is, "unavailable" otherwise. */
  readonly status: 'ok' | 'degraded' | 'unavailable';
  readonly parties: readonly { readonly id: number; readonly healthy: boolean }[];
  readonly healthy: number;
  /** The largest threshold among the keys (the quorum every key needs); null with no keys. */
  readonly threshold: number | null;
}

export interface AttestationView {
  readonly party: number;
  /** The enclave's latest attestation document, base64 (null when its channel is down). */
  readonly document: string | null;
  readonly moduleId: string | null;
  readonly timestamp: number | null;
  readonly pcrs: Readonly<Record<string, string>>;
}

export interface AuditView {
  readonly entries: readonly {
    readonly seq: number;
    readonly entry: unknown;
    readonly prevHash: string;
    readonly hash: string;
  }[];
  /** The hash of the last entry of the whole log (not only of this page). */
  readonly head: { readonly seq: number; readonly hash: string } | null;
}

export interface CoordinatorService {
  /** Resolves a bearer token; null when unknown or revoked. */
  authenticate(token: string, requestId: string): Promise<Caller | null>;

  createKey(
    caller: Caller,
    request: {
      scheme: Scheme;
      threshold: number;
      parties: number;
      policy?: Partial<PolicyView>;
    },
  ): Promise<KeyView>;
  listKeys(caller: Caller): Promise<KeyView[]>;
  getKey(caller: Caller, id: string): Promise<KeyView>;
  derive(
    caller: Caller,
    id: string,
    request: { path: string },
  ): Promise<{ path: string; publicKey: string; chainCode: string; addresses: ChainAddress }>;
  sign(
    caller: Caller,
    id: string,
    request: { digest?: string; message?: string; path?: string; signers?: number[] },
  ): Promise<SignatureView>;
  /** Decodes, checks against policy, signs and returns a transaction (coordinator/transactions.ts). */
  signTransaction(
    caller: Caller,
    id: string,
    request: TransactionRequest,
  ): Promise<Record<string, unknown>>;
  refresh(caller: Caller, id: string): Promise<{ epoch: number }>;
  getPolicy(caller: Caller, id: string): Promise<PolicyView>;
  putPolicy(caller: Caller, id: string, policy: PolicyView): Promise<PolicyView>;

  audit(caller: Caller, request: { from?: number; limit?: number }): Promise<AuditView>;
  attestations(caller: Caller): Promise<AttestationView[]>;
  health(): Promise<HealthView>;

  createToken(
    caller: Caller,
    request: { name: string; role: Role; keyIds?: string[] | null },
  ): Promise<TokenView & { token: string }>;
  listTokens(caller: Caller): Promise<TokenView[]>;
  revokeToken(caller: Caller, id: string): Promise<void>;
}
