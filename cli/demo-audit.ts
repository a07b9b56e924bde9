/**
 * Steps 6 and 7 of `mpc-kms demo` (cli/demo.ts): what an auditor checks with nothing but the
 * API, an auditor token and the deployment's trust material.
 *
 * - The audit log is fetched whole (paged from entry 1: a hash chain can only be checked from
 *   the genesis hash), its chain checked with `verifyChain`, and then the export is handed to
 *   `mpc-kms audit verify` exactly as a reviewer would run it on a saved file, which also checks
 *   each enclave's acknowledgement of each signature under the key its attestation binds.
 * - Each enclave's latest attestation document is verified with `verifyAttestation`: COSE
 *   signature, certificate chain to the (simulated) NSM root, and PCR0-2 equal to the measured
 *   enclave bundle.
 *
 * Trust material comes from the data directory of `mpc-kms sim up`; it is never taken from the
 * API being checked, which would make the checks circular.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyAttestation } from '../attestation/index.js';
import { verifyChain, type ExportedEntry } from '../coordinator/audit.js';
import type { AttestationView, AuditView } from '../coordinator/service-types.js';
import { fromHex, toHex } from '../protocol/bytes.js';
import { auditCommand } from './audit.js';
import { type Api, type Checks, duration, row, short } from './demo-api.js';

/** The simulated NSM root and the measured PCRs: what steps 6 and 7 trust. */
export interface Trust {
  readonly rootPath: string;
  readonly rootDer: Uint8Array;
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
}

/** The most entries `GET /v1/audit` returns at once (coordinator/http/schemas.ts). */
const AUDIT_PAGE = 1000;

/** Reads the simulated NSM root and the measured PCRs from the data directory, if both are there. */
export function loadTrust(dataDir: string, out: (line: string) => void): Trust | null {
  const rootPath = join(dataDir, 'nsm', 'root.pem');
  const pcrsPath = join(dataDir, 'pcrs.json');
  const missing = [rootPath, pcrsPath].filter((path) => !existsSync(path));
  if (missing.length > 0) {
    out(`(not found: ${missing.join(', ')}; attestation and acknowledgement checks are skipped)`);
    return null;
  }
  const rootDer = new Uint8Array(new X509Certificate(readFileSync(rootPath)).raw);
  const listed = JSON.parse(readFileSync(pcrsPath, 'utf8')) as Record<string, unknown>;
  const pcrs = new Map<number, Uint8Array>();
  for (const [index, value] of Object.entries(listed)) {
    const bytes = typeof value === 'string' ? fromHex(value) : null;
    if (!/^\d+$/.test(index) || !bytes) throw new Error(`${pcrsPath}: PCR ${index} is not hex`);
    pcrs.set(Number(index), bytes);
  }
  // Without PCR0-2 the attestation check would accept any enclave image.
  for (const index of [0, 1, 2]) {
    if (!pcrs.has(index)) throw new Error(`${pcrsPath}: no PCR${index}`);
  }
  return { rootPath, rootDer, pcrs };
}

/** Step 6: the whole log, its hash chain, then `mpc-kms audit verify` on an export of it. */
export async function checkAudit(
  api: Api,
  token: string,
  trust: Trust | null,
  checks: Checks,
  out: (line: string) => void,
): Promise<void> {
  // Page through from the first entry: the chain can only be checked from the genesis hash.
  const entries: ExportedEntry[] = [];
  let head: AuditView['head'] = null;
  let ms = 0;
  for (;;) {
    const from = (entries.at(-1)?.seq ?? 0) + 1;
    const page = await api.call<AuditView>(
      'GET',
      `/v1/audit?from=${from}&limit=${AUDIT_PAGE}`,
      token,
    );
    ms += page.ms;
    head = page.value.head;
    entries.push(...page.value.entries);
    if (page.value.entries.length < AUDIT_PAGE || !head || entries.at(-1)!.seq >= head.seq) break;
  }
  const last = entries.at(-1);
  out(
    row(
      'GET /v1/audit',
      `${entries.length} entries, head #${head?.seq} ${short(head?.hash ?? '')}`,
      ms,
    ),
  );
  const chain = verifyChain(entries);
  checks.check(
    chain.valid && last !== undefined && head !== null && chain.head === head.hash,
    'hash chain intact from the genesis hash to the head (verifyChain)',
    chain.valid ? 'the last entry is not the head' : `broken at #${chain.seq}: ${chain.reason}`,
  );
  if (!trust) {
    checks.skip('mpc-kms audit verify (no NSM root or PCRs to check attestations against)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'mpc-kms-demo-audit-'));
  try {
    const file = join(dir, 'audit.json');
    writeFileSync(file, JSON.stringify({ entries }));
    const printed: string[] = [];
    const args = ['verify', file, '--root', trust.rootPath];
    for (const [index, value] of trust.pcrs) args.push('--pcr', `${index}=${toHex(value)}`);
    const code = auditCommand(
      args,
      (line) => printed.push(line),
      (line) => printed.push(line),
    );
    const result = JSON.parse(printed[0] ?? '{}') as {
      valid?: boolean;
      entries?: number;
      acknowledgements?: number;
    };
    checks.check(
      code === 0 && result.valid === true,
      `mpc-kms audit verify: ${result.entries} entries, ` +
        `${result.acknowledgements} enclave acknowledgements verify`,
      printed.join(' '),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Step 7: each enclave's latest document, verified when the root and PCRs are at hand. */
export async function checkAttestations(
  api: Api,
  token: string,
  trust: Trust | null,
  checks: Checks,
  out: (line: string) => void,
): Promise<void> {
  const listed = await api.call<AttestationView[]>('GET', '/v1/attestations', token);
  out(row('GET /v1/attestations', `${listed.value.length} enclaves`, listed.ms));
  for (const a of listed.value) {
    const age = a.timestamp === null ? 'never' : `${duration(Date.now() - a.timestamp)} ago`;
    out(row(`party ${a.party}`, `PCR0 ${short(a.pcrs['0'] ?? '?', 8)}  ${a.moduleId}  ${age}`));
  }
  if (!trust) {
    checks.skip('attestation documents (no NSM root or PCRs to verify them against)');
    return;
  }
  for (const a of listed.value) {
    if (a.document === null) {
      checks.check(false, `party ${a.party}: no attestation document`);
      continue;
    }
    const result = verifyAttestation(new Uint8Array(Buffer.from(a.document, 'base64')), {
      root: trust.rootDer,
      expectedPcrs: trust.pcrs,
    });
    checks.check(
      result.valid,
      `party ${a.party}: document verifies (COSE signature, chain to the NSM root, PCR0-2)`,
      result.valid ? '' : `${result.error.code}: ${result.error.message}`,
    );
  }
}
