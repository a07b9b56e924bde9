/** Parameters of a DKG or refresh session, validated once, and the context they hash to. */
import { u16, utf8 } from '../bytes.js';
import { ProtocolError, type PartyId } from '../errors.js';
import { MAX_PARTY_ID } from '../envelope.js';
import type { Group } from '../group.js';
import { digest, encodeParties } from '../transcript.js';

export type DkgMode = 'dkg' | 'refresh';

export interface DkgParams {
  readonly group: Group;
  /** 32 bytes chosen by the coordinator, unique per ceremony. */
  readonly sessionId: Uint8Array;
  readonly self: PartyId;
  /** Every participant, ascending and distinct. */
  readonly parties: readonly PartyId[];
  readonly threshold: number;
}

/** Refuses parameters no honest ceremony has; returns the parties sorted. */
export function validateParams(params: DkgParams): PartyId[] {
  const { sessionId, self, parties, threshold } = params;
  const fail = (m: string): never => {
    throw new ProtocolError('INVALID_PARAMETERS', m);
  };
  if (sessionId.length !== 32) fail('session id must be 32 bytes');
  const sorted = [...parties].sort((a, b) => a - b);
  for (const [i, p] of sorted.entries()) {
    if (!Number.isInteger(p) || p < 1 || p > MAX_PARTY_ID) fail(`party id ${p} out of range`);
    if (i > 0 && sorted[i - 1] === p) fail(`party id ${p} appears twice`);
  }
  if (!sorted.includes(self)) fail(`party ${self} is not a participant`);
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > sorted.length) {
    fail(`threshold ${threshold} must be between 1 and ${sorted.length}`);
  }
  return sorted;
}

/**
 * The session context every proof, commitment and echo is bound to: mode, group, session id,
 * threshold and participant list, plus for a refresh the key and epoch being refreshed.
 */
export function sessionContext(
  mode: DkgMode,
  params: DkgParams,
  parties: readonly PartyId[],
  refreshOf?: { publicKey: Uint8Array; epoch: number },
): Uint8Array {
  return digest(
    'mpc-kms/dkg/context/v1',
    utf8(mode),
    utf8(params.group.name),
    params.sessionId,
    u16(params.threshold),
    encodeParties(parties),
    ...(refreshOf ? [refreshOf.publicKey, u16(refreshOf.epoch)] : []),
  );
}
