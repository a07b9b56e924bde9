/**
 * The coordinator's HTTP layer: the Express application serving the REST API, its OpenAPI
 * document and the request schemas it validates with.
 */
export { createApp, DEFAULT_MAX_BODY_BYTES, type AppOptions } from './app.js';
export type { Answer } from './answers.js';
export { isFinal, type IdempotencyStore } from './idempotency.js';
export { openApiDocument } from './openapi.js';
export * as schemas from './schemas.js';
