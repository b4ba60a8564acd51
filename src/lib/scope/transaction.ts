import { is, sql as drizzleSql } from 'drizzle-orm';
import { PgTransaction, type PgTransactionConfig } from 'drizzle-orm/pg-core';
import type postgres from 'postgres';
import { ValidationError } from '../errors.js';
import { getScope } from './context.js';
import { siteSearchPath } from './names.js';
import { runWithSearchPath } from './pipelined.js';
import { reservedSiteTransaction } from './reserved-transaction.js';

/**
 * Per-transaction search_path for site schemas.
 *
 * The search_path is set with `set_config('search_path', …, true)`: the `true` makes it local
 * to the transaction, so COMMIT, ROLLBACK, a failed statement or a dropped connection all put
 * the connection back on the server default. A session-level `SET` on a pool would instead
 * stick to whichever connection ran it and leak into the next request that borrows it.
 *
 * The value is always built by `siteSearchPath` (validated, identifier-quoted). It is a bound
 * parameter where the extended protocol is used, so every site shares one prepared statement
 * per connection, and a quoted literal in the simple-protocol BEGIN message, which prepares
 * nothing. PostgreSQL re-parses a prepared statement when search_path differs from the one it
 * was planned under, so a statement prepared under one site never reads another site's tables.
 */

type PostgresTransaction = postgres.TransactionSql<Record<string, unknown>>;
type PostgresClient = postgres.Sql<Record<string, unknown>>;

/** A drizzle transaction (or anything with drizzle's `execute(sql)`), e.g. the `tx` of `db.transaction`. */
export interface DrizzleExecutor {
  execute(query: ReturnType<typeof drizzleSql>): PromiseLike<unknown>;
}

/** What `applySiteSearchPath` accepts: a postgres.js transaction or a drizzle transaction. */
export type SearchPathTarget = postgres.TransactionSql<any> | DrizzleExecutor;

/** A drizzle database whose transactions `withSiteTransaction` can open. */
export interface DrizzleTransactional<TX> {
  transaction<R>(fn: (tx: TX) => Promise<R>, config?: PgTransactionConfig): Promise<R>;
}

export interface SiteTransactionOptions {
  /**
   * The schema to put first on the search_path. Defaults to the current scope's schema; with
   * neither, the transaction runs on the default search_path (single-site installs).
   */
  schemaName?: string;
  isolationLevel?: 'read committed' | 'repeatable read' | 'serializable';
  readOnly?: boolean;
}

/** What postgres.js resolves an array of pending queries returned from a transaction to. */
export type TransactionResult<T> = T extends readonly unknown[] ? { -readonly [K in keyof T]: Awaited<T[K]> } : Awaited<T>;

function isPostgresClient(value: unknown): value is PostgresClient {
  return typeof value === 'function' && typeof (value as { begin?: unknown }).begin === 'function';
}

function isPostgresTransaction(value: unknown): value is PostgresTransaction {
  return (
    typeof value === 'function' &&
    typeof (value as { savepoint?: unknown }).savepoint === 'function' &&
    typeof (value as { unsafe?: unknown }).unsafe === 'function'
  );
}

/**
 * Sends set_config on a postgres.js transaction without waiting for it. `execute()` queues the
 * query now, so any query issued after this call goes out behind it on the same connection and
 * both travel in one round trip (postgres.js pipelines on a reserved connection).
 */
function sendSearchPath(tx: PostgresTransaction, value: string): Promise<void> {
  const query = tx`select set_config('search_path', ${value}, true)`;
  query.execute();
  return query.then(() => undefined);
}

/**
 * The postgres.js transaction under a drizzle transaction built with `drizzle-orm/postgres-js`.
 * drizzle routes every query through async layers before it reaches the driver, so only by
 * queueing set_config on the driver directly can we guarantee it precedes the caller's first
 * query without paying a round trip for it. Other drivers fall back to an awaited execute().
 */
function underlyingPostgresTransaction(tx: DrizzleExecutor): PostgresTransaction | null {
  const client = (tx as { session?: { client?: unknown } }).session?.client;
  return isPostgresTransaction(client) && !isPostgresClient(client) ? client : null;
}

/**
 * Puts `schemaName` first on the search_path (`"site_x", public`) for the rest of the
 * transaction `tx` only. Throws ValidationError synchronously for a name that is not a site
 * schema, or when given a pool instead of a transaction (set_config outside a transaction
 * would silently not apply to the next query).
 *
 * With postgres.js the statement is queued at once: a query issued right after this call
 * (awaited or not) runs with the site's search_path. Await the returned promise to surface
 * a failure of set_config itself; `withSiteTransaction` does this for you.
 */
export function applySiteSearchPath(tx: SearchPathTarget, schemaName: string): Promise<void> {
  const value = siteSearchPath(schemaName);
  if (isPostgresClient(tx)) {
    throw new ValidationError(
      'applySiteSearchPath needs a transaction (the tx of sql.begin), not a pool: outside a transaction the setting would not reach the next query',
    );
  }
  if (isPostgresTransaction(tx)) return sendSearchPath(tx, value);
  if (typeof (tx as DrizzleExecutor | undefined)?.execute !== 'function') {
    throw new ValidationError('applySiteSearchPath needs a postgres.js or drizzle transaction');
  }
  if (!is(tx, PgTransaction)) {
    throw new ValidationError(
      'applySiteSearchPath needs a drizzle transaction (the tx of db.transaction), not the database: outside a transaction the setting would not reach the next query',
    );
  }
  const driverTx = underlyingPostgresTransaction(tx);
  if (driverTx) return sendSearchPath(driverTx, value);
  return Promise.resolve(tx.execute(drizzleSql`select set_config('search_path', ${value}, true)`)).then(() => undefined);
}

function beginOptions(options: SiteTransactionOptions | undefined): string {
  const parts: string[] = [];
  if (options?.isolationLevel) parts.push(`isolation level ${options.isolationLevel}`);
  if (options?.readOnly) parts.push('read only');
  return parts.join(' ');
}

function drizzleConfig(options: SiteTransactionOptions | undefined): PgTransactionConfig | undefined {
  if (!options?.isolationLevel && !options?.readOnly) return undefined;
  return {
    ...(options.isolationLevel && { isolationLevel: options.isolationLevel }),
    ...(options.readOnly && { accessMode: 'read only' as const }),
  };
}

const ISOLATION_LEVELS = new Set(['read committed', 'repeatable read', 'serializable']);

/**
 * Runs `fn` in a transaction whose search_path starts with the site's schema: the one given in
 * `options.schemaName`, else the current scope's. Outside any scope and without a schema it is
 * a plain `sql.begin` / `db.transaction` on the default search_path.
 *
 * `db` is a postgres.js `sql` or a drizzle database on postgres.js (fn then gets drizzle's `tx`).
 *
 * With postgres.js, the site's transaction runs on a reserved connection: BEGIN and set_config
 * go out as one simple-protocol message, pipelined with fn's first query, so a site transaction
 * takes fewer round trips than `sql.begin` (which waits for BEGIN). fn gets that connection as
 * its `tx`: tagged queries, `unsafe`, identifiers and `savepoint` work as on a postgres.js
 * transaction; two-phase `prepare` does not. As with `sql.begin`, a statement that failed fails
 * the whole transaction even if fn caught its error or never awaited it: the promise rejects
 * with that statement's error and nothing is committed. The connection goes back to the pool
 * only after COMMIT or ROLLBACK.
 *
 * With drizzle, drizzle opens the transaction and set_config is pipelined with fn's first query.
 *
 * Nested use inside a transaction is refused: a savepoint would carry the search_path past its
 * RELEASE into the rest of the outer transaction.
 */
export function withSiteTransaction<T>(
  db: postgres.Sql<any>,
  fn: (tx: postgres.TransactionSql<any>) => T | Promise<T>,
  options?: SiteTransactionOptions,
): Promise<TransactionResult<T>>;
export function withSiteTransaction<TX, R>(
  db: DrizzleTransactional<TX>,
  fn: (tx: TX) => Promise<R>,
  options?: SiteTransactionOptions,
): Promise<R>;
export function withSiteTransaction(
  db: PostgresClient | DrizzleTransactional<unknown>,
  fn: (tx: any) => unknown,
  options?: SiteTransactionOptions,
): Promise<unknown> {
  if (options?.isolationLevel !== undefined && !ISOLATION_LEVELS.has(options.isolationLevel)) {
    throw new ValidationError(`unknown isolation level ${JSON.stringify(options.isolationLevel)}`);
  }
  const schemaName = options?.schemaName ?? getScope()?.schemaName;
  const value = schemaName === undefined ? undefined : siteSearchPath(schemaName);

  if (isPostgresClient(db)) {
    const begin = beginOptions(options);
    if (value === undefined) return db.begin(begin, fn);
    return reservedSiteTransaction(db, value, begin, fn);
  }
  if (isPostgresTransaction(db) || is(db, PgTransaction)) {
    throw new ValidationError('withSiteTransaction cannot be nested inside another transaction; call it on the pool or database');
  }
  if (typeof (db as { transaction?: unknown }).transaction !== 'function') {
    throw new ValidationError('withSiteTransaction needs a postgres.js sql or a drizzle database');
  }
  const config = drizzleConfig(options);
  if (value === undefined) return db.transaction(async (tx) => fn(tx), config);
  return db.transaction((tx) => {
    const driverTx = underlyingPostgresTransaction(tx as DrizzleExecutor);
    if (driverTx) return runWithSearchPath(sendSearchPath(driverTx, value), () => fn(tx));
    return applySiteSearchPath(tx as DrizzleExecutor, schemaName!).then(() => fn(tx));
  }, config);
}
