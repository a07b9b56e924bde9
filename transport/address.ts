/**
 * Stream addresses as one string form for flags and configuration files, and one typed form for
 * code. Three kinds cover every deployment: vsock between an enclave and its parent instance
 * (production), Unix sockets where the simulator stands in for vsock, and TCP between the parent
 * and the coordinator or the AWS endpoints.
 *
 *   vsock:CID:PORT    CID 0..4294967295, or `any` (VMADDR_CID_ANY) for a listener
 *   unix:PATH         absolute or relative; at most 107 bytes (Linux `sun_path` less its NUL)
 *   tcp:HOST:PORT     HOST an IPv4 address, a DNS name, or `[IPv6]`; PORT 0..65535
 *
 * Parsing is strict (no whitespace, signs, hex or leading zeros) so that a typo in a flag is an
 * error at startup rather than a connection to some other port at 3 a.m.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { TransportError } from './errors.js';

/** Where a stream listens or connects. Produced by {@link parseAddress} or written directly. */
export type StreamAddress =
  | { kind: 'vsock'; cid: number; port: number }
  | { kind: 'unix'; path: string }
  | { kind: 'tcp'; host: string; port: number };

/** `VMADDR_CID_ANY`: bind on every CID this machine answers to (written `any`). */
export const VMADDR_CID_ANY = 0xffffffff;
/** `VMADDR_CID_HOST`: the hypervisor's host. */
export const VMADDR_CID_HOST = 2;
/**
 * The CID an enclave uses for its parent instance. Nitro gives the parent CID 3, and
 * aws-nitro-enclaves-sdk-c defaults to it (with the KMS proxy on port 8000).
 */
export const PARENT_CID = 3;
/** `VMADDR_PORT_ANY`, which no address here may name: the addon cannot report the port it got. */
const VMADDR_PORT_ANY = 0xffffffff;
/** Linux `sizeof(sockaddr_un.sun_path)` is 108 bytes, one of which is the terminating NUL. */
const MAX_UNIX_PATH_BYTES = 107;

/**
 * Parses `vsock:CID:PORT`, `unix:PATH` or `tcp:HOST:PORT`.
 *
 * @throws TransportError('BAD_ADDRESS') naming what is wrong.
 */
export function parseAddress(text: string): StreamAddress {
  const colon = text.indexOf(':');
  const scheme = colon < 0 ? text : text.slice(0, colon);
  const rest = colon < 0 ? '' : text.slice(colon + 1);
  switch (colon < 0 ? '' : scheme) {
    case 'vsock':
      return parseVsock(text, rest);
    case 'unix':
      return checkAddress({ kind: 'unix', path: rest });
    case 'tcp':
      return parseTcp(text, rest);
    default:
      throw bad(text, 'expected vsock:CID:PORT, unix:PATH or tcp:HOST:PORT');
  }
}

/** The string form {@link parseAddress} reads back to an equal address. */
export function formatAddress(address: StreamAddress): string {
  switch (address.kind) {
    case 'vsock':
      return `vsock:${address.cid === VMADDR_CID_ANY ? 'any' : address.cid}:${address.port}`;
    case 'unix':
      return `unix:${address.path}`;
    case 'tcp': {
      const host = address.host.includes(':') ? `[${address.host}]` : address.host;
      return `tcp:${host}:${address.port}`;
    }
  }
}

/**
 * Validates an address built in code rather than parsed (the listen and connect functions call
 * this first), and returns it unchanged.
 *
 * @throws TransportError('BAD_ADDRESS')
 */
export function checkAddress(address: StreamAddress): StreamAddress {
  const shown = () => safeFormat(address);
  switch (address.kind) {
    case 'vsock':
      if (!isUint(address.cid, 0xffffffff)) throw bad(shown(), 'CID must be 0..4294967295');
      if (!isUint(address.port, VMADDR_PORT_ANY - 1)) {
        throw bad(shown(), 'vsock port must be 0..4294967294');
      }
      return address;
    case 'unix': {
      const path = address.path;
      if (typeof path !== 'string' || path.length === 0) throw bad(shown(), 'empty socket path');
      // A NUL would silently cut the path short in the kernel, or name an abstract socket.
      if (path.includes('\0')) throw bad(shown(), 'socket path contains NUL');
      if (Buffer.byteLength(path) > MAX_UNIX_PATH_BYTES) {
        throw bad(shown(), `socket path longer than ${MAX_UNIX_PATH_BYTES} bytes`);
      }
      return address;
    }
    case 'tcp':
      if (!isHost(address.host)) throw bad(shown(), 'host is not an IPv4, IPv6 or DNS name');
      if (!isUint(address.port, 65535)) throw bad(shown(), 'TCP port must be 0..65535');
      return address;
    default:
      throw bad(String((address as { kind?: unknown }).kind), 'unknown address kind');
  }
}

/**
 * True for an IPv4 address, an IPv6 address (without brackets) or an RFC 1123 host name: labels
 * of 1..63 letters, digits and inner hyphens, 253 characters at most, and a last label that is
 * not all digits (so `10.0.0.256` is refused rather than looked up as a name).
 */
export function isHost(text: string): boolean {
  if (typeof text !== 'string') return false;
  if (isIPv4(text) || isIPv6(text)) return true;
  if (text.length === 0 || text.length > 253) return false;
  const labels = text.split('.');
  if (!labels.every((label) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label))) {
    return false;
  }
  return !/^[0-9]+$/.test(labels[labels.length - 1]!);
}

function parseVsock(text: string, rest: string): StreamAddress {
  const parts = rest.split(':');
  if (parts.length !== 2) throw bad(text, 'expected vsock:CID:PORT');
  const [cidText, portText] = parts as [string, string];
  const cid = cidText === 'any' ? VMADDR_CID_ANY : decimal(cidText);
  const port = decimal(portText);
  if (cid === undefined) throw bad(text, 'CID must be a decimal number or "any"');
  if (port === undefined) throw bad(text, 'port must be a decimal number');
  return checkAddress({ kind: 'vsock', cid, port });
}

function parseTcp(text: string, rest: string): StreamAddress {
  let host: string;
  let portText: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':') throw bad(text, 'expected tcp:[IPv6]:PORT');
    host = rest.slice(1, close);
    portText = rest.slice(close + 2);
    if (!isIPv6(host)) throw bad(text, 'brackets must hold an IPv6 address');
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon < 0) throw bad(text, 'expected tcp:HOST:PORT');
    host = rest.slice(0, colon);
    portText = rest.slice(colon + 1);
    // An unbracketed IPv6 address would make the port ambiguous (is `::1:80` port 80?).
    if (host.includes(':')) throw bad(text, 'write an IPv6 host in brackets: tcp:[::1]:PORT');
  }
  const port = decimal(portText);
  if (port === undefined) throw bad(text, 'port must be a decimal number');
  return checkAddress({ kind: 'tcp', host, port });
}

/** A canonical unsigned decimal (no sign, no leading zero, at most 10 digits), or undefined. */
function decimal(text: string): number | undefined {
  if (!/^(?:0|[1-9][0-9]{0,9})$/.test(text)) return undefined;
  return Number(text);
}

function isUint(value: unknown, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max;
}

function safeFormat(address: StreamAddress): string {
  try {
    return formatAddress(address);
  } catch {
    return JSON.stringify(address);
  }
}

function bad(text: string, why: string): TransportError {
  return new TransportError('BAD_ADDRESS', `bad address "${text}": ${why}`);
}
