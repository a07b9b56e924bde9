/**
 * The JSON body of a request to sign a Solana message:
 *
 *   {"message": base64, "path"?: string}
 *
 * `message` is the serialized message (not the transaction), in standard padded base64 — the
 * encoding Solana's RPC and SDKs use for wire bytes (`serialize().toString('base64')`,
 * `getBase64EncodedWireTransaction`). Only the canonical encoding is accepted (padding present,
 * unused bits zero), so one message has one spelling in the audit log.
 */
import { base64 } from '@scure/base';
import { z } from 'zod';
import { need, objectError, pathField, tryParse } from './request-fields.js';
import { PACKET_DATA_SIZE, parseSolanaMessage, type SolanaMessage } from './solana.js';

const MESSAGE_RULE = `standard base64 of a serialized message, at most ${PACKET_DATA_SIZE} bytes`;

export interface SolanaSignRequest {
  /** The bytes to sign, exactly as given. */
  messageBytes: Uint8Array;
  message: SolanaMessage;
  path?: string;
}

/** POST body → `{ messageBytes, message, path? }`. */
export const solanaSignRequest = z
  .strictObject(
    {
      message: z
        .string(need(MESSAGE_RULE))
        .max(4 * Math.ceil(PACKET_DATA_SIZE / 3), need(MESSAGE_RULE))
        .regex(/^[A-Za-z0-9+/]*={0,2}$/, need(MESSAGE_RULE)),
      path: pathField.optional(),
    },
    objectError('a JSON object'),
  )
  .transform((input, ctx): SolanaSignRequest => {
    let messageBytes: Uint8Array;
    try {
      messageBytes = base64.decode(input.message);
    } catch {
      ctx.issues.push({
        code: 'custom',
        message: `must be ${MESSAGE_RULE}`,
        path: ['message'],
        input,
      });
      return z.NEVER;
    }
    // A decoder may accept non-zero unused bits; only the re-encoding's spelling is accepted.
    if (base64.encode(messageBytes) !== input.message) {
      ctx.issues.push({
        code: 'custom',
        message: 'must be canonical base64 (padded, unused bits zero)',
        path: ['message'],
        input,
      });
      return z.NEVER;
    }
    const parsed = tryParse(() => parseSolanaMessage(messageBytes));
    if ('error' in parsed) {
      ctx.issues.push({ code: 'custom', message: parsed.error, path: ['message'], input });
      return z.NEVER;
    }
    const out: SolanaSignRequest = { messageBytes, message: parsed.value };
    if (input.path !== undefined) out.path = input.path;
    return out;
  });
