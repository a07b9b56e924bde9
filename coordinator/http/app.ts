/**
 * The coordinator's REST API (DESIGN.md, "Contract" → "REST API") as an Express 5 application.
 *
 * This layer only speaks HTTP. Per request, in this order:
 * 1. a request id (the caller's `X-Request-Id` when well-formed, else a fresh UUID), echoed back
 *    and attached to a child logger;
 * 2. authentication of `Authorization: Bearer TOKEN` through `service.authenticate` (401 when
 *    missing, malformed, unknown or revoked). It runs before the body is read, so a caller without
 *    a token learns nothing about what a well-formed body looks like;
 * 3. the `Idempotency-Key` header, the path id and the JSON body, checked against schemas.ts;
 * 4. on POST with `Idempotency-Key`: claim, replay or refuse (idempotency.ts);
 * 5. the service method, which checks roles, scopes and policy and throws `ServiceError`.
 *
 * Every error leaves as `{"error":{"code","message","details"?}}` with the status of `STATUS_OF`.
 * One log line per request: method, route pattern, status, milliseconds, token id. Never a body,
 * a token, a digest or a message: the logger's redaction (logger.ts) is only a second fence.
 */
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Metrics } from '../metrics.js';
import { ServiceError, type Caller, type CoordinatorService } from '../service-types.js';
import {
  REALM,
  Unauthenticated,
  errorAnswer,
  json,
  noContent,
  send,
  type Answer,
} from './answers.js';
import {
  claim,
  idempotencyKeyOf,
  requestHash,
  settle,
  type IdempotencyPolicy,
  type IdempotencyStore,
} from './idempotency.js';
import type { TransactionRequest } from '../transactions.js';
import { openApiDocument } from './openapi.js';
import {
  evmTransactionBodySchema,
  solanaMessageBodySchema,
  taprootSpendBodySchema,
  auditQuerySchema,
  createKeyBodySchema,
  createTokenBodySchema,
  deriveBodySchema,
  idSchema,
  parseInput,
  policyBodySchema,
  refreshBodySchema,
  signBodySchema,
} from './schemas.js';

export interface AppOptions {
  readonly service: CoordinatorService;
  /** Only the idempotency methods of the metadata store are used here. */
  readonly store: IdempotencyStore;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Largest accepted request body; default 256 KiB (a 64 KiB message is 128 KiB of hex). */
  readonly maxBodyBytes?: number;
  /** Clock for idempotency records; default the system clock. */
  readonly now?: () => Date;
}

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

/** `X-Request-Id` values taken from the caller; anything else is replaced, not echoed. */
const REQUEST_ID = /^[A-Za-z0-9-]{1,64}$/;
/**
 * RFC 6750 section 2.1 `b64token` after "Bearer" (scheme case-insensitive, RFC 9110 11.1).
 * Bounded so a 16 KiB header is refused before it is hashed.
 */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]{1,1024}=*)$/i;

/** What the per-request middleware learns and the final log line reports. */
interface RequestState {
  readonly id: string;
  readonly log: Logger;
  readonly started: number;
  tokenId: string | null;
  replay: boolean;
}

/**
 * Builds the application. It holds no server: call `listen` on it, or hand it to `http.createServer`.
 */
export function createApp(options: AppOptions): express.Express {
  const { service, store, metrics } = options;
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const now = options.now ?? (() => new Date());
  const states = new WeakMap<Request, RequestState>();
  const parseJson = express.json({ limit, strict: true, type: 'application/json' });

  const app = express();
  // Set before the first route: Express 5 builds its router on first use with these settings.
  // One spelling per route keeps the contract exact and the `route` metric label bounded.
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  app.set('etag', false);
  app.disable('x-powered-by');

  const state = (req: Request): RequestState => {
    const found = states.get(req);
    if (found === undefined) throw new Error('request state missing');
    return found;
  };

  // ---------------------------------------------------------------------------------------------
  // Request id, log line and metrics

  app.use((req: Request, res: Response, next: NextFunction) => {
    const offered = req.get('x-request-id');
    const id = offered !== undefined && REQUEST_ID.test(offered) ? offered : randomUUID();
    const current: RequestState = {
      id,
      log: options.logger.child({ requestId: id }),
      started: performance.now(),
      tokenId: null,
      replay: false,
    };
    states.set(req, current);
    res.setHeader('X-Request-Id', id);
    // Answers carry keys, signatures and, once, a new token: no cache may keep them.
    res.setHeader('Cache-Control', 'no-store');

    let reported = false;
    const report = (aborted: boolean): void => {
      if (reported) return;
      reported = true;
      const ms = performance.now() - current.started;
      // The pattern, not the URL: ids stay out of metric labels (bounded) and out of logs.
      const route = typeof req.route?.path === 'string' ? req.route.path : 'unmatched';
      const status = aborted ? 499 : res.statusCode; // 499: the client went away first (nginx)
      metrics.httpRequests.inc({ method: req.method, route, status: String(status) });
      metrics.httpDuration.observe({ method: req.method, route }, ms / 1000);
      const line = {
        method: req.method,
        route,
        status,
        ms: Math.round(ms * 10) / 10,
        tokenId: current.tokenId,
        ...(current.replay ? { replay: true } : {}),
      };
      if (status >= 500) current.log.error(line, 'request');
      else current.log.info(line, 'request');
    };
    res.once('finish', () => report(false));
    res.once('close', () => report(!res.writableFinished));
    next();
  });

  // ---------------------------------------------------------------------------------------------
  // Handlers answer; errors become answers too (answers.ts)

  const failure = (error: unknown, log: Logger): Answer => errorAnswer(error, { limit, log });

  /** Runs `produce`, turning whatever it throws into an error answer, and sends the result. */
  const handle =
    (produce: (req: Request, res: Response) => Promise<Answer>) =>
    async (req: Request, res: Response): Promise<void> => {
      let answer: Answer;
      try {
        answer = await produce(req, res);
      } catch (error) {
        answer = failure(error, state(req).log);
      }
      send(res, answer);
    };

  // ---------------------------------------------------------------------------------------------
  // The steps of an authenticated endpoint

  const authenticate = async (req: Request): Promise<Caller> => {
    const header = req.get('authorization');
    if (header === undefined) {
      throw new Unauthenticated('missing Authorization header ("Bearer <token>")', REALM);
    }
    const match = BEARER.exec(header);
    if (match === null) {
      throw new Unauthenticated(
        'Authorization header must be "Bearer <token>"',
        `${REALM}, error="invalid_request"`,
      );
    }
    const current = state(req);
    const caller = await service.authenticate(match[1]!, current.id);
    if (caller === null) {
      throw new Unauthenticated('unknown or revoked token', `${REALM}, error="invalid_token"`);
    }
    current.tokenId = caller.tokenId;
    return caller;
  };

  const readBody = async (req: Request, res: Response): Promise<unknown> => {
    // A body is there when its length is announced and not zero, or when it is chunked.
    const length = req.headers['content-length'];
    const announced =
      req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
    if (announced && req.is('application/json') === false) {
      throw new ServiceError('BAD_REQUEST', 'Content-Type must be application/json');
    }
    await new Promise<void>((resolve, reject) => {
      parseJson(req, res, (error?: unknown) => (error ? reject(error) : resolve()));
    });
    return req.body as unknown;
  };

  interface Spec<B> {
    /** The body's schema; absent for routes that take none. */
    readonly body?: z.ZodType<B>;
    /** The route accepts no body at all as `{}` (refresh). */
    readonly bodyOptional?: boolean;
    /** The route has an `:id` to check. */
    readonly id?: boolean;
    /** `Idempotency-Key`: honoured on POST, refused on POST /v1/tokens (idempotency.ts). */
    readonly idempotency?: IdempotencyPolicy;
    readonly run: (ctx: { caller: Caller; id: string; body: B; req: Request }) => Promise<Answer>;
  }

  const endpoint = <B = undefined>(spec: Spec<B>) =>
    handle(async (req, res) => {
      const caller = await authenticate(req);
      const key = idempotencyKeyOf(req.get('idempotency-key'), spec.idempotency);
      const id = spec.id ? parseInput(idSchema, req.params['id'], 'path', 'id') : '';
      let body = undefined as B;
      if (spec.body !== undefined) {
        let raw = await readBody(req, res);
        if (raw === undefined && spec.bodyOptional) raw = {};
        if (raw === undefined) {
          throw new ServiceError(
            'BAD_REQUEST',
            'request body is required: a JSON object, Content-Type application/json',
          );
        }
        body = parseInput(spec.body, raw, 'body');
      }
      const ctx = { caller, id, body, req };
      if (key === null) return spec.run(ctx);

      const route = String(req.route?.path);
      const params: Record<string, string> = spec.id ? { id } : {};
      const hash = requestHash({ method: req.method, route, params, body });
      const claimed = await claim(store, caller.tokenId, key, hash, now());
      if (claimed.kind === 'replay') {
        state(req).replay = true;
        return claimed.answer;
      }
      let answer: Answer;
      try {
        answer = await spec.run(ctx);
      } catch (error) {
        answer = failure(error, state(req).log);
      }
      try {
        await settle(store, caller.tokenId, key, answer);
      } catch (error) {
        // The work is done and its answer is real: send it. The claim stays "running" (see
        // settle), so a retry gets 409 and never runs the ceremony again.
        const { name, message } = error as Error;
        state(req).log.error({ error: { name, message } }, 'idempotency record not stored');
      }
      return answer;
    });

  // ---------------------------------------------------------------------------------------------
  // Routes. The list is mirrored by openapi.ts; a test checks that the two agree.

  app.post(
    '/v1/keys',
    endpoint({
      body: createKeyBodySchema,
      idempotency: 'honour',
      run: async ({ caller, body }) => json(201, await service.createKey(caller, body)),
    }),
  );
  app.get(
    '/v1/keys',
    endpoint({
      run: async ({ caller }) => json(200, await service.listKeys(caller)),
    }),
  );
  app.get(
    '/v1/keys/:id',
    endpoint({
      id: true,
      run: async ({ caller, id }) => json(200, await service.getKey(caller, id)),
    }),
  );
  app.post(
    '/v1/keys/:id/derive',
    endpoint({
      id: true,
      body: deriveBodySchema,
      idempotency: 'honour',
      run: async ({ caller, id, body }) => json(200, await service.derive(caller, id, body)),
    }),
  );
  app.post(
    '/v1/keys/:id/sign',
    endpoint({
      id: true,
      body: signBodySchema,
      idempotency: 'honour',
      run: async ({ caller, id, body }) => json(200, await service.sign(caller, id, body)),
    }),
  );
  const transactionRoute = <B>(
    chain: TransactionRequest['chain'],
    schema: z.ZodType<B>,
    wrap: (body: B) => TransactionRequest,
  ) =>
    app.post(
      `/v1/keys/:id/transactions/${chain}`,
      endpoint({
        id: true,
        body: schema,
        idempotency: 'honour',
        run: async ({ caller, id, body }) =>
          json(200, await service.signTransaction(caller, id, wrap(body))),
      }),
    );
  transactionRoute('evm', evmTransactionBodySchema, (body) => ({ chain: 'evm', body }));
  transactionRoute('bitcoin-taproot', taprootSpendBodySchema, (body) => ({
    chain: 'bitcoin-taproot',
    body,
  }));
  transactionRoute('solana', solanaMessageBodySchema, (body) => ({ chain: 'solana', body }));
  app.post(
    '/v1/keys/:id/refresh',
    endpoint({
      id: true,
      body: refreshBodySchema,
      bodyOptional: true,
      idempotency: 'honour',
      run: async ({ caller, id }) => json(200, await service.refresh(caller, id)),
    }),
  );
  app.get(
    '/v1/keys/:id/policy',
    endpoint({
      id: true,
      run: async ({ caller, id }) => json(200, await service.getPolicy(caller, id)),
    }),
  );
  app.put(
    '/v1/keys/:id/policy',
    endpoint({
      id: true,
      body: policyBodySchema,
      run: async ({ caller, id, body }) => json(200, await service.putPolicy(caller, id, body)),
    }),
  );
  app.get(
    '/v1/audit',
    endpoint({
      run: async ({ caller, req }) =>
        json(200, await service.audit(caller, parseInput(auditQuerySchema, req.query, 'query'))),
    }),
  );
  app.get(
    '/v1/attestations',
    endpoint({
      run: async ({ caller }) => json(200, await service.attestations(caller)),
    }),
  );
  app.post(
    '/v1/tokens',
    endpoint({
      body: createTokenBodySchema,
      idempotency: 'refuse',
      run: async ({ caller, body }) => json(201, await service.createToken(caller, body)),
    }),
  );
  app.get(
    '/v1/tokens',
    endpoint({
      run: async ({ caller }) => json(200, await service.listTokens(caller)),
    }),
  );
  app.delete(
    '/v1/tokens/:id',
    endpoint({
      id: true,
      run: async ({ caller, id }) => {
        await service.revokeToken(caller, id);
        return noContent();
      },
    }),
  );

  // Unauthenticated: probes, scrapers and API explorers carry no token.
  app.get(
    '/healthz',
    handle(async () => {
      const health = await service.health();
      // "degraded" still signs (a quorum is healthy): a load balancer should keep sending.
      return json(health.status === 'unavailable' ? 503 : 200, health);
    }),
  );
  app.get('/metrics', async (req: Request, res: Response) => {
    let text: string;
    try {
      text = await metrics.registry.metrics();
    } catch (error) {
      send(res, failure(error, state(req).log));
      return;
    }
    res.status(200).type(metrics.registry.contentType).send(text);
  });
  const openApiText = JSON.stringify(openApiDocument);
  app.get(
    '/openapi.json',
    handle(async () => ({ status: 200, body: openApiText })),
  );

  // ---------------------------------------------------------------------------------------------
  // Fallbacks: no route, and errors raised before a handler ran (a malformed %-escape in a path)

  app.use(
    handle(async (req) => {
      throw new ServiceError('NOT_FOUND', `no route ${req.method} ${req.path.slice(0, 200)}`);
    }),
  );
  app.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    // Only Express itself throws here (handlers catch their own): a 4xx `status` on its errors
    // means the request was at fault, e.g. a path parameter with a malformed %-escape.
    const status = (error as { status?: unknown } | null)?.status;
    const clientFault = typeof status === 'number' && status >= 400 && status < 500;
    const refusal = clientFault ? new ServiceError('BAD_REQUEST', 'malformed request') : error;
    send(res, failure(refusal, states.get(req)?.log ?? options.logger));
  });

  return app;
}
