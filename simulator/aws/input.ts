/**
 * Boundary validation for the JSON input of a simulated AWS operation. A handler builds one
 * {@link InputReader} over the request object and reads each member through a typed method;
 * anything that does not fit the AWS model (wrong type, length, pattern, base64, unknown member)
 * becomes an {@link AwsServiceError} of the service's validation type: `ValidationException`
 * for KMS, `InvalidParameterException` for Secrets Manager.
 *
 * Messages name the member and the constraint, never the value: values include plaintexts and
 * secret strings, and an error message travels back to the caller and into logs.
 *
 * JSON `null` counts as absent, as AWS services treat it.
 */
import { AwsServiceError } from './errors.js';

/** Length bounds for strings (in UTF-16 code units, as AWS's Java models count) and lists. */
export interface LengthBounds {
  readonly min?: number;
  readonly max?: number;
}

export interface StringRule extends LengthBounds {
  /** Whole-value pattern; anchor it (`^...$`). */
  readonly pattern?: RegExp;
}

export interface IntegerRule {
  readonly min: number;
  readonly max: number;
}

export interface StringListRule {
  /** Most items allowed. */
  readonly max: number;
  /** Fewest items allowed (default 0). */
  readonly min?: number;
  /** Rule each item must satisfy. */
  readonly item?: StringRule;
}

export interface StringMapRule {
  readonly maxEntries: number;
  /** Rule for each key (default: 1..256 characters). */
  readonly key?: StringRule;
  /** Rule for each value (default: 0..256 characters). */
  readonly value?: StringRule;
}

/** Strict standard base64 with canonical padding (RFC 4648 section 4), as AWS blobs use. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes strict base64, or returns undefined. Besides the alphabet and padding it refuses
 * non-zero pad bits (e.g. `AB==`), so each byte string has exactly one accepted encoding.
 */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  if (!BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) return undefined;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Typed, bounded reads of one operation's input object.
 *
 * ```ts
 * const r = new InputReader(input, 'InvalidParameterException', ['SecretId', 'VersionId']);
 * const id = r.string('SecretId', { min: 1, max: 2048 });
 * const version = r.optionalString('VersionId', { min: 32, max: 64 });
 * ```
 *
 * Methods (each throws the reader's error type, naming the member):
 * - `string(name, rule)` / `optionalString(name, rule)`: a JSON string within `rule.min`..`rule.max`
 *   (defaults 0..unbounded) matching `rule.pattern` if given.
 * - `blob(name, {min, max})` / `optionalBlob`: a strict base64 string, decoded; bounds count bytes.
 * - `integer(name, {min, max})` / `optionalInteger`: a JSON number that is a safe integer in range.
 * - `optionalBoolean(name)`: a JSON boolean.
 * - `optionalTimestamp(name)`: a JSON number of epoch seconds, returned as a Date.
 * - `optionalStringList(name, {max, min?, item?})`: an array of strings.
 * - `optionalStringMap(name, {maxEntries, key?, value?})`: an object of string values, returned
 *   with a null prototype so keys like `__proto__` are plain data.
 * - `optionalObject(name)`: a JSON object (not an array), returned as is for nested reading
 *   with `InputReader.nested`.
 * - `optionalObjectList(name, {max, min?})`: an array of JSON objects.
 * - `nested(value, path, allowed)`: a reader over a nested object, with member names reported
 *   as `path.Member`.
 */
export class InputReader {
  /**
   * @param input the decoded request object
   * @param errorType the AWS error code for invalid input (`ValidationException`,
   *   `InvalidParameterException`)
   * @param allowed every member name the operation accepts; any other top-level member is
   *   refused immediately, so a misspelt optional member is never silently ignored
   * @param path prefix for member names in messages (used by {@link nested})
   */
  constructor(
    private readonly input: Readonly<Record<string, unknown>>,
    readonly errorType: string,
    allowed: readonly string[],
    private readonly path = '',
  ) {
    const known = new Set(allowed);
    for (const key of Object.keys(input)) {
      if (!known.has(key)) {
        throw this.fail(key, `is not a recognized member`);
      }
    }
  }

  /** A reader for a nested object member (e.g. one item of `Tags`). */
  nested(value: Record<string, unknown>, path: string, allowed: readonly string[]): InputReader {
    return new InputReader(value, this.errorType, allowed, `${this.qualified(path)}.`);
  }

  /** The error this reader throws, for checks a handler makes itself (e.g. mutual exclusion). */
  error(message: string): AwsServiceError {
    return new AwsServiceError(this.errorType, message);
  }

  private qualified(name: string): string {
    return `${this.path}${name}`;
  }

  private fail(name: string, constraint: string): AwsServiceError {
    // Member names come from the allow-list or from the caller's JSON; bound the latter.
    const shown = this.qualified(name).slice(0, 128);
    return this.error(`1 validation error detected: Value at '${shown}' ${constraint}`);
  }

  /** The raw member, with `null` treated as absent; own properties only. */
  private raw(name: string): unknown {
    if (!Object.hasOwn(this.input, name)) return undefined;
    const value = this.input[name];
    return value === null ? undefined : value;
  }

  private checkString(name: string, value: unknown, rule: StringRule): string {
    if (typeof value !== 'string') throw this.fail(name, 'must be a string');
    if (rule.min !== undefined && value.length < rule.min) {
      throw this.fail(
        name,
        `failed to satisfy constraint: Member must have length greater than or equal to ${rule.min}`,
      );
    }
    if (rule.max !== undefined && value.length > rule.max) {
      throw this.fail(
        name,
        `failed to satisfy constraint: Member must have length less than or equal to ${rule.max}`,
      );
    }
    if (rule.pattern !== undefined && !rule.pattern.test(value)) {
      throw this.fail(
        name,
        `failed to satisfy constraint: Member must satisfy regular expression pattern: ${rule.pattern.source}`,
      );
    }
    return value;
  }

  /** A required string member. */
  string(name: string, rule: StringRule = {}): string {
    const value = this.raw(name);
    if (value === undefined)
      throw this.fail(name, 'failed to satisfy constraint: Member must not be null');
    return this.checkString(name, value, rule);
  }

  /** An optional string member. */
  optionalString(name: string, rule: StringRule = {}): string | undefined {
    const value = this.raw(name);
    return value === undefined ? undefined : this.checkString(name, value, rule);
  }

  private checkBlob(name: string, value: unknown, bounds: LengthBounds): Uint8Array {
    if (typeof value !== 'string') throw this.fail(name, 'must be a base64-encoded string');
    const bytes = decodeBase64Strict(value);
    if (bytes === undefined) throw this.fail(name, 'is not valid base64');
    if (bounds.min !== undefined && bytes.length < bounds.min) {
      throw this.fail(
        name,
        `failed to satisfy constraint: Member must have length greater than or equal to ${bounds.min}`,
      );
    }
    if (bounds.max !== undefined && bytes.length > bounds.max) {
      throw this.fail(
        name,
        `failed to satisfy constraint: Member must have length less than or equal to ${bounds.max}`,
      );
    }
    return bytes;
  }

  /** A required blob member (base64 on the wire), decoded. */
  blob(name: string, bounds: LengthBounds = {}): Uint8Array {
    const value = this.raw(name);
    if (value === undefined)
      throw this.fail(name, 'failed to satisfy constraint: Member must not be null');
    return this.checkBlob(name, value, bounds);
  }

  /** An optional blob member, decoded. */
  optionalBlob(name: string, bounds: LengthBounds = {}): Uint8Array | undefined {
    const value = this.raw(name);
    return value === undefined ? undefined : this.checkBlob(name, value, bounds);
  }

  private checkInteger(name: string, value: unknown, rule: IntegerRule): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      throw this.fail(name, 'must be an integer');
    }
    if (value < rule.min) {
      throw this.fail(
        name,
        `failed to satisfy constraint: Member must have value greater than or equal to ${rule.min}`,
      );
    }
    if (value > rule.max) {
      throw this.fail(
        name,
        `failed to satisfy constraint: Member must have value less than or equal to ${rule.max}`,
      );
    }
    return value;
  }

  /** A required integer member. */
  integer(name: string, rule: IntegerRule): number {
    const value = this.raw(name);
    if (value === undefined)
      throw this.fail(name, 'failed to satisfy constraint: Member must not be null');
    return this.checkInteger(name, value, rule);
  }

  /** An optional integer member. */
  optionalInteger(name: string, rule: IntegerRule): number | undefined {
    const value = this.raw(name);
    return value === undefined ? undefined : this.checkInteger(name, value, rule);
  }

  /** An optional boolean member. */
  optionalBoolean(name: string): boolean | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') throw this.fail(name, 'must be a boolean');
    return value;
  }

  /** An optional timestamp member: epoch seconds (JSON number, may be fractional). */
  optionalTimestamp(name: string): Date | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw this.fail(name, 'must be a timestamp in epoch seconds');
    }
    const date = new Date(value * 1000);
    if (Number.isNaN(date.getTime())) throw this.fail(name, 'is out of range');
    return date;
  }

  /** An optional list of strings. */
  optionalStringList(name: string, rule: StringListRule): string[] | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) throw this.fail(name, 'must be a list');
    this.checkCount(name, value.length, rule.min ?? 0, rule.max);
    return value.map((item, i) =>
      this.checkString(`${name}.${i + 1}.member`, item, rule.item ?? {}),
    );
  }

  /** An optional map of string to string, with a null prototype. */
  optionalStringMap(name: string, rule: StringMapRule): Record<string, string> | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) throw this.fail(name, 'must be a map');
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length > rule.maxEntries) {
      throw this.fail(
        name,
        `failed to satisfy constraint: Map must have at most ${rule.maxEntries} entries`,
      );
    }
    const out: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [key, item] of entries) {
      this.checkString(`${name}.key`, key, rule.key ?? { min: 1, max: 256 });
      out[key] = this.checkString(`${name}.value`, item, rule.value ?? { max: 256 });
    }
    return out;
  }

  /** An optional JSON object member (not an array). */
  optionalObject(name: string): Record<string, unknown> | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw this.fail(name, 'must be a structure');
    }
    return value as Record<string, unknown>;
  }

  /** An optional list of JSON objects; read each with {@link nested}. */
  optionalObjectList(
    name: string,
    rule: { readonly max: number; readonly min?: number },
  ): Record<string, unknown>[] | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) throw this.fail(name, 'must be a list');
    this.checkCount(name, value.length, rule.min ?? 0, rule.max);
    return value.map((item, i) => {
      if (item === null || typeof item !== 'object' || Array.isArray(item)) {
        throw this.fail(`${name}.${i + 1}.member`, 'must be a structure');
      }
      return item as Record<string, unknown>;
    });
  }

  private checkCount(name: string, count: number, min: number, max: number): void {
    if (count < min) {
      throw this.fail(
        name,
        `failed to satisfy constraint: Member must have length greater than or equal to ${min}`,
      );
    }
    if (count > max) {
      throw this.fail(
        name,
        `failed to satisfy constraint: Member must have length less than or equal to ${max}`,
      );
    }
  }
}
