import postgres from 'postgres';
import type { Queryable, Sql } from '../db/connect.js';
import { LOCK_CLASS, LockKey } from '../db/locks.js';
import { ConflictError } from '../errors.js';
import type { SqlCheck } from './sql-checks.js';

/** What pg_stat_activity says about the session that holds the migrate:sites lock. */
export interface MigrateLockHolder {
  pid: number;
  applicationName: string;
  clientAddr: string | null;
  backendStart: Date;
  user: string;
}

export const MIGRATE_APPLICATION_NAME = 'indigo-sites migrate:sites';

export function describeLockHolder(holder: MigrateLockHolder | null): string {
  if (!holder) return 'another session (it released the lock as we looked)';
  const parts = [`pid ${holder.pid}`, `application "${holder.applicationName}"`, `user ${holder.user}`];
  parts.push(holder.clientAddr ? `client ${holder.clientAddr}` : 'local socket');
  parts.push(`connected since ${holder.backendStart.toISOString()}`);
  return parts.join(', ');
}

export async function findMigrateLockHolder(sql: Queryable): Promise<MigrateLockHolder | null> {
  // Two-int advisory locks show their keys as classid/objid with objsubid 2.
  const [holder] = await sql<MigrateLockHolder[]>`
    select a.pid, coalesce(a.application_name, '') as "applicationName", host(a.client_addr) as "clientAddr",
      a.backend_start as "backendStart", coalesce(a.usename::text, '') as user
    from pg_locks l join pg_stat_activity a on a.pid = l.pid
    where l.locktype = 'advisory' and l.granted and l.database = (select oid from pg_database where datname = current_database())
      and l.classid = ${LOCK_CLASS} and l.objid = ${LockKey.migrateSites} and l.objsubid = 2`;
  return holder ?? null;
}

/**
 * A separate client, derived from `sql` (same server, credentials and type parsers), with its own
 * pool size and application name, so migrate:sites sessions are recognisable in pg_stat_activity.
 */
export function derivedClient(
  sql: Sql,
  options: { max: number; longLived?: boolean; onclose?: () => void; onnotice?: (notice: postgres.Notice) => void; settings?: Record<string, string> },
): Sql {
  const base = sql.options as unknown as Record<string, unknown> & { connection: Record<string, unknown>; shared: { typeArrayMap: Record<number, number> } };
  return postgres({
    ...base,
    max: options.max,
    // The options (parsers, serializers and the array type map) are shared with `sql`: once it has
    // its array types (createPool sets them up without a query), a new connection need not read
    // them from pg_type again, a query whose result grows with every site table.
    ...(Object.keys(base.shared.typeArrayMap).length > 0 ? { fetch_types: false } : {}),
    // A connection that holds a session lock must never be recycled by the pool (postgres.js
    // closes idle connections and retires old ones by default).
    ...(options.longLived ? { idle_timeout: null, max_lifetime: null } : {}),
    onclose: options.onclose,
    onnotice: options.onnotice ?? (() => {}),
    // Settings sent at connection start are session defaults without any SET being run.
    connection: { ...base.connection, application_name: MIGRATE_APPLICATION_NAME, ...options.settings },
  } as postgres.Options<Record<string, postgres.PostgresType>>) as unknown as Sql;
}

export interface MigrateLock {
  /** The session holding the lock (for the per-site check that it is still there). */
  session: LockSession;
  /** True once the lock's connection closed (killed, pg_terminate_backend): the run must stop. */
  readonly lost: boolean;
  release(): Promise<void>;
}

/**
 * Takes the database-wide migrate:sites lock: a session-level advisory lock on a connection of its
 * own, so it dies with its holder — a killed or terminated runner never leaves the database locked.
 * Without `wait`, a held lock is refused at once (exit 4) naming its holder; with it, `onWait`
 * hears who holds it and the call blocks until it is released.
 */
export async function acquireMigrateLock(sql: Sql, options: { wait: boolean; onWait?: (holder: MigrateLockHolder | null) => void }): Promise<MigrateLock> {
  let lost = false;
  let releasing = false;
  const client = derivedClient(sql, { max: 1, longLived: true, onclose: () => { if (!releasing) lost = true; } });
  try {
    const [{ pid, backendStart, locked }] = await client<(LockSession & { locked: boolean })[]>`
      select pid, backend_start::text as "backendStart", pg_try_advisory_lock(${LOCK_CLASS}, ${LockKey.migrateSites}) as locked
      from pg_stat_get_activity(pg_backend_pid())`;
    if (!locked) {
      const holder = await findMigrateLockHolder(client);
      if (!options.wait) {
        throw new ConflictError(`another migrate:sites is running on this database (${describeLockHolder(holder)}); wait for it, or run without --no-wait to queue behind it`, { holder });
      }
      options.onWait?.(holder);
      // lock_timeout only for this wait (a database default would otherwise cut it short); the
      // session lock itself outlives the implicit transaction.
      await client.unsafe(`select set_config('lock_timeout', '0', true); select pg_advisory_lock(${LOCK_CLASS}, ${LockKey.migrateSites});`);
    }
    return {
      session: { pid, backendStart },
      get lost() {
        return lost;
      },
      async release() {
        releasing = true;
        // Ending the connection releases a session lock; unlocking first keeps pg_locks clean at once.
        if (!lost) await client`select pg_advisory_unlock(${LOCK_CLASS}, ${LockKey.migrateSites})`.catch(() => {});
        await client.end({ timeout: 5 });
      },
    };
  } catch (error) {
    releasing = true;
    await client.end({ timeout: 5 });
    throw error;
  }
}

export interface LockSession {
  pid: number;
  /** backend_start as PostgreSQL prints it: with the pid, it names one session (pids are reused). */
  backendStart: string;
}

export const LOCK_LOST_SQLSTATE = 'IX002';

/**
 * The check (see sqlChecks) that fails with IX002 unless the session holding the migrate:sites lock
 * is still connected — it holds the lock until it ends, so that is the same as still holding it.
 * Run inside each site's transaction, it keeps a runner that lost its lock from migrating any site.
 * pg_stat_get_activity(pid) reads one backend's entry, unlike pg_locks, which locks every lock
 * partition while it copies the whole lock table.
 */
export function migrateLockCheck(session: LockSession): SqlCheck {
  // Both values are embedded in SQL text (the check travels inside a site's batch): check their shape.
  if (!Number.isSafeInteger(session.pid) || !/^[0-9: .+-]+$/.test(session.backendStart)) throw new TypeError(`invalid lock session ${JSON.stringify(session)}`);
  return {
    failsWhen: `not exists (select 1 from pg_stat_get_activity(${session.pid}) where backend_start = '${session.backendStart}'::timestamptz)`,
    code: LOCK_LOST_SQLSTATE,
    message: 'this migrate:sites run lost its database lock (its lock connection was closed or terminated)',
  };
}
