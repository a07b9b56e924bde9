/**
 * The share record: everything one party must keep across restarts for one key in one epoch —
 * its secret share, the key's public data, and for threshold ECDSA its Paillier secret with every
 * party's auxiliary public data. This file holds its binary encoding, the plaintext that the
 * sealer encrypts; nothing here touches KMS or storage.
 *
 * Decoding re-checks what the protocol relied on when the share was made, so that a record from
 * a buggy writer or an old format never yields a share that signs wrongly:
 *   - the secret share matches this party's verification share (s_i·G = Y_i);
 *   - the first t verification shares interpolate to the public key (Feldman consistency);
 *   - the Paillier primes multiply to this party's published modulus, of at least 2048 bits;
 *   - auxiliary data covers exactly the key's parties.
 */
import { Reader, Writer } from '../protocol/codec.js';
import { wipe } from '../protocol/bytes.js';
import { ProtocolError, type PartyId } from '../protocol/errors.js';
import { groupByName, type Group, type GroupName } from '../protocol/group.js';
import { sealKeyShareObject, type KeyShare } from '../protocol/keyshare.js';
import { sealAuxInfo, type AuxInfo, type PartyAux } from '../protocol/ecdsa/aux-info.js';
import { PaillierSecretKey, paillierPublicKey } from '../protocol/paillier/paillier.js';
import { lagrangeCoefficient } from '../protocol/polynomial.js';
import { SecretScalar } from '../protocol/secret.js';
import { SCHEMES, groupOf, type Scheme } from './control.js';
import { SealError } from './errors.js';

/** What is sealed for one key, one party, one epoch. */
export interface ShareRecord {
  /** The service's identifier of the key (the REST API's `id`). */
  readonly keyId: string;
  readonly scheme: Scheme;
  /**
   * The enclave's own copy of the key's signing policy, sealed with the share so that no one
   * outside can change it: the signer sets allowed to sign (empty: any `threshold` holders).
   */
  readonly allowedSignerSets: readonly (readonly PartyId[])[];
  readonly share: KeyShare;
  /** Threshold ECDSA only: the Paillier secret and every party's auxiliary public data. */
  readonly aux: AuxInfo | null;
}

/** The identity a sealed record is bound to: what a reader must ask for to open it. */
export interface RecordBinding {
  readonly keyId: string;
  readonly partyId: PartyId;
  readonly epoch: number;
}

const FORMAT_VERSION = 1;
const GROUP_CODES: Readonly<Record<GroupName, number>> = { ed25519: 1, secp256k1: 2 };
const MAX_KEY_ID_BYTES = 128;
const MAX_PARTIES = 255;
const MAX_SIGNER_SETS = 64;
const MAX_SESSION_ID_BYTES = 64;
const CHAIN_CODE_BYTES = 32;
// Paillier moduli are 2048 bits in practice; the bound only refuses absurd input.
const MAX_MODULUS_BITS = 8192;

/** Key ids are short printable tokens: they appear in secret names and in AAD. */
export function checkKeyId(keyId: string): void {
  if (typeof keyId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(keyId)) {
    throw new SealError('BLOB_MALFORMED', 'key id must be 1-128 characters of [A-Za-z0-9._-]');
  }
}

/**
 * Encodes a record. The result holds the secret share and Paillier primes in the clear: the
 * caller encrypts it and wipes it at once.
 */
export function encodeShareRecord(record: ShareRecord): Uint8Array {
  const { keyId, scheme, allowedSignerSets, share, aux } = record;
  checkKeyId(keyId);
  const group = groupByName(share.group);
  const w = new Writer();
  w.u8(FORMAT_VERSION).bytes(new TextEncoder().encode(keyId));
  w.u8(SCHEMES.indexOf(scheme) + 1).u16(allowedSignerSets.length);
  for (const set of allowedSignerSets) {
    w.u16(set.length);
    for (const id of set) w.u16(id);
  }
  w.u8(GROUP_CODES[share.group]).bytes(share.keySessionId);
  w.u16(share.parties.length);
  for (const id of share.parties) w.u16(id);
  w.u16(share.threshold).u32(share.epoch).u16(share.self);
  w.element(group, share.publicKey);
  w.elements(
    group,
    share.parties.map((id) => share.verificationShares.get(id)!),
  );
  w.fixed(share.chainCode);
  const secret = share.secretShare.toBytes();
  w.fixed(secret);
  w.u8(aux === null ? 0 : 1);
  if (aux !== null) {
    w.int(aux.paillierSecret.p).int(aux.paillierSecret.q);
    for (const id of share.parties) {
      const party = aux.parties.get(id)!;
      w.int(party.rp.N).int(party.rp.s).int(party.rp.t);
    }
  }
  const out = w.finish();
  wipe(secret);
  return out;
}

/**
 * Decodes and re-validates a record, and checks it is the one asked for.
 *
 * @throws SealError('BLOB_MALFORMED') when the bytes do not decode or fail a consistency check;
 * SealError('BLOB_MISMATCH') when the record belongs to another key, party or epoch.
 */
export function decodeShareRecord(bytes: Uint8Array, expected: RecordBinding): ShareRecord {
  try {
    return readRecord(bytes, expected);
  } catch (error) {
    if (error instanceof SealError) throw error;
    // The reader blames a "sender"; here the only author is this enclave's own past self.
    const reason = error instanceof ProtocolError ? error.message : 'unreadable';
    throw new SealError('BLOB_MALFORMED', `share record: ${reason}`);
  }
}

function readRecord(bytes: Uint8Array, expected: RecordBinding): ShareRecord {
  const r = new Reader(bytes, null);
  const version = r.u8('format version');
  if (version !== FORMAT_VERSION) r.fail(`format version ${version} is not supported`);
  const keyId = new TextDecoder('utf-8', { fatal: true }).decode(
    r.bytes(MAX_KEY_ID_BYTES, 'key id'),
  );
  const scheme = SCHEMES[r.u8('scheme') - 1];
  if (scheme === undefined) r.fail('unknown scheme');
  const setCount = r.u16('signer sets');
  if (setCount > MAX_SIGNER_SETS) r.fail(`more than ${MAX_SIGNER_SETS} signer sets`);
  const allowedSignerSets: PartyId[][] = [];
  for (let i = 0; i < setCount; i++) {
    const size = r.u16('signer set size');
    const set: PartyId[] = [];
    for (let j = 0; j < size; j++) set.push(r.u16('signer'));
    allowedSignerSets.push(set);
  }
  const groupName = readGroup(r);
  if (groupName !== groupOf(scheme)) r.fail(`scheme ${scheme} on a ${groupName} key`);
  const group = groupByName(groupName);
  const keySessionId = r.bytes(MAX_SESSION_ID_BYTES, 'key session id').slice();
  const count = r.u16('party count');
  if (count < 1 || count > MAX_PARTIES) r.fail(`party count ${count} out of range`);
  const parties: PartyId[] = [];
  for (let i = 0; i < count; i++) {
    const id = r.u16('party id');
    if (id === 0 || (i > 0 && id <= parties[i - 1]!)) r.fail('party ids must ascend from 1');
    parties.push(id);
  }
  const threshold = r.u16('threshold');
  if (threshold < 1 || threshold > count) r.fail(`threshold ${threshold} out of range`);
  const epoch = r.u32('epoch');
  const self = r.u16('self');
  if (!parties.includes(self)) r.fail(`party ${self} is not among the key's parties`);
  const publicKey = r.element(group, 'public key');
  const shares = r.elements(group, count, 'verification shares');
  const verificationShares = new Map(parties.map((id, i) => [id, shares[i]!]));
  const chainCode = r.fixed(CHAIN_CODE_BYTES, 'chain code').slice();
  const secretBytes = r.fixed(group.scalarLength, 'secret share');
  const secret = group.decodeScalar(secretBytes) ?? 0n;
  if (secret === 0n) r.fail('secret share is not a canonical non-zero scalar');
  const hasAux = r.u8('aux flag');
  if (hasAux > 1) r.fail('aux flag must be 0 or 1');
  const aux = hasAux === 1 ? readAux(r, parties, self, keySessionId, epoch) : null;
  r.end();

  if (keyId !== expected.keyId || self !== expected.partyId || epoch !== expected.epoch) {
    throw new SealError(
      'BLOB_MISMATCH',
      `share record is for key ${keyId}, party ${self}, epoch ${epoch}; ` +
        `expected key ${expected.keyId}, party ${expected.partyId}, epoch ${expected.epoch}`,
    );
  }
  if ((aux !== null) !== (scheme === 'ecdsa-secp256k1')) {
    r.fail('auxiliary data belongs with ECDSA keys, and only with them');
  }
  for (const set of allowedSignerSets) {
    const valid =
      set.length >= threshold &&
      set.every((id, i) => parties.includes(id) && (i === 0 || id > set[i - 1]!));
    if (!valid) r.fail('an allowed signer set is not an ascending set of >= t holders');
  }
  checkConsistent(group, parties, threshold, publicKey, verificationShares, self, secret);

  const share = sealKeyShareObject({
    group: groupName,
    keySessionId,
    parties,
    threshold,
    epoch,
    publicKey,
    verificationShares,
    chainCode,
    self,
    secretShare: new SecretScalar(group, secret),
  });
  return { keyId, scheme, allowedSignerSets, share, aux };
}

function readGroup(r: Reader): GroupName {
  const code = r.u8('group');
  for (const [name, value] of Object.entries(GROUP_CODES)) {
    if (value === code) return name as GroupName;
  }
  return r.fail(`unknown group code ${code}`);
}

function readAux(
  r: Reader,
  parties: readonly PartyId[],
  self: PartyId,
  keySessionId: Uint8Array,
  epoch: number,
): AuxInfo {
  const p = r.int(MAX_MODULUS_BITS / 2, 'paillier p');
  const q = r.int(MAX_MODULUS_BITS / 2, 'paillier q');
  const auxParties = new Map<PartyId, PartyAux>();
  for (const id of parties) {
    const N = r.int(MAX_MODULUS_BITS, `modulus of party ${id}`);
    const s = r.residue(N, `ring-Pedersen s of party ${id}`);
    const t = r.residue(N, `ring-Pedersen t of party ${id}`);
    if (N <= 0n) r.fail(`modulus of party ${id} is not positive`);
    auxParties.set(id, { paillier: paillierPublicKey(N), rp: { N, s, t } });
  }
  if (p <= 1n || q <= 1n || p * q !== auxParties.get(self)!.paillier.N) {
    r.fail("Paillier primes do not factor this party's modulus");
  }
  // The constructor refuses moduli below 2048 bits and equal or even primes.
  const paillierSecret = new PaillierSecretKey(p, q);
  return sealAuxInfo({ keySessionId, epoch, self, paillierSecret, parties: auxParties });
}

/**
 * s_i·G must equal Y_i, and any t verification shares must interpolate to the public key; the
 * first t suffice, since the protocol checked all of them against the Feldman commitments.
 */
function checkConsistent(
  group: Group,
  parties: readonly PartyId[],
  threshold: number,
  publicKey: ReturnType<Group['mulBase']>,
  verificationShares: ReadonlyMap<PartyId, ReturnType<Group['mulBase']>>,
  self: PartyId,
  secret: bigint,
): void {
  if (!group.mulBase(secret).equals(verificationShares.get(self)!)) {
    throw new SealError('BLOB_MALFORMED', 'share record: secret share does not match Y_self');
  }
  const subset = parties.slice(0, threshold).map(BigInt);
  const points = subset.map((id) => verificationShares.get(Number(id))!);
  const lambdas = subset.map((id) => lagrangeCoefficient(group, subset, id));
  if (!group.msm(points, lambdas).equals(publicKey)) {
    throw new SealError('BLOB_MALFORMED', 'share record: verification shares miss the public key');
  }
}
