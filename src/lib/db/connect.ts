import postgres from 'postgres';
import { ConnectionError } from '../errors.js';
import { startEmbeddedPostgres, type EmbeddedServer } from './embedded.js';

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;
/** A pool or a transaction: library functions that only read accept either. */
export type Queryable = postgres.Sql | postgres.TransactionSql;

export interface DatabaseHandle {
  sql: Sql;
  /** Where it points, without the password: for messages. */
  target: string;
  embedded: boolean;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  databaseUrl?: string;
  /** Data folder of the embedded PostgreSQL used when there is no URL. */
  dataDir?: string;
  /** Pool size. */
  max?: number;
  onNotice?: (message: string) => void;
  connectTimeoutSeconds?: number;
  /** Close pool connections idle this long (default: keep them). */
  idleTimeoutSeconds?: number;
}

/**
 * Opens the network database: the given URL, else an embedded PostgreSQL. The first query is
 * made here so that an unreachable or misconfigured database fails with one clear line.
 */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<DatabaseHandle> {
  let embedded: EmbeddedServer | undefined;
  let url = options.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedPostgres({ dataDir: options.dataDir, onNotice: options.onNotice });
    options.onNotice?.(`no DATABASE_URL: using the embedded PostgreSQL in ${embedded.dataDir}`);
    url = embedded.url;
  }
  const target = describeTarget(url);
  let sql: Sql;
  try {
    sql = createPool(url, {
      max: options.max ?? 4,
      connect_timeout: options.connectTimeoutSeconds ?? 10,
      ...(options.idleTimeoutSeconds ? { idle_timeout: options.idleTimeoutSeconds } : {}),
    });
  } catch (error) {
    await embedded?.release();
    throw new ConnectionError(`invalid database URL (${(error as Error).message})`, undefined, { cause: error });
  }
  try {
    await sql`select 1`;
  } catch (error) {
    await sql.end({ timeout: 1 }).catch(() => {});
    await embedded?.release();
    throw connectionError(error, target);
  }
  return {
    sql,
    target,
    embedded: Boolean(embedded),
    async close() {
      await sql.end({ timeout: 5 });
      await embedded?.release();
    },
  };
}

/**
 * A postgres.js pool with indigo-sites' conventions: bigint (ids, counts) parsed as numbers —
 * safe below 2^53, far beyond any site or row count — notices silenced, and dead clients noticed.
 */
export function createPool(url: string, options: postgres.Options<Record<string, postgres.PostgresType>> = {}): Sql {
  return postgres(url, {
    onnotice: () => {},
    ...options,
    connection: {
      application_name: 'indigo-sites',
      // A killed client's running statement is cancelled within a second (PostgreSQL ≥ 14)
      // instead of holding its locks until it finishes.
      client_connection_check_interval: '1s',
      ...options.connection,
    },
    types: {
      bigint: { to: 20, from: [20], serialize: (value: number | bigint) => value.toString(), parse: (value: string) => Number(value) },
      ...options.types,
    },
  }) as unknown as Sql;
}

export function describeTarget(url: string): string {
  try {
    const parsed = new URL(url);
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || parsed.username || 'postgres';
    return `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}/${database}`;
  } catch {
    return 'the configured database';
  }
}

function connectionError(error: unknown, target: string): ConnectionError {
  const err = error as { code?: string; message?: string };
  const reason = (() => {
    switch (err.code) {
      case 'ECONNREFUSED':
        return 'connection refused (is PostgreSQL running on that port?)';
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return 'host not found';
      case 'ETIMEDOUT':
      case 'CONNECT_TIMEOUT':
        return 'connection timed out';
      case '28P01':
        return 'password authentication failed';
      case '28000':
        return `access refused (${err.message})`;
      case '3D000':
        return err.message ?? 'database does not exist';
      case '57P03':
        return 'the server is starting up or shutting down';
      default:
        return err.message ?? String(error);
    }
  })();
  return new ConnectionError(`cannot connect to PostgreSQL at ${target}: ${reason}`, { target, code: err.code }, { cause: error });
}
