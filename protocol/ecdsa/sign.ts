/**
 * Online ECDSA signing from a presignature (CGGMP21 Fig. 9): one round. With R = k⁻¹·G and
 * r = x(R), signer i sends σ_i = k_i·m' + r·χ_i, where m' = m + r·t for a key derived by the
 * tweak t (the presignature does not depend on the key's tweak, so one pool serves every
 * derived address). The coordinator sums s = Σ σ_i = k·(m + r·(x + t)) and checks the
 * signature; if it fails, it checks each share against σ_j·Γ = m'·Δ_j + r·S_j and names the
 * culprits.
 */
import { equalBytes } from '../bytes.js';
import type { Reader, Writer } from '../codec.js';
import { derivePath, parsePath } from '../derive.js';
import { COORDINATOR, type BodyCodec } from '../envelope.js';
import { ProtocolError, type PartyId } from '../errors.js';
import { secp256k1Group, type Element } from '../group.js';
import { assertSameEpoch, type KeyPublic, type KeyShare } from '../keyshare.js';
import { Machine } from '../machine.js';
import type { Presignature, PresignaturePublic } from './presignature.js';
import {
  digestToScalar,
  finishSignature,
  rOf,
  verifyEcdsa,
  type EcdsaSignature,
} from './signature.js';

const group = secp256k1Group;

export interface EcdsaSignRequest {
  readonly sessionId: Uint8Array;
  /** The 32-byte message digest (e.g. keccak256 of an Ethereum transaction). */
  readonly digest: Uint8Array;
  /** Non-hardened BIP32 path; absent for the root key. */
  readonly path?: string;
  /**
   * The presignature to sign with (its presigning session id). Every signer checks it before
   * spending its share, so shares of different presignatures are never mixed.
   */
  readonly presignatureId: Uint8Array;
}

export interface SigmaMessage {
  readonly kind: 'sigma';
  readonly sigma: bigint;
}

export function ecdsaSignCodec(): BodyCodec<SigmaMessage> {
  return {
    protocol: 'ecdsa-sign',
    kinds: { sigma: 1 },
    encode: (m: SigmaMessage, w: Writer) => void w.scalar(group, m.sigma),
    decode: (kind, r: Reader) => ({ kind, sigma: r.scalar(group, 'sigma') }),
  };
}

interface Prepared {
  readonly m: bigint;
  readonly r: bigint;
  readonly overflow: boolean;
  readonly tweak: bigint;
  readonly publicKey: Element;
}

function prepare(key: KeyPublic, pre: PresignaturePublic, request: EcdsaSignRequest): Prepared {
  assertSameEpoch(key, pre);
  if (!equalBytes(pre.id, request.presignatureId)) {
    throw new ProtocolError('INVALID_PARAMETERS', 'request names another presignature');
  }
  if (key.group !== 'secp256k1')
    throw new ProtocolError('INVALID_PARAMETERS', 'not a secp256k1 key');
  if (request.sessionId.length !== 32 || request.digest.length !== 32) {
    throw new ProtocolError('INVALID_PARAMETERS', 'session id and digest must be 32 bytes');
  }
  const path = request.path ? parsePath(request.path) : [];
  const { publicKey, tweak } =
    path.length > 0
      ? derivePath(group, key.publicKey, key.chainCode, path)
      : { publicKey: key.publicKey, tweak: 0n };
  const { r, overflow } = rOf(pre.R);
  if (r === 0n) throw new ProtocolError('INVALID_PARAMETERS', 'presignature has r = 0');
  return { m: digestToScalar(request.digest), r, overflow, tweak, publicKey };
}

export interface EcdsaSignerOutput {
  readonly sigma: bigint;
}

/**
 * A signer's side: consumes the presignature at once (it must already be recorded as consumed
 * in durable state) and sends σ_i to the coordinator.
 */
export function createEcdsaSigner(
  share: KeyShare,
  presignature: Presignature,
  request: EcdsaSignRequest,
): Machine<null, SigmaMessage, EcdsaSignerOutput> {
  const pre = presignature.public;
  if (presignature.self !== share.self || !pre.signers.includes(share.self)) {
    throw new ProtocolError('INVALID_PARAMETERS', 'presignature belongs to another party');
  }
  const { m, r, tweak } = prepare(share, pre, request);
  const { k, chi } = presignature.consume();
  const sigma = group.mod(k * group.mod(m + r * tweak) + r * chi);
  return new Machine({
    protocol: 'ecdsa-sign',
    self: share.self,
    sessionId: request.sessionId,
    rounds: [
      {
        expect: () => ({ from: [], broadcast: [], direct: [] }),
        run: () => ({ output: { sigma }, outgoing: [] }),
      },
    ],
    state: null,
    outgoing: [{ to: COORDINATOR, message: { kind: 'sigma', sigma } }],
  });
}

/** The coordinator's side: sums the shares, checks the signature, blames any bad share. */
export function createEcdsaAggregator(
  key: KeyPublic,
  pre: PresignaturePublic,
  request: EcdsaSignRequest,
): Machine<null, SigmaMessage, EcdsaSignature> {
  const prepared = prepare(key, pre, request);
  return new Machine({
    protocol: 'ecdsa-sign',
    self: COORDINATOR,
    sessionId: request.sessionId,
    rounds: [
      {
        expect: () => ({ from: pre.signers, broadcast: [], direct: ['sigma'] }),
        run: (_state, inbox) => {
          const sigmas = new Map<PartyId, bigint>();
          for (const [from, messages] of inbox) sigmas.set(from, messages.get('sigma')!.sigma);
          return { output: combine(pre, prepared, sigmas), outgoing: [] };
        },
      },
    ],
    state: null,
    outgoing: [],
  });
}

function combine(
  pre: PresignaturePublic,
  { m, r, overflow, tweak, publicKey }: Prepared,
  sigmas: ReadonlyMap<PartyId, bigint>,
): EcdsaSignature {
  let s = 0n;
  for (const sigma of sigmas.values()) s += sigma;
  s = group.mod(s);
  if (verifyEcdsa(publicKey, m, r, s)) return finishSignature(pre.R, r, s, overflow);
  const mPrime = group.mod(m + r * tweak);
  const culprits = pre.signers.filter((j) => {
    const lhs = pre.Gamma.multiplyUnsafe(sigmas.get(j)!);
    const rhs = group.msm([pre.Delta.get(j)!, pre.S.get(j)!], [mPrime, r]);
    return !lhs.equals(rhs);
  });
  throw new ProtocolError(
    'INVALID_SIGNATURE_SHARE',
    `signature shares from ${culprits.join(', ') || 'an unknown signer'} do not verify`,
    culprits,
  );
}
