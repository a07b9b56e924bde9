/**
 * A channel's configuration and its one-time check. Who proves what is fixed by the party id
 * (DESIGN.md: the coordinator is party 0 and holds no share): party 0 is the coordinator and signs
 * with its Ed25519 identity key; every other party is an enclave and attests. A configuration
 * that breaks this is a programming error, refused with a TypeError before any byte is exchanged.
 */
import type { KeyObject } from 'node:crypto';
import { COORDINATOR, MAX_PARTY_ID } from '../../protocol/envelope.js';
import type { PartyId } from '../../protocol/errors.js';
import type { Attester } from '../recipient.js';
import type { EnclavePolicy } from './evidence.js';
import { isEd25519, type RandomSource } from './keys.js';

/** How this side proves itself: an enclave by attestation, the coordinator by its key. */
export type ChannelIdentity =
  | { readonly kind: 'enclave'; readonly attester: Attester }
  | { readonly kind: 'coordinator'; readonly privateKey: KeyObject };

/** What this side requires of the peer: an attested enclave, or the coordinator's key. */
export type PeerCheck =
  | ({ readonly kind: 'enclave' } & EnclavePolicy)
  | { readonly kind: 'coordinator'; readonly publicKey: KeyObject };

/** Options of `SecureChannel`. */
export interface SecureChannelOptions {
  /** This party's id; 0 is the coordinator. */
  readonly self: PartyId;
  /** The peer's id; must differ from `self`. */
  readonly peer: PartyId;
  /** Must be `coordinator` exactly when `self` is 0. */
  readonly identity: ChannelIdentity;
  /** Must be `coordinator` exactly when `peer` is 0. */
  readonly peerCheck: PeerCheck;
  /** `n` fresh random bytes per call (node:crypto randomBytes in production). */
  readonly random: RandomSource;
  /** The clock, ms since the Unix epoch. */
  readonly now: () => number;
  /** After this long, `needsRehandshake()` turns true. */
  readonly maxChannelAgeMs: number;
}

/**
 * Checks the options and returns the identity and peer check as this channel keeps them (copied,
 * so that a caller changing its objects later cannot change the policy under a live channel).
 *
 * @throws TypeError on anything no correct configuration has.
 */
export function checkOptions(options: SecureChannelOptions): {
  identity: ChannelIdentity;
  peerCheck: PeerCheck;
} {
  const { self, peer, random, now, maxChannelAgeMs } = options;
  for (const [name, id] of [
    ['self', self],
    ['peer', peer],
  ] as const) {
    if (!Number.isInteger(id) || id < 0 || id > MAX_PARTY_ID) {
      throw new TypeError(`${name} must be a party id in 0..${MAX_PARTY_ID}`);
    }
  }
  if (self === peer) throw new TypeError('a channel needs two different parties');
  if (typeof random !== 'function' || typeof now !== 'function') {
    throw new TypeError('random and now must be functions');
  }
  if (!(Number.isFinite(maxChannelAgeMs) && maxChannelAgeMs > 0)) {
    throw new TypeError('maxChannelAgeMs must be a positive number');
  }
  return {
    identity: checkIdentity(options.identity, self),
    peerCheck: checkPeer(options.peerCheck, peer),
  };
}

function checkIdentity(identity: ChannelIdentity, self: PartyId): ChannelIdentity {
  const expected = self === COORDINATOR ? 'coordinator' : 'enclave';
  if (identity?.kind !== expected) {
    throw new TypeError(`party ${self} must have the ${expected} identity`);
  }
  if (identity.kind === 'coordinator') {
    if (!isEd25519(identity.privateKey, 'private')) {
      throw new TypeError('the coordinator identity must be an Ed25519 private key');
    }
    return { kind: 'coordinator', privateKey: identity.privateKey };
  }
  if (typeof identity.attester?.attest !== 'function') {
    throw new TypeError('an enclave identity needs an attester');
  }
  return { kind: 'enclave', attester: identity.attester };
}

/**
 * Expected PCRs must name PCR0, PCR1 and PCR2 (image, kernel and boot, application). An empty or
 * partial map would be silently permissive — the stumble the STYLE notes in a known validator —
 * and would accept any enclave image under the root: under AWS's root, any code in any enclave.
 */
function checkPeer(check: PeerCheck, peer: PartyId): PeerCheck {
  const expected = peer === COORDINATOR ? 'coordinator' : 'enclave';
  if (check?.kind !== expected) {
    throw new TypeError(
      `party ${peer} must be checked as ${expected === 'enclave' ? 'an' : 'the'} ${expected}`,
    );
  }
  if (check.kind === 'coordinator') {
    if (!isEd25519(check.publicKey, 'public')) {
      throw new TypeError("the coordinator's key must be an Ed25519 public key");
    }
    return { kind: 'coordinator', publicKey: check.publicKey };
  }
  if (!(check.root instanceof Uint8Array) || check.root.length === 0) {
    throw new TypeError('the peer check needs the root certificate (DER)');
  }
  if (!(check.expectedPcrs instanceof Map)) throw new TypeError('expectedPcrs must be a Map');
  const pcrs = new Map<number, Uint8Array>();
  for (const [index, value] of check.expectedPcrs) {
    if (!Number.isInteger(index) || index < 0 || index > 31 || !(value instanceof Uint8Array)) {
      throw new TypeError('expectedPcrs must map indices 0..31 to bytes');
    }
    pcrs.set(index, value.slice());
  }
  for (const index of [0, 1, 2]) {
    if (!pcrs.has(index)) throw new TypeError(`expectedPcrs must name PCR${index}`);
  }
  if (!(Number.isFinite(check.maxDocumentAgeMs) && check.maxDocumentAgeMs > 0)) {
    throw new TypeError('maxDocumentAgeMs must be a positive number');
  }
  return {
    kind: 'enclave',
    root: check.root.slice(),
    expectedPcrs: pcrs,
    maxDocumentAgeMs: check.maxDocumentAgeMs,
  };
}
