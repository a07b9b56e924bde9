/**
 * `mpc-kms demo` (what `npm start` runs until the simulator lands): in one process, a 2-of-3 DKG
 * and a signature for each scheme (FROST for Ed25519, BIP340 and secp256k1; CGGMP21 for ECDSA),
 * each verified by an independent verifier, then a signature under a derived path and a refresh
 * that keeps the key.
 */
import { generatePrimeSync, randomBytes } from 'node:crypto';
import { toHex, utf8 } from '../protocol/bytes.js';
import { runDkg, runRefresh, runSign } from '../protocol/ceremonies.js';
import { derivePath } from '../protocol/derive.js';
import { groupByName } from '../protocol/group.js';
import type { KeyShare } from '../protocol/keyshare.js';
import { FROST_SCHEMES, type FrostScheme } from '../protocol/schemes.js';
import { VERIFIER_NAME, verifyEcdsaWithNode, verifySignature } from './verify.js';
import { runAux, runEcdsaRefresh, runEcdsaSign, runPresign } from '../protocol/ecdsa-ceremonies.js';
import { sha256 } from '@noble/hashes/sha2.js';

const rng = (n: number) => new Uint8Array(randomBytes(n));

/** The key as each scheme publishes it (BIP340 keys are x-only). */
function published(scheme: FrostScheme, point: { toBytes(): Uint8Array }): Uint8Array {
  const bytes = point.toBytes();
  return scheme === 'schnorr-secp256k1-bip340' ? bytes.subarray(1) : bytes;
}

function timed<T>(work: () => T): [T, string] {
  const start = performance.now();
  const result = work();
  return [result, `${(performance.now() - start).toFixed(1)} ms`];
}

/** Threshold ECDSA: DKG, auxiliary info (with fresh safe primes), presigning, signing, refresh. */
function ecdsaDemo(
  out: (line: string) => void,
  parties: number[],
  threshold: number,
  message: Uint8Array,
  mark: (ok: boolean) => string,
): number {
  let failures = 0;
  const check = (ok: boolean) => {
    if (!ok) failures++;
    return mark(ok);
  };
  const group = groupByName('secp256k1');
  out('ecdsa-secp256k1  [CGGMP21]');
  const [shares, dkgTime] = timed(() => runDkg(group, parties, threshold, { rng }));
  const first = shares[0]!;
  out(`  DKG ${threshold}-of-${parties.length} among parties ${parties.join(', ')}   ${dkgTime}`);
  out(`    public key  ${toHex(first.publicKey.toBytes())}`);
  const makePrimes = () =>
    new Map(
      parties.map((p) => [
        p,
        {
          p: generatePrimeSync(1024, { safe: true, bigint: true }),
          q: generatePrimeSync(1024, { safe: true, bigint: true }),
        },
      ]),
    );
  const [primes, primeTime] = timed(makePrimes);
  out(`  safe primes (2 × 1024 bits per party, OpenSSL)   ${primeTime}`);
  const [auxes, auxTime] = timed(() => runAux(shares, primes, { rng }));
  out(`  auxiliary info: Paillier-Blum moduli, ring-Pedersen, Πmod Πprm Πfac   ${auxTime}`);

  const digest = sha256(message);
  const signAndCheck = (
    label: string,
    keyShares: KeyShare[],
    keyAux: typeof auxes,
    signers: number[],
    path?: string,
  ) => {
    const [presignatures, presignTime] = timed(() =>
      runPresign(keyShares, keyAux, signers, { rng }),
    );
    out(`  presign by parties ${signers.join(', ')} (Πenc, Πaff-g, Πlog*)   ${presignTime}`);
    const [signature, signTime] = timed(() =>
      runEcdsaSign(keyShares, presignatures, { digest, ...(path ? { path } : {}) }, { rng }),
    );
    const key = path
      ? derivePath(group, first.publicKey, first.chainCode, path).publicKey
      : first.publicKey;
    out(`  ${label}   ${signTime}`);
    if (path) out(`    derived key ${toHex(key.toBytes())}`);
    out(`    signature   ${toHex(signature.compact)}  recovery id ${signature.recoveryId}`);
    out(
      `    ${check(verifyEcdsaWithNode(key.toBytes(), message, signature.der))} under node:crypto ECDSA (DER, SHA-256)`,
    );
  };
  signAndCheck('sign', shares, auxes, [1, 3]);
  signAndCheck('sign under m/0/7', shares, auxes, [2, 3], 'm/0/7');
  const [fresh, primeTime2] = timed(makePrimes);
  out(`  safe primes for the refresh   ${primeTime2}`);
  const [refreshed, refreshTime] = timed(() => runEcdsaRefresh(shares, fresh, { rng }));
  const same = refreshed.shares[0]!.publicKey.equals(first.publicKey);
  out(
    `  refresh to epoch ${refreshed.shares[0]!.epoch} with new Paillier keys   ${refreshTime}   public key ${same ? 'unchanged' : 'CHANGED'}`,
  );
  if (!same) failures++;
  signAndCheck('sign after refresh', refreshed.shares, refreshed.auxes, [1, 2]);
  out('');
  return failures;
}

export function demoCommand(out: (line: string) => void): number {
  const parties = [1, 2, 3];
  const threshold = 2;
  const message = utf8('mpc-kms demonstration message');
  let failures = 0;
  const mark = (ok: boolean) => {
    if (!ok) failures++;
    return ok ? 'valid' : 'INVALID';
  };
  out('mpc-kms: in-process demonstration of threshold signing');
  out('(all parties run in this process; messages pass through their wire encoding)\n');

  for (const scheme of Object.keys(FROST_SCHEMES) as FrostScheme[]) {
    const suite = FROST_SCHEMES[scheme];
    out(`${scheme}  [${suite.id}]`);
    const [shares, dkgTime] = timed(() => runDkg(suite.group, parties, threshold, { rng }));
    const first = shares[0]!;
    out(`  DKG ${threshold}-of-${parties.length} among parties ${parties.join(', ')}   ${dkgTime}`);
    out(`    public key  ${toHex(published(scheme, first.publicKey))}`);
    out(`    chain code  ${toHex(first.chainCode)}`);

    const signAndCheck = (
      label: string,
      keyShares: KeyShare[],
      signers: number[],
      path?: string,
    ) => {
      const [signature, time] = timed(() =>
        runSign(keyShares, { suite, message, signers, ...(path ? { path } : {}) }, { rng }),
      );
      const key = path
        ? derivePath(groupByName(first.group), first.publicKey, first.chainCode, path).publicKey
        : first.publicKey;
      const ok = verifySignature(scheme, published(scheme, key), message, signature);
      out(`  ${label} by parties ${signers.join(', ')}   ${time}`);
      if (path) out(`    derived key ${toHex(published(scheme, key))}`);
      out(`    signature   ${toHex(signature)}`);
      out(`    ${mark(ok)} under ${VERIFIER_NAME[scheme]}`);
    };
    signAndCheck('sign', shares, [1, 3]);
    signAndCheck('sign under m/0/7', shares, [2, 3], 'm/0/7');
    const [refreshed, refreshTime] = timed(() => runRefresh(shares, { rng }));
    const same = refreshed[0]!.publicKey.equals(first.publicKey);
    out(
      `  refresh to epoch ${refreshed[0]!.epoch}   ${refreshTime}   public key ${same ? 'unchanged' : 'CHANGED'}`,
    );
    if (!same) failures++;
    signAndCheck('sign after refresh', refreshed, [1, 2]);
    out('');
  }
  failures += ecdsaDemo(out, parties, threshold, message, mark);
  out(failures === 0 ? 'all signatures verified' : `${failures} checks FAILED`);
  return failures === 0 ? 0 : 1;
}
