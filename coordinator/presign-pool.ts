/**
 * Ready ECDSA presignatures, so that a signing request needs only the one online round.
 *
 * A presignature is made by one signer set for one key epoch; its secret halves live only in
 * those enclaves' memory, its public half (`PresignaturePublic`) here. The pool keeps up to
 * `target` of them per (key, epoch, signer set) that callers have asked for, refilled in the
 * background one ceremony at a time: presigning is the heaviest arithmetic the enclaves do,
 * and running several at once would only slow down the signing rounds beside them. For the same
 * reason a refill waits while signatures are being asked for (an enclave computes one thing at
 * a time, so a presigning ceremony in progress delays the next online round by hundreds of
 * milliseconds), unless the pool is down to a quarter of its target.
 *
 * Nothing here can cause a presignature to be used twice: `take` removes it before anyone sees
 * it, and each enclave deletes its half when it signs (and records the id in its ledger). What
 * the pool must avoid is handing out one whose halves are gone: an enclave that restarted
 * (another module id in its attestation) lost its memory, so every presignature made with it
 * is dropped. Entries for an older epoch are dropped too (a refresh invalidates them). Neither
 * the pool nor the enclaves' halves survive a restart: they exist only in memory, never at rest.
 */
import type { PresignaturePublic } from '../protocol/ecdsa/presignature.js';
import type { PartyId } from '../protocol/errors.js';
import type { KeyInfo } from './cluster.js';

export interface PresignaturePoolOptions {
  /** Presignatures kept ready per (key, signer set) in demand; 0 disables the pool. */
  readonly target: number;
  /** Runs one presigning ceremony. */
  readonly presign: (info: KeyInfo, signers: readonly PartyId[]) => Promise<PresignaturePublic>;
  /** The current enclave instance of a party (its attestation's module id), if linked. */
  readonly moduleOf: (party: PartyId) => string | null;
  /** Called whenever an entry's count changes (for metrics). */
  readonly observe?: (keyId: string, signers: string, available: number, target: number) => void;
  readonly log?: (event: Record<string, unknown>) => void;
  /** Pause after a failed ceremony before the next attempt; default 2 s, doubling to 60 s. */
  readonly retryMs?: number;
  /** How long after the last `take` a refill waits, while above the low-water mark; 300 ms. */
  readonly idleMs?: number;
}

interface Ready {
  readonly presignature: PresignaturePublic;
  /** The module id of each signer when it was made. */
  readonly modules: readonly (string | null)[];
}

interface Entry {
  info: KeyInfo;
  readonly signers: readonly PartyId[];
  readonly ready: Ready[];
  failures: number;
  notBefore: number;
}

const signersLabel = (signers: readonly PartyId[]) => signers.join(',');

export class PresignaturePool {
  readonly #options: PresignaturePoolOptions;
  /** By key id, then by signer set label. */
  readonly #entries = new Map<string, Map<string, Entry>>();
  #running = false;
  #closed = false;
  #lastTake = 0;
  #again = false;
  #wake: NodeJS.Timeout | undefined;

  constructor(options: PresignaturePoolOptions) {
    if (!Number.isInteger(options.target) || options.target < 0 || options.target > 1000) {
      throw new RangeError('the presignature pool target must be an integer in 0..1000');
    }
    this.#options = options;
  }

  get target(): number {
    return this.#options.target;
  }

  /**
   * Keeps `signers`' pool for this key filled from now on (the key's newest epoch wins).
   * Cheap and idempotent: every signing request calls it.
   */
  want(info: KeyInfo, signers: readonly PartyId[]): void {
    if (this.#options.target === 0 || this.#closed) return;
    const set = [...signers].sort((a, b) => a - b);
    const label = signersLabel(set);
    let perKey = this.#entries.get(info.keyId);
    if (!perKey) this.#entries.set(info.keyId, (perKey = new Map()));
    const entry = perKey.get(label);
    if (!entry) {
      perKey.set(label, { info, signers: set, ready: [], failures: 0, notBefore: 0 });
      this.#report(info.keyId, label, 0);
    } else if (entry.info.key.epoch < info.key.epoch) {
      entry.info = info;
      entry.ready.length = 0;
      this.#report(info.keyId, label, 0);
    }
    this.#kick();
  }

  /**
   * A ready presignature of this key's epoch for exactly this signer set, removed from the pool;
   * undefined when none is ready (the caller then presigns inline).
   */
  take(info: KeyInfo, signers: readonly PartyId[]): PresignaturePublic | undefined {
    const set = [...signers].sort((a, b) => a - b);
    const label = signersLabel(set);
    const entry = this.#entries.get(info.keyId)?.get(label);
    if (!entry || entry.info.key.epoch !== info.key.epoch) return undefined;
    this.#lastTake = Date.now();
    let found: PresignaturePublic | undefined;
    while (entry.ready.length > 0 && !found) {
      const next = entry.ready.shift()!;
      if (this.#stillHeld(entry.signers, next.modules)) found = next.presignature;
    }
    this.#report(info.keyId, label, entry.ready.length);
    this.#kick();
    return found;
  }

  /** How many are ready for this key and signer set. */
  available(keyId: string, signers: readonly PartyId[]): number {
    const label = signersLabel([...signers].sort((a, b) => a - b));
    return this.#entries.get(keyId)?.get(label)?.ready.length ?? 0;
  }

  /** Drops whatever was made with an enclave that is no longer the one running. */
  prune(): void {
    for (const [keyId, perKey] of this.#entries) {
      for (const [label, entry] of perKey) {
        const kept = entry.ready.filter((r) => this.#stillHeld(entry.signers, r.modules));
        if (kept.length !== entry.ready.length) {
          entry.ready.splice(0, entry.ready.length, ...kept);
          this.#report(keyId, label, kept.length);
        }
      }
    }
    this.#kick();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#wake);
  }

  #stillHeld(signers: readonly PartyId[], modules: readonly (string | null)[]): boolean {
    return signers.every((p, i) => {
      const now = this.#options.moduleOf(p);
      return now !== null && now === modules[i];
    });
  }

  #report(keyId: string, label: string, available: number): void {
    this.#options.observe?.(keyId, label, available, this.#options.target);
  }

  /** The entry most in need of a presignature that may be tried now, if any. */
  #next(now: number): Entry | undefined {
    let best: Entry | undefined;
    for (const perKey of this.#entries.values()) {
      for (const entry of perKey.values()) {
        if (entry.ready.length >= this.#options.target || entry.notBefore > now) continue;
        if (!best || entry.ready.length < best.ready.length) best = entry;
      }
    }
    return best;
  }

  /** Starts the refill loop unless it runs. */
  #kick(): void {
    if (this.#closed) return;
    if (this.#running) {
      // Look again when the running pass ends: what it decided may be out of date.
      this.#again = true;
      return;
    }
    clearTimeout(this.#wake);
    this.#running = true;
    this.#again = false;
    void this.#refill().finally(() => {
      this.#running = false;
      if (this.#again) this.#kick();
    });
  }

  async #refill(): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      const now = Date.now();
      const entry = this.#next(now);
      if (!entry) {
        // Something may be waiting out a failure: look again when the first pause ends.
        const waits = [...this.#entries.values()]
          .flatMap((perKey) => [...perKey.values()])
          .filter((e) => e.ready.length < this.#options.target)
          .map((e) => e.notBefore - now);
        if (waits.length > 0) {
          this.#wake = setTimeout(() => this.#kick(), Math.max(50, Math.min(...waits)));
          this.#wake.unref();
        }
        return;
      }
      const lowWater = Math.ceil(this.#options.target / 4);
      const quietAt = this.#lastTake + (this.#options.idleMs ?? 300);
      if (entry.ready.length >= lowWater && now < quietAt) {
        // Signatures are being asked for: let their rounds have the enclaves.
        this.#wake = setTimeout(() => this.#kick(), quietAt - now);
        this.#wake.unref();
        return;
      }
      const { info, signers } = entry;
      const modules = signers.map((p) => this.#options.moduleOf(p));
      try {
        const presignature = await this.#options.presign(info, signers);
        entry.failures = 0;
        // A refresh may have moved the key on while this ran: then it is of no use.
        if (entry.info.key.epoch !== presignature.epoch) continue;
        entry.ready.push({ presignature, modules });
        this.#report(info.keyId, signersLabel(signers), entry.ready.length);
      } catch (error) {
        entry.failures += 1;
        const base = this.#options.retryMs ?? 2000;
        const pause = Math.min(60_000, base * 2 ** Math.min(entry.failures - 1, 10));
        entry.notBefore = Date.now() + pause;
        this.#options.log?.({
          event: 'presign-pool-refill-failed',
          keyId: info.keyId,
          signers,
          retryInMs: pause,
          error: error instanceof Error ? error.message.slice(0, 200) : 'unknown',
        });
      }
    }
  }
}
