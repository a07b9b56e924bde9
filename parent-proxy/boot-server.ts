/**
 * The parent's side of the enclave's boot channel (enclave/boot.ts): it hands its enclave the
 * deployment document and the instance role's credentials, one request per connection.
 *
 * The document is validated with the enclave's own parser before the server starts, so a typo
 * in a deployment fails on the parent, loudly, rather than as an enclave that will not boot.
 * Credentials come from a provider (the SDK's default chain: on EC2, the instance metadata
 * service) and are never logged; only the fact that they were served, and until when.
 */
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import {
  MAX_BOOT_FRAME_BYTES,
  bootConfigDocument,
  parseBootRequest,
  type BootConfig,
} from '../enclave/boot.js';
import { FramedStream, listen, type Listener, type StreamAddress } from '../transport/index.js';

export interface BootServerOptions {
  /** vsock:any:9000 in production (the enclave dials the parent, CID 3); unix:PATH locally. */
  readonly listen: StreamAddress;
  readonly config: BootConfig;
  readonly credentials: () => Promise<AwsCredentialIdentity>;
  readonly log?: (event: Record<string, unknown>) => void;
}

/** A request frame is a few bytes; anything large is not one. */
const MAX_REQUEST_BYTES = 256;
const REQUEST_TIMEOUT_MS = 5_000;

export interface BootServer {
  readonly listener: Listener;
  close(): Promise<void>;
}

export async function startBootServer(options: BootServerOptions): Promise<BootServer> {
  const log = options.log ?? (() => undefined);
  const document = bootConfigDocument(options.config);
  const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

  const answer = async (frame: Uint8Array): Promise<Uint8Array> => {
    let what;
    try {
      if (frame.length > MAX_REQUEST_BYTES) throw new RangeError('oversize');
      what = parseBootRequest(frame);
    } catch {
      log({ event: 'boot-request-refused', reason: 'malformed' });
      return encode({ error: { code: 'MALFORMED', message: 'not a boot request' } });
    }
    if (what === 'config') {
      log({ event: 'boot-config-served', party: options.config.party });
      return encode({ config: document });
    }
    try {
      const c = await options.credentials();
      log({
        event: 'boot-credentials-served',
        expiration: c.expiration ? c.expiration.toISOString() : null,
      });
      return encode({
        credentials: {
          accessKeyId: c.accessKeyId,
          secretAccessKey: c.secretAccessKey,
          ...(c.sessionToken !== undefined ? { sessionToken: c.sessionToken } : {}),
          ...(c.expiration !== undefined ? { expiration: c.expiration.toISOString() } : {}),
        },
      });
    } catch (error) {
      // The provider's message can name files or roles but never holds a secret; keep it short.
      log({
        event: 'boot-credentials-unavailable',
        error: error instanceof Error ? error.message.slice(0, 200) : 'unknown',
      });
      return encode({ error: { code: 'CREDENTIALS_UNAVAILABLE', message: 'no credentials' } });
    }
  };

  const listener = await listen(options.listen, (stream) => {
    // One limit covers both directions: the answer's (a request is checked in `answer`).
    const framed = new FramedStream(stream, { maxFrameBytes: MAX_BOOT_FRAME_BYTES });
    const timer = setTimeout(() => framed.destroy(), REQUEST_TIMEOUT_MS);
    void (async () => {
      try {
        const next = await framed.frames().next();
        if (next.done) return;
        const reply = await answer(next.value);
        await framed.send(reply);
        await framed.close();
      } catch {
        log({ event: 'boot-request-refused', reason: 'stream' });
      } finally {
        clearTimeout(timer);
        framed.destroy();
      }
    })();
  });
  return { listener, close: () => listener.close() };
}
