/**
 * `mpc-kms demo [--url URL --token TOKEN] [--data DIR]`: a walkthrough of the running system
 * through its REST API only, as a client would use it, with every result checked by code that
 * shares nothing with the signing side.
 *
 *   1. health        GET /healthz: every party up
 *   2. keys          a 2-of-3 key per scheme (admin token), derived to m/0/7, with addresses
 *   3. tokens        a signer token scoped to those keys and an auditor token; the admin token
 *                    is refused signing (separation of duties)
 *   4. sign          each key signs, at its root and at m/0/7; independent verifiers check
 *   5. refresh       new shares (epoch 1), same public key, and signing still verifies
 *   6. audit         the hash chain, then `mpc-kms audit verify` (enclave acknowledgements)
 *   7. attestations  each enclave's document against the simulated NSM root and measured PCRs
 *
 * With `--url` it uses that system; `--data DIR` (default `.mpc-kms`, what `mpc-kms sim up`
 * uses) is where it looks for the simulated NSM root (`nsm/root.pem`) and the measured PCRs
 * (`pcrs.json`), the trust material for steps 6 and 7; without them those checks are skipped,
 * saying so. Without `--url` it starts its own system (simulator/up.ts) in a new temporary
 * directory and always stops it and removes the directory afterwards.
 *
 * Exit 0 when every check passed, 1 when any failed (or the system could not be reached or
 * started), 2 on usage errors.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { sha256 } from '@noble/hashes/sha2.js';
import type { HealthView, KeyView, Scheme, SignatureView } from '../coordinator/service-types.js';
import { toHex, utf8 } from '../protocol/bytes.js';
import { simUp, type RunningSim } from '../simulator/up.js';
import { ethereumAddress, solanaAddress, taprootAddress } from '../coordinator/chains/addresses.js';
import { Api, ApiError, Checks, duration, hexBytes, row, short } from './demo-api.js';
import { checkAttestations, checkAudit, loadTrust, type Trust } from './demo-audit.js';
import {
  VERIFIER_NAME,
  isLowS,
  recoverEcdsa,
  verifyBip340,
  verifyEcdsa,
  verifyEd25519,
} from './verify.js';

export const DEMO_USAGE = 'usage: mpc-kms demo [--url URL --token TOKEN] [--data DIR]';

const PARTIES = 3;
const THRESHOLD = 2;
const PATH = 'm/0/7';

interface SchemeInfo {
  readonly scheme: Scheme;
  readonly protocol: string;
  /** Bytes of the public key as the API returns it. */
  readonly keyLength: number;
  /** Said before slow ceremonies, so a pause does not look like a hang. */
  readonly slow?: { readonly keygen: string; readonly sign: string; readonly refresh: string };
}

const SCHEMES: readonly SchemeInfo[] = [
  { scheme: 'eddsa-ed25519', protocol: 'FROST(Ed25519, SHA-512), RFC 9591', keyLength: 32 },
  { scheme: 'schnorr-secp256k1-bip340', protocol: 'FROST with BIP340 challenges', keyLength: 32 },
  {
    scheme: 'ecdsa-secp256k1',
    protocol: 'CGGMP21',
    keyLength: 33,
    slow: {
      keygen: 'DKG, then a Paillier key per party from fresh safe primes, with proofs',
      sign: 'each signature runs a presigning ceremony first',
      refresh: 'new shares and new Paillier keys from fresh safe primes',
    },
  },
];

/** What the walkthrough runs against. */
interface Target {
  readonly url: string;
  readonly adminToken: string;
  /** Where `nsm/root.pem` and `pcrs.json` may be. */
  readonly dataDir: string;
}

/** A key made by step 2, with what later steps check against. */
interface DemoKey {
  readonly info: SchemeInfo;
  readonly id: string;
  readonly publicKey: Uint8Array;
  readonly derivedKey: Uint8Array;
}

/** Runs `mpc-kms demo`; resolves with the exit code. */
export async function demoCommand(
  args: readonly string[],
  out: (line: string) => void,
  err: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let target: Target | null;
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: {
        url: { type: 'string' },
        token: { type: 'string' },
        data: { type: 'string' },
      },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
    if (values.url === undefined) {
      // Without --url the demo makes its own system, token and data directory.
      if (values.token !== undefined || values.data !== undefined) {
        throw new Error('--token and --data go with --url');
      }
      target = null;
    } else {
      const url = new URL(values.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new Error('--url must be an http or https URL');
      }
      const token = values.token ?? env.MPC_KMS_ADMIN_TOKEN;
      if (!token) throw new Error('--url needs --token TOKEN or MPC_KMS_ADMIN_TOKEN');
      const dataDir = resolve(values.data ?? '.mpc-kms');
      target = { url: url.href.replace(/\/+$/, ''), adminToken: token, dataDir };
    }
  } catch (error) {
    err(`mpc-kms demo: ${error instanceof Error ? error.message : String(error)}`);
    err(DEMO_USAGE);
    return 2;
  }

  if (target === null) return withOwnSystem(out, err);
  out(`mpc-kms demo: the system at ${target.url}, through its REST API only`);
  return walkthrough(target, out);
}

/** Starts a system in a temporary directory, walks through it, and always tears it down. */
async function withOwnSystem(
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  // simUp configures the simulated KMS with the AWS SDK, which warns on Node 20 that its 2027
  // releases will need Node 22; that notice has nothing to do with the demo (the simulator
  // silences it in its child processes the same way).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const dir = mkdtempSync(join(tmpdir(), 'mpc-kms-demo-'));
  const started = performance.now();
  out(`mpc-kms demo: starting a local system (${PARTIES} enclaves) in ${dir}`);
  let ready = false;
  const starting = simUp({
    parties: PARTIES,
    threshold: THRESHOLD,
    port: 0,
    dataDir: dir,
    // Start-up progress is worth showing; ceremony progress would interleave with the
    // walkthrough's own lines (which carry their timings), so it is dropped once ready.
    progress: (line) => {
      if (!ready) out(`  ${line}`);
    },
  });
  // Interrupted: stop the processes and remove the directory before exiting, since nothing
  // after this point will run. The teardown is shared so it happens once either way.
  let teardown: Promise<void> | undefined;
  const stop = () =>
    (teardown ??= (async () => {
      const sim: RunningSim | null = await starting.catch(() => null);
      await sim?.stop();
      rmSync(dir, { recursive: true, force: true });
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    err(`mpc-kms demo: ${signal}, stopping the system`);
    // The shell's convention: 128 + the signal number.
    void stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let sim: RunningSim;
    try {
      sim = await starting;
    } catch (error) {
      err(
        `mpc-kms demo: the system did not start: ${error instanceof Error ? error.message : error}`,
      );
      return 1;
    }
    ready = true;
    out(`  ready at ${sim.url}   ${duration(performance.now() - started)}`);
    return await walkthrough({ url: sim.url, adminToken: sim.adminToken, dataDir: dir }, out);
  } finally {
    if (ready) out('stopping the local system');
    await stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Runs the seven steps and prints the tally; never throws. A failure inside a scheme's part of a
 * step is counted and the other schemes go on; one that leaves nothing to go on with (the
 * system unreachable, no tokens) is counted and ends the walkthrough.
 */
async function walkthrough(target: Target, out: (line: string) => void): Promise<number> {
  const started = performance.now();
  const checks = new Checks(out);
  try {
    await steps(target, checks, out);
  } catch (error) {
    checks.error('the walkthrough stopped', error);
  }
  const total = checks.passed + checks.failed;
  const time = duration(performance.now() - started);
  out(
    checks.failed === 0
      ? `\nall ${total} checks passed   ${time}`
      : `\n${checks.failed} of ${total} checks FAILED   ${time}`,
  );
  return checks.failed === 0 ? 0 : 1;
}

async function steps(target: Target, checks: Checks, out: (line: string) => void): Promise<void> {
  const api = new Api(target.url);
  const admin = target.adminToken;
  let trust: Trust | null = null;
  try {
    trust = loadTrust(target.dataDir, out);
  } catch (error) {
    checks.error('reading the NSM root and PCRs', error);
  }

  out('\n1. health');
  const health = await api.call<HealthView>('GET', '/healthz', null);
  const up = health.value.parties.filter((p) => p.healthy).map((p) => p.id);
  out(row('GET /healthz', `${health.value.status}: parties ${up.join(', ')} up`, health.ms));
  checks.check(
    health.value.status === 'ok' && up.length === health.value.parties.length,
    `all ${health.value.parties.length} parties healthy`,
  );

  out(`\n2. keys (admin token): one ${THRESHOLD}-of-${PARTIES} key per scheme, derived to ${PATH}`);
  const keys: DemoKey[] = [];
  for (const info of SCHEMES) {
    try {
      keys.push(await createKey(api, admin, info, out));
    } catch (error) {
      checks.error(`${info.scheme} key`, error);
    }
  }

  out('\n3. tokens (admin token)');
  const tag = toHex(randomBytes(3));
  const signer = await api.call<{ token: string; id: string }>('POST', '/v1/tokens', admin, {
    name: `demo-signer-${tag}`,
    role: 'signer',
    keyIds: keys.map((k) => k.id),
  });
  out(row('signer', `${signer.value.id}, scoped to the ${keys.length} keys above`, signer.ms));
  const auditor = await api.call<{ token: string; id: string }>('POST', '/v1/tokens', admin, {
    name: `demo-auditor-${tag}`,
    role: 'auditor',
  });
  out(row('auditor', auditor.value.id, auditor.ms));
  if (keys[0]) {
    // Separation of duties: whoever creates keys and tokens cannot also sign.
    const refused = await api
      .call('POST', `/v1/keys/${keys[0].id}/sign`, admin, signRequest(keys[0].info, 'x'))
      .then(
        () => 'signed',
        (error: unknown) =>
          error instanceof ApiError ? `${error.status} ${error.code}` : String(error),
      );
    checks.check(refused === '403 FORBIDDEN', `the admin token may not sign: ${refused}`);
  }

  out('\n4. sign (signer token), each signature checked by an independent verifier');
  for (const key of keys) {
    out(`  ${key.info.scheme}`);
    if (key.info.slow) out(`    (${key.info.slow.sign})`);
    try {
      await signAndVerify(api, signer.value.token, key, null, checks, out);
      await signAndVerify(api, signer.value.token, key, PATH, checks, out);
    } catch (error) {
      checks.error(`${key.info.scheme} signing`, error);
    }
  }

  out('\n5. refresh (admin token): new shares, same public key');
  for (const key of keys) {
    out(`  ${key.info.scheme}`);
    if (key.info.slow) out(`    (${key.info.slow.refresh}: several seconds)`);
    try {
      const refreshed = await api.call<{ epoch: number }>(
        'POST',
        `/v1/keys/${key.id}/refresh`,
        admin,
        {},
      );
      const record = await api.call<KeyView>('GET', `/v1/keys/${key.id}`, admin);
      out(row('refresh', `epoch ${refreshed.value.epoch}`, refreshed.ms));
      checks.check(
        refreshed.value.epoch === 1 &&
          record.value.epoch === 1 &&
          record.value.publicKey === toHex(key.publicKey),
        'epoch 1, public key unchanged (GET /v1/keys/{id})',
        `epoch ${record.value.epoch}, key ${short(record.value.publicKey)}`,
      );
      await signAndVerify(api, signer.value.token, key, null, checks, out);
    } catch (error) {
      checks.error(`${key.info.scheme} refresh`, error);
    }
  }

  out('\n6. audit log (auditor token)');
  try {
    await checkAudit(api, auditor.value.token, trust, checks, out);
  } catch (error) {
    checks.error('audit', error);
  }

  out('\n7. attestations (auditor token)');
  try {
    await checkAttestations(api, auditor.value.token, trust, checks, out);
  } catch (error) {
    checks.error('attestations', error);
  }
}

/** Step 2 for one scheme: create, derive, show addresses. */
async function createKey(
  api: Api,
  admin: string,
  info: SchemeInfo,
  out: (line: string) => void,
): Promise<DemoKey> {
  out(`  ${info.scheme}  [${info.protocol}]`);
  if (info.slow) out(`    (${info.slow.keygen}: several seconds)`);
  const created = await api.call<KeyView>('POST', '/v1/keys', admin, {
    scheme: info.scheme,
    threshold: THRESHOLD,
    parties: PARTIES,
  });
  const publicKey = hexBytes(created.value.publicKey, 'public key', info.keyLength);
  out(row('key', `${created.value.id}, epoch ${created.value.epoch}`, created.ms));
  out(row('public key', toHex(publicKey)));
  const derived = await api.call<{ publicKey: string }>(
    'POST',
    `/v1/keys/${created.value.id}/derive`,
    admin,
    { path: PATH },
  );
  const derivedKey = hexBytes(derived.value.publicKey, 'derived key', info.keyLength);
  out(row(PATH, toHex(derivedKey), derived.ms));
  switch (info.scheme) {
    case 'eddsa-ed25519':
      out(row('Solana', `${solanaAddress(publicKey)} (root)`));
      out(row('', `${solanaAddress(derivedKey)} (${PATH})`));
      break;
    case 'schnorr-secp256k1-bip340':
      out(row('Taproot', `${taprootAddress(derivedKey)} (${PATH})`));
      break;
    case 'ecdsa-secp256k1':
      out(row('Ethereum', `${ethereumAddress(derivedKey)} (${PATH})`));
      break;
  }
  return { info, id: created.value.id, publicKey, derivedKey };
}

/** The sign body: Ed25519 signs the message itself, the secp256k1 schemes its SHA-256. */
function signRequest(info: SchemeInfo, text: string, path?: string) {
  const message = utf8(text);
  return {
    ...(info.scheme === 'eddsa-ed25519'
      ? { message: toHex(message) }
      : { digest: toHex(sha256(message)) }),
    ...(path ? { path } : {}),
  };
}

/** Step 4 (and 5): one signature, checked against the key step 2 obtained, not the answer's. */
async function signAndVerify(
  api: Api,
  token: string,
  key: DemoKey,
  path: string | null,
  checks: Checks,
  out: (line: string) => void,
): Promise<void> {
  const text = `mpc-kms demo: ${key.info.scheme}${path ? ` at ${path}` : ''}`;
  const message = utf8(text);
  const digest = sha256(message);
  const signed = await api.call<SignatureView>(
    'POST',
    `/v1/keys/${key.id}/sign`,
    token,
    signRequest(key.info, text, path ?? undefined),
  );
  const signature = hexBytes(signed.value.signature, 'signature', 64);
  const expected = path ? key.derivedKey : key.publicKey;
  out(row(path ?? 'sign', `signature ${short(toHex(signature), 24)}`, signed.ms));
  const under = path ? ` under the ${path} key` : '';
  const sameKey = signed.value.publicKey === toHex(expected);
  const why = sameKey ? '' : `the answer names key ${short(signed.value.publicKey)}`;
  switch (key.info.scheme) {
    case 'eddsa-ed25519':
      checks.check(
        sameKey && verifyEd25519(expected, message, signature),
        `verified by ${VERIFIER_NAME[key.info.scheme]}${under}`,
        why,
      );
      break;
    case 'schnorr-secp256k1-bip340':
      checks.check(
        sameKey && verifyBip340(expected, digest, signature),
        `verified by ${VERIFIER_NAME[key.info.scheme]}${under}`,
        why,
      );
      break;
    case 'ecdsa-secp256k1': {
      const der = hexBytes(signed.value.der, 'DER signature');
      checks.check(
        sameKey && verifyEcdsa(expected, message, der) && isLowS(signature),
        `verified by ${VERIFIER_NAME[key.info.scheme]}${under}, low-s`,
        why,
      );
      const recoveryId = signed.value.recoveryId;
      const recovered =
        typeof recoveryId === 'number' ? recoverEcdsa(signature, recoveryId, digest) : null;
      checks.check(
        recovered !== null && toHex(recovered) === toHex(expected),
        `recovery id ${recoveryId} recovers the key (@noble/curves)`,
      );
      break;
    }
  }
}
