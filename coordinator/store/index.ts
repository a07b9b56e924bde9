/**
 * The metadata store's entry point: picks the backend from configuration, opens it and brings its
 * schema up to date. Other rooms import the store only from here.
 *
 * PostgreSQL when a database URL is configured (several coordinators may share it); otherwise
 * SQLite in `<dataDir>/coordinator.db`, which needs no server and suits one coordinator.
 */
import { join } from 'node:path';
import { StoreError } from './errors.js';
import { openPostgresStore } from './postgres.js';
import { openSqliteStore } from './sqlite.js';
import type { MetadataStore } from './types.js';

export type * from './types.js';
export { StoreError, type StoreErrorCode } from './errors.js';
export { MIGRATIONS, type Dialect, type Migration } from './migrations.js';
export { openPostgresStore } from './postgres.js';
export { openSqliteStore } from './sqlite.js';

/** The SQLite file's name inside the data directory. */
export const SQLITE_FILE = 'coordinator.db';

/** Where the store lives, as parsed from the coordinator's configuration. */
export interface StoreOptions {
  /** postgres:// or postgresql:// URL; when absent, SQLite under `dataDir`. */
  readonly databaseUrl?: string;
  /** The coordinator's data directory; must exist. */
  readonly dataDir: string;
}

/**
 * Opens the configured store and applies pending migrations before returning it, so no request
 * ever meets an old schema. A URL with another scheme is refused rather than guessed at; a store
 * whose migration fails is closed again before the error is thrown.
 */
export async function openStore(options: StoreOptions): Promise<MetadataStore> {
  const { databaseUrl } = options;
  let store: MetadataStore;
  if (databaseUrl !== undefined) {
    if (!/^postgres(ql)?:\/\//i.test(databaseUrl)) {
      // Not echoed: a URL may carry a password.
      throw new StoreError(
        'UNAVAILABLE',
        'the database URL must start with postgres:// or postgresql://',
      );
    }
    store = await openPostgresStore(databaseUrl);
  } else {
    store = await openSqliteStore(join(options.dataDir, SQLITE_FILE));
  }
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
  return store;
}
