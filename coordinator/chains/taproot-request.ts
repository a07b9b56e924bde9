/**
 * The JSON body of a request to sign one input of a Bitcoin transaction by Taproot key path:
 *
 *   {"transaction": hex, "inputIndex": int, "prevouts": [{"value", "scriptPubKey": hex}, …],
 *    "sighashType"?: 0 | 1 | 2 | 3 | 129 | 130 | 131, "path"?: string}
 *
 * `transaction` is the unsigned transaction in plain hex (as Bitcoin Core's RPCs print it; other
 * inputs may already be signed). `prevouts` lists the output each input spends, in input order,
 * one per input: BIP341 signatures commit to all of them, so the signer needs all of them.
 * `value` is in satoshis, a JSON integer or a decimal string. `sighashType` defaults to 0
 * (SIGHASH_DEFAULT). Everything BIP341 signing would refuse is refused here, on its field.
 */
import { z } from 'zod';
import {
  MAX_MONEY,
  MAX_TRANSACTION_BYTES,
  parseBitcoinTransaction,
  type BitcoinTransaction,
} from './bitcoin-tx.js';
import { need, objectError, pathField, plainHex, tryParse, uintField } from './request-fields.js';
import { isP2trScript, TAPROOT_HASH_TYPES, type Prevout, type TaprootHashType } from './taproot.js';

/** Bitcoin Core's MAX_SCRIPT_SIZE: no script longer than this can be spent. */
const MAX_SCRIPT_BYTES = 10_000;
/** More inputs than this cannot fit in MAX_TRANSACTION_BYTES (41 bytes each at least). */
const MAX_INPUTS = Math.floor(MAX_TRANSACTION_BYTES / 41);

const TX_RULE = `hex of a serialized transaction, at most ${MAX_TRANSACTION_BYTES} bytes`;
const HASH_TYPE_RULE = 'one of 0, 1, 2, 3, 129, 130, 131';

const prevout = z.strictObject(
  {
    value: uintField(MAX_MONEY + 1n, 'an amount in satoshis from 0 to 2100000000000000'),
    scriptPubKey: plainHex(MAX_SCRIPT_BYTES),
  },
  objectError('an object {"value", "scriptPubKey"}'),
);

const body = z.strictObject(
  {
    transaction: plainHex(MAX_TRANSACTION_BYTES, TX_RULE),
    inputIndex: z.int(need('a non-negative integer')).min(0, need('a non-negative integer')),
    prevouts: z
      .array(prevout, need('an array of the outputs the inputs spend'))
      .max(MAX_INPUTS, need(`an array of at most ${MAX_INPUTS} outputs`)),
    sighashType: z
      .int(need(HASH_TYPE_RULE))
      .refine((v) => (TAPROOT_HASH_TYPES as readonly number[]).includes(v), need(HASH_TYPE_RULE))
      .optional(),
    path: pathField.optional(),
  },
  objectError('a JSON object'),
);

export interface TaprootSpendRequest {
  tx: BitcoinTransaction;
  inputIndex: number;
  prevouts: Prevout[];
  hashType: TaprootHashType;
  path?: string;
}

/** POST body → `{ tx, inputIndex, prevouts, hashType, path? }`. */
export const taprootSpendRequest = body.transform((input, ctx): TaprootSpendRequest => {
  const issue = (path: (string | number)[], message: string): never => {
    ctx.issues.push({ code: 'custom', message, path, input });
    return z.NEVER;
  };
  const parsed = tryParse(() => parseBitcoinTransaction(input.transaction));
  if ('error' in parsed) return issue(['transaction'], parsed.error);
  const tx = parsed.value;
  const hashType = (input.sighashType ?? 0) as TaprootHashType;
  if (input.inputIndex >= tx.inputs.length) {
    return issue(['inputIndex'], `must be below the transaction's ${tx.inputs.length} inputs`);
  }
  if (input.prevouts.length !== tx.inputs.length) {
    return issue(['prevouts'], `must list one output per input (${tx.inputs.length})`);
  }
  // BIP341: SIGHASH_SINGLE "fails" when there is no output at the signed input's index.
  if ((hashType & 3) === 3 && input.inputIndex >= tx.outputs.length) {
    return issue(['sighashType'], 'must not be SINGLE: no output has the index of the input');
  }
  if (!isP2trScript(input.prevouts[input.inputIndex]!.scriptPubKey)) {
    return issue(
      ['prevouts', input.inputIndex, 'scriptPubKey'],
      'must be a Taproot (P2TR) script: the input signed is spent by key path',
    );
  }
  const out: TaprootSpendRequest = {
    tx,
    inputIndex: input.inputIndex,
    prevouts: input.prevouts,
    hashType,
  };
  if (input.path !== undefined) out.path = input.path;
  return out;
});
