/**
 * `mpc-kms audit verify FILE [--root PEM] [--pcr I=HEX]...`: a reviewer's check of an audit log
 * exported from `GET /v1/audit` (the JSON answer, saved as is).
 *
 * It checks the hash chain from the first entry (consecutive sequence numbers, every link, every
 * hash recomputed from the canonical entry) and reports the first broken link. Then, for every
 * signing entry, each enclave's acknowledgement: the signature must verify under the
 * acknowledgement key of that party's latest `attestation` entry before it, and that entry's
 * document must verify against the root (default: the pinned AWS Nitro root) and the given
 * PCRs at its own timestamp. Prints one JSON object; exit 0 when everything holds, 1 when not,
 * 2 on usage errors.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { decodeAttestation, verifyAttestation } from '../attestation/index.js';
import { fromHex, toHex } from '../protocol/bytes.js';
import { ackMessage } from '../enclave/index.js';
import { verifyAck, verifyChain, type ExportedEntry } from '../coordinator/audit.js';

export const AUDIT_USAGE = 'usage: mpc-kms audit verify FILE [--root PEM] [--pcr I=HEX]...';

export function auditCommand(
  args: readonly string[],
  out: (line: string) => void,
  err: (line: string) => void,
): number {
  const [sub, ...rest] = args;
  if (sub !== 'verify') {
    err(AUDIT_USAGE);
    return 2;
  }
  let file: string;
  let root: Uint8Array | undefined;
  const pcrs = new Map<number, Uint8Array>();
  let entries: ExportedEntry[];
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      options: {
        root: { type: 'string' },
        pcr: { type: 'string', multiple: true, default: [] },
      },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length !== 1) throw new Error('exactly one FILE');
    file = positionals[0]!;
    if (values.root) root = new Uint8Array(new X509Certificate(readFileSync(values.root)).raw);
    for (const spec of values.pcr) {
      const [index, hex] = spec.split('=');
      const value = hex ? fromHex(hex) : null;
      if (!index || !/^\d+$/.test(index) || !value) throw new Error(`--pcr ${spec}: I=HEX`);
      pcrs.set(Number(index), value);
    }
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { entries?: unknown };
    if (!Array.isArray(parsed.entries)) throw new Error(`${file}: no "entries" list`);
    entries = parsed.entries as ExportedEntry[];
  } catch (error) {
    err(`mpc-kms audit verify: ${error instanceof Error ? error.message : String(error)}`);
    err(AUDIT_USAGE);
    return 2;
  }

  const chain = verifyChain(entries);
  if (!chain.valid) {
    out(JSON.stringify({ valid: false, brokenAt: chain.seq, reason: chain.reason }));
    return 1;
  }
  const acks = checkAcknowledgements(entries, root, pcrs);
  if (acks.failure) {
    out(JSON.stringify({ valid: false, brokenAt: acks.failure.seq, reason: acks.failure.reason }));
    return 1;
  }
  out(
    JSON.stringify({
      valid: true,
      entries: chain.entries,
      head: chain.head,
      acknowledgements: acks.checked,
    }),
  );
  return 0;
}

interface Entry {
  action?: string;
  party?: number;
  ackKey?: string;
  document?: string;
  keyId?: string;
  epoch?: number;
  signers?: number[];
  session?: string;
  path?: string;
  messageSha256?: string;
  outcome?: string;
  acks?: { party: number; signature: string }[];
}

function checkAcknowledgements(
  entries: readonly ExportedEntry[],
  root: Uint8Array | undefined,
  pcrs: ReadonlyMap<number, Uint8Array>,
): { checked: number; failure?: { seq: number; reason: string } } {
  const keys = new Map<number, Uint8Array>();
  let checked = 0;
  for (const e of entries) {
    const entry = e.entry as Entry;
    const fail = (reason: string) => ({ checked, failure: { seq: e.seq, reason } });
    if (entry.action === 'attestation' && entry.party !== undefined && entry.document) {
      const document = new Uint8Array(Buffer.from(entry.document, 'base64'));
      const decoded = verifyAttestation(document, {
        ...(root ? { root } : {}),
        expectedPcrs: pcrs,
        // A document is checked at its own time: the log may be read long after.
        at: new Date(documentTime(document)),
      });
      if (!decoded.valid) return fail(`party ${entry.party}: ${decoded.error.code}`);
      const key = decoded.document.publicKey;
      if (!key || toHex(key) !== entry.ackKey) return fail('ackKey is not the document key');
      keys.set(entry.party, key);
      continue;
    }
    if (entry.action !== 'sign' || entry.outcome !== 'ok') continue;
    for (const ack of entry.acks ?? []) {
      const key = keys.get(ack.party);
      if (!key) return fail(`party ${ack.party} acknowledged before any attestation of it`);
      const message = ackDigest(entry);
      const signature = fromHex(ack.signature);
      if (!message || !signature || !verifyAck(key, message, signature)) {
        return fail(`party ${ack.party}'s acknowledgement does not verify`);
      }
      checked += 1;
    }
  }
  return { checked };
}

/** The acknowledged digest, rebuilt from the logged request (the message by its hash). */
function ackDigest(entry: Entry): Uint8Array | null {
  const session = entry.session ? fromHex(entry.session) : null;
  const messageHash = entry.messageSha256 ? fromHex(entry.messageSha256) : null;
  if (!session || !messageHash || !entry.keyId || entry.epoch === undefined || !entry.signers) {
    return null;
  }
  return ackMessage({
    keyId: entry.keyId,
    epoch: entry.epoch,
    signers: entry.signers,
    sessionId: session,
    path: entry.path ?? '',
    messageSha256: messageHash,
  });
}

/** The document's own timestamp (ms); its validity is what `verifyAttestation` then decides. */
function documentTime(document: Uint8Array): number {
  try {
    return decodeAttestation(document).document.timestamp;
  } catch {
    return Date.now();
  }
}
