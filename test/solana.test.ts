/**
 * coordinator/chains/solana.ts: legacy and version 0 messages built by hand from the wire format,
 * parsed, signed with node:crypto Ed25519, assembled into a transaction whose signatures
 * node:crypto verifies; the transfer summary; and the refusals of the parser and request schema.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { base58, base64 } from '@scure/base';
import {
  parseSolanaMessage,
  solanaSignerIndex,
  solanaTransaction,
  solanaTransferSummary,
} from '../coordinator/chains/solana.js';
import { solanaSignRequest } from '../coordinator/chains/solana-request.js';
import { concat, toHex } from '../protocol/bytes.js';
import { refused } from './chain-refusals.js';

interface Signer {
  publicKey: Uint8Array;
  privateKey: KeyObject;
  publicKeyObject: KeyObject;
}

function signer(): Signer {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const x = publicKey.export({ format: 'jwk' }).x!;
  return {
    publicKey: new Uint8Array(Buffer.from(x, 'base64url')),
    privateKey,
    publicKeyObject: publicKey,
  };
}

/** compact-u16, written out independently of the module under test. */
function shortvec(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x4000) return [(n & 0x7f) | 0x80, n >> 7];
  return [(n & 0x7f) | 0x80, ((n >> 7) & 0x7f) | 0x80, n >> 14];
}

const u32le = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];
function u64le(n: bigint): number[] {
  return Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
}

const SYSTEM = new Uint8Array(32);
const transferData = (lamports: bigint) => [...u32le(2), ...u64le(lamports)];

interface Ix {
  program: number;
  accounts: number[];
  data: number[];
}

/** A message in wire format: optional version prefix, header, keys, blockhash, instructions. */
function message(opts: {
  version?: number;
  header: [number, number, number];
  keys: Uint8Array[];
  blockhash?: Uint8Array;
  instructions: Ix[];
  lookups?: { table: Uint8Array; writable: number[]; readonly: number[] }[];
}): Uint8Array {
  const out: number[] = [];
  if (opts.version !== undefined) out.push(0x80 | opts.version);
  out.push(...opts.header, ...shortvec(opts.keys.length));
  for (const key of opts.keys) out.push(...key);
  out.push(...(opts.blockhash ?? new Uint8Array(32).fill(9)));
  out.push(...shortvec(opts.instructions.length));
  for (const ix of opts.instructions) {
    out.push(ix.program, ...shortvec(ix.accounts.length), ...ix.accounts);
    out.push(...shortvec(ix.data.length), ...ix.data);
  }
  if (opts.version !== undefined) {
    const lookups = opts.lookups ?? [];
    out.push(...shortvec(lookups.length));
    for (const l of lookups) {
      out.push(...l.table, ...shortvec(l.writable.length), ...l.writable);
      out.push(...shortvec(l.readonly.length), ...l.readonly);
    }
  }
  return Uint8Array.from(out);
}

/** Splits a wire transaction into its signatures and message, checking the count prefix. */
function split(wire: Uint8Array, count: number): { signatures: Uint8Array[]; message: Uint8Array } {
  const prefix = shortvec(count).length;
  assert.deepEqual(Array.from(wire.subarray(0, prefix)), shortvec(count));
  const signatures = Array.from({ length: count }, (_, i) =>
    wire.subarray(prefix + 64 * i, prefix + 64 * (i + 1)),
  );
  return { signatures, message: wire.subarray(prefix + 64 * count) };
}

test('legacy transfer: parse, sign with node:crypto, assemble, verify, summarise', () => {
  const payer = signer();
  const recipient = randomBytes(32);
  const blockhash = randomBytes(32);
  const bytes = message({
    header: [1, 0, 1],
    keys: [payer.publicKey, recipient, SYSTEM],
    blockhash,
    instructions: [{ program: 2, accounts: [0, 1], data: transferData(1_500_000_000n) }],
  });
  const parsed = parseSolanaMessage(bytes);
  assert.equal(parsed.version, 'legacy');
  assert.deepEqual(parsed.header, {
    numRequiredSignatures: 1,
    numReadonlySignedAccounts: 0,
    numReadonlyUnsignedAccounts: 1,
  });
  assert.deepEqual(parsed.accountKeys, [payer.publicKey, new Uint8Array(recipient), SYSTEM]);
  assert.deepEqual(parsed.recentBlockhash, new Uint8Array(blockhash));
  assert.deepEqual(parsed.addressTableLookups, []);
  assert.equal(solanaSignerIndex(parsed, payer.publicKey), 0);

  const signature = new Uint8Array(sign(null, bytes, payer.privateKey));
  const wire = solanaTransaction(bytes, [signature]);
  const { signatures, message: signed } = split(wire, 1);
  assert.deepEqual(signed, bytes);
  assert.ok(verify(null, signed, payer.publicKeyObject, signatures[0]!));

  assert.deepEqual(solanaTransferSummary(parsed), {
    transfers: [
      {
        from: base58.encode(payer.publicKey),
        to: base58.encode(recipient),
        lamports: 1_500_000_000n,
      },
    ],
    destinations: [base58.encode(recipient)],
    value: 1_500_000_000n,
    otherInstructions: [],
  });
});

test('two signers, one signature still missing (zero-filled); transfers summed, others listed', () => {
  const payer = signer();
  const cosigner = signer();
  const a = randomBytes(32);
  const b = randomBytes(32);
  const memo = base58.decode('MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr');
  const bytes = message({
    header: [2, 1, 2],
    keys: [payer.publicKey, cosigner.publicKey, a, b, SYSTEM, memo],
    instructions: [
      { program: 4, accounts: [0, 2], data: transferData((1n << 64n) - 1n) },
      { program: 5, accounts: [], data: [...Buffer.from('hello')] },
      { program: 4, accounts: [1, 3], data: transferData(5n) },
      { program: 4, accounts: [0, 2], data: transferData(1n) },
      // CreateAccount (tag 0) is a System instruction, but not a transfer: listed, not counted.
      { program: 4, accounts: [0, 3], data: [...u32le(0), ...new Array(48).fill(0)] },
    ],
  });
  const parsed = parseSolanaMessage(bytes);
  assert.equal(solanaSignerIndex(parsed, cosigner.publicKey), 1);
  const sig = new Uint8Array(sign(null, bytes, cosigner.privateKey));
  const wire = solanaTransaction(bytes, [new Uint8Array(64), sig]);
  const { signatures, message: signed } = split(wire, 2);
  assert.deepEqual(signatures[0], new Uint8Array(64));
  assert.ok(verify(null, signed, cosigner.publicKeyObject, signatures[1]!));
  assert.ok(!verify(null, signed, payer.publicKeyObject, signatures[0]!));

  const summary = solanaTransferSummary(parsed);
  assert.equal(summary.value, (1n << 64n) - 1n + 5n + 1n);
  assert.deepEqual(summary.destinations, [base58.encode(a), base58.encode(b)]);
  assert.deepEqual(summary.otherInstructions, [
    { index: 1, programId: 'MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr' },
    { index: 4, programId: '11111111111111111111111111111111' },
  ]);
  // A key that does not sign, and one that is not in the message at all.
  for (const key of [a, randomBytes(32)]) {
    refused(() => solanaSignerIndex(parsed, key), 'NOT_A_SIGNER');
  }
});

test('version 0: lookup tables, a recipient loaded from one, signed and verified', () => {
  const payer = signer();
  const table = randomBytes(32);
  const other = randomBytes(32);
  const bytes = message({
    version: 0,
    header: [1, 0, 1],
    keys: [payer.publicKey, SYSTEM],
    instructions: [
      // Account 2 is the table's writable entry 7; account 3 its read-only entry 4.
      { program: 1, accounts: [0, 2], data: transferData(42n) },
      { program: 1, accounts: [0, 3], data: transferData(8n) },
    ],
    lookups: [
      { table, writable: [7], readonly: [] },
      { table: other, writable: [], readonly: [4] },
    ],
  });
  const parsed = parseSolanaMessage(bytes);
  assert.equal(parsed.version, 0);
  assert.deepEqual(parsed.addressTableLookups, [
    { accountKey: new Uint8Array(table), writableIndexes: [7], readonlyIndexes: [] },
    { accountKey: new Uint8Array(other), writableIndexes: [], readonlyIndexes: [4] },
  ]);
  const sig = new Uint8Array(sign(null, bytes, payer.privateKey));
  const { signatures, message: signed } = split(solanaTransaction(bytes, [sig]), 1);
  assert.ok(verify(null, signed, payer.publicKeyObject, signatures[0]!));
  const summary = solanaTransferSummary(parsed);
  assert.deepEqual(summary.destinations, [
    `${base58.encode(table)}:7`,
    `${base58.encode(other)}:4`,
  ]);
  assert.equal(summary.value, 50n);
});

test('parser refusals', () => {
  const payer = signer();
  const base = {
    header: [1, 0, 1] as [number, number, number],
    keys: [payer.publicKey, randomBytes(32), SYSTEM],
    instructions: [{ program: 2, accounts: [0, 1], data: transferData(1n) }],
  };
  const good = message(base);
  parseSolanaMessage(good);
  refused(() => parseSolanaMessage(good.subarray(0, good.length - 1)), 'MALFORMED_TRANSACTION');
  refused(() => parseSolanaMessage(new Uint8Array(0)), 'MALFORMED_TRANSACTION');
  refused(
    () => parseSolanaMessage(concat(good, Uint8Array.of(0))),
    'MALFORMED_TRANSACTION',
    'message',
  );
  // The key count 3 as two bytes (0x83 0x00): the same number in a longer form.
  const padded = concat(good.subarray(0, 3), Uint8Array.of(0x83, 0x00), good.subarray(4));
  refused(() => parseSolanaMessage(padded), 'NON_CANONICAL_ENCODING', 'accountKeys');
  refused(
    () => parseSolanaMessage(message({ ...base, version: 0 }).fill(0x81, 0, 1)),
    'UNSUPPORTED',
    'version',
  );
  refused(
    () =>
      parseSolanaMessage(
        message({ ...base, instructions: [{ program: 2, accounts: [0, 3], data: [] }] }),
      ),
    'INDEX_OUT_OF_RANGE',
    'instructions[0].accountIndexes[1]',
  );
  refused(
    () =>
      parseSolanaMessage(
        message({ ...base, instructions: [{ program: 3, accounts: [], data: [] }] }),
      ),
    'INDEX_OUT_OF_RANGE',
    'instructions[0].programIdIndex',
  );
  // The fee payer cannot be the program.
  refused(
    () =>
      parseSolanaMessage(
        message({ ...base, instructions: [{ program: 0, accounts: [], data: [] }] }),
      ),
    'INDEX_OUT_OF_RANGE',
    'instructions[0].programIdIndex',
  );
  refused(
    () => parseSolanaMessage(message({ ...base, header: [0, 0, 0] })),
    'MALFORMED_TRANSACTION',
  );
  refused(
    () => parseSolanaMessage(message({ ...base, header: [1, 1, 0] })),
    'MALFORMED_TRANSACTION',
  );
  refused(
    () => parseSolanaMessage(message({ ...base, header: [3, 0, 1] })),
    'MALFORMED_TRANSACTION',
    'header',
  );
  refused(
    () =>
      parseSolanaMessage(message({ ...base, keys: [payer.publicKey, payer.publicKey, SYSTEM] })),
    'MALFORMED_TRANSACTION',
    'accountKeys',
  );
  // A v0 lookup that loads nothing, and an index past the loaded accounts.
  refused(
    () =>
      parseSolanaMessage(
        message({
          ...base,
          version: 0,
          lookups: [{ table: randomBytes(32), writable: [], readonly: [] }],
        }),
      ),
    'MALFORMED_TRANSACTION',
    'addressTableLookups[0]',
  );
  // Too big: 1232 bytes with its signature.
  const big = message({
    ...base,
    instructions: [{ program: 2, accounts: [], data: new Array(1100).fill(1) }],
  });
  refused(() => parseSolanaMessage(big), 'TOO_LARGE', 'message');
  refused(() => parseSolanaMessage(new Uint8Array(1233)), 'TOO_LARGE', 'message');
  // A System transfer with the wrong data length or too few accounts is refused, not summarised.
  for (const ix of [
    { program: 2, accounts: [0, 1], data: [...transferData(1n), 0] },
    { program: 2, accounts: [0], data: transferData(1n) },
  ]) {
    refused(
      () => solanaTransferSummary(parseSolanaMessage(message({ ...base, instructions: [ix] }))),
      'MALFORMED_TRANSACTION',
    );
  }
  // Assembly: one signature per signer, 64 bytes each.
  refused(() => solanaTransaction(good, []), 'INVALID_ARGUMENT', 'signatures');
  refused(() => solanaTransaction(good, [new Uint8Array(63)]), 'INVALID_ARGUMENT', 'signatures[0]');
});

test('request schema: base64 message in, parsed message out; refusals on "message"', () => {
  const payer = signer();
  const bytes = message({
    header: [1, 0, 1],
    keys: [payer.publicKey, randomBytes(32), SYSTEM],
    instructions: [{ program: 2, accounts: [0, 1], data: transferData(3n) }],
  });
  const parsed = solanaSignRequest.parse({ message: base64.encode(bytes), path: 'm/0' });
  assert.deepEqual(parsed.messageBytes, bytes);
  assert.equal(parsed.path, 'm/0');
  assert.equal(parsed.message.accountKeys.length, 3);
  const blamed = (body: unknown, field: string, pattern?: RegExp) => {
    const result = solanaSignRequest.safeParse(body);
    assert.equal(result.success, false);
    const issues = result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    assert.ok(
      issues.some((i) => i.startsWith(field + ':') && (pattern === undefined || pattern.test(i))),
      `${field} not blamed: ${issues.join('; ')}`,
    );
  };
  blamed({ message: toHex(bytes) }, 'message');
  // Unpadded, and "AB==" (decodes to the same byte as "AA==", with non-zero unused bits).
  blamed({ message: 'AA' }, 'message', /base64/);
  blamed({ message: 'AB==' }, 'message', /base64/);
  blamed({ message: base64.encode(bytes.subarray(1)) }, 'message', /could not be parsed/);
  blamed({ message: base64.encode(bytes), extra: 1 }, '', /unknown field "extra"/);
  blamed({}, 'message', /is required/);
});
