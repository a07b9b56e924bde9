/**
 * FROST signing as message-driven parties, in the shape of RFC 9591 Section 5: signers commit,
 * the coordinator sends all of them one signing package, signers answer with their shares, and
 * the coordinator aggregates.
 *
 *   round 1  direct     commitment (D_i, E_i)           signer -> coordinator
 *   round 2  broadcast  signing package                 coordinator -> signers
 *   round 3  direct     share z_i                       signer -> coordinator
 */
import { ProtocolError, type PartyId } from '../errors.js';
import { COORDINATOR, MAX_PARTY_ID } from '../envelope.js';
import { assertSameEpoch, type KeyPublic, type KeyShare } from '../keyshare.js';
import { Machine, type Round } from '../machine.js';
import { parsePath } from '../derive.js';
import type { Rng } from '../random.js';
import { aggregate } from './aggregate.js';
import { signingMaterial, type SigningMaterial } from './material.js';
import type {
  CommitmentMessage,
  FrostMessage,
  PackageMessage,
  SignatureShareMessage,
} from './messages.js';
import { commit, type NonceCommitment, type SigningNonces } from './round1.js';
import { sign, signingContext, signingPackage } from './round2.js';
import type { FrostSuite } from './suite.js';

/** What the coordinator asks for; every signer checks it against its own share. */
export interface SignRequest {
  readonly suite: FrostSuite;
  readonly sessionId: Uint8Array;
  /** The key, by its DKG session id, and the epoch the shares must be in. */
  readonly keySessionId: Uint8Array;
  readonly epoch: number;
  readonly message: Uint8Array;
  /** The signing set: at least `threshold` distinct holders of the key. */
  readonly signers: readonly PartyId[];
  /** Non-hardened BIP32-style path, e.g. "m/0/7"; empty or absent for the root key. */
  readonly path?: string;
  /** BIP340 only: sign for the BIP341 key-path output key of the (derived) key. */
  readonly taproot?: boolean;
}

export interface SignerOutput {
  readonly share: bigint;
}

export interface AggregatorOutput {
  readonly signature: Uint8Array;
}

function validateRequest(
  key: KeyPublic,
  request: SignRequest,
): { signers: PartyId[]; path: number[] } {
  assertSameEpoch(key, request);
  if (request.sessionId.length !== 32) {
    throw new ProtocolError('INVALID_PARAMETERS', 'session id must be 32 bytes');
  }
  if (request.suite.group.name !== key.group) {
    throw new ProtocolError(
      'INVALID_PARAMETERS',
      `suite ${request.suite.id} does not fit a ${key.group} key`,
    );
  }
  const signers = [...request.signers].sort((a, b) => a - b);
  for (const [i, p] of signers.entries()) {
    if (!Number.isInteger(p) || p < 1 || p > MAX_PARTY_ID || !key.parties.includes(p)) {
      throw new ProtocolError('INVALID_PARAMETERS', `signer ${p} does not hold this key`);
    }
    if (i > 0 && signers[i - 1] === p) {
      throw new ProtocolError('INVALID_PARAMETERS', `signer ${p} appears twice`);
    }
  }
  if (signers.length < key.threshold) {
    throw new ProtocolError(
      'INVALID_PARAMETERS',
      `${signers.length} signers cannot sign for a threshold of ${key.threshold}`,
    );
  }
  return { signers, path: request.path ? parsePath(request.path) : [] };
}

function expectNothing() {
  return { from: [], broadcast: [], direct: [] };
}

interface SignerState {
  readonly nonces: SigningNonces;
  readonly secret: bigint;
  readonly material: SigningMaterial;
}

/**
 * A signer's side of one FROST signature. It sends its commitment, waits for the coordinator's
 * signing package, checks that the package lists exactly the requested signers with its own
 * commitment unchanged, and sends its share. The nonces it draws sign exactly once.
 */
export function createSigner(
  share: KeyShare,
  request: SignRequest,
  rng: Rng,
): Machine<SignerState, FrostMessage, SignerOutput> {
  const { signers, path } = validateRequest(share, request);
  if (!signers.includes(share.self)) {
    throw new ProtocolError('INVALID_PARAMETERS', `party ${share.self} is not in the signing set`);
  }
  const { suite } = request;
  const material = signingMaterial(suite, share, path, request.taproot === true);
  const secret = suite.group.mod(material.sign * (share.secretShare.reveal() + material.tweak));
  const nonces = commit(suite, BigInt(share.self), secret, rng);
  const own = nonces.commitment;
  const rounds: Round<SignerState, FrostMessage, SignerOutput>[] = [
    { expect: expectNothing, run: (state) => ({ state, outgoing: [] }) },
    {
      expect: () => ({ from: [COORDINATOR], broadcast: ['package'], direct: [] }),
      run: (state, inbox) => {
        const { entries } = inbox.get(COORDINATOR)!.get('package') as PackageMessage;
        const blame = [COORDINATOR];
        if (entries.length !== signers.length || entries.some((e, i) => e.id !== signers[i])) {
          throw new ProtocolError('UNEXPECTED_MESSAGE', 'package lists other signers', blame);
        }
        const mine = entries.find((e) => e.id === share.self)!;
        if (!mine.hiding.equals(own.hiding) || !mine.binding.equals(own.binding)) {
          throw new ProtocolError(
            'UNEXPECTED_MESSAGE',
            "package alters this signer's commitment",
            blame,
          );
        }
        const commitments = entries.map((e) => ({
          id: BigInt(e.id),
          hiding: e.hiding,
          binding: e.binding,
        }));
        const pkg = signingPackage(suite, request.message, commitments);
        const key = {
          id: BigInt(share.self),
          secretShare: state.secret,
          groupKey: state.material.groupKey,
        };
        const z = sign(suite, state.nonces, key, pkg);
        return {
          output: { share: z },
          outgoing: [{ to: COORDINATOR, message: { kind: 'share', share: z } }],
        };
      },
    },
  ];
  return new Machine({
    protocol: 'frost',
    self: share.self,
    sessionId: request.sessionId,
    rounds,
    state: { nonces, secret, material },
    outgoing: [
      {
        to: COORDINATOR,
        message: { kind: 'commitment', hiding: own.hiding, binding: own.binding },
      },
    ],
  });
}

interface AggregatorState {
  readonly commitments: NonceCommitment[];
}

/**
 * The coordinator's side: collects the commitments, sends every signer the same signing package,
 * then collects the shares and outputs the signature, naming any signer whose share is wrong.
 */
export function createAggregator(
  key: KeyPublic,
  request: SignRequest,
): Machine<AggregatorState, FrostMessage, AggregatorOutput> {
  const { signers, path } = validateRequest(key, request);
  const { suite } = request;
  const material = signingMaterial(suite, key, path, request.taproot === true);
  const rounds: Round<AggregatorState, FrostMessage, AggregatorOutput>[] = [
    {
      expect: () => ({ from: signers, broadcast: [], direct: ['commitment'] }),
      run: (_state, inbox) => {
        const entries = signers.map((id) => {
          const m = inbox.get(id)!.get('commitment') as CommitmentMessage;
          return { id, hiding: m.hiding, binding: m.binding };
        });
        const commitments = entries.map((e) => ({
          id: BigInt(e.id),
          hiding: e.hiding,
          binding: e.binding,
        }));
        return {
          state: { commitments },
          outgoing: [{ to: null, message: { kind: 'package', entries } }],
        };
      },
    },
    { expect: expectNothing, run: (state) => ({ state, outgoing: [] }) },
    {
      expect: () => ({ from: signers, broadcast: [], direct: ['share'] }),
      run: (state, inbox) => {
        const pkg = signingPackage(suite, request.message, state.commitments);
        const shares = new Map<bigint, bigint>();
        for (const [from, messages] of inbox) {
          shares.set(BigInt(from), (messages.get('share') as SignatureShareMessage).share);
        }
        const ctx = signingContext(suite, material.groupKey, pkg);
        return {
          output: { signature: aggregate(suite, material, pkg, shares, ctx) },
          outgoing: [],
        };
      },
    },
  ];
  return new Machine({
    protocol: 'frost',
    self: COORDINATOR,
    sessionId: request.sessionId,
    rounds,
    state: { commitments: [] },
    outgoing: [],
  });
}
