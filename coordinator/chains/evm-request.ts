/**
 * The JSON body of a request to sign an EVM transaction, parsed into an `EvmTransaction`:
 *
 *   {"type": 2, "chainId", "nonce", "to", "value", "gasLimit", "maxFeePerGas",
 *    "maxPriorityFeePerGas", "data", "accessList"?, "path"?}
 *   {"type": 0, "chainId", "nonce", "to", "value", "gasLimit", "gasPrice", "data", "path"?}
 *
 * Integers are JSON integers (safe only) or decimal strings; `to`, `data` and access-list entries
 * are 0x-hex. An address in mixed case must carry a valid EIP-55 checksum: mixed case is a claim
 * that the checksum was computed, and a typo in such an address is exactly what EIP-55 exists to
 * catch. All-lowercase and all-uppercase addresses make no such claim and are accepted.
 */
import { z } from 'zod';
import { checksumAddress } from './addresses.js';
import {
  NONCE_LIMIT,
  UINT256_LIMIT,
  UINT64_LIMIT,
  type Eip1559Tx,
  type EvmTransaction,
  type LegacyTx,
} from './evm.js';
import { need, objectError, pathField, prefixedHex, uintField } from './request-fields.js';

/** Calldata above this is refused: far beyond any transfer or call a policy could summarise. */
export const MAX_EVM_DATA_BYTES = 128 * 1024;
/** Access-list bounds: generous for real contracts, small enough to parse in microseconds. */
export const MAX_ACCESS_LIST_ENTRIES = 256;
export const MAX_STORAGE_KEYS_PER_ENTRY = 256;
export const MAX_STORAGE_KEYS_TOTAL = 1024;

const ADDRESS_RULE = '0x and 40 hex digits, EIP-55 checksummed if in mixed case';

/** A 20-byte address; mixed case must be the EIP-55 checksum of the address. */
const address = z
  .string(need(ADDRESS_RULE))
  .regex(/^0x[0-9a-fA-F]{40}$/, need(ADDRESS_RULE))
  .check((ctx) => {
    const digits = ctx.value.slice(2);
    const mixed = digits !== digits.toLowerCase() && digits !== digits.toUpperCase();
    const bytes = new Uint8Array(Buffer.from(digits, 'hex'));
    if (mixed && checksumAddress(bytes) !== ctx.value) {
      ctx.issues.push({
        code: 'custom',
        message: 'must have a valid EIP-55 checksum (it is in mixed case, but the checksum fails)',
        input: ctx.value,
      });
    }
  })
  .transform((value) => new Uint8Array(Buffer.from(value.slice(2), 'hex')));

const UINT256_RULE = 'an integer from 0 to 2^256 - 1';
const uint256 = uintField(UINT256_LIMIT, UINT256_RULE);

const common = {
  chainId: uintField(UINT64_LIMIT, 'an integer from 1 to 2^64 - 1', 1n),
  nonce: uintField(NONCE_LIMIT, 'an integer from 0 to 2^64 - 2 (EIP-2681)'),
  to: address,
  value: uint256,
  gasLimit: uintField(UINT64_LIMIT, 'an integer from 0 to 2^64 - 1'),
  data: prefixedHex(
    MAX_EVM_DATA_BYTES,
    `0x-prefixed hex of at most ${MAX_EVM_DATA_BYTES} bytes ("0x" if empty)`,
  ),
  path: pathField.optional(),
};

const STORAGE_KEY_RULE = '0x and 64 hex digits';
const accessList = z
  .array(
    z.strictObject(
      {
        address,
        storageKeys: z
          .array(
            z
              .string(need(STORAGE_KEY_RULE))
              .regex(/^0x[0-9a-fA-F]{64}$/, need(STORAGE_KEY_RULE))
              .transform((hex) => new Uint8Array(Buffer.from(hex.slice(2), 'hex'))),
            need('an array of storage keys'),
          )
          .max(
            MAX_STORAGE_KEYS_PER_ENTRY,
            need(`at most ${MAX_STORAGE_KEYS_PER_ENTRY} storage keys`),
          ),
      },
      objectError('an object {"address", "storageKeys"}'),
    ),
    need('an array of {"address", "storageKeys"}'),
  )
  .max(MAX_ACCESS_LIST_ENTRIES, need(`at most ${MAX_ACCESS_LIST_ENTRIES} entries`))
  .refine(
    (entries) =>
      entries.reduce((sum, e) => sum + e.storageKeys.length, 0) <= MAX_STORAGE_KEYS_TOTAL,
    { error: `must hold at most ${MAX_STORAGE_KEYS_TOTAL} storage keys in all` },
  );

const legacyBody = z.strictObject(
  { type: z.literal(0), ...common, gasPrice: uint256 },
  objectError('a JSON object'),
);

const eip1559Body = z
  .strictObject(
    {
      type: z.literal(2),
      ...common,
      maxFeePerGas: uint256,
      maxPriorityFeePerGas: uint256,
      accessList: accessList.optional(),
    },
    objectError('a JSON object'),
  )
  .check((ctx) => {
    // EIP-1559: a transaction whose priority fee exceeds its fee cap is invalid in any block.
    if (ctx.value.maxPriorityFeePerGas > ctx.value.maxFeePerGas) {
      ctx.issues.push({
        code: 'custom',
        message: 'must not exceed maxFeePerGas',
        path: ['maxPriorityFeePerGas'],
        input: ctx.value,
      });
    }
  });

/**
 * POST body → `{ transaction, path? }`. Types other than 0 and 2 are refused on the `type` field.
 */
export const evmTransactionRequest = z
  .discriminatedUnion('type', [legacyBody, eip1559Body], {
    error: (issue) =>
      issue.input === undefined || typeof issue.input !== 'object'
        ? 'must be a JSON object with "type" 0 (legacy, EIP-155) or 2 (EIP-1559)'
        : 'must be 0 (legacy, EIP-155) or 2 (EIP-1559)',
  })
  .transform((body): { transaction: EvmTransaction; path?: string } => {
    const { path, ...fields } = body;
    const transaction: EvmTransaction =
      fields.type === 0
        ? ({ ...fields } satisfies LegacyTx)
        : ({ ...fields, accessList: fields.accessList ?? [] } satisfies Eip1559Tx);
    return path === undefined ? { transaction } : { transaction, path };
  });

export type EvmTransactionRequest = z.output<typeof evmTransactionRequest>;
