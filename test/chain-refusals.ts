/** The one assertion the chain tests share: a parser refused its input, and why. */
import assert from 'node:assert/strict';
import { ChainInputError } from '../coordinator/chains/errors.js';

/** Expects a ChainInputError with this code (and field, if given). */
export function refused(f: () => unknown, code: string, field?: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof ChainInputError, String(e));
    assert.equal(e.code, code, e.message);
    if (field !== undefined) assert.equal(e.field, field, e.message);
    return true;
  });
}
