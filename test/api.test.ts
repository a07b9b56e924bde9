/**
 * The REST API end to end: a real HTTP server (the coordinator, in this process) over real
 * enclave processes (`mpc-kms sim aws`, parent proxies, enclaves), with a real database — the
 * whole suite runs once on SQLite and once on PostgreSQL. Only HTTP is used to drive it, as a
 * caller would; signatures are checked with independent verifiers, derivations against BIP32,
 * and the exported audit log with `mpc-kms audit verify`, before and after tampering.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { HDKey } from '@scure/bip32';
import Database from 'better-sqlite3';
import pg from 'pg';
import { toHex } from '../protocol/bytes.js';
import { createLogger } from '../coordinator/logger.js';
import { startCoordinator, type RunningCoordinator } from '../coordinator/main.js';
import { startSimCluster, type SimCluster } from './cluster-sim.js';
import { startPostgres } from './postgres.js';
import { verifyEd25519 } from './verifiers.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** Runs the CLI without blocking the event loop; resolves with its exit status and stdout. */
async function cli(args: string[]): Promise<{ status: number; stdout: string }> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, ...args]);
    return { status: 0, stdout };
  } catch (error) {
    const e = error as { code?: number; stdout?: string };
    return { status: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '' };
  }
}
const ADMIN = `admin-${toHex(randomBytes(16))}`;

let sim: SimCluster;
let rootPem: string;

before(async () => {
  sim = await startSimCluster({ parties: 3, roundTimeoutMs: 4000 });
  rootPem = join(sim.dir, 'nsm-root.pem');
});

after(async () => {
  await sim?.stop();
});

interface Backend {
  readonly name: string;
  config(): Promise<{ dataDir: string; databaseUrl?: string }>;
  /** Rewrites one audit entry's stored body, as someone with database access could. */
  tamper(seq: number): Promise<void>;
  stop(): Promise<void>;
}

function sqliteBackend(): Backend {
  const dataDir = mkdtempSync(join(tmpdir(), 'mpc-kms-api-sqlite-'));
  return {
    name: 'SQLite',
    config: async () => ({ dataDir }),
    tamper: async (seq) => {
      const db = new Database(join(dataDir, 'coordinator.db'));
      db.prepare(
        'UPDATE audit SET body = replace(body, \'"outcome":"ok"\', \'"outcome":"no"\') WHERE seq = ?',
      ).run(seq);
      db.close();
    },
    stop: async () => {},
  };
}

function postgresBackend(): Backend {
  let server: Awaited<ReturnType<typeof startPostgres>> = null;
  return {
    name: 'PostgreSQL',
    config: async () => {
      server = await startPostgres();
      if (!server) throw new Error('PostgreSQL is not installed');
      return { dataDir: mkdtempSync(join(tmpdir(), 'mpc-kms-api-pg-')), databaseUrl: server.url };
    },
    tamper: async (seq) => {
      const client = new pg.Client({ connectionString: server!.url });
      await client.connect();
      await client.query(
        `UPDATE audit SET body = replace(body, '"outcome":"ok"', '"outcome":"no"') WHERE seq = $1`,
        [seq],
      );
      await client.end();
    },
    stop: async () => {
      await server?.stop();
    },
  };
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const make of [sqliteBackend, postgresBackend]) {
  const backend = make();
  describe(`REST API on ${backend.name}`, () => {
    let coordinator: RunningCoordinator;
    let url: string;

    before(async () => {
      const config = await backend.config();
      coordinator = await startCoordinator({
        host: '127.0.0.1',
        port: 0,
        ...config,
        parents: new Map([...sim.parties].map(([id, p]) => [id, p.coordinatorAddress])),
        identity: sim.coordinatorKey,
        enclavePolicy: {
          root: sim.root.der,
          expectedPcrs: sim.pcrs,
          maxDocumentAgeMs: 5 * 60 * 1000,
        },
        adminToken: ADMIN,
        logger: createLogger({ level: 'silent' }),
        requestTimeoutMs: 15_000,
      });
      url = coordinator.url;
      await coordinator.cluster.ready();
    });

    after(async () => {
      await coordinator?.close();
      await backend.stop();
    });

    const call = async (
      method: string,
      path: string,
      options: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {},
    ) => {
      const token = options.token === undefined ? ADMIN : options.token;
      const response = await fetch(`${url}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...options.headers,
        },
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      });
      const text = await response.text();
      return {
        status: response.status,
        headers: response.headers,
        // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, checked field by field
        body: (text ? JSON.parse(text) : null) as Record<string, any>,
      };
    };
    const token = async (role: string, keyIds?: string[]) =>
      (
        await call('POST', '/v1/tokens', {
          body: { name: role, role, ...(keyIds ? { keyIds } : {}) },
        })
      ).body.token as string;

    test('health, authentication and roles', async () => {
      const health = await call('GET', '/healthz', { token: null });
      assert.equal(health.status, 200);
      assert.equal(health.body.status, 'ok');
      assert.equal((await call('GET', '/v1/keys', { token: null })).status, 401);
      assert.equal((await call('GET', '/v1/keys', { token: 'nope' })).status, 401);
      const auditor = await token('auditor');
      const refused = await call('POST', '/v1/keys', {
        token: auditor,
        body: { scheme: 'eddsa-ed25519', threshold: 2, parties: 3 },
      });
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error.code, 'FORBIDDEN');
      const bad = await call('POST', '/v1/keys', {
        body: { scheme: 'eddsa-ed25519', threshold: 2, parties: 3, extra: 1 },
      });
      assert.equal(bad.status, 400);
      const unsatisfiable = await call('POST', '/v1/keys', {
        body: { scheme: 'eddsa-ed25519', threshold: 3, parties: 2 },
      });
      assert.equal(unsatisfiable.status, 422);
      assert.equal((await call('GET', '/v1/keys/key_nope')).status, 404);
    });

    test('Ed25519: create, derive, sign with a scoped signer token, idempotently', async () => {
      const created = await call('POST', '/v1/keys', {
        body: { scheme: 'eddsa-ed25519', threshold: 2, parties: 3 },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const key = created.body;
      for (const field of [
        'id',
        'scheme',
        'threshold',
        'parties',
        'publicKey',
        'chainCode',
        'epoch',
      ]) {
        assert.ok(field in key, field);
      }
      assert.equal(key.publicKey.length, 64);
      const signer = await token('signer', [key.id]);
      const other = await token('signer', ['key_other']);
      const message = toHex(randomBytes(48));

      assert.equal(
        (await call('POST', `/v1/keys/${key.id}/sign`, { body: { message } })).status,
        403,
      );
      assert.equal(
        (await call('POST', `/v1/keys/${key.id}/sign`, { token: other, body: { message } })).status,
        403,
      );
      assert.equal(
        (
          await call('POST', `/v1/keys/${key.id}/sign`, {
            token: signer,
            body: { digest: message.slice(0, 64) },
          })
        ).status,
        400,
      );
      const headers = { 'idempotency-key': `sign-${key.id}` };
      const first = await call('POST', `/v1/keys/${key.id}/sign`, {
        token: signer,
        body: { message },
        headers,
      });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.ok(
        verifyEd25519(
          Buffer.from(key.publicKey, 'hex'),
          Buffer.from(message, 'hex'),
          Buffer.from(first.body.signature, 'hex'),
        ),
      );
      const again = await call('POST', `/v1/keys/${key.id}/sign`, {
        token: signer,
        body: { message },
        headers,
      });
      assert.deepEqual(again.body, first.body);
      assert.equal(again.headers.get('idempotent-replay'), 'true');

      const derived = await call('POST', `/v1/keys/${key.id}/derive`, {
        token: signer,
        body: { path: 'm/0/7' },
      });
      assert.equal(derived.status, 200);
      const underPath = await call('POST', `/v1/keys/${key.id}/sign`, {
        token: signer,
        body: { message, path: 'm/0/7' },
      });
      assert.equal(underPath.body.publicKey, derived.body.publicKey);
      assert.ok(
        verifyEd25519(
          Buffer.from(derived.body.publicKey, 'hex'),
          Buffer.from(message, 'hex'),
          Buffer.from(underPath.body.signature, 'hex'),
        ),
      );
    });

    test('ECDSA and BIP340: signatures verify; derivation equals BIP32; refresh keeps the key', async () => {
      const ecdsa = (
        await call('POST', '/v1/keys', {
          body: { scheme: 'ecdsa-secp256k1', threshold: 2, parties: 3 },
        })
      ).body;
      const taproot = (
        await call('POST', '/v1/keys', {
          body: { scheme: 'schnorr-secp256k1-bip340', threshold: 2, parties: 3 },
        })
      ).body;
      const signer = await token('signer', [ecdsa.id, taproot.id]);
      const digest = toHex(randomBytes(32));

      const signed = await call('POST', `/v1/keys/${ecdsa.id}/sign`, {
        token: signer,
        body: { digest },
      });
      assert.equal(signed.status, 200, JSON.stringify(signed.body));
      assert.ok(
        secp256k1.verify(
          Buffer.from(signed.body.signature, 'hex'),
          Buffer.from(digest, 'hex'),
          Buffer.from(ecdsa.publicKey, 'hex'),
          { prehash: false },
        ),
      );
      assert.ok(typeof signed.body.recoveryId === 'number' && typeof signed.body.der === 'string');

      const hd = new HDKey({
        publicKey: Buffer.from(ecdsa.publicKey, 'hex'),
        chainCode: Buffer.from(ecdsa.chainCode, 'hex'),
      });
      const derived = await call('POST', `/v1/keys/${ecdsa.id}/derive`, {
        token: signer,
        body: { path: 'm/3/1' },
      });
      assert.equal(derived.body.publicKey, toHex(hd.derive('m/3/1').publicKey!));
      assert.equal(derived.body.chainCode, toHex(hd.derive('m/3/1').chainCode!));

      const bip = await call('POST', `/v1/keys/${taproot.id}/sign`, {
        token: signer,
        body: { digest },
      });
      assert.ok(
        schnorr.verify(
          Buffer.from(bip.body.signature, 'hex'),
          Buffer.from(digest, 'hex'),
          Buffer.from(taproot.publicKey, 'hex'),
        ),
      );

      const refreshed = await call('POST', `/v1/keys/${ecdsa.id}/refresh`, { body: {} });
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      assert.equal(refreshed.body.epoch, 1);
      const after = await call('GET', `/v1/keys/${ecdsa.id}`);
      assert.equal(after.body.publicKey, ecdsa.publicKey);
      const again = await call('POST', `/v1/keys/${ecdsa.id}/sign`, {
        token: signer,
        body: { digest },
      });
      assert.ok(
        secp256k1.verify(
          Buffer.from(again.body.signature, 'hex'),
          Buffer.from(digest, 'hex'),
          Buffer.from(ecdsa.publicKey, 'hex'),
          { prehash: false },
        ),
      );
    });

    test('policy: allowed signer sets and rate limits refuse with the rule', async () => {
      const key = (
        await call('POST', '/v1/keys', {
          body: {
            scheme: 'eddsa-ed25519',
            threshold: 2,
            parties: 3,
            policy: {
              allowedSignerSets: [
                [1, 2],
                [2, 3],
              ],
            },
          },
        })
      ).body;
      const signer = await token('signer', [key.id]);
      const message = '00ff';
      const refused = await call('POST', `/v1/keys/${key.id}/sign`, {
        token: signer,
        body: { message, signers: [1, 3] },
      });
      assert.equal(refused.status, 403);
      assert.equal(
        refused.body.error.details?.rule ?? refused.body.error.rule,
        'allowedSignerSets',
      );
      const policy = (await call('GET', `/v1/keys/${key.id}/policy`)).body;
      const put = await call('PUT', `/v1/keys/${key.id}/policy`, {
        body: { ...policy, tokenRatePerMinute: 1 },
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.equal(
        (await call('POST', `/v1/keys/${key.id}/sign`, { token: signer, body: { message } }))
          .status,
        200,
      );
      const limited = await call('POST', `/v1/keys/${key.id}/sign`, {
        token: signer,
        body: { message },
      });
      assert.equal(limited.status, 429);
      assert.ok(limited.headers.get('retry-after'));
    });

    test('attestations verify against the root; the audit chain verifies, and a tampered entry is found', async () => {
      const auditor = await token('auditor');
      const attestations = await call('GET', '/v1/attestations', { token: auditor });
      assert.equal(attestations.status, 200);
      assert.equal(attestations.body.length, 3);
      for (const a of attestations.body as unknown as { party: number; document: string }[]) {
        const file = join(sim.dir, `att-${a.party}.b64`);
        writeFileSync(file, a.document);
        const result = await cli([
          'attest',
          'verify',
          file,
          '--root',
          rootPem,
          '--pcr',
          `0=${toHex(sim.pcrs.get(0)!)}`,
        ]);
        assert.equal(result.status, 0, result.stdout);
      }
      const exported = await call('GET', '/v1/audit', { token: auditor });
      const file = join(sim.dir, `audit-${backend.name}.json`);
      writeFileSync(file, JSON.stringify(exported.body));
      const pcrArgs = [0, 1, 2].flatMap((i) => ['--pcr', `${i}=${toHex(sim.pcrs.get(i)!)}`]);
      const verified = await cli(['audit', 'verify', file, '--root', rootPem, ...pcrArgs]);
      assert.equal(verified.status, 0, verified.stdout);
      const ok = JSON.parse(verified.stdout);
      assert.equal(ok.valid, true);
      assert.ok(ok.acknowledgements >= 4, JSON.stringify(ok));

      const target = (exported.body.entries as { seq: number; entry: { action: string } }[]).find(
        (e) => e.entry.action === 'sign',
      )!;
      await backend.tamper(target.seq);
      const tampered = await call('GET', '/v1/audit', { token: auditor });
      writeFileSync(file, JSON.stringify(tampered.body));
      const broken = await cli(['audit', 'verify', file, '--root', rootPem, ...pcrArgs]);
      assert.equal(broken.status, 1);
      assert.equal(JSON.parse(broken.stdout).brokenAt, target.seq);
    });

    test('quorum: with an enclave down, what needs it answers 503 naming it; 2-of-3 still signs', async () => {
      const twoOfThree = (
        await call('POST', '/v1/keys', {
          body: { scheme: 'eddsa-ed25519', threshold: 2, parties: 3 },
        })
      ).body;
      const threeOfThree = (
        await call('POST', '/v1/keys', {
          body: { scheme: 'eddsa-ed25519', threshold: 3, parties: 3 },
        })
      ).body;
      const signer = await token('signer', [twoOfThree.id, threeOfThree.id]);
      await sim.parties.get(3)!.enclave.kill('SIGKILL');
      await waitFor(
        async () => (await call('GET', '/healthz', { token: null })).body.status !== 'ok',
      );
      const health = await call('GET', '/healthz', { token: null });
      assert.deepEqual(
        health.body.parties
          .filter((p: { healthy: boolean }) => !p.healthy)
          .map((p: { id: number }) => p.id),
        [3],
      );
      const refused = await call('POST', '/v1/keys', {
        body: { scheme: 'eddsa-ed25519', threshold: 2, parties: 3 },
      });
      assert.equal(refused.status, 503);
      assert.deepEqual(refused.body.error.details.missing, [3]);
      const unsignable = await call('POST', `/v1/keys/${threeOfThree.id}/sign`, {
        token: signer,
        body: { message: '01' },
      });
      assert.equal(unsignable.status, 503);
      assert.deepEqual(unsignable.body.error.details.missing, [3]);
      const signed = await call('POST', `/v1/keys/${twoOfThree.id}/sign`, {
        token: signer,
        body: { message: '01' },
      });
      assert.equal(signed.status, 200, JSON.stringify(signed.body));
      await sim.restartEnclave(3);
      await waitFor(
        async () => (await call('GET', '/healthz', { token: null })).body.status === 'ok',
        20_000,
      );
    });

    test('metrics expose ceremonies and quorum', async () => {
      const metrics = await fetch(`${url}/metrics`);
      const text = await metrics.text();
      assert.match(text, /ceremony_duration_seconds/);
      assert.match(text, /healthy_parties/);
    });
  });
}
