/**
 * The control messages between the coordinator and an enclave: what the coordinator asks (make
 * a key, sign, presign, refresh, commit an epoch) and what the enclave answers. They travel only
 * inside the authenticated channel between the two (record payloads of kind CONTROL), so a
 * parent that relays them can neither read nor forge one. Decoding is strict: every field has
 * one encoding, and a request names nothing the enclave has not got a rule for.
 *
 * A record's payload starts with one byte saying what it holds: a control request, a control
 * response, or a protocol envelope (the bytes `protocol/envelope.ts` defines).
 */
import { Reader, Writer } from '../protocol/codec.js';
import { ProtocolError, type PartyId } from '../protocol/errors.js';
import { groupByName, secp256k1Group, type Group, type GroupName } from '../protocol/group.js';
import type { KeyPublic } from '../protocol/keyshare.js';
import type { PresignaturePublic } from '../protocol/ecdsa/presignature.js';
import { MAX_PARTY_ID } from '../protocol/envelope.js';

/** The signature schemes of DESIGN.md's contract. */
export type Scheme = 'ecdsa-secp256k1' | 'schnorr-secp256k1-bip340' | 'eddsa-ed25519';
export const SCHEMES: readonly Scheme[] = [
  'ecdsa-secp256k1',
  'schnorr-secp256k1-bip340',
  'eddsa-ed25519',
];

export function groupOf(scheme: Scheme): GroupName {
  return scheme === 'eddsa-ed25519' ? 'ed25519' : 'secp256k1';
}

/** What a record payload holds. */
export const PAYLOAD = { request: 1, response: 2, envelope: 3 } as const;

export type ControlRequest =
  | {
      readonly kind: 'keygen';
      readonly keyId: string;
      readonly scheme: Scheme;
      readonly threshold: number;
      readonly parties: readonly PartyId[];
      /** Signer sets the key may sign with; empty: any set of at least `threshold` holders. */
      readonly allowedSignerSets: readonly (readonly PartyId[])[];
    }
  | { readonly kind: 'refresh'; readonly keyId: string; readonly epoch: number }
  | { readonly kind: 'commit'; readonly keyId: string; readonly epoch: number }
  | { readonly kind: 'discard'; readonly keyId: string; readonly epoch: number }
  | {
      readonly kind: 'presign';
      readonly keyId: string;
      readonly epoch: number;
      readonly signers: readonly PartyId[];
    }
  | {
      readonly kind: 'sign';
      readonly keyId: string;
      readonly epoch: number;
      readonly signers: readonly PartyId[];
      /** The message (Ed25519, BIP340: the 32-byte digest) or the ECDSA digest. */
      readonly message: Uint8Array;
      /** Non-hardened derivation path; "" for the root key. */
      readonly path: string;
      /** ECDSA: the presignature to spend (its presigning session id); empty otherwise. */
      readonly presignatureId: Uint8Array;
      /** BIP340: sign for the BIP341 key-path output key of the (derived) key. */
      readonly taproot: boolean;
    }
  /** Stops a session of this id, if one runs: another party failed, or the caller gave up. */
  | { readonly kind: 'abort'; readonly reason: string }
  | { readonly kind: 'status' }
  /**
   * Party `peer` restarted (its attestation names a new enclave): drop the channel to it and
   * handshake again before sending it anything, so nothing is sealed under keys it lost.
   */
  | { readonly kind: 'rekey'; readonly peer: PartyId }
  /**
   * An attestation document binding the enclave's acknowledgement key (public_key) to the
   * caller's challenge (nonce): what `GET /v1/attestations` shows and the audit log records.
   */
  | { readonly kind: 'attest'; readonly nonce: Uint8Array };

export type ControlResponse =
  /** A new epoch's share is sealed and staged; the key's public data, for the coordinator. */
  | {
      readonly kind: 'staged';
      readonly keyId: string;
      readonly scheme: Scheme;
      readonly key: KeyPublic;
    }
  | { readonly kind: 'presigned'; readonly presignature: PresignaturePublic }
  | { readonly kind: 'done' }
  /** A signing request taken part in, with the enclave's signature over `ackMessage`. */
  | { readonly kind: 'acknowledged'; readonly signature: Uint8Array }
  | { readonly kind: 'attested'; readonly document: Uint8Array }
  | {
      readonly kind: 'status';
      readonly party: PartyId;
      readonly sessions: number;
      readonly keys: number;
      readonly presignatures: number;
    }
  | {
      readonly kind: 'failed';
      readonly code: string;
      readonly message: string;
      readonly blame: readonly PartyId[];
    };

const REQUEST_CODES = {
  keygen: 1,
  refresh: 2,
  commit: 3,
  discard: 4,
  presign: 5,
  sign: 6,
  abort: 7,
  status: 8,
  rekey: 9,
  attest: 10,
} as const;
const RESPONSE_CODES = {
  staged: 1,
  presigned: 2,
  done: 3,
  status: 4,
  failed: 5,
  acknowledged: 6,
  attested: 7,
} as const;
const MAX_DOCUMENT = 16 * 1024;
const SCHEME_CODES: Readonly<Record<Scheme, number>> = {
  'ecdsa-secp256k1': 1,
  'schnorr-secp256k1-bip340': 2,
  'eddsa-ed25519': 3,
};
const GROUP_CODES: Readonly<Record<GroupName, number>> = { ed25519: 1, secp256k1: 2 };

const MAX_KEY_ID = 128;
const MAX_MESSAGE = 64 * 1024;
const MAX_TEXT = 1024;
const MAX_PARTIES = 255;
const MAX_SIGNER_SETS = 64;

// ---------------------------------------------------------------------------------------------
// Requests

export function encodeRequest(request: ControlRequest): Uint8Array {
  const w = new Writer().u8(PAYLOAD.request).u8(REQUEST_CODES[request.kind]);
  switch (request.kind) {
    case 'keygen':
      text(w, request.keyId).u8(SCHEME_CODES[request.scheme]).u16(request.threshold);
      ids(w, request.parties);
      w.u16(request.allowedSignerSets.length);
      for (const set of request.allowedSignerSets) ids(w, set);
      break;
    case 'refresh':
    case 'commit':
    case 'discard':
      text(w, request.keyId).u32(request.epoch);
      break;
    case 'presign':
      text(w, request.keyId).u32(request.epoch);
      ids(w, request.signers);
      break;
    case 'sign':
      text(w, request.keyId).u32(request.epoch);
      ids(w, request.signers);
      w.bytes(request.message);
      text(w, request.path).bytes(request.presignatureId);
      w.u8(request.taproot ? 1 : 0);
      break;
    case 'abort':
      text(w, request.reason);
      break;
    case 'status':
      break;
    case 'rekey':
      w.u16(request.peer);
      break;
    case 'attest':
      w.fixed(request.nonce);
      break;
  }
  return w.finish();
}

/** Decodes a request payload; anything malformed blames the coordinator (party 0). */
export function decodeRequest(bytes: Uint8Array, sender: PartyId): ControlRequest {
  const r = new Reader(bytes, sender);
  if (r.u8('payload type') !== PAYLOAD.request) r.fail('not a control request');
  const kind = codeName(REQUEST_CODES, r.u8('request kind'), r);
  let request: ControlRequest;
  switch (kind) {
    case 'keygen': {
      const keyId = readKeyId(r);
      const scheme = codeName(SCHEME_CODES, r.u8('scheme'), r);
      const threshold = r.u16('threshold');
      const parties = readIds(r, 'parties');
      const count = r.u16('signer sets');
      if (count > MAX_SIGNER_SETS) r.fail(`more than ${MAX_SIGNER_SETS} signer sets`);
      const allowedSignerSets: PartyId[][] = [];
      for (let i = 0; i < count; i++) allowedSignerSets.push(readIds(r, 'signer set'));
      request = { kind, keyId, scheme, threshold, parties, allowedSignerSets };
      break;
    }
    case 'refresh':
    case 'commit':
    case 'discard':
      request = { kind, keyId: readKeyId(r), epoch: r.u32('epoch') };
      break;
    case 'presign':
      request = {
        kind,
        keyId: readKeyId(r),
        epoch: r.u32('epoch'),
        signers: readIds(r, 'signers'),
      };
      break;
    case 'sign': {
      const keyId = readKeyId(r);
      const epoch = r.u32('epoch');
      const signers = readIds(r, 'signers');
      const message = r.bytes(MAX_MESSAGE, 'message').slice();
      const path = readText(r, 'path');
      const presignatureId = r.bytes(32, 'presignature id').slice();
      const flag = r.u8('taproot');
      if (flag > 1) throw new ProtocolError('MALFORMED_MESSAGE', 'the taproot flag is 0 or 1');
      request = { kind, keyId, epoch, signers, message, path, presignatureId, taproot: flag === 1 };
      break;
    }
    case 'abort':
      request = { kind, reason: readText(r, 'reason') };
      break;
    case 'status':
      request = { kind };
      break;
    case 'rekey': {
      const peer = r.u16('peer');
      if (peer < 1 || peer > MAX_PARTY_ID) r.fail('peer id out of range');
      request = { kind, peer };
      break;
    }
    case 'attest':
      request = { kind, nonce: r.fixed(32, 'nonce').slice() };
      break;
  }
  r.end();
  return request;
}

// ---------------------------------------------------------------------------------------------
// Responses

export function encodeResponse(response: ControlResponse): Uint8Array {
  const w = new Writer().u8(PAYLOAD.response).u8(RESPONSE_CODES[response.kind]);
  switch (response.kind) {
    case 'staged':
      text(w, response.keyId).u8(SCHEME_CODES[response.scheme]);
      writeKeyPublic(w, response.key);
      break;
    case 'presigned':
      writePresignature(w, response.presignature);
      break;
    case 'done':
      break;
    case 'acknowledged':
      w.fixed(response.signature);
      break;
    case 'attested':
      w.bytes(response.document);
      break;
    case 'status':
      w.u16(response.party).u32(response.sessions).u32(response.keys);
      w.u32(response.presignatures);
      break;
    case 'failed':
      text(w, response.code);
      text(w, response.message);
      ids(w, response.blame);
      break;
  }
  return w.finish();
}

/** Decodes a response payload; anything malformed blames the enclave that sent it. */
export function decodeResponse(bytes: Uint8Array, sender: PartyId): ControlResponse {
  const r = new Reader(bytes, sender);
  if (r.u8('payload type') !== PAYLOAD.response) r.fail('not a control response');
  const kind = codeName(RESPONSE_CODES, r.u8('response kind'), r);
  let response: ControlResponse;
  switch (kind) {
    case 'staged': {
      const keyId = readKeyId(r);
      const scheme = codeName(SCHEME_CODES, r.u8('scheme'), r);
      response = { kind, keyId, scheme, key: readKeyPublic(r) };
      break;
    }
    case 'presigned':
      response = { kind, presignature: readPresignature(r) };
      break;
    case 'done':
      response = { kind };
      break;
    case 'acknowledged':
      response = { kind, signature: r.fixed(64, 'acknowledgement').slice() };
      break;
    case 'attested':
      response = { kind, document: r.bytes(MAX_DOCUMENT, 'document').slice() };
      break;
    case 'status':
      response = {
        kind,
        party: r.u16('party'),
        sessions: r.u32('sessions'),
        keys: r.u32('keys'),
        presignatures: r.u32('presignatures'),
      };
      break;
    case 'failed':
      response = {
        kind,
        code: readText(r, 'code'),
        message: readText(r, 'message'),
        blame: readBlame(r),
      };
      break;
  }
  r.end();
  return response;
}

// ---------------------------------------------------------------------------------------------
// Public key data

/** The public data of a key, as the coordinator stores it (the same bytes as in `staged`). */
export function encodeKeyPublic(key: KeyPublic): Uint8Array {
  const w = new Writer();
  writeKeyPublic(w, key);
  return w.finish();
}

/** Reads what {@link encodeKeyPublic} wrote; malformed bytes blame `sender`. */
export function decodeKeyPublic(bytes: Uint8Array, sender: PartyId = 0): KeyPublic {
  const r = new Reader(bytes, sender);
  const key = readKeyPublic(r);
  r.end();
  return key;
}

function writeKeyPublic(w: Writer, key: KeyPublic): void {
  const group = groupByName(key.group);
  w.u8(GROUP_CODES[key.group]).bytes(key.keySessionId);
  ids(w, key.parties);
  w.u16(key.threshold).u32(key.epoch);
  w.element(group, key.publicKey);
  w.elements(
    group,
    key.parties.map((p) => key.verificationShares.get(p)!),
  );
  w.fixed(key.chainCode);
}

function readKeyPublic(r: Reader): KeyPublic {
  const groupName = codeName(GROUP_CODES, r.u8('group'), r);
  const group = groupByName(groupName);
  const keySessionId = r.bytes(64, 'key session id').slice();
  const parties = readIds(r, 'parties');
  const threshold = r.u16('threshold');
  if (threshold < 1 || threshold > parties.length) r.fail('threshold out of range');
  const epoch = r.u32('epoch');
  const publicKey = r.element(group, 'public key');
  const shares = r.elements(group, parties.length, 'verification shares');
  const chainCode = r.fixed(32, 'chain code').slice();
  return {
    group: groupName,
    keySessionId,
    parties,
    threshold,
    epoch,
    publicKey,
    verificationShares: new Map(parties.map((p, i) => [p, shares[i]!])),
    chainCode,
  };
}

function writePresignature(w: Writer, pre: PresignaturePublic): void {
  const group = secp256k1Group;
  w.fixed(pre.id).bytes(pre.keySessionId).u32(pre.epoch);
  ids(w, pre.signers);
  w.element(group, pre.R).element(group, pre.Gamma);
  w.elements(
    group,
    pre.signers.map((p) => pre.Delta.get(p)!),
  );
  w.elements(
    group,
    pre.signers.map((p) => pre.S.get(p)!),
  );
}

function readPresignature(r: Reader): PresignaturePublic {
  const group: Group = secp256k1Group;
  const id = r.fixed(32, 'presignature id').slice();
  const keySessionId = r.bytes(64, 'key session id').slice();
  const epoch = r.u32('epoch');
  const signers = readIds(r, 'signers');
  const R = r.element(group, 'R');
  const Gamma = r.element(group, 'Gamma');
  const Delta = r.elements(group, signers.length, 'Delta');
  const S = r.elements(group, signers.length, 'S');
  return {
    id,
    keySessionId,
    epoch,
    signers,
    R,
    Gamma,
    Delta: new Map(signers.map((p, i) => [p, Delta[i]!])),
    S: new Map(signers.map((p, i) => [p, S[i]!])),
  };
}

// ---------------------------------------------------------------------------------------------
// Fields

function text(w: Writer, value: string): Writer {
  return w.bytes(new TextEncoder().encode(value));
}

function readText(r: Reader, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(r.bytes(MAX_TEXT, what));
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    return r.fail(`${what}: not UTF-8`);
  }
}

function readKeyId(r: Reader): string {
  const keyId = readText(r, 'key id');
  if (keyId.length > MAX_KEY_ID || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(keyId)) {
    r.fail('key id must be 1-128 characters of [A-Za-z0-9._-]');
  }
  return keyId;
}

/** Party ids: ascending, distinct, in 1..MAX_PARTY_ID. */
function ids(w: Writer, list: readonly PartyId[]): Writer {
  w.u16(list.length);
  for (const id of list) w.u16(id);
  return w;
}

function readIds(r: Reader, what: string): PartyId[] {
  const count = r.u16(what);
  if (count > MAX_PARTIES || count === 0) r.fail(`${what}: bad count ${count}`);
  const out: PartyId[] = [];
  for (let i = 0; i < count; i++) {
    const id = r.u16(what);
    if (id < 1 || id > MAX_PARTY_ID || (i > 0 && id <= out[i - 1]!)) {
      r.fail(`${what}: ids must ascend within 1..${MAX_PARTY_ID}`);
    }
    out.push(id);
  }
  return out;
}

/** Blamed parties: ascending, distinct, and (unlike signer sets) possibly the coordinator, 0. */
function readBlame(r: Reader): PartyId[] {
  const count = r.u16('blame');
  if (count > MAX_PARTIES + 1) r.fail(`blame: bad count ${count}`);
  const out: PartyId[] = [];
  for (let i = 0; i < count; i++) {
    const id = r.u16('blame');
    if (id > MAX_PARTY_ID || (i > 0 && id <= out[i - 1]!)) r.fail('blame: ids must ascend');
    out.push(id);
  }
  return out;
}

function codeName<K extends string>(
  table: Readonly<Record<K, number>>,
  code: number,
  r: Reader,
): K {
  for (const [name, value] of Object.entries(table) as [K, number][]) {
    if (value === code) return name;
  }
  return r.fail(`unknown code ${code}`);
}
