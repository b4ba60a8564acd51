import { createRequire } from 'node:module';
import path from 'node:path';
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
 *
 * Array types are not read from the catalog when a connection opens (postgres.js's `fetch_types`):
 * every site table adds a row type and its array type, so that query returns 43,000 rows with
 * 5,000 sites and makes every new connection, and every CLI command, 0.4 s slower. Arrays of
 * PostgreSQL's built-in types are set up from their fixed oids instead, with postgres.js's own
 * array parser and serializer; arrays of user-defined types (enums, domains) arrive as their text
 * unless `fetch_types: true` is passed.
 */
export function createPool(url: string, options: postgres.Options<Record<string, postgres.PostgresType>> = {}): Sql {
  const sql = postgres(url, {
    onnotice: () => {},
    fetch_types: false,
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
  if (!sql.options.fetch_types) addBuiltinArrayTypes(sql.options as unknown as PostgresInternalOptions);
  return sql;
}

/** Element oid → array oid of every built-in base, range and multirange type (pg_type.dat, PostgreSQL 15: fixed oids below 10000). */
const BUILTIN_ARRAY_TYPES = '16:1000 17:1001 18:1002 19:1003 20:1016 21:1005 22:1006 23:1007 24:1008 25:1009 26:1028 27:1010 28:1011 29:1012 ' +
  '30:1013 114:199 142:143 600:1017 601:1018 602:1019 603:1020 604:1027 628:629 650:651 700:1021 701:1022 718:719 774:775 790:791 829:1040 ' +
  '869:1041 1033:1034 1042:1014 1043:1015 1082:1182 1083:1183 1114:1115 1184:1185 1186:1187 1266:1270 1560:1561 1562:1563 1700:1231 1790:2201 ' +
  '2202:2207 2203:2208 2204:2209 2205:2210 2206:2211 2275:1263 2950:2951 2970:2949 3220:3221 3614:3643 3615:3645 3642:3644 3734:3735 3769:3770 ' +
  '3802:3807 3904:3905 3906:3907 3908:3909 3910:3911 3912:3913 3926:3927 4072:4073 4089:4090 4096:4097 4191:4192 4451:6150 4532:6151 4533:6152 ' +
  '4534:6153 4535:6155 4536:6157 5038:5039 5069:271';

type Codec = (value: unknown) => unknown;
interface PostgresInternalOptions {
  parsers: Record<number, Codec & { array?: boolean }>;
  serializers: Record<number, Codec>;
  shared: { typeArrayMap: Record<number, number> };
}

/**
 * What postgres.js's addArrayType does for each row of its pg_type query, for the built-in types.
 * Its array parser and serializer live in a module its package does not export, so it is loaded
 * by path from beside its entry point (postgres is pinned to an exact version).
 */
function addBuiltinArrayTypes(options: PostgresInternalOptions): void {
  const require = createRequire(import.meta.url);
  const { arrayParser, arraySerializer } = require(path.join(path.dirname(require.resolve('postgres')), 'types.js')) as {
    arrayParser: (value: unknown, parser: Codec | undefined, typarray: number) => unknown;
    arraySerializer: (value: unknown, serializer: Codec | undefined, options: unknown, typarray: number) => unknown;
  };
  for (const pair of BUILTIN_ARRAY_TYPES.split(' ')) {
    const [oid, typarray] = pair.split(':').map(Number);
    if (options.parsers[typarray] && options.serializers[typarray]) continue;
    const parser = options.parsers[oid];
    options.shared.typeArrayMap[oid] = typarray;
    options.parsers[typarray] = Object.assign((value: unknown) => arrayParser(value, parser, typarray), { array: true });
    options.serializers[typarray] = (value: unknown) => arraySerializer(value, options.serializers[oid], options, typarray);
  }
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
