/**
 * Link frames: what travels between an enclave, its parent and the coordinator. Each frame is
 * one channel message (a handshake message or a sealed record, see `channel/`) with the routing
 * pair in front, in the clear, so the coordinator can relay a peer-to-peer frame without being
 * able to read it:
 *
 *   from u16 | to u16 | channel message
 *
 * The routing pair is a claim, not a fact: the coordinator checks that a frame arriving from the
 * parent of party i says `from = i`, and the channel's AEAD checks both ids end to end.
 */
import { MAX_PARTY_ID } from '../protocol/envelope.js';
import type { PartyId } from '../protocol/errors.js';

export interface LinkFrame {
  readonly from: PartyId;
  readonly to: PartyId;
  readonly body: Uint8Array;
}

export function encodeLinkFrame(frame: LinkFrame): Uint8Array {
  const out = new Uint8Array(4 + frame.body.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, frame.from);
  view.setUint16(2, frame.to);
  out.set(frame.body, 4);
  return out;
}

/** Decodes a link frame; null when it cannot be one (too short, or an id out of range). */
export function decodeLinkFrame(bytes: Uint8Array): LinkFrame | null {
  if (bytes.length < 5) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 4);
  const from = view.getUint16(0);
  const to = view.getUint16(2);
  if (from > MAX_PARTY_ID || to > MAX_PARTY_ID || from === to) return null;
  return { from, to, body: bytes.subarray(4) };
}
