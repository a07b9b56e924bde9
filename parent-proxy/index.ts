/**
 * The parent proxy: allowlisted vsock-to-TCP forwards for the enclave's AWS calls, and the
 * coordinator's link to the enclave's control port. Other folders import only this file.
 */
export { ProxyError, type ProxyErrorCode } from './errors.js';
export { Allowlist, loadAllowlist, parseAllowlist, type AllowlistEntry } from './allowlist.js';
export {
  startParentProxy,
  type CoordinatorStats,
  type ForwardConfig,
  type ForwardStats,
  type ParentProxy,
  type ParentProxyConfig,
  type ProxyStats,
} from './proxy.js';
export { startBootServer, type BootServer, type BootServerOptions } from './boot-server.js';
