/**
 * The presignature pool's bookkeeping, with a counting stand-in for the presigning ceremony:
 * filling to the target, handing each one out once, waiting while signatures are asked for,
 * dropping what a restarted enclave or a refresh made useless, and backing off after failures.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KeyInfo } from '../coordinator/cluster.js';
import { PresignaturePool } from '../coordinator/presign-pool.js';
import type { PresignaturePublic } from '../protocol/ecdsa/presignature.js';
import type { PartyId } from '../protocol/errors.js';

function keyInfo(epoch: number): KeyInfo {
  return { keyId: 'k', scheme: 'ecdsa-secp256k1', key: { epoch } } as unknown as KeyInfo;
}

interface Harness {
  pool: PresignaturePool;
  made: PresignaturePublic[];
  modules: Map<PartyId, string>;
  fail: { next: number };
  observed: number[];
}

function harness(target: number, options: { idleMs?: number; retryMs?: number } = {}): Harness {
  const made: PresignaturePublic[] = [];
  const modules = new Map<PartyId, string>([
    [1, 'm1'],
    [2, 'm2'],
    [3, 'm3'],
  ]);
  const fail = { next: 0 };
  const observed: number[] = [];
  let counter = 0;
  const pool = new PresignaturePool({
    target,
    idleMs: options.idleMs ?? 0,
    retryMs: options.retryMs ?? 10,
    moduleOf: (p) => modules.get(p) ?? null,
    observe: (_key, _signers, available) => observed.push(available),
    presign: async (info, signers) => {
      await new Promise((r) => setTimeout(r, 2));
      if (fail.next > 0) {
        fail.next -= 1;
        throw new Error('an enclave is down');
      }
      const id = new Uint8Array(32);
      new DataView(id.buffer).setUint32(0, ++counter);
      const p = {
        id,
        epoch: info.key.epoch,
        signers: [...signers],
      } as unknown as PresignaturePublic;
      made.push(p);
      return p;
    },
  });
  return { pool, made, modules, fail, observed };
}

async function until(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('fills to the target, hands each presignature out once, and refills', async () => {
  const { pool, made, observed } = harness(4);
  assert.equal(pool.take(keyInfo(0), [1, 2]), undefined, 'nothing before demand');
  pool.want(keyInfo(0), [2, 1]);
  await until(() => pool.available('k', [1, 2]) === 4);
  assert.equal(made.length, 4);
  const taken = new Set<number>();
  for (let i = 0; i < 4; i++) {
    const p = pool.take(keyInfo(0), [1, 2]);
    assert.ok(p);
    taken.add(new DataView(p.id.buffer).getUint32(0));
  }
  assert.equal(taken.size, 4, 'all distinct');
  await until(() => pool.available('k', [1, 2]) === 4);
  for (let i = 0; i < 4; i++)
    taken.add(new DataView(pool.take(keyInfo(0), [1, 2])!.id.buffer).getUint32(0));
  assert.equal(taken.size, 8, 'refills are new presignatures');
  assert.ok(observed.includes(4) && observed.includes(0));
  // Another signer set is another pool.
  assert.equal(pool.take(keyInfo(0), [1, 3]), undefined);
  pool.close();
});

test('a restarted enclave or a new epoch makes its presignatures useless', async () => {
  const { pool, modules } = harness(3);
  pool.want(keyInfo(0), [1, 2]);
  await until(() => pool.available('k', [1, 2]) === 3);
  modules.set(2, 'm2-restarted');
  assert.equal(pool.take(keyInfo(0), [1, 2]), undefined, 'made with the old enclave 2');
  await until(() => pool.available('k', [1, 2]) === 3);
  assert.ok(pool.take(keyInfo(0), [1, 2]));
  // After a refresh, the old epoch's are never handed out.
  pool.want(keyInfo(1), [1, 2]);
  assert.equal(pool.take(keyInfo(0), [1, 2]), undefined);
  await until(() => pool.available('k', [1, 2]) === 3);
  assert.equal(pool.take(keyInfo(1), [1, 2])!.epoch, 1);
  pool.close();
});

test('refills wait while signatures are asked for, unless the pool runs low', async () => {
  const { pool, made } = harness(8, { idleMs: 400 });
  pool.want(keyInfo(0), [1, 2]);
  await until(() => pool.available('k', [1, 2]) === 8);
  for (let i = 0; i < 3; i++) pool.take(keyInfo(0), [1, 2]);
  const before = made.length;
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(made.length, before, 'no ceremony right after a take while 5 of 8 remain');
  for (let i = 0; i < 4; i++) pool.take(keyInfo(0), [1, 2]);
  // 1 left, below the low-water mark of 2: refilling starts at once.
  await until(() => made.length > before, 300);
  await until(() => pool.available('k', [1, 2]) === 8, 3000);
  pool.close();
});

test('failures back off, then the pool fills; a target of 0 does nothing', async () => {
  const { pool, fail } = harness(2, { retryMs: 20 });
  fail.next = 3;
  pool.want(keyInfo(0), [1, 2]);
  await until(() => pool.available('k', [1, 2]) === 2);
  assert.equal(fail.next, 0);
  pool.close();

  const off = harness(0);
  off.pool.want(keyInfo(0), [1, 2]);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(off.made.length, 0);
  assert.throws(() => harness(-1), RangeError);
});
