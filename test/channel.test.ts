/**
 * The attested peer channel (enclave/channel): handshakes between simulated enclaves that share
 * one root (and with the coordinator), every refusal at the handshake with the verifier's reason,
 * every way a record can be tampered with, and re-handshakes with frames in flight. Randomness is
 * seeded; the clock is a variable the tests move.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { x25519 } from '@noble/curves/ed25519.js';
import { SimulatedNsm, type SimulatedPcrs } from '../attestation/issuer.js';
import {
  ChannelError,
  SecureChannel,
  frameType,
  type ChannelErrorCode,
  type ChannelIdentity,
  type PeerCheck,
  type RecordRefusal,
} from '../enclave/channel/index.js';
import {
  decodeFinish,
  decodeReply,
  encodeFinish,
  encodeFinishPrefix,
  encodeHello,
  encodeReply,
  encodeReplyPrefix,
  finishBinding,
  replyBinding,
} from '../enclave/channel/handshake.js';
import { signAsCoordinator } from '../enclave/channel/keys.js';
import { seededRng } from './helpers.js';

// ---------------------------------------------------------------------------------------------
// Fixtures

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const T0 = Date.parse('2025-06-01T12:00:00.123Z');

const pcr = (fill: number): Uint8Array => new Uint8Array(48).fill(fill);
const GOOD_PCRS = new Map([
  [0, pcr(1)],
  [1, pcr(2)],
  [2, pcr(3)],
]);
const OTHER_PCRS = new Map([
  [0, pcr(1)],
  [1, pcr(2)],
  [2, pcr(4)], // another application
]);
/** All-zero PCR0..2: what a debug-mode enclave reports. */
const DEBUG_PCRS = new Map<number, Uint8Array>();

/** The cluster's one root, made a day before the tests' clock so that back-dated NSMs fit. */
const ROOT = SimulatedNsm.newRoot({ now: () => new Date(T0 - DAY) });
const COORDINATOR_KEYS = generateKeyPairSync('ed25519');

const MAX_DOCUMENT_AGE = 5 * MINUTE;
const MAX_CHANNEL_AGE = 10 * MINUTE;

const SESSION_A = new Uint8Array(32).fill(0xa1);
const SESSION_B = new Uint8Array(32).fill(0xb2);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** A clock the tests move, shared by the channels and the NSMs of one test. */
class Clock {
  ms = T0;
  readonly now = (): number => this.ms;
  /** An NSM's view: `skew` ms off the shared clock. */
  date(skew = 0): () => Date {
    return () => new Date(this.ms + skew);
  }
}

let seedCounter = 0;

interface ChannelSpec {
  self: number;
  peer: number;
  clock: Clock;
  /** The NSM's PCRs (enclaves only). */
  pcrs?: SimulatedPcrs;
  /** The NSM's clock offset (enclaves only). */
  skew?: number;
  /** An NSM of its own, with its own root, instead of the cluster's. */
  ownRoot?: boolean;
  /** The coordinator's signing key (coordinator only). */
  coordinatorKey?: KeyObject;
  peerCheck?: Partial<Extract<PeerCheck, { kind: 'enclave' }>>;
  identity?: ChannelIdentity;
}

function enclaveNsm(spec: ChannelSpec): SimulatedNsm {
  return SimulatedNsm.create({
    pcrs: spec.pcrs ?? GOOD_PCRS,
    now: spec.clock.date(spec.skew ?? 0),
    moduleId: `signer-${spec.self}`,
    ...(spec.ownRoot ? {} : { root: ROOT }),
  });
}

function makeChannel(spec: ChannelSpec): SecureChannel {
  const identity: ChannelIdentity =
    spec.identity ??
    (spec.self === 0
      ? { kind: 'coordinator', privateKey: spec.coordinatorKey ?? COORDINATOR_KEYS.privateKey }
      : { kind: 'enclave', attester: enclaveNsm(spec) });
  const peerCheck: PeerCheck =
    spec.peer === 0
      ? { kind: 'coordinator', publicKey: COORDINATOR_KEYS.publicKey }
      : {
          kind: 'enclave',
          root: ROOT.der,
          expectedPcrs: GOOD_PCRS,
          maxDocumentAgeMs: MAX_DOCUMENT_AGE,
          ...spec.peerCheck,
        };
  return new SecureChannel({
    self: spec.self,
    peer: spec.peer,
    identity,
    peerCheck,
    random: seededRng(`channel ${spec.self}->${spec.peer} #${seedCounter++}`),
    now: spec.clock.now,
    maxChannelAgeMs: MAX_CHANNEL_AGE,
  });
}

/** Two ends of one channel between `a` and `b` (either order), on one clock. */
function pair(
  a: number,
  b: number,
  clock = new Clock(),
  options: { a?: Partial<ChannelSpec>; b?: Partial<ChannelSpec> } = {},
): { a: SecureChannel; b: SecureChannel; clock: Clock } {
  return {
    a: makeChannel({ self: a, peer: b, clock, ...options.a }),
    b: makeChannel({ self: b, peer: a, clock, ...options.b }),
    clock,
  };
}

/** Runs the three messages; returns them for tests that replay or alter them. */
async function connect(
  initiator: SecureChannel,
  responder: SecureChannel,
): Promise<{ hello: Uint8Array; reply: Uint8Array; finish: Uint8Array }> {
  const hello = await initiator.begin();
  const reply = await responder.handshake(hello);
  assert.ok(reply);
  const finish = await initiator.handshake(reply);
  assert.ok(finish);
  assert.equal(await responder.handshake(finish), null);
  return { hello, reply, finish };
}

function isChannelError(code: ChannelErrorCode, attestationCode?: string, message?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof ChannelError, `not a ChannelError: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (attestationCode !== undefined) assert.equal(err.attestationCode, attestationCode);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  };
}

const NO_REFUSALS: Record<RecordRefusal, number> = {
  NOT_ESTABLISHED: 0,
  TRUNCATED: 0,
  MALFORMED: 0,
  WRONG_CHANNEL: 0,
  REPLAYED: 0,
  REORDERED: 0,
  FORGED: 0,
};

function refusals(partial: Partial<Record<RecordRefusal, number>>): Record<RecordRefusal, number> {
  return { ...NO_REFUSALS, ...partial };
}

/** Seals `text` from `from` and opens it at `to`, checking what comes out. */
function roundTrip(from: SecureChannel, to: SecureChannel, message: string, round = 1): void {
  const opened = to.open(from.seal({ sessionId: SESSION_A, round }, utf8(message)));
  assert.equal(text(opened.payload), message);
  assert.equal(opened.round, round);
  assert.equal(opened.sender, from.self);
  assert.equal(opened.receiver, to.self);
}

// ---------------------------------------------------------------------------------------------
// Handshakes that succeed

test('enclave <-> enclave: the handshake completes and records flow both ways, interleaved', async () => {
  const { a, b } = pair(1, 2);
  assert.equal(a.role, 'initiator');
  assert.equal(b.role, 'responder');
  assert.equal(a.established || b.established, false);
  const { hello, reply, finish } = await connect(a, b);
  assert.deepEqual(
    [frameType(hello), frameType(reply), frameType(finish)],
    ['hello', 'reply', 'finish'],
  );
  assert.ok(a.established && b.established);
  assert.equal(a.epoch, 1);
  assert.equal(b.epoch, 1);
  assert.equal(a.peerAttestation?.moduleId, 'signer-2');
  assert.equal(b.peerAttestation?.moduleId, 'signer-1');
  assert.deepEqual(a.peerAttestation?.pcrs.get(2), GOOD_PCRS.get(2));

  // 400 records in a seeded order, both directions, sizes 0..2 KiB, two sessions, all rounds.
  const choose = seededRng('interleaving');
  const queues: Record<'ab' | 'ba', { record: Uint8Array; payload: Uint8Array; round: number }[]> =
    { ab: [], ba: [] };
  let opened = 0;
  for (let i = 0; i < 400; i++) {
    const [dir, size, action] = choose(3);
    const forward = dir! % 2 === 0;
    const [from, key] = forward ? ([a, 'ab'] as const) : ([b, 'ba'] as const);
    const payload = seededRng(`payload ${i}`)((size! * 8) % 2049);
    const round = i % 256;
    const sessionId = i % 3 === 0 ? SESSION_B : SESSION_A;
    queues[key].push({ record: from.seal({ sessionId, round }, payload), payload, round });
    // Deliver some of what is queued, in order per direction (the relay path is ordered).
    for (const k of ['ab', 'ba'] as const) {
      while (queues[k].length > 0 && (action! % 3 !== 0 || i === 399)) {
        const next = queues[k].shift()!;
        const out = (k === 'ab' ? b : a).open(next.record);
        assert.deepEqual(out.payload, next.payload);
        assert.equal(out.round, next.round);
        opened++;
        if (action! % 2 === 0) break;
      }
    }
  }
  for (const k of ['ab', 'ba'] as const) {
    for (const next of queues[k]) {
      assert.deepEqual((k === 'ab' ? b : a).open(next.record).payload, next.payload);
      opened++;
    }
  }
  assert.equal(opened, 400);
  assert.deepEqual(a.counters, NO_REFUSALS);
  assert.deepEqual(b.counters, NO_REFUSALS);
});

test('coordinator <-> enclave: the coordinator signs, the enclave attests, records flow', async () => {
  const { a: coordinator, b: enclave } = pair(0, 3);
  assert.equal(coordinator.role, 'initiator');
  await connect(coordinator, enclave);
  assert.equal(coordinator.peerAttestation?.moduleId, 'signer-3');
  assert.equal(enclave.peerAttestation, null, 'the coordinator has no document');
  const { finish } = await connect(coordinator, enclave);
  assert.equal(decodeFinish(finish).kind, 'coordinator');
  assert.equal(decodeFinish(finish).evidence.length, 64);
  assert.equal(coordinator.epoch, 2);
  for (let i = 0; i < 50; i++) {
    roundTrip(coordinator, enclave, `to the enclave ${i}`, i);
    roundTrip(enclave, coordinator, `to the coordinator ${i}`, i);
  }
  assert.deepEqual(enclave.counters, NO_REFUSALS);
});

test('an asynchronous attester works; a failing attester or random source is INTERNAL', async () => {
  const clock = new Clock();
  const nsm = enclaveNsm({ self: 2, peer: 1, clock });
  const { a, b } = pair(1, 2, clock, {
    b: { identity: { kind: 'enclave', attester: { attest: async (r) => nsm.attest(r) } } },
  });
  await connect(a, b);
  roundTrip(a, b, 'async');

  const broken = pair(1, 2, clock, {
    b: {
      identity: {
        kind: 'enclave',
        attester: {
          attest: () => {
            throw new Error('nsm unavailable');
          },
        },
      },
    },
  });
  await assert.rejects(
    broken.b.handshake(await broken.a.begin()),
    isChannelError('INTERNAL', undefined, /nsm unavailable/),
  );
  const zeros = new SecureChannel({
    self: 1,
    peer: 2,
    identity: { kind: 'enclave', attester: nsm },
    peerCheck: { kind: 'enclave', root: ROOT.der, expectedPcrs: GOOD_PCRS, maxDocumentAgeMs: 1 },
    random: (n) => new Uint8Array(n),
    now: clock.now,
    maxChannelAgeMs: 1,
  });
  await assert.rejects(zeros.begin(), isChannelError('INTERNAL', undefined, /all zeros/));
});

test('configuration: roles by id, identities by party 0, PCR0..2 required', async () => {
  const clock = new Clock();
  const base = {
    random: seededRng('config'),
    now: clock.now,
    maxChannelAgeMs: MAX_CHANNEL_AGE,
  };
  const attester = enclaveNsm({ self: 1, peer: 2, clock });
  const enclaveCheck: PeerCheck = {
    kind: 'enclave',
    root: ROOT.der,
    expectedPcrs: GOOD_PCRS,
    maxDocumentAgeMs: MAX_DOCUMENT_AGE,
  };
  const coordinatorCheck: PeerCheck = {
    kind: 'coordinator',
    publicKey: COORDINATOR_KEYS.publicKey,
  };
  const enclave: ChannelIdentity = { kind: 'enclave', attester };
  const coordinator: ChannelIdentity = {
    kind: 'coordinator',
    privateKey: COORDINATOR_KEYS.privateKey,
  };
  const bad: [string, ConstructorParameters<typeof SecureChannel>[0]][] = [
    ['self = peer', { ...base, self: 1, peer: 1, identity: enclave, peerCheck: enclaveCheck }],
    [
      'id out of range',
      { ...base, self: 1, peer: 0xffff, identity: enclave, peerCheck: enclaveCheck },
    ],
    ['enclave as 0', { ...base, self: 0, peer: 1, identity: enclave, peerCheck: enclaveCheck }],
    [
      'coordinator as 1',
      { ...base, self: 1, peer: 2, identity: coordinator, peerCheck: enclaveCheck },
    ],
    ['peer 0 attested', { ...base, self: 1, peer: 0, identity: enclave, peerCheck: enclaveCheck }],
    [
      'peer 2 signed',
      { ...base, self: 1, peer: 2, identity: enclave, peerCheck: coordinatorCheck },
    ],
    [
      'public key as identity',
      {
        ...base,
        self: 0,
        peer: 1,
        identity: { kind: 'coordinator', privateKey: COORDINATOR_KEYS.publicKey },
        peerCheck: enclaveCheck,
      },
    ],
    [
      'no PCR2',
      {
        ...base,
        self: 1,
        peer: 2,
        identity: enclave,
        peerCheck: { ...enclaveCheck, expectedPcrs: new Map([...GOOD_PCRS].slice(0, 2)) },
      },
    ],
    [
      'no PCRs at all',
      {
        ...base,
        self: 1,
        peer: 2,
        identity: enclave,
        peerCheck: { ...enclaveCheck, expectedPcrs: new Map() },
      },
    ],
    [
      'zero channel age',
      { ...base, self: 1, peer: 2, identity: enclave, peerCheck: enclaveCheck, maxChannelAgeMs: 0 },
    ],
  ];
  for (const [name, options] of bad) {
    assert.throws(() => new SecureChannel(options), TypeError, name);
  }
  // The lower id initiates; the responder never begins.
  const responder = new SecureChannel({
    ...base,
    self: 5,
    peer: 4,
    identity: enclave,
    peerCheck: enclaveCheck,
  });
  assert.equal(responder.role, 'responder');
  await assert.rejects(responder.begin(), isChannelError('HANDSHAKE_REFUSED'));
  // The policy is copied: changing the caller's map afterwards changes nothing.
  const pcrs = new Map(GOOD_PCRS);
  const { a, b } = pair(1, 2, clock, { a: { peerCheck: { expectedPcrs: pcrs } } });
  pcrs.set(2, pcr(9));
  await connect(a, b);
});

// ---------------------------------------------------------------------------------------------
// Handshakes that are refused

test('refused: a peer whose NSM reports other PCRs (either side), PCR_MISMATCH', async () => {
  const clock = new Clock();
  // The responder runs other code: the initiator refuses its Reply...
  const { a, b } = pair(1, 2, clock, { b: { pcrs: OTHER_PCRS } });
  const hello = await a.begin();
  await assert.rejects(
    a.handshake((await b.handshake(hello))!),
    isChannelError('ATTESTATION_REFUSED', 'PCR_MISMATCH'),
  );
  // ...and nothing changed: a genuine responder's Reply to the same Hello still completes.
  assert.ok(a.handshaking && !a.established);
  const genuine = makeChannel({ self: 2, peer: 1, clock });
  const finish = await a.handshake((await genuine.handshake(hello))!);
  await genuine.handshake(finish!);
  roundTrip(a, genuine, 'after a refusal');

  // The initiator runs other code: the responder refuses its Finish.
  const other = pair(1, 2, clock, { a: { pcrs: OTHER_PCRS } });
  const reply = await other.b.handshake(await other.a.begin());
  const badFinish = await other.a.handshake(reply!);
  await assert.rejects(
    other.b.handshake(badFinish!),
    isChannelError('ATTESTATION_REFUSED', 'PCR_MISMATCH'),
  );
  assert.equal(other.b.established, false);
  // The initiator thinks it is done; the responder refuses its records.
  const record = other.a.seal({ sessionId: SESSION_A, round: 1 }, utf8('unheard'));
  assert.throws(() => other.b.open(record), isChannelError('NOT_ESTABLISHED'));
});

test('refused: an expired chain (NSM clock 4 h behind), EXPIRED', async () => {
  // The document's own age limit is set above 4 h, so that the chain's validity is what fails.
  const { a, b } = pair(1, 2, new Clock(), {
    b: { skew: -4 * HOUR },
    a: { peerCheck: { maxDocumentAgeMs: 5 * HOUR } },
  });
  await assert.rejects(
    a.handshake((await b.handshake(await a.begin()))!),
    isChannelError('ATTESTATION_REFUSED', 'EXPIRED', /expired at/),
  );
});

test('refused: a stale document (older than maxDocumentAgeMs), EXPIRED', async () => {
  const { a, b } = pair(1, 2, new Clock(), {
    b: { skew: -2 * MINUTE },
    a: { peerCheck: { maxDocumentAgeMs: MINUTE } },
  });
  await assert.rejects(
    a.handshake((await b.handshake(await a.begin()))!),
    isChannelError('ATTESTATION_REFUSED', 'EXPIRED', /ms old/),
  );
  // Within the limit, the same skew is fine.
  const ok = pair(1, 2, new Clock(), { b: { skew: -2 * MINUTE } });
  await connect(ok.a, ok.b);
});

test('refused: a debug-mode NSM (all-zero PCRs), DEBUG_MODE', async () => {
  const { a, b } = pair(1, 2, new Clock(), { b: { pcrs: DEBUG_PCRS } });
  await assert.rejects(
    a.handshake((await b.handshake(await a.begin()))!),
    isChannelError('ATTESTATION_REFUSED', 'DEBUG_MODE'),
  );
  const { a: c, b: d } = pair(1, 2, new Clock(), { a: { pcrs: DEBUG_PCRS } });
  await assert.rejects(
    d.handshake((await c.handshake((await d.handshake(await c.begin()))!))!),
    isChannelError('ATTESTATION_REFUSED', 'DEBUG_MODE'),
  );
});

test('refused: a document from an NSM under another root, UNTRUSTED_ROOT', async () => {
  const { a, b } = pair(1, 2, new Clock(), { b: { ownRoot: true } });
  await assert.rejects(
    a.handshake((await b.handshake(await a.begin()))!),
    isChannelError('ATTESTATION_REFUSED', 'UNTRUSTED_ROOT'),
  );
});

test('refused: a replayed Reply or Finish from an earlier handshake, NONCE_MISMATCH', async () => {
  const clock = new Clock();
  const first = pair(1, 2, clock);
  const old = await connect(first.a, first.b);
  // Into the same, completed handshake: nothing is outstanding, so nothing is accepted.
  await assert.rejects(first.a.handshake(old.reply), isChannelError('HANDSHAKE_REFUSED'));
  await assert.rejects(first.b.handshake(old.finish), isChannelError('HANDSHAKE_REFUSED'));

  // A new initiator (new challenge) is handed the old Reply.
  const second = pair(1, 2, clock);
  await second.a.begin();
  await assert.rejects(
    second.a.handshake(old.reply),
    isChannelError('ATTESTATION_REFUSED', 'NONCE_MISMATCH'),
  );
  // A new responder answers the old Hello (a new challenge of its own), then gets the old Finish.
  await second.b.handshake(old.hello);
  await assert.rejects(
    second.b.handshake(old.finish),
    isChannelError('ATTESTATION_REFUSED', 'NONCE_MISMATCH'),
  );
  // The same over a live channel: an older Hello's Reply is refused once a newer Hello is out.
  const reply1 = await first.b.handshake(await first.a.begin());
  const hello2 = await first.a.begin();
  await assert.rejects(
    first.a.handshake(reply1!),
    isChannelError('ATTESTATION_REFUSED', 'NONCE_MISMATCH'),
  );
  await first.a.handshake((await first.b.handshake(hello2))!).then((f) => first.b.handshake(f!));
  assert.equal(first.a.epoch, 2);
  assert.equal(first.b.epoch, 2);

  // The coordinator's Finish is a signature over the responder's challenge: replayed, it fails.
  const c1 = pair(0, 4, clock);
  const coordinatorOld = await connect(c1.a, c1.b);
  const c2 = makeChannel({ self: 4, peer: 0, clock });
  await c2.handshake(coordinatorOld.hello);
  await assert.rejects(c2.handshake(coordinatorOld.finish), isChannelError('BAD_SIGNATURE'));
});

test("refused: a Reply whose ephemeral key is not the document's public_key", async () => {
  const clock = new Clock();
  const { a } = pair(1, 2, clock);
  const nsm = enclaveNsm({ self: 2, peer: 1, clock });
  const hello = await a.begin();
  const nonce = new Uint8Array(32).fill(7);
  const attested = x25519.getPublicKey(new Uint8Array(32).fill(8));
  const sent = x25519.getPublicKey(new Uint8Array(32).fill(9));
  // A responder (or relay) that binds everything correctly except the key it attests.
  const fields = { initiator: 1, responder: 2, epoch: 1, nonce, ephemeral: sent };
  const helloNonce = hello.subarray(10, 42);
  const document = nsm.attest({
    publicKey: attested,
    userData: replyBinding(hello, encodeReplyPrefix(fields)),
    nonce: helloNonce,
  });
  await assert.rejects(
    a.handshake(encodeReply({ ...fields, evidence: document })),
    isChannelError('ATTESTATION_REFUSED', 'PUBLIC_KEY_MISMATCH'),
  );
  // A relay that swaps the key in a genuine Reply is caught the same way.
  const genuine = makeChannel({ self: 2, peer: 1, clock });
  const reply = decodeReply((await genuine.handshake(hello))!);
  await assert.rejects(
    a.handshake(encodeReply({ ...reply, ephemeral: sent })),
    isChannelError('ATTESTATION_REFUSED', 'PUBLIC_KEY_MISMATCH'),
  );
  // One that bumps the epoch breaks the user_data binding.
  await assert.rejects(
    a.handshake(encodeReply({ ...reply, epoch: 7 })),
    isChannelError('ATTESTATION_REFUSED', 'USER_DATA_MISMATCH'),
  );
  // Untouched, it completes.
  assert.ok(await a.handshake(encodeReply(reply)));
});

test('refused: swapped or foreign ids in Hello, Reply and Finish', async () => {
  const clock = new Clock();
  const { a, b } = pair(1, 2, clock);
  const nonce = new Uint8Array(32).fill(3);
  // Hello with the ids swapped, and one meant for another responder.
  for (const [initiator, responder] of [
    [2, 1],
    [1, 3],
    [3, 2],
  ] as const) {
    await assert.rejects(
      b.handshake(encodeHello({ initiator, responder, minEpoch: 1, nonce })),
      isChannelError('HANDSHAKE_REFUSED'),
    );
  }
  assert.equal(b.handshaking, false, 'refused Hellos left no state');
  // A Reply with the ids swapped.
  const hello = await a.begin();
  const reply = decodeReply((await b.handshake(hello))!);
  await assert.rejects(
    a.handshake(encodeReply({ ...reply, initiator: 2, responder: 1 })),
    isChannelError('HANDSHAKE_REFUSED'),
  );
  // A Finish with the ids swapped.
  const finish = decodeFinish((await a.handshake(encodeReply(reply)))!);
  await assert.rejects(
    b.handshake(encodeFinish({ ...finish, initiator: 2, responder: 1 })),
    isChannelError('HANDSHAKE_REFUSED'),
  );
  await b.handshake(encodeFinish(finish));
  roundTrip(a, b, 'ids intact');
  // Messages to the wrong role: a Hello to the initiator, a Reply to the responder.
  await assert.rejects(a.handshake(hello), isChannelError('HANDSHAKE_REFUSED'));
  await assert.rejects(b.handshake(encodeReply(reply)), isChannelError('HANDSHAKE_REFUSED'));
  await assert.rejects(a.handshake(encodeFinish(finish)), isChannelError('HANDSHAKE_REFUSED'));
});

test('refused: a coordinator Finish signed by another key, BAD_SIGNATURE', async () => {
  const impostor = generateKeyPairSync('ed25519');
  const { a, b } = pair(0, 5, new Clock(), { a: { coordinatorKey: impostor.privateKey } });
  const finish = await a.handshake((await b.handshake(await a.begin()))!);
  await assert.rejects(b.handshake(finish!), isChannelError('BAD_SIGNATURE'));
  assert.equal(b.established, false);
});

test('refused: an enclave claiming to be party 0, and a signature from an enclave peer', async () => {
  const clock = new Clock();
  // A genuine enclave (right code, right root) speaks as party 0 with its document.
  const victim = makeChannel({ self: 3, peer: 0, clock });
  const nsm = enclaveNsm({ self: 7, peer: 3, clock });
  const hello = encodeHello({ initiator: 0, responder: 3, minEpoch: 1, nonce: seededRng('x')(32) });
  const replyBytes = (await victim.handshake(hello))!;
  const reply = decodeReply(replyBytes);
  const ephemeral = x25519.getPublicKey(seededRng('eph')(32));
  const fields = {
    initiator: 0,
    responder: 3,
    epoch: reply.epoch,
    ephemeral,
    kind: 'attestation' as const,
  };
  const document = nsm.attest({
    publicKey: ephemeral,
    userData: finishBinding(hello, replyBytes, encodeFinishPrefix(fields)),
    nonce: reply.nonce,
  });
  await assert.rejects(
    victim.handshake(encodeFinish({ ...fields, evidence: document })),
    isChannelError('HANDSHAKE_REFUSED', undefined, /coordinator key/),
  );

  // The other way round: party 1 presenting a coordinator-kind Finish (signed with the real
  // coordinator key, even) to party 2 is refused: only party 0 signs.
  const { a, b } = pair(1, 2, clock);
  const hello2 = await a.begin();
  const reply2Bytes = (await b.handshake(hello2))!;
  const reply2 = decodeReply(reply2Bytes);
  const signedFields = {
    initiator: 1,
    responder: 2,
    epoch: reply2.epoch,
    ephemeral,
    kind: 'coordinator' as const,
  };
  const signature = signAsCoordinator(
    COORDINATOR_KEYS.privateKey,
    finishBinding(hello2, reply2Bytes, encodeFinishPrefix(signedFields)),
  );
  await assert.rejects(
    b.handshake(encodeFinish({ ...signedFields, evidence: signature })),
    isChannelError('HANDSHAKE_REFUSED', undefined, /only party 0/),
  );
  assert.equal(b.established, false);
});

test('handshake messages decode strictly: every truncation, trailing bytes, version, type', async () => {
  const clock = new Clock();
  const { a, b } = pair(1, 2, clock);
  const hello = await a.begin();
  const reply = (await b.handshake(hello))!;
  const refusedAs = async (
    channel: SecureChannel,
    bytes: Uint8Array,
    codes: ChannelErrorCode[],
  ): Promise<void> => {
    await assert.rejects(channel.handshake(bytes), (err: unknown) => {
      assert.ok(err instanceof ChannelError);
      assert.ok(codes.includes(err.code), `${err.code}: ${err.message}`);
      return true;
    });
  };
  for (let length = 0; length < hello.length; length++) {
    await refusedAs(b, hello.subarray(0, length), ['MALFORMED']);
  }
  // Truncating a Reply inside the document still leaves a consistent length prefix nowhere.
  for (let length = 0; length < reply.length; length += length < 100 ? 1 : 97) {
    await refusedAs(a, reply.subarray(0, length), ['MALFORMED']);
  }
  for (const [channel, message] of [
    [b, hello],
    [a, reply],
  ] as const) {
    await refusedAs(channel, Uint8Array.of(...message, 0), ['MALFORMED']);
    // An unknown type, and a known type with an unknown version.
    await refusedAs(channel, Uint8Array.of(9, ...message.subarray(1)), ['MALFORMED']);
    await refusedAs(channel, Uint8Array.of(message[0]!, 2, ...message.subarray(2)), ['MALFORMED']);
  }
  await refusedAs(a, 'hello' as unknown as Uint8Array, ['MALFORMED']);
  // A record is not a handshake message.
  await refusedAs(a, Uint8Array.of(4, 1, ...new Uint8Array(80)), ['MALFORMED']);
  // The pending handshake survived all of it.
  const finish = await a.handshake(reply);
  await b.handshake(finish!);
  roundTrip(b, a, 'still fine');
});

test('fuzz: altered handshake messages are refused with a ChannelError and change no state', async () => {
  const clock = new Clock();
  const { a, b } = pair(1, 2, clock);
  const hello = await a.begin();
  const reply = (await b.handshake(hello))!;
  // Single-bit flips of the Reply, then of the Finish (each costs up to one attestation check,
  // so 60 of each), then arbitrary bytes. Every one is refused with a ChannelError other than
  // INTERNAL, and the pending handshake on the receiving side survives them all.
  const typed = (err: unknown): boolean => err instanceof ChannelError && err.code !== 'INTERNAL';
  const flips = async (message: Uint8Array, to: SecureChannel, seed: number): Promise<void> =>
    fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: message.length * 8 - 1 }), async (bit) => {
        const altered = message.slice();
        altered[bit >> 3]! ^= 0x80 >> (bit & 7);
        await assert.rejects(to.handshake(altered), typed);
        assert.ok(to.handshaking);
      }),
      { numRuns: 60, seed },
    );
  await flips(reply, a, 0x4e91);
  const finish = (await a.handshake(reply))!;
  await flips(finish, b, 0xc4a1);
  assert.equal(b.established, false);
  await b.handshake(finish);
  roundTrip(a, b, 'after the fuzz');
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 300 }), async (garbage) => {
      await assert.rejects(b.handshake(garbage), typed);
    }),
    { numRuns: 300, seed: 0x5eed },
  );
});

// ---------------------------------------------------------------------------------------------
// Records

async function established(): Promise<{ a: SecureChannel; b: SecureChannel; clock: Clock }> {
  const p = pair(1, 2);
  await connect(p.a, p.b);
  return p;
}

test('records: replayed and reordered frames are refused and counted; a dropped one is a gap', async () => {
  const { a, b } = await established();
  const seal = (s: string): Uint8Array => a.seal({ sessionId: SESSION_A, round: 2 }, utf8(s));
  const r1 = seal('one');
  assert.equal(text(b.open(r1).payload), 'one');
  assert.throws(() => b.open(r1), isChannelError('REPLAYED'));
  // Reordered: r3 overtakes r2; r3 is taken (r2 counts as skipped), then r2 is late.
  const [r2, r3] = [seal('two'), seal('three')];
  assert.equal(text(b.open(r3).payload), 'three');
  assert.equal(b.gaps, 1);
  assert.throws(() => b.open(r2), isChannelError('REORDERED'));
  assert.throws(() => b.open(r3), isChannelError('REPLAYED'));
  assert.throws(() => b.open(r1), isChannelError('REPLAYED'));
  // Dropped: r5 never comes; r6 is accepted, the gap counted, and r5 is refused if it shows up.
  const [r4, r5, r6] = [seal('four'), seal('five'), seal('six')];
  b.open(r4);
  assert.equal(text(b.open(r6).payload), 'six');
  assert.equal(b.gaps, 2);
  assert.throws(() => b.open(r5), isChannelError('REORDERED'));
  assert.throws(() => b.open(r6), isChannelError('REPLAYED'));
  // The channel keeps working after every refusal.
  assert.equal(text(b.open(seal('seven')).payload), 'seven');
  assert.deepEqual(b.counters, refusals({ REPLAYED: 4, REORDERED: 2 }));
  // counters is a frozen snapshot.
  const snapshot = b.counters;
  assert.ok(Object.isFrozen(snapshot));
  assert.throws(() => b.open(r6));
  assert.equal(snapshot.REPLAYED, 4);
  assert.equal(b.counters.REPLAYED, 5);
});

test('records: truncated at every length, TRUNCATED or FORGED; the record then still opens', async () => {
  const { a, b } = await established();
  const record = a.seal({ sessionId: SESSION_A, round: 9 }, utf8('short'));
  assert.equal(record.length, 51 + 5 + 16);
  for (let length = 0; length < record.length; length++) {
    // Below header + tag there is nothing to authenticate; above, the tag is read from the wrong
    // place and fails.
    const code = length < 67 ? 'TRUNCATED' : 'FORGED';
    assert.throws(() => b.open(record.subarray(0, length)), isChannelError(code), `${length}`);
  }
  assert.deepEqual(b.counters, refusals({ TRUNCATED: 67, FORGED: 5 }));
  assert.equal(text(b.open(record).payload), 'short');
});

test('records: every single-bit flip is refused with the reason of the field it hits', async () => {
  const { a, b } = await established();
  const record = a.seal({ sessionId: SESSION_A, round: 9 }, utf8('flips'));
  const expected = (byte: number): ChannelErrorCode => {
    if (byte < 2) return 'MALFORMED'; // type, version
    if (byte < 6) return 'WRONG_CHANNEL'; // epoch: one this channel never had
    if (byte < 46) return 'FORGED'; // sequence, session id: authenticated as AAD and nonce
    if (byte < 50) return 'WRONG_CHANNEL'; // sender, receiver
    return 'FORGED'; // round, ciphertext, tag
  };
  for (let bit = 0; bit < record.length * 8; bit++) {
    const altered = record.slice();
    altered[bit >> 3]! ^= 0x80 >> (bit & 7);
    assert.throws(() => b.open(altered), isChannelError(expected(bit >> 3)), `bit ${bit}`);
  }
  assert.deepEqual(b.counters, refusals({ MALFORMED: 16, WRONG_CHANNEL: 64, FORGED: 496 }));
  assert.equal(text(b.open(record).payload), 'flips');
  roundTrip(a, b, 'and the next one');
});

test('records: sessions are the caller’s; another channel’s records are refused', async () => {
  const clock = new Clock();
  const a12 = makeChannel({ self: 1, peer: 2, clock });
  const b21 = makeChannel({ self: 2, peer: 1, clock });
  const a13 = makeChannel({ self: 1, peer: 3, clock });
  const c31 = makeChannel({ self: 3, peer: 1, clock });
  await connect(a12, b21);
  await connect(a13, c31);
  // Any session id authenticates: the router above decides which sessions it runs.
  const inA = b21.open(a12.seal({ sessionId: SESSION_A, round: 1 }, utf8('a')));
  const inB = b21.open(a12.seal({ sessionId: SESSION_B, round: 1 }, utf8('b')));
  assert.deepEqual([inA.sessionId, inB.sessionId], [SESSION_A, SESSION_B]);
  // A record for 1 -> 3 relayed to party 2: another pair.
  const toThree = a13.seal({ sessionId: SESSION_A, round: 1 }, utf8('for three'));
  assert.throws(() => b21.open(toThree), isChannelError('WRONG_CHANNEL'));
  // Rewritten to name 1 -> 2, it fails the AEAD: the 1 <-> 3 keys are not this channel's.
  const rewritten = toThree.slice();
  rewritten[49] = 2;
  assert.throws(() => b21.open(rewritten), isChannelError('FORGED'));
  // A record of 3 -> 1 shown to party 1's channel with 2: wrong sender.
  const fromThree = c31.seal({ sessionId: SESSION_A, round: 1 }, utf8('from three'));
  assert.throws(() => a12.open(fromThree), isChannelError('WRONG_CHANNEL'));
  // A record reflected back to its sender: sender and receiver are the wrong way round.
  const own = a12.seal({ sessionId: SESSION_A, round: 1 }, utf8('echo'));
  assert.throws(() => a12.open(own), isChannelError('WRONG_CHANNEL'));
  assert.equal(text(b21.open(own).payload), 'echo');
  assert.deepEqual(b21.counters, refusals({ WRONG_CHANNEL: 1, FORGED: 1 }));
  assert.deepEqual(a12.counters, refusals({ WRONG_CHANNEL: 2 }));
  // A record sealed at the same position of another channel pair, same ids, same epoch.
  const third = makeChannel({ self: 2, peer: 1, clock });
  const thirdPeer = makeChannel({ self: 1, peer: 2, clock });
  await connect(thirdPeer, third);
  thirdPeer.seal({ sessionId: SESSION_A, round: 1 }, utf8('x'));
  thirdPeer.seal({ sessionId: SESSION_A, round: 1 }, utf8('x'));
  const parallel = thirdPeer.seal({ sessionId: SESSION_A, round: 1 }, utf8('x'));
  assert.throws(() => b21.open(parallel), isChannelError('FORGED'));
  // Everything legitimate still flows.
  roundTrip(a12, b21, 'fine');
  roundTrip(b21, a12, 'fine');
});

test('records: nothing is accepted before Finish is verified; the refusal leaves no trace', async () => {
  const { a, b } = pair(1, 2);
  const junk = Uint8Array.of(4, 1, ...new Uint8Array(70));
  assert.throws(() => b.open(junk), isChannelError('NOT_ESTABLISHED'));
  assert.throws(
    () => a.seal({ sessionId: SESSION_A, round: 1 }, utf8('early')),
    isChannelError('NOT_ESTABLISHED'),
  );
  const reply = await b.handshake(await a.begin());
  const finish = await a.handshake(reply!);
  // The initiator may send right after Finish; a record overtaking Finish is refused...
  const early = a.seal({ sessionId: SESSION_A, round: 1 }, utf8('right after finish'));
  assert.throws(() => b.open(early), isChannelError('NOT_ESTABLISHED'));
  await b.handshake(finish!);
  // ...and opens once Finish is in: the refusal changed nothing.
  assert.equal(text(b.open(early).payload), 'right after finish');
  assert.deepEqual(b.counters, refusals({ NOT_ESTABLISHED: 2 }));
});

test('fuzz: random mutations of records are refused and never disturb the stream', async () => {
  const { a, b } = await established();
  let sent = 0;
  await fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 40 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
      fc.nat(),
      (payload, edits, cut) => {
        const record = a.seal({ sessionId: SESSION_A, round: sent % 256 }, payload);
        sent++;
        let altered = record.slice();
        for (const [position, xor] of edits) altered[position % altered.length]! ^= xor;
        if (cut % 4 === 0) altered = altered.subarray(0, cut % record.length);
        assert.throws(
          () => b.open(altered),
          (err: unknown) => err instanceof ChannelError && err.code !== 'INTERNAL',
        );
        assert.deepEqual(b.open(record).payload, payload);
      },
    ),
    { numRuns: 500, seed: 0xfeed },
  );
  assert.equal(sent, 500);
});

// ---------------------------------------------------------------------------------------------
// Re-handshake

test('re-handshake after maxChannelAgeMs: in-flight old-epoch frames accepted, later ones refused', async () => {
  const { a, b, clock } = await established();
  roundTrip(a, b, 'epoch 1');
  roundTrip(b, a, 'epoch 1');
  clock.ms += MAX_CHANNEL_AGE - 1;
  assert.equal(a.needsRehandshake(), false);
  clock.ms += 1;
  assert.ok(a.needsRehandshake());
  assert.ok(b.needsRehandshake(), 'the responder sees the age too');

  const seal = (from: SecureChannel, s: string): Uint8Array =>
    from.seal({ sessionId: SESSION_A, round: 3 }, utf8(s));
  const fromA1 = [seal(a, 'a: sent before Hello'), seal(a, 'a: in flight across Finish')];
  const fromA1Late = seal(a, 'a: held back by the relay');
  const hello = await a.begin();
  assert.ok(a.handshaking);
  // Until the new keys are in place, the old ones keep working in both directions.
  const fromB1 = [seal(b, 'b: before the Reply')];
  const reply = await b.handshake(hello);
  fromB1.push(seal(b, 'b: after the Reply, before Finish'));
  const fromB1Late = seal(b, 'b: held back by the relay');
  assert.equal(text(b.open(fromA1[0]!).payload), 'a: sent before Hello');
  const finish = await a.handshake(reply!);
  assert.equal(a.epoch, 2);
  assert.equal(a.needsRehandshake(), false);
  const fromA2 = seal(a, 'a: epoch 2');
  // The initiator, on epoch 2, still takes the responder's epoch-1 frames in flight.
  assert.equal(b.epoch, 1);
  for (const r of fromB1) assert.match(text(a.open(r).payload), /^b: /);
  await b.handshake(finish!);
  assert.equal(b.epoch, 2);
  // The responder, on epoch 2, takes the initiator's epoch-1 frame that crossed Finish...
  assert.equal(text(b.open(fromA1[1]!).payload), 'a: in flight across Finish');
  // ...until the first epoch-2 record from the initiator arrives.
  assert.equal(text(b.open(fromA2).payload), 'a: epoch 2');
  assert.throws(() => b.open(fromA1Late), isChannelError('WRONG_CHANNEL', undefined, /epoch 1/));
  // Same on the other side.
  const fromB2 = seal(b, 'b: epoch 2');
  assert.equal(text(a.open(fromB2).payload), 'b: epoch 2');
  assert.throws(() => a.open(fromB1Late), isChannelError('WRONG_CHANNEL'));
  // A replayed epoch-2 record is still a replay; the stream goes on.
  assert.throws(() => b.open(fromA2), isChannelError('REPLAYED'));
  for (let i = 0; i < 10; i++) {
    roundTrip(a, b, `epoch 2, ${i}`);
    roundTrip(b, a, `epoch 2, ${i}`);
  }
  assert.deepEqual(a.counters, refusals({ WRONG_CHANNEL: 1 }));
  assert.deepEqual(b.counters, refusals({ WRONG_CHANNEL: 1, REPLAYED: 1 }));

  // A second re-handshake: epoch 3 retires epoch 2; epoch 1 is long gone.
  clock.ms += MAX_CHANNEL_AGE;
  const stale2 = seal(a, 'a: epoch 2, delivered after epoch 3 began');
  await connect(a, b);
  assert.equal(a.epoch, 3);
  assert.equal(text(b.open(stale2).payload), 'a: epoch 2, delivered after epoch 3 began');
  roundTrip(a, b, 'epoch 3');
  assert.throws(() => b.open(fromA1[0]!), isChannelError('WRONG_CHANNEL'));
});

test('re-handshake: a frame of the new epoch before the old in-flight ones retires the old', async () => {
  const { a, b, clock } = await established();
  clock.ms += MAX_CHANNEL_AGE;
  const old = [1, 2, 3].map((i) => a.seal({ sessionId: SESSION_A, round: 0 }, utf8(`old ${i}`)));
  await connect(a, b);
  b.open(old[0]!);
  roundTrip(a, b, 'new');
  // The relay reordered: old frames after a new one are refused, not silently merged.
  assert.throws(() => b.open(old[1]!), isChannelError('WRONG_CHANNEL'));
  assert.throws(() => b.open(old[2]!), isChannelError('WRONG_CHANNEL'));
});

test('re-handshake with the coordinator, and after a restart of either side epochs only grow', async () => {
  const clock = new Clock();
  const { a: coordinator, b: enclave } = pair(0, 6, clock);
  await connect(coordinator, enclave);
  clock.ms += MAX_CHANNEL_AGE;
  assert.ok(coordinator.needsRehandshake());
  const inFlight = enclave.seal({ sessionId: SESSION_A, round: 1 }, utf8('old'));
  await connect(coordinator, enclave);
  assert.equal(text(coordinator.open(inFlight).payload), 'old');
  roundTrip(enclave, coordinator, 'new');
  assert.equal(coordinator.epoch, 2);

  // The coordinator restarts: its new channel begins at minEpoch 1, the enclave answers with 3.
  const restarted = makeChannel({ self: 0, peer: 6, clock });
  await connect(restarted, enclave);
  assert.equal(restarted.epoch, 3);
  assert.equal(enclave.epoch, 3);
  roundTrip(restarted, enclave, 'after the restart');
  // The enclave restarts: the coordinator asks for epoch 4 or above, and gets it.
  const enclaveAgain = makeChannel({ self: 6, peer: 0, clock });
  await connect(restarted, enclaveAgain);
  assert.equal(enclaveAgain.epoch, 4);
  roundTrip(enclaveAgain, restarted, 'both restarted');
});

test('a Reply cannot roll the epoch back', async () => {
  const clock = new Clock();
  const { a, b } = pair(1, 2, clock);
  await connect(a, b);
  await connect(a, b);
  // A fresh responder would answer a minEpoch-3 Hello with 3; tamper it down to 1.
  const fresh = makeChannel({ self: 2, peer: 1, clock });
  const reply = decodeReply((await fresh.handshake(await a.begin()))!);
  assert.equal(reply.epoch, 3);
  await assert.rejects(
    a.handshake(encodeReply({ ...reply, epoch: 1 })),
    isChannelError('HANDSHAKE_REFUSED', undefined, /below 3/),
  );
});

// ---------------------------------------------------------------------------------------------
// Secrets

test('close() wipes the keys; printing a channel shows no key material', async () => {
  const { a, b } = await established();
  const printed = inspect(a, { showHidden: true, depth: 10 });
  assert.match(printed, /redacted/);
  assert.doesNotMatch(printed, /key: </);
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(a)) as object).sort(), [
    'counters',
    'epoch',
    'established',
    'peer',
    'role',
    'self',
  ]);
  const record = a.seal({ sessionId: SESSION_A, round: 1 }, utf8('last'));
  b.close();
  assert.equal(b.established, false);
  assert.throws(() => b.open(record), isChannelError('NOT_ESTABLISHED'));
  assert.throws(
    () => b.seal({ sessionId: SESSION_A, round: 1 }, utf8('x')),
    isChannelError('NOT_ESTABLISHED'),
  );
  await assert.rejects(b.handshake(await a.begin()), isChannelError('NOT_ESTABLISHED'));
  // seal's own argument checks.
  assert.throws(
    () => a.seal({ sessionId: new Uint8Array(31), round: 1 }, utf8('x')),
    isChannelError('MALFORMED'),
  );
  assert.throws(
    () => a.seal({ sessionId: SESSION_A, round: 256 }, utf8('x')),
    isChannelError('MALFORMED'),
  );
});
