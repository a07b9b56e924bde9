/**
 * Secret scalars (key shares, nonces, polynomial coefficients) live in their own type so that
 * they cannot be printed, serialised to JSON or logged by accident, and so that their bytes can
 * be wiped when the holder is done.
 */
import { inspect } from 'node:util';
import { wipe } from './bytes.js';
import type { Group } from './group.js';
import { ProtocolError } from './errors.js';

export class SecretScalar {
  readonly #group: Group;
  readonly #bytes: Uint8Array;
  #disposed = false;

  constructor(group: Group, value: bigint) {
    this.#group = group;
    this.#bytes = group.encodeScalar(value);
  }

  /**
   * The scalar, for arithmetic. A bigint is immutable and cannot be wiped, so callers keep the
   * returned value in locals only; the canonical copy is the byte buffer that `dispose` zeroes.
   */
  reveal(): bigint {
    if (this.#disposed) throw new ProtocolError('WRONG_STEP', 'secret scalar already disposed');
    return this.#group.decodeScalar(this.#bytes)!;
  }

  /** The canonical encoding, copied; the caller wipes it when done. */
  toBytes(): Uint8Array {
    if (this.#disposed) throw new ProtocolError('WRONG_STEP', 'secret scalar already disposed');
    return Uint8Array.from(this.#bytes);
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  dispose(): void {
    wipe(this.#bytes);
    this.#disposed = true;
  }

  toJSON(): string {
    return '[redacted]';
  }

  toString(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return 'SecretScalar [redacted]';
  }
}
