/**
 * The metadata store's behaviour, written once (`storeSuite`) and run against both backends:
 * SQLite on a temporary file, and PostgreSQL on a real server started by test/postgres.ts. Each
 * test gets a fresh database. Covered: migrations (twice, and two starters at once), every method
 * of MetadataStore, the compare-and-swap refusals (stale epoch, second revocation, second finish),
 * the audit chain and its serialization under 50 concurrent appends from two store instances,
 * idempotency claim/complete/release, exact sums above 2^64, and reopening a closed store.
 * After the suite: what only SQLite has (file mode, WAL, a missing directory, two processes
 * migrating one file at once) and openStore's choice of backend.
 */
import { after, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import pg from 'pg';
import {
  StoreError,
  openPostgresStore,
  openSqliteStore,
  openStore,
  type AuditEntry,
  type CeremonyRecord,
  type IdempotencyRecord,
  type KeyRecord,
  type MetadataStore,
  type PolicyRecord,
  type StoreErrorCode,
  type TokenRecord,
} from '../coordinator/store/index.js';
import { startPostgres, type PostgresServer } from './postgres.js';

// ---- fixtures ----------------------------------------------------------------------------

const GENESIS = '0'.repeat(64);
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
/** A fixed instant `minutes` after 2025-01-01T00:00Z, in toISOString() form. */
const at = (minutes: number): string => new Date(Date.UTC(2025, 0, 1, 0, minutes)).toISOString();

const key = (id: string, createdAt: string, epoch = 0): KeyRecord => ({
  id,
  scheme: 'schnorr-secp256k1-bip340',
  threshold: 2,
  parties: [1, 2, 3],
  publicKey: '02' + sha256(id),
  chainCode: sha256('chain ' + id),
  epoch,
  keyPublic: Buffer.from(`public data of ${id}`).toString('base64'),
  createdAt,
});

const token = (id: string, secret: string, keyIds: string[] | null = null): TokenRecord => ({
  id,
  name: `token ${id}`,
  role: keyIds === null ? 'admin' : 'signer',
  hash: sha256(secret),
  keyIds,
  createdAt: at(0),
  revokedAt: null,
});

const claim = (tokenId: string, k: string, requestHash = sha256(k)): IdempotencyRecord => ({
  tokenId,
  key: k,
  requestHash,
  status: null,
  response: null,
  createdAt: at(1),
});

/** A link function as coordinator/audit.ts would build one, recording each call it gets. */
function linker(body: string, calls: [string, number][] = []) {
  return (prevHash: string, seq: number): string => {
    calls.push([prevHash, seq]);
    return sha256(`${prevHash}|${seq}|${body}`);
  };
}

/** Asserts that `promise` rejects with a StoreError of `code`. */
async function refuses(promise: Promise<unknown>, code: StoreErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

/** Asserts a list of entries is the chain 1..n, each linked to the one before. */
function assertChain(entries: readonly AuditEntry[], n: number): void {
  assert.deepEqual(
    entries.map((e) => e.seq),
    Array.from({ length: n }, (_, i) => i + 1),
  );
  entries.forEach((e, i) => {
    assert.equal(e.prevHash, i === 0 ? GENESIS : entries[i - 1]!.hash, `prevHash of ${e.seq}`);
    assert.equal(e.hash, sha256(`${e.prevHash}|${e.seq}|${e.body}`), `hash of ${e.seq}`);
  });
}

// ---- the suite ---------------------------------------------------------------------------

/** One empty database for one test: open stores on it, run raw SQL on it. */
interface Place {
  /** Opens a store on this database (not migrated). */
  open(): Promise<MetadataStore>;
  /** Runs raw SQL directly on the database, for tests that tamper with it. */
  exec(sql: string): Promise<void>;
}

/** A fresh place per call; null when the backend is unavailable here (the test is skipped). */
type NewPlace = () => Promise<Place | null>;

/**
 * The behaviour every MetadataStore must have. `newPlace` provides a fresh database for each
 * test; `skipReason` is shown when it cannot.
 */
function storeSuite(name: string, newPlace: NewPlace, skipReason: string): void {
  describe(name, () => {
    /**
     * Runs `body` with a migrated store on a fresh database, closing every store it opened.
     * `open` opens further (migrated) stores on the same database: a second coordinator, or the
     * same one after a restart.
     */
    async function withStore(
      t: TestContext,
      body: (
        store: MetadataStore,
        open: () => Promise<MetadataStore>,
        place: Place,
      ) => Promise<void>,
    ): Promise<void> {
      const place = await newPlace();
      if (place === null) {
        t.skip(skipReason);
        return;
      }
      const opened: MetadataStore[] = [];
      const open = async (): Promise<MetadataStore> => {
        const store = await place.open();
        opened.push(store);
        await store.migrate();
        return store;
      };
      try {
        await body(await open(), open, place);
      } finally {
        for (const store of opened) await store.close();
      }
    }

    test('migrate: twice, and from two stores at once, leaves one schema', async (t) => {
      const place = await newPlace();
      if (place === null) return t.skip(skipReason);
      const a = await place.open();
      const b = await place.open();
      try {
        // Both start on an empty database at the same moment; the lock lets one apply the
        // schema and the other find it applied.
        await Promise.all([a.migrate(), b.migrate()]);
        await a.migrate();
        await b.migrate();
        await a.insertKey(key('k1', at(0)));
        assert.equal((await b.getKey('k1'))?.id, 'k1');
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('migrate: refuses a database written by a newer build', async (t) => {
      await withStore(t, async (store, _open, place) => {
        await place.exec(
          "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'x')",
        );
        await refuses(store.migrate(), 'SCHEMA_MISMATCH');
      });
    });

    test('keys: insert, get, list in creation order; duplicates and bad input refused', async (t) => {
      await withStore(t, async (store) => {
        const k2 = key('k2', at(5));
        const k1b = key('k1b', at(1));
        const k1a = key('k1a', at(1));
        for (const k of [k2, k1b, k1a]) await store.insertKey(k);
        assert.deepEqual(await store.getKey('k2'), k2);
        assert.equal(await store.getKey('missing'), null);
        // By creation time, then id for keys created in the same millisecond.
        assert.deepEqual(await store.listKeys(), [k1a, k1b, k2]);
        await refuses(store.insertKey(key('k2', at(9))), 'CONFLICT');
        await refuses(store.insertKey(key('k3', '2025-01-01 00:00:00')), 'INVALID_ARGUMENT');
        await refuses(store.insertKey({ ...key('k3', at(2)), threshold: 1.5 }), 'INVALID_ARGUMENT');
        // Caught by the schema's CHECK constraint, translated from each driver's error.
        const bad = { ...key('k3', at(2)), scheme: 'rsa' } as unknown as KeyRecord;
        await refuses(store.insertKey(bad), 'INVALID_ARGUMENT');
        assert.equal((await store.listKeys()).length, 3);
      });
    });

    test('keys: the epoch advances only from the current epoch', async (t) => {
      await withStore(t, async (store) => {
        await store.insertKey(key('k', at(0)));
        assert.equal(await store.updateKeyEpoch('k', 0, 1, 'kp1'), true);
        // Stale: a refresh that started from epoch 0 arrives after the one above.
        assert.equal(await store.updateKeyEpoch('k', 0, 1, 'stale'), false);
        assert.equal(await store.updateKeyEpoch('missing', 0, 1, 'x'), false);
        await refuses(store.updateKeyEpoch('k', 1, 1, 'same epoch'), 'INVALID_ARGUMENT');
        const got = await store.getKey('k');
        assert.equal(got?.epoch, 1);
        assert.equal(got?.keyPublic, 'kp1');
        // Two refreshes racing from the same epoch: exactly one wins.
        const results = await Promise.all([
          store.updateKeyEpoch('k', 1, 2, 'kp2-a'),
          store.updateKeyEpoch('k', 1, 2, 'kp2-b'),
        ]);
        assert.deepEqual(results.filter(Boolean).length, 1);
        const winner = results[0] ? 'kp2-a' : 'kp2-b';
        assert.deepEqual(await store.getKey('k'), {
          ...key('k', at(0)),
          epoch: 2,
          keyPublic: winner,
        });
      });
    });

    test('policies: put, replace, get; a policy needs an existing key', async (t) => {
      await withStore(t, async (store) => {
        await store.insertKey(key('k', at(0)));
        assert.equal(await store.getPolicy('k'), null);
        const open: PolicyRecord = {
          keyId: 'k',
          allowedSignerSets: [],
          keyRatePerMinute: null,
          tokenRatePerMinute: null,
          destinations: null,
          dailyValueLimit: null,
          updatedAt: at(1),
        };
        await store.putPolicy(open);
        assert.deepEqual(await store.getPolicy('k'), open);
        const strict: PolicyRecord = {
          keyId: 'k',
          allowedSignerSets: [
            [1, 2],
            [2, 3],
          ],
          keyRatePerMinute: 60,
          tokenRatePerMinute: 10,
          destinations: ['0xabc', 'bc1qxyz'],
          dailyValueLimit: '123456789012345678901234567890',
          updatedAt: at(2),
        };
        await store.putPolicy(strict);
        assert.deepEqual(await store.getPolicy('k'), strict);
        await refuses(store.putPolicy({ ...strict, keyId: 'missing' }), 'MISSING_REFERENCE');
        await refuses(store.putPolicy({ ...strict, dailyValueLimit: '1e30' }), 'INVALID_ARGUMENT');
      });
    });

    test('tokens: unique hash, lookup by hash, list, revoke once', async (t) => {
      await withStore(t, async (store) => {
        const admin = token('t1', 'secret one');
        const signer = token('t2', 'secret two', ['k1', 'k2']);
        await store.insertToken(admin);
        await store.insertToken(signer);
        // Another id with the same hash: a lookup could no longer tell the two apart.
        await refuses(store.insertToken({ ...token('t3', 'secret one') }), 'CONFLICT');
        await refuses(store.insertToken({ ...token('t1', 'secret three') }), 'CONFLICT');
        await refuses(
          store.insertToken({ ...token('t4', 'x'), hash: sha256('x').toUpperCase() }),
          'INVALID_ARGUMENT',
        );
        assert.deepEqual(await store.findTokenByHash(sha256('secret two')), signer);
        assert.equal(await store.findTokenByHash(sha256('never issued')), null);
        assert.deepEqual(await store.listTokens(), [admin, signer]);

        assert.equal(await store.revokeToken('t2', at(3)), true);
        assert.equal(await store.revokeToken('t2', at(4)), false);
        assert.equal(await store.revokeToken('missing', at(4)), false);
        // Still found by hash (the caller checks revokedAt), with the first revocation's time.
        assert.deepEqual(await store.findTokenByHash(signer.hash), { ...signer, revokedAt: at(3) });
      });
    });

    test('ceremonies: insert, finish once, get', async (t) => {
      await withStore(t, async (store) => {
        const keygen: CeremonyRecord = {
          id: 'c1',
          kind: 'keygen',
          keyId: null,
          parties: [1, 2, 3],
          status: 'running',
          startedAt: at(0),
          finishedAt: null,
          error: null,
        };
        const sign: CeremonyRecord = {
          ...keygen,
          id: 'c2',
          kind: 'sign',
          keyId: 'k',
          parties: [1, 3],
        };
        await store.insertCeremony(keygen);
        await store.insertCeremony(sign);
        await refuses(store.insertCeremony(keygen), 'CONFLICT');
        assert.deepEqual(await store.getCeremony('c1'), keygen);
        assert.equal(await store.getCeremony('missing'), null);

        await store.finishCeremony('c1', 'succeeded', at(1), null);
        const error = JSON.stringify({ code: 'MISSING_MESSAGE', message: 'party 3', blame: [3] });
        await store.finishCeremony('c2', 'failed', at(2), error);
        assert.deepEqual(await store.getCeremony('c1'), {
          ...keygen,
          status: 'succeeded',
          finishedAt: at(1),
        });
        assert.deepEqual(await store.getCeremony('c2'), {
          ...sign,
          status: 'failed',
          finishedAt: at(2),
          error,
        });
        // The outcome is written once; a second report or an unknown id is refused.
        await refuses(store.finishCeremony('c1', 'failed', at(3), error), 'NOT_FOUND');
        await refuses(store.finishCeremony('missing', 'failed', at(3), null), 'NOT_FOUND');
        assert.equal((await store.getCeremony('c1'))?.status, 'succeeded');
      });
    });

    test('audit: appends form a chain, and a failed link appends nothing', async (t) => {
      await withStore(t, async (store) => {
        const calls: [string, number][] = [];
        const appended: AuditEntry[] = [];
        for (const body of ['{"n":1}', '{"n":2}', '{"n":3}']) {
          appended.push(await store.appendAudit(body, linker(body, calls)));
        }
        assert.deepEqual(calls, [
          [GENESIS, 1],
          [appended[0]!.hash, 2],
          [appended[1]!.hash, 3],
        ]);
        assertChain(appended, 3);
        assert.deepEqual(await store.listAudit(1, 100), appended);
        assert.deepEqual(await store.listAudit(0, 2), appended.slice(0, 2));
        assert.deepEqual(await store.listAudit(2, 1), [appended[1]]);
        assert.deepEqual(await store.listAudit(4, 10), []);

        await assert.rejects(
          store.appendAudit('{"n":4}', () => {
            throw new Error('link failed');
          }),
          /link failed/,
        );
        await refuses(
          store.appendAudit('{"n":4}', () => 'not a hash'),
          'INVALID_ARGUMENT',
        );
        // Neither attempt took a sequence number.
        const next = await store.appendAudit('{"n":4}', linker('{"n":4}'));
        assert.equal(next.seq, 4);
        assertChain(await store.listAudit(1, 100), 4);
      });
    });

    test('audit: 50 concurrent appends from two stores serialize into one chain', async (t) => {
      await withStore(t, async (a, open) => {
        // Two store instances: two pools for PostgreSQL (two coordinators), two connections for
        // SQLite. Each holds half of the appends, all started before any has finished.
        const b = await open();
        const appends = Array.from({ length: 50 }, (_, i) => {
          const body = JSON.stringify({ n: i });
          return (i % 2 === 0 ? a : b).appendAudit(body, linker(body));
        });
        const entries = (await Promise.all(appends)).sort((x, y) => x.seq - y.seq);
        assertChain(entries, 50);
        assert.deepEqual(await b.listAudit(1, 100), entries);
        assert.deepEqual(
          new Set(entries.map((e) => e.body)),
          new Set(Array.from({ length: 50 }, (_, i) => JSON.stringify({ n: i }))),
        );
      });
    });

    test('idempotency: claim, see the first claim, complete, release', async (t) => {
      await withStore(t, async (store) => {
        const first = claim('t1', 'idem-1');
        assert.equal(await store.claimIdempotency(first), null);
        // A second claim gets the running record unchanged, even with another request hash.
        assert.deepEqual(
          await store.claimIdempotency(claim('t1', 'idem-1', sha256('other'))),
          first,
        );
        // Keys are per token.
        assert.equal(await store.claimIdempotency(claim('t2', 'idem-1')), null);

        await store.completeIdempotency('t1', 'idem-1', 201, '{"id":"k1"}');
        const done = { ...first, status: 201, response: '{"id":"k1"}' };
        assert.deepEqual(await store.claimIdempotency(claim('t1', 'idem-1')), done);
        // The first answer stays: no second completion, and release leaves a finished record.
        await refuses(store.completeIdempotency('t1', 'idem-1', 500, 'x'), 'NOT_FOUND');
        await store.releaseIdempotency('t1', 'idem-1');
        assert.deepEqual(await store.claimIdempotency(claim('t1', 'idem-1')), done);
        await refuses(store.completeIdempotency('t1', 'never', 200, 'x'), 'NOT_FOUND');

        // A released running claim frees the key for a retry.
        await store.releaseIdempotency('t2', 'idem-1');
        assert.equal(await store.claimIdempotency(claim('t2', 'idem-1')), null);
        await refuses(
          store.claimIdempotency({ ...claim('t3', 'x'), status: 200, response: '{}' }),
          'INVALID_ARGUMENT',
        );

        // Ten simultaneous requests with one new key: exactly one runs.
        const racing = await Promise.all(
          Array.from({ length: 10 }, () => store.claimIdempotency(claim('t1', 'idem-race'))),
        );
        assert.equal(racing.filter((r) => r === null).length, 1);
      });
    });

    test('signatures: counts by key and token, exact sums above 2^64', async (t) => {
      await withStore(t, async (store) => {
        await store.insertKey(key('k', at(0)));
        await store.insertKey(key('other', at(0)));
        const big = '123456789012345678901234567890';
        const twoTo64 = (2n ** 64n).toString();
        const max = (2n ** 256n - 1n).toString();
        await store.recordSignature({ keyId: 'k', tokenId: 't1', at: at(10), value: big });
        await store.recordSignature({ keyId: 'k', tokenId: 't2', at: at(11), value: twoTo64 });
        await store.recordSignature({ keyId: 'k', tokenId: 't1', at: at(12), value: '1' });
        await store.recordSignature({ keyId: 'k', tokenId: 't1', at: at(13), value: '0' });
        await store.recordSignature({ keyId: 'other', tokenId: 't1', at: at(12), value: max });

        assert.equal(await store.countSignatures('k', at(0)), 4);
        // `since` is inclusive.
        assert.equal(await store.countSignatures('k', at(11)), 3);
        assert.equal(await store.countSignatures('k', at(0), 't1'), 3);
        assert.equal(await store.countSignatures('k', at(11), 't2'), 1);
        assert.equal(await store.countSignatures('k', at(14)), 0);
        assert.equal(await store.countSignatures('missing', at(0)), 0);

        assert.equal(await store.sumValue('k', at(0)), (BigInt(big) + 2n ** 64n + 1n).toString());
        assert.equal(await store.sumValue('k', at(0)), '123456789030792422974944119507');
        assert.equal(await store.sumValue('k', at(12)), '1');
        assert.equal(await store.sumValue('k', at(14)), '0');
        assert.equal(await store.sumValue('other', at(0)), max);
        // Twice the largest value still sums exactly, past the column's 78 digits.
        await store.recordSignature({ keyId: 'other', tokenId: 't1', at: at(13), value: max });
        assert.equal(await store.sumValue('other', at(0)), (2n * (2n ** 256n - 1n)).toString());

        for (const value of ['-1', '1.5', '1e3', '01', ' 1', '', '1'.repeat(79)]) {
          await refuses(
            store.recordSignature({ keyId: 'k', tokenId: 't1', at: at(20), value }),
            'INVALID_ARGUMENT',
          );
        }
        await refuses(
          store.recordSignature({ keyId: 'k', tokenId: 't1', at: '2025-01-01', value: '1' }),
          'INVALID_ARGUMENT',
        );
        await refuses(
          store.recordSignature({ keyId: 'missing', tokenId: 't1', at: at(20), value: '1' }),
          'MISSING_REFERENCE',
        );
        assert.equal(await store.countSignatures('k', at(0)), 4);
      });
    });

    test('reopening the store keeps everything', async (t) => {
      await withStore(t, async (store, open) => {
        const k = key('k', at(0));
        const policy: PolicyRecord = {
          keyId: 'k',
          allowedSignerSets: [[1, 2]],
          keyRatePerMinute: 5,
          tokenRatePerMinute: null,
          destinations: ['0xdead'],
          dailyValueLimit: '1000',
          updatedAt: at(1),
        };
        const tok = token('t1', 's1', ['k']);
        const ceremony: CeremonyRecord = {
          id: 'c1',
          kind: 'refresh',
          keyId: 'k',
          parties: [1, 2, 3],
          status: 'running',
          startedAt: at(2),
          finishedAt: null,
          error: null,
        };
        await store.insertKey(k);
        assert.equal(await store.updateKeyEpoch('k', 0, 1, 'kp1'), true);
        await store.putPolicy(policy);
        await store.insertToken(tok);
        await store.revokeToken('t1', at(3));
        await store.insertCeremony(ceremony);
        const audit = [
          await store.appendAudit('a', linker('a')),
          await store.appendAudit('b', linker('b')),
        ];
        await store.claimIdempotency(claim('t1', 'i1'));
        await store.completeIdempotency('t1', 'i1', 200, '{"ok":true}');
        await store.recordSignature({
          keyId: 'k',
          tokenId: 't1',
          at: at(4),
          value: '2' + '0'.repeat(30),
        });
        await store.close();

        const again = await open();
        assert.deepEqual(await again.listKeys(), [{ ...k, epoch: 1, keyPublic: 'kp1' }]);
        assert.deepEqual(await again.getPolicy('k'), policy);
        assert.deepEqual(await again.listTokens(), [{ ...tok, revokedAt: at(3) }]);
        assert.deepEqual(await again.getCeremony('c1'), ceremony);
        assert.deepEqual(await again.listAudit(1, 10), audit);
        assert.deepEqual(await again.claimIdempotency(claim('t1', 'i1')), {
          ...claim('t1', 'i1'),
          status: 200,
          response: '{"ok":true}',
        });
        assert.equal(await again.countSignatures('k', at(0), 't1'), 1);
        assert.equal(await again.sumValue('k', at(0)), '2' + '0'.repeat(30));
        // The chain continues from where it stopped.
        const third = await again.appendAudit('c', linker('c'));
        assert.equal(third.seq, 3);
        assertChain(await again.listAudit(1, 10), 3);
      });
    });
  });
}

// ---- SQLite ------------------------------------------------------------------------------

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mpckms-store-'));
  tempDirs.push(dir);
  return dir;
}

storeSuite(
  'SQLite store',
  async () => {
    const file = join(tempDir(), 'coordinator.db');
    return {
      open: () => openSqliteStore(file),
      async exec(sql) {
        const db = new Database(file);
        try {
          db.exec(sql);
        } finally {
          db.close();
        }
      },
    };
  },
  'SQLite is always available',
);

// ---- PostgreSQL --------------------------------------------------------------------------

/** Started on first use and shared by the PostgreSQL tests; undefined until then. */
let server: Promise<PostgresServer | null> | undefined;
after(async () => {
  await (await server)?.stop();
});

storeSuite(
  'PostgreSQL store',
  async () => {
    server ??= startPostgres();
    const running = await server;
    if (running === null) return null;
    const url = await running.createDatabase();
    return {
      open: () => openPostgresStore(url),
      async exec(sql) {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(sql);
        } finally {
          await client.end();
        }
      },
    };
  },
  'PostgreSQL is not installed',
);

// ---- what only SQLite has ----------------------------------------------------------------

describe('SQLite file', () => {
  test('is created 0600 in WAL mode, and a missing directory is refused', async () => {
    const dir = tempDir();
    const file = join(dir, 'coordinator.db');
    const store = await openSqliteStore(file);
    try {
      await store.migrate();
      await store.insertKey(key('k', at(0)));
      assert.equal(statSync(file).mode & 0o777, 0o600);
      // SQLite creates the -wal file with the database file's mode.
      assert.equal(statSync(file + '-wal').mode & 0o777, 0o600);
      const reader = new Database(file, { readonly: true });
      try {
        // WAL mode is recorded in the file, so another connection sees it too.
        assert.equal(reader.pragma('journal_mode', { simple: true }), 'wal');
        assert.equal(reader.prepare('SELECT count(*) FROM keys').pluck().get(), 1);
      } finally {
        reader.close();
      }
    } finally {
      await store.close();
    }
    await refuses(openSqliteStore(join(dir, 'no-such-dir', 'coordinator.db')), 'UNAVAILABLE');
  });

  test('two processes migrating one new file at once both succeed', async () => {
    // Worker threads have their own SQLite connections and really run in parallel; a barrier
    // releases both at the same moment so their migrations contend for the write lock.
    const file = join(tempDir(), 'coordinator.db');
    const moduleUrl = new URL('../coordinator/store/index.js', import.meta.url).href;
    const barrier = new Int32Array(new SharedArrayBuffer(4));
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.moduleUrl).then(async ({ openSqliteStore }) => {
        const store = await openSqliteStore(workerData.file);
        Atomics.add(workerData.barrier, 0, 1);
        while (Atomics.load(workerData.barrier, 0) < 2) Atomics.wait(workerData.barrier, 0, 1, 5);
        try {
          await store.migrate();
          parentPort.postMessage('ok');
        } catch (error) {
          parentPort.postMessage(String(error));
        } finally {
          await store.close();
        }
      });
    `;
    const run = (): Promise<unknown> =>
      new Promise((resolve, reject) => {
        const worker = new Worker(code, { eval: true, workerData: { moduleUrl, file, barrier } });
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    assert.deepEqual(await Promise.all([run(), run()]), ['ok', 'ok']);
    const db = new Database(file, { readonly: true });
    try {
      assert.deepEqual(db.prepare('SELECT version FROM schema_migrations').pluck().all(), [1]);
    } finally {
      db.close();
    }
  });
});

// ---- openStore ---------------------------------------------------------------------------

describe('openStore', () => {
  test('SQLite in the data directory by default, migrated', async () => {
    const dir = tempDir();
    const store = await openStore({ dataDir: dir });
    try {
      await store.insertKey(key('k', at(0)));
      assert.equal(statSync(join(dir, 'coordinator.db')).isFile(), true);
    } finally {
      await store.close();
    }
  });

  test('PostgreSQL for a postgres URL; other URLs refused', async (t) => {
    await refuses(
      openStore({ databaseUrl: 'mysql://localhost/db', dataDir: tempDir() }),
      'UNAVAILABLE',
    );
    server ??= startPostgres();
    const running = await server;
    if (running === null) return t.skip('PostgreSQL is not installed');
    const dir = tempDir();
    const store = await openStore({ databaseUrl: await running.createDatabase(), dataDir: dir });
    try {
      await store.insertKey(key('k', at(0)));
      assert.equal((await store.listKeys()).length, 1);
      assert.equal(statSync(join(dir, 'coordinator.db'), { throwIfNoEntry: false }), undefined);
    } finally {
      await store.close();
    }
  });
});
