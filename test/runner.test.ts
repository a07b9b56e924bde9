/**
 * The control messages' codec and the ceremony runner's bounds, in one process: every request
 * and answer round-trips and refuses malformed bytes with a typed error; the runner refuses
 * replayed session ids, requests outside the key's policy and more sessions than allowed, bounds
 * what it holds for sessions it has not started, and blames the silent parties when a round's
 * deadline passes. The runner end to end, over real processes, is in enclave-cluster.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ProtocolError } from '../protocol/errors.js';
import { runDkg } from '../protocol/ceremonies.js';
import { ed25519Group } from '../protocol/group.js';
import { keyPublic } from '../protocol/keyshare.js';
import {
  CeremonyRunner,
  PAYLOAD,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type ControlRequest,
  type ControlResponse,
  type KeyVault,
} from '../enclave/index.js';
import { seededRng } from './helpers.js';

const REQUESTS: ControlRequest[] = [
  {
    kind: 'keygen',
    keyId: 'key-1',
    scheme: 'ecdsa-secp256k1',
    threshold: 2,
    parties: [1, 2, 3],
    allowedSignerSets: [
      [1, 2],
      [2, 3],
    ],
  },
  { kind: 'refresh', keyId: 'key-1', epoch: 3 },
  { kind: 'commit', keyId: 'key-1', epoch: 4 },
  { kind: 'discard', keyId: 'key-1', epoch: 4 },
  { kind: 'presign', keyId: 'key-1', epoch: 0, signers: [1, 3] },
  {
    kind: 'sign',
    keyId: 'key-1',
    epoch: 0,
    signers: [1, 3],
    message: new Uint8Array(32).fill(7),
    path: 'm/0/7',
    presignatureId: new Uint8Array(32).fill(9),
    taproot: false,
  },
  {
    kind: 'sign',
    keyId: 'key-2',
    epoch: 1,
    signers: [1, 2],
    message: new Uint8Array(32).fill(3),
    path: '',
    presignatureId: new Uint8Array(),
    taproot: true,
  },
  { kind: 'abort', reason: 'another party failed' },
  { kind: 'status' },
  { kind: 'rekey', peer: 3 },
];

test('every control request round-trips, and every truncation is refused as malformed', () => {
  for (const request of REQUESTS) {
    const bytes = encodeRequest(request);
    assert.equal(bytes[0], PAYLOAD.request);
    assert.deepEqual(decodeRequest(bytes, 0), request);
    for (let n = 0; n < bytes.length; n++) {
      assert.throws(() => decodeRequest(bytes.subarray(0, n), 0), { code: 'MALFORMED_MESSAGE' });
    }
    assert.throws(() => decodeRequest(Uint8Array.from([...bytes, 0]), 0), {
      code: 'MALFORMED_MESSAGE',
    });
  }
});

test('control responses round-trip, the public key data included', () => {
  const shares = runDkg(ed25519Group, [1, 2, 3], 2, { rng: seededRng('runner/responses') });
  const key = keyPublic(shares[0]!);
  const responses: ControlResponse[] = [
    { kind: 'staged', keyId: 'key-1', scheme: 'eddsa-ed25519', key },
    { kind: 'done' },
    { kind: 'status', party: 2, sessions: 3, keys: 4, presignatures: 5 },
    { kind: 'failed', code: 'MISSING_MESSAGE', message: 'round 2 timed out', blame: [0, 3] },
  ];
  for (const response of responses) {
    const back = decodeResponse(encodeResponse(response), 1);
    if (response.kind === 'staged' && back.kind === 'staged') {
      assert.ok(back.key.publicKey.equals(key.publicKey));
      assert.deepEqual(back.key.parties, key.parties);
      for (const p of key.parties) {
        assert.ok(back.key.verificationShares.get(p)!.equals(key.verificationShares.get(p)!));
      }
    } else {
      assert.deepEqual(back, response);
    }
  }
});

test('mutated control bytes decode or fail as ProtocolError, never anything else', () => {
  const samples = REQUESTS.map(encodeRequest);
  fc.assert(
    fc.property(
      fc.nat(samples.length - 1),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      (which, at, mask) => {
        const bytes = Uint8Array.from(samples[which]!);
        bytes[at % bytes.length]! ^= mask;
        try {
          decodeRequest(bytes, 0);
        } catch (error) {
          return error instanceof ProtocolError;
        }
        return true;
      },
    ),
    { numRuns: 500 },
  );
});

// ---------------------------------------------------------------------------------------------
// The runner, with a vault it never needs to reach

interface Sent {
  to: number;
  sessionId: Uint8Array;
  round: number;
  payload: Uint8Array;
}

function runner(limits: Record<string, number> = {}) {
  const sent: Sent[] = [];
  const r = new CeremonyRunner({
    self: 1,
    vault: {} as KeyVault,
    rng: seededRng('runner'),
    send: (to, sessionId, round, payload) => sent.push({ to, sessionId, round, payload }),
    limits,
  });
  const answers = () =>
    sent
      .filter((s) => s.to === 0 && s.payload[0] === PAYLOAD.response)
      .map((s) => decodeResponse(s.payload, 1));
  return { runner: r, sent, answers };
}

const keygen = (parties = [1, 2, 3]): Uint8Array =>
  encodeRequest({
    kind: 'keygen',
    keyId: 'key-1',
    scheme: 'eddsa-ed25519',
    threshold: 2,
    parties,
    allowedSignerSets: [],
  });

const sid = (n: number): Uint8Array => new Uint8Array(32).fill(n);

test('the runner refuses a reused session id, a key it is not part of, and sessions beyond its bound', async () => {
  const { runner: r, answers } = runner({ maxSessions: 2, roundTimeoutMs: 60_000 });
  r.onRequest(sid(2), keygen([2, 3, 4])); // not a party of this key
  await new Promise((done) => setImmediate(done));
  r.onRequest(sid(1), keygen());
  r.onRequest(sid(1), keygen()); // the same session id again
  r.onRequest(sid(3), keygen());
  r.onRequest(sid(4), keygen()); // a third running session
  await new Promise((done) => setImmediate(done));
  const failed = answers().filter((a) => a.kind === 'failed');
  const codes = failed.map((a) => (a.kind === 'failed' ? a.code : '')).sort();
  assert.deepEqual(codes, ['BUSY', 'INVALID_PARAMETERS', 'REPLAYED_MESSAGE']);
  assert.equal(r.sessionCount, 2);
  r.close();
});

test('a round that times out blames exactly the parties that stayed silent', async () => {
  const { runner: r, sent, answers } = runner({ roundTimeoutMs: 100 });
  r.onRequest(sid(5), keygen());
  // Party 1 broadcast its round-1 messages to 2 and 3; nobody answers.
  assert.deepEqual(
    [...new Set(sent.filter((s) => s.payload[0] === PAYLOAD.envelope).map((s) => s.to))].sort(),
    [2, 3],
  );
  await new Promise((done) => setTimeout(done, 250));
  const [answer] = answers();
  assert.equal(answer?.kind, 'failed');
  if (answer?.kind === 'failed') {
    assert.equal(answer.code, 'MISSING_MESSAGE');
    assert.deepEqual(answer.blame, [2, 3]);
  }
  assert.equal(r.sessionCount, 0);
  // A late frame of the ended session is refused, not held.
  r.onEnvelope(2, sid(5), 1, Uint8Array.of(PAYLOAD.envelope, 1, 2, 3));
  assert.equal(r.refused['late'], 1);
});

test('frames for sessions not started here are held only up to the bound', () => {
  const { runner: r } = runner({ maxOrphanFrames: 10 });
  for (let i = 0; i < 25; i++) r.onEnvelope(2, sid(100 + i), 1, Uint8Array.of(PAYLOAD.envelope));
  assert.equal(r.refused['orphans-full'], 15);
  r.close();
});

test('a session that receives more than its byte budget is aborted, blaming the sender', async () => {
  const { runner: r, answers } = runner({ maxSessionBytes: 1000, roundTimeoutMs: 60_000 });
  r.onRequest(sid(7), keygen());
  r.onEnvelope(2, sid(7), 1, new Uint8Array(1500).fill(PAYLOAD.envelope));
  await new Promise((done) => setImmediate(done));
  const [answer] = answers();
  assert.equal(answer?.kind, 'failed');
  if (answer?.kind === 'failed') assert.deepEqual(answer.blame, [2]);
  assert.equal(r.refused['over-budget'], 1);
});
