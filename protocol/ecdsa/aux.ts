/**
 * The auxiliary-info ceremony of CGGMP21 (Fig. 7 without its key-refresh half, which the
 * Feldman refresh of `protocol/dkg` performs). Each party brings a fresh pair of safe primes.
 *
 *   round 1  broadcast  commit: H(context, i, N_i, s_i, t_i, u_i)
 *   round 2  broadcast  reveal: N_i, s_i, t_i, u_i, Πmod(N_i), Πprm(s_i, t_i), echo of round 1
 *   round 3  direct     fac:    Πfac(N_i) under the receiver's ring-Pedersen parameters
 *   output              AuxInfo: every party's (N_j, s_j, t_j) and this party's Paillier key
 *
 * Committing before revealing stops a party from choosing its modulus after seeing the others'.
 * Πmod and Πfac are what the BitForge attacks on GG18/GG20 exploited the absence of: a modulus
 * with small factors, or not a Paillier-Blum modulus, lets a peer extract key shares through the
 * range proofs.
 */
import { u16, equalBytes } from '../bytes.js';
import { decodeWith, encodeWith } from '../codec.js';
import { checkEchoes } from '../echo.js';
import { ProtocolError, type PartyId } from '../errors.js';
import { Machine, type Round } from '../machine.js';
import type { Rng } from '../random.js';
import { digest, encodeParties } from '../transcript.js';
import { toBytes, gcd } from '../bignum/arith.js';
import { PaillierSecretKey, paillierPublicKey, validateModulus } from '../paillier/paillier.js';
import { generateRingPedersen, type RingPedersen } from '../paillier/ring-pedersen.js';
import { proveMod, readModProof, verifyMod, writeModProof } from '../zk/mod.js';
import { provePrm, readPrmProof, verifyPrm, writePrmProof } from '../zk/prm.js';
import { proveFac, readFacProof, verifyFac, writeFacProof } from '../zk/fac.js';
import type { ProofContext } from '../zk/transcript.js';
import { sealAuxInfo, type AuxInfo, type PartyAux } from './aux-info.js';
import type { AuxMessage, AuxRevealMessage } from './aux-messages.js';

export { auxCodec, type AuxMessage } from './aux-messages.js';

export interface AuxParams {
  /** 32 bytes, unique per ceremony. */
  readonly sessionId: Uint8Array;
  readonly self: PartyId;
  readonly parties: readonly PartyId[];
  /** The key (DKG session id) and epoch this auxiliary info will serve. */
  readonly keySessionId: Uint8Array;
  readonly epoch: number;
}

interface Common {
  readonly params: AuxParams;
  readonly parties: readonly PartyId[];
  readonly context: Uint8Array;
  readonly secret: PaillierSecretKey;
  readonly rp: RingPedersen;
  readonly lambda: bigint;
  readonly u: Uint8Array;
}

type AuxState =
  | (Common & { readonly step: 'commits'; readonly own: Uint8Array })
  | (Common & {
      readonly step: 'reveals';
      readonly commitments: ReadonlyMap<PartyId, Uint8Array>;
      readonly digests: Uint8Array[];
    })
  | (Common & { readonly step: 'facs'; readonly peers: ReadonlyMap<PartyId, PartyAux> });

function expectStep<S extends AuxState['step']>(
  state: AuxState,
  step: S,
): Extract<AuxState, { step: S }> {
  if (state.step !== step)
    throw new ProtocolError('WRONG_STEP', `aux info is at ${state.step}, not ${step}`);
  return state as Extract<AuxState, { step: S }>;
}

function commitment(
  context: Uint8Array,
  party: PartyId,
  N: bigint,
  s: bigint,
  t: bigint,
  u: Uint8Array,
) {
  return digest(
    'mpc-kms/aux/commit/v1',
    context,
    u16(party),
    toBytes(N),
    toBytes(s),
    toBytes(t),
    u,
  );
}

function proofContext(
  state: Common,
  prover: PartyId,
  verifier: PartyId | null,
  label: string,
): ProofContext {
  return { sessionId: state.params.sessionId, prover, verifier, label: `aux/${label}` };
}

/** Round 2: reveal the parameters with Πmod and Πprm, and echo the commitments. */
function onCommits(
  current: AuxState,
  inbox: ReadonlyMap<PartyId, ReadonlyMap<string, AuxMessage>>,
  rng: Rng,
) {
  const state = expectStep(current, 'commits');
  const { self } = state.params;
  const commitments = new Map<PartyId, Uint8Array>([[self, state.own]]);
  for (const [from, m] of inbox)
    commitments.set(from, (m.get('commit') as { commitment: Uint8Array }).commitment);
  const digests = state.parties.map((p) => commitments.get(p)!);
  const { N, s, t } = state.rp;
  const modProof = proveMod({ N }, state.secret, proofContext(state, self, null, 'mod'), rng);
  const prmProof = provePrm(
    state.rp,
    { lambda: state.lambda, phi: state.secret.phi },
    proofContext(state, self, null, 'prm'),
    rng,
  );
  const reveal: AuxRevealMessage = {
    kind: 'reveal',
    N,
    s,
    t,
    u: state.u,
    modProof: encodeWith(modProof, writeModProof),
    prmProof: encodeWith(prmProof, writePrmProof),
    digests,
  };
  const { step: _step, own: _own, ...common } = state;
  return {
    state: { ...common, step: 'reveals' as const, commitments, digests },
    outgoing: [{ to: null, message: reveal }],
  };
}

/** Round 3: check openings, echoes, Πmod and Πprm; send each peer Πfac under its parameters. */
function onReveals(
  current: AuxState,
  inbox: ReadonlyMap<PartyId, ReadonlyMap<string, AuxMessage>>,
  rng: Rng,
) {
  const state = expectStep(current, 'reveals');
  const { self } = state.params;
  const reveals = new Map<PartyId, AuxRevealMessage>();
  for (const [from, m] of inbox) reveals.set(from, m.get('reveal') as AuxRevealMessage);
  checkEchoes(
    self,
    state.parties,
    state.digests,
    new Map([...reveals].map(([p, m]) => [p, m.digests])),
  );

  const peers = new Map<PartyId, PartyAux>([
    [self, { paillier: state.secret.publicKey, rp: state.rp }],
  ]);
  for (const [from, m] of reveals) {
    const blame = [from];
    if (
      !equalBytes(commitment(state.context, from, m.N, m.s, m.t, m.u), state.commitments.get(from)!)
    ) {
      throw new ProtocolError(
        'INVALID_OPENING',
        'revealed parameters do not match the commitment',
        blame,
      );
    }
    if (!validateModulus(m.N)) {
      throw new ProtocolError(
        'INVALID_PROOF',
        'Paillier modulus is below 2048 bits or even',
        blame,
      );
    }
    for (const x of [m.s, m.t]) {
      if (x <= 1n || x >= m.N || gcd(x, m.N) !== 1n) {
        throw new ProtocolError(
          'MALFORMED_MESSAGE',
          'ring-Pedersen parameter is not a unit mod N',
          blame,
        );
      }
    }
    const rp = { N: m.N, s: m.s, t: m.t };
    const modOk = verifyMod(
      { N: m.N },
      decodeWith(m.modProof, from, (r) => readModProof(r, { N: m.N })),
      proofContext(state, from, null, 'mod'),
    );
    if (!modOk)
      throw new ProtocolError(
        'INVALID_PROOF',
        'Πmod: modulus is not a Paillier-Blum modulus',
        blame,
      );
    const prmOk = verifyPrm(
      rp,
      decodeWith(m.prmProof, from, (r) => readPrmProof(r, rp)),
      proofContext(state, from, null, 'prm'),
    );
    if (!prmOk)
      throw new ProtocolError('INVALID_PROOF', 'Πprm: s is not in the group generated by t', blame);
    peers.set(from, { paillier: paillierPublicKey(m.N), rp });
  }
  const outgoing = state.parties
    .filter((p) => p !== self)
    .map((p) => {
      const statement = { N0: state.secret.publicKey.N, rp: peers.get(p)!.rp };
      const proof = proveFac(statement, state.secret, proofContext(state, self, p, 'fac'), rng);
      return { to: p, message: { kind: 'fac' as const, proof: encodeWith(proof, writeFacProof) } };
    });
  const { step: _step, commitments: _c, digests: _d, ...common } = state;
  return { state: { ...common, step: 'facs' as const, peers }, outgoing };
}

/** Output: check every peer's Πfac under this party's parameters. */
function onFacs(current: AuxState, inbox: ReadonlyMap<PartyId, ReadonlyMap<string, AuxMessage>>) {
  const state = expectStep(current, 'facs');
  const { self } = state.params;
  for (const [from, m] of inbox) {
    const statement = { N0: state.peers.get(from)!.paillier.N, rp: state.rp };
    const proof = decodeWith((m.get('fac') as { proof: Uint8Array }).proof, from, (r) =>
      readFacProof(r, statement),
    );
    if (!verifyFac(statement, proof, proofContext(state, from, self, 'fac'))) {
      throw new ProtocolError('INVALID_PROOF', 'Πfac: modulus may have small factors', [from]);
    }
  }
  const output: AuxInfo = sealAuxInfo({
    keySessionId: state.params.keySessionId,
    epoch: state.params.epoch,
    self,
    paillierSecret: state.secret,
    parties: state.peers,
  });
  return { output, outgoing: [] };
}

export type AuxMachine = Machine<AuxState, AuxMessage, AuxInfo>;

/**
 * Starts a party's side of the ceremony with its freshly generated safe primes p and q (each
 * of half the modulus size; their product must have at least 2048 bits).
 */
export function createAux(
  params: AuxParams,
  primes: { p: bigint; q: bigint },
  rng: Rng,
): AuxMachine {
  const parties = [...params.parties].sort((a, b) => a - b);
  if (
    params.sessionId.length !== 32 ||
    !parties.includes(params.self) ||
    new Set(parties).size !== parties.length
  ) {
    throw new ProtocolError(
      'INVALID_PARAMETERS',
      'aux info needs a 32-byte session id and distinct parties including self',
    );
  }
  const secret = new PaillierSecretKey(primes.p, primes.q);
  const { params: rp, lambda } = generateRingPedersen(secret.publicKey.N, secret.phi, rng);
  const context = digest(
    'mpc-kms/aux/context/v1',
    params.sessionId,
    params.keySessionId,
    u16(params.epoch),
    encodeParties(parties),
  );
  const u = rng(32);
  const own = commitment(context, params.self, rp.N, rp.s, rp.t, u);
  const peers = parties.filter((p) => p !== params.self);
  const rounds: Round<AuxState, AuxMessage, AuxInfo>[] = [
    {
      expect: () => ({ from: peers, broadcast: ['commit'], direct: [] }),
      run: (s, inbox) => onCommits(s, inbox, rng),
    },
    {
      expect: () => ({ from: peers, broadcast: ['reveal'], direct: [] }),
      run: (s, inbox) => onReveals(s, inbox, rng),
    },
    { expect: () => ({ from: peers, broadcast: [], direct: ['fac'] }), run: onFacs },
  ];
  return new Machine({
    protocol: 'aux',
    self: params.self,
    sessionId: params.sessionId,
    rounds,
    state: { params, parties, context, secret, rp, lambda, u, step: 'commits', own },
    outgoing: [{ to: null, message: { kind: 'commit', commitment: own } }],
  });
}
