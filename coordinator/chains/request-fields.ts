/**
 * Zod building blocks shared by the chain request schemas, in the style of the HTTP layer's
 * (`coordinator/http/schemas.ts`): messages say "must be RULE" or "is required" and never echo the
 * value; the issue path names the field. Integers arrive as JSON numbers only when exact (safe
 * integers), otherwise as decimal strings, and leave as bigint.
 */
import { z } from 'zod';
import { ChainInputError } from './errors.js';

/** An error option for a field: "is required" when absent, "must be WHAT" when wrong. */
export function need(what: string): { error: (issue: { input?: unknown }) => string } {
  return { error: (issue) => (issue.input === undefined ? 'is required' : `must be ${what}`) };
}

/** The error option of a strict object: names unknown fields, and says when it is not an object. */
export function objectError(what: string): {
  error: (issue: { code?: string; keys?: readonly string[]; input?: unknown }) => string;
} {
  return {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown field${issue.keys?.length === 1 ? '' : 's'} ${(issue.keys ?? [])
            .map((key) => JSON.stringify(key))
            .join(', ')}`
        : issue.input === undefined
          ? 'is required'
          : `must be ${what}`,
  };
}

/** 78 digits hold any 256-bit integer (2^256 ≈ 1.16·10^77); the length is bounded before BigInt. */
const DECIMAL = /^(?:0|[1-9][0-9]{0,77})$/;

/**
 * A non-negative integer in [minimum, limit), from a JSON number or a decimal string. A number
 * must be a safe integer: 2^53 + 1 arrives as 2^53 after JSON parsing, so a larger one could not
 * mean what its sender wrote. A string must be plain decimal: no sign, exponent, leading zeros or
 * whitespace, so each amount has one spelling in the audit log.
 */
export function uintField(limit: bigint, rule: string, minimum = 0n) {
  const what = `${rule}, as a JSON integer or a decimal string without leading zeros`;
  return z.union([z.number(), z.string()], need(what)).transform((input, ctx): bigint => {
    let value: bigint | undefined;
    if (typeof input === 'number') {
      if (Number.isSafeInteger(input)) value = BigInt(input);
    } else if (DECIMAL.test(input)) {
      value = BigInt(input);
    }
    if (value === undefined || value < minimum || value >= limit) {
      ctx.issues.push({ code: 'custom', message: `must be ${what}`, input });
      return z.NEVER;
    }
    return value;
  });
}

/** `0x`-prefixed hex of even length, at most `maxBytes` bytes, decoded. */
export function prefixedHex(
  maxBytes: number,
  rule = `0x-prefixed hex of at most ${maxBytes} bytes`,
) {
  return z
    .string(need(rule))
    .max(2 + 2 * maxBytes, need(rule))
    .regex(/^0x(?:[0-9a-fA-F]{2})*$/, need(rule))
    .transform((hex) => new Uint8Array(Buffer.from(hex.slice(2), 'hex')));
}

/** Plain hex (no prefix) of even length, at most `maxBytes` bytes, decoded. */
export function plainHex(maxBytes: number, rule = `hex of even length, at most ${maxBytes} bytes`) {
  return z
    .string(need(rule))
    .max(2 * maxBytes, need(rule))
    .regex(/^(?:[0-9a-fA-F]{2})*$/, need(rule))
    .transform((hex) => new Uint8Array(Buffer.from(hex, 'hex')));
}

/**
 * The derivation path is carried through as given: its syntax (non-hardened BIP32, depth, index
 * range) is the HTTP layer's `derivationPathSchema`, which the caller applies. Only the length is
 * bounded here, so that a huge string is refused before anything else looks at it.
 */
export const pathField = z
  .string(need('a derivation path such as "m/0/7"'))
  .max(4096, need('a derivation path such as "m/0/7"'));

/**
 * Runs a parser for use inside a schema: a `ChainInputError` comes back as a message for an issue
 * on the field (it names the part of the input at fault, never its value); anything else is a bug
 * and is rethrown.
 */
export function tryParse<T>(parse: () => T): { value: T } | { error: string } {
  try {
    return { value: parse() };
  } catch (error) {
    if (!(error instanceof ChainInputError)) throw error;
    return { error: `could not be parsed: ${error.message}` };
  }
}
