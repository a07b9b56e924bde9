/**
 * Randomness is a parameter of every protocol function, so tests can replay vectors and the
 * protocol never reaches for a global source. Production callers pass `node:crypto` randomBytes.
 */
export type Rng = (length: number) => Uint8Array;
