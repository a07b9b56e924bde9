import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { runDkg } from '../protocol/ceremonies.js';
import {
  dkgCodec,
  type CommitMessage,
  type DkgMessage,
  type EchoMessage,
} from '../protocol/dkg/index.js';
import { ProtocolError } from '../protocol/errors.js';
import type { FaultRule } from '../protocol/local.js';
import { ed25519Group, secp256k1Group, type Element, type Group } from '../protocol/group.js';
import { toHex } from '../protocol/bytes.js';
import {
  HEADER_LENGTH,
  OFFSET,
  drop,
  duplicate,
  expectEquivocation,
  expectProtocolError,
  overwrite,
  patchBytes,
  replayBefore,
  rewrite,
  rewriteMessage,
  thrown,
} from './network-faults.js';
import { seededRng } from './helpers.js';

const GROUPS: readonly Group[] = [ed25519Group, secp256k1Group];
const PARTIES = [1, 2, 3];
const T = 2;

function dkg(
  group: Group,
  fault: FaultRule<DkgMessage>,
  seed = 'adversarial',
  faulty?: (party: number) => boolean,
) {
  return runDkg(group, PARTIES, T, { rng: seededRng(`${seed}/${group.name}`), fault, faulty });
}

function codecOf(group: Group) {
  return dkgCodec(group, 'dkg', T, PARTIES.length);
}

/** Offset of commitments[k] in a round-1 'commit' message (after the u16 count). */
const commitmentOffset = (group: Group, k: number) => HEADER_LENGTH + 2 + k * group.elementLength;
/** Offset of proof.R, then of proof.z, in a round-1 'commit' message. */
const proofROffset = (group: Group) => commitmentOffset(group, T);
const proofZOffset = (group: Group) => proofROffset(group) + group.elementLength;

/** The encoding of the group order itself: the smallest non-canonical scalar. */
function orderBytes(group: Group): Uint8Array {
  const be = Buffer.from(group.order.toString(16).padStart(64, '0'), 'hex');
  return group.name === 'ed25519' ? Uint8Array.from(be).reverse() : Uint8Array.from(be);
}

/** An x coordinate below p for which no secp256k1 point exists, as a 0x02-prefixed encoding. */
function secpOffCurve(): Uint8Array {
  for (let x = 1n; ; x++) {
    const bytes = Buffer.concat([
      Buffer.of(0x02),
      Buffer.from(x.toString(16).padStart(64, '0'), 'hex'),
    ]);
    try {
      secp256k1.Point.fromBytes(bytes);
    } catch {
      return Uint8Array.from(bytes);
    }
  }
}

/** Encodings every decoder must refuse as an element, by name, per group. */
function badElements(group: Group): [string, Uint8Array][] {
  const L = group.elementLength;
  const cases: [string, Uint8Array][] = [['all 0xff', new Uint8Array(L).fill(0xff)]];
  if (group.name === 'ed25519') {
    const identity = new Uint8Array(32);
    identity[0] = 1;
    // A point of order 8 (in the torsion subgroup), and a valid point plus it (mixed order).
    const smallOrderHex = '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05';
    const smallOrder = ed25519.Point.fromHex(smallOrderHex);
    const mixed = ed25519.Point.BASE.multiply(12345n).add(smallOrder).toBytes();
    // y = p (non-canonical encoding of y = 0).
    const yEqualsP = Buffer.from(
      'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      'hex',
    );
    cases.push(
      ['identity (0x01, 0…0)', identity],
      ['small-order point', Uint8Array.from(Buffer.from(smallOrderHex, 'hex'))],
      ['point with a small-order component', mixed],
      ['non-canonical y = p', Uint8Array.from(yEqualsP)],
    );
  } else {
    const uncompressedPrefix = secp256k1.Point.BASE.multiply(7n).toBytes(true);
    uncompressedPrefix[0] = 0x04;
    cases.push(
      ['0x02-prefixed x with no point', secpOffCurve()],
      [
        'x = p with prefix 0x02',
        Uint8Array.from(
          Buffer.from('02fffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f', 'hex'),
        ),
      ],
      ['prefix 0x04 on 33 bytes', uncompressedPrefix],
      ['prefix 0x00 (zero)', new Uint8Array(33)],
    );
  }
  return cases;
}

for (const group of GROUPS) {
  const codec = codecOf(group);
  const other = group.mulBase(0xc0ffeen);

  test(`${group.name} DKG: an altered private share is blamed on its sender (INVALID_SHARE [2])`, () => {
    const fault = rewriteMessage(codec, { from: 2, to: 1, kind: 'share' }, (m) =>
      m.kind === 'share' ? { ...m, share: group.mod(m.share + 1n) } : m,
    );
    expectProtocolError(() => dkg(group, fault), 'INVALID_SHARE', [2]);
  });

  test(`${group.name} DKG: shares from two senders altered blame both`, () => {
    const fault: FaultRule<DkgMessage> = rewriteMessage(codec, { to: 1, kind: 'share' }, (m) =>
      m.kind === 'share' ? { ...m, share: group.mod(m.share + 7n) } : m,
    );
    expectProtocolError(() => dkg(group, fault), 'INVALID_SHARE', [2, 3]);
  });

  test(`${group.name} DKG: an altered proof of knowledge is blamed on its sender (INVALID_PROOF [3])`, () => {
    const fault = rewriteMessage(codec, { from: 3, kind: 'commit' }, (m) => {
      const c = m as CommitMessage;
      return { ...c, proof: { R: c.proof!.R, z: group.mod(c.proof!.z + 1n) } };
    });
    expectProtocolError(() => dkg(group, fault), 'INVALID_PROOF', [3]);
  });

  test(`${group.name} DKG: a proof replaced by one for another point is refused (INVALID_PROOF [3])`, () => {
    const fault = rewriteMessage(codec, { from: 3, to: 1, kind: 'commit' }, (m) => {
      const c = m as CommitMessage;
      return { ...c, proof: { R: other, z: c.proof!.z } };
    });
    expectProtocolError(() => dkg(group, fault), 'INVALID_PROOF', [3]);
  });

  test(`${group.name} DKG: a party sending different commitments to different peers is caught (EQUIVOCATION naming 2)`, () => {
    const fault = rewriteMessage(codec, { from: 2, to: 3, kind: 'commit' }, (m) => {
      const c = m as CommitMessage;
      const commitments: Element[] = [...c.commitments];
      commitments[1] = other;
      return { ...c, commitments };
    });
    // Party 3 is certain (2's echo of itself contradicts what 3 received); party 1 can only
    // tell that 2 and 3 disagree. Whoever finishes first reports.
    expectEquivocation(() => dkg(group, fault, 'adversarial', (p) => p === 2), 2, [3]);
  });

  test(`${group.name} DKG: a party sending different chain-code commitments to different peers is caught (EQUIVOCATION naming 2)`, () => {
    const fault = rewriteMessage(codec, { from: 2, to: 1, kind: 'commit' }, (m) => {
      const c = m as CommitMessage;
      const chainCommitment = Uint8Array.from(c.chainCommitment!);
      chainCommitment[0]! ^= 1;
      return { ...c, chainCommitment };
    });
    expectEquivocation(() => dkg(group, fault, 'adversarial', (p) => p === 2), 2, [1]);
  });

  test(`${group.name} DKG: a chain code that does not open its commitment is refused (INVALID_OPENING [2])`, () => {
    const fault = rewriteMessage(codec, { from: 2, kind: 'echo' }, (m) => {
      const e = m as EchoMessage;
      const chainCode = Uint8Array.from(e.chainCode!);
      chainCode[31]! ^= 0x80;
      return { ...e, chainCode };
    });
    expectProtocolError(() => dkg(group, fault), 'INVALID_OPENING', [2]);
  });

  test(`${group.name} DKG: a round-1 message replayed during round 2 is refused (REPLAYED_MESSAGE [3])`, () => {
    // Party 3's commit to party 1 arrives again just before party 3's round-2 echo to party 1,
    // that is after party 1 has every commit and has moved on to round 2.
    const fault = replayBefore<DkgMessage>(
      { from: 3, to: 1, round: 1 },
      { from: 3, to: 1, round: 2 },
    );
    expectProtocolError(() => dkg(group, fault), 'REPLAYED_MESSAGE', [3]);
  });

  test(`${group.name} DKG: a round-1 message delivered twice in round 1 is refused (REPLAYED_MESSAGE [3])`, () => {
    expectProtocolError(
      () => dkg(group, duplicate({ from: 3, to: 2, round: 1 })),
      'REPLAYED_MESSAGE',
      [3],
    );
  });

  test(`${group.name} DKG: a private share delivered twice is refused (REPLAYED_MESSAGE [1])`, () => {
    expectProtocolError(
      () => dkg(group, duplicate({ from: 1, to: 3, kind: 'share' })),
      'REPLAYED_MESSAGE',
      [1],
    );
  });

  for (const [name, bytes] of badElements(group)) {
    test(`${group.name} DKG: commitment encoded as ${name} is MALFORMED_MESSAGE [2]`, () => {
      assert.equal(group.decodeElement(bytes), null, 'the group itself must refuse this encoding');
      const fault = patchBytes<DkgMessage>({ from: 2, to: 1, kind: 'commit' }, (b) =>
        overwrite(b, commitmentOffset(group, 0), bytes),
      );
      expectProtocolError(() => dkg(group, fault), 'MALFORMED_MESSAGE', [2]);
      const fault2 = patchBytes<DkgMessage>({ from: 2, to: 3, kind: 'commit' }, (b) =>
        overwrite(b, commitmentOffset(group, 1), bytes),
      );
      expectProtocolError(() => dkg(group, fault2), 'MALFORMED_MESSAGE', [2]);
    });

    test(`${group.name} DKG: proof nonce R encoded as ${name} is MALFORMED_MESSAGE [3]`, () => {
      const fault = patchBytes<DkgMessage>({ from: 3, to: 2, kind: 'commit' }, (b) =>
        overwrite(b, proofROffset(group), bytes),
      );
      expectProtocolError(() => dkg(group, fault), 'MALFORMED_MESSAGE', [3]);
    });
  }

  test(`${group.name} DKG: a share or proof scalar >= the group order is MALFORMED_MESSAGE [sender]`, () => {
    for (const scalar of [orderBytes(group), new Uint8Array(32).fill(0xff)]) {
      const share = patchBytes<DkgMessage>({ from: 2, to: 1, kind: 'share' }, (b) =>
        overwrite(b, HEADER_LENGTH, scalar),
      );
      expectProtocolError(() => dkg(group, share), 'MALFORMED_MESSAGE', [2]);
      const z = patchBytes<DkgMessage>({ from: 3, to: 1, kind: 'commit' }, (b) =>
        overwrite(b, proofZOffset(group), scalar),
      );
      expectProtocolError(() => dkg(group, z), 'MALFORMED_MESSAGE', [3]);
    }
  });

  test(`${group.name} DKG: a message of another session is UNEXPECTED_MESSAGE [sender]`, () => {
    const otherSession = seededRng('another session')(32);
    for (const kind of ['commit', 'echo', 'share']) {
      const fault = rewrite(codec, { from: 2, to: 3, kind }, (env) => ({
        ...env,
        sessionId: otherSession,
      }));
      expectProtocolError(() => dkg(group, fault), 'UNEXPECTED_MESSAGE', [2]);
    }
  });

  test(`${group.name} DKG: truncated or extended messages are MALFORMED_MESSAGE`, () => {
    for (const kind of ['commit', 'echo', 'share']) {
      const truncated = patchBytes<DkgMessage>({ from: 2, to: 1, kind }, (b) =>
        b.subarray(0, b.length - 1),
      );
      expectProtocolError(() => dkg(group, truncated), 'MALFORMED_MESSAGE', [2]);
      const trailing = patchBytes<DkgMessage>({ from: 2, to: 1, kind }, (b) =>
        Uint8Array.of(...b, 0),
      );
      expectProtocolError(() => dkg(group, trailing), 'MALFORMED_MESSAGE', [2]);
    }
    // Shorter than the header: the sender field is not there to blame.
    const truncatedHeader = patchBytes<DkgMessage>({ from: 2, to: 1, kind: 'share' }, (b) =>
      b.subarray(0, 39),
    );
    expectProtocolError(() => dkg(group, truncatedHeader), 'MALFORMED_MESSAGE', []);
  });

  test(`${group.name} DKG: bad header fields are refused and blamed on the sender`, () => {
    const cases: [string, FaultRule<DkgMessage>, string][] = [
      [
        'unknown version',
        patchBytes({ from: 2, to: 1 }, (b) => overwrite(b, OFFSET.version, Uint8Array.of(2))),
        'MALFORMED_MESSAGE',
      ],
      [
        'refresh message in a DKG',
        patchBytes({ from: 2, to: 1 }, (b) => overwrite(b, OFFSET.protocol, Uint8Array.of(2))),
        'MALFORMED_MESSAGE',
      ],
      [
        'unknown kind',
        patchBytes({ from: 2, to: 1 }, (b) => overwrite(b, OFFSET.kind, Uint8Array.of(9))),
        'MALFORMED_MESSAGE',
      ],
      [
        'round beyond the protocol',
        patchBytes({ from: 2, to: 1 }, (b) => overwrite(b, OFFSET.round, Uint8Array.of(3))),
        'UNEXPECTED_MESSAGE',
      ],
      [
        'broadcast addressed to another party',
        patchBytes({ from: 2, to: 1, kind: 'commit' }, (b) =>
          overwrite(b, OFFSET.to, Uint8Array.of(0, 3)),
        ),
        'UNEXPECTED_MESSAGE',
      ],
      [
        'private share sent as a broadcast',
        patchBytes({ from: 2, to: 1, kind: 'share' }, (b) =>
          overwrite(b, OFFSET.to, Uint8Array.of(0xff, 0xff)),
        ),
        'UNEXPECTED_MESSAGE',
      ],
      [
        'echo sent as a direct message',
        patchBytes({ from: 2, to: 1, kind: 'echo' }, (b) =>
          overwrite(b, OFFSET.to, Uint8Array.of(0, 1)),
        ),
        'UNEXPECTED_MESSAGE',
      ],
    ];
    for (const [name, fault, code] of cases) {
      const e = thrown(() => dkg(group, fault));
      assert.ok(e instanceof ProtocolError, `${name}: ${String(e)}`);
      assert.deepEqual(
        { code: e.code, blame: [...e.blame] },
        { code, blame: [2] },
        `${name}: ${e.message}`,
      );
    }
  });

  test(`${group.name} DKG: a message from a non-participant is UNEXPECTED_MESSAGE [9]`, () => {
    const fault = patchBytes<DkgMessage>({ from: 2, to: 1, kind: 'commit' }, (b) =>
      overwrite(b, OFFSET.from, Uint8Array.of(0, 9)),
    );
    expectProtocolError(() => dkg(group, fault), 'UNEXPECTED_MESSAGE', [9]);
  });

  test(`${group.name} DKG: a party cannot pose as the receiver itself (UNEXPECTED_MESSAGE [1])`, () => {
    const fault = patchBytes<DkgMessage>({ from: 2, to: 1, kind: 'commit' }, (b) =>
      overwrite(b, OFFSET.from, Uint8Array.of(0, 1)),
    );
    expectProtocolError(() => dkg(group, fault), 'UNEXPECTED_MESSAGE', [1]);
  });

  test(`${group.name} DKG: a dropped message ends the ceremony with a ProtocolError, never with missing shares`, () => {
    for (const sel of [
      { from: 2, to: 1, kind: 'share' },
      { from: 3, to: 2, kind: 'commit' },
      { from: 1, to: 3, kind: 'echo' },
    ]) {
      let result: unknown;
      const e = thrown(() => {
        result = dkg(group, drop(sel));
      });
      assert.ok(
        e instanceof ProtocolError,
        `dropping ${JSON.stringify(sel)}: expected a ProtocolError, got ${
          e === undefined
            ? `a result with ${(result as unknown[]).filter((s) => s === undefined).length} missing share(s)`
            : String(e)
        }`,
      );
    }
  });

  test(`${group.name} DKG fuzz: one flipped byte anywhere either changes nothing or ends in a ProtocolError with sensible blame`, () => {
    // A 2-of-3 DKG delivers 18 messages: 3 commits and 3 echoes to 2 peers each, 6 shares.
    const DELIVERIES = 18;
    const echoDigests = HEADER_LENGTH + 2;
    fc.assert(
      fc.property(
        fc.nat({ max: DELIVERIES - 1 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (target, position, mask) => {
          let index = 0;
          let hit:
            | {
                from: number;
                to: number;
                kind: string;
                round: number;
                pos: number;
                flipped: Uint8Array;
              }
            | undefined;
          const fault: FaultRule<DkgMessage> = (bytes, env, to) => {
            if (index++ !== target) return [bytes];
            const pos = position % bytes.length;
            const flipped = Uint8Array.from(bytes);
            flipped[pos]! ^= mask;
            hit = { from: env.from, to, kind: env.message.kind, round: env.round, pos, flipped };
            return [flipped];
          };
          let shares: ReturnType<typeof dkg> | undefined;
          const e = thrown(() => {
            shares = dkg(group, fault, 'fuzz', (p) => p === hit?.from);
          });
          assert.ok(hit, 'the targeted delivery was never sent');
          if (e === undefined) {
            // Nothing meaningful was hit: every party finished and they agree.
            assert.ok(
              shares && shares.every((s) => s !== undefined),
              `a party never finished (flip at ${JSON.stringify({ ...hit, flipped: undefined })})`,
            );
            for (const s of shares) assert.ok(s.publicKey.equals(shares[0]!.publicKey));
            return;
          }
          assert.ok(
            e instanceof ProtocolError,
            `not a ProtocolError: ${String((e as Error)?.stack ?? e)}`,
          );
          const { pos, from, flipped } = hit;
          assert.notEqual(e.code, 'INTERNAL', `a missed check: ${e.message}`);
          const where = `${e.code} ${JSON.stringify(e.blame)} for ${hit.kind} ${from}->${hit.to} byte ${pos}: ${e.message}`;
          if (pos >= OFFSET.from && pos < OFFSET.to) {
            // A forged sender field: the party it now names (or, out of range, the raw value).
            const claimed = (flipped[OFFSET.from]! << 8) | flipped[OFFSET.from + 1]!;
            assert.deepEqual([...e.blame], [claimed], where);
          } else if (
            hit.kind === 'echo' &&
            pos >= echoDigests &&
            pos < echoDigests + 32 * PARTIES.length
          ) {
            // A lying echo: the liar is always named. It is named alone when it misreports the
            // receiver's own broadcast or its own; otherwise with the party it misreports.
            const named = PARTIES[Math.floor((pos - echoDigests) / 32)]!;
            const alone = named === hit.to || named === from;
            assert.deepEqual(
              { code: e.code, blame: [...e.blame] },
              { code: 'EQUIVOCATION', blame: alone ? [from] : [from, named].sort((a, b) => a - b) },
              where,
            );
          } else if (e.code === 'EQUIVOCATION') {
            // A commit altered on its way to one peer: the sender equivocated, reported with
            // certainty by that peer, or with that peer by a party that cannot tell who lied.
            assert.equal(hit.kind, 'commit', where);
            const pair = [from, hit.to].sort((a, b) => a - b);
            assert.ok(
              [JSON.stringify([from]), JSON.stringify(pair)].includes(JSON.stringify([...e.blame])),
              where,
            );
          } else {
            assert.deepEqual([...e.blame], [from], where);
          }
        },
      ),
      { numRuns: 60, seed: group.name === 'ed25519' ? 0x5eed : 0xdecaf },
    );
  });
}

test('the fuzz target count matches a 2-of-3 DKG', () => {
  let count = 0;
  const shares = dkg(ed25519Group, (b) => {
    count++;
    return [b];
  });
  assert.equal(count, 18);
  assert.equal(toHex(shares[0]!.chainCode), toHex(shares[2]!.chainCode));
});
