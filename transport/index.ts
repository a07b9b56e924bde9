/**
 * Byte streams between the rooms of mpc-kms: vsock (enclave and parent), Unix sockets (the
 * simulator's stand-in for vsock) and TCP (parent and coordinator, parent and AWS), with
 * length-prefixed frames on top. Other folders import only this file.
 */
export { TransportError, type TransportErrorCode } from './errors.js';
export {
  PARENT_CID,
  VMADDR_CID_ANY,
  VMADDR_CID_HOST,
  checkAddress,
  formatAddress,
  isHost,
  parseAddress,
  type StreamAddress,
} from './address.js';
export {
  connect,
  listen,
  type ConnectOptions,
  type ListenOptions,
  type Listener,
} from './streams.js';
export {
  FrameDecoder,
  FramedStream,
  MAX_FRAME_BYTES,
  framePrefix,
  type FramedStreamOptions,
} from './framing.js';
export {
  connectVsock,
  listenVsock,
  loadVsockAddon,
  type VsockAddon,
  type VsockEmit,
  type VsockListener,
  type VsockNativeSocket,
  type VsockOptions,
} from './vsock.js';
